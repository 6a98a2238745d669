"""Term tests and subgroup hazard ratios: identities, edge cases and errors."""

from __future__ import annotations

import numpy as np
import pytest

from mmrwe.core.errors import InputError
from mmrwe.stats.cox import cox_fit
from mmrwe.stats.cox_terms import cox_term_tests, subgroup_hrs


def _data(n: int = 120, seed: int = 4) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 3, n)
    x = rng.normal(size=n)
    z = rng.integers(0, 2, n).astype(float)
    lp = 0.5 * (g == 1) - 0.4 * (g == 2) + 0.3 * x
    t = np.ceil(rng.exponential(np.exp(-lp)) * 20)
    e = rng.random(n) < 0.75
    X = np.column_stack([(g == 1), (g == 2), x, z]).astype(float)
    return t, e, X, g, z


def test_single_term_model_gives_the_global_tests() -> None:
    # one term: type II LR = the fit's LR test, Wald = the fit's Wald test (car and drop1)
    t, e, X, _, _ = _data()
    fit = cox_fit(t, e, X[:, :2], names=["g=1", "g=2"])
    tt = cox_term_tests(t, e, X[:, :2], ["g=1", "g=2"], ["g", "g"])
    assert tt.lr["g"].df == 2
    assert tt.lr["g"].chisq == pytest.approx(fit.tests["lr"].chisq, rel=1e-12)
    assert tt.wald["g"].chisq == pytest.approx(fit.tests["wald"].chisq, rel=1e-9)


def test_type2_lr_is_drop_one_term_and_one_column_wald_is_z_squared() -> None:
    t, e, X, _, _ = _data()
    names, terms = ["g=1", "g=2", "x", "z"], ["g", "g", "x", "z"]
    full = cox_fit(t, e, X, names=names)
    tt = cox_term_tests(t, e, X, names, terms, full=full)
    assert tt.full is full
    reduced = cox_fit(t, e, X[:, [0, 1, 3]], names=["g=1", "g=2", "z"])
    assert tt.lr["x"].chisq == pytest.approx(2 * (full.loglik[1] - reduced.loglik[1]))
    assert tt.wald["x"].chisq == pytest.approx(full.z[2] ** 2, rel=1e-12)
    assert tt.reported == "lr"
    assert list(tt.to_dict()) == ["g", "x", "z"]


def test_sequential_tests_add_up_to_the_global_lr() -> None:
    t, e, X, _, _ = _data()
    names, terms = ["g=1", "g=2", "x", "z"], ["g", "g", "x", "z"]
    tt = cox_term_tests(t, e, X, names, terms, kind="sequential")
    full = cox_fit(t, e, X, names=names)
    assert sum(v.chisq for v in tt.lr.values()) == pytest.approx(full.tests["lr"].chisq)
    assert sum(v.df for v in tt.lr.values()) == 4
    assert tt.to_dict()["g"]["type"] == "sequential"


def test_redundant_term_has_df_zero_and_no_p() -> None:
    t, e, X, _, _ = _data()
    Xr = np.column_stack([X[:, 2], 2 * X[:, 2]])  # the second column is collinear: NA
    tt = cox_term_tests(t, e, Xr, ["x", "x2"], ["x", "x2"])
    assert tt.lr["x2"].df == 0
    assert tt.lr["x2"].chisq is None or np.isnan(tt.lr["x2"].chisq)
    assert tt.to_dict()["x2"]["p"] is None


def test_term_test_input_errors() -> None:
    t, e, X, _, _ = _data()
    with pytest.raises(InputError, match="one entry per column"):
        cox_term_tests(t, e, X, ["a", "b"], ["a", "b"])
    with pytest.raises(InputError, match="kind"):
        cox_term_tests(t, e, X[:, :1], ["a"], ["a"], kind="III")  # type: ignore[arg-type]


def test_subgroups_edge_cases_never_crash() -> None:
    t, e, _X, g, z = _data(150)
    by = np.array(["a", "b", "c"], dtype=object)[g]
    e2 = e.copy()
    e2[by == "c"] = False  # no events in c
    by[:3] = None  # missing: dropped
    by[3] = "d"  # one patient: one effect level
    res = subgroup_hrs(t, e2, z, by, effect_name="z", by_name="grp")
    levels = {lv.level: lv for lv in res.levels}
    assert set(levels) == {"a", "b", "c", "d"}
    assert res.n_excluded_missing == 3
    assert levels["c"].status == "not_estimable"
    assert levels["c"].reason == "no events in this subgroup"
    assert levels["d"].status == "not_estimable"
    assert "only one level" in (levels["d"].reason or "")
    assert levels["a"].status == "ok"
    assert sum(lv.n for lv in res.levels) == 147
    out = res.to_dict()
    assert out["effect_levels"] == ["0", "1"]
    assert out["levels"][2]["hr"] is None
    assert out["interaction"]["by"] == "grp"


def test_subgroup_hr_equals_the_fit_on_the_level() -> None:
    t, e, _X, g, z = _data(150)
    res = subgroup_hrs(t, e, z, g, effect_levels=[0, 1])
    m = g == 1
    fit = cox_fit(t[m], e[m], z[m, None], names=["z"])
    lv = res.levels[1]
    assert lv.level == "1"
    assert lv.hr == pytest.approx(fit.hr[0], rel=1e-12)
    assert lv.p == pytest.approx(fit.p[0], rel=1e-12)
    assert lv.n_by_effect == (int((m & (z == 0)).sum()), int((m & (z == 1)).sum()))
    # reversed reference level: the reciprocal hazard ratio
    rev = subgroup_hrs(t, e, z, g, effect_levels=[1, 0])
    assert rev.levels[1].hr == pytest.approx(1 / lv.hr, rel=1e-9)
    assert rev.interaction.chisq == pytest.approx(res.interaction.chisq, rel=1e-9)


def test_subgroup_interaction_lr_by_hand() -> None:
    t, e, _X, g, z = _data(150)
    res = subgroup_hrs(t, e, z, g)
    d = [(g == k).astype(float) for k in (1, 2)]
    main = cox_fit(t, e, np.column_stack([z, *d]), names=["z", "g1", "g2"])
    full = cox_fit(
        t, e, np.column_stack([z, *d, z * d[0], z * d[1]]), names=["z", "g1", "g2", "i1", "i2"]
    )
    assert res.interaction.df == 2
    assert res.interaction.chisq == pytest.approx(2 * (full.loglik[1] - main.loglik[1]))


def test_subgroup_errors() -> None:
    t, e, _X, g, z = _data()
    with pytest.raises(InputError, match="exactly two levels"):
        subgroup_hrs(t, e, g, z)
    with pytest.raises(InputError, match="by_levels"):
        subgroup_hrs(t, e, z, g, by_levels=["0", "1"])
