"""``mmrwe pool`` and ``mmrwe pseudonymize``: multicenter pooling and site-side protection.

``pool`` reads each site file with its own ``[[sites]]`` options, validates it alone,
merges the sites (:mod:`mmrwe.io.pool`), flags cross-site duplicates, and analyses the
pooled table with :func:`mmrwe.cli.pipeline.run_study`, so DIR receives results.json and
report.html exactly as ``mmrwe analyze`` writes them, plus ``pooled_patients.csv`` (the
canonical pooled table) and ``pooling.json`` (per-site summary, duplicates, conflicts and
center effects). Every input row is accounted for per site: rows in = rows analysed + rows
excluded with a reason.

``pseudonymize`` runs at the site (:mod:`mmrwe.io.pseudonymize`).
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mmrwe.core.errors import InputError, Issue, Location, MmrweError, SpecError, ValidationError
from mmrwe.core.fileio import atomic_write
from mmrwe.spec.model import LogrankSpec, SiteSpec, StudySpec

# numpy, pandas and the io/validate stages are imported inside the functions, so that
# registering these commands does not slow down every `mmrwe` invocation.
if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mmrwe.io.pool import DuplicatePair
    from mmrwe.validate.patients import Exclusion, ValidatedTable

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
    validated: ValidatedTable | None = None
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
            "pooled_table": POOLED_NAME if self.validated is not None else None,
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


def load_site(spec: StudySpec, entry: SiteEntry, *, progress: Progress = _noop) -> LoadedSite:
    """Read one site file with its own options, prepare and validate it alone.

    Errors are returned as issues in the summary (an unreadable file is ``MMP000``);
    only spec problems raise.
    """
    import numpy as np

    from mmrwe.io.pool import (
        SiteTable,
        cell,
        convert_units,
        prepare_site_source,
        site_study_spec,
    )
    from mmrwe.io.readers import read_table
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
    try:
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
    v = validate_patients(prepared.source, sspec)
    summary.notes = list(prepared.source.notes)
    site_issues = list(_apply_accept(prepared.issues, spec)) + [
        # Pooled columns must have one type; a mostly-numeric column that one bad cell
        # turned into text would otherwise analyse differently at this site.
        replace(i, severity="error", fix=i.fix + " (pooling: a column must have one type at every site)")
        if i.code == "MMV018" and i.severity == "warning"
        else i
        for i in v.issues
    ]  # fmt: skip
    frame = v.frame
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
    loaded = [load_site(spec, e, progress=progress) for e in resolve_sites(spec, files)]
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
    from mmrwe.io.readers import SourceTable
    from mmrwe.validate.patients import Exclusion, ValidatedTable

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
    source = SourceTable(
        path=Path(POOLED_NAME),
        kind="csv",
        frame=out_frame.drop(columns=["_src_row", "_src_file"]),
        source_rows=tuple(range(2, len(out_frame) + 2)),
        sha256=hashlib.sha256(csv_text.encode("utf-8")).hexdigest(),
        notes=notes,
    )
    all_exclusions = tuple(e for s in summaries for e in s.exclusions)
    pooled.validated = ValidatedTable(
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
# Center effects (per-center KM, log-rank across centers, Cox stratified and interaction)
# ---------------------------------------------------------------------------------------


def center_effects(run: Any, spec: StudySpec) -> dict[str, Any]:
    """Per-center counts and KM, outcome and effect heterogeneity across centers.

    Parameters
    ----------
    run : StudyRun
        The pooled run (its analysis table has ``center`` and the endpoint columns).
    spec : StudySpec
        The study spec.

    Returns
    -------
    dict
        JSON-ready: ``centers``, ``counts``, ``endpoints`` (per endpoint: survdiff across
        centers, R ``survdiff(Surv(t, e) ~ center)``, with per-center KM medians, landmarks
        and curves), ``cox`` (per ``[[cox]]``: the pooled fit, the fit stratified by center
        (R ``coxph(... + strata(center))``), the likelihood-ratio test of term x center
        interactions within center strata, and Cochran's Q / I^2 of per-center
        coefficients), and a plain-language ``statement``.
    """
    from mmrwe.cli import analyses

    if "center_effects" in run.results:  # run_study computes them for every study
        return dict(run.results.to_dict()["center_effects"])
    types = {c: v.get("type") for c, v in run.results["variables"].items()}
    ctx = analyses.Context(spec=spec, frame=run.analysis, types=types, units=run.validation.units)
    return center_effects_in(ctx, list(run.results["cox"]))


def center_effects_in(ctx: Any, cox_results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """:func:`center_effects` from an analysis context and the study's Cox results."""
    from mmrwe.cli import analyses

    frame = ctx.frame
    spec = ctx.spec
    if "center" not in frame.columns:
        return {"centers": [], "statement": "no center column: center effects not assessed"}
    labels = ctx.labels("center")
    centers = ctx.levels("center", labels)
    counts: dict[str, Any] = {}
    for c in centers:
        m = (labels == c).to_numpy()
        counts[c] = {"n": int(m.sum())}
        for ep in ("PFS", "OS"):
            counts[c][f"{ep}_events"] = int(frame[f"{ep}_event"].to_numpy(bool)[m].sum())
    out: dict[str, Any] = {"centers": centers, "counts": counts, "endpoints": {}, "cox": []}
    if len(centers) < 2:
        out["statement"] = f"all analysed patients come from one center ({', '.join(centers)})"
        return out
    lr_spec = replace(spec, logrank=tuple(LogrankSpec(ep, by="center") for ep in ("PFS", "OS")))
    lr = analyses.logrank(replace(ctx, spec=lr_spec, warnings=[]))
    for entry in lr:
        out["endpoints"][entry["endpoint"]] = entry
    for k, cx in enumerate(spec.cox):
        out["cox"].append(_cox_heterogeneity(ctx, dict(cox_results[k]), cx, k))
    out["statement"] = _statement(out, _labeller(spec))
    return out


def _cox_heterogeneity(ctx: Any, pooled: dict[str, Any], cx: Any, k: int) -> dict[str, Any]:
    import numpy as np
    from scipy.stats import chi2

    from mmrwe.cli import analyses
    from mmrwe.stats.cox import cox_fit

    entry: dict[str, Any] = {"index": k, "endpoint": cx.endpoint, "terms": list(cx.terms)}
    entry["pooled"] = {
        n: {"hr": c["hr"], "lower": c["lower"], "upper": c["upper"], "p": c["p"]}
        for n, c in pooled.get("coefficients", {}).items()
    }
    if "center" in cx.terms or cx.strata == "center" or cx.cluster == "center":
        entry["note"] = "the model already adjusts for center"
        return entry
    try:
        t, e = ctx.survival(cx.endpoint)
        X, names, keep, _info = analyses.design_matrix(
            ctx, cx.terms, dict(cx.reference), ["center"]
        )
        center = ctx.labels("center").to_numpy()[keep]
        tk, ek = t[keep], e[keep]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            strat = cox_fit(tk, ek, X, names=names, ties=cx.ties, strata=center)
            levels = sorted(set(center))
            inter = [X[:, j] * (center == lv) for lv in levels[1:] for j in range(X.shape[1])]
            inames = [f"{n}:center={lv}" for lv in levels[1:] for n in names]
            full = cox_fit(tk, ek, np.column_stack([X, *inter]), names=[*names, *inames],
                           ties=cx.ties, strata=center)  # fmt: skip
        entry["stratified_by_center"] = {n: _coef(strat, j) for j, n in enumerate(names)}
        df = full.df - strat.df
        lr = 2.0 * (full.loglik[1] - strat.loglik[1])
        entry["interaction"] = {
            "test": "likelihood ratio, term x center within center strata",
            "chisq": _num(lr) if df > 0 else None,
            "df": int(df),
            "p": _num(float(chi2.sf(lr, df))) if df > 0 and math.isfinite(lr) else None,
            "converged": bool(full.converged and strat.converged),
            "warnings": sorted({str(w.message) for w in caught} | set(full.warnings)),
        }
        entry["per_center"], entry["q"] = _per_center(tk, ek, X, names, center, cx.ties)
    except MmrweError as exc:
        entry["note"] = f"not estimable: {exc.what}"
    return entry


def _coef(fit: Any, j: int) -> dict[str, float | None]:
    return {
        "coef": _num(fit.coef[j]),
        "se": _num(fit.se[j]),
        "hr": _num(fit.hr[j]),
        "lower": _num(fit.lower[j]),
        "upper": _num(fit.upper[j]),
        "p": _num(fit.p[j]),
    }


def _num(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _per_center(
    t: np.ndarray, e: np.ndarray, X: np.ndarray, names: list[str], center: np.ndarray, ties: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per-center Cox fits and Cochran's Q / I^2 (inverse-variance, fixed effect) per term."""
    import numpy as np
    from scipy.stats import chi2

    from mmrwe.stats.cox import cox_fit

    per: dict[str, Any] = {}
    est: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    for lv in sorted(set(center)):
        m = center == lv
        if int(e[m].sum()) < 2:  # nothing to estimate from 0 or 1 event
            per[lv] = {"n": int(m.sum()), "events": int(e[m].sum()), "note": "fewer than 2 events"}
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = cox_fit(t[m], e[m], X[m], names=names, ties=ties)
        except (MmrweError, ArithmeticError, np.linalg.LinAlgError) as exc:
            # ArithmeticError: stats.cox divides by a log-likelihood of exactly 0 on some
            # tiny subsets (reported to the lead); a center then has no estimate.
            per[lv] = {"note": f"not estimable: {getattr(exc, 'what', type(exc).__name__)}"}
            continue
        diverged = not fit.converged or any(
            "infinite" in w or "monotone" in w.lower() for w in fit.warnings
        )
        per[lv] = {"n": int(m.sum()), "events": int(e[m].sum()), "converged": not diverged,
                   "coefficients": {n: _coef(fit, j) for j, n in enumerate(names)}}  # fmt: skip
        if diverged:
            continue
        for j, n in enumerate(names):
            b, se = float(fit.coef[j]), float(fit.se[j])
            if math.isfinite(b) and math.isfinite(se) and se > 0:
                est[n].append((b, se))
    q: dict[str, Any] = {}
    for n, pairs in est.items():
        if len(pairs) < 2:
            q[n] = {"q": None, "df": None, "p": None, "i2": None, "n_centers": len(pairs)}
            continue
        coefs = np.array([x for x, _ in pairs])
        w = 1.0 / np.array([s for _, s in pairs]) ** 2
        pooled = float(np.sum(w * coefs) / np.sum(w))
        qv = float(np.sum(w * (coefs - pooled) ** 2))
        df = len(pairs) - 1
        q[n] = {
            "q": qv,
            "df": df,
            "p": float(chi2.sf(qv, df)),
            "i2": max(0.0, (qv - df) / qv) if qv > 0 else 0.0,
            "n_centers": len(pairs),
        }
    return per, q


def _g(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "NA"
    return f"{x:.{digits}g}"


def _p(x: float | None) -> str:
    if x is None:
        return "NA"
    return "< 0.001" if x < 0.001 else f"{x:.3f}"


def _labeller(spec: StudySpec) -> Callable[[str], str]:
    """Readable term names for text: 'hgb_lt_11=<11' -> 'Hemoglobin < 11 g/dL: <11'."""

    def label(term: str) -> str:
        var, sep, level = term.partition("=")
        v = spec.variable(var)
        name = v.label if v is not None and v.label else var
        return f"{name}: {level}" if sep else name

    return label


def _statement(eff: dict[str, Any], label: Callable[[str], str] = str) -> str:
    """One paragraph for the report: where patients came from, and whether centers differ."""
    counts = eff["counts"]
    parts = [
        f"Patients came from {len(counts)} centers ("
        + ", ".join(f"{c}: {v['n']}" for c, v in counts.items())
        + ")."
    ]
    ep_txt = []
    for ep, r in eff["endpoints"].items():
        if r.get("chisq") is None:
            ep_txt.append(
                f"{ep}: log-rank test across centers not computed ({r.get('note', 'NA')})"
            )
        else:
            ep_txt.append(
                f"{ep}: log-rank chi-square {_g(r['chisq'])} on {r['df']} df, p = {_p(r['p'])}"
            )
    if ep_txt:
        parts.append("Outcomes across centers: " + "; ".join(ep_txt) + ".")
    for c in eff["cox"]:
        if "interaction" not in c:
            continue
        model = f"{c['endpoint']} ~ {' + '.join(label(t) for t in c['terms'])}"
        hrs = []
        for n, s in c.get("stratified_by_center", {}).items():
            hp = c["pooled"].get(n, {}).get("hr")
            i2 = c.get("q", {}).get(n, {}).get("i2")
            hrs.append(
                f"{label(n)} HR {_g(hp)} pooled, {_g(s['hr'])} stratified by center"
                + (f", I\u00b2 {100 * i2:.0f}%" if i2 is not None else "")
            )
        it = c["interaction"]
        parts.append(
            f"Cox {model}: " + "; ".join(hrs)
            + f"; term x center interaction p = {_p(it['p'])}"
            + ("" if it["converged"] else " (fit did not converge: interpret with care)")
            + "."
        )  # fmt: skip
    parts.append(
        "Differences between centers are tested, not removed; a small p suggests center "
        'effects worth a stratified (strata = "center") analysis.'
    )
    return " ".join(parts)


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


def _check_out_dir(out_dir: Path, entries: Sequence[SiteEntry], spec: StudySpec) -> None:
    out = out_dir.resolve()
    for e in entries:
        if e.site.file.exists() and e.site.file.resolve().parent == out:
            raise InputError(
                f"the output folder {out_dir} holds the site file {e.site.file.name}",
                where=Location(file=str(e.site.file)),
                fix="choose another --out folder; mmrwe never writes next to its inputs",
            )


def _hashes(spec: StudySpec, entries: Sequence[SiteEntry]) -> dict[str, str]:
    from mmrwe.io.readers import file_sha256

    files = [spec.path, *(e.site.file for e in entries)]
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

    Writes, atomically, ``pooled_patients.csv``, ``pooling.json`` and everything
    ``mmrwe analyze`` writes (results.json, report.html, ...). On validation or pooling
    errors only ``pooling.json`` is written (``status = "failed"``, with every issue and
    every flagged duplicate pair for review) and :class:`ValidationError` is raised.
    """
    from mmrwe.cli.pipeline import run_study, write_outputs

    entries = resolve_sites(spec, files)
    _check_out_dir(out_dir, entries, spec)
    before = _hashes(spec, entries)
    pooled = prepare_pool(spec, [e.site.file for e in entries] if files else (), progress=progress)
    if pooled.errors:
        doc = pooled.to_dict("failed")
        atomic_write(out_dir / POOLING_JSON, json.dumps(doc, indent=1, sort_keys=True) + "\n")
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
    run = run_study(spec, progress, validated=pooled.validated, extra_inputs={"sites": sites})
    # Everything is computed before the first file is written: a failure leaves DIR as
    # it was (each file is also replaced atomically).
    progress("Center effects")
    effects = center_effects(run, spec)
    doc = pooled.to_dict("ok")
    doc["center_effects"] = effects
    doc["results_keys_proposed"] = {
        "center_effects": "results.json top-level key for this center_effects dict",
        "inputs.sites": "results.json inputs entry listing each site file (file, sha256, n_rows)",
    }
    pooling_text = json.dumps(doc, indent=1, sort_keys=True, allow_nan=False) + "\n"
    atomic_write(out_dir / POOLED_NAME, pooled.csv_text)
    written = write_outputs(run, spec, out_dir, progress=progress, report=report)
    written["pooled_patients"] = out_dir / POOLED_NAME
    atomic_write(out_dir / POOLING_JSON, pooling_text)
    written["pooling"] = out_dir / POOLING_JSON
    after = _hashes(spec, entries)
    if before != after:
        raise MmrweError(
            "an input file changed during the run",
            fix="do not edit inputs while mmrwe runs; re-run",
        )
    return PoolRun(pooled, run, effects, written)


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


# ---------------------------------------------------------------------------------------
# pseudonymize
# ---------------------------------------------------------------------------------------


def pseudonymize_command(
    file: Path,
    key_file: Path,
    out_file: Path,
    *,
    spec_path: Path | None = None,
    site: str | None = None,
    id_column: str | None = None,
    drop: Sequence[str] = (),
    keep: Sequence[str] = (),
    keep_only: Sequence[str] | None = None,
    shift_dates: bool | None = None,
    dates: str | None = None,
    birth_dates: str | None = None,
    max_shift_days: int | None = None,
    date_format: str | None = None,
    delimiter: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    new_key: bool = False,
    force: bool = False,
    neutralize_csv: bool = True,
) -> dict[str, Any]:
    """Implementation of ``mmrwe pseudonymize``; returns the summary (no identifying data).

    Options come from the spec's ``[[sites]]`` entry for this file (matched by ``site``
    = center, else by file name; else ``[data]``) and ``[pseudonymize]``; command-line
    options override them. Checked before anything is read: the output is not the input
    and does not exist (unless ``force``), the key is outside the output's folder; then the
    key itself (:func:`mmrwe.io.pseudonymize.load_key`).
    """
    from mmrwe.io.pool import site_study_spec
    from mmrwe.io.pseudonymize import (
        check_key_location,
        create_key,
        load_key,
        pseudonymize_table,
        write_like,
    )
    from mmrwe.io.readers import file_sha256, read_table
    from mmrwe.spec import load_spec

    colmap: dict[str, str] = {}
    opts: dict[str, Any] = {"date_format": "%Y-%m-%d", "delimiter": None, "decimal": ".",
                            "encoding": "utf-8", "sheet": None,
                            "missing_values": ("", "NA", "N/A", "NaN", "nan", ".", "NULL", "null")}  # fmt: skip
    identifiers: list[str] = []
    keep_cols: list[str] = []
    allow: list[str] | None = None
    shift, max_days = False, 182
    date_mode: str | None = None
    birth_mode = "year"
    extra_dates: list[str] = []
    if spec_path is not None:
        spec = load_spec(spec_path)
        entry = _site_for(spec, file, site)
        sspec = site_study_spec(spec, entry) if entry is not None else spec
        d = sspec.data
        colmap = d.column_map
        opts.update(date_format=d.date_format, delimiter=d.delimiter, decimal=d.decimal,
                    encoding=d.encoding, sheet=d.sheet, missing_values=d.missing_values)  # fmt: skip
        ps = spec.pseudonymize
        identifiers = list(ps.identifiers)
        keep_cols = list(ps.keep)
        shift, max_days = ps.shift_dates, ps.max_shift_days
        # Keys proposed for [pseudonymize] (dates, keep_only, birth_dates): read when present.
        date_mode = getattr(ps, "dates", None)
        birth_mode = getattr(ps, "birth_dates", None) or birth_mode
        spec_allow = getattr(ps, "keep_only", None)
        allow = list(spec_allow) if spec_allow else None
        extra_dates = [v.name for v in spec.variables if v.type == "date"]
    for k, v in (("date_format", date_format), ("delimiter", delimiter), ("decimal", decimal),
                 ("encoding", encoding), ("sheet", sheet)):  # fmt: skip
        if v is not None:
            opts[k] = v
    if shift_dates is not None:
        shift = shift_dates
    if dates is not None:
        date_mode = dates
    if birth_dates is not None:
        birth_mode = birth_dates
    if max_shift_days is not None:
        max_days = max_shift_days
    if keep_only is not None:
        allow = list(keep_only)
    identifiers += [c for c in drop if c not in identifiers]
    keep_cols += [c for c in keep if c not in keep_cols]
    if file.resolve() == out_file.resolve():
        raise InputError("--out is the input file", where=Location(file=str(file)),
                         fix="write the pseudonymized table to a new file")  # fmt: skip
    if key_file.resolve() in (file.resolve(), out_file.resolve()):
        raise InputError("the key file is the input or the output", where=Location(file=str(key_file)),
                         fix="keep the key in its own file, at the site")  # fmt: skip
    check_key_location(key_file, out_file)
    if new_key and key_file.exists():
        create_key(key_file)  # refuses with its own message: a key is never overwritten
    if out_file.is_dir():
        raise InputError(f"--out {out_file} is a folder", where=Location(file=str(out_file)),
                         fix="name the file to write, e.g. --out outgoing/site_pseudo.csv")  # fmt: skip
    if out_file.exists() and not force:
        raise InputError(
            f"{out_file} exists; it is not replaced without --force",
            where=Location(file=str(out_file)),
            fix="choose a new output name, or pass --force to replace it",
        )
    if new_key:
        create_key(key_file)
    key = load_key(key_file)
    source = read_table(
        file,
        sheet=opts["sheet"],
        delimiter=opts["delimiter"],
        decimal=opts["decimal"],
        encoding=opts["encoding"],
        missing_values=opts["missing_values"],
    )
    date_cols = [colmap.get(c, c) for c in ("start_date", "progression_date", "death_date",
                                            "last_followup_date", *extra_dates)]  # fmt: skip
    result = pseudonymize_table(
        source,
        key=key,
        id_column=id_column or colmap.get("patient_id", "patient_id"),
        identifiers=identifiers,
        keep=keep_cols,
        keep_only=allow,
        shift_dates=shift,
        dates=date_mode,  # type: ignore[arg-type]  # checked by pseudonymize_table
        index_column=colmap.get("start_date", "start_date"),
        birth_dates=birth_mode,  # type: ignore[arg-type]  # checked by pseudonymize_table
        max_shift_days=max_days,
        date_format=opts["date_format"],
        date_columns=[c for c in date_cols if c in source.frame.columns],
    )
    before = file_sha256(file)
    write_like(result.frame, source, out_file, date_format=opts["date_format"],
               delimiter=opts["delimiter"], encoding=opts["encoding"],
               neutralize=neutralize_csv)  # fmt: skip
    if file_sha256(file) != before:  # a guard: the input is only ever read
        raise MmrweError("the input file changed during the run")
    summary = result.summary()
    summary["output"] = out_file.name
    summary["csv_formulas_neutralized"] = neutralize_csv if out_file.suffix.lower() in (
        ".csv", ".txt", ".tsv") else None  # fmt: skip
    return summary


def _site_for(spec: StudySpec, file: Path, center: str | None) -> SiteSpec | None:
    if center is not None:
        hits = [s for s in spec.sites if s.center == center]
        if len(hits) != 1:
            raise SpecError(
                f"no single [[sites]] entry has center = {center!r}",
                where=Location(file=str(spec.path), spec_key="sites"),
                fix=f"use one of: {', '.join(s.center for s in spec.sites if s.center) or '(none)'}",
            )
        return replace(hits[0], file=file)
    hits = [s for s in spec.sites if s.file.name == file.name]
    return replace(hits[0], file=file) if len(hits) == 1 else None


def frame_for_compare(pooled: PooledStudy) -> pd.DataFrame:
    """The pooled analysis table as compared by tests (provenance columns kept)."""
    assert pooled.validated is not None
    return pooled.validated.frame


def report_error(exc: BaseException, debug: bool) -> None:
    """Print an error for the user, as ``mmrwe analyze`` does, with markup escaped.

    Messages name spec tables such as ``[[sites]]`` and ``[data]``: printed as rich
    markup they would vanish, so every user-facing text is escaped here.
    """
    import traceback

    from rich.markup import escape

    from mmrwe.cli.main import err

    if debug:
        traceback.print_exception(exc)
    if isinstance(exc, ValidationError):
        errors = [i for i in exc.issues if i.severity == "error"]
        err.print(
            f"[bold red]Validation failed:[/] {len(errors)} error(s), "
            f"{len(exc.issues) - len(errors)} other issue(s). Nothing was analysed."
        )
        for issue in errors[:50]:
            err.print(f"[red]{issue.code} {issue.severity}[/]: {escape(issue.what)}")
            err.print(f"  at {issue.where}", markup=False)
            if issue.fix:
                err.print(f"  fix: {issue.fix}", markup=False)
        if len(errors) > 50:
            err.print(f"(+ {len(errors) - 50} more errors)")
    elif isinstance(exc, MmrweError):
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
    else:
        err.print(
            f"[bold red]internal error:[/] {escape(f'{type(exc).__name__}: {exc}')}\n"
            "This is a bug in mmrwe; please report it with the output of `--debug`."
        )


def register(app: Any) -> None:
    """Add ``pool`` and ``pseudonymize`` to the typer app of :mod:`mmrwe.cli.main`."""

    @app.command("pool")
    def pool_cli(
        spec: Annotated[
            Path,
            typer.Option(
                "--spec", "-s", help="The study spec (TOML) with \\[\\[sites]].", show_default=False
            ),
        ],
        site_files: Annotated[
            list[Path] | None,
            typer.Argument(
                help="Site files; default: every \\[\\[sites]] file of the spec.",
                show_default=False,
            ),
        ] = None,
        out_dir: Annotated[
            Path, typer.Option("--out", "-o", help="Output folder; created if missing.")
        ] = Path("mmrwe-pool"),
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
        debug: Annotated[
            bool, typer.Option("--debug", help="Show Python tracebacks (for bug reports).")
        ] = False,
    ) -> None:
        r"""Pool site files: validate each alone, merge, flag duplicates, analyse the pooled table.

        Each file is read with its \[\[sites]] entry (center, columns, date_format, delimiter, decimal, encoding, sheet, units, recode, absent). Conflicts are errors, never resolved silently: a center cell naming another center, a column typed differently across sites, a value outside declared levels, a column missing at one site.

        Duplicates across sites (same patient_id; or same sex, birth year (else age within 1 year) and start_date, with progression and death dates equal where both are known) stop the run until decided under \[\[pooling.duplicates]]. Of a confirmed pair one whole row is kept: the latest last_followup_date (\[pooling] keep = "longest_followup", the default) or the site listed first (keep = "first_site").

        Writes results.json and report.html as `mmrwe analyze` does, plus pooled_patients.csv and pooling.json (per site: rows in = analysed + excluded with reasons; duplicates for review; center effects).
        """
        from rich.table import Table

        from mmrwe.cli.main import _print_summary, _Progress, err, out
        from mmrwe.spec import load_spec

        try:
            s = load_spec(spec)
            with _Progress(quiet) as progress:
                res = pool(s, site_files or [], out_dir, progress=progress)
        except BaseException as exc:
            if isinstance(exc, typer.Exit | KeyboardInterrupt):
                raise
            report_error(exc, debug)
            if isinstance(exc, ValidationError) and (out_dir / POOLING_JSON).exists():
                err.print(
                    f"Every issue and flagged duplicate pair is listed in {out_dir / POOLING_JSON}"
                )
            raise typer.Exit(1) from None
        table = Table(title="Sites")
        for c in ("site", "file", "rows in", "analysed", "excluded", "errors", "warnings"):
            table.add_column(c)
        for row in site_table_rows(res.pooled):
            table.add_row(*row)
        out.print(table)
        _print_summary(res.run.results)
        for w in res.run.warnings:
            err.print(f"[yellow]warning:[/] {w}")
        out.print(res.center_effects.get("statement", ""))
        out.print(f"Wrote {', '.join(sorted(p.name for p in res.written.values()))} to {out_dir}/")

    @app.command("pseudonymize")
    def pseudonymize_cli(
        file: Annotated[Path, typer.Argument(help="The site's patient table.", show_default=False)],
        key: Annotated[Path, typer.Option("--key", "-k", help="Key file (stays at the site).")],
        out_file: Annotated[
            Path,
            typer.Option("--out", "-o", help="Pseudonymized table to write (same format as FILE)."),
        ],
        spec: Annotated[
            Path | None,
            typer.Option(
                "--spec",
                "-s",
                help="Study spec: \\[\\[sites]] reading options and \\[pseudonymize].",
            ),
        ] = None,
        site: Annotated[
            str | None,
            typer.Option("--site", help="Center name of this site's \\[\\[sites]] entry."),
        ] = None,
        id_column: Annotated[
            str | None,
            typer.Option(
                "--id-column",
                help="Column replaced by the keyed hash (default: the mapped patient_id).",
            ),
        ] = None,
        drop: Annotated[
            list[str] | None,
            typer.Option("--drop", help="A direct identifier column to drop (repeatable)."),
        ] = None,
        keep: Annotated[
            list[str] | None,
            typer.Option(
                "--keep",
                help="A column that looks identifying (by name or content) but is kept knowingly (repeatable).",
            ),
        ] = None,
        keep_only: Annotated[
            list[str] | None,
            typer.Option(
                "--keep-only",
                help="Allow-list: only the id column and these columns leave (repeatable, or comma-separated: --keep-only age,sex,hgb); every other column is dropped.",
            ),
        ] = None,
        dates: Annotated[
            str | None,
            typer.Option(
                "--dates",
                help="keep (default), relative (whole days from each patient's start_date; no calendar date leaves) or shift (one keyed offset per patient).",
                show_default=False,
            ),
        ] = None,
        birth_dates: Annotated[
            str | None,
            typer.Option(
                "--birth-dates",
                help="A kept birth-date column becomes: year (birth_year, default), age (age_at_index) or keep (exact dates; warned).",
                show_default=False,
            ),
        ] = None,
        shift_dates: Annotated[
            bool | None,
            typer.Option(
                "--shift-dates/--no-shift-dates",
                help="Same as --dates shift (kept for existing scripts).",
            ),
        ] = None,
        max_shift_days: Annotated[
            int | None,
            typer.Option("--max-shift-days", help="Largest shift, in days (default 182)."),
        ] = None,
        date_format: Annotated[
            str | None,
            typer.Option("--date-format", help="How text dates are written, e.g. %d/%m/%Y."),
        ] = None,
        delimiter: Annotated[
            str | None, typer.Option("--delimiter", help="CSV field separator.")
        ] = None,
        decimal: Annotated[
            str | None, typer.Option("--decimal", help="Decimal mark of numbers written as text.")
        ] = None,
        encoding: Annotated[
            str | None, typer.Option("--encoding", help="Text encoding of CSV files.")
        ] = None,
        sheet: Annotated[str | None, typer.Option("--sheet", help="Excel sheet.")] = None,
        new_key: Annotated[
            bool,
            typer.Option(
                "--new-key", help="Create KEYFILE with a new random key (refused if it exists)."
            ),
        ] = False,
        force: Annotated[
            bool, typer.Option("--force", help="Replace --out if it exists (refused otherwise).")
        ] = False,
        neutralize_csv: Annotated[
            bool,
            typer.Option(
                "--neutralize-csv/--no-neutralize-csv",
                help="CSV output: prefix a single quote to text cells starting with = + - @ tab or CR, so a spreadsheet shows them as text (default on; off for files only programs read).",
            ),
        ] = True,
        debug: Annotated[
            bool, typer.Option("--debug", help="Show Python tracebacks (for bug reports).")
        ] = False,
    ) -> None:
        r"""Pseudonymize a site's table before it leaves the site.

        Patient ids become HMAC-SHA256(key, id) (20 hex digits); the key never leaves the site and is needed to recompute the link. The key must be random (--new-key makes one), private (chmod 600) and outside the output's folder. --dates relative writes every date as days from the patient's start_date, --dates shift moves all dates of a patient by one keyed random offset; both keep intervals (and PFS, OS) unchanged, neither hides the dates of patients followed up to a known common cut-off, so birth dates are coarsened to the year (--birth-dates). Listed direct identifiers are dropped, --keep-only sends only the listed columns; a column that looks identifying by name (name, birth date, address, phone, e-mail, tax or record number) or by content (e-mail, phone, street address, personal names, id codes, free text, high-cardinality text) and is not kept knowingly stops the command. The output has the input's format and is never replaced without --force; the input is never modified. See docs/security.md.
        """
        from mmrwe.cli.main import err, out
        from mmrwe.core.safety import console_text

        try:
            summary = pseudonymize_command(
                file, key, out_file, spec_path=spec, site=site, id_column=id_column,
                drop=drop or (), keep=keep or (),
                keep_only=None if keep_only is None else [c.strip() for v in keep_only for c in v.split(",") if c.strip()],
                shift_dates=shift_dates,
                dates=dates, birth_dates=birth_dates,
                max_shift_days=max_shift_days, date_format=date_format, delimiter=delimiter,
                decimal=decimal, encoding=encoding, sheet=sheet, new_key=new_key, force=force,
                neutralize_csv=neutralize_csv,
            )  # fmt: skip
        except BaseException as exc:
            if isinstance(exc, typer.Exit | KeyboardInterrupt):
                raise
            report_error(exc, debug)
            raise typer.Exit(1) from None
        # JSON escapes control characters; markup=False keeps "[...]" in names literal.
        out.print(json.dumps(summary, indent=1), markup=False, highlight=False, soft_wrap=True)
        for w in summary.get("warnings", []):
            err.print("[yellow]warning:[/] " + console_text(w, 2000))
