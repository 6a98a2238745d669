"""Findings 2 and 3: no live formula in any .xlsx or CSV mmrwe writes (OWASP CSV injection)."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import openpyxl
import pandas as pd
import pytest
from _security_helpers import private_key
from hypothesis import given
from hypothesis import strategies as st

from mmrwe.study.pseudonymize import pseudonymize_command

LINK = '=HYPERLINK("http://attacker.example/x", "Center B")'
# A synthetic site table whose text cells try every formula trigger (OWASP: = + - @ tab CR).
SITE = pd.DataFrame(
    {
        "patient_id": ["P1", "P2", "P3", "P4", "P5", "P6"],
        "center": [LINK, "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "-2+3+cmd|' /C calc'!A0", "Center B"],
        "start_date": ["2021-01-01"] * 6,
        "hgb": ["-1.5", "12.5", "-3e-4", "+2", "-1,5", "11"],
        "fish_risk": ["-", "+1q", "standard", "-17p", "high", "high"],
    }
)  # fmt: skip


@pytest.fixture
def site(tmp_path):
    f = tmp_path / "site.csv"
    SITE.to_csv(f, index=False)
    return f, private_key(tmp_path / "keys"), tmp_path / "outgoing"


def _sheet_xml(path) -> str:
    with zipfile.ZipFile(path) as z:
        return "".join(
            z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/sheet")
        )


def test_xlsx_output_writes_text_as_string_cells_never_formulas(site):
    f, key, outgoing = site
    out = outgoing / "site_pseudo.xlsx"
    pseudonymize_command(f, key, out)
    xml = _sheet_xml(out)
    assert not re.search(r"<(\w+:)?f[ >/]", xml)  # no formula element anywhere
    ws = openpyxl.load_workbook(out)["patients"]
    cells = {c.value: c.data_type for row in ws.iter_rows() for c in row if c.value is not None}
    assert cells[LINK] == "s"  # the text itself is kept, as text
    assert all(t == "s" for v, t in cells.items() if isinstance(v, str))


def test_xlsx_from_an_xlsx_input_keeps_formula_text_as_text(site, tmp_path):
    # Input .xlsx holding the text (a string cell) -> pseudonymized .xlsx: still a string.
    _, key, outgoing = site
    src = tmp_path / "site.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "patients"
    ws.append(list(SITE.columns))
    for row in SITE.itertuples(index=False):
        ws.append(list(row))
    for row in ws.iter_rows():
        for c in row:
            if c.data_type == "f":
                c.data_type = "s"  # stored as text in the site's file
    wb.save(src)
    out = outgoing / "site.xlsx"
    pseudonymize_command(src, key, out)
    assert not re.search(r"<(\w+:)?f[ >/]", _sheet_xml(out))


def test_csv_output_neutralizes_formula_text_and_keeps_numbers(site):
    f, key, outgoing = site
    out = outgoing / "site_pseudo.csv"
    summary = pseudonymize_command(f, key, out)
    rows = list(csv.reader(io.StringIO(out.read_text())))
    got = pd.DataFrame(rows[1:], columns=rows[0])
    assert got["center"].tolist() == [
        "'" + LINK,
        "'+cmd|' /C calc'!A0",
        "'@SUM(1+1)*cmd|' /C calc'!A0",
        "'=1+1",  # the reader strips the tab around the cell; the formula under it is quoted
        "'-2+3+cmd|' /C calc'!A0",
        "Center B",
    ]
    # Numbers written as text are numbers: left alone (decimal point or comma, sign, exponent).
    assert got["hgb"].tolist() == ["-1.5", "12.5", "-3e-4", "+2", "-1,5", "11"]
    assert got["fish_risk"].tolist() == ["'-", "'+1q", "standard", "'-17p", "high", "high"]
    assert summary["csv_formulas_neutralized"] is True
    for v in got.drop(columns=["hgb"]).to_numpy().ravel():
        assert not v or v[0] not in "=+-@\t\r"


def test_csv_neutralizing_can_be_turned_off_for_machine_only_files(site):
    f, key, outgoing = site
    out = outgoing / "raw.csv"
    pseudonymize_command(f, key, out, neutralize_csv=False)
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert got["center"].tolist() == [v.strip() for v in SITE["center"]]


def test_pooled_canonical_csv_neutralizes_categorical_text():
    from mmrwe.io.pool import canonical_csv

    frame = pd.DataFrame(
        {
            "patient_id": ["=1+1", "B"],
            "center": [LINK, "Center B"],
            "hgb": [-1.5, 12.0],
            "start_date": pd.to_datetime(["2021-01-01", "2021-02-01"]),
        }
    )
    types = {"hgb": "numeric", "start_date": "date"}
    text = canonical_csv(frame, types)
    got = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    assert got["patient_id"].tolist() == ["'=1+1", "B"]
    assert got["center"].tolist() == ["'" + LINK, "Center B"]
    assert got["hgb"].tolist() == ["-1.5", "12"]  # numeric column: never quoted
    raw = pd.read_csv(io.StringIO(canonical_csv(frame, types, neutralize=False)), dtype=str)
    assert raw["center"].tolist() == [LINK, "Center B"]


# --- the helpers the pipeline's writers call --------------------------------------------

CELLS = [
    # value, expected, why
    ("=1+1", "'=1+1", "formula"),
    ("+1q", "'+1q", "plus first, not a number"),
    ("-17p", "'-17p", "minus first, not a number"),
    ("@SUM(A1)", "'@SUM(A1)", "at sign"),
    ("\tx", "'\tx", "tab first"),
    ("\rx", "'\rx", "carriage return first"),
    ("-", "'-", "a lone minus is text"),
    ("-inf", "'-inf", "not a decimal number"),
    ("-1.5+2", "'-1.5+2", "an expression, not a number"),
    ("-1.5", "-1.5", "negative number as text"),
    ("-1,5", "-1,5", "decimal comma"),
    ("+2", "+2", "signed number"),
    ("-3e-4", "-3e-4", "exponent"),
    ("-.5", "-.5", "no leading digit"),
    ("-1.5\n", "'-1.5\n", "a trailing newline makes it text"),
    ("a=b", "a=b", "trigger not first"),
    ("", "", "empty"),
    (-1.5, -1.5, "a float is never changed"),
    (None, None, "missing"),
]


@pytest.mark.parametrize(("value", "expected", "why"), CELLS, ids=[c[2] for c in CELLS])
def test_neutralize_csv_cell(value, expected, why):
    from mmrwe.core.safety import neutralize_csv_cell

    assert neutralize_csv_cell(value) == expected
    assert neutralize_csv_cell(value, enabled=False) == value


def test_neutralize_csv_frame_touches_text_only():
    from mmrwe.core.safety import neutralize_csv_frame

    frame = pd.DataFrame(
        {
            "obj": ["=x", 3, None, "ok"],
            "num": [-1.0, 2.0, 3.0, 4.0],
            "cat": pd.Categorical(["-a", "b", "-a", "b"]),
            "str": pd.array(["@y", "z", None, "-2"], dtype="string"),
        }
    )
    before = frame.copy()
    out = neutralize_csv_frame(frame)
    pd.testing.assert_frame_equal(frame, before)  # the input is not modified
    assert out["obj"].tolist() == ["'=x", 3, None, "ok"]
    assert out["num"].tolist() == [-1.0, 2.0, 3.0, 4.0] and out["num"].dtype == "float64"
    assert out["cat"].tolist() == ["'-a", "b", "'-a", "b"] and out["cat"].dtype == "category"
    assert out["str"].tolist() == ["'@y", "z", pd.NA, "-2"] and out["str"].dtype == "string"
    pd.testing.assert_frame_equal(neutralize_csv_frame(frame, enabled=False), frame)


@given(st.text(max_size=30))
def test_a_neutralized_cell_never_starts_a_formula(s):
    from mmrwe.core.safety import neutralize_csv_cell

    out = neutralize_csv_cell(s)
    assert out in (s, "'" + s)
    if out and out[0] in "=+-@\t\r":
        # only a plain decimal number may start with a sign
        assert re.fullmatch(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?", out)
