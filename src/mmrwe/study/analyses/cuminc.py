"""Cumulative incidence with a competing event per ``[[cuminc]]`` (R ``cmprsk::cuminc``).

The two competing events are the two ways a PFS ends: a progression, or a death without a
progression before it (``PFS_end_source``; progression and death on one day count as a
progression, docs/clinical.md). A censored PFS is censored. The estimates come from the
patient counts per (group, stratum, time, PFS end) that the engine computes with a
``GROUP BY``, so memory depends on the number of distinct times, not on patients; they are
bit for bit those of the row estimator (:func:`mmrwe.stats.cuminc.cuminc_from_counts`).

Each entry holds the incidence of the event of interest (``groups``, with Gray's test in
``gray``) and, for the figure and the table, that of the competing event
(``competing_groups``, ``gray_competing``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mmrwe.core.errors import EstimationError
from mmrwe.spec.model import CumincSpec, StudySpec
from mmrwe.study.analyses.common import entries, risk_ticks
from mmrwe.study.context import AnalysisContext

KEY = "cuminc"
IS_LIST = True  # one entry per spec entry, each in its own failure boundary
LABEL = "Cumulative incidence (competing risks)"

#: ``cause`` of a censored PFS in the counts handed to the estimator.
CENSORED = "censored"
#: What each event means, in results.json and the reports.
DEFINITION = {
    "progression": "progression (the first PFS event was a progression)",
    "death": "death without a progression before it (the first PFS event was a death)",
}


def columns(spec: StudySpec) -> set[str]:
    """Row-level columns read (none: engine counts only)."""
    return set()


def run(ctx: AnalysisContext, done: dict[str, Any]) -> list[dict[str, Any]]:
    """results.json ``cuminc``: one entry per ``[[cuminc]]``."""
    return entries(ctx, "cuminc", ctx.spec.cuminc, cuminc_one, _identity)


def _identity(ci: CumincSpec) -> dict[str, Any]:
    return {"event": ci.event, "competing": ci.competing, "by": ci.by, "strata": ci.strata}


def cuminc_one(ctx: AnalysisContext, ci: CumincSpec) -> dict[str, Any]:
    """One ``[[cuminc]]``: curves of both events per group, values at ``times``, Gray's tests."""
    from mmrwe.stats.cuminc import cuminc_from_counts
    from mmrwe.stats.km import missing_mask

    keys = [k for k in (ci.by, ci.strata) if k] + ["PFS_end_source"]
    counts = ctx.counts("PFS", keys)
    source = counts[f"_k{len(keys) - 1}"].to_numpy(dtype=object)
    n = (counts["n_event"] + counts["n_censor"]).to_numpy(dtype=np.int64)
    is_event = counts["n_event"].to_numpy() > 0
    cause = np.where(is_event, source, CENSORED).astype(object)
    group = counts["_k0"].to_numpy(dtype=object) if ci.by else None
    strata = counts[f"_k{1 if ci.by else 0}"].to_numpy(dtype=object) if ci.strata else None
    missing = np.zeros(n.size, dtype=bool)
    for col in (group, strata):
        if col is not None:
            missing |= missing_mask(col, n.size)
    kept = int(n[~missing].sum())
    if kept == 0:
        what = " and ".join(c for c in (ci.by, ci.strata) if c)
        raise EstimationError(
            f"every patient is missing {what}: no patient left for the cumulative incidence",
            fix=f"check the column {what}",
        )
    n_event = int(n[~missing & (cause == ci.event)].sum())
    if n_event == 0:
        raise EstimationError(
            f"no PFS ended with {DEFINITION[ci.event]} among the {kept} patients analysed: "
            f"there is no cumulative incidence of {ci.event} to estimate",
            fix=f'check progression_date and death_date, or choose event = "{ci.competing}"',
        )
    t = ctx.times(counts["time_days"].to_numpy())
    options: dict[str, Any] = {
        "censored": CENSORED,
        "strata": strata,
        "times": ci.times,
        "conf_type": ci.conf_type,
        "conf_level": ci.conf_level,
        "rho": ci.rho,
    }
    res = cuminc_from_counts(t, cause, n, group, event=ci.event, **options)
    entry = res.to_dict(event=ci.event, competing=ci.competing, by=ci.by)
    levels = ctx.levels(ci.by, res.groups) if ci.by else list(res.groups)
    unit = ctx.conventions.time_unit
    ticks = risk_ticks(
        max(c.max_time for c in res.groups.values()), unit, ctx.spec.km.risk_table_step
    )
    for g, curve in res.groups.items():
        entry["groups"][g]["risk_table"] = {
            "times": ticks,
            "n_risk": [int(x) for x in curve.n_risk_at(np.asarray(ticks, dtype=float))],
        }
    entry.update(
        strata=ci.strata,
        times=list(ci.times),
        levels=levels,
        definition={
            "endpoint": "PFS",
            "event": DEFINITION[ci.event],
            "competing": DEFINITION[ci.competing],
            "censored": "PFS censored at the last follow-up",
        },
        warnings=[],
    )
    if res.gray is not None and res.gray.stat is None:
        entry["gray_reason"] = res.gray.reason
    n_competing = int(n[~missing & (cause == ci.competing)].sum())
    if n_competing == 0:
        why = (
            f"no PFS ended with {DEFINITION[ci.competing]}: the cumulative incidence of "
            f"{ci.event} equals 1 - Kaplan-Meier of the time to {ci.event}"
        )
        entry.update(competing_groups=None, competing_groups_reason=why)
        entry.update(gray_competing=None, gray_competing_reason=why)
        entry["warnings"].append(why)
        ctx.warnings.append(f"cuminc {ci.event} vs {ci.competing}: {why}")
        return entry
    comp = cuminc_from_counts(t, cause, n, group, event=ci.competing, **options)
    entry["competing_groups"] = {}
    for g, curve in comp.groups.items():
        block: dict[str, Any] = comp.at[g].to_dict()
        block.update(events=curve.events, curve=curve.curve_dict())
        entry["competing_groups"][g] = block
    entry["gray_competing"] = None if comp.gray is None else comp.gray.to_dict()
    entry["gray_competing_reason"] = comp.gray_reason
    if comp.gray is not None and comp.gray.stat is None:
        entry["gray_competing_reason"] = comp.gray.reason
    return entry
