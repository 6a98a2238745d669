"""Pool site exports into one canonical patient table; flag patients seen at two sites.

Each site file is read and validated on its own (its own column names, date format, decimal
mark, units), then the typed site tables are merged. The CLI (``mmrwe pool``) wires the
stages, with :func:`mmrwe.validate.validate_patients` between steps 1 and 2:

1. :func:`prepare_site_source`: raw cells made ready for the validator. The center column
   is filled from ``[[sites]] center``; a cell naming another center is a conflict (an
   error, never overwritten). Declared recodes are applied, Excel serial dates converted
   (only when the site declares ``excel_serial_dates = true``), and columns the site
   declares ``absent`` are added empty.
2. :func:`convert_units`: per-site units to the spec's unit, with exact rational factors
   (132 g/L becomes exactly the double nearest 13.2 g/dL, as if 13.2 had been typed).
3. :func:`merge_sites`: one table with a ``center`` column. Conflicts are errors: a column
   that some sites have and another lacks (unless declared ``absent``), a column numeric at
   one site and text at another, a value outside a variable's declared ``levels``.
4. :func:`find_duplicates` and :func:`resolve_duplicates`: cross-site duplicates.

Duplicate rule (documented here, in ``mmrwe pool --help`` and in pooling.json)
-------------------------------------------------------------------------------
Two rows from different site files are flagged as the same patient when

* ``same_key``: they carry the same ``patient_id`` (e.g. the same pseudonymous key made
  with a shared key from the same national identifier), or
* ``same_person_dates``: same ``sex``, same birth year (``birth_year`` column; without it,
  ``age`` within 1 year; without both, not used), same ``start_date``, and
  ``progression_date`` and ``death_date`` equal wherever both rows have them.

A flagged pair stops the run until the user decides, under ``[[pooling.duplicates]]``
(``rows = ["Center A/A-017", "Center B/B-203"]``, ``same_patient = true | false``). For a
confirmed pair (or a chain of them) exactly one row is kept, whole (cells are never mixed
between rows): the row named by ``keep`` if given, else by ``[pooling] keep``:

* ``"longest_followup"`` (default): the latest ``last_followup_date``; on a tie, the site
  listed first in ``[[sites]]``; then the lower row number.
* ``"first_site"``: the site listed first in ``[[sites]]``; then the lower row number.

The other rows are excluded with a reason naming the kept row, so every input row stays
accounted for. ``same_patient = false`` keeps both rows (not possible for ``same_key``
pairs: ids must be unique; give the sites an ``id_prefix``).

Pooling issue codes (stable; a spec may accept one under ``[validation.accept]``)
-------------------------------------------------------------------------------
========  ========  ==================================================================
MMP000    error     a site file cannot be read (the reader's message, per file)
MMP001    error     two site files have the same content
MMP002    error     a center cell differs from the site's declared ``center``/``centers``
MMP003    error     a column has different types at different sites
MMP004    error     a column is in some site files but not in another (not declared absent)
MMP005    error     a value is not one of the variable's declared ``levels``
MMP006    error     a flagged cross-site duplicate pair has no decision yet
MMP007    error     a patient_id is used by two pooled rows that cannot be told apart
MMP009    error     a ``[[pooling.duplicates]]`` decision names no flagged pair
MMP010    error     decisions on one patient keep different rows
MMP011    error     a site file has no center column and its entry names no center
MMP012    error     a recode names a column the file does not have
MMP013    error     a column declared ``absent`` is in the file
MMP014    warning   an undeclared categorical is coded with disjoint values at one site
MMP015    error     a date is after today
MMV018    error     (pooling only) a column mixes numbers and text at one site
========  ========  ==================================================================

Row-level errors (MMP002, MMP005, MMP015, and the validator's row errors) exclude the
row with its reason instead when ``[validation] exclude_invalid_rows = true``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from mmrwe.core.errors import Issue, Location
from mmrwe.io.readers import SourceTable
from mmrwe.spec.model import SiteSpec, StudySpec

DATE_COLUMNS = ("start_date", "progression_date", "death_date", "last_followup_date")
PROVENANCE = ("_src_row", "_src_file", "_site")
# Excel's 1900 date system counts from 1899-12-30 (it keeps Lotus' 29 Feb 1900), so serial
# 1 is 1900-01-01 only for serials >= 61; the 1904 system (old Mac files) from 1904-01-01.
EXCEL_EPOCH_1900 = dt.date(1899, 12, 30)
_MAX_SERIAL = 2_958_465  # 9999-12-31
_SERIAL_TEXT = re.compile(r"^\d{1,7}(\.\d+)?$")


# ---------------------------------------------------------------------------------------
# 1. Raw cells of one site
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PreparedSite:
    """One site's raw table, ready for the validator, and what preparing it found."""

    source: SourceTable
    issues: tuple[Issue, ...]
    notes: tuple[str, ...]
    conflict_rows: frozenset[int]  # frame rows with a center conflict


def site_study_spec(spec: StudySpec, site: SiteSpec) -> StudySpec:
    """The spec as one site's file must be validated: its reading options and units.

    Reading options the site leaves out come from ``[data]``; ``columns``, when given,
    replaces ``[data.columns]``. ``[[cohort.exclude]]`` is applied after pooling (ids
    belong to one site), so it is left out here.
    """
    d = spec.data
    data = replace(
        d,
        patients=site.file,
        columns=site.columns if site.columns is not None else d.columns,
        date_format=site.date_format or d.date_format,
        sheet=site.sheet if site.sheet is not None else d.sheet,
        delimiter=site.delimiter if site.delimiter is not None else d.delimiter,
        decimal=site.decimal or d.decimal,
        encoding=site.encoding or d.encoding,
        missing_values=site.missing_values if site.missing_values is not None else d.missing_values,
    )
    site_units = dict(site.units)
    variables = tuple(
        replace(v, unit=site_units[v.name]) if v.name in site_units else v for v in spec.variables
    )
    return replace(spec, data=data, variables=variables, exclusions=())


def cell(frame: pd.DataFrame, i: Any, column: str) -> Any:
    """One cell by row position (typed ``Any``: cells hold str, float, date or None)."""
    return frame[column].iloc[int(i)]


def _cell_text(v: Any) -> str | None:
    """A cell as the text a user would type: 17.0 read from Excel is '17'."""
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    s = str(v).strip()
    return s or None


def excel_epoch(source: SourceTable) -> dt.date:
    """Day 0 of the workbook's date system (1900 unless the workbook says 1904)."""
    if source.kind != "excel":
        return EXCEL_EPOCH_1900
    import openpyxl

    wb = openpyxl.load_workbook(source.path, read_only=True)
    try:
        epoch = wb.epoch
    finally:
        wb.close()
    return epoch.date() if isinstance(epoch, dt.datetime) else EXCEL_EPOCH_1900


def prepare_site_source(
    source: SourceTable, site: SiteSpec, spec: StudySpec, *, site_key: str = "sites"
) -> PreparedSite:
    """Fill the center, apply recodes and declared conversions; never overwrite a conflict.

    Parameters
    ----------
    source : SourceTable
        The site file as read by :func:`mmrwe.io.read_table`.
    site : SiteSpec
        Its ``[[sites]]`` entry.
    spec : StudySpec
        The site's study spec (:func:`site_study_spec`): column map and date format.
    site_key : str
        Spec key of the entry, for error locations (``"sites[1]"``).

    Returns
    -------
    PreparedSite
        A new SourceTable (the input object and file are untouched), issues and notes.
    """
    frame = source.frame.copy()
    colmap = spec.data.column_map
    issues: list[Issue] = []
    notes: list[str] = []
    conflicts: set[int] = set()
    name = source.path.name
    n = len(frame)
    nonblank = np.array(
        [any(v is not None for v in frame.iloc[i].tolist()) for i in range(n)], dtype=bool
    )
    pid_col = colmap.get("patient_id", "patient_id")

    def pid(i: int) -> str | None:
        return _cell_text(cell(frame, i, pid_col)) if pid_col in frame.columns else None

    # Center.
    center_col = colmap.get("center", "center")
    has_center = center_col in frame.columns
    if site.center is not None:
        if has_center:
            for i in np.flatnonzero(nonblank):
                v = _cell_text(cell(frame, i, center_col))
                if v is not None and v != site.center:
                    conflicts.add(int(i))
                    issues.append(Issue("MMP002", "error",
                        f"center {v!r} in the file differs from the site's declared center {site.center!r}",
                        source.location(int(i), center_col, pid(int(i))),
                        f"correct the cell, or move the row to its own site file (declared under {site_key}.center)"))  # fmt: skip
            filled = int(
                sum(1 for i in np.flatnonzero(nonblank) if cell(frame, i, center_col) is None)
            )
            if filled:
                notes.append(f"{name}: {filled} empty center cell(s) filled with {site.center!r}")
        elif "center" not in colmap:
            center_col = "center"
        frame[center_col] = [site.center if k else None for k in nonblank]
    elif not has_center:
        issues.append(Issue("MMP011", "error", f"{name} has no center column and its [[sites]] entry names no center",
                            Location(file=name, column="center", spec_key=f"{site_key}.center"),
                            f'add center = "<center name>" to the [[sites]] entry of {name}, or a center column to the file'))  # fmt: skip
    elif site.centers:
        allowed = set(site.centers)
        for i in np.flatnonzero(nonblank):
            v = _cell_text(cell(frame, i, center_col))
            if v is not None and v not in allowed:
                conflicts.add(int(i))
                issues.append(Issue("MMP002", "error",
                    f"center {v!r} is not one of the centers declared for this file ({', '.join(site.centers)})",
                    source.location(int(i), center_col, pid(int(i))),
                    f"correct the cell, or add the center to {site_key}.centers"))  # fmt: skip

    # Recodes (per variable: cell text -> value), before validation so levels are checked.
    for var, mapping in site.recode:
        col = colmap.get(var, var)
        if col not in frame.columns:
            issues.append(Issue("MMP012", "error", f"recode names column {var!r}, which {name} does not have",
                                Location(file=name, column=col, spec_key=f"{site_key}.recode.{var}"),
                                "correct the variable name, or remove the recode"))  # fmt: skip
            continue
        table = dict(mapping)
        texts = [_cell_text(v) for v in frame[col].tolist()]
        hits = sum(1 for t in texts if t is not None and t in table)
        frame[col] = [
            table[t] if t is not None and t in table else v
            for t, v in zip(texts, frame[col].tolist(), strict=True)
        ]
        notes.append(
            f"{name}: {hits} cell(s) of {var!r} recoded ({', '.join(f'{k}->{v}' for k, v in mapping)})"
        )

    # Columns the site does not collect.
    for var in site.absent:
        col = colmap.get(var, var)
        if col in frame.columns:
            issues.append(Issue("MMP013", "error", f"{var!r} is declared absent at this site, but {name} has the column {col!r}",
                                Location(file=name, column=col, spec_key=f"{site_key}.absent"),
                                f"remove {var!r} from {site_key}.absent"))  # fmt: skip
            continue
        frame[col] = None
        notes.append(f"{name}: {var!r} is not collected at this site (declared absent)")

    # Excel serial dates, only where the site says its date columns hold them.
    if site.excel_serial_dates:
        epoch = excel_epoch(source)
        date_cols = [*DATE_COLUMNS, *(v.name for v in spec.variables if v.type == "date")]
        converted = 0
        for var in date_cols:
            col = colmap.get(var, var)
            if col not in frame.columns:
                continue
            vals = frame[col].tolist()
            for j, v in enumerate(vals):
                serial = _serial(v)
                if serial is not None:
                    vals[j] = epoch + dt.timedelta(days=serial)
                    converted += 1
            frame[col] = pd.Series(vals, dtype=object)
        if converted:
            notes.append(
                f"{name}: {converted} Excel serial date(s) converted (day 0 = {epoch.isoformat()})"
            )

    new = replace(source, frame=frame, notes=tuple(source.notes) + tuple(notes))
    return PreparedSite(new, tuple(issues), tuple(notes), frozenset(conflicts))


def _serial(v: Any) -> int | None:
    """An Excel serial day number from a number cell or digit text; None otherwise."""
    if isinstance(v, bool) or v is None:
        return None
    numeric = isinstance(v, int | float)
    if not (numeric or (isinstance(v, str) and _SERIAL_TEXT.match(v.strip()))):
        return None
    x = float(v)
    if not (1 <= x <= _MAX_SERIAL):
        return None
    return int(x)  # a fraction is the time of day


# ---------------------------------------------------------------------------------------
# 2. Units
# ---------------------------------------------------------------------------------------


def exact_ratio(factor_from: float, factor_to: float) -> Fraction:
    """The conversion factor between two units as an exact fraction.

    The factors of :mod:`mmrwe.validate.units` are short decimals or their reciprocals
    (0.1, 1/88.4, 1/0.6206, 1000); their small-denominator fractions are exact, so a
    converted value is rounded once, like a typed decimal.
    """
    a = Fraction(factor_from).limit_denominator(1_000_000)
    b = Fraction(factor_to).limit_denominator(1_000_000)
    ratio = a / b
    want = factor_from / factor_to
    if abs(float(ratio) - want) > 1e-12 * abs(want):  # not a short decimal: keep the float
        ratio = Fraction(want)
    return ratio


def convert_units(values: pd.Series, ratio: Fraction) -> pd.Series:
    """Multiply numbers by ``ratio``, each result rounded once (missing stays missing).

    A value is taken as the shortest decimal that reads back as the same double (what
    the user typed), so 132 g/L x 1/10 gives the double nearest 13.2, not 13.200000000000001.
    """
    out = [
        np.nan if (v is None or not np.isfinite(v)) else float(Fraction(repr(float(v))) * ratio)
        for v in values.tolist()
    ]
    return pd.Series(out, index=values.index, dtype="float64")


# ---------------------------------------------------------------------------------------
# 3. Merge
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SiteTable:
    """One site's validated rows, ready to pool.

    Attributes
    ----------
    label : str
        The site as shown to the user (its declared center, else its file name).
    file : str
        File name (for locations).
    order : int
        Position in ``[[sites]]`` (or on the command line): the ``first_site`` rule.
    frame : pandas.DataFrame
        Typed canonical rows with ``_src_row`` (from the validator).
    column_types : dict
        Validator's type per column.
    absent : tuple of str
        Columns the site declares it does not collect.
    """

    label: str
    file: str
    order: int
    frame: pd.DataFrame
    column_types: dict[str, str]
    absent: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Merged:
    """The merged table (provenance columns ``_src_row``, ``_src_file``, ``_site``)."""

    frame: pd.DataFrame
    column_types: dict[str, str]
    issues: tuple[Issue, ...]
    row_errors: frozenset[tuple[int, int]]  # (site order, source row) with a pooling error
    levels_by_site: dict[str, dict[str, list[str]]] = field(default_factory=dict)


def merge_sites(sites: Sequence[SiteTable], spec: StudySpec) -> Merged:
    """Merge typed site tables into one; report every conflict instead of resolving it.

    Parameters
    ----------
    sites : sequence of SiteTable
        Validated site tables, in ``[[sites]]`` order.
    spec : StudySpec
        The study spec: declared types and levels.

    Returns
    -------
    Merged
        Rows in site order (sorted later), the common column types and the issues.
    """
    issues: list[Issue] = []
    row_errors: set[tuple[int, int]] = set()
    declared = {v.name: v for v in spec.variables}
    # Contract order first (patient_id, center, the four dates), then covariates as met.
    columns: list[str] = []
    for s in sites:
        for c in s.frame.columns:
            if c not in columns and c not in PROVENANCE:
                columns.append(c)
    head = [c for c in ("patient_id", "center", *DATE_COLUMNS) if c in columns]
    columns = head + [c for c in columns if c not in head]

    # Columns some sites lack.
    for c in columns:
        lacking = [s for s in sites if c not in s.frame.columns]
        if lacking:
            having = [s.label for s in sites if c in s.frame.columns]
            for s in lacking:
                issues.append(Issue("MMP004", "error",
                    f"column {c!r} is in {', '.join(having)} but not in {s.file}",
                    Location(file=s.file, column=c),
                    f"add the column to {s.file}, map it under its [[sites]] columns, or declare absent = [\"{c}\"] for this site"))  # fmt: skip

    # Types must agree (a site where the column is empty in every row has no say).
    types: dict[str, str] = {}
    for c in columns:
        seen: dict[str, list[str]] = {}
        for s in sites:
            if c not in s.frame.columns or c in s.absent or s.frame[c].isna().all():
                continue
            seen.setdefault(s.column_types.get(c, "categorical"), []).append(s.label)
        if len(seen) > 1:
            detail = "; ".join(f"{t} at {', '.join(labels)}" for t, labels in sorted(seen.items()))
            issues.append(Issue("MMP003", "error", f"column {c!r} has different types across sites: {detail}",
                                Location(column=c),
                                f'fix the cells that make it differ (see the sites\' MMV013/MMV018 issues), or declare [variables.{c}] type = "..."'))  # fmt: skip
        v = declared.get(c)
        types[c] = (
            v.type
            if v is not None and v.type is not None
            else next(iter(seen), None) or _first_type(sites, c)
        )

    # Concatenate column by column (one array per column, then one cast: faster than
    # pandas.concat on object blocks, and every site's missing cells become one kind).
    sizes = [len(s.frame) for s in sites]
    data: dict[str, Any] = {}
    for c in columns:
        data[c] = _concat_column(sites, sizes, c, types.get(c, "categorical"))
    frame = pd.DataFrame(data)
    frame["_src_row"] = np.concatenate(
        [s.frame["_src_row"].to_numpy(dtype="int64") for s in sites] or [np.array([], "int64")]
    )
    frame["_src_file"] = np.repeat(np.array([s.file for s in sites], dtype=object), sizes)
    frame["_site"] = np.repeat(np.array([s.order for s in sites], dtype="int64"), sizes)

    # Dates after today cannot have been observed (a typo such as 2042 or 9999 would
    # otherwise extend follow-up silently).
    today = np.datetime64(dt.date.today(), "ns")
    for c in columns:
        if types.get(c) != "date":
            continue
        x = frame[c].to_numpy(dtype="datetime64[ns]")
        for i in np.flatnonzero(~np.isnat(x) & (x > today)):
            k = int(cell(frame, i, "_site"))
            row = int(cell(frame, i, "_src_row"))
            row_errors.add((k, row))
            issues.append(Issue("MMP015", "error",
                f"{c} {pd.Timestamp(x[i]).date().isoformat()} is after today ({dt.date.today().isoformat()})",
                Location(file=files_by_order(sites)[k], row=row, column=c, patient_id=str(cell(frame, i, "patient_id"))),
                "correct the date (a typo in the year?); dates must have been observed"))  # fmt: skip

    # Declared levels: a value outside them is a coding conflict (e.g. "female" vs "F").
    levels_by_site: dict[str, dict[str, list[str]]] = {}
    files = {s.order: s.file for s in sites}
    labels = {s.order: s.label for s in sites}
    site_of = frame["_site"].to_numpy()
    for c in columns:
        if types.get(c) != "categorical" or c in ("patient_id",):
            continue
        # built as object: pandas 3 would map None to NaN in a str column
        lab = pd.Series([_cell_text(x) for x in frame[c].tolist()], index=frame.index, dtype=object)
        seen_levels: dict[int, set[str]] = {k: set() for k in labels}
        for k, x in zip(site_of.tolist(), lab.tolist(), strict=True):
            if x is not None:
                seen_levels[k].add(x)
        levels_by_site[c] = {labels[k]: sorted(v) for k, v in seen_levels.items()}
        v = declared.get(c)
        if v is None or not v.levels:
            continue
        allowed = set(v.levels)
        bad = lab.notna() & ~lab.isin(allowed)
        for bi in map(int, np.flatnonzero(bad.to_numpy())):
            k = int(cell(frame, bi, "_site"))
            row = int(cell(frame, bi, "_src_row"))
            row_errors.add((k, row))
            issues.append(Issue("MMP005", "error",
                f"{c} {lab.iat[bi]!r} is not one of the declared levels ({', '.join(v.levels)})",
                Location(file=files[k], row=row, column=c, patient_id=str(cell(frame, bi, "patient_id"))),
                f'correct the cell, or map this site\'s coding with recode.{c} = {{ "{lab.iat[bi]}" = "<level>" }} in its [[sites]] entry'))  # fmt: skip

    # Undeclared categories coded in disjoint ways at different sites (e.g. 0/1 vs no/yes).
    for c, per_site in levels_by_site.items():
        v = declared.get(c)
        if c == "center" or (v is not None and v.levels):
            continue
        filled = {k: set(x) for k, x in per_site.items() if x}
        if len(filled) < 2:
            continue
        for name, own in filled.items():
            others = set().union(*(x for j, x in filled.items() if j != name))
            if own.isdisjoint(others):
                issues.append(Issue("MMP014", "warning",
                    f"{c}: {name} uses the values {', '.join(sorted(own))}, which no other site uses ({', '.join(sorted(others))})",
                    Location(column=c),
                    f"if these are the same categories written differently, add a recode for {c} to that site; declare [variables.{c}] levels to make this an error"))  # fmt: skip
    return Merged(frame, types, tuple(issues), frozenset(row_errors), levels_by_site)


def files_by_order(sites: Sequence[SiteTable]) -> dict[int, str]:
    """File name of each site, by its order."""
    return {s.order: s.file for s in sites}


def _first_type(sites: Sequence[SiteTable], c: str) -> str:
    for s in sites:
        if c in s.column_types:
            return s.column_types[c]
    return "categorical"


def _concat_column(sites: Sequence[SiteTable], sizes: list[int], c: str, kind: str) -> pd.Series:
    """One pooled column of type ``kind`` from the sites' columns (absent: missing)."""
    fast = {"date": "datetime64[ns]", "numeric": "float64"}.get(kind)
    if fast is not None:
        try:
            fill = np.datetime64("NaT", "ns") if kind == "date" else np.nan
            arrays = [
                s.frame[c].to_numpy(dtype=fast) if c in s.frame.columns else np.full(k, fill, fast)
                for s, k in zip(sites, sizes, strict=True)
            ]
            return pd.Series(np.concatenate(arrays) if arrays else np.array([], fast))
        except (TypeError, ValueError):
            pass  # a site typed the column differently (reported as MMP003): coerce below
    arrays = [
        s.frame[c].to_numpy(dtype=object) if c in s.frame.columns else np.full(k, None, object)
        for s, k in zip(sites, sizes, strict=True)
    ]
    col = pd.Series(np.concatenate(arrays) if arrays else np.array([], object), dtype=object)
    return _as_type(col, kind)


def _as_type(col: pd.Series, kind: str) -> pd.Series:
    if kind == "date":
        return pd.to_datetime(col, errors="coerce").astype("datetime64[ns]")
    if kind == "numeric":
        return pd.to_numeric(col, errors="coerce").astype("float64")
    # v != v is NaN or NaT: the missing markers of numeric and date columns.
    vals = [None if v is None or v != v else v for v in col.tolist()]
    return pd.Series(vals, index=col.index, dtype=object)


def _missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------------------------------
# 4. Duplicates across sites
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DuplicatePair:
    """Two rows from different site files that look like the same patient.

    Attributes
    ----------
    refs : tuple of str
        ``"center/patient_id"`` of both rows (how ``[[pooling.duplicates]]`` names them).
    index : tuple of int
        Row positions in the merged frame.
    reasons : tuple of str
        ``"same_key"`` and/or ``"same_person_dates"``.
    criteria : str
        What matched, in words.
    rows : tuple of dict
        Both rows in full (canonical columns plus file and row), for review.
    differences : tuple of str
        Columns whose values differ between the two rows.
    """

    refs: tuple[str, str]
    index: tuple[int, int]
    reasons: tuple[str, ...]
    criteria: str
    rows: tuple[dict[str, Any], dict[str, Any]]
    differences: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready review entry."""
        return {
            "rows": list(self.refs),
            "reasons": list(self.reasons),
            "criteria": self.criteria,
            "differences": list(self.differences),
            "records": [dict(r) for r in self.rows],
        }


def row_ref(frame: pd.DataFrame, i: int) -> str:
    """How a pooled row is named in ``[[pooling.duplicates]]``: ``center/patient_id``."""
    center = cell(frame, i, "center") if "center" in frame.columns else None
    return f"{'' if _missing(center) else center}/{cell(frame, i, 'patient_id')}"


def _json_cell(v: Any) -> Any:
    if _missing(v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, np.generic):
        return v.item()
    return v


def _record(frame: pd.DataFrame, i: int) -> dict[str, Any]:
    rec = {c: _json_cell(cell(frame, i, c)) for c in frame.columns if c not in PROVENANCE}
    rec["file"] = cell(frame, i, "_src_file")
    rec["row"] = int(cell(frame, i, "_src_row"))
    return rec


def find_duplicates(frame: pd.DataFrame) -> tuple[DuplicatePair, ...]:
    """Flag rows of different site files that look like the same patient (module rule)."""
    n = len(frame)
    if n == 0:
        return ()
    site = frame["_site"].to_numpy()
    found: dict[tuple[int, int], list[str]] = {}

    # same_key: equal patient_id at different sites.
    def pairs_within(groups: dict[Any, list[int]]) -> list[tuple[int, int]]:
        return [
            (x, y)
            for rows in groups.values()
            if len(rows) > 1
            for x, y in combinations(rows, 2)
            if site[x] != site[y]
        ]

    by_id: dict[Any, list[int]] = {}
    for i, pid in enumerate(frame["patient_id"].astype(str).tolist()):
        by_id.setdefault(pid, []).append(i)
    for key in pairs_within(by_id):
        found.setdefault(key, []).append("same_key")

    # same_person_dates: group on start date (and sex), then the date/birth-year test.
    criteria = ["start_date"]
    if "sex" in frame.columns:
        criteria.insert(0, "sex")
    start = frame["start_date"].to_numpy(dtype="datetime64[D]").astype("int64")
    has = ~np.isnat(frame["start_date"].to_numpy(dtype="datetime64[D]"))
    sex = (
        [None if _missing(v) else str(v).strip().lower() for v in frame["sex"].tolist()]
        if "sex" in frame.columns
        else [""] * n
    )
    groups: dict[Any, list[int]] = {}
    for i in range(n):
        if has[i] and sex[i] is not None:
            groups.setdefault((sex[i], int(start[i])), []).append(i)
    cand = pairs_within(groups)
    a = np.array([x for x, _ in cand], dtype=int)
    b = np.array([y for _, y in cand], dtype=int)
    ok = site[a] != site[b]
    for c in ("progression_date", "death_date"):
        if c in frame.columns:
            x = frame[c].to_numpy()
            xa, xb = x[a], x[b]
            ok &= pd.isna(xa) | pd.isna(xb) | (xa == xb)
    birth = "birth year"
    if "birth_year" in frame.columns:
        by = pd.to_numeric(frame["birth_year"], errors="coerce").to_numpy(dtype=float)
        ok &= by[a] == by[b]
    elif "age" in frame.columns:
        age = pd.to_numeric(frame["age"], errors="coerce").to_numpy(dtype=float)
        ok &= np.abs(age[a] - age[b]) <= 1
        birth = "age within 1 year"
    else:
        birth = "no birth year or age column"
    for ia, ib in zip(a[ok].tolist(), b[ok].tolist(), strict=True):
        found.setdefault((int(ia), int(ib)), []).append("same_person_dates")

    text = {
        "same_key": "same patient_id",
        "same_person_dates": f"same {' + '.join(criteria)}, {birth}, progression and death dates equal where both known",
    }
    out = []
    for (first, second), reasons in sorted(found.items()):
        ra_i, rb_i = (second, first) if site[first] > site[second] else (first, second)
        ra, rb = _record(frame, ra_i), _record(frame, rb_i)
        diff = tuple(c for c in frame.columns if c not in PROVENANCE and ra.get(c) != rb.get(c))
        out.append(
            DuplicatePair(
                refs=(row_ref(frame, ra_i), row_ref(frame, rb_i)),
                index=(ra_i, rb_i),
                reasons=tuple(reasons),
                criteria="; ".join(text[r] for r in reasons),
                rows=(ra, rb),
                differences=diff,
            )
        )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Dropped:
    """A pooled row not analysed, and why (becomes an exclusion)."""

    reason: str
    patient_id: str | None
    file: str
    row: int
    site: int


@dataclass(frozen=True, slots=True)
class Resolution:
    """Outcome of the duplicate decisions."""

    frame: pd.DataFrame
    dropped: tuple[Dropped, ...]
    issues: tuple[Issue, ...]
    decisions: tuple[str, ...]  # per flagged pair: "unconfirmed" | "same_patient" | "different"


def resolve_duplicates(
    frame: pd.DataFrame, pairs: Sequence[DuplicatePair], spec: StudySpec
) -> Resolution:
    """Apply the user's ``[[pooling.duplicates]]`` decisions and the keep rule.

    An undecided pair is an error (``MMP006``); a decision that names no flagged pair is an
    error (``MMP009``). See the module docstring for the rule.
    """
    pooling = spec.pooling
    issues: list[Issue] = []
    refs = [row_ref(frame, i) for i in range(len(frame))]
    by_ref: dict[str, list[int]] = {}
    for i, r in enumerate(refs):
        by_ref.setdefault(r, []).append(i)
    decided = {frozenset(d.rows): (k, d) for k, d in enumerate(pooling.duplicates)}
    used: set[int] = set()
    parent = list(range(len(frame)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    statuses = []
    keep_override: dict[int, tuple[int, int]] = {}  # row -> (decision k, row to keep)
    for p in pairs:
        x, y = p.index
        where = Location(
            file=p.rows[1]["file"], row=p.rows[1]["row"], patient_id=str(p.rows[1]["patient_id"])
        )
        hit = decided.get(frozenset(p.refs))
        if p.refs[0] == p.refs[1] or any(len(by_ref[r]) > 1 for r in p.refs):
            issues.append(Issue("MMP007", "error",
                f"rows {p.refs[0]} ({p.rows[0]['file']} row {p.rows[0]['row']}) and {p.refs[1]} ({p.rows[1]['file']} row {p.rows[1]['row']}) cannot be told apart by center/patient_id",
                where, "give the sites an id_prefix in their [[sites]] entries so every row has its own name"))  # fmt: skip
            statuses.append("unconfirmed")
            continue
        if hit is None:
            issues.append(Issue("MMP006", "error",
                f"{p.refs[0]} ({p.rows[0]['file']} row {p.rows[0]['row']}) and {p.refs[1]} ({p.rows[1]['file']} row {p.rows[1]['row']}) look like the same patient: {p.criteria}",
                where,
                f'review both rows in pooling.json, then add [[pooling.duplicates]] rows = ["{p.refs[0]}", "{p.refs[1]}"] with same_patient = true (one row is kept by [pooling] keep) or false'))  # fmt: skip
            statuses.append("unconfirmed")
            continue
        k, d = hit
        used.add(k)
        if not d.same_patient:
            if "same_key" in p.reasons:
                issues.append(Issue("MMP007", "error",
                    f"{p.refs[0]} and {p.refs[1]} are declared different patients but share the patient_id {cell(frame, x, 'patient_id')!r}",
                    Location(file=str(spec.path), spec_key=f"pooling.duplicates[{k}]"),
                    "patient ids must be unique across sites: give the sites an id_prefix"))  # fmt: skip
            statuses.append("different")
            continue
        statuses.append("same_patient")
        parent[find(x)] = find(y)
        if d.keep is not None:
            target = p.index[p.refs.index(d.keep)]
            keep_override[x] = (k, target)
            keep_override[y] = (k, target)
    for k, d in enumerate(pooling.duplicates):
        if k not in used:
            issues.append(Issue("MMP009", "error",
                f"[[pooling.duplicates]] names rows {d.rows[0]} and {d.rows[1]}, which are not a flagged pair",
                Location(file=str(spec.path), spec_key=f"pooling.duplicates[{k}]"),
                "copy the rows of a pair from pooling.json; remove decisions for pairs no longer flagged"))  # fmt: skip

    groups: dict[int, list[int]] = {}
    for i in range(len(frame)):
        groups.setdefault(find(i), []).append(i)
    lfu = (
        frame["last_followup_date"].to_numpy(dtype="datetime64[D]")
        if "last_followup_date" in frame.columns
        else np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[D]")
    )
    site = frame["_site"].to_numpy()
    src_row = frame["_src_row"].to_numpy()
    drop: dict[int, str] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        targets = {keep_override[m][1] for m in members if m in keep_override}
        if len(targets) > 1:
            issues.append(Issue("MMP010", "error",
                f"the decisions on {', '.join(refs[m] for m in members)} keep different rows ({', '.join(refs[t] for t in sorted(targets))})",
                Location(file=str(spec.path), spec_key="pooling.duplicates"),
                "name the same row in keep for every pair of this patient"))  # fmt: skip
            continue
        if targets:
            kept = targets.pop()
            rule = "keep named in [[pooling.duplicates]]"
        elif pooling.keep == "first_site":
            kept = min(members, key=lambda m: (site[m], src_row[m]))
            rule = "rule first_site"
        else:
            # Latest last follow-up first; NaT (cannot happen after validation) sorts last.
            kept = min(
                members,
                key=lambda m: (
                    -(lfu[m].astype("int64")) if not np.isnat(lfu[m]) else np.iinfo(np.int64).max,
                    site[m],
                    src_row[m],
                ),
            )
            rule = "rule longest_followup"
        for m in members:
            if m != kept:
                drop[m] = (
                    f"duplicate of {refs[kept]} ({cell(frame, kept, '_src_file')} row {int(src_row[kept])}): "
                    f"same patient confirmed in [[pooling.duplicates]]; kept by {rule}"
                )
    dropped = tuple(
        Dropped(
            reason,
            str(cell(frame, m, "patient_id")),
            str(cell(frame, m, "_src_file")),
            int(src_row[m]),
            int(site[m]),
        )
        for m, reason in sorted(drop.items())
    )
    keep_mask = np.ones(len(frame), dtype=bool)
    keep_mask[list(drop)] = False
    kept_frame = frame[keep_mask].reset_index(drop=True)
    return Resolution(kept_frame, dropped, tuple(issues), tuple(statuses))


def sort_pooled(frame: pd.DataFrame) -> pd.DataFrame:
    """Order pooled rows as the sites are listed in ``[[sites]]``, then by source row.

    The order never depends on the command line or on patient ids: floating-point sums
    (Cox, log-rank) depend on row order in their last bits, so a pseudonymized export
    (new ids, shifted dates) pools to bit-identical results.
    """
    order = np.lexsort((frame["_src_row"].to_numpy(), frame["_site"].to_numpy()))
    return frame.iloc[order].reset_index(drop=True)


def check_unique_ids(frame: pd.DataFrame) -> tuple[Issue, ...]:
    """Patient ids must be unique in the pooled table (contract section 2)."""
    ids = frame["patient_id"].astype(str)
    dup = ids[ids.duplicated(keep=False)]
    out = []
    for pid in sorted(set(dup)):
        where = frame.index[ids == pid].tolist()
        places = ", ".join(
            f"{cell(frame, i, '_src_file')} row {int(cell(frame, i, '_src_row'))}" for i in where
        )
        out.append(Issue("MMP007", "error", f"patient_id {pid!r} is used by more than one pooled row ({places})",
                         Location(patient_id=pid),
                         "confirm the rows as the same patient under [[pooling.duplicates]], or give the sites an id_prefix"))  # fmt: skip
    return tuple(out)


def canonical_csv(
    frame: pd.DataFrame, column_types: dict[str, str], *, neutralize: bool = True
) -> str:
    """The pooled canonical table as CSV text: ISO dates, numbers at full precision.

    Numbers are written as the shortest text that reads back as the same double, so
    analysing this file with ``mmrwe analyze`` gives the pooled results exactly.
    Categorical text that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``,
    tab, carriage return first) gets a leading single quote (OWASP CSV injection;
    :func:`mmrwe.core.safety.neutralize_csv_cell`); ``neutralize=False`` writes it as it is,
    for pipelines that only a program reads.
    """
    from mmrwe.core.safety import neutralize_csv_cell

    cols = [c for c in frame.columns if c not in PROVENANCE]
    out = pd.DataFrame(index=frame.index)
    for c in cols:
        kind = column_types.get(c, "categorical")
        if kind == "date":
            out[c] = [None if pd.isna(v) else pd.Timestamp(v).date().isoformat() for v in frame[c]]
        elif kind == "numeric":
            out[c] = [None if pd.isna(v) else _num_text(float(v)) for v in frame[c]]
        else:
            out[c] = [
                None if _missing(v) else neutralize_csv_cell(str(v), enabled=neutralize)
                for v in frame[c]
            ]
    out.columns = [neutralize_csv_cell(str(c), enabled=neutralize) for c in out.columns]
    return str(out.to_csv(index=False, lineterminator="\n"))


def _num_text(x: float) -> str:
    s = repr(x)
    return s[:-2] if s.endswith(".0") else s
