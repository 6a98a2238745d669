"""Comparative analyses in the study: E-values of Cox HRs, IPTW/MAIC failure modes, MI wiring.

The numbers of the estimators are checked against R elsewhere (tests/e2e/test_comparative.py,
tests/reference/test_mi_demo.py, the kernels' reference tests); here: the spec keys reach
them, the data decide "not estimable" with a reason, and the pooled entries are what the
kernels give on the completed data sets the pipeline drew.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import mmrwe
from mmrwe.spec import InvalidSpecError, parse_spec
from mmrwe.study.demo import demo_dir

LUNG = Path(__file__).resolve().parent / "lung"
EXAMPLE = Path(mmrwe.__file__).parent / "data" / "examples" / "icaria_maic.toml"


def _cohort(n: int = 120, seed: int = 3) -> pd.DataFrame:
    """A synthetic canonical patient table: a confounded binary treatment and OS."""
    rng = np.random.default_rng(seed)
    age = rng.normal(65, 9, n).round()
    frail = rng.random(n) < 0.4
    p_treat = 1 / (1 + np.exp(-(-0.5 + 0.05 * (age - 65) + 0.8 * frail)))
    treat = np.where(rng.random(n) < p_treat, "B", "A")
    days = rng.exponential(500 / np.where(treat == "B", 0.8, 1.0) / np.where(frail, 1.6, 1.0))
    days = np.maximum(days.round(), 1).astype(int)
    event = rng.random(n) < 0.75
    start = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 300, n), "D")
    end = start + pd.to_timedelta(days, "D")
    fmt = "%Y-%m-%d"
    return pd.DataFrame(
        {
            "patient_id": [f"P{i:03d}" for i in range(n)],
            "center": "C1",
            "start_date": start.strftime(fmt),
            "progression_date": "",
            "death_date": np.where(event, end.strftime(fmt), ""),
            "last_followup_date": end.strftime(fmt),
            "age": age.astype(int).astype(str),
            "frail": np.where(frail, "yes", "no"),
            "treat": treat,
            "three": rng.choice(["x", "y", "z"], n),
            "ones": "1",
        }
    )


def _run(spec: dict[str, Any], frame: pd.DataFrame) -> dict[str, Any]:
    doc = {"data": {"patients": "patients.csv"}, **spec}
    return mmrwe.Study(doc, base_dir=".", patients=frame).run().to_dict()


# -- E-values of Cox hazard ratios --------------------------------------------------------


def _evalue_common_hr(hr: float) -> float:
    # VanderWeele & Ding: HR -> RR for a common outcome, then RR + sqrt(RR (RR - 1)), RR >= 1
    rr = (1 - 0.5 ** math.sqrt(hr)) / (1 - 0.5 ** math.sqrt(1 / hr))
    rr = 1 / rr if rr < 1 else rr
    return rr + math.sqrt(rr * (rr - 1))


def test_every_cox_hr_gets_its_evalue_common_outcome_by_event_share():
    r = _run({"cox": [{"endpoint": "OS", "terms": ["treat", "age"]}]}, _cohort())
    [cx] = r["cox"]
    info = cx["evalue_outcome"]
    # 75 % had the event: common, so the HR is converted before the E-value
    assert info["rare"] is False and info["event_share"] == pytest.approx(cx["events"] / cx["n"])
    for c in cx["coefficients"].values():
        ev = c["evalue"]
        assert ev["point"] == pytest.approx(_evalue_common_hr(c["hr"]), rel=1e-12)
        limit = c["lower"] if c["hr"] > 1 else c["upper"]
        crosses = c["lower"] < 1 < c["upper"]
        assert ev["ci"] == pytest.approx(1.0 if crosses else _evalue_common_hr(limit), rel=1e-12)


def test_rare_outcome_keys_override_the_event_share():
    frame = _cohort()
    spec = {
        "study": {"rare_outcome": True},
        "cox": [
            {"endpoint": "OS", "terms": ["treat"]},
            {"endpoint": "OS", "terms": ["treat"], "rare_outcome": False},
        ],
    }
    r = _run(spec, frame)
    a, b = r["cox"]
    assert (
        a["evalue_outcome"]["rare"] is True
        and a["evalue_outcome"]["source"] == "[study] rare_outcome"
    )
    assert (
        b["evalue_outcome"]["rare"] is False
        and b["evalue_outcome"]["source"] == "[[cox]] rare_outcome"
    )
    hr = a["coefficients"]["treat=B"]["hr"]
    rr = 1 / hr if hr < 1 else hr  # rare: the HR is taken as a risk ratio
    assert a["coefficients"]["treat=B"]["evalue"]["point"] == pytest.approx(
        rr + math.sqrt(rr * (rr - 1)), rel=1e-12
    )


# -- IPTW in the study ----------------------------------------------------------------------


def test_iptw_entry_has_the_contract_keys_and_the_declared_treated_level():
    spec = {
        "iptw": [
            {"treatment": "treat", "covariates": ["age", "frail"], "endpoint": "OS"},
            {"treatment": "treat", "covariates": ["age", "frail"], "endpoint": "OS",
             "treated": "A", "estimand": "ATT"},
        ]
    }  # fmt: skip
    a, b = _run(spec, _cohort())["iptw"]
    for e in (a, b):
        assert e["status"] == "ok" and e["spec_key"].startswith("[[iptw]]")
        assert {"sum", "min", "max", "ess"} <= set(e["weights"])
        assert {"smd_before", "smd_after"} <= set(e["balance"]["age"])
        assert {"coef", "robust_se", "hr", "lower", "upper", "p"} <= set(e["cox"])
        assert {"point", "ci"} <= set(e["evalue"])
        assert e["km_order"] == [e["control_level"], e["treated_level"]]
    assert (a["treated_level"], b["treated_level"]) == ("B", "A")
    # the treated level named in the spec is the level the weighted Cox term compares
    assert a["cox"]["term"] == "treat=B" and b["cox"]["term"] == "treat=A"


@pytest.mark.parametrize(
    ("entry", "status", "words"),
    [
        ({"treatment": "three", "covariates": ["age"]}, "not_estimable", "exactly two"),
        ({"treatment": "treat", "covariates": ["ones"]}, "not_estimable", "same value"),
        ({"treatment": "treat", "covariates": ["age"], "treated": "C"}, "failed", "not a level"),
        ({"treatment": "treat", "covariates": ["treat_copy"]}, "not_estimable", "separat"),
    ],
)
def test_iptw_the_data_decide_with_a_reason(entry, status, words):
    frame = _cohort()
    frame["treat_copy"] = np.where(frame["treat"] == "B", "1", "0")
    spec: dict[str, Any] = {"iptw": [entry]}
    if "treated" in entry:
        # validation names the level first (MMV023); accepted, the entry fails on its own
        doc = {"data": {"patients": "patients.csv"}, **spec}
        issues = mmrwe.Study(doc, base_dir=".", patients=frame).validate().errors
        assert [(i.code, i.where.spec_key) for i in issues] == [("MMV023", "[[iptw]] 1 -> treated")]
        spec["validation"] = {"accept": {"MMV023": "the analysis boundary is tested"}}
    [e] = _run(spec, frame)["iptw"]
    assert e["status"] == status, e
    assert words in e["reason"]


# -- MAIC in the study ----------------------------------------------------------------------


def test_the_demo_holds_the_example_maic_tables():
    demo = tomllib.loads((demo_dir() / "study.toml").read_text())
    example = tomllib.loads(EXAMPLE.read_text())
    assert demo["maic"] == example["maic"]
    assert demo["target"] == example["target"]
    derived = {d["name"]: d for d in demo["derive"]}
    for d in example["derive"]:
        assert derived[d["name"]] == d


def test_maic_target_outside_the_cohort_is_not_estimable():
    spec = {
        "maic": [
            {"endpoint": "OS", "covariates": ["age"], "target": {"age": {"mean": 99.0}}},
        ]
    }
    [e] = _run(spec, _cohort())["maic"]
    assert e["status"] == "not_estimable"
    assert "convex hull" in e["reason"] and "age (target 99" in e["reason"]


# -- spec checks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "code", "where"),
    [
        ({"iptw": [{"treatment": "t", "covariates": ["a"], "estimand": "ATT", "stabilize": True}]},
         "MMS007", "[[iptw]] 1 -> stabilize"),
        ({"iptw": [{"treatment": "t", "covariates": ["a"], "trim_bounds": [0.1, 0.9],
                    "trim_quantile": 0.05}]}, "MMS007", "[[iptw]] 1 -> trim_quantile"),
        ({"iptw": [{"treatment": "t", "covariates": ["a"], "trim_bounds": [0.9, 0.1]}]},
         "MMS004", "[[iptw]] 1 -> trim_bounds"),
        ({"iptw": [{"treatment": "t", "covariates": ["t"]}]}, "MMS007", "[[iptw]] 1 -> covariates"),
        ({"maic": [{"endpoint": "OS", "outcome": "ORR", "covariates": ["a"],
                    "target": {"a": {"mean": 1.0}}}]}, "MMS007", "[[maic]] 1 -> endpoint"),
        ({"maic": [{"endpoint": "OS", "covariates": ["a"],
                    "target": {"a": {"mean": 1.0, "proportion": 0.5}}}]},
         "MMS007", "[[maic]] 1 -> target.a"),
        ({"maic": [{"endpoint": "OS", "covariates": ["a", "b"], "target": {"a": {"mean": 1.0}}}]},
         "MMS005", "[[maic]] 1 -> target"),
        ({"maic": [{"endpoint": "OS", "covariates": ["a"], "target": {"a": {"mean": 1.0}},
                    "comparator": {"estimate": 5.0, "lower": 6.0, "upper": 9.0}}]},
         "MMS004", "[[maic]] 1 -> comparator"),
        ({"maic": [{"endpoint": "OS", "statistic": "survival", "covariates": ["a"],
                    "target": {"a": {"mean": 1.0}}}]}, "MMS005", "[[maic]] 1 -> at"),
        ({"imputation": {"auxiliary_endpoint": "DFS"}}, "MMS003", "imputation.auxiliary_endpoint"),
        ({"target": {"time_zeros": "x"}}, "MMS001", "target.time_zeros"),
    ],
)  # fmt: skip
def test_the_loader_names_each_problem(table, code, where):
    doc = {"data": {"patients": "p.csv"}, **table}
    with pytest.raises(InvalidSpecError) as exc:
        parse_spec(doc, path=Path("study.toml"))
    got = [(i.code, i.where.spec_key) for i in exc.value.issues]
    assert (code, where) in got, got


def test_imputation_table_present_even_when_empty():
    spec = parse_spec({"data": {"patients": "p.csv"}, "imputation": {}}, path=Path("s.toml"))
    assert spec.imputation is not None and spec.imputation.m == 20
    assert parse_spec({"data": {"patients": "p.csv"}}, path=Path("s.toml")).imputation is None


# -- multiple imputation wiring (lung: ph_ecog missing once, wt_loss 14 times) -------------


@pytest.fixture(scope="module")
def lung_mi() -> tuple[dict[str, Any], Any, dict[str, Any]]:
    import mmrwe.stats.imputation as mi

    doc = tomllib.loads((LUNG / "study.toml").read_text())
    doc["compare_proportion"] = [{"outcome": "ECOG2plus", "by": "sex"}]
    doc["cox"] = [{"endpoint": "OS", "terms": ["age", "sex", "wt_loss"]}]
    doc["imputation"] = {"m": 5, "maxit": 5, "seed": 11,
                         "variables": ["ecog_ge_2", "wt_loss", "age", "sex"]}  # fmt: skip
    captured: dict[str, Any] = {}
    original = mi.mice

    def spy(*args: Any, **kwargs: Any) -> Any:
        captured["res"], captured["kwargs"] = original(*args, **kwargs), kwargs
        return captured["res"]

    mi.mice = spy
    try:
        result = mmrwe.Study(doc, base_dir=LUNG).run()
    finally:
        mi.mice = original
    return result.to_dict(), captured["res"], captured["kwargs"]


def test_lung_imputation_pools_cox_logistic_and_proportion(lung_mi):
    from mmrwe.stats.cox import cox_fit
    from mmrwe.stats.imputation import pool_cox, pool_logistic, pool_proportion
    from mmrwe.stats.logistic import logistic_fit

    r, res, kwargs = lung_mi
    assert kwargs["auxiliary"].keys() >= {"OS_event", "OS_cumhaz", "OS_cumhaz*age",
                                          "OS_cumhaz*sex=M"}  # fmt: skip
    assert res.m == 5 and res.n_missing == {"ecog_ge_2": 1, "wt_loss": 14, "age": 0, "sex": 0}
    lung = pd.read_csv(LUNG / "patients.csv")
    dead = lung["death_date"].notna().to_numpy()
    days = (pd.to_datetime(lung["last_followup_date"]) - pd.to_datetime(lung["start_date"])).dt.days
    t = days.to_numpy() / 30.4375
    data = [res.complete(k) for k in range(res.m)]
    # Cox: the same model refitted on every completed data set, pooled
    fits = [
        cox_fit(t, dead, np.column_stack([d["age"], d["sex"] == "M", d["wt_loss"]]).astype(float),
                names=["age", "sex=M", "wt_loss"])
        for d in data
    ]  # fmt: skip
    want = pool_cox(fits).to_dict()["terms"]
    got = r["cox"][0]["imputed"]["coefficients"]
    for name in ("age", "sex=M", "wt_loss"):
        assert got[name]["coef"] == pytest.approx(want[name]["estimate"], rel=1e-12)
        assert got[name]["fmi"] == pytest.approx(want[name]["fmi"], rel=1e-12)
    assert r["cox"][0]["n_excluded_missing"] == 14 and r["cox"][0]["imputed"]["n"] == 228
    # logistic: ECOG >= 2 by sex, and the proportion, on the completed ecog_ge_2
    lfits = [
        logistic_fit((d["ecog_ge_2"] == "yes").astype(float), (d["sex"] == "M").astype(float)[:, None],
                     names=["sex=M"], ci="wald")
        for d in data
    ]  # fmt: skip
    lw = pool_logistic(lfits).to_dict()["terms"]["sex=M"]
    lg = r["proportion_comparisons"][0]["imputed"]
    assert lg["odds_ratio"] == pytest.approx(lw["transformed"]["estimate"], rel=1e-12)
    assert lg["p"] == pytest.approx(lw["p"], rel=1e-12)
    counts = [int((d["ecog_ge_2"] == "yes").sum()) for d in data]
    pw = pool_proportion(counts, 228).to_dict()["terms"]["proportion"]["transformed"]
    pg = r["proportions"][0]["imputed"]
    assert pg["successes"] == counts
    assert (pg["estimate"], pg["lower"], pg["upper"]) == pytest.approx(
        (pw["estimate"], pw["lower"], pw["upper"]), rel=1e-12
    )
    assert [a["spec_key"] for a in r["imputation"]["analyses"]] == [
        "[[cox]] 1", "[[compare_proportion]] 1", "[[proportion]] 1"]  # fmt: skip


def test_lung_imputation_is_deterministic(lung_mi):
    r, _, _ = lung_mi
    doc = tomllib.loads((LUNG / "study.toml").read_text())
    doc["cox"] = [{"endpoint": "OS", "terms": ["age", "sex", "wt_loss"]}]
    doc["compare_proportion"] = [{"outcome": "ECOG2plus", "by": "sex"}]
    doc["imputation"] = {"m": 5, "maxit": 5, "seed": 11,
                         "variables": ["ecog_ge_2", "wt_loss", "age", "sex"]}  # fmt: skip
    again = mmrwe.Study(doc, base_dir=LUNG).run().to_dict()
    assert again["cox"][0]["imputed"] == r["cox"][0]["imputed"]
    assert again["imputation"] == r["imputation"]


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"iptw": [{"treatment": "treat", "covariates": ["age", "nosuch"]}]}, "iptw[0].covariates"),
        ({"maic": [{"endpoint": "OS", "covariates": ["nosuch"],
                    "target": {"nosuch": {"mean": 1.0}}}]}, "maic[0].covariates"),
        ({"imputation": {"variables": ["nosuch"]}}, "imputation.variables"),
    ],
)  # fmt: skip
def test_a_column_the_table_lacks_is_a_validation_error(table, key):
    with pytest.raises(mmrwe.ValidationError) as exc:
        _run(table, _cohort())
    assert any(i.code == "MMV014" and i.where.spec_key == key for i in exc.value.issues)
