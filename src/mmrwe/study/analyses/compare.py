"""A binary outcome against a factor: Fisher exact / chi-square and a logistic odds ratio."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from mmrwe.core.errors import MmrweError
from mmrwe.spec.model import StudySpec
from mmrwe.study.analyses.common import NOT_ESTIMABLE, entries, success_flags
from mmrwe.study.context import AnalysisContext

KEY = "proportion_comparisons"
IS_LIST = True  # one entry per spec entry, each in its own failure boundary
LABEL = "Response by factor"


def columns(spec: StudySpec) -> set[str]:
    """Row-level columns read: each outcome's variable and each factor."""
    by_name = {p.name: p.variable for p in spec.proportions}
    out: set[str] = set()
    for c in spec.compare_proportions:
        out |= {c.by, by_name.get(c.outcome, c.by)}
    return out


def run(ctx: AnalysisContext, done: dict[str, Any]) -> list[dict[str, Any]]:
    """results.json ``proportion_comparisons``."""
    return entries(ctx, "compare_proportion", ctx.spec.compare_proportions, compare_one,
                   lambda c: {"outcome": c.outcome, "by": c.by})  # fmt: skip


def compare_one(ctx: AnalysisContext, c: Any) -> dict[str, Any]:
    """One ``[[compare_proportion]]``: the outcome's table by the factor, tests and OR."""
    from mmrwe.stats.contingency import chisq_test, fisher_exact
    from mmrwe.stats.logistic import logistic_fit

    success, missing_outcome, p = success_flags(ctx, c.outcome)
    entry: dict[str, Any] = {"outcome": c.outcome, "by": c.by}
    if ctx.is_numeric(c.by):
        x = ctx.values(c.by)
        keep = ~np.isnan(x) & (~missing_outcome if p.denominator == "non-missing" else True)
        y = success[keep].astype(float)
        entry.update(
            {"n": int(keep.sum()), "n_excluded_missing": int((~keep).sum()), "type": "numeric"}
        )
        fit = logistic_fit(y, x[keep].reshape(-1, 1), names=[c.by])
        coef = fit.to_dict()["coefficients"][c.by]
        entry["logistic"] = {
            "odds_ratio": coef["odds_ratio"],
            "lower": coef["lower"],
            "upper": coef["upper"],
            "p": coef["p"],
            "per": "unit",
            "ci_method": fit.to_dict().get("ci_method"),
        }
        entry["fisher"] = None
        return entry
    g = ctx.labels(c.by)
    keep = g.notna().to_numpy() & (~missing_outcome if p.denominator == "non-missing" else True)
    gk = g[keep].to_numpy()
    y = success[keep]
    levels = ctx.levels(c.by, g[keep])
    entry.update(
        {
            "n": int(keep.sum()),
            "n_excluded_missing": int((~keep).sum()),
            "type": "categorical",
            "levels": levels,
        }
    )
    entry["table"] = {}
    for lv in levels:
        k, n_lv = int(y[gk == lv].sum()), int((gk == lv).sum())
        entry["table"][lv] = {
            "success": k,
            "failure": n_lv - k,
            "n": n_lv,
            "percent": 100.0 * k / n_lv if n_lv else None,
        }
    if len(levels) < 2:
        entry.update(
            {
                "fisher": None,
                "chisq": None,
                "logistic": None,
                "note": f"{c.by} has fewer than two levels",
                "status": NOT_ESTIMABLE,
                "reason": f"{c.by} has fewer than two levels among the analysed patients",
            }
        )
        return entry
    ref = levels[0]
    entry["reference"] = ref
    if len(levels) == 2:
        other = levels[1]
        tbl = np.array(
            [
                [entry["table"][other]["success"], entry["table"][other]["failure"]],
                [entry["table"][ref]["success"], entry["table"][ref]["failure"]],
            ]
        )
        fisher = fisher_exact(tbl).to_dict()
        fisher["comparison"] = f"odds of {c.outcome} in {c.by}={other} vs {c.by}={ref}"
        entry["fisher"] = fisher
    else:
        tbl = np.array(
            [[entry["table"][lv]["success"], entry["table"][lv]["failure"]] for lv in levels]
        )
        try:
            entry["fisher"] = fisher_exact(tbl).to_dict()
        except MmrweError as exc:
            entry["fisher"] = None
            ctx.warnings.append(f"compare_proportion {c.outcome} by {c.by}: {exc.what}")
    chi = chisq_test(tbl, correct=len(levels) == 2)
    entry["chisq"] = chi.to_dict()
    dummies = [lv for lv in levels if lv != ref]
    X = np.column_stack([(gk == lv).astype(float) for lv in dummies])
    names = [f"{c.by}={lv}" for lv in dummies]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = logistic_fit(y.astype(float), X, names=names)
    coefs = fit.to_dict()["coefficients"]
    if len(dummies) == 1:
        k = coefs[names[0]]
        entry["logistic"] = {
            "odds_ratio": k["odds_ratio"],
            "lower": k["lower"],
            "upper": k["upper"],
            "p": k["p"],
            "ci_method": fit.to_dict().get("ci_method"),
        }
    else:
        entry["logistic"] = {
            "coefficients": {
                n: {kk: coefs[n][kk] for kk in ("odds_ratio", "lower", "upper", "p")} for n in names
            },
            "ci_method": fit.to_dict().get("ci_method"),
        }
    for w in caught:
        ctx.warnings.append(f"compare_proportion {c.outcome} by {c.by}: {w.message}")
    return entry
