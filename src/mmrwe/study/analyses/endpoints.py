"""Kaplan-Meier per endpoint: median with CI, landmarks, reverse-KM follow-up, risk table.

From per-time counts computed by the engine: memory grows with the number of distinct
follow-up times, not with patients; the numbers equal the row-level estimator's bit for bit.
"""

from __future__ import annotations

import functools
from typing import Any

from mmrwe.spec.model import StudySpec
from mmrwe.study.analyses.common import boundary, km_block
from mmrwe.study.context import ENDPOINTS, AnalysisContext

KEY = "endpoints"
LABEL = "Kaplan-Meier and follow-up"


def columns(spec: StudySpec) -> set[str]:
    """Row-level columns read (none: counts only)."""
    return set()


def run(ctx: AnalysisContext, done: dict[str, Any]) -> dict[str, Any]:
    """results.json ``endpoints``."""
    return {
        ep: boundary(ctx, None, {"endpoint": ep}, functools.partial(_block, ctx, ep), ok_keys=False)
        for ep in ENDPOINTS
    }


def _block(ctx: AnalysisContext, ep: str) -> dict[str, Any]:
    return km_block(ctx, ctx.counts(ep))
