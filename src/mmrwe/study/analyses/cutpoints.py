"""Data-driven cut-offs with adjusted p, bootstrap interval and optimism-corrected HR."""

from __future__ import annotations

from typing import Any

import numpy as np

from mmrwe.core.errors import EstimationError
from mmrwe.spec.model import StudySpec
from mmrwe.study.analyses.common import NOT_ESTIMABLE, entries, success_flags
from mmrwe.study.context import AnalysisContext

KEY = "cutpoints"
IS_LIST = True  # one entry per spec entry, each in its own failure boundary
LABEL = "Cut-off analyses"


def columns(spec: StudySpec) -> set[str]:
    """Row-level columns read: each variable and its endpoint (or proportion variable)."""
    by_name = {p.name: p.variable for p in spec.proportions}
    out: set[str] = set()
    for cp in spec.cutpoints:
        out.add(cp.variable)
        if cp.endpoint is not None:
            out |= {f"{cp.endpoint}_time_days", f"{cp.endpoint}_event"}
        elif cp.proportion in by_name:
            out.add(by_name[cp.proportion])
    return out


def run(ctx: AnalysisContext, done: dict[str, Any]) -> list[dict[str, Any]]:
    """results.json ``cutpoints``."""
    return entries(ctx, "cutpoint", ctx.spec.cutpoints, cutpoint_one, _identity)


def _identity(cp: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"variable": cp.variable, "method": cp.method}
    if cp.endpoint is not None:
        out["endpoint"] = cp.endpoint
    else:
        out["proportion"] = cp.proportion
    return out


def cutpoint_one(ctx: AnalysisContext, cp: Any) -> dict[str, Any]:
    """One ``[[cutpoint]]``: the cut-off, its adjusted p, bootstrap and optimism correction."""
    from mmrwe.stats import cutpoint as cp_mod

    if not ctx.is_numeric(cp.variable):
        raise EstimationError(
            f"{cp.variable} holds text, not numbers: a cut-off needs a numeric variable",
            fix=f'choose a numeric variable, or declare [variables.{cp.variable}] type = "numeric" and fix the text cells',
        )
    x_all = ctx.values(cp.variable)
    unit = ctx.units.get(cp.variable)
    keep = ~np.isnan(x_all)
    n_out = 0
    if cp.endpoint is not None and cp.endpoint in ctx.restricted:
        pop = ctx.population(cp.endpoint)  # DoR: responders only
        n_out = int((~pop).sum())
        keep &= pop
    x = x_all[keep]
    if x.size == 0:
        raise EstimationError(f"{cp.variable} is missing for every patient: no cut-off to choose")
    if np.unique(x).size < 2:
        raise EstimationError(
            f"{cp.variable} has the same value ({x[0]:g}) for every patient: no cut-off separates patients"
        )
    if cp.endpoint is not None:
        t_all, e_all = ctx.survival(cp.endpoint)
        t, e = t_all[keep], e_all[keep]
        outcome_event = e
    else:
        success, _missing, _ = success_flags(ctx, cp.proportion or "")
        outcome_event = success[keep]
        t = e = None
    entry: dict[str, Any] = {
        "variable": cp.variable,
        "method": cp.method,
        "n_excluded_missing": int((~keep).sum()) - n_out,
        "unit": unit,
    }
    if n_out:
        entry["n_outside_population"] = n_out
    if cp.endpoint is not None:
        entry["endpoint"] = cp.endpoint
    else:
        entry["proportion"] = cp.proportion
    if cp.method == "maxstat":
        if t is None:
            res = cp_mod.maxstat_binary(
                outcome_event.astype(float), x, minprop=cp.minprop, maxprop=cp.maxprop,
                pmethod=cp.pmethod, n_perm=cp.n_perm, seed=cp.seed,
            )  # fmt: skip
            entry.update(res.to_dict())
        elif cp.bootstrap > 0:
            # One set of resamples gives the cut-off distribution, the out-of-bag HR and
            # Harrell's optimism correction; the apparent HR switches to Firth itself
            # when the likelihood is monotone.
            opt = cp_mod.optimism_corrected_hr(
                t, e, x, B=cp.bootstrap, seed=cp.seed, minprop=cp.minprop, maxprop=cp.maxprop,
                pmethod=cp.pmethod, unit=unit,
            )  # fmt: skip
            entry.update(opt.to_dict())
            entry["summary"] = opt.sentence
            if cp.n_perm > 0:
                perm = cp_mod.maxstat_cutpoint(
                    t, e, x, minprop=cp.minprop, maxprop=cp.maxprop, pmethod=cp.pmethod,
                    n_perm=cp.n_perm, seed=cp.seed,
                )  # fmt: skip
                entry.update(
                    {
                        k: v
                        for k, v in perm.to_dict().items()
                        if k.startswith("p_") or k in ("n_permutations", "seed")
                    }
                )
        else:
            res = cp_mod.maxstat_cutpoint(
                t,
                e,
                x,
                minprop=cp.minprop,
                maxprop=cp.maxprop,
                pmethod=cp.pmethod,
                n_perm=cp.n_perm,
                seed=cp.seed,
            )
            entry.update(res.to_dict())
            entry["summary"] = _cut_sentence(cp.variable, unit, entry)
        entry["groups"] = "low: x <= cutpoint; high: x > cutpoint"
        if t is not None and e is not None and entry.get("cutpoint") is not None:
            entry["median_low"], entry["median_high"] = _two_group_medians(
                ctx, t, e, x <= entry["cutpoint"]
            )
    else:
        if cp.bootstrap > 0 and t is not None:
            # The search's cost in numbers: permutation p of the maximal Youden index,
            # bootstrap interval of the cut-off, optimism-corrected HR.
            honest = cp_mod.youden_honest(
                t, e, x, direction=cp.direction, B=cp.bootstrap, n_perm=cp.n_perm or 2000,
                seed=cp.seed, unit=unit,
            )  # fmt: skip
            entry.update(honest.to_dict())
            entry["summary"] = honest.sentence
        else:
            yd = cp_mod.youden_cutpoint(x, outcome_event.astype(bool), direction=cp.direction)
            entry.update(yd.to_dict())
        entry["direction"] = cp.direction
    if entry.get("cutpoint") is None:
        entry["status"] = NOT_ESTIMABLE
        entry["reason"] = entry.get("note") or "no cut-off could be chosen from these data"
    return entry


def _two_group_medians(
    ctx: AnalysisContext, t: np.ndarray, e: np.ndarray, low: np.ndarray
) -> tuple[dict[str, Any], dict[str, Any]]:
    from mmrwe.stats.km import kaplan_meier

    conv = ctx.conventions
    a = kaplan_meier(t[low], e[low], conventions=conv).median.to_dict() if low.any() else None
    b = kaplan_meier(t[~low], e[~low], conventions=conv).median.to_dict() if (~low).any() else None
    return a or {}, b or {}


def _cut_sentence(variable: str, unit: str | None, entry: dict[str, Any]) -> str:
    u = f" {unit}" if unit else ""
    parts = [f"cut-off {entry.get('cutpoint'):.4g}{u} for {variable} chosen from the data"]
    if entry.get("p_adjusted") is not None:
        parts.append(
            f"p adjusted for the search ({entry.get('p_adjusted_method')}) {entry['p_adjusted']:.2g}"
        )
    return "; ".join(parts)
