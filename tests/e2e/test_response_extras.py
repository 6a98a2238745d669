"""Wiring of the response extras on the demo: profile, agreement with the recorded response,
anti-CD38 interference counts, and the immortal-time check (with and without a guard)."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import mmrwe
from mmrwe.stats.agreement import cohen_kappa
from mmrwe.study.demo import demo_dir
from mmrwe.tables.build import source_of
from mmrwe.tables.model import Ref
from mmrwe.tables.text import results_text

# recorded best responses changed at the "site": three disagreements with the derivation
RECORDED = {"SYN-002": "VGPR", "SYN-004": "PR", "SYN-005": "SD"}
ISOTYPE = {"SYN-001": "IgG kappa", "SYN-009": "IgA lambda"}  # two of the four flagged


def _spec(extra: dict[str, Any]) -> dict[str, Any]:
    spec = tomllib.loads((demo_dir() / "study.toml").read_text())
    for key in (
        "cutpoint",
        "cox",
        "compare_proportion",
        "table1",
        "proportion",
        "maic",
        "iptw",
        "imputation",
        "subgroup",
        "cuminc",
        "finegray",
        "rmst",
        "published",
    ):
        spec.pop(key, None)  # not needed here: keeps the run short
    spec["km"].pop("landmark_from")
    return spec | extra


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("extras")
    for f in demo_dir().iterdir():
        shutil.copy(f, d / f.name)
    p = pd.read_csv(d / "patients.csv", dtype=str, keep_default_na=False)
    for pid, v in RECORDED.items():
        p.loc[p["patient_id"] == pid, "best_response"] = v
    p["isotype"] = p["patient_id"].map(ISOTYPE).fillna("")
    p.to_csv(d / "patients.csv", index=False)
    return d


@pytest.fixture(scope="module")
def run(folder: Path) -> mmrwe.StudyResult:
    spec = _spec({"logrank": [{"endpoint": "OS", "by": "best_response"}]})
    spec["response"]["profile"] = "relaxed"
    return mmrwe.Study(spec, base_dir=folder).run()


def test_agreement_is_kappa_of_the_derived_against_the_recorded_response(run, folder) -> None:
    ag = run.to_dict()["response_derivation"]["agreement"]
    derived = run.derived_patients.set_index("patient_id")["best_response"]
    recorded = pd.read_csv(folder / "patients.csv", dtype=str).set_index("patient_id")
    recorded = recorded["best_response"].reindex(derived.index)
    assert int((derived != recorded).sum()) == 3
    want = cohen_kappa(
        derived.to_numpy(object), recorded.to_numpy(object), ag["depth"]["categories"]
    )
    assert ag["depth"]["kappa"] == pytest.approx(want.kappa, rel=1e-12)
    assert ag["depth"]["table"]["PR"]["VGPR"] == 1  # SYN-002: derived PR, recorded VGPR
    assert ag["depth"]["n"] == 51 and ag["orr"]["status"] == "ok"
    # SYN-002 stays a responder, SYN-004 (SD -> PR) and SYN-005 (PD -> SD) change ORR once
    t = ag["orr"]["table"]
    assert t["no"]["yes"] == 1 and t["yes"]["no"] == 0
    assert np.isclose(ag["orr"]["observed_agreement"], 50 / 51)


def test_profile_and_anti_cd38_counts_are_recorded(run) -> None:
    rd = run.to_dict()["response_derivation"]
    assert rd["profile"] == "relaxed" and rd["parameters"]["profile"] == "relaxed"
    assert "one assessment" in rd["parameters"]["profile_rules"]
    cd = rd["anti_cd38_interference"]
    assert cd["counts"] == {"yes": 1, "possible": 2, "no": 48}
    assert (cd["n_flagged"], cd["n_anti_cd38_in_line"]) == (3, 51)
    flags = run.derived_patients.set_index("patient_id")["anti_cd38_interference"]
    assert flags["SYN-001"] == "yes" and flags["SYN-009"] == "no" and flags["SYN-031"] == "possible"


def _text(results: Any) -> str:
    parts = dict(results_text(source_of(results)))["Survival by group"]
    return "".join(p.text if isinstance(p, Ref) else p for p in parts if isinstance(p, str | Ref))


def test_survival_by_response_without_a_guard_is_flagged(run) -> None:
    guard = run.to_dict()["immortal_time_bias"]
    assert guard["analyses"] == [
        {"spec_key": "[[logrank]] 1", "endpoint": "OS", "variable": "best_response"}]  # fmt: skip
    assert not guard["landmark_analysis"] and not guard["time_varying_cox"]
    assert "immortal time bias" in guard["warning"]
    assert any("immortal time bias" in w for w in run.warnings)
    assert "subject to immortal time bias" in _text(run.results)


def test_a_landmark_analysis_guards_the_comparison(folder) -> None:
    spec = _spec({"logrank": [{"endpoint": "OS", "by": "best_response"}]})
    spec["km"]["landmark_from"] = 6
    res = mmrwe.Study(spec, base_dir=folder).run()
    guard = res.to_dict()["immortal_time_bias"]
    assert guard["landmark_analysis"] and guard["warning"] is None
    assert "immortal time bias" not in _text(res.results)


def test_no_comparison_by_response_writes_no_section(folder) -> None:
    res = mmrwe.Study(_spec({"logrank": [{"endpoint": "OS", "by": "tcr"}]}), base_dir=folder).run()
    assert "immortal_time_bias" not in res.to_dict()


def test_a_next_line_after_the_last_follow_up_is_refused_for_ttnt(tmp_path: Path) -> None:
    for f in demo_dir().iterdir():
        shutil.copy(f, tmp_path / f.name)
    th = pd.read_csv(tmp_path / "therapy.csv", dtype=str, keep_default_na=False)
    # SYN-002 was last seen on 2024-06-30; a next line recorded as starting after it
    th.loc[(th["patient_id"] == "SYN-002") & (th["regimen"] == "Talq"), "start_date"] = "2024-08-01"
    th.to_csv(tmp_path / "therapy.csv", index=False)
    spec = _spec({})
    spec["km"]["endpoints"] = ["PFS", "OS", "TTNT"]
    with pytest.raises(mmrwe.MmrweError) as err:
        mmrwe.Study(spec, base_dir=tmp_path).run()
    assert "TTNT" in err.value.what and "SYN-002" in err.value.what
    assert "after their last_followup_date" in err.value.what
