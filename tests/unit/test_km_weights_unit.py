"""Weighted Kaplan-Meier by hand (arithmetic in the comments) and its input errors."""

from __future__ import annotations

import math

import numpy as np
import numpy.testing as npt
import pytest

from mmrwe.core.errors import InputError
from mmrwe.stats.km import kaplan_meier, kaplan_meier_by


def test_weighted_product_limit_and_greenwood_by_hand() -> None:
    # events at 1, 2, 3, 4 with weights 1, 1, 2, 1: weighted at risk 5, 4, 3, 1
    # S = 4/5, 4/5 * 3/4 = 3/5, 3/5 * 1/3 = 1/5, 0
    # Greenwood (weighted): var log S(2) = 1/(5*4) + 1/(4*3) = 2/15
    km = kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1], weights=[1, 1, 2, 1])
    npt.assert_allclose(km.surv, [0.8, 0.6, 0.2, 0.0], rtol=1e-14)
    assert km.variance == "greenwood"  # whole-number weights: R's default
    assert km.std_err_log[1] == pytest.approx(math.sqrt(2 / 15), rel=1e-14)
    npt.assert_allclose(km.weighted_n_risk, [5, 4, 3, 1])
    npt.assert_array_equal(km.n_risk, [4, 3, 2, 1])  # rows


def test_robust_variance_by_hand() -> None:
    # event at 1 (w = 2), censored at 2 (w = 1): n_w = 3, d_w = 2, S = 1/3.
    # C(1) = d / (n (n - d)) = 2/3; influence / S: row 1: 2 (C - 1/(n - d)) = -2/3,
    # row 2: 1 * C = 2/3; var S = S^2 (4/9 + 4/9) = 8/81 (Greenwood: S^2 * 2/3 = 2/27)
    km = kaplan_meier([1, 2], [1, 0], weights=[2.0, 1.0], robust=True)
    assert km.variance == "robust"
    assert km.std_err[0] == pytest.approx(math.sqrt(8) / 9, rel=1e-14)
    assert km.std_err_log[0] == pytest.approx(math.sqrt(8) / 3, rel=1e-14)
    gw = kaplan_meier([1, 2], [1, 0], weights=[2.0, 1.0], robust=False)
    assert gw.std_err[0] == pytest.approx(math.sqrt(2 / 27), rel=1e-14)


def test_non_integer_weights_default_to_robust() -> None:
    km = kaplan_meier([1, 2, 3], [1, 0, 1], weights=[0.5, 1.5, 1.0])
    assert km.variance == "robust"


def test_whole_weights_equal_repeated_rows() -> None:
    rng = np.random.default_rng(7)
    t = rng.integers(1, 20, 50).astype(float)
    e = rng.random(50) < 0.6
    k = rng.integers(1, 4, 50)
    w = kaplan_meier(t, e, weights=k)
    rep = kaplan_meier(np.repeat(t, k), np.repeat(e, k))
    npt.assert_allclose(w.surv, rep.surv, rtol=1e-13)
    npt.assert_allclose(w.std_err, rep.std_err, rtol=1e-12)
    npt.assert_allclose(w.lower, rep.lower, rtol=1e-12)
    assert w.median == rep.median


def test_zero_weight_rows_are_kept_as_times_but_carry_nothing() -> None:
    km = kaplan_meier([1, 2, 3, 4], [1, 1, 1, 0], weights=[1, 0, 1, 1])
    # the event at 2 has weight 0: no step there (survfitkm.c skips times with d_w = 0)
    npt.assert_allclose(km.surv, [2 / 3, 2 / 3, 1 / 3, 1 / 3], rtol=1e-14)


def test_unweighted_path_unchanged_by_robust_false() -> None:
    t, e = [1, 2, 2, 3, 5], [1, 0, 1, 1, 0]
    a, b = kaplan_meier(t, e), kaplan_meier(t, e, robust=False)
    npt.assert_array_equal(a.surv, b.surv)
    npt.assert_array_equal(a.std_err_log, b.std_err_log)
    assert b.weighted_n_risk is None
    assert b.variance == "greenwood"


def test_by_group_with_weights() -> None:
    t = [1, 2, 3, 4, 5, 6]
    e = [1, 1, 0, 1, 1, 0]
    g = ["a", "b", "a", "b", "a", "b"]
    w = [1.0, 2.0, 1.0, 1.0, 1.0, 1.0]
    out = kaplan_meier_by(t, e, g, weights=w)
    assert list(out) == ["a", "b"]
    assert out["b"].variance == "greenwood"
    npt.assert_allclose(out["b"].surv, [1 - 2 / 4, 0.5 * (1 - 1 / 2), 0.25])


def test_weight_errors() -> None:
    with pytest.raises(InputError, match="non-negative"):
        kaplan_meier([1, 2], [1, 1], weights=[1.0, -1.0])
    with pytest.raises(InputError, match="length"):
        kaplan_meier([1, 2], [1, 1], weights=[1.0])


def test_weighted_n_risk_at_sums_the_weights_with_time_at_least_t() -> None:
    # times 1, 2, 2, 4 with weights 0.5, 1.5, 2, 1: at t = 0 all (5), at 2 the three with
    # time >= 2 (4.5), at 3 only the last (1), after 4 nobody (0)
    km = kaplan_meier([1, 2, 2, 4], [True, False, True, True], weights=[0.5, 1.5, 2.0, 1.0])
    npt.assert_allclose(km.weighted_n_risk_at([0, 2, 3, 4, 5]), [5.0, 4.5, 1.0, 1.0, 0.0])
    npt.assert_array_equal(km.n_risk_at([0, 2, 3, 4, 5]), [4, 3, 1, 1, 0])
    plain = kaplan_meier([1, 2, 2, 4], [True, False, True, True])
    npt.assert_allclose(plain.weighted_n_risk_at([0, 2]), [4.0, 3.0])
