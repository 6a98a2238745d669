"""Firth-penalized Cox against an independent R implementation (tests/reference/r/firth_cox.R)."""

from __future__ import annotations

import numpy as np
import numpy.testing as npt
import pandas as pd
import pytest
from tests.conftest import REFERENCE, load_expected

from mmrwe.stats.firth import _penalized, _prepare, detect_monotone_likelihood, firth_cox


def load_data(name: str) -> pd.DataFrame:
    # pandas' default float parser is not correctly rounded (errors of ~100 ulp seen on
    # R-written CSVs); round_trip reads exactly the doubles R parsed
    return pd.read_csv(REFERENCE / "data" / f"{name}.csv", float_precision="round_trip")


REF = load_expected("firth_cox")
CASES = [k for k in REF["cases"] if k != "pointwise"]


def _terms(case: dict) -> list[str]:
    t = case["terms"]
    return t if isinstance(t, list) else [t]


@pytest.mark.reference
@pytest.mark.parametrize("name", CASES)
def test_firth_matches_independent_r(name: str) -> None:
    c = REF["cases"][name]
    d = load_data(c["data"])
    terms = _terms(c)
    r = firth_cox(
        d.time,
        d.status,
        d[terms].to_numpy(),
        names=terms,
        ties=c["ties"],
        conf_level=c["conf_level"],
    )
    # R maximises on numerical derivatives (coef good to ~1e-9); limits by uniroot to 1e-12
    npt.assert_allclose(r.coef, c["coef"], rtol=1e-7, atol=1e-9)
    npt.assert_allclose(r.se, c["se"], rtol=1e-7)
    npt.assert_allclose(r.lower, c["lower"], rtol=1e-9)
    npt.assert_allclose(r.upper, c["upper"], rtol=1e-9)
    npt.assert_allclose(r.chisq, c["chisq"], rtol=1e-9, atol=1e-12)
    npt.assert_allclose(r.p, c["p"], rtol=1e-8)
    npt.assert_allclose(r.loglik_penalized, c["loglik_penalized"], rtol=1e-12)
    npt.assert_allclose(r.loglik_penalized_null, c["loglik_penalized_null"], rtol=1e-12)
    npt.assert_allclose(r.lr_chisq, c["lr_chisq"], rtol=1e-9)
    assert r.n == c["n"]
    assert r.events == c["events"]
    assert r.ties == c["ties"]


@pytest.mark.reference
def test_penalized_loglik_pointwise() -> None:
    c = REF["cases"]["pointwise"]
    d = load_data(c["data"])
    prep = _prepare(d.time.to_numpy(float), d.status.to_numpy(bool), d[c["terms"]].to_numpy(float))
    for beta, pll in zip(c["beta"], c["pll"], strict=True):
        got, _, _ = _penalized(prep, np.asarray(beta, float), c["ties"])
        npt.assert_allclose(got, pll, rtol=1e-12)


@pytest.mark.reference
def test_separated_case_ml_diverges_firth_finite() -> None:
    c = REF["cases"]["separated_breslow"]
    d = load_data(c["data"])
    # R's ordinary coxph runs off towards infinity (coef large, SE huge) ...
    assert c["ml"]["coef"] > 5
    assert c["ml"]["se"] > 100
    # ... the check finds it before fitting, and Firth is finite
    m = detect_monotone_likelihood(d.time, d.status, d.high_risk, names=["high_risk"])
    assert m.detected
    assert m.terms == ("high_risk",)
    r = firth_cox(d.time, d.status, d.high_risk, names=["high_risk"])
    assert np.isfinite(r.coef[0])
    assert np.isfinite(r.upper[0])


@pytest.mark.reference
def test_near_separation_is_not_flagged() -> None:
    d = load_data("firth_near")
    m = detect_monotone_likelihood(d.time, d.status, d.high_risk)
    assert not m.detected
