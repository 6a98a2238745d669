"""Properties of the start/stop split (``[[tv_cox]]``) and of Cohen's kappa."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmrwe.stats.agreement import cohen_kappa
from mmrwe.stats.cox import cox_fit
from mmrwe.study.analyses.tv_cox import split_at_dates


@st.composite
def follow_up(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 30))
    k = draw(st.integers(1, 3))
    time = np.array(draw(st.lists(st.integers(0, 40), min_size=n, max_size=n)), dtype=np.int64)
    event = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    # switch days from before day 0 to after the end, some never (NaN), ties included
    cells = st.one_of(st.none(), st.integers(-5, 45))
    ch = draw(st.lists(st.lists(cells, min_size=k, max_size=k), min_size=n, max_size=n))
    change = np.array([[np.nan if v is None else float(v) for v in row] for row in ch])
    return time, event, change


@settings(max_examples=150, deadline=None)
@given(sample=follow_up())
def test_split_keeps_follow_up_events_and_switches_once(sample) -> None:
    time, event, change = sample
    pid, start, stop, is_event, Z = split_at_dates(time, event, change)
    assert np.all(stop > start)
    # intervals of a patient tile (0, T] exactly: lengths sum to T, no gap, no overlap
    total = np.bincount(pid, weights=stop - start, minlength=time.size)
    has_rows = np.bincount(pid, minlength=time.size) > 0
    np.testing.assert_array_equal(total[has_rows], time[has_rows])
    assert not has_rows[time == 0].any() and has_rows[time > 0].all()
    # one event per patient with an event and positive follow-up, on the last interval
    np.testing.assert_array_equal(
        np.bincount(pid[is_event], minlength=time.size), (event & (time > 0)).astype(int)
    )
    assert np.all(stop[is_event] == time[pid[is_event]])
    # each covariate is 0 then 1 (never back), and 1 exactly from its switch day on
    for j in range(change.shape[1]):
        c = change[pid, j]
        np.testing.assert_array_equal(Z[:, j] == 1, ~np.isnan(c) & (c <= start))
        order = np.lexsort((start, pid))
        same = pid[order][1:] == pid[order][:-1]
        assert np.all(np.diff(Z[order, j])[same] >= 0)


def test_split_without_switches_equals_the_ordinary_cox_fit() -> None:
    # every patient one interval (0, T]: the counting-process fit equals the plain one
    rng = np.random.default_rng(7)
    t = rng.integers(1, 60, 40).astype(float)
    e = rng.random(40) < 0.7
    x = rng.normal(size=(40, 1))
    pid, start, stop, is_event, _ = split_at_dates(t.astype(np.int64), e, np.full((40, 1), np.nan))
    a = cox_fit(stop, is_event, x[pid], names=["x"], start=start)
    b = cox_fit(t, e, x, names=["x"])
    assert a.coef[0] == pytest.approx(b.coef[0], rel=1e-10)
    assert a.se[0] == pytest.approx(b.se[0], rel=1e-10)


RATINGS = st.sampled_from(["sCR", "CR", "VGPR", "PR", "MR", "SD", "PD", None])
CATS = ("sCR", "CR", "VGPR", "PR", "MR", "SD", "PD")


@settings(max_examples=150, deadline=None)
@given(
    pairs=st.lists(st.tuples(RATINGS, RATINGS), min_size=1, max_size=60),
    weights=st.sampled_from(["none", "quadratic"]),
    data=st.data(),
)
def test_kappa_symmetric_order_free_and_bounded(pairs, weights, data) -> None:
    a = np.array([p[0] for p in pairs], dtype=object)
    b = np.array([p[1] for p in pairs], dtype=object)
    if not any(x is not None and y is not None for x, y in pairs):
        return
    k = cohen_kappa(a, b, CATS, weights=weights)
    swapped = cohen_kappa(b, a, CATS, weights=weights)
    perm = np.array(data.draw(st.permutations(range(len(pairs)))))
    shuffled = cohen_kappa(a[perm], b[perm], CATS, weights=weights)
    for other in (swapped, shuffled):
        assert (other.kappa is None) == (k.kappa is None)
        if k.kappa is not None:
            assert other.kappa == pytest.approx(k.kappa, abs=1e-12)
            assert other.se == pytest.approx(k.se, abs=1e-12)
    np.testing.assert_array_equal(swapped.table, k.table.T)
    if k.kappa is not None:
        assert -1.0 - 1e-12 <= k.kappa <= 1.0 + 1e-12
        assert -1.0 <= k.lower <= k.kappa + 1e-12 and k.kappa - 1e-12 <= k.upper <= 1.0
        if k.table.trace() == k.n:  # complete agreement
            assert k.kappa == pytest.approx(1.0)
