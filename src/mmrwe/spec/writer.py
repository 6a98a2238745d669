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
        "# any key (e.g. `mmrwe explain data.date_format`).",
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
        "# The patient table, relative to this file.",
        f"patients = {toml_value(spec.data_path)}",
    ]
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

    lines += [
        "",
        "[data.columns]",
        "# canonical name = the column of the file holding it. Unmapped columns keep their names.",
    ]
    for c in spec.columns:
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

    lines += _analyses(spec)
    return "\n".join(lines) + "\n"


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
