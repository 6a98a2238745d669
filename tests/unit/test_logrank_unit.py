"""Log-rank tests on examples small enough to check by hand (arithmetic in the comments)."""

from __future__ import annotations

import json

import numpy as np
import numpy.testing as npt
import pytest

from mmrwe.core.errors import EstimationError, InputError
from mmrwe.stats.logrank import logrank_test, logrank_trend_test

# Four patients, events at 1, 2, 3, 4, groups a, b, a, b.
TIME, EVENT, GROUP = [1, 2, 3, 4], [True] * 4, ["a", "b", "a", "b"]


def test_logrank_by_hand() -> None:
    # t=1: n=4 (a2 b2), d=1 (a): E_a += 2/4; V += 1*3/(4*3) * (2 - 2*2/4) = 0.25
    # t=2: n=3 (a1 b2), d=1 (b): E_a += 1/3; V += 1*2/(3*2) * (1 - 1/3)  = 2/9
    # t=3: n=2 (a1 b1), d=1 (a): E_a += 1/2; V += 1*1/(2*1) * (1 - 1/2)  = 0.25
    # t=4: n=1 (b1): E_a += 0; one at risk, no variance.
    # O_a = 2, E_a = 4/3, V = 13/18, chisq = (2/3)^2 / (13/18) = 8/13.
    r = logrank_test(TIME, EVENT, GROUP)
    assert r.groups == ("a", "b")
    assert dict(r.observed) == {"a": 2.0, "b": 2.0}
    assert r.expected["a"] == pytest.approx(4 / 3, rel=1e-14)
    assert r.expected["b"] == pytest.approx(8 / 3, rel=1e-14)
    npt.assert_allclose(r.variance, [[13 / 18, -13 / 18], [-13 / 18, 13 / 18]], rtol=1e-14)
    assert r.chisq == pytest.approx(8 / 13, rel=1e-14)
    assert r.df == 1
    assert r.method == "log-rank"


def test_peto_peto_rho_one_by_hand() -> None:
    # weights = pooled KM just before each time: 1, 3/4, 1/2, 1/4.
    # O_a = 1*1 + 1/2*1 = 1.5; E_a = 1*2/4 + 3/4*1/3 + 1/2*1/2 = 1.0
    # V = 1*0.25 + (9/16)(2/9) + (1/4)(0.25) = 0.25 + 0.125 + 0.0625 = 0.4375
    # chisq = 0.5^2 / 0.4375 = 4/7 (R survdiff(rho = 1) gives 0.571428571428571).
    r = logrank_test(TIME, EVENT, GROUP, rho=1)
    assert r.observed["a"] == pytest.approx(1.5, rel=1e-14)
    assert r.expected["a"] == pytest.approx(1.0, rel=1e-14)
    assert r.variance[0, 0] == pytest.approx(0.4375, rel=1e-14)
    assert r.chisq == pytest.approx(4 / 7, rel=1e-14)
    assert r.method == "G-rho (rho=1)"


def test_missing_group_and_stratum_rows_are_dropped_and_counted() -> None:
    time = [1, 2, 3, 4, 5, 6]
    event = [True] * 6
    group = np.array(["a", "b", None, "a", "b", "a"], dtype=object)
    strata = np.array([1.0, 1.0, 1.0, np.nan, 2.0, 2.0])
    r = logrank_test(time, event, group, strata=strata, strata_name="center")
    assert r.n_excluded_missing == 2
    assert dict(r.n) == {"a": 2, "b": 2}
    assert r.stratified
    assert r.strata_name == "center"
    assert r.n_strata == 2


def test_all_censored_gives_no_test() -> None:
    # no event: every expected count is 0, so R's chisq is 0 on df -1 with p NaN
    r = logrank_test([1, 2, 3, 4], [False] * 4, ["a", "b", "a", "b"])
    assert r.chisq == 0.0
    assert r.df == -1
    assert r.p is None
    json.dumps(r.to_dict(), allow_nan=False)


def test_results_are_immutable() -> None:
    r = logrank_test(TIME, EVENT, GROUP)
    with pytest.raises(ValueError, match="read-only"):
        r.variance[0, 0] = 1.0
    with pytest.raises(TypeError):
        r.observed["a"] = 3.0  # type: ignore[index]


def test_two_group_trend_equals_logrank() -> None:
    # with two groups s'(O-E) = (s2 - s1)(O_b - E_b) and s'Vs = (s2 - s1)^2 V_bb
    lr = logrank_test(TIME, EVENT, GROUP)
    tr = logrank_trend_test(TIME, EVENT, GROUP)
    assert tr.chisq == pytest.approx(lr.chisq, rel=1e-14)
    # scores 1, 2: s'(O-E) = (2 - 4/3) + 2 (2 - 8/3) = 2/3 - 4/3 = -2/3
    assert tr.statistic == pytest.approx(-2 / 3, rel=1e-14)


def test_trend_scores_shift_and_scale_invariant() -> None:
    # sum(O - E) = 0 and V 1 = 0, so s -> a + b s leaves chisq unchanged
    rng = np.random.default_rng(3)
    t = rng.integers(1, 20, 80)
    e = rng.random(80) < 0.7
    g = rng.choice(["lo", "mid", "hi"], 80)
    base = logrank_trend_test(t, e, g, scores=[1, 2, 3])
    moved = logrank_trend_test(t, e, g, scores={"hi": 10.0, "lo": 4.0, "mid": 7.0})
    assert base.groups == ("hi", "lo", "mid")
    assert moved.scores == (10.0, 4.0, 7.0)
    assert logrank_trend_test(t, e, g, scores=[4, 7, 10]).chisq == pytest.approx(
        base.chisq, rel=1e-12
    )
    assert moved.chisq != pytest.approx(base.chisq, rel=1e-3)  # a different ordering


def test_trend_bad_scores() -> None:
    with pytest.raises(InputError, match="scores"):
        logrank_trend_test(TIME, EVENT, GROUP, scores=[1, 2, 3])
    with pytest.raises(InputError, match="no score"):
        logrank_trend_test(TIME, EVENT, GROUP, scores={"a": 1.0})


def test_trend_without_events_is_undefined() -> None:
    r = logrank_trend_test([1, 2, 3], [False] * 3, ["a", "b", "c"])
    assert r.chisq is None
    assert r.p is None
    json.dumps(r.to_dict(), allow_nan=False)


def test_singular_variance_raises_like_r() -> None:
    # both deaths at t=1 with both patients at risk: d (n - d) = 0, V = 0. R: survdiff stops
    # with "Lapack routine dgesv: system is exactly singular".
    with pytest.raises(EstimationError, match="singular"):
        logrank_test([0, 0, 1, 1, 0], [False, False, True, True, False], ["a", "a", "a", "b", "a"])
