"""derive_response: signature, result shape, audit trail, parameters, errors."""

from __future__ import annotations

import json
import math
import pathlib

import numpy as np
import pandas as pd
import pytest

from mmrwe.core.errors import DerivationError
from mmrwe.derive.imwg import FAIL_BITS, LEVELS
from mmrwe.derive.response import (
    PER_PATIENT_COLUMNS,
    ResponseDerivation,
    ResponseParams,
    derive_response,
)
from mmrwe.io.readers import SourceTable


def labs_src(rows: list[tuple]) -> SourceTable:
    f = pd.DataFrame(rows, columns=["patient_id", "date", "test", "value", "unit"], dtype=object)
    return SourceTable(pathlib.Path("labs.csv"), "csv", f, tuple(range(2, len(f) + 2)), "")


def therapy_src(rows: list[tuple]) -> SourceTable:
    cols = ["patient_id", "agents", "start_date", "end_date", "reason_end", "progression_date"]
    f = pd.DataFrame(rows, columns=cols, dtype=object)
    return SourceTable(pathlib.Path("therapy.csv"), "csv", f, tuple(range(2, len(f) + 2)), "")


PTS = pd.DataFrame(
    {
        "patient_id": ["b", "a"],  # not sorted: output keeps this order
        "start_date": pd.to_datetime(["2022-01-01", "2022-01-01"]),
        "death_date": pd.to_datetime([None, None]),
        "last_followup_date": pd.to_datetime(["2023-01-01", "2023-01-01"]),
        "progression_date": pd.to_datetime(["2022-04-01", None]),
    }
)
LABS = [
    # patient b: 3.0 -> 1.2 (60 %) -> 1.1 (63 %): PR on 2022-02-01; 1.8 and 1.9: rise 0.7 and
    # 0.8 from nadir 1.1 (>= 0.5 and >= 25 %): PD dated 2022-04-01
    ("b", "2021-12-28", "serum_m_protein", "3.0", "g/dL"),
    ("b", "2022-02-01", "serum_m_protein", "1.2", "g/dL"),
    ("b", "2022-03-01", "serum_m_protein", "1.1", "g/dL"),
    ("b", "2022-04-01", "serum_m_protein", "1.8", "g/dL"),
    ("b", "2022-04-15", "serum_m_protein", "1.9", "g/dL"),
    # patient a: kappa 800 mg/L = 80 mg/dL, lambda 1.0: FLC route, dFLC 79 -> 4 (95 %) VGPR
    ("a", "2021-12-30", "flc_kappa", "800", "mg/L"),
    ("a", "2021-12-30", "flc_lambda", "10", "mg/L"),
    ("a", "2022-02-01", "flc_kappa", "5", "mg/dL"),
    ("a", "2022-02-01", "flc_lambda", "1", "mg/dL"),
    ("a", "2022-03-01", "flc_kappa", "5", "mg/dL"),
    ("a", "2022-03-01", "flc_lambda", "1", "mg/dL"),
]
THERAPY = [
    ("b", "bortezomib;lenalidomide;dexamethasone", "2020-01-01", "2021-06-01", "progression",
     "2021-05-20"),
    ("b", "daratumumab;pomalidomide;dexamethasone", "2021-06-10", "2021-12-20", "progression",
     "2021-12-10"),
    ("b", "isatuximab;pomalidomide;dexamethasone", "2022-01-01", "2022-04-20", "progression",
     "2022-04-01"),
    ("b", "teclistamab", "2022-05-01", None, None, None),
]  # fmt: skip


@pytest.fixture(scope="module", params=["duckdb", "pandas"])
def res(request: pytest.FixtureRequest) -> ResponseDerivation:
    return derive_response(PTS, labs_src(LABS), therapy_src(THERAPY), ResponseParams(),
                           engine=request.param)  # fmt: skip


def test_one_row_per_patient_in_input_order(res):
    p = res.per_patient
    assert list(p.columns) == list(PER_PATIENT_COLUMNS)
    assert p["patient_id"].tolist() == ["b", "a"]
    assert p["best_response"].tolist() == ["PR", "VGPR"]
    assert p["measurable_by"].tolist() == ["serum", "flc"]
    assert p["best_response_date"].dt.strftime("%Y-%m-%d").tolist() == ["2022-02-01", "2022-02-01"]
    assert p["progression_date"].dt.strftime("%Y-%m-%d").fillna("").tolist() == ["2022-04-01", ""]
    assert str(p["progression_date"].dtype) == "datetime64[ns]"
    assert p["pd_date_agreement"].tolist() == ["same", "neither"]


def test_therapy_columns(res):
    b = res.per_patient.iloc[0]
    assert b["prior_lines"] == 2
    assert (b["refractory_classes"], b["tcr"], b["penta_refractory"]) == (
        "PI;IMiD;anti-CD38", "yes", "no",
    )  # fmt: skip
    # anti-CD38 refractory on 2021-12-10 (PD on therapy): 22 days before day 0
    assert b["months_from_dara_refractory"] == pytest.approx(22 / 30.4375)
    assert b["months_from_last_dara_dose"] == pytest.approx(12 / 30.4375)
    assert b["next_line_date"] == pd.Timestamp("2022-05-01")
    a = res.per_patient.iloc[1]
    assert pd.isna(a["prior_lines"]) and a["tcr"] == ""  # no therapy rows for a


def test_audit_is_json_ready_and_complete(res):
    assert len(res.audit) == 2
    b = res.audit[0]
    assert json.loads(json.dumps(b)) == b
    assert b["patient_id"] == "b"
    assert b["route_rule"] == "serum M-protein 3.0 g/dL >= 1.0 g/dL"
    assert b["baseline"]["serum_m_protein_g_dl"] == 3.0
    assert [x["date"] for x in b["assessments"]] == ["2022-02-01", "2022-03-01", "2022-04-01",
                                                     "2022-04-15"]  # fmt: skip
    assert [x["reading"] for x in b["assessments"]] == ["PR", "PR", "PD", "PD"]
    assert b["assessments"][2]["nadir"] == {"serum_m_protein_g_dl": 1.1}
    assert "confirmed by two consecutive assessments (2022-02-01, 2022-03-01)" in b[
        "best_response"]["rule"]  # fmt: skip
    why = {(w["category"], w["requirement_not_met"]) for w in b["best_response"]["why_not_higher"]}
    assert ("VGPR", "serum M-protein reduced < 90 % and still seen on electrophoresis") in why
    assert ("CR", "serum immunofixation not done") in why
    assert b["progression"]["criteria"] == [
        "serum M-protein rise from nadir (>= 0.5 g/dL and >= 25 %, or >= 1 g/dL when nadir >= 5 "
        "g/dL)"
    ]
    assert "confirmed by the next assessment on 2022-04-15" in b["progression"]["confirmation"]
    regs = b["therapy"]["regimens"]
    assert [r["line_used"] for r in regs] == [1, 2, 3, 4]
    assert regs[1]["refractory_rule"] == "progression while on it"
    assert b["response_window"]["ends_because"] == "the next line starts on 2022-05-01"
    a = res.audit[1]
    assert a["baseline"]["involved_chain"] == "kappa" and a["baseline"]["dflc_mg_dl"] == 79.0
    assert a["therapy"] is None


def test_audit_access_paths_agree(res, tmp_path):
    items = list(res.audit)
    assert items == res.audit[0:2] == [res.audit[0], res.audit[-1]]
    path = res.audit.write_jsonl(tmp_path / "response_audit.jsonl")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(s) for s in lines] == items
    with pytest.raises(IndexError):
        res.audit[2]


def test_audit_identical_between_engines():
    a = derive_response(PTS, labs_src(LABS), therapy_src(THERAPY), ResponseParams())
    b = derive_response(PTS, labs_src(LABS), therapy_src(THERAPY), ResponseParams(),
                        engine="pandas")  # fmt: skip
    assert list(a.audit.lines()) == list(b.audit.lines())


def test_parameters_recorded_json_ready(res):
    p = res.parameters
    text = json.dumps(p, allow_nan=False)  # no NaN or inf
    assert "IMWG 2016" in p["criteria"]
    assert p["measurable_serum_g_dl"] == 1.0 and p["refractory_window_days"] == 60
    assert p["refractory_window_inclusive"] is True
    assert p["units_seen"]["flc_kappa"] == {"mg/L": 1, "mg/dL": 2}
    assert set(p["audit_fail_codes"]) == {name for name, _, _ in FAIL_BITS}
    assert json.loads(text) == p


def test_issues_are_json_ready(res):
    for i in res.issues:
        json.dumps(i.to_dict(), allow_nan=False)


def test_no_labs_no_therapy():
    r = derive_response(PTS, labs_src([]), None, ResponseParams())
    assert r.per_patient["best_response"].tolist() == ["NE", "NE"]
    assert {i.code for i in r.issues} == {"MML015"}
    assert r.audit[0]["best_response"]["rule"] == "NE: no measurable disease at baseline"
    assert r.therapy_rows is None


def test_missing_patient_column_raises():
    with pytest.raises(DerivationError, match="start_date"):
        derive_response(PTS.drop(columns="start_date"), labs_src(LABS), None, ResponseParams())


def test_unknown_engine_raises():
    with pytest.raises(ValueError, match="engine"):
        derive_response(PTS, labs_src(LABS), None, ResponseParams(), engine="polars")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"measurable_serum_g_dl": 0.0},
        {"refractory_threshold": "VGPR"},
        {"refractory_window_days": -1},
        {"baseline_window_days": -5},
        {"unconfirmed_pd_bor": "SD"},
        {"scr_without_clonality": "yes"},
    ],
)
def test_bad_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        ResponseParams(**kwargs)


def test_levels_order():
    assert LEVELS == ("PD", "SD", "MR", "PR", "VGPR", "CR", "sCR")


def test_missing_last_followup_is_no_upper_bound():
    pts = PTS.assign(last_followup_date=pd.NaT)
    r = derive_response(pts, labs_src(LABS), None, ResponseParams())
    assert r.per_patient["best_response"].tolist() == ["PR", "VGPR"]
    assert r.per_patient["response_window_end"].isna().all()
    assert not math.isnan(r.per_patient["n_assessments"].sum())
    assert np.all(r.per_patient["n_assessments"].to_numpy() == [4, 2])
