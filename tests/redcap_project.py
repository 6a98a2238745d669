"""A tiny SYNTHETIC REDCap project written the way REDCap exports one, for the tests.

Five patients at two data access groups, a longitudinal design (``baseline_arm_1`` with the
instruments ``baseline`` and ``outcome``; ``follow_up_arm_1`` with the repeating instrument
``labs``), every structure REDCap writes: radio, dropdown, yes/no and checkbox fields, dates
validated ``date_dmy`` and ``date_ymd``, a number with min/max and its unit in the field
note, a field marked as an identifier, form status columns. ``build()`` writes the
dictionary and a raw or labels export; tests change single cells to make one problem.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

DICT_HEADER = [
    "Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
    "Choices, Calculations, OR Slider Labels", "Field Note",
    "Text Validation Type OR Show Slider Number", "Text Validation Min", "Text Validation Max",
    "Identifier?", "Branching Logic (Show field only if...)", "Required Field?",
    "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name",
    "Matrix Ranking?", "Field Annotation",
]  # fmt: skip

# name, form, type, label, choices, validation, min, max, identifier, note
FIELDS: list[tuple[str, ...]] = [
    ("record_id", "baseline", "text", "Record ID", "", "", "", "", "", ""),
    ("patient_name", "baseline", "text", "Name", "", "", "", "", "y", ""),
    ("start_date", "baseline", "text", "Start of therapy", "", "date_dmy", "", "", "", ""),
    ("sex", "baseline", "radio", "Sex", "1, F | 2, M", "", "", "", "", ""),
    ("hgb", "baseline", "text", "Hemoglobin", "", "number", "3", "20", "", "g/dL"),
    ("comorb", "baseline", "checkbox", "Comorbidities",
     "1, diabetes | 2, hypertension | 3, renal failure", "", "", "", "", ""),
    ("smoker", "baseline", "yesno", "Smoker", "", "", "", "", "", ""),
    ("progression_date", "outcome", "text", "Progression", "", "date_ymd", "", "", "", ""),
    ("death_date", "outcome", "text", "Death", "", "date_ymd", "", "", "", ""),
    ("last_followup_date", "outcome", "text", "Last follow-up", "", "date_ymd", "", "", "", ""),
    ("best_response", "outcome", "dropdown", "Best response",
     "1, sCR | 2, CR | 3, VGPR | 4, PR | 5, MR | 6, SD | 7, PD | 8, NE", "", "", "", "", ""),
    ("lab_date", "labs", "text", "Sample date", "", "date_ymd", "", "", "", ""),
    ("lab_test", "labs", "dropdown", "Test", "1, serum_m_protein | 2, hemoglobin", "", "", "", "", ""),
    ("lab_value", "labs", "text", "Value", "", "", "", "", "", ""),
    ("lab_unit", "labs", "dropdown", "Unit", "1, g/dL | 2, g/L", "", "", "", "", ""),
]  # fmt: skip

EVENT_LABELS = {"baseline_arm_1": "Baseline", "follow_up_arm_1": "Follow-up"}
FORM_LABELS = {"labs": "Laboratory"}
GROUPS = {"north": "North Hospital", "south": "South Hospital"}

# record, group, start, progression, death, last follow-up, hgb, sex, comorbidities, smoker, response
PATIENTS: list[tuple[Any, ...]] = [
    ("P1", "north", "2021-01-10", "2021-06-01", "", "2022-01-10", "11.2", "F", ("diabetes",), "Yes", "PR"),
    ("P2", "north", "2021-02-01", "", "2021-12-24", "2021-12-24", "9.8", "M", (), "No", "SD"),
    ("P3", "south", "2021-03-15", "2021-09-30", "2022-03-01", "2022-03-01", "12.9", "F", ("diabetes", "renal failure"), "No", "VGPR"),
    ("P4", "south", "2021-04-20", "", "", "2022-05-01", "13.4", "M", ("hypertension",), "Yes", "CR"),
    ("P5", "south", "2021-05-05", "2021-08-01", "", "2022-02-02", "10.1", "F", (), "", "PD"),
]  # fmt: skip
# record, instance, date, test, value, unit
LABS: list[tuple[str, int, str, str, str, str]] = [
    ("P1", 1, "2021-01-05", "serum_m_protein", "2.1", "g/dL"),
    ("P1", 2, "2021-02-10", "serum_m_protein", "0.9", "g/dL"),
    ("P1", 3, "2021-03-12", "serum_m_protein", "0.8", "g/dL"),
    ("P2", 1, "2021-01-28", "hemoglobin", "98", "g/L"),
]


def _choices(text: str) -> dict[str, str]:
    return {c.split(",", 1)[1].strip(): c.split(",", 1)[0].strip() for c in text.split("|")}


def columns() -> list[str]:
    """The export's header: REDCap's columns, then each form's fields and its status."""
    cols = ["record_id", "redcap_event_name", "redcap_repeat_instrument",
            "redcap_repeat_instance", "redcap_data_access_group"]  # fmt: skip
    form = None
    for name, f, ftype, _l, choices, *_ in FIELDS[1:]:
        if form is not None and f != form:
            cols.append(f"{form}_complete")
        form = f
        if ftype == "checkbox":
            cols += [f"{name}___{c}" for c in _choices(choices).values()]
        else:
            cols.append(name)
    cols.append(f"{form}_complete")
    return cols


def _dmy(iso: str) -> str:
    if not iso:
        return ""
    d = dt.date.fromisoformat(iso)
    return f"{d.day:02d}-{d.month:02d}-{d.year}"


def record_rows(labels: bool = False) -> list[dict[str, str]]:
    """The export's rows as dicts (header -> cell), raw codes or labels."""
    coded = {name: _choices(choices) for name, _f, t, _l, choices, *_ in FIELDS
             if t in ("radio", "dropdown", "checkbox")}  # fmt: skip
    yes = {"Yes": "1", "No": "0"}
    done = "Complete" if labels else "2"
    rows = []
    for k, (rec, grp, start, prog, death, lfu, hgb, sex, comorb, smoker, resp) in enumerate(
        PATIENTS
    ):
        r = dict.fromkeys(columns(), "")
        r.update({
            "record_id": rec, "redcap_event_name": EVENT_LABELS["baseline_arm_1"] if labels else "baseline_arm_1",
            "redcap_data_access_group": grp, "patient_name": f"Synthetic Person {k}",
            "start_date": _dmy(start) if labels else start, "sex": sex if labels else coded["sex"][sex],
            "hgb": hgb, "smoker": smoker if labels else yes.get(smoker, ""),
            "baseline_complete": done, "progression_date": prog, "death_date": death,
            "last_followup_date": lfu,
            "best_response": resp if labels else coded["best_response"][resp],
            "outcome_complete": done,
        })  # fmt: skip
        for lab, code in coded["comorb"].items():
            on = lab in comorb
            r[f"comorb___{code}"] = (
                ("Checked" if on else "Unchecked") if labels else ("1" if on else "0")
            )
        rows.append(r)
        for rec2, inst, date, test, value, unit in LABS:
            if rec2 != rec:
                continue
            lr = dict.fromkeys(columns(), "")
            lr.update({
                "record_id": rec, "redcap_event_name": EVENT_LABELS["follow_up_arm_1"] if labels else "follow_up_arm_1",
                "redcap_repeat_instrument": FORM_LABELS["labs"] if labels else "labs",
                "redcap_repeat_instance": str(inst), "redcap_data_access_group": grp,
                "lab_date": date, "lab_test": test if labels else coded["lab_test"][test],
                "lab_value": value, "lab_unit": unit if labels else coded["lab_unit"][unit],
                "labs_complete": done,
            })  # fmt: skip
            rows.append(lr)
    return rows


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *rows])
    return buf.getvalue()


def write(
    folder: Path,
    *,
    labels: bool = False,
    rows: list[dict[str, str]] | None = None,
    fields: list[tuple[str, ...]] | None = None,
    header: list[str] | None = None,
) -> dict[str, Path]:
    """Write dictionary.csv, records.csv and dags.csv into ``folder``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    fields = FIELDS if fields is None else fields
    drows = []
    for name, form, ftype, label, choices, valid, vmin, vmax, ident, note in fields:
        r = dict.fromkeys(DICT_HEADER, "")
        r.update({"Variable / Field Name": name, "Form Name": form, "Field Type": ftype,
                  "Field Label": label, "Choices, Calculations, OR Slider Labels": choices,
                  "Text Validation Type OR Show Slider Number": valid, "Text Validation Min": vmin,
                  "Text Validation Max": vmax, "Identifier?": ident, "Field Note": note})  # fmt: skip
        drows.append([r[h] for h in DICT_HEADER])
    rows = record_rows(labels) if rows is None else rows
    header = columns() if header is None else header
    paths = {"dictionary": folder / "dictionary.csv", "records": folder / "records.csv",
             "groups": folder / "dags.csv"}  # fmt: skip
    paths["dictionary"].write_text(csv_text(DICT_HEADER, drows), encoding="utf-8")
    paths["records"].write_text(csv_text(header, [[r.get(h, "") for h in header] for r in rows]),
                                encoding="utf-8")  # fmt: skip
    paths["groups"].write_text(csv_text(["data_access_group_name", "unique_group_name"],
                                        [[v, k] for k, v in GROUPS.items()]), encoding="utf-8")  # fmt: skip
    return paths


SPEC = """
[study]
title = "REDCap test"

[data.redcap]
records = "records.csv"
dictionary = "dictionary.csv"
groups = "dags.csv"
export = "{export}"
{redcap_extra}

[data.redcap.labs]
instrument = "labs"
columns = {{ date = "lab_date", test = "lab_test", value = "lab_value", unit = "lab_unit" }}

{extra}
"""


def spec_text(*, export: str = "raw", redcap_extra: str = "", extra: str = "") -> str:
    return SPEC.format(export=export, redcap_extra=redcap_extra, extra=extra)
