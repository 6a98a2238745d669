"""A CSV that does not parse with the spec's reading options gets a diagnosis naming the keys to
set (encoding, delimiter, decimal), not "export the table again". Synthetic rows only."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmrwe.cli.main import app
from mmrwe.core.errors import InputError
from mmrwe.io import read_table

runner = CliRunner()

HEADER = ["patient_id", "center", "start_date", "progression_date", "death_date",
          "last_followup_date", "età", "hgb", "best_response"]  # fmt: skip
ROWS = [
    ["P1", "A", "10/01/2021", "01/06/2021", "", "10/01/2022", "71", "11,2", "PR"],
    ["P2", "A", "01/02/2021", "", "24/12/2021", "24/12/2021", "64", "9,8", "SD"],
    ["P3", "B", "15/03/2021", "30/09/2021", "01/03/2022", "01/03/2022", "58", "12,9", "VGPR"],
    ["P4", "B", "20/04/2021", "", "", "01/05/2022", "80", "13,4", "CR"],
]
SPEC = '[data]\npatients = "patients.csv"\n{extra}\n[variables.hgb]\nunit = "g/dL"\n'


def write(tmp_path: Path, sep: str, encoding: str, *, rows=ROWS, extra: str = "") -> Path:
    text = "\r\n".join(sep.join(r) for r in [HEADER, *rows]) + "\r\n"
    (tmp_path / "patients.csv").write_bytes(text.encode(encoding))
    spec = tmp_path / "study.toml"
    spec.write_text(SPEC.format(extra=extra))
    return spec


def validate(spec: Path):
    res = runner.invoke(app, ["validate", str(spec)])
    assert "Traceback" not in res.output
    return res


def test_european_csv_read_with_the_default_spec_names_all_three_keys(tmp_path):
    spec = write(tmp_path, ";", "latin-1")
    res = validate(spec)
    assert res.exit_code == 1
    out = " ".join(res.output.split())
    assert "not valid utf-8 text" in out
    assert 'set encoding = "latin-1", delimiter = ";", decimal = "," under [data]' in out
    assert "export the table again" not in out
    # With those keys (and the date format) the same file validates.
    spec = write(tmp_path, ";", "latin-1",
                 extra='encoding = "latin-1"\ndelimiter = ";"\ndecimal = ","\ndate_format = "%d/%m/%Y"')  # fmt: skip
    assert validate(spec).exit_code == 0


def test_utf8_semicolon_file_with_decimal_commas(tmp_path):
    # Split at commas, each row has 2 cells under a 1-cell header ("11,2" splits too).
    spec = write(tmp_path, ";", "utf-8")
    res = validate(spec)
    assert res.exit_code == 1
    out = " ".join(res.output.split())
    assert 'set delimiter = ";", decimal = "," under [data]' in out
    assert "encoding" not in out.split("fix:")[1]


def test_semicolon_file_without_decimals_names_only_the_delimiter(tmp_path):
    rows = [[c.replace(",", ".") for c in r] for r in ROWS]
    spec = write(tmp_path, ";", "utf-8", rows=rows)
    res = validate(spec)
    out = " ".join(res.output.split())
    assert res.exit_code == 1 and "reads as a single column" in out
    assert 'set delimiter = ";" under [data]' in out and "decimal" not in out.split("fix:")[1]


def test_decimal_commas_in_a_comma_separated_file_are_explained(tmp_path):
    spec = write(tmp_path, ",", "utf-8")
    res = validate(spec)
    out = " ".join(res.output.split())
    assert res.exit_code == 1
    assert "have more cells than the header's 9" in out
    assert "use ',' as decimal mark, which is also the separator" in out
    assert "export the table again with ';' between cells" in out


def test_windows_1252_bytes_are_named(tmp_path):
    rows = [[*r[:-1], "PR"] for r in ROWS]
    rows[0][1] = "Ospedale “A”"  # curly quotes exist only in Windows-1252
    spec = write(tmp_path, ";", "cp1252", rows=rows)
    with pytest.raises(InputError) as exc:
        read_table(tmp_path / "patients.csv")
    assert 'encoding = "cp1252"' in (exc.value.fix or "")
    assert validate(spec).exit_code == 1


def test_a_damaged_row_keeps_the_old_advice(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("patient_id,x,y\nA,1,2\nB,2\nC,3,4\n")
    with pytest.raises(InputError, match="fewer cells") as exc:
        read_table(f)
    assert "export the table again" in (exc.value.fix or "")
