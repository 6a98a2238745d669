"""Data of the optional therapy figures (swimmer, lines-of-therapy flow) on a hand-made cohort:
every bar, marker, node and flow count checked by hand."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from mmrwe.study.therapy_figures import (
    FLOW_MAX_NODES,
    regimen_class,
    study_lines,
    swimmer_data,
    therapy_flow_data,
)

D = 30.4375  # days per month
NAN = np.nan

# four patients; day 0 (start of the regimen under study) at day 1000 for every one
DAY0 = np.array([1000.0, 1000.0, 1000.0, 1000.0])
DEATH = np.array([NAN, 1000 + 6 * D, NAN, NAN])
LFU = np.array([1000 + 12 * D, 1000 + 6 * D, 1000 + 10 * D, 1000 + 3 * D])
PROG = np.array([NAN, 1000 + 4 * D, 1000 + 5 * D, NAN])

VRD = "bortezomib;lenalidomide;dexamethasone"
DRD = "daratumumab;lenalidomide;dexamethasone"
ISAPD = "isatuximab;pomalidomide;dexamethasone"
KD = "carfilzomib;dexamethasone"


def therapy() -> pd.DataFrame:
    rows = [
        # pid, line, regimen, agents, start, end
        (0, 1, "VRd", VRD, 200.0, 400.0),
        (0, 2, "DRd", DRD, 500.0, 900.0),
        (0, 3, "IsaPd", ISAPD, 1000.0, NAN),  # study line, ongoing
        (1, 1, "VRd", VRD, 300.0, 500.0),
        (1, 1, "R maintenance", "lenalidomide", 520.0, 800.0),  # same line (maintenance)
        (1, 2, "IsaPd", ISAPD, 1000.0, 1000 + 3 * D),  # study line, then died
        (2, 1, "VRd", VRD, 100.0, 600.0),
        (2, 2, "IsaPd", ISAPD, 1000.0, 1000 + 5 * D),  # study line
        (2, 3, "Kd", KD, 1000 + 6 * D, 1000 + 8 * D),  # next line, stopped, alive
        (3, 1, "DRd", DRD, 1000.0, 1000 + 2 * D),  # study line is line 1, stopped, alive
        (3, NAN, "Zoledronic acid", "zoledronic_acid", 1000.0, NAN),  # supportive: no line
    ]
    return pd.DataFrame(rows, columns=["pid", "line_eff", "regimen", "agents", "start", "end"])


def assessments() -> pd.DataFrame:
    # level codes: 0 PD, 1 SD, 2 MR, 3 PR, 4 VGPR, 5 CR, 6 sCR
    rows = [
        (0, 1000 + 1 * D, True, 3),
        (0, 1000 + 2 * D, True, 3),  # unchanged: no marker
        (0, 1000 + 3 * D, True, 4),
        (0, 1000 + 4 * D, True, 5),
        (0, 1000 - 5.0, True, 3),  # before day 0: not a marker
        (1, 1000 + 1 * D, True, 1),
        (1, 1000 + 4 * D, True, 0),
        (2, 1000 + 2 * D, True, 3),
        (2, 1000 + 3 * D, False, 4),  # not an assessment
    ]
    return pd.DataFrame(rows, columns=["pid", "day", "is_assess", "level"])


def test_study_line_is_the_line_of_the_row_starting_on_day_0():
    assert study_lines(therapy(), DAY0) == {0: 3.0, 1: 2.0, 2: 2.0, 3: 1.0}


def test_swimmer_rows_by_hand():
    sw = swimmer_data(day0=DAY0, death=DEATH, last_followup=LFU, progression=PROG,
                      therapy=therapy(), assessments=assessments(),
                      best_response=["CR", "SD", "PR", "NE"])  # fmt: skip
    assert sw["status"] == "ok" and sw["n_patients"] == 4 and sw["n_shown"] == 4
    assert sw["selection"] == "all patients" and sw["n_without_study_line"] == 0
    pts = sw["patients"]
    # sorted by time on the regimen, longest first: p0 (12, ongoing), p2 (5), p1 (3), p3 (2)
    assert [p["row"] for p in pts] == [1, 2, 3, 4]
    on = [p["time_on_treatment"] for p in pts]
    assert on == pytest.approx([12.0, 5.0, 3.0, 2.0])
    assert [p["followup"] for p in pts] == pytest.approx([12.0, 10.0, 6.0, 3.0])
    assert [p["treatment_ongoing"] for p in pts] == [True, False, False, False]
    assert [p["progression"] for p in pts] == pytest.approx([None, 5.0, 4.0, None])
    assert [p["death"] for p in pts] == pytest.approx([None, None, 6.0, None])
    assert [p["best_response"] for p in pts] == ["CR", "PR", "SD", "NE"]
    # the first assessment and each change of category
    assert pts[0]["responses"] == [
        {"time": pytest.approx(1.0), "response": "PR"},
        {"time": pytest.approx(3.0), "response": "VGPR"},
        {"time": pytest.approx(4.0), "response": "CR"},
    ]
    assert [r["response"] for r in pts[1]["responses"]] == ["PR"]
    assert [r["response"] for r in pts[2]["responses"]] == ["SD", "PD"]
    assert pts[3]["responses"] == []


def test_swimmer_rows_carry_no_id_no_date_and_no_input_order():
    sw = swimmer_data(day0=DAY0 + 19000, death=DEATH + 19000, last_followup=LFU + 19000,
                      progression=PROG + 19000, therapy=therapy().assign(start=lambda d: d.start + 19000, end=lambda d: d.end + 19000),
                      assessments=assessments().assign(day=lambda d: d.day + 19000), best_response=None)  # fmt: skip
    text = json.dumps(sw)
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text)
    assert set(sw["patients"][0]) == {"row", "time_on_treatment", "treatment_ongoing",
                                      "followup", "progression", "death", "best_response",
                                      "responses"}  # fmt: skip
    assert all(v is None or v < 100 for p in sw["patients"] for v in (p["followup"], p["death"]))


def test_swimmer_cap_keeps_evenly_spaced_ranks_with_the_longest_and_shortest():
    n = 25
    day0 = np.full(n, 0.0)
    th = pd.DataFrame({"pid": range(n), "line_eff": 1.0, "regimen": "X", "agents": "x",
                       "start": 0.0, "end": [float(i + 1) * D for i in range(n)]})  # fmt: skip
    sw = swimmer_data(day0=day0, death=np.full(n, NAN), last_followup=np.full(n, 40 * D),
                      progression=np.full(n, NAN), therapy=th, assessments=None,
                      best_response=None, max_patients=5)  # fmt: skip
    assert sw["n_patients"] == 25 and sw["n_shown"] == 5 and sw["max_patients"] == 5
    assert [p["time_on_treatment"] for p in sw["patients"]] == pytest.approx([25, 19, 13, 7, 1])
    assert [p["row"] for p in sw["patients"]] == [1, 2, 3, 4, 5]
    assert "5 of 25 patients" in sw["selection"]


def test_swimmer_without_study_line_row_leaves_the_patient_out():
    th = therapy()
    th = th[th.pid != 3]
    sw = swimmer_data(day0=DAY0, death=DEATH, last_followup=LFU, progression=PROG,
                      therapy=th, assessments=None, best_response=None)  # fmt: skip
    assert sw["n_patients"] == 3 and sw["n_without_study_line"] == 1


def _nodes(col):
    return [(n["kind"], n["name"], n["n"]) for n in col["nodes"]]


def _flows(fl):
    """(column, source name, target name) -> n."""
    out = {}
    for f in fl["flows"]:
        c = f["column"]
        s = fl["columns"][c]["nodes"][f["source"]]["name"]
        t = fl["columns"][c + 1]["nodes"][f["target"]]["name"]
        out[(c, s, t)] = f["n"]
    return out


def test_flow_from_the_first_line_by_hand():
    fl = therapy_flow_data(therapy=therapy(), day0=DAY0, death=DEATH)
    assert fl["status"] == "ok" and fl["n_patients"] == 4 and fl["n_without_lines"] == 0
    assert [c["label"] for c in fl["columns"]] == ["Line 1", "Line 2", "Line 3",
                                                    "After the last line"]  # fmt: skip
    # a line is named by its first regimen (p1's maintenance does not rename line 1)
    assert _nodes(fl["columns"][0]) == [("regimen", "VRd", 3), ("regimen", "DRd", 1)]
    assert _nodes(fl["columns"][1]) == [
        ("regimen", "IsaPd", 2),
        ("regimen", "DRd", 1),
        ("stopped", "Alive, no further line", 1),
    ]
    assert _nodes(fl["columns"][2]) == [
        ("regimen", "IsaPd", 1),
        ("regimen", "Kd", 1),
        ("death", "Died", 1),
    ]
    assert _nodes(fl["columns"][3]) == [
        ("ongoing", "On treatment at last contact", 1),
        ("stopped", "Alive, no further line", 1),
    ]
    assert _flows(fl) == {
        (0, "VRd", "IsaPd"): 2,
        (0, "VRd", "DRd"): 1,
        (0, "DRd", "Alive, no further line"): 1,
        (1, "IsaPd", "Kd"): 1,
        (1, "IsaPd", "Died"): 1,
        (1, "DRd", "IsaPd"): 1,
        (2, "IsaPd", "On treatment at last contact"): 1,
        (2, "Kd", "Alive, no further line"): 1,
    }
    # every patient leaves each node it enters
    for c in range(len(fl["columns"]) - 1):
        out = {}
        for f in fl["flows"]:
            if f["column"] == c:
                out[f["source"]] = out.get(f["source"], 0) + f["n"]
        for i, nd in enumerate(fl["columns"][c]["nodes"]):
            assert out.get(i, 0) == (nd["n"] if nd["kind"] in ("regimen", "other") else 0)


def test_flow_from_the_study_line_and_by_class():
    fl = therapy_flow_data(therapy=therapy(), day0=DAY0, death=DEATH, by="class",
                           start="study_line")  # fmt: skip
    assert [c["label"] for c in fl["columns"]] == ["Study line", "Study line + 1",
                                                    "After the last line"]  # fmt: skip
    assert _nodes(fl["columns"][0]) == [
        ("regimen", "IMiD + anti-CD38", 4),  # IsaPd x3, DRd x1: the same classes
    ]
    assert _flows(fl) == {
        (0, "IMiD + anti-CD38", "PI"): 1,
        (0, "IMiD + anti-CD38", "On treatment at last contact"): 1,
        (0, "IMiD + anti-CD38", "Alive, no further line"): 1,
        (0, "IMiD + anti-CD38", "Died"): 1,
        (1, "PI", "Alive, no further line"): 1,
    }


def test_flow_beyond_max_lines_goes_to_later_lines():
    fl = therapy_flow_data(therapy=therapy(), day0=DAY0, death=DEATH, max_lines=1)
    assert [c["label"] for c in fl["columns"]] == ["Line 1", "After the last line"]
    assert _flows(fl) == {
        (0, "VRd", "Later lines"): 3,
        (0, "DRd", "Alive, no further line"): 1,
    }


def test_flow_pools_rare_regimens_as_other():
    n = FLOW_MAX_NODES + 3
    th = pd.DataFrame({"pid": range(n), "line_eff": 1.0, "regimen": [f"R{i:02d}" for i in range(n)],
                       "agents": "x", "start": 0.0, "end": 10.0})  # fmt: skip
    th.loc[th.pid < 3, "regimen"] = "Common"
    fl = therapy_flow_data(therapy=th, day0=np.zeros(n), death=np.full(n, NAN))
    nodes = fl["columns"][0]["nodes"]
    assert len(nodes) == FLOW_MAX_NODES
    assert nodes[0] == {"name": "Common", "kind": "regimen", "n": 3}
    assert nodes[-1]["kind"] == "other" and nodes[-1]["n"] == n - 3 - (FLOW_MAX_NODES - 2)


def test_regimen_class_names():
    assert regimen_class(VRD) == "PI + IMiD"
    assert regimen_class(ISAPD) == "IMiD + anti-CD38"
    assert regimen_class("dexamethasone") == "steroid only"
    assert regimen_class("asct;melphalan") == "alkylator + SCT"
    assert regimen_class("mystery_drug") == "other"


def _report(**kw):
    from types import SimpleNamespace

    base = {"swimmer": True, "therapy_flow": True, "small_cell_k": 0,
            "swimmer_max_patients": 60, "therapy_flow_by": "regimen",
            "therapy_flow_start": "first_line", "therapy_flow_max_lines": 5}  # fmt: skip
    return SimpleNamespace(**(base | kw))


def _patients():
    day = pd.to_datetime(DAY0, unit="D")
    return pd.DataFrame({"start_date": day, "death_date": pd.to_datetime(DEATH, unit="D"),
                         "last_followup_date": pd.to_datetime(LFU, unit="D"),
                         "progression_date": pd.to_datetime(PROG, unit="D")})  # fmt: skip


def _deriv(th):
    from types import SimpleNamespace

    per = pd.DataFrame({"best_response": ["CR", "SD", "PR", "NE"],
                        "progression_date": pd.to_datetime(PROG, unit="D")})  # fmt: skip
    return SimpleNamespace(therapy=th, assessments=assessments(), per_patient=per)


def test_run_level_entries_ok_empty_missing_and_suppressed():
    from mmrwe.study.therapy_figures import therapy_figure_data

    kw = {"has_therapy": True, "patients": _patients(), "progression_from_labs": True,
          "time_unit": "months"}  # fmt: skip
    ok = therapy_figure_data(_report(), deriv=_deriv(therapy()), **kw)
    assert ok["swimmer"]["status"] == ok["therapy_flow"]["status"] == "ok"
    assert ok["swimmer"]["patients"][0]["time_on_treatment"] == pytest.approx(12.0, abs=0.02)
    empty = therapy_figure_data(_report(), deriv=_deriv(therapy().iloc[0:0]), **kw)
    assert empty["swimmer"]["status"] == "not_estimable"
    assert "regimen under study" in empty["swimmer"]["reason"]
    assert "no patient has a line" in empty["therapy_flow"]["reason"]
    missing = therapy_figure_data(_report(), deriv=None, **(kw | {"has_therapy": False}))
    assert "no therapy table" in missing["swimmer"]["reason"]
    small = therapy_figure_data(_report(small_cell_k=3), deriv=_deriv(therapy()), **kw)
    assert set(small["therapy_flow"]) == {"status", "reason", "spec_key"}
    only_flow = therapy_figure_data(_report(swimmer=False), deriv=_deriv(therapy()), **kw)
    assert set(only_flow) == {"therapy_flow"}


def test_flow_line_without_regimen_name_is_named_by_its_agents():
    th = therapy()
    th["regimen"] = th["regimen"].astype(object)
    th.loc[th.pid == 3, "regimen"] = None
    th.loc[(th.pid == 0) & (th.line_eff == 1), "regimen"] = "  "
    fl = therapy_flow_data(therapy=th, day0=DAY0, death=DEATH)
    names = {nd["name"] for nd in fl["columns"][0]["nodes"]}
    assert names == {"VRd", "daratumumab + lenalidomide + dexamethasone",
                     "bortezomib + lenalidomide + dexamethasone"}  # fmt: skip
