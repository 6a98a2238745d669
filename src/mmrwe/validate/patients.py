"""Validate a raw patient table and turn it into the typed canonical table.

Every rule runs on every row; all issues are collected, each with file, row, column,
patient id and a fix. Nothing here modifies the input: the typed table is a new frame.

Issue codes (stable; a spec may accept one knowingly under ``[validation.accept]``):

========  =========  ===========================================================
code      severity   rule
========  =========  ===========================================================
MMV001    error      required column missing, or a mapped source column not found
MMV002    error      duplicate patient_id
MMV003    error      patient_id empty
MMV004    error      date cannot be read with the declared date_format
MMV005    error      start_date or last_followup_date empty
MMV006    error      a date before start_date
MMV007    error      progression_date after last_followup_date
MMV008    error      death_date differs from last_followup_date
MMV009    error      progression_date after death_date
MMV010    error      value implausible for the declared unit
MMV011    warning    value unusual for the declared unit
MMV012    error      unknown best_response category
MMV013    error      text in a numeric column
MMV014    error      the spec names a column the table does not have
MMV015    warning    a column is empty in every row
MMV016    warning    a center's median is implausible for the declared unit
MMV017    warning    no center column
MMV018    warning    column mixes numbers and text; treated as categorical
MMV019    error      [[cohort.exclude]] names a patient_id not in the table
MMV020    warning    the spec declares a unit the validator has no range for
========  =========  ===========================================================
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from mmrwe.core.errors import Issue, Location
from mmrwe.io.readers import SourceTable
from mmrwe.spec.model import RESPONSE_CATEGORIES, StudySpec
from mmrwe.validate.units import analyte_of, known_units, likely_unit, unit_range

REQUIRED = ("patient_id", "start_date", "progression_date", "death_date", "last_followup_date")
DATE_COLUMNS = ("start_date", "progression_date", "death_date", "last_followup_date")
_RESPONSE_LOOKUP = {c.lower(): c for c in RESPONSE_CATEGORIES}


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A source row that is not analysed, and why."""

    reason: str
    patient_id: str | None = None
    file: str | None = None
    row: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (contract: ``patient_id``, ``reason``; plus file and row)."""
        return {
            "patient_id": self.patient_id,
            "reason": self.reason,
            "file": self.file,
            "row": self.row,
        }


@dataclass(frozen=True, slots=True)
class ValidatedTable:
    """The typed canonical patient table and everything the validator found.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per analysed patient: ``patient_id`` (str), ``center`` (str or None), the
        four dates (``datetime64``), covariates (float64 or object str), and ``_src_row``.
    column_types : dict
        ``"date"``, ``"numeric"`` or ``"categorical"`` per column.
    issues : tuple of Issue
        Every finding, errors and warnings.
    exclusions : tuple of Exclusion
        Source rows not analysed, with reasons.
    n_input_rows : int
        Rows read from the file.
    """

    frame: pd.DataFrame
    column_types: dict[str, str]
    issues: tuple[Issue, ...]
    exclusions: tuple[Exclusion, ...]
    n_input_rows: int
    source: SourceTable
    units: dict[str, str] = field(default_factory=dict)

    @property
    def errors(self) -> tuple[Issue, ...]:
        """Issues that stop the run."""
        return tuple(i for i in self.issues if i.severity == "error")

    @property
    def warnings(self) -> tuple[Issue, ...]:
        """Issues listed in the report; the run goes on."""
        return tuple(i for i in self.issues if i.severity != "error")


class _Collector:
    def __init__(self, source: SourceTable):
        self.source = source
        self.issues: list[Issue] = []
        self.row_errors: dict[int, list[Issue]] = defaultdict(list)

    def add(
        self,
        code: str,
        severity: str,
        what: str,
        fix: str,
        *,
        i: int | None = None,
        column: str | None = None,
        pid: str | None = None,
        spec_key: str | None = None,
    ) -> None:
        if i is not None:
            where = self.source.location(i, column, pid)
        else:
            where = Location(
                file=self.source.path.name,
                sheet=self.source.sheet,
                column=column,
                spec_key=spec_key,
            )
        issue = Issue(code, severity, what, where, fix)
        self.issues.append(issue)
        if i is not None and severity == "error":
            self.row_errors[i].append(issue)


def validate_patients(source: SourceTable, spec: StudySpec) -> ValidatedTable:
    """Run every patient-table rule and build the typed canonical table.

    Parameters
    ----------
    source : SourceTable
        The raw table from :func:`mmrwe.io.read_table`.
    spec : StudySpec
        Column mapping, date format, units, and the names the analyses will use.

    Returns
    -------
    ValidatedTable
        Typed table plus all issues. The caller decides whether errors stop the run
        (they do, unless ``[validation] exclude_invalid_rows = true``).
    """
    col = _Collector(source)
    raw = source.frame
    colmap = spec.data.column_map

    # 1. Column mapping onto canonical names.
    rename: dict[str, str] = {}
    for canonical, src in colmap.items():
        if src not in raw.columns:
            near = difflib.get_close_matches(src, list(raw.columns), n=1)
            col.add(
                "MMV001", "error",
                f"column {src!r} (mapped to {canonical!r} in [data.columns]) is not in the table",
                f"did you mean {near[0]!r}?" if near else f"columns present: {', '.join(map(str, raw.columns))}",
                spec_key=f"data.columns.{canonical}",
            )  # fmt: skip
        else:
            rename[src] = canonical
    clash = [c for c in rename.values() if c in raw.columns and c not in rename]
    for c in clash:
        col.add("MMV001", "error", f"column {c!r} exists and another column is also mapped to {c!r}",
                f"remove the mapping for {c!r} or rename the existing column", column=c, spec_key=f"data.columns.{c}")  # fmt: skip
    table = raw.rename(columns=rename)
    for req in REQUIRED:
        if req not in table.columns:
            near = difflib.get_close_matches(req, list(table.columns), n=1)
            fix = (f'map it under [data.columns]: {req} = "{near[0]}"' if near
                   else f'add the column, or map the source column under [data.columns]: {req} = "<source name>"')  # fmt: skip
            col.add("MMV001", "error", f"required column {req!r} is missing", fix, column=req)
    if "center" not in table.columns:
        col.add("MMV017", "warning", "the table has no 'center' column; per-center summaries are skipped",
                'add a center column, or map one under [data.columns]: center = "<source name>"', column="center")  # fmt: skip
    if any(i.code == "MMV001" for i in col.issues):
        # Without the key columns no row-level rule can run meaningfully.
        return ValidatedTable(pd.DataFrame(), {}, tuple(col.issues), (), source.n_rows, source)

    n = len(table)
    empty = np.array([all(v is None for v in table.iloc[i].tolist()) for i in range(n)], dtype=bool)
    exclusions: list[Exclusion] = [
        Exclusion("empty row", None, source.path.name, source.source_rows[i])
        for i in np.flatnonzero(empty)
    ]
    keep = ~empty

    # 2. Patient ids.
    pids: list[str | None] = [_id_text(v) for v in table["patient_id"].tolist()]
    first_row: dict[str, int] = {}
    for i in range(n):
        if not keep[i]:
            continue
        pid = pids[i]
        if pid is None:
            col.add(
                "MMV003",
                "error",
                "patient_id is empty",
                "give every row a unique patient id",
                i=i,
                column="patient_id",
            )
            continue
        if pid in first_row:
            col.add("MMV002", "error", f"patient_id {pid!r} appears again (first at row {source.source_rows[first_row[pid]]})",
                    "remove the duplicate row, or give each patient a unique id (across all centers)", i=i, column="patient_id", pid=pid)  # fmt: skip
        else:
            first_row[pid] = i

    # 3. Types: dates, numbers, categories.
    declared = {v.name: v for v in spec.variables}
    column_types: dict[str, str] = {}
    typed: dict[str, Any] = {"patient_id": pids}
    for c in table.columns:
        if c == "patient_id":
            continue
        values = table[c].tolist()
        vspec = declared.get(c)
        if c in DATE_COLUMNS or (vspec is not None and vspec.type == "date"):
            typed[c] = _parse_dates(values, c, spec.data.date_format, pids, keep, col)
            column_types[c] = "date"
        elif c == "center":
            typed[c] = [_id_text(v) for v in values]
            column_types[c] = "categorical"
        else:
            kind, parsed = _parse_covariate(
                values,
                c,
                vspec.type if vspec else None,
                spec.data.decimal,
                pids,
                keep,
                col,
                has_unit=bool(vspec and vspec.unit),
            )
            typed[c] = parsed
            column_types[c] = kind
        if all(v is None for v, k in zip(values, keep, strict=True) if k) and keep.any():
            col.add(
                "MMV015",
                "warning",
                f"column {c!r} is empty in every row",
                "fill it or remove it from the table",
                column=c,
            )

    # 4. Date order.
    _check_dates(typed, pids, keep, col)

    # 5. Units and plausible ranges.
    units: dict[str, str] = {}
    for name, vspec in declared.items():
        if vspec.unit is None or name not in typed or column_types.get(name) != "numeric":
            continue
        units[name] = vspec.unit
        _check_unit(
            name,
            vspec.unit,
            vspec.analyte or analyte_of(name, vspec.label),
            typed[name],
            typed.get("center"),
            pids,
            keep,
            col,
        )

    # 6. Response categories.
    if "best_response" in typed and column_types.get("best_response") == "categorical":
        fixed = []
        for i, v in enumerate(typed["best_response"]):
            if v is None or not keep[i]:
                fixed.append(v)
                continue
            canon = _RESPONSE_LOOKUP.get(str(v).strip().lower())
            if canon is None:
                near = difflib.get_close_matches(str(v), list(RESPONSE_CATEGORIES), n=1)
                col.add("MMV012", "error", f"best_response {v!r} is not an IMWG category",
                        (f"did you mean {near[0]!r}? " if near else "") + f"use one of {', '.join(RESPONSE_CATEGORIES)}",
                        i=i, column="best_response", pid=pids[i])  # fmt: skip
            fixed.append(canon if canon is not None else v)
        typed["best_response"] = fixed

    # 7. Names the spec uses must exist.
    _check_spec_names(spec, set(typed) | {d.name for d in spec.derive}, col)

    # 8. Exclusions declared by the study team.
    idx_by_pid = {p: i for i, p in enumerate(pids) if p is not None and keep[i]}
    for k, ex in enumerate(spec.exclusions):
        if ex.patient_id not in idx_by_pid:
            col.add("MMV019", "error", f"[[cohort.exclude]] names patient_id {ex.patient_id!r}, which is not in the table",
                    "check the id (ids are compared as text)", spec_key=f"cohort.exclude[{k}].patient_id")  # fmt: skip
            continue
        i = idx_by_pid[ex.patient_id]
        keep[i] = False
        exclusions.append(
            Exclusion(ex.reason, ex.patient_id, source.path.name, source.source_rows[i])
        )

    # 9. Accepted issues and invalid-row exclusion.
    accepted = dict(spec.validation.accept)
    issues = [
        replace(i, severity="accepted", fix=f"accepted in the spec: {accepted[i.code]}")
        if i.code in accepted and i.severity != "info"
        else i
        for i in col.issues
    ]
    if spec.validation.exclude_invalid_rows:
        for i, row_issues in sorted(col.row_errors.items()):
            live = [x for x in row_issues if x.code not in accepted]
            if live and keep[i]:
                keep[i] = False
                exclusions.append(
                    Exclusion(
                        "invalid: " + "; ".join(f"[{x.code}] {x.what}" for x in live),
                        pids[i],
                        source.path.name,
                        source.source_rows[i],
                    )
                )
        issues = [
            replace(x, severity="excluded")
            if x.severity == "error" and x.where.row is not None
            else x
            for x in issues
        ]

    frame = _build_frame(typed, column_types, keep, source)
    return ValidatedTable(
        frame, column_types, tuple(issues), tuple(exclusions), source.n_rows, source, units
    )


def _id_text(v: Any) -> str | None:
    """Identifiers as text: 17.0 read from Excel is '17', not '17.0'."""
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    s = str(v).strip()
    return s or None


_DATE_HINTS = (("%Y-%m-%d", "ISO year-month-day"), ("%d/%m/%Y", "day/month/year"), ("%m/%d/%Y", "month/day/year"),
               ("%d.%m.%Y", "day.month.year"), ("%d-%m-%Y", "day-month-year"))  # fmt: skip


def _parse_dates(
    values: list[Any],
    column: str,
    fmt: str,
    pids: list[str | None],
    keep: np.ndarray,
    col: _Collector,
) -> list[dt.date | None]:
    out: list[dt.date | None] = []
    for i, v in enumerate(values):
        if v is None or not keep[i]:
            out.append(None)
            continue
        if isinstance(v, dt.datetime):
            out.append(v.date())
            continue
        if isinstance(v, dt.date):
            out.append(v)
            continue
        if isinstance(v, int | float):
            col.add("MMV004", "error", f"{column} holds the number {v!r}, not a date",
                    "in Excel, format the column as a date (a number like 44197 is an Excel serial date); in text files write the date as " + _fmt_example(fmt),
                    i=i, column=column, pid=pids[i])  # fmt: skip
            out.append(None)
            continue
        s = str(v).strip()
        try:
            out.append(dt.datetime.strptime(s, fmt).date())
            continue
        except ValueError:
            pass
        # Never guess: say which other format would read it, and let the user declare it.
        readable = [label for f, label in _DATE_HINTS if f != fmt and _strptime_ok(s, f)]
        hint = (
            f"; it reads as {readable[0]}: if the whole file uses that, set date_format under [data]"
            if readable
            else ""
        )
        col.add("MMV004", "error", f"{column} {s!r} is not a date in the declared format {fmt!r}",
                f"write it as {_fmt_example(fmt)}{hint}", i=i, column=column, pid=pids[i])  # fmt: skip
        out.append(None)
    # The typed table stores datetime64[ns], which cannot hold years before 1678 or after
    # 2261: such a date (e.g. 9999-12-31) would silently become missing.
    for i, d in enumerate(out):
        if d is not None and not (_DATE_MIN <= d <= _DATE_MAX):
            col.add("MMV004", "error", f"{column} {d.isoformat()} is outside the dates mmrwe handles ({_DATE_MIN.isoformat()} to {_DATE_MAX.isoformat()})",
                    "correct the year (a typo, or a placeholder such as 9999-12-31 for 'unknown': leave the cell empty instead)",
                    i=i, column=column, pid=pids[i])  # fmt: skip
            out[i] = None
    return out


_DATE_MIN, _DATE_MAX = dt.date(1677, 9, 22), dt.date(2262, 4, 11)  # pandas Timestamp limits


def _strptime_ok(s: str, f: str) -> bool:
    try:
        dt.datetime.strptime(s, f)
        return True
    except ValueError:
        return False


def _fmt_example(fmt: str) -> str:
    return dt.date(2021, 3, 28).strftime(fmt) + f" ({fmt})"


_NUM = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _to_number(v: Any, decimal: str) -> float | None:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        s = v.strip()
        if decimal == ",":
            if "." in s and "," in s:
                return None  # thousands separators are ambiguous: refuse rather than guess
            s = s.replace(",", ".")
        if _NUM.match(s):
            return float(s)
    return None


def _parse_covariate(
    values: list[Any],
    column: str,
    declared: str | None,
    decimal: str,
    pids: list[str | None],
    keep: np.ndarray,
    col: _Collector,
    *,
    has_unit: bool,
) -> tuple[str, list[Any]]:
    present = [(i, v) for i, v in enumerate(values) if v is not None and keep[i]]
    nums = {i: _to_number(v, decimal) for i, v in present}
    bad = [i for i, x in nums.items() if x is None or not np.isfinite(x)]
    numeric_wanted = declared == "numeric" or (declared is None and has_unit)
    if declared == "categorical" or (not numeric_wanted and bad and len(bad) == len(present)):
        return "categorical", [None if v is None else _category_text(v) for v in values]
    if bad and not numeric_wanted:
        # Mostly numbers with some text: likely a typo or a decimal-comma slip; treat as
        # categorical but say so, with the cells, rather than dropping values silently.
        cells = ", ".join(f"row {col.source.source_rows[i]} {values[i]!r}" for i in bad[:5])
        if len(bad) <= len(present) / 2:
            col.add("MMV018", "warning", f"column {column!r} holds numbers and {len(bad)} text value(s) ({cells}); treated as categorical",
                    f'fix the text cells, or declare [variables.{column}] type = "numeric" to have them reported as errors', column=column)  # fmt: skip
        return "categorical", [None if v is None else _category_text(v) for v in values]
    for i in bad:
        hint = (
            " (the decimal mark is ',' here: set decimal = \",\" under [data])"
            if isinstance(values[i], str) and "," in values[i] and decimal == "."
            else ""
        )
        col.add(
            "MMV013",
            "error",
            f"{column} {values[i]!r} is not a number{hint}",
            "write a number, or leave the cell empty if unknown",
            i=i,
            column=column,
            pid=pids[i],
        )
    return "numeric", [
        None if (v is None or nums.get(i) is None) else nums[i] for i, v in enumerate(values)
    ]


def _category_text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    return str(v).strip()


def _check_dates(
    typed: dict[str, Any], pids: list[str | None], keep: np.ndarray, col: _Collector
) -> None:
    start, prog, death, lfu = (typed[c] for c in DATE_COLUMNS)
    bad_cells = {(x.where.row, x.where.column) for x in col.issues if x.code == "MMV004"}
    for i in range(len(pids)):
        if not keep[i]:
            continue
        row = col.source.source_rows[i]
        pid = pids[i]
        for c, v in (("start_date", start[i]), ("last_followup_date", lfu[i])):
            if v is None and (row, c) not in bad_cells:
                col.add(
                    "MMV005",
                    "error",
                    f"{c} is empty",
                    "every patient needs a start date and a last follow-up date",
                    i=i,
                    column=c,
                    pid=pid,
                )
        s = start[i]
        if s is not None:
            for c, v in (
                ("progression_date", prog[i]),
                ("death_date", death[i]),
                ("last_followup_date", lfu[i]),
            ):
                if v is not None and v < s:
                    col.add("MMV006", "error", f"{c} {v.isoformat()} is before start_date {s.isoformat()}",
                            "correct the source; if this center writes day/month/year, declare date_format under [data]", i=i, column=c, pid=pid)  # fmt: skip
        f = lfu[i]
        if f is not None and prog[i] is not None and prog[i] > f:
            col.add("MMV007", "error", f"progression_date {prog[i].isoformat()} is after last_followup_date {f.isoformat()}",
                    "last_followup_date must be the last date the patient was known alive and assessed, on or after every other date", i=i, column="progression_date", pid=pid)  # fmt: skip
        if death[i] is not None and f is not None and death[i] != f:
            col.add("MMV008", "error", f"death_date {death[i].isoformat()} differs from last_followup_date {f.isoformat()}",
                    "for a patient who died, last_followup_date must equal death_date", i=i, column="last_followup_date", pid=pid)  # fmt: skip
        if death[i] is not None and prog[i] is not None and prog[i] > death[i]:
            col.add("MMV009", "error", f"progression_date {prog[i].isoformat()} is after death_date {death[i].isoformat()}",
                    "progression cannot follow death; check both dates", i=i, column="progression_date", pid=pid)  # fmt: skip


def _check_unit(
    name: str,
    unit: str,
    analyte: str | None,
    values: list[Any],
    centers: list[Any] | None,
    pids: list[str | None],
    keep: np.ndarray,
    col: _Collector,
) -> None:
    if analyte is None:
        return
    rng = unit_range(analyte, unit)
    if rng is None:
        col.add("MMV020", "warning", f"no plausible range is known for {analyte} in {unit!r}; values of {name!r} are not range-checked",
                f"known units for {analyte}: {', '.join(known_units(analyte)) or 'none'}", column=name, spec_key=f"variables.{name}.unit")  # fmt: skip
        return
    lo, hi = rng.reject
    wlo, whi = rng.warn or rng.reject
    for i, v in enumerate(values):
        if v is None or not keep[i]:
            continue
        if v < lo or v > hi:
            other = likely_unit(analyte, v, unit)
            fix = (f"the value looks like {other}: convert it to {unit}, or set [variables.{name}] unit = \"{other}\" if the whole column is in {other}"
                   if other else f"plausible {analyte} in {unit} lies within {lo:g}-{hi:g}; correct the value")  # fmt: skip
            col.add(
                "MMV010",
                "error",
                f"{name} = {v:g} is implausible for {analyte} in {unit}",
                fix,
                i=i,
                column=name,
                pid=pids[i],
            )
        elif v < wlo or v > whi:
            col.add("MMV011", "warning", f"{name} = {v:g} is unusual for {analyte} in {unit} (usual {wlo:g}-{whi:g})",
                    "check the value against the source record", i=i, column=name, pid=pids[i])  # fmt: skip
    if centers is None:
        return
    by_center: dict[str, list[float]] = defaultdict(list)
    for i, (v, c) in enumerate(zip(values, centers, strict=True)):
        if v is not None and c is not None and keep[i]:
            by_center[c].append(v)
    for c, vals in sorted(by_center.items()):
        med = float(np.median(vals))
        if len(vals) >= 3 and not (wlo <= med <= whi):
            other = likely_unit(analyte, med, unit)
            col.add("MMV016", "warning", f"center {c}: median {name} {med:g} is implausible for {analyte} in {unit}",
                    f"this center may export {other}; check its unit" if other else "check this center's unit", column=name)  # fmt: skip


def _spec_names(spec: StudySpec) -> Iterable[tuple[str, str]]:
    for v in spec.variables:
        yield v.name, f"variables.{v.name}"
    for k, d in enumerate(spec.derive):
        yield d.from_, f"derive[{k}].from"
    for k, p in enumerate(spec.proportions):
        yield p.variable, f"proportion[{k}].variable"
    for k, c in enumerate(spec.compare_proportions):
        yield c.by, f"compare_proportion[{k}].by"
    for k, lr in enumerate(spec.logrank):
        yield lr.by, f"logrank[{k}].by"
        if lr.strata:
            yield lr.strata, f"logrank[{k}].strata"
    for k, cx in enumerate(spec.cox):
        for t in cx.terms:
            yield t, f"cox[{k}].terms"
        for t, _ in cx.reference:
            yield t, f"cox[{k}].reference.{t}"
        if cx.strata:
            yield cx.strata, f"cox[{k}].strata"
        if cx.cluster:
            yield cx.cluster, f"cox[{k}].cluster"
    for k, cp in enumerate(spec.cutpoints):
        yield cp.variable, f"cutpoint[{k}].variable"
    for t in spec.table1.variables:
        yield t, "table1.variables"
    if spec.table1.by:
        yield spec.table1.by, "table1.by"


def _check_spec_names(spec: StudySpec, available: set[str], col: _Collector) -> None:
    derived_from_labs = (
        {
            "best_response",
            "prior_lines",
            "tcr",
            "penta_refractory",
            "refractory_classes",
            "measurable_by",
        }
        if spec.response.source == "labs"
        else set()
    )
    seen: set[tuple[str, str]] = set()
    for name, key in _spec_names(spec):
        if name in available or name in derived_from_labs or (name, key) in seen:
            continue
        seen.add((name, key))
        near = difflib.get_close_matches(name, sorted(available), n=1)
        col.add("MMV014", "error", f"the spec names column {name!r}, which is not in the patient table",
                f"did you mean {near[0]!r}?" if near else f"columns: {', '.join(sorted(available))}", column=name, spec_key=key)  # fmt: skip


def _build_frame(
    typed: dict[str, Any], column_types: dict[str, str], keep: np.ndarray, source: SourceTable
) -> pd.DataFrame:
    data: dict[str, Any] = {}
    idx = np.flatnonzero(keep)
    for c, vals in typed.items():
        sel = [vals[i] for i in idx]
        kind = column_types.get(c, "categorical")
        if kind == "date":
            data[c] = pd.to_datetime(pd.Series(sel, dtype=object), errors="coerce").astype(
                "datetime64[ns]"
            )
        elif kind == "numeric":
            data[c] = pd.Series([np.nan if v is None else v for v in sel], dtype="float64")
        else:
            data[c] = pd.Series(sel, dtype=object)
    frame = pd.DataFrame(data)
    frame["_src_row"] = [source.source_rows[i] for i in idx]
    return frame.reset_index(drop=True)
