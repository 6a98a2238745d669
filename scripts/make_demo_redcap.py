"""Write the SYNTHETIC demo cohort as a REDCap project: dictionary, raw and labels exports.

The embedded demo (``src/mmrwe/data/demo``: 51 synthetic patients, their labs and lines of
therapy; no real data) becomes a longitudinal REDCap project as a center would keep it:

* instruments ``baseline`` and ``outcome`` in the event ``baseline_arm_1`` (one row per
  record: the patient table), ``labs`` and ``therapy`` repeating in ``treatment_arm_1``
  (one instance per measurement, one per regimen);
* coded fields: sex, tcr, fish_risk (radio), best_response, the lab test and unit, the
  reason a regimen ended and its planned phase (dropdown); the agents of a regimen as a
  checkbox field (``ther_agents___1`` ...);
* dates validated as ``date_ymd``, ``start_date`` as ``date_dmy`` and ``death_date`` as
  ``date_mdy`` (the labels export writes those two as REDCap displays them: DD-MM-YYYY,
  MM-DD-YYYY; the raw export writes every date YYYY-MM-DD, as REDCap does);
* number fields with validation min/max and their unit in the field note;
* two fields marked as identifiers (synthetic initials and birth date, derived from the
  row number and the age: no person has them);
* data access groups = centers (``center_a`` ... with their display names in ``dags.csv``),
  every instrument marked Complete.

Files (deterministic, byte for byte; the tests check that running this again changes
nothing): ``dictionary.csv``, ``records_raw.csv``, ``records_labels.csv``, ``dags.csv``.

Usage::

    python scripts/make_demo_redcap.py [OUT_DIR]   # default tests/data/redcap/demo
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "src" / "mmrwe" / "data" / "demo"
OUT = ROOT / "tests" / "data" / "redcap" / "demo"

DICT_HEADER = [
    "Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
    "Choices, Calculations, OR Slider Labels", "Field Note",
    "Text Validation Type OR Show Slider Number", "Text Validation Min", "Text Validation Max",
    "Identifier?", "Branching Logic (Show field only if...)", "Required Field?",
    "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name",
    "Matrix Ranking?", "Field Annotation",
]  # fmt: skip

EVENTS = {"baseline_arm_1": "Baseline", "treatment_arm_1": "Treatment"}
FORM_LABELS = {"labs": "Laboratory tests", "therapy": "Lines of therapy"}
RESPONSES = ["sCR", "CR", "VGPR", "PR", "MR", "SD", "PD", "NE"]
REASONS = ["progression", "toxicity", "completed", "other"]
PHASES = ["induction", "consolidation", "asct", "tandem_sct", "maintenance"]


def read(name: str) -> list[dict[str, str]]:
    with (DEMO / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def choices(labels: list[str], codes: list[str] | None = None) -> str:
    codes = codes or [str(k) for k in range(1, len(labels) + 1)]
    return " | ".join(f"{c}, {lab}" for c, lab in zip(codes, labels, strict=True))


def project() -> tuple[list[dict[str, str]], dict[str, dict[str, str]]]:
    """The dictionary rows, and per coded field its label -> code."""
    labs, therapy = read("labs.csv"), read("therapy.csv")
    tests = list(dict.fromkeys(r["test"] for r in labs))
    units = list(dict.fromkeys(r["unit"] for r in labs if r["unit"]))
    agents = list(dict.fromkeys(a for r in therapy for a in r["agents"].split(";")))
    coded = {
        "sex": {"F": "1", "M": "2"},
        "tcr": {"no": "0", "yes": "1"},
        "fish_risk": {"standard": "1", "high": "2"},
        "best_response": {r: str(k) for k, r in enumerate(RESPONSES, 1)},
        "lab_test": {t: str(k) for k, t in enumerate(tests, 1)},
        "lab_unit": {u: str(k) for k, u in enumerate(units, 1)},
        "ther_agents": {a: str(k) for k, a in enumerate(agents, 1)},
        "ther_reason_end": {r: str(k) for k, r in enumerate(REASONS, 1)},
        "ther_planned_phase": {p: str(k) for k, p in enumerate(PHASES, 1)},
    }

    def f(name: str, form: str, ftype: str, label: str, **kw: str) -> dict[str, str]:
        row = dict.fromkeys(DICT_HEADER, "")
        row.update({"Variable / Field Name": name, "Form Name": form, "Field Type": ftype,
                    "Field Label": label})  # fmt: skip
        if name in coded:
            row["Choices, Calculations, OR Slider Labels"] = choices(
                list(coded[name]), list(coded[name].values())
            )
        for k, v in kw.items():
            row[{"note": "Field Note", "validation": "Text Validation Type OR Show Slider Number",
                 "vmin": "Text Validation Min", "vmax": "Text Validation Max",
                 "identifier": "Identifier?", "section": "Section Header"}[k]] = v  # fmt: skip
        return row

    fields = [
        f("record_id", "baseline", "text", "Record ID"),
        f("initials", "baseline", "text", "Patient initials", identifier="y"),
        f("birth_date", "baseline", "text", "Date of birth", validation="date_ymd", identifier="y"),
        f("start_date", "baseline", "text", "Start of IsaPd (day 0)", validation="date_dmy",
          section="<b>Regimen under study</b>"),
        f("age", "baseline", "text", "Age at IsaPd start", validation="integer", vmin="18",
          vmax="110", note="years"),
        f("sex", "baseline", "radio", "Sex"),
        f("prior_lines", "baseline", "text", "Prior lines of therapy", validation="integer",
          vmin="0", vmax="25", note="count"),
        f("tcr", "baseline", "radio", "Triple-class refractory"),
        f("months_from_dara_refractory", "baseline", "text",
          "Months from daratumumab refractoriness to IsaPd", validation="number", vmin="0"),
        f("hgb", "baseline", "text", "Hemoglobin at IsaPd start", validation="number",
          vmin="3", vmax="20", note="g/dL"),
        f("fish_risk", "baseline", "radio", "FISH cytogenetic risk"),
        f("progression_date", "outcome", "text", "Date of progression", validation="date_ymd"),
        f("death_date", "outcome", "text", "Date of death", validation="date_mdy"),
        f("last_followup_date", "outcome", "text", "Date of last follow-up",
          validation="date_ymd"),
        f("best_response", "outcome", "dropdown", "Best response (IMWG)"),
        f("lab_date", "labs", "text", "Date of the sample", validation="date_ymd"),
        f("lab_test", "labs", "dropdown", "Test"),
        f("lab_value", "labs", "text", "Result"),
        f("lab_unit", "labs", "dropdown", "Unit"),
        f("ther_regimen", "therapy", "text", "Regimen"),
        f("ther_agents", "therapy", "checkbox", "Agents"),
        f("ther_start_date", "therapy", "text", "First dose", validation="date_ymd"),
        f("ther_end_date", "therapy", "text", "Last dose", validation="date_ymd"),
        f("ther_reason_end", "therapy", "dropdown", "Reason the regimen ended"),
        f("ther_progression_date", "therapy", "text", "Progression on or after this regimen",
          validation="date_ymd"),
        f("ther_planned_phase", "therapy", "dropdown", "Planned phase"),
    ]  # fmt: skip
    return fields, coded


def _iso_as(text: str, order: str) -> str:
    if not text:
        return ""
    d = dt.date.fromisoformat(text)
    return {
        "dmy": f"{d.day:02d}-{d.month:02d}-{d.year}",
        "mdy": f"{d.month:02d}-{d.day:02d}-{d.year}",
    }[order]


def records(labels: bool) -> tuple[list[str], list[list[str]]]:
    """The record export (raw codes, or labels) as header and rows, in REDCap's row order:
    per record the baseline row, then the repeating instances instrument by instrument."""
    fields, coded = project()
    patients, labs, therapy = read("patients.csv"), read("labs.csv"), read("therapy.csv")
    agents = list(coded["ther_agents"])
    header = ["record_id", "redcap_event_name", "redcap_repeat_instrument",
              "redcap_repeat_instance", "redcap_data_access_group"]  # fmt: skip
    form_of: dict[str, list[str]] = {}
    for fd in fields[1:]:
        form_of.setdefault(fd["Form Name"], []).append(fd["Variable / Field Name"])
    columns: list[str] = []
    for form, names in form_of.items():
        for n in names:
            if n == "ther_agents":
                columns += [f"ther_agents___{coded['ther_agents'][a]}" for a in agents]
            else:
                columns.append(n)
        columns.append(f"{form}_complete")
    header += columns
    complete = "Complete" if labels else "2"

    def code(field: str, value: str) -> str:
        if not value:
            return ""
        return value if labels else coded[field][value]

    def event(e: str) -> str:
        return EVENTS[e] if labels else e

    out: list[list[str]] = []
    lab_by: dict[str, list[dict[str, str]]] = {}
    for r in labs:
        lab_by.setdefault(r["patient_id"], []).append(r)
    ther_by: dict[str, list[dict[str, str]]] = {}
    for r in therapy:
        ther_by.setdefault(r["patient_id"], []).append(r)
    for k, p in enumerate(patients, 1):
        pid = p["patient_id"]
        dag = p["center"].lower().replace(" ", "_")
        age = int(p["age"])
        start = dt.date.fromisoformat(p["start_date"])
        birth = start - dt.timedelta(days=int(age * 365.25) + (k * 37) % 300)
        initials = chr(65 + k % 26) + chr(65 + (k * 7) % 26)
        cells = dict.fromkeys(header, "")
        cells.update({
            "record_id": pid, "redcap_event_name": event("baseline_arm_1"),
            "redcap_data_access_group": dag, "initials": initials,
            "birth_date": birth.isoformat(),
            "start_date": _iso_as(p["start_date"], "dmy") if labels else p["start_date"],
            "age": p["age"], "sex": code("sex", p["sex"]), "prior_lines": p["prior_lines"],
            "tcr": code("tcr", p["tcr"]),
            "months_from_dara_refractory": p["months_from_dara_refractory"], "hgb": p["hgb"],
            "fish_risk": code("fish_risk", p["fish_risk"]), "baseline_complete": complete,
            "progression_date": p["progression_date"],
            "death_date": _iso_as(p["death_date"], "mdy") if labels else p["death_date"],
            "last_followup_date": p["last_followup_date"],
            "best_response": code("best_response", p["best_response"]),
            "outcome_complete": complete,
        })  # fmt: skip
        out.append([cells[h] for h in header])
        for n, r in enumerate(lab_by.get(pid, []), 1):
            cells = dict.fromkeys(header, "")
            cells.update({
                "record_id": pid, "redcap_event_name": event("treatment_arm_1"),
                "redcap_repeat_instrument": FORM_LABELS["labs"] if labels else "labs",
                "redcap_repeat_instance": str(n), "redcap_data_access_group": dag,
                "lab_date": r["date"], "lab_test": code("lab_test", r["test"]),
                "lab_value": r["value"], "lab_unit": code("lab_unit", r["unit"]),
                "labs_complete": complete,
            })  # fmt: skip
            out.append([cells[h] for h in header])
        for n, r in enumerate(ther_by.get(pid, []), 1):
            cells = dict.fromkeys(header, "")
            ticked = set(r["agents"].split(";"))
            cells.update({
                "record_id": pid, "redcap_event_name": event("treatment_arm_1"),
                "redcap_repeat_instrument": FORM_LABELS["therapy"] if labels else "therapy",
                "redcap_repeat_instance": str(n), "redcap_data_access_group": dag,
                "ther_regimen": r["regimen"], "ther_start_date": r["start_date"],
                "ther_end_date": r["end_date"],
                "ther_reason_end": code("ther_reason_end", r["reason_end"]),
                "ther_progression_date": r["progression_date"],
                "ther_planned_phase": code("ther_planned_phase", r["planned_phase"]),
                "therapy_complete": complete,
            })  # fmt: skip
            for a in agents:
                on = a in ticked
                cells[f"ther_agents___{coded['ther_agents'][a]}"] = (
                    ("Checked" if on else "Unchecked") if labels else ("1" if on else "0")
                )
            out.append([cells[h] for h in header])
    return header, out


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def files() -> dict[str, str]:
    """File name -> text of every file of the project."""
    fields, _ = project()
    centers = sorted({p["center"] for p in read("patients.csv")})
    dags = csv_text(
        ["data_access_group_name", "unique_group_name", "data_access_group_id"],
        [[c, c.lower().replace(" ", "_"), str(100 + k)] for k, c in enumerate(centers, 1)],
    )
    return {
        "dictionary.csv": csv_text(DICT_HEADER, [[f[h] for h in DICT_HEADER] for f in fields]),
        "records_raw.csv": csv_text(*records(labels=False)),
        "records_labels.csv": csv_text(*records(labels=True)),
        "dags.csv": dags,
    }


def main(out: Path = OUT) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files().items():
        (out / name).write_text(text, encoding="utf-8", newline="")
    print(f"wrote {', '.join(files())} to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
