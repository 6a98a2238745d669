"""Writing per-patient tables: CSV through Arrow's writer, Parquet when CSV would be huge.

``pandas.DataFrame.to_csv`` formats every float through Python (about 4 s per million
rows of a 10-column table); Arrow's CSV writer does the same in C++ in a fraction of that.
The text it writes is what a reader expects of a CSV: doubles in their shortest form that
reads back to the same value (``12.451745379876797``, ``0.1``, ``7``), dates as
``YYYY-MM-DD``, booleans as ``True``/``False`` (as pandas wrote them before), missing values
as empty cells, text quoted only where it must be. Text cells are neutralised against CSV
injection (:func:`mmrwe.core.safety.neutralize_csv_cell`: a cell that a spreadsheet would read
as a formula gets a leading ``'``), vectorised over the column.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from mmrwe.core.fileio import atomic_write_with
from mmrwe.core.safety import _NUMBER_TEXT

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

#: Above this many rows a per-patient table is written as Parquet instead of CSV (a CSV of
#: ten million rows is over a gigabyte of text nobody opens in a spreadsheet); override
#: with ``MMRWE_DERIVED_CSV_MAX_ROWS``.
DERIVED_CSV_MAX_ROWS = 1_000_000


def derived_csv_max_rows() -> int:
    """The row count above which ``derived_patients`` is written as Parquet."""
    raw = os.environ.get("MMRWE_DERIVED_CSV_MAX_ROWS", "")
    try:
        return int(raw) if raw.strip() else DERIVED_CSV_MAX_ROWS
    except ValueError:
        return DERIVED_CSV_MAX_ROWS


def _neutralized(col: pa.ChunkedArray) -> pa.ChunkedArray:
    import pyarrow.compute as pc

    # RE2 has no lookahead: "starts with a trigger" and "is not a number" separately
    starts = pc.match_substring_regex(col, r"^[=+\-@\t\r]")
    number = pc.match_substring_regex(col, rf"^{_NUMBER_TEXT}$")
    quote = pc.and_(starts, pc.invert(number))
    if not pc.any(quote).as_py():
        return col
    return pc.if_else(quote, pc.binary_join_element_wise("'", col, ""), col)


def _chunked(a: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    """``a`` as a chunked array. pandas' Arrow-backed columns (text in pandas 3) convert to a
    chunked array already; wrapped in a list it would be read as a sequence of scalars
    (0.7 s per text column of 1e6 rows)."""
    import pyarrow as pa

    return a if isinstance(a, pa.ChunkedArray) else pa.chunked_array([a])


def to_arrow_for_csv(frame: pd.DataFrame, *, neutralize: bool = True) -> pa.Table:
    """``frame`` as an Arrow table whose CSV text is what a person expects (see module doc)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    arrays: list[pa.ChunkedArray] = []
    for name in frame.columns:
        s = frame[name]
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object).where(s.notna(), None)
        if pd.api.types.is_datetime64_any_dtype(s.dtype) and getattr(s.dt, "tz", None) is None:
            a = _chunked(pa.array(s))
            values = s.dropna()
            if values.empty or bool((values == values.dt.normalize()).all()):
                a = a.cast(pa.date32())
        elif pd.api.types.is_bool_dtype(s.dtype):
            a = pc.if_else(_chunked(pa.array(s)), "True", "False")
        else:
            try:
                a = _chunked(pa.array(s, from_pandas=True))
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                # mixed objects: as pandas would print them
                a = pa.chunked_array(
                    [pa.array([None if pd.isna(v) else str(v) for v in s], type=pa.string())]
                )
            if pa.types.is_boolean(a.type):  # object column of True/False/None
                a = pc.if_else(a, "True", "False")
            elif pa.types.is_large_string(a.type):
                a = a.cast(pa.string())
        if neutralize and pa.types.is_string(a.type):
            a = _neutralized(a)
        arrays.append(a)
    names = [str(c) for c in frame.columns]
    return pa.table(arrays, names=names)


def write_csv(
    frame: pd.DataFrame, path: Path, *, neutralize: bool = True, mode: int | None = None
) -> None:
    """Write ``frame`` as CSV to ``path`` atomically (temporary file + rename).

    Parameters
    ----------
    frame : pandas.DataFrame
        Not modified; its index is not written.
    path : Path
        The file to (re)place.
    neutralize : bool
        Neutralise text cells against CSV injection (default); ``False`` for files only
        programs read.
    mode : int, optional
        Permission bits of the file (``0o600`` for row-level files in ``restricted/``);
        default: what a plain ``open()`` gives (``0o666`` less the umask).
    """
    import pyarrow.csv as pacsv

    from mmrwe.core.safety import neutralize_csv_cell

    table = to_arrow_for_csv(frame, neutralize=neutralize)
    header = [neutralize_csv_cell(n, enabled=neutralize) for n in table.column_names]
    table = table.rename_columns(header)
    options = pacsv.WriteOptions(include_header=True, quoting_style="needed", delimiter=",")
    atomic_write_with(
        path, lambda tmp: pacsv.write_csv(table, tmp, write_options=options), mode=mode
    )


def write_parquet(frame: pd.DataFrame, path: Path, *, mode: int | None = None) -> None:
    """Write ``frame`` as Parquet (zstd) to ``path`` atomically; no index, types kept
    (``mode`` as in :func:`write_csv`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    atomic_write_with(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"), mode=mode)


def copy_file(src: Path, path: Path, *, mode: int | None = None) -> None:
    """Copy ``src`` to ``path`` atomically (temporary file + rename)."""
    import shutil

    atomic_write_with(path, lambda tmp: shutil.copyfile(src, tmp), mode=mode)
