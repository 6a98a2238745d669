"""Property tests for mmrwe.stats.contingency."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mmrwe.stats.contingency import chisq_test, fisher_exact

cells = st.integers(min_value=0, max_value=25)


@st.composite
def table_2x2(draw: st.DrawFn) -> np.ndarray:
    t = np.array(draw(st.lists(cells, min_size=4, max_size=4))).reshape(2, 2)
    if t.sum() == 0:
        t[0, 0] = 1
    return t


@st.composite
def small_rxc(draw: st.DrawFn) -> np.ndarray:
    r = draw(st.integers(min_value=2, max_value=3))
    c = draw(st.integers(min_value=2, max_value=4))
    vals = draw(st.lists(st.integers(0, 4), min_size=r * c, max_size=r * c))
    t = np.array(vals).reshape(r, c)
    if t.sum() == 0:
        t[0, 0] = 1
    return t


def _brute_force_p(t: np.ndarray) -> float:
    """Sum P(table) over every table with t's margins and P <= P(t) (1 + 1e-7)."""
    rows, cols = t.sum(axis=1), t.sum(axis=0)
    n = int(t.sum())

    def logp(m: np.ndarray) -> float:
        lf = [math.lgamma(v + 1) for v in m.ravel()]
        return (
            sum(math.lgamma(v + 1) for v in rows)
            + sum(math.lgamma(v + 1) for v in cols)
            - math.lgamma(n + 1)
            - sum(lf)
        )

    def fillings(total: int, bounds: list[int]) -> list[tuple[int, ...]]:
        return [f for f in itertools.product(*[range(b + 1) for b in bounds]) if sum(f) == total]

    p_obs = logp(t)
    total = 0.0

    def rec(j: int, remaining: list[int], acc: list[tuple[int, ...]]) -> None:
        nonlocal total
        if j == len(cols) - 1:
            m = np.array([*acc, tuple(remaining)]).T
            lp = logp(m)
            if lp <= p_obs + 3.45254e-7:
                total += math.exp(lp)
            return
        for f in fillings(int(cols[j]), remaining):
            rec(j + 1, [a - b for a, b in zip(remaining, f, strict=True)], [*acc, f])

    rec(0, [int(v) for v in rows], [])
    return total


@settings(max_examples=40, deadline=None)
@given(t=table_2x2())
def test_fisher_p_in_unit_interval_and_transpose_invariant(t) -> None:
    a = fisher_exact(t)
    b = fisher_exact(t.T)
    assert 0.0 <= a.p <= 1.0
    assert a.p == pytest.approx(b.p, rel=1e-9, abs=1e-15)


@settings(max_examples=40, deadline=None)
@given(t=table_2x2())
def test_swapping_rows_inverts_odds_ratio(t) -> None:
    # Exact roots (root_tol=0): OR(swapped) = 1 / OR, lower(swapped) = 1 / upper.
    # With a zero margin the conditional distribution has one point and R returns 0.
    assume(np.all(t.sum(axis=0) > 0) and np.all(t.sum(axis=1) > 0))
    a = fisher_exact(t, root_tol=0.0)
    b = fisher_exact(t[::-1], root_tol=0.0)
    for x, y in ((a.odds_ratio, b.odds_ratio), (a.lower, b.upper), (a.upper, b.lower)):
        if x == 0.0:
            assert math.isinf(y)
        elif math.isinf(x):
            assert y == 0.0
        else:
            assert x * y == pytest.approx(1.0, rel=1e-7)
    assert a.p == pytest.approx(b.p, rel=1e-9, abs=1e-15)


@settings(max_examples=40, deadline=None)
@given(t=table_2x2())
def test_ci_contains_estimate(t) -> None:
    r = fisher_exact(t)
    assert r.lower <= r.odds_ratio <= r.upper


@settings(max_examples=30, deadline=None)
@given(t=small_rxc())
def test_rxc_p_matches_brute_force_and_transpose(t) -> None:
    if t.shape == (2, 2):
        return  # 2 x 2 uses R's relative 1e-7 rule, checked against R elsewhere
    p = fisher_exact(t).p
    assert 0.0 <= p <= 1.0
    assert p == pytest.approx(_brute_force_p(t), rel=1e-9, abs=1e-15)
    assert fisher_exact(t.T).p == pytest.approx(p, rel=1e-9, abs=1e-15)


@settings(max_examples=40, deadline=None)
@given(t=small_rxc())
def test_chisq_p_in_unit_interval(t) -> None:
    r = chisq_test(t)
    if r.p is not None:
        assert 0.0 <= r.p <= 1.0
    np.testing.assert_allclose(r.expected.sum(), t.sum())
