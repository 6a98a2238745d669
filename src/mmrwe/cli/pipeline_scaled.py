"""The scaled path: the same study spec, run in a database engine on tens of millions of rows.

:func:`run_study_scaled` is what :func:`mmrwe.cli.pipeline.run_study` dispatches to when the
spec says ``[data] engine = "duckdb" | "postgres" | "spark"``. It writes the same
results.json sections as the in-memory path, with the same numbers (to ~1e-12), but the
patient rows never come into Python:

* the patient-table rules (MMV001-MMV020) run as SQL (:mod:`mmrwe.backends.validation`):
  one counting query, then the failing rows only;
* ``[[derive]]`` columns and the PFS/OS rule are Ibis expressions;
* Kaplan-Meier curves, medians, landmarks, reverse-KM follow-up and log-rank tests come
  from per-distinct-time counts (``GROUP BY group, time``) through
  :func:`~mmrwe.stats.km.kaplan_meier_from_counts` and
  :func:`~mmrwe.stats.logrank.logrank_from_counts` (bit-identical to the row versions);
* proportions and the response distribution come from category counts;
* Cox models stream their design matrix once to a local temporary file and are fitted by
  :func:`~mmrwe.stats.cox_scaled.cox_fit_chunked` (one chunked pass per Newton step).

Sections that need every patient row (Table 1, cut-offs, the logistic model of
``[[compare_proportion]]``, robust/clustered or Firth Cox) run on the in-memory code with
only the columns they use, up to :data:`ROW_SECTIONS_MAX_ROWS` patients; above, they are
left empty with a warning that says so.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmrwe.backends import Backend, connect, open_patients
from mmrwe.backends.pushdown import (
    as_temp_view,
    derive_time_to_event,
    iter_batches,
    label_expr,
    survival_counts,
)
from mmrwe.backends.validation import ScaledValidation, UnitCheck, any_equal, validate_table
from mmrwe.cli import analyses
from mmrwe.cli.pipeline import Progress, StudyRun, conventions_of, software_versions
from mmrwe.core.conventions import days_per_unit
from mmrwe.core.errors import EstimationError, Location, MmrweError, SpecError, ValidationError
from mmrwe.derive.endpoints import RULES
from mmrwe.io.readers import SourceTable
from mmrwe.results.model import StudyResults
from mmrwe.spec.model import CoxSpec, StudySpec
from mmrwe.validate.patients import Exclusion, ValidatedTable
from mmrwe.validate.units import analyte_of, known_units, likely_unit, unit_range

#: Largest cohort for which the row-level sections (Table 1, cut-offs, logistic models,
#: robust or Firth Cox) run in memory on the columns they use (environment variable
#: ``MMRWE_ROW_SECTIONS_MAX_ROWS`` overrides it; 0 turns those sections off).
ROW_SECTIONS_MAX_ROWS = int(os.environ.get("MMRWE_ROW_SECTIONS_MAX_ROWS", "1000000"))
#: Largest cohort whose per-patient derived table (derived_patients.csv) is collected
#: (``MMRWE_DERIVED_MAX_ROWS`` overrides it).
DERIVED_MAX_ROWS = int(os.environ.get("MMRWE_DERIVED_MAX_ROWS", "2000000"))
#: Largest input materialized as a temporary table in DuckDB/PostgreSQL (else a view).
MATERIALIZE_MAX_ROWS = 250_000
#: Largest cohort whose analysis columns DuckDB holds in memory (else a view).
ANALYSIS_IN_MEMORY_MAX_ROWS = 2_000_000
#: Rows per chunk of the Cox design matrix.
COX_CHUNK_ROWS = 1_000_000


def _noop(_: str) -> None:
    return None


def connect_for(spec: StudySpec) -> Backend:
    """Open the engine named by ``[data] engine`` for this spec's input."""
    d = spec.data
    if d.engine == "duckdb" and d.url is None and d.patients.suffix.lower() in (".duckdb", ".ddb"):
        return connect("duckdb", database=d.patients)
    return connect(d.engine, url=d.url)


def run_study_scaled(
    spec: StudySpec, progress: Progress = _noop, *, backend: Backend | None = None
) -> StudyRun:
    """Run a study spec in a database engine and return its results (nothing is written).

    Parameters
    ----------
    spec : StudySpec
        The study; ``spec.data.engine`` names the engine.
    progress : callable, optional
        Called with the name of each step.
    backend : Backend, optional
        An open engine (e.g. a shared Spark session); by default one is opened from the
        spec and closed at the end.

    Returns
    -------
    StudyRun
        As :func:`mmrwe.cli.pipeline.run_study`. ``analysis`` holds the derived
        per-patient columns (for derived_patients.csv) up to :data:`DERIVED_MAX_ROWS`.

    Raises
    ------
    ValidationError
        When validation found errors that the spec neither accepts nor excludes.
    """
    own = backend is None
    be = connect_for(spec) if backend is None else backend
    try:
        return _run(spec, progress, be)
    finally:
        if own:
            be.close()


def validate_scaled(spec: StudySpec, progress: Progress = _noop) -> ValidatedTable:
    """Run the validation rules in the spec's engine (``mmrwe validate`` on a scaled spec)."""
    be = connect_for(spec)
    try:
        progress(f"Validating in {be.engine}")
        raw, src = _open_source(spec, be)
        sv = validate_table(
            raw, spec, file_name=src.name, unit_checks=_unit_checks(spec), backend=be
        )
        validated = _validated_table(sv, src)
        n = sv.n_input_rows - sv.n_excluded
        labs = spec.data.labs is not None and sv.table is not None and not sv.errors
        if labs and n <= LABS_MAX_PATIENTS:
            # the lab and therapy checks follow each patient's series: in memory
            from dataclasses import replace

            frame = _collect_patients(sv.table, dict(sv.column_types))
            validated = replace(validated, frame=frame)
        return validated
    finally:
        be.close()


def _unit_checks(spec: StudySpec) -> dict[str, UnitCheck]:
    checks: dict[str, UnitCheck] = {}

    def likely(analyte: str | None, unit: str) -> Callable[[float], str | None]:
        def guess(x: float) -> str | None:
            return likely_unit(analyte, x, unit) if analyte else None

        return guess

    for v in spec.variables:
        if v.unit is None:
            continue
        analyte = v.analyte or analyte_of(v.name, v.label)
        rng = unit_range(analyte, v.unit) if analyte else None
        checks[v.name] = UnitCheck(
            name=v.name,
            unit=v.unit,
            analyte=analyte,
            reject=rng.reject if rng else None,
            warn=rng.warn if rng else None,
            known_units=tuple(known_units(analyte)) if analyte else (),
            likely_unit=likely(analyte, v.unit),
        )
    return checks


def _open_source(spec: StudySpec, be: Backend) -> tuple[Any, Any]:
    if spec.data.format == "omop":
        from mmrwe.io.omop import omop_patients

        return omop_patients(be, spec)
    src = open_patients(be, spec.data)
    return src.table, src


def _run(spec: StudySpec, progress: Progress, be: Backend) -> StudyRun:
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    progress(f"Validating in {be.engine}")
    raw, src = _open_source(spec, be)
    sv = validate_table(raw, spec, file_name=src.name, unit_checks=_unit_checks(spec), backend=be)
    timings["read_validate"] = time.perf_counter() - t0
    validated = _validated_table(sv, src)
    if sv.table is None or sv.errors:
        raise ValidationError(tuple(sv.issues))
    if spec.response.source == "labs":
        return _run_in_memory(spec, progress, be, sv, src, validated, timings)

    progress("Deriving endpoints")
    t1 = time.perf_counter()
    # small inputs: a temporary table (planning dominates); large: a lazy view
    # (Spark: always persisted; the cluster spills what does not fit in memory)
    small = sv.n_input_rows <= MATERIALIZE_MAX_ROWS or be.engine == "spark"
    typed = as_temp_view(be, sv.table, "patients", materialize=small)
    table, types = _apply_derive(typed, spec, dict(sv.column_types))
    for rule in RULES.values():
        table = derive_time_to_event(table, rule)
    table = as_temp_view(be, table, "analysis")
    full = table
    if be.engine == "duckdb" and not small and sv.n_input_rows <= ANALYSIS_IN_MEMORY_MAX_ROWS:
        # Every analysis below is a GROUP BY over these columns; computed once into an
        # in-memory table they are not re-parsed from the source (text cleaning, dates) by
        # each of the dozen queries. The identifiers and end sources, needed only for the
        # per-patient listing, stay in the view. Above the cap the view is kept, so memory
        # stays bounded by the distinct times (at 1e7 rows the copy saved no time).
        drop = ["patient_id", *(f"{ep}_end_source" for ep in RULES)]
        table = as_temp_view(be, table.drop(*drop), "analysis_cols", materialize=True)
    unit = spec.study.time_unit
    dpu = days_per_unit(unit)
    # analysed rows = input rows - exclusions (counted by the validator): no extra scan
    n = sv.n_input_rows - sv.n_excluded
    timings["derive"] = time.perf_counter() - t1

    run = _Scaled(spec, be, table, types, sv.units, n, dpu, progress, full=full)
    if spec.data.labs is not None or spec.data.therapy is not None:
        run.warnings.append(
            "[data] labs/therapy are not read by the scaled path: no response_derivation "
            'section (run engine = "pandas" for the IMWG derivation)'
        )
    out: dict[str, Any] = {"schema_version": 1}
    out["study"] = {
        "title": spec.study.title,
        "spec_sha256": spec.sha256,
        "synthetic": spec.study.synthetic,
        "description": spec.study.description,
    }
    out["software"] = software_versions() | _engine_versions(be)
    entry = src.input_entry(sv.n_input_rows)
    entry["engine"] = be.engine
    out["inputs"] = {"patients": entry}
    out["conventions"] = conventions_of(spec)
    centers: dict[str, int] = {}
    if "center" in types:
        counts = run.value_counts("center")
        for c in sorted(counts, key=lambda v: "(missing)" if v is None else str(v)):
            key = "(missing)" if c is None else str(c)
            centers[key] = centers.get(key, 0) + counts[c]
        centers = dict(sorted(centers.items()))
    exclusions = [e.to_dict() for e in validated.exclusions]
    reasons: dict[str, int] = {}
    for e in validated.exclusions:
        reasons[e.reason] = reasons.get(e.reason, 0) + 1
    out["cohort"] = {
        "n": n,
        "n_input_rows": sv.n_input_rows,
        "n_excluded": max(len(exclusions), sv.n_excluded),
        "exclusions": exclusions,
        "exclusion_counts": reasons,
        "centers": centers,
        "period": run.period(),
    }
    out["validation"] = {
        "n_errors": len(validated.errors),
        "n_warnings": sum(1 for i in validated.issues if i.severity == "warning"),
        "issues": [i.to_dict() for i in validated.issues if i.severity != "error"],
    }
    out["report_options"] = {
        "small_cell_k": spec.report.small_cell_k,
        "table1_by": spec.table1.by or spec.report.table1_by,
    }
    out["variables"] = {
        c: {
            "type": types.get(c),
            "unit": sv.units.get(c),
            "label": (vs.label if (vs := spec.variable(c)) is not None else None),
        }
        for c in types
        if not c.startswith("_") and c != "patient_id"
    }

    steps: list[tuple[str, str, Callable[[], Any]]] = [
        ("Kaplan-Meier and follow-up", "endpoints", run.endpoints),
        ("Response", "response", run.response_distribution),
        ("Proportions", "proportions", run.proportions),
        ("Response by factor", "proportion_comparisons", run.proportion_comparisons),
        ("Log-rank tests", "logrank", run.logrank),
        ("Cox models", "cox", run.cox),
        ("Cut-off analyses", "cutpoints", run.cutpoints),
        ("Table 1", "table1", run.table1),
    ]
    for label, key, fn in steps:
        progress(label)
        t = time.perf_counter()
        out[key] = fn()
        timings[key] = time.perf_counter() - t
    progress("Center effects")
    t = time.perf_counter()
    out["center_effects"] = run.center_effects(out["cox"])
    timings["center_effects"] = time.perf_counter() - t
    results = StudyResults(out)
    return StudyRun(
        results=results,
        analysis=run.derived_frame(),
        validation=validated,
        timings=timings,
        warnings=run.warnings,
    )


#: Largest cohort for which ``[response] source = "labs"`` runs on an engine's input: the
#: IMWG derivation works on every patient's lab series in memory (``MMRWE_LABS_MAX_PATIENTS``
#: overrides it).
LABS_MAX_PATIENTS = int(os.environ.get("MMRWE_LABS_MAX_PATIENTS", "1000000"))


def _run_in_memory(
    spec: StudySpec,
    progress: Progress,
    be: Backend,
    sv: ScaledValidation,
    src: Any,
    validated: ValidatedTable,
    timings: dict[str, float],
) -> StudyRun:
    """Validated in the engine, derived and analysed in memory (``[response] source = "labs"``).

    The IMWG derivation follows each patient's lab series (nadirs, confirmations, lines of
    therapy): it runs on the in-memory path's code, so the spec needs no change and the
    results equal the pandas engine's. The patient table is collected once from the engine,
    in its scan order (the source order, which seeded bootstraps use).
    """
    n = sv.n_input_rows - sv.n_excluded
    if n > LABS_MAX_PATIENTS:
        raise SpecError(
            f'[response] source = "labs": the IMWG derivation runs in memory, for up to '
            f"{LABS_MAX_PATIENTS} patients; this cohort has {n}",
            where=Location(spec_key="response.source"),
            fix='derive the responses per center or on a sample (engine = "pandas"), then run '
            'the whole cohort with source = "recorded"; or raise MMRWE_LABS_MAX_PATIENTS',
        )
    from dataclasses import replace

    from mmrwe.cli.pipeline import run_study

    progress(f"Reading the validated patient table from {be.engine}")
    t = time.perf_counter()
    frame = _collect_patients(sv.table, dict(sv.column_types))
    timings["read_validate"] += time.perf_counter() - t
    entry = src.input_entry(sv.n_input_rows)
    entry["engine"] = be.engine
    entry["analysed_in"] = "memory"
    run = run_study(
        spec, progress, validated=replace(validated, frame=frame), extra_inputs={"patients": entry}
    )
    run.timings.update(read_validate=timings["read_validate"])
    return run


def _collect_patients(table: Any, types: dict[str, str]) -> pd.DataFrame:
    """The typed patient table as the in-memory validator's frame (dtypes included)."""
    cols = ["patient_id", *[c for c in types if c != "patient_id"]]
    # no ORDER BY: the engine's scan order is the source order (as _Scaled.frame)
    df = table.select(*cols).to_pyarrow().to_pandas()
    _to_memory_dtypes(df, cols, types)
    return df.reset_index(drop=True)


def _to_memory_dtypes(df: pd.DataFrame, cols: Iterable[str], types: dict[str, str]) -> None:
    """In place: the in-memory validator's dtypes (datetime64[ns], float64, object/None)."""
    for c in cols:
        kind = types.get(c, "categorical")
        if kind == "date":
            df[c] = pd.to_datetime(df[c]).astype("datetime64[ns]")
        elif kind == "numeric":
            df[c] = df[c].astype("float64")
        else:
            df[c] = df[c].astype(object).where(df[c].notna(), None)


def _engine_versions(be: Backend) -> dict[str, str]:
    import ibis

    out = {"ibis": ibis.__version__, "engine": be.engine}
    with contextlib.suppress(Exception):  # a version string is informative only
        out["engine_version"] = str(be.con.version)
    return out


def _validated_table(sv: ScaledValidation, src: Any) -> ValidatedTable:
    """The in-memory ValidatedTable shape (issues, exclusions) for write_outputs."""
    source = SourceTable(
        path=Path(src.name),
        kind=src.kind,
        frame=pd.DataFrame(),
        source_rows=(),
        sha256=src.sha256 or "",
        notes=tuple(src.notes),
    )
    exclusions = tuple(
        Exclusion(e["reason"], e["patient_id"], e["file"], e["row"]) for e in sv.exclusions
    )
    return ValidatedTable(
        pd.DataFrame(),
        dict(sv.column_types),
        tuple(sv.issues),
        exclusions,
        sv.n_input_rows,
        source,
        dict(sv.units),
    )


def _apply_derive(table: Any, spec: StudySpec, types: dict[str, str]) -> tuple[Any, dict[str, str]]:
    """``[[derive]]`` columns as Ibis expressions (as :func:`mmrwe.derive.endpoints.apply_derive`)."""
    import ibis

    from mmrwe.core.errors import DerivationError

    for r in spec.derive:
        src = table[r.from_]
        if r.in_ is not None:
            miss = src.isnull()
            val = any_equal(src.cast("string"), list(r.in_))
        else:
            if types.get(r.from_) != "numeric":
                raise DerivationError(
                    f"[[derive]] {r.name!r}: column {r.from_!r} is not numeric",
                    fix="use in = [...] for a categorical column",
                )
            miss = src.isnull() | src.isnan()
            if r.below is not None:
                val = src < r.below
            elif r.at_least is not None:
                val = src >= r.at_least
            else:
                assert r.above is not None
                val = src > r.above
        if r.labels is not None:
            col = miss.ifelse(ibis.null().cast("string"), val.ifelse(r.labels[0], r.labels[1]))
            types[r.name] = "categorical"
        else:
            col = miss.ifelse(ibis.null().cast("float64"), val.ifelse(1, 0).cast("float64"))
            types[r.name] = "numeric"
        table = table.mutate(**{r.name: col})
    return table, types


class _Scaled:
    """The analyses of one scaled run: counts from the engine, estimators from mmrwe.stats."""

    def __init__(
        self,
        spec: StudySpec,
        be: Backend,
        table: Any,
        types: dict[str, str],
        units: dict[str, str],
        n: int,
        dpu: float,
        progress: Progress,
        *,
        full: Any = None,
    ) -> None:
        self.spec, self.be, self.table, self.types, self.units = spec, be, table, types, units
        # the whole analysis view (identifiers, end sources) for the per-patient listing
        self.full = table if full is None else full
        self.n, self.dpu, self.progress = n, dpu, progress
        self.warnings: list[str] = []
        self._frame: pd.DataFrame | None = None
        self._km_counts: dict[str, Any] = {}
        cols = [c for c in types if c != "patient_id"]
        self.ctx = analyses.Context(
            spec=spec, frame=pd.DataFrame(columns=cols), types=types, units=units
        )

    # ------------------------------------------------------------------ helpers
    def period(self) -> dict[str, str | None]:
        """First and last start date, latest follow-up (cohort.period), in one query."""
        t = self.table
        row = (
            t.aggregate(a=t.start_date.min(), b=t.start_date.max(), c=t.last_followup_date.max())
            .to_pyarrow()
            .to_pylist()[0]
        )

        def iso(v: Any) -> str | None:
            return None if v is None else pd.Timestamp(v).date().isoformat()

        return {
            "first_start_date": iso(row["a"]),
            "last_start_date": iso(row["b"]),
            "latest_followup_date": iso(row["c"]),
        }

    def label(self, column: str) -> Any:
        return label_expr(self.table[column], self.types.get(column) == "numeric")

    def value_counts(self, column: str) -> dict[Any, int]:
        import ibis

        t = self.table.select(_v=self.label(column))
        res = t.group_by("_v").aggregate(n=ibis._.count()).to_pyarrow()
        return {v: int(k) for v, k in zip(res["_v"].to_pylist(), res["n"].to_pylist(), strict=True)}

    def endpoint_counts(self, ep: str) -> Any:
        if ep not in self._km_counts:
            self._km_counts[ep] = survival_counts(self.table, f"{ep}_time_days", f"{ep}_event")
        return self._km_counts[ep]

    def _times(self, days: Any) -> np.ndarray:
        # whole days -> the study unit, with the in-memory path's arithmetic (to_time_unit)
        return np.asarray(days, dtype=np.float64) / self.dpu

    def _row_sections_ok(self, section: str) -> bool:
        if self.n <= ROW_SECTIONS_MAX_ROWS:  # (read at import; see the constant)
            return True
        self.warnings.append(
            f"{section}: not computed for {self.n} patients (> {ROW_SECTIONS_MAX_ROWS}); it "
            'needs every patient row in memory. Run it on a sample or with engine = "pandas".'
        )
        return False

    def frame(self) -> pd.DataFrame:
        """The analysis columns as the in-memory path's frame (row-level sections only)."""
        if self._frame is None:
            cols = [c for c in self.types if c != "patient_id" and self.types[c] != "date"]
            sel = {c: self.table[c] for c in cols}
            for ep in RULES:
                sel[f"{ep}_time_days"] = self.table[f"{ep}_time_days"]
                sel[f"{ep}_event"] = self.table[f"{ep}_event"]
            # no ORDER BY: projections and filters keep the engine's scan order, which is the
            # source order for files (the in-memory frame's order, which seeded bootstraps use)
            df = self.table.select(**sel).to_pandas()
            _to_memory_dtypes(df, cols, self.types)
            for ep in RULES:
                days = df[f"{ep}_time_days"].to_numpy(np.int64)
                df[f"{ep}_time"] = self._times(days)
                df[f"{ep}_event"] = df[f"{ep}_event"].to_numpy(bool)
            self._frame = df
        return self._frame

    def row_ctx(self) -> analyses.Context:
        ctx = analyses.Context(
            spec=self.spec, frame=self.frame(), types=self.types, units=self.units
        )
        ctx.warnings = self.warnings
        return ctx

    def derived_frame(self) -> pd.DataFrame:
        """Per-patient derived columns for derived_patients.csv (up to DERIVED_MAX_ROWS)."""
        cols = ["patient_id"] + (["center"] if "center" in self.types else [])
        ep_cols = []
        for ep in RULES:
            ep_cols += [f"{ep}_time_days", f"{ep}_time", f"{ep}_event", f"{ep}_end_source"]
        derive_cols = [d.name for d in self.spec.derive if d.name not in cols]
        if self.n > DERIVED_MAX_ROWS:
            self.warnings.append(
                f"derived_patients.csv lists no rows for {self.n} patients (> {DERIVED_MAX_ROWS});"
                " query the engine for the derived endpoints instead"
            )
            return pd.DataFrame(columns=cols + ep_cols + derive_cols)
        full = self.full
        sel = {c: full[c] for c in cols + derive_cols}
        for ep in RULES:
            for suffix in ("time_days", "event", "end_source"):
                sel[f"{ep}_{suffix}"] = full[f"{ep}_{suffix}"]
        # through Arrow: DuckDB's own pandas conversion builds Python strings row by row
        df = full.select(**sel).to_pyarrow().to_pandas()
        for c in df.columns:
            if df[c].dtype == object:
                df[c] = df[c].where(df[c].notna(), None)
        for ep in RULES:
            df[f"{ep}_time_days"] = df[f"{ep}_time_days"].astype("int64")
            df[f"{ep}_time"] = self._times(df[f"{ep}_time_days"].to_numpy())
            df[f"{ep}_event"] = df[f"{ep}_event"].astype(bool)
        return df[cols + ep_cols + derive_cols]

    # ---------------------------------------------------------------- endpoints
    def _km(self, days: Any, n_event: Any, n_censor: Any) -> Any:
        from mmrwe.stats.km import kaplan_meier_from_counts

        return kaplan_meier_from_counts(
            self._times(days), n_event, n_censor, conventions=self.ctx.conventions
        )

    def _km_block(self, counts: Any) -> dict[str, Any]:
        """analyses._km_block, from per-time counts."""
        from mmrwe.stats.km import reverse_km_followup_from_counts

        ctx = self.ctx
        conv = ctx.conventions
        days = counts["time_days"].to_numpy()
        ev = counts["n_event"].to_numpy()
        ce = counts["n_censor"].to_numpy()
        km = self._km(days, ev, ce)
        band = km.median.to_dict()
        sym = km.median_symmetric()
        sym_d = {
            "estimate": sym.value,
            "lower": sym.lower,
            "upper": sym.upper,
            "std_err": sym.std_err,
        }
        median = dict(sym_d) if ctx.spec.km.median_ci == "symmetric" else dict(band)
        median["method"] = (
            "median +- z x SE (symmetric)"
            if ctx.spec.km.median_ci == "symmetric"
            else f"{conv.conf_type} band crossing 0.5"
        )
        block: dict[str, Any] = {
            "n": int(km.n),
            "events": int(km.events),
            "censored": int(km.n - km.events),
            "median": median,
            "median_band": band,
            "median_symmetric": sym_d,
            "landmarks": {},
        }
        for t in ctx.spec.km.landmarks:
            s = km.survival_at(t)
            block["landmarks"][analyses._fmt_time(t)] = {
                "surv": s.surv,
                "lower": s.lower,
                "upper": s.upper,
                "std_err": s.std_err,
                "n_risk": int(s.n_risk),
            }
        fu = reverse_km_followup_from_counts(self._times(days), ev, ce, conventions=conv)
        block["followup"] = fu.to_dict()
        ticks = analyses.risk_ticks(
            float(km.time.max()) if km.time.size else 0.0,
            conv.time_unit,
            ctx.spec.km.risk_table_step,
        )
        block["risk_table"] = {
            "times": ticks,
            "n_risk": [int(x) for x in km.n_risk_at(np.asarray(ticks, dtype=float))],
            "rule": "number with time >= t",
        }
        block["curve"] = km.curve_dict()
        return block

    def endpoints(self) -> dict[str, Any]:
        return {ep: self._km_block(self.endpoint_counts(ep)) for ep in ("PFS", "OS")}

    # ------------------------------------------------------- categories, proportions
    def response_distribution(self) -> dict[str, Any] | None:
        from mmrwe.spec.model import RESPONSE_CATEGORIES

        if "best_response" not in self.types:
            return None
        counts = self.value_counts("best_response")
        n = sum(counts.values())
        by_cat = {c: int(counts.get(c, 0)) for c in RESPONSE_CATEGORIES}
        return {
            "variable": "best_response",
            "categories": list(RESPONSE_CATEGORIES),
            "counts": by_cat,
            "missing": int(counts.get(None, 0)),
            "n": n,
            "percent": {c: (100.0 * k / n if n else None) for c, k in by_cat.items()},
        }

    def proportions(self) -> list[dict[str, Any]]:
        if not self.spec.proportions:
            return []  # before the import: scipy.stats takes ~0.3 s to load
        from mmrwe.stats.proportions import proportion_ci

        out = []
        for p in self.spec.proportions:
            counts = self.value_counts(p.variable)
            total = sum(counts.values())
            n_missing = int(counts.get(None, 0))
            successes = sum(k for v, k in counts.items() if v is not None and v in p.success)
            n = int(total if p.denominator == "all" else total - n_missing)
            res: dict[str, Any] = dict(
                proportion_ci(
                    int(successes), n, method=p.method, conf_level=1 - self.spec.study.alpha
                ).to_dict()
            )
            res.update(
                {
                    "name": p.name,
                    "variable": p.variable,
                    "success": list(p.success),
                    "denominator": p.denominator,
                    "n_missing": n_missing,
                }
            )
            out.append(res)
        return out

    def proportion_comparisons(self) -> list[dict[str, Any]]:
        if not self.spec.compare_proportions:
            return []
        if not self._row_sections_ok("compare_proportion (logistic model)"):
            return []
        return analyses.proportion_comparisons(self.row_ctx())

    # ------------------------------------------------------------------ log-rank
    def logrank(self) -> list[dict[str, Any]]:
        from mmrwe.stats.logrank import logrank_from_counts, logrank_trend_from_counts

        ctx = self.ctx
        out = []
        for lr in self.spec.logrank:
            keys = {"_g": self.label(lr.by)}
            if lr.strata:
                keys["_s"] = self.label(lr.strata)
            t = self.table.mutate(**keys)
            counts = survival_counts(
                t, f"{lr.endpoint}_time_days", f"{lr.endpoint}_event", list(keys)
            ).to_pandas()
            miss = counts["_g"].isna()
            if lr.strata:
                miss |= counts["_s"].isna()
            n_excl = int((counts["n_event"] + counts["n_censor"])[miss].sum())
            kept = counts[~miss]
            levels = ctx.levels(lr.by, pd.Series(kept["_g"].unique(), dtype=object))
            entry: dict[str, Any] = {
                "endpoint": lr.endpoint,
                "by": lr.by,
                "strata": lr.strata,
                "n_excluded_missing": n_excl,
            }
            days = kept["time_days"].to_numpy()
            g = kept["_g"].to_numpy(dtype=object)
            ev, ce = kept["n_event"].to_numpy(), kept["n_censor"].to_numpy()
            s = kept["_s"].to_numpy(dtype=object) if lr.strata else None
            try:
                if kept.empty:
                    raise EstimationError(
                        "There is only 1 group (no rows left): the log-rank test needs at least two groups",
                        fix="check the grouping variable and missing values",
                    )
                res = logrank_from_counts(
                    self._times(days), g, ev, ce, strata=s, rho=lr.rho, n_excluded_missing=n_excl
                )
            except EstimationError as exc:
                entry.update(
                    {"groups": levels, "chisq": None, "df": None, "p": None, "note": exc.what}
                )
                out.append(entry)
                continue
            d = res.to_dict()
            d.pop("n_excluded_missing", None)
            entry.update(d)
            if lr.trend:
                scores = np.arange(1, len(levels) + 1, dtype=float)
                tr = logrank_trend_from_counts(
                    self._times(days), g, ev, ce,
                    scores=dict(zip(levels, scores, strict=True)), strata=s,
                    n_excluded_missing=n_excl,
                )  # fmt: skip
                entry["trend"] = tr.to_dict()
            all_days = self.endpoint_counts(lr.endpoint)["time_days"].to_numpy()
            ticks = analyses.risk_ticks(
                float(self._times(all_days).max()) if all_days.size else 0.0,
                ctx.conventions.time_unit,
                ctx.spec.km.risk_table_step,
            )
            # per-level curves ignore strata: sum the counts over strata per (level, time)
            per = kept.groupby(["_g", "time_days"], sort=True)[["n_event", "n_censor"]].sum()
            curves = {}
            for lv in levels:
                sub = per.loc[lv].reset_index()
                km = self._km(
                    sub["time_days"].to_numpy(),
                    sub["n_event"].to_numpy(),
                    sub["n_censor"].to_numpy(),
                )
                curves[lv] = analyses.group_curve(ctx, km, ticks)
            entry["curves"] = curves
            entry["levels"] = levels
            out.append(entry)
        return out

    # ----------------------------------------------------------------------- Cox
    def cox(self) -> list[dict[str, Any]]:
        out = []
        for cx in self.spec.cox:
            if cx.robust or cx.cluster or cx.firth == "always":
                if not self._row_sections_ok(f"cox {cx.endpoint} (robust, clustered or Firth)"):
                    out.append(
                        {
                            "endpoint": cx.endpoint,
                            "terms": list(cx.terms),
                            "note": "not computed at this size",
                        }
                    )
                    continue
                out.append(analyses._cox_one(self.row_ctx(), cx))
                continue
            out.append(self._cox_chunked(cx))
        return out

    def _cox_chunked(self, cx: CoxSpec) -> dict[str, Any]:
        import ibis

        from mmrwe.stats.cox_scaled import cox_fit_chunked, cox_zph_chunked

        ctx = self.ctx
        t = self.table
        keep = ibis.literal(True)
        for c in (*cx.terms, *[c for c in (cx.strata, cx.cluster) if c]):
            keep = keep & t[c].notnull()
            if self.types.get(c) == "numeric":
                keep = keep & ~t[c].isnan()
        kept = t.filter(keep)
        cols: dict[str, Any] = {}
        names: list[str] = []
        terms_of: list[str] = []
        info: dict[str, Any] = {}
        for term in cx.terms:
            if ctx.is_numeric(term):
                cols[f"_x{len(names)}"] = kept[term].cast("float64")
                names.append(term)
                terms_of.append(term)
                info[term] = {"type": "numeric", "unit": self.units.get(term)}
                continue
            lab = label_expr(kept[term], self.types.get(term) == "numeric")
            counts = kept.select(_v=lab).group_by("_v").aggregate(n=ibis._.count()).to_pyarrow()
            per_level = dict(zip(counts["_v"].to_pylist(), counts["n"].to_pylist(), strict=True))
            levels = ctx.levels(term, pd.Series(list(per_level), dtype=object))
            reference = dict(cx.reference)
            ref = reference.get(term, levels[0] if levels else None)
            if ref not in levels:
                raise SpecError(
                    f"reference level {ref!r} of {term!r} does not occur among the analysed rows",
                    fix=f"use one of: {', '.join(levels)}",
                )
            info[term] = {
                "type": "categorical",
                "reference": ref,
                "levels": levels,
                "n_per_level": {lv: int(per_level[lv]) for lv in levels},
            }
            for lv in levels:
                if lv == ref:
                    continue
                cols[f"_x{len(names)}"] = (lab == lv).ifelse(1, 0).cast("float64")
                names.append(f"{term}={lv}")
                terms_of.append(term)
        n_strata: int | None = None
        if cx.strata:
            slab = label_expr(kept[cx.strata], self.types.get(cx.strata) == "numeric")
            s_levels = sorted(
                kept.select(_v=slab).distinct().to_pyarrow()["_v"].to_pylist(), key=str
            )
            s_levels = list(np.unique(np.array(s_levels, dtype=object)))
            n_strata = len(s_levels)
            code = ibis.cases(*[(slab == lv, k) for k, lv in enumerate(s_levels)], else_=-1)
            cols["_s"] = code.cast("int64")
        design = kept.select(
            _t=kept[f"{cx.endpoint}_time_days"].cast("int64"),
            _e=kept[f"{cx.endpoint}_event"].ifelse(1, 0),
            **cols,
        )
        entry: dict[str, Any] = {
            "endpoint": cx.endpoint,
            "terms": list(cx.terms),
            "ties": cx.ties,
            "n_excluded_missing": 0,
            "strata": cx.strata,
            "term_info": info,
        }
        if cx.name:
            entry["name"] = cx.name
        p = len(names)
        spill = _Spill(self.be, design, p, with_strata=cx.strata is not None, dpu=self.dpu)
        try:
            entry["n_excluded_missing"] = self.n - spill.n
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                chunked = cox_fit_chunked(
                    spill.source, names=names, ties=cx.ties, n_strata=n_strata, terms=terms_of
                )
            fit = chunked.result
            d = fit.to_dict()
            entry.update({k: v for k, v in d.items() if k not in entry or k in ("n", "events")})
            entry["warnings"] = [str(w.message) for w in caught] + [
                w for w in fit.warnings if w not in [str(x.message) for x in caught]
            ]
            if cx.ph_test:
                try:
                    entry["ph_test"] = cox_zph_chunked(
                        chunked, spill.source, transform=cx.ph_transform
                    ).to_dict()
                except MmrweError as exc:
                    entry["ph_test"] = None
                    entry["warnings"].append(f"PH test not computed: {exc.what}")
                except np.linalg.LinAlgError:
                    entry["ph_test"] = None
                    entry["warnings"].append("PH test not computed: singular information")
        finally:
            spill.close()
        separated = any(
            "infinite" in w or "monotone" in w.lower() or "separation" in w.lower()
            for w in entry["warnings"]
        )
        if cx.firth == "auto" and separated and self._row_sections_ok("Firth Cox"):
            row = analyses._cox_one(self.row_ctx(), cx)
            entry["firth"] = row.get("firth")
        for w in entry["warnings"]:
            self.warnings.append(f"cox {cx.endpoint} ~ {' + '.join(cx.terms)}: {w}")
        return entry

    # ----------------------------------------------------- row-level sections
    def center_effects(self, cox_results: list[dict[str, Any]]) -> dict[str, Any]:
        """results.json ``center_effects``: the in-memory code up to the row limit; above,
        per-center counts and log-rank tests by center from counts, no Cox heterogeneity."""
        from dataclasses import replace

        from mmrwe.cli.pool_cmd import center_effects_in
        from mmrwe.spec.model import LogrankSpec

        if "center" not in self.types:
            return {"centers": [], "statement": "no center column: center effects not assessed"}
        if self._row_sections_ok("center_effects (Cox heterogeneity)"):
            return center_effects_in(self.row_ctx(), cox_results)
        t = self.table.mutate(_c=self.label("center"))
        rows = (
            t.group_by("_c")
            .aggregate(
                n=t.count(),
                PFS_events=t.PFS_event.ifelse(1, 0).sum(),
                OS_events=t.OS_event.ifelse(1, 0).sum(),
            )
            .to_pyarrow()
            .to_pylist()
        )
        by = {r["_c"]: r for r in rows if r["_c"] is not None}
        centers = self.ctx.levels("center", pd.Series(list(by), dtype=object))
        out: dict[str, Any] = {
            "centers": centers,
            "counts": {
                c: {"n": int(by[c]["n"]), "PFS_events": int(by[c]["PFS_events"] or 0),
                    "OS_events": int(by[c]["OS_events"] or 0)}
                for c in centers
            },
            "endpoints": {},
            "cox": [],
        }  # fmt: skip
        if len(centers) < 2:
            out["statement"] = f"all analysed patients come from one center ({', '.join(centers)})"
            return out
        saved = self.spec
        self.spec = replace(
            saved, logrank=tuple(LogrankSpec(ep, by="center") for ep in ("PFS", "OS"))
        )
        try:
            for entry in self.logrank():
                out["endpoints"][entry["endpoint"]] = entry
        finally:
            self.spec = saved
        for k, cx in enumerate(self.spec.cox):
            out["cox"].append(
                {"index": k, "endpoint": cx.endpoint, "terms": list(cx.terms),
                 "note": f"Cox heterogeneity by center not computed for {self.n} patients"}
            )  # fmt: skip
        out["statement"] = (
            "center effects: log-rank tests by center only (Cox heterogeneity needs every "
            "patient row in memory)"
        )
        return out

    def cutpoints(self) -> list[dict[str, Any]]:
        if not self.spec.cutpoints or not self._row_sections_ok("cutpoint"):
            return []
        return analyses.cutpoints(self.row_ctx())

    def table1(self) -> dict[str, Any] | None:
        if not self._row_sections_ok("table1"):
            return None
        return analyses.table1(self.row_ctx())


class _Spill:
    """The Cox design (time, event, [stratum], X) streamed once to a local binary file.

    Every Newton step reads it back in chunks of :data:`COX_CHUNK_ROWS` rows, so the
    engine is queried once per model and Python holds one chunk at a time.
    """

    def __init__(self, be: Backend, design: Any, p: int, *, with_strata: bool, dpu: float) -> None:
        self.p, self.with_strata, self.dpu = p, with_strata, dpu
        self.width = 2 + p + (1 if with_strata else 0)
        self.dir = Path(tempfile.mkdtemp(prefix="mmrwe-cox-"))
        self.path = self.dir / "design.f64"
        self.n = 0
        names = ["_t", "_e"] + (["_s"] if with_strata else []) + [f"_x{j}" for j in range(p)]
        with self.path.open("wb") as fh:
            for batch in iter_batches(be, design.select(*names), COX_CHUNK_ROWS):
                if batch.num_rows == 0:
                    continue
                block = np.empty((batch.num_rows, self.width), dtype=np.float64)
                for j, name in enumerate(names):
                    block[:, j] = batch.column(name).to_numpy(zero_copy_only=False)
                block.tofile(fh)
                self.n += batch.num_rows

    def source(self) -> Iterable[tuple[Any, Any, Any, Any]]:
        rows = COX_CHUNK_ROWS
        with self.path.open("rb") as fh:
            while True:
                block = np.fromfile(fh, dtype=np.float64, count=rows * self.width)
                if block.size == 0:
                    break
                block = block.reshape(-1, self.width)
                off = 3 if self.with_strata else 2
                strata = block[:, 2].astype(np.int64) if self.with_strata else None
                yield block[:, 0] / self.dpu, block[:, 1] > 0, block[:, off:], strata

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


__all__ = ["ROW_SECTIONS_MAX_ROWS", "connect_for", "run_study_scaled"]
