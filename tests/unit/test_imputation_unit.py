"""Multiple imputation and Rubin's rules: hand-derived pooling, mice's rules, errors, properties."""

from __future__ import annotations

import math

import numpy as np
import numpy.testing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmrwe.core.errors import EstimationError, InputError
from mmrwe.stats.cox import cox_fit
from mmrwe.stats.imputation import (
    _match_index,
    barnard_rubin_df,
    cox_auxiliaries,
    mice,
    nelson_aalen,
    pool_cox,
    pool_proportion,
    pool_rubin,
)


def test_rubin_rules_hand_derived() -> None:
    # m = 3, estimates 1, 2, 3, SE 1: qbar 2, ubar 1, b 1, t = 1 + (4/3) 1 = 7/3,
    # riv = 4/3, lambda = 4/7, dfold = 2 / (4/7)^2 = 6.125 (dfcom infinite)
    res = pool_rubin([[1.0], [2.0], [3.0]], [[1.0], [1.0], [1.0]], names=["x"])
    t = res.terms[0]
    assert (t.estimate, t.ubar, t.b) == (2.0, 1.0, 1.0)
    assert t.t == pytest.approx(7 / 3)
    assert t.riv == pytest.approx(4 / 3)
    assert t.lambda_ == pytest.approx(4 / 7)
    assert t.df == pytest.approx(6.125)
    assert t.fmi == pytest.approx((4 / 3 + 2 / 9.125) / (7 / 3))
    assert t.se == pytest.approx(math.sqrt(7 / 3))


def test_barnard_rubin_with_complete_data_df() -> None:
    # lambda = 1.2 * 0.01 / 0.05 = 0.24; dfold = 4 / 0.0576 = 69.444;
    # dfobs = (51 / 53) * 50 * 0.76 = 36.566; df = dfold dfobs / (dfold + dfobs) = 23.954
    dfold = 4 / 0.24**2
    dfobs = 51 / 53 * 50 * 0.76
    assert barnard_rubin_df(5, 0.01, 0.05, 50) == pytest.approx(dfold * dfobs / (dfold + dfobs))


def test_identical_imputations_floor_lambda() -> None:
    res = pool_rubin([[0.5, 1.0]] * 4, [[0.1, 0.2]] * 4, names=["a", "b"], dfcom=100)
    for t in res.terms:
        assert t.b == 0.0
        assert t.riv == 0.0
        assert t.t == pytest.approx(t.ubar)
        # lambda floored at 1e-4: dfold = 3 / 1e-8, so df ~ dfobs = 101 / 103 * 100
        assert t.df == pytest.approx(101 / 103 * 100 * (1 - 1e-4), rel=1e-6)


@pytest.mark.parametrize(
    ("est", "se", "names", "exc", "match"),
    [
        ([[1.0]], [[1.0]], ["x"], EstimationError, "at least two"),
        ([[1.0], [np.nan]], [[1.0], [1.0]], ["x"], EstimationError, "non-finite"),
        ([[1.0], [2.0]], [[1.0]], ["x"], InputError, "differ in shape"),
        ([[1.0], [2.0]], [[1.0], [1.0]], ["x", "y"], InputError, "names"),
    ],
)
def test_pool_bad_input(est, se, names, exc, match) -> None:
    with pytest.raises(exc, match=match):
        pool_rubin(est, se, names=names)


def test_pool_proportion_back_transforms_and_rejects_zero() -> None:
    res = pool_proportion([30, 34, 32], 100)
    d = res.to_dict()["terms"]["proportion"]
    assert d["transformed"]["transform"] == "expit"
    assert d["transformed"]["lower"] < d["transformed"]["estimate"] < d["transformed"]["upper"]
    assert d["transformed"]["estimate"] == pytest.approx(0.32, abs=0.002)
    with pytest.raises(EstimationError, match="no logit"):
        pool_proportion([0, 3], 50)


@settings(max_examples=50)
@given(
    est=st.lists(st.floats(-5, 5), min_size=2, max_size=8),
    shift=st.floats(-10, 10),
    se=st.floats(0.05, 3),
)
def test_pooling_is_shift_equivariant(est, shift, se) -> None:
    m = len(est)
    a = pool_rubin(np.array(est)[:, None], np.full((m, 1), se), names=["x"], dfcom=80).terms[0]
    b = pool_rubin(np.array(est)[:, None] + shift, np.full((m, 1), se), names=["x"], dfcom=80)
    bt = b.terms[0]
    assert bt.estimate == pytest.approx(a.estimate + shift, abs=1e-9)
    assert bt.t == pytest.approx(a.t, rel=1e-9, abs=1e-12)
    assert bt.upper - bt.lower == pytest.approx(a.upper - a.lower, rel=1e-9)
    assert 0.0 <= a.lambda_ <= 1.0 and 0.0 < a.fmi <= 1.0 + 1e-12


def test_nelson_aalen_without_ties_is_sum_of_one_over_n_at_risk() -> None:
    # times 1 (event), 2 (censored), 3 (event), 4 (event): 1/4, 1/4, 1/4 + 1/2, + 1/1
    got = nelson_aalen([3.0, 1.0, 4.0, 2.0], [1, 1, 1, 0])
    npt.assert_allclose(got, [0.75, 0.25, 1.75, 0.25])


def test_match_index_nearest_and_ties_go_right() -> None:
    d = np.array([0.0, 1.0, 2.0, 3.0])
    # target 1.5 is equidistant from 1 and 2: the C++ walk takes the right one (2) first
    idx = _match_index(d, np.array([1.5, 1.5, 2.9]), 2, np.arange(4), np.array([1, 2, 1]))
    npt.assert_array_equal(idx, [2, 1, 3])


def _mar_data(n: int = 400, seed: int = 2):
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = 0.6 * x1 + rng.normal(scale=0.8, size=n)
    grp = np.where(rng.random(n) < 1 / (1 + np.exp(-x1)), "high", "low").astype(object)
    t = rng.exponential(1 / np.exp(0.5 * x1 + 0.7 * x2))
    c = rng.exponential(1.5, size=n)
    time, ev = np.minimum(t, c), t <= c
    miss = rng.random(n) < 1 / (1 + np.exp(-(x1 + 0.2)))  # MAR on x1, about 45 %
    x2m = np.where(miss, np.nan, x2)
    grp_m = grp.copy()
    grp_m[rng.random(n) < 0.15] = None
    return x1, x2, x2m, grp_m, time, ev


def test_mice_rules_pmm_donors_levels_and_reproducibility() -> None:
    x1, _, x2m, grp_m, time, ev = _mar_data()
    data = {"x1": x1, "x2": x2m, "grp": grp_m}
    aux = cox_auxiliaries(time, ev)
    a = mice(data, m=3, maxit=3, seed=11, auxiliary=aux)
    b = mice(data, m=3, maxit=3, seed=11, auxiliary=aux)
    assert a.methods == {"x1": "", "x2": "pmm", "grp": "logreg"}
    assert a.n_missing["x2"] == int(np.isnan(x2m).sum())
    observed = set(x2m[~np.isnan(x2m)].tolist())
    for i in range(3):
        ca, cb = a.complete(i), b.complete(i)
        npt.assert_array_equal(ca["x2"], cb["x2"])  # same seed, same imputations
        assert not np.isnan(ca["x2"]).any()
        assert set(ca["x2"][np.isnan(x2m)].tolist()) <= observed  # pmm imputes donors' values
        assert set(ca["grp"].tolist()) <= {"high", "low"}
        npt.assert_array_equal(ca["x1"], x1)
    assert not np.array_equal(a.complete(0)["x2"], a.complete(1)["x2"])
    assert a.chain_mean["x2"].shape == (3, 3)
    assert a.to_dict()["visit_sequence"] == ["x2", "grp"]
    c = mice(data, m=3, maxit=3, seed=12, auxiliary=aux)
    assert not np.array_equal(a.complete(0)["x2"], c.complete(0)["x2"])


def test_mice_polyreg_for_three_levels() -> None:
    rng = np.random.default_rng(4)
    n = 200
    x = rng.normal(size=n)
    g = np.array(["a", "b", "c"], dtype=object)[
        np.clip((x + rng.normal(size=n) + 1.5).astype(int), 0, 2)
    ]
    g[rng.random(n) < 0.2] = None
    res = mice({"x": x, "g": g}, m=2, maxit=2, seed=1)
    assert res.methods["g"] == "polyreg"
    assert set(res.imputed_values("g").ravel().tolist()) <= {"a", "b", "c"}


def test_mi_recovers_mar_mean_better_than_complete_cases() -> None:
    # x2 is missing more often when x1 is high, and x2 rises with x1: complete cases
    # underestimate its mean; imputation from x1 corrects most of that
    x1, x2, x2m, _, time, ev = _mar_data(n=1000, seed=5)
    res = mice({"x1": x1, "x2": x2m}, m=5, maxit=5, seed=3, auxiliary=cox_auxiliaries(time, ev))
    mi_mean = np.mean([res.complete(i)["x2"].mean() for i in range(5)])
    cc_mean = np.nanmean(x2m)
    assert abs(mi_mean - x2.mean()) < 0.4 * abs(cc_mean - x2.mean())


def test_pool_cox_over_imputations_runs_end_to_end() -> None:
    x1, _, x2m, _, time, ev = _mar_data()
    res = mice({"x1": x1, "x2": x2m}, m=4, maxit=4, seed=9, auxiliary=cox_auxiliaries(time, ev))
    fits = []
    for i in range(4):
        d = res.complete(i)
        fits.append(cox_fit(time, ev, np.column_stack([d["x1"], d["x2"]]), names=["x1", "x2"]))
    pooled = pool_cox(fits)
    assert pooled.dfcom == fits[0].events - 2
    out = pooled.to_dict()["terms"]["x2"]
    assert out["b"] > 0
    assert (
        out["transformed"]["lower"] < out["transformed"]["estimate"] < out["transformed"]["upper"]
    )


def test_mice_input_errors() -> None:
    x = np.array([1.0, np.nan, 3.0, 4.0])
    with pytest.raises(InputError, match="same length"):
        mice({"a": x, "b": np.ones(3)})
    with pytest.raises(InputError, match="auxiliary predictor 'e'"):
        mice({"a": x}, auxiliary={"e": np.array([1.0, np.nan, 0.0, 1.0])})
    with pytest.raises(InputError, match="pmm needs a numeric"):
        mice({"a": np.array(["u", None, "v", "u"], dtype=object)}, method={"a": "pmm"})
    with pytest.raises(InputError, match="categorical"):
        mice({"a": x}, method={"a": "logreg"})
    with pytest.raises(EstimationError, match="no observed value"):
        mice({"a": np.full(4, np.nan), "b": np.ones(4)})
    with pytest.raises(InputError, match="unknown method"):
        mice({"a": x}, method={"a": "norm"})
    with pytest.raises(InputError, match=r"0\.\.1"):
        mice({"a": x, "b": np.arange(4.0)}, m=2, maxit=1, seed=1).complete(5)
