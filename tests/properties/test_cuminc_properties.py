"""Properties of the competing-risks estimators and the RMST comparison."""

from __future__ import annotations

import warnings

import numpy as np
import numpy.testing as npt
from hypothesis import given, settings
from hypothesis import strategies as st

from mmrwe.core.errors import EstimationError, MmrweWarning
from mmrwe.stats.cuminc import cuminc
from mmrwe.stats.finegray import finegray
from mmrwe.stats.km import kaplan_meier
from mmrwe.stats.rmst import rmst_compare, rmst_tau_max


@st.composite
def competing_samples(draw: st.DrawFn, max_n: int = 50, causes: int = 3):  # type: ignore[no-untyped-def]
    n = draw(st.integers(2, max_n))
    # few distinct times: ties between causes and censorings are the hard part
    time = np.array(draw(st.lists(st.integers(0, 15), min_size=n, max_size=n)), dtype=float)
    cause = np.array(draw(st.lists(st.integers(0, causes), min_size=n, max_size=n)))
    group = np.array(draw(st.lists(st.sampled_from("ab"), min_size=n, max_size=n)))
    return time, cause, group


@settings(max_examples=60, deadline=None)
@given(sample=competing_samples())
def test_cifs_of_all_causes_sum_to_one_minus_km(sample) -> None:  # type: ignore[no-untyped-def]
    time, cause, _ = sample
    present = sorted(set(cause.tolist()) - {0})
    grid = np.unique(time)
    km = kaplan_meier(time, cause > 0)
    one_minus_s = 1.0 - np.array([km.survival_at(t).surv for t in grid])
    total = np.zeros(grid.size)
    for k in present:
        est = cuminc(time, cause, event=k, times=grid).at["all"].estimate
        total += np.array(est, dtype=float)
    npt.assert_allclose(total, one_minus_s if present else 0.0, rtol=1e-12, atol=1e-14)


@settings(max_examples=60, deadline=None)
@given(sample=competing_samples(), data=st.data())
def test_row_order_group_labels_and_time_unit_change_nothing(sample, data) -> None:  # type: ignore[no-untyped-def]
    time, cause, group = sample
    if not np.any(cause == 1):
        return
    res = cuminc(time, cause, group)
    perm = np.array(data.draw(st.permutations(range(time.size))))
    shuffled = cuminc(time[perm], cause[perm], group[perm])
    relabelled = cuminc(time, cause, np.where(group == "a", "z", group))
    scaled = cuminc(time * 30.4375, cause, group)
    for level, curve in res.groups.items():
        other = shuffled.groups[level]
        npt.assert_array_equal(other.estimate, curve.estimate)
        npt.assert_array_equal(other.variance, curve.variance)
        npt.assert_array_equal(scaled.groups[level].estimate, curve.estimate)
        npt.assert_array_equal(scaled.groups[level].variance, curve.variance)
        assert np.all(np.diff(curve.estimate) > 0)
        assert np.all((curve.estimate > 0) & (curve.estimate <= 1))
        assert np.all(curve.variance >= -1e-15)
    if res.gray is not None and res.gray.stat is not None:
        assert shuffled.gray is not None and relabelled.gray is not None
        assert shuffled.gray.stat == res.gray.stat
        assert relabelled.gray.stat is not None
        npt.assert_allclose(relabelled.gray.stat, res.gray.stat, rtol=1e-9, atol=1e-12)
        one_stratum = cuminc(time, cause, group, strata=np.ones(time.size))
        assert one_stratum.gray is not None and one_stratum.gray.stat == res.gray.stat


@settings(max_examples=30, deadline=None)
@given(sample=competing_samples(max_n=60, causes=2), data=st.data())
def test_finegray_is_row_order_invariant(sample, data) -> None:  # type: ignore[no-untyped-def]
    time, cause, group = sample
    x = (group == "b").astype(float)[:, None]
    if np.sum(cause == 1) < 2 or np.ptp(x) == 0:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MmrweWarning)
        try:
            fit = finegray(time, cause, x, names=["b"])
        except EstimationError:  # singular information in a degenerate draw
            return
        if not fit.converged:  # a diverging coefficient (separation): not this property
            return
        perm = np.array(data.draw(st.permutations(range(time.size))))
        other = finegray(time[perm], cause[perm], x[perm], names=["b"])
    assert other.converged
    npt.assert_allclose(other.coef, fit.coef, rtol=1e-9, atol=1e-12)
    npt.assert_allclose(other.se, fit.se, rtol=1e-8, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(sample=competing_samples(), frac=st.floats(0.05, 1.0))
def test_rmst_bounds_and_lost_time(sample, frac) -> None:  # type: ignore[no-untyped-def]
    time, cause, group = sample
    event = cause > 0
    tau = rmst_tau_max(time, event, group) * frac
    if tau <= 0:
        return
    res = rmst_compare(time, event, group, tau=tau)
    for g in res.groups.values():
        assert -1e-12 <= g.rmst <= tau * (1 + 1e-12)
        assert g.rmst + g.rmtl == tau
        assert g.lower <= g.rmst <= g.upper
    if res.difference is not None:
        a, b = res.groups[res.comparator], res.groups[res.reference]  # type: ignore[index]
        assert res.difference.estimate == a.rmst - b.rmst
