"""One test per validation rule: exit status, message names row / column / patient, inputs unchanged."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from mmrwe.cli.main import app
from mmrwe.spec import load_spec
from mmrwe.study import Study

runner = CliRunner()

BASE_ROWS = [
    # patient_id, center, start, progression, death, last follow-up, hgb, sex, best_response
    ("P1", "A", "2021-01-10", "2021-06-01", "", "2022-01-10", 11.2, "F", "PR"),
    ("P2", "A", "2021-02-01", "", "2021-12-24", "2021-12-24", 9.8, "M", "SD"),
    ("P3", "B", "2021-03-15", "2021-09-30", "2022-03-01", "2022-03-01", 12.9, "F", "VGPR"),
    ("P4", "B", "2021-04-20", "", "", "2022-05-01", 13.4, "M", "CR"),
    ("P5", "C", "2021-05-05", "2021-08-01", "", "2022-02-02", 10.1, "F", "PD"),
]
COLUMNS = [
    "patient_id",
    "center",
    "start_date",
    "progression_date",
    "death_date",
    "last_followup_date",
    "hgb",
    "sex",
    "best_response",
]

SPEC = """
[study]
title = "validation test"

[data]
patients = "patients.csv"
{data_extra}

[variables.hgb]
unit = "g/dL"

{extra}
"""


def make_study(
    tmp_path: Path,
    rows=None,
    *,
    extra: str = "",
    data_extra: str = "",
    columns=None,
    text: str | None = None,
) -> Path:
    table = tmp_path / "patients.csv"
    if text is not None:
        table.write_text(text)
    else:
        pd.DataFrame(rows or BASE_ROWS, columns=columns or COLUMNS).to_csv(table, index=False)
    spec = tmp_path / "study.toml"
    spec.write_text(SPEC.format(extra=extra, data_extra=data_extra))
    return spec


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_validate(spec: Path):
    before = {p: sha(p) for p in spec.parent.iterdir() if p.is_file()}
    result = runner.invoke(app, ["validate", str(spec)])
    after = {p: sha(p) for p in spec.parent.iterdir() if p.is_file()}
    assert before == after, "validate modified an input file"
    assert "Traceback" not in result.output
    return result


def issues_of(spec: Path, code: str):
    v = Study(load_spec(spec)).validate()
    return [i for i in v.issues if i.code == code]


def with_row(i: int, **changes):
    rows = [list(r) for r in BASE_ROWS]
    for k, v in changes.items():
        rows[i][COLUMNS.index(k)] = v
    return [tuple(r) for r in rows]


def test_valid_table_passes(tmp_path):
    spec = make_study(tmp_path)
    res = run_validate(spec)
    assert res.exit_code == 0, res.output
    assert "valid" in res.output


def test_mmv001_missing_required_column(tmp_path):
    rows = [r[:4] + r[5:] for r in BASE_ROWS]
    cols = COLUMNS[:4] + COLUMNS[5:]
    spec = make_study(tmp_path, rows, columns=cols)
    res = run_validate(spec)
    assert res.exit_code == 1
    assert "MMV001" in res.output and "death_date" in res.output


def test_mmv001_mapped_column_not_found_suggests(tmp_path):
    spec = make_study(tmp_path, data_extra='[data.columns]\nstart_date = "start_dat"')
    [issue] = [i for i in issues_of(spec, "MMV001") if "start_dat" in i.what]
    assert "start_date" in issue.fix  # did-you-mean


def test_mmv002_duplicate_patient_id(tmp_path):
    spec = make_study(tmp_path, with_row(3, patient_id="P1"))
    res = run_validate(spec)
    assert res.exit_code == 1
    [issue] = issues_of(spec, "MMV002")
    assert (
        issue.where.row == 5
        and issue.where.patient_id == "P1"
        and issue.where.column == "patient_id"
    )
    assert "row 2" in issue.what  # points at the first occurrence too


def test_mmv003_empty_patient_id(tmp_path):
    spec = make_study(tmp_path, with_row(1, patient_id=""))
    assert run_validate(spec).exit_code == 1
    [issue] = issues_of(spec, "MMV003")
    assert issue.where.row == 3


def test_mmv004_unparseable_date_with_format_hint(tmp_path):
    spec = make_study(tmp_path, with_row(2, start_date="15/03/2021"))
    res = run_validate(spec)
    assert res.exit_code == 1
    [issue] = issues_of(spec, "MMV004")
    assert (
        issue.where.row == 4
        and issue.where.column == "start_date"
        and issue.where.patient_id == "P3"
    )
    assert "day/month/year" in issue.fix and "date_format" in issue.fix


def test_mmv004_european_dates_when_declared(tmp_path):
    rows = [
        tuple(
            pd.to_datetime(v).strftime("%d/%m/%Y") if k in (2, 3, 4, 5) and v else v
            for k, v in enumerate(r)
        )
        for r in BASE_ROWS
    ]
    spec = make_study(tmp_path, rows, data_extra='date_format = "%d/%m/%Y"')
    assert run_validate(spec).exit_code == 0


def test_mmv005_missing_start_date(tmp_path):
    spec = make_study(tmp_path, with_row(0, start_date=""))
    assert run_validate(spec).exit_code == 1
    [issue] = issues_of(spec, "MMV005")
    assert issue.where.column == "start_date" and issue.where.patient_id == "P1"


def test_mmv006_event_before_start(tmp_path):
    spec = make_study(tmp_path, with_row(0, progression_date="2020-12-31"))
    res = run_validate(spec)
    assert res.exit_code == 1
    [issue] = issues_of(spec, "MMV006")
    assert issue.where.column == "progression_date" and issue.where.row == 2


def test_mmv007_event_after_last_followup(tmp_path):
    spec = make_study(tmp_path, with_row(3, progression_date="2022-06-01"))
    assert run_validate(spec).exit_code == 1
    [issue] = issues_of(spec, "MMV007")
    assert issue.where.patient_id == "P4"


def test_mmv008_death_not_last_followup(tmp_path):
    spec = make_study(tmp_path, with_row(1, last_followup_date="2022-01-01"))
    assert run_validate(spec).exit_code == 1
    [issue] = issues_of(spec, "MMV008")
    assert issue.where.patient_id == "P2" and issue.where.column == "last_followup_date"


def test_mmv009_progression_after_death(tmp_path):
    spec = make_study(
        tmp_path,
        with_row(
            2,
            progression_date="2022-03-01",
            death_date="2022-02-01",
            last_followup_date="2022-02-01",
        ),
    )
    assert run_validate(spec).exit_code == 1
    assert issues_of(spec, "MMV009")


def test_mmv010_hemoglobin_in_g_per_l_while_g_dl_declared(tmp_path):
    spec = make_study(tmp_path, with_row(4, hgb=101.0))
    res = run_validate(spec)
    assert res.exit_code == 1
    [issue] = issues_of(spec, "MMV010")
    assert issue.where.row == 6 and issue.where.column == "hgb" and issue.where.patient_id == "P5"
    assert "g/L" in issue.fix


def test_mmv010_reverse_slip_g_dl_values_with_g_l_declared(tmp_path):
    spec = make_study(tmp_path)
    spec.write_text(spec.read_text().replace('unit = "g/dL"', 'unit = "g/L"'))
    assert run_validate(spec).exit_code == 1
    found = issues_of(spec, "MMV010")
    assert len(found) == 5 and all("g/dL" in i.fix for i in found)


def test_mmv011_unusual_value_is_a_warning(tmp_path):
    spec = make_study(tmp_path, with_row(0, hgb=5.5))
    assert run_validate(spec).exit_code == 0
    [issue] = issues_of(spec, "MMV011")
    assert issue.severity == "warning"


def test_mmv022_a_date_in_the_future_is_a_warning(tmp_path):
    # follow-up typed as 2039 was accepted without a word (issue #21): now located, kept
    spec = make_study(
        tmp_path, with_row(3, last_followup_date="2039-05-01", progression_date="2039-01-02")
    )
    res = run_validate(spec)
    assert res.exit_code == 0, res.output
    issues = issues_of(spec, "MMV024")
    assert {i.where.column for i in issues} == {"last_followup_date", "progression_date"}
    for i in issues:
        assert i.severity == "warning" and i.where.patient_id == "P4" and i.where.row == 5
        assert "in the future" in i.what and "2039" in i.what
    (tmp_path / "ok").mkdir()
    assert issues_of(make_study(tmp_path / "ok"), "MMV024") == []  # past dates: no warning


def test_mmv023_a_cutpoint_on_text_is_found_by_validate(tmp_path):
    # it passed validate and ended in an internal error at analysis time (issue #21)
    spec = make_study(
        tmp_path,
        extra='[[cutpoint]]\nendpoint = "PFS"\nvariable = "sex"\n'
        '[[cutpoint]]\nendpoint = "PFS"\nvariable = "hgb"\n',
    )
    assert run_validate(spec).exit_code == 0
    [issue] = issues_of(spec, "MMV025")
    assert issue.severity == "warning" and issue.where.column == "sex"
    assert issue.where.spec_key == "cutpoint[0].variable" and "needs numbers" in issue.what


def test_a_negative_landmark_is_refused_with_its_key(tmp_path):
    spec = make_study(tmp_path, extra="[km]\nlandmarks = [-6, 12]\n")
    res = run_validate(spec)
    assert res.exit_code != 0
    assert "km.landmarks" in res.output and "-6" in res.output


def test_mmv012_unknown_response_category(tmp_path):
    spec = make_study(tmp_path, with_row(0, best_response="PRR"))
    res = run_validate(spec)
    assert res.exit_code == 1
    [issue] = issues_of(spec, "MMV012")
    assert issue.where.column == "best_response" and "PR" in issue.fix


def test_mmv013_text_in_numeric_column(tmp_path):
    spec = make_study(tmp_path, with_row(1, hgb="9,8"))
    assert run_validate(spec).exit_code == 1
    [issue] = issues_of(spec, "MMV013")
    assert issue.where.row == 3 and "decimal" in issue.what


def test_decimal_comma_declared(tmp_path):
    rows = [
        tuple(str(v).replace(".", ",") if k == 6 else v for k, v in enumerate(r)) for r in BASE_ROWS
    ]
    spec = make_study(tmp_path, rows, data_extra='decimal = ","')
    assert run_validate(spec).exit_code == 0


def test_mmv014_spec_names_unknown_column(tmp_path):
    spec = make_study(tmp_path, extra='[[logrank]]\nendpoint = "PFS"\nby = "sexx"')
    res = run_validate(spec)
    assert res.exit_code == 1
    [issue] = issues_of(spec, "MMV014")
    assert issue.where.spec_key == "logrank[0].by" and "sex" in issue.fix


def test_mmv019_exclusion_of_unknown_patient(tmp_path):
    spec = make_study(
        tmp_path, extra='[[cohort.exclude]]\npatient_id = "P9"\nreason = "consent withdrawn"'
    )
    assert run_validate(spec).exit_code == 1
    assert issues_of(spec, "MMV019")


def test_unknown_spec_key_is_refused_with_suggestion(tmp_path):
    spec = make_study(tmp_path, extra='[km]\nconf_typ = "log"')
    res = run_validate(spec)
    assert res.exit_code == 1
    assert "conf_typ" in res.output and "conf_type" in res.output


def test_missing_file(tmp_path):
    spec = make_study(tmp_path)
    (tmp_path / "patients.csv").unlink()
    res = run_validate(spec)
    assert res.exit_code == 1
    assert "not found" in res.output and "patients.csv" in res.output


def test_missing_spec_file(tmp_path):
    res = runner.invoke(app, ["validate", str(tmp_path / "nope.toml")])
    assert res.exit_code == 1 and "not found" in res.output


def test_semicolon_file_without_declared_delimiter(tmp_path):
    text = (
        ";".join(COLUMNS) + "\n" + "\n".join(";".join(str(v) for v in r) for r in BASE_ROWS) + "\n"
    )
    spec = make_study(tmp_path, text=text)
    res = run_validate(spec)
    assert res.exit_code == 1 and "delimiter" in res.output


def test_all_errors_reported_at_once(tmp_path):
    rows = with_row(0, start_date="bad")
    rows[1] = with_row(1, hgb=98.0)[1]
    rows[2] = with_row(2, best_response="XX")[2]
    spec = make_study(tmp_path, rows)
    v = Study(load_spec(spec)).validate()
    assert {i.code for i in v.errors} >= {"MMV004", "MMV010", "MMV012"}


def test_exclude_invalid_rows_accounts_for_every_row(tmp_path):
    spec = make_study(
        tmp_path, with_row(4, hgb=101.0), extra="[validation]\nexclude_invalid_rows = true"
    )
    v = Study(load_spec(spec)).validate()
    assert not v.errors
    assert v.n_analysed + len(v.exclusions) == v.n_input_rows == 5
    [ex] = v.exclusions
    assert ex.patient_id == "P5" and "MMV010" in ex.reason


def test_accepting_an_issue_code(tmp_path):
    spec = make_study(
        tmp_path,
        with_row(0, hgb=5.5),
        extra='[validation.accept]\nMMV011 = "checked with the center: true value"',
    )
    v = Study(load_spec(spec)).validate()
    [issue] = [i for i in v.issues if i.code == "MMV011"]
    assert issue.severity == "accepted" and "true value" in issue.fix


@pytest.mark.parametrize("bad", ["44197", "2021-13-01"])
def test_date_errors_never_guess(tmp_path, bad):
    spec = make_study(tmp_path, with_row(0, start_date=bad))
    assert issues_of(spec, "MMV004")


def test_mmv015_empty_column_warns(tmp_path):
    rows = [(*r, "") for r in BASE_ROWS]
    spec = make_study(tmp_path, rows, columns=[*COLUMNS, "ldh"])
    assert run_validate(spec).exit_code == 0
    [issue] = issues_of(spec, "MMV015")
    assert issue.where.column == "ldh"


def test_mmv016_center_exporting_another_unit(tmp_path):
    rows = [list(r) for r in BASE_ROWS] + [
        ["P6", "D", "2021-05-05", "", "", "2022-02-02", 16.9, "F", "PR"],
        ["P7", "D", "2021-05-05", "", "", "2022-02-02", 16.5, "F", "PR"],
        ["P8", "D", "2021-05-05", "", "", "2022-02-02", 16.8, "F", "PR"],
    ]
    spec = make_study(tmp_path, [tuple(r) for r in rows])
    spec.write_text(spec.read_text().replace('unit = "g/dL"', 'unit = "mmol/L"'))
    found = issues_of(spec, "MMV016")
    assert any("center D" in i.what and "g/dL" in i.fix for i in found)


def test_mmv017_no_center_column_warns(tmp_path):
    rows = [r[:1] + r[2:] for r in BASE_ROWS]
    spec = make_study(tmp_path, rows, columns=[c for c in COLUMNS if c != "center"])
    assert run_validate(spec).exit_code == 0
    assert issues_of(spec, "MMV017")


def test_mmv018_mostly_numbers_with_text_is_flagged(tmp_path):
    rows = [(*r, v) for r, v in zip(BASE_ROWS, ["1", "2", "3", "4", "n.d."], strict=True)]
    spec = make_study(tmp_path, rows, columns=[*COLUMNS, "ecog"])
    [issue] = issues_of(spec, "MMV018")
    assert "n.d." in issue.what and "row 6" in issue.what


def test_mmv020_unknown_unit_for_analyte(tmp_path):
    spec = make_study(tmp_path)
    spec.write_text(spec.read_text().replace('unit = "g/dL"', 'unit = "mg/mL"'))
    [issue] = issues_of(spec, "MMV020")
    assert "g/dL" in issue.fix


def test_help_text_is_there():
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0 and "demo" in res.output and "analyze" in res.output
    res = runner.invoke(app, ["analyze", "--help"])
    assert "--out" in res.output


def test_brackets_in_messages_are_printed(tmp_path):
    # rich markup must not eat "[data]" from a fix text
    spec = make_study(tmp_path)
    (tmp_path / "patients.csv").unlink()
    res = runner.invoke(app, ["analyze", str(spec), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1
    assert "[data]" in res.output


# --- issue 17: declared levels, the values the spec names, fixes that are correct -----------


def test_mmv022_value_outside_declared_levels_is_an_error(tmp_path):
    # sex "X" with levels F, M was accepted and became a third category in Table 1 and Cox
    spec = make_study(tmp_path, with_row(1, sex="X"), extra='[variables.sex]\nlevels = ["F", "M"]')
    res = run_validate(spec)
    assert res.exit_code == 1 and "MMV022" in res.output
    [issue] = issues_of(spec, "MMV022")
    assert issue.severity == "error"
    assert (issue.where.row, issue.where.column, issue.where.patient_id) == (3, "sex", "P2")
    assert issue.where.spec_key == "variables.sex.levels"
    assert "'X'" in issue.what and "(F, M)" in issue.what
    assert "exclude_invalid_rows" in issue.fix


def test_mmv022_suggests_the_level_a_value_means(tmp_path):
    rows = with_row(0, sex="f")
    rows[1] = with_row(1, sex="Male")[1]
    spec = make_study(tmp_path, rows, extra='[variables.sex]\nlevels = ["F", "M"]')
    fixes = [i.fix for i in issues_of(spec, "MMV022")]
    assert fixes[0].startswith("did you mean 'F'?") and fixes[1].startswith("did you mean 'M'?")


def test_mmv022_rows_excluded_with_the_reason_on_request(tmp_path):
    spec = make_study(
        tmp_path,
        with_row(1, sex="X"),
        extra='[variables.sex]\nlevels = ["F", "M"]\n[validation]\nexclude_invalid_rows = true',
    )
    v = Study(load_spec(spec)).validate()
    assert not v.errors and v.n_analysed == 4
    [ex] = v.exclusions
    assert ex.patient_id == "P2" and "MMV022" in ex.reason and "'X'" in ex.reason


def test_mmv022_never_a_silent_category_in_the_analysis(tmp_path):
    spec = make_study(
        tmp_path,
        with_row(1, sex="X"),
        extra='[variables.sex]\nlevels = ["F", "M"]\n[table1]\nvariables = ["sex"]',
    )
    res = runner.invoke(app, ["analyze", str(spec), "--out", str(tmp_path / "out")])
    assert res.exit_code == 1 and "MMV022" in res.output
    assert not (tmp_path / "out" / "results.json").exists()


def test_mmv022_numeric_codes_compare_as_labels(tmp_path):
    rows = [(*r, code) for r, code in zip(BASE_ROWS, [0, 1, 0, 1, 2], strict=True)]
    spec = make_study(
        tmp_path, rows, columns=[*COLUMNS, "ecog"], extra='[variables.ecog]\nlevels = ["0", "1"]'
    )
    [issue] = issues_of(spec, "MMV022")
    assert issue.where.patient_id == "P5" and "'2'" in issue.what


def test_mmv023_spec_values_checked_against_the_data_all_at_once(tmp_path):
    extra = """
[variables.sex]
levels = ["F", "M"]

[[proportion]]
name = "ORR"
variable = "best_response"
success = ["sCR", "CR", "nCR", "VGPR", "PR"]

[[cox]]
endpoint = "OS"
terms = ["hgb"]

[[cox]]
endpoint = "PFS"
terms = ["hgb", "sex"]
reference = { sex = "Female" }

[[rmst]]
endpoint = "PFS"
tau = 6
by = "center"
reference = "Z"
"""
    spec = make_study(tmp_path, extra=extra)
    res = run_validate(spec)
    assert res.exit_code == 1
    found = {i.where.spec_key: i for i in issues_of(spec, "MMV023")}
    assert set(found) == {
        "[[proportion]] 1 -> success",
        "[[cox]] 2 -> reference.sex",
        "[[rmst]] 1 -> reference",
    }
    assert "did you mean 'F'?" in found["[[cox]] 2 -> reference.sex"].fix
    assert "'VGPR'" in found["[[proportion]] 1 -> success"].fix  # IMWG counts nCR as VGPR
    assert "A, B, C" in found["[[rmst]] 1 -> reference"].fix
    for key in found:
        assert key in res.output


def test_mmv023_a_cut_of_a_text_column(tmp_path):
    spec = make_study(
        tmp_path, extra='[[derive]]\nname = "male"\nfrom = "sex"\nat_least = 1\nlabels = ["y", "n"]'
    )
    [issue] = issues_of(spec, "MMV023")
    assert issue.where.spec_key == "[[derive]] 1 -> from" and "in = [" in issue.fix


def test_mmv023_levels_of_derived_columns_are_known(tmp_path):
    extra = """
[[derive]]
name = "anemia"
from = "hgb"
below = 11
labels = ["yes", "no"]

[[cox]]
endpoint = "PFS"
terms = ["anemia"]
reference = { anemia = "No" }
"""
    spec = make_study(tmp_path, extra=extra)
    [issue] = issues_of(spec, "MMV023")
    assert issue.fix.startswith("did you mean 'no'?")


@pytest.mark.parametrize(
    ("value", "fix"),
    [("nCR", "'VGPR'"), ("near CR", "'VGPR'"), ("complete response", "'CR'"), ("VGRP", "'VGPR'")],
)
def test_mmv012_fix_follows_imwg(tmp_path, value, fix):
    # nCR (near-complete response) is counted as VGPR by IMWG, never as CR
    spec = make_study(tmp_path, with_row(0, best_response=value))
    [issue] = issues_of(spec, "MMV012")
    assert fix in issue.fix.split(";")[0]
    if value.lower().replace(" ", "").startswith("n"):
        assert "'CR'" not in issue.fix.split(";")[0]


def test_mmv012_no_single_category_is_not_guessed(tmp_path):
    spec = make_study(tmp_path, with_row(0, best_response="uCR"))
    [issue] = issues_of(spec, "MMV012")
    assert "did you mean" not in issue.fix and "source record" in issue.fix


def test_mmv001_missing_death_date_is_not_mapped_to_another_date(tmp_path):
    rows = [r[:4] + r[5:] for r in BASE_ROWS]
    spec = make_study(tmp_path, rows, columns=COLUMNS[:4] + COLUMNS[5:])
    [issue] = [i for i in issues_of(spec, "MMV001") if "death_date" in i.what]
    assert "start_date" not in issue.fix and "progression_date" not in issue.fix
    assert '"<source name>"' in issue.fix


def test_mmv001_missing_column_still_suggests_a_look_alike(tmp_path):
    rows = [r[:4] + r[5:] for r in BASE_ROWS]
    cols = [*COLUMNS[:4], *COLUMNS[5:]]
    cols[cols.index("last_followup_date")] = "last_followup_dat"
    spec = make_study(tmp_path, rows, columns=cols)
    [issue] = [i for i in issues_of(spec, "MMV001") if "last_followup_date" in i.what]
    assert 'last_followup_date = "last_followup_dat"' in issue.fix


FIVE_MISTAKES_SPEC_AND_DATA = """
[variables.sex]
levels = ["F", "M"]

[km]
conf_typ = "log"

[[proportion]]
name = "ORR"
variable = "best_response"
success = ["CR", "nCR", "PR"]

[[logrank]]
endpoint = "PFS"
by = "sexx"

[[cox]]
endpoint = "PFS"
terms = ["hgb", "sex"]
reference = { sex = "Female" }
ties = "exactt"
"""


def test_five_mistakes_of_spec_and_data_in_one_validate_run(tmp_path):
    import json

    spec = make_study(tmp_path, extra=FIVE_MISTAKES_SPEC_AND_DATA)
    out = tmp_path / "issues.json"
    before = sha(spec.parent / "patients.csv")
    res = runner.invoke(app, ["validate", str(spec), "--json", str(out)])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert sha(spec.parent / "patients.csv") == before
    found = [(i["code"], i["where"]["spec_key"]) for i in json.loads(out.read_text())["issues"]]
    assert found == [
        ("MMS001", "km.conf_typ"),
        ("MMS003", "[[cox]] 1 -> ties"),
        ("MMV014", "logrank[0].by"),
        ("MMV023", "[[cox]] 1 -> reference.sex"),
        ("MMV023", "[[proportion]] 1 -> success"),
    ]
    for _, key in found:
        assert key in res.output
    # MMV014 keeps its key for tools and names it as the spec is written in the fix
    assert "(change [[logrank]] 1 -> by)" in res.output
    assert "Nothing was analysed" in res.output


def test_a_problem_in_data_keeps_the_data_unread(tmp_path):
    spec = make_study(
        tmp_path, data_extra='date_format = "dd/mm/yyyy"', extra=FIVE_MISTAKES_SPEC_AND_DATA
    )
    res = run_validate(spec)
    assert res.exit_code == 1 and "Nothing was read" in res.output
    assert "MMS009" in res.output and "MMV" not in res.output


def test_mmv023_published_quantity_levels(tmp_path):
    extra = """
[[published]]
name = "Female"
value = 3
quantity = "count:sex:Female"

[[published]]
name = "Near-complete responses"
value = 1
quantity = "response:nCR"

[[published]]
name = "Women"
value = 3
quantity = "count:sex:F"
"""
    spec = make_study(tmp_path, extra=extra)
    found = {i.where.spec_key: i.fix for i in issues_of(spec, "MMV023")}
    assert set(found) == {"[[published]] 1 -> quantity", "[[published]] 2 -> quantity"}
    assert found["[[published]] 1 -> quantity"].startswith("did you mean 'F'?")
    assert "'VGPR'" in found["[[published]] 2 -> quantity"]
