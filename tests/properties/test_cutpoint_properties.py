"""Invariances of the cut-off statistics (hypothesis)."""

from __future__ import annotations

import numpy as np
import numpy.testing as npt
from hypothesis import given, settings
from hypothesis import strategies as st

from mmrwe.stats import cutpoint as C
from mmrwe.stats.cutpoint import maxstat_cutpoint_binary, youden_cutpoint


@st.composite
def samples(draw: st.DrawFn, min_n: int = 8, max_n: int = 40) -> tuple[np.ndarray, ...]:
    n = draw(st.integers(min_n, max_n))
    t = np.array(draw(st.lists(st.integers(1, 30), min_size=n, max_size=n)), float)
    e = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    x = np.array(draw(st.lists(st.integers(0, 12), min_size=n, max_size=n)), float)
    return t, e, x


def _maxstat_or_none(t: np.ndarray, e: np.ndarray, x: np.ndarray) -> object:
    try:
        return C.maxstat_cutpoint(t, e, x, minprop=0.2, firth="never")
    except Exception:
        return None


@settings(max_examples=40, deadline=None)
@given(s=samples(), data=st.data())
def test_maxstat_row_order_and_monotone_transform(
    s: tuple[np.ndarray, ...], data: st.DataObject
) -> None:
    t, e, x = s
    r = _maxstat_or_none(t, e, x)
    if r is None:
        return
    perm = np.array(data.draw(st.permutations(range(t.size))))
    r2 = C.maxstat_cutpoint(t[perm], e[perm], x[perm], minprop=0.2, firth="never")
    assert r2.cutpoint == r.cutpoint
    npt.assert_allclose(r2.statistic, r.statistic, rtol=1e-10)
    # a strictly increasing transform of x moves the cut with it and keeps M
    r3 = C.maxstat_cutpoint(t, e, np.exp(x / 3), minprop=0.2, firth="never")
    npt.assert_allclose(r3.cutpoint, np.exp(r.cutpoint / 3), rtol=1e-12)
    npt.assert_allclose(r3.statistic, r.statistic, rtol=1e-10)
    lo = np.floor(t.size * 0.2)
    # maxprop stays at R's default 0.9 when only minprop is given
    assert max(1, lo) <= r.n_low <= np.floor(t.size * 0.9)
    assert r.p_lau94 is not None
    assert r.p_lau94 >= 0 or r.statistic > 5


@settings(max_examples=40, deadline=None)
@given(s=samples())
def test_unit_weights_batched_equals_single(s: tuple[np.ndarray, ...]) -> None:
    t, e, x = s
    r = _maxstat_or_none(t, e, x)
    cut = C._maxstat_batched(t, e.astype(float), C._XFrame(x), np.ones((1, t.size)), 0.2, 0.9)
    if r is None:
        return
    assert cut[0] == r.cutpoint


@settings(max_examples=40, deadline=None)
@given(s=samples())
def test_youden_direction_mirror(s: tuple[np.ndarray, ...]) -> None:
    _, e, x = s
    if e.all() or not e.any():
        return
    a = youden_cutpoint(x, e, direction=">=")
    b = youden_cutpoint(-x, e, direction="<=")
    assert (a.cutpoint is None and b.cutpoint is None) or a.cutpoint == -(b.cutpoint or 0.0)
    npt.assert_allclose(
        [a.sensitivity, a.specificity, a.auc], [b.sensitivity, b.specificity, b.auc]
    )
    c = youden_cutpoint(x, e, direction="<=")
    npt.assert_allclose(c.auc, 1 - a.auc, atol=1e-12)
    for v in (a.sensitivity, a.specificity):
        assert 0 <= v <= 1


@settings(max_examples=30, deadline=None)
@given(s=samples())
def test_binary_data_and_wilcoxon_scores_agree(s: tuple[np.ndarray, ...]) -> None:
    _, e, x = s
    try:
        a = maxstat_cutpoint_binary(e, x, smethod="Data", minprop=0.2)
    except Exception:
        return
    b = maxstat_cutpoint_binary(e, x, smethod="Wilcoxon", minprop=0.2)
    assert a.cutpoint == b.cutpoint
    npt.assert_allclose(a.statistic, b.statistic, rtol=1e-10)
