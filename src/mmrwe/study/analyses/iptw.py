"""Inverse probability of treatment weighting per ``[[iptw]]``.

For each entry: the logistic propensity score (R ``glm``), the weights of the estimand
(WeightIt's formulas, optional stabilization and trimming), the covariate balance before and
after weighting (cobalt's standardized mean differences) with the warnings of
:func:`mmrwe.stats.weighting.iptw`; with an endpoint, the weighted Kaplan-Meier curve of each
arm (R ``survfit(..., weights = w)``; the figure prints the raw numbers at risk, the table
the weighted ones) and the weighted Cox model of the treatment with robust standard errors
(R ``coxph(Surv(t, e) ~ treat, weights = w, robust = TRUE)``) and its E-value.

Patients missing the treatment or a covariate are left out (complete cases; counted in
``n_excluded_missing``). Trimmed patients (weight 0) are left out of the outcome models, as
R's ``coxph`` refuses weights of 0.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from mmrwe.core.errors import EstimationError, InputError, SpecError
from mmrwe.spec.model import IptwSpec, StudySpec
from mmrwe.study.analyses.common import (
    add_evalue,
    entries,
    fmt_time,
    rare_outcome,
    risk_ticks,
)
from mmrwe.study.context import AnalysisContext

KEY = "iptw"
IS_LIST = True  # one entry per spec entry, each in its own failure boundary
LABEL = "Propensity-score weighting"


def columns(spec: StudySpec) -> set[str]:
    """Row-level columns read: treatment, covariates and the endpoint's time and event."""
    out: set[str] = set()
    for s in spec.iptw:
        out |= {s.treatment, *s.covariates}
        if s.endpoint:
            out |= {f"{s.endpoint}_time_days", f"{s.endpoint}_event"}
    return out


def run(ctx: AnalysisContext, done: dict[str, Any]) -> list[dict[str, Any]]:
    """results.json ``iptw``: one entry per ``[[iptw]]``."""
    return entries(ctx, "iptw", ctx.spec.iptw, iptw_entry, _identity)


def _identity(s: IptwSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"treatment": s.treatment, "estimand": s.estimand}
    if s.endpoint:
        out["endpoint"] = s.endpoint
    if s.name:
        out["name"] = s.name
    return out


def _missing(ctx: AnalysisContext, column: str) -> np.ndarray:
    if ctx.is_numeric(column):
        return np.isnan(ctx.values(column))
    return ctx.labels(column).isna().to_numpy()


def _covariate(ctx: AnalysisContext, column: str, keep: np.ndarray) -> np.ndarray:
    if ctx.is_numeric(column):
        return ctx.values(column)[keep]
    return np.asarray(ctx.labels(column).to_numpy()[keep], dtype=object)


def iptw_entry(ctx: AnalysisContext, s: IptwSpec) -> dict[str, Any]:
    """One ``[[iptw]]`` entry: propensity model, weights, balance, weighted KM and Cox."""
    from mmrwe.stats.weighting import iptw

    keep = ~_missing(ctx, s.treatment)
    for c in s.covariates:
        keep &= ~_missing(ctx, c)
    n = int(keep.sum())
    lab = ctx.labels(s.treatment).to_numpy()[keep]
    levels = ctx.levels(s.treatment, lab)
    if n == 0:
        raise EstimationError(
            f"no patient has the treatment and every covariate ({', '.join(s.covariates)}) recorded"
        )
    if len(levels) != 2:
        raise EstimationError(
            f"the treatment {s.treatment!r} has {len(levels)} level(s) among the {n} analysed "
            f"patients ({', '.join(levels)}); weighting compares exactly two",
            fix="recode the treatment as two groups, e.g. with [[derive]]",
        )
    treated_level = s.treated if s.treated is not None else levels[1]
    if treated_level not in levels:
        raise SpecError(
            f"treated = {treated_level!r} is not a level of {s.treatment!r} ({', '.join(levels)})",
            fix=f"use one of: {', '.join(levels)}",
        )
    treated = lab == treated_level
    covs: dict[str, np.ndarray] = {}
    reference: dict[str, str] = {}
    ref_given = dict(s.reference)
    for c in s.covariates:
        covs[c] = _covariate(ctx, c, keep)
        if not ctx.is_numeric(c):
            present = ctx.levels(c, covs[c])
            if len(present) < 2:
                raise EstimationError(
                    f"the covariate {c!r} has one level ({', '.join(present) or 'none'}) among "
                    "the analysed patients: it cannot be balanced",
                    fix=f"remove {c} from covariates",
                )
            reference[c] = ref_given.get(c, present[0])
            if reference[c] not in present:
                raise SpecError(
                    f"reference level {reference[c]!r} of {c!r} does not occur among the "
                    "analysed patients",
                    fix=f"use one of: {', '.join(present)}",
                )
        elif np.unique(covs[c]).size < 2:
            raise EstimationError(
                f"the covariate {c!r} has the same value for every analysed patient",
                fix=f"remove {c} from covariates",
            )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = iptw(
                lab,
                covs,
                estimand=s.estimand,
                stabilize=s.stabilize,
                trim_bounds=s.trim_bounds,
                trim_quantile=s.trim_quantile,
                reference=reference,
                treatment_name=s.treatment,
                treated_level=treated_level,
                smd_threshold=s.smd_threshold,
                ps_bounds=s.ps_bounds,
                min_ess_fraction=s.min_ess_fraction,
            )
        except InputError as exc:
            # scores of exactly 0 or 1, or trimming that empties a group: the data decide
            raise EstimationError(exc.what, fix=exc.fix) from None
    if res.model.separation:
        # scores of (numerically) 0 or 1: infinite weights, no overlap to compare within
        raise EstimationError(
            "the propensity model shows separation: the covariates predict the treatment "
            "(almost) perfectly, so some patients have no counterpart in the other group "
            "(positivity is violated) and their weights are unbounded",
            fix="drop or coarsen the covariate that determines the treatment, or restrict "
            "the cohort to where both treatments are given",
        )
    entry: dict[str, Any] = _identity(s)
    d = res.to_dict()
    entry.update(d)
    entry.update(
        {
            "n": n,
            "n_excluded_missing": int(ctx.n - n),
            "n_treated": int(treated.sum()),
            "n_control": int((~treated).sum()),
            "covariates": list(s.covariates),
            # display order of each categorical covariate's levels (declared, else sorted)
            "covariate_levels": {
                c: ctx.levels(c, covs[c]) for c in s.covariates if not ctx.is_numeric(c)
            },
            "stabilize": s.stabilize,
        }
    )
    messages = list(res.warnings)
    for w in caught:
        text = str(w.message)
        if text not in messages:
            messages.append(text)
    entry["warnings"] = messages
    if s.endpoint:
        _outcomes(ctx, s, entry, keep, treated, np.asarray(res.weights.weights), lab)
    for m in entry["warnings"]:
        ctx.warnings.append(f"iptw {s.treatment} ({s.estimand}): {m}")
    return entry


def _outcomes(
    ctx: AnalysisContext,
    s: IptwSpec,
    entry: dict[str, Any],
    keep: np.ndarray,
    treated: np.ndarray,
    w: np.ndarray,
    lab: np.ndarray,
) -> None:
    """Weighted KM per arm and the weighted Cox model (patients with weight > 0)."""
    from mmrwe.stats.cox import cox_fit
    from mmrwe.stats.km import kaplan_meier_by

    assert s.endpoint is not None
    t_all, e_all = ctx.survival(s.endpoint)
    pos = w > 0
    t, e, wt, tr, g = t_all[keep][pos], e_all[keep][pos], w[pos], treated[pos], lab[pos]
    entry["outcome_n"] = int(pos.sum())
    entry["outcome_events"] = int(e.sum())
    # KM curves: control first, as the reports list them
    curves = kaplan_meier_by(t, e, g, weights=wt, conventions=ctx.conventions)
    order = [entry["control_level"], entry["treated_level"]]
    ticks = risk_ticks(float(t.max()) if t.size else 0.0, ctx.spec.study.time_unit,
                       ctx.spec.km.risk_table_step)  # fmt: skip
    entry["km_order"] = order
    entry["km"] = {lv: _curve(ctx, curves[lv], ticks) for lv in order if lv in curves}
    info = rare_outcome(ctx, s.rare_outcome, int(e.sum()), int(e.size), "[[iptw]]")
    entry["evalue_outcome"] = info
    if not e.any():
        entry["cox"] = None
        entry["cox_reason"] = f"no {s.endpoint} events among the weighted patients"
        entry["evalue"] = None
        entry["evalue_reason"] = entry["cox_reason"]
        return
    name = f"{s.treatment}={entry['treated_level']}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = cox_fit(t, e, tr.astype(np.float64)[:, None], names=[name],
                      ties="efron", weights=wt, robust=True)  # fmt: skip
    c = fit.to_dict()["coefficients"][name]
    cox: dict[str, Any] = {
        "term": name,
        "coef": c["coef"],
        "robust_se": c.get("robust_se"),
        "se_model": c["se"],
        "hr": c["hr"],
        "lower": c["lower"],
        "upper": c["upper"],
        "z": c["z"],
        "p": c["p"],
        "n": int(fit.n),
        "events": int(fit.events),
        "ties": "efron",
        "variance": "robust (sandwich), each patient its own cluster",
        "method": "weighted Cox model (R coxph(weights = w, robust = TRUE))",
        "conf_level": float(fit.conf_level),
    }
    for msg in [str(w.message) for w in caught] + list(fit.warnings):
        if msg not in entry["warnings"]:
            entry["warnings"].append(msg)
    entry["cox"] = cox
    add_evalue(cox, info["rare"])
    entry["evalue"] = cox.pop("evalue")
    if entry["evalue"] is None:
        entry["evalue_reason"] = cox.pop("evalue_reason")


def _curve(ctx: AnalysisContext, km: Any, ticks: list[float]) -> dict[str, Any]:
    """One arm's weighted curve: median, landmarks, raw and weighted numbers at risk."""
    tt = np.asarray(ticks, dtype=float)
    return {
        "n": int(km.n),
        "events": int(km.events),
        "weighted_n": float(km.weighted_n_risk[0]) if km.weighted_n_risk is not None else None,
        "median": km.median.to_dict(),
        "variance": km.variance,
        "landmarks": {
            fmt_time(x): {
                k: v
                for k, v in km.survival_at(x).to_dict().items()
                if k in ("surv", "lower", "upper", "std_err", "n_risk")
            }
            | {"weighted_n_risk": float(km.weighted_n_risk_at([x])[0])}
            for x in ctx.spec.km.landmarks
        },
        "risk_table": {
            "times": ticks,
            "n_risk": [int(v) for v in km.n_risk_at(tt)],
            "weighted_n_risk": [float(v) for v in km.weighted_n_risk_at(tt)],
            "rule": "patients (and their summed weights) with time >= t",
        },
        "curve": km.curve_dict(),
    }
