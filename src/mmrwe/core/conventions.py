"""Conventions as data: every result records the ones it was computed with."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

ConfType = Literal["log", "log-log", "plain"]
MedianRule = Literal["midpoint", "first-at-or-below", "first-below"]
TimeUnit = Literal["days", "months", "years"]
Ties = Literal["efron", "breslow"]

DAYS_PER_MONTH = 30.4375  # 365.25 / 12: 12 months = 365.25 days (contract section 2)
DAYS_PER_YEAR = 365.25


def days_per_unit(unit: TimeUnit) -> float:
    """Return how many days one ``unit`` holds (contract: months = days / 30.4375)."""
    if unit == "days":
        return 1.0
    if unit == "months":
        return DAYS_PER_MONTH
    if unit == "years":
        return DAYS_PER_YEAR
    raise ValueError(f"unknown time unit {unit!r}")


@dataclass(frozen=True, slots=True)
class SurvivalConventions:
    """How Kaplan-Meier curves, their bands and quantiles are computed.

    ``conf_type`` defaults to log-log (contract v1, as SAS LIFETEST); R's ``survfit``
    default is "log". ``median_rule="midpoint"`` is R's ``quantile.survfit`` rule.
    """

    conf_type: ConfType = "log-log"
    conf_level: float = 0.95
    median_rule: MedianRule = "midpoint"
    time_unit: TimeUnit = "months"
    days_per_month: float = DAYS_PER_MONTH

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready dict."""
        return asdict(self)
