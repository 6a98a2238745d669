"""Property tests for mmrwe.stats.logistic."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mmrwe.core.errors import SeparationWarning
from mmrwe.stats.logistic import logistic_fit


@st.composite
def data(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(min_value=30, max_value=80))
    seed = draw(st.integers(min_value=0, max_value=2**31 - 1))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    eta = draw(st.floats(-1, 1)) + x @ np.array(
        [draw(st.floats(-1.5, 1.5)), draw(st.floats(-1.5, 1.5))]
    )
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float)
    return y, x


def _fit(y, x, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SeparationWarning)
        return logistic_fit(y, x, names=["a", "b"], **kw)


@settings(max_examples=15, deadline=None)
@given(d=data())
def test_profile_ci_contains_estimate(d) -> None:
    y, x = d
    assume(0 < y.sum() < len(y))
    r = _fit(y, x)
    assume(not r.separation)
    ok = ~np.isnan(r.coef_lower) & ~np.isnan(r.coef_upper)
    assert np.all(r.coef_lower[ok] <= r.coef[ok])
    assert np.all(r.coef[ok] <= r.coef_upper[ok])


@settings(max_examples=15, deadline=None)
@given(d=data(), data_st=st.data())
def test_row_order_does_not_matter(d, data_st) -> None:
    y, x = d
    assume(0 < y.sum() < len(y))
    perm = np.array(data_st.draw(st.permutations(range(len(y)))))
    a = _fit(y, x, ci="wald")
    b = _fit(y[perm], x[perm], ci="wald")
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-7, atol=1e-9)
    assert a.deviance == pytest.approx(b.deviance, rel=1e-9)


@settings(max_examples=15, deadline=None)
@given(d=data())
def test_flipping_outcome_negates_coefficients(d) -> None:
    y, x = d
    assume(0 < y.sum() < len(y))
    a = _fit(y, x, ci="wald")
    b = _fit(1 - y, x, ci="wald")
    np.testing.assert_allclose(a.coef, -b.coef, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(a.se, b.se, rtol=1e-7)
