"""Fits inside :func:`mmrwe.stats.cox.shared_layout` equal separate fits, bit for bit.

The block shares the tied-time correction, the sort and the risk sets between fits on the
same times, events, strata and entry times; a fit on other data must not get them.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmrwe.stats.cox import _PREPARED, cox_fit, shared_layout
from mmrwe.stats.cox_terms import cox_term_tests


def _data(seed: int, n: int = 400) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.normal(size=n), rng.integers(0, 2, n), rng.integers(0, 3, n)])
    t = np.round(rng.exponential(5.0 * np.exp(-0.3 * X[:, 0]), n), 1) + 0.1  # many ties
    e = rng.random(n) < 0.7
    strata = rng.integers(0, 2, n)
    return t, e, X.astype(float), strata


def _same(a: object, b: object) -> None:
    for f in ("coef", "se", "var", "hr", "p"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert a.loglik == b.loglik  # type: ignore[attr-defined]
    assert a.concordance == b.concordance  # type: ignore[attr-defined]
    assert a.iterations == b.iterations  # type: ignore[attr-defined]


@pytest.mark.parametrize("strata", [False, True])
def test_fits_in_a_block_equal_separate_fits(strata: bool) -> None:
    t, e, X, s = _data(1)
    kw = {"strata": s} if strata else {}
    names = ["x", "b", "c"]
    alone = [cox_fit(t, e, X[:, cols], names=[names[j] for j in cols], **kw)
             for cols in ([0, 1, 2], [0, 2], [1])]  # fmt: skip
    with shared_layout():
        shared = [cox_fit(t, e, X[:, cols], names=[names[j] for j in cols], **kw)
                  for cols in ([0, 1, 2], [0, 2], [1])]  # fmt: skip
    for a, b in zip(alone, shared, strict=True):
        _same(a, b)


def test_other_data_in_the_block_is_not_confused() -> None:
    t, e, X, _ = _data(2)
    t2, e2, X2, _ = _data(3)
    e_other = e.copy()
    e_other[0] = not e_other[0]  # one event flag differs: another preparation
    with shared_layout():
        a = cox_fit(t, e, X, names=["x", "b", "c"])
        b = cox_fit(t2, e2, X2, names=["x", "b", "c"])
        c = cox_fit(t, e_other, X, names=["x", "b", "c"])
        d = cox_fit(t, e, X, names=["x", "b", "c"], timefix=False)
    _same(a, cox_fit(t, e, X, names=["x", "b", "c"]))
    _same(b, cox_fit(t2, e2, X2, names=["x", "b", "c"]))
    _same(c, cox_fit(t, e_other, X, names=["x", "b", "c"]))
    _same(d, cox_fit(t, e, X, names=["x", "b", "c"], timefix=False))


def test_counting_process_and_weights_share_safely() -> None:
    t, e, X, _ = _data(4)
    start = np.where(np.arange(t.size) % 3 == 0, t / 2, 0.0)
    w = np.linspace(0.5, 2.0, t.size)
    with shared_layout():
        a = cox_fit(t, e, X, names=["x", "b", "c"], start=start, weights=w)
        b = cox_fit(t, e, X[:, :1], names=["x"], start=start, weights=w)
    _same(a, cox_fit(t, e, X, names=["x", "b", "c"], start=start, weights=w))
    _same(b, cox_fit(t, e, X[:, :1], names=["x"], start=start, weights=w))


def test_term_tests_equal_and_the_store_is_released() -> None:
    t, e, X, _ = _data(5)
    names, terms = ["x", "b", "c"], ["x", "b", "c"]
    plain = cox_term_tests(t, e, X, names, terms)
    with shared_layout():
        full = cox_fit(t, e, X, names=names)
        nested = cox_term_tests(t, e, X, names, terms, full=full)
        assert _PREPARED.get()  # the outer block's store holds the preparation
    assert _PREPARED.get() is None
    for term in terms:
        assert plain.lr[term].chisq == nested.lr[term].chisq
        assert plain.lr[term].p == nested.lr[term].p


def test_shared_arrays_are_read_only() -> None:
    t, e, X, _ = _data(6)
    fit = cox_fit(t, e, X, names=["x", "b", "c"])
    with pytest.raises(ValueError, match="read-only"):
        fit._zph.time[0] = 0.0


def test_the_callers_arrays_stay_writeable() -> None:
    """Freezing the shared preparation never freezes (or keeps) the caller's own arrays."""
    t, e, X, _ = _data(7)
    start = np.zeros(t.size)
    for timefix in (True, False):
        tt, ss = t.copy(), start.copy()
        cox_fit(tt, e, X, names=["x", "b", "c"], timefix=timefix)
        cox_fit(tt, e, X, names=["x", "b", "c"], timefix=timefix, start=ss)
        with shared_layout():
            cox_fit(tt, e, X, names=["x", "b", "c"], timefix=timefix, start=ss)
            kept = cox_fit(tt, e, X[:, :1], names=["x"], timefix=timefix, start=ss)
            tt[0] += 1.0  # the caller changes its data inside the block: a new preparation
            changed = cox_fit(tt, e, X[:, :1], names=["x"], timefix=timefix, start=ss)
        assert tt.flags.writeable and ss.flags.writeable
        _same(changed, cox_fit(tt, e, X[:, :1], names=["x"], timefix=timefix, start=ss))
        tt[0] -= 1.0
        _same(kept, cox_fit(tt, e, X[:, :1], names=["x"], timefix=timefix, start=ss))
