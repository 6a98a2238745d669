"""Every input format gives the same analysis as the CSV: Excel, Parquet, SPSS, SAS."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from mmrwe.cli.main import app
from mmrwe.core.errors import InputError
from mmrwe.io import read_table

FORMATS = Path(__file__).parents[1] / "data" / "formats"
DATE_COLS = ["start_date", "progression_date", "death_date", "last_followup_date"]
runner = CliRunner()

SPEC = """
[study]
title = "formats"
[data]
patients = "{file}"
{extra}
[variables.hgb]
unit = "g/dL"
[km]
landmarks = [6, 12]
[[proportion]]
name = "ORR"
variable = "best_response"
success = ["sCR", "CR", "VGPR", "PR"]
[[logrank]]
endpoint = "PFS"
by = "sex"
[[cox]]
endpoint = "OS"
terms = ["age", "sex", "hgb"]
"""


def csv_frame() -> pd.DataFrame:
    return pd.read_csv(FORMATS / "patients.csv", dtype=str, keep_default_na=False)


def typed_frame() -> pd.DataFrame:
    d = csv_frame()
    for c in DATE_COLS:
        d[c] = [dt.date.fromisoformat(v) if v else None for v in d[c]]
    d["age"] = d["age"].astype(float)
    d["hgb"] = d["hgb"].astype(float)
    return d


def analyse(tmp_path: Path, file: Path, extra: str = "") -> dict:
    spec = tmp_path / "study.toml"
    spec.write_text(SPEC.format(file=file.name, extra=extra))
    out = tmp_path / "out"
    res = runner.invoke(app, ["analyze", str(spec), "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    r = json.loads((out / "results.json").read_text())
    for k in ("inputs", "study"):
        r.pop(k)
    return r


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("csv")
    shutil.copy(FORMATS / "patients.csv", d / "patients.csv")
    return analyse(d, d / "patients.csv")


def test_excel_with_date_cells(tmp_path, reference):
    f = tmp_path / "patients.xlsx"
    typed_frame().to_excel(f, index=False, sheet_name="patients")
    assert analyse(tmp_path, f) == reference


def test_excel_with_european_text_dates(tmp_path, reference):
    d = csv_frame()
    for c in DATE_COLS:
        d[c] = [dt.date.fromisoformat(v).strftime("%d/%m/%Y") if v else "" for v in d[c]]
    f = tmp_path / "patients.xlsx"
    d.to_excel(f, index=False)
    assert analyse(tmp_path, f, 'date_format = "%d/%m/%Y"') == reference


def test_parquet(tmp_path, reference):
    f = tmp_path / "patients.parquet"
    typed_frame().to_parquet(f, index=False)
    assert analyse(tmp_path, f) == reference


def test_spss(tmp_path, reference):
    pyreadstat = pytest.importorskip("pyreadstat")
    d = typed_frame()
    f = tmp_path / "patients.sav"
    pyreadstat.write_sav(d, str(f))
    assert analyse(tmp_path, f) == reference


def test_spss_value_labels_are_applied(tmp_path, reference):
    pyreadstat = pytest.importorskip("pyreadstat")
    d = typed_frame()
    d["sex"] = d["sex"].map({"F": 1, "M": 2}).astype(float)
    f = tmp_path / "patients.sav"
    pyreadstat.write_sav(d, str(f), variable_value_labels={"sex": {1.0: "F", 2.0: "M"}})
    assert analyse(tmp_path, f) == reference


def test_sas7bdat(tmp_path, reference):
    f = tmp_path / "patients.sas7bdat"
    shutil.copy(FORMATS / "patients.sas7bdat", f)
    assert analyse(tmp_path, f) == reference


def test_semicolon_csv_with_decimal_comma(tmp_path, reference):
    d = csv_frame()
    d["hgb"] = d["hgb"].str.replace(".", ",", regex=False)
    f = tmp_path / "patients.csv"
    d.to_csv(f, index=False, sep=";")
    assert analyse(tmp_path, f, 'delimiter = ";"\ndecimal = ","') == reference


def test_latin1_csv_needs_declared_encoding(tmp_path):
    d = csv_frame()
    d.loc[0, "center"] = "Città"
    f = tmp_path / "patients.csv"
    d.to_csv(f, index=False, encoding="latin-1")
    with pytest.raises(InputError, match="encoding"):
        read_table(f)
    assert read_table(f, encoding="latin-1").frame.loc[0, "center"] == "Città"


def test_excel_several_sheets_needs_a_sheet_name(tmp_path, reference):
    f = tmp_path / "patients.xlsx"
    with pd.ExcelWriter(f) as w:
        pd.DataFrame({"note": ["exported 2024"]}).to_excel(w, sheet_name="readme", index=False)
        typed_frame().to_excel(w, sheet_name="patients", index=False)
    with pytest.raises(InputError, match="2 visible sheets"):
        read_table(f)
    assert analyse(tmp_path, f, 'sheet = "patients"') == reference


def test_excel_hidden_sheet_is_ignored_and_noted(tmp_path):
    import openpyxl

    f = tmp_path / "patients.xlsx"
    with pd.ExcelWriter(f) as w:
        typed_frame().to_excel(w, sheet_name="patients", index=False)
        pd.DataFrame({"x": [1]}).to_excel(w, sheet_name="scratch", index=False)
    wb = openpyxl.load_workbook(f)
    wb["scratch"].sheet_state = "hidden"
    wb.save(f)
    t = read_table(f)
    assert t.sheet == "patients" and any("hidden" in n for n in t.notes)


def test_excel_merged_cells_are_refused(tmp_path):
    import openpyxl

    f = tmp_path / "patients.xlsx"
    typed_frame().to_excel(f, index=False)
    wb = openpyxl.load_workbook(f)
    wb.active.merge_cells("B2:B3")
    wb.save(f)
    with pytest.raises(InputError, match="merged cells"):
        read_table(f)


def test_unsupported_extension(tmp_path):
    f = tmp_path / "patients.json"
    f.write_text("{}")
    with pytest.raises(InputError, match="unsupported file type"):
        read_table(f)


def test_row_numbers_match_the_file(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("patient_id,x\nA,1\n\nB,2\n")
    t = read_table(f)
    assert t.source_rows == (2, 3, 4)  # the blank line keeps its number
    assert t.frame["patient_id"].tolist() == ["A", None, "B"]
