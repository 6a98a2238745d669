"""Property tests of the Cox fit, and cross-checks against lifelines and statsmodels."""

from __future__ import annotations

import warnings

import numpy as np
import numpy.testing as npt
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tests.conftest import REFERENCE

from mmrwe.core.errors import SeparationWarning
from mmrwe.stats.cox import CoxResult, cox_fit
from mmrwe.stats.coxzph import cox_zph


@st.composite
def cox_samples(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(min_value=15, max_value=40))
    time = np.array(draw(st.lists(st.integers(1, 12), min_size=n, max_size=n)), dtype=float)
    event = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    floats = st.floats(-3, 3, allow_nan=False, allow_subnormal=False).map(lambda v: round(v, 3))
    x = np.array(draw(st.lists(st.tuples(floats, floats), min_size=n, max_size=n)), dtype=float)
    assume(event.sum() >= 4)
    assume(np.all(np.ptp(x, axis=0) > 0.5))
    return time, event, x


def _fit(time: np.ndarray, event: np.ndarray, x: np.ndarray, **kw: object) -> CoxResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SeparationWarning)
        return cox_fit(time, event, x, names=["a", "b"], **kw)  # type: ignore[arg-type]


def _ordinary(fit: CoxResult) -> bool:
    return fit.converged and not fit.warnings and bool(np.all(np.abs(fit.coef) < 5))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(sample=cox_samples(), c=st.sampled_from([0.1, 0.5, 2.0, 7.5, -3.0]))
def test_scaling_a_covariate_divides_its_coefficient(
    sample: tuple[np.ndarray, np.ndarray, np.ndarray], c: float
) -> None:
    time, event, x = sample
    fit = _fit(time, event, x)
    assume(_ordinary(fit))
    x2 = x.copy()
    x2[:, 0] *= c
    fit2 = _fit(time, event, x2)
    npt.assert_allclose(fit2.coef, [fit.coef[0] / c, fit.coef[1]], rtol=1e-7, atol=1e-10)
    npt.assert_allclose(fit2.loglik, fit.loglik, rtol=1e-10)
    npt.assert_allclose(fit2.p, fit.p, rtol=1e-6, atol=1e-12)
    # the concordance sees only the ordering of the risk scores
    if c > 0:
        assert fit2.concordance == pytest.approx(fit.concordance, abs=1e-12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(sample=cox_samples(), data=st.data(), ties=st.sampled_from(["efron", "breslow"]))
def test_results_do_not_depend_on_row_order(
    sample: tuple[np.ndarray, np.ndarray, np.ndarray], data: st.DataObject, ties: str
) -> None:
    time, event, x = sample
    fit = _fit(time, event, x, ties=ties)
    assume(_ordinary(fit))
    perm = np.array(data.draw(st.permutations(range(time.size))))
    fit2 = _fit(time[perm], event[perm], x[perm], ties=ties)
    npt.assert_allclose(fit2.coef, fit.coef, rtol=1e-9, atol=1e-12)
    npt.assert_allclose(fit2.var, fit.var, rtol=1e-8, atol=1e-14)
    assert fit2.iterations == fit.iterations
    assert fit2.concordance == pytest.approx(fit.concordance, abs=1e-12)
    assert fit2.concordance_se == pytest.approx(fit.concordance_se, rel=1e-9)
    z1 = cox_zph(fit).global_
    z2 = cox_zph(fit2).global_
    assert z2[0] == pytest.approx(z1[0], rel=1e-7, abs=1e-10)


def _lung() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "data" / "cox_lung_efron.csv", float_precision="round_trip")


COLS = ["age", "sex", "ph.ecog"]


def test_matches_lifelines_efron_on_lung() -> None:
    lifelines = pytest.importorskip("lifelines")
    d = _lung()
    ours = cox_fit(d.time, d.status, d[COLS].to_numpy(float), names=COLS)
    cph = lifelines.CoxPHFitter().fit(d[["time", "status", *COLS]], "time", "status")
    npt.assert_allclose(ours.coef, cph.params_[COLS].to_numpy(), rtol=1e-5)
    npt.assert_allclose(ours.se, cph.standard_errors_[COLS].to_numpy(), rtol=1e-5)


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_matches_statsmodels_phreg_on_lung(ties: str) -> None:
    sm = pytest.importorskip("statsmodels.duration.hazard_regression")
    d = _lung()
    ours = cox_fit(d.time, d.status, d[COLS].to_numpy(float), names=COLS, ties=ties)  # type: ignore[arg-type]
    res = sm.PHReg(
        d.time.to_numpy(), d[COLS].to_numpy(float), status=d.status.to_numpy(), ties=ties
    ).fit()
    npt.assert_allclose(ours.coef, res.params, rtol=1e-5)
    npt.assert_allclose(ours.se, res.bse, rtol=1e-5)
    assert ours.loglik[1] == pytest.approx(res.llf, rel=1e-8)
