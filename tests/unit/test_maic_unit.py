"""MAIC: a hand-solved example, infeasible targets, the bootstrap, and properties."""

from __future__ import annotations

import inspect
import math

import numpy as np
import numpy.testing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmrwe.core.errors import EstimationError, InputError
from mmrwe.stats import km
from mmrwe.stats.maic import (
    Comparator,
    maic_bootstrap,
    maic_survival,
    maic_weights,
    proportion_outcome,
    weighted_proportion,
)


def test_three_patients_solved_by_hand() -> None:
    # x = 0, 1, 2 centred on 1.5: minimise e^{-1.5a} + e^{-0.5a} + e^{0.5a}. With
    # u = e^{a/2} the gradient vanishes where u^4 - u^2 - 3 = 0: u^2 = (1 + sqrt 13) / 2,
    # a = log(u^2); weights u^-3, u^-1, u
    w = maic_weights([[0.0], [1.0], [2.0]], [1.5], names=["x"])
    u2 = (1 + math.sqrt(13)) / 2
    assert w.alpha[0] == pytest.approx(math.log(u2), rel=1e-12)
    u = math.sqrt(u2)
    npt.assert_allclose(w.weights, [u**-3, u**-1, u], rtol=1e-12)
    assert w.weighted_moments[0] == pytest.approx(1.5, abs=1e-12)
    assert w.rescaled.sum() == pytest.approx(3.0)
    assert w.ess == pytest.approx((u**-3 + u**-1 + u) ** 2 / (u**-6 + u**-2 + u**2))


def test_target_at_cohort_mean_gives_equal_weights() -> None:
    w = maic_weights([[0.0], [2.0], [4.0]], [2.0], names=["x"])
    npt.assert_allclose(w.weights, [1.0, 1.0, 1.0], atol=1e-14)
    assert w.ess == pytest.approx(3.0)


def test_second_moment_matched() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(60, 10, 300)
    w = maic_weights(x[:, None], [62.0], names=["age"], target_sds=[8.0])
    assert w.names == ("age", "age^2")
    m = np.average(x, weights=w.weights)
    sd = math.sqrt(np.average((x - m) ** 2, weights=w.weights))
    assert m == pytest.approx(62.0, abs=1e-9)
    assert sd == pytest.approx(8.0, abs=1e-8)  # E[x^2] - mean^2 = sd^2 (no n - 1)


@pytest.mark.parametrize(
    ("X", "target", "match"),
    [
        ([[0.0], [1.0], [2.0]], [2.5], "outside the convex hull"),
        ([[0.0], [1.0], [2.0]], [2.0], "on or outside"),  # on the boundary
        ([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [0.5, 1.0], "on or outside"),
    ],
)
def test_infeasible_targets_are_clear_errors(X, target, match) -> None:
    with pytest.raises(EstimationError, match=match):
        maic_weights(X, target, names=[f"x{j}" for j in range(len(target))])


def test_combination_outside_hull_though_each_target_in_range() -> None:
    # x2 = x1 exactly for everyone but one patient: targets (0.9, 0.1) lie in each range but
    # the points (0,0), (1,1), (0.5, 0.4) cannot average to them
    X = [[0.0, 0.0], [1.0, 1.0], [0.5, 0.4]]
    with pytest.raises(EstimationError, match="not their combination"):
        maic_weights(X, [0.9, 0.1], names=["a", "b"])


def test_bad_inputs() -> None:
    with pytest.raises(InputError, match="finite"):
        maic_weights([[1.0], [np.nan], [3.0]], [2.0], names=["x"])
    with pytest.raises(EstimationError, match="constant"):
        maic_weights([[1.0, 1.0], [1.0, 2.0], [1.0, 3.0]], [1.0, 2.0], names=["c", "x"])
    with pytest.raises(EstimationError, match="collinear"):
        maic_weights([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]], [2.0, 4.0], names=["x", "x2"])
    with pytest.raises(InputError, match="> 0"):
        maic_weights([[1.0], [2.0], [3.0]], [2.0], names=["x"], target_sds=[0.0])
    with pytest.raises(InputError, match="0/1"):
        weighted_proportion([0, 2], [1.0, 1.0])


@settings(max_examples=30)
@given(
    n=st.integers(8, 60),
    seed=st.integers(0, 10_000),
    k=st.integers(1, 3),
)
def test_weighted_means_hit_any_interior_target(n: int, seed: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, k))
    # a convex combination with all weights > 0 lies in the interior of the hull
    lam = rng.uniform(0.2, 1.0, n)
    target = lam @ x / lam.sum()
    w = maic_weights(x, target, names=[f"x{j}" for j in range(k)])
    npt.assert_allclose(w.weighted_moments, target, atol=1e-9)
    assert 1.0 <= w.ess <= n + 1e-9
    assert np.all(w.weights > 0)


def test_comparator_se_from_its_interval() -> None:
    c = Comparator(11.5, 8.9, 13.9)  # a median in months, log-normal
    assert c.se == pytest.approx((math.log(13.9) - math.log(8.9)) / (2 * 1.959963984540054))
    p = Comparator(0.604, 0.52, 0.68, scale="logit")
    assert p.se > 0
    with pytest.raises(InputError, match="within its interval"):
        Comparator(2.0, 2.5, 3.0)
    with pytest.raises(InputError, match="logit"):
        Comparator(0.5, 0.0, 0.7, scale="logit")


def _cohort(n: int = 150, seed: int = 3):
    rng = np.random.default_rng(seed)
    age = rng.normal(62, 9, n)
    female = (rng.random(n) < 0.4) * 1.0
    response = (rng.random(n) < 1 / (1 + np.exp(-0.05 * (age - 62)))) * 1.0
    return np.column_stack([age, female]), response


def test_bootstrap_is_seeded_and_contrast_covers_point() -> None:
    X, y = _cohort()
    comp = Comparator(0.60, 0.52, 0.68, scale="logit")
    kw = {"names": ["age", "female"], "comparator": comp, "n_boot": 120}
    a = maic_bootstrap(X, [65.0, 0.45], proportion_outcome(y), seed=5, **kw)
    b = maic_bootstrap(X, [65.0, 0.45], proportion_outcome(y), seed=5, **kw)
    npt.assert_array_equal(a.replicates, b.replicates)
    assert a.contrast_lower == b.contrast_lower
    assert a.lower < a.estimate < a.upper
    assert a.contrast_lower < a.contrast_estimate < a.contrast_upper
    full = maic_weights(X, [65.0, 0.45], names=["age", "female"])
    assert a.estimate == pytest.approx(weighted_proportion(y, full.weights))
    assert a.contrast_estimate == pytest.approx(a.estimate / 0.60)
    d = a.to_dict()
    assert d["n_boot"] == 120 and d["seed"] == 5 and d["contrast"]["type"] == "ratio"
    diff = maic_bootstrap(
        X, [65.0, 0.45], proportion_outcome(y), seed=5, **kw | {"contrast": "difference"}
    )
    assert diff.contrast_estimate == pytest.approx(a.estimate - 0.60)


def test_bootstrap_comparator_uncertainty_widens_the_contrast() -> None:
    X, y = _cohort()
    narrow = Comparator(0.60, 0.599, 0.601, scale="logit")
    wide = Comparator(0.60, 0.45, 0.73, scale="logit")
    kw = {"names": ["age", "female"], "n_boot": 150, "seed": 8, "contrast": "difference"}
    a = maic_bootstrap(X, [64.0, 0.42], proportion_outcome(y), comparator=narrow, **kw)
    b = maic_bootstrap(X, [64.0, 0.42], proportion_outcome(y), comparator=wide, **kw)
    assert (b.contrast_upper - b.contrast_lower) > 1.3 * (a.contrast_upper - a.contrast_lower)


def test_maic_survival_needs_weighted_km() -> None:
    t = np.array([1.0, 2.0, 3.0, 4.0])
    e = np.array([1, 1, 0, 1])
    w = np.array([1.0, 2.0, 1.0, 1.0])
    if "weights" in inspect.signature(km.kaplan_meier).parameters:
        s = maic_survival(t, e, w, landmarks=[2.5])
        # S(2.5) = (1 - 1/5) (1 - 2/4) = 0.4
        assert s.landmarks[2.5] == pytest.approx(0.4)
    else:
        with pytest.raises(EstimationError, match=r"kaplan_meier\(weights=\)"):
            maic_survival(t, e, w, landmarks=[2.5])


def test_quantile7_lets_a_median_not_reached_be_the_highest_value() -> None:
    from mmrwe.stats.maic import _quantile7

    # type 7 on 1..4: h = 3 q; q = 0.5 -> 2.5 (as R quantile(1:4, 0.5))
    assert _quantile7(np.array([4.0, 1.0, 3.0, 2.0]), 0.5) == 2.5
    # an upper limit that interpolates towards +inf is "not reached"; the lower one is finite
    x = np.array([1.0, 2.0, 3.0, math.inf])
    assert _quantile7(x, 0.9) == math.inf
    assert _quantile7(x, 0.1) == pytest.approx(1.3)


def test_bootstrap_keeps_not_reached_medians_as_high_values() -> None:
    # the outcome is "not reached" (inf) for resamples whose first patient is patient 0: those
    # are kept (not failures), so the upper limit is not reached and the SE is not given
    X = np.array([[0.0], [1.0], [0.0], [1.0], [0.0], [1.0], [1.0], [0.0]])

    def outcome(rows: np.ndarray, w: np.ndarray) -> float:
        return math.inf if int(rows.size) and (rows == 0).sum() >= 2 else float(w.sum())

    b = maic_bootstrap(X, [0.5], outcome, names=["x"], n_boot=200, seed=3)
    # failures are only resamples without weights (x constant), not the unreached medians
    n_inf = int(np.isinf(b.replicates).sum())
    assert n_inf > 0.025 * 200 and b.n_failed == int(np.isnan(b.replicates).sum()) < 10
    assert b.upper is not None and math.isinf(b.upper)
    d = b.to_dict()["outcome"]
    assert d["upper"] is None and d["se"] is None and d["lower"] is not None
