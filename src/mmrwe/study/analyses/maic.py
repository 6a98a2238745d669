"""Matching-adjusted indirect comparison per ``[[maic]]`` (unanchored, one cohort vs one arm).

The analysed patients are reweighted (:func:`mmrwe.stats.maic.maic_weights`, method of
moments, NICE DSU TSD 18) so that their covariate means, the SDs where given, and shares equal
the published baseline of a trial arm. The weighted outcome (a ``[[proportion]]`` share, or a
Kaplan-Meier median or survival at a time, R ``survfit(..., weights = w)``) is set beside the
trial's published value; the bootstrap (:func:`mmrwe.stats.maic.maic_bootstrap`) re-estimates
the weights in every resample and draws the published value from its confidence interval,
giving percentile intervals for the weighted outcome and for the contrast.

Only aggregates go to results.json (ESS, weight range, moments matched, outcomes): the
weights themselves are per patient and stay in memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from mmrwe.core.errors import EstimationError, InputError, SpecError
from mmrwe.spec.model import MaicSpec, MaicTarget, StudySpec
from mmrwe.study.analyses.common import entries, fmt_time, success_flags
from mmrwe.study.context import AnalysisContext

KEY = "maic"
IS_LIST = True  # one entry per spec entry, each in its own failure boundary
LABEL = "Matching-adjusted indirect comparison"

#: Warn when the effective sample size falls below this share of the patients matched.
MIN_ESS_FRACTION = 0.25


def columns(spec: StudySpec) -> set[str]:
    """Row-level columns read: matched covariates and the outcome (variable or endpoint)."""
    by_name = {p.name: p.variable for p in spec.proportions}
    out: set[str] = set()
    for m in spec.maic:
        out |= set(m.covariates)
        if m.endpoint:
            out |= {f"{m.endpoint}_time_days", f"{m.endpoint}_event"}
        if m.outcome and m.outcome in by_name:
            out.add(by_name[m.outcome])
    return out


def run(ctx: AnalysisContext, done: dict[str, Any]) -> list[dict[str, Any]]:
    """results.json ``maic``: one entry per ``[[maic]]``."""
    return entries(ctx, "maic", ctx.spec.maic, maic_entry, _identity)


def _identity(m: MaicSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"covariates": list(m.covariates)}
    if m.name:
        out["name"] = m.name
    if m.endpoint:
        out["endpoint"] = m.endpoint
        out["statistic"] = m.statistic
        if m.statistic == "survival":
            out["at"] = m.at
    if m.outcome:
        out["outcome"] = m.outcome
    return out


def _moment_column(
    ctx: AnalysisContext, t: MaicTarget, keep: np.ndarray
) -> tuple[np.ndarray, dict[str, Any]]:
    """The IPD column matched to one target, and how it was built."""
    name = t.name
    if t.mean is not None:
        if not ctx.is_numeric(name):
            raise SpecError(
                f"target {name!r} gives a mean, but {name!r} is categorical",
                fix=f'give {name} = {{ proportion = ..., level = "..." }} instead',
            )
        return ctx.values(name)[keep], {"kind": "mean", "target": t.mean, "sd": t.sd}
    if ctx.is_numeric(name):
        x = ctx.values(name)[keep]
        values = np.unique(x)
        if t.level is not None:
            try:
                lv = float(t.level)
            except ValueError:
                raise SpecError(
                    f"level {t.level!r} of target {name!r} is not a number, but {name!r} is numeric"
                ) from None
        elif values.size == 2:
            lv = float(values[1])
        else:
            raise SpecError(
                f"target {name!r} gives a proportion, but {name!r} has {values.size} values",
                fix=f'say which: {name} = {{ proportion = ..., level = "..." }}',
            )
        level = f"{lv:g}"
        col = (x == lv).astype(np.float64)
    else:
        lab = ctx.labels(name).to_numpy()[keep]
        levels = ctx.levels(name, lab)
        if t.level is not None:
            level = t.level
        elif len(levels) == 2:
            level = levels[1]
        else:
            raise SpecError(
                f"target {name!r} gives a proportion, but {name!r} has {len(levels)} levels "
                f"({', '.join(levels)})",
                fix=f'say which: {name} = {{ proportion = ..., level = "{levels[-1] if levels else "..."}" }}',
            )
        if level not in levels:
            raise EstimationError(
                f"no analysed patient has {name} = {level!r}: the share {t.proportion} cannot "
                f"be matched (levels: {', '.join(levels)})"
            )
        col = (lab == level).astype(np.float64)
    return col, {"kind": "proportion", "target": t.proportion, "level": level}


def maic_entry(ctx: AnalysisContext, m: MaicSpec) -> dict[str, Any]:
    """One ``[[maic]]`` entry: weights, balance, weighted outcome, comparator, bootstrap."""
    from mmrwe.stats.maic import maic_weights

    keep = np.ones(ctx.n, dtype=bool)
    for c in m.covariates:
        keep &= ~(np.isnan(ctx.values(c)) if ctx.is_numeric(c) else ctx.labels(c).isna().to_numpy())
    y: np.ndarray | None = None
    if m.outcome is not None:
        success, missing, p = success_flags(ctx, m.outcome)
        if p.denominator == "non-missing":
            keep &= ~missing
        y = success.astype(np.float64)
    n = int(keep.sum())
    if n < 2:
        raise EstimationError(
            f"{n} patient(s) have every matched covariate ({', '.join(m.covariates)}) recorded"
        )
    by_name = {t.name: t for t in m.target}
    cols, info = [], {}
    for c in m.covariates:
        col, meta = _moment_column(ctx, by_name[c], keep)
        cols.append(col)
        info[c] = meta | {"unweighted": float(col.mean())}
    X = np.column_stack(cols)
    means = np.array([float(info[c]["target"]) for c in m.covariates])
    sds = [by_name[c].sd if by_name[c].mean is not None else None for c in m.covariates]
    use_sds = sds if any(s is not None for s in sds) else None
    try:
        mw = maic_weights(X, means, names=list(m.covariates), target_sds=use_sds)
    except InputError as exc:
        raise EstimationError(exc.what, fix=exc.fix) from None
    w = np.asarray(mw.weights)
    wn = w / w.sum()
    for j, c in enumerate(m.covariates):
        info[c]["weighted"] = float(wn @ X[:, j])
        if info[c]["kind"] == "mean":
            xc = X[:, j]
            info[c]["unweighted_sd"] = float(np.std(xc, ddof=1)) if n > 1 else None
            info[c]["weighted_sd"] = float(np.sqrt(wn @ (xc - info[c]["weighted"]) ** 2))
    entry: dict[str, Any] = _identity(m)
    entry.update(
        {
            "n": n,
            "n_excluded_missing": int(ctx.n - n),
            "weights": mw.to_dict(),
            "balance": info,
            "source": m.source,
            "warnings": [],
        }
    )
    if mw.ess < MIN_ESS_FRACTION * n:
        entry["warnings"].append(
            f"the effective sample size after weighting is {mw.ess:.1f} of {n} patients "
            f"(< {MIN_ESS_FRACTION:.0%}): the cohort differs much from the trial population "
            "and a few patients carry most of the weight"
        )
    outcome_fn = _outcome(ctx, m, entry, keep, w, y)
    _bootstrap(m, entry, X, means, use_sds, outcome_fn)
    for msg in entry["warnings"]:
        ctx.warnings.append(f"maic {m.name or m.endpoint or m.outcome}: {msg}")
    return entry


Outcome = Callable[[np.ndarray, np.ndarray], "float | None"]


def _outcome(
    ctx: AnalysisContext,
    m: MaicSpec,
    entry: dict[str, Any],
    keep: np.ndarray,
    w: np.ndarray,
    y: np.ndarray | None,
) -> Outcome:
    """Unweighted and weighted outcome in the entry; the statistic for the bootstrap."""
    from mmrwe.stats.km import kaplan_meier
    from mmrwe.stats.maic import weighted_proportion

    if y is not None:
        yk = y[keep]
        entry["outcome_unweighted"] = {"estimate": float(yk.mean())}
        entry["outcome_weighted"] = {
            "estimate": weighted_proportion(yk, w),
            "method": "weighted share sum(w y) / sum(w)",
        }
        entry["scale"] = "proportion"

        def share(rows: np.ndarray, wb: np.ndarray) -> float:
            return float(wb @ yk[rows] / wb.sum())

        return share
    assert m.endpoint is not None
    t_all, e_all = ctx.survival(m.endpoint)
    t, e = t_all[keep], e_all[keep]
    conv = ctx.conventions
    raw = kaplan_meier(t, e, conventions=conv)
    km = kaplan_meier(t, e, weights=w, conventions=conv)
    entry["events"] = int(e.sum())
    entry["scale"] = "time" if m.statistic == "median" else "proportion"
    if m.statistic == "median":
        entry["outcome_unweighted"] = raw.median.to_dict()
        entry["outcome_weighted"] = km.median.to_dict() | {
            "method": f"weighted Kaplan-Meier median, {conv.conf_type} band ({km.variance} SE)"
        }
    else:
        assert m.at is not None
        sa, sw = raw.survival_at(m.at), km.survival_at(m.at)
        entry["outcome_unweighted"] = {"estimate": sa.surv, "lower": sa.lower, "upper": sa.upper}
        entry["outcome_weighted"] = {
            "estimate": sw.surv,
            "lower": sw.lower,
            "upper": sw.upper,
            "method": f"weighted Kaplan-Meier survival, {conv.conf_type} band ({km.variance} SE)",
        }
    entry["landmarks"] = {
        fmt_time(x): {
            "surv": km.survival_at(x).surv,
            "lower": km.survival_at(x).lower,
            "upper": km.survival_at(x).upper,
            "surv_unweighted": raw.survival_at(x).surv,
        }
        for x in m.landmarks
    }
    at = m.at

    def statistic(rows: np.ndarray, wb: np.ndarray) -> float | None:
        # Greenwood is enough: the bootstrap needs the point estimate only
        kb = kaplan_meier(t[rows], e[rows], weights=wb, robust=False, conventions=conv)
        if m.statistic == "survival" and at is not None:
            return kb.survival_at(at).surv
        # a median not reached lies beyond every reached one: +inf keeps the resample
        # (dropping it would bias the interval down)
        return math.inf if kb.median.value is None else kb.median.value

    return statistic


def _bootstrap(
    m: MaicSpec,
    entry: dict[str, Any],
    X: np.ndarray,
    means: np.ndarray,
    sds: list[float | None] | None,
    outcome: Outcome,
) -> None:
    """Percentile intervals of the weighted outcome and of its contrast with the comparator."""
    from mmrwe.stats.maic import Comparator, maic_bootstrap

    comp = None
    if m.comparator is not None:
        c = m.comparator
        comp = Comparator(c.estimate, c.lower, c.upper, c.conf_level, c.scale)
        entry["comparator"] = {
            "name": c.name,
            "estimate": c.estimate,
            "lower": c.lower,
            "upper": c.upper,
            "scale": c.scale,
            "conf_level": c.conf_level,
            "source": m.source,
        }
    contrast = m.contrast or ("difference" if entry["scale"] == "proportion" else "ratio")
    if entry["outcome_weighted"].get("estimate") is None:
        entry["bootstrap"] = None
        entry["bootstrap_reason"] = "the weighted outcome is not estimable (median not reached)"
        entry["contrast"] = None
        entry["contrast_reason"] = entry["bootstrap_reason"]
        return
    b = maic_bootstrap(X, means, outcome, names=list(m.covariates), target_sds=sds,
                       comparator=comp, contrast=contrast, n_boot=m.n_boot, seed=m.seed)  # fmt: skip
    d = b.to_dict()
    entry["bootstrap"] = {k: d[k] for k in ("method", "outcome", "n_boot", "n_failed", "seed",
                                            "conf_level")}  # fmt: skip
    if b.n_failed:
        entry["warnings"].append(
            f"{b.n_failed} of {b.n_boot} bootstrap resamples gave no estimate (weights not "
            "found or the statistic not reached) and were left out"
        )
    if d["contrast"] is None:
        entry["contrast"] = None
        entry["contrast_reason"] = "no comparator given"
    else:
        entry["contrast"] = d["contrast"]
    for part in (entry["bootstrap"]["outcome"], entry["contrast"] or {}):
        for key in ("lower", "upper", "se"):
            if key in part and part[key] is None:
                part[f"{key}_reason"] = (
                    "not reached: the weighted median lies beyond follow-up in too many "
                    "resamples for this percentile"
                    if key != "se"
                    else "some resamples do not reach the median"
                )
