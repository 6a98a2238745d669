"""Map each spec section onto the pure estimators in :mod:`mmrwe.stats`.

Every function takes the analysis context and returns the JSON-ready entry of its
results.json section. Missing values are dropped per analysis and counted
(``n_excluded_missing``), never silently.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mmrwe.core.conventions import SurvivalConventions
from mmrwe.core.errors import EstimationError, MmrweError, SpecError
from mmrwe.spec.model import CoxSpec, StudySpec


@dataclass
class Context:
    """What every analysis needs: the spec, the analysis table and column types."""

    spec: StudySpec
    frame: pd.DataFrame
    types: dict[str, str]
    units: dict[str, str]
    warnings: list[str] = field(default_factory=list)

    @property
    def conventions(self) -> SurvivalConventions:
        return self.spec.survival_conventions

    def survival(self, endpoint: str) -> tuple[np.ndarray, np.ndarray]:
        return self.frame[f"{endpoint}_time"].to_numpy(np.float64), self.frame[
            f"{endpoint}_event"
        ].to_numpy(bool)

    def is_numeric(self, column: str) -> bool:
        v = self.spec.variable(column)
        if v is not None and v.type is not None:
            return v.type == "numeric"
        return self.types.get(column) == "numeric"

    def labels(self, column: str) -> pd.Series:
        """A column as category labels (str), missing as None."""
        # Built from a list so that missing stays None (pandas 3 turns None into NaN in
        # str-dtype columns, and NaN would sort as a level).
        col = self.frame[column]
        return pd.Series([_label(v) for v in col.tolist()], index=col.index, dtype=object)

    def levels(self, column: str, present: pd.Series) -> list[str]:
        """Ordered levels: spec-declared order, else sorted; only levels present."""
        v = self.spec.variable(column)
        seen = set(present.dropna())
        if v is not None and v.levels:
            return [lv for lv in v.levels if lv in seen] + sorted(seen - set(v.levels))
        return sorted(seen, key=_natural_key)


def _label(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if pd.isna(v):  # NaN, pd.NA, NaT
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _natural_key(s: str) -> tuple[int, float, str]:
    try:
        return (0, float(s), s)
    except ValueError:
        return (1, 0.0, s)


def _fmt_time(t: float) -> str:
    return f"{t:g}"


def risk_ticks(max_time: float, unit: str, step: float | None) -> list[float]:
    """Tick times for the numbers-at-risk table: 0, step, 2*step, ... up to max_time."""
    if step is None:
        candidates: list[float] = {
            "days": [30.0, 60, 90, 180, 365, 730],
            "months": [1.0, 2, 3, 6, 12, 24],
            "years": [0.25, 0.5, 1, 2, 5],
        }[unit]
        step = next((c for c in candidates if max_time / c <= 10), candidates[-1])
    n = math.floor(max_time / step + 1e-9)
    return [float(k * step) for k in range(n + 1)]


# --- endpoints ---------------------------------------------------------------------------


def _km_block(
    ctx: Context,
    time: np.ndarray,
    event: np.ndarray,
    *,
    with_followup: bool = True,
    ticks: list[float] | None = None,
) -> dict[str, Any]:
    from mmrwe.stats.km import kaplan_meier, reverse_km_followup

    conv = ctx.conventions
    km = kaplan_meier(time, event, conventions=conv)
    band = km.median.to_dict()
    sym = km.median_symmetric()
    sym_d = {"estimate": sym.value, "lower": sym.lower, "upper": sym.upper, "std_err": sym.std_err}
    median: dict[str, Any] = dict(sym_d) if ctx.spec.km.median_ci == "symmetric" else dict(band)
    median["method"] = (
        "median +- z x SE (symmetric)"
        if ctx.spec.km.median_ci == "symmetric"
        else f"{conv.conf_type} band crossing 0.5"
    )
    block: dict[str, Any] = {
        "n": len(time),
        "events": int(event.sum()),
        "censored": int(len(time) - event.sum()),
        "median": median,
        "median_band": band,
        "median_symmetric": sym_d,
        "landmarks": {},
    }
    for t in ctx.spec.km.landmarks:
        s = km.survival_at(t)
        block["landmarks"][_fmt_time(t)] = {
            "surv": s.surv,
            "lower": s.lower,
            "upper": s.upper,
            "std_err": s.std_err,
            "n_risk": int(s.n_risk),
        }
    if with_followup:
        fu = reverse_km_followup(time, event, conventions=conv)
        block["followup"] = fu.to_dict()
    if ticks is None:
        ticks = risk_ticks(
            float(time.max()) if len(time) else 0.0, conv.time_unit, ctx.spec.km.risk_table_step
        )
    block["risk_table"] = {
        "times": ticks,
        "n_risk": [int(x) for x in km.n_risk_at(np.asarray(ticks, dtype=float))],
        "rule": "number with time >= t",
    }
    block["curve"] = km.curve_dict()
    return block


def endpoints(ctx: Context) -> dict[str, Any]:
    """KM, median with CI, landmarks and reverse-KM follow-up per endpoint."""
    out: dict[str, Any] = {}
    for ep in ("PFS", "OS"):
        t, e = ctx.survival(ep)
        out[ep] = _km_block(ctx, t, e)
    return out


# --- proportions -------------------------------------------------------------------------


def _success_flags(ctx: Context, name: str) -> tuple[np.ndarray, np.ndarray, Any]:
    """(is_success, is_missing, proportion spec) for a [[proportion]] name."""
    p = next(x for x in ctx.spec.proportions if x.name == name)
    labels = ctx.labels(p.variable)
    missing = labels.isna().to_numpy()
    success = labels.isin(p.success).to_numpy() & ~missing
    return success, missing, p


def response_distribution(ctx: Context) -> dict[str, Any] | None:
    """Best-response categories in IMWG order (sCR ... PD, NE), for the response table and chart."""
    from mmrwe.spec.model import RESPONSE_CATEGORIES

    if "best_response" not in ctx.frame.columns:
        return None
    lab = ctx.labels("best_response")
    counts = {c: int((lab == c).sum()) for c in RESPONSE_CATEGORIES}
    n = len(lab)
    return {
        "variable": "best_response",
        "categories": list(RESPONSE_CATEGORIES),
        "counts": counts,
        "missing": int(lab.isna().sum()),
        "n": n,
        "percent": {c: (100.0 * k / n if n else None) for c, k in counts.items()},
    }


def proportions(ctx: Context) -> list[dict[str, Any]]:
    """Share of patients in the success categories, with an exact (or Wilson) CI."""
    from mmrwe.stats.proportions import proportion_ci

    out = []
    for p in ctx.spec.proportions:
        success, missing, _ = _success_flags(ctx, p.name)
        n = int(len(success) if p.denominator == "all" else (~missing).sum())
        res: dict[str, Any] = proportion_ci(
            int(success.sum()), n, method=p.method, conf_level=1 - ctx.spec.study.alpha
        ).to_dict()
        res.update(
            {
                "name": p.name,
                "variable": p.variable,
                "success": list(p.success),
                "denominator": p.denominator,
                "n_missing": int(missing.sum()),
            }
        )
        out.append(res)
    return out


def proportion_comparisons(ctx: Context) -> list[dict[str, Any]]:
    """A binary outcome against a factor: Fisher exact / chi-square and logistic OR."""
    from mmrwe.stats.contingency import chisq_test, fisher_exact
    from mmrwe.stats.logistic import logistic_fit

    out = []
    for c in ctx.spec.compare_proportions:
        success, missing_outcome, p = _success_flags(ctx, c.outcome)
        entry: dict[str, Any] = {"outcome": c.outcome, "by": c.by}
        if ctx.is_numeric(c.by):
            x = ctx.frame[c.by].to_numpy(np.float64)
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
            out.append(entry)
            continue
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
                }
            )
            out.append(entry)
            continue
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
                    n: {kk: coefs[n][kk] for kk in ("odds_ratio", "lower", "upper", "p")}
                    for n in names
                },
                "ci_method": fit.to_dict().get("ci_method"),
            }
        for w in caught:
            ctx.warnings.append(f"compare_proportion {c.outcome} by {c.by}: {w.message}")
        out.append(entry)
    return out


# --- log-rank ----------------------------------------------------------------------------


def logrank(ctx: Context) -> list[dict[str, Any]]:
    """survdiff per [[logrank]]: chi-square, observed / expected, per-group KM curves."""
    from mmrwe.stats.km import kaplan_meier
    from mmrwe.stats.logrank import logrank_test, logrank_trend_test

    out = []
    for lr in ctx.spec.logrank:
        t, e = ctx.survival(lr.endpoint)
        g = ctx.labels(lr.by)
        keep = g.notna().to_numpy()
        strata = None
        if lr.strata:
            s = ctx.labels(lr.strata)
            keep = keep & s.notna().to_numpy()
            strata = s.to_numpy()[keep]
        gk = g.to_numpy()[keep]
        levels = ctx.levels(lr.by, g[keep])
        entry: dict[str, Any] = {
            "endpoint": lr.endpoint,
            "by": lr.by,
            "strata": lr.strata,
            "n_excluded_missing": int((~keep).sum()),
        }
        try:
            res = logrank_test(t[keep], e[keep], gk, strata=strata, rho=lr.rho)
        except EstimationError as exc:
            entry.update({"groups": levels, "chisq": None, "df": None, "p": None, "note": exc.what})
            out.append(entry)
            continue
        d = res.to_dict()
        d.pop("n_excluded_missing", None)
        entry.update(d)
        if lr.trend:
            scores = np.arange(1, len(levels) + 1, dtype=float)
            tr = logrank_trend_test(
                t[keep], e[keep], gk, scores=dict(zip(levels, scores, strict=True)), strata=strata
            )
            entry["trend"] = tr.to_dict()
        ticks = risk_ticks(
            float(t.max()) if len(t) else 0.0,
            ctx.conventions.time_unit,
            ctx.spec.km.risk_table_step,
        )
        curves = {}
        for lv in levels:
            m = gk == lv
            km = kaplan_meier(t[keep][m], e[keep][m], conventions=ctx.conventions)
            curves[lv] = group_curve(ctx, km, ticks)
        entry["curves"] = curves
        entry["levels"] = (
            levels  # display order (spec-declared levels); dict keys are sorted on disk
        )
        out.append(entry)
    return out


def group_curve(ctx: Context, km: Any, ticks: list[float]) -> dict[str, Any]:
    """One group's entry of a log-rank ``curves`` map: median, landmarks, risk table, steps."""
    return {
        "median": km.median.to_dict(),
        "landmarks": {
            _fmt_time(x): {"surv": km.survival_at(x).surv, "n_risk": int(km.survival_at(x).n_risk)}
            for x in ctx.spec.km.landmarks
        },
        "risk_table": {
            "times": ticks,
            "n_risk": [int(v) for v in km.n_risk_at(np.asarray(ticks, dtype=float))],
        },
        "curve": km.curve_dict(),
    }


# --- Cox -----------------------------------------------------------------------------------


def design_matrix(
    ctx: Context, terms: tuple[str, ...], reference: dict[str, str], extra: list[str]
) -> tuple[np.ndarray, list[str], np.ndarray, dict[str, Any]]:
    """Build X for a Cox / logistic model: numeric as is, categorical as dummies vs reference.

    Returns (X of kept rows, column names, keep mask, info about terms).
    """
    keep = np.ones(len(ctx.frame), dtype=bool)
    for c in (*terms, *extra):
        keep = keep & ctx.frame[c].notna().to_numpy()
    cols: list[np.ndarray] = []
    names: list[str] = []
    info: dict[str, Any] = {}
    for term in terms:
        if ctx.is_numeric(term):
            cols.append(ctx.frame[term].to_numpy(np.float64)[keep])
            names.append(term)
            info[term] = {"type": "numeric", "unit": ctx.units.get(term)}
            continue
        lab = ctx.labels(term)[keep]
        levels = ctx.levels(term, lab)
        ref = reference.get(term, levels[0] if levels else None)
        if ref not in levels:
            raise SpecError(
                f"reference level {ref!r} of {term!r} does not occur among the analysed rows",
                fix=f"use one of: {', '.join(levels)}",
            )
        v = lab.to_numpy()
        info[term] = {
            "type": "categorical",
            "reference": ref,
            "levels": levels,
            "n_per_level": {lv: int(np.sum(v == lv)) for lv in levels},
        }
        for lv in levels:
            if lv == ref:
                continue
            cols.append((v == lv).astype(np.float64))
            names.append(f"{term}={lv}")
    X = np.column_stack(cols) if cols else np.empty((int(keep.sum()), 0))
    return X, names, keep, info


def _cox_one(ctx: Context, cx: CoxSpec) -> dict[str, Any]:
    from mmrwe.stats.cox import cox_fit
    from mmrwe.stats.coxzph import cox_zph

    t, e = ctx.survival(cx.endpoint)
    extra = [c for c in (cx.strata, cx.cluster) if c]
    X, names, keep, info = design_matrix(ctx, cx.terms, dict(cx.reference), extra)
    strata = ctx.labels(cx.strata).to_numpy()[keep] if cx.strata else None
    cluster = ctx.labels(cx.cluster).to_numpy()[keep] if cx.cluster else None
    entry: dict[str, Any] = {
        "endpoint": cx.endpoint,
        "terms": list(cx.terms),
        "ties": cx.ties,
        "n_excluded_missing": int((~keep).sum()),
        "strata": cx.strata,
        "term_info": info,
    }
    if cx.name:
        entry["name"] = cx.name
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = cox_fit(
            t[keep],
            e[keep],
            X,
            names=names,
            ties=cx.ties,
            strata=strata,
            cluster=cluster,
            robust=cx.robust or cluster is not None,
        )
    d = fit.to_dict()
    entry.update({k: v for k, v in d.items() if k not in entry or k in ("n", "events")})
    entry["warnings"] = [str(w.message) for w in caught] + [
        w for w in getattr(fit, "warnings", ()) if w not in [str(x.message) for x in caught]
    ]
    if cx.ph_test:
        try:
            entry["ph_test"] = cox_zph(fit, transform=cx.ph_transform).to_dict()
        except MmrweError as exc:
            entry["ph_test"] = None
            entry["warnings"].append(f"PH test not computed: {exc.what}")
    separated = any(
        "infinite" in w or "monotone" in w.lower() or "separation" in w.lower()
        for w in entry["warnings"]
    )
    if cx.firth == "always" or (cx.firth == "auto" and separated):
        entry["firth"] = _firth(t[keep], e[keep], X, names, cx, auto=cx.firth == "auto")
    for w in entry["warnings"]:
        ctx.warnings.append(f"cox {cx.endpoint} ~ {' + '.join(cx.terms)}: {w}")
    return entry


def _firth(
    time: np.ndarray, event: np.ndarray, X: np.ndarray, names: list[str], cx: CoxSpec, *, auto: bool
) -> dict[str, Any] | None:
    try:
        from mmrwe.stats.firth import firth_cox
    except ImportError:
        return None
    res = firth_cox(time, event, X, names=names).to_dict()
    res["note"] = (
        "monotone likelihood detected: Firth-penalized Cox (Heinze & Schemper 2001) with profile penalized-likelihood CIs reported alongside"
        if auto
        else "Firth-penalized Cox requested in the spec"
    )
    return res


def cox(ctx: Context) -> list[dict[str, Any]]:
    """Cox models per [[cox]], with the PH test."""
    return [_cox_one(ctx, cx) for cx in ctx.spec.cox]


# --- cut-offs ------------------------------------------------------------------------------


def cutpoints(ctx: Context) -> list[dict[str, Any]]:
    """Data-driven cut-offs with adjusted p, bootstrap interval and optimism-corrected HR."""
    from mmrwe.stats import cutpoint as cp_mod

    out = []
    for cp in ctx.spec.cutpoints:
        x_all = ctx.frame[cp.variable].to_numpy(np.float64)
        unit = ctx.units.get(cp.variable)
        if cp.endpoint is not None:
            t_all, e_all = ctx.survival(cp.endpoint)
            keep = ~np.isnan(x_all)
            x, t, e = x_all[keep], t_all[keep], e_all[keep]
            outcome_event = e
        else:
            success, _missing, _ = _success_flags(ctx, cp.proportion or "")
            keep = ~np.isnan(x_all)
            x = x_all[keep]
            outcome_event = success[keep]
            t = e = None
        entry: dict[str, Any] = {
            "variable": cp.variable,
            "method": cp.method,
            "n_excluded_missing": int((~keep).sum()),
            "unit": unit,
        }
        if cp.endpoint is not None:
            entry["endpoint"] = cp.endpoint
        else:
            entry["proportion"] = cp.proportion
        if cp.method == "maxstat":
            if t is None:
                res = cp_mod.maxstat_binary(
                    outcome_event.astype(float),
                    x,
                    minprop=cp.minprop,
                    pmethod=cp.pmethod,
                    n_perm=cp.n_perm,
                    seed=cp.seed,
                )
                entry.update(res.to_dict())
            elif cp.bootstrap > 0:
                # One set of resamples gives the cut-off distribution, the out-of-bag HR and
                # Harrell's optimism correction; the apparent HR switches to Firth itself
                # when the likelihood is monotone.
                opt = cp_mod.optimism_corrected_hr(
                    t,
                    e,
                    x,
                    B=cp.bootstrap,
                    seed=cp.seed,
                    minprop=cp.minprop,
                    pmethod=cp.pmethod,
                    unit=unit,
                )
                entry.update(opt.to_dict())
                entry["summary"] = opt.sentence
                if cp.n_perm > 0:
                    perm = cp_mod.maxstat_cutpoint(
                        t,
                        e,
                        x,
                        minprop=cp.minprop,
                        pmethod=cp.pmethod,
                        n_perm=cp.n_perm,
                        seed=cp.seed,
                    )
                    entry.update(
                        {
                            k: v
                            for k, v in perm.to_dict().items()
                            if k.startswith("p_") or k in ("n_permutations", "seed")
                        }
                    )
            else:
                res = cp_mod.maxstat_cutpoint(
                    t, e, x, minprop=cp.minprop, pmethod=cp.pmethod, n_perm=cp.n_perm, seed=cp.seed
                )
                entry.update(res.to_dict())
                entry["summary"] = _cut_sentence(cp.variable, unit, entry)
            entry["groups"] = "low: x <= cutpoint; high: x > cutpoint"
            if t is not None and entry.get("cutpoint") is not None:
                entry["median_low"], entry["median_high"] = _two_group_medians(
                    ctx, t, e, x <= entry["cutpoint"]
                )
        else:
            if cp.bootstrap > 0 and t is not None:
                # The search's cost in numbers: permutation p of the maximal Youden index,
                # bootstrap interval of the cut-off, optimism-corrected HR.
                honest = cp_mod.youden_honest(
                    t,
                    e,
                    x,
                    direction=cp.direction,
                    B=cp.bootstrap,
                    n_perm=cp.n_perm or 2000,
                    seed=cp.seed,
                    unit=unit,
                )
                entry.update(honest.to_dict())
                entry["summary"] = honest.sentence
            else:
                yd = cp_mod.youden_cutpoint(x, outcome_event.astype(bool), direction=cp.direction)
                entry.update(yd.to_dict())
            entry["direction"] = cp.direction
        out.append(entry)
    return out


def _two_group_medians(
    ctx: Context, t: np.ndarray, e: np.ndarray, low: np.ndarray
) -> tuple[dict[str, Any], dict[str, Any]]:
    from mmrwe.stats.km import kaplan_meier

    a = (
        kaplan_meier(t[low], e[low], conventions=ctx.conventions).median.to_dict()
        if low.any()
        else None
    )
    b = (
        kaplan_meier(t[~low], e[~low], conventions=ctx.conventions).median.to_dict()
        if (~low).any()
        else None
    )
    return a or {}, b or {}


def _cut_sentence(variable: str, unit: str | None, entry: dict[str, Any]) -> str:
    u = f" {unit}" if unit else ""
    parts = [f"cut-off {entry.get('cutpoint'):.4g}{u} for {variable} chosen from the data"]
    if entry.get("p_adjusted") is not None:
        parts.append(
            f"p adjusted for the search ({entry.get('p_adjusted_method')}) {entry['p_adjusted']:.2g}"
        )
    return "; ".join(parts)


# --- Table 1 ---------------------------------------------------------------------------------


def table1(ctx: Context) -> dict[str, Any] | None:
    """Baseline characteristics, overall and by a factor (descriptive statistics)."""
    from mmrwe.stats.descriptive import describe_categorical, describe_numeric

    spec = ctx.spec.table1
    variables = list(spec.variables)
    if not variables:
        skip = {
            "patient_id",
            "center",
            "start_date",
            "progression_date",
            "death_date",
            "last_followup_date",
        }
        variables = [
            c
            for c in ctx.frame.columns
            if c in ctx.types and c not in skip and ctx.types[c] in ("numeric", "categorical")
        ]
    by = spec.by or ctx.spec.report.table1_by
    groups: list[str] = []
    g = None
    if by:
        g = ctx.labels(by)
        groups = ctx.levels(by, g)
    rows = []
    for v in variables:
        row: dict[str, Any]
        if ctx.is_numeric(v):
            x = ctx.frame[v].to_numpy(np.float64)
            row = {
                "variable": v,
                "type": "numeric",
                "unit": ctx.units.get(v),
                "overall": describe_numeric(x),
            }
            if g is not None:
                row["by"] = {lv: describe_numeric(x[(g == lv).to_numpy()]) for lv in groups}
        else:
            lab = ctx.labels(v)
            levels = ctx.levels(v, lab)
            row = {
                "variable": v,
                "type": "categorical",
                "levels": levels,
                "overall": describe_categorical(lab.to_numpy(), levels),
            }
            if g is not None:
                row["by"] = {
                    lv: describe_categorical(lab.to_numpy()[(g == lv).to_numpy()], levels)
                    for lv in groups
                }
        if g is not None and len(groups) >= 2:
            row["test"] = _table1_test(ctx, v, g, groups)
        rows.append(row)
    group_n = {lv: int((g == lv).sum()) for lv in groups} if g is not None else {}
    return {
        "by": by,
        "groups": groups,
        "group_n": group_n,
        "n_missing_by": int(g.isna().sum()) if g is not None else 0,
        "rows": rows,
    }


def _table1_test(ctx: Context, v: str, g: pd.Series, groups: list[str]) -> dict[str, Any] | None:
    from mmrwe.stats.descriptive import compare_categorical, compare_numeric

    mask = g.notna().to_numpy()
    gv = g.to_numpy()[mask]
    if ctx.is_numeric(v):
        x = ctx.frame[v].to_numpy(np.float64)[mask]
        return compare_numeric(x, gv, groups)
    lab = ctx.labels(v).to_numpy()[mask]
    return compare_categorical(lab, gv, groups)
