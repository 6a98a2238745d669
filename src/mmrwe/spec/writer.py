"""Write a starting study spec as commented TOML (what ``mmrwe init`` produces).

Every choice is an explicit key with a comment saying what was seen in the file and why it
was chosen, so a reader can check each one. A choice that could not be made (day/month vs
month/day dates) is written as a list of the candidates: the loader refuses such a list
(MMS008) and names the key, so the spec cannot be used until the user keeps one.

The detection itself is in :mod:`mmrwe.io.sniff`; this module only renders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mmrwe.spec.loader import toml_key, toml_value


@dataclass(frozen=True, slots=True)
class Setting:
    """One ``[data]`` reading option.

    ``value`` None with ``candidates`` = undecided (written as a list the loader refuses);
    ``value`` None without candidates = not applicable (written as a comment only).
    """

    key: str
    value: Any
    why: str
    candidates: tuple[tuple[Any, str], ...] = ()  # (value, words) when undecided


@dataclass(frozen=True, slots=True)
class ColumnChoice:
    """A canonical column and the source column mapped to it (None = not found)."""

    canonical: str
    source: str | None
    why: str


@dataclass(frozen=True, slots=True)
class VariableChoice:
    """A ``[variables.NAME]`` entry."""

    name: str
    why: str
    type: str | None = None
    levels: tuple[str, ...] | None = None
    unit: str | None = None
    analyte: str | None = None
    label: str | None = None


@dataclass(frozen=True, slots=True)
class InstrumentChoice:
    """A REDCap instrument mapped to the lab or therapy table."""

    instrument: str
    why: str
    columns: tuple[tuple[str, str, str], ...] = ()  # (canonical, field, why)
    missing: tuple[tuple[str, str], ...] = ()  # (canonical column not found, why)


@dataclass(frozen=True, slots=True)
class RedcapStarter:
    """What ``mmrwe init --redcap`` decided about a REDCap project (rendered as ``[data.redcap]``)."""

    records: str  # paths relative to the spec's folder
    dictionary: str
    groups: str | None
    groups_why: str
    export: str
    export_why: str
    baseline_event: str | None
    baseline_why: str
    forms: tuple[str, ...]
    forms_why: str
    checkboxes: tuple[tuple[str, str, str], ...] = ()  # (field, mode, why)
    labs: InstrumentChoice | None = None
    therapy: InstrumentChoice | None = None
    not_tables: str = ""  # why no (other) instrument feeds the lab or therapy table
    id_field: str = "record_id"
    identifiers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StarterSpec:
    """Everything ``mmrwe init`` decided about one data file."""

    data_path: str  # relative to the spec's folder, with "/" separators
    source_note: str  # e.g. "pazienti.csv: 51 rows, 11 columns"
    settings: tuple[Setting, ...] = ()
    columns: tuple[ColumnChoice, ...] = ()
    variables: tuple[VariableChoice, ...] = ()
    title: str = "Untitled study"
    schema_ref: str | None = None  # written as the first-line `#:schema` comment for editors
    notes: tuple[str, ...] = field(default_factory=tuple)
    redcap: RedcapStarter | None = None  # a REDCap project instead of a data file
    response_source: tuple[str, str] | None = None  # ([response] source, why)
    table1: tuple[tuple[str, ...], str] | None = None  # ([table1] variables, why)

    @property
    def undecided(self) -> tuple[str, ...]:
        """Keys left for the user to choose (``data.date_format``, ...)."""
        return tuple(f"data.{s.key}" for s in self.settings if s.value is None and s.candidates)

    @property
    def mapped(self) -> dict[str, str]:
        """Canonical name -> source column, for the columns that were found."""
        return {c.canonical: c.source for c in self.columns if c.source is not None}


def _comment(text: str, indent: str = "") -> list[str]:
    import textwrap

    out: list[str] = []
    for para in text.split("\n"):
        out += textwrap.wrap(
            para, width=96, initial_indent=f"{indent}# ", subsequent_indent=f"{indent}#   "
        ) or [f"{indent}#"]
    return out


def render(spec: StarterSpec) -> str:
    """The study spec text (TOML with comments) for ``spec``."""
    lines: list[str] = []
    if spec.schema_ref:
        # taplo (VS Code "Even Better TOML") reads this directive: completion and checks.
        lines.append(f"#:schema {spec.schema_ref}")
    lines += [
        "# Study spec written by `mmrwe init` from " + spec.source_note + ".",
        "# Every key below was detected from the file; the comment above it says what was seen.",
        "# Check each one, then run `mmrwe validate` on this file. `mmrwe explain KEY` documents",
        "# any key (e.g. `mmrwe explain "
        + ("data.redcap.export" if spec.redcap is not None else "data.date_format")
        + "`).",
    ]
    for note in spec.notes:
        lines += _comment(note)
    if spec.undecided:
        lines += _comment(
            "TO DO before validation: choose "
            + ", ".join(spec.undecided)
            + " (marked UNDECIDED below)."
        )
    lines += [
        "",
        "[study]",
        f"title = {toml_value(spec.title)}  # shown on the report: edit it",
        'time_unit = "months"  # "days" | "months" (days / 30.4375) | "years" (days / 365.25)',
        "",
        "[data]",
    ]
    if spec.redcap is None:
        lines += [
            "# The patient table, relative to this file.",
            f"patients = {toml_value(spec.data_path)}",
        ]
    else:
        lines += _comment(
            "A REDCap project: the patient table is the baseline row of each record, and the "
            "lab and therapy tables come from instruments ([data.redcap] below). How the "
            "record export is written:"
        )
    for s in spec.settings:
        lines.append("")
        if s.value is None and s.candidates:
            lines += _comment(f"UNDECIDED: {s.why}")
            for value, words in s.candidates:
                lines.append(f"#   {s.key} = {toml_value(value)}  # {words}")
            lines += _comment(
                f"Keep one of them as {s.key} = ...; until then the spec does not load "
                f"(the list below is refused on purpose)."
            )
            lines.append(f"{s.key} = {toml_value([v for v, _ in s.candidates])}")
        elif s.value is None:
            lines += _comment(f"{s.key}: {s.why}")
        else:
            lines += _comment(s.why)
            lines.append(f"{s.key} = {toml_value(s.value)}")

    if spec.redcap is not None:
        lines += _redcap_lines(spec.redcap)
    lines += [
        "",
        "[data.columns]",
        "# canonical name = the column of the file holding it. Unmapped columns keep their names."
        if spec.redcap is None
        else "# canonical name = the REDCap field holding it. Other fields keep their names.",
    ]
    for c in spec.columns:
        if spec.redcap is not None and c.source == c.canonical:
            lines += _comment(f"{c.canonical}: {c.why}")
            continue
        if c.source is None:
            lines += _comment(f"{c.canonical}: {c.why}")
            lines.append(f'# {c.canonical} = "<column name>"')
        else:
            lines += _comment(c.why)
            lines.append(f"{c.canonical} = {toml_value(c.source)}")

    for v in spec.variables:
        lines += ["", f"[variables.{toml_key(v.name)}]"]
        lines += _comment(v.why)
        for key in ("type", "unit", "analyte", "label", "levels"):
            value = getattr(v, key)
            if value is not None:
                lines.append(f"{key} = {toml_value(list(value) if key == 'levels' else value)}")

    if spec.response_source is not None:
        value, why = spec.response_source
        lines += ["", "[response]"]
        lines += _comment(why)
        lines.append(f"source = {toml_value(value)}")
    if spec.table1 is not None:
        lines += ["", "[table1]"]
        lines += _comment(spec.table1[1])
        lines.append(f"variables = {toml_value(list(spec.table1[0]))}")
    lines += _analyses(spec)
    return "\n".join(lines) + "\n"


def _redcap_lines(r: RedcapStarter) -> list[str]:
    """``[data.redcap]`` and its sub-tables, each choice with what was seen."""
    lines = ["", "[data.redcap]"]
    lines += _comment(
        f"The record export and the data dictionary, relative to this file. The dictionary's "
        f"first field {r.id_field!r} is patient_id; coded choices are read as their labels, "
        "in the dictionary's order (the [variables] below list them)."
        + (
            f" Fields marked as identifiers ({', '.join(r.identifiers)}) are never read, so "
            "they reach no output."
            if r.identifiers
            else ""
        )
    )
    lines.append(f"records = {toml_value(r.records)}")
    lines += _comment("The project's data dictionary (as REDCap downloads it).")
    lines.append(f"dictionary = {toml_value(r.dictionary)}")
    lines += _comment(r.groups_why)
    lines.append(
        f"groups = {toml_value(r.groups)}"
        if r.groups
        else '# groups = "dags.csv"  # the data access groups export, for the centers\' names'
    )
    lines += _comment(r.export_why)
    lines.append(f"export = {toml_value(r.export)}")
    lines += _comment(r.baseline_why)
    if r.baseline_event is not None:
        lines.append(f"baseline_event = {toml_value(r.baseline_event)}")
    lines += _comment(r.forms_why)
    lines.append(f"forms = {toml_value(list(r.forms))}")
    if r.checkboxes:
        lines += ["", "[data.redcap.checkboxes]"]
        lines += _comment(
            'How each checkbox field is read: "set" (one column, the ticked choices\' labels '
            'joined by ";") or "columns" (one yes/no column field___code per choice).'
        )
        for fld, mode, why in r.checkboxes:
            lines += _comment(why)
            lines.append(f"{toml_key(fld)} = {toml_value(mode)}")
    for key, inst in (("labs", r.labs), ("therapy", r.therapy)):
        if inst is None:
            continue
        lines += ["", f"[data.redcap.{key}]"]
        lines += _comment(inst.why)
        lines.append(f"instrument = {toml_value(inst.instrument)}")
        lines += ["", f"[data.redcap.{key}.columns]"]
        lines += _comment(
            f"canonical {key} column = the field of instrument {inst.instrument!r} holding it."
        )
        for canon, fld, why in inst.columns:
            lines += _comment(why)
            lines.append(f"{toml_key(canon)} = {toml_value(fld)}")
        for canon, why in inst.missing:
            lines += _comment(f"{canon}: {why}")
            lines.append(f'# {toml_key(canon)} = "<field>"')
    if r.not_tables:
        lines.append("")
        lines += _comment(r.not_tables)
    return lines


def _analyses(spec: StarterSpec) -> list[str]:
    """Default survival options, ORR when a best response exists, examples as comments."""
    mapped = spec.mapped
    lines = [
        "",
        "# Analyses. PFS and OS (Kaplan-Meier, median, follow-up) are always computed.",
        "[km]",
        'conf_type = "log-log"  # "log-log" (default) | "log" (R survfit\'s default) | "plain"',
        "landmarks = [12, 24]   # survival reported at these times (in time_unit)",
    ]
    if "best_response" in mapped:
        lines += [
            "",
            "[[proportion]]",
            'name = "ORR"',
            'variable = "best_response"',
            'success = ["sCR", "CR", "VGPR", "PR"]',
        ]
    factors = [v.name for v in spec.variables if v.levels and v.name != "best_response"]
    numeric = [v.name for v in spec.variables if v.type == "numeric"]
    # A lab value makes a better cut-off example than age or a count.
    numeric.sort(
        key=lambda n: next(
            (v.unit in ("years", "count", None)) for v in spec.variables if v.name == n
        )
    )
    examples: list[str] = []
    if factors:
        examples += ["[[logrank]]", 'endpoint = "PFS"', f"by = {toml_value(factors[0])}", ""]
    terms = (numeric[:1] + factors[:1]) or []
    if terms:
        examples += ["[[cox]]", 'endpoint = "OS"', f"terms = {toml_value(terms)}", ""]
    if numeric:
        examples += ["[[cutpoint]]", 'endpoint = "PFS"', f"variable = {toml_value(numeric[0])}",
                     'method = "maxstat"']  # fmt: skip
    if examples:
        lines += ["", "# Examples to adapt (remove the # to use them):"]
        lines += [f"# {x}" if x else "#" for x in examples]
    return lines


def comment_lines(text: str) -> Sequence[str]:
    """``text`` wrapped as TOML comment lines (for callers adding their own notes)."""
    return _comment(text)
