"""Properties of the Kaplan-Meier estimator, and a cross-check with lifelines."""

from __future__ import annotations

import warnings

import numpy as np
import numpy.testing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmrwe.core.conventions import SurvivalConventions
from mmrwe.stats.km import kaplan_meier

CONF_TYPES = st.sampled_from(["log-log", "log", "plain"])


@st.composite
def survival_samples(draw: st.DrawFn, max_n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(1, max_n))
    # few distinct values: ties between events and censorings are the hard part
    time = np.array(draw(st.lists(st.integers(0, 25), min_size=n, max_size=n)), dtype=float)
    event = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    return time, event


@settings(max_examples=60, deadline=None)
@given(sample=survival_samples(), conf_type=CONF_TYPES, data=st.data())
def test_curve_monotone_in_unit_interval_and_row_order_invariant(sample, conf_type, data) -> None:
    time, event = sample
    conv = SurvivalConventions(conf_type=conf_type)
    km = kaplan_meier(time, event, conventions=conv)
    assert np.all(np.diff(km.surv) <= 0)
    assert np.all((km.surv >= 0) & (km.surv <= 1))
    finite = np.isfinite(km.lower)
    assert np.all(km.lower[finite] <= km.surv[finite] + 1e-12)
    assert np.all((km.lower[finite] >= 0) & (km.upper[finite] <= 1 + 1e-12))
    assert km.n_risk[0] == time.size
    assert km.n_event.sum() == event.sum()
    assert km.n_event.sum() + km.n_censor.sum() == time.size
    perm = np.array(data.draw(st.permutations(range(time.size))))
    other = kaplan_meier(time[perm], event[perm], conventions=conv)
    npt.assert_array_equal(other.time, km.time)
    npt.assert_array_equal(other.surv, km.surv)
    npt.assert_array_equal(other.lower, km.lower)
    assert other.median == km.median


@settings(max_examples=60, deadline=None)
@given(sample=survival_samples(), conf_type=CONF_TYPES)
def test_doubling_times_doubles_median_and_keeps_surv(sample, conf_type) -> None:
    time, event = sample
    conv = SurvivalConventions(conf_type=conf_type)
    km = kaplan_meier(time, event, conventions=conv)
    km2 = kaplan_meier(2 * time, event, conventions=conv)
    npt.assert_array_equal(km2.surv, km.surv)
    npt.assert_array_equal(km2.lower, km.lower)
    for p in (0.25, 0.5, 0.75):
        a, b = km.quantile(p), km2.quantile(p)
        for x, y in ((a.value, b.value), (a.lower, b.lower), (a.upper, b.upper)):
            assert (x is None and y is None) or y == 2 * x
    tau = float(time.max())
    assert km2.rmst(2 * tau).estimate == pytest.approx(2 * km.rmst(tau).estimate, rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    sample=survival_samples(),
    ticks=st.lists(st.floats(-1, 30, allow_nan=False), min_size=1, max_size=8),
)
def test_risk_counts_and_landmarks_match_brute_force(sample, ticks) -> None:
    time, event = sample
    km = kaplan_meier(time, event)
    brute_risk = [int(np.sum(time >= t)) for t in ticks]
    npt.assert_array_equal(km.n_risk_at(ticks), brute_risk)
    for t in ticks:
        got = km.survival_at(t)
        if t > time.max():
            assert got.surv is None
            continue
        # S(t) = product over event times u <= t of (1 - d_u / n_u)
        surv = 1.0
        for u in np.unique(time[event & (time <= t)]):
            surv *= 1 - np.sum(event & (time == u)) / np.sum(time >= u)
        assert got.surv == pytest.approx(surv, rel=1e-12, abs=1e-15)


@settings(max_examples=40, deadline=None)
@given(sample=survival_samples(max_n=80))
def test_loglog_band_agrees_with_lifelines(sample) -> None:
    # lifelines' KM band is the log-log ("exponential Greenwood") band, the same formula as
    # R survfit(conf.type = "log-log"); compare where both are defined (0 < S < 1).
    lifelines = pytest.importorskip("lifelines")
    time, event = sample
    km = kaplan_meier(time, event, conventions=SurvivalConventions(conf_type="log-log"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kmf = lifelines.KaplanMeierFitter().fit(time, event, timeline=km.time)
    lf_surv = kmf.survival_function_.iloc[:, 0].to_numpy()
    npt.assert_allclose(km.surv, lf_surv, rtol=1e-12, atol=1e-15)
    inside = (km.surv > 0) & (km.surv < 1)
    ci = kmf.confidence_interval_.to_numpy()
    npt.assert_allclose(km.lower[inside], ci[inside, 0], rtol=1e-9)
    npt.assert_allclose(km.upper[inside], ci[inside, 1], rtol=1e-9)
    # lifelines' median is the first time S <= 0.5 (inf when not reached)
    first = kaplan_meier(
        time, event, conventions=SurvivalConventions(median_rule="first-at-or-below")
    )
    lf_median = kmf.median_survival_time_
    if np.any(event & (time == 0)) or km.surv.min() == 0.5:
        # Where lifelines departs from R, so there is nothing to cross-check: it prepends
        # S(0) = 1 before its median search (deaths at time 0 read as "not reached"; R: 0),
        # and a curve that ends exactly at 0.5 gives inf (R and mmrwe: the time it reaches 0.5).
        return
    assert first.median.value == (None if np.isinf(lf_median) else lf_median)
