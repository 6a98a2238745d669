"""Multicenter pooling: each site file validated alone, merged, duplicates flagged, analysed.

:func:`pool` reads each site file with its own ``[[sites]]`` options, validates it alone on
the engine (the rule table of :mod:`mmrwe.validate.patients`), merges the sites
(:mod:`mmrwe.io.pool`), flags cross-site duplicates, and runs the pooled table through the
one study pipeline, so DIR receives results.json and report.html exactly as ``mmrwe
analyze`` writes them, plus ``restricted/pooled_patients.csv`` (the canonical pooled table,
row-level) and ``pooling.json`` (per-site summary, duplicates, conflicts and center effects). Every input
row is accounted for per site: rows in = rows analysed + rows excluded with a reason.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmrwe.core.disclosure import RESTRICTED
from mmrwe.core.errors import InputError, Issue, Location, MmrweError, SpecError, ValidationError
from mmrwe.core.fileio import atomic_write
from mmrwe.core.sources import SourceInfo
from mmrwe.spec.model import SiteSpec, StudySpec
from mmrwe.study.pipeline import Prevalidated

if TYPE_CHECKING:
    import pandas as pd

    from mmrwe.engine import Backend
    from mmrwe.io.pool import DuplicatePair
    from mmrwe.validate.patients import Exclusion

POOLED_NAME = "pooled_patients.csv"
POOLING_JSON = "pooling.json"
Progress = Callable[[str], None]


def _noop(_: str) -> None:
    return None


# ---------------------------------------------------------------------------------------
# Which files, with which [[sites]] entry
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SiteEntry:
    """A site file to pool and the spec entry that says how to read it."""

    order: int
    site: SiteSpec
    key: str  # spec key for locations, e.g. "sites[1]"


def resolve_sites(spec: StudySpec, files: Sequence[str | Path] = ()) -> list[SiteEntry]:
    """Match the command line's site files to ``[[sites]]`` entries.

    With no files, every ``[[sites]]`` entry is pooled. A file is matched to the entry with
    the same path, else the same file name. When the spec has no ``[[sites]]``, each file
    is read with the ``[data]`` options and must have a center column.
    """
    if not files:
        if not spec.sites:
            raise SpecError(
                "no site files to pool",
                where=Location(file=str(spec.path), spec_key="sites"),
                fix="name the files: mmrwe pool SITE_FILE... --spec STUDY.toml, or list them as [[sites]] file = ... in the spec",
            )
        return [SiteEntry(k, s, f"sites[{k}]") for k, s in enumerate(spec.sites)]
    out: dict[int, SiteEntry] = {}
    for n, f in enumerate(files):
        p = Path(f)
        if not spec.sites:
            out[n] = SiteEntry(n, SiteSpec(file=p), "data")
            continue
        match = [k for k, s in enumerate(spec.sites) if s.file.resolve() == p.resolve()]
        if not match:
            match = [k for k, s in enumerate(spec.sites) if s.file.name == p.name]
        if len(match) != 1:
            listed = ", ".join(s.file.name for s in spec.sites)
            raise SpecError(
                f"{p.name} matches {'no' if not match else 'more than one'} [[sites]] entry (entries: {listed})",
                where=Location(file=str(spec.path), spec_key="sites"),
                fix=f'add a [[sites]] entry with file = "{p.name}" (and its center, columns, date_format)',
            )
        k = match[0]
        if k in out:
            raise SpecError(
                f"two files on the command line match the [[sites]] entry of {spec.sites[k].file.name}",
                where=Location(file=str(spec.path), spec_key=f"sites[{k}]"),
                fix="give each site file once",
            )
        out[k] = SiteEntry(k, replace(spec.sites[k], file=p), f"sites[{k}]")
    return [out[k] for k in sorted(out)]


# ---------------------------------------------------------------------------------------
# Pooling (in-process: no file is written)
# ---------------------------------------------------------------------------------------


@dataclass
class SiteSummary:
    """Per-site validation summary (pooling.json ``sites``)."""

    order: int
    label: str
    file: str
    path: str
    spec_key: str
    format: str | None = None
    sha256: str | None = None
    sheet: str | None = None
    rows_in: int = 0
    rows_analysed: int = 0
    exclusions: list[Exclusion] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    read_options: dict[str, Any] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary; ``rows_in == rows_analysed + rows_excluded`` always."""
        codes = Counter(i.code for i in self.issues)
        return {
            "site": self.label,
            "file": self.file,
            "spec_key": self.spec_key,
            "format": self.format,
            "sha256": self.sha256,
            "sheet": self.sheet,
            "rows_in": self.rows_in,
            "rows_analysed": self.rows_analysed,
            "rows_excluded": len(self.exclusions),
            "exclusions": [e.to_dict() for e in self.exclusions],
            "n_errors": sum(1 for i in self.issues if i.severity == "error"),
            "n_warnings": sum(1 for i in self.issues if i.severity == "warning"),
            "issue_codes": dict(sorted(codes.items())),
            "notes": list(self.notes),
            "read_options": self.read_options,
            "units": self.units,
        }


@dataclass
class PooledStudy:
    """Everything pooling found; ``validated`` is the pooled table when there is no error."""

    spec: StudySpec
    sites: list[SiteSummary]
    issues: list[Issue]
    validated: Prevalidated | None = None
    duplicates: tuple[DuplicatePair, ...] = ()
    decisions: tuple[str, ...] = ()
    csv_text: str = ""
    levels_by_site: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    @property
    def errors(self) -> list[Issue]:
        """Issues that stop the run."""
        return [i for i in self.issues if i.severity == "error"]

    def to_dict(self, status: str) -> dict[str, Any]:
        """pooling.json content (without center effects)."""
        n_in = sum(s.rows_in for s in self.sites)
        n_an = sum(s.rows_analysed for s in self.sites)
        return {
            "status": status,
            "rule": {
                "duplicates": "same patient_id at two site files (same_key), or same sex, birth year "
                "(birth_year, else age within 1 year), start_date, and progression/death dates "
                "equal where both known (same_person_dates); flagged pairs stop the run until "
                "decided under [[pooling.duplicates]]",
                "keep": self.spec.pooling.keep,
                "keep_rule": {
                    "longest_followup": "latest last_followup_date; tie: site listed first, then lower row",
                    "first_site": "site listed first in [[sites]]; tie: lower row",
                }[self.spec.pooling.keep],
                "row_order": "pooled rows follow the [[sites]] order, then the source row order",
            },
            "sites": [s.to_dict() for s in self.sites],
            "totals": {
                "rows_in": n_in,
                "rows_analysed": n_an,
                "rows_excluded": sum(len(s.exclusions) for s in self.sites),
            },
            "duplicates": [
                {**p.to_dict(), "decision": d}
                for p, d in zip(
                    self.duplicates,
                    self.decisions or ("unconfirmed",) * len(self.duplicates),
                    strict=True,
                )
            ],
            "issues": [i.to_dict() for i in self.issues],
            "levels_by_site": self.levels_by_site,
            "pooled_table": f"{RESTRICTED}/{POOLED_NAME}" if self.validated is not None else None,
        }


def _read_options(spec: StudySpec) -> dict[str, Any]:
    d = spec.data
    return {
        "columns": dict(d.columns),
        "date_format": d.date_format,
        "sheet": d.sheet,
        "delimiter": d.delimiter,
        "decimal": d.decimal,
        "encoding": d.encoding,
    }


def _apply_accept(issues: Sequence[Issue], spec: StudySpec) -> list[Issue]:
    accepted = dict(spec.validation.accept)
    return [
        replace(i, severity="accepted", fix=f"accepted in the spec: {accepted[i.code]}")
        if i.code in accepted and i.severity in ("error", "warning")
        else i
        for i in issues
    ]


@dataclass
class LoadedSite:
    """One site file read, prepared and validated (:func:`load_site`)."""

    summary: SiteSummary
    table: Any = None  # mmrwe.io.pool.SiteTable, or None when the site has errors
    units: dict[str, str] = field(default_factory=dict)  # pooled (spec) unit per variable


def load_site(
    spec: StudySpec, entry: SiteEntry, *, backend: Backend, progress: Progress = _noop
) -> LoadedSite:
    """Read one site file with its own options, prepare and validate it alone.

    Errors are returned as issues in the summary (an unreadable file is ``MMP000``);
    only spec problems raise.
    """
    import numpy as np
    import pandas as pd

    from mmrwe.engine.sources import open_arrow
    from mmrwe.io.pool import (
        SiteTable,
        cell,
        convert_units,
        prepare_site_source,
        site_study_spec,
    )
    from mmrwe.io.raw import frame_to_arrow
    from mmrwe.io.readers import read_table
    from mmrwe.study.pipeline import _namer, collect_patients
    from mmrwe.validate.patients import Exclusion, validate_patients

    site = entry.site
    label = site.center or ", ".join(site.centers) or site.file.name
    sspec = site_study_spec(spec, site)
    summary = SiteSummary(
        entry.order, label, site.file.name, str(site.file), entry.key,
        read_options=_read_options(sspec), units=dict(site.units),
    )  # fmt: skip
    progress(f"Reading {site.file.name}")
    d = sspec.data
    project: Any = None
    try:
        if site.redcap is not None:
            source, project, sspec = _redcap_site(site, sspec)
        else:
            source = read_table(
                site.file,
                sheet=d.sheet,
                delimiter=d.delimiter,
                decimal=d.decimal,
                encoding=d.encoding,
                missing_values=d.missing_values,
            )
    except InputError as exc:
        where = exc.where or Location(file=site.file.name)
        summary.issues.append(Issue("MMP000", "error", exc.what, where, exc.fix or ""))
        return LoadedSite(summary)
    summary.format, summary.sha256, summary.sheet = source.kind, source.sha256, source.sheet
    summary.rows_in = source.n_rows
    prepared = prepare_site_source(source, site, sspec, site_key=entry.key)
    progress(f"Validating {site.file.name}")
    raw = open_arrow(backend, frame_to_arrow(prepared.source.frame, prepared.source.source_rows))
    v = validate_patients(raw, sspec, file_name=source.path.name, sheet=source.sheet,
                          engine=backend.engine, name_relation=_namer(backend),
                          invalid_rows={k: "; ".join(w) for k, w in project.invalid.items()}
                          if project is not None else None,
                          # levels are checked on the merged table, after the recodes (MMP005)
                          check_levels=False)  # fmt: skip
    if project is not None:
        from mmrwe.study.pipeline import redcap_issues

        v = redcap_issues(sspec, v, project)
    summary.notes = list(prepared.source.notes)
    site_issues = list(_apply_accept(prepared.issues, spec)) + [
        # Pooled columns must have one type; a mostly-numeric column that one bad cell
        # turned into text would otherwise analyse differently at this site.
        replace(i, severity="error", fix=i.fix + " (pooling: a column must have one type at every site)")
        if i.code == "MMV018" and i.severity == "warning"
        else i
        for i in v.issues
    ]  # fmt: skip
    frame = collect_patients(v) if v.table is not None else pd.DataFrame()
    exclusions = list(v.exclusions)
    if prepared.conflict_rows and spec.validation.exclude_invalid_rows and len(frame):
        bad_rows = {source.source_rows[i] for i in prepared.conflict_rows}
        hit = frame["_src_row"].isin(bad_rows).to_numpy()
        for i in np.flatnonzero(hit):
            exclusions.append(Exclusion("invalid: [MMP002] center conflicts with the site's declared center",
                                        str(cell(frame, i, "patient_id")), site.file.name, int(cell(frame, i, "_src_row"))))  # fmt: skip
        frame = frame[~hit].reset_index(drop=True)
        site_issues = [
            replace(i, severity="excluded") if i.code == "MMP002" and i.severity == "error" else i
            for i in site_issues
        ]
    summary.issues = site_issues
    summary.exclusions = exclusions
    if any(i.severity == "error" for i in site_issues):
        return LoadedSite(summary)
    frame = frame.copy()
    for name, unit in site.units:
        if v.column_types.get(name) != "numeric":
            continue
        ratio = _unit_ratio(spec, name, unit, entry.key)
        frame[name] = convert_units(frame[name], ratio)
        summary.notes.append(
            f"{site.file.name}: {name} converted from {unit} to {spec.variable(name).unit} (x {ratio})"  # type: ignore[union-attr]
        )
    units = {}
    for name in v.units:
        vs = spec.variable(name)
        if vs is not None and vs.unit:
            units[name] = vs.unit
    if site.id_prefix:
        frame["patient_id"] = [site.id_prefix + str(x) for x in frame["patient_id"]]
    table = SiteTable(label, site.file.name, entry.order, frame, dict(v.column_types), site.absent)
    return LoadedSite(summary, table, units)


def _redcap_site(site: SiteSpec, sspec: StudySpec) -> tuple[Any, Any, StudySpec]:
    """A site's REDCap project: its patient table as a SourceTable of raw cells, the
    project (for its issues and locations), and the site's spec completed by its
    dictionary (types, levels, labels of the columns the spec does not describe)."""
    import pandas as pd

    from mmrwe.core.sources import SourceTable
    from mmrwe.io.redcap import read_project

    assert site.redcap is not None
    d = sspec.data
    project = read_project(site.redcap, columns=d.column_map, delimiter=d.delimiter,
                           encoding=d.encoding, decimal=d.decimal,
                           missing_values=d.missing_values, instruments=False)  # fmt: skip
    table = project.patients
    cols = [c for c in table.column_names if c not in ("_src_row", "_ord")]
    frame = pd.DataFrame({c: pd.Series(table[c].to_pylist(), dtype=object) for c in cols})
    rows = tuple(int(x) for x in table["_src_row"].to_pylist())
    source = SourceTable(project.records.path, "redcap", frame, rows, project.records.sha256,
                         None, project.notes)  # fmt: skip
    declared = {v.name for v in sspec.variables}
    extra = tuple(v for v in project.variables if v.name not in declared)
    return source, project, replace(sspec, variables=sspec.variables + extra)


def prepare_pool(
    spec: StudySpec, files: Sequence[str | Path] = (), *, progress: Progress = _noop
) -> PooledStudy:
    """Read, validate and merge the site files; nothing is written.

    Parameters
    ----------
    spec : StudySpec
        The study spec with ``[[sites]]`` (or none: files then need a center column).
    files : sequence of path, optional
        Site files; by default every ``[[sites]]`` file.
    progress : callable, optional
        Called with the name of each step.

    Returns
    -------
    PooledStudy
        ``validated`` is set only when no error remains; every issue is in ``issues``.

    Raises
    ------
    SpecError
        Files that match no ``[[sites]]`` entry; a site unit that cannot be converted.
    """
    from mmrwe.engine import connect

    with connect("duckdb") as be:
        be.lock_down()  # site files are read in Python and handed over: no file access
        entries = resolve_sites(spec, files)
        loaded = [load_site(spec, e, backend=be, progress=progress) for e in entries]
    return combine_sites(spec, loaded, progress=progress)


def combine_sites(
    spec: StudySpec,
    loaded: Sequence[LoadedSite],
    *,
    progress: Progress = _noop,
    with_csv: bool = True,
) -> PooledStudy:
    """Merge loaded sites, resolve duplicates, apply cohort exclusions, check every row.

    The loaded sites are not modified (their summaries are copied), so the same
    :class:`LoadedSite` can be combined again.
    """
    import numpy as np

    from mmrwe.io.pool import (
        canonical_csv,
        cell,
        check_unique_ids,
        find_duplicates,
        merge_sites,
        resolve_duplicates,
        sort_pooled,
    )
    from mmrwe.validate.patients import Exclusion

    summaries = [
        replace(x.summary, exclusions=list(x.summary.exclusions), issues=list(x.summary.issues),
                notes=list(x.summary.notes))
        for x in loaded
    ]  # fmt: skip
    seen_sha: dict[str, str] = {}
    tables = []
    for x, summary in zip(loaded, summaries, strict=True):
        if summary.sha256 is not None and summary.sha256 in seen_sha:
            summary.issues.append(Issue("MMP001", "error",
                f"{summary.file} has the same content as {seen_sha[summary.sha256]}",
                Location(file=summary.file, spec_key=summary.spec_key),
                "each site file must be given once; check that the right export was sent"))  # fmt: skip
            continue
        if summary.sha256 is not None:
            seen_sha[summary.sha256] = summary.file
        if x.table is not None:
            tables.append(x.table)
    pooled_units = {k: v for x in loaded for k, v in x.units.items()}
    issues: list[Issue] = [i for s in summaries for i in s.issues]
    pooled = PooledStudy(spec, summaries, issues)
    if pooled.errors:
        return pooled

    progress("Merging sites")
    merged = merge_sites(tables, spec)
    pool_issues = _apply_accept(merged.issues, spec)
    frame = merged.frame
    by_order = {s.order: s for s in summaries}
    if merged.row_errors and spec.validation.exclude_invalid_rows:
        bad = [
            (int(k), int(r)) in merged.row_errors
            for k, r in zip(frame["_site"], frame["_src_row"], strict=True)
        ]
        mask = np.array(bad, dtype=bool)
        for i in np.flatnonzero(mask):
            k = int(cell(frame, i, "_site"))
            file, row = str(cell(frame, i, "_src_file")), int(cell(frame, i, "_src_row"))
            why = "; ".join(
                f"[{x.code}] {x.what}"
                for x in merged.issues
                if x.where.file == file and x.where.row == row
            )
            by_order[k].exclusions.append(
                Exclusion(f"invalid: {why}", str(cell(frame, i, "patient_id")), file, row)
            )
        frame = frame[~mask].reset_index(drop=True)
        pool_issues = [
            replace(i, severity="excluded")
            if i.code in ("MMP005", "MMP015") and i.severity == "error"
            else i
            for i in pool_issues
        ]
    pooled.levels_by_site = merged.levels_by_site
    pooled.issues.extend(pool_issues)
    if pooled.errors:
        return pooled

    progress("Looking for patients seen at two sites")
    pairs = find_duplicates(frame)
    res = resolve_duplicates(frame, pairs, spec)
    pooled.duplicates, pooled.decisions = pairs, res.decisions
    pooled.issues.extend(_apply_accept(res.issues, spec))
    for dr in res.dropped:
        by_order[dr.site].exclusions.append(Exclusion(dr.reason, dr.patient_id, dr.file, dr.row))
    frame = res.frame
    if not pooled.errors:  # an undecided same-id pair already says the id is used twice
        pooled.issues.extend(_apply_accept(check_unique_ids(frame), spec))
    if pooled.errors:
        return pooled

    # [[cohort.exclude]] names pooled patient ids (after any id_prefix).
    keep = np.ones(len(frame), dtype=bool)
    ids = frame["patient_id"].astype(str).to_numpy()
    for k, ex in enumerate(spec.exclusions):
        hit = np.flatnonzero((ids == ex.patient_id) & keep)
        if len(hit) == 0:
            pooled.issues.append(Issue("MMV019", "error",
                f"[[cohort.exclude]] names patient_id {ex.patient_id!r}, which is not in the pooled table",
                Location(file=str(spec.path), spec_key=f"cohort.exclude[{k}].patient_id"),
                "check the id (ids are compared as text, after any id_prefix)"))  # fmt: skip
            continue
        hit_i = int(hit[0])
        keep[hit_i] = False
        by_order[int(cell(frame, hit_i, "_site"))].exclusions.append(
            Exclusion(ex.reason, ex.patient_id, str(cell(frame, hit_i, "_src_file")), int(cell(frame, hit_i, "_src_row")))
        )  # fmt: skip
    if pooled.errors:
        return pooled
    frame = sort_pooled(frame[keep].reset_index(drop=True))

    # Every input row is accounted for, per site.
    for s in summaries:
        s.rows_analysed = int((frame["_site"] == s.order).sum())
        if s.rows_in != s.rows_analysed + len(s.exclusions):
            raise MmrweError(
                f"internal error: {s.file}: {s.rows_in} rows read but {s.rows_analysed} analysed + {len(s.exclusions)} excluded",
                fix="this is a bug in mmrwe; please report it",
            )

    types = {c: t for c, t in merged.column_types.items() if c != "patient_id"}
    out_frame = frame.drop(columns=["_site"])
    # The pooled table's text (and so its SHA-256 in results.json) is what the command
    # writes; in-process checks (the fuzz suite) may skip it.
    csv_text = canonical_csv(out_frame, types) if with_csv else ""
    notes = tuple(n for s in summaries for n in s.notes)
    source = SourceInfo(
        path=None,
        kind="csv",
        name=POOLED_NAME,
        sha256=hashlib.sha256(csv_text.encode("utf-8")).hexdigest(),
        notes=notes,
    )
    all_exclusions = tuple(e for s in summaries for e in s.exclusions)
    pooled.validated = Prevalidated(
        frame=out_frame,
        column_types=types,
        issues=tuple(pooled.issues),
        exclusions=all_exclusions,
        n_input_rows=sum(s.rows_in for s in summaries),
        source=source,
        units=pooled_units,
    )
    pooled.csv_text = csv_text
    return pooled


def _unit_ratio(spec: StudySpec, name: str, unit: str, key: str) -> Any:
    from mmrwe.io.pool import exact_ratio
    from mmrwe.validate.units import analyte_of, unit_range

    v = spec.variable(name)
    assert v is not None  # the loader checked the variable and its unit
    assert v.unit is not None
    analyte = v.analyte or analyte_of(name, v.label)
    src = unit_range(analyte, unit) if analyte else None
    dst = unit_range(analyte, v.unit) if analyte else None
    if src is None or dst is None or src.canonical_unit != dst.canonical_unit:
        raise SpecError(
            f"cannot convert {name} from {unit!r} to {v.unit!r}"
            + ("" if analyte else f" (which analyte is {name!r}?)"),
            where=Location(file=str(spec.path), spec_key=f"{key}.units.{name}"),
            fix=f'set [variables.{name}] analyte = "..." (e.g. "hemoglobin"), or use a unit the tool converts',
        )
    return exact_ratio(src.to_canonical, dst.to_canonical)


# ---------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------


@dataclass
class PoolRun:
    """What ``mmrwe pool`` produced."""

    pooled: PooledStudy
    run: Any
    center_effects: dict[str, Any]
    written: dict[str, Path]


def _site_files(site: SiteSpec) -> tuple[Path, ...]:
    """The files a site entry reads (its file; with redcap, the project's files too)."""
    if site.redcap is None:
        return (site.file,)
    return tuple(dict.fromkeys((site.file, *site.redcap.files)))


def _hashes(spec: StudySpec, entries: Sequence[SiteEntry]) -> dict[str, str]:
    from mmrwe.core.fileio import file_sha256

    files = [spec.path, *(f for e in entries for f in _site_files(e.site))]
    return {str(p): file_sha256(p) for p in files if p.exists()}


def pool(
    spec: StudySpec,
    files: Sequence[str | Path],
    out_dir: Path,
    *,
    progress: Progress = _noop,
    report: bool = True,
) -> PoolRun:
    """Pool site files, analyse the pooled table and write DIR (``mmrwe pool``).

    Writes ``restricted/pooled_patients.csv``, ``pooling.json`` and everything ``mmrwe analyze``
    writes (results.json, report.html, ...), all or nothing. On validation or pooling
    errors :class:`ValidationError` is raised; into a folder without earlier outputs,
    ``pooling.json`` is then written alone (``status = "failed"``, with every issue and
    every flagged duplicate pair for review); an earlier run's outputs are left as they were.
    """
    from mmrwe.core.disclosure import restricted_dir, write_private
    from mmrwe.core.outdir import os_error_words
    from mmrwe.study.outputs import check_out_dir, output_folder, write_outputs
    from mmrwe.study.pipeline import run

    entries = resolve_sites(spec, files)
    inputs = [p for p in (spec.path, *(f for e in entries for f in _site_files(e.site))) if p]
    check_out_dir(out_dir, inputs)
    with output_folder(out_dir, inputs) as folder:
        staging = folder.staging
        before = _hashes(spec, entries)
        pooled = prepare_pool(
            spec, [e.site.file for e in entries] if files else (), progress=progress
        )
        if pooled.errors:
            if not (out_dir / "run.json").exists() and not (out_dir / POOLING_JSON).exists():
                # a first attempt: the review list (every issue, every flagged pair) is the
                # folder's output; an earlier run's outputs are never replaced by a failure
                doc = pooled.to_dict("failed")
                text = json.dumps(doc, indent=1, sort_keys=True) + "\n"
                atomic_write(staging / POOLING_JSON, text)
                folder.commit()
            raise ValidationError(pooled.issues)
        assert pooled.validated is not None
        sites = [
            {
                "site": x.label,
                "file": x.file,
                "sha256": x.sha256,
                "n_rows": x.rows_in,
                "format": x.format,
            }
            for x in pooled.sites
        ]
        result = run(spec, progress, prevalidated=pooled.validated, extra_inputs={"sites": sites})
        effects = dict(result.results.to_dict()["center_effects"])
        doc = pooled.to_dict("ok")
        doc["center_effects"] = effects
        doc["results_keys_proposed"] = {
            "center_effects": "results.json top-level key for this center_effects dict",
            "inputs.sites": "results.json inputs entry listing each site file (file, sha256, n_rows)",
        }
        pooling_text = json.dumps(doc, indent=1, sort_keys=True, allow_nan=False) + "\n"
        try:
            written = write_outputs(result, staging, progress=progress, report=report)
            # row-level: beside derived_patients in restricted/ (0700 folder, 0600 file)
            pooled_path = restricted_dir(staging) / POOLED_NAME
            write_private(pooled_path, pooled.csv_text)
            written["pooled_patients"] = pooled_path
            atomic_write(staging / POOLING_JSON, pooling_text)
            written["pooling"] = staging / POOLING_JSON
        except OSError as exc:
            raise os_error_words(exc, out_dir) from None
        if _hashes(spec, entries) != before:
            raise MmrweError(
                "an input file changed during the run; nothing was written (the previous "
                f"outputs in {out_dir} are left as they were)",
                fix="do not edit inputs while mmrwe runs; re-run",
            )
        folder.commit()
    written = folder.final(written.items())
    return PoolRun(pooled, result, effects, written)


def site_table_rows(pooled: PooledStudy) -> list[tuple[str, ...]]:
    """Rows of the per-site summary shown on the terminal."""
    rows: list[tuple[str, ...]] = []
    for s in pooled.sites:
        d = s.to_dict()
        rows.append(
            (
                d["site"],
                d["file"],
                str(d["rows_in"]),
                str(d["rows_analysed"]),
                str(d["rows_excluded"]),
                str(d["n_errors"]),
                str(d["n_warnings"]),
            )
        )
    return rows


def frame_for_compare(pooled: PooledStudy) -> pd.DataFrame:
    """The pooled analysis table as compared by tests (provenance columns kept)."""
    assert pooled.validated is not None
    return pooled.validated.frame
