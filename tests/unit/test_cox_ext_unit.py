"""Hand-derived checks of cox_fit with case weights and (start, stop] data (arithmetic in
the comments), and the input errors of the new options."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mmrwe.core.errors import InputError
from mmrwe.stats.cox import cox_fit
from mmrwe.stats.coxzph import cox_zph


def test_weighted_mle_closed_form() -> None:
    # times 1, 2, 3 (all events), x = 1, 0, 1, weights 1, 2, 1; u = exp(b). The weighted
    # log partial likelihood sums w_i [eta_i - log(sum_{j at risk} w_j exp(eta_j))]:
    #   t=1: 1 * (b - log(u + 2 + u));  t=2: 2 * (0 - log(2 + u));  t=3: 1 * (b - log(u)) = 0
    # d/db = 1 - 2u/(2u + 2) - 2u/(2 + u) = 0  <=>  -2u^2 - u + 2 = 0,  u = (sqrt(17) - 1) / 4
    fit = cox_fit([1, 2, 3], [1, 1, 1], [[1.0], [0.0], [1.0]], names=["x"], weights=[1, 2, 1])
    assert fit.coef[0] == pytest.approx(math.log((math.sqrt(17) - 1) / 4), rel=1e-9)
    # loglik at b = 0: -log(4) - 2 log(3)
    assert fit.loglik[0] == pytest.approx(-math.log(4) - 2 * math.log(3), rel=1e-12)
    assert fit.case_weights
    assert fit.variance == "model"  # whole-number weights: R's robust default is FALSE


def test_non_integer_weights_default_to_robust_as_r() -> None:
    t, e = [1, 2, 3, 4, 5, 6], [1, 1, 0, 1, 1, 1]
    x = [[0.0], [1.0], [0.0], [1.0], [1.0], [0.0]]
    fit = cox_fit(t, e, x, names=["x"], weights=[1.5, 1, 1, 2, 1, 1])
    assert fit.variance == "robust"
    assert fit.robust_se is not None
    assert "robust_score" in fit.tests
    model = cox_fit(t, e, x, names=["x"], weights=[1.5, 1, 1, 2, 1, 1], robust=False)
    assert model.variance == "model"
    assert model.coef[0] == fit.coef[0]


def test_unit_weights_equal_no_weights() -> None:
    rng = np.random.default_rng(3)
    t = rng.integers(1, 15, 60).astype(float)
    e = rng.random(60) < 0.7
    x = rng.normal(size=(60, 2))
    plain = cox_fit(t, e, x, names=["a", "b"], robust=True)
    ones = cox_fit(t, e, x, names=["a", "b"], weights=np.ones(60), robust=True)
    np.testing.assert_allclose(ones.coef, plain.coef, rtol=1e-13)
    np.testing.assert_allclose(ones.var, plain.var, rtol=1e-12)
    assert ones.concordance == pytest.approx(plain.concordance, abs=1e-15)
    assert ones.concordance_se == pytest.approx(plain.concordance_se, rel=1e-12)


def test_delayed_entry_risk_sets_by_hand() -> None:
    # A: (0, 3] event, x = 1;  B: (2, 4] event, x = 0;  C: (0, 1] event, x = 0.  u = exp(b)
    # t=1: C dies, at risk {A, C} (B enters at 2): 0 - log(u + 1)
    # t=3: A dies, at risk {A, B}:                 b - log(u + 1)
    # t=4: B dies, at risk {B}:                    0
    # loglik = b - 2 log(u + 1), maximal at u = 1 (b = 0); information 2 u/(u+1)^2 = 1/2.
    # (Were B at risk at t=1, the root would be b = log(2) / 2.)
    fit = cox_fit([3, 4, 1], [1, 1, 1], [[1.0], [0.0], [0.0]], names=["x"], start=[0, 2, 0])
    assert fit.coef[0] == pytest.approx(0.0, abs=1e-12)
    assert fit.loglik[0] == pytest.approx(-2 * math.log(2), rel=1e-12)
    assert fit.naive_var[0, 0] == pytest.approx(2.0, rel=1e-9)
    assert fit.counting_process


def test_entry_at_an_event_time_is_not_at_risk_then() -> None:
    # (start, stop]: a row entering at t = 2 is not at risk at the death at t = 2.
    # Rows: (0, 2] death x=1; (2, 5] death x=0; (0, 5] censored x=0.
    # t=2: at risk {1, 3}: b - log(u + 1);  t=5: at risk {2, 3}: 0 - log(2)
    # loglik = b - log(u + 1) - log 2 -> increasing in b: monotone, so compare loglik(0)
    fit = cox_fit(
        [2, 5, 5], [1, 1, 0], [[1.0], [0.0], [0.0]], names=["x"], start=[0, 2, 0], max_iter=0
    )
    assert fit.loglik[0] == pytest.approx(-2 * math.log(2), rel=1e-12)


def test_start_before_all_times_equals_right_censored() -> None:
    rng = np.random.default_rng(11)
    t = rng.integers(1, 40, 80).astype(float)
    e = rng.random(80) < 0.6
    x = rng.normal(size=(80, 2))
    rc = cox_fit(t, e, x, names=["a", "b"])
    cp = cox_fit(t, e, x, names=["a", "b"], start=np.full(80, -1.0))
    np.testing.assert_allclose(cp.coef, rc.coef, rtol=1e-10)
    np.testing.assert_allclose(cp.se, rc.se, rtol=1e-9)
    assert cp.loglik[1] == pytest.approx(rc.loglik[1], rel=1e-12)
    assert cp.concordance == pytest.approx(rc.concordance, abs=1e-14)
    z1, z2 = cox_zph(rc).global_, cox_zph(cp).global_
    assert z2[0] == pytest.approx(z1[0], rel=1e-9)


def test_counting_input_errors() -> None:
    with pytest.raises(InputError, match="start >= stop"):
        cox_fit([1, 2], [1, 1], [[0.0], [1.0]], names=["x"], start=[1, 0])
    with pytest.raises(InputError, match="cluster"):
        cox_fit([1, 2, 3], [1, 1, 1], [[0.0], [1.0], [0.5]], names=["x"], start=[0, 0, 0],
                robust=True)  # fmt: skip


def test_weight_input_errors() -> None:
    with pytest.raises(InputError, match="> 0"):
        cox_fit([1, 2], [1, 1], [[0.0], [1.0]], names=["x"], weights=[1.0, 0.0])
    with pytest.raises(InputError, match="finite"):
        cox_fit([1, 2], [1, 1], [[0.0], [1.0]], names=["x"], weights=[1.0, np.nan])
    with pytest.raises(InputError, match="length"):
        cox_fit([1, 2], [1, 1], [[0.0], [1.0]], names=["x"], weights=[1.0])


def test_cluster_with_robust_false_is_ignored_as_r() -> None:
    t, e = [1, 2, 3, 4, 5, 6], [1, 1, 0, 1, 1, 1]
    x = [[0.0], [1.0], [0.0], [1.0], [1.0], [0.0]]
    with pytest.warns(UserWarning, match="cluster is ignored"):
        fit = cox_fit(t, e, x, names=["x"], cluster=[1, 1, 2, 2, 3, 3], robust=False)
    assert fit.variance == "model"


def test_zph_singular_is_an_estimation_error() -> None:
    # every event at one time: g(t) is constant, the time-varying terms carry no
    # information and R's solve() stops ("system is exactly singular")
    from mmrwe.core.errors import EstimationError

    t = [1, 1, 1, 1, 2, 2, 2]
    e = [1, 1, 1, 1, 0, 0, 0]
    x = [[0.2], [1.0], [0.0], [0.5], [1.5], [0.1], [0.9]]
    fit = cox_fit(t, e, x, names=["x"])
    with pytest.raises(EstimationError, match="singular"):
        cox_zph(fit)


@pytest.mark.parametrize("start", [False, True])
def test_many_strata_path_equals_the_per_stratum_loop(
    monkeypatch: pytest.MonkeyPatch, start: bool
) -> None:
    # beyond _MAX_STRATA_LOOP strata the cumulative sums run once over all strata (matched
    # sets); both ways must give the same fit
    import mmrwe.stats.cox as cox_mod

    rng = np.random.default_rng(8)
    n = 900
    s = rng.integers(0, 300, n)
    t = rng.integers(2, 30, n).astype(float)
    e = rng.random(n) < 0.7
    x = rng.normal(size=(n, 2))
    w = rng.uniform(0.5, 2.0, n)
    st = np.where(rng.random(n) < 0.3, np.floor(t * rng.random(n)), -1.0) if start else None
    kw = {"strata": s, "weights": w, "start": st, "cluster": np.arange(n) // 3}
    monkeypatch.setattr(cox_mod, "_MAX_STRATA_LOOP", 10**9)
    loop = cox_fit(t, e, x, names=["a", "b"], **kw)
    z_loop = cox_zph(loop).global_[0]
    monkeypatch.setattr(cox_mod, "_MAX_STRATA_LOOP", 0)
    flat = cox_fit(t, e, x, names=["a", "b"], **kw)
    np.testing.assert_allclose(flat.coef, loop.coef, rtol=1e-10)
    np.testing.assert_allclose(flat.var, loop.var, rtol=1e-9)
    assert flat.loglik[1] == pytest.approx(loop.loglik[1], rel=1e-12)
    assert flat.concordance == pytest.approx(loop.concordance, abs=1e-14)
    assert cox_zph(flat).global_[0] == pytest.approx(z_loop, rel=1e-8)
