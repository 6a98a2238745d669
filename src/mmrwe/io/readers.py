"""Read site exports (CSV, Excel, Parquet, SPSS, SAS) into raw tables without guessing.

Every reader returns a :class:`SourceTable`: cell values as the file holds them (text stays
text, so the validator can point at the exact cell), the row number the user sees, and the
file's SHA-256. Files are opened read-only and never written.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmrwe.core.errors import InputError, Location
from mmrwe.core.fileio import file_sha256
from mmrwe.core.safety import (
    InputLimits,
    check_input_file,
    console_text,
    input_limits,
    limit_error,
    shown,
)
from mmrwe.core.sources import SourceTable

SUPPORTED = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "excel", ".xlsm": "excel",
             ".parquet": "parquet", ".pq": "parquet", ".sav": "spss", ".zsav": "spss",
             ".sas7bdat": "sas"}  # fmt: skip


def read_table(
    path: str | Path,
    *,
    sheet: str | None = None,
    delimiter: str | None = None,
    decimal: str = ".",
    encoding: str = "utf-8",
    missing_values: Sequence[str] = ("", "NA"),
    limits: InputLimits | None = None,
) -> SourceTable:
    """Read one patient (or lab, or therapy) table.

    Parameters
    ----------
    path : str or Path
        ``.csv`` (also ``.txt``/``.tsv``), ``.xlsx``, ``.parquet``, ``.sav`` or ``.sas7bdat``.
    sheet : str, optional
        Excel sheet; required when a workbook has more than one visible sheet.
    delimiter : str, optional
        CSV field separator; default comma (tab for ``.tsv``). Never guessed: a file that
        reads as one column holding ``;`` is refused with a hint.
    decimal : {".", ","}
        Decimal mark of numbers written as text (kept as text here; used by the validator).
    encoding : str
        Text encoding of CSV files.
    missing_values : sequence of str
        Cell texts that mean "missing".
    limits : InputLimits, optional
        Caps on size (bytes after decompression, columns, rows, cells, characters per
        cell); default :func:`mmrwe.core.safety.input_limits` (``MMRWE_MAX_*`` variables).

    Returns
    -------
    SourceTable

    Raises
    ------
    InputError
        Missing file, not a regular file (a folder, a pipe, a device), unsupported format,
        a cap exceeded, unreadable content.
    """
    p = Path(path)
    st = check_input_file(p)
    kind = SUPPORTED.get(p.suffix.lower())
    if kind is None:
        raise InputError(
            f"unsupported file type {shown(p.suffix)}",
            where=Location(file=p.name),
            fix=f"save the table as one of: {', '.join(sorted(set(SUPPORTED)))}",
        )
    lim = limits if limits is not None else input_limits()
    # Caps that need no parsing come before the file is hashed or opened by a library.
    if kind in ("csv", "spss", "sas") and st.st_size > lim.max_input_bytes:
        raise limit_error(
            f"{p.name} has {st.st_size:,} bytes", "max_input_bytes", lim.max_input_bytes,
            where=Location(file=p.name),
            fix="split the table, or convert it to Parquet and run it on the engine",
        )  # fmt: skip
    if kind == "excel":
        _check_xlsx_size(p, lim)
    sha = file_sha256(p)
    missing = set(missing_values)
    try:
        if kind == "csv":
            sep = (
                delimiter
                if delimiter is not None
                else ("\t" if p.suffix.lower() == ".tsv" else ",")
            )
            frame, rows, notes = _read_csv(p, sep, encoding, lim)
            sheet_used = None
        elif kind == "excel":
            frame, rows, sheet_used, notes = _read_excel(p, sheet, lim)
        elif kind == "parquet":
            frame, rows, notes = _read_parquet(p, lim)
            sheet_used = None
        elif kind == "spss":
            frame, rows, notes = _read_spss(p, lim)
            sheet_used = None
        else:
            frame, rows, notes = _read_sas(p, encoding, lim)
            sheet_used = None
    except InputError:
        raise
    except Exception as exc:  # a corrupt file must not become a traceback
        raise InputError(
            f"could not read {p.name} as {kind}: {type(exc).__name__}: {shown(exc, 200)}",
            where=Location(file=p.name),
            fix="open the file in its program and save it again, or export it as CSV",
        ) from None
    header_row = 1 if kind in ("csv", "excel") else None
    _check_shape(frame, p.name, sheet_used, header_row, lim)
    frame = normalise_cells(frame, missing, p.name, sheet_used, rows, lim)
    frame.columns = [str(c).strip() for c in frame.columns]
    # One pass over the header (Counter), not one count per column: 40,000 columns took
    # 85 s with list.count.
    dup = sorted(c for c, k in Counter(frame.columns).items() if k > 1)
    if dup:
        listed = ", ".join(console_text(c, 40, markup=False) for c in dup[:10]) + (
            f" and {len(dup) - 10} more" if len(dup) > 10 else ""
        )
        raise InputError(
            f"column name(s) appear more than once: {listed}",
            where=Location(file=p.name, sheet=sheet_used, row=header_row),
            fix="rename the duplicated columns so every column has its own header",
        )
    return SourceTable(
        path=p,
        kind=kind,
        frame=frame,
        source_rows=tuple(rows),
        sha256=sha,
        sheet=sheet_used,
        notes=tuple(notes),
    )


def _dialect(raw: bytes, sep: str, encoding: str) -> tuple[str, str | None]:
    """How the file is actually written (words) and the [data] keys that would read it.

    The reading options are never guessed: this only explains a failure, so the message
    names the keys to set instead of "export the table again".
    """
    from mmrwe.io.dialect import diagnose_csv

    d = diagnose_csv(raw)
    return d.summary(), d.fix({"delimiter": sep, "encoding": encoding})


def _check_shape(
    frame: pd.DataFrame, name: str, sheet: str | None, header_row: int | None, lim: InputLimits
) -> None:
    """Columns, rows and cells of a table read, against the caps (formats with no metadata)."""
    n_rows, n_cols = frame.shape
    where = Location(file=name, sheet=sheet, row=header_row)
    if n_cols > lim.max_columns:
        raise limit_error(f"{name} has {n_cols:,} columns", "max_columns", lim.max_columns,
                          where=where, fix="keep only the columns the study needs")  # fmt: skip
    if n_rows > lim.max_rows:
        raise limit_error(f"{name} has {n_rows:,} rows", "max_rows", lim.max_rows, where=where,
                          fix="split the table, or run it on the engine (Parquet)")  # fmt: skip
    if n_rows * n_cols > lim.max_cells:
        raise limit_error(f"{name} has {n_rows:,} rows x {n_cols:,} columns = {n_rows * n_cols:,} cells",
                          "max_cells", lim.max_cells, where=where,
                          fix="keep only the columns the study needs, or run it on the engine (Parquet)")  # fmt: skip


def _read_csv(
    p: Path, sep: str, encoding: str, limits: InputLimits | None = None
) -> tuple[pd.DataFrame, list[int], list[str]]:
    raw = p.read_bytes()
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        seen, fix = _dialect(raw, sep, encoding)
        raise InputError(
            f"{p.name} is not valid {encoding} text ({exc.reason} at byte {exc.start}); "
            f"it reads as {seen}",
            where=Location(file=p.name),
            fix=fix
            or 'set encoding = "latin-1" (or the encoding the file was saved in) under [data]',
        ) from None
    except LookupError:
        raise InputError(
            f"unknown text encoding {encoding!r}",
            fix='use e.g. "utf-8", "utf-8-sig", "cp1252", "latin-1"',
        ) from None
    if text.startswith("\ufeff"):  # Excel writes a BOM in "CSV UTF-8"
        text = text[1:]
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise InputError(
            f"{p.name} contains a NUL character (line {line}); it is not a text table",
            where=Location(file=p.name, row=line),
            fix="export the table again as CSV text (or declare the encoding it was saved in)",
        )
    check_csv_text(text, sep, p.name, limits if limits is not None else input_limits())
    if len(sep) == 1:
        frame, rows = _split_csv(text, sep, p.name)
    else:
        import io

        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            engine="python",
        )
        rows = [i + 2 for i in range(len(frame))]
    notes = []
    if frame.shape[1] == 1:
        header = str(frame.columns[0])
        seen, fix = _dialect(raw, sep, encoding)
        for alt, name in ((";", "semicolon"), ("\t", "tab"), (",", "comma"), ("|", "vertical bar")):
            if alt != sep and alt in header and fix is not None and "delimiter" in fix:
                raise InputError(
                    f"{p.name} reads as a single column; its header contains the {name} "
                    f"character, and the file reads as {seen}",
                    where=Location(file=p.name, row=1),
                    fix=fix,
                )
    if sep != ",":
        notes.append(f"{p.name}: fields separated by {sep!r}")
    return frame, rows, notes


def _longest_line_bytes(data: bytes) -> int:
    """Length in bytes of the longest line (line ends excluded, a CR counted: an upper bound)."""
    import numpy as np

    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    bounds = np.concatenate(([-1], ends, [len(data)]))
    return int(np.max(np.diff(bounds))) - 1


def check_csv_text(
    text: str, sep: str, name: str, lim: InputLimits, *, utf8: bytes | None = None
) -> None:
    """Caps checked on the text before it is split into cells (seconds, no cell objects).

    Width comes from the header line, rows from the line count, so a table of too many
    cells is refused before millions of Python strings are made. A cell longer than the cap
    implies a line longer than the cap; only such lines are split to find the cell (the csv
    module would otherwise stop at its own 128 KiB field limit with a misleading message).
    ``utf8``: the text's UTF-8 bytes, when at hand: no line is longer in characters than in
    bytes, so when no line is longer than the cap in bytes the search for long lines (a
    regular expression over the whole text, 0.3 s at 60 MB) is skipped.
    """
    import contextlib
    import csv

    first = text[: text.find("\n")] if "\n" in text else text
    width = first.count(sep) + 1  # an upper bound: quoted separators counted too
    if len(sep) == 1 and width > 1:
        # A stray quote keeps the upper bound; it is reported with its line when split.
        with contextlib.suppress(csv.Error):
            width = len(next(csv.reader([first], delimiter=sep), []))
    where = Location(file=name, row=1)
    if width > lim.max_columns:
        raise limit_error(f"{name} has {width:,} columns", "max_columns", lim.max_columns,
                          where=where, fix="keep only the columns the study needs")  # fmt: skip
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    if lines - 1 > lim.max_rows:
        raise limit_error(f"{name} has {lines - 1:,} lines after the header", "max_rows", lim.max_rows,
                          where=where, fix="split the table, or convert it to Parquet and run it on the engine")  # fmt: skip
    if (lines - 1) * width > lim.max_cells:
        raise limit_error(f"{name} has {lines - 1:,} lines x {width:,} columns = {(lines - 1) * width:,} cells",
                          "max_cells", lim.max_cells, where=where,
                          fix="keep only the columns the study needs, or convert it to Parquet and run it on the engine")  # fmt: skip
    cap = lim.max_cell_chars
    if len(text) <= cap:
        return
    if utf8 is not None and _longest_line_bytes(utf8) <= cap:
        return
    for m in re.finditer(rf"(?m)^[^\n]{{{cap + 1}}}", text):
        start = m.start()
        end = text.find("\n", start)
        line = text[start : end if end >= 0 else len(text)].rstrip("\r")
        try:
            cells = (
                next(csv.reader([line], delimiter=sep), []) if len(sep) == 1 else line.split(sep)
            )
        except csv.Error:  # a field past the csv module's own limit: too long in any case
            cells = line.split(sep)
        long = next((k for k, c in enumerate(cells) if len(c) > cap), None)
        if long is not None:
            n_line = text.count("\n", 0, start) + 1
            raise limit_error(
                f"{name}: the cell in column {long + 1} of line {n_line} has {len(cells[long]):,} characters",
                "max_cell_chars", cap, where=Location(file=name, row=n_line),
                fix="a cell this long is not a patient value (a stray quote joining lines, or a pasted document); correct the source",
            )  # fmt: skip
    if cap >= csv.field_size_limit():  # let the csv module read every cell the cap allows
        csv.field_size_limit(cap + 1)


def _split_csv(text: str, sep: str, name: str) -> tuple[pd.DataFrame, list[int]]:
    """Split CSV text into cells, refusing what would silently shift or lose cells.

    The csv module (strict mode) is used rather than pandas because pandas fills a short
    row with empty cells, renames a repeated header ``hgb`` to ``hgb.1`` and lets a stray
    quote swallow the following lines into one cell: each would turn a damaged file into
    a valid-looking table with wrong values.
    """
    import csv
    import io

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    records: list[tuple[int, list[str]]] = []
    prev_line = 0
    try:
        for rec in reader:
            line = reader.line_num
            if line - prev_line > 1 or any("\n" in c or "\r" in c for c in rec):
                raise InputError(
                    f"{name}: a quoted cell runs from line {prev_line + 1} over several lines (a stray quote character?)",
                    where=Location(file=name, row=prev_line + 1),
                    fix='remove the stray " character, or put the whole cell in quotes on one line',
                )
            records.append((line, rec))
            prev_line = line
    except csv.Error as exc:
        raise InputError(
            f"{name}: cannot split line {reader.line_num} into cells ({exc}); probably a stray quote character",
            where=Location(file=name, row=reader.line_num),
            fix='remove the stray " character, or quote the whole cell ("like this")',
        ) from None
    if not records:
        raise InputError(
            f"{name} is empty", where=Location(file=name), fix="export the table again"
        )
    header = [c.strip() for c in records[0][1]]
    body = records[1:]

    def blank(rec: list[str]) -> bool:
        return all(not c.strip() for c in rec)

    # Trailing separators (``a,b,``) leave empty header cells over empty columns: residue,
    # as in Excel; any other nameless column is refused.
    width = len(header)
    while (
        width
        and not header[width - 1]
        and all(len(r) < width or not r[width - 1].strip() for _, r in body)
    ):
        width -= 1
    if width == 0:
        raise InputError(f"{name} has no header row", where=Location(file=name, row=1),
                         fix="put column names in line 1")  # fmt: skip
    if "" in header[:width]:
        k = header.index("")
        raise InputError(
            f"column {k + 1} of {name} has no header",
            where=Location(file=name, row=1),
            fix="give every column a name in line 1",
        )
    short = [(ln, len(r)) for ln, r in body if len(r) < width and not blank(r)]
    long = [(ln, len(r)) for ln, r in body if len(r) > width and any(c.strip() for c in r[width:])]
    for bad, what in ((short, "fewer"), (long, "more")):
        if bad:
            listed = ", ".join(f"line {ln} ({k} cells)" for ln, k in bad[:5])
            more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
            why, fix = _split_diagnosis(text, sep, body, width, bad, what)
            raise InputError(
                f"{name}: {len(bad)} row(s) have {what} cells than the header's {width}: {listed}{more}{why}",
                where=Location(file=name, row=bad[0][0]),
                fix=fix,
            )
    cells = [(r + [""] * width)[:width] for _, r in body]
    frame = pd.DataFrame(cells, columns=header[:width], dtype=object)
    if frame.empty:
        frame = pd.DataFrame({c: pd.Series(dtype=object) for c in header[:width]})
    return frame, [ln for ln, _ in body]


def _split_diagnosis(
    text: str,
    sep: str,
    body: list[tuple[int, list[str]]],
    width: int,
    bad: list[tuple[int, int]],
    what: str,
) -> tuple[str, str]:
    """Why rows have the wrong number of cells, and the fix (a reading option when the
    separator is wrong; decimal commas in a comma-separated file; else a damaged row)."""
    from mmrwe.io.dialect import decimal_comma_rows, diagnose_text

    d = diagnose_text(text)
    if d.delimiter.value is not None and d.delimiter.value != sep:
        return f"; the file reads as {d.summary()}", d.fix({"delimiter": sep}) or ""
    if what == "more" and sep == ",":
        bad_lines = {ln for ln, _ in bad}
        explained = decimal_comma_rows([(ln, r) for ln, r in body if ln in bad_lines], width)
        if len(explained) == len(bad_lines):
            return (
                "; their numbers use ',' as decimal mark, which is also the separator, so "
                "11,5 becomes two cells",
                "export the table again with ';' between cells (then set delimiter = \";\" and "
                'decimal = "," under [data]), or write the numbers with a decimal point',
            )
    return "", "the row was cut short or has an extra separator; export the table again"


def _check_xlsx_size(p: Path, lim: InputLimits) -> None:
    """Refuse a workbook whose parts inflate past the cap, from the zip directory alone.

    A 1.5 MB .xlsx can hold one 1.5 GB XML comment: the sizes in the zip's central
    directory are read before any part is decompressed or parsed.
    """
    import zipfile

    try:
        with zipfile.ZipFile(p) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(
            f"{p.name} is not a valid .xlsx workbook (not a readable zip archive: {shown(exc, 80)})",
            where=Location(file=p.name),
            fix="open the file in Excel or LibreOffice and save it again as .xlsx",
        ) from None
    total = sum(i.file_size for i in infos)
    if total > lim.max_input_bytes:
        biggest = max(infos, key=lambda i: i.file_size)
        raise limit_error(
            f"{p.name} inflates to {total:,} bytes ({shown(biggest.filename, 60)} alone {biggest.file_size:,}) from {p.stat().st_size:,} on disk",
            "max_input_bytes", lim.max_input_bytes, where=Location(file=p.name),
            fix="save the sheet alone as a new workbook or as CSV (a workbook this size is a compressed bomb or holds far more than a patient table)",
        )  # fmt: skip


def _read_excel(
    p: Path, sheet: str | None, limits: InputLimits | None = None
) -> tuple[pd.DataFrame, list[int], str, list[str]]:
    """Cells by calamine (Rust); sheet facts openpyxl gave (hidden, merged, formulas) from the XML.

    calamine reads a 100,000-row sheet in about 1.4 s where openpyxl's full load took 21.6 s
    and 0.9 GB. What calamine does not give is read from the sheet's XML with byte searches
    (hidden rows and columns, formula cells, error cells), after the size caps are checked.
    Cell values are mapped to what openpyxl returned (``data_only=True``): whole numbers as
    ``int``, date cells as ``datetime``, empty cells as ``None``, error cells as their text.
    """
    from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

    lim = limits if limits is not None else input_limits()
    _check_xlsx_size(p, lim)
    wb = CalamineWorkbook.from_path(str(p))
    try:
        meta = [m for m in wb.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]
        names = [m.name for m in meta]
        visible = [m.name for m in meta if m.visible == SheetVisibleEnum.Visible]
        notes: list[str] = []
        if sheet is None:
            if len(visible) != 1:
                raise InputError(
                    f"{p.name} has {len(visible)} visible sheets ({', '.join(shown(v, 40) for v in visible[:20])}); which one holds the patients?",
                    where=Location(file=p.name),
                    fix='name it under [data], e.g. sheet = "patients"',
                )
            sheet = visible[0]
            hidden = [m.name for m in meta if m.visible != SheetVisibleEnum.Visible]
            if hidden:
                notes.append(
                    f"{p.name}: hidden sheet(s) ignored: {', '.join(shown(h, 40) for h in hidden[:20])}"
                )
        if sheet not in names:
            raise InputError(
                f"{p.name} has no sheet {shown(sheet)}",
                where=Location(file=p.name, sheet=sheet),
                fix=f"use one of: {', '.join(shown(n, 40) for n in names[:20])}",
            )
        ws = wb.get_sheet_by_name(sheet)
        merged = ws.merged_cell_ranges or []
        if merged:
            ranges = ", ".join(f"{_ref(a)}:{_ref(b)}" for a, b in merged[:5])
            raise InputError(
                f"sheet {shown(sheet)} of {p.name} has merged cells ({ranges})",
                where=Location(file=p.name, sheet=sheet),
                fix="unmerge the cells and fill every row, so each row is one patient",
            )
        end = ws.end
        n_rows, n_cols = (end[0] + 1, end[1] + 1) if end is not None else (0, 0)
        where = Location(file=p.name, sheet=sheet, row=1)
        if n_cols > lim.max_columns:
            raise limit_error(f"sheet {shown(sheet)} of {p.name} has {n_cols:,} columns", "max_columns",
                              lim.max_columns, where=where, fix="keep only the columns the study needs")  # fmt: skip
        if n_rows - 1 > lim.max_rows or n_rows * n_cols > lim.max_cells:
            raise limit_error(
                f"sheet {shown(sheet)} of {p.name} spans {n_rows:,} rows x {n_cols:,} columns = {n_rows * n_cols:,} cells",
                "max_cells" if n_rows - 1 <= lim.max_rows else "max_rows",
                lim.max_cells if n_rows - 1 <= lim.max_rows else lim.max_rows, where=where,
                fix="delete unused rows and columns (formatting far below the table counts too), or save the table as CSV",
            )  # fmt: skip
        raw = ws.to_python(skip_empty_area=False) if end is not None else []
    finally:
        wb.close()
    values = [[_excel_cell(v) for v in r] for r in raw]
    del raw
    notes += _sheet_notes(p, sheet, values)
    if not values:
        raise InputError(
            f"sheet {shown(sheet)} of {p.name} is empty", where=Location(file=p.name, sheet=sheet)
        )
    header = values[0]
    width = len(header)
    while width and header[width - 1] is None:
        width -= 1
    if width == 0:
        raise InputError(
            f"sheet {shown(sheet)} of {p.name} has no header row",
            where=Location(file=p.name, sheet=sheet, row=1),
            fix="put column names in row 1",
        )
    cols = [str(h).strip() if h is not None else "" for h in header[:width]]
    if "" in cols:
        k = cols.index("")
        raise InputError(
            f"column {k + 1} of sheet {shown(sheet)} has no header",
            where=Location(file=p.name, sheet=sheet, row=1),
            fix="give every column a name in row 1",
        )
    body = [r[:width] + [None] * (width - len(r)) for r in values[1:]]
    # Trailing all-empty rows are formatting residue, not patients.
    while body and all(c is None or (isinstance(c, str) and not c.strip()) for c in body[-1]):
        body.pop()
    frame = pd.DataFrame(body, columns=cols, dtype=object)
    return frame, [i + 2 for i in range(len(frame))], sheet, notes


_MAX_EXACT_INT = 2.0**53


def _excel_cell(v: Any) -> Any:
    """A calamine value as openpyxl (``data_only=True``) gave it."""
    if isinstance(v, float):
        # The XML stores 70 as "70"; openpyxl read it as int, calamine as 70.0.
        return int(v) if v.is_integer() and abs(v) < _MAX_EXACT_INT else v
    if isinstance(v, str):
        return v if v else None  # calamine fills empty cells with ""
    if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
        return dt.datetime(v.year, v.month, v.day)  # openpyxl gave date cells as datetime
    return v


def _ref(rc: tuple[int, int]) -> str:
    """A1-style reference of a 0-based (row, column)."""
    return f"{_col_letters(rc[1] + 1)}{rc[0] + 1}"


def _col_letters(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


_ROW_TAG = re.compile(rb"<(?:\w+:)?row\b([^>]*)>")
_COL_TAG = re.compile(rb"<(?:\w+:)?col\b([^>]*)>")
_CELL_TAG = re.compile(rb"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
_HIDDEN = re.compile(rb"""\bhidden\s*=\s*["'](?:1|true)["']""")
_R_ATTR = re.compile(rb"""\br\s*=\s*["']([A-Z]{1,3})(\d+)["']""")
_ROW_R = re.compile(rb"""\br\s*=\s*["'](\d+)["']""")
_MIN_MAX = re.compile(rb"""\b(min|max)\s*=\s*["'](\d+)["']""")
_T_ERROR = re.compile(rb"""\bt\s*=\s*["']e["']""")
_F_TAG = re.compile(rb"<(?:\w+:)?f\b")
_V_TEXT = re.compile(rb"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>")


def _sheet_xml(p: Path, sheet: str) -> bytes | None:
    """The XML of a worksheet, found through the workbook's relationships (None if absent)."""
    import posixpath
    import xml.etree.ElementTree as ET
    import zipfile

    with zipfile.ZipFile(p) as z:
        names = set(z.namelist())
        book = "xl/workbook.xml"
        if "_rels/.rels" in names:
            for rel in ET.fromstring(z.read("_rels/.rels")):
                if str(rel.get("Type", "")).endswith("/officeDocument"):
                    book = str(rel.get("Target", book)).lstrip("/")
        rels_name = posixpath.join(
            posixpath.dirname(book), "_rels", posixpath.basename(book) + ".rels"
        )
        if book not in names or rels_name not in names:
            return None
        rid = None
        for el in ET.fromstring(z.read(book)).iter():
            if el.tag.endswith("}sheet") and el.get("name") == sheet:
                rid = next((v for k, v in el.attrib.items() if k.endswith("}id")), None)
        target = None
        for rel in ET.fromstring(z.read(rels_name)):
            if rel.get("Id") == rid:
                target = str(rel.get("Target", ""))
        if target is None:
            return None
        part = (
            target.lstrip("/")
            if target.startswith("/")
            else posixpath.normpath(posixpath.join(posixpath.dirname(book), target))
        )
        return z.read(part) if part in names else None


def _sheet_notes(p: Path, sheet: str, values: list[list[Any]]) -> list[str]:
    """Refuse formulas without saved values; say which formulas and hidden rows were read.

    A formula cell's value is the one last saved by a spreadsheet program; a workbook
    written by a script and never opened in Excel has no saved value, and the cell would
    read as empty (a missing progression date = no event). Refuse that.
    """
    xml = _sheet_xml(p, sheet)
    if xml is None:
        return []
    notes: list[str] = []
    has_formula = any(t in xml for t in (b"<f>", b"<f ", b"<f/>")) or bool(
        b":f" in xml and re.search(rb"<\w+:f\b", xml)
    )
    # Substring tests first: a regex over hundreds of MB costs seconds, ``in`` milliseconds.
    has_error = (b'"e"' in xml or b"'e'" in xml) and _T_ERROR.search(xml) is not None
    if has_formula or has_error:
        formulas: list[tuple[str, int, int]] = []
        for m in _CELL_TAG.finditer(xml):
            attrs, body = m.group(1), m.group(2) or b""
            is_formula = has_formula and _F_TAG.search(body) is not None
            is_error = has_error and _T_ERROR.search(attrs) is not None
            if not (is_formula or is_error):
                continue
            ref = _R_ATTR.search(attrs)
            if ref is None:  # positions implied by order: rare; let openpyxl locate them
                return _sheet_notes_openpyxl(p, sheet, values)
            r, c = int(ref.group(2)) - 1, _col_number(ref.group(1).decode()) - 1
            if is_error and r < len(values) and c < len(values[r]) and values[r][c] is None:
                v = _V_TEXT.search(body)
                values[r][c] = v.group(1).decode("utf-8", "replace") if v else None
            if is_formula:
                formulas.append((f"{ref.group(1).decode()}{int(ref.group(2))}", r, c))
        if formulas:
            notes += _formula_notes(p, sheet, formulas, values)
    hidden_rows: list[int] = []
    hidden_cols: list[str] = []
    if b"hidden" in xml and _HIDDEN.search(xml):
        for m in _ROW_TAG.finditer(xml):
            if _HIDDEN.search(m.group(1)):
                rr = _ROW_R.search(m.group(1))
                if rr is not None and int(rr.group(1)) <= len(values):
                    hidden_rows.append(int(rr.group(1)))
        for m in _COL_TAG.finditer(xml):
            if _HIDDEN.search(m.group(1)):
                mm = {k.decode(): int(v) for k, v in _MIN_MAX.findall(m.group(1))}
                lo, hi = mm.get("min", 0), mm.get("max", mm.get("min", 0))
                if lo:
                    hidden_cols.append(
                        _col_letters(lo) if hi <= lo else f"{_col_letters(lo)}:{_col_letters(hi)}"
                    )
    return notes + _hidden_notes(p, sheet, sorted(hidden_rows), hidden_cols)


def _formula_notes(
    p: Path, sheet: str, formulas: list[tuple[str, int, int]], values: list[list[Any]]
) -> list[str]:
    unsaved = [ref for ref, r, c in formulas if r < len(values) and c < len(values[r])
               and values[r][c] is None]  # fmt: skip
    if unsaved:
        raise InputError(
            f"sheet {shown(sheet)} of {p.name} has {len(unsaved)} formula cell(s) without a saved value ({', '.join(unsaved[:5])})",
            where=Location(file=p.name, sheet=sheet, row=int("".join(ch for ch in unsaved[0] if ch.isdigit()))),
            fix="open the file in Excel or LibreOffice and save it (this stores the values), or paste the cells as values",
        )  # fmt: skip
    return [
        f"{p.name}: {len(formulas)} formula cell(s) in sheet {shown(sheet)} read as their saved values"
    ]


def _hidden_notes(p: Path, sheet: str, hidden_rows: list[int], hidden_cols: list[str]) -> list[str]:
    notes = []
    if hidden_rows:
        listed = ", ".join(map(str, hidden_rows[:10])) + (" ..." if len(hidden_rows) > 10 else "")
        notes.append(
            f"{p.name}: row(s) {listed} of sheet {shown(sheet)} are hidden in the spreadsheet and are read like every other row"
        )
    if hidden_cols:
        notes.append(
            f"{p.name}: column(s) {', '.join(hidden_cols[:20])} of sheet {shown(sheet)} are hidden in the spreadsheet and are read like every other column"
        )
    return notes


def _sheet_notes_openpyxl(p: Path, sheet: str, values: list[list[Any]]) -> list[str]:
    """The same facts from openpyxl's streaming (read-only) reader, for XML without cell references."""
    import openpyxl

    wb = openpyxl.load_workbook(p, read_only=True, data_only=False)
    try:
        formulas = [
            (cell.coordinate, cell.row - 1, cell.column - 1)
            for row in wb[sheet].iter_rows()
            for cell in row
            if getattr(cell, "data_type", None) == "f"
        ]
    finally:
        wb.close()
    return _formula_notes(p, sheet, formulas, values) if formulas else []


def _read_parquet(
    p: Path, limits: InputLimits | None = None
) -> tuple[pd.DataFrame, list[int], list[str]]:
    import pyarrow.parquet as pq

    lim = limits if limits is not None else input_limits()
    # Rows, columns and uncompressed bytes come from the footer: a 373 KB file can hold
    # 100 million rows, so nothing is decoded before they are checked.
    md = pq.ParquetFile(p).metadata
    n_rows, n_cols = int(md.num_rows), int(md.num_columns)
    size = sum(int(md.row_group(i).total_byte_size) for i in range(md.num_row_groups))
    _check_counts(p.name, n_rows, n_cols, lim)
    if size > lim.max_input_bytes:
        raise limit_error(f"{p.name} holds {size:,} bytes of uncompressed data", "max_input_bytes",
                          lim.max_input_bytes, where=Location(file=p.name),
                          fix="keep only the columns the study needs, or run it on the engine")  # fmt: skip
    table = pq.read_table(p)
    frame = table.to_pandas(date_as_object=True, timestamp_as_object=True).astype(object)
    return frame, [i + 1 for i in range(len(frame))], []


def _check_counts(name: str, n_rows: int | None, n_cols: int, lim: InputLimits) -> None:
    """Rows, columns and cells from a file's metadata, before its data are read."""
    where = Location(file=name)
    if n_cols > lim.max_columns:
        raise limit_error(f"{name} has {n_cols:,} columns", "max_columns", lim.max_columns,
                          where=where, fix="keep only the columns the study needs")  # fmt: skip
    if n_rows is None:
        return
    if n_rows > lim.max_rows:
        raise limit_error(f"{name} has {n_rows:,} rows", "max_rows", lim.max_rows, where=where,
                          fix="split the table, or run it on the engine (Parquet)")  # fmt: skip
    if n_rows * n_cols > lim.max_cells:
        raise limit_error(f"{name} has {n_rows:,} rows x {n_cols:,} columns = {n_rows * n_cols:,} cells",
                          "max_cells", lim.max_cells, where=where,
                          fix="keep only the columns the study needs, or run it on the engine (Parquet)")  # fmt: skip


def _read_spss(
    p: Path, limits: InputLimits | None = None
) -> tuple[pd.DataFrame, list[int], list[str]]:
    import pyreadstat

    lim = limits if limits is not None else input_limits()
    _, meta0 = pyreadstat.read_sav(str(p), metadataonly=True)
    _check_counts(p.name, _known(meta0.number_rows), _known(meta0.number_columns) or 0, lim)
    # row_limit bounds files whose header does not state the row count.
    frame, meta = pyreadstat.read_sav(
        str(p), apply_value_formats=True, dates_as_pandas_datetime=False, row_limit=lim.max_rows + 1
    )
    notes = []
    if meta.variable_value_labels:
        notes.append(
            f"{p.name}: SPSS value labels applied to {', '.join(sorted(meta.variable_value_labels))}"
        )
    return frame.astype(object), [i + 1 for i in range(len(frame))], notes


def _read_sas(
    p: Path, encoding: str, limits: InputLimits | None = None
) -> tuple[pd.DataFrame, list[int], list[str]]:
    import pyreadstat

    lim = limits if limits is not None else input_limits()
    _, meta0 = pyreadstat.read_sas7bdat(str(p), metadataonly=True)
    _check_counts(p.name, _known(meta0.number_rows), _known(meta0.number_columns) or 0, lim)
    frame, _meta = pyreadstat.read_sas7bdat(
        str(p), dates_as_pandas_datetime=False, row_limit=lim.max_rows + 1
    )
    return frame.astype(object), [i + 1 for i in range(len(frame))], []


def _known(n: Any) -> int | None:
    """A row count from metadata; readstat reports -1 or None when the file does not say."""
    return int(n) if n is not None and int(n) >= 0 else None


def normalise_cells(
    frame: pd.DataFrame,
    missing: set[str],
    name: str = "",
    sheet: str | None = None,
    rows: Sequence[int] = (),
    limits: InputLimits | None = None,
) -> pd.DataFrame:
    """Map every cell to None / str / int / float / date / datetime; refuse over-long cells.

    Columns are converted by position and the frame is built once: assigning 40,000
    columns one by one into a DataFrame is quadratic.
    """
    lim = limits if limits is not None else input_limits()
    cap = lim.max_cell_chars

    def norm(v: Any) -> Any:
        if v is None:
            return None
        if isinstance(v, str):
            s = v.strip()
            return None if s in missing else s
        if isinstance(v, bool):
            return int(v)
        if isinstance(v, float):
            return None if math.isnan(v) else v
        if isinstance(v, pd.Timestamp):
            return None if pd.isna(v) else v.to_pydatetime()
        if isinstance(v, dt.datetime | dt.date | int):
            return v
        try:
            if pd.isna(v):
                return None
        except (TypeError, ValueError):
            pass
        if hasattr(v, "item"):  # numpy scalars
            return v.item()
        return str(v)

    cells = frame.to_numpy(dtype=object)
    if cells.size:
        cells = np.frompyfunc(norm, 1, 1)(cells)
    # One code per cell: its length for text, else -1 None, -2 int, -3 float, -4 anything
    # else. Whole-array passes keep a 40,000-column table as fast as a long one (per-column
    # pandas calls cost ~2 ms each).
    code = (
        np.frompyfunc(_cell_code, 1, 1)(cells).astype(np.int64)
        if cells.size
        else np.zeros(cells.shape, dtype=np.int64)
    )
    if cells.size and int(code.max()) > cap:
        i, j = (int(k) for k in np.unravel_index(int(code.argmax()), code.shape))
        header = str(frame.columns[j])
        raise limit_error(
            f"{name}: a cell of column {shown(header, 40)} has {int(code[i, j]):,} characters",
            "max_cell_chars", cap,
            where=Location(file=name or None, sheet=sheet, row=rows[i] if i < len(rows) else None,
                           column=console_text(header, 100, markup=False)),
            fix="a cell this long is not a patient value (a pasted document?); correct the source",
        )  # fmt: skip
    # As pandas' Series.map inferred before: a column of numbers only that has a missing
    # cell or a float reads as floats (70 -> 70.0); downstream behaviour is unchanged.
    numeric = ~((code >= 0) | (code == -4)).any(axis=0) & (code <= -2).any(axis=0)
    to_float = numeric & ((code == -1) | (code == -3)).any(axis=0)
    if to_float.any():
        sub = cells[:, to_float]
        ints = code[:, to_float] == -2
        sub[ints] = np.frompyfunc(float, 1, 1)(sub[ints])
        cells[:, to_float] = sub
    # Columns holding other objects (dates, times, durations) keep pandas' own inference, as
    # before: a column of datetimes reads as pandas Timestamps. Few columns, so the
    # per-column cost does not matter.
    for k in np.flatnonzero((code == -4).any(axis=0)):
        col = pd.Series(cells[:, k], dtype=object).map(_same).astype(object)
        cells[:, k] = col.where(col.notna(), None).to_numpy(dtype=object)
    out = pd.DataFrame(cells, index=pd.RangeIndex(len(frame)), dtype=object)
    out.columns = frame.columns
    return out


def _same(v: Any) -> Any:
    return v


_INT64 = (-(2**63), 2**63)


def _cell_code(v: Any) -> int:
    t = type(v)
    if t is str:
        return len(v)
    if v is None:
        return -1
    if t is int:
        return -2 if _INT64[0] <= v < _INT64[1] else -4  # beyond int64 pandas kept objects
    if t is float:
        return -3
    return -4
