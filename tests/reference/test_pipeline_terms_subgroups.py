"""Cox term tests and subgroup analyses through the whole pipeline, against R
(tests/reference/r/e2e_veteran.R: survival's veteran as a canonical patient table).

cox[].term_tests: car::Anova type II LR (a 4-level factor, celltype), anova() sequential (a
3-level factor declared in order, karno_grp), type II Wald with the robust variance of a
clustered fit, LR within strata (drop1), and, on the chunked path of large cohorts, type II
Wald from the fitted variance. subgroups[]: coxph on each subset, anova(~ arm + by,
~ arm * by) and the overall coxph(~ arm), with the effect's reference set in the spec.
Measured largest relative difference from R: 1.2e-11 (in memory), 3e-14 (chunked Wald);
test_largest_difference_from_r prints the figure on the machine it runs on.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.conftest import REFERENCE, load_expected

import mmrwe
from mmrwe.study import pipeline
from mmrwe.study.analyses import cox as cox_module

pytestmark = pytest.mark.reference

RTOL = 1e-6
REF = load_expected("e2e_veteran")
SUBGROUP_BY = ["celltype", "karno_grp", "prior"]


def spec(**over: Any) -> dict[str, Any]:
    s: dict[str, Any] = {
        "study": {"title": "veteran (survival package)", "time_unit": "months"},
        "data": {"patients": "e2e_veteran_patients.csv"},
        "variables": {"karno_grp": {"levels": ["low", "mid", "high"]}},
        "cox": [
            {"endpoint": "OS", "terms": ["celltype", "arm", "karno", "age"]},
            {"endpoint": "OS", "terms": ["karno_grp", "celltype"], "term_tests": "sequential"},
            {"endpoint": "OS", "terms": ["celltype", "karno"], "cluster": "center"},
            {"endpoint": "OS", "terms": ["karno_grp", "age"], "strata": "prior"},
            {"endpoint": "OS", "terms": ["celltype", "arm"], "term_tests": False},
        ],
        "subgroup": [
            {"endpoint": "OS", "effect": "arm", "by": SUBGROUP_BY},
            {"endpoint": "OS", "effect": "arm", "by": SUBGROUP_BY, "reference": "test"},
        ],
    }
    s.update(over)
    return s


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    return mmrwe.Study(spec(), base_dir=REFERENCE / "data").run().to_dict()


DIFFS: list[float] = []


def close(ours: float | None, ref: float) -> None:
    assert ours is not None
    assert ours == pytest.approx(ref, rel=RTOL)
    DIFFS.append(abs(ours - ref) / abs(ref) if ref else abs(ours))


def same_tests(ours: dict[str, Any], ref: dict[str, Any], test: str, kind: str) -> None:
    for term, r in ref.items():
        if term.startswith("strata("):
            continue  # drop1 also drops the strata; not a model term
        o = ours[term]
        assert o["test"] == test and o["type"] == kind, term
        assert o["df"] == r["df"], term
        close(o["chisq"], r["chisq"])
        close(o["p"], r["p"])
    assert set(ours) == {t for t in ref if not t.startswith("strata(")}


def test_type2_lr_tests_match_car_anova(results: dict[str, Any]) -> None:
    m, ref = results["cox"][0], REF["cox"][0]
    assert m["status"] == "ok" and m["n"] == ref["n"] == 134 and m["n_excluded_missing"] == 3
    for name, coef in ref[
        "coef"
    ].items():  # the same model: celltype vs adeno, arm test vs standard
        close(m["coefficients"][name]["coef"], coef)
    same_tests(m["term_tests"], ref["car_lr"], "lr", "II")
    assert m["term_tests"]["celltype"]["df"] == 3  # one test for the four cell types
    assert "likelihood-ratio" in m["term_tests_method"]


def test_sequential_tests_match_anova(results: dict[str, Any]) -> None:
    m, ref = results["cox"][1], REF["cox"][1]
    assert m["term_info"]["karno_grp"]["reference"] == "low"  # declared order: low, mid, high
    same_tests(m["term_tests"], ref["sequential"], "lr", "sequential")
    assert m["term_tests"]["karno_grp"]["df"] == 2


def test_robust_fit_reports_wald_with_the_robust_variance(results: dict[str, Any]) -> None:
    m, ref = results["cox"][2], REF["cox"][2]
    assert m["variance"] == "robust"
    same_tests(m["term_tests"], ref["car_wald_robust"], "wald", "II")
    assert "robust" in m["term_tests_method"]


def test_stratified_model_lr_refits_keep_the_strata_as_drop1(results: dict[str, Any]) -> None:
    m, ref = results["cox"][3], REF["cox"][3]
    assert m["n"] == ref["n"] == 137
    same_tests(m["term_tests"], ref["drop1"], "lr", "II")


def test_term_tests_false_leaves_them_out(results: dict[str, Any]) -> None:
    assert "term_tests" not in results["cox"][4] and results["cox"][4]["status"] == "ok"


def test_sequential_with_a_robust_variance_is_null_with_the_reason() -> None:
    s = spec(
        cox=[
            {
                "endpoint": "OS",
                "terms": ["celltype", "karno"],
                "robust": True,
                "term_tests": "sequential",
            }
        ],
        subgroup=[],
    )
    m = mmrwe.Study(s, base_dir=REFERENCE / "data").run().to_dict()["cox"][0]
    assert m["status"] == "ok" and m["coefficients"]["karno"]["coef"] is not None
    assert m["term_tests"] is None and "robust" in m["term_tests_reason"]
    assert any("term tests not computed" in w for w in m["warnings"])


def test_chunked_path_reports_type2_wald_from_the_fitted_variance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the path of cohorts above 2,000,000 patients, forced on veteran
    monkeypatch.setattr(cox_module, "COX_IN_MEMORY_MAX_ROWS", 0)
    monkeypatch.setattr(pipeline, "PREFETCH_MAX_ROWS", 0)
    s = spec(cox=spec()["cox"][:2], subgroup=[])
    res = mmrwe.Study(s, base_dir=REFERENCE / "data").run().to_dict()
    m = res["cox"][0]
    assert m["computation"]["method"] == "chunked"
    same_tests(m["term_tests"], REF["cox"][0]["car_wald"], "wald", "II")
    assert "fitted in chunks" in m["term_tests_method"]
    # sequential tests need refits: the chunked path says it reports type II Wald instead
    m2 = res["cox"][1]
    assert {t["type"] for t in m2["term_tests"].values()} == {"II"}
    assert "sequential tests were asked for" in m2["term_tests_method"]


def _levels(entry: dict[str, Any], by: str) -> list[dict[str, Any]]:
    return [lv for lv in entry["levels"] if lv["by"] == by]


@pytest.mark.parametrize(("k", "ref_key"), [(0, "subgroup_standard"), (1, "subgroup_test")])
def test_subgroups_match_coxph_per_level_and_anova_interaction(
    results: dict[str, Any], k: int, ref_key: str
) -> None:
    e, ref = results["subgroups"][k], REF[ref_key]
    assert e["status"] == "ok" and e["spec_key"] == f"[[subgroup]] {k + 1}"
    assert e["effect_levels"] == ref["effect_levels"]  # reference first
    assert e["by"] == SUBGROUP_BY
    o, ro = e["overall"], ref["overall"]
    assert (o["n"], o["events"]) == (ro["n"], ro["events"]) == (137, 128)
    for key in ("coef", "hr", "lower", "upper", "p", "se"):
        close(o[key], ro[key])
    assert [x["by"] for x in e["interaction"]] == SUBGROUP_BY
    for by, inter in zip(SUBGROUP_BY, e["interaction"], strict=True):
        rb = ref["by"][by]
        levels = _levels(e, by)
        assert [lv["level"] for lv in levels] == rb["level_order"]  # karno_grp as declared
        for lv in levels:
            r = rb["levels"][lv["level"]]
            assert (lv["n"], lv["events"], lv["status"]) == (r["n"], r["events"], "ok")
            for key in ("coef", "hr", "lower", "upper", "p", "se"):
                close(lv[key], r[key])
        assert inter["status"] == "ok" and inter["test"] == "lr"
        assert inter["df"] == rb["interaction"]["df"]
        assert inter["n_excluded_missing"] == rb["n_excluded_missing"]
        close(inter["chisq"], rb["interaction"]["chisq"])
        close(inter["p"], rb["interaction"]["p"])


def test_reference_reverses_the_hazard_ratio(results: dict[str, Any]) -> None:
    a, b = results["subgroups"]
    assert a["effect_levels"] == ["standard", "test"] and b["effect_levels"] == ["test", "standard"]
    assert a["overall"]["hr"] * b["overall"]["hr"] == pytest.approx(1.0, rel=1e-9)
    assert a["interaction"][0]["chisq"] == pytest.approx(b["interaction"][0]["chisq"], rel=1e-9)


def test_largest_difference_from_r(results: dict[str, Any]) -> None:
    # recomputes the comparisons (test order does not matter) and records the largest gap
    DIFFS.clear()
    test_type2_lr_tests_match_car_anova(results)
    test_sequential_tests_match_anova(results)
    test_robust_fit_reports_wald_with_the_robust_variance(results)
    test_stratified_model_lr_refits_keep_the_strata_as_drop1(results)
    for k, key in ((0, "subgroup_standard"), (1, "subgroup_test")):
        test_subgroups_match_coxph_per_level_and_anova_interaction(results, k, key)
    assert DIFFS and max(DIFFS) < 1e-7, max(DIFFS)
    print(f"largest relative difference from R: {max(DIFFS):.1e}")
