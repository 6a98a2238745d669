"""Therapy table: agent names, row checks, and identical engines on random regimen histories."""

from __future__ import annotations

import datetime as dt
import pathlib

import numpy as np
import pandas as pd
import pytest

from mmrwe.core.errors import SchemaError
from mmrwe.derive.imwg import ResponseParams
from mmrwe.derive.therapy import (
    AGENT_CLASS,
    CLASS_ORDER,
    derive_therapy,
    harmonize_therapy,
    normalise_agent,
)
from mmrwe.io.readers import SourceTable

COLS = ["patient_id", "agents", "start_date", "end_date", "reason_end", "progression_date"]
PTS = pd.DataFrame({"patient_id": ["p1", "p2"],
                    "start_date": pd.to_datetime(["2022-01-01", "2022-01-01"])})  # fmt: skip


def src(rows: list[dict], cols: list[str] = COLS) -> SourceTable:
    f = pd.DataFrame(rows, columns=cols, dtype=object)
    f = f.where(f.notna(), None)
    return SourceTable(pathlib.Path("therapy.csv"), "csv", f, tuple(range(2, len(f) + 2)), "")


@pytest.mark.parametrize(
    ("name", "generic"),
    [("Velcade", "bortezomib"), ("daratumumab SC", "daratumumab"), ("Dara-SC", "daratumumab"),
     ("dex", "dexamethasone"), ("Auto-SCT", "asct"), ("Pomalyst", "pomalidomide"),
     ("belantamab mafodotin", "belantamab_mafodotin"), ("  Lenalidomide ", "lenalidomide")],
)  # fmt: skip
def test_agent_names(name, generic):
    assert normalise_agent(name) == generic


def test_classes_of_the_domain_table():
    for a in ("bortezomib", "carfilzomib", "ixazomib"):
        assert AGENT_CLASS[a] == "PI"
    for a in ("thalidomide", "lenalidomide", "pomalidomide"):
        assert AGENT_CLASS[a] == "IMiD"
    for a in ("daratumumab", "isatuximab"):
        assert AGENT_CLASS[a] == "anti-CD38"
    assert CLASS_ORDER[:3] == ("PI", "IMiD", "anti-CD38")


def test_missing_column():
    with pytest.raises(SchemaError, match="progression_date"):
        harmonize_therapy(src([], COLS[:-1]), PTS, ResponseParams())


@pytest.mark.parametrize(
    ("row", "code", "severity"),
    [
        (("p9", "lenalidomide", "2021-01-01", None, None, None), "MML022", "error"),
        (("p1", "lenalidomide", "2021-13-01", None, None, None), "MML021", "error"),
        (("p1", "lenalidomide", None, None, None, None), "MML021", "error"),
        (("p1", "lenalidomide", "2021-01-01", "2020-12-01", None, None), "MML024", "error"),
        (("p1", "lenalidomide", "2021-01-01", "2021-06-01", "relapse", None), "MML026", "warning"),
        (("p1", "lenalidomide", "2021-01-01", "2021-06-01", "progression", None), "MML028",
         "warning"),
        (("p1", "lenalidomide", "2021-01-01", None, None, None), "MML029", "warning"),
        (("p1", "", "2021-01-01", "2021-06-01", None, None), "MML030", "error"),
        (("p1", "lenalidomide;wonderumab", "2021-01-01", "2021-06-01", None, None), "MML023",
         "warning"),
    ],
)  # fmt: skip
def test_row_checks(row, code, severity):
    index = ("p1", "isatuximab;pomalidomide;dexamethasone", "2022-01-01", None, None, None)
    ht = harmonize_therapy(src([row, index]), PTS, ResponseParams())
    found = [(i.code, i.severity) for i in ht.issues]
    assert (code, severity) in found
    (i,) = [i for i in ht.issues if i.code == code]
    assert i.where.file == "therapy.csv" and (i.where.row == 2 or code == "MML025")


def test_missing_index_regimen():
    ht = harmonize_therapy(src([("p1", "lenalidomide", "2021-01-01", "2021-06-01", None, None)]),
                           PTS, ResponseParams())  # fmt: skip
    assert [(i.code, i.where.patient_id) for i in ht.issues] == [("MML025", "p1")]


def test_best_response_column_checked():
    cols = [*COLS, "best_response"]
    ht = harmonize_therapy(src([("p1", "lenalidomide", "2021-01-01", "2021-06-01", None, None,
                                 "good")], cols), PTS, ResponseParams())  # fmt: skip
    assert "MML031" in {i.code for i in ht.issues}


POOL = ["bortezomib;lenalidomide;dexamethasone", "lenalidomide;dexamethasone", "lenalidomide",
        "daratumumab;lenalidomide;dexamethasone", "daratumumab", "carfilzomib;dexamethasone",
        "pomalidomide;dexamethasone", "melphalan;asct", "zoledronic_acid",
        "isatuximab;pomalidomide;dexamethasone", "daratumumab;bortezomib;dexamethasone",
        "selinexor;dexamethasone", "dexamethasone"]  # fmt: skip


def random_therapy(n_pat: int, seed: int) -> tuple[pd.DataFrame, SourceTable]:
    """Random regimen sequences: overlaps, pauses, progressions, planned phases, entered lines."""
    rng = np.random.default_rng(seed)
    day0 = dt.date(2022, 1, 1)
    rows = []
    for p in range(n_pat):
        t = -int(rng.integers(200, 1500))
        entered = rng.random() < 0.2
        line = 0
        for _ in range(int(rng.integers(0, 7))):
            dur = int(rng.integers(20, 300))
            end = t + dur if rng.random() < 0.9 else None
            reason = rng.choice(["progression", "toxicity", "completed", "other", ""])
            prog = None
            if reason == "progression" or rng.random() < 0.2:
                prog = (end if end is not None else t + dur) + int(rng.integers(-10, 80))
                prog = max(prog, t)
            line += int(rng.random() < 0.6) or int(line == 0)
            rows.append({
                "patient_id": f"r{p}", "agents": POOL[int(rng.integers(0, len(POOL)))],
                "start_date": (day0 + dt.timedelta(days=t)).isoformat(),
                "end_date": None if end is None else (day0 + dt.timedelta(days=end)).isoformat(),
                "reason_end": reason or None,
                "progression_date": None if prog is None else
                (day0 + dt.timedelta(days=prog)).isoformat(),
                "planned_phase": rng.choice(["", "maintenance", "asct", "induction"],
                                            p=[0.7, 0.1, 0.1, 0.1]) or None,
                "line": str(line) if entered else None,
                "best_response": rng.choice(["", "PD", "SD", "MR", "PR", "VGPR"]) or None,
            })  # fmt: skip
            t += dur + int(rng.integers(-40, 60))  # overlaps and pauses
        if rng.random() < 0.8:
            rows.append({"patient_id": f"r{p}", "agents": POOL[9], "start_date": day0.isoformat(),
                         "line": str(line + 1) if entered else None})  # fmt: skip
            if rng.random() < 0.4:
                rows.append({"patient_id": f"r{p}", "agents": POOL[11],
                             "start_date": (day0 + dt.timedelta(days=int(rng.integers(30, 400)))).isoformat(),
                             "line": str(line + 2) if entered else None})  # fmt: skip
    cols = [*COLS, "planned_phase", "line", "best_response"]
    f = pd.DataFrame(rows, columns=cols).astype(object)
    f = f.where(f.notna(), None)
    pts = pd.DataFrame({"patient_id": [f"r{p}" for p in range(n_pat)],
                        "start_date": pd.to_datetime([day0] * n_pat)})  # fmt: skip
    return pts, SourceTable(pathlib.Path("therapy.csv"), "csv", f, tuple(range(2, len(f) + 2)), "")


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    "params",
    [ResponseParams(), ResponseParams(refractory_threshold="PR", refractory_window_days=90,
                                      steroid_change_opens_line=True, regimen_merge_days=0)],
)  # fmt: skip
def test_engines_identical_on_random_histories(seed, params):
    pts, th = random_therapy(150, seed)
    ht = harmonize_therapy(th, pts, params)
    day0 = pts["start_date"].to_numpy(dtype="datetime64[D]").astype(float)
    a = derive_therapy(ht, day0, params, engine="duckdb")
    b = derive_therapy(ht, day0, params, engine="pandas")
    pd.testing.assert_frame_equal(a.rows, b.rows)
    pd.testing.assert_frame_equal(a.patients, b.patients)
    # sanity: lines are numbered from 1 without gaps per patient, refractory rows before day 0
    r = a.rows.dropna(subset=["line_derived"])
    first = r.groupby("pid")["line_derived"].min()
    assert (first == 1).all()
    assert (a.rows.loc[a.rows["refractory"], "ref_date"] <= day0[0]).all()
