"""Errors and warnings that say what is wrong, where, and how to fix it.

Every user-facing failure is an :class:`MmrweError`; the CLI prints its message and exits
with status 1 without a traceback (unless ``--debug``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Location:
    """Where a problem is, in the terms the user sees.

    ``row`` is the row number as shown by a spreadsheet program: the header is row 1, so
    the first data row is row 2. A REDCap export adds where the cell sits in the project:
    ``event`` (unique event name, or its label in a labels export), ``instrument``,
    ``instance`` (of a repeating instrument or event) and ``field`` (the REDCap field name;
    ``column`` is then the column of the canonical table it feeds); the record id is
    ``patient_id``.
    """

    file: str | None = None
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    patient_id: str | None = None
    spec_key: str | None = None
    event: str | None = None
    instrument: str | None = None
    instance: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        parts: list[str] = []
        if self.file:
            parts.append(self.file)
        if self.sheet:
            parts.append(f"sheet {self.sheet!r}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column!r}")
        if self.patient_id:
            parts.append(f"patient {self.patient_id}")
        if self.event:
            parts.append(f"event {self.event!r}")
        if self.instrument:
            parts.append(f"instrument {self.instrument!r}")
        if self.instance is not None:
            parts.append(f"instance {self.instance}")
        if self.field and self.field != self.column:
            parts.append(f"field {self.field!r}")
        if self.spec_key:
            parts.append(f"spec key {self.spec_key!r}")
        return ", ".join(parts) if parts else "(no location)"

    def to_dict(self) -> dict[str, object]:
        """Return the non-empty fields as a plain dict (for JSON)."""
        return {
            k: getattr(self, k)
            for k in (
                "file",
                "sheet",
                "row",
                "column",
                "patient_id",
                "spec_key",
                "event",
                "instrument",
                "instance",
                "field",
            )
            if getattr(self, k) is not None
        }


class MmrweError(Exception):
    """Base class of every error meant for the user.

    Parameters
    ----------
    what : str
        One sentence: what is wrong.
    where : Location, optional
        Where it is.
    fix : str, optional
        How to fix it.
    """

    def __init__(self, what: str, *, where: Location | None = None, fix: str | None = None):
        self.what, self.where, self.fix = what, where, fix
        lines = [what]
        if where is not None:
            lines.append(f"  at {where}")
        if fix:
            lines.append(f"  fix: {fix}")
        super().__init__("\n".join(lines))


class SpecError(MmrweError):
    """Unknown or bad key in the study spec, or an impossible combination."""


class InputError(MmrweError):
    """Unreadable or missing input file, wrong sheet, bad encoding."""


class SchemaError(InputError):
    """Missing or unmapped column, wrong type."""


class DerivationError(MmrweError):
    """A clinical derivation rule cannot be applied."""


class EstimationError(MmrweError):
    """A model cannot be fitted."""


class ConvergenceError(EstimationError):
    """An iterative fit did not converge."""


class RenderError(MmrweError):
    """Template, figure or output-path problem."""


@dataclass(frozen=True, slots=True)
class Issue:
    """One validation finding.

    Attributes
    ----------
    code : str
        Stable identifier (``MMV001`` ...), so a spec can accept it knowingly.
    severity : {"error", "warning"}
        Errors stop the run; warnings are listed in the report.
    what : str
        What is wrong.
    where : Location
        Where it is.
    fix : str
        How to fix it.
    """

    code: str
    severity: str
    what: str
    where: Location = field(default_factory=Location)
    fix: str = ""

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready dict."""
        return {
            "code": self.code,
            "severity": self.severity,
            "what": self.what,
            "where": self.where.to_dict(),
            "fix": self.fix,
        }

    def format(self) -> str:
        """Format the issue for a terminal, in three lines."""
        out = f"[{self.code}] {self.severity}: {self.what}\n  at {self.where}"
        if self.fix:
            out += f"\n  fix: {self.fix}"
        return out


class ValidationError(MmrweError):
    """Carries every issue found, not only the first."""

    def __init__(self, issues: Sequence[Issue]):
        self.issues = tuple(issues)
        errors = [i for i in self.issues if i.severity == "error"]
        first = errors[0] if errors else self.issues[0]
        n_more = len(errors) - 1
        what = f"validation failed: {len(errors)} error(s)"
        super().__init__(what)
        self.first = first
        self.n_more = n_more

    def __str__(self) -> str:
        errors = [i for i in self.issues if i.severity == "error"]
        return "\n".join([self.what, *(i.format() for i in errors)])


class MmrweWarning(UserWarning):
    """Base class of mmrwe warnings."""


class ConventionWarning(MmrweWarning):
    """A default of R was overridden; the report's methods section says so."""


class SmallSampleWarning(MmrweWarning):
    """An estimate rests on very few patients or events."""


class SeparationWarning(MmrweWarning):
    """Monotone likelihood or separation: an estimate diverges."""
