"""Reader hardening for site files: damaged CSV rows and spreadsheet formulas are refused."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest

from mmrwe.core.errors import InputError
from mmrwe.io import read_table


def _csv(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "site.csv"
    f.write_text(text, encoding="utf-8")
    return f


def test_short_row_is_refused_not_filled_with_empty_cells(tmp_path):
    # pandas would fill the missing cells with "" and the patient would lose a date.
    f = _csv(tmp_path, "patient_id,start_date,death_date\nA,2021-01-01,2021-05-01\nB,2021-02-01\n")
    with pytest.raises(InputError, match=r"fewer cells than the header's 3: line 3 \(2 cells\)"):
        read_table(f)


def test_row_with_extra_cells_is_refused(tmp_path):
    f = _csv(tmp_path, "patient_id,x\nA,1\nB,2,3\n")
    with pytest.raises(InputError, match="more cells"):
        read_table(f)


def test_trailing_separators_are_residue(tmp_path):
    f = _csv(tmp_path, "patient_id,x,\nA,1,\nB,2,\n")
    t = read_table(f)
    assert list(t.frame.columns) == ["patient_id", "x"]
    assert t.frame["x"].tolist() == ["1", "2"]


def test_nameless_column_with_values_is_refused(tmp_path):
    f = _csv(tmp_path, "patient_id,,x\nA,7,1\n")
    with pytest.raises(InputError, match=r"column 2 .* has no header"):
        read_table(f)


def test_repeated_header_is_refused_not_renamed(tmp_path):
    # pandas renames the second 'hgb' to 'hgb.1'; the table would carry two hgb columns.
    f = _csv(tmp_path, "patient_id,hgb,hgb\nA,1,2\n")
    with pytest.raises(InputError, match="more than once: hgb"):
        read_table(f)


@pytest.mark.parametrize(
    "text",
    [
        'patient_id,x\nA,"1\nB,2\n',  # opening quote never closed on its line
        'patient_id,x\nA,"1"2\nB,2\n',  # text after a closing quote
        'patient_id,x\nA,"1\nB",2\n',  # a quoted cell running over two lines
    ],
)
def test_stray_quotes_are_refused(tmp_path, text):
    with pytest.raises(InputError, match="quote"):
        read_table(_csv(tmp_path, text))


def test_nul_byte_is_refused(tmp_path):
    f = tmp_path / "site.csv"
    f.write_bytes(b"patient_id,x\nA,1\x002\n")
    with pytest.raises(InputError, match="NUL"):
        read_table(f)


def test_blank_and_whitespace_lines_keep_their_row_numbers(tmp_path):
    t = read_table(_csv(tmp_path, "patient_id,x\nA,1\n\n   \nB,2\r\n"))
    assert t.source_rows == (2, 3, 4, 5)
    assert t.frame["patient_id"].tolist() == ["A", None, None, "B"]


def test_quoted_delimiters_and_doubled_quotes_still_read(tmp_path):
    t = read_table(_csv(tmp_path, 'patient_id,x\n"A,1","say ""hi"""\n'))
    assert t.frame.iloc[0].tolist() == ["A,1", 'say "hi"']


def _formula_book(tmp_path: Path) -> Path:
    f = tmp_path / "site.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "patients"
    ws.append(["patient_id", "a", "b"])
    ws.append(["x", 1, "=B2+1"])
    ws.append(["y", 2, 3])
    wb.save(f)
    return f


def test_formula_without_saved_value_is_refused(tmp_path):
    # Written by a script and never opened in Excel: no cached value, the cell would read
    # as empty.
    with pytest.raises(InputError, match=r"formula cell\(s\) without a saved value \(C2\)"):
        read_table(_formula_book(tmp_path))


def test_formula_with_saved_value_is_read_and_noted(tmp_path):
    f = _formula_book(tmp_path)
    patched = tmp_path / "saved.xlsx"
    # Store a cached value as a spreadsheet program does: <c r="C2"><f>B2+1</f><v>2</v></c>
    with zipfile.ZipFile(f) as zin, zipfile.ZipFile(patched, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                data = re.sub(rb"(<f>B2\+1</f>)(<v\s*/>|<v></v>)?", rb"\1<v>2</v>", data)
            zout.writestr(item, data)
    t = read_table(patched)
    assert t.frame["b"].tolist() == [2, 3]
    assert any("formula cell(s)" in n for n in t.notes)


def test_hidden_rows_are_read_and_noted(tmp_path):
    f = tmp_path / "site.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in (["patient_id", "a"], ["x", 1], ["y", 2]):
        ws.append(r)
    ws.row_dimensions[3].hidden = True
    wb.save(f)
    t = read_table(f)
    assert t.frame["patient_id"].tolist() == ["x", "y"]
    assert any("row(s) 3" in n and "hidden" in n for n in t.notes)


def test_reading_never_changes_the_file(tmp_path):
    src = _formula_book(tmp_path)
    keep = tmp_path / "copy.xlsx"
    shutil.copy(src, keep)
    with pytest.raises(InputError):
        read_table(src)
    assert src.read_bytes() == keep.read_bytes()


def test_date_beyond_2262_is_refused_not_made_missing(tmp_path):
    # datetime64[ns] cannot hold 9999-12-31: the validator used to turn it into a missing
    # last follow-up date without a word.
    from mmrwe.spec.loader import parse_spec
    from mmrwe.study import Study

    f = _csv(
        tmp_path,
        "patient_id,center,start_date,progression_date,death_date,last_followup_date\n"
        "A,X,2021-01-01,,,9999-12-31\nB,X,1500-01-01,,,2022-01-01\n",
    )
    spec = parse_spec({"data": {"patients": "site.csv"}}, path=tmp_path / "study.toml")
    v = Study(spec).validate()
    assert f.name == "site.csv"
    assert [(i.code, i.where.row, i.where.column) for i in v.errors] == [
        ("MMV004", 3, "start_date"),
        ("MMV004", 2, "last_followup_date"),
    ]
