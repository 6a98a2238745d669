# ruff: noqa: C408  (dict(...) keeps the case table readable)
"""Truth table: lines of therapy (Rajkumar 2015) and refractoriness (IMWG 2011), written by
hand from docs/clinical.md sections 3-4. Day 0 = 2022-01-01; dates are days from day 0. Each
therapy row: (agents, start, end, reason_end, progression, extra columns)."""

from __future__ import annotations

import datetime as dt
import functools
import pathlib
from typing import Any

import pandas as pd
import pytest

from mmrwe.derive.response import ResponseParams, derive_response
from mmrwe.io.readers import SourceTable

DAY0 = dt.date(2022, 1, 1)
ISA_PD = "isatuximab;pomalidomide;dexamethasone"
VRD = "bortezomib;lenalidomide;dexamethasone"


def d(n: int | None) -> str | None:
    return None if n is None else (DAY0 + dt.timedelta(days=n)).isoformat()


def row(agents: str, start: int, end: int | None = None, reason: str | None = None,
        prog: int | None = None, **extra: Any) -> dict[str, Any]:  # fmt: skip
    return dict(agents=agents, start_date=d(start), end_date=d(end), reason_end=reason,
                progression_date=d(prog), **extra)  # fmt: skip


INDEX = row(ISA_PD, 0)

CASES: list[dict[str, Any]] = [
    # ------------------------------------------------------------ refractoriness window
    dict(
        id="PD 29 days after the last dose: refractory",
        rows=[row(VRD, -400, -200, "progression", -171), INDEX],
        expect=dict(
            prior_lines=1,
            refractory_classes="PI;IMiD",
            tcr="no",
            refractory_agents="bortezomib;lenalidomide",
        ),
    ),
    dict(
        id="PD on day 60 after the last dose: refractory (window inclusive)",
        rows=[row(VRD, -400, -200, "progression", -140), INDEX],
        expect=dict(refractory_classes="PI;IMiD"),
    ),
    dict(
        id="PD on day 61 after the last dose: not refractory",
        rows=[row(VRD, -400, -200, "progression", -139), INDEX],
        expect=dict(refractory_classes="", prior_lines=1),
    ),
    dict(
        id="PD while on therapy: refractory",
        rows=[row(VRD, -300, -50, "progression", -100), INDEX],
        expect=dict(refractory_classes="PI;IMiD"),
    ),
    dict(
        id="refractory_window_days = 90 makes PD 61 days after the last dose refractory",
        rows=[row(VRD, -400, -200, "progression", -139), INDEX],
        params=dict(refractory_window_days=90),
        expect=dict(refractory_classes="PI;IMiD"),
    ),
    dict(
        id="nonresponsive: best response SD on the regimen is refractory",
        rows=[row(VRD, -400, -200, "toxicity", None, best_response="SD"), INDEX],
        expect=dict(refractory_classes="PI;IMiD"),
    ),
    dict(
        id="MR on the regimen meets the default threshold: not refractory",
        rows=[row(VRD, -400, -200, "toxicity", None, best_response="MR"), INDEX],
        expect=dict(refractory_classes=""),
    ),
    dict(
        id="MR on the regimen is refractory when refractory_threshold = PR",
        rows=[row(VRD, -400, -200, "toxicity", None, best_response="MR"), INDEX],
        params=dict(refractory_threshold="PR"),
        expect=dict(refractory_classes="PI;IMiD"),
    ),
    dict(
        id="progression after day 0 does not make a prior regimen refractory",
        rows=[row(VRD, -400, None, None, 20), INDEX],
        expect=dict(refractory_classes=""),
    ),
    dict(
        id="reason_end progression without a date: the end date is used",
        rows=[row(VRD, -400, -200, "progression", None), INDEX],
        expect=dict(refractory_classes="PI;IMiD", issues=["MML028"]),
    ),
    # ------------------------------------------------------------ classes
    dict(
        id="triple-class refractory across lines; anti-CD38 refractoriness date",
        # line 1 VRd: PD on it (-500); line 2 Dara-Kd: PD 9 days after the last dose (-61)
        rows=[
            row(VRD, -800, -480, "progression", -500),
            row("daratumumab;carfilzomib;dexamethasone", -470, -70, "progression", -61),
            INDEX,
        ],
        expect=dict(
            prior_lines=2,
            refractory_classes="PI;IMiD;anti-CD38",
            tcr="yes",
            penta_refractory="no",
            tce="yes",
            dara_refractory_date=-61,
            months_from_dara_refractory=61 / 30.4375,
            last_dara_dose_date=-70,
        ),
    ),
    dict(
        id="exposed but not refractory to a PI: not triple-class refractory",
        rows=[
            row(VRD, -900, -700, "completed", None),
            row("daratumumab;lenalidomide;dexamethasone", -400, -30, "progression", -40),
            INDEX,
        ],
        expect=dict(prior_lines=2, refractory_classes="IMiD;anti-CD38", tcr="no", tce="yes"),
    ),
    dict(
        id="penta-refractory: anti-CD38, bortezomib, carfilzomib, lenalidomide, pomalidomide",
        rows=[
            row(VRD, -900, -700, "progression", -710),
            row("carfilzomib;pomalidomide;dexamethasone", -690, -400, "progression", -420),
            row("daratumumab;dexamethasone", -390, -20, "progression", -30),
            INDEX,
        ],
        expect=dict(
            prior_lines=3, tcr="yes", penta_refractory="yes", refractory_classes="PI;IMiD;anti-CD38"
        ),
    ),
    # ------------------------------------------------------------ lines of therapy
    dict(
        id="planned induction, ASCT and maintenance are one line",
        # maintenance lenalidomide progresses on therapy (-90); bortezomib's last dose was
        # 710 days before that: not refractory
        rows=[
            row(VRD, -900, -800, "completed", None, planned_phase="induction"),
            row("melphalan;asct", -780, -779, "completed", None, planned_phase="asct"),
            row("lenalidomide", -700, -85, "progression", -90, planned_phase="maintenance"),
            row("daratumumab;pomalidomide;dexamethasone", -80, -10, "progression", -15),
            INDEX,
        ],
        expect=dict(
            prior_lines=2,
            refractory_classes="IMiD;anti-CD38",
            refractory_agents="daratumumab;lenalidomide;pomalidomide",
        ),
    ),
    dict(
        id="an ASCT not flagged as planned opens a new line",
        rows=[
            row(VRD, -900, -800, "completed", None),
            row("melphalan;asct", -780, -779, "completed", None),
            row("lenalidomide", -700, -85, "progression", -90, planned_phase="maintenance"),
            INDEX,
        ],
        expect=dict(prior_lines=2),
    ),
    dict(
        id="dropping a drug is not a new line",
        rows=[
            row(VRD, -500, -300, "toxicity", None),
            row("lenalidomide;dexamethasone", -299, -100, "progression", -110),
            INDEX,
        ],
        expect=dict(prior_lines=1),
    ),
    dict(
        id="adding dexamethasone alone is not a new line",
        rows=[
            row("lenalidomide", -500, -300, "other", None),
            row("lenalidomide;dexamethasone", -290, -100, "progression", -110),
            INDEX,
        ],
        expect=dict(prior_lines=1),
    ),
    dict(
        id="adding a drug opens a new line",
        rows=[
            row("lenalidomide;dexamethasone", -500, -300, "other", None),
            row("daratumumab;lenalidomide;dexamethasone", -290, -100, "progression", -110),
            INDEX,
        ],
        expect=dict(prior_lines=2),
    ),
    dict(
        id="same drugs resumed after a toxicity pause: same line",
        rows=[
            row("lenalidomide;dexamethasone", -500, -400, "toxicity", None),
            row("lenalidomide;dexamethasone", -350, -100, "progression", -110),
            INDEX,
        ],
        expect=dict(prior_lines=1),
    ),
    dict(
        id="same drugs restarted after progression: new line",
        rows=[
            row("lenalidomide;dexamethasone", -500, -400, "progression", -400),
            row("lenalidomide;dexamethasone", -350, -100, "progression", -110),
            INDEX,
        ],
        expect=dict(prior_lines=2),
    ),
    dict(
        id="supportive treatment is not a line",
        rows=[row(VRD, -500, -100, "progression", -110), row("zoledronic_acid", -300, -50), INDEX],
        expect=dict(prior_lines=1),
    ),
    dict(
        id="overlapping rows started within 30 days are one regimen",
        rows=[
            row("daratumumab", -500, -200, "progression", -210),
            row("lenalidomide;dexamethasone", -490, -200, "progression", -210),
            INDEX,
        ],
        expect=dict(prior_lines=1, refractory_classes="IMiD;anti-CD38"),
    ),
    dict(
        id="brand names and abbreviations are mapped to generic names",
        rows=[row("Velcade; Revlimid; dex", -400, -200, "progression", -171), INDEX],
        expect=dict(refractory_agents="bortezomib;lenalidomide"),
    ),
    dict(
        id="entered line numbers are used; a disagreement with the rules is reported",
        # the rules see one line (same agents, toxicity pause); the center wrote 1 and 2
        rows=[
            row("lenalidomide;dexamethasone", -500, -400, "toxicity", None, line=1),
            row("lenalidomide;dexamethasone", -350, -100, "progression", -110, line=2),
            dict(INDEX, line=3),
        ],
        expect=dict(prior_lines=2, prior_lines_derived=1, issues=["MML027"]),
    ),
    dict(
        id="no row for the regimen under study is reported",
        rows=[row(VRD, -400, -200, "progression", -171)],
        expect=dict(prior_lines=1, issues=["MML025"]),
    ),
    dict(
        id="unknown agent is kept and reported",
        rows=[row("bortezomib;foobarumab;dexamethasone", -400, -200, "progression", -171), INDEX],
        expect=dict(refractory_classes="PI;other", issues=["MML023"]),
    ),
    dict(
        id="end date before start date is an error (row left out)",
        rows=[row(VRD, -400, -500, "progression", -450), INDEX],
        expect=dict(prior_lines=0, issues=["MML024"]),
    ),
]


@functools.cache
def _run(key: tuple[tuple[str, Any], ...], engine: str) -> tuple[pd.DataFrame, tuple, list[int]]:
    idx = [i for i, c in enumerate(CASES) if tuple(sorted(c.get("params", {}).items())) == key]
    pats, trows, lrows = [], [], []
    for i in idx:
        pid = f"T{i:03d}"
        pats.append({"patient_id": pid, "start_date": pd.Timestamp(DAY0),
                     "death_date": pd.NaT, "last_followup_date": pd.Timestamp("2023-01-01")})  # fmt: skip
        lrows.append([pid, d(-3), "serum_m_protein", "2.0", "g/dL"])
        for r in CASES[i]["rows"]:
            trows.append({"patient_id": pid, **r})
    tf = pd.DataFrame(trows).astype(object)
    tf = tf.where(tf.notna(), None)
    for c in ("line",):
        if c in tf:
            tf[c] = [None if v is None else str(v) for v in tf[c]]
    therapy = SourceTable(pathlib.Path("therapy.csv"), "csv", tf, tuple(range(2, len(tf) + 2)), "")
    lf = pd.DataFrame(lrows, columns=["patient_id", "date", "test", "value", "unit"], dtype=object)
    labs = SourceTable(pathlib.Path("labs.csv"), "csv", lf, tuple(range(2, len(lf) + 2)), "")
    res = derive_response(pd.DataFrame(pats), labs, therapy, ResponseParams(**dict(key)),
                          engine=engine)  # fmt: skip
    return res.per_patient, res.issues, idx


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_therapy_truth_table(case: dict[str, Any], engine: str) -> None:
    per, issues, idx = _run(tuple(sorted(case.get("params", {}).items())), engine)
    r = per.iloc[idx.index(CASES.index(case))]
    for key, want in case["expect"].items():
        if key == "issues":
            codes = {i.code for i in issues if i.where.patient_id == r["patient_id"]}
            assert set(want) <= codes, f"issues {sorted(codes)} lack {want}"
        elif key.endswith("_date"):
            got = None if pd.isna(r[key]) else (pd.Timestamp(r[key]) - pd.Timestamp(DAY0)).days
            assert got == want, f"{key}: {got} != {want}"
        elif isinstance(want, float):
            assert r[key] == pytest.approx(want, rel=1e-12), key
        else:
            assert r[key] == want, f"{key}: {r[key]!r} != {want!r}"
