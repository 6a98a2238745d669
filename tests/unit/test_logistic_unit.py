"""Hand-derived and cross-package checks of mmrwe.stats.logistic."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import statsmodels.api as sm

from mmrwe.core.errors import EstimationError, InputError, SeparationWarning
from mmrwe.stats.logistic import _approx, _spline, logistic_fit, profile_likelihood_root

# The contract's 2 x 2 table as individual rows: group yes 20 successes / 18 failures,
# group no 9 / 4.
Y = np.array([1] * 20 + [0] * 18 + [1] * 9 + [0] * 4)
X = np.array([1] * 38 + [0] * 13, dtype=float)[:, None]


def test_binary_covariate_closed_form() -> None:
    # Saturated 2-group model: intercept = log(9/4), slope = log((20/18) / (9/4)),
    # se(slope) = sqrt(1/20 + 1/18 + 1/9 + 1/4) = sqrt(0.466667) = 0.683130 (Woolf).
    r = logistic_fit(Y, X, names=["yes"], ci="wald")
    assert r.coef[0] == pytest.approx(math.log(9 / 4), rel=1e-10)
    assert r.coef[1] == pytest.approx(math.log((20 / 18) / (9 / 4)), rel=1e-10)
    # R's summary.glm takes the weights of the last IRLS iteration (one step before the
    # returned estimate), hence 3e-7 from the closed form; R gives 0.683129838416143.
    assert r.se[1] == pytest.approx(math.sqrt(1 / 20 + 1 / 18 + 1 / 9 + 1 / 4), rel=1e-6)
    assert r.se[1] == pytest.approx(0.683129838416143, rel=1e-12)
    z = 1.959963984540054
    assert r.lower[1] == pytest.approx(math.exp(r.coef[1] - z * r.se[1]), rel=1e-12)
    # deviance of the saturated-by-group model: -2 sum n_ij log(p_ij)
    ll = (
        20 * math.log(20 / 38)
        + 18 * math.log(18 / 38)
        + 9 * math.log(9 / 13)
        + 4 * math.log(4 / 13)
    )
    assert r.deviance == pytest.approx(-2 * ll, rel=1e-12)
    assert r.aic == pytest.approx(-2 * ll + 4, rel=1e-12)
    assert r.null_deviance == pytest.approx(
        -2 * (29 * math.log(29 / 51) + 22 * math.log(22 / 51)), rel=1e-12
    )


def test_agrees_with_statsmodels_logit() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(150, 3))
    eta = -0.3 + x @ np.array([0.8, -0.5, 0.2])
    y = (rng.uniform(size=150) < 1 / (1 + np.exp(-eta))).astype(float)
    ours = logistic_fit(y, x, names=["a", "b", "c"], ci="wald")
    ref = sm.Logit(y, sm.add_constant(x)).fit(disp=0, tol=1e-12)
    # glm.fit stops on a relative deviance change < 1e-8: estimates within ~1e-7 of the MLE.
    np.testing.assert_allclose(ours.coef, ref.params, rtol=1e-6)
    np.testing.assert_allclose(ours.se, ref.bse, rtol=1e-6)
    assert ours.deviance == pytest.approx(-2 * ref.llf, rel=1e-10)
    assert ours.lr_chisq == pytest.approx(ref.llr, rel=1e-8)


def test_mass_profile_is_close_to_exact_root_for_regular_data() -> None:
    # MASS's spline interpolation vs the exact profile-likelihood root: the 2-group model
    # differs by < 1e-4 relative (on birthwt < 2e-4; on mtcars am ~ wt + hp it is 3%).
    r = logistic_fit(Y, X, names=["yes"])
    for side, ours in (("lower", r.coef_lower[1]), ("upper", r.coef_upper[1])):
        exact = profile_likelihood_root(Y, X, index=1, side=side)  # type: ignore[arg-type]
        assert exact is not None
        assert ours == pytest.approx(exact, rel=2e-4)
        assert ours != exact


def test_spline_and_approx_reproduce_linear_data_exactly() -> None:
    # An FMM spline through points on a line is that line; approx inverts it.
    x = np.array([-2.0, -1.0, 0.0, 0.5, 1.5, 3.0])
    y = 2 * x + 1
    sx, sy = _spline(x, y)
    assert len(sx) == 18  # R: n = 3 * length(x)
    np.testing.assert_allclose(sy, 2 * sx + 1, rtol=1e-12, atol=1e-12)
    assert _approx(sy, sx, [0.0, 100.0])[0] == pytest.approx(-0.5)
    assert math.isnan(_approx(sy, sx, [0.0, 100.0])[1])  # rule = 1: NA outside


def test_complete_separation_warns_and_flags() -> None:
    y = np.array([0, 0, 0, 1, 1, 1])
    x = np.arange(6.0)[:, None]
    with pytest.warns(SeparationWarning, match="Firth"):
        r = logistic_fit(y, x, names=["x"], ci="wald")
    assert r.separation
    # R 4.2.2: glm(y ~ x, binomial) "converges" (deviance change < 1e-8) at iteration 25
    # with coefficients -118.0842, 47.23367 and the "numerically 0 or 1" warning.
    assert r.iterations == 25
    assert r.coef == pytest.approx([-118.0842, 47.23367], rel=1e-6)
    assert r.to_dict()["separation"] is True


def test_no_separation_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", SeparationWarning)
        r = logistic_fit(Y, X, names=["yes"])
    assert not r.separation


def test_to_dict_shape() -> None:
    d = logistic_fit(Y, X, names=["yes"]).to_dict()
    assert set(d["coefficients"]) == {"(Intercept)", "yes"}
    assert set(d["coefficients"]["yes"]) == {"coef", "se", "odds_ratio", "lower", "upper", "z", "p"}
    assert d["ci_method"] == "profile"
    assert set(d["lr_test"]) == {"chisq", "df", "p"}
    assert d["n"] == 51
    assert d["events"] == 29


def test_boolean_outcome_and_1d_covariate() -> None:
    a = logistic_fit(Y.astype(bool), X[:, 0], names=["yes"], ci="wald")
    b = logistic_fit(Y, X, names=["yes"], ci="wald")
    np.testing.assert_array_equal(a.coef, b.coef)


def test_input_errors() -> None:
    with pytest.raises(InputError):
        logistic_fit([0, 1, 2], [[1], [2], [3]], names=["x"])
    with pytest.raises(InputError):
        logistic_fit([0, 1, 1], [[1], [np.nan], [3]], names=["x"])
    with pytest.raises(InputError):
        logistic_fit(Y, X, names=["a", "b"])
    with pytest.raises(EstimationError, match="single value"):
        logistic_fit([1, 1, 1, 1], [[1], [2], [3], [4]], names=["x"])
    with pytest.raises(EstimationError, match="collinear"):
        logistic_fit(Y, np.column_stack([X[:, 0], 2 * X[:, 0]]), names=["a", "b"])
