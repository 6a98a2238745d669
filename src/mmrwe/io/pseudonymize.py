"""Pseudonymize a site's patient table before it leaves the site.

* **Ids**: ``HMAC-SHA256(key, id)``, the first 20 hex digits (80 bits). The key stays at
  the site: without it a pseudonym cannot be linked back, with it the site recomputes the
  link (no crosswalk file is needed). Two sites using the same key on the same identifier
  (e.g. a national health number) produce the same pseudonym, which ``mmrwe pool`` flags
  as a duplicate across sites.
* **Dates** (optional): every date of a patient moves by one offset, a keyed pseudo-random
  whole number of days in ``[-max_shift_days, -1] U [1, max_shift_days]`` derived from
  ``HMAC-SHA256(key, "mmrwe date shift" NUL id)``. Intervals between a patient's dates are
  unchanged, so PFS, OS and every analysis are identical. Calendar time is not: analyses
  by calendar period, or duplicate matching on dates between sites with different keys,
  no longer work on shifted data.
* **Direct identifiers** listed in ``[pseudonymize] identifiers`` are dropped. A column
  whose name looks identifying (name, birth date, address, phone, e-mail, tax, insurance
  or record number) must be listed there or in ``keep``; otherwise the command stops.

The input file is only read. The output has the input's format (CSV with the same
separator and encoding, Excel, SPSS or Parquet), so the site's ``[[sites]]`` entry reads it
unchanged except for the file name.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import hashlib
import hmac
import io
import os
import re
import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mmrwe.core.errors import InputError, Location, SchemaError
from mmrwe.core.fileio import atomic_write
from mmrwe.io.readers import SUPPORTED, SourceTable

KEY_MIN_BYTES = 16
ID_HEX_DIGITS = 20
_SHIFT_CONTEXT = b"mmrwe date shift\x00"

# Column names that usually hold direct identifiers (after lower-casing and turning
# anything but letters and digits into "_"). English and Italian, as the reference study.
_IDENTIFYING = re.compile(
    r"(^|_)(first_?name|last_?name|given_?name|family_?name|surname|full_?name|name|nome|cognome"
    r"|birth_?date|date_?of_?birth|dob|birthday|data_?(di_)?nascita"
    r"|address|street|indirizzo|zip|postcode|postal_?code|cap"
    r"|phone|telephone|tel|mobile|cellulare|telefono|email|e_?mail"
    r"|ssn|social_?security|tax_?(code|id)|fiscal_?code|codice_?fiscale|cf|nhs_?(number|no)?"
    r"|insurance_?(number|no)|mrn|medical_?record(_?number)?|hospital_?number|passport)(_|$)"
)


def create_key(path: Path) -> None:
    """Write a new random 256-bit key (64 hex digits) to ``path``, readable by its owner only.

    Raises
    ------
    InputError
        If ``path`` exists (a key is never overwritten: pseudonyms made with it would be
        orphaned).
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(
            f"key file {path} exists; a key is never overwritten",
            where=Location(file=str(path)),
            fix="use the existing key (drop --new-key), or name a new key file",
        ) from None
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")


def load_key(path: Path) -> bytes:
    """Read a key file: its bytes without surrounding whitespace, at least 16 of them."""
    if not path.is_file():
        raise InputError(
            f"key file not found: {path}",
            where=Location(file=str(path)),
            fix="create one with --new-key (keep it at the site, never send it with the data)",
        )
    key = path.read_bytes().strip()
    if len(key) < KEY_MIN_BYTES:
        raise InputError(
            f"the key in {path.name} is too short ({len(key)} bytes; at least {KEY_MIN_BYTES})",
            where=Location(file=str(path)),
            fix="create a random key with --new-key",
        )
    return key


def key_fingerprint(key: bytes) -> str:
    """8 hex digits that tell keys apart (sites can check they share a key) without revealing it."""
    return hmac.new(key, b"mmrwe key fingerprint", hashlib.sha256).hexdigest()[:8]


def pseudonym(key: bytes, patient_id: str) -> str:
    """Keyed pseudonym of a patient id: HMAC-SHA256(key, id), first 20 hex digits.

    Examples
    --------
    >>> pseudonym(b"0123456789abcdef", "MM-A-001")
    'c7d3d6cf5e8d2c8eb0ae'
    """
    return hmac.new(key, patient_id.encode("utf-8"), hashlib.sha256).hexdigest()[:ID_HEX_DIGITS]


def date_shift_days(key: bytes, patient_id: str, max_days: int) -> int:
    """Keyed offset in days for a patient, never 0, within ``[-max_days, max_days]``."""
    d = hmac.new(key, _SHIFT_CONTEXT + patient_id.encode("utf-8"), hashlib.sha256).digest()
    v = int.from_bytes(d[:8], "big") % (2 * max_days)
    return v - max_days if v < max_days else v - max_days + 1


def _id_text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    s = str(v).strip()
    return s or None


def looks_identifying(column: str) -> bool:
    """True for column names that usually hold a direct identifier."""
    norm = re.sub(r"[^0-9a-z]+", "_", column.strip().lower()).strip("_")
    return bool(_IDENTIFYING.search(norm))


@dataclass(frozen=True, slots=True)
class Pseudonymized:
    """The pseudonymized table and what was done (the summary holds no identifying data)."""

    frame: pd.DataFrame
    file: str
    rows: int
    id_column: str
    dropped: tuple[str, ...]
    not_present: tuple[str, ...]
    kept_knowingly: tuple[str, ...]
    date_columns: tuple[str, ...]
    shifted_cells: int
    shift_dates: bool
    max_shift_days: int
    key_fingerprint: str

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary of the run."""
        return {
            "file": self.file,
            "rows": self.rows,
            "id_column": self.id_column,
            "id_method": f"HMAC-SHA256(key, id), first {ID_HEX_DIGITS} hex digits",
            "dropped_identifiers": list(self.dropped),
            "identifiers_not_in_file": list(self.not_present),
            "kept_knowingly": list(self.kept_knowingly),
            "date_shift": {
                "applied": self.shift_dates,
                "max_days": self.max_shift_days if self.shift_dates else None,
                "columns": list(self.date_columns),
                "cells": self.shifted_cells,
                "rule": "one keyed offset per patient, never 0; intervals unchanged",
            },
            "key_fingerprint": self.key_fingerprint,
        }


def pseudonymize_table(
    source: SourceTable,
    *,
    key: bytes,
    id_column: str = "patient_id",
    identifiers: Sequence[str] = (),
    keep: Sequence[str] = (),
    shift_dates: bool = False,
    max_shift_days: int = 182,
    date_format: str = "%Y-%m-%d",
    date_columns: Sequence[str] = (),
) -> Pseudonymized:
    """Replace ids by keyed hashes, optionally shift dates, drop direct identifiers.

    Parameters
    ----------
    source : SourceTable
        The site's table as read by :func:`mmrwe.io.read_table` (not modified).
    key : bytes
        The site's secret key (:func:`load_key`).
    id_column : str
        Column whose values are replaced by pseudonyms.
    identifiers : sequence of str
        Columns to drop (absent ones are reported, not an error).
    keep : sequence of str
        Columns whose names look identifying but are kept knowingly.
    shift_dates : bool
        Shift every date of a patient by :func:`date_shift_days`.
    max_shift_days : int
        Largest shift.
    date_format : str
        How text dates are written (``strftime``), to read and rewrite them.
    date_columns : sequence of str
        Columns that must hold dates (the mapped canonical date columns). Every other
        column whose non-empty cells are all dates is shifted too; a column mixing dates
        and other values is refused rather than half-shifted.

    Returns
    -------
    Pseudonymized

    Raises
    ------
    InputError
        Missing id column, an empty id in a non-empty row, an identifying-looking column
        not dealt with, a date that cannot be read or shifted.
    """
    frame = source.frame.copy()
    name = source.path.name
    cols = [str(c) for c in frame.columns]
    if id_column not in cols:
        near = difflib.get_close_matches(id_column, cols, n=1)
        raise SchemaError(
            f"{name} has no id column {id_column!r}",
            where=Location(file=name, column=id_column),
            fix=f"did you mean {near[0]!r}? (--id-column)"
            if near
            else f"columns: {', '.join(cols)}",
        )
    if id_column in identifiers:
        raise InputError(
            f"{id_column!r} is both the id column and a listed identifier",
            where=Location(file=name, column=id_column),
            fix="the id column is replaced by pseudonyms; remove it from identifiers",
        )
    dropped = tuple(c for c in identifiers if c in cols)
    not_present = tuple(c for c in identifiers if c not in cols)
    suspicious = [
        c
        for c in cols
        if c != id_column and c not in identifiers and c not in keep and looks_identifying(c)
    ]
    if suspicious:
        listed = ", ".join(map(repr, suspicious))
        raise InputError(
            f"{name}: column(s) {listed} look like direct identifiers",
            where=Location(file=name, column=suspicious[0]),
            fix="drop them: [pseudonymize] identifiers = [...] (or --drop COL); if they identify nobody, keep them knowingly: keep = [...] (or --keep COL)",
        )
    frame = frame.drop(columns=list(dropped))
    n = len(frame)
    blank = [all(v is None for v in frame.iloc[i].tolist()) for i in range(n)]
    ids: list[str | None] = []
    for i, v in enumerate(frame[id_column].tolist()):
        t = _id_text(v)
        if t is None and not blank[i]:
            raise InputError(
                f"{name}: the id is empty in a non-empty row",
                where=source.location(i, id_column),
                fix="give every patient an id (its dates cannot be shifted or linked without one)",
            )
        ids.append(t)
    pseudo: dict[str, str] = {}
    seen: dict[str, str] = {}
    for t in ids:
        if t is None or t in pseudo:
            continue
        p = pseudonym(key, t)
        if p in seen:  # 80 bits: practically impossible; never let two patients merge
            raise InputError(
                f"{name}: two ids have the same pseudonym",
                fix="report this; use a different key",
            )
        seen[p] = t
        pseudo[t] = p

    date_cols: list[str] = []
    shifted = 0
    if shift_dates:
        for c in frame.columns:
            if c == id_column:
                continue
            kinds = [_date_kind(v, date_format) for v in frame[c].tolist()]
            present = [(i, k) for i, k in enumerate(kinds) if frame[c].iat[i] is not None]
            if not present:
                continue
            bad = [i for i, k in present if k is None]
            if c in date_columns and bad:
                i = bad[0]
                raise InputError(
                    f"{name}: {c} {frame[c].iat[i]!r} is not a date in the format {date_format!r}; it cannot be shifted",
                    where=source.location(i, c, ids[i]),
                    fix="correct the cell, or give the date format (--date-format or the site's date_format)",
                )
            if bad and len(bad) < len(present) and c not in date_columns:
                i = next(i for i, k in present if k is not None)
                raise InputError(
                    f"{name}: column {c!r} mixes dates (e.g. row {source.source_rows[i]}) and other values (e.g. {frame[c].iat[bad[0]]!r} in row {source.source_rows[bad[0]]}); it cannot be shifted safely",
                    where=source.location(bad[0], c, ids[bad[0]]),
                    fix="correct the column, drop it as an identifier, or pseudonymize without --shift-dates",
                )
            if bad:
                continue
            date_cols.append(str(c))
            values = frame[c].tolist()
            for i, k in present:
                pid = ids[i]
                assert pid is not None  # checked above: a non-empty row has an id
                assert k is not None  # present holds date cells only (bad is empty)
                delta = dt.timedelta(days=date_shift_days(key, pid, max_shift_days))
                try:
                    values[i] = _shift(values[i], k, delta, date_format)
                except OverflowError:
                    raise InputError(
                        f"{name}: {c} {frame[c].iat[i]!r} cannot be shifted (outside the calendar)",
                        where=source.location(i, c, pid),
                        fix="correct the date",
                    ) from None
                shifted += 1
            frame[c] = pd.Series(values, index=frame.index, dtype=object)

    frame[id_column] = pd.Series(
        [None if t is None else pseudo[t] for t in ids], index=frame.index, dtype=object
    )
    return Pseudonymized(
        frame=frame,
        file=name,
        rows=n,
        id_column=id_column,
        dropped=dropped,
        not_present=not_present,
        kept_knowingly=tuple(c for c in keep if c in cols),
        date_columns=tuple(date_cols),
        shifted_cells=shifted,
        shift_dates=shift_dates,
        max_shift_days=max_shift_days,
        key_fingerprint=key_fingerprint(key),
    )


def _date_kind(v: Any, fmt: str) -> str | None:
    """'datetime', 'date' or 'text' when the cell holds a date; None otherwise."""
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return "datetime"
    if isinstance(v, dt.date):
        return "date"
    if isinstance(v, str):
        try:
            dt.datetime.strptime(v.strip(), fmt)
            return "text"
        except ValueError:
            return None
    return None


def _shift(v: Any, kind: str, delta: dt.timedelta, fmt: str) -> Any:
    if kind in ("datetime", "date"):
        return v + delta
    d = dt.datetime.strptime(str(v).strip(), fmt) + delta
    return d.strftime(fmt)


# ---------------------------------------------------------------------------------------
# Writing in the input's format
# ---------------------------------------------------------------------------------------


def write_like(
    frame: pd.DataFrame,
    source: SourceTable,
    out: Path,
    *,
    date_format: str = "%Y-%m-%d",
    delimiter: str | None = None,
    encoding: str = "utf-8",
) -> None:
    """Write ``frame`` to ``out`` (atomically) in the format of its extension.

    CSV keeps the input's separator and encoding; date cells of spreadsheets or SPSS
    files written to CSV use ``date_format``. Excel, SPSS and Parquet keep cell types.
    """
    kind = SUPPORTED.get(out.suffix.lower())
    if kind not in ("csv", "excel", "spss", "parquet"):
        raise InputError(
            f"cannot write {out.suffix or 'a file without extension'}",
            where=Location(file=out.name),
            fix="name the output .csv, .xlsx, .sav or .parquet",
        )
    if kind == "csv":
        sep = delimiter or ("\t" if out.suffix.lower() == ".tsv" else ",")
        buf = io.StringIO()
        w = csv.writer(buf, delimiter=sep, lineterminator="\n")
        w.writerow([str(c) for c in frame.columns])
        for row in frame.itertuples(index=False):
            w.writerow([_text(v, date_format) for v in row])
        try:
            data = buf.getvalue().encode(encoding)
        except UnicodeEncodeError as exc:
            raise InputError(
                f"a cell cannot be written in {encoding}: {exc.object[exc.start : exc.end]!r}",
                where=Location(file=out.name),
                fix="write the output as UTF-8 (--encoding utf-8)",
            ) from None
        atomic_write(out, data)
    elif kind == "excel":
        atomic_write(out, _xlsx_bytes(frame, source.sheet or "patients"))
    elif kind == "spss":
        _write_via_temp(out, lambda p: _write_sav(frame, p))
    else:
        _write_via_temp(out, lambda p: _typed(frame).to_parquet(p, index=False))


def _text(v: Any, fmt: str) -> str:
    if v is None:
        return ""
    if isinstance(v, dt.datetime | dt.date):
        return v.strftime(fmt)
    if isinstance(v, float):
        s = repr(v)
        return s[:-2] if s.endswith(".0") else s
    return str(v)


def _xlsx_bytes(frame: pd.DataFrame, sheet: str) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append([str(c) for c in frame.columns])
    for row in frame.itertuples(index=False):
        ws.append(list(row))
    for col in ws.iter_cols(min_row=2):
        for cell in col:
            if isinstance(cell.value, dt.date):
                cell.number_format = "yyyy-mm-dd"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns as numbers, dates or text, as statistical formats need them."""
    out = pd.DataFrame(index=frame.index)
    for c in frame.columns:
        vals = [v for v in frame[c].tolist() if v is not None]
        if vals and all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals):
            out[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64")
        elif vals and all(isinstance(v, dt.date) for v in vals):
            out[c] = pd.Series(
                [v.date() if isinstance(v, dt.datetime) else v for v in frame[c]], dtype=object
            )
        else:
            out[c] = pd.Series([None if v is None else str(v) for v in frame[c]], dtype=object)
    return out


def _write_sav(frame: pd.DataFrame, path: Path) -> None:
    import pyreadstat

    pyreadstat.write_sav(_typed(frame), str(path))


def _write_via_temp(out: Path, write: Any) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=out.suffix, dir=out.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
