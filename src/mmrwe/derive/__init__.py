"""Derivations: time-to-event endpoints, spec-declared columns, IMWG calls."""

from mmrwe.derive.endpoints import (
    OS_RULE,
    PFS_RULE,
    RULES,
    DateSource,
    TimeToEventRule,
    apply_derive,
    derive_time_to_event,
    to_time_unit,
)

__all__ = [
    "OS_RULE",
    "PFS_RULE",
    "RULES",
    "DateSource",
    "TimeToEventRule",
    "apply_derive",
    "derive_time_to_event",
    "to_time_unit",
]
