"""The one place that wires the stages: io -> validate -> derive -> stats -> results -> report.

Notebooks call :func:`run_study` exactly as the CLI does.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mmrwe import __version__
from mmrwe.cli import analyses
from mmrwe.core.conventions import DAYS_PER_MONTH
from mmrwe.core.errors import InputError, Location, ValidationError
from mmrwe.core.fileio import atomic_write
from mmrwe.derive.endpoints import RULES, apply_derive, derive_time_to_event, to_time_unit
from mmrwe.io.readers import SourceTable, file_sha256, read_table
from mmrwe.results.model import StudyResults
from mmrwe.spec.model import StudySpec
from mmrwe.validate.patients import ValidatedTable, validate_patients

Progress = Callable[[str], None]


@dataclass
class StudyRun:
    """Everything a run produced: results, the analysis table, validation, timings."""

    results: StudyResults
    analysis: pd.DataFrame
    validation: ValidatedTable
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    response: Any = None  # ResponseDerivation when the spec names a lab table


def _noop(_: str) -> None:
    return None


def load_and_validate(spec: StudySpec, progress: Progress = _noop) -> ValidatedTable:
    """Read the patient table named by the spec and run every validation rule."""
    if spec.data.engine != "pandas":
        from mmrwe.cli.pipeline_scaled import validate_scaled

        return validate_scaled(spec, progress)
    progress("Reading patient table")
    d = spec.data
    source = read_table(
        d.patients,
        sheet=d.sheet,
        delimiter=d.delimiter,
        decimal=d.decimal,
        encoding=d.encoding,
        missing_values=d.missing_values,
    )
    progress("Validating")
    return validate_patients(source, spec)


# Columns a lab/therapy derivation provides; with [response] source = "labs" they replace
# the patient table's own (kept as <name>_recorded).
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


def derive_from_labs(
    spec: StudySpec, validated: ValidatedTable, progress: Progress = _noop
) -> tuple[Any, dict[str, SourceTable]]:
    """IMWG response/progression, lines and refractoriness from the spec's lab and therapy tables.

    Returns the :class:`mmrwe.derive.response.ResponseDerivation` (None without ``[data] labs``)
    and the source tables read (``labs``, ``therapy``).
    """
    if spec.data.labs is None:
        return None, {}
    from mmrwe.derive.response import ResponseParams, derive_response

    d = spec.data
    progress("Reading lab and therapy tables")

    def read(path: Path) -> SourceTable:
        return read_table(
            path,
            delimiter=d.delimiter,
            decimal=d.decimal,
            encoding=d.encoding,
            missing_values=d.missing_values,
        )

    labs = read(spec.data.labs)
    therapy = read(d.therapy) if d.therapy is not None else None
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
    )
    deriv = derive_response(
        validated.frame, labs, therapy, params, date_format=d.date_format, decimal=d.decimal
    )
    sources = {"labs": labs} | ({"therapy": therapy} if therapy is not None else {})
    return deriv, sources


def _derivation_issues(spec: StudySpec, deriv: Any) -> list[Any]:
    """Lab/therapy issues with the spec's acceptances and invalid-row policy applied."""
    from dataclasses import replace as _replace

    accepted = dict(spec.validation.accept)
    out = []
    for i in deriv.issues:
        if i.code in accepted:
            i = _replace(i, severity="accepted", fix=f"accepted in the spec: {accepted[i.code]}")
        elif i.severity == "error" and spec.validation.exclude_invalid_rows:
            i = _replace(i, severity="excluded")  # the derivation leaves the row out
        out.append(i)
    return out


def _apply_derived(
    frame: pd.DataFrame, types: dict[str, str], deriv: Any
) -> tuple[pd.DataFrame, dict[str, str]]:
    per = deriv.per_patient.set_index("patient_id")
    out = frame.copy()
    types = dict(types)
    for col, kind in DERIVED_FROM_LABS.items():
        if col not in per.columns:
            continue
        if col in out.columns:
            out[f"{col}_recorded"] = out[col]
            types[f"{col}_recorded"] = types.get(col, kind)
        values = per[col].reindex(out["patient_id"]).to_numpy()
        if kind == "date":
            out[col] = (
                pd.to_datetime(pd.Series(values), errors="coerce")
                .astype("datetime64[ns]")
                .to_numpy()
            )
        elif kind == "numeric":
            out[col] = (
                pd.to_numeric(pd.Series(values), errors="coerce").astype("float64").to_numpy()
            )
        else:
            out[col] = pd.Series(
                [None if pd.isna(v) else str(v) for v in values], dtype=object, index=out.index
            )
        types[col] = kind
    return out, types


def run_study(
    spec: StudySpec,
    progress: Progress = _noop,
    *,
    validated: ValidatedTable | None = None,
    extra_inputs: dict[str, Any] | None = None,
) -> StudyRun:
    """Run a study spec end to end and return its results (nothing is written).

    Parameters
    ----------
    spec : StudySpec
        The study.
    progress : callable, optional
        Called with the name of each step (the CLI shows it).
    validated : ValidatedTable, optional
        An already read and validated patient table (e.g. pooled from several sites);
        by default the spec's ``[data] patients`` file is read and validated.
    extra_inputs : dict, optional
        More entries for results.json ``inputs`` (e.g. ``sites`` when pooling).

    Raises
    ------
    ValidationError
        When validation found errors that the spec neither accepts nor excludes.
    """
    if spec.data.engine != "pandas" and validated is None:
        # [data] engine = "duckdb" | "postgres" | "spark": the same analyses, pushed down
        from mmrwe.cli.pipeline_scaled import run_study_scaled

        return run_study_scaled(spec, progress)
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    if validated is None:
        validated = load_and_validate(spec, progress)
    timings["read_validate"] = time.perf_counter() - t0
    if validated.errors:
        raise ValidationError(validated.issues)
    source = validated.source

    t1 = time.perf_counter()
    deriv, deriv_sources = derive_from_labs(spec, validated, progress)
    deriv_issues = _derivation_issues(spec, deriv) if deriv is not None else []
    if any(i.severity == "error" for i in deriv_issues):
        raise ValidationError([*validated.issues, *deriv_issues])
    frame, types = validated.frame, validated.column_types
    if deriv is not None and spec.response.source == "labs":
        frame, types = _apply_derived(frame, types, deriv)
    timings["derive_response"] = time.perf_counter() - t1

    progress("Deriving endpoints")
    t1 = time.perf_counter()
    frame, types = apply_derive(frame, spec.derive, types)
    unit = spec.study.time_unit
    for name, rule in RULES.items():
        tte = derive_time_to_event(frame, rule)
        frame[f"{name}_time"] = to_time_unit(tte["time_days"].to_numpy(), unit)
        frame[f"{name}_event"] = tte["is_event"].to_numpy()
        frame[f"{name}_time_days"] = tte["time_days"].to_numpy()
        frame[f"{name}_end_source"] = tte["end_source"].to_numpy()
    timings["derive"] = time.perf_counter() - t1

    ctx = analyses.Context(spec=spec, frame=frame, types=types, units=validated.units)
    out: dict[str, Any] = {"schema_version": 1}
    out["study"] = {
        "title": spec.study.title,
        "spec_sha256": spec.sha256,
        "synthetic": spec.study.synthetic,
        "description": spec.study.description,
    }
    out["software"] = software_versions()
    out["inputs"] = {"patients": _input_entry(source), **(extra_inputs or {})}
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
            else {str(k): int(v) for k, v in agree.value_counts().sort_index().items()},
            "n_issues": len(deriv_issues),
        }
    out["conventions"] = conventions_of(spec)
    out["cohort"] = _cohort(validated, frame)
    all_issues = [*validated.issues, *deriv_issues]
    out["validation"] = {
        "n_errors": len(validated.errors),
        "n_warnings": sum(1 for i in all_issues if i.severity == "warning"),
        "issues": [i.to_dict() for i in all_issues if i.severity != "error"],
    }
    out["report_options"] = {
        "small_cell_k": spec.report.small_cell_k,
        "table1_by": spec.table1.by or spec.report.table1_by,
    }
    out["variables"] = {
        c: {
            "type": types.get(c),
            "unit": validated.units.get(c),
            "label": _label_of(spec, c),
        }
        for c in frame.columns
        if not c.startswith("_") and c in types
    }

    steps: list[tuple[str, str, Callable[[analyses.Context], Any]]] = [
        ("Kaplan-Meier and follow-up", "endpoints", analyses.endpoints),
        ("Response", "response", analyses.response_distribution),
        ("Proportions", "proportions", analyses.proportions),
        ("Response by factor", "proportion_comparisons", analyses.proportion_comparisons),
        ("Log-rank tests", "logrank", analyses.logrank),
        ("Cox models", "cox", analyses.cox),
        ("Cut-off analyses", "cutpoints", analyses.cutpoints),
        ("Table 1", "table1", analyses.table1),
    ]
    for label, key, fn in steps:
        progress(label)
        t = time.perf_counter()
        out[key] = fn(ctx)
        timings[key] = time.perf_counter() - t
    progress("Center effects")
    t = time.perf_counter()
    from mmrwe.cli.pool_cmd import center_effects_in

    out["center_effects"] = center_effects_in(ctx, out["cox"])
    timings["center_effects"] = time.perf_counter() - t
    results = StudyResults(out)
    return StudyRun(
        results=results,
        analysis=frame,
        validation=validated,
        timings=timings,
        warnings=ctx.warnings,
        response=deriv,
    )


def _label_of(spec: StudySpec, column: str) -> str | None:
    v = spec.variable(column)
    return v.label if v is not None else None


def conventions_of(spec: StudySpec) -> dict[str, Any]:
    """The conventions every result was computed with (results.json ``conventions``)."""
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


def software_versions() -> dict[str, str]:
    """Versions that can change a number (recorded in results.json)."""
    import scipy

    return {
        "mmrwe": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
    }


def _input_entry(source: SourceTable) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "file": source.path.name,
        "sha256": source.sha256,
        "n_rows": source.n_rows,
        "format": source.kind,
    }
    if source.sheet:
        entry["sheet"] = source.sheet
    if source.notes:
        entry["notes"] = list(source.notes)
    return entry


def _cohort(validated: ValidatedTable, frame: pd.DataFrame) -> dict[str, Any]:
    centers: dict[str, int] = {}
    if "center" in frame.columns:
        for c, k in frame["center"].fillna("(missing)").value_counts().sort_index().items():
            centers[str(c)] = int(k)
    exclusions = [e.to_dict() for e in validated.exclusions]
    reasons: dict[str, int] = {}
    for e in validated.exclusions:
        reasons[e.reason] = reasons.get(e.reason, 0) + 1
    period: dict[str, str | None] = {
        "first_start_date": None,
        "last_start_date": None,
        "latest_followup_date": None,
    }
    if len(frame):
        period = {
            "first_start_date": _iso(frame["start_date"].min()),
            "last_start_date": _iso(frame["start_date"].max()),
            "latest_followup_date": _iso(frame["last_followup_date"].max()),
        }
    return {
        "n": len(frame),
        "n_input_rows": validated.n_input_rows,
        "n_excluded": len(exclusions),
        "exclusions": exclusions,
        "exclusion_counts": reasons,
        "centers": centers,
        "period": period,
    }


def _iso(ts: Any) -> str | None:
    return None if pd.isna(ts) else pd.Timestamp(ts).date().isoformat()


# --- writing outputs -------------------------------------------------------------------


def check_out_dir(spec: StudySpec, out_dir: Path) -> None:
    """Refuse an output folder that is an input folder, so inputs can never be overwritten."""
    out = out_dir.resolve()
    inputs = [p for p in (spec.data.patients, spec.data.labs, spec.data.therapy) if p is not None]
    for p in inputs:
        if p.resolve().parent == out:
            raise InputError(
                f"the output folder {out_dir} holds the input {p.name}",
                where=Location(file=str(p)),
                fix="choose another --out folder; mmrwe never writes next to its inputs",
            )


def input_hashes(spec: StudySpec) -> dict[str, str]:
    """SHA-256 of every input file (checked before and after a run)."""
    files = [spec.path] + [
        p for p in (spec.data.patients, spec.data.labs, spec.data.therapy) if p is not None
    ]
    return {str(p): file_sha256(p) for p in files if p.exists()}


def write_outputs(
    run: StudyRun,
    spec: StudySpec,
    out_dir: Path,
    *,
    progress: Progress = _noop,
    report: bool = True,
) -> dict[str, Path]:
    """Write results.json, derived_patients.csv, validation.json, run.json and the reports."""
    written: dict[str, Path] = {}
    results_path = out_dir / "results.json"
    atomic_write(results_path, run.results.to_json())
    written["results"] = results_path

    cols = ["patient_id"] + [c for c in ("center",) if c in run.analysis.columns]
    for ep in RULES:
        cols += [f"{ep}_time_days", f"{ep}_time", f"{ep}_event", f"{ep}_end_source"]
    derived = run.analysis[cols + [d.name for d in spec.derive if d.name not in cols]].copy()
    if run.response is not None:
        # contract 2b: the lab/therapy derivation's per-patient columns (IMWG calls, lines,
        # refractoriness), whether or not the analyses use them
        per = run.response.per_patient.set_index("patient_id")
        per = per.reindex(derived["patient_id"]).reset_index(drop=True)
        derived = pd.concat(
            [
                derived.reset_index(drop=True),
                per.drop(columns=[c for c in per.columns if c in derived.columns]),
            ],
            axis=1,
        )
    derived_path = out_dir / "derived_patients.csv"
    atomic_write(
        derived_path, derived.to_csv(index=False, float_format="%.17g", lineterminator="\n")
    )
    written["derived_patients"] = derived_path

    if run.response is not None:
        audit_path = out_dir / "response_audit.jsonl"
        tmp = out_dir / ".response_audit.jsonl.tmp"
        run.response.audit.write_jsonl(tmp)
        tmp.replace(audit_path)  # atomic, as every other output
        written["response_audit"] = audit_path
    val = {
        "issues": [i.to_dict() for i in run.validation.issues]
        + ([i.to_dict() for i in run.response.issues] if run.response is not None else []),
        "exclusions": [e.to_dict() for e in run.validation.exclusions],
    }
    atomic_write(out_dir / "validation.json", json.dumps(val, indent=1, sort_keys=True) + "\n")
    written["validation"] = out_dir / "validation.json"

    if report:
        from mmrwe.report import write_reports

        progress("Writing report")
        written.update(write_reports(run.results, out_dir))

    run_info = {
        "mmrwe": __version__,
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "timings_s": {k: round(v, 4) for k, v in run.timings.items()},
        "warnings": run.warnings,
        "files": {k: v.name for k, v in written.items()},
    }
    atomic_write(out_dir / "run.json", json.dumps(run_info, indent=1, sort_keys=True) + "\n")
    return written
