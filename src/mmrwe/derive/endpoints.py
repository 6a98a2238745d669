"""Time-to-event endpoints (contract section 2) and spec-declared derived columns.

The endpoint rule is data, like admiral's event/censor sources: the events listed first win
on the same date, and an event on the censoring date is an event.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mmrwe.core.conventions import TimeUnit, days_per_unit
from mmrwe.core.errors import DerivationError, Location
from mmrwe.spec.model import DeriveSpec


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


def derive_time_to_event(patients: pd.DataFrame, rule: TimeToEventRule) -> pd.DataFrame:
    """One row per patient: time in days, event flag, and where the end date came from.

    Parameters
    ----------
    patients : pandas.DataFrame
        Typed canonical table (dates as ``datetime64``).
    rule : TimeToEventRule
        Event and censoring sources.

    Returns
    -------
    pandas.DataFrame
        Columns ``patient_id``, ``time_days`` (int), ``is_event`` (bool), ``end_date``,
        ``end_source`` (e.g. "progression", "death", "last_followup"), ``end_column``.

    Examples
    --------
    >>> d = pd.DataFrame({"patient_id": ["a"], "start_date": pd.to_datetime(["2021-01-01"]),
    ...     "progression_date": pd.to_datetime(["2021-03-02"]), "death_date": pd.to_datetime([None]),
    ...     "last_followup_date": pd.to_datetime(["2021-06-01"])})
    >>> derive_time_to_event(d, PFS_RULE)[["time_days", "is_event", "end_source"]].values.tolist()
    [[60, True, 'progression']]
    """
    origin = patients[rule.origin_column].to_numpy(dtype="datetime64[D]")
    n = len(patients)
    end = patients[rule.censor.date_column].to_numpy(dtype="datetime64[D]").copy()
    source = np.full(n, rule.censor.name, dtype=object)
    column = np.full(n, rule.censor.date_column, dtype=object)
    is_event = np.zeros(n, dtype=bool)
    best = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    # Walk events in reverse priority so that, on equal dates, the first-listed one wins.
    for src in reversed(rule.events):
        d = patients[src.date_column].to_numpy(dtype="datetime64[D]")
        has = ~np.isnat(d)
        better = has & (np.isnat(best) | (d <= best))
        best = np.where(better, d, best)
        source = np.where(better, src.name, source)
        column = np.where(better, src.date_column, column)
        is_event |= has
    end = np.where(is_event, best, end)
    time_days = (end - origin).astype("int64")
    if np.any(time_days < 0):
        i = int(np.flatnonzero(time_days < 0)[0])
        raise DerivationError(
            f"{rule.endpoint}: end date before {rule.origin_column}",
            where=Location(patient_id=str(patients["patient_id"].iloc[i])),
            fix="validation should have caught this; run `mmrwe validate`",
        )
    return pd.DataFrame(
        {
            "patient_id": patients["patient_id"].to_numpy(),
            "time_days": time_days,
            "is_event": is_event,
            "end_date": end,
            "end_source": source,
            "end_column": column,
        }
    )


def to_time_unit(days: np.ndarray, unit: TimeUnit) -> np.ndarray:
    """Convert whole days to the study's time unit (months = days / 30.4375)."""
    return np.asarray(days, dtype=np.float64) / days_per_unit(unit)


def apply_derive(
    frame: pd.DataFrame, rules: tuple[DeriveSpec, ...], column_types: dict[str, str]
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Add the spec's ``[[derive]]`` columns; missing stays missing.

    ``below = c``: 1 where x < c, 0 where x >= c. ``at_least = c``: 1 where x >= c.
    ``above = c``: 1 where x > c. ``in = [...]``: 1 where the category is listed.
    With ``labels = [one, zero]`` the column holds those labels instead of 1/0.
    """
    out = frame.copy()
    types = dict(column_types)
    for r in rules:
        src = out[r.from_]
        if r.in_ is not None:
            miss = src.isna().to_numpy()
            val = src.astype(str).isin(r.in_).to_numpy()
        else:
            if types.get(r.from_) != "numeric":
                raise DerivationError(
                    f"[[derive]] {r.name!r}: column {r.from_!r} is not numeric",
                    fix="use in = [...] for a categorical column",
                )
            x = src.to_numpy(dtype=np.float64)
            miss = np.isnan(x)
            with np.errstate(invalid="ignore"):
                if r.below is not None:
                    val = x < r.below
                elif r.at_least is not None:
                    val = x >= r.at_least
                else:
                    assert r.above is not None
                    val = x > r.above
        if r.labels is not None:
            labels = np.where(val, r.labels[0], r.labels[1]).astype(object)
            labels[miss] = None
            out[r.name] = pd.Series(labels, index=out.index, dtype="object")
            types[r.name] = "categorical"
        else:
            out[r.name] = np.where(miss, np.nan, val.astype(np.float64))
            types[r.name] = "numeric"
    return out, types
