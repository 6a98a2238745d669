"""Fuzzing: corrupted site files never give a traceback or a silently wrong pooled table.

Each case corrupts one of the three SYNTHETIC site files (scripts/make_site_files.py) and
runs read + prepare + validate of that site, then the merge with the two clean sites, in
process. The outcome must be one of:

* a clear error: an :class:`MmrweError`, or error issues that each say what and where;
* the clean pooled table: same rows and values (patient ids aside: they are labels, and
  a corrupted id that stays unique changes no result), types and exclusions.

Every corruption class has an expected outcome, asserted strictly ("error", "same", or
"same or error" where both are right, e.g. a stray quote inside an id). The input file
is hashed before and after each case. A few cases run through the whole analysis
(results.json compared with the clean run).

Out of scope, because the corrupted file is itself a valid file and no tool can tell
(documented, not fuzzed): a number replaced by another plausible number, a cell emptied,
a file cut exactly at a line break or right after a separator, a day/month swap that is
still a valid date, a finite huge value in a column without a declared unit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pooling"))
from _sites import make_sites

from mmrwe.core.errors import MmrweError
from mmrwe.engine import connect
from mmrwe.spec import load_spec
from mmrwe.study.pipeline import run as run_study
from mmrwe.study.pooling import (
    PooledStudy,
    combine_sites,
    load_site,
    pool,
    resolve_sites,
)

FUZZ = settings(
    deadline=None,
    derandomize=True,  # the same cases on every run: CI stays reproducible
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
N_CSV = 300
N_EXCEL = 60
N_SPSS = 30

TALLY: Counter[str] = Counter()
T0 = time.perf_counter()


# ---------------------------------------------------------------------------------------
# The clean pool, computed once
# ---------------------------------------------------------------------------------------


class Clean:
    def __init__(self, folder: Path) -> None:
        self.files = make_sites(folder)
        self.folder = folder
        self.spec = load_spec(self.files["spec"])
        self.entries = resolve_sites(self.spec)
        self.be = connect("duckdb")  # one engine for every case: site validation runs there
        self.loaded = [load_site(self.spec, e, backend=self.be) for e in self.entries]
        self.pooled = combine_sites(self.spec, self.loaded, with_csv=False)
        assert not self.pooled.errors
        self.key = canonical(self.pooled)
        # The same spec with Excel serial dates declared for the CSV site, and one that
        # excludes invalid rows (with their reasons) instead of stopping.
        self.spec_serial = replace(
            self.spec,
            sites=(replace(self.spec.sites[0], excel_serial_dates=True), *self.spec.sites[1:]),
        )
        self.spec_exclude = replace(
            self.spec, validation=replace(self.spec.validation, exclude_invalid_rows=True)
        )
        f = self.pooled.validated.frame
        self.row_of = dict(
            zip(zip(f["_src_file"], f["_src_row"], strict=True), row_tuples(f), strict=True)
        )


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Clean:
    c = Clean(tmp_path_factory.mktemp("fuzz_sites"))
    yield c
    c.be.close()
    elapsed = time.perf_counter() - T0
    print(f"\nfuzz cases: {sum(TALLY.values())} in {elapsed:.1f} s: {dict(sorted(TALLY.items()))}")


def row_tuples(frame: pd.DataFrame) -> list[tuple[str, ...]]:
    """Rows as text, patient ids and row numbers aside, columns matched by name."""
    f = frame.drop(columns=["patient_id", "_src_row"])
    f = f[sorted(f.columns)]  # the first site sets the column order
    return [tuple("" if pd.isna(x) else str(x) for x in r) for r in f.itertuples(index=False)]


def canonical(pooled: PooledStudy) -> tuple[Any, ...]:
    """What the analysis sees, patient ids and row numbers aside, in a row-order-free form."""
    v = pooled.validated
    assert v is not None
    f = v.frame.drop(columns=["patient_id", "_src_row"])
    f = f[sorted(f.columns)]
    rows = sorted(row_tuples(v.frame))
    return (
        tuple(f.columns),
        tuple(rows),
        tuple(sorted(v.column_types.items())),
        tuple(sorted(v.units.items())),
        len(v.exclusions),
    )


def run_case(
    clean: Clean,
    k: int,
    data: bytes,
    suffix: str,
    tmp: Path,
    *,
    serial: bool = False,
    exclude_row: int | None = None,
) -> str:
    """Pool site ``k`` replaced by ``data``.

    Returns "error", "same", "same+empty_row", or with ``exclude_row`` (the source row of
    the corrupted cell; invalid rows are then excluded) "excluded": every other row as
    in the clean pool, and that row excluded with an "invalid: [code] ..." reason.
    """
    path = tmp / clean.entries[k].site.file.name  # same name: locations compare equal
    path.write_bytes(data)
    before = hashlib.sha256(data).hexdigest()
    spec = clean.spec_serial if serial else clean.spec
    if exclude_row is not None:
        spec = clean.spec_exclude
    entry = replace(clean.entries[k], site=replace(spec.sites[k], file=path))
    outcome, message = "", "-"
    try:
        loaded = load_site(spec, entry, backend=clean.be)
        parts = [loaded if i == k else x for i, x in enumerate(clean.loaded)]
        pooled = combine_sites(spec, parts, with_csv=False)
    except MmrweError as exc:
        message = exc.what
        outcome = "error"
    else:
        if pooled.errors:
            for i in pooled.errors:
                assert i.what and (i.where.file or i.where.spec_key or i.where.column), i
            outcome = "error"
        else:
            got = canonical(pooled)
            excl = [e for st_ in pooled.sites for e in st_.exclusions]
            if got == clean.key:
                outcome = "same"
            elif exclude_row is not None:
                file = clean.entries[k].site.file.name
                rows = list(clean.key[1])
                rows.remove(clean.row_of[(file, exclude_row)])
                assert got[1] == tuple(rows), "rows other than the corrupted one changed"
                assert got[:1] + got[2:4] == clean.key[:1] + clean.key[2:4]
                assert [(e.file, e.row) for e in excl] == [(file, exclude_row)], excl
                assert excl[0].reason.startswith("invalid: [MM"), excl[0].reason
                outcome = "excluded"
            else:
                # Blank lines are excluded as "empty row": reported, and nothing else changes.
                assert got[:4] == clean.key[:4], f"silently different pooled table: {got}"
                assert excl and all(e.reason == "empty row" for e in excl), excl
                outcome = "same+empty_row"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before, "the input file changed"
    if outcome == "error" and not message:
        raise AssertionError("an error without a message")
    return outcome


# ---------------------------------------------------------------------------------------
# CSV site (north.csv: ';', decimal commas, dd.mm.yyyy, latin-1)
# ---------------------------------------------------------------------------------------

NORTH_KIND = {
    "id_paziente": "id",
    "data_inizio": "date",
    "data_progressione": "date",
    "data_decesso": "date",
    "ultimo_followup": "date",
    "età": "unit_number",
    "sesso": "category",
    "linee_precedenti": "unit_number",
    "tcr": "category",
    "mesi_da_dara": "number",
    "emoglobina": "unit_number",
    "rischio_fish": "category",
    "risposta": "category",
}
WORDS = ["abc", "n.d.", "?", "x1", "unknown", "#N/A", "--", "1.234,5", "12 3", "TRUE", "0x1F", "½"]
NOT_A_LEVEL = ["17", "0", "-1", "3,5", "abc", "n.d.", "x", "Standard risk", "yes please", "99"]
OTHER_DATE_FORMATS = [
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%Y%m%d",
    "%d %b %Y",
    "%d-%m-%Y",
    "%Y.%m.%d",
]
INF = ["1e400", "-1e400", "9" * 400, "1" + "0" * 330 + ",5"]
FINITE_HUGE = ["1e300", "123456789", "-5e12"]


def north_table(clean: Clean) -> tuple[list[str], list[list[str]]]:
    text = clean.files["north"].read_bytes().decode("latin-1")
    lines = text.split("\r\n")
    assert lines[-1] == ""
    rows = [ln.split(";") for ln in lines[:-1]]
    return rows[0], rows[1:]


def north_bytes(header: list[str], rows: list[list[str]], encoding: str = "latin-1") -> bytes:
    return "".join(";".join(r) + "\r\n" for r in [header, *rows]).encode(encoding)


def _serial(text: str) -> str:
    d = dt.datetime.strptime(text, "%d.%m.%Y").date()
    return str((d - dt.date(1899, 12, 30)).days)


@st.composite
def csv_corruption(
    draw: Any, header: list[str], rows: list[list[str]]
) -> tuple[str, bytes, str, bool, int | None]:
    """(kind, file bytes, expected outcome, declare excel_serial_dates, excluded row).

    For corruptions of one cell, half the cases run with ``exclude_invalid_rows``: the
    row must then be excluded with its reason (or the run stop), and nothing else change.
    """
    rows = [list(r) for r in rows]
    header = list(header)
    kind = draw(
        st.sampled_from(
            ["wrong_type", "shuffle_columns", "truncate_row", "stray_quote", "mixed_dates",
             "serial_date", "serial_date_declared", "encoding", "huge", "blank_line",
             "duplicate_row", "extra_cell", "trailing_separators", "bom_utf8"]
        )
    )  # fmt: skip
    r = draw(st.integers(0, len(rows) - 1))
    c = draw(st.integers(0, len(header) - 1))
    col_kind = NORTH_KIND[header[c]]
    expect, serial, enc = "error", False, "latin-1"
    bad_row: int | None = None  # index in rows of a one-cell corruption
    if kind == "wrong_type":
        bad_row = r
        if col_kind in ("number", "unit_number"):
            rows[r][c] = draw(st.sampled_from(WORDS))
        elif col_kind == "date":
            rows[r][c] = draw(st.sampled_from([*WORDS, "31.02.2023", "00.01.2022", "17", "2022"]))
        elif col_kind == "category":
            rows[r][c] = draw(st.sampled_from(NOT_A_LEVEL))
        else:
            rows[r][c] = draw(st.sampled_from([*WORDS, "17", "3,5"]))
            expect, bad_row = "same", None  # an id is a label: any unique value analyses the same
    elif kind == "shuffle_columns":
        perm = draw(st.permutations(range(len(header))))
        header = [header[i] for i in perm]
        rows = [[row[i] for i in perm] for row in rows]
        expect = "same"
    elif kind == "truncate_row":
        drop = draw(st.integers(1, len(header) - 1))
        rows[r] = rows[r][: len(header) - drop]
    elif kind == "stray_quote":
        line = draw(st.integers(-1, len(rows) - 1))
        target = header if line < 0 else rows[line]
        text = ";".join(target)
        pos = draw(st.integers(0, len(text)))
        text = text[:pos] + '"' + text[pos:]
        cells = text.split(";")
        if line < 0:
            header = cells
        else:
            rows[line] = cells
        # Only inside an id cell can a stray quote be harmless (the id changes).
        before = text[:pos].count(";")
        in_id = line >= 0 and before == 0 and pos > 0  # column 0 is the id
        expect = "same_or_error" if in_id else "error"
    elif kind in ("mixed_dates", "serial_date", "serial_date_declared"):
        dates = [(i, j) for i, row in enumerate(rows) for j, v in enumerate(row)
                 if NORTH_KIND[header[j]] == "date" and v]  # fmt: skip
        i, j = draw(st.sampled_from(dates))
        bad_row = i
        if kind == "mixed_dates":
            fmt = draw(st.sampled_from(OTHER_DATE_FORMATS))
            rows[i][j] = dt.datetime.strptime(rows[i][j], "%d.%m.%Y").strftime(fmt)
        else:
            rows[i][j] = _serial(rows[i][j])
            if kind == "serial_date_declared":
                serial, expect, bad_row = True, "same", None
    elif kind == "encoding":
        enc = draw(
            st.sampled_from(
                ["utf-8", "utf-16", "utf-16-le", "utf-32", "mac_roman", "cp1252", "cp437"]
            )
        )
        expect = "same" if enc == "cp1252" else "error"  # cp1252 writes 'à' as latin-1 does
    elif kind == "huge":
        bad_row = r
        if col_kind == "unit_number":
            rows[r][c] = draw(st.sampled_from([*INF, *FINITE_HUGE]))
        elif col_kind == "number":
            rows[r][c] = draw(st.sampled_from(INF))
        elif col_kind == "date":
            rows[r][c] = draw(st.sampled_from(["99.99.99999", "01.01.10000", "31.12.9999"]))
        elif col_kind == "category":
            rows[r][c] = "x" * draw(st.integers(200, 20000))
        else:
            rows[r][c] = "P" * draw(st.integers(200, 20000))
            expect, bad_row = "same", None
    elif kind == "blank_line":
        blank = draw(st.sampled_from([[], [""] * len(header), ["  "]]))
        rows.insert(r + 1, blank)
        expect = "same+empty_row"
    elif kind == "duplicate_row":
        rows.insert(r + 1, list(rows[r]))
    elif kind == "extra_cell":
        rows[r].append(draw(st.sampled_from(["x", "0", "abc"])))
    elif kind == "trailing_separators":
        header.append("")
        rows = [[*row, ""] for row in rows]
        expect = "same"
    elif kind == "bom_utf8":
        return kind, b"\xef\xbb\xbf" + north_bytes(header, rows), "error", False, None  # latin-1
    exclude_row = None
    if bad_row is not None and draw(st.booleans()):
        exclude_row, expect, kind = bad_row + 2, "excluded_or_error", f"{kind}+exclude"
    return kind, north_bytes(header, rows, enc), expect, serial, exclude_row


def _check(kind: str, outcome: str, expect: str) -> None:
    if expect == "same_or_error":
        assert outcome in ("same", "error"), (kind, outcome)
    elif expect == "excluded_or_error":
        assert outcome in ("excluded", "error"), (kind, outcome)
    else:
        assert outcome == expect, (kind, outcome, expect)
    TALLY[f"{kind}:{outcome}"] += 1


@pytest.fixture(scope="module")
def north(clean: Clean) -> tuple[list[str], list[list[str]]]:
    return north_table(clean)


def test_csv_site_corruptions(clean, north, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("csv_cases")
    header, rows = north

    @settings(FUZZ, max_examples=N_CSV)
    @given(case=csv_corruption(header, rows))
    def check(case: tuple[str, bytes, str, bool, int | None]) -> None:
        kind, data, expect, serial, exclude_row = case
        outcome = run_case(clean, 0, data, ".csv", tmp, serial=serial, exclude_row=exclude_row)
        _check(kind, outcome, expect)

    check()


# ---------------------------------------------------------------------------------------
# Excel site (centro.xlsx: sheet 'pazienti' among others, dd/mm/yyyy text, Hb in g/L)
# ---------------------------------------------------------------------------------------

CENTRO_KIND = {
    "patient_id": "id", "Centro": "center", "start_date": "date", "progression_date": "date",
    "death_date": "date", "last_followup_date": "date", "age": "unit_number",
    "sex": "category", "prior_lines": "unit_number", "tcr": "category",
    "months_from_dara_refractory": "number", "Hb_gL": "unit_number", "fish_risk": "category",
    "best_response": "category",
}  # fmt: skip


def centro_table(clean: Clean) -> list[list[Any]]:
    wb = openpyxl.load_workbook(clean.files["centro"])
    return [list(r) for r in wb["pazienti"].iter_rows(values_only=True)]


@st.composite
def excel_corruption(draw: Any, table: list[list[Any]]) -> tuple[str, Any, str]:
    """(kind, a function that edits the workbook, expected outcome)."""
    header = table[0]
    n = len(table) - 1
    r = draw(st.integers(2, n + 1))  # sheet row of a patient
    c = draw(st.integers(1, len(header)))
    name = header[c - 1]
    ck = CENTRO_KIND[name]
    kind = draw(
        st.sampled_from(
            ["wrong_type", "date_cells", "formula_unsaved", "merged", "hidden_row",
             "extra_sheet", "sheet_missing", "huge", "blank_header", "blank_row",
             "other_center", "number_as_text", "padded_date_text", "bool_in_date"]
        )
    )  # fmt: skip
    expect = "error"

    def edit(wb: Any) -> None:
        ws = wb["pazienti"]
        if kind == "wrong_type":
            if ck in ("number", "unit_number"):
                ws.cell(r, c).value = draw_word
            elif ck == "date" or ck in ("category", "center"):
                ws.cell(r, c).value = draw_number
            else:
                ws.cell(r, c).value = draw_number
        elif kind == "date_cells":  # real date cells instead of text: the same dates
            for row in range(2, n + 2):
                for col in range(3, 7):
                    v = ws.cell(row, col).value
                    if v:
                        d = dt.datetime.strptime(v, "%d/%m/%Y")
                        ws.cell(row, col).value = d if with_time else d.date()
        elif kind == "formula_unsaved":
            ws.cell(r, c).value = "=1+1"
        elif kind == "merged":
            ws.merge_cells(
                start_row=r, start_column=c, end_row=r + (1 if r <= n else -1), end_column=c
            )
        elif kind == "hidden_row":
            ws.row_dimensions[r].hidden = True
        elif kind == "extra_sheet":
            wb.create_sheet("altro").append(["patient_id", "x"])
        elif kind == "sheet_missing":
            ws.title = "patients"
        elif kind == "huge":
            col = draw_unit_col
            ws.cell(r, col).value = 1e300
        elif kind == "blank_header":
            ws.cell(1, c).value = None
        elif kind == "blank_row":
            ws.insert_rows(r)
        elif kind == "other_center":
            ws.cell(r, 2).value = "Center A"
        elif kind == "number_as_text":  # "number stored as text" in Excel: the same number
            v = ws.cell(r, 12).value
            ws.cell(r, 12).value = repr(v)[:-2] if repr(v).endswith(".0") else repr(v)
        elif kind == "padded_date_text":
            ws.cell(r, 3).value = f"  {ws.cell(r, 3).value} "
        elif kind == "bool_in_date":
            ws.cell(r, 3).value = True

    draw_word = draw(st.sampled_from(["abc", "n.d.", "#DIV/0!", "?", "1.5.3"]))
    draw_number = draw(st.sampled_from([17, 3.5, 0, -1, 44928]))
    with_time = draw(st.booleans())
    draw_unit_col = draw(st.sampled_from([7, 9, 12]))  # age, prior_lines, Hb_gL
    if kind == "wrong_type" and ck == "id":
        expect = "same"
    if kind in ("date_cells", "hidden_row", "extra_sheet", "number_as_text", "padded_date_text"):
        expect = "same"
    if kind == "blank_row":
        expect = "same+empty_row"
    return kind, edit, expect


def test_excel_site_corruptions(clean, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("xlsx_cases")
    table = centro_table(clean)
    src = clean.files["centro"]

    @settings(FUZZ, max_examples=N_EXCEL)
    @given(case=excel_corruption(table))
    def check(case: tuple[str, Any, str]) -> None:
        kind, edit, expect = case
        wb = openpyxl.load_workbook(src)
        edit(wb)
        out = tmp / "edited.xlsx"
        wb.save(out)
        _check(f"xlsx_{kind}", run_case(clean, 1, out.read_bytes(), ".xlsx", tmp), expect)

    check()


# ---------------------------------------------------------------------------------------
# SPSS site (south.sav: date columns, value labels)
# ---------------------------------------------------------------------------------------


@st.composite
def spss_corruption(
    draw: Any, frame: pd.DataFrame
) -> tuple[str, pd.DataFrame, dict[str, Any], str]:
    f = frame.copy()
    labels: dict[str, Any] = {"SEX": {1.0: "F", 2.0: "M"}}
    kind = draw(
        st.sampled_from(
            ["text_in_number", "date_as_number", "label_changed", "unlabelled_code",
             "huge", "renamed", "shuffle_columns", "text_date"]
        )
    )  # fmt: skip
    r = draw(st.integers(0, len(f) - 1))
    expect = "error"
    if kind == "text_in_number":
        col = draw(st.sampled_from(["AGE", "PRIOR_LINES", "HGB", "DARA_GAP"]))
        f[col] = f[col].map(lambda x: "" if pd.isna(x) else repr(float(x)))
        f.loc[r, col] = draw(st.sampled_from(["abc", "n.d.", "?"]))
    elif kind == "date_as_number":
        col = draw(st.sampled_from(["START_DT", "LFU_DT"]))
        f[col] = [float((d - dt.date(1582, 10, 14)).days * 86400) for d in f[col]]
    elif kind == "label_changed":
        labels = {"SEX": {1.0: "female", 2.0: "male"}}
    elif kind == "unlabelled_code":
        f.loc[r, "SEX"] = 3.0
    elif kind == "huge":
        col = draw(st.sampled_from(["AGE", "PRIOR_LINES", "HGB"]))
        f.loc[r, col] = 1e300
    elif kind == "renamed":
        f = f.rename(columns={draw(st.sampled_from(list(f.columns))): "RENAMED"})
    elif kind == "shuffle_columns":
        f = f[list(draw(st.permutations(list(f.columns))))]
        expect = "same"
    elif kind == "text_date":
        col = draw(st.sampled_from(["START_DT", "LFU_DT"]))
        f[col] = [d.strftime("%d/%m/%Y") for d in f[col]]  # text, not ISO: not the declared format
    return kind, f, labels, expect


def test_spss_site_corruptions(clean, tmp_path_factory):
    import pyreadstat

    tmp = tmp_path_factory.mktemp("sav_cases")
    frame, _ = pyreadstat.read_sav(clean.files["south"], dates_as_pandas_datetime=False)
    for c in ("START_DT", "PD_DT", "DEATH_DT", "LFU_DT"):
        frame[c] = pd.Series([None if pd.isna(v) else v for v in frame[c]], dtype=object)

    @settings(FUZZ, max_examples=N_SPSS)
    @given(case=spss_corruption(frame))
    def check(case: tuple[str, pd.DataFrame, dict[str, Any], str]) -> None:
        kind, f, labels, expect = case
        out = tmp / "edited.sav"
        labels = {k: v for k, v in labels.items() if k in f.columns}
        pyreadstat.write_sav(f, str(out), variable_value_labels=labels)
        _check(f"sav_{kind}", run_case(clean, 2, out.read_bytes(), ".sav", tmp), expect)

    check()


# ---------------------------------------------------------------------------------------
# A few cases through the whole analysis
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expect"),
    [
        ("shuffle_columns", "same"),
        ("cp1252", "same"),
        ("trailing", "same"),
        ("quote", "error"),
        ("utf8", "error"),
    ],
)
def test_whole_analysis_on_a_corrupted_site(clean, tmp_path, kind, expect):
    header, rows = north_table(clean)
    if kind == "shuffle_columns":
        perm = list(reversed(range(len(header))))
        data = north_bytes([header[i] for i in perm], [[r[i] for i in perm] for r in rows])
    elif kind == "cp1252":
        data = north_bytes(header, rows, "cp1252")
    elif kind == "trailing":
        data = north_bytes([*header, ""], [[*r, ""] for r in rows])
    elif kind == "quote":
        rows = [list(r) for r in rows]
        rows[3][6] = '"' + rows[3][6]
        data = north_bytes(header, rows)
    else:
        data = north_bytes(header, rows, "utf-8")
    folder = tmp_path / "sites"
    folder.mkdir()
    for name in ("study.toml", "centro.xlsx", "south.sav", "patients.csv"):
        (folder / name).write_bytes((clean.folder / name).read_bytes())
    (folder / "north.csv").write_bytes(data)
    spec = load_spec(folder / "study.toml")
    if expect == "error":
        with pytest.raises(MmrweError) as exc:
            pool(spec, [], tmp_path / "out", report=False)
        assert "north.csv" in str(exc.value) or any(
            i.where.file == "north.csv" for i in getattr(exc.value, "issues", ())
        )
        assert not (tmp_path / "out" / "results.json").exists()
    else:
        run = pool(spec, [], tmp_path / "out", report=False)
        want = json.loads(run_study(load_spec(clean.files["spec"])).results.to_json())
        got = json.loads(run.run.results.to_json())
        want.pop("inputs")
        got.pop("inputs")
        assert got == want
    assert (folder / "north.csv").read_bytes() == data
    TALLY[f"whole_{kind}:{expect}"] += 1
