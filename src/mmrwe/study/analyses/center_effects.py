"""Center effects: per-center counts, outcomes across centers, and effect heterogeneity.

Per ``[[cox]]``: the pooled fit, the fit stratified by center (R ``coxph(... +
strata(center))``), the likelihood-ratio test of term x center interactions within center
strata, per-center fits with Cochran's Q and I^2, and a plain-language statement.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from mmrwe.core.errors import MmrweError
from mmrwe.spec.model import LogrankSpec, StudySpec
from mmrwe.study.analyses.common import CENTER_CURVE_MAX_STEPS, design_matrix
from mmrwe.study.analyses.logrank import logrank_entries
from mmrwe.study.context import ENDPOINTS, AnalysisContext

KEY = "center_effects"
LABEL = "Center effects"


def columns(spec: StudySpec) -> set[str]:
    """Row-level columns read: the center, and what the Cox models read."""
    out = {"center"}
    for cx in spec.cox:
        out |= set(cx.terms) | {f"{cx.endpoint}_time_days", f"{cx.endpoint}_event"}
    return out


def run(ctx: AnalysisContext, done: dict[str, Any]) -> dict[str, Any]:
    """results.json ``center_effects``."""
    import ibis

    if "center" not in ctx.types:
        return {"centers": [], "statement": "no center column: center effects not assessed"}
    t = ctx.table.mutate(_c=ctx.label("center"))
    rows = (
        t.group_by("_c")
        .aggregate(
            n=ibis._.count(),
            **{f"{ep}_events": t[f"{ep}_event"].ifelse(1, 0).sum() for ep in ENDPOINTS},
        )
        .to_pyarrow()
        .to_pylist()
    )
    by = {r["_c"]: r for r in rows if r["_c"] is not None}
    centers = ctx.levels("center", by)
    counts = {
        c: {
            "n": int(by[c]["n"]),
            **{f"{ep}_events": int(by[c][f"{ep}_events"] or 0) for ep in ENDPOINTS},
        }
        for c in centers
    }
    out: dict[str, Any] = {"centers": centers, "counts": counts, "endpoints": {}, "cox": []}
    if len(centers) < 2:
        out["statement"] = f"all analysed patients come from one center ({', '.join(centers)})"
        return out
    specs = [LogrankSpec(ep, by="center") for ep in ENDPOINTS]
    for entry in logrank_entries(ctx, specs, CENTER_CURVE_MAX_STEPS):
        out["endpoints"][entry["endpoint"]] = entry
    cox_results = done.get("cox", [])
    for k, cx in enumerate(ctx.spec.cox):
        out["cox"].append(_cox_heterogeneity(ctx, dict(cox_results[k]), cx, k))
    out["statement"] = statement(out, _labeller(ctx.spec))
    return out


def _cox_heterogeneity(
    ctx: AnalysisContext, pooled: dict[str, Any], cx: Any, k: int
) -> dict[str, Any]:
    from scipy.stats import chi2

    from mmrwe.stats.cox import cox_fit

    entry: dict[str, Any] = {"index": k, "endpoint": cx.endpoint, "terms": list(cx.terms)}
    entry["pooled"] = {
        n: {"hr": c["hr"], "lower": c["lower"], "upper": c["upper"], "p": c["p"]}
        for n, c in pooled.get("coefficients", {}).items()
    }
    if "center" in cx.terms or cx.strata == "center" or cx.cluster == "center":
        entry["note"] = "the model already adjusts for center"
        return entry
    try:
        t, e = ctx.survival(cx.endpoint)
        X, names, keep, _info = design_matrix(ctx, cx.terms, dict(cx.reference), ["center"])
        center = ctx.labels("center").to_numpy()[keep]
        tk, ek = t[keep], e[keep]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            strat = cox_fit(tk, ek, X, names=names, ties=cx.ties, strata=center)
            levels = sorted(set(center))
            inter = [X[:, j] * (center == lv) for lv in levels[1:] for j in range(X.shape[1])]
            inames = [f"{n}:center={lv}" for lv in levels[1:] for n in names]
            full = cox_fit(tk, ek, np.column_stack([X, *inter]), names=[*names, *inames],
                           ties=cx.ties, strata=center)  # fmt: skip
        entry["stratified_by_center"] = {n: _coef(strat, j) for j, n in enumerate(names)}
        df = full.df - strat.df
        lr = 2.0 * (full.loglik[1] - strat.loglik[1])
        entry["interaction"] = {
            "test": "likelihood ratio, term x center within center strata",
            "chisq": _num(lr) if df > 0 else None,
            "df": int(df),
            "p": _num(float(chi2.sf(lr, df))) if df > 0 and math.isfinite(lr) else None,
            "converged": bool(full.converged and strat.converged),
            "warnings": sorted({str(w.message) for w in caught} | set(full.warnings)),
        }
        entry["per_center"], entry["q"] = _per_center(tk, ek, X, names, center, cx.ties)
    except MmrweError as exc:
        entry["note"] = f"not estimable: {exc.what}"
    return entry


def _coef(fit: Any, j: int) -> dict[str, float | None]:
    return {
        "coef": _num(fit.coef[j]),
        "se": _num(fit.se[j]),
        "hr": _num(fit.hr[j]),
        "lower": _num(fit.lower[j]),
        "upper": _num(fit.upper[j]),
        "p": _num(fit.p[j]),
    }


def _num(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _per_center(
    t: np.ndarray, e: np.ndarray, X: np.ndarray, names: list[str], center: np.ndarray, ties: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per-center Cox fits and Cochran's Q / I^2 (inverse-variance, fixed effect) per term."""
    from scipy.stats import chi2

    from mmrwe.stats.cox import cox_fit

    per: dict[str, Any] = {}
    est: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    for lv in sorted(set(center)):
        m = center == lv
        if int(e[m].sum()) < 2:  # nothing to estimate from 0 or 1 event
            per[lv] = {"n": int(m.sum()), "events": int(e[m].sum()), "note": "fewer than 2 events"}
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = cox_fit(t[m], e[m], X[m], names=names, ties=ties)
        except (MmrweError, ArithmeticError, np.linalg.LinAlgError) as exc:
            per[lv] = {"note": f"not estimable: {getattr(exc, 'what', type(exc).__name__)}"}
            continue
        diverged = not fit.converged or any(
            "infinite" in w or "monotone" in w.lower() for w in fit.warnings
        )
        per[lv] = {"n": int(m.sum()), "events": int(e[m].sum()), "converged": not diverged,
                   "coefficients": {n: _coef(fit, j) for j, n in enumerate(names)}}  # fmt: skip
        if diverged:
            continue
        for j, n in enumerate(names):
            b, se = float(fit.coef[j]), float(fit.se[j])
            if math.isfinite(b) and math.isfinite(se) and se > 0:
                est[n].append((b, se))
    q: dict[str, Any] = {}
    for n, pairs in est.items():
        if len(pairs) < 2:
            q[n] = {"q": None, "df": None, "p": None, "i2": None, "n_centers": len(pairs)}
            continue
        coefs = np.array([x for x, _ in pairs])
        w = 1.0 / np.array([s for _, s in pairs]) ** 2
        pooled = float(np.sum(w * coefs) / np.sum(w))
        qv = float(np.sum(w * (coefs - pooled) ** 2))
        df = len(pairs) - 1
        q[n] = {
            "q": qv,
            "df": df,
            "p": float(chi2.sf(qv, df)),
            "i2": max(0.0, (qv - df) / qv) if qv > 0 else 0.0,
            "n_centers": len(pairs),
        }
    return per, q


def _g(x: float | None, digits: int = 3) -> str:
    return "NA" if x is None else f"{x:.{digits}g}"


def _p(x: float | None) -> str:
    if x is None:
        return "NA"
    return "< 0.001" if x < 0.001 else f"{x:.3f}"


def _labeller(spec: StudySpec) -> Callable[[str], str]:
    """Readable term names for text: 'hgb_lt_11=<11' -> 'Hemoglobin < 11 g/dL: <11'."""

    def label(term: str) -> str:
        var, sep, level = term.partition("=")
        v = spec.variable(var)
        name = v.label if v is not None and v.label else var
        return f"{name}: {level}" if sep else name

    return label


def statement(eff: Mapping[str, Any], label: Callable[[str], str] = str) -> str:
    """One paragraph for the report: where patients came from, and whether centers differ."""
    counts = eff["counts"]
    parts = [
        f"Patients came from {len(counts)} centers ("
        + ", ".join(f"{c}: {v['n']}" for c, v in counts.items())
        + ")."
    ]
    ep_txt = []
    for ep, r in eff["endpoints"].items():
        if r.get("chisq") is None:
            ep_txt.append(
                f"{ep}: log-rank test across centers not computed ({r.get('note', 'NA')})"
            )
        else:
            ep_txt.append(
                f"{ep}: log-rank chi-square {_g(r['chisq'])} on {r['df']} df, p = {_p(r['p'])}"
            )
    if ep_txt:
        parts.append("Outcomes across centers: " + "; ".join(ep_txt) + ".")
    cox: Sequence[Mapping[str, Any]] = eff["cox"]
    for c in cox:
        if "interaction" not in c:
            continue
        model = f"{c['endpoint']} ~ {' + '.join(label(t) for t in c['terms'])}"
        hrs = []
        for n, s in c.get("stratified_by_center", {}).items():
            hp = c["pooled"].get(n, {}).get("hr")
            i2 = c.get("q", {}).get(n, {}).get("i2")
            hrs.append(
                f"{label(n)} HR {_g(hp)} pooled, {_g(s['hr'])} stratified by center"
                + (f", I\u00b2 {100 * i2:.0f}%" if i2 is not None else "")
            )
        it = c["interaction"]
        parts.append(
            f"Cox {model}: " + "; ".join(hrs)
            + f"; term x center interaction p = {_p(it['p'])}"
            + ("" if it["converged"] else " (fit did not converge: interpret with care)")
            + "."
        )  # fmt: skip
    parts.append(
        "Differences between centers are tested, not removed; a small p suggests center "
        'effects worth a stratified (strata = "center") analysis.'
    )
    return " ".join(parts)
