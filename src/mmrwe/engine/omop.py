"""OMOP CDM input: build the canonical patient table (and labs) from a CDM database.

The CDM tables stay in the engine (DuckDB file, PostgreSQL, Spark); this module writes Ibis
expressions that turn them into the canonical layout of contract section 2:

* ``patient_id`` = ``person.person_id`` (text); ``center`` = ``person.care_site_id``;
* ``start_date`` = first exposure to the regimen under study: the first ``drug_exposure``
  of one of its ingredients, or the first treatment episode naming the regimen
  (``episode``, OMOP oncology extension), whichever comes first;
* ``progression_date`` = first progression episode on or after ``start_date``;
* ``death_date`` = ``death.death_date``;
* ``last_followup_date`` = ``death_date`` for patients who died, else the end of their last
  ``observation_period`` (the last date the CDM holds data for them);
* ``sex`` from ``gender_concept_id``; ``age`` = year of start - year of birth;
  baseline covariates = the last lab value in a window before ``start_date``.

Only persons exposed to the regimen are in the table. The concept mapping is data: a
versioned TOML file (``mmrwe/data/omop/mapping_v2.toml`` by default).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from mmrwe.core.errors import InputError, Location, SpecError
from mmrwe.core.sources import SourceInfo
from mmrwe.engine.connection import Backend

DEFAULT_MAPPING = "mapping_v2.toml"


@dataclass(frozen=True)
class LabMap:
    """One lab test: its measurement concepts and unit conversions to the canonical unit."""

    test: str
    concept_ids: tuple[int, ...]
    canonical_unit: str
    units: dict[int, tuple[str, float]]  # unit_concept_id -> (unit label, factor)


@dataclass(frozen=True)
class OmopMapping:
    """The concept mapping file, parsed.

    Attributes
    ----------
    version : str
        The file's own version (recorded in results.json).
    source : str
        Where it was read from.
    """

    version: str
    source: str
    gender: dict[int, str]
    regimens: dict[str, dict[str, Any]]
    progression_episode_ids: tuple[int, ...]
    labs: dict[str, LabMap]
    baseline_window_days: int
    baseline_covariates: dict[str, str]


def load_mapping(path: str | Path | None = None) -> OmopMapping:
    """Read a concept-mapping TOML file (the packaged ``mapping_v2.toml`` by default)."""
    if path is None:
        text = resources.files("mmrwe.data").joinpath("omop").joinpath(DEFAULT_MAPPING).read_text()
        source = f"mmrwe/data/omop/{DEFAULT_MAPPING}"
    else:
        p = Path(path)
        if not p.is_file():
            raise InputError(f"OMOP mapping file not found: {p}", where=Location(file=str(p)))
        text, source = p.read_text(), str(p)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"OMOP mapping {source} is not valid TOML: {exc}") from None
    labs = {
        name: LabMap(
            name,
            tuple(int(c) for c in spec["concept_ids"]),
            str(spec["canonical_unit"]),
            {int(k): (str(v[0]), float(v[1])) for k, v in spec.get("units", {}).items()},
        )
        for name, spec in doc.get("labs", {}).items()
    }
    base = doc.get("baseline", {})
    return OmopMapping(
        version=str(doc.get("version", "?")),
        source=source,
        gender={int(k): str(v) for k, v in doc.get("gender", {}).items()},
        regimens=dict(doc.get("regimens", {})),
        progression_episode_ids=tuple(
            int(c) for c in doc.get("progression", {}).get("episode_concept_ids", [])
        ),
        labs=labs,
        baseline_window_days=int(base.get("window_days", 30)),
        baseline_covariates=dict(base.get("covariates", {})),
    )


def _table(con: Any, name: str, schema: str | None, *, required: bool = True) -> Any:
    try:
        return con.table(name, database=schema) if schema else con.table(name)
    except Exception:
        if required:
            raise InputError(
                f"OMOP table {name!r} not found" + (f" in schema {schema!r}" if schema else ""),
                fix="point [data] patients at the CDM database and set [data.omop] schema",
            ) from None
        return None


def build_labs(con: Any, mapping: OmopMapping, *, schema: str | None = None) -> Any:
    """The long lab table (contract 2b) from ``measurement``: patient_id, date, test, value, unit.

    Values are converted to each test's canonical unit with the mapping's factors; rows
    with an unmapped unit keep their value and get ``unit`` = NULL (never assumed).
    """
    import ibis

    m = _table(con, "measurement", schema)
    parts = []
    for lab in mapping.labs.values():
        sub = m.filter(m.measurement_concept_id.isin(list(lab.concept_ids)))
        factor = ibis.cases(
            *[(sub.unit_concept_id == k, f) for k, (_, f) in lab.units.items()], else_=None
        )
        known = sub.unit_concept_id.isin(list(lab.units))
        parts.append(
            sub.select(
                patient_id=sub.person_id.cast("string"),
                date=sub.measurement_date.cast("date"),
                test=ibis.literal(lab.test),
                value=known.ifelse(
                    sub.value_as_number.cast("float64") * factor,
                    sub.value_as_number.cast("float64"),
                ),
                unit=known.ifelse(ibis.literal(lab.canonical_unit), ibis.null().cast("string")),
            )
        )
    if not parts:
        raise SpecError("the OMOP mapping defines no [labs]")
    out = parts[0]
    for p in parts[1:]:
        out = out.union(p)
    return out


def build_patients(
    con: Any, mapping: OmopMapping, regimen: str, *, schema: str | None = None
) -> Any:
    """The canonical patient table (contract section 2) of the persons exposed to ``regimen``.

    Parameters
    ----------
    con : ibis backend
        Connection holding the CDM tables.
    mapping : OmopMapping
        Concept mapping (:func:`load_mapping`).
    regimen : str
        A ``[regimens.NAME]`` of the mapping.
    schema : str, optional
        The CDM schema (PostgreSQL) or database.

    Returns
    -------
    ibis.Table
        ``patient_id, center, start_date, progression_date, death_date,
        last_followup_date, sex, age`` and one column per baseline covariate.
    """
    import ibis

    if regimen not in mapping.regimens:
        raise SpecError(
            f"regimen {regimen!r} is not in the OMOP mapping ({mapping.source})",
            where=Location(spec_key="data.omop.regimen"),
            fix=f"use one of: {', '.join(sorted(mapping.regimens)) or '(none defined)'}",
        )
    reg = mapping.regimens[regimen]
    person = _table(con, "person", schema)
    death = _table(con, "death", schema)
    obs = _table(con, "observation_period", schema)
    starts = []
    drug_ids = [int(c) for c in reg.get("drug_concept_ids", [])]
    if drug_ids:
        de = _table(con, "drug_exposure", schema)
        starts.append(
            de.filter(de.drug_concept_id.isin(drug_ids)).select(
                person_id=de.person_id, d=de.drug_exposure_start_date.cast("date")
            )
        )
    episode = _table(con, "episode", schema, required=False)
    ep_ids = [int(c) for c in reg.get("episode_object_concept_ids", [])]
    if ep_ids and episode is not None:
        starts.append(
            episode.filter(episode.episode_object_concept_id.isin(ep_ids)).select(
                person_id=episode.person_id, d=episode.episode_start_date.cast("date")
            )
        )
    if not starts:
        raise SpecError(f"regimen {regimen!r} names no drug or episode concepts")
    allstarts = starts[0]
    for s in starts[1:]:
        allstarts = allstarts.union(s)
    start = allstarts.group_by("person_id").aggregate(start_date=allstarts.d.min())

    t = start.join(person, "person_id")
    gender = ibis.cases(
        *[(t.gender_concept_id == k, v) for k, v in mapping.gender.items()], else_=None
    )
    t = t.select(
        person_id=t.person_id,
        start_date=t.start_date,
        center=t.care_site_id.cast("string"),
        sex=gender,
        age=(t.start_date.year() - t.year_of_birth).cast("float64"),
    )
    # progression: first progression episode on or after start
    if mapping.progression_episode_ids and episode is not None:
        pe = episode.filter(episode.episode_concept_id.isin(list(mapping.progression_episode_ids)))
        pe = pe.join(t.select("person_id", "start_date"), "person_id")
        pe = pe.filter(pe.episode_start_date.cast("date") >= pe.start_date)
        prog = pe.group_by("person_id").aggregate(
            progression_date=pe.episode_start_date.cast("date").min()
        )
        t = t.left_join(prog, "person_id").drop("person_id_right")
    else:
        t = t.mutate(progression_date=ibis.null().cast("date"))
    dd = death.group_by("person_id").aggregate(death_date=death.death_date.cast("date").min())
    t = t.left_join(dd, "person_id").drop("person_id_right")
    oe = obs.group_by("person_id").aggregate(
        obs_end=obs.observation_period_end_date.cast("date").max()
    )
    t = t.left_join(oe, "person_id").drop("person_id_right")
    t = t.mutate(last_followup_date=t.death_date.notnull().ifelse(t.death_date, t.obs_end))
    # baseline covariates: the last value within the window before (or on) start
    if mapping.baseline_covariates:
        labs = build_labs(con, mapping, schema=schema)
        win = mapping.baseline_window_days
        for cov, test in mapping.baseline_covariates.items():
            lb = labs.filter(labs.test == test)
            starts_of = t.select(pid=t.person_id.cast("string"), s=t.start_date)
            lb = lb.join(starts_of, lb.patient_id == starts_of.pid)
            lb = lb.filter((lb.date <= lb.s) & (lb.date >= lb.s.sub(ibis.interval(days=win))))
            w = ibis.window(group_by=lb.patient_id, order_by=[ibis.desc(lb.date)])
            lb = lb.mutate(_k=ibis.row_number().over(w)).filter(ibis._._k == 0)
            base = lb.select(person_key=lb.patient_id, **{cov: lb.value})
            t = t.mutate(person_key=t.person_id.cast("string"))
            t = t.left_join(base, "person_key").drop("person_key", "person_key_right")
    cols = ["patient_id", "center", "start_date", "progression_date", "death_date",
            "last_followup_date", "sex", "age", *mapping.baseline_covariates]  # fmt: skip
    t = t.mutate(patient_id=t.person_id.cast("string"))
    return t.select(*cols).order_by("patient_id")


def omop_patients(backend: Backend, spec: Any) -> tuple[Any, SourceInfo]:
    """The canonical patient table of a spec with ``[data] format = "omop"``."""
    from mmrwe.core.fileio import file_sha256
    from mmrwe.engine.connection import redact_url

    opts = dict(spec.data.omop)
    if "regimen" not in opts:
        raise SpecError(
            "an OMOP input needs the regimen under study",
            where=Location(spec_key="data.omop.regimen"),
            fix='add [data.omop] regimen = "IsaPd" (a [regimens] entry of the mapping)',
        )
    mapping_path = opts.get("mapping")
    if mapping_path is not None and not Path(mapping_path).is_absolute():
        mapping_path = str(spec.path.parent / mapping_path)
    mapping = load_mapping(mapping_path)
    table = build_patients(backend.con, mapping, opts["regimen"], schema=opts.get("schema"))
    if spec.data.url is not None:
        name, sha, url = f"omop:{opts.get('schema') or 'cdm'}", None, redact_url(spec.data.url)
    else:
        p = spec.data.patients
        name, sha, url = f"omop:{p.name}", file_sha256(p) if p.is_file() else None, None
    notes = (
        f"OMOP CDM, mapping {mapping.source} version {mapping.version}, regimen {opts['regimen']}",
    )
    return table, SourceInfo(None, "omop", name, sha, None, notes, url)
