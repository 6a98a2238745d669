"""Log-rank tests (``survdiff``) per ``[[logrank]]``, with per-group Kaplan-Meier curves.

From per-(group, stratum, time) counts computed by the engine; equal bit for bit to the
row-level test. Rows missing the group (or stratum) are dropped and counted.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from mmrwe.core.errors import EstimationError
from mmrwe.spec.model import LogrankSpec, StudySpec
from mmrwe.study.analyses.common import (
    CURVE_MAX_STEPS,
    NOT_ESTIMABLE,
    boundary,
    entries,
    group_curve,
    km_from_counts,
    risk_ticks,
)
from mmrwe.study.context import AnalysisContext

KEY = "logrank"
IS_LIST = True  # one entry per spec entry, each in its own failure boundary
LABEL = "Log-rank tests"


def columns(spec: StudySpec) -> set[str]:
    """Row-level columns read (none: counts only)."""
    return set()


def run(ctx: AnalysisContext, done: dict[str, Any]) -> list[dict[str, Any]]:
    """results.json ``logrank``: one entry per ``[[logrank]]``, each in its own boundary."""
    return entries(ctx, "logrank", ctx.spec.logrank, logrank_one, _identity)


def _identity(lr: LogrankSpec) -> dict[str, Any]:
    return {"endpoint": lr.endpoint, "by": lr.by, "strata": lr.strata}


def logrank_entries(
    ctx: AnalysisContext, specs: Sequence[LogrankSpec], max_steps: int = CURVE_MAX_STEPS
) -> list[dict[str, Any]]:
    """Log-rank entries without a spec key (the tests across centers)."""
    return [
        boundary(ctx, None, _identity(lr), functools.partial(logrank_one, ctx, lr, max_steps))
        for lr in specs
    ]


def logrank_one(
    ctx: AnalysisContext, lr: LogrankSpec, max_steps: int = CURVE_MAX_STEPS
) -> dict[str, Any]:
    """survdiff of one endpoint by one factor, with the per-group curves for the figures."""
    from mmrwe.stats.logrank import logrank_from_counts, logrank_trend_from_counts

    keys = [lr.by] + ([lr.strata] if lr.strata else [])
    counts = ctx.counts(lr.endpoint, keys)
    miss = counts["_k0"].isna()
    if lr.strata:
        miss |= counts["_k1"].isna()
    n_excl = int((counts["n_event"] + counts["n_censor"])[miss].sum())
    kept = counts[~miss]
    levels = ctx.levels(lr.by, kept["_k0"].unique())
    entry: dict[str, Any] = {
        "endpoint": lr.endpoint,
        "by": lr.by,
        "strata": lr.strata,
        "n_excluded_missing": n_excl,
    }
    days = kept["time_days"].to_numpy()
    g = kept["_k0"].to_numpy(dtype=object)
    ev, ce = kept["n_event"].to_numpy(), kept["n_censor"].to_numpy()
    s = kept["_k1"].to_numpy(dtype=object) if lr.strata else None
    try:
        if kept.empty:
            raise EstimationError(
                "There is only 1 group (no rows left): the log-rank test needs at least two groups",
                fix="check the grouping variable and missing values",
            )
        res = logrank_from_counts(
            ctx.times(days), g, ev, ce, strata=s, rho=lr.rho, n_excluded_missing=n_excl
        )
    except EstimationError as exc:
        entry.update({"groups": levels, "chisq": None, "df": None, "p": None, "note": exc.what,
                      "status": NOT_ESTIMABLE, "reason": exc.what})  # fmt: skip
        return entry
    d = res.to_dict()
    d.pop("n_excluded_missing", None)
    entry.update(d)
    if entry["df"] < 1:
        # R prints "Chisq= 0 on -1 degrees of freedom, p= NA": no number, but words
        why = "fewer than two groups have any expected event: the test compares nothing"
        entry.update({"chisq": None, "df": None, "p": None, "note": why,
                      "status": NOT_ESTIMABLE, "reason": why})  # fmt: skip
    elif entry["chisq"] is None or entry["p"] is None:
        entry["p_reason"] = "not estimable: the variance of observed - expected is 0"
    if lr.trend:
        scores = np.arange(1, len(levels) + 1, dtype=float)
        tr = logrank_trend_from_counts(
            ctx.times(days), g, ev, ce,
            scores=dict(zip(levels, scores, strict=True)), strata=s,
            n_excluded_missing=n_excl,
        )  # fmt: skip
        entry["trend"] = tr.to_dict()
    all_days = ctx.counts(lr.endpoint)["time_days"].to_numpy()
    ticks = risk_ticks(
        float(ctx.times(all_days).max()) if all_days.size else 0.0,
        ctx.conventions.time_unit,
        ctx.spec.km.risk_table_step,
    )
    # per-level curves ignore strata: sum the counts over strata per (level, time)
    per = kept.groupby(["_k0", "time_days"], sort=True)[["n_event", "n_censor"]].sum()
    curves = {}
    for lv in levels:
        km = km_from_counts(ctx, per.loc[lv].reset_index())
        curves[lv] = group_curve(ctx, km, ticks, max_steps)
    entry["curves"] = curves
    entry["levels"] = levels  # display order (declared levels); dict keys sort on disk
    return entry
