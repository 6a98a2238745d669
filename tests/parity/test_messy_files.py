"""One cohort on every engine: messy CSV files read by the default path and by DuckDB.

A table of files as sites export them (blank lines, a UTF-8 byte-order mark, CRLF or CR line
ends, latin-1 and cp1252 text, ragged rows, duplicated column names, quoted separators and
quotes, a duplicated patient, a bad date, a row of empty cells, a semicolon file) is read by
the default engine and by ``engine = "duckdb"`` (the only other engine that reads CSV files
itself; PostgreSQL and Spark read tables). Both must keep the same rows, exclude the same rows
with the same row numbers and count the same ``n_input_rows``: the ``cohort`` and
``validation`` sections of results.json are identical. A file that cannot be read is the
same located error (message, row and fix) on both.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from parity_util import diff_results

from mmrwe.core.errors import MmrweError
from mmrwe.spec import load_spec
from mmrwe.study.pipeline import run as run_study

LUNG = Path(__file__).resolve().parents[1] / "e2e" / "lung"
_LINES = (LUNG / "patients.csv").read_text().splitlines()
HEAD, ROWS = _LINES[0], _LINES[1:40]  # 39 patients: enough for every analysis of the spec


def _csv(rows: list[str], head: str = HEAD) -> str:
    return "\n".join([head, *rows]) + "\n"


def _with(k: int, row: str) -> list[str]:
    """ROWS with row k replaced."""
    return [*ROWS[:k], row, *ROWS[k + 1 :]]


def _center(name: str) -> list[str]:
    return [r.replace('"inst3"', name) for r in ROWS]


EXCLUDE = "\n[validation]\nexclude_invalid_rows = true\n"

# name: (file bytes, [data] lines, spec tail, expected outcome: n analysed or error text)
CASES: dict[str, tuple[bytes, str, str, int | str]] = {
    "plain": (_csv(ROWS).encode(), "", "", 39),
    "blank lines": (_csv([*ROWS[:5], "", *ROWS[5:10], "", "", *ROWS[10:]]).encode(), "", "", 39),
    "UTF-8 byte-order mark": (b"\xef\xbb\xbf" + _csv(ROWS).encode(), "", "", 39),
    "CRLF line ends": (_csv(ROWS).replace("\n", "\r\n").encode(), "", "", 39),
    "CR line ends": (_csv(ROWS).replace("\n", "\r").encode(), "", "", 39),
    "no final line end": (_csv(ROWS).rstrip("\n").encode(), "", "", 39),
    "latin-1 declared": (
        _csv(_center('"Centre Montr\u00e9al"')).encode("latin-1"),
        'encoding = "latin-1"',
        "",
        39,
    ),
    "cp1252 declared": (
        _csv(_center('"Centre \u2013 Montr\u00e9al"')).encode("cp1252"),
        'encoding = "cp1252"',
        "",
        39,
    ),
    "latin-1 undeclared": (
        _csv(_center('"Centre Montr\u00e9al"')).encode("latin-1"),
        "",
        "",
        "is not valid utf-8",
    ),
    "quoted separator": (_csv(_center('"inst, 3"')).encode(), "", "", 39),
    "quoted quotes": (_csv(_center('"inst ""3"""')).encode(), "", "", 39),
    "cell over two lines": (_csv(_center('"inst\n3"')).encode(), "", "", "over several lines"),
    "semicolons": (
        _csv([r.replace(",", ";") for r in ROWS], HEAD.replace(",", ";")).encode(),
        'delimiter = ";"',
        "",
        39,
    ),
    "trailing blanks": (_csv([f"{r} " for r in ROWS]).encode(), "", "", 39),
    "trailing separator on one row": (_csv(_with(3, ROWS[3] + ",")).encode(), "", "", 39),
    "row too long": (_csv(_with(4, ROWS[4] + ",99")).encode(), "", "", "more cells than"),
    "row too long, excluding": (
        _csv(_with(4, ROWS[4] + ",99")).encode(),
        "",
        EXCLUDE,
        "more cells than",
    ),
    "row too short": (_csv(_with(4, ROWS[4].rsplit(",", 2)[0])).encode(), "", "", "fewer cells"),
    "duplicate column name": (
        _csv([f"{r},1" for r in ROWS], HEAD + ',"age"').encode(),
        "",
        "",
        "more than once: age",
    ),
    "row of empty cells": (_csv([*ROWS[:3], ",,,,,,,,,", *ROWS[3:]]).encode(), "", "", 39),
    "duplicated patient": (_csv([*ROWS[:3], ROWS[2], *ROWS[3:]]).encode(), "", "", "appears again"),
    "duplicated patient, excluding": (
        _csv([*ROWS[:3], ROWS[2], *ROWS[3:]]).encode(),
        "",
        EXCLUDE,
        39,
    ),
    "bad date": (
        _csv(_with(3, ROWS[3].replace("2010-", "2010-13-", 1))).encode(),
        "",
        "",
        "not a date",
    ),
    "bad date, excluding": (
        _csv(_with(3, ROWS[3].replace("2010-", "2010-13-", 1))).encode(),
        "",
        EXCLUDE,
        38,
    ),
    "empty id, excluding": (
        _csv(_with(3, ROWS[3].replace('"L004"', '""'))).encode(),
        "",
        EXCLUDE,
        38,
    ),
}


def _run(folder: Path, data: bytes, lines: str, tail: str, engine: str | None) -> dict:
    folder.mkdir()
    (folder / "patients.csv").write_bytes(data)
    extra = "\n".join(x for x in (lines, f'engine = "{engine}"' if engine else "") if x)
    spec = (LUNG / "study.toml").read_text()
    spec = spec.replace('patients = "patients.csv"', f'patients = "patients.csv"\n{extra}')
    (folder / "study.toml").write_text(spec + tail)
    try:
        run = run_study(load_spec(folder / "study.toml"))
    except MmrweError as exc:  # a located user error; anything else fails the test
        text = str(exc).replace(str(folder), "DIR")
        return {"error": type(exc).__name__, "message": text}
    res = json.loads(run.results.to_json())
    return {"cohort": res["cohort"], "validation": res.get("validation")}


@pytest.mark.parametrize("case", list(CASES))
def test_messy_file_gives_one_cohort_on_both_engines(case: str, tmp_path: Path) -> None:
    data, lines, tail, expected = CASES[case]
    default = _run(tmp_path / "default", data, lines, tail, None)
    duck = _run(tmp_path / "duckdb", data, lines, tail, "duckdb")
    if isinstance(expected, int):
        assert "error" not in default, default
        assert default["cohort"]["n"] == expected
        # identical, row numbers of exclusions and issues included
        assert diff_results(default, duck, rtol=0.0) == []
        assert default == duck
    else:
        assert expected in default.get("message", ""), default
        assert "at patients.csv" in default["message"]  # located
        assert duck == default


def test_blank_lines_are_counted_alike(tmp_path: Path) -> None:
    # the example: a blank line made n_input_rows 22 on one engine and 21 on the other
    data = _csv([*ROWS[:5], "", *ROWS[5:]]).encode()
    a = _run(tmp_path / "a", data, "", "", None)
    b = _run(tmp_path / "b", data, "", "", "duckdb")
    assert a["cohort"]["n_input_rows"] == b["cohort"]["n_input_rows"]


def test_a_duplicate_excluded_keeps_the_first_copy_on_both(tmp_path: Path) -> None:
    data = _csv([*ROWS[:3], ROWS[2], *ROWS[3:]]).encode()
    a = _run(tmp_path / "a", data, "", EXCLUDE, None)
    b = _run(tmp_path / "b", data, "", EXCLUDE, "duckdb")
    for r in (a, b):
        assert r["cohort"]["n"] == 39 and r["cohort"]["n_excluded"] == 1
        assert [x["row"] for x in r["cohort"]["exclusions"]] == [5]
