"""The demo's lab and therapy tables derive the patient file's response columns exactly."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmrwe.derive.response import ResponseParams, derive_response
from mmrwe.io import read_table
from mmrwe.study.demo import demo_dir

ROOT = Path(__file__).resolve().parents[2]


def _patients() -> tuple[pd.DataFrame, pd.DataFrame]:
    src = pd.read_csv(demo_dir() / "patients.csv", dtype=str, keep_default_na=False)
    pts = src.copy()
    for c in ("start_date", "progression_date", "death_date", "last_followup_date"):
        pts[c] = pd.to_datetime(pts[c].replace("", None))
    return src, pts


@pytest.fixture(scope="module", params=["duckdb", "pandas"])
def derived(request: pytest.FixtureRequest):
    src, pts = _patients()
    res = derive_response(
        pts,
        read_table(demo_dir() / "labs.csv"),
        read_table(demo_dir() / "therapy.csv"),
        ResponseParams(),
        engine=request.param,
    )
    return src, res


def test_best_response_reproduced(derived):
    src, res = derived
    assert res.per_patient["best_response"].tolist() == src["best_response"].tolist()
    counts = res.per_patient["best_response"].value_counts()
    assert [counts.get(k, 0) for k in ("sCR", "CR", "VGPR", "PR")] == [3, 4, 7, 15]


def test_progression_date_reproduced(derived):
    src, res = derived
    got = res.per_patient["progression_date"].dt.strftime("%Y-%m-%d").fillna("")
    assert got.tolist() == src["progression_date"].tolist()


def test_tcr_and_prior_lines_reproduced(derived):
    src, res = derived
    assert res.per_patient["tcr"].tolist() == src["tcr"].tolist()
    assert (
        res.per_patient["prior_lines"].astype(int).tolist()
        == src["prior_lines"].astype(int).tolist()
    )


def test_months_from_dara_refractory_close(derived):
    # the patient file rounds to 0.1 month; the therapy table is in whole days
    src, res = derived
    diff = res.per_patient["months_from_dara_refractory"] - src[
        "months_from_dara_refractory"
    ].astype(float)
    assert np.abs(diff).max() <= 0.05


def test_demo_has_no_errors_and_mixes_units_and_routes(derived):
    _, res = derived
    assert not [i for i in res.issues if i.severity == "error"]
    # the one warning: SYN-005's single PD reading before the next line (by design)
    assert [(i.code, i.where.patient_id) for i in res.issues] == [("MML014", "SYN-005")]
    units = res.parameters["units_seen"]
    assert set(units["serum_m_protein"]) == {"g/dL", "g/L"}
    assert set(units["urine_m_protein"]) == {"mg/24h", "g/24h"}
    assert set(units["flc_kappa"]) == {"mg/dL", "mg/L"}
    assert set(res.per_patient["measurable_by"]) == {"serum", "urine", "flc"}


def test_generator_reproduces_shipped_files():
    spec = importlib.util.spec_from_file_location(
        "make_demo_labs", ROOT / "scripts" / "make_demo_labs.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    patients = pd.read_csv(demo_dir() / "patients.csv", dtype=str, keep_default_na=False)
    labs, therapy = mod.build(patients)
    assert labs.to_csv(index=False, lineterminator="\n") == (demo_dir() / "labs.csv").read_text()
    assert (
        therapy.to_csv(index=False, lineterminator="\n") == (demo_dir() / "therapy.csv").read_text()
    )
