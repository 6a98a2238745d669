"""Kaplan-Meier on examples small enough to check by hand (arithmetic in the comments)."""

from __future__ import annotations

import json
import math

import numpy as np
import numpy.testing as npt
import pytest

from mmrwe.core.conventions import SurvivalConventions
from mmrwe.core.errors import InputError, SpecError
from mmrwe.stats.km import kaplan_meier, kaplan_meier_by, reverse_km_followup

Z95 = 1.959963984540054


def test_median_on_exact_half_plateau_depends_on_rule() -> None:
    # events at 1, 2, 3, 4: S = 3/4, 1/2, 1/4, 0, so S == 0.5 on [2, 3).
    # R (midpoint): 2.5; first S <= .5 (lifelines, Collett): 2; first S < .5 (statsmodels): 3.
    t, e = [1, 2, 3, 4], [True] * 4
    assert kaplan_meier(t, e).median.value == 2.5
    rule = SurvivalConventions(median_rule="first-at-or-below")
    assert kaplan_meier(t, e, conventions=rule).median.value == 2.0
    rule = SurvivalConventions(median_rule="first-below")
    assert kaplan_meier(t, e, conventions=rule).median.value == 3.0


def test_median_when_curve_ends_on_half() -> None:
    # events at 1, 2 then censored at 3, 4: S = 0.75, 0.5, 0.5, 0.5 to the end.
    # R findq: the curve ends on the flat, so (start of flat + last time) / 2 = (2 + 4) / 2.
    assert kaplan_meier([1, 2, 3, 4], [True, True, False, False]).median.value == 3.0


def test_greenwood_by_hand() -> None:
    # 10 events at 1..10, no censoring: S(5) = 0.5 and
    # Var(log S(5)) = sum_{n=10..6} 1/(n(n-1)) = 1/9 - 1/10 + ... = 1/5 - 1/10 = 0.1,
    # so SE(S(5)) = 0.5 * sqrt(0.1) (= sqrt(0.5 * 0.5 / 10), the binomial SE).
    km = kaplan_meier(np.arange(1, 11), np.ones(10, dtype=bool))
    assert km.surv[4] == pytest.approx(0.5, abs=1e-15)
    assert km.std_err_log[4] == pytest.approx(math.sqrt(0.1), rel=1e-14)
    assert km.std_err[4] == pytest.approx(0.5 * math.sqrt(0.1), rel=1e-14)
    # last event empties the risk set: SE of log S is infinite, SE of S undefined (R: Inf, NaN)
    assert math.isinf(km.std_err_log[-1])
    assert math.isnan(km.std_err[-1])


def test_median_symmetric_by_hand() -> None:
    # 10 events at 1..10: S(t_j) = 1 - j/10. Median 5.5 (midpoint of the 0.5 flat [5, 6)).
    # se(S(5)) = 0.5 sqrt(0.1) = 0.158113883; u = largest event time with S >= 0.55 -> 4 (0.6);
    # l = smallest with S <= 0.45 -> 6 (0.4); f = (0.6 - 0.4) / (6 - 4) = 0.1;
    # se(median) = 0.158113883 / 0.1 = 1.58113883; CI = 5.5 -+ 1.959964 * 1.58113883.
    km = kaplan_meier(np.arange(1, 11), np.ones(10, dtype=bool))
    m = km.median_symmetric()
    se = 0.5 * math.sqrt(0.1) / 0.1
    assert m.value == 5.5
    assert m.std_err == pytest.approx(se, rel=1e-12)
    assert m.lower == pytest.approx(5.5 - Z95 * se, rel=1e-12)
    assert m.upper == pytest.approx(5.5 + Z95 * se, rel=1e-12)
    # SPSS's point estimate (first S <= 0.5) with the same SE
    rule = SurvivalConventions(median_rule="first-at-or-below")
    m = kaplan_meier(np.arange(1, 11), np.ones(10, dtype=bool), conventions=rule).median_symmetric(
        0.90
    )
    assert m.value == 5.0
    assert m.std_err == pytest.approx(se, rel=1e-12)
    assert m.upper - m.value == pytest.approx(1.6448536269514722 * se, rel=1e-12)
    assert set(m.to_dict()) == {"estimate", "std_err", "lower", "upper", "method", "conf_level"}


def test_median_symmetric_brackets_from_time_zero() -> None:
    # 5 patients, 3 die at 1, 2 censored at 2: S(1) = 0.4, median 1. No event time has
    # S >= 0.55, so u = 0 (S = 1); l = 1 (S = 0.4); f = (1 - 0.4) / (1 - 0) = 0.6.
    # se(S(1)) = 0.4 sqrt(3 / (5 * 2)) = sqrt(0.048); se(median) = sqrt(0.048) / 0.6.
    km = kaplan_meier([1, 1, 1, 2, 2], [True, True, True, False, False])
    m = km.median_symmetric()
    assert m.value == 1.0
    assert m.std_err == pytest.approx(math.sqrt(0.048) / 0.6, rel=1e-12)


def test_median_symmetric_undefined_cases() -> None:
    # median not reached: nothing to report
    m = kaplan_meier([1, 2, 3, 4], [True, False, False, False]).median_symmetric()
    assert (m.value, m.std_err, m.lower, m.upper) == (None, None, None, None)
    # median reached (S = 0.5) but the curve never gets to 0.45: no density estimate
    m = kaplan_meier([1, 2, 3, 4], [True, True, False, False]).median_symmetric()
    assert m.value == 3.0
    assert (m.std_err, m.lower, m.upper) == (None, None, None)


def test_rmst_by_hand() -> None:
    # events at 1..4: S = .75, .5, .25, 0. RMST(4) = 1 + .75 + .5 + .25 = 2.5.
    # Var = sum A_i^2 d_i/(n_i(n_i-d_i)): A = area after t_i = 1.5, .75, .25 (t=4: n=d -> 0)
    #     = 2.25/12 + .5625/6 + .0625/2 = .1875 + .09375 + .03125 = .3125.
    r = kaplan_meier([1, 2, 3, 4], [True] * 4).rmst(4)
    assert r.estimate == pytest.approx(2.5, rel=1e-14)
    assert r.std_err == pytest.approx(math.sqrt(0.3125), rel=1e-14)
    assert r.lower == pytest.approx(2.5 - Z95 * math.sqrt(0.3125), rel=1e-12)
    # tau between times: RMST(2.5) = 1 + .75 + .5 * .5 = 2.0
    assert kaplan_meier([1, 2, 3, 4], [True] * 4).rmst(2.5).estimate == pytest.approx(2.0)
    # tau before the first time: the area of S = 1
    assert kaplan_meier([1, 2], [True, True]).rmst(0.5).estimate == 0.5


def test_n_risk_at_counts_time_at_or_after() -> None:
    # times 1, 2, 2, 5: at t, n_risk = #(time >= t)
    km = kaplan_meier([5, 2, 1, 2], [True, False, True, True])
    npt.assert_array_equal(km.n_risk_at([0, 1, 1.5, 2, 3, 5, 6]), [4, 4, 3, 3, 1, 1, 0])
    npt.assert_array_equal(km.n_risk, [4, 3, 1])
    npt.assert_array_equal(km.n_event, [1, 1, 1])
    npt.assert_array_equal(km.n_censor, [0, 1, 0])


def test_survival_at_rules() -> None:
    # events 2, 4 of 4 patients, censored 3 and 6: S = .75 from 2, .375 from 4.
    km = kaplan_meier(
        [2, 3, 4, 6], [True, False, True, False], conventions=SurvivalConventions(conf_type="log")
    )
    before = km.survival_at(1)
    assert (before.surv, before.std_err, before.lower, before.upper, before.n_risk) == (
        1.0,
        0.0,
        1.0,
        1.0,
        4,
    )
    at = km.survival_at(4)  # exactly at an event time: after the event
    assert at.surv == pytest.approx(0.375)
    assert at.n_risk == 2
    between = km.survival_at(5)
    assert between.surv == pytest.approx(0.375)
    assert between.n_risk == 1
    beyond = km.survival_at(7)
    assert (beyond.surv, beyond.std_err, beyond.lower, beyond.upper, beyond.n_risk) == (
        None,
        None,
        None,
        None,
        0,
    )
    assert set(beyond.to_dict()) == {"time", "surv", "std_err", "lower", "upper", "n_risk"}


def test_loglog_band_na_where_surv_is_one_or_zero() -> None:
    km = kaplan_meier([1, 2, 3], [False, True, True])  # S = 1, 1/2, 0
    assert np.isnan(km.lower[0])
    assert np.isnan(km.upper[0])
    assert np.isnan(km.lower[-1])
    curve = km.curve_dict()
    assert curve["lower"][0] is None
    assert curve["surv"] == [1.0, 0.5, 0.0]
    assert set(curve) == {"time", "surv", "lower", "upper", "n_risk", "n_event", "n_censor"}
    json.dumps(km.to_dict(), allow_nan=False)  # no NaN / inf reaches JSON


def test_plain_band_is_clipped_to_unit_interval() -> None:
    km = kaplan_meier(
        [1, 2, 3], [True, True, False], conventions=SurvivalConventions(conf_type="plain")
    )
    finite = np.isfinite(km.lower)
    assert np.all(km.lower[finite] >= 0)
    assert np.all(km.upper[finite] <= 1)
    assert km.upper[0] == 1.0  # S = 2/3 + 1.96 * 0.27 > 1 -> 1


def test_arrays_are_read_only() -> None:
    km = kaplan_meier([1, 2], [True, True])
    with pytest.raises(ValueError, match="read-only"):
        km.surv[0] = 0.3


def test_negative_zero_time_is_zero() -> None:
    a = kaplan_meier([-0.0, 1.0, 2.0], [True, False, True])
    b = kaplan_meier([0.0, 1.0, 2.0], [True, False, True])
    npt.assert_array_equal(a.time, b.time)
    npt.assert_array_equal(a.surv, b.surv)


def test_bad_input() -> None:
    with pytest.raises(InputError):
        kaplan_meier([1, -2], [True, True])
    with pytest.raises(InputError):
        kaplan_meier([], [])
    with pytest.raises(SpecError, match="conf_type"):
        kaplan_meier([1], [True], conventions=SurvivalConventions(conf_type="arcsin"))  # type: ignore[arg-type]
    with pytest.raises(InputError):
        kaplan_meier([1, 2], [True, True]).quantile(1.5)


def test_reverse_km_swaps_event_and_censoring() -> None:
    # censorings at 2 and 4 become events: reverse S = 1, 2/3 at 2, 2/3, 0 at 4 -> median 4
    fu = reverse_km_followup([1, 2, 3, 4], [True, False, True, False])
    assert fu.estimate == 4.0
    assert fu.to_dict() == {
        "estimate": 4.0,
        "lower": fu.lower,
        "upper": None,
        "method": "reverse Kaplan-Meier",
    }
    assert fu.curve.events == 2


def test_kaplan_meier_by_drops_missing_and_labels_like_r() -> None:
    group = np.array([1.0, 2.0, np.nan, 1.0, 2.0])
    curves = kaplan_meier_by([1, 2, 3, 4, 5], [True] * 5, group)
    assert list(curves) == ["1", "2"]
    assert curves["1"].n == 2
    assert curves["2"].n == 2
    curves = kaplan_meier_by([1, 2, 3], [True] * 3, np.array(["b", None, "a"], dtype=object))
    assert list(curves) == ["a", "b"]


def test_median_symmetric_when_curve_drops_to_zero_at_median() -> None:
    # one patient dies at 5: S(5) = 0, whose Greenwood SE is undefined (R: NaN)
    m = kaplan_meier([5], [True]).median_symmetric()
    assert m.value == 5.0
    assert (m.std_err, m.lower, m.upper) == (None, None, None)
