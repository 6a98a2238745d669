"""Publishable and restricted outputs apart (findings 3, 5, 6, 8, 9 and the stale audit of 12).

The files that leave the site (results.json, report.html, report.docx, figures, run.json,
validation.json) hold no input patient id and no patient-level date; row-level files are in
DIR/restricted/ (folder 0700, files 0600) with a README (contract section 6). On today's
main the demo's report quotes "PD reading on 2022-05-29 ... patient_id SYN-005" and the
row-level files sit beside the reports, mode 0644.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import stat
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from mmrwe.cli.main import app
from mmrwe.study.demo import demo_dir

PUBLISHABLE = ("results.json", "report.html", "run.json", "validation.json")
ROW_LEVEL = ("derived_patients.csv", "derived_patients.parquet", "response_audit.jsonl",
             "pooled_patients.csv", "exclusions.csv", "patient_listing.csv")  # fmt: skip


def _ids(folder: Path) -> set[str]:
    ids: set[str] = set()
    for name in ("patients.csv", "labs.csv", "therapy.csv"):
        p = folder / name
        if p.exists():
            ids |= set(pd.read_csv(p, dtype=str, keep_default_na=False)["patient_id"])
    return {i for i in ids if i}


def _publishable_texts(out: Path) -> dict[str, str]:
    """Every publishable file's text (the .docx unzipped, figure files included)."""
    texts: dict[str, str] = {}
    for name in PUBLISHABLE:
        if (out / name).exists():
            texts[name] = (out / name).read_text(encoding="utf-8")
    docx = out / "report.docx"
    if docx.exists():
        with zipfile.ZipFile(docx) as z:
            for member in z.namelist():
                if member.endswith((".xml", ".rels", ".svg")):
                    texts[f"report.docx:{member}"] = z.read(member).decode("utf-8", "replace")
    for p in sorted((out / "figures").glob("*")) if (out / "figures").is_dir() else []:
        if p.suffix in (".svg",):
            texts[f"figures/{p.name}"] = p.read_text(encoding="utf-8")
    return texts


def _assert_no_ids(out: Path, ids: set[str]) -> None:
    pattern = re.compile("|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True)))
    for name, text in _publishable_texts(out).items():
        hit = pattern.search(text)
        assert hit is None, f"{name} quotes the input patient id {hit.group(0)!r}"


def _assert_restricted(out: Path) -> None:
    """Row-level files only in restricted/ (0700), each 0600; none beside the reports."""
    for name in ROW_LEVEL:
        assert not (out / name).exists(), f"{name} beside the reports"
    private = out / "restricted"
    assert private.is_dir()
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    assert "do not send" in (private / "README.txt").read_text().lower()
    for p in private.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p.name


def _recorded(text: str) -> str:
    """The demo spec without the lab and therapy tables (recorded responses; no DoR, TTNT)."""
    text = re.sub(r"(?m)^(labs|therapy|endpoints|landmark_from) = .*$", "", text)
    return re.sub(r'(?m)^source = "labs".*$', 'source = "recorded"', text)


def _copy_demo(dest: Path) -> Path:
    shutil.copytree(demo_dir(), dest)
    return dest


def _run(spec: Path, out: Path, *extra: str) -> str:
    res = CliRunner().invoke(app, ["analyze", str(spec), "--out", str(out), "-q", *extra])
    assert res.exit_code in (0, 3), res.output
    return res.output


# --- the demo (labs included) -----------------------------------------------------------------


def test_demo_publishable_outputs_hold_no_patient_id_and_row_files_are_restricted(demo_run):
    # finding 5 and 6: the demo's one unconfirmed PD was quoted with its id and date
    ids = _ids(demo_dir())
    _assert_no_ids(demo_run, ids)
    _assert_restricted(demo_run)
    for name in ("derived_patients.csv", "response_audit.jsonl"):
        assert (demo_run / "restricted" / name).is_file()
    run = json.loads((demo_run / "run.json").read_text())
    assert run["files"]["derived_patients"] == "restricted/derived_patients.csv"
    assert run["files"]["response_audit"] == "restricted/response_audit.jsonl"


def test_demo_findings_keep_the_rule_but_not_the_date(demo_run):
    issues = json.loads((demo_run / "validation.json").read_text())["issues"]
    (pd_issue,) = [i for i in issues if i["code"] == "MML014"]
    assert "patient_id" not in pd_issue["where"]
    assert not re.search(r"\d{4}-\d{2}-\d{2}", pd_issue["what"]), pd_issue["what"]
    html = (demo_run / "report.html").read_text()
    assert "PD reading on &lt;date&gt;" in html or "PD reading on <date>" in html
    assert "2022-05-29" not in html


def test_demo_with_small_cells_quotes_no_id(tmp_path):
    # the finding also held with small_cell_k = 5
    folder = _copy_demo(tmp_path / "in")
    spec = folder / "study.toml"
    spec.write_text(spec.read_text() + '\n[report]\nsmall_cell_k = 5\nfigure_formats = ["svg"]\n')
    out = tmp_path / "out"
    _run(spec, out)
    _assert_no_ids(out, _ids(folder))
    _assert_restricted(out)


# --- a run with excluded rows -----------------------------------------------------------------


@pytest.fixture(scope="module")
def excluded_run(tmp_path_factory):
    """The demo (labs included), three rows excluded: two invalid, one by the study team."""
    base = tmp_path_factory.mktemp("excl")
    folder = _copy_demo(base / "in")
    rows = list(csv.DictReader((folder / "patients.csv").open(encoding="utf-8")))
    rows[2]["progression_date"] = "2001-01-01"  # before start_date: MMV006
    rows[4]["best_response"] = '=HYPERLINK("http://x","ok")'  # MMV012 quoting the cell
    with (folder / "patients.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    spec = folder / "study.toml"
    text = spec.read_text()
    text += (
        "\n[validation]\nexclude_invalid_rows = true\n"
        f'\n[[cohort.exclude]]\npatient_id = "{rows[7]["patient_id"]}"\nreason = "consent withdrawn"\n'
        '\n[report]\nfigure_formats = ["svg"]\n'
    )
    spec.write_text(text)
    out = base / "out"
    _run(spec, out)
    return {"folder": folder, "out": out, "rows": rows}


def test_excluded_rows_leave_no_id_in_publishable_outputs(excluded_run):
    out = excluded_run["out"]
    results = json.loads((out / "results.json").read_text())
    assert results["cohort"]["n_excluded"] == 3
    for e in results["cohort"]["exclusions"]:
        assert "patient_id" not in e
        assert set(e) == {"reason", "file", "row"}
    _assert_no_ids(out, _ids(excluded_run["folder"]))
    _assert_restricted(out)


def test_exclusion_reasons_quote_no_cell_in_the_flow_and_tables(excluded_run):
    out = excluded_run["out"]
    results = json.loads((out / "results.json").read_text())
    reasons = list(results["cohort"]["exclusion_counts"])
    assert "invalid: [MMV006] a date before start_date" in reasons
    assert "consent withdrawn" in reasons
    for name, text in _publishable_texts(out).items():
        assert "2001-01-01" not in text, name
        assert "HYPERLINK" not in text, name


def test_ids_of_excluded_rows_are_in_restricted_exclusions_csv(excluded_run):
    out, rows = excluded_run["out"], excluded_run["rows"]
    table = pd.read_csv(out / "restricted" / "exclusions.csv", dtype=str, keep_default_na=False)
    assert list(table.columns) == ["patient_id", "reason", "file", "row"]
    assert set(table.patient_id) == {rows[i]["patient_id"] for i in (2, 4, 7)}
    assert any("2001-01-01" in r for r in table.reason)  # the exact words stay at the site
    # CSV injection: the quoted cell is neutralised in the restricted file too (finding 3)
    assert not any(r.startswith(("=", "+", "-", "@")) for r in table.reason)


def test_patient_listing_only_when_asked_and_with_a_warning(excluded_run, tmp_path):
    assert not (excluded_run["out"] / "restricted" / "patient_listing.csv").exists()
    spec = excluded_run["folder"] / "study.toml"
    text = spec.read_text().replace("[report]\n", "[report]\npatient_listing = true\n", 1)
    spec2 = excluded_run["folder"] / "listing.toml"
    spec2.write_text(text)
    res = CliRunner().invoke(app, ["analyze", str(spec2), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert "patient_listing" in res.output and "keep it at the site" in " ".join(res.output.split())
    listing = pd.read_csv(tmp_path / "o" / "restricted" / "patient_listing.csv", dtype=str)
    assert excluded_run["rows"][2]["patient_id"] in set(listing.patient_id)
    _assert_restricted(tmp_path / "o")
    _assert_no_ids(tmp_path / "o", _ids(excluded_run["folder"]))


# --- safe writing -----------------------------------------------------------------------------


def test_a_link_planted_in_the_out_folder_is_never_followed(tmp_path):
    # finding 8: a symlink at the audit's old fixed temporary name was followed
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    for name in (".response_audit.jsonl.tmp", "response_audit.jsonl", ".derived_patients.csv.tmp"):
        (out / name).symlink_to(victim)
    (out / "restricted").mkdir()
    (out / "restricted" / "response_audit.jsonl").symlink_to(victim)
    res = CliRunner().invoke(app, ["demo", "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    assert victim.read_text() == "keep me"
    audit = out / "restricted" / "response_audit.jsonl"
    assert audit.is_file() and not audit.is_symlink()


def test_a_study_without_labs_leaves_no_earlier_audit(tmp_path):
    # finding 12: a labs study's row-level audit stayed in the folder of the next study
    out = tmp_path / "out"
    assert CliRunner().invoke(app, ["demo", "--out", str(out), "--quiet"]).exit_code == 0
    assert (out / "restricted" / "response_audit.jsonl").is_file()
    folder = _copy_demo(tmp_path / "in")
    spec = folder / "study.toml"
    spec.write_text(_recorded(spec.read_text()))
    _run(spec, out)
    assert not list(out.rglob("response_audit.jsonl"))
    run = json.loads((out / "run.json").read_text())
    assert "response_audit" not in run["files"]


# --- locked-down engines ----------------------------------------------------------------------


def _duckdb_study(tmp_path: Path, make: str) -> Path:
    import duckdb

    folder = _copy_demo(tmp_path / "in")
    other = tmp_path / "elsewhere"
    other.mkdir()
    frame = pd.read_csv(folder / "patients.csv", dtype=str)
    frame.assign(patient_id="OTHER-" + frame.patient_id).to_csv(other / "other.csv", index=False)
    con = duckdb.connect(str(folder / "study.duckdb"))
    con.execute(make.format(csv=other / "other.csv", demo=folder / "patients.csv"))
    con.close()
    spec = folder / "study.toml"
    spec.write_text(
        _recorded(spec.read_text()).replace(
            'patients = "patients.csv"', 'patients = "study.duckdb"\ntable = "patients"'
        )
    )
    return spec


def test_a_duckdb_view_over_another_file_is_refused(tmp_path):
    # finding 9: the view read another study's rows into the outputs
    spec = _duckdb_study(
        tmp_path, "CREATE VIEW patients AS SELECT * FROM read_csv('{csv}', all_varchar = true)"
    )
    res = CliRunner().invoke(app, ["analyze", str(spec), "--out", str(tmp_path / "o"), "-q"])
    assert res.exit_code == 1, res.output
    assert "is a view" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "o" / "results.json").exists()


def test_a_duckdb_base_table_is_analysed(tmp_path):
    spec = _duckdb_study(
        tmp_path, "CREATE TABLE patients AS SELECT * FROM read_csv('{demo}', all_varchar = true)"
    )
    _run(spec, tmp_path / "o")
    assert json.loads((tmp_path / "o" / "results.json").read_text())["cohort"]["n"] == 51


def test_the_study_connection_reads_no_other_file(tmp_path):
    import duckdb

    from mmrwe.spec.loader import load_spec
    from mmrwe.study.pipeline import connect_for

    secret = tmp_path / "other.csv"
    secret.write_text("a\n1\n")
    be = connect_for(load_spec(demo_dir() / "study.toml"))
    try:
        raw = be.con.con
        with pytest.raises(duckdb.Error):
            raw.execute(f"SELECT * FROM read_csv('{secret}')").fetchall()
        with pytest.raises(duckdb.Error):
            raw.execute("SET enable_external_access = true")
        settings = dict(
            raw.execute(
                "SELECT name, value FROM duckdb_settings() WHERE name IN "
                "('autoinstall_known_extensions', 'autoload_known_extensions', "
                "'enable_external_access', 'lock_configuration')"
            ).fetchall()
        )
        assert settings == {
            "autoinstall_known_extensions": "false",
            "autoload_known_extensions": "false",
            "enable_external_access": "false",
            "lock_configuration": "true",
        }
    finally:
        be.close()


def test_private_connections_of_the_derivations_read_no_file(tmp_path):
    import duckdb

    from mmrwe.derive.sandbox import private_duckdb

    (tmp_path / "x.csv").write_text("a\n1\n")
    con = private_duckdb()
    with pytest.raises(duckdb.Error):
        con.execute(f"SELECT * FROM read_csv('{tmp_path / 'x.csv'}')").fetchall()
