"""REDCap projects: each structure read as REDCap writes it, each problem located.

The project is tiny and synthetic (tests/redcap_project.py). Every failing case checks the
issue code and that the message names the record, event, instrument, instance and field;
the CLI cases check that bad input gives a message and an exit status, never a traceback,
and that the inputs are left as they were.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

import mmrwe
import redcap_project as rp
from mmrwe.cli.main import app
from mmrwe.core.errors import InputError
from mmrwe.io.redcap import (
    checkbox_column,
    parse_choices,
    parse_date,
    parse_number,
    read_dictionary,
    read_project,
)
from mmrwe.spec import InvalidSpecError, load_spec

runner = CliRunner()


def project(tmp_path: Path, *, rows=None, labels: bool = False, spec: str | None = None,
            fields=None, header=None) -> Path:  # fmt: skip
    """Write the project and its spec; return the spec's path."""
    rp.write(tmp_path, labels=labels, rows=rows, fields=fields, header=header)
    path = tmp_path / "study.toml"
    path.write_text(
        spec if spec is not None else rp.spec_text(export="labels" if labels else "raw")
    )
    return path


def issues(spec_path: Path, code: str | None = None) -> list:
    report = mmrwe.Study.from_toml(spec_path).validate()
    return [i for i in report.issues if code is None or i.code == code]


def patients(spec_path: Path):
    spec = load_spec(spec_path)
    d = spec.data
    assert d.redcap is not None
    p = read_project(d.redcap, columns=d.column_map, missing_values=d.missing_values)
    t = p.patients
    return p, pd.DataFrame({c: pd.Series(t[c].to_pylist(), dtype=object) for c in t.column_names})


def rows_with(change) -> list[dict[str, str]]:
    rows = rp.record_rows()
    change(rows)
    return rows


# Rows of the export (line = index + 2): P1's baseline row, its three lab instances, P2's
# baseline row, its lab instance, then P3, P4 and P5.
P1, P2, P2_LAB = 0, 4, 5


# -- reading each structure ------------------------------------------------------------------


def test_raw_and_labels_exports_give_the_same_tables(tmp_path):
    _, raw = patients(project(tmp_path / "raw"))
    p_lab, lab = patients(project(tmp_path / "lab", labels=True))
    assert raw.drop(columns=["_src_row", "_ord"]).equals(lab.drop(columns=["_src_row", "_ord"]))
    assert raw["sex"].tolist() == ["F", "M", "F", "M", "F"]
    assert raw["smoker"].tolist()[:4] == ["Yes", "No", "No", "Yes"]
    # a date_dmy field written DD-MM-YYYY (labels export) or YYYY-MM-DD (raw) reads the same
    assert raw["start_date"].tolist()[0] == "2021-01-10" == lab["start_date"].tolist()[0]
    assert p_lab.baseline_event == "Baseline" and p_lab.repeating == {"Laboratory": "labs"}
    assert p_lab.issues == ()


def test_choices_are_decoded_to_labels_with_levels_in_the_dictionarys_order(tmp_path):
    p, frame = patients(project(tmp_path))
    levels = {v.name: v.levels for v in p.variables}
    assert levels["best_response"] == ("sCR", "CR", "VGPR", "PR", "MR", "SD", "PD", "NE")
    assert levels["sex"] == ("F", "M") and levels["smoker"] == ("Yes", "No")
    assert frame["best_response"].tolist() == ["PR", "SD", "VGPR", "CR", "PD"]
    types = {v.name: v.type for v in p.variables}
    assert types["hgb"] == "numeric" and types["start_date"] == "date"


def test_checkbox_columns_are_read_together_as_a_set(tmp_path):
    _, frame = patients(project(tmp_path))
    # labels in the dictionary's order, ";"-joined; nothing ticked = missing
    assert frame["comorb"].tolist() == [
        "diabetes",
        None,
        "diabetes;renal failure",
        "hypertension",
        None,
    ]
    assert "comorb___1" not in frame.columns


def test_checkbox_columns_one_yes_no_column_per_choice(tmp_path):
    spec = rp.spec_text(redcap_extra='checkboxes = { comorb = "columns" }')
    p, frame = patients(project(tmp_path, spec=spec))
    assert frame["comorb___3"].tolist() == ["no", "no", "yes", "no", "no"]
    assert frame["comorb___1"].tolist() == ["yes", "no", "yes", "no", "no"]
    assert "comorb" not in frame.columns
    v = {x.name: x for x in p.variables}
    assert (
        v["comorb___3"].levels == ("no", "yes")
        and v["comorb___3"].label == "Comorbidities: renal failure"
    )


def test_checkbox_written_as_labels_or_blank_is_read_too(tmp_path):
    # REDCap's API with exportCheckboxLabel writes the ticked choice's label, blank otherwise
    rows = rp.record_rows(labels=True)
    for r in rows:
        for code, lab in (("1", "diabetes"), ("2", "hypertension"), ("3", "renal failure")):
            r[f"comorb___{code}"] = lab if r[f"comorb___{code}"] == "Checked" else ""
    _, frame = patients(project(tmp_path, rows=rows, labels=True))
    assert frame["comorb"].tolist() == [
        "diabetes",
        None,
        "diabetes;renal failure",
        "hypertension",
        None,
    ]


def test_a_repeating_instrument_gives_the_lab_table_located_by_instance(tmp_path):
    spec_path = project(tmp_path)
    p, _ = patients(spec_path)
    assert p.labs is not None
    labs = p.labs.frame
    assert labs.columns.tolist() == ["patient_id", "date", "test", "value", "unit"]
    assert labs["test"].tolist() == ["serum_m_protein"] * 3 + ["hemoglobin"]
    # rows keep the export's lines: P1's baseline row is line 2, its instances 3-5
    assert p.labs.source_rows == (3, 4, 5, 7)
    # a problem of a lab row is located by record, event, instrument, instance and field
    rows = rp.record_rows()
    rows[3]["lab_value"] = "lots"
    found = issues(project(tmp_path / "bad", rows=rows), "MML006")
    assert len(found) == 1
    w = found[0].where
    assert (w.file, w.row, w.patient_id, w.event, w.instrument, w.instance, w.field) == (
        "records.csv",
        5,
        "P1",
        "follow_up_arm_1",
        "labs",
        3,
        "lab_value",
    )
    assert "instance 3" in str(w) and "event 'follow_up_arm_1'" in str(w)


def test_repeated_events_feed_the_lab_table(tmp_path):
    # the lab instrument collected once per visit event (not repeating)
    rows = []
    for r in rp.record_rows():
        if r["redcap_repeat_instrument"] == "labs":
            r["redcap_event_name"] = f"visit_{r['redcap_repeat_instance']}_arm_1"
            r["redcap_repeat_instrument"] = r["redcap_repeat_instance"] = ""
        rows.append(r)
    p, frame = patients(project(tmp_path, rows=rows))
    assert p.labs is not None and len(p.labs.frame) == 4 and len(frame) == 5
    assert p.labs.frame["date"].tolist()[0] == "2021-01-05"


def test_the_baseline_event_is_the_first_or_the_declared_one(tmp_path):
    p, frame = patients(project(tmp_path))
    assert p.baseline_event == "baseline_arm_1" and len(frame) == 5
    spec = rp.spec_text(redcap_extra='baseline_event = "screening_arm_1"')
    found = issues(project(tmp_path / "x", spec=spec), "MMR002")
    assert found and "screening_arm_1" in found[0].what and "baseline_arm_1" in found[0].what
    assert found[0].where.spec_key == "data.redcap.baseline_event"


def test_data_access_groups_become_the_center(tmp_path):
    _, frame = patients(project(tmp_path))
    assert frame["center"].tolist() == ["North Hospital"] * 2 + ["South Hospital"] * 3
    spec = rp.spec_text().replace('groups = "dags.csv"\n', "")
    _, frame = patients(project(tmp_path / "nogroups", spec=spec))
    assert frame["center"].tolist() == ["north"] * 2 + ["south"] * 3
    # [data.columns] center names a field instead: the group is not read
    spec = rp.spec_text(extra='[data.columns]\ncenter = "smoker"')
    _, frame = patients(project(tmp_path / "mapped", spec=spec))
    assert frame["smoker"].tolist()[0] == "Yes" and "center" not in frame.columns


def test_a_group_missing_from_the_groups_file_is_located(tmp_path):
    rows = rows_with(lambda rs: rs[0].update(redcap_data_access_group="east"))
    found = issues(project(tmp_path, rows=rows), "MMR011")
    assert len(found) == 1 and "'east'" in found[0].what
    assert (found[0].where.patient_id, found[0].where.row, found[0].where.field) == (
        "P1",
        2,
        "redcap_data_access_group",
    )


def test_identifiers_never_reach_a_table_or_an_output(tmp_path):
    spec_path = project(tmp_path)
    p, frame = patients(spec_path)
    assert "patient_name" not in frame.columns and p.identifiers == ("patient_name",)
    out = tmp_path / "out"
    res = runner.invoke(app, ["analyze", str(spec_path), "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    for f in out.rglob("*"):
        if f.is_file() and f.suffix in (".json", ".csv", ".html", ".jsonl"):
            assert "Synthetic Person" not in f.read_text(encoding="utf-8", errors="replace"), f.name


def test_a_spec_that_maps_or_analyses_an_identifier_is_refused(tmp_path):
    spec = rp.spec_text(extra='[data.columns]\nbest_response = "patient_name"')
    found = issues(project(tmp_path, spec=spec), "MMR012")
    assert found and found[0].where.spec_key == "data.columns.best_response"
    spec = rp.spec_text(extra='[[logrank]]\nendpoint = "PFS"\nby = "patient_name"')
    found = issues(project(tmp_path / "x", spec=spec), "MMV014")
    assert found and "identifier" in found[0].what


def test_an_incomplete_form_with_data_is_a_located_warning(tmp_path):
    rows = rp.record_rows()
    rows[0]["outcome_complete"] = "0"  # P1's outcome: Incomplete
    rows[2]["labs_complete"] = "1"  # P1's lab instance 2: Unverified
    found = issues(project(tmp_path, rows=rows), "MMR007")
    assert [
        (i.severity, i.where.patient_id, i.where.instrument, i.where.instance) for i in found
    ] == [("warning", "P1", "outcome", None), ("warning", "P1", "labs", 2)]
    assert "Incomplete" in found[0].what and found[0].where.field == "outcome_complete"
    assert "Unverified" in found[1].what and found[1].where.event == "follow_up_arm_1"


def test_a_gray_form_without_data_is_no_warning(tmp_path):
    rows = rp.record_rows()
    for k in ("progression_date", "death_date", "last_followup_date", "best_response"):
        rows[0][k] = ""
    rows[0]["outcome_complete"] = "0"
    assert issues(project(tmp_path, rows=rows), "MMR007") == []


def test_a_code_not_in_the_dictionary_is_an_error_never_a_new_category(tmp_path):
    rows = rows_with(lambda rs: rs[P2].update(sex="3"))  # no choice 3
    found = issues(project(tmp_path, rows=rows))
    bad = [i for i in found if i.code == "MMR003"]
    assert len(bad) == 1 and bad[0].severity == "error"
    w = bad[0].where
    assert (w.patient_id, w.row, w.event, w.instrument, w.field, w.column) == (
        "P2",
        6,
        "baseline_arm_1",
        "baseline",
        "sex",
        "sex",
    )
    assert "'3'" in bad[0].what and "1, F | 2, M" in bad[0].what


def test_validator_issues_name_the_redcap_field_behind_a_mapped_column(tmp_path):
    # start_date read from a field of another name, left empty for P2
    fields = [f if f[0] != "start_date" else ("therapy_start", *f[1:]) for f in rp.FIELDS]
    header = ["therapy_start" if c == "start_date" else c for c in rp.columns()]
    rows = rp.record_rows()
    for r in rows:
        r["therapy_start"] = r.pop("start_date")
    rows[P2]["therapy_start"] = ""
    spec = rp.spec_text(extra='[data.columns]\nstart_date = "therapy_start"')
    found = issues(project(tmp_path, rows=rows, fields=fields, header=header, spec=spec), "MMV005")
    assert len(found) == 1
    w = found[0].where
    assert (w.patient_id, w.row, w.event, w.instrument) == ("P2", 6, "baseline_arm_1", "baseline")
    assert (w.column, w.field) == ("start_date", "therapy_start")
    assert "field 'therapy_start'" in str(w)


def test_a_labels_export_declared_raw_gets_the_hint(tmp_path):
    spec = rp.spec_text(export="raw")
    found = issues(project(tmp_path, labels=True, spec=spec), "MMR003")
    assert found and 'set export = "labels"' in found[0].fix


def test_an_accepted_bad_code_is_read_as_missing(tmp_path):
    rows = rows_with(lambda rs: rs[P2].update(sex="3"))
    spec = rp.spec_text(extra='[validation.accept]\nMMR003 = "checked with the center"')
    report = mmrwe.Study.from_toml(project(tmp_path, rows=rows, spec=spec)).validate()
    assert report.ok and [i.severity for i in report.issues if i.code == "MMR003"] == ["accepted"]
    _, frame = patients(tmp_path / "study.toml")
    assert frame["sex"].tolist()[1] is None


def test_exclude_invalid_rows_excludes_the_record_with_the_reason(tmp_path):
    rows = rows_with(lambda rs: rs[P2].update(sex="3", start_date="2021-02-31"))
    spec = rp.spec_text(extra="[validation]\nexclude_invalid_rows = true")
    report = mmrwe.Study.from_toml(project(tmp_path, rows=rows, spec=spec)).validate()
    assert report.ok and report.n_analysed == 4
    (ex,) = report.exclusions
    assert (
        ex.patient_id == "P2"
        and ex.row == 6
        and "[MMR003]" in ex.reason
        and "[MMR004]" in ex.reason
    )
    assert {i.severity for i in report.issues if i.code in ("MMR003", "MMR004")} == {"excluded"}


@pytest.mark.parametrize(
    ("field", "value", "code", "piece"),
    [
        ("start_date", "31-02-2021", "MMR004", "date_dmy"),
        ("progression_date", "01/06/2021", "MMR004", "date_ymd"),
        ("hgb", "eleven", "MMR006", "is not a number"),
        ("hgb", "25.1", "MMR005", "outside the field's validation range (3 to 20)"),
    ],
)
def test_dates_and_numbers_follow_the_validation_type(tmp_path, field, value, code, piece):
    rows = rows_with(lambda rs: rs[0].update({field: value}))
    found = issues(project(tmp_path, rows=rows), code)
    assert len(found) == 1 and piece in found[0].what
    assert (found[0].where.patient_id, found[0].where.field, found[0].where.row) == ("P1", field, 2)
    assert found[0].severity == ("warning" if code == "MMR005" else "error")


def test_a_checkbox_cell_neither_ticked_nor_unticked_is_located(tmp_path):
    rows = rows_with(lambda rs: rs[P2].update(comorb___2="2"))
    found = issues(project(tmp_path, rows=rows), "MMR003")
    assert len(found) == 1 and "neither checked nor unchecked" in found[0].what
    w = found[0].where
    assert (w.patient_id, w.row, w.column, w.field, w.instrument) == (
        "P2",
        6,
        "comorb___2",
        "comorb",
        "baseline",
    )


def test_comma_decimals_of_a_comma_validated_field(tmp_path):
    fields = [
        f if f[0] != "hgb" else (*f[:5], "number_1dp_comma_decimal", *f[6:]) for f in rp.FIELDS
    ]
    rows = rows_with(lambda rs: rs[0].update(hgb="11,2"))
    _, frame = patients(project(tmp_path, rows=rows, fields=fields))
    assert frame["hgb"].tolist()[0] == "11.2"


@pytest.mark.parametrize(
    ("change", "code", "piece"),
    [
        (lambda rs, h: h.append("mystery_field"), "MMR001", "'mystery_field'"),
        (lambda rs, h: rs.pop(0), "MMR008", "record P1 has no row in the baseline event"),
        (lambda rs, h: rs.append(dict(rs[0])), "MMR009", "record P1 has another row"),
        (lambda rs, h: rs[1].update(redcap_repeat_instrument="vitals"), "MMR010", "'vitals'"),
        (lambda rs, h: rs[1].update(redcap_repeat_instance="first"), "MMR013", "'first'"),
    ],
)
def test_structural_problems_are_located(tmp_path, change, code, piece):
    rows, header = rp.record_rows(), rp.columns()
    change(rows, header)
    found = issues(project(tmp_path, rows=rows, header=header), code)
    assert found and piece in found[0].what, [i.what for i in found]
    assert found[0].where.file == "records.csv" and found[0].where.row is not None


def test_every_problem_of_an_export_is_reported_at_once(tmp_path):
    rows = rp.record_rows()
    rows[P1]["sex"] = "9"
    rows[P1]["start_date"] = "2021-13-01"
    rows[P2]["hgb"] = "x"
    rows[2]["labs_complete"] = "0"
    rows[P2]["redcap_data_access_group"] = "east"
    codes = sorted({i.code for i in issues(project(tmp_path, rows=rows))})
    assert codes == ["MMR003", "MMR004", "MMR006", "MMR007", "MMR011"]


def test_multiline_cells_of_the_dictionary_and_the_export_are_read(tmp_path):
    fields = [
        f if f[0] != "sex" else (f[0], f[1], f[2], "Sex\n(at birth)", *f[4:]) for f in rp.FIELDS
    ]
    fields.append(("notes", "outcome", "notes", "Notes", "", "", "", "", "", ""))
    header = rp.columns()
    header.insert(header.index("outcome_complete"), "notes")
    rows = rows_with(lambda rs: rs[0].update(notes="first line\nsecond line, with a comma"))
    p, frame = patients(project(tmp_path, rows=rows, fields=fields, header=header))
    assert frame["notes"].tolist()[0] == "first line\nsecond line, with a comma"
    assert p.dictionary.by_name["sex"].label == "Sex (at birth)"
    # the record after the two-line cell is located on its own line
    assert frame["_src_row"].tolist()[:2] == [2, 7]


# -- the spec --------------------------------------------------------------------------------


def test_redcap_replaces_patients_labs_and_therapy_in_the_spec(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text(
        rp.spec_text().replace(
            "[data.redcap]", '[data]\npatients = "p.csv"\ndate_format = "%d/%m/%Y"\n\n[data.redcap]'
        )
    )
    with pytest.raises(InvalidSpecError) as exc:
        load_spec(path)
    keys = {i.where.spec_key for i in exc.value.issues if i.code == "MMS007"}
    assert keys == {"data.patients", "data.date_format"}


def test_a_site_may_be_a_redcap_project(tmp_path):
    rp.write(tmp_path)
    path = tmp_path / "study.toml"
    path.write_text(
        '[[sites]]\nredcap = { records = "records.csv", dictionary = "dictionary.csv" }\n'
    )
    spec = load_spec(path)
    assert spec.sites[0].file == tmp_path / "records.csv" and spec.sites[0].redcap is not None
    out = tmp_path / "out"
    res = runner.invoke(app, ["pool", "--spec", str(path), "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    pooled = (out / "restricted" / "pooled_patients.csv").read_text()
    assert "Synthetic Person" not in pooled and pooled.count("\n") == 6


# -- bad input: messages, exit status, no traceback, inputs unchanged --------------------------


def _hashes(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()
    }


@pytest.mark.parametrize(
    ("damage", "piece"),
    [
        (
            lambda d: (d / "dictionary.csv").write_text("a,b\n1,2\n"),
            "is not a REDCap data dictionary",
        ),
        (lambda d: (d / "records.csv").unlink(), "REDCap record export not found"),
        (lambda d: (d / "records.csv").write_text('record_id,sex\n"P1,1\n'), "records.csv"),
        (lambda d: (d / "records.csv").write_text("sex\n1\n"), "has no column 'record_id'"),
        (lambda d: (d / "dags.csv").write_text("x\n1\n"), "data access groups export"),
    ],
)
def test_bad_files_give_a_message_not_a_traceback(tmp_path, damage, piece):
    spec_path = project(tmp_path)
    damage(tmp_path)
    before = _hashes(tmp_path)
    for cmd in (
        ["validate", str(spec_path)],
        ["analyze", str(spec_path), "--out", str(tmp_path / "o"), "-q"],
    ):
        res = runner.invoke(app, cmd)
        assert res.exit_code == 1, res.output
        assert piece in res.output and "Traceback" not in res.output
    assert _hashes(tmp_path) == before


def test_validate_lists_located_problems_and_leaves_the_inputs(tmp_path):
    rows = rows_with(lambda rs: rs[P2].update(sex="3"))
    spec_path = project(tmp_path, rows=rows)
    before = _hashes(tmp_path)
    res = runner.invoke(app, ["validate", str(spec_path)])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert (
        "MMR003" in res.output
        and "patient P2" in res.output
        and "instrument 'baseline'" in res.output
    )
    assert _hashes(tmp_path) == before


def test_a_dictionary_that_lists_a_field_twice_is_refused(tmp_path):
    rp.write(tmp_path, fields=[*rp.FIELDS, rp.FIELDS[3]])
    with pytest.raises(InputError, match="listed twice"):
        read_dictionary(tmp_path / "dictionary.csv")


# -- small functions ------------------------------------------------------------------------


def test_parse_choices_keeps_commas_in_labels_and_drops_markup():
    assert parse_choices("1, Yes, confirmed | 0, <b>No</b> | -1, Unknown") == (
        ("1", "Yes, confirmed"),
        ("0", "No"),
        ("-1", "Unknown"),
    )


def test_checkbox_column_names_follow_redcap():
    assert checkbox_column("agents", "12") == "agents___12"
    assert checkbox_column("race", "-1") == "race____1" and checkbox_column("x", "A.b") == "x___a_b"


def test_parse_number():
    assert parse_number("11,5", comma=True, integer=False) == "11.5"
    assert parse_number("1.000,5", comma=True, integer=False) is None  # never guessed
    assert parse_number("3.0", comma=False, integer=True) is None


@given(d=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)),
       order=st.sampled_from(["ymd", "dmy", "mdy"]), sep=st.sampled_from(["-", "/"]),
       time=st.booleans())  # fmt: skip
def test_a_date_reads_back_in_every_validation_order(d, order, sep, time):
    shown = {"ymd": f"{d.year:04d}-{d.month:02d}-{d.day:02d}",
             "dmy": f"{d.day:02d}{sep}{d.month:02d}{sep}{d.year:04d}",
             "mdy": f"{d.month:02d}{sep}{d.day:02d}{sep}{d.year:04d}"}[order]  # fmt: skip
    text = shown + (" 14:05" if time else "")
    assert parse_date(text, order, with_time=time) == d
    assert parse_date(f"{d.isoformat()}", order, with_time=False) == d  # REDCap's export form
    if order != "ymd" and d.day > 12:  # the other order cannot read it
        other = "mdy" if order == "dmy" else "dmy"
        assert parse_date(shown, other, with_time=False) is None


def test_pseudonymize_refuses_identifier_fields_unless_dropped_or_kept(tmp_path):
    from mmrwe.io.pseudonymize import create_key
    from mmrwe.study.pseudonymize import pseudonymize_command

    spec_path = project(tmp_path / "site")
    key = tmp_path / "keys" / "site.key"
    key.parent.mkdir()
    create_key(key)
    records = tmp_path / "site" / "records.csv"
    before = _hashes(tmp_path / "site")
    with pytest.raises(InputError, match="marked as identifiers in the REDCap dictionary") as exc:
        pseudonymize_command(records, key, tmp_path / "out" / "records.csv", spec_path=spec_path)
    assert "'patient_name'" in str(exc.value)
    spec_path.write_text(
        spec_path.read_text() + '\n[pseudonymize]\nidentifiers = ["patient_name"]\n'
    )
    (tmp_path / "out").mkdir()
    summary = pseudonymize_command(
        records, key, tmp_path / "out" / "records.csv", spec_path=spec_path
    )
    text = (tmp_path / "out" / "records.csv").read_text()
    assert "patient_name" not in text and "Synthetic Person" not in text and "P1," not in text
    assert summary["output"] == "records.csv"
    assert _hashes(tmp_path / "site") == {
        **before,
        "study.toml": _hashes(tmp_path / "site")["study.toml"],
    }


# -- mmrwe init --redcap ---------------------------------------------------------------------


def test_init_writes_a_spec_that_validates_the_project(tmp_path):
    rp.write(tmp_path)
    out = tmp_path / "study.toml"
    res = runner.invoke(app, ["init", "--redcap", str(tmp_path / "records.csv"),
                              str(tmp_path / "dictionary.csv"), "--groups",
                              str(tmp_path / "dags.csv"), "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    text = out.read_text()
    for piece in ('export = "raw"', 'baseline_event = "baseline_arm_1"',
                  'forms = ["baseline", "outcome"]', 'instrument = "labs"', 'date = "lab_date"',
                  'comorb = "set"', 'levels = ["F", "M"]', 'levels = ["Yes", "No"]',
                  'unit = "g/dL"', 'source = "labs"', "(patient_name) are"):  # fmt: skip
        assert piece in text, piece
    assert "[variables.patient_name]" not in text
    report = mmrwe.Study.from_toml(out).validate()
    assert report.ok and report.n_analysed == 5
    assert not [i for i in report.issues if i.code.startswith("MMR")]


def test_init_without_a_lab_instrument_says_so(tmp_path):
    fields = [f for f in rp.FIELDS if f[1] != "labs"]
    header = [c for c in rp.columns() if not c.startswith("lab")]
    rows = [r for r in rp.record_rows() if not r["redcap_repeat_instrument"]]
    rp.write(tmp_path, fields=fields, header=header, rows=rows)
    out = tmp_path / "study.toml"
    res = runner.invoke(app, ["init", "--redcap", str(tmp_path / "records.csv"),
                              str(tmp_path / "dictionary.csv"), "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert "[response]" not in text and "No instrument was recognised as the labs" in text
    assert '# groups = "dags.csv"' in text and "under their unique names" in text
    assert mmrwe.Study.from_toml(out).validate().ok


@pytest.mark.parametrize(
    ("args", "status", "piece"),
    [
        (["x.csv", "--redcap", "r.csv", "d.csv"], 2, "either DATAFILE or --redcap"),
        ([], 2, "missing DATAFILE"),
        (["x.csv", "--groups", "g.csv"], 2, "--groups goes with --redcap"),
        (["--redcap", "nowhere.csv", "dictionary.csv"], 1, "REDCap record export not found"),
    ],
)
def test_init_usage_and_missing_files_are_messages(tmp_path, args, status, piece):
    rp.write(tmp_path)
    res = runner.invoke(app, ["init", *[str(tmp_path / a) if a.endswith(".csv") else a for a in args],
                              "--out", str(tmp_path / "s.toml")])  # fmt: skip
    assert res.exit_code == status and piece in res.output and "Traceback" not in res.output
    assert not (tmp_path / "s.toml").exists()


def test_init_never_overwrites_a_spec(tmp_path):
    rp.write(tmp_path)
    out = tmp_path / "study.toml"
    out.write_text("# mine\n")
    args = ["init", "--redcap", str(tmp_path / "records.csv"), str(tmp_path / "dictionary.csv")]
    res = runner.invoke(app, [*args, "--out", str(out)])
    assert res.exit_code == 1 and "already exists" in res.output and out.read_text() == "# mine\n"
    res = runner.invoke(app, [*args, "--out", str(tmp_path / "records.csv")])
    assert res.exit_code == 1 and "is an input file" in res.output
