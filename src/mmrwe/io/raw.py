"""Site exports as one Arrow table of raw cells, ready for the engine.

Every reader of :mod:`mmrwe.io.readers` gives cells as the file holds them; this module
puts them into one columnar table the engine validates in place:

* each source column as it is typed in the file: text stays text (so the validator can
  quote the exact cell), numbers and dates keep their type;
* an Excel column whose cells mix types (text, numbers, dates) as text, with a companion
  ``__kind__<name>`` column (0 text, 1 number, 2 date) so the validator can tell a number
  in a date column from text that does not parse;
* ``_src_row``: the row number the user sees (CSV and Excel: header = row 1; SPSS, SAS,
  Parquet: first case = 1) and ``_ord``: the input order (0, 1, ...).

CSV files without quote characters are split by Arrow's multi-threaded reader (a million
rows in a fraction of a second); any other CSV, or one whose rows do not all have the
header's width, goes through the strict splitter of :mod:`mmrwe.io.readers`, which gives the
located error messages. Both give the same cells.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from mmrwe.core.errors import InputError, Location
from mmrwe.core.fileio import file_sha256
from mmrwe.core.safety import check_input_file, input_limits
from mmrwe.core.sources import SourceInfo
from mmrwe.io import readers

KIND_PREFIX = "__kind__"
KIND_TEXT, KIND_NUMBER, KIND_DATE = 0, 1, 2


@dataclass(frozen=True)
class RawTable:
    """A table of raw cells as Arrow (plus ``_src_row`` and ``_ord``) and its source."""

    table: pa.Table
    source: SourceInfo

    @property
    def n_rows(self) -> int:
        """Rows read (empty rows included)."""
        return int(self.table.num_rows)


def read_raw(
    path: str | Path,
    *,
    sheet: str | None = None,
    delimiter: str | None = None,
    decimal: str = ".",
    encoding: str = "utf-8",
    missing_values: Sequence[str] = ("", "NA"),
) -> RawTable:
    """Read a patient table (CSV, Excel, Parquet, SPSS, SAS) into a :class:`RawTable`.

    Parameters are those of :func:`mmrwe.io.readers.read_table`; the cells are the same,
    with the rows' positions in two extra columns.

    Raises
    ------
    InputError
        Missing file, unsupported format, unreadable content.
    """
    p = Path(path)
    if readers.SUPPORTED.get(p.suffix.lower()) == "csv":
        st = check_input_file(p)  # a pipe or a device would never end
        if st.st_size <= input_limits().max_input_bytes:  # else the reader says why not
            sep = (
                delimiter
                if delimiter is not None
                else ("\t" if p.suffix.lower() == ".tsv" else ",")
            )
            fast = _fast_csv(p, sep, encoding)
            if fast is not None:
                return fast
    source = readers.read_table(
        p,
        sheet=sheet,
        delimiter=delimiter,
        decimal=decimal,
        encoding=encoding,
        missing_values=missing_values,
    )
    table = frame_to_arrow(source.frame, source.source_rows)
    info = SourceInfo(source.path, source.kind, source.path.name, source.sha256, source.sheet,
                      source.notes)  # fmt: skip
    return RawTable(table, info)


def _irregular_quotes(raw: bytes, sep: str) -> bool:
    """Whether the text has quotes the two readers could read differently.

    A quote inside a cell (``a,b"c``, ``"ab"c``, ``"a" b``) or a line with an odd number of
    quotes (a quote left open, or a cell spread over lines): the strict splitter explains
    them, Arrow's reader would take them literally. Checked on the bytes with numpy (the
    quote, separator and line-end characters are ASCII, never part of a UTF-8 sequence).
    """
    b = np.frombuffer(raw, dtype=np.uint8)
    n_quotes = raw.count(b'"')
    if n_quotes == 0:
        return False
    few = n_quotes <= _FEW_QUOTES
    # Few quotes (a quoted header, a quoted cell here and there): their positions from the
    # bytes, not from a mask of the whole file (a 60 MB mask costs more than the reading).
    q = (
        np.fromiter((m.start() for m in re.finditer(b'"', raw)), np.int64, n_quotes)
        if few
        else np.flatnonzero(b == 34)
    )
    s, nl, cr = ord(sep), 10, 13
    prev = np.where(q > 0, b[np.maximum(q - 1, 0)], nl)
    nxt = np.where(q < b.size - 1, b[np.minimum(q + 1, b.size - 1)], nl)
    open_ok = (prev == s) | (prev == nl) | (prev == 34)
    close_ok = (nxt == s) | (nxt == nl) | (nxt == cr) | (nxt == 34)
    if np.any(~open_ok & ~close_ok):
        return True
    if few:  # the line of each quote: the position of the line end before it
        line = np.fromiter((raw.rfind(b"\n", 0, int(k)) for k in q), np.int64, q.size)
        _, per_line = np.unique(line, return_counts=True)
        return bool(np.any(per_line % 2))
    lines = np.flatnonzero(b == nl)
    per_line = np.bincount(np.searchsorted(lines, q), minlength=lines.size + 1)
    return bool(np.any(per_line % 2))


#: Up to this many quotes, :func:`_irregular_quotes` finds them one by one.
_FEW_QUOTES = 100_000


def _fast_csv(p: Path, sep: str, encoding: str) -> RawTable | None:
    """Arrow's CSV reader on a regular file; None when the strict splitter is needed.

    Taken only where both readers give the same cells: one-character separator, no NUL,
    CRLF or LF line ends, quotes only around whole cells (escaped by doubling) and never
    across lines, every row the header's width, a header of unique names. Anything else
    goes to :func:`mmrwe.io.readers.read_table`, which names the line of the problem.
    """
    import pyarrow.csv as pacsv

    data = p.read_bytes()
    if len(sep) != 1 or sep == '"' or b"\x00" in data:
        return None
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None  # the strict reader says what is wrong
    if text.startswith("\ufeff"):
        text = text[1:]
    # a carriage return only as part of CRLF: a lone one splits lines differently
    if text.count("\r") != text.count("\r\n"):
        return None
    # the bytes as read are the UTF-8 text (without its byte-order mark) when they decoded
    utf8 = (
        (data[3:] if data.startswith(b"\xef\xbb\xbf") else data)
        if encoding.lower().replace("_", "-") in ("utf-8", "utf8")
        else text.encode("utf-8")
    )
    quoted = b'"' in utf8
    if ord(sep) > 127 or (quoted and _irregular_quotes(utf8, sep)):
        return None
    readers.check_csv_text(text, sep, p.name, input_limits(), utf8=utf8)
    first, _, _ = text.partition("\n")
    header = [h.strip() for h in next(csv.reader([first.rstrip("\r")], delimiter=sep), [])]
    if not header or "" in header or len(set(header)) != len(header):
        return None
    bad: list[int] = []

    def invalid(row: Any) -> str:
        bad.append(1)
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.py_buffer(utf8),
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, use_threads=True),
            parse_options=pacsv.ParseOptions(
                delimiter=sep,
                quote_char='"' if quoted else False,
                double_quote=True,
                escape_char=False,
                newlines_in_values=False,
                ignore_empty_lines=False,
                invalid_row_handler=invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowException):
        return None
    if bad or table.num_rows == 0:
        return None
    n = table.num_rows
    if table.num_columns == 1 and any(ch in first for ch in ";\t,|" if ch != sep):
        return None  # the strict reader explains the separator
    table = table.append_column("_src_row", pa.array(np.arange(2, n + 2, dtype=np.int64)))
    table = table.append_column("_ord", pa.array(np.arange(n, dtype=np.int64)))
    notes = (f"{p.name}: fields separated by {sep!r}",) if sep != "," else ()
    info = SourceInfo(p, "csv", p.name, file_sha256(p), None, notes)
    return RawTable(table, info)


def frame_to_arrow(frame: pd.DataFrame, rows: Sequence[int]) -> pa.Table:
    """Cells of a reader's object frame as typed Arrow columns, plus ``_src_row`` and ``_ord``.

    A column whose cells all have one type keeps it (text, integers, numbers, dates); a
    column mixing types becomes text with a ``__kind__<name>`` column (see the module notes).
    """
    cols: dict[str, pa.Array] = {}
    for name in frame.columns:
        values = frame[name].tolist()
        arr, kinds = _column(values)
        cols[str(name)] = arr
        if kinds is not None:
            cols[f"{KIND_PREFIX}{name}"] = kinds
    n = len(frame)
    cols["_src_row"] = pa.array(np.asarray(rows, dtype=np.int64))
    cols["_ord"] = pa.array(np.arange(n, dtype=np.int64))
    return pa.table(cols)


def _is_date(v: Any) -> bool:
    return isinstance(v, dt.date)


def _column(values: list[Any]) -> tuple[pa.Array, pa.Array | None]:
    present = [v for v in values if v is not None]
    if not present:
        return pa.nulls(len(values), pa.string()), None
    types = {type(v) for v in present}
    if types <= {str}:
        return pa.array(values, pa.string()), None
    if types <= {int}:
        if all(-(2**63) <= v < 2**63 for v in present):
            return pa.array(values, pa.int64()), None
        return pa.array([None if v is None else str(v) for v in values], pa.string()), None
    if types <= {int, float}:
        return pa.array([None if v is None else float(v) for v in values], pa.float64()), None
    if all(_is_date(v) for v in present):
        # Excel and SPSS dates (a datetime at midnight is a date; a time of day is kept)
        if all(not isinstance(v, dt.datetime) or v.time() == dt.time() for v in present):
            return pa.array([None if v is None else _as_date(v) for v in values], pa.date32()), None
        return pa.array(values, pa.timestamp("us")), None
    texts: list[str | None] = []
    kinds: list[int | None] = []
    for v in values:
        if v is None:
            texts.append(None)
            kinds.append(None)
        elif isinstance(v, str):
            texts.append(v)
            kinds.append(KIND_TEXT)
        elif _is_date(v):
            texts.append(_as_date(v).isoformat())
            kinds.append(KIND_DATE)
        elif isinstance(v, int | float):
            texts.append(_number_text(v))
            kinds.append(KIND_NUMBER)
        else:
            texts.append(str(v))
            kinds.append(KIND_TEXT)
    return pa.array(texts, pa.string()), pa.array(kinds, pa.int8())


def _as_date(v: Any) -> dt.date:
    return v.date() if isinstance(v, dt.datetime) else v


def _number_text(v: float | int) -> str:
    # 17.0 from a spreadsheet is the category "17" (as R's as.character), and round-trips
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def require_file(path: Path, what: str = "input") -> None:
    """Refuse a path that does not exist or is a folder, with the fix."""
    if not path.exists():
        raise InputError(
            f"{what} file not found: {path}",
            where=Location(file=str(path)),
            fix="check the path in [data]; paths are relative to the study spec's folder",
        )
    if path.is_dir():
        raise InputError(
            f"{what} path is a folder, not a file: {path}", where=Location(file=str(path))
        )


__all__ = ["KIND_PREFIX", "RawTable", "SourceInfo", "frame_to_arrow", "read_raw", "require_file"]
