"""Derivations: time-to-event endpoints, spec-declared columns, IMWG calls."""

from mmrwe.derive.endpoints import (
    OS_RULE,
    PFS_RULE,
    RULES,
    DateSource,
    TimeToEventRule,
    to_time_unit,
)

__all__ = [
    "OS_RULE",
    "PFS_RULE",
    "RULES",
    "DateSource",
    "TimeToEventRule",
    "to_time_unit",
]
