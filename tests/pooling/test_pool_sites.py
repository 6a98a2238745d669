"""`mmrwe pool`: three differently formatted site files give the single clean file's results.

The site files are SYNTHETIC (the demo cohort split by center, scripts/make_site_files.py).
"""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from _sites import (
    add_to_spec,
    copy_sites,
    diff_paths,
    folder_hashes,
    make_sites,
    max_rel_diff,
    replace_in_spec,
    results,
)
from typer.testing import CliRunner

from mmrwe.cli.main import app
from mmrwe.core.errors import SpecError, ValidationError
from mmrwe.io.pool import convert_units, exact_ratio
from mmrwe.spec import load_spec
from mmrwe.study.pipeline import run as run_study
from mmrwe.study.pooling import pool, prepare_pool
from mmrwe.validate.units import unit_range

runner = CliRunner()


@pytest.fixture(scope="module")
def full_sites(tmp_path_factory) -> dict[str, Path]:
    """The site files with the complete demo spec (cut-offs with bootstrap included)."""
    return make_sites(tmp_path_factory.mktemp("full_sites"), light=False)


@pytest.fixture(scope="module")
def sites(tmp_path_factory) -> dict[str, Path]:
    """The site files with the demo spec minus [[cutpoint]] (fast)."""
    return make_sites(tmp_path_factory.mktemp("sites"))


@pytest.fixture(scope="module")
def clean_light(sites, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("clean_light")
    res = runner.invoke(app, ["analyze", str(sites["spec"]), "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    return results(out)


def _pool_cli(spec: Path, out: Path, *files: Path) -> CliRunner:
    args = ["pool", *map(str, files), "--spec", str(spec), "--out", str(out), "--quiet"]
    return runner.invoke(app, args)


@pytest.mark.slow  # two complete CLI runs of the demo spec (bootstrap, HTML and DOCX): ~12 s
def test_three_formats_give_the_clean_results(full_sites, tmp_path):
    # Acceptance: CSV (';', decimal commas, dd.mm.yyyy, latin-1), Excel (dd/mm/yyyy text,
    # Hb in g/L, extra and hidden sheets) and SPSS (date columns, value labels) pooled
    # give the results.json of the single clean file. Only `inputs` differs: it names
    # the table analysed (patients.csv vs pooled_patients.csv), its SHA-256, and the
    # pooled entry carries the per-site reading notes.
    folder = full_sites["spec"].parent
    before = folder_hashes(folder)
    res = runner.invoke(
        app, ["analyze", str(full_sites["spec"]), "--out", str(tmp_path / "clean"), "-q"]
    )
    assert res.exit_code == 0, res.output
    res = _pool_cli(full_sites["spec"], tmp_path / "pooled")
    assert res.exit_code == 0, res.output
    clean, pooled = results(tmp_path / "clean"), results(tmp_path / "pooled")
    assert diff_paths(clean, pooled) == [
        ".inputs.patients.file",
        ".inputs.patients.notes",
        ".inputs.patients.sha256",
        ".inputs.sites",
    ]
    assert pooled["inputs"]["patients"]["file"] == "pooled_patients.csv"
    assert [s["file"] for s in pooled["inputs"]["sites"]] == [
        "north.csv",
        "centro.xlsx",
        "south.sav",
    ]
    assert any("g/L to g/dL" in n for n in pooled["inputs"]["patients"]["notes"])
    assert pooled["cutpoints"] == clean["cutpoints"]  # bootstrap included, bit for bit
    assert folder_hashes(folder) == before  # inputs never modified
    assert (tmp_path / "pooled" / "report.html").is_file()
    # The demo's own file lists the same patients in id order (centers interleaved): the
    # same results up to the order of floating-point sums (measured: < 1e-13 relative);
    # every count, level, p-value rounding and string is equal.
    by_id = tmp_path / "by_id"
    by_id.mkdir()
    (by_id / "study.toml").write_bytes(full_sites["spec"].read_bytes())
    (by_id / "patients.csv").write_bytes(full_sites["clean_by_id"].read_bytes())
    other = json.loads(run_study(load_spec(by_id / "study.toml")).results.to_json())
    other["inputs"] = pooled["inputs"]
    # Bootstrap resamples draw row indices: another row order is another (equally valid)
    # Monte Carlo sample, so bootstrap and optimism results (and the sentences quoting
    # them) are left out here.
    resampled = ("bootstrap", "optimism", "sentence", "summary")
    strip = [{k: v for k, v in c.items() if k not in resampled} for c in other["cutpoints"]]
    other["cutpoints"] = strip
    pooled = {
        **pooled,
        "cutpoints": [
            {k: v for k, v in c.items() if k not in resampled} for c in pooled["cutpoints"]
        ],
    }
    # Multiple imputation and the MAIC bootstrap draw random numbers per row too: left out
    # for the same reason
    for doc in (other, pooled):
        for key in ("imputation", "maic"):
            doc.pop(key, None)
        for key in ("cox", "proportions", "proportion_comparisons"):
            doc[key] = [{k: v for k, v in e.items() if k != "imputed"} for e in doc.get(key, [])]
    assert max_rel_diff(other, pooled) < 1e-12
    # Same canonical table as the clean file (numbers may be written 14 instead of 14.0).
    a = pd.read_csv(full_sites["clean"], dtype=str, keep_default_na=False)
    b = pd.read_csv(
        tmp_path / "pooled" / "restricted" / "pooled_patients.csv", dtype=str, keep_default_na=False
    )
    for c in ("age", "prior_lines", "months_from_dara_refractory", "hgb"):
        a[c], b[c] = a[c].astype(float), b[c].astype(float)
    pd.testing.assert_frame_equal(a, b)


def test_pooling_json_accounts_for_every_row(sites, tmp_path):
    run = pool(load_spec(sites["spec"]), [], tmp_path, report=False)
    doc = json.loads((tmp_path / "pooling.json").read_text())
    assert doc["status"] == "ok"
    assert [
        (s["file"], s["rows_in"], s["rows_analysed"], s["rows_excluded"]) for s in doc["sites"]
    ] == [
        ("north.csv", 14, 14, 0),
        ("centro.xlsx", 22, 22, 0),
        ("south.sav", 15, 15, 0),
    ]
    assert doc["totals"] == {"rows_in": 51, "rows_analysed": 51, "rows_excluded": 0}
    assert doc["duplicates"] == []
    assert run.run.results["cohort"]["n_input_rows"] == 51
    north = doc["sites"][0]
    assert north["read_options"]["delimiter"] == ";" and north["read_options"]["decimal"] == ","
    assert any("recoded" in n for n in north["notes"])


def test_pooled_table_reanalysed_gives_the_pooled_results(sites, clean_light, tmp_path):
    pool(load_spec(sites["spec"]), [], tmp_path / "pooled", report=False)
    folder = copy_sites(sites["spec"].parent, tmp_path / "again")
    shutil.copy(tmp_path / "pooled" / "restricted" / "pooled_patients.csv", folder / "patients.csv")
    res = runner.invoke(
        app, ["analyze", str(folder / "study.toml"), "--out", str(tmp_path / "o"), "-q"]
    )
    assert res.exit_code == 0, res.output
    again = results(tmp_path / "o")
    assert [p for p in diff_paths(clean_light, again) if not p.startswith(".inputs")] == []


def test_order_of_site_files_does_not_matter(sites, tmp_path):
    spec = load_spec(sites["spec"])
    a = pool(spec, [], tmp_path / "a", report=False)
    files = [sites["south"], sites["north"], sites["centro"]]
    b = pool(spec, files, tmp_path / "b", report=False)
    assert (tmp_path / "a" / "results.json").read_bytes() == (
        tmp_path / "b" / "results.json"
    ).read_bytes()
    assert a.pooled.csv_text == b.pooled.csv_text


def test_a_subset_of_sites_can_be_pooled(sites, tmp_path):
    run = pool(load_spec(sites["spec"]), [sites["north"], sites["south"]], tmp_path, report=False)
    assert run.run.results["cohort"]["n"] == 29
    assert set(run.run.results["cohort"]["centers"]) == {"Center A", "Center D", "Center E"}


def test_file_matching_no_sites_entry_is_refused(sites, tmp_path):
    stray = tmp_path / "other.csv"
    shutil.copy(sites["clean"], stray)
    with pytest.raises(SpecError, match="matches no"):
        pool(load_spec(sites["spec"]), [stray], tmp_path / "o")


# --- conflicts are errors, reported with where and how to fix -----------------------------


def _edit_xlsx(path: Path, cell: str, value: object) -> None:
    wb = openpyxl.load_workbook(path)
    wb["pazienti"][cell] = value
    wb.save(path)


def _fails(spec: Path, out: Path, *codes: str) -> dict:
    with pytest.raises(ValidationError) as exc:
        pool(load_spec(spec), [], out, report=False)
    found = {i.code for i in exc.value.issues if i.severity == "error"}
    assert set(codes) <= found, found
    doc = json.loads((out / "pooling.json").read_text())
    assert doc["status"] == "failed"
    assert not (out / "results.json").exists()
    return doc


def test_center_cell_conflicting_with_declared_center(sites, tmp_path):
    folder = copy_sites(sites["spec"].parent, tmp_path / "s")
    _edit_xlsx(folder / "centro.xlsx", "B3", "Center Z")  # Centro column, first patient's row 3
    doc = _fails(folder / "study.toml", tmp_path / "o", "MMP002")
    issue = next(i for i in doc["issues"] if i["code"] == "MMP002")
    assert issue["where"]["file"] == "centro.xlsx" and issue["where"]["row"] == 3
    assert issue["where"]["column"] == "Centro"


def test_center_conflict_rows_excluded_on_request_and_accounted(sites, tmp_path):
    folder = copy_sites(sites["spec"].parent, tmp_path / "s")
    _edit_xlsx(folder / "centro.xlsx", "B3", "Center Z")
    add_to_spec(folder / "study.toml", "[validation]\nexclude_invalid_rows = true")
    run = pool(load_spec(folder / "study.toml"), [], tmp_path / "o", report=False)
    centro = next(s for s in run.pooled.sites if s.file == "centro.xlsx")
    assert (centro.rows_in, centro.rows_analysed, len(centro.exclusions)) == (22, 21, 1)
    assert "MMP002" in centro.exclusions[0].reason
    assert run.run.results["cohort"]["n_excluded"] == 1


def test_value_outside_declared_levels(sites, tmp_path):
    folder = copy_sites(sites["spec"].parent, tmp_path / "s")
    _edit_xlsx(folder / "centro.xlsx", "H2", "female")  # sex column
    doc = _fails(folder / "study.toml", tmp_path / "o", "MMP005")
    issue = next(i for i in doc["issues"] if i["code"] == "MMP005")
    assert "recode.sex" in issue["fix"] and issue["where"]["row"] == 2


def test_missing_recode_is_a_level_conflict(sites, tmp_path):
    folder = copy_sites(sites["spec"].parent, tmp_path / "s")
    replace_in_spec(folder / "study.toml", 'recode.sex = { femmina = "F", maschio = "M" }\n', "")
    doc = _fails(folder / "study.toml", tmp_path / "o", "MMP005")
    assert sum(i["code"] == "MMP005" for i in doc["issues"]) == 14  # every Center A row


def test_column_missing_at_one_site(sites, tmp_path):
    folder = copy_sites(sites["spec"].parent, tmp_path / "s")
    wb = openpyxl.load_workbook(folder / "centro.xlsx")
    wb["pazienti"].delete_cols(14)  # best_response
    wb.save(folder / "centro.xlsx")
    with pytest.raises(ValidationError) as exc:
        pool(load_spec(folder / "study.toml"), [], tmp_path / "o", report=False)
    assert any(i.code == "MMV014" and i.where.file == "centro.xlsx" for i in exc.value.issues)


def test_declared_absent_column_is_pooled_as_missing(sites, tmp_path):
    folder = copy_sites(sites["spec"].parent, tmp_path / "s")
    wb = openpyxl.load_workbook(folder / "centro.xlsx")
    wb["pazienti"].delete_cols(13)  # fish_risk
    wb.save(folder / "centro.xlsx")
    replace_in_spec(
        folder / "study.toml",
        'units = { hgb = "g/L" }',
        'units = { hgb = "g/L" }\nabsent = ["fish_risk"]',
    )
    run = pool(load_spec(folder / "study.toml"), [], tmp_path / "o", report=False)
    f = run.pooled.validated.frame
    assert f.loc[f["center"].isin(["Center B", "Center C"]), "fish_risk"].isna().all()
    assert any(i.code == "MMV015" for i in run.pooled.issues)  # said, not hidden


def test_extra_column_at_one_site(sites, tmp_path):
    folder = copy_sites(sites["spec"].parent, tmp_path / "s")
    wb = openpyxl.load_workbook(folder / "centro.xlsx")
    ws = wb["pazienti"]
    ws.cell(row=1, column=15, value="note")
    ws.cell(row=2, column=15, value="x")
    wb.save(folder / "centro.xlsx")
    doc = _fails(folder / "study.toml", tmp_path / "o", "MMP004")
    assert {i["where"]["file"] for i in doc["issues"] if i["code"] == "MMP004"} == {
        "north.csv",
        "south.sav",
    }


def test_column_typed_differently_across_sites(sites, tmp_path):
    # A mostly numeric column with one text cell is categorical at that site (MMV018):
    # when pooling, that is an error, not a warning.
    folder = copy_sites(sites["spec"].parent, tmp_path / "s")
    _edit_xlsx(folder / "centro.xlsx", "K2", "n.d.")  # months_from_dara_refractory
    _fails(folder / "study.toml", tmp_path / "o", "MMV018")


def test_same_file_twice(sites, tmp_path):
    folder = copy_sites(sites["spec"].parent, tmp_path / "s")
    shutil.copy(folder / "south.sav", folder / "south2.sav")
    south = (folder / "study.toml").read_text().split('file = "south.sav"')[1]
    add_to_spec(folder / "study.toml", '[[sites]]\nfile = "south2.sav"' + south)
    pooled = prepare_pool(load_spec(folder / "study.toml"))
    assert [i.code for i in pooled.errors] == ["MMP001"]


def test_unreadable_site_is_reported_with_the_others(sites, tmp_path):
    folder = copy_sites(sites["spec"].parent, tmp_path / "s")
    (folder / "south.sav").write_bytes(b"not spss")
    _edit_xlsx(folder / "centro.xlsx", "C2", "31/02/2023")
    pooled = prepare_pool(load_spec(folder / "study.toml"))
    codes = {(i.code, i.where.file) for i in pooled.errors}
    assert ("MMP000", "south.sav") in codes and ("MMV004", "centro.xlsx") in codes


def test_site_without_center_is_refused(sites, tmp_path):
    folder = copy_sites(sites["spec"].parent, tmp_path / "s")
    replace_in_spec(folder / "study.toml", 'center = "Center A"\n', "")
    pooled = prepare_pool(load_spec(folder / "study.toml"))
    # MMV014 too: the spec's strata = "center" and table1 name a column the file lacks.
    assert {i.code for i in pooled.errors} == {"MMP011", "MMV014"}


def test_cli_failure_is_a_message_not_a_traceback(sites, tmp_path):
    folder = copy_sites(sites["spec"].parent, tmp_path / "s")
    _edit_xlsx(folder / "centro.xlsx", "B3", "Center Z")
    res = _pool_cli(folder / "study.toml", tmp_path / "o")
    assert res.exit_code == 1
    assert "Traceback" not in res.output
    assert "MMP002" in res.output and "centro.xlsx" in res.output and "pooling.json" in res.output


# --- reading options, units, cohort exclusions --------------------------------------------


def test_unit_conversion_is_exact():
    ratio = exact_ratio(
        unit_range("hemoglobin", "g/L").to_canonical, unit_range("hemoglobin", "g/dL").to_canonical
    )
    assert ratio == Fraction(1, 10)
    got = convert_units(pd.Series([132.0, 88.0, 131.0, None]), ratio)
    # 132 * 0.1 would be 13.200000000000001; the exact ratio gives the double of "13.2".
    assert got.tolist()[:3] == [13.2, 8.8, 13.1] and pd.isna(got.iat[3])
    mmol = exact_ratio(unit_range("hemoglobin", "mmol/L").to_canonical, 1.0)
    assert mmol == Fraction(5000, 3103)  # 1 / 0.6206
    assert convert_units(pd.Series([8.19192]), mmol).iat[0] == float(
        Fraction("8.19192") * Fraction(5000, 3103)
    )


def test_site_unit_without_a_spec_unit_is_a_spec_error(sites, tmp_path):
    folder = copy_sites(sites["spec"].parent, tmp_path / "s")
    replace_in_spec(
        folder / "study.toml", 'units = { hgb = "g/L" }', 'units = { hgb = "g/L", age = "months" }'
    )
    with pytest.raises(SpecError, match="cannot convert age"):
        prepare_pool(load_spec(folder / "study.toml"))


def test_unknown_site_key_is_rejected(sites, tmp_path):
    folder = copy_sites(sites["spec"].parent, tmp_path / "s")
    replace_in_spec(
        folder / "study.toml", 'sheet = "pazienti"', 'sheet = "pazienti"\ndate_fromat = "%d/%m/%Y"'
    )
    with pytest.raises(SpecError, match="date_fromat") as exc:
        load_spec(folder / "study.toml")
    assert exc.value.where.spec_key == "[[sites]] 2 -> date_fromat"


def test_cohort_exclusion_applies_to_the_pooled_table(sites, tmp_path):
    folder = copy_sites(sites["spec"].parent, tmp_path / "s")
    add_to_spec(
        folder / "study.toml",
        '[[cohort.exclude]]\npatient_id = "SYN-003"\nreason = "withdrew consent"',
    )
    run = pool(load_spec(folder / "study.toml"), [], tmp_path / "o", report=False)
    # results.json keeps no patient id (contract section 6); the id is in restricted/
    ex = [dict(e) for e in run.run.results["cohort"]["exclusions"]]
    assert ex == [{"reason": "withdrew consent", "file": "centro.xlsx", "row": 3}]
    listed = pd.read_csv(tmp_path / "o" / "restricted" / "exclusions.csv", dtype=str)
    assert listed.to_dict("records") == [
        {"patient_id": "SYN-003", "reason": "withdrew consent", "file": "centro.xlsx", "row": "3"}
    ]
    centro = next(s for s in run.pooled.sites if s.file == "centro.xlsx")
    assert centro.rows_in == centro.rows_analysed + len(centro.exclusions)


def test_excel_serial_dates_only_when_declared(sites, tmp_path):
    folder = copy_sites(sites["spec"].parent, tmp_path / "s")
    _edit_xlsx(folder / "centro.xlsx", "C2", 44928)  # 2023-01-02 as an Excel serial number
    pooled = prepare_pool(load_spec(folder / "study.toml"))
    assert [i.code for i in pooled.errors] == ["MMV004"]  # a number is not a date: never guessed
    replace_in_spec(
        folder / "study.toml", 'sheet = "pazienti"', 'sheet = "pazienti"\nexcel_serial_dates = true'
    )
    run = pool(load_spec(folder / "study.toml"), [], tmp_path / "o", report=False)
    f = run.pooled.validated.frame
    assert f.loc[f["patient_id"] == "SYN-001", "start_date"].iat[0] == pd.Timestamp("2023-01-02")
    assert any("1 Excel serial date(s)" in n for n in run.pooled.sites[1].notes)


def test_id_prefix_keeps_site_local_ids_apart(sites, tmp_path):
    folder = copy_sites(sites["spec"].parent, tmp_path / "s")
    replace_in_spec(
        folder / "study.toml", 'center = "Center A"', 'center = "Center A"\nid_prefix = "A:"'
    )
    run = pool(load_spec(folder / "study.toml"), [], tmp_path / "o", report=False)
    ids = set(run.pooled.validated.frame["patient_id"])
    assert "A:SYN-002" in ids and "SYN-002" not in ids


# --- center effects ------------------------------------------------------------------------


def test_center_effects(sites, tmp_path):
    from mmrwe.stats.logrank import logrank_test

    run = pool(load_spec(sites["spec"]), [], tmp_path, report=False)
    eff = run.center_effects
    assert eff["centers"] == ["Center A", "Center B", "Center C", "Center D", "Center E"]
    assert eff["counts"]["Center A"]["n"] == 14
    f = run.run.derived
    direct = logrank_test(
        f["PFS_time"].to_numpy(), f["PFS_event"].to_numpy(bool), f["center"].to_numpy()
    )
    assert eff["endpoints"]["PFS"]["chisq"] == pytest.approx(direct.chisq, rel=1e-12)
    assert set(eff["endpoints"]["PFS"]["curves"]) == set(eff["centers"])
    cox0 = eff["cox"][0]
    assert cox0["interaction"]["df"] == 4 and 0 <= cox0["interaction"]["p"] <= 1
    assert set(cox0["q"]["hgb"]) == {"q", "df", "p", "i2", "n_centers"}
    assert "log-rank" in eff["statement"] and "Center A: 14" in eff["statement"]
    doc = json.loads((tmp_path / "pooling.json").read_text())
    assert doc["center_effects"]["statement"] == eff["statement"]


def test_stratified_cox_matches_a_spec_with_strata_center(sites, tmp_path):
    # The center-stratified fit reported in center_effects is the pipeline's own
    # [[cox]] strata = "center" fit.
    folder = copy_sites(sites["spec"].parent, tmp_path / "s")
    replace_in_spec(
        folder / "study.toml",
        '[[cox]]\nendpoint = "PFS"\nterms = ["hgb"]',
        '[[cox]]\nendpoint = "PFS"\nterms = ["hgb"]\nstrata = "center"',
    )
    strat = pool(load_spec(folder / "study.toml"), [], tmp_path / "o", report=False)
    plain = pool(load_spec(sites["spec"]), [], tmp_path / "p", report=False)
    want = strat.run.results["cox"][0]["coefficients"]["hgb"]
    got = plain.center_effects["cox"][0]["stratified_by_center"]["hgb"]
    assert got["coef"] == pytest.approx(want["coef"], rel=1e-12)
    assert got["se"] == pytest.approx(want["se"], rel=1e-12)
