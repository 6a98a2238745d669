"""Derivations: time-to-event endpoints, spec-declared columns, IMWG calls."""

from mmrwe.derive.endpoints import (
    ALL_RULES,
    OS_RULE,
    PFS_RULE,
    RULES,
    DateSource,
    TimeToEventRule,
    to_time_unit,
)

__all__ = [
    "ALL_RULES",
    "OS_RULE",
    "PFS_RULE",
    "RULES",
    "DateSource",
    "TimeToEventRule",
    "to_time_unit",
]
