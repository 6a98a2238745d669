"""Writing a run's files: results.json, the per-patient listing, the audit, the reports.

A run writes into a staging folder that replaces the output folder's mmrwe files all at once
(:mod:`mmrwe.core.outdir`): a killed, interrupted or failed run leaves the previous outputs
as they were, never a mix. Files in the output folder that mmrwe did not write are kept.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mmrwe.core.errors import InputError, Location
from mmrwe.core.fileio import atomic_write, file_sha256
from mmrwe.core.outdir import OutputFolder
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


def rule_texts() -> dict[str, str]:
    """The generic words of every row-level validation rule, by code (docs/validation.md):
    what a publishable exclusion reason says instead of the row's cells."""
    from mmrwe.io.redcap import RULES as REDCAP_RULES
    from mmrwe.validate.patients import RULES

    texts = {r.code: r.what for r in RULES}
    texts.update({r.code: r.what for r in REDCAP_RULES})
    return texts


#: Top-level names mmrwe writes into an output folder (with those a previous run.json lists).
OWNED_NAMES = frozenset(
    {
        "results.json",
        "report.html",
        "report.docx",
        "run.json",
        "validation.json",
        "derived_patients.csv",
        "derived_patients.parquet",
        "response_audit.jsonl",
        ERROR_LOG,
        "figures",
        "restricted",
        "demo-input",
        "pooled_patients.csv",
        "pooling.json",
    }
)


def owned_names(out_dir: Path) -> set[str]:
    """The entries of ``out_dir`` that an earlier mmrwe run wrote (replaced by the next run)."""
    names = set(OWNED_NAMES)
    try:
        info = json.loads((out_dir / "run.json").read_text(encoding="utf-8"))
        files = info.get("files") or {}
        names |= {str(v).split("/", 1)[0] for v in files.values() if isinstance(v, str)}
    except (OSError, ValueError, AttributeError):
        pass
    return {n for n in names if n and n not in (".", "..")}


def check_out_dir(out_dir: Path, inputs: Sequence[Path]) -> None:
    """Refuse an output folder that holds an input (at any depth), so inputs are never touched."""
    out = out_dir.resolve()
    for p in inputs:
        if p.exists() and out in p.resolve().parents:
            raise InputError(
                f"the output folder {out_dir} holds the input {p.name}",
                where=Location(file=str(p)),
                fix="choose another --out folder; mmrwe never writes where its inputs are",
            )


def output_folder(out_dir: Path, inputs: Sequence[Path] = ()) -> OutputFolder:
    """The all-or-nothing output folder of a run (open it before the analysis starts, so a
    folder that cannot be written, a full disk or a second run are found in a second)."""
    need = 0
    for p in inputs:
        with contextlib.suppress(OSError):
            need += p.stat().st_size  # the per-patient outputs are about the inputs' size
    return OutputFolder(out_dir, owned_names, need_bytes=need)


def input_hashes(files: Sequence[Path]) -> dict[str, str]:
    """SHA-256 of every input file (checked before and after a run)."""
    return {str(p): file_sha256(p) for p in files if p.exists() and p.is_file()}


def write_outputs(
    run: Any, out_dir: Path, *, progress: Progress = _noop, report: bool = True
) -> dict[str, Path]:
    """Write results.json, validation.json, run.json, the reports and ``restricted/``.

    ``run`` is a :class:`mmrwe.study.pipeline.StudyRun`. The files beside ``restricted/``
    hold aggregates only (no input patient id, no patient-level date); the row-level files
    (derived_patients, response_audit.jsonl, exclusions.csv and, with ``[report]
    patient_listing = true``, patient_listing.csv) go to ``restricted/``, a folder of its
    owner only with files 0600 (contract section 6, :mod:`mmrwe.core.disclosure`).
    """
    from mmrwe.core.disclosure import public_exclusion, public_issue, restricted_dir, seal

    written: dict[str, Path] = {}
    results_path = out_dir / "results.json"
    atomic_write(results_path, run.results.to_json())
    written["results"] = results_path

    import pandas as pd

    from mmrwe.io.write import copy_file, derived_csv_max_rows, write_csv, write_parquet

    private = restricted_dir(out_dir)
    written["restricted_readme"] = private / "README.txt"
    if not isinstance(run.derived, pd.DataFrame):  # streamed to Parquet during the run
        progress("Writing restricted/derived_patients.parquet")
        derived_path = private / "derived_patients.parquet"
        copy_file(run.derived.path, derived_path, mode=0o600)
    elif len(run.derived) > derived_csv_max_rows():
        progress("Writing restricted/derived_patients.parquet")
        derived_path = private / "derived_patients.parquet"
        write_parquet(run.derived, derived_path, mode=0o600)
    else:
        progress("Writing restricted/derived_patients.csv")
        derived_path = private / "derived_patients.csv"
        write_csv(run.derived, derived_path, mode=0o600)
    written["derived_patients"] = derived_path

    if run.response is not None:
        audit_path = private / "response_audit.jsonl"
        run.response.audit.write_jsonl(audit_path, mode=0o600)  # swapped in whole
        written["response_audit"] = audit_path
    exclusions = [e.to_dict() for e in run.validated.exclusions]
    if exclusions:
        import pandas as pd

        excl_path = private / "exclusions.csv"
        frame = pd.DataFrame(exclusions, columns=["patient_id", "reason", "file", "row"])
        frame["row"] = frame["row"].astype("Int64")
        write_csv(frame, excl_path, mode=0o600)
        written["exclusions"] = excl_path
    issues = list(run.validated.issues) + (
        list(run.response.issues) if run.response is not None else []
    )
    if getattr(run, "patient_listing", False):
        listing_path = private / "patient_listing.csv"
        write_csv(_patient_listing(issues, exclusions), listing_path, mode=0o600)
        written["patient_listing"] = listing_path
    val = {
        "issues": [public_issue(i.to_dict()) for i in issues],
        "exclusions": [public_exclusion(e, rule_texts()) for e in exclusions],
    }
    atomic_write(out_dir / "validation.json", json.dumps(val, indent=1, sort_keys=True) + "\n")
    written["validation"] = out_dir / "validation.json"
    seal(private)

    if report:
        from mmrwe.report import build_document, write_figures, write_reports

        progress("Writing report")
        # one document for both reports and the figure files: the same drawings, with the
        # width, palette and annotations of [report] (results.json report_options)
        results = run.results.to_dict()
        doc = build_document(results)
        written.update(write_reports(run.results, out_dir, doc=doc))
        opts = results.get("report_options") or {}
        formats = opts.get("figure_formats") or []
        if formats:
            progress("Writing figure files")
            files = write_figures(
                results,
                out_dir,
                formats=formats,
                dpi=int(opts.get("figure_dpi") or 600),
                width_mm=float(opts.get("figure_width_mm") or 170.0),
                palette=str(opts.get("palette") or "okabe-ito"),
                km_annotations=bool(opts.get("km_annotations", True)),
                doc=doc,
            )
            written.update({f"figure:{name}": path for name, path in files.items()})

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
        # paths relative to the output folder (figures/km_pfs.pdf)
        "files": {k: v.relative_to(out_dir).as_posix() for k, v in written.items()},
    }
    atomic_write(out_dir / "run.json", json.dumps(run_info, indent=1, sort_keys=True) + "\n")
    return written


def _patient_listing(issues: Sequence[Any], exclusions: Sequence[dict[str, Any]]) -> Any:
    """The per-patient QC listing: every finding about a row and every excluded row, with the
    patient id, where it is and the exact words (``[report] patient_listing = true``)."""
    import pandas as pd

    cols = ["patient_id", "file", "row", "column", "code", "severity", "what", "fix"]
    rows: list[dict[str, Any]] = []
    for i in issues:
        w = i.where
        if w.patient_id is None and w.row is None:
            continue
        rows.append({"patient_id": w.patient_id, "file": w.file, "row": w.row,
                     "column": w.column, "code": i.code, "severity": i.severity,
                     "what": i.what, "fix": i.fix})  # fmt: skip
    for e in exclusions:
        rows.append({"patient_id": e.get("patient_id"), "file": e.get("file"), "row": e.get("row"),
                     "column": None, "code": None, "severity": "excluded",
                     "what": e.get("reason"), "fix": None})  # fmt: skip
    frame = pd.DataFrame(rows, columns=cols)
    frame["row"] = frame["row"].astype("Int64")
    return frame


def written_summary(written: dict[str, Path], out_dir: Path) -> str:
    """The sentence the console prints after a run: the files written, the restricted ones
    apart (they hold patient rows and stay at the site)."""
    names: list[str] = []
    for p in written.values():
        if p.name == "README.txt":
            continue
        for base in (Path(out_dir).resolve(), Path(out_dir)):
            try:
                names.append(p.relative_to(base).as_posix())
                break
            except ValueError:
                continue
        else:
            names.append(p.name)
    prefix = "restricted/"
    public = [n for n in names if not n.startswith(prefix)]
    private = [n.removeprefix(prefix) for n in names if n.startswith(prefix)]
    folder = str(out_dir).rstrip("/")
    text = f"Wrote {', '.join(public)} to {folder}/"
    if private:
        text += (
            f"; patient-level rows, to keep at the site: {', '.join(private)} in {folder}/{prefix}"
        )
    return text
