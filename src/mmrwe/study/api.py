"""The Python API: :class:`Study` runs a study spec, :class:`StudyResult` holds what it found.

>>> import mmrwe                                                    # doctest: +SKIP
>>> result = mmrwe.Study.from_toml("study.toml").run()              # doctest: +SKIP
>>> result.to_dict()["endpoints"]["PFS"]["median"]                  # doctest: +SKIP
>>> result.write("out/")                                            # doctest: +SKIP

``Study.run()`` is what ``mmrwe analyze`` runs; ``result.write(dir)`` writes the same files
with the same bytes (results.json is byte-identical; run.json holds the run time).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmrwe.core.errors import Issue, MmrweError, SpecError
from mmrwe.results.model import StudyResults
from mmrwe.spec.loader import load_spec, parse_spec
from mmrwe.spec.model import StudySpec
from mmrwe.validate.patients import Exclusion

Progress = Callable[[str], None]


def _noop(_: str) -> None:
    return None


@dataclass(frozen=True)
class ValidationReport:
    """Every validation finding of a study's data, and how each input row was used.

    Attributes
    ----------
    issues : tuple of Issue
        Each with ``code``, ``severity`` ("error", "warning", "accepted", "excluded"),
        ``what``, ``where`` (file, sheet, row, column, patient, spec key) and ``fix``.
    exclusions : tuple of Exclusion
        Input rows not analysed, with the reason.
    n_input_rows : int
        Rows read from the patient table.
    n_analysed : int
        Rows that go on to the analysis (``n_input_rows`` minus the excluded rows).
    source : str
        The patient table's name.
    """

    issues: tuple[Issue, ...]
    exclusions: tuple[Exclusion, ...]
    n_input_rows: int
    n_analysed: int
    source: str

    @property
    def errors(self) -> tuple[Issue, ...]:
        """Issues that stop a run."""
        return tuple(i for i in self.issues if i.severity == "error")

    @property
    def warnings(self) -> tuple[Issue, ...]:
        """Issues reported without stopping a run."""
        return tuple(i for i in self.issues if i.severity != "error")

    @property
    def ok(self) -> bool:
        """True when nothing stops a run."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``issues`` and ``exclusions`` (as ``mmrwe validate --json`` writes)."""
        return {
            "issues": [i.to_dict() for i in self.issues],
            "exclusions": [e.to_dict() for e in self.exclusions],
        }


class StudyResult:
    """The outcome of :meth:`Study.run`: results, validation, and the files to write.

    Attributes
    ----------
    results : StudyResults
        The immutable results tree (results.json).
    validation : ValidationReport
        What validation found (warnings, accepted and excluded issues; no errors, or the run
        would have stopped).
    warnings : list of str
        Warnings of the analyses (also in run.json and the reports).
    timings : dict
        Seconds per step.
    """

    def __init__(self, run: Any, spec: StudySpec) -> None:
        self._run = run
        self.spec = spec
        self.results: StudyResults = run.results
        lab_issues = tuple(run.response.issues) if run.response is not None else ()
        v = run.validated
        self.validation = ValidationReport(
            tuple(v.issues) + lab_issues, tuple(v.exclusions), v.n_input_rows, v.n_analysed,
            run.source.name,
        )  # fmt: skip
        self.warnings: list[str] = list(run.warnings)
        self.timings: dict[str, float] = dict(run.timings)

    @property
    def failed(self) -> list[tuple[str, str | None]]:
        """(spec key, reason) of every analysis that failed; the others are in the results."""
        return list(self._run.failed)

    def __repr__(self) -> str:
        r = self.results
        return f"<StudyResult {r['study']['title']!r}: n = {r['cohort']['n']}>"

    def to_dict(self) -> dict[str, Any]:
        """results.json as plain dicts and lists (equal to the file ``mmrwe analyze`` writes)."""
        return self.results.to_dict()

    def to_json(self) -> str:
        """The exact text of results.json."""
        return self.results.to_json()

    @property
    def derived_patients(self) -> Any:
        """Per patient: endpoints, ``[[derive]]`` columns, lab-derived calls (a DataFrame)."""
        import pandas as pd

        derived = self._run.derived
        # a large study's table was streamed to Parquet during the run: read it back
        return derived.copy() if isinstance(derived, pd.DataFrame) else derived.to_frame()

    def write(
        self, out_dir: str | Path, *, report: bool = True, progress: Progress = _noop
    ) -> dict[str, Path]:
        """Write every output file into ``out_dir`` (created if missing), all or nothing.

        Returns a mapping of file kind to path. The same files, with the same bytes, as
        ``mmrwe analyze --out out_dir``. The files are written into a staging folder and
        swapped in together: if writing fails (disk full, interrupted), ``out_dir`` keeps
        its previous outputs. Files in ``out_dir`` that mmrwe did not write are kept.

        Raises
        ------
        OutputError
            ``out_dir`` is a file, cannot be written, the disk is full, or another run is
            writing to it.
        """
        from mmrwe.core.outdir import os_error_words
        from mmrwe.study.outputs import check_out_dir, input_files, output_folder

        out = Path(out_dir)
        files = input_files(self.spec)
        check_out_dir(out, files)
        with output_folder(out, files) as folder:
            try:
                written = self.write_into(folder.staging, report=report, progress=progress)
            except OSError as exc:
                raise os_error_words(exc, out) from None
            folder.commit()
        return folder.final(written.items())

    def write_into(
        self, folder: Path, *, report: bool = True, progress: Progress = _noop
    ) -> dict[str, Path]:
        """Write the outputs straight into ``folder``, file by file (no staging; :meth:`write`
        is all or nothing). Operating-system errors are raised as they are."""
        from mmrwe.study.outputs import write_outputs

        return write_outputs(self._run, folder, progress=progress, report=report)


class Study:
    """A study spec, ready to validate and run.

    Parameters
    ----------
    spec : StudySpec or mapping
        A parsed spec, or the spec as a dict (the TOML's tables as nested dicts).
    base_dir : str or Path
        Folder that relative data paths of a dict spec are resolved against.
    patients : pandas.DataFrame or pyarrow.Table, optional
        The patient table's cells, instead of the file named by ``[data] patients``
        (validated and analysed exactly as a file would be).

    Raises
    ------
    SpecError
        An unknown key, a wrong type, a value outside its allowed set.
    """

    def __init__(
        self,
        spec: StudySpec | Mapping[str, Any],
        base_dir: str | Path = ".",
        *,
        patients: Any = None,
    ) -> None:
        if isinstance(spec, StudySpec):
            self.spec = spec
        elif isinstance(spec, Mapping):
            doc = dict(spec)
            if patients is not None and "patients" not in dict(doc.get("data", {})):
                doc["data"] = {**dict(doc.get("data", {})), "patients": "(in memory)"}
            text = json.dumps(doc, sort_keys=True, default=str).encode("utf-8")
            self.spec = parse_spec(
                doc, path=Path(base_dir) / "study.toml", sha256=hashlib.sha256(text).hexdigest()
            )
        else:
            raise SpecError(
                f"a study spec is a path, a dict or a StudySpec, not {type(spec).__name__}"
            )
        self.patients = patients

    @classmethod
    def from_toml(cls, path: str | Path, *, patients: Any = None) -> Study:
        """Read a study spec TOML file (data paths inside it are relative to its folder)."""
        return cls(load_spec(path), patients=patients)

    @classmethod
    def from_toml_text(cls, text: str, base_dir: str | Path = ".") -> Study:
        """A study spec given as TOML text."""
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SpecError(f"study spec is not valid TOML: {exc}") from None
        return cls(doc, base_dir)

    def __repr__(self) -> str:
        return f"<Study {self.spec.study.title!r} ({self.spec.path})>"

    def validate(self, progress: Progress = _noop) -> ValidationReport:
        """Check the data against the spec without analysing.

        Every rule runs and every problem is reported at once (also the lab and therapy
        tables' problems when the spec names them). Data problems are returned, not raised.
        """
        from mmrwe.study.pipeline import (
            collect_patients,
            connect_for,
            derivation_issues,
            derive_from_labs,
            read_redcap,
            validate,
        )

        spec, redcap = read_redcap(self.spec, progress)
        be = connect_for(spec)
        try:
            v, source = validate(spec, be, progress, frame=self.patients, redcap=redcap)
            issues = list(v.issues)
            if v.table is not None and not v.errors and spec.data.has_labs:
                deriv, _ = derive_from_labs(spec, collect_patients(v), progress, redcap)
                if deriv is not None:
                    issues += derivation_issues(spec, deriv)
        finally:
            be.close()
        return ValidationReport(
            tuple(issues), tuple(v.exclusions), v.n_input_rows, v.n_analysed, source.name
        )

    def run(self, progress: Progress = _noop) -> StudyResult:
        """Validate, derive and analyse; nothing is written.

        Raises
        ------
        ValidationError
            Validation found errors the spec neither accepts nor excludes; it carries every
            issue (``.issues``).
        MmrweError
            Any other problem of spec or input, with what, where and how to fix it.
        """
        from mmrwe.study.pipeline import run

        return StudyResult(run(self.spec, progress, frame=self.patients), self.spec)


def load_results(path: str | Path) -> StudyResults:
    """Read a results.json written by mmrwe (or a folder holding one)."""
    p = Path(path)
    if p.is_dir():
        p = p / "results.json"
    if not p.is_file():
        raise MmrweError(
            f"results file not found: {p}", fix="give the results.json written by mmrwe"
        )
    return StudyResults.read(p)


__all__ = ["Study", "StudyResult", "ValidationReport", "load_results"]
