"""Properties of cox_fit with (start, stop] data and case weights."""

from __future__ import annotations

import warnings

import numpy as np
import numpy.testing as npt
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mmrwe.core.errors import EstimationError, SeparationWarning
from mmrwe.stats.cox import CoxResult, cox_fit
from mmrwe.stats.coxzph import cox_zph


@st.composite
def samples(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(min_value=15, max_value=40))
    time = np.array(draw(st.lists(st.integers(1, 12), min_size=n, max_size=n)), dtype=float)
    event = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    floats = st.floats(-3, 3, allow_nan=False, allow_subnormal=False).map(lambda v: round(v, 3))
    x = np.array(draw(st.lists(st.tuples(floats, floats), min_size=n, max_size=n)), dtype=float)
    strata = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    assume(event.sum() >= 4)
    assume(np.all(np.ptp(x, axis=0) > 0.5))
    return time, event, x, strata


def _fit(*args: object, **kw: object) -> CoxResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SeparationWarning)
        return cox_fit(*args, names=["a", "b"], **kw)  # type: ignore[arg-type]


def _ordinary(fit: CoxResult) -> bool:
    return fit.converged and not fit.warnings and bool(np.all(np.abs(fit.coef) < 5))


def _same_fit(a: CoxResult, b: CoxResult) -> None:
    # equal up to the Newton stopping rule (|1 - loglik_old / loglik_new| <= 1e-9): the two
    # fits may stop one step apart, so coefficients agree to a small fraction of their SE
    npt.assert_allclose(a.coef, b.coef, rtol=0, atol=1e-5 * float(np.min(b.se)))
    npt.assert_allclose(a.var, b.var, rtol=1e-4, atol=1e-8 * float(np.max(np.abs(b.var))))
    assert a.loglik[1] == pytest.approx(b.loglik[1], rel=1e-9)


def _global_zph(fit: CoxResult, transform: str) -> float | None:
    try:
        return cox_zph(fit, transform=transform).global_[0]  # type: ignore[arg-type]
    except EstimationError:  # singular, e.g. one event time per stratum (R stops too)
        return None


def _split(
    time: np.ndarray, event: np.ndarray, x: np.ndarray, strata: np.ndarray, cuts: list[float]
) -> tuple[np.ndarray, ...]:
    """survSplit: one row per (patient, interval between cuts), the event on the last."""
    rows = []
    for i in range(time.size):
        lo = 0.0
        for c in sorted(set(cuts)):
            if lo < c < time[i]:
                rows.append((lo, c, False, i))
                lo = c
        rows.append((lo, time[i], bool(event[i]), i))
    s, t, e, idx = (np.array(v) for v in zip(*rows, strict=True))
    return s.astype(float), t.astype(float), e.astype(bool), x[idx], strata[idx], idx


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    sample=samples(),
    cuts=st.lists(st.sampled_from([1.5, 2.0, 3.5, 5.0, 6.0, 8.5, 10.0]), min_size=1, max_size=4),
    ties=st.sampled_from(["efron", "breslow"]),
)
def test_split_records_give_the_unsplit_fit(
    sample: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], cuts: list[float], ties: str
) -> None:
    # survSplit does not change any risk set, so coxph gives the same fit (and with the
    # patient as cluster, the same robust variance and concordance SE)
    time, event, x, strata = sample
    full = _fit(time, event, x, ties=ties, strata=strata, robust=True)
    assume(_ordinary(full))
    s, t, e, xs, ss, pid = _split(time, event, x, strata, cuts)
    split = _fit(t, e, xs, ties=ties, strata=ss, start=s, cluster=pid)
    assert split.iterations == full.iterations
    _same_fit(split, full)
    npt.assert_allclose(split.naive_var, full.naive_var, rtol=1e-4)
    assert split.concordance == pytest.approx(full.concordance, abs=1e-12)
    assert split.concordance_se == pytest.approx(full.concordance_se, rel=1e-9)
    for tr in ("km", "identity"):  # "rank" ranks all rows' stop times, which splitting adds
        z_split, z_full = _global_zph(split, tr), _global_zph(full, tr)
        assert (z_split is None) == (z_full is None)
        if z_full is not None:
            assert z_split == pytest.approx(z_full, rel=1e-6, abs=1e-9)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(sample=samples(), data=st.data())
def test_breslow_whole_weights_equal_repeated_rows(
    sample: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], data: st.DataObject
) -> None:
    # With Breslow ties a row of weight k is k identical rows (Efron differs: k copies of a
    # death are k tied deaths, one row of weight k is one death)
    time, event, x, strata = sample
    k = np.array(data.draw(st.lists(st.integers(1, 3), min_size=time.size, max_size=time.size)))
    weighted = _fit(time, event, x, ties="breslow", strata=strata, weights=k)
    assume(_ordinary(weighted))
    rep = np.repeat(np.arange(time.size), k)
    repeated = _fit(time[rep], event[rep], x[rep], ties="breslow", strata=strata[rep])
    _same_fit(weighted, repeated)
    assert weighted.concordance == pytest.approx(repeated.concordance, abs=1e-12)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(sample=samples(), data=st.data(), c=st.sampled_from([0.25, 3.0, 10.0]))
def test_weights_scaled_by_a_constant_keep_the_estimate(
    sample: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], data: st.DataObject, c: float
) -> None:
    # every weighted sum scales by c: same coefficients and robust variance, the model-based
    # variance divided by c, row order irrelevant
    time, event, x, strata = sample
    w = np.array(data.draw(st.lists(st.floats(0.2, 5.0), min_size=time.size, max_size=time.size)))
    fit = _fit(time, event, x, strata=strata, weights=w)
    assume(_ordinary(fit))
    scaled = _fit(time, event, x, strata=strata, weights=c * w)
    npt.assert_allclose(scaled.coef, fit.coef, rtol=0, atol=1e-5 * float(np.min(fit.se)))
    npt.assert_allclose(scaled.var, fit.var, rtol=1e-4)
    npt.assert_allclose(scaled.naive_var * c, fit.naive_var, rtol=1e-4)
    # the log-likelihood shifts by -c log(c) sum(w over deaths); differences scale by c
    lr, lr_scaled = fit.loglik[1] - fit.loglik[0], scaled.loglik[1] - scaled.loglik[0]
    assert lr_scaled == pytest.approx(c * lr, rel=1e-7)
    assert scaled.concordance == pytest.approx(fit.concordance, abs=1e-12)
    perm = np.array(data.draw(st.permutations(range(time.size))))
    shuffled = _fit(time[perm], event[perm], x[perm], strata=strata[perm], weights=w[perm])
    npt.assert_allclose(shuffled.coef, fit.coef, rtol=0, atol=1e-5 * float(np.min(fit.se)))
    assert shuffled.concordance_se == pytest.approx(fit.concordance_se, rel=1e-9)
