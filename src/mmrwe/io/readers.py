"""Read site exports (CSV, Excel, Parquet, SPSS, SAS) into raw tables without guessing.

Every reader returns a :class:`SourceTable`: cell values as the file holds them (text stays
text, so the validator can point at the exact cell), the row number the user sees, and the
file's SHA-256. Files are opened read-only and never written.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from mmrwe.core.errors import InputError, Location
from mmrwe.core.fileio import file_sha256
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

    Returns
    -------
    SourceTable

    Raises
    ------
    InputError
        Missing file, unsupported format, unreadable content.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(
            f"input file not found: {p}",
            where=Location(file=str(p)),
            fix="check the path in [data]; paths are relative to the study spec's folder",
        )
    if p.is_dir():
        raise InputError(f"input path is a folder, not a file: {p}", where=Location(file=str(p)))
    kind = SUPPORTED.get(p.suffix.lower())
    if kind is None:
        raise InputError(
            f"unsupported file type {p.suffix!r}",
            where=Location(file=p.name),
            fix=f"save the table as one of: {', '.join(sorted(set(SUPPORTED)))}",
        )
    sha = file_sha256(p)
    missing = set(missing_values)
    try:
        if kind == "csv":
            sep = (
                delimiter
                if delimiter is not None
                else ("\t" if p.suffix.lower() == ".tsv" else ",")
            )
            frame, rows, notes = _read_csv(p, sep, encoding)
            sheet_used = None
        elif kind == "excel":
            frame, rows, sheet_used, notes = _read_excel(p, sheet)
        elif kind == "parquet":
            frame, rows, notes = _read_parquet(p)
            sheet_used = None
        elif kind == "spss":
            frame, rows, notes = _read_spss(p)
            sheet_used = None
        else:
            frame, rows, notes = _read_sas(p, encoding)
            sheet_used = None
    except InputError:
        raise
    except Exception as exc:  # a corrupt file must not become a traceback
        raise InputError(
            f"could not read {p.name} as {kind}: {type(exc).__name__}: {exc}",
            where=Location(file=p.name),
            fix="open the file in its program and save it again, or export it as CSV",
        ) from None
    frame = normalise_cells(frame, missing)
    frame.columns = [str(c).strip() for c in frame.columns]
    dup = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if dup:
        raise InputError(
            f"column name(s) appear more than once: {', '.join(dup)}",
            where=Location(
                file=p.name, sheet=sheet_used, row=1 if kind in ("csv", "excel") else None
            ),
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


def _read_csv(p: Path, sep: str, encoding: str) -> tuple[pd.DataFrame, list[int], list[str]]:
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


def _read_excel(p: Path, sheet: str | None) -> tuple[pd.DataFrame, list[int], str, list[str]]:
    import openpyxl

    wb = openpyxl.load_workbook(p, read_only=False, data_only=True)
    try:
        visible = [ws.title for ws in wb.worksheets if ws.sheet_state == "visible"]
        notes: list[str] = []
        if sheet is None:
            if len(visible) != 1:
                raise InputError(
                    f"{p.name} has {len(visible)} visible sheets ({', '.join(map(repr, visible))}); which one holds the patients?",
                    where=Location(file=p.name),
                    fix='name it under [data], e.g. sheet = "patients"',
                )
            sheet = visible[0]
            hidden = [ws.title for ws in wb.worksheets if ws.sheet_state != "visible"]
            if hidden:
                notes.append(f"{p.name}: hidden sheet(s) ignored: {', '.join(hidden)}")
        if sheet not in wb.sheetnames:
            raise InputError(
                f"{p.name} has no sheet {sheet!r}",
                where=Location(file=p.name, sheet=sheet),
                fix=f"use one of: {', '.join(map(repr, wb.sheetnames))}",
            )
        ws = wb[sheet]
        if ws.merged_cells.ranges:
            ranges = ", ".join(str(r) for r in list(ws.merged_cells.ranges)[:5])
            raise InputError(
                f"sheet {sheet!r} of {p.name} has merged cells ({ranges})",
                where=Location(file=p.name, sheet=sheet),
                fix="unmerge the cells and fill every row, so each row is one patient",
            )
        values = [list(r) for r in ws.iter_rows(values_only=True)]
        notes += _sheet_notes(p, ws, values)
    finally:
        wb.close()
    if not values:
        raise InputError(
            f"sheet {sheet!r} of {p.name} is empty", where=Location(file=p.name, sheet=sheet)
        )
    header = values[0]
    width = len(header)
    while width and header[width - 1] is None:
        width -= 1
    if width == 0:
        raise InputError(
            f"sheet {sheet!r} of {p.name} has no header row",
            where=Location(file=p.name, sheet=sheet, row=1),
            fix="put column names in row 1",
        )
    cols = [str(h).strip() if h is not None else "" for h in header[:width]]
    if "" in cols:
        k = cols.index("")
        raise InputError(
            f"column {k + 1} of sheet {sheet!r} has no header",
            where=Location(file=p.name, sheet=sheet, row=1),
            fix="give every column a name in row 1",
        )
    body = [r[:width] + [None] * (width - len(r)) for r in values[1:]]
    # Trailing all-empty rows are formatting residue, not patients.
    while body and all(c is None or (isinstance(c, str) and not c.strip()) for c in body[-1]):
        body.pop()
    frame = pd.DataFrame(body, columns=cols, dtype=object)
    return frame, [i + 2 for i in range(len(frame))], sheet, notes


def _sheet_notes(p: Path, ws: Any, values: list[list[Any]]) -> list[str]:
    """Refuse formulas without saved values; say which formulas and hidden rows were read.

    ``data_only=True`` gives a formula cell's value as last saved by a spreadsheet program;
    a workbook written by a script and never opened in Excel has no saved value, and the
    cell would read as empty (a missing progression date = no event). Refuse that.
    """
    notes: list[str] = []
    sheet = ws.title
    formulas = _formula_cells(p, sheet)
    if formulas:
        unsaved = [ref for ref, r, c in formulas if r < len(values) and c < len(values[r])
                   and values[r][c] is None]  # fmt: skip
        if unsaved:
            raise InputError(
                f"sheet {sheet!r} of {p.name} has {len(unsaved)} formula cell(s) without a saved value ({', '.join(unsaved[:5])})",
                where=Location(file=p.name, sheet=sheet, row=int("".join(ch for ch in unsaved[0] if ch.isdigit()))),
                fix="open the file in Excel or LibreOffice and save it (this stores the values), or paste the cells as values",
            )  # fmt: skip
        notes.append(
            f"{p.name}: {len(formulas)} formula cell(s) in sheet {sheet!r} read as their saved values"
        )
    hidden_rows = sorted(r for r, d in ws.row_dimensions.items() if d.hidden and r <= len(values))
    hidden_cols = sorted(k for k, d in ws.column_dimensions.items() if d.hidden)
    if hidden_rows:
        listed = ", ".join(map(str, hidden_rows[:10])) + (" ..." if len(hidden_rows) > 10 else "")
        notes.append(
            f"{p.name}: row(s) {listed} of sheet {sheet!r} are hidden in the spreadsheet and are read like every other row"
        )
    if hidden_cols:
        notes.append(
            f"{p.name}: column(s) {', '.join(hidden_cols)} of sheet {sheet!r} are hidden in the spreadsheet and are read like every other column"
        )
    return notes


def _formula_cells(p: Path, sheet: str) -> list[tuple[str, int, int]]:
    """Formula cells of ``sheet`` as (reference, 0-based row, 0-based column)."""
    import re
    import zipfile

    import openpyxl

    with zipfile.ZipFile(p) as z:  # cheap check before parsing the workbook a second time
        xml = [z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/")]
    if not any(re.search(rb"<(\w+:)?f[ >/]", x) for x in xml):
        return []
    wb = openpyxl.load_workbook(p, read_only=False, data_only=False)
    try:
        out = []
        for row in wb[sheet].iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    out.append((cell.coordinate, cell.row - 1, cell.column - 1))
        return out
    finally:
        wb.close()


def _read_parquet(p: Path) -> tuple[pd.DataFrame, list[int], list[str]]:
    import pyarrow.parquet as pq

    table = pq.read_table(p)
    frame = table.to_pandas(date_as_object=True, timestamp_as_object=True).astype(object)
    return frame, [i + 1 for i in range(len(frame))], []


def _read_spss(p: Path) -> tuple[pd.DataFrame, list[int], list[str]]:
    import pyreadstat

    frame, meta = pyreadstat.read_sav(
        str(p), apply_value_formats=True, dates_as_pandas_datetime=False
    )
    notes = []
    if meta.variable_value_labels:
        notes.append(
            f"{p.name}: SPSS value labels applied to {', '.join(sorted(meta.variable_value_labels))}"
        )
    return frame.astype(object), [i + 1 for i in range(len(frame))], notes


def _read_sas(p: Path, encoding: str) -> tuple[pd.DataFrame, list[int], list[str]]:
    import pyreadstat

    frame, _meta = pyreadstat.read_sas7bdat(str(p), dates_as_pandas_datetime=False)
    return frame.astype(object), [i + 1 for i in range(len(frame))], []


def normalise_cells(frame: pd.DataFrame, missing: set[str]) -> pd.DataFrame:
    """Map every cell to None / str / int / float / date / datetime."""

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

    out = frame.copy()
    for c in out.columns:
        out[c] = out[c].map(norm).astype(object)
        out[c] = out[c].where(out[c].notna(), None)
    return out.reset_index(drop=True)
