"""Restricted mean survival time per ``[[rmst]]``: per group, and between two groups (survRM2).

From the per-(group, time) event and censoring counts the engine computes (a ``GROUP BY``,
bounded memory at any N): each group's Kaplan-Meier curve from counts is bit for bit the row
curve (:func:`mmrwe.stats.rmst.rmst_compare_from_counts`). A tau beyond what the follow-up
allows (survRM2's rule) makes the entry not estimable, the reason naming the largest tau.
"""

from __future__ import annotations

from typing import Any

from mmrwe.core.errors import EstimationError, SpecError
from mmrwe.spec.model import RmstSpec, StudySpec
from mmrwe.study.analyses.common import entries
from mmrwe.study.context import AnalysisContext

KEY = "rmst"
IS_LIST = True  # one entry per spec entry, each in its own failure boundary
LABEL = "Restricted mean survival time"


def columns(spec: StudySpec) -> set[str]:
    """Row-level columns read (none: engine counts only)."""
    return set()


def run(ctx: AnalysisContext, done: dict[str, Any]) -> list[dict[str, Any]]:
    """results.json ``rmst``: one entry per ``[[rmst]]``."""
    return entries(ctx, "rmst", ctx.spec.rmst, rmst_one, _identity)


def _identity(rm: RmstSpec) -> dict[str, Any]:
    return {"endpoint": rm.endpoint, "tau": rm.tau, "by": rm.by}


def rmst_one(ctx: AnalysisContext, rm: RmstSpec) -> dict[str, Any]:
    """One ``[[rmst]]``: RMST per group up to tau; difference and ratios of two groups."""
    from mmrwe.stats.km import missing_mask
    from mmrwe.stats.rmst import rmst_compare_from_counts

    counts = ctx.counts(rm.endpoint, [rm.by] if rm.by else [])
    group = counts["_k0"].to_numpy(dtype=object) if rm.by else None
    present = [] if group is None else group[~missing_mask(group, group.size)].tolist()
    levels = ctx.levels(rm.by, present) if rm.by else ["all"]
    if rm.by and not levels:
        raise EstimationError(
            f"every patient is missing {rm.by}: no group to compute the RMST in",
            fix=f"check the column {rm.by}",
        )
    if rm.reference is not None and rm.reference not in levels:
        raise SpecError(
            f"reference group {rm.reference!r} of {rm.by!r} does not occur among the analysed rows",
            fix=f"use one of: {', '.join(levels)}",
        )
    # the default reference is the first level in the declared order ([variables.X] levels)
    reference = rm.reference if rm.reference is not None else (levels[0] if rm.by else None)
    res = rmst_compare_from_counts(
        ctx.times(counts["time_days"].to_numpy()),
        counts["n_event"].to_numpy(),
        counts["n_censor"].to_numpy(),
        group,
        tau=rm.tau,
        reference=reference,
        conf_level=rm.conf_level,
    )
    entry = res.to_dict(endpoint=rm.endpoint, by=rm.by)
    entry["levels"] = levels
    # the R functions the numbers equal, as the reports name them
    entry["conventions"]["r_functions"] = {
        "per_group": "survival summary(survfit(...), rmean = tau)",
        "contrasts": "survRM2::rmst2",
    }
    for name in ("difference", "ratio", "rmtl_ratio"):
        c = entry.get(name)
        if c is None:
            entry[f"{name}_reason"] = res.contrast_reason
        elif c.get("estimate") is None:
            what, key = (
                ("restricted mean time lost", "rmtl") if name == "rmtl_ratio" else ("RMST", "rmst")
            )
            zero = [g for g, v in entry["groups"].items() if not v.get(key)]
            entry[f"{name}_reason"] = (
                f"the {what} is 0 up to tau = {rm.tau:g} in {', '.join(zero) or 'a group'}: "
                "the log of the ratio is undefined"
            )
        elif c.get("p") is None:
            c["p_reason"] = "the standard error is 0 (no event before tau in either group)"
    return entry
