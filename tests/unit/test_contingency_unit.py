"""Hand-derived and cross-package checks of mmrwe.stats.contingency."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as st

from mmrwe.core.errors import EstimationError, InputError
from mmrwe.stats.contingency import (
    R_UNIROOT_TOL,
    _zeroin2,
    chisq_test,
    compare_proportions,
    fisher_exact,
)


def test_tea_tasting_p_by_hand() -> None:
    # [[3, 1], [1, 3]], margins 4/4/4/4: P(x) = C(4,x) C(4,4-x) / C(8,4) = 1,16,36,16,1 / 70.
    # Two-sided: tables with P <= 16/70 are x = 0, 1, 3, 4 -> (1 + 16 + 16 + 1) / 70.
    assert fisher_exact([[3, 1], [1, 3]]).p == pytest.approx(34 / 70, rel=1e-12)


def test_zero_cell_gives_zero_or_infinite_or() -> None:
    r = fisher_exact([[0, 5], [6, 4]])  # x = lo -> MLE 0 and lower limit 0, as R
    assert r.odds_ratio == 0.0
    assert r.lower == 0.0
    r = fisher_exact([[5, 0], [6, 4]])  # x = hi -> MLE Inf and upper limit Inf
    assert math.isinf(r.odds_ratio)
    assert math.isinf(r.upper)
    assert r.to_dict()["odds_ratio"] is None


def test_exact_roots_agree_with_scipy_conditional_odds_ratio() -> None:
    # With root_tol=0 we solve to machine precision: equal to scipy's conditional OR and CI.
    for t in ([[20, 18], [9, 4]], [[412, 388], [301, 420]], [[1, 30], [12, 3]], [[7, 2], [3, 8]]):
        ours = fisher_exact(t, root_tol=0.0)
        ref = st.contingency.odds_ratio(t, kind="conditional")
        ci = ref.confidence_interval(0.95)
        assert ours.odds_ratio == pytest.approx(ref.statistic, rel=1e-9)
        assert ours.lower == pytest.approx(ci.low, rel=1e-9)
        assert ours.upper == pytest.approx(ci.high, rel=1e-9)


def test_r_tolerance_changes_results_only_slightly() -> None:
    # R's uniroot tolerance (2^-13) moves the contract example's estimates by < 1e-4 relative.
    r_like = fisher_exact([[20, 18], [9, 4]])
    exact = fisher_exact([[20, 18], [9, 4]], root_tol=0.0)
    assert R_UNIROOT_TOL == 0.0001220703125
    for key in ("odds_ratio", "lower", "upper"):
        assert getattr(r_like, key) == pytest.approx(getattr(exact, key), rel=1e-4)
        assert getattr(r_like, key) != getattr(exact, key)


def test_fisher_p_agrees_with_scipy_2x2() -> None:
    for t in ([[20, 18], [9, 4]], [[0, 5], [6, 4]], [[1, 30], [12, 3]], [[3, 997], [12, 988]]):
        assert fisher_exact(t).p == pytest.approx(st.fisher_exact(t).pvalue, rel=1e-9)


def test_rxc_small_by_hand() -> None:
    # [[1, 0, 0], [0, 1, 1]]: row totals (1, 2), column totals (1, 1, 1), n = 3.
    # The single row-1 count goes to one of 3 columns, each with probability 1/3; all tables
    # are equally likely, so p = 1.
    assert fisher_exact([[1, 0, 0], [0, 1, 1]]).p == pytest.approx(1.0)


def test_rxc_too_large_raises_with_advice() -> None:
    big = np.full((6, 6), 40)
    with pytest.raises(EstimationError, match="too large"):
        fisher_exact(big)
    cmp = compare_proportions([100] * 9, [100] * 9)  # 9 x 2 with n = 1800: enumerable or not
    assert cmp.chisq.df == 8


def test_chisq_yates_by_hand() -> None:
    # [[20, 18], [9, 4]]: n = 51, E11 = 38 * 29 / 51 = 21.6078; |x - E| = 1.6078 for every
    # cell, Yates 0.5 -> (1.1078)^2 * (1/21.608 + 1/16.392 + 1/7.392 + 1/5.608)
    # = 1.22726 * 0.42088 = 0.51654.
    e = np.outer([38, 13], [29, 22]) / 51
    expected = (abs(20 - e[0, 0]) - 0.5) ** 2 * np.sum(1 / e)
    r = chisq_test([[20, 18], [9, 4]])
    assert r.statistic == pytest.approx(expected, rel=1e-12)
    assert r.yates == 0.5
    assert r.method == "Pearson's Chi-squared test with Yates' continuity correction"
    assert r.warning is None  # smallest expected count 13 * 22 / 51 = 5.61 >= 5
    assert r.p == pytest.approx(st.chi2.sf(expected, 1), rel=1e-12)


def test_chisq_warns_on_small_expected_counts() -> None:
    # [[3, 1], [1, 3]]: every expected count is 2 < 5 -> R's warning.
    assert chisq_test([[3, 1], [1, 3]]).warning == "Chi-squared approximation may be incorrect"


def test_chisq_no_correction_beyond_2x2() -> None:
    r = chisq_test([[8, 6, 4], [5, 12, 9]], correct=True)
    assert r.yates == 0.0
    assert r.method == "Pearson's Chi-squared test"


def test_chisq_zero_margin_gives_none() -> None:
    r = chisq_test([[0, 0], [3, 4]])
    assert r.statistic is None
    assert r.to_dict()["p"] is None


@pytest.mark.parametrize(
    "bad", [[[1, 2]], [[1, -1], [2, 3]], [[1.5, 1], [2, 3]], [[np.nan, 1], [2, 3]]]
)
def test_bad_tables_raise(bad) -> None:
    with pytest.raises(InputError):
        fisher_exact(bad)


def test_zeroin_finds_sqrt2_like_r() -> None:
    # uniroot(function(x) x^2 - 2, c(0, 2))$root = 1.414214 (R 4.2.2: 1.4142133)
    root = _zeroin2(lambda x: x * x - 2, 0.0, 2.0, -2.0, 2.0, R_UNIROOT_TOL, 1000)
    assert abs(root - math.sqrt(2)) < R_UNIROOT_TOL


def test_compare_proportions_orientation() -> None:
    c = compare_proportions([20, 9], [18, 4], groups=["yes", "no"])
    d = c.to_dict()
    assert d["table"] == {"yes": {"success": 20, "failure": 18}, "no": {"success": 9, "failure": 4}}
    assert d["n"] == 51
    assert c.fisher is not None
    assert c.fisher.odds_ratio == fisher_exact([[20, 18], [9, 4]]).odds_ratio
    # logistic OR of "yes" vs "no" is the sample OR (20/18) / (9/4); same direction as Fisher
    assert d["logistic"]["odds_ratio"] == pytest.approx((20 / 18) / (9 / 4), rel=1e-12)
    assert set(d["logistic"]) == {"odds_ratio", "lower", "upper", "p"}
    assert d["logistic"]["lower"] < d["logistic"]["odds_ratio"] < d["logistic"]["upper"]


def test_compare_proportions_logistic_matches_r_two_by_two(expected) -> None:
    # tests/reference/r/logistic.R case "two_by_two" is the same table.
    ref = next(c for c in expected("logistic")["cases"] if c["case"] == "two_by_two")
    d = compare_proportions([20, 9], [18, 4], groups=["yes", "no"]).to_dict()["logistic"]
    assert d["lower"] == pytest.approx(math.exp(ref["profile_lower"][1]), rel=1e-9)
    assert d["upper"] == pytest.approx(math.exp(ref["profile_upper"][1]), rel=1e-9)
    assert d["p"] == pytest.approx(ref["p"][1], rel=1e-9)


def test_compare_proportions_many_groups_has_no_logistic() -> None:
    c = compare_proportions([7, 5, 2, 6], [3, 9, 4, 1])
    assert c.logistic is None
    assert c.fisher is not None
    assert c.fisher.method == "exact enumeration"
