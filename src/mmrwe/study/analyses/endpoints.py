"""Kaplan-Meier per endpoint: median with CI, landmarks, reverse-KM follow-up, risk table.

From per-time counts computed by the engine: memory grows with the number of distinct
follow-up times, not with patients; the numbers equal the row-level estimator's bit for bit.
"""

from __future__ import annotations

import functools
from typing import Any

from mmrwe.core.errors import EstimationError
from mmrwe.spec.model import StudySpec
from mmrwe.study.analyses.common import boundary, km_block
from mmrwe.study.context import AnalysisContext

KEY = "endpoints"
LABEL = "Kaplan-Meier and follow-up"


def columns(spec: StudySpec) -> set[str]:
    """Row-level columns read (none: counts only)."""
    return set()


def run(ctx: AnalysisContext, done: dict[str, Any]) -> dict[str, Any]:
    """results.json ``endpoints``: one block per ``[km] endpoints`` (PFS and OS by default)."""
    return {
        ep: boundary(ctx, None, {"endpoint": ep}, functools.partial(_block, ctx, ep), ok_keys=False)
        for ep in ctx.spec.km.endpoints
    }


def _block(ctx: AnalysisContext, ep: str) -> dict[str, Any]:
    counts = ctx.counts(ep)
    if ep in ctx.restricted and counts.empty:
        raise EstimationError(f"no patient is in the {ep} population (no responder)")
    block = km_block(ctx, counts)
    if ep in ctx.restricted:
        # DoR: responders only; the others are outside the endpoint, not censored
        block["population"] = POPULATION.get(ep, "")
        block["n_outside_population"] = ctx.n - block["n"]
    return block


#: Who an endpoint with a population is estimated in.
POPULATION = {"DoR": "responders: patients with a first documented PR or better"}
