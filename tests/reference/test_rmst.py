"""RMST per group and survRM2 contrasts against R (tests/reference/r/rmst.R).

Data: survival::lung (sex), veteran (trt), aml (x), mgus2 (overall survival by sex), each at
two or three values of tau, covering all four of survRM2's tau cases.

Measured agreement: per-group RMST, SE and limits, the difference, both ratios and their
p-values within 1.2e-13 relative; the largest allowed tau exactly.
"""

from __future__ import annotations

import pytest

from mmrwe.core.errors import EstimationError
from mmrwe.stats.rmst import rmst_compare, rmst_tau_max
from refdata import load_data, load_expected

REF = load_expected("rmst")
CASES = sorted(REF["cases"])
RTOL = 1e-9  # measured: 1.2e-13


def _data(name: str):  # type: ignore[no-untyped-def]
    d = load_data(REF["cases"][name]["data"])
    return d["time"].to_numpy(), d["status"].to_numpy(), d["group"].astype(str).to_numpy()


@pytest.mark.reference
@pytest.mark.parametrize("name", CASES)
def test_rmst_and_contrasts_match_survrm2(name: str) -> None:
    c = REF["cases"][name]
    time, status, group = _data(name)
    for bt in c["by_tau"]:
        res = rmst_compare(time, status, group, tau=bt["tau"], reference=c["reference"])
        assert res.reference == c["reference"]
        assert res.comparator == c["other"]
        for level, ref in bt["groups"].items():
            g = res.groups[level]
            assert g.n == ref["n"]
            assert g.events == ref["events"]
            for ours, theirs in (
                (g.rmst, ref["rmst"]),
                (g.se, ref["se"]),
                (g.variance, ref["var"]),
                (g.lower, ref["lower"]),
                (g.upper, ref["upper"]),
                (g.rmtl, ref["rmtl"]),
                # survfit's rmean / se(rmean) are the same numbers (survival 3.5)
                (g.rmst, ref["survfit_rmean"]),
                (g.se, ref["survfit_se"]),
            ):
                assert ours == pytest.approx(theirs, rel=RTOL)
        for key, se_key in (("difference", "se"), ("ratio", "se_log"), ("rmtl_ratio", "se_log")):
            ours_c = getattr(res, key)
            ref_c = bt[key]
            assert ours_c is not None
            for attr, theirs in (
                ("estimate", ref_c["estimate"]),
                ("se", ref_c[se_key]),
                ("lower", ref_c["lower"]),
                ("upper", ref_c["upper"]),
                ("p", ref_c["p"]),
            ):
                assert getattr(ours_c, attr) == pytest.approx(theirs, rel=RTOL), (key, attr)


@pytest.mark.reference
@pytest.mark.parametrize("name", CASES)
def test_tau_rule_matches_survrm2(name: str) -> None:
    c = REF["cases"][name]
    time, status, group = _data(name)
    allowed = rmst_tau_max(time, status, group)
    assert allowed == pytest.approx(c["tau_max"], rel=1e-15)
    rmst_compare(time, status, group, tau=allowed)  # the maximum itself is allowed
    with pytest.raises(EstimationError, match="largest allowed tau"):
        rmst_compare(time, status, group, tau=allowed * (1 + 1e-9))
