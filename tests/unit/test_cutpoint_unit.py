"""Hand-derived checks of the cut-off machinery (maxstat, Youden, bootstrap, optimism)."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import numpy.testing as npt
import pytest
from scipy.stats import norm

from mmrwe.core.errors import EstimationError, InputError
from mmrwe.stats import cutpoint as C
from mmrwe.stats.cox import cox_fit
from mmrwe.stats.cutpoint import (
    bootstrap_cutpoint,
    logrank_scores,
    maxstat_cutpoint,
    maxstat_cutpoint_binary,
    optimism_corrected_hr,
    p_lausen92,
    p_lausen94,
    youden_cutpoint,
)


def _demo(n: int = 51, seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(11.5, 1.6, n), 1)
    t_ev = rng.exponential(np.where(x <= 11.8, 4.5, 14.0))
    t_c = rng.uniform(6, 30, n)
    return np.round(np.minimum(t_ev, t_c), 2), t_ev <= t_c, x


def test_logrank_scores_with_tied_times_use_the_maximum_rank() -> None:
    # times (1, 1, 2), events (1, 1, 0): tied max rank 2 for both, so the denominator is
    # N - 2 + 1 = 2 for each death: cumulative hazard 1/2 + 1/2 = 1 at t = 1;
    # scores 1 - 1 = 0, 0, and 0 - 1 = -1 for the censored patient.
    npt.assert_allclose(logrank_scores([1, 1, 2], [1, 1, 0]), [0.0, 0.0, -1.0])
    # no ties: 1 - 1/3, 1 - (1/3 + 1/2), 0 - 5/6
    npt.assert_allclose(logrank_scores([1, 2, 3], [1, 1, 0]), [2 / 3, 1 / 6, -5 / 6])


def test_standardized_statistic_by_hand() -> None:
    # binary outcome y = (1, 1, 0, 0) ordered by x = 1..4, cut after 2 patients (m = 2):
    # S = 2, E = m/N * sum(y) = 1, V = m(N-m)/(N^2 (N-1)) (N sum y^2 - (sum y)^2)
    #   = 4/48 * (8 - 4) = 1/3, so M = |2 - 1| / sqrt(1/3) = sqrt(3).
    r = maxstat_cutpoint_binary([1, 1, 0, 0], [1, 2, 3, 4], minprop=0.25)
    assert r.cutpoint == 2.0
    assert r.statistic == pytest.approx(math.sqrt(3))
    assert r.n_low == 2
    assert r.proportion_low == 1.0
    assert r.proportion_high == 0.0


def test_lausen_bounds_edge_cases() -> None:
    # one candidate: no correction term, the two-sided normal tail
    assert p_lausen94(2.0, 10, [5]) == pytest.approx(2 * norm.sf(2.0))
    assert p_lausen92(0.5) == 1.0
    assert math.isinf(p_lausen92(3.0, 0.0, 1.0))
    # Lau94 is reported raw: for small M with many cuts it exceeds 1
    assert p_lausen94(0.5, 100, np.arange(10, 91)) > 1


def test_minprop_checks() -> None:
    t, e, x = _demo()
    with pytest.raises(InputError):
        maxstat_cutpoint(t, e, np.r_[np.zeros(50), 1.0], minprop=0.1)
    with pytest.raises(InputError):
        maxstat_cutpoint(t, e, x, minprop=0.6, maxprop=0.4)
    with pytest.raises(InputError):
        maxstat_cutpoint(t, e, np.r_[x[:-1], np.nan])
    with pytest.raises(EstimationError):
        maxstat_cutpoint(t, np.zeros_like(e), x)


def test_low_group_is_x_at_or_below_the_cut() -> None:
    t, e, x = _demo()
    r = maxstat_cutpoint(t, e, x)
    assert r.n_low == int(np.sum(x <= r.cutpoint))
    assert r.n_low + r.n_high == r.n == x.size
    assert r.cutpoint in set(x)
    assert r.groups == "low: x <= cutpoint; high: x > cutpoint"
    k = int(np.argmax(r.profile.statistics))
    assert r.profile.cutpoints[k] == r.cutpoint
    assert r.statistic == r.profile.statistics[k]


def test_hr_low_vs_high_equals_cox_fit() -> None:
    t, e, x = _demo()
    r = maxstat_cutpoint(t, e, x)
    low = (x <= r.cutpoint).astype(float)
    ref = cox_fit(t, e, low[:, None], names=["low"])
    hr = r.hr_low_vs_high
    assert hr is not None
    assert hr.method == "cox"
    assert hr.log_hr == pytest.approx(float(ref.coef[0]), rel=1e-12)
    assert hr.lower == pytest.approx(float(ref.lower[0]), rel=1e-12)


def test_monotone_group_switches_to_firth_with_a_note() -> None:
    # the two low patients die first while everyone is at risk: infinite ordinary HR
    t = np.arange(1.0, 11.0)
    e = np.array([1, 1, 0, 1, 0, 1, 0, 0, 1, 0], bool)
    x = np.array([1, 2, 5, 6, 7, 8, 9, 10, 11, 12], float)
    r = maxstat_cutpoint(t, e, x, minprop=0.2)
    hr = r.hr_low_vs_high
    assert hr is not None
    assert hr.method == "firth"
    assert hr.ties == "breslow"
    assert r.notes
    assert "monotone" in r.notes[0]
    never = maxstat_cutpoint(t, e, x, minprop=0.2, firth="never").hr_low_vs_high
    assert never is not None
    assert never.hr is None


def test_youden_by_hand() -> None:
    # x = 1..6, class (0, 0, 1, 0, 1, 1), event predicted when x >= cut:
    # cut 3: sens 3/3, spec 2/3 (J = 2/3); cut 5: sens 2/3, spec 3/3 (J = 2/3); tie ->
    # median 4; the rule x >= 4 has sens 2/3, spec 2/3, J = 1/3 (what cutpointr reports).
    r = youden_cutpoint([1, 2, 3, 4, 5, 6], [0, 0, 1, 0, 1, 1])
    assert r.cutpoint == 4.0
    npt.assert_array_equal(r.tied_cutpoints, [3.0, 5.0])
    assert r.youden == pytest.approx(1 / 3)
    # AUC = P(x_event > x_no_event): pairs (3,5,6) vs (1,2,4): 8 of 9 -> 8/9
    assert r.auc == pytest.approx(8 / 9)
    d = r.to_dict()
    assert set(d) >= {"direction", "cutpoint", "sensitivity", "specificity", "youden", "auc"}


def test_delong_needs_two_per_class() -> None:
    r = youden_cutpoint([1, 2, 3], [0, 1, 1])
    assert r.auc == 1.0
    assert r.auc_lower is None
    with pytest.raises(EstimationError):
        youden_cutpoint([1, 2, 3], [1, 1, 1])


def test_batched_newton_equals_cox_fit_on_resamples() -> None:
    t, e, x = _demo()
    rng = np.random.default_rng(3)
    w = C._count_matrix(rng, t.size, 6)
    tf = C._TimeFrame(t, e)
    cut = 11.8
    z = np.broadcast_to((x <= cut).astype(float), w.shape)
    for ties in ("efron", "breslow"):
        b, se, used = C._fit_binary_batched(tf, z[:, tf.order], w[:, tf.order], ties, "never")
        for i in range(w.shape[0]):  # a loop over 6 test resamples, not in the library
            idx = np.repeat(np.arange(t.size), w[i].astype(int))
            # cox_fit iterated to full precision (its default stops at R's eps = 1e-9 on
            # the log-likelihood, ~1e-8 on the coefficient; the batched Newton runs on)
            ref = cox_fit(
                t[idx],
                e[idx],
                z[i, idx][:, None],
                names=["low"],
                ties=ties,
                eps=1e-14,
                max_iter=100,
            )
            assert b[i] == pytest.approx(float(ref.coef[0]), rel=1e-10, abs=1e-12)
            assert se[i] == pytest.approx(float(ref.se[0]), rel=1e-10)
            dflt = cox_fit(t[idx], e[idx], z[i, idx][:, None], names=["low"], ties=ties)
            assert b[i] == pytest.approx(float(dflt.coef[0]), rel=1e-7)
        assert not used.any()


def test_batched_firth_equals_firth_cox() -> None:
    from mmrwe.stats.firth import firth_cox

    t, e, x = _demo()
    tf = C._TimeFrame(t, e)
    z = (x <= 11.0).astype(float)[None, :]
    b, se, used = C._fit_binary_batched(tf, z[:, tf.order], np.ones_like(z), "breslow", "always")
    ref = firth_cox(t, e, z[0], names=["low"], profile_ci=False)
    assert used[0]
    assert b[0] == pytest.approx(float(ref.coef[0]), rel=1e-9)
    assert se[0] == pytest.approx(float(ref.se[0]), rel=1e-9)


def test_batched_maxstat_equals_single_on_replicated_rows() -> None:
    t, e, x = _demo()
    rng = np.random.default_rng(11)
    w = C._count_matrix(rng, t.size, 8)
    cuts = C._maxstat_batched(t, e.astype(float), C._XFrame(x), w, 0.1, 0.9)
    for i in range(w.shape[0]):
        idx = np.repeat(np.arange(t.size), w[i].astype(int))
        assert cuts[i] == maxstat_cutpoint(t[idx], e[idx], x[idx]).cutpoint


def test_batched_youden_equals_single_on_replicated_rows() -> None:
    t, e, x = _demo()
    rng = np.random.default_rng(12)
    w = C._count_matrix(rng, t.size, 8)
    for direction in (">=", "<="):
        cuts = C._youden_batched(x, e.astype(float), C._XFrame(x), w, direction, 1e-6)
        for i in range(w.shape[0]):
            idx = np.repeat(np.arange(t.size), w[i].astype(int))
            r = youden_cutpoint(x[idx], e[idx], direction=direction)
            # an infinite cut (predict nobody) is reported as None / no cut (nan)
            assert (np.isnan(cuts[i]) and r.cutpoint is None) or cuts[i] == r.cutpoint


def test_bootstrap_is_seeded_and_summarizes() -> None:
    t, e, x = _demo()
    a = bootstrap_cutpoint(t, e, x, B=200, seed=5)
    b = bootstrap_cutpoint(t, e, x, B=200, seed=5)
    npt.assert_array_equal(a.cutpoints, b.cutpoints)
    assert a.lower is not None
    assert a.upper is not None
    assert a.lower <= a.upper
    assert set(a.cutpoints[np.isfinite(a.cutpoints)]) <= set(x)
    _, counts = a.histogram()
    assert counts.sum() == 200 - a.n_failed
    json.dumps(a.to_dict(), allow_nan=False)
    y = bootstrap_cutpoint(t, e, x, B=100, seed=5, method="youden", direction="<=")
    assert y.direction == "<="
    assert y.contrast.startswith("predicted event")


def test_optimism_corrected_hr_b1000_n51_under_5_seconds() -> None:
    t, e, x = _demo()
    t0 = time.perf_counter()
    r = optimism_corrected_hr(t, e, x, B=1000, seed=1, unit="g/dL")
    elapsed = time.perf_counter() - t0
    assert elapsed < 5.0
    assert r.n_used > 900
    # the search inflates the effect: the corrected HR is closer to 1 than the apparent
    assert abs(r.corrected_log_hr) < abs(r.apparent.log_hr or 0)
    assert r.corrected_hr == pytest.approx(math.exp(r.corrected_log_hr))
    assert "cut-off" in r.sentence
    assert "g/dL" in r.sentence
    assert "optimism-corrected HR" in r.sentence
    d = r.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["hr_low_vs_high"]["hr"] == r.apparent.hr
    assert d["p_adjusted_method"] == "Lau94"
    # continuous HR per SD is the per-unit HR raised to the SD
    assert r.continuous_per_sd.hr == pytest.approx(r.continuous_per_unit.hr**r.sd, rel=1e-10)


def test_optimism_by_hand_on_stored_arrays() -> None:
    t, e, x = _demo()
    r = optimism_corrected_hr(t, e, x, B=50, seed=2)
    bb, bo = r.boot_log_hr_apparent, r.boot_log_hr_original
    use = np.isfinite(bb) & np.isfinite(bo)
    opt = float(np.mean(np.sign(bb[use]) * (bb[use] - bo[use])))
    assert r.optimism == pytest.approx(opt)
    b_app = r.apparent.log_hr
    assert b_app is not None
    assert r.corrected_log_hr == pytest.approx(math.copysign(abs(b_app) - opt, b_app))


def test_to_dict_keys_of_the_contract() -> None:
    t, e, x = _demo()
    d = maxstat_cutpoint(t, e, x).to_dict()
    for k in (
        "cutpoint",
        "groups",
        "n",
        "n_low",
        "n_high",
        "statistic",
        "p_adjusted",
        "p_adjusted_method",
        "hr_low_vs_high",
    ):
        assert k in d
    assert set(d["hr_low_vs_high"]) >= {"hr", "lower", "upper"}
    json.dumps(d, allow_nan=False)
