"""Pseudonymize a site's patient table before it leaves the site.

* **Ids**: ``HMAC-SHA256(key, id)``, the first 20 hex digits (80 bits). The key stays at
  the site: without it a pseudonym cannot be linked back, with it the site recomputes the
  link (no crosswalk file is needed). Two sites using the same key on the same identifier
  (e.g. a national health number) produce the same pseudonym, which ``mmrwe pool`` flags
  as a duplicate across sites. A key must be random (at least 32 characters, no obvious
  pattern), readable by its owner only (mode 0600) and kept outside the folder that is sent.
* **Dates** (``dates``): ``"keep"`` (default) leaves them; ``"relative"`` writes every date
  as whole days from the patient's index date (``start_date``; contract section 6), so no
  calendar date leaves the site; ``"shift"`` moves every date of a patient by one keyed
  pseudo-random whole number of days in ``[-max_shift_days, -1] U [1, max_shift_days]``
  derived from ``HMAC-SHA256(key, "mmrwe date shift" NUL id)``. Both keep every interval,
  so PFS, OS and every analysis are identical. Neither hides the dates of patients followed
  up to a common data cut-off from someone who knows the cut-off (their shift, or their
  index date, is the difference): that is why birth dates are coarsened.
* **Birth dates** (columns named like ``birth_date``/``dob``, kept with ``keep``) are
  coarsened to ``birth_year`` (default) or ``age_at_index`` in completed years; the exact
  date leaves only with ``birth_dates="keep"``, and the summary then warns why it is risky.
* **Direct identifiers** listed in ``[pseudonymize] identifiers`` are dropped;
  ``keep_only`` turns the command into an allow-list (only the id column and the listed
  columns leave). A column whose name looks identifying (name, birth date, address, phone,
  e-mail, tax, insurance or record number) must be dropped or kept knowingly, and a
  content scan stops on values that look like e-mail addresses, phone numbers, street
  addresses, personal names, id codes, free text or high-cardinality text in any column
  not kept knowingly.

The input file is only read. The output has the input's format (CSV with the same
separator and encoding, Excel, SPSS or Parquet), so the site's ``[[sites]]`` entry reads it
unchanged except for the file name; an existing output is replaced only with ``force``.
Text cells of a CSV output are neutralised against spreadsheet formulas
(:func:`mmrwe.core.safety.neutralize_csv_cell`) and every text cell of an ``.xlsx`` output is
written as a string cell, never as a formula.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import hashlib
import hmac
import io
import math
import os
import re
import secrets
import stat
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from mmrwe.core.errors import InputError, Location, SchemaError
from mmrwe.core.fileio import atomic_write
from mmrwe.core.safety import console_text, neutralize_csv_cell, shown
from mmrwe.io.readers import SUPPORTED, SourceTable

DateMode = Literal["keep", "shift", "relative"]
BirthDateMode = Literal["year", "age", "keep"]

KEY_MIN_BYTES = 32
KEY_MIN_BITS = 96
KEY_MAX_BYTES = 4096
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
_BIRTH_DATE = re.compile(
    r"(^|_)(birth_?date|date_?of_?birth|dob|birthday|data_?(di_)?nascita|nascita)(_|$)"
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
    """Read a key file: its bytes without surrounding whitespace, checked before use.

    Raises
    ------
    InputError
        Missing, not a regular file, too short or visibly not random
        (:func:`key_weakness`), or readable/writable by other users than its owner
        (POSIX mode other than 0600/0400).
    """
    try:
        st = path.stat()
    except OSError:
        st = None
    if st is None or not path.exists():
        raise InputError(
            f"key file not found: {console_text(path, 200, markup=False)}",
            where=Location(file=str(path)),
            fix="create one with --new-key (keep it at the site, never send it with the data)",
        )
    if not stat.S_ISREG(st.st_mode) or st.st_size > KEY_MAX_BYTES:
        raise InputError(
            f"{console_text(path, 200, markup=False)} is not a key file (a key is a small regular file)",
            where=Location(file=str(path)),
            fix="create a key with --new-key",
        )
    key = path.read_bytes().strip()
    if len(key) < KEY_MIN_BYTES:
        raise InputError(
            f"the key in {console_text(path.name, 80, markup=False)} is too short ({len(key)} bytes; at least {KEY_MIN_BYTES})",
            where=Location(file=str(path)),
            fix="create a random key with --new-key",
        )
    weak = key_weakness(key)
    if weak:
        raise InputError(
            f"the key in {console_text(path.name, 80, markup=False)} is not random: {weak}",
            where=Location(file=str(path)),
            fix="create a random key with --new-key (256 random bits); a key anyone can guess lets them re-identify every patient by hashing candidate ids",
        )
    if os.name == "posix" and st.st_mode & 0o077:
        raise InputError(
            f"the key file {console_text(path, 200, markup=False)} can be read or changed by other users (mode {stat.S_IMODE(st.st_mode):04o})",
            where=Location(file=str(path)),
            fix=f"make it private: chmod 600 {console_text(path, 200, markup=False)}",
        )
    return key


def key_weakness(key: bytes) -> str | None:
    """Why ``key`` is visibly not random, or None.

    A screen for obviously weak keys, not a proof of randomness: a key must carry at least
    ``KEY_MIN_BITS`` bits by its character frequencies (length times the Shannon entropy
    of its bytes; a random 32-hex-digit key gives about 115, ``--new-key``'s 64 hex digits
    about 245) and must not repeat a shorter pattern or run through consecutive characters.

    Examples
    --------
    >>> key_weakness(b"a" * 32)
    'it repeats a 1-character pattern'
    >>> key_weakness(b"6b1f3c9a0d2e4f5871a6c3b9d0e2f4a5") is None
    True
    """
    n = len(key)
    for period in range(1, n // 2 + 1):
        if n % period == 0 and key == key[:period] * (n // period):
            return f"it repeats a {period}-character pattern"
    steps = {key[i + 1] - key[i] for i in range(n - 1)}
    if len(steps) == 1:
        return "it runs through consecutive characters"
    counts = Counter(key)
    bits = -sum(c * math.log2(c / n) for c in counts.values())
    if bits < KEY_MIN_BITS:
        return f"about {bits:.0f} bits by its character frequencies (at least {KEY_MIN_BITS})"
    return None


def check_key_location(key_path: Path, out_path: Path) -> None:
    """Refuse a key inside the folder the output goes to (the folder that is sent).

    Raises
    ------
    InputError
        The key file is in the output's folder or below it.
    """
    key = key_path.resolve()
    outgoing = out_path.resolve().parent
    if outgoing == key.parent or outgoing in key.parents:
        raise InputError(
            f"the key file is inside the output's folder {console_text(outgoing, 200, markup=False)}, which is the folder that leaves the site",
            where=Location(file=str(key_path)),
            fix="keep the key outside the outgoing folder (e.g. keys/ next to outgoing/); write the output to a folder of its own",
        )


def key_fingerprint(key: bytes) -> str:
    """8 hex digits that tell keys apart (sites can check they share a key) without revealing it."""
    return hmac.new(key, b"mmrwe key fingerprint", hashlib.sha256).hexdigest()[:8]


def pseudonym(key: bytes, patient_id: str) -> str:
    """Keyed pseudonym of a patient id: HMAC-SHA256(key, id), first 20 hex digits.

    Examples
    --------
    >>> pseudonym(b"0123456789abcdef", "MM-A-001")
    '3aaafba9a977d1b6b6d8'
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


def looks_like_birth_date(column: str) -> bool:
    """True for column names that usually hold a birth date (``birth_date``, ``dob``, ...)."""
    norm = re.sub(r"[^0-9a-z]+", "_", column.strip().lower()).strip("_")
    return bool(_BIRTH_DATE.search(norm))


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
    dates: DateMode = "keep"
    index_column: str | None = None
    allow_list: tuple[str, ...] | None = None
    not_allowed: tuple[str, ...] = ()
    birth_dates: tuple[tuple[str, str, str], ...] = ()  # (source column, output column, mode)
    warnings: tuple[str, ...] = field(default_factory=tuple)

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
            "allow_list": None if self.allow_list is None else list(self.allow_list),
            "dropped_not_in_allow_list": list(self.not_allowed),
            "dates": {
                "mode": self.dates,
                "index_column": self.index_column if self.dates == "relative" else None,
                "columns": list(self.date_columns),
                "cells": self.shifted_cells,
                "rule": {
                    "keep": "dates unchanged",
                    "shift": "one keyed offset per patient, never 0; intervals unchanged",
                    "relative": "whole days from the patient's index date; intervals unchanged",
                }[self.dates],
            },
            "date_shift": {
                "applied": self.shift_dates,
                "max_days": self.max_shift_days if self.shift_dates else None,
                "columns": list(self.date_columns) if self.shift_dates else [],
                "cells": self.shifted_cells if self.shift_dates else 0,
                "rule": "one keyed offset per patient, never 0; intervals unchanged",
            },
            "birth_dates": [
                {"column": c, "output_column": o, "mode": m} for c, o, m in self.birth_dates
            ],
            "warnings": list(self.warnings),
            "key_fingerprint": self.key_fingerprint,
        }


def pseudonymize_table(
    source: SourceTable,
    *,
    key: bytes,
    id_column: str = "patient_id",
    identifiers: Sequence[str] = (),
    keep: Sequence[str] = (),
    keep_only: Sequence[str] | None = None,
    shift_dates: bool = False,
    dates: DateMode | None = None,
    index_column: str = "start_date",
    birth_dates: BirthDateMode = "year",
    max_shift_days: int = 182,
    date_format: str = "%Y-%m-%d",
    date_columns: Sequence[str] = (),
    scan: bool = True,
    marked: Sequence[str] = (),
) -> Pseudonymized:
    """Replace ids by keyed hashes, handle dates, drop identifiers, refuse identifying content.

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
        Columns kept knowingly: a name that looks identifying, or content the scan flags.
    keep_only : sequence of str, optional
        Allow-list: only the id column and these columns leave; every other is dropped
        (listed in the summary). Names not in the file are an error.
    shift_dates : bool
        Same as ``dates="shift"`` (kept for existing specs: ``shift_dates = true``).
    dates : {"keep", "shift", "relative"}, optional
        ``"relative"``: every date becomes whole days from the patient's ``index_column``
        date (contract section 6); ``"shift"``: one keyed offset per patient
        (:func:`date_shift_days`); ``"keep"``: unchanged. Default: ``"shift"`` when
        ``shift_dates`` else ``"keep"``.
    index_column : str
        The index date for ``"relative"`` and for ``age_at_index`` (the mapped ``start_date``).
    birth_dates : {"year", "age", "keep"}
        What a kept birth-date column becomes: ``birth_year``, ``age_at_index`` (completed
        years at the index date) or the exact date (shifted or relative with the other
        dates; the summary warns).
    max_shift_days : int
        Largest shift.
    date_format : str
        How text dates are written (``strftime``), to read and rewrite them.
    date_columns : sequence of str
        Columns that must hold dates (the mapped canonical date columns). Every other
        column whose non-empty cells are all dates is handled too; a column mixing dates
        and other values is refused rather than half-changed.
    scan : bool
        Run the content scan (:func:`scan_content`) on the columns that leave.
    marked : sequence of str
        Columns the source itself marks as identifiers (a REDCap dictionary's
        ``Identifier?``): refused like identifying names, unless dropped or kept knowingly.

    Returns
    -------
    Pseudonymized

    Raises
    ------
    InputError
        Missing id column, an empty id in a non-empty row, an identifying-looking column or
        identifying content not dealt with, a date that cannot be read or changed.
    """
    mode: DateMode = dates if dates is not None else ("shift" if shift_dates else "keep")
    if mode not in ("keep", "shift", "relative"):
        raise InputError(f"unknown date handling {shown(mode)}", fix="use keep, shift or relative")
    if birth_dates not in ("year", "age", "keep"):
        raise InputError(
            f"unknown birth-date handling {shown(birth_dates)}", fix="use year, age or keep"
        )
    original = source.frame
    frame = original.copy()
    name = console_text(source.path.name, 100, markup=False)
    cols = [str(c) for c in frame.columns]
    if id_column not in cols:
        near = difflib.get_close_matches(id_column, cols, n=1)
        raise SchemaError(
            f"{name} has no id column {shown(id_column)}",
            where=Location(file=name, column=id_column),
            fix=f"did you mean {shown(near[0])}? (--id-column)"
            if near
            else f"columns: {', '.join(shown(c, 30) for c in cols[:30])}",
        )
    if id_column in identifiers:
        raise InputError(
            f"{shown(id_column)} is both the id column and a listed identifier",
            where=Location(file=name, column=id_column),
            fix="the id column is replaced by pseudonyms; remove it from identifiers",
        )
    not_allowed: tuple[str, ...] = ()
    if keep_only is not None:
        unknown = [c for c in keep_only if c not in cols]
        if unknown:
            near = difflib.get_close_matches(unknown[0], cols, n=1)
            raise SchemaError(
                f"{name} has no column {shown(unknown[0])} (listed in the allow-list)",
                where=Location(file=name, column=unknown[0]),
                fix=f"did you mean {shown(near[0])}?"
                if near
                else f"columns: {', '.join(shown(c, 30) for c in cols[:30])}",
            )
        allowed = {id_column, *keep_only}
        not_allowed = tuple(c for c in cols if c not in allowed and c not in identifiers)
    dropped = tuple(c for c in identifiers if c in cols)
    not_present = tuple(c for c in identifiers if c not in cols)
    outgoing = [c for c in cols if c not in dropped and c not in not_allowed]
    flagged = set(marked)
    suspicious = [
        c
        for c in outgoing
        if c != id_column and c not in keep and (looks_identifying(c) or c in flagged)
    ]
    if suspicious:
        listed = ", ".join(shown(c, 40) for c in suspicious)
        why = (
            "are marked as identifiers in the REDCap dictionary"
            if all(c in flagged for c in suspicious)
            else "look like direct identifiers"
        )
        raise InputError(
            f"{name}: column(s) {listed} {why}",
            where=Location(file=name, column=suspicious[0]),
            fix="drop them: [pseudonymize] identifiers = [...] (or --drop COL), or send only the columns the study needs (--keep-only COL ...); if they identify nobody, keep them knowingly: keep = [...] (or --keep COL)",
        )
    frame = frame.drop(columns=[*dropped, *not_allowed])
    n = len(frame)
    blank: list[bool] = frame.isna().all(axis=1).tolist() if n else []
    ids: list[str | None] = []
    for i, v in enumerate(frame[id_column].tolist()):
        t = _id_text(v)
        if t is None and not blank[i]:
            raise InputError(
                f"{name}: the id is empty in a non-empty row",
                where=_where(source, i, id_column),
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

    births = [c for c in frame.columns if c != id_column and looks_like_birth_date(str(c))]
    warnings: list[str] = []
    changed = 0
    date_cols: list[str] = []
    kinds_of: dict[str, list[str | None]] = {}
    if mode != "keep" or births:
        for c in frame.columns if mode != "keep" else births:
            if c == id_column:
                continue
            values = frame[c].tolist()
            kinds = _date_kinds(values, date_format)
            present = [i for i, v in enumerate(values) if v is not None]
            if not present:
                continue
            bad = [i for i in present if kinds[i] is None]
            must = c in date_columns or c in births
            if must and bad and (mode != "keep" or c in births):
                i = bad[0]
                raise InputError(
                    f"{name}: {console_text(c, 40, markup=False)} {shown(values[i])} is not a date in the format {date_format!r}; it cannot be {'coarsened' if c in births else 'shifted' if mode == 'shift' else 'made relative'}",
                    where=_where(source, i, str(c), ids[i]),
                    fix="correct the cell, or give the date format (--date-format or the site's date_format)",
                )
            if mode != "keep" and bad and len(bad) < len(present) and not must:
                i = next(i for i in present if kinds[i] is not None)
                raise InputError(
                    f"{name}: column {shown(c, 40)} mixes dates (e.g. row {source.source_rows[i]}) and other values (e.g. {shown(values[bad[0]])} in row {source.source_rows[bad[0]]}); it cannot be shifted safely",
                    where=_where(source, bad[0], str(c), ids[bad[0]]),
                    fix="correct the column, drop it as an identifier, or pseudonymize without date handling (--dates keep)",
                )
            if not bad:
                kinds_of[str(c)] = kinds

    index_dates: list[dt.date | None] = []
    if mode == "relative" or (births and birth_dates == "age"):
        index_dates = _index_dates(source, original, index_column, date_format, ids, blank, name)

    if mode != "keep":
        warnings += _shared_date_warnings(frame, [c for c in kinds_of if c not in births], mode)
        for c in [c for c in frame.columns if str(c) in kinds_of and c not in births]:
            values, k = frame[c].tolist(), kinds_of[str(c)]
            new = _change_dates(values, k, ids, mode, key, max_shift_days, date_format,
                                index_dates, source, str(c), name)  # fmt: skip
            changed += sum(v is not None for v in values)
            frame[c] = pd.Series(new, index=frame.index, dtype=object)
            date_cols.append(str(c))

    birth_summary: list[tuple[str, str, str]] = []
    for c in births:
        values, k = frame[c].tolist(), kinds_of.get(str(c), [None] * n)
        if birth_dates == "keep":
            if mode != "keep":
                new = _change_dates(values, k, ids, mode, key, max_shift_days, date_format,
                                    index_dates, source, str(c), name)  # fmt: skip
                frame[c] = pd.Series(new, index=frame.index, dtype=object)
                changed += sum(v is not None for v in values)
                date_cols.append(str(c))
            how = {"shift": "shifted with the other dates", "relative": "as days from the index date",
                   "keep": "unchanged"}[mode]  # fmt: skip
            warnings.append(
                f"column {console_text(c, 40, markup=False)!r} keeps exact birth dates ({how}). "
                "Patients followed up to a common data cut-off share their last follow-up date, so "
                "anyone who knows the cut-off reads their shift (or index date) off the file and "
                "recovers the exact birth date, which with sex and a place identifies most people. "
                "Coarsen it: --birth-dates year (or age)."
            )
            birth_summary.append((str(c), str(c), birth_dates))
            continue
        dates_of = [_as_date(v, kind, date_format) for v, kind in zip(values, k, strict=True)]
        if birth_dates == "year":
            out_name = _free_name(frame, "birth_year", f"{c}_year", c)
            coarse: list[Any] = [None if d is None else d.year for d in dates_of]
        else:
            # Completed years at the index date, from the true dates (before any change).
            out_name = _free_name(frame, "age_at_index", f"{c}_age_at_index", c)
            coarse = [
                None
                if d is None or x is None
                else x.year - d.year - ((x.month, x.day) < (d.month, d.day))
                for d, x in zip(dates_of, index_dates, strict=True)
            ]
        frame[c] = pd.Series(coarse, index=frame.index, dtype=object)
        frame = frame.rename(columns={c: out_name})
        birth_summary.append((str(c), out_name, birth_dates))
    if scan:
        skip = {id_column, *keep, *date_cols, *(o for _, o, _ in birth_summary)}
        findings = scan_content(frame, [c for c in frame.columns if c not in skip], date_format)
        if findings:
            raise content_error(name, findings)

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
        shifted_cells=changed,
        shift_dates=mode == "shift",
        max_shift_days=max_shift_days,
        key_fingerprint=key_fingerprint(key),
        dates=mode,
        index_column=index_column,
        allow_list=None if keep_only is None else tuple(keep_only),
        not_allowed=not_allowed,
        birth_dates=tuple(birth_summary),
        warnings=tuple(warnings),
    )


def _where(source: SourceTable, i: int, column: str, patient_id: str | None = None) -> Location:
    """A cell's location with the column name and id made safe to print."""
    return source.location(
        i,
        console_text(column, 100, markup=False),
        None if patient_id is None else console_text(patient_id, 60, markup=False),
    )


def _free_name(frame: pd.DataFrame, first: str, second: str, current: Any) -> str:
    """``first`` unless another column already has that name, then ``second``."""
    taken = {str(c) for c in frame.columns if c != current}
    return first if first not in taken else second


def _index_dates(
    source: SourceTable,
    original: pd.DataFrame,
    index_column: str,
    fmt: str,
    ids: list[str | None],
    blank: Any,
    name: str,
) -> list[dt.date | None]:
    """Each row's index date (the mapped start_date), read from the input."""
    if index_column not in original.columns:
        raise SchemaError(
            f"{name} has no index date column {shown(index_column)}; relative dates and ages at index are counted from it",
            where=Location(file=name, column=index_column),
            fix="map start_date under [data.columns] (or the site's [sites.columns]), or name the column with --index-column",
        )
    out: list[dt.date | None] = []
    for i, v in enumerate(original[index_column].tolist()):
        kind = _date_kind(v, fmt)
        if kind is None:
            if blank[i]:
                out.append(None)
                continue
            raise InputError(
                f"{name}: the index date {shown(index_column, 40)} is {'empty' if v is None else shown(v)}; relative dates and ages need it for every patient",
                where=_where(source, i, index_column, ids[i]),
                fix="correct the cell, or give the date format (--date-format or the site's date_format)",
            )
        out.append(_as_date(v, kind, fmt))
    return out


def _as_date(v: Any, kind: str | None, fmt: str) -> dt.date | None:
    if v is None or kind is None:
        return None
    if kind == "datetime":
        return v.date() if isinstance(v, dt.datetime) else v
    if kind == "date":
        return v if isinstance(v, dt.date) else None
    return dt.datetime.strptime(str(v).strip(), fmt).date()


def _change_dates(
    values: list[Any],
    kinds: list[str | None],
    ids: list[str | None],
    mode: DateMode,
    key: bytes,
    max_days: int,
    fmt: str,
    index_dates: list[dt.date | None],
    source: SourceTable,
    column: str,
    name: str,
) -> list[Any]:
    out = list(values)
    for i, v in enumerate(values):
        if v is None:
            continue
        pid, kind = ids[i], kinds[i]
        assert pid is not None
        assert kind is not None
        if mode == "relative":
            d, x = _as_date(v, kind, fmt), index_dates[i]
            assert d is not None
            assert x is not None
            out[i] = (d - x).days
            continue
        delta = dt.timedelta(days=date_shift_days(key, pid, max_days))
        try:
            out[i] = _shift(v, kind, delta, fmt)
        except OverflowError:
            raise InputError(
                f"{name}: {shown(column, 40)} {shown(v)} cannot be shifted (outside the calendar)",
                where=_where(source, i, column, pid),
                fix="correct the date",
            ) from None
    return out


def _shared_date_warnings(frame: pd.DataFrame, columns: list[str], mode: DateMode) -> list[str]:
    """Warn when many patients share one date (a data cut-off): it undoes shifts for them."""
    out = []
    for c in columns:
        vals = [v for v in frame[c].tolist() if v is not None]
        if len(vals) < 2:
            continue
        _top, count = Counter(str(v) for v in vals).most_common(1)[0]
        if count >= 2 and count >= 0.1 * len(vals):
            out.append(
                f"{count} of {len(vals)} patients share one date in column "
                f"{console_text(c, 40, markup=False)!r} (a data cut-off?): anyone who knows that date "
                f"can compute these patients' {'shift' if mode == 'shift' else 'index date'} and so "
                "their calendar dates from the output (intervals are kept so that PFS and OS do not "
                "change). Birth dates are coarsened for this reason; treat the output as "
                "pseudonymized personal data, not anonymous data."
            )
    return out


def _date_kinds(values: list[Any], fmt: str) -> list[str | None]:
    """:func:`_date_kind` of each value, parsing each distinct text once (strptime is slow)."""
    seen: dict[str, str | None] = {}
    out: list[str | None] = []
    for v in values:
        if isinstance(v, str):
            k = seen.get(v, "?")
            if k == "?":
                k = seen[v] = _date_kind(v, fmt)
            out.append(k)
        else:
            out.append(_date_kind(v, fmt))
    return out


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
# Content scan: identifying values in columns whose names do not say so
# ---------------------------------------------------------------------------------------

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# International or trunk-prefixed numbers of 8-15 digits with phone punctuation only.
_PHONE = re.compile(r"(?<![\w.,])(?:\+|00|0)\d(?:[ ()./-]?\d){6,13}(?![\w,])")
_STREET = re.compile(
    r"\b(?:via|viale|piazza|piazzale|corso|largo|vicolo|contrada|localit[aà]|street|road|avenue"
    r"|lane|boulevard|rue|avenida|calle|plaza|stra(?:ss|ß)e|platz|gasse)\b",
    re.IGNORECASE,
)
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?")
_TOKEN_ID = re.compile(r"(?=.*\d)[A-Za-z0-9][A-Za-z0-9/_.-]{3,}")
_NAME_PARTICLES = {"de", "di", "da", "del", "della", "dei", "van", "von", "der", "la", "le", "du"}

#: Distinct values from which a text column counts as high-cardinality (and share of rows).
HIGH_CARDINALITY_MIN = 10
HIGH_CARDINALITY_SHARE = 0.5
#: An id-like column: token values, nearly all distinct.
ID_LIKE_SHARE = 0.9


@dataclass(frozen=True, slots=True)
class ContentFinding:
    """A column whose values look identifying: what kind, and redacted examples."""

    column: str
    kinds: tuple[str, ...]
    examples: tuple[str, ...]


def redact(value: object, max_len: int = 24) -> str:
    """Show the shape of a value, not its content: the first character of each word.

    Examples
    --------
    >>> redact("Ada Rossi, Via Roma 12")
    'A** R****, V** R*** 1*'
    """
    text = console_text(value, max_len, markup=False)
    return re.sub(r"(?<=\w)\w", "*", text)


def _is_name(v: str) -> bool:
    tokens = [t for t in re.split(r"[\s,]+", v) if t]
    if not 2 <= len(tokens) <= 4:
        return False
    proper = 0
    for t in tokens:
        if t.lower() in _NAME_PARTICLES:
            continue
        core = t.replace("'", "").replace("’", "").replace("-", "").rstrip(".")
        if not core.isalpha():
            return False
        if t.istitle() or (t.isupper() and len(core) > 1):
            proper += len(core) > 1
        else:
            return False
    return proper >= 2


def scan_content(
    frame: pd.DataFrame, columns: Sequence[Any], date_format: str = "%Y-%m-%d"
) -> tuple[ContentFinding, ...]:
    """Columns whose values look like they identify people, whatever their names.

    Flags e-mail addresses, phone numbers, street addresses, free text (a sentence, or
    several distinct multi-word values), personal names (several distinct "Name Surname"
    values, most of them different), id-like codes (tokens with digits, nearly all
    distinct) and high-cardinality text (at least 10 distinct text values, one per two
    rows or more). Numbers and dates are not text. A screen, not a guarantee: it catches
    the usual leaks (a comment column, initials, a hospital number) and is paired with the
    allow-list mode (``keep_only``).

    Parameters
    ----------
    frame : pandas.DataFrame
        Cells as :func:`mmrwe.io.read_table` gives them.
    columns : sequence
        Columns to scan (those that leave and are not kept knowingly).
    date_format : str
        How text dates are written, so that they are not taken for text.

    Returns
    -------
    tuple of ContentFinding
    """
    out = []
    for c in columns:
        vals = [v for v in frame[c].tolist() if v is not None]
        kinds, examples = _scan_values(vals, date_format) if vals else ((), ())
        if kinds:
            out.append(ContentFinding(str(c), kinds, tuple(redact(x) for x in examples[:3])))
    return tuple(out)


def _scan_values(vals: list[Any], date_format: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The kinds of identifying values in one column's non-empty cells, and examples.

    Each distinct value is classified once (a categorical column of 100,000 rows has a
    handful); the counts then decide the column-level rules.
    """
    texts: Counter[str] = Counter()  # distinct text -> cells
    ints: Counter[int] = Counter()
    for v, k in Counter(v for v in vals if not isinstance(v, bool)).items():
        if isinstance(v, int):
            ints[v] += k
        elif isinstance(v, str):
            t = v.strip()
            if _NUMBER_TEXT.fullmatch(t) and not _PHONE.fullmatch(t):
                if re.fullmatch(r"[+-]?\d+", t):
                    ints[int(t)] += k
                continue
            if any(ch.isdigit() for ch in t) and (
                _date_kind(t, date_format) is not None or _looks_iso_date(t)
            ):
                continue
            texts[t] += k
    kinds: list[str] = []
    examples: list[str] = []

    def hit(kind: str, found: Sequence[str]) -> None:
        kinds.append(kind)
        examples.extend(x for x in found[:2] if x not in examples)

    def varied(found: Sequence[str]) -> bool:
        # several distinct values, most of them different: not a category repeated
        return len(found) >= 3 and len(found) >= 0.5 * sum(texts[t] for t in found)

    for kind, pattern in (("e-mail addresses", _EMAIL), ("phone numbers", _PHONE)):
        found = [t for t in texts if pattern.search(t)]
        if found:
            hit(kind, found)
    found = [t for t in texts if _STREET.search(t) and re.search(r"\d", t)]
    if found:
        hit("street addresses", found)
    sentences = [t for t in texts if len(t.split()) >= 8 or (len(t) >= 60 and " " in t)]
    multi = [t for t in texts if len(t.split()) >= 4]
    if sentences or varied(multi):
        hit("free text", sentences or multi)
    names = [t for t in texts if _is_name(t)]
    if varied(names):
        hit("personal names", names)
    tokens = [t for t in texts if _TOKEN_ID.fullmatch(t)]
    big_ints = [str(x) for x in ints if abs(x) >= 100_000]
    for found_ids in (tokens, big_ints):
        if len(found_ids) >= HIGH_CARDINALITY_MIN and len(found_ids) >= ID_LIKE_SHARE * len(vals):
            hit("id-like codes", found_ids)
            break
    n_text = sum(texts.values())
    if (
        not kinds
        and len(texts) >= HIGH_CARDINALITY_MIN
        and len(texts) >= HIGH_CARDINALITY_SHARE * n_text
    ):
        hit("high-cardinality text", sorted(texts))
    return tuple(kinds), tuple(examples)


def _looks_iso_date(t: str) -> bool:
    try:
        dt.date.fromisoformat(t[:10])
        return len(t) == 10 or t[10] in "T "
    except ValueError:
        return False


def content_error(file: str, findings: Sequence[ContentFinding]) -> InputError:
    """One error naming every flagged column, its kinds and redacted examples."""
    parts = [
        f"{shown(f.column, 40)} ({', '.join(f.kinds)}; e.g. {', '.join(map(repr, f.examples))})"
        for f in findings
    ]
    cols = " ".join(console_text(f.column, 40, markup=False) for f in findings)
    return InputError(
        f"{file}: column(s) hold values that look identifying: {'; '.join(parts)}",
        where=Location(file=file, column=findings[0].column),
        fix=(
            f"drop them (--drop COL, or [pseudonymize] identifiers), or send only the columns the "
            f"study needs (--keep-only COL ...); a column that identifies nobody is kept "
            f"knowingly with --keep (e.g. --keep {cols.split()[0]})"
        ),
    )


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
    neutralize: bool = True,
) -> None:
    """Write ``frame`` to ``out`` (atomically) in the format of its extension.

    CSV keeps the input's separator and encoding; date cells of spreadsheets or SPSS
    files written to CSV use ``date_format``. Excel, SPSS and Parquet keep cell types.

    Parameters
    ----------
    neutralize : bool
        CSV only: text cells (and headers) that a spreadsheet would run as a formula get a
        leading single quote (:func:`mmrwe.core.safety.neutralize_csv_cell`). ``False`` for
        files read only by programs. In ``.xlsx`` every text cell is a string cell, always.
    """
    kind = SUPPORTED.get(out.suffix.lower())
    if kind not in ("csv", "excel", "spss", "parquet"):
        raise InputError(
            f"cannot write {shown(out.suffix) if out.suffix else 'a file without extension'}",
            where=Location(file=out.name),
            fix="name the output .csv, .xlsx, .sav or .parquet",
        )
    if kind == "csv":
        sep = delimiter or ("\t" if out.suffix.lower() == ".tsv" else ",")
        buf = io.StringIO()
        w = csv.writer(buf, delimiter=sep, lineterminator="\n")
        w.writerow([neutralize_csv_cell(str(c), enabled=neutralize) for c in frame.columns])
        for row in frame.itertuples(index=False):
            w.writerow(
                [
                    neutralize_csv_cell(v, enabled=neutralize)
                    if isinstance(v, str)
                    else _text(v, date_format)
                    for v in row
                ]
            )
        try:
            data = buf.getvalue().encode(encoding)
        except UnicodeEncodeError as exc:
            raise InputError(
                f"a cell cannot be written in {encoding}: {shown(exc.object[exc.start : exc.end])}",
                where=Location(file=out.name),
                fix="write the output as UTF-8 (--encoding utf-8)",
            ) from None
        atomic_write(out, data)
    elif kind == "excel":
        atomic_write(out, xlsx_bytes(frame, source.sheet or "patients", file=out.name))
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


def xlsx_bytes(frame: pd.DataFrame, sheet: str, *, file: str = "") -> bytes:
    """An .xlsx of ``frame`` in which every text cell is a string cell, never a formula.

    openpyxl turns any text starting with ``=`` into a live formula (a site cell
    ``=HYPERLINK("http://...", "Center B")`` would become a link in the coordinator's
    Excel); each text cell's type is set to string explicitly. Use this for every .xlsx
    mmrwe writes.

    Raises
    ------
    InputError
        A text cell holds a control character that the .xlsx format cannot store.
    """
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils.exceptions import IllegalCharacterError

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet(sheet)

    def cell(v: Any, row: int, column: str) -> Any:
        try:
            c = WriteOnlyCell(ws, value=v)
        except IllegalCharacterError:
            raise InputError(
                f"a cell of column {shown(column, 40)} holds a control character that an .xlsx file cannot store",
                where=Location(
                    file=file or None, row=row, column=console_text(column, 100, markup=False)
                ),
                fix="remove the character from the source, or write the output as .csv",
            ) from None
        if isinstance(v, str):
            c.data_type = "s"
        elif isinstance(v, dt.date):
            c.number_format = "yyyy-mm-dd"
        return c

    header = [str(c) for c in frame.columns]
    ws.append([cell(h, 1, h) for h in header])
    for r, row in enumerate(frame.itertuples(index=False), start=2):
        ws.append([cell(v, r, header[j]) for j, v in enumerate(row)])
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
    from mmrwe.core.fileio import atomic_write_with

    # 0600 as mkstemp made it: the pseudonymized file is released on purpose, not by default
    atomic_write_with(out, write, mode=0o600, suffix=out.suffix)
