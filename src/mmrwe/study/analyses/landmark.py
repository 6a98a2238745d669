"""Landmark analysis by response (``[km] landmark_from``): survival compared without immortal time.

Comparing survival from day 0 between responders and non-responders credits responders with
the time they had to survive to respond (Anderson, Cain and Gelber, J Clin Oncol 1983). The
landmark analysis fixes the groups at a landmark time L instead: patients alive and
event-free at L (endpoint time > L) are grouped by whether they reached PR or better by then
(``first_response_date`` on or before day 0 + L), and followed from L. Each endpoint of
``[km] endpoints`` except DoR (whose origin is the response) gets one entry: Kaplan-Meier per
group and the log-rank test (R: ``survfit``/``survdiff`` on ``subset(d, time > L)`` with time
``time - L``).

From per-(group, time) counts computed by the engine, as the Kaplan-Meier section.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from mmrwe.core.errors import EstimationError
from mmrwe.spec.model import StudySpec
from mmrwe.study.analyses.common import NOT_ESTIMABLE, boundary, fmt_time, risk_ticks
from mmrwe.study.context import AnalysisContext

KEY = "landmark_analysis"
IS_LIST = True
LABEL = "Landmark analysis by response"
SPEC_KEY = "[km] landmark_from"
GROUPS = ("responder", "non-responder")


def wanted(spec: StudySpec) -> bool:
    """Only with ``[km] landmark_from``: the section is absent otherwise."""
    return spec.km.landmark_from is not None


def columns(spec: StudySpec) -> set[str]:
    """Row-level columns read (none: counts only)."""
    return set()


def endpoints_of(spec: StudySpec) -> list[str]:
    """The endpoints analysed from the landmark: ``[km] endpoints`` without DoR."""
    return [ep for ep in spec.km.endpoints if ep != "DoR"]


def run(ctx: AnalysisContext, done: dict[str, Any]) -> list[dict[str, Any]]:
    """results.json ``landmark_analysis``: one entry per endpoint, each in its own boundary."""
    if ctx.spec.km.landmark_from is None:
        return []
    return [
        boundary(ctx, SPEC_KEY, {"endpoint": ep, "landmark": ctx.spec.km.landmark_from},
                 functools.partial(landmark_one, ctx, ep, ctx.spec.km.landmark_from))
        for ep in endpoints_of(ctx.spec)
    ]  # fmt: skip


def landmark_one(ctx: AnalysisContext, ep: str, landmark: float) -> dict[str, Any]:
    """Kaplan-Meier by response at the landmark, from the landmark on, with the log-rank test."""
    import ibis

    from mmrwe.engine.pushdown import survival_counts
    from mmrwe.stats.km import kaplan_meier_from_counts
    from mmrwe.stats.logrank import logrank_from_counts

    t = ctx.table
    l_days = landmark * ctx.days_per_unit
    time = t[f"{ep}_time_days"]
    after = time > l_days
    resp_days = t.first_response_date.delta(t.start_date, unit="day")
    responder = resp_days.notnull() & (resp_days <= l_days)
    agg = (
        t.aggregate(
            n=ibis._.count(),
            at_risk=after.ifelse(1, 0).sum(),
            ev_before=(~after & t[f"{ep}_event"]).ifelse(1, 0).sum(),
            resp_before=(~after & responder).ifelse(1, 0).sum(),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    n_risk = int(agg["at_risk"] or 0)
    entry: dict[str, Any] = {
        "endpoint": ep,
        "landmark": landmark,
        "time_origin": "landmark",
        "groups_rule": "responder: first documented PR or better on or before the landmark",
        "n": int(agg["n"]),
        "n_at_landmark": n_risk,
        "n_excluded": {
            "event_before_landmark": int(agg["ev_before"] or 0),
            "censored_before_landmark": int(agg["n"]) - n_risk - int(agg["ev_before"] or 0),
        },
    }
    if n_risk == 0:
        raise EstimationError(
            f"no patient is alive and free of the {ep} event at the landmark ({landmark:g} "
            f"{ctx.conventions.time_unit})",
            fix="choose an earlier landmark_from under [km]",
        )
    sub = t.filter(after).mutate(_g=responder.ifelse(GROUPS[0], GROUPS[1]))
    counts = survival_counts(sub, f"{ep}_time_days", f"{ep}_event", ["_g"]).to_pandas()
    times = ctx.times(counts["time_days"].to_numpy()) - landmark
    g = counts["_g"].to_numpy(dtype=object)
    ev = counts["n_event"].to_numpy()
    ce = counts["n_censor"].to_numpy()
    levels = [lv for lv in GROUPS if lv in set(g)]
    entry["groups"] = levels
    entry["n_per_group"] = {lv: int((ev[g == lv] + ce[g == lv]).sum()) for lv in levels}
    entry["events"] = {lv: int(ev[g == lv].sum()) for lv in levels}
    conv = ctx.conventions
    ticks = risk_ticks(float(times.max()), conv.time_unit, ctx.spec.km.risk_table_step)
    curves = {}
    for lv in levels:
        m = g == lv
        km = kaplan_meier_from_counts(times[m], ev[m], ce[m], conventions=conv)
        curves[lv] = {
            "n": int(km.n),
            "events": int(km.events),
            "median": km.median.to_dict(),
            "landmarks": {
                fmt_time(x): {"surv": km.survival_at(x).surv,
                              "n_risk": int(km.survival_at(x).n_risk)}
                for x in ctx.spec.km.landmarks
            },
            "risk_table": {
                "times": ticks,
                "n_risk": [int(v) for v in km.n_risk_at(np.asarray(ticks, dtype=float))],
            },
            "curve": km.curve_dict(),
        }  # fmt: skip
    entry["curves"] = curves
    entry["curve_times"] = "from the landmark; landmarks and risk table at these times after it"
    entry["levels"] = levels
    if len(levels) < 2:
        only = levels[0] if levels else "none"
        entry.update({"logrank": None, "status": NOT_ESTIMABLE,
                      "reason": f"only one group at the landmark ({only}): no comparison"})  # fmt: skip
        return entry
    res = logrank_from_counts(times, g, ev, ce)
    d = res.to_dict()
    d.pop("n_excluded_missing", None)
    entry["logrank"] = d
    return entry
