"""Time-to-event endpoints as rules: data that the engine compiles.

The endpoint rule is data, like admiral's event/censor sources: the events listed first win
on the same date, and an event on the censoring date is an event.
:func:`mmrwe.engine.pushdown.derive_time_to_event` turns a rule into columns.

Besides PFS and OS (contract section 2), the myeloma endpoints reviewers ask for
(docs/clinical.md section 6):

* **TTP**, time to progression: progression is the event; a death without progression is
  censored at the death date.
* **DoR**, duration of response: from the first documented PR or better
  (``first_response_date``, the first of the two confirming assessments) to progression or
  death; responders only (a patient without ``first_response_date`` is outside the
  endpoint's population: no time, no event).
* **TTNT**, time to next treatment: to the start of the next line (``next_line_date``) or
  death, whichever comes first.
* **PFS2**: to progression on the next line (``next_line_progression_date``) or death.

Every rule is censored at ``last_followup_date`` (for a patient who died it equals
``death_date``).
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
    """How one endpoint is derived from the canonical table.

    Attributes
    ----------
    endpoint : str
        Its name (``{endpoint}_time_days`` ... in the analysis table).
    origin_column : str
        Day 0 of the endpoint.
    events : tuple of DateSource
        Event dates; on the same date, the first listed wins.
    censor : DateSource
        Censoring date when no event date is filled (an event on it is an event).
    censor_first : tuple of DateSource
        Censoring dates preferred over ``censor`` when filled (TTP: death), in order; they
        only change the provenance (``end_source``) when they equal ``censor``.
    restricted : bool
        The origin may be empty: such a patient is outside the endpoint's population
        (time null, event false). DoR: non-responders.
    definition : str
        The definition in words, for results.json ``conventions``.
    """

    endpoint: str
    origin_column: str
    events: tuple[DateSource, ...]  # on the same date, the first listed wins
    censor: DateSource
    censor_first: tuple[DateSource, ...] = ()
    restricted: bool = False
    definition: str = ""

    @property
    def date_columns(self) -> tuple[str, ...]:
        """Every date column the rule reads (origin, events, censoring), in order."""
        cols = [self.origin_column, *(s.date_column for s in self.events)]
        cols += [s.date_column for s in self.censor_first] + [self.censor.date_column]
        return tuple(dict.fromkeys(cols))


_PROGRESSION = DateSource("progression", "progression_date")
_DEATH = DateSource("death", "death_date")
_LAST_FOLLOWUP = DateSource("last_followup", "last_followup_date")

PFS_RULE = TimeToEventRule(
    "PFS",
    "start_date",
    (_PROGRESSION, _DEATH),
    _LAST_FOLLOWUP,
    definition="progression or death, whichever first; censored at last follow-up",
)
OS_RULE = TimeToEventRule(
    "OS",
    "start_date",
    (_DEATH,),
    _LAST_FOLLOWUP,
    definition="death from any cause; censored at last follow-up",
)
TTP_RULE = TimeToEventRule(
    "TTP",
    "start_date",
    (_PROGRESSION,),
    _LAST_FOLLOWUP,
    censor_first=(DateSource("death_censored", "death_date"),),
    definition="progression; a death without progression is censored at the death date; "
    "otherwise censored at last follow-up",
)
DOR_RULE = TimeToEventRule(
    "DoR",
    "first_response_date",
    (_PROGRESSION, _DEATH),
    _LAST_FOLLOWUP,
    restricted=True,
    definition="responders only (first documented PR or better, dated at the first of the "
    "two confirming assessments) to progression or death, whichever first; censored at last "
    "follow-up",
)
TTNT_RULE = TimeToEventRule(
    "TTNT",
    "start_date",
    (DateSource("next_line", "next_line_date"), _DEATH),
    _LAST_FOLLOWUP,
    definition="start of the next line of therapy or death, whichever first; censored at "
    "last follow-up",
)
PFS2_RULE = TimeToEventRule(
    "PFS2",
    "start_date",
    (DateSource("next_line_progression", "next_line_progression_date"), _DEATH),
    _LAST_FOLLOWUP,
    definition="progression on the next line of therapy or death, whichever first; "
    "censored at last follow-up",
)

#: PFS and OS: always derived (contract section 2).
RULES = {"PFS": PFS_RULE, "OS": OS_RULE}
#: Every endpoint a spec may name, in display order.
ALL_RULES: dict[str, TimeToEventRule] = {
    r.endpoint: r for r in (PFS_RULE, OS_RULE, TTP_RULE, DOR_RULE, TTNT_RULE, PFS2_RULE)
}
#: Columns an endpoint needs beyond the canonical table, and where they come from.
NEEDS: dict[str, dict[str, str]] = {
    "DoR": {"first_response_date": "the response derivation from labs ([response] source = "
            '"labs") or a first_response_date column of the patient table'},
    "TTNT": {"next_line_date": "the therapy table ([data] therapy with [response] source = "
             '"labs") or a next_line_date column of the patient table'},
    "PFS2": {"next_line_progression_date": "the therapy table ([data] therapy with [response] "
             'source = "labs") or a next_line_progression_date column of the patient table'},
}  # fmt: skip


def to_time_unit(days: np.ndarray, unit: TimeUnit) -> np.ndarray:
    """Convert whole days to the study's time unit (months = days / 30.4375)."""
    return np.asarray(days, dtype=np.float64) / days_per_unit(unit)
