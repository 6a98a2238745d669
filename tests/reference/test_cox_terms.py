"""Term tests and subgroup hazard ratios against R (tests/reference/r/cox_term_tests.R).

Per term: car::Anova type II LR (refits) and Wald, drop1 (LR, keeps strata) and the
sequential anova(fit). Subgroups: one coxph per level (Wald CI and p), and the interaction
test anova(coxph(~ effect + by), coxph(~ effect * by)) (Wald via car::Anova when robust).
Measured: type II LR within 5e-10 of R (a small chi-square from two log-likelihoods of
refits), Wald 3e-13, subgroup HRs/CIs/p 3e-14, interaction tests 2e-12.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.conftest import REFERENCE, load_expected

from mmrwe.core.errors import InputError
from mmrwe.stats.cox import cox_fit
from mmrwe.stats.cox_terms import (
    CoxTermTests,
    cox_term_tests,
    cox_wald_term_tests,
    subgroup_hrs,
)

pytestmark = pytest.mark.reference

RTOL = 1e-6  # the project's default; measured differences are far smaller
REF = load_expected("cox_term_tests")
CASES = sorted(REF["cases"])
SUBGROUPS = sorted(REF["subgroups"])


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "data" / f"{name}.csv", float_precision="round_trip")


def _tests(name: str, kind: str = "II") -> tuple[CoxTermTests, dict[str, Any]]:
    c = REF["cases"][name]
    d = _data(c["data"])
    tt = cox_term_tests(
        d["time"].to_numpy(),
        d["status"].to_numpy(),
        d[c["columns"]].to_numpy(float),
        c["r_names"],
        c["terms"],
        kind=kind,  # type: ignore[arg-type]
        ties=c["ties"],
        start=d["start"].to_numpy() if c["has_start"] else None,
        strata=d["strata"].to_numpy() if c["has_strata"] else None,
        weights=d["weights"].to_numpy() if c["has_weights"] else None,
    )
    return tt, c


def _same(ours: Any, ref: dict[str, Any]) -> None:
    assert ours.df == ref["df"]
    assert ours.chisq == pytest.approx(ref["chisq"], rel=RTOL)
    assert ours.p == pytest.approx(ref["p"], rel=RTOL)


@pytest.mark.parametrize("name", CASES)
def test_type2_matches_car_anova_and_drop1(name: str) -> None:
    tt, c = _tests(name)
    assert list(tt.lr) == c["term_order"]
    for term, ref in c["car_wald"].items():
        _same(tt.wald[term], ref)
    if c["car_lr_test"] == "lr":
        for term, ref in c["car_lr"].items():
            _same(tt.lr[term], ref)
    # drop1 (LR, strata kept) for every term it can drop (not main effects under an
    # interaction, where type II keeps the interaction out instead)
    for term, ref in (c["drop1"] or {}).items():
        if term not in tt.lr:  # drop1 also lists strata(...)
            continue
        if not any(term != u and set(term.split(":")) <= set(u.split(":")) for u in tt.lr):
            _same(tt.lr[term], ref)


@pytest.mark.parametrize("name", CASES)
def test_reported_test_follows_car(name: str) -> None:
    tt, c = _tests(name)
    out = tt.to_dict()
    assert list(out) == c["term_order"]
    # robust variance: Wald reported, as car::Anova substitutes it; otherwise LR (also for
    # strata, where car substitutes Wald only because it cannot refit within strata)
    assert tt.reported == ("wald" if c["robust"] else "lr")
    for entry in out.values():
        assert set(entry) == {"test", "chisq", "df", "p", "type"}
        assert entry["test"] == tt.reported
        assert entry["type"] == "II"


@pytest.mark.parametrize("name", CASES)
def test_wald_from_the_fit_alone_matches_car_anova_wald(name: str) -> None:
    # the chunked Cox path's term tests: type II Wald from fit$var (robust when robust)
    c = REF["cases"][name]
    d = _data(c["data"])
    fit = cox_fit(
        d["time"].to_numpy(),
        d["status"].to_numpy(),
        d[c["columns"]].to_numpy(float),
        names=c["r_names"],
        terms=c["terms"],
        ties=c["ties"],
        start=d["start"].to_numpy() if c["has_start"] else None,
        strata=d["strata"].to_numpy() if c["has_strata"] else None,
        weights=d["weights"].to_numpy() if c["has_weights"] else None,
    )
    tt = cox_wald_term_tests(fit)
    assert tt.reported == "wald" and tt.lr == {} and tt.kind == "II"
    assert list(tt.wald) == c["term_order"]
    for term, ref in c["car_wald"].items():
        _same(tt.wald[term], ref)
    assert ("robust" in tt.reason) == c["robust"]
    assert all(e["test"] == "wald" for e in tt.to_dict().values())


SEQUENTIAL = [n for n in CASES if REF["cases"][n]["sequential"] and not REF["cases"][n]["robust"]]


@pytest.mark.parametrize("name", SEQUENTIAL)
def test_sequential_matches_anova(name: str) -> None:
    tt, c = _tests(name, "sequential")
    # survival 3.5's anova.coxph refits the smaller models without the case weights (its
    # table for a weighted fit mixes weighted and unweighted log-likelihoods): for weighted
    # fits compare with the sequence of weighted fits that R computes directly
    ref_tab = c["sequential_weighted"] if c["has_weights"] else c["sequential"]
    assert list(ref_tab) == list(tt.lr)
    for term, ref in ref_tab.items():
        _same(tt.lr[term], ref)
    assert tt.wald == {}


def test_sequential_refuses_a_robust_fit_as_r() -> None:
    with pytest.raises(InputError, match="robust"):
        _tests("colon_iptw", "sequential")


def _subgroups(name: str) -> tuple[Any, dict[str, Any]]:
    s = REF["subgroups"][name]
    d = _data(s["data"])
    res = subgroup_hrs(
        d["time"].to_numpy(),
        d["status"].to_numpy(),
        d["effect"].to_numpy(),
        d["by"].to_numpy(),
        effect_name=s["effect"],
        by_name=s["by"],
        by_levels=[r["level"] for r in s["levels"]],  # R's factor level order
        ties=s["ties"],
        weights=d["w"].to_numpy() if s["has_weights"] else None,
    )
    return res, s


@pytest.mark.parametrize("name", SUBGROUPS)
def test_subgroup_levels_match_coxph(name: str) -> None:
    res, s = _subgroups(name)
    assert list(res.effect_levels) == [str(v) for v in s["effect_levels"]]
    assert [lv.level for lv in res.levels] == [str(r["level"]) for r in s["levels"]]
    for ours, ref in zip(res.levels, s["levels"], strict=True):
        assert ours.n == ref["n"]
        assert ours.events == ref["events"]
        r_infinite = ref["estimable"] and any("infinite" in w for w in ref["warnings"])
        if not ref["estimable"] or r_infinite:
            # R: no fit (no events / one effect level), or a diverging coefficient with a
            # warning: not estimable here, with the reason
            assert ours.status == "not_estimable"
            assert ours.reason
            assert ours.hr is None
            continue
        assert ours.status == "ok"
        for key in ("coef", "hr", "lower", "upper", "p"):
            assert getattr(ours, key) == pytest.approx(ref[key], rel=RTOL), key


@pytest.mark.parametrize("name", SUBGROUPS)
def test_subgroup_interaction_matches_anova(name: str) -> None:
    res, s = _subgroups(name)
    ref = s["interaction"]
    it = res.interaction
    assert it.test == ref["test"]
    assert it.status == "ok"
    _same(it, ref)
    out = res.to_dict()
    assert set(out["interaction"]) >= {"by", "test", "chisq", "df", "p"}
    for lv in out["levels"]:
        assert set(lv) >= {"by", "level", "n", "events", "hr", "lower", "upper", "p"}
        assert lv["by"] == s["by"]
    assert np.isfinite(out["interaction"]["chisq"])
