"""Hand-checkable Firth-Cox cases and the monotone-likelihood detector."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmrwe.core.errors import EstimationError, InputError
from mmrwe.stats.firth import (
    _derivatives,
    _penalized,
    _prepare,
    detect_monotone_likelihood,
    firth_cox,
)


def test_two_patient_information_and_penalty_by_hand() -> None:
    # Two patients, x = (1, 0), the x=1 patient dies first (time 1), the other is censored.
    # One risk set {1, 0}: l(b) = b - log(e^b + 1); I(b) = p(1-p) with p = e^b/(e^b+1).
    # dI/db = p(1-p)(1-2p). At b = 0: l = -log 2, U = 1/2, I = 1/4, dI = 0.
    # l*(0) = -log 2 + 0.5 log(1/4) = -2 log 2.
    d = _prepare(np.array([1.0, 2.0]), np.array([True, False]), np.array([[1.0], [0.0]]))
    ll, u, info, dinfo = _derivatives(d, np.zeros(1), "breslow", third=True)
    assert ll == pytest.approx(-math.log(2))
    assert u[0] == pytest.approx(0.5)
    assert info[0, 0] == pytest.approx(0.25)
    assert dinfo is not None
    assert dinfo[0, 0, 0] == pytest.approx(0.0)
    pll, ustar, _ = _penalized(d, np.zeros(1), "breslow")
    assert pll == pytest.approx(-2 * math.log(2))
    # U*(b) = (1 - p) + 0.5 (1 - 2p) = 1.5 - 2p, zero at p = 3/4: b = log 3.
    assert ustar[0] == pytest.approx(0.5)
    r = firth_cox([1, 2], [1, 0], [1, 0], names=["x"])
    assert r.coef[0] == pytest.approx(math.log(3), rel=1e-9)
    assert r.se[0] == pytest.approx(1 / math.sqrt(0.75 * 0.25), rel=1e-9)


def test_efron_equals_breslow_without_ties() -> None:
    rng = np.random.default_rng(1)
    t = rng.permutation(30).astype(float) + 1
    e = rng.random(30) < 0.7
    x = rng.normal(size=(30, 2))
    a = firth_cox(t, e, x, names=["a", "b"], ties="breslow")
    b = firth_cox(t, e, x, names=["a", "b"], ties="efron")
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-12)
    np.testing.assert_allclose(a.lower, b.lower, rtol=1e-10)


def test_to_dict_is_json_ready_and_has_contract_keys() -> None:
    r = firth_cox([1, 2, 3, 4, 5, 6], [1, 1, 1, 0, 1, 0], [1, 1, 0, 1, 0, 0], names=["g"])
    d = r.to_dict()
    assert set(d["coefficients"]["g"]) >= {"coef", "se", "hr", "lower", "upper", "z", "p"}
    assert d["tests"]["lr"]["df"] == 1
    assert d["ci_method"] == "profile penalized likelihood"
    assert r.coef.flags.writeable is False


def test_wald_option() -> None:
    r = firth_cox(
        [1, 2, 3, 4, 5, 6], [1, 1, 1, 0, 1, 0], [1, 1, 0, 1, 0, 0], names=["g"], profile_ci=False
    )
    z = 1.959963984540054
    assert r.lower[0] == pytest.approx(math.exp(r.coef[0] - z * r.se[0]))
    assert r.ci_method == "wald"


def test_bad_inputs() -> None:
    with pytest.raises(InputError):
        firth_cox([1, 2], [1, 0], [[1.0, 2.0]], names=["x"])
    with pytest.raises(EstimationError):
        firth_cox([1, 2], [0, 0], [1, 0], names=["x"])
    with pytest.raises(InputError):
        firth_cox([1, 2], [1, 0], [np.nan, 0], names=["x"])


def test_monotone_single_covariate_both_directions() -> None:
    # events at 1, 2 both in x=1 while x=0 patients are at risk; x=0 events only later
    t = [1, 2, 3, 4, 5, 6]
    e = [1, 1, 0, 1, 0, 1]
    x = [1, 1, 1, 0, 0, 0]
    m = detect_monotone_likelihood(t, e, x)
    assert m.detected
    assert m.direction is not None
    assert m.direction[0] == 1.0
    m2 = detect_monotone_likelihood(t, e, [-v for v in x])
    assert m2.detected
    assert m2.direction is not None
    assert m2.direction[0] == -1.0
    # one x=0 event while x=1 patients are still at risk: finite MLE
    m3 = detect_monotone_likelihood(t, [1, 0, 1, 1, 0, 1], [1, 1, 0, 1, 0, 0])
    assert not m3.detected


def test_monotone_combination_of_two_covariates() -> None:
    # Neither x1 nor x2 alone separates, but x1 + x2 does: the event patient always has
    # the largest x1 + x2 in its risk set.
    t = np.arange(1, 9, dtype=float)
    e = np.array([1, 1, 1, 0, 1, 0, 0, 0])
    x1 = np.array([2.0, 0.0, 1.5, 0.0, 1.0, 0.2, 0.0, 0.1])
    x2 = np.array([0.0, 2.0, 0.0, 1.0, 0.1, 0.0, 0.5, 0.0])
    s = x1 + x2
    assert all(s[i] >= s[i:].max() for i in np.flatnonzero(e))
    m = detect_monotone_likelihood(t, e, np.c_[x1, x2], names=["a", "b"])
    assert m.detected
    assert m.method == "linear-program"
    assert set(m.terms) == {"a", "b"}
    r = firth_cox(t, e, np.c_[x1, x2], names=["a", "b"])
    assert np.all(np.isfinite(r.coef))
