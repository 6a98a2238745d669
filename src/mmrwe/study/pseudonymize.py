"""``mmrwe pseudonymize`` at a site: the options from the spec, the work in :mod:`mmrwe.io.pseudonymize`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from mmrwe.core.errors import InputError, Location, MmrweError, SpecError
from mmrwe.spec.model import SiteSpec, StudySpec


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
    from mmrwe.core.fileio import file_sha256
    from mmrwe.io.pool import site_study_spec
    from mmrwe.io.pseudonymize import (
        check_key_location,
        create_key,
        load_key,
        pseudonymize_table,
        write_like,
    )
    from mmrwe.io.readers import read_table
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
    marked: list[str] = []
    structural: list[str] = []
    if spec_path is not None:
        spec = load_spec(spec_path)
        entry = _site_for(spec, file, site)
        sspec = site_study_spec(spec, entry) if entry is not None else spec
        d = sspec.data
        colmap = d.column_map
        project = entry.redcap if entry is not None else d.redcap
        if project is not None and project.records.resolve() == file.resolve():
            # A REDCap export: the record id is the id column, and the fields the dictionary
            # marks as identifiers leave only if dropped or kept knowingly.
            from mmrwe.io.redcap import REDCAP_COLUMNS, checkbox_column, read_dictionary

            dictionary = read_dictionary(project.dictionary, encoding=d.encoding)
            colmap = {"patient_id": dictionary.first, **colmap}
            structural = list(REDCAP_COLUMNS)  # where a row sits, no person's data
            for f in dictionary.fields:
                if f.identifier and f.name != dictionary.first:
                    marked.append(f.name)
                    marked += (
                        [checkbox_column(f.name, c) for c, _ in f.choices] if f.is_checkbox else []
                    )
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
    keep_cols += [c for c in [*keep, *structural] if c not in keep_cols]
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
        marked=marked,
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
