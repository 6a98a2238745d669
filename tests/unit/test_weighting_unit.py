"""IPT weights and balance: hand-derived values, rules, errors, warnings and properties."""

from __future__ import annotations

import math
import warnings

import numpy as np
import numpy.testing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmrwe.core.errors import InputError, MmrweWarning
from mmrwe.stats.weighting import (
    balance_table,
    effective_sample_size,
    ipt_weights,
    iptw,
    propensity_score,
)

TREATED = np.array([True, True, False, False])
PS = np.array([0.5, 0.8, 0.2, 0.5])


def test_weights_by_estimand_hand_derived() -> None:
    # ATE 1/ps, 1/(1-ps); ATT 1, ps/(1-ps); ATO 1-ps, ps
    npt.assert_allclose(ipt_weights(TREATED, PS).weights, [2.0, 1.25, 1.25, 2.0])
    npt.assert_allclose(ipt_weights(TREATED, PS, estimand="ATT").weights, [1, 1, 0.25, 1])
    npt.assert_allclose(ipt_weights(TREATED, PS, estimand="ATO").weights, [0.5, 0.2, 0.2, 0.5])


def test_stabilized_ate_multiplies_by_marginal_probability() -> None:
    # P(treated) = 2/4: [2, 1.25, 1.25, 2] * 0.5
    w = ipt_weights(TREATED, PS, stabilize=True)
    npt.assert_allclose(w.weights, [1.0, 0.625, 0.625, 1.0])
    # ESS treated: (1 + 0.625)^2 / (1 + 0.390625) = 1.898876...
    assert w.treated_summary.ess == pytest.approx(1.625**2 / 1.390625)


def test_trim_bounds_gives_zero_weight_and_counts() -> None:
    w = ipt_weights(TREATED, PS, trim_bounds=(0.25, 0.75))
    npt.assert_array_equal(w.trimmed, [False, True, True, False])
    npt.assert_allclose(w.weights, [2.0, 0.0, 0.0, 2.0])
    d = w.to_dict()
    assert d["trim"]["n_trimmed"] == 2
    assert d["min"] == 2.0  # summaries over the analysed units
    assert d["trim"]["n_trimmed_treated"] == 1


def test_trim_quantile_is_asymmetric_sturmer_rule() -> None:
    # treated ps [0.5, 0.8]: 0.25-quantile (type 7) = 0.575; control ps [0.2, 0.5]: the
    # 0.75-quantile = 0.425; keep 0.575 <= ps <= 0.425 would drop everyone -> error
    with pytest.raises(InputError, match="removed every unit"):
        ipt_weights(TREATED, PS, trim_quantile=0.25)
    treated = np.array([True] * 5 + [False] * 5)
    ps = np.array([0.3, 0.4, 0.5, 0.6, 0.9, 0.05, 0.3, 0.4, 0.5, 0.6])
    w = ipt_weights(treated, ps, trim_quantile=0.1)
    # lower = 0.3 + 0.4 * 0.1 = 0.34 (treated); upper = 0.5 + 0.6 * 0.1 = 0.56 (control)
    assert w.trim_limits == pytest.approx((0.34, 0.56))
    npt.assert_array_equal(w.trimmed, (ps < 0.34) | (ps > 0.56))


def test_effective_sample_size_kish() -> None:
    assert effective_sample_size([2.0, 2.0]) == 2.0
    assert effective_sample_size([1.0, 3.0]) == pytest.approx(16 / 10)
    assert math.isnan(effective_sample_size([0.0, 0.0]))


def test_balance_hand_derived_pooled_sd() -> None:
    # x: treated 1, 3 (mean 2, var 2); control 2, 6 (mean 4, var 8); pooled SD sqrt(5)
    tab = balance_table([1, 1, 0, 0], {"x": np.array([1.0, 3.0, 2.0, 6.0])}, np.ones(4))
    r = tab.row("x")
    assert r.smd_before == pytest.approx(-2 / math.sqrt(5))
    assert r.var_ratio_before == pytest.approx(0.25)
    assert tab.sd_denominator == "pooled"


def test_balance_binary_uses_p_times_one_minus_p() -> None:
    # treated 1, 1, 0 (p 2/3), control 0, 0, 1 (p 1/3); SD sqrt((2/9 + 2/9) / 2) = sqrt(2)/3
    x = np.array([1.0, 1.0, 0.0, 0.0, 0.0, 1.0])
    tab = balance_table([1, 1, 1, 0, 0, 0], {"b": x}, np.ones(6))
    r = tab.row("b")
    assert r.binary
    assert r.diff_before == pytest.approx(1 / 3)
    assert r.smd_before == pytest.approx((1 / 3) / (math.sqrt(2) / 3))
    assert r.var_ratio_before is None


def test_att_denominator_is_treated_sd() -> None:
    x = np.array([1.0, 3.0, 2.0, 6.0])
    r = balance_table([1, 1, 0, 0], {"x": x}, np.ones(4), estimand="ATT").row("x")
    assert r.sd_denominator == pytest.approx(math.sqrt(2))


def test_factor_levels_each_get_a_row() -> None:
    g = np.array(["a", "b", "c", "a", "b", "c", "a", "c"])
    tab = balance_table([1, 1, 1, 1, 0, 0, 0, 0], {"g": g}, np.ones(8))
    assert [r.covariate for r in tab.rows] == ["g=a", "g=b", "g=c"]
    two = balance_table([1, 0, 1, 0], {"sex": np.array(["F", "M", "M", "F"])}, np.ones(4))
    assert [r.covariate for r in two.rows] == ["sex=F", "sex=M"]
    assert two.row("sex=F").smd_before == pytest.approx(-two.row("sex=M").smd_before)


def _cohort(n: int = 300, seed: int = 1) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    age = rng.normal(65, 10, n)
    sex = rng.choice(np.array(["F", "M"]), n)
    iss = rng.choice(np.array(["I", "II", "III"]), n)
    eta = -0.5 + 0.04 * (age - 65) + 0.5 * (sex == "M") + 0.6 * (iss == "III")
    treat = rng.random(n) < 1 / (1 + np.exp(-eta))
    return treat, {"age": age, "sex": sex, "iss": iss}


def test_overlap_weights_balance_ps_model_means_exactly() -> None:
    # Li, Morgan & Zaslavsky 2018: with a logistic PS, overlap weights give SMD 0 for every
    # term of the PS model
    treat, covs = _cohort()
    res = iptw(treat, covs, estimand="ATO")
    for r in res.balance.rows:
        if r.covariate != "iss=I":  # the reference level balances too (sum of the others)
            assert abs(r.smd_after) < 1e-10
    assert abs(res.balance.row("iss=I").smd_after) < 1e-10
    assert res.balance.max_abs_smd_after() < 1e-10
    assert res.warnings == ()


def test_ps_model_names_and_reference() -> None:
    treat, covs = _cohort()
    m = propensity_score(treat, covs, reference={"iss": "III"})
    assert m.names == ("(Intercept)", "age", "sex=M", "iss=I", "iss=II")
    assert m.treated == "True" and m.control == "False"


def test_positivity_and_imbalance_warnings() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, 200)
    treat = rng.random(200) < 1 / (1 + np.exp(-4 * x))  # strong confounding by x
    with pytest.warns(MmrweWarning) as rec:
        res = iptw(treat, {"x": x})
    assert any("positivity" in str(w.message) for w in rec)
    assert res.n_ps_outside_bounds > 0
    assert any("outside [0.025, 0.975]" in m for m in res.warnings)
    d = res.to_dict()
    assert d["diagnostics"]["n_ps_outside_bounds"] == res.n_ps_outside_bounds
    assert set(d["weights"]) >= {"sum", "min", "max", "ess"}
    assert set(d["balance"]["x"]) >= {"smd_before", "smd_after"}


def test_imbalance_warning_names_the_covariate() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, 300)
    treat = rng.random(300) < 1 / (1 + np.exp(-2 * x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MmrweWarning)
        res = iptw(treat, {"x": x}, smd_threshold=0.0)
    assert any("imbalance remains" in m and "x (" in m for m in res.warnings)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"estimand": "ATC"}, "unknown estimand"),
        ({"estimand": "ATT", "stabilize": True}, "ATE only"),
        ({"trim_bounds": (0.1, 0.9), "trim_quantile": 0.05}, "either"),
        ({"trim_bounds": (0.9, 0.1)}, "lower < upper"),
        ({"trim_quantile": 0.6}, r"\[0, 0.5\)"),
    ],
)
def test_bad_weight_options(kwargs, match) -> None:
    with pytest.raises(InputError, match=match):
        ipt_weights(TREATED, PS, **kwargs)


def test_bad_inputs_are_clear_errors() -> None:
    with pytest.raises(InputError, match="strictly between 0 and 1"):
        ipt_weights(TREATED, [0.5, 1.0, 0.2, 0.5])
    with pytest.raises(InputError, match="exactly two levels"):
        propensity_score([1, 2, 3, 1], {"x": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(InputError, match="missing value"):
        propensity_score([1, 0, 1, 0], {"x": [1.0, np.nan, 3.0, 4.0]})
    with pytest.raises(InputError, match="treatment has 1 missing"):
        propensity_score(np.array([1, 0, None, 0], dtype=object), {"x": [1.0, 2, 3, 4]})
    with pytest.raises(InputError, match="single level"):
        propensity_score([1, 0, 1, 0], {"g": np.array(["a"] * 4)})
    with pytest.raises(InputError, match="no covariates"):
        propensity_score([1, 0, 1, 0], {})


@settings(max_examples=40)
@given(
    ps=st.lists(st.floats(0.01, 0.99), min_size=4, max_size=30),
    data=st.data(),
    estimand=st.sampled_from(["ATE", "ATT", "ATO"]),
)
def test_ess_bounded_by_group_size(ps, data, estimand) -> None:
    n = len(ps)
    treated = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    if treated.all() or not treated.any():
        treated[0] = not treated[0]
    w = ipt_weights(treated, np.array(ps), estimand=estimand)
    for summ in (w.treated_summary, w.control_summary):
        assert 1.0 - 1e-12 <= summ.ess <= summ.n * (1 + 1e-12)
    assert np.all(w.weights > 0)


def test_treated_level_chooses_which_group_is_treated() -> None:
    rng = np.random.default_rng(5)
    n = 200
    x = rng.normal(size=n)
    t = np.where(rng.random(n) < 1 / (1 + np.exp(-x)), "b", "a")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MmrweWarning)
        default = iptw(t, {"x": x})
        swapped = iptw(t, {"x": x}, treated_level="a")
    assert (default.model.treated, default.model.control) == ("b", "a")
    assert (swapped.model.treated, swapped.model.control) == ("a", "b")
    # the same logistic model with the outcome coded the other way: scores mirror
    npt.assert_allclose(swapped.model.ps, 1 - default.model.ps, rtol=1e-9)
    # ATE weights do not depend on which group is called treated
    npt.assert_allclose(swapped.weights.weights, default.weights.weights, rtol=1e-9)
    with pytest.raises(InputError, match="not a level"):
        iptw(t, {"x": x}, treated_level="c")
