"""Youden cut-offs reported honestly: permutation p of the maximal Youden index, HR, optimism."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mmrwe.stats.cox import cox_fit
from mmrwe.stats.cutpoint import youden_cutpoint, youden_honest, youden_permutation_p


def _exact_perm_p(x, e, direction):
    # Enumerate every assignment of the observed number of events to the 8 patients.
    n, k = len(x), int(e.sum())
    observed = youden_cutpoint(x, e, direction=direction).youden
    js = []
    for idx in itertools.combinations(range(n), k):
        lab = np.zeros(n, dtype=bool)
        lab[list(idx)] = True
        js.append(_max_j(x, lab, direction))
    js = np.array(js)
    return np.mean(js >= _max_j(x, e, direction) - 1e-12), observed


def _max_j(x, lab, direction):
    # brute force over observed values as cut-offs
    best = -np.inf
    for c in np.unique(x):
        pred = x <= c if direction == "<=" else x >= c
        sens = (pred & lab).sum() / lab.sum()
        spec = (~pred & ~lab).sum() / (~lab).sum()
        best = max(best, sens + spec - 1)
    return best


@pytest.mark.parametrize("direction", ["<=", ">="])
def test_permutation_p_matches_exact_enumeration(direction):
    x = np.array([9.1, 10.4, 10.9, 11.2, 11.8, 12.5, 13.0, 14.2])
    e = np.array([True, True, False, True, False, False, True, False])
    exact, _ = _exact_perm_p(x, e, direction)
    n_perm = 20000
    p = youden_permutation_p(x, e, direction=direction, n_perm=n_perm, seed=3)
    se = np.sqrt(exact * (1 - exact) / n_perm)
    assert abs(p - exact) < 4 * se + 1 / n_perm


def test_perfect_separation_gives_the_smallest_p():
    x = np.arange(30.0)
    assert youden_permutation_p(x, x < 15, direction="<=", n_perm=499, seed=9) == pytest.approx(
        1 / 500
    )


def test_honest_result_hr_is_cox_on_the_indicator():
    rng = np.random.default_rng(5)
    n = 60
    x = rng.normal(11.5, 1.5, n)
    t = rng.exponential(np.where(x < 11, 5.0, 15.0))
    e = rng.random(n) < 0.8
    r = youden_honest(t, e, x, direction="<=", B=200, n_perm=200, seed=11)
    cut = r.youden.cutpoint
    fit = cox_fit(t, e, (x <= cut).astype(float).reshape(-1, 1), names=["pred"])
    assert r.apparent.hr == pytest.approx(fit.hr[0], rel=1e-8)
    assert r.apparent.lower == pytest.approx(fit.lower[0], rel=1e-8)
    d = r.to_dict()
    assert {"p_adjusted", "hr_predicted_event", "optimism", "bootstrap", "sentence"} <= set(d)
    assert 0 < d["p_adjusted"] <= 1
    assert d["bootstrap"]["lower"] <= cut <= d["bootstrap"]["upper"]
    # same seed, same numbers
    assert youden_honest(t, e, x, direction="<=", B=200, n_perm=200, seed=11).to_dict() == d
