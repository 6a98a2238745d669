"""mmrwe.stats.contingency against R fisher.test / chisq.test (tests/reference/r/contingency.R).

Fisher 2 x 2: R finds the conditional MLE and the CI limits with uniroot at its default
tolerance 2^-13, so R's numbers are *not* the exact roots (up to ~5% off for a limit near 0,
e.g. lower = 0.000198 vs exact 0.000189 for [[1, 30], [12, 3]]). fisher_exact() reproduces
R's numbers by default (the same Brent iteration on the same functions); these tests check
that to 1e-9. The exact roots (root_tol=0) are checked against scipy in the unit tests.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmrwe.stats.contingency import chisq_test, fisher_exact

pytestmark = pytest.mark.reference

RTOL = 1e-9


def _value(v: float | str) -> float:
    return math.inf if v == "Inf" else float(v)


def _check(ours: float | None, theirs: float | str) -> None:
    expected = _value(theirs)
    assert ours is not None
    if math.isinf(expected) or expected == 0.0:
        assert ours == expected
    else:
        assert ours == pytest.approx(expected, rel=RTOL)


def test_fisher_2x2_matches_r(expected) -> None:
    for case in expected("contingency")["fisher_2x2"]:
        tab = np.array(case["counts"]).reshape(2, 2)
        r = fisher_exact(tab, conf_level=case["conf_level"], alternative=case["alternative"])
        for key in ("p", "odds_ratio", "lower", "upper"):
            _check(getattr(r, key), case[key])


def test_fisher_2x2_infinite_values_are_null_in_dict(expected) -> None:
    case = next(c for c in expected("contingency")["fisher_2x2"] if c["table"] == "zero_b")
    assert case["odds_ratio"] == "Inf"
    d = fisher_exact(np.array(case["counts"]).reshape(2, 2)).to_dict()
    assert d["odds_ratio"] is None
    assert d["upper"] is None
    assert "infinite" in d["note"]


def test_contract_example(expected) -> None:
    case = next(
        c
        for c in expected("contingency")["fisher_2x2"]
        if c["table"] == "contract" and c["alternative"] == "two.sided" and c["conf_level"] == 0.95
    )
    d = fisher_exact([[20, 18], [9, 4]]).to_dict()
    assert d["method"] == "conditional MLE"
    for key in ("p", "odds_ratio", "lower", "upper"):
        assert d[key] == pytest.approx(case[key], rel=RTOL)


def test_fisher_rxc_matches_r_network_algorithm(expected) -> None:
    # FEXACT sums with merged path lengths, so R's own p carries ~1e-7 relative error at
    # worst; on these tables we agree to better than 1e-11.
    for case in expected("contingency")["fisher_rxc"]:
        tab = np.array(case["counts"]).reshape(case["nrow"], case["ncol"])
        r = fisher_exact(tab)
        assert r.p == pytest.approx(case["p"], rel=1e-9), case["table"]
        assert r.odds_ratio is None
        assert r.method == "exact enumeration"


def test_chisq_matches_r(expected) -> None:
    for case in expected("contingency")["chisq"]:
        tab = np.array(case["counts"]).reshape(case["nrow"], case["ncol"])
        r = chisq_test(tab, correct=case["correct"])
        assert r.df == case["df"]
        assert r.method == case["method"]
        assert (r.warning is not None) == case["warning"], case["table"]
        np.testing.assert_allclose(r.expected.ravel(), case["expected"], rtol=1e-12)
        if case["statistic"] is None:  # R: NaN from a zero margin
            assert r.statistic is None
            assert r.p is None
        else:
            assert r.statistic == pytest.approx(case["statistic"], rel=RTOL, abs=1e-14)
            assert r.p == pytest.approx(case["p"], rel=RTOL)


def test_tables_csv_matches_json(expected, reference_data) -> None:
    # The long-form CSV written by the R script holds exactly the tables used above.
    long = reference_data("contingency_tables")
    by_name = {c["table"]: c for c in expected("contingency")["chisq"]}
    for name, g in long.groupby("table"):
        m = np.zeros((g["row"].max(), g["col"].max()), dtype=int)
        m[g["row"] - 1, g["col"] - 1] = g["count"]
        assert m.ravel().tolist() == by_name[name]["counts"]
