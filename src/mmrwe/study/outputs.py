"""Writing a run's files: results.json, the per-patient listing, the audit, the reports.

Each file is written atomically (a temporary file in the same folder, then a rename), so a
crash never leaves a half-written file. Only files mmrwe writes are replaced.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mmrwe.core.errors import InputError, Location
from mmrwe.core.fileio import atomic_write, file_sha256
from mmrwe.core.version import __version__
from mmrwe.spec.model import StudySpec
from mmrwe.study.analyses.common import ERROR_LOG

Progress = Callable[[str], None]


def _noop(_: str) -> None:
    return None


def input_files(spec: StudySpec) -> list[Path]:
    """The spec and every input file it names."""
    d = spec.data
    files = [spec.path, *(p for p in (d.patients, d.labs, d.therapy) if p is not None)]
    if d.redcap is not None:
        files += [p for p in d.redcap.files if p not in files]
    return [p for p in files if p is not None]


def check_out_dir(out_dir: Path, inputs: Sequence[Path]) -> None:
    """Refuse an output folder that holds an input, so inputs can never be overwritten."""
    out = out_dir.resolve()
    for p in inputs:
        if p.exists() and p.resolve().parent == out:
            raise InputError(
                f"the output folder {out_dir} holds the input {p.name}",
                where=Location(file=str(p)),
                fix="choose another --out folder; mmrwe never writes next to its inputs",
            )


def input_hashes(files: Sequence[Path]) -> dict[str, str]:
    """SHA-256 of every input file (checked before and after a run)."""
    return {str(p): file_sha256(p) for p in files if p.exists() and p.is_file()}


def write_outputs(
    run: Any, out_dir: Path, *, progress: Progress = _noop, report: bool = True
) -> dict[str, Path]:
    """Write results.json, derived_patients.csv, validation.json, run.json and the reports.

    ``run`` is a :class:`mmrwe.study.pipeline.StudyRun`.
    """
    written: dict[str, Path] = {}
    results_path = out_dir / "results.json"
    atomic_write(results_path, run.results.to_json())
    written["results"] = results_path

    derived_path = out_dir / "derived_patients.csv"
    text = run.derived.to_csv(index=False, float_format="%.17g", lineterminator="\n")
    atomic_write(derived_path, text)
    written["derived_patients"] = derived_path

    if run.response is not None:
        audit_path = out_dir / "response_audit.jsonl"
        tmp = out_dir / ".response_audit.jsonl.tmp"
        run.response.audit.write_jsonl(tmp)
        tmp.replace(audit_path)  # atomic, as every other output
        written["response_audit"] = audit_path
    issues = list(run.validated.issues) + (
        list(run.response.issues) if run.response is not None else []
    )
    val = {
        "issues": [i.to_dict() for i in issues],
        "exclusions": [e.to_dict() for e in run.validated.exclusions],
    }
    atomic_write(out_dir / "validation.json", json.dumps(val, indent=1, sort_keys=True) + "\n")
    written["validation"] = out_dir / "validation.json"

    if report:
        from mmrwe.report import write_reports

        progress("Writing report")
        written.update(write_reports(run.results, out_dir))

    if run.failures:
        # internal errors of single analyses: their tracebacks, for a bug report (never on
        # the console); the study's other results are written as usual
        log = "".join(f"== {key}\n{trace}\n" for key, trace in run.failures)
        atomic_write(out_dir / ERROR_LOG, log)
        written["error_log"] = out_dir / ERROR_LOG
    run_info = {
        "mmrwe": __version__,
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "timings_s": {k: round(v, 4) for k, v in run.timings.items()},
        "warnings": run.warnings,
        "failed": [{"spec_key": k, "reason": r} for k, r in run.failed],
        "files": {k: v.name for k, v in written.items()},
    }
    atomic_write(out_dir / "run.json", json.dumps(run_info, indent=1, sort_keys=True) + "\n")
    return written
