"""``mmrwe init``: a commented starting spec for one's own data file.

:mod:`mmrwe.io.sniff` detects how the file is written and what its columns hold, with the
validator's analytes and usual ranges (:mod:`mmrwe.validate.units`) to pick units;
:mod:`mmrwe.spec.writer` renders the spec.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmrwe.core.errors import InputError, Location, MmrweError

# The analytes of mmrwe.validate.units, whose usual ranges pick a column's unit.
_ANALYTES = ("hemoglobin", "creatinine", "calcium", "albumin", "beta2_microglobulin", "ldh",
             "serum_m_protein", "urine_m_protein", "flc", "bm_plasma_cells", "age",
             "prior_lines", "egfr")  # fmt: skip


def unit_catalog() -> Any:
    """The validator's analytes and usual ranges, for :func:`mmrwe.io.sniff.inspect_file`."""
    from mmrwe.io.sniff import UnitCatalog
    from mmrwe.validate.units import analyte_of, known_units, unit_range

    usual: dict[str, tuple[tuple[str, float, float], ...]] = {}
    for analyte in _ANALYTES:
        rows = []
        for unit in known_units(analyte):
            r = unit_range(analyte, unit)
            if r is not None:
                lo, hi = r.warn or r.reject
                rows.append((unit, float(lo), float(hi)))
        usual[analyte] = tuple(rows)
    return UnitCatalog(analyte_of=lambda name: analyte_of(name), usual=usual)


def write_starter_spec(
    datafile: Path, out: Path, *, sheet: str | None = None, force: bool = False
) -> Any:
    """Inspect ``datafile`` and write a starting spec to ``out``; return the StarterSpec.

    Raises
    ------
    InputError
        ``out`` exists (without ``force``) or is the data file; the data file cannot be
        read; a workbook has several visible sheets and none was chosen.
    """
    from mmrwe.io.sniff import inspect_file
    from mmrwe.spec.schema import SCHEMA_FILE
    from mmrwe.spec.writer import render

    if out.exists() and datafile.exists() and out.resolve() == datafile.resolve():
        raise InputError(
            f"--out {out} is the data file itself",
            where=Location(file=str(out)),
            fix="write the spec to another file, e.g. --out study.toml",
        )
    if out.exists() and not force:
        raise InputError(
            f"{out} already exists; mmrwe init does not overwrite a spec",
            where=Location(file=str(out)),
            fix="choose another --out, or add --force to replace it",
        )
    if out.exists() and out.is_dir():
        raise InputError(f"--out {out} is a folder", where=Location(file=str(out)),
                         fix="give the spec's file name, e.g. --out study.toml")  # fmt: skip
    starter = inspect_file(datafile, unit_catalog(), sheet=sheet, spec_dir=out.parent)
    schema_ref = SCHEMA_FILE.resolve().as_uri() if SCHEMA_FILE.is_file() else None
    from dataclasses import replace

    starter = replace(starter, schema_ref=schema_ref)
    text = render(starter)
    _check_loads(text, out, starter)
    write_text(out, text)
    return starter


def write_redcap_spec(
    records: Path,
    dictionary: Path,
    out: Path,
    *,
    groups: Path | None = None,
    force: bool = False,
) -> Any:
    """Inspect a REDCap project and write its whole spec to ``out``; return the StarterSpec.

    Raises
    ------
    InputError
        ``out`` exists (without ``force``), is a folder or one of the inputs; a file of
        the project cannot be read.
    """
    from dataclasses import replace

    from mmrwe.io.sniff import inspect_redcap
    from mmrwe.spec.schema import SCHEMA_FILE
    from mmrwe.spec.writer import render

    for p in (records, dictionary, groups):
        if p is not None and out.exists() and p.exists() and out.resolve() == p.resolve():
            raise InputError(f"--out {out} is an input file", where=Location(file=str(out)),
                             fix="write the spec to another file, e.g. --out study.toml")  # fmt: skip
    _check_out(out, force)
    starter = inspect_redcap(records, dictionary, unit_catalog(), groups=groups,
                             spec_dir=out.parent)  # fmt: skip
    schema_ref = SCHEMA_FILE.resolve().as_uri() if SCHEMA_FILE.is_file() else None
    starter = replace(starter, schema_ref=schema_ref)
    text = render(starter)
    _check_loads(text, out, starter)
    write_text(out, text)
    return starter


def _check_out(out: Path, force: bool) -> None:
    if out.exists() and not force:
        raise InputError(
            f"{out} already exists; mmrwe init does not overwrite a spec",
            where=Location(file=str(out)),
            fix="choose another --out, or add --force to replace it",
        )
    if out.exists() and out.is_dir():
        raise InputError(f"--out {out} is a folder", where=Location(file=str(out)),
                         fix="give the spec's file name, e.g. --out study.toml")  # fmt: skip


def write_text(out: Path, text: str) -> None:
    """Write a text file atomically; a folder that cannot be written is a RenderError."""
    from mmrwe.core.errors import RenderError
    from mmrwe.core.fileio import atomic_write

    try:
        atomic_write(out, text)
    except OSError as exc:
        raise RenderError(
            f"cannot write {out}: {exc.strerror or exc}",
            where=Location(file=str(out)),
            fix="choose a folder you can write to with --out",
        ) from None


def _check_loads(text: str, out: Path, starter: Any) -> None:
    """The written spec must load; only the choices left to the user (MMS008) may fail."""
    import tomllib

    from mmrwe.spec.errors import InvalidSpecError
    from mmrwe.spec.loader import parse_spec

    try:
        parse_spec(tomllib.loads(text), path=out, text=text)
    except InvalidSpecError as exc:
        unexpected = [i for i in exc.issues if i.code != "MMS008"]
        if unexpected:
            raise MmrweError(
                "mmrwe init produced a spec its own loader refuses: "
                + "; ".join(i.what for i in unexpected),
                fix="this is a bug in mmrwe; please report it with the data file's header row",
            ) from None
