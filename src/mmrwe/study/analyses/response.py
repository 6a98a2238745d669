"""Best-response categories in IMWG order, from category counts."""

from __future__ import annotations

from typing import Any

from mmrwe.spec.model import RESPONSE_CATEGORIES, StudySpec
from mmrwe.study.context import AnalysisContext

KEY = "response"
LABEL = "Response"


def columns(spec: StudySpec) -> set[str]:
    """Row-level columns read (none: counts only)."""
    return set()


def run(ctx: AnalysisContext, done: dict[str, Any]) -> dict[str, Any] | None:
    """results.json ``response``: counts and percentages of sCR ... PD, NE."""
    if "best_response" not in ctx.types:
        return None
    counts = ctx.value_counts("best_response")
    n = sum(counts.values())
    by_cat = {c: int(counts.get(c, 0)) for c in RESPONSE_CATEGORIES}
    return {
        "variable": "best_response",
        "categories": list(RESPONSE_CATEGORIES),
        "counts": by_cat,
        "missing": int(counts.get(None, 0)),
        "n": n,
        "percent": {c: (100.0 * k / n if n else None) for c, k in by_cat.items()},
    }
