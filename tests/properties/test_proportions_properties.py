"""Property tests for mmrwe.stats.proportions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmrwe.stats.proportions import binom_test_p, proportion_ci


@st.composite
def counts(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(st.integers(min_value=1, max_value=400))
    return draw(st.integers(min_value=0, max_value=n)), n


@settings(max_examples=60, deadline=None)
@given(
    xn=counts(),
    method=st.sampled_from(["clopper-pearson", "wilson", "wilson-cc"]),
    level=st.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_interval_contains_estimate_and_is_in_unit_interval(xn, method, level) -> None:
    x, n = xn
    ci = proportion_ci(x, n, method=method, conf_level=level)
    assert ci.lower is not None
    assert ci.upper is not None
    assert ci.estimate is not None
    assert 0.0 <= ci.lower <= ci.estimate <= ci.upper <= 1.0


@settings(max_examples=60, deadline=None)
@given(xn=counts(), method=st.sampled_from(["clopper-pearson", "wilson", "wilson-cc"]))
def test_interval_mirrors_under_success_failure_swap(xn, method) -> None:
    # Swapping successes and failures maps (L, U) to (1 - U, 1 - L).
    x, n = xn
    a = proportion_ci(x, n, method=method)
    b = proportion_ci(n - x, n, method=method)
    assert a.lower == pytest.approx(1 - b.upper, abs=1e-12)
    assert a.upper == pytest.approx(1 - b.lower, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(xn=counts(), level=st.sampled_from([0.8, 0.95]))
def test_wider_level_gives_wider_interval(xn, level) -> None:
    x, n = xn
    a = proportion_ci(x, n, conf_level=level)
    b = proportion_ci(x, n, conf_level=0.99)
    assert b.lower <= a.lower + 1e-15
    assert b.upper >= a.upper - 1e-15


@settings(max_examples=60, deadline=None)
@given(xn=counts(), p0=st.floats(min_value=0.01, max_value=0.99))
def test_binom_p_in_unit_interval(xn, p0) -> None:
    x, n = xn
    assert 0.0 <= binom_test_p(x, n, p0) <= 1.0
