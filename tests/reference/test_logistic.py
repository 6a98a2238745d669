"""mmrwe.stats.logistic against R glm(family = binomial) + confint (tests/reference/r/logistic.R).

Profile intervals: R 4.2's confint() for glm is MASS 7.3's profile.glm + spline + approx, an
interpolation that is *not* the exact profile-likelihood root (e.g. 3% off for mtcars
am ~ wt + hp). logistic_fit() transcribes that computation, so these tests compare with R's
numbers directly (1e-9). The distance to the exact root is checked in the unit tests.

Separated cases: R stops IRLS after 18-25 iterations with coefficients of 20-250 on a flat
likelihood; the estimates depend on every rounding step and agree with R to ~3e-7 only,
hence rtol 1e-6 for them (and they are meaningless anyway: separation=True).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from mmrwe.core.errors import SeparationWarning
from mmrwe.stats.logistic import logistic_fit

pytestmark = pytest.mark.reference

SEPARATED = {"separated", "quasi_separated", "zero_cell"}
CASES = [
    "birthwt",
    "esoph",
    "mtcars",
    "two_by_two",
    "overlap",
    "separated",
    "quasi_separated",
    "zero_cell",
]


def _as_list(v: object) -> list[str]:
    if v is None:
        return []
    return [v] if isinstance(v, str) else list(v)  # type: ignore[arg-type]


def _fit(reference_data, case: str, level: float, ci: str):
    d = reference_data(f"logistic_{case}")
    x = d.drop(columns="y")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SeparationWarning)
        return logistic_fit(
            d["y"].to_numpy(), x.to_numpy(), names=list(x.columns), conf_level=level, ci=ci
        )


def _assert_limits(ours: np.ndarray, theirs: list[float | None], rtol: float) -> None:
    for a, b in zip(ours, theirs, strict=True):
        if b is None:  # R: NA, the profile never reached the cut-off
            assert math.isnan(a)
        else:
            assert a == pytest.approx(b, rel=rtol)


@pytest.mark.parametrize("case", CASES)
def test_fit_matches_glm(case: str, expected, reference_data) -> None:
    ref = next(c for c in expected("logistic")["cases"] if c["case"] == case)
    rtol = 1e-6 if case in SEPARATED else 1e-9
    r = _fit(reference_data, case, 0.95, "wald")
    assert list(r.names) == ref["names"]
    np.testing.assert_allclose(r.coef, ref["coef"], rtol=rtol)
    np.testing.assert_allclose(r.se, ref["se"], rtol=rtol)
    np.testing.assert_allclose(r.z, ref["z"], rtol=rtol)
    np.testing.assert_allclose(r.p, ref["p"], rtol=rtol)
    for key in ("deviance", "null_deviance", "aic", "lr_chisq", "lr_p"):
        assert getattr(r, key) == pytest.approx(ref[key], rel=1e-9), key
    assert (r.df_residual, r.df_null, r.lr_df) == (ref["df_residual"], ref["df_null"], ref["lr_df"])
    assert r.iterations == ref["iter"]
    assert r.converged == ref["converged"]
    assert r.n == ref["n"]
    # every glm.fit warning R gave is in ours
    for w in _as_list(ref["glm_warnings"]):
        assert w in r.warnings


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(("level", "key"), [(0.95, ""), (0.9, "_90")])
def test_profile_ci_matches_confint(
    case: str, level: float, key: str, expected, reference_data
) -> None:
    ref = next(c for c in expected("logistic")["cases"] if c["case"] == case)
    rtol = 1e-6 if case in SEPARATED else 1e-9
    r = _fit(reference_data, case, level, "profile")
    assert r.ci_method == "profile"
    _assert_limits(r.coef_lower, ref["profile_lower" + key], rtol)
    _assert_limits(r.coef_upper, ref["profile_upper" + key], rtol)
    # odds-ratio scale is exp() of the same limits
    np.testing.assert_allclose(r.lower, np.exp(r.coef_lower))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize(("level", "key"), [(0.95, ""), (0.9, "_90")])
def test_wald_ci_matches_confint_default(
    case: str, level: float, key: str, expected, reference_data
) -> None:
    ref = next(c for c in expected("logistic")["cases"] if c["case"] == case)
    rtol = 1e-6 if case in SEPARATED else 1e-9
    r = _fit(reference_data, case, level, "wald")
    np.testing.assert_allclose(r.coef_lower, ref["wald_lower" + key], rtol=rtol)
    np.testing.assert_allclose(r.coef_upper, ref["wald_upper" + key], rtol=rtol)


@pytest.mark.parametrize("case", CASES)
def test_separation_flag(case: str, reference_data) -> None:
    d = reference_data(f"logistic_{case}")
    x = d.drop(columns="y")
    if case in SEPARATED:
        with pytest.warns(SeparationWarning, match="Firth"):
            r = logistic_fit(d["y"].to_numpy(), x.to_numpy(), names=list(x.columns), ci="wald")
        assert r.separation
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error", SeparationWarning)
            r = logistic_fit(d["y"].to_numpy(), x.to_numpy(), names=list(x.columns), ci="wald")
        assert not r.separation


def test_binary_covariate_matches_two_by_two_table(expected, reference_data) -> None:
    # The contract example as a logistic model: OR for group yes vs no.
    r = _fit(reference_data, "two_by_two", 0.95, "profile")
    d = r.to_dict()["coefficients"]["group_yes"]
    assert d["odds_ratio"] == pytest.approx((20 / 18) / (9 / 4), rel=1e-12)
    ref = next(c for c in expected("logistic")["cases"] if c["case"] == "two_by_two")
    assert d["lower"] == pytest.approx(math.exp(ref["profile_lower"][1]), rel=1e-9)
    assert d["upper"] == pytest.approx(math.exp(ref["profile_upper"][1]), rel=1e-9)
    assert d["p"] == pytest.approx(ref["p"][1], rel=1e-9)
