"""The one pipeline: spec -> ingest -> validate -> derive -> analyses -> results.

Every study takes this path, 51 patients or 10 million: the patient table is put on the
study's engine (in-process DuckDB unless ``[data] engine`` names PostgreSQL or Spark),
validated there by the rule table of :mod:`mmrwe.validate.patients`, its endpoints and
``[[derive]]`` columns added as expressions, and each registered analysis reads what its
estimator needs (counts, or the few columns it uses). Only the analysis table is
materialized, once.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import tempfile
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmrwe.core.conventions import DAYS_PER_MONTH
from mmrwe.core.disclosure import exclusion_counts, public_exclusion, public_issue
from mmrwe.core.errors import (
    DerivationError,
    InputError,
    Issue,
    Location,
    SpecError,
    ValidationError,
)
from mmrwe.core.sources import SourceInfo
from mmrwe.core.version import __version__
from mmrwe.derive.endpoints import ALL_RULES, NEEDS
from mmrwe.engine import Backend, connect
from mmrwe.engine.pushdown import apply_derive, as_temp_view, derive_time_to_event
from mmrwe.results.model import StudyResults
from mmrwe.spec.model import StudySpec
from mmrwe.study.analyses import REGISTRY
from mmrwe.study.context import ENDPOINTS, AnalysisContext, object_values
from mmrwe.validate.patients import Exclusion, Validated, validate_patients

Progress = Callable[[str], None]

#: Largest cohort whose columns the analyses may collect in one query up front.
PREFETCH_MAX_ROWS = 2_000_000
#: Largest cohort the IMWG derivation from labs runs on (``MMRWE_LABS_MAX_PATIENTS``).
LABS_MAX_PATIENTS = int(os.environ.get("MMRWE_LABS_MAX_PATIENTS", "1000000"))

#: Columns a lab/therapy derivation provides; with ``[response] source = "labs"`` they
#: replace the patient table's own (kept as ``<name>_recorded``).
DERIVED_FROM_LABS: dict[str, str] = {
    "best_response": "categorical",
    "progression_date": "date",
    "prior_lines": "numeric",
    "tcr": "categorical",
    "penta_refractory": "categorical",
    "refractory_classes": "categorical",
    "measurable_by": "categorical",
    "months_from_dara_refractory": "numeric",
}
#: Dates of the endpoints beyond PFS and OS (and of the landmark and time-varying analyses)
#: that the lab/therapy derivation provides; joined only when the spec needs them, and only
#: with ``[response] source = "labs"`` (next-line dates: with a therapy table).
DERIVED_DATES: dict[str, str] = {
    "first_response_date": "date",
    "next_line_date": "date",
    "next_line_progression_date": "date",
}


def _noop(_: str) -> None:
    return None


@dataclass
class PatientTable:
    """The patient table on the engine, before validation."""

    table: Any
    source: SourceInfo
    has_rows: bool


@dataclass
class Prevalidated:
    """A patient table validated elsewhere (pooled site files), handed to the pipeline."""

    frame: pd.DataFrame  # typed: dates datetime64, numbers float64, categories str/None
    column_types: dict[str, str]
    issues: tuple[Issue, ...]
    exclusions: tuple[Exclusion, ...]
    n_input_rows: int
    source: SourceInfo
    units: dict[str, str]


@dataclass
class StudyRun:
    """Everything a run produced, collected before the engine closes."""

    results: StudyResults
    validated: Validated
    source: SourceInfo
    # one row per analysed patient: derived_patients.csv, or for a large study (above
    # MMRWE_DERIVED_CSV_MAX_ROWS) a Parquet file streamed from the engine
    derived: pd.DataFrame | DerivedFile
    response: Any = None  # ResponseDerivation with [data] labs
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (spec key, traceback)
    patient_listing: bool = False  # [report] patient_listing: restricted/patient_listing.csv

    @property
    def failed(self) -> list[tuple[str, str | None]]:
        """(spec key, reason) of every analysis that failed (exit status 3)."""
        from mmrwe.study.analyses import failed_analyses

        return failed_analyses(self.results)


# ---------------------------------------------------------------------------- engine


def connect_for(spec: StudySpec) -> Backend:
    """Open the engine named by ``[data] engine`` (in-process DuckDB by default), locked down.

    A DuckDB connection reads no file but the spec's Parquet input (read in place) and its
    own database file: external access and extension loading are off and the configuration
    is locked (:meth:`Backend.lock_down`), so a view in a ``.duckdb`` input cannot read
    another study's files.
    """
    d = spec.data
    engine = "duckdb" if d.engine == "pandas" else d.engine
    if engine == "duckdb" and d.url is None and d.patients.suffix.lower() in (".duckdb", ".ddb"):
        be = connect("duckdb", database=d.patients)
    else:
        be = connect(engine, url=d.url)
    allowed = [
        p
        for p in (d.patients, d.labs, d.therapy)
        if p is not None and p.suffix.lower() in (".parquet", ".pq")
    ]
    try:
        be.lock_down(allowed)
    except BaseException:
        be.close()
        raise
    return be


def _namer(be: Backend) -> Callable[[Any, str, bool], Any]:
    def name(expr: Any, stem: str, materialize: bool) -> Any:
        return as_temp_view(be, expr, stem, materialize=materialize)

    return name


# ---------------------------------------------------------------------------- ingest


def read_redcap(spec: StudySpec, progress: Progress = _noop) -> tuple[StudySpec, Any]:
    """A REDCap project's tables (``[data] redcap``), and the spec completed by its dictionary.

    The dictionary's types, levels (choices in its order) and labels are added for every
    patient-table column the spec does not describe under ``[variables]`` (the spec's own
    entries win). Without ``[data] redcap``: the spec unchanged and None.
    """
    d = spec.data
    if d.redcap is None:
        return spec, None
    from mmrwe.io.redcap import read_project

    progress("Reading the REDCap project")
    project = read_project(d.redcap, columns=d.column_map, delimiter=d.delimiter,
                           encoding=d.encoding, decimal=d.decimal,
                           missing_values=d.missing_values)  # fmt: skip
    declared = {v.name for v in spec.variables}
    extra = tuple(v for v in project.variables if v.name not in declared)
    return replace(spec, variables=spec.variables + extra), project


def redcap_issues(spec: StudySpec, v: Validated, project: Any) -> Validated:
    """The validator's findings located in the project's terms, with the reader's own.

    The reader's issues follow the spec as the validator's do: a code under
    ``[validation.accept]`` is accepted; with ``exclude_invalid_rows`` an error in a
    baseline row excludes that record (the validator has already left the row out).
    """
    accepted = dict(spec.validation.accept)
    excluded_rows = {e.row for e in v.exclusions if e.row is not None}
    ident = set(project.identifiers)
    own: list[Issue] = []
    for i in project.issues:
        if i.code in accepted and i.severity in ("error", "warning"):
            i = replace(i, severity="accepted", fix=f"accepted in the spec: {accepted[i.code]}")
        elif (i.severity == "error" and spec.validation.exclude_invalid_rows
              and i.where.row in excluded_rows and i.where.row in project.invalid):  # fmt: skip
            i = replace(i, severity="excluded")
        own.append(i)
    # A cell the reader found invalid is read as missing; the validator would then call it
    # empty or unreadable too: the reader's message (with the field's own rule) is kept.
    read_bad = {(i.where.row, i.where.column) for i in project.issues if i.severity == "error"}
    located = []
    for i in v.issues:
        if i.code in ("MMV004", "MMV005", "MMV013") and (i.where.row, i.where.column) in read_bad:
            continue
        i = project.locate(i, "patients")
        if i.code == "MMV014" and i.where.column in ident:
            i = replace(
                i,
                what=f"the spec names {i.where.column!r}, a field marked as an identifier in the REDCap dictionary",
                fix="identifiers never reach mmrwe's outputs: use another field, or, if it identifies nobody, clear its Identifier? mark in REDCap",
            )
        located.append(i)
    return replace(v, issues=own + located)


def open_patients(
    spec: StudySpec, be: Backend, frame: Any = None, redcap: Any = None
) -> PatientTable:
    """Put the spec's patient table (or a frame handed to the API) on the engine."""
    from mmrwe.engine import sources
    from mmrwe.io.raw import read_raw, require_file

    d = spec.data
    if redcap is not None:
        return PatientTable(sources.open_arrow(be, redcap.patients), redcap.source, True)
    if frame is not None:
        table = _frame_arrow(frame)
        info = SourceInfo(None, "frame", "patients (in memory)")
        return PatientTable(sources.open_arrow(be, table), info, True)
    if d.format == "omop":
        from mmrwe.engine.omop import omop_patients

        t, info = omop_patients(be, spec)
        return PatientTable(sources.with_order(be, t), info, False)
    if d.url is not None:
        if not d.table:
            from mmrwe.engine.connection import redact_url

            raise InputError(
                f"the database {redact_url(d.url)} needs the table to read",
                where=Location(spec_key="data.table"),
                fix='add table = "patients" under [data]',
            )
        return PatientTable(*sources.open_database_table(be, d.table))
    require_file(d.patients)
    suffix = d.patients.suffix.lower()
    if suffix in (".duckdb", ".ddb"):
        return PatientTable(*sources.open_duckdb_file_table(be, d.patients, d.table))
    if suffix in (".parquet", ".pq"):
        return PatientTable(*sources.open_parquet(be, d.patients))
    if be.engine == "postgres":
        raise InputError(
            "engine 'postgres' reads tables of the database, not files",
            where=Location(file=d.patients.name, spec_key="data.engine"),
            fix="load the file into the database, or leave engine unset to read it in place",
        )
    if be.engine == "spark" and suffix in (".csv", ".tsv", ".txt"):
        sep = d.delimiter or ("\t" if suffix == ".tsv" else ",")
        return PatientTable(*sources.open_spark_csv(be, d.patients, sep))
    raw = read_raw(
        d.patients,
        sheet=d.sheet,
        delimiter=d.delimiter,
        decimal=d.decimal,
        encoding=d.encoding,
        missing_values=d.missing_values,
    )
    return PatientTable(sources.open_arrow(be, raw.table), raw.source, True)


def _frame_arrow(frame: Any) -> Any:
    """A pandas or Arrow table of raw cells handed to the API, as the readers give them."""
    import pyarrow as pa

    from mmrwe.io.raw import frame_to_arrow
    from mmrwe.io.readers import normalise_cells

    if isinstance(frame, pa.Table):
        frame = frame.to_pandas()
    if not isinstance(frame, pd.DataFrame):
        raise InputError(
            f"patients must be a pandas DataFrame or a pyarrow Table, not {type(frame).__name__}"
        )
    cells = normalise_cells(frame.astype(object), set())
    cells.columns = [str(c).strip() for c in cells.columns]
    return frame_to_arrow(cells, [i + 1 for i in range(len(cells))])


# -------------------------------------------------------------------------- validate


def validate(
    spec: StudySpec,
    be: Backend,
    progress: Progress = _noop,
    *,
    frame: Any = None,
    redcap: Any = None,
) -> tuple[Validated, SourceInfo]:
    """Read the patient table onto the engine and run every validation rule.

    ``redcap``: the project read by :func:`read_redcap` (its patient table is validated,
    and its own findings join the validator's).
    """
    progress("Reading patient table")
    pt = open_patients(spec, be, frame, redcap)
    progress("Validating")
    v = validate_patients(
        pt.table,
        spec,
        file_name=pt.source.name,
        sheet=pt.source.sheet,
        engine=be.engine,
        name_relation=_namer(be),
        has_rows=pt.has_rows,
        invalid_rows={k: "; ".join(w) for k, w in redcap.invalid.items()} if redcap else None,
    )
    if redcap is not None:
        v = redcap_issues(spec, v, redcap)
    return v, pt.source


def from_prevalidated(be: Backend, pre: Prevalidated) -> Validated:
    """A table validated elsewhere, on the engine as the validator would have left it."""
    import pyarrow as pa

    from mmrwe.engine.sources import open_arrow

    cols: dict[str, Any] = {"patient_id": pa.array([str(x) for x in pre.frame["patient_id"]])}
    for c, kind in pre.column_types.items():
        if c == "patient_id" or c not in pre.frame.columns:
            continue
        s = pre.frame[c]
        if kind == "date":
            d = pd.to_datetime(s)
            cols[c] = pa.array([None if pd.isna(x) else x.date() for x in d], pa.date32())
        elif kind == "numeric":
            cols[c] = pa.array(s.to_numpy(np.float64), pa.float64(), from_pandas=True)
        else:
            cols[c] = pa.array([None if _missing(x) else str(x) for x in s], pa.string())
    n = len(pre.frame)
    rows = pre.frame["_src_row"] if "_src_row" in pre.frame.columns else range(1, n + 1)
    cols["_src_row"] = pa.array([int(x) for x in rows], pa.int64())
    cols["_ord"] = pa.array(np.arange(n, dtype=np.int64))
    table = open_arrow(be, pa.table(cols), "pooled")
    types = {c: k for c, k in pre.column_types.items() if c != "patient_id"}
    return Validated(table, types, list(pre.issues), list(pre.exclusions), pre.n_input_rows,
                     pre.n_input_rows - n, dict(pre.units))  # fmt: skip


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and np.isnan(x)) or x is pd.NaT


# ---------------------------------------------------------------------------- derive


def collect_patients(v: Validated) -> pd.DataFrame:
    """The validated patient table in memory (input order), for the lab derivation."""
    from mmrwe.study.context import _to_memory

    cols = ["patient_id", *v.column_types, "_src_row"]
    res = v.table.order_by("_ord").select(*cols).to_pyarrow()
    out: dict[str, Any] = {}
    for c in cols:
        a = _to_memory(res[c], v.column_types.get(c), c)
        # object columns stay object (pandas 3 would infer str and turn None into NaN)
        out[c] = pd.Series(a, dtype=object) if a.dtype == object else a
    out["_src_row"] = np.asarray(res["_src_row"].to_numpy(zero_copy_only=False))
    return pd.DataFrame(out)


def derive_from_labs(
    spec: StudySpec, patients: pd.DataFrame, progress: Progress = _noop, redcap: Any = None
) -> tuple[Any, dict[str, Any]]:
    """IMWG response/progression, lines and refractoriness from the lab and therapy tables.

    Returns the :class:`mmrwe.derive.response.ResponseDerivation` (None without a lab
    table) and the source tables read (``labs``, ``therapy``). ``redcap``: the project
    whose instruments give the tables (its issues are then located by record, event,
    instrument, instance and field).
    """
    if not spec.data.has_labs:
        return None, {}
    from mmrwe.derive.response import ResponseParams, derive_response
    from mmrwe.io.readers import read_table

    d = spec.data
    progress("Reading lab and therapy tables")

    def read(path: Path) -> Any:
        return read_table(path, delimiter=d.delimiter, decimal=d.decimal, encoding=d.encoding,
                          missing_values=d.missing_values)  # fmt: skip

    if redcap is not None:
        labs, therapy = redcap.labs, redcap.therapy
    else:
        assert d.labs is not None  # checked by the caller
        labs = read(d.labs)
        therapy = read(d.therapy) if d.therapy is not None else None
    if labs is None:  # the instrument could not be read: the project's issues say why
        return None, {}
    progress("Deriving IMWG response, progression, lines of therapy and refractoriness")
    r = spec.response
    params = ResponseParams(
        baseline_window_days=r.baseline_window_days,
        measurable_serum_g_dl=r.measurable_serum_g_dl,
        refractory_threshold=r.refractory_threshold,
        refractory_window_days=r.refractory_window_days,
        unconfirmed_pd_is_event=r.unconfirmed_pd_is_event,
        unconfirmed_pd_bor=r.unconfirmed_pd_bor,
        scr_without_clonality=r.scr_without_clonality,
        steroid_change_opens_line=r.steroid_change_opens_line,
        regimen_merge_days=r.regimen_merge_days,
        profile=r.profile,
        isotype_column=r.isotype_column,
    )
    deriv = derive_response(
        patients, labs, therapy, params, date_format=d.date_format, decimal=d.decimal
    )
    if redcap is not None:
        deriv = replace(deriv, issues=tuple(_locate_derived(redcap, i) for i in deriv.issues))
    sources = {"labs": labs} | ({"therapy": therapy} if therapy is not None else {})
    return deriv, sources


def _locate_derived(project: Any, issue: Issue) -> Issue:
    """A lab or therapy finding located in the project: MML002-MML019 are the lab table's
    codes, MML020 and above the therapy table's (mmrwe.derive.labs, mmrwe.derive.therapy)."""
    number = int(issue.code[3:]) if issue.code[3:].isdigit() else 0
    return project.locate(issue, "labs" if number < 20 else "therapy")


def derivation_issues(spec: StudySpec, deriv: Any) -> list[Issue]:
    """Lab/therapy issues with the spec's acceptances and invalid-row policy applied."""
    accepted = dict(spec.validation.accept)
    out = []
    for i in deriv.issues:
        if i.code in accepted:
            i = replace(i, severity="accepted", fix=f"accepted in the spec: {accepted[i.code]}")
        elif i.severity == "error" and spec.validation.exclude_invalid_rows:
            i = replace(i, severity="excluded")  # the derivation leaves the row out
        out.append(i)
    return out


def needed_dates(spec: StudySpec) -> dict[str, tuple[str, str]]:
    """Date columns the spec's endpoints and analyses need: column -> (what needs it, spec key)."""
    out: dict[str, tuple[str, str]] = {}
    for ep in spec.requested_endpoints:
        for col in NEEDS.get(ep, {}):
            out.setdefault(col, (f"the {ep} endpoint", _endpoint_key(spec, ep)))
    if spec.km.landmark_from is not None:
        out.setdefault("first_response_date", ("the landmark analysis", "km.landmark_from"))
    for k, tv in enumerate(spec.tv_cox, 1):
        for name in tv.time_varying:
            col = "first_response_date" if name == "response" else name
            out.setdefault(col, (f"the time-varying covariate {name!r}", f"[[tv_cox]] {k}"))
    return out


def _endpoint_key(spec: StudySpec, ep: str) -> str:
    if ep in spec.km.endpoints:
        return "km.endpoints"
    for name, entries_ in (("logrank", spec.logrank), ("cox", spec.cox), ("tv_cox", spec.tv_cox),
                           ("cutpoint", spec.cutpoints)):  # fmt: skip
        for k, e in enumerate(entries_, 1):
            if getattr(e, "endpoint", None) == ep:
                return f"[[{name}]] {k} -> endpoint"
    return "km.endpoints"


def resolve_dates(spec: StudySpec, types: Mapping[str, str], deriv: Any) -> dict[str, str]:
    """Where each needed date comes from ("derived" or "patient table"); refuse what is missing.

    Raises
    ------
    SpecError
        An endpoint or analysis needs a date that neither the lab/therapy derivation nor the
        patient table provides.
    """
    out: dict[str, str] = {}
    labs = deriv is not None and spec.response.source == "labs"
    for col, (what, key) in needed_dates(spec).items():
        derivable = (
            col in DERIVED_DATES
            and labs
            and (col == "first_response_date" or spec.data.therapy is not None)
        )
        if derivable:
            out[col] = "derived"
            continue
        if types.get(col) == "date":
            out[col] = "patient table"
            continue
        if col in DERIVED_DATES:
            table = "lab table" if col == "first_response_date" else "therapy table"
            has = (spec.data.labs is not None) if col == "first_response_date" else (
                spec.data.therapy is not None)  # fmt: skip
            why = (
                f"[response] source is {spec.response.source!r}, so the derived dates are not used"
                if has
                else f"the spec has no {table}"
            )
            add = (
                'add labs = "labs.csv" under [data] and source = "labs" under [response]'
                if col == "first_response_date"
                else 'add therapy = "therapy.csv" (and labs) under [data] with source = "labs" '
                "under [response]"
            )
            raise SpecError(
                f"{what} needs {col}: {why}, and the patient table has no {col} column",
                where=Location(spec_key=key),
                fix=f"{add}, or add a {col} column (a date) to the patient table",
            )
        raise SpecError(
            f"{what} needs the date column {col!r}, which the patient table does not have"
            + (f" (it is {types[col]})" if col in types else ""),
            where=Location(spec_key=key),
            fix=f'name a date column of the patient table, or declare [variables.{col}] type = "date"',
        )
    return out


def _with_derived(
    be: Backend, table: Any, types: dict[str, str], deriv: Any, dates: Sequence[str] = ()
) -> tuple[Any, dict[str, str]]:
    """The patient table with the lab-derived columns (and the ``dates`` of DERIVED_DATES
    needed by the analyses) in place of the recorded ones."""
    import pyarrow as pa

    from mmrwe.engine.sources import open_arrow

    per = deriv.per_patient
    derived = [c for c in DERIVED_FROM_LABS if c in per.columns]
    derived += [c for c in dates if c in DERIVED_DATES and c in per.columns]
    kinds = DERIVED_FROM_LABS | DERIVED_DATES
    cols: dict[str, Any] = {"_pid": pa.array([str(x) for x in per["patient_id"]])}
    for c in derived:
        kind = kinds[c]
        s = per[c]
        if kind == "date":
            d = pd.to_datetime(pd.Series(s.to_numpy()), errors="coerce")
            cols[f"_d_{c}"] = pa.array([None if pd.isna(x) else x.date() for x in d], pa.date32())
        elif kind == "numeric":
            num = pd.to_numeric(pd.Series(s.to_numpy()), errors="coerce").astype("float64")
            cols[f"_d_{c}"] = pa.array(num.to_numpy(), pa.float64(), from_pandas=True)
        else:
            cols[f"_d_{c}"] = pa.array([None if pd.isna(v) else str(v) for v in s], pa.string())
    dt = open_arrow(be, pa.table(cols), "labs_derived")
    joined = table.left_join(dt, table.patient_id == dt._pid)
    types = dict(types)
    sel: dict[str, Any] = {c: joined[c] for c in table.columns}
    for c in derived:
        if c in types:
            sel[f"{c}_recorded"] = joined[c]
            types[f"{c}_recorded"] = types[c]
        sel[c] = joined[f"_d_{c}"]
        types[c] = kinds[c]
    return joined.select(**sel), types


def build_analysis_table(
    spec: StudySpec,
    be: Backend,
    table: Any,
    types: dict[str, str],
    n: int,
    endpoints: Sequence[str] = ENDPOINTS,
) -> tuple[Any, dict[str, str]]:
    """``[[derive]]`` columns and the endpoints, materialized once on the engine."""
    table, types = apply_derive(table, spec.derive, types)
    for ep in endpoints:
        table = derive_time_to_event(table, ALL_RULES[ep])
    # every analysis below reads this relation: computed once into a temporary table (the
    # engine spills to disk what does not fit in memory), it is not re-derived per query
    out = as_temp_view(be, table, "analysis", materialize=True)
    _check_endpoint_times(out, [ep for ep in endpoints if ep not in ENDPOINTS])
    return out, types


def _check_endpoint_times(table: Any, endpoints: Sequence[str]) -> None:
    """Dates out of order for an endpoint beyond PFS/OS: an error naming the patients.

    Recorded dates are validated (MMV006, MMV021); dates derived from the therapy table are
    not, and a next line that starts after the patient's last follow-up would make an event
    of a date after the last known one.
    """
    if not endpoints:
        return
    conds: dict[str, tuple[Any, str]] = {}
    for ep in endpoints:
        rule = ALL_RULES[ep]
        t = table[f"{ep}_time_days"]
        span = table.last_followup_date.delta(table[rule.origin_column], unit="day")
        conds[f"{ep}_neg"] = (t < 0, f"reach the end of follow-up before the origin "
                              f"({rule.origin_column})")  # fmt: skip
        conds[f"{ep}_late"] = (t > span, "have an event after their last_followup_date")
    aggs = {k: c.ifelse(1, 0).sum() for k, (c, _) in conds.items()}
    row = table.aggregate(**aggs).to_pyarrow().to_pylist()[0]
    for key, (cond, what) in conds.items():
        bad = int(row[key] or 0)
        if bad:
            ep = key.rsplit("_", 1)[0]
            ids = (
                table.filter(cond).order_by("_ord").limit(5).select("patient_id")
                .to_pyarrow()["patient_id"].to_pylist()
            )  # fmt: skip
            raise DerivationError(
                f"{ep}: {bad} patient(s) {what}: "
                f"{', '.join(map(str, ids))}{', ...' if bad > 5 else ''}",
                fix=f"check {', '.join(ALL_RULES[ep].date_columns)} of these patients (and their "
                "therapy rows): last_followup_date is on or after every other date",
            )


# --------------------------------------------------------------------------- results


def conventions_of(
    spec: StudySpec, endpoints: Sequence[str] = ENDPOINTS, dates: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The conventions every result was computed with (results.json ``conventions``)."""
    out = _base_conventions(spec)
    for ep in endpoints:
        if ep not in ENDPOINTS:
            out[f"{ep.lower()}_definition"] = ALL_RULES[ep].definition
    if dates:
        out["endpoint_dates"] = {
            c: "derived from the lab and therapy tables" if s == "derived" else "patient table"
            for c, s in sorted(dates.items())
        }
    if spec.km.landmark_from is not None:
        out["landmark_rule"] = (
            "patients with time > landmark (alive and event-free at the landmark); groups by "
            "first_response_date <= landmark (PR or better reached by then); times from the "
            "landmark"
        )
    return out


def _base_conventions(spec: StudySpec) -> dict[str, Any]:
    return {
        "time_unit": spec.study.time_unit,
        "days_per_month": DAYS_PER_MONTH,
        "km_conf_type": spec.km.conf_type,
        "km_conf_level": spec.km.conf_level,
        "km_median_ci": spec.km.median_ci,
        "median_rule": "midpoint",
        "cox_ties": spec.cox[0].ties if spec.cox else "efron",
        "ph_transform": spec.cox[0].ph_transform if spec.cox else "km",
        "alpha": spec.study.alpha,
        "proportion_ci": spec.proportions[0].method if spec.proportions else "clopper-pearson",
        "fisher_odds_ratio": "conditional MLE",
        "logistic_ci": "profile likelihood",
        "maxstat_p": "Lau94",
        "n_risk_rule": "number with time >= t",
        "pfs_definition": "progression or death, whichever first; censored at last follow-up",
        "os_definition": "death from any cause; censored at last follow-up",
        "rounding": "none in results.json; half away from zero in reports",
    }


def software_versions(be: Backend | None = None) -> dict[str, str]:
    """Versions that can change a number (recorded in results.json)."""
    import scipy

    out = {
        "mmrwe": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
    }
    if be is not None:
        import ibis

        out["ibis"] = ibis.__version__
        out["engine"] = be.engine
        with contextlib.suppress(Exception):  # a version string is informative only
            out["engine_version"] = str(be.con.version)
    return out


def _input_entry(source: Any) -> dict[str, Any]:
    """inputs entry of a lab/therapy SourceTable (read by mmrwe.io.readers)."""
    entry: dict[str, Any] = {"file": source.path.name, "sha256": source.sha256,
                             "n_rows": source.n_rows, "format": source.kind}  # fmt: skip
    if source.sheet:
        entry["sheet"] = source.sheet
    if source.notes:
        entry["notes"] = list(source.notes)
    return entry


def _cohort(ctx: AnalysisContext, v: Validated) -> dict[str, Any]:
    t = ctx.table
    centers: dict[str, int] = {}
    if "center" in ctx.types:
        for c, k in ctx.value_counts("center").items():
            key = "(missing)" if c is None else str(c)
            centers[key] = centers.get(key, 0) + k
        centers = dict(sorted(centers.items()))
    dates = t.aggregate(a=t.start_date.min(), b=t.start_date.max(), c=t.last_followup_date.max())
    row = dates.to_pyarrow().to_pylist()[0]

    def iso(x: Any) -> str | None:
        return None if x is None else pd.Timestamp(x).date().isoformat()

    # publishable: no patient id, no cell value or date of the row (contract section 6); the
    # exact reasons with the ids are in restricted/exclusions.csv
    from mmrwe.study.outputs import rule_texts

    rules = rule_texts()
    exclusions = [public_exclusion(e.to_dict(), rules) for e in v.exclusions]
    return {
        "n": ctx.n,
        "n_input_rows": v.n_input_rows,
        "n_excluded": v.n_excluded,
        "exclusions": exclusions,
        "exclusion_counts": exclusion_counts(exclusions),
        "centers": centers,
        "period": {
            "first_start_date": iso(row["a"]),
            "last_start_date": iso(row["b"]),
            "latest_followup_date": iso(row["c"]),
        },
    }


class DerivedFile:
    """``derived_patients`` of a large study: a Parquet file streamed from the engine.

    Above :data:`mmrwe.io.write.DERIVED_CSV_MAX_ROWS` patients the table is never held in
    memory as a whole (at 10 million patients the pandas frame alone took 5 GiB): the
    engine's result is written batch by batch into a temporary Parquet file, which
    :meth:`mmrwe.StudyResult.write` copies into the output folder. The temporary folder
    goes when the object does.
    """

    def __init__(self, path: Path, n_rows: int) -> None:
        self.path = path
        self.n_rows = n_rows
        weakref.finalize(self, shutil.rmtree, path.parent, True)

    def __len__(self) -> int:
        return self.n_rows

    def to_frame(self) -> pd.DataFrame:
        """The whole table in memory (as the small-study path gives it)."""
        return pd.read_parquet(self.path)


def _derived_columns(ctx: AnalysisContext, spec: StudySpec) -> tuple[list[str], list[str]]:
    """The columns of derived_patients (in order), and those fetched from the engine."""
    cols = ["patient_id"] + (["center"] if "center" in ctx.types else [])
    ep_cols: list[str] = []
    for ep in ctx.endpoints:
        ep_cols += [f"{ep}_time_days", f"{ep}_time", f"{ep}_event", f"{ep}_end_source"]
    derive_cols = [d.name for d in spec.derive if d.name not in cols]
    derive_cols += [c for c in RISK_COLUMNS if c in ctx.types and c not in derive_cols]
    out = cols + ep_cols + derive_cols
    return out, [c for c in out if not c.endswith("_time") or c.endswith("_time_days")]


def _derived_file(ctx: AnalysisContext, spec: StudySpec) -> DerivedFile:
    """derived_patients streamed from the engine into Parquet, with the same columns and
    values as :func:`_derived_frame` (times in the study unit: days / days per unit)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from mmrwe.engine.pushdown import iter_batches

    names, fetch = _derived_columns(ctx, spec)
    expr = ctx.table.order_by("_ord").select(*fetch)
    folder = Path(tempfile.mkdtemp(prefix="mmrwe-derived-"))
    path = folder / "derived_patients.parquet"
    n = 0
    writer: Any = None
    try:
        for batch in iter_batches(ctx.backend, expr, 1_000_000):
            arrays = []
            for c in names:
                if c.endswith("_time") and not c.endswith("_time_days"):
                    days = batch.column(f"{c}_days").cast(pa.float64())
                    a = pc.divide(days, pa.scalar(ctx.days_per_unit, pa.float64()))
                elif c.endswith("_event"):
                    a = batch.column(c).cast(pa.bool_())
                elif c.endswith("_time_days"):
                    a = batch.column(c).cast(pa.int64())
                elif ctx.types.get(c) == "numeric":
                    a = batch.column(c).cast(pa.float64())
                else:
                    a = batch.column(c)
                    if not pa.types.is_string(a.type) and not pa.types.is_large_string(a.type):
                        a = a.cast(pa.string())
                arrays.append(a)
            table = pa.Table.from_arrays(arrays, names=names)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="zstd")
            writer.write_table(table)
            n += table.num_rows
    except BaseException:
        if writer is not None:
            writer.close()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    # (ctx.n is above the threshold, so the query returned rows and a writer exists)
    writer.close()
    return DerivedFile(path, n)


def _derived_frame(ctx: AnalysisContext, spec: StudySpec, deriv: Any) -> pd.DataFrame:
    """derived_patients.csv: per patient the endpoints, ``[[derive]]`` and lab-derived columns."""
    names, fetch = _derived_columns(ctx, spec)
    res = ctx.table.order_by("_ord").select(*fetch).to_pyarrow()
    data: dict[str, Any] = {}
    for c in names:
        if c.endswith("_time") and not c.endswith("_time_days"):
            data[c] = ctx.times(res[f"{c}_days"].to_numpy(zero_copy_only=False))
        elif c.endswith("_time_days") and res[c].null_count:  # DoR: empty for non-responders
            data[c] = pd.array(res[c].to_pylist(), dtype="Int64")
        elif c.endswith("_time_days"):
            data[c] = np.asarray(res[c].to_numpy(zero_copy_only=False), dtype=np.int64)
        elif c.endswith("_event"):
            data[c] = np.asarray(res[c].to_numpy(zero_copy_only=False), dtype=bool)
        elif ctx.types.get(c) == "numeric":
            data[c] = np.asarray(res[c].to_numpy(zero_copy_only=False), dtype=np.float64)
        else:
            data[c] = pd.Series(object_values(res[c]), dtype=object)
    derived = pd.DataFrame(data)
    if deriv is not None:
        # the lab/therapy derivation's per-patient columns (IMWG calls, lines,
        # refractoriness), whether or not the analyses use them
        per = deriv.per_patient.set_index("patient_id")
        per = per.reindex(derived["patient_id"]).reset_index(drop=True)
        derived = pd.concat(
            [derived, per.drop(columns=[c for c in per.columns if c in derived.columns])], axis=1
        )
    return derived


# ------------------------------------------------------------------------------ run


def run(
    spec: StudySpec,
    progress: Progress = _noop,
    *,
    frame: Any = None,
    prevalidated: Prevalidated | None = None,
    extra_inputs: Mapping[str, Any] | None = None,
    backend: Backend | None = None,
) -> StudyRun:
    """Run a study end to end on its engine and return everything it produced.

    Parameters
    ----------
    spec : StudySpec
    progress : callable, optional
        Called with the name of each step.
    frame : pandas.DataFrame or pyarrow.Table, optional
        The patient table's raw cells, instead of ``[data] patients``.
    prevalidated : Prevalidated, optional
        A table validated elsewhere (pooled site files).
    extra_inputs : mapping, optional
        More ``inputs`` entries for results.json (the site files when pooling).
    backend : Backend, optional
        An open engine (kept open); by default one is opened from the spec and closed.

    Raises
    ------
    ValidationError
        When validation found errors that the spec neither accepts nor excludes.
    """
    own = backend is None
    be = connect_for(spec) if backend is None else backend
    try:
        return _run(spec, be, progress, frame, prevalidated, extra_inputs or {})
    finally:
        if own:
            be.close()


def _run(
    spec: StudySpec,
    be: Backend,
    progress: Progress,
    frame: Any,
    prevalidated: Prevalidated | None,
    extra_inputs: Mapping[str, Any],
) -> StudyRun:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    redcap: Any = None
    if prevalidated is not None:
        v, source = from_prevalidated(be, prevalidated), prevalidated.source
    else:
        spec, redcap = read_redcap(spec, progress)
        v, source = validate(spec, be, progress, frame=frame, redcap=redcap)
    timings["read_validate"] = time.perf_counter() - t0
    if v.table is None or v.errors:
        raise ValidationError(tuple(v.issues))

    t1 = time.perf_counter()
    table, types = v.table, dict(v.column_types)
    deriv: Any = None
    deriv_sources: dict[str, Any] = {}
    deriv_issues: list[Issue] = []
    patients_mem: pd.DataFrame | None = None
    if spec.data.has_labs:
        n = v.n_analysed
        if n > LABS_MAX_PATIENTS:
            raise SpecError(
                f"[data] labs: the IMWG derivation runs in memory, for up to {LABS_MAX_PATIENTS} "
                f"patients; this cohort has {n}",
                where=Location(spec_key="data.labs"),
                fix="derive the responses per center or on a sample, then run the whole cohort "
                'with source = "recorded"; or raise MMRWE_LABS_MAX_PATIENTS',
            )
        patients_mem = collect_patients(v)
        deriv, deriv_sources = derive_from_labs(spec, patients_mem, progress, redcap)
        deriv_issues = derivation_issues(spec, deriv) if deriv is not None else []
        if any(i.severity == "error" for i in deriv_issues):
            raise ValidationError([*v.issues, *deriv_issues])
    dates = resolve_dates(spec, types, deriv)
    if deriv is not None and spec.response.source == "labs":
        used = [c for c, src in dates.items() if src == "derived"]
        table, types = _with_derived(be, table, types, deriv, used)
    timings["derive_response"] = time.perf_counter() - t1

    risk: dict[str, Any] | None = None
    if spec.risk_scores.given:
        from mmrwe.study.risk import add_risk_scores, risk_variables

        spec = risk_variables(spec)  # declared levels and labels of the score columns

        progress("Deriving risk scores")
        t1 = time.perf_counter()
        table, types, risk = add_risk_scores(spec, be, table, types)
        timings["risk_scores"] = time.perf_counter() - t1

    progress("Deriving endpoints")
    t1 = time.perf_counter()
    n = v.n_analysed
    endpoints = spec.requested_endpoints
    table, types = build_analysis_table(spec, be, table, types, n, endpoints)
    timings["derive"] = time.perf_counter() - t1

    ctx = AnalysisContext(spec=spec, backend=be, table=table, types=types, units=dict(v.units), n=n,
                          endpoints=endpoints,
                          restricted=frozenset(ep for ep in endpoints if ALL_RULES[ep].restricted))  # fmt: skip
    out: dict[str, Any] = {"schema_version": 1}
    out["study"] = {
        "title": spec.study.title,
        "spec_sha256": spec.sha256,
        "synthetic": spec.study.synthetic,
        "description": spec.study.description,
    }
    out["software"] = software_versions(be)
    out["inputs"] = {"patients": source.input_entry(v.n_input_rows), **extra_inputs}
    if redcap is not None:
        out["inputs"].update(redcap.input_entries())
    if deriv is not None:
        for key, src in deriv_sources.items():
            out["inputs"][key] = _input_entry(src)
        agree = deriv.per_patient.get("pd_date_agreement")
        out["response_derivation"] = {
            "source": spec.response.source,
            "used_by_analyses": spec.response.source == "labs",
            "columns": [c for c in DERIVED_FROM_LABS if c in deriv.per_patient.columns],
            "parameters": deriv.parameters,
            "progression_date_agreement": {}
            if agree is None
            else {str(k): int(c) for k, c in agree.value_counts().sort_index().items()},
            "n_issues": len(deriv_issues),
        }
        out["response_derivation"].update(_derivation_additions(spec, deriv, v))
    out["conventions"] = conventions_of(spec, endpoints, dates)
    out["cohort"] = _cohort(ctx, v)
    all_issues = [*v.issues, *deriv_issues]
    out["validation"] = {
        "n_errors": len(v.errors),
        "n_warnings": sum(1 for i in all_issues if i.severity == "warning"),
        "issues": [public_issue(i.to_dict()) for i in all_issues if i.severity != "error"],
    }
    rep = spec.report
    out["report_options"] = {
        "small_cell_k": rep.small_cell_k,
        "table1_by": spec.table1.by or rep.table1_by,
        # how the figures are drawn, in the reports and in the figure files alike
        "figure_width_mm": rep.figure_width_mm,
        "palette": rep.palette,
        "km_annotations": rep.km_annotations,
        "figure_formats": list(rep.figure_formats),
        "figure_dpi": rep.figure_dpi,
    }
    if spec.target.items():
        # the authors' words on the emulated target trial, for the report's TARGET table
        out["target"] = spec.target.items()
    out["variables"] = {
        c: {
            "type": kind,
            "unit": v.units.get(c),
            "label": _label_of(spec, c),
            "levels": _levels_of(spec, c),
        }
        for c, kind in types.items()
        if not c.startswith("_")
    }
    if n <= PREFETCH_MAX_ROWS:
        # one query for every column the row-level analyses read
        wanted: set[str] = set()
        for a in REGISTRY:
            if a.is_wanted(spec):
                wanted |= a.columns(spec)
        ctx.prefetch(sorted(wanted))
    done: dict[str, Any] = {}
    for a in REGISTRY:
        if not a.is_wanted(spec):
            continue
        progress(a.label)
        t = time.perf_counter()
        done[a.key] = a.run_safely(ctx, done)
        timings[a.key] = time.perf_counter() - t
    out.update(done)
    if rep.swimmer or rep.therapy_flow:
        from mmrwe.study.analyses.common import boundary
        from mmrwe.study.therapy_figures import therapy_figure_data

        # optional therapy figures: anonymous per-patient rows / line counts for the reports
        progress("Collecting the therapy figures")
        out.update(
            therapy_figure_data(
                rep,
                has_therapy=spec.data.has_therapy,
                deriv=deriv,
                patients=patients_mem,
                progression_from_labs=spec.response.source == "labs",
                time_unit=spec.study.time_unit,
                guard=lambda key, compute: boundary(ctx, key, {}, compute),
            )
        )
    if spec.published:
        from mmrwe.tables.published import published_comparison

        # looked up in the finished results: a published number beside its reproduction
        out["published"] = published_comparison(spec.published, out)
        for e in out["published"]:
            if e["status"] == "failed":
                ctx.warnings.append(f"{e['spec_key']}: {e['reason']}")
    if risk is not None:
        out["risk_scores"] = risk
    guard = _immortal_time(spec, done)
    if guard is not None:
        out["immortal_time_bias"] = guard
        if guard["warning"]:
            ctx.warnings.append(guard["warning"])
    results = StudyResults(out)
    progress("Collecting per-patient outputs")
    t = time.perf_counter()
    from mmrwe.io.write import derived_csv_max_rows

    if deriv is None and ctx.n > derived_csv_max_rows():
        derived: pd.DataFrame | DerivedFile = _derived_file(ctx, spec)
    else:
        derived = _derived_frame(ctx, spec, deriv)
    timings["collect_derived"] = time.perf_counter() - t
    if spec.report.patient_listing:
        ctx.warnings.append(
            "[report] patient_listing = true: restricted/patient_listing.csv names patients "
            "with the exact dates and values of every finding; keep it at the site, never "
            "send it with the reports"
        )
    return StudyRun(results, v, source, derived, deriv, timings, ctx.warnings, ctx.failures,
                    patient_listing=spec.report.patient_listing)  # fmt: skip


def _derivation_additions(spec: StudySpec, deriv: Any, v: Validated) -> dict[str, Any]:
    """response_derivation additions: profile, anti-CD38 interference counts, agreement."""
    from mmrwe.derive.response import ANTI_CD38_RULE

    per = deriv.per_patient
    out: dict[str, Any] = {"profile": spec.response.profile}
    flag = per.get("anti_cd38_interference")
    if flag is not None and bool((flag != "").any()):
        counts = {k: int((flag == k).sum()) for k in ("yes", "possible", "no")}
        out["anti_cd38_interference"] = {
            "counts": counts,
            "n_flagged": counts["yes"] + counts["possible"],
            "n_anti_cd38_in_line": int((per["anti_cd38_in_line"] == "yes").sum()),
            "rule": ANTI_CD38_RULE,
        }
    if v.column_types.get("best_response") == "categorical":
        res = v.table.order_by("_ord").select("best_response").to_pyarrow()
        recorded = res["best_response"].to_pylist()
        out["agreement"] = response_agreement(per["best_response"].tolist(), recorded)
    return out


def response_agreement(derived: Sequence[Any], recorded: Sequence[Any]) -> dict[str, Any]:
    """Agreement of the derived best response with the site's recorded one (Cohen's kappa).

    ``orr``: PR or better yes/no (NE counts as no, as in the ORR); ``depth``: the eight
    categories sCR ... PD, NE (unweighted); ``depth_weighted``: quadratic weights on the
    ordered scale sCR ... PD (pairs with an NE left out). Patients without a recorded
    response are left out (``n_excluded_missing``).
    """
    from mmrwe.core.errors import EstimationError
    from mmrwe.spec.model import RESPONSE_CATEGORIES
    from mmrwe.stats.agreement import cohen_kappa

    canon = {c.lower(): c for c in RESPONSE_CATEGORIES}

    def norm(x: Sequence[Any]) -> np.ndarray:
        s = pd.Series(list(x), dtype=object)
        m = s.where(s.notna(), None).astype("string").str.strip().str.lower().map(canon)
        return m.astype(object).where(m.notna(), None).to_numpy(dtype=object)

    a, b = norm(derived), norm(recorded)

    def orr(x: np.ndarray) -> np.ndarray:
        yes = np.isin(x, ["sCR", "CR", "VGPR", "PR"])
        out = np.where(yes, "yes", "no").astype(object)
        out[x == None] = None  # noqa: E711 (elementwise)
        return out

    def no_ne(x: np.ndarray) -> np.ndarray:
        out = x.copy()
        out[x == "NE"] = None
        return out

    out: dict[str, Any] = {
        "first": "best_response derived from the lab table by rule",
        "second": "best_response recorded in the patient table",
    }
    for key, fa, fb, cats, weights in (
        ("orr", orr(a), orr(b), ("yes", "no"), "none"),
        ("depth", a, b, RESPONSE_CATEGORIES, "none"),
        ("depth_weighted", no_ne(a), no_ne(b), RESPONSE_CATEGORIES[:-1], "quadratic"),
    ):
        try:
            out[key] = cohen_kappa(fa, fb, cats, weights=weights).to_dict()  # type: ignore[arg-type]
            out[key]["status"] = "ok"
        except EstimationError as exc:
            out[key] = {"status": "not_estimable", "reason": exc.what}
    return out


#: Columns ``[risk_scores]`` adds to the analysis table (and the per-patient listing).
RISK_COLUMNS = ("iss", "r_iss", "r2_iss", "r2_iss_points", "ims2025_risk")

#: Columns that hold a response reached during follow-up (and derived ones, see below).
RESPONSE_COLUMNS = ("best_response", "best_response_recorded", "first_response_date")


def response_variables(spec: StudySpec) -> set[str]:
    """Response columns and every ``[[derive]]`` column built from one (transitively)."""
    out = set(RESPONSE_COLUMNS)
    grew = True
    while grew:
        grew = False
        for d in spec.derive:
            if d.from_ in out and d.name not in out:
                out.add(d.name)
                grew = True
    return out


def _immortal_time(spec: StudySpec, done: Mapping[str, Any]) -> dict[str, Any] | None:
    """Survival compared by response without a landmark or time-varying analysis: a warning.

    Responders must survive long enough to respond: comparing survival from day 0 by response
    credits them with "immortal" time (Anderson, Cain and Gelber, J Clin Oncol 1983). Only
    written when such a comparison is in the spec.
    """
    resp = response_variables(spec)
    found: list[dict[str, Any]] = []
    for k, lr in enumerate(spec.logrank, 1):
        for var in (lr.by, lr.strata):
            if var in resp:
                found.append({"spec_key": f"[[logrank]] {k}", "endpoint": lr.endpoint,
                              "variable": var})  # fmt: skip
    for k, cx in enumerate(spec.cox, 1):
        for var in cx.terms:
            if var in resp:
                found.append({"spec_key": f"[[cox]] {k}", "endpoint": cx.endpoint,
                              "variable": var})  # fmt: skip
    if not found:
        return None
    landmark = any(
        isinstance(e, Mapping) and e.get("status") == "ok"
        for e in done.get("landmark_analysis") or []
    )
    tv = any(isinstance(e, Mapping) and e.get("status") == "ok" for e in done.get("tv_cox") or [])
    warning = None
    if not (landmark or tv):
        warning = (
            "survival is compared by response ("
            + ", ".join(f"{f['spec_key']}: {f['variable']}" for f in found)
            + ") without a landmark analysis or a time-varying Cox model: responders are "
            "credited with the time they had to survive to respond (immortal time bias); add "
            '[km] landmark_from or a [[tv_cox]] with time_varying = ["response"]'
        )
    return {"analyses": found, "landmark_analysis": landmark, "time_varying_cox": tv,
            "warning": warning}  # fmt: skip


def _label_of(spec: StudySpec, column: str) -> str | None:
    var = spec.variable(column)
    return var.label if var is not None else None


def _levels_of(spec: StudySpec, column: str) -> list[str] | None:
    """The declared ``[variables.X] levels`` (display order; None when not declared)."""
    var = spec.variable(column)
    return list(var.levels) if var is not None and var.levels else None


__all__ = [
    "DERIVED_FROM_LABS",
    "PatientTable",
    "Prevalidated",
    "StudyRun",
    "connect_for",
    "conventions_of",
    "read_redcap",
    "run",
    "software_versions",
    "validate",
]
