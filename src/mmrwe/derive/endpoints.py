"""Time-to-event endpoints (PFS, OS) as rules: data that the engine compiles.

The endpoint rule is data, like admiral's event/censor sources: the events listed first win
on the same date, and an event on the censoring date is an event.
:func:`mmrwe.engine.pushdown.derive_time_to_event` turns a rule into columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmrwe.core.conventions import TimeUnit, days_per_unit


@dataclass(frozen=True, slots=True)
class DateSource:
    """A date column that ends follow-up, and its name in the provenance columns."""

    name: str
    date_column: str


@dataclass(frozen=True, slots=True)
class TimeToEventRule:
    """How one endpoint is derived from the canonical table."""

    endpoint: str
    origin_column: str
    events: tuple[DateSource, ...]  # on the same date, the first listed wins
    censor: DateSource


PFS_RULE = TimeToEventRule(
    "PFS",
    "start_date",
    (DateSource("progression", "progression_date"), DateSource("death", "death_date")),
    DateSource("last_followup", "last_followup_date"),
)
OS_RULE = TimeToEventRule(
    "OS",
    "start_date",
    (DateSource("death", "death_date"),),
    DateSource("last_followup", "last_followup_date"),
)
RULES = {"PFS": PFS_RULE, "OS": OS_RULE}


def to_time_unit(days: np.ndarray, unit: TimeUnit) -> np.ndarray:
    """Convert whole days to the study's time unit (months = days / 30.4375)."""
    return np.asarray(days, dtype=np.float64) / days_per_unit(unit)
