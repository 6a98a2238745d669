"""Log-rank tests against R survdiff, survMisc and coxph(ties = "exact").

Fixtures from tests/reference/r/logrank_reference.R.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.testing as npt
import pandas as pd
import pytest
from tests.conftest import load_data, load_expected

from mmrwe.core.errors import EstimationError
from mmrwe.stats.logrank import logrank_test, logrank_trend_test

pytestmark = pytest.mark.reference

RTOL = 1e-9  # the JSON holds 15 significant digits
REF = load_expected("logrank_reference")


def _data(case: dict[str, Any]) -> pd.DataFrame:
    d = load_data(case["dataset"])
    if case.get("case") is not None:
        d = d[d["case"] == case["case"]]
    return d


@pytest.mark.parametrize("case", REF["cases"], ids=[c["name"] for c in REF["cases"]])
def test_logrank_matches_survdiff(case: dict[str, Any]) -> None:
    d = _data(case)
    strata = d[case["strata"]] if case["strata"] is not None else None
    r = logrank_test(d["time"], d["status"] == 1, d[case["group"]], strata=strata, rho=case["rho"])
    groups = list(np.atleast_1d(case["groups"]))
    assert list(r.groups) == groups
    assert [r.n[g] for g in groups] == list(np.atleast_1d(case["n"]))
    npt.assert_allclose([r.observed[g] for g in groups], case["observed"], rtol=RTOL)
    npt.assert_allclose([r.expected[g] for g in groups], case["expected"], rtol=RTOL, atol=1e-13)
    npt.assert_allclose(r.variance, np.array(case["variance"], dtype=float), rtol=RTOL, atol=1e-13)
    assert r.chisq == pytest.approx(case["chisq"], rel=RTOL, abs=1e-13)
    assert r.df == case["df"]
    if case["p"] is None:
        assert r.p is None
    else:
        assert r.p == pytest.approx(case["p"], rel=1e-8)
    assert r.n_excluded_missing == case["n_excluded_missing"]
    assert r.stratified is (case["strata"] is not None)
    assert r.rho == case["rho"]
    out = r.to_dict()
    assert out["groups"] == groups
    assert out["df"] == case["df"]


def test_single_group_raises_like_r() -> None:
    assert REF["single_group_error"] == "There is only 1 group"
    with pytest.raises(EstimationError, match="There is only 1 group"):
        logrank_test([1, 2, 3], [True, False, True], ["a", "a", "a"])
    # one group left after dropping the rows with a missing group
    with pytest.raises(EstimationError, match="There is only 1 group"):
        logrank_test([1, 2, 3], [True, False, True], ["a", None, "a"])


@pytest.mark.parametrize("case", REF["trend"], ids=[c["name"] for c in REF["trend"]])
def test_trend_matches_survdiff_survmisc_and_exact_cox(case: dict[str, Any]) -> None:
    d = _data(case)
    strata = d[case["strata"]] if case["strata"] is not None else None
    r = logrank_trend_test(
        d["time"], d["status"] == 1, d[case["group"]], scores=case["scores"], strata=strata
    )
    assert list(r.groups) == list(case["groups"])
    assert r.statistic == pytest.approx(case["statistic"], rel=RTOL)
    assert r.variance == pytest.approx(case["variance"], rel=RTOL)
    assert r.chisq == pytest.approx(case["chisq"], rel=RTOL)
    assert r.p == pytest.approx(case["p"], rel=1e-8)
    # two independent R computations of the same statistic
    assert r.chisq == pytest.approx(case["coxph_exact_score"], rel=1e-8)
    if case["survmisc_chisq"] is not None:
        assert r.chisq == pytest.approx(case["survmisc_chisq"], rel=1e-8)
    assert r.df == 1
    assert r.n_excluded_missing == case["n_excluded_missing"]


def test_default_trend_scores_are_one_to_k() -> None:
    case = REF["trend"][0]  # lung ph_ecog, default scores
    d = _data(case)
    r = logrank_trend_test(d["time"], d["status"] == 1, d[case["group"]])
    assert r.scores == (1.0, 2.0, 3.0, 4.0)
    assert r.chisq == pytest.approx(case["chisq"], rel=RTOL)


def test_fixture_records_versions() -> None:
    assert REF["meta"]["survival"] == "3.5.3"
    assert REF["meta"]["r"].startswith("R version 4.2.2")
