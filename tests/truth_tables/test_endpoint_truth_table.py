# ruff: noqa: C408  (dict(...) keeps the case table readable)
"""Truth table of the endpoints beyond PFS and OS: TTP, DoR, TTNT and PFS2 (clinical.md 6).

Part 1: small hand-built patients, one per rule, run through ``mmrwe.Study`` with the dates in
the patient table. Day 0 is 2022-01-01 and every date is written as days from day 0; the
expected (time in days, event, end source) of each endpoint was written by hand from the
definitions: TTP = progression (a death without progression censored at the death date); DoR
= first PR or better to progression or death, responders only; TTNT = next line or death,
whichever first; PFS2 = progression on the next line or death; all censored at last
follow-up; on one date the first listed event wins (progression before death, next line
before death).

Part 2: demo patients adjudicated by hand from src/mmrwe/data/demo/*.csv (labs and therapy),
with the derivation from labs.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from typing import Any

import pandas as pd
import pytest

import mmrwe
from mmrwe.core.errors import SpecError
from mmrwe.study.demo import demo_dir

DAY0 = dt.date(2022, 1, 1)
LFU = 400
OUT = None  # outside the endpoint's population (DoR of a non-responder)


def day(n: int | None) -> str:
    return "" if n is None else (DAY0 + dt.timedelta(days=n)).isoformat()


# id, progression, death, lfu (None: LFU; death sets it), first_response, next_line,
# next_line_progression, expected {endpoint: (days, event, end_source)}
CASES: list[tuple[str, dict[str, int | None], dict[str, Any]]] = [
    ("TTP: progression is the event",
     dict(prog=100), dict(TTP=(100, True, "progression"))),
    ("TTP: death without progression is censored at the death date",
     dict(death=150), dict(TTP=(150, False, "death_censored"), PFS=(150, True, "death"))),
    ("TTP: alive without progression, censored at last follow-up",
     dict(), dict(TTP=(LFU, False, "last_followup"))),
    ("TTP: progression and death on one day: one event, progression",
     dict(prog=80, death=80), dict(TTP=(80, True, "progression"), PFS=(80, True, "progression"))),
    ("TTP: progression then death: the progression date",
     dict(prog=90, death=200), dict(TTP=(90, True, "progression"))),
    # DoR: 100 - 30 = 70 days from the first response to progression
    ("DoR: responder, from the first response to progression",
     dict(resp=30, prog=100), dict(DoR=(70, True, "progression"))),
    ("DoR: responder who dies without progression: death is an event (200 - 60)",
     dict(resp=60, death=200), dict(DoR=(140, True, "death"))),
    ("DoR: responder alive without progression, censored at last follow-up (400 - 40)",
     dict(resp=40), dict(DoR=(360, False, "last_followup"))),
    ("DoR: progression on the day of the first response: 0 days, an event",
     dict(resp=50, prog=50), dict(DoR=(0, True, "progression"))),
    ("DoR: non-responder is outside the population (no time, no event)",
     dict(prog=100), dict(DoR=OUT)),
    ("TTNT: the next line is the event",
     dict(nl=120, death=300), dict(TTNT=(120, True, "next_line"))),
    ("TTNT: death before any next line is an event",
     dict(prog=40, death=90), dict(TTNT=(90, True, "death"))),
    ("TTNT: next line and death on one day: next line (listed first)",
     dict(nl=200, death=200), dict(TTNT=(200, True, "next_line"))),
    ("TTNT: neither, censored at last follow-up",
     dict(), dict(TTNT=(LFU, False, "last_followup"))),
    ("PFS2: progression on the next line is the event",
     dict(prog=60, nl=100, nlp=250), dict(PFS2=(250, True, "next_line_progression"))),
    ("PFS2: next line without progression, alive: censored at last follow-up",
     dict(prog=60, nl=100), dict(PFS2=(LFU, False, "last_followup"))),
    ("PFS2: progression on the index line only, then death: death is the event",
     dict(prog=60, death=310), dict(PFS2=(310, True, "death"), PFS=(60, True, "progression"))),
    ("PFS2: next-line progression and death on one day: the progression (listed first)",
     dict(prog=60, nl=100, nlp=300, death=300), dict(PFS2=(300, True, "next_line_progression"))),
]  # fmt: skip

ENDPOINTS = ["PFS", "OS", "TTP", "DoR", "TTNT", "PFS2"]


def _frame() -> pd.DataFrame:
    rows = []
    for i, (_, d, _) in enumerate(CASES):
        death = d.get("death")
        rows.append({
            "patient_id": f"E{i:02d}", "center": "A", "start_date": day(0),
            "progression_date": day(d.get("prog")), "death_date": day(death),
            "last_followup_date": day(death if death is not None else LFU),
            "first_response_date": day(d.get("resp")), "next_line_date": day(d.get("nl")),
            "next_line_progression_date": day(d.get("nlp")),
        })  # fmt: skip
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def derived() -> pd.DataFrame:
    spec = {"study": {"time_unit": "days"}, "data": {"patients": "in-memory"},
            "km": {"endpoints": ENDPOINTS}}  # fmt: skip
    res = mmrwe.Study(spec, patients=_frame()).run()
    return res.derived_patients.set_index("patient_id")


@pytest.mark.parametrize(("i", "case"), list(enumerate(CASES)), ids=[c[0] for c in CASES])
def test_endpoint_truth_table(derived: pd.DataFrame, i: int, case: tuple) -> None:
    _, _, expect = case
    row = derived.loc[f"E{i:02d}"]
    for ep, want in expect.items():
        got_days = row[f"{ep}_time_days"]
        if want is OUT:
            assert pd.isna(got_days) and not row[f"{ep}_event"]
            assert row[f"{ep}_end_source"] is None or pd.isna(row[f"{ep}_end_source"])
            continue
        days, event, source = want
        assert (int(got_days), bool(row[f"{ep}_event"]), row[f"{ep}_end_source"]) == (
            days, event, source)  # fmt: skip


def test_truth_table_covers_every_new_endpoint() -> None:
    covered = {ep for _, _, e in CASES for ep in e}
    assert {"TTP", "DoR", "TTNT", "PFS2"} <= covered


def test_dor_without_response_dates_is_refused() -> None:
    frame = _frame().drop(columns=["first_response_date"])
    spec = {"data": {"patients": "in-memory"}, "km": {"endpoints": ["PFS", "DoR"]}}
    with pytest.raises(SpecError) as err:
        mmrwe.Study(spec, patients=frame).run()
    assert "DoR" in err.value.what and "first_response_date" in err.value.what
    assert "no lab table" in err.value.what
    assert err.value.where.spec_key == "km.endpoints"


def test_ttnt_without_therapy_is_refused_even_with_labs() -> None:
    d = demo_dir()
    spec = tomllib.loads((d / "study.toml").read_text())
    spec["data"].pop("therapy")
    spec["km"]["endpoints"] = ["PFS", "OS"]  # the demo's own asks for TTNT too
    spec["logrank"] = [{"endpoint": "TTNT", "by": "sex"}]
    with pytest.raises(SpecError) as err:
        mmrwe.Study(spec, base_dir=d).run()
    assert "TTNT" in err.value.what and "no therapy table" in err.value.what
    assert err.value.where.spec_key == "[[logrank]] 1 -> endpoint"


def test_recorded_first_response_after_progression_is_a_validation_error() -> None:
    frame = _frame()
    frame.loc[0, "first_response_date"] = day(150)  # progression on day 100
    spec = {"data": {"patients": "in-memory"}, "km": {"endpoints": ["DoR"]}}
    with pytest.raises(mmrwe.ValidationError) as err:
        mmrwe.Study(spec, patients=frame).run()
    assert any(i.code == "MMV021" and i.where.column == "first_response_date"
               for i in err.value.issues)  # fmt: skip


# ---------------------------------------------------------------------- demo, by hand
# Adjudicated from src/mmrwe/data/demo/labs.csv and therapy.csv (serum M in g/dL, 20.6 g/L =
# 2.06 g/dL):
# SYN-002: day 0 2022-04-04, baseline 1.6 (04-03). 05-02 0.64 (60 % PR), 05-30 0.62 (61 % PR)
#   -> first response 2022-05-02. Nadir 0.62; 08-28 1.42 (rise 0.80 >= 0.5 and >= 25 %),
#   09-11 1.52 confirms -> progression 2022-08-28. Next line talquetamab 2022-09-20, no
#   progression recorded; alive at 2024-06-30.
#   TTP 04-04 -> 08-28 = 26 + 31 + 30 + 31 + 28 = 146, event; DoR 05-02 -> 08-28 = 29 + 30 +
#   31 + 28 = 118, event; TTNT 146 + 23 = 169, event; PFS2 censored at 2024-06-30:
#   731 (to 2024-04-04, through 29 Feb 2024) + 26 + 31 + 30 = 818.
# SYN-003: day 0 2022-06-20, baseline 2.06. 07-18 0.82 (60 % PR), 08-15 0.80 -> first
#   response 2022-07-18. Nadir 0.80; 11-25 1.6 (rise 0.8), 12-09 1.7 confirms -> progression
#   2022-11-25. Next line selinexor 2022-12-14 (no progression); death 2024-02-17.
#   TTP 10 + 31 + 31 + 30 + 31 + 25 = 158; DoR 13 + 31 + 30 + 31 + 25 = 130; TTNT 158 + 19 =
#   177; PFS2 death: 365 + (10 + 31 + 31 + 30 + 31 + 30 + 31 + 31 + 17) = 607.
# SYN-005: day 0 2022-05-01, baseline 4.41. 05-29 5.91 (rise 1.5 >= 0.5 and >= 1.10) is the
#   last assessment; teclistamab starts 2022-06-05, before the death on 2022-06-22, so the
#   death does not confirm it: no progression, never a responder. TTP censored at death
#   (30 + 22 = 52, death_censored); DoR outside; TTNT 30 + 5 = 35 (next line); PFS2 death 52.
DEMO: dict[str, dict[str, Any]] = {
    "SYN-002": dict(TTP=(146, True, "progression"), DoR=(118, True, "progression"),
                    TTNT=(169, True, "next_line"), PFS2=(818, False, "last_followup")),
    "SYN-003": dict(TTP=(158, True, "progression"), DoR=(130, True, "progression"),
                    TTNT=(177, True, "next_line"), PFS2=(607, True, "death")),
    "SYN-005": dict(TTP=(52, False, "death_censored"), DoR=OUT,
                    TTNT=(35, True, "next_line"), PFS2=(52, True, "death")),
}  # fmt: skip


@pytest.fixture(scope="module")
def demo_derived() -> pd.DataFrame:
    d = demo_dir()
    spec = tomllib.loads((d / "study.toml").read_text())
    spec["km"]["endpoints"] = ENDPOINTS
    for key in ("cutpoint", "cox", "logrank", "compare_proportion", "table1"):
        spec.pop(key, None)  # not needed here: keeps the run short
    res = mmrwe.Study(spec, base_dir=d).run()
    return res.derived_patients.set_index("patient_id")


@pytest.mark.parametrize("pid", sorted(DEMO))
def test_demo_patients_adjudicated_by_hand(demo_derived: pd.DataFrame, pid: str) -> None:
    row = demo_derived.loc[pid]
    for ep, want in DEMO[pid].items():
        if want is OUT:
            assert pd.isna(row[f"{ep}_time_days"]) and not row[f"{ep}_event"]
            continue
        assert (int(row[f"{ep}_time_days"]), bool(row[f"{ep}_event"]),
                row[f"{ep}_end_source"]) == want, ep  # fmt: skip
