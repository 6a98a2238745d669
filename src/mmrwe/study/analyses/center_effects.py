"""Center effects: per-center counts, outcomes across centers, and effect heterogeneity.

Per ``[[cox]]``: the pooled fit, the fit stratified by center (R ``coxph(... +
strata(center))``), the likelihood-ratio test of term x center interactions within center
strata, per-center fits with Cochran's Q and I^2, and a plain-language statement.
"""

from __future__ import annotations

import math
import os
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from mmrwe.core.errors import MmrweError
from mmrwe.spec.model import LogrankSpec, StudySpec
from mmrwe.study.analyses.common import (
    CENTER_CURVE_MAX_STEPS,
    coefficient_reasons,
    design_matrix,
    refuse_one_level,
)
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
        from mmrwe.study.analyses.cox import COX_IN_MEMORY_MAX_ROWS

        if ctx.n > COX_IN_MEMORY_MAX_ROWS:
            _heterogeneity_chunked(ctx, cx, entry)
            return entry
        t, e = ctx.survival(cx.endpoint)
        X, names, keep, info = design_matrix(ctx, cx.terms, dict(cx.reference), ["center"])
        refuse_one_level(info)
        center = _coded(ctx.labels("center").to_numpy()[keep])
        tk, ek = t[keep], e[keep]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            strat = cox_fit(tk, ek, X, names=names, ties=cx.ties, strata=np.asarray(center),
                            concordance=False)  # fmt: skip
        fits = _center_fits(tk, ek, X, names, center, cx.ties)
        entry["stratified_by_center"] = {n: _coef(strat, j) for j, n in enumerate(names)}
        said = [str(w.message) for w in caught]
        if tk.size * (X.shape[1] * len(fits)) ** 2 <= JOINT_FIT_MAX_WORK:
            entry["interaction"] = _interaction_joint(
                tk, ek, X, names, center, cx.ties, strat, said
            )
        else:
            entry["interaction"] = _interaction(strat, fits, said)
        entry["per_center"], entry["q"] = _per_center(
            fits, names, _constant_in_center(X, center, names)
        )
        for c in entry["stratified_by_center"].values():
            coefficient_reasons(c)
    except MmrweError as exc:
        entry["note"] = f"not estimable: {exc.what}"
    return entry


class _Coded(np.ndarray):
    """Center labels as integer codes (in the sorted order of the names, as np.unique gives
    them), with the names: strata and per-center splits then work on integers, not on a
    million strings (1.7 s of the center effects at 1e6 patients)."""

    names: list[str]


def _coded(center: np.ndarray) -> _Coded:
    if isinstance(center, _Coded):
        return center
    codes, names = pd.factorize(np.asarray(center, dtype=object), sort=True)
    out = np.asarray(codes, dtype=np.int64).view(_Coded)
    out.names = [str(x) for x in names]
    return out


def _center_fits(
    t: np.ndarray, e: np.ndarray, X: np.ndarray, names: list[str], center: np.ndarray, ties: Any
) -> dict[str, Any]:
    """One Cox fit per center: the fit itself, or ``(n, events, note)`` where there is none."""

    coded = _coded(center)
    codes = np.asarray(coded)
    order = np.argsort(codes, kind="stable")
    levels, starts = np.unique(codes[order], return_index=True)
    bounds = [*starts[1:], codes.size]

    def parts() -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
        for k, a, b in zip(levels.tolist(), starts.tolist(), bounds, strict=True):
            m = order[a:b]
            yield coded.names[k], t[m], e[m], X[m]

    return _fit_centers(parts(), names, ties)


def _workers() -> int:
    """Threads for the per-center fits: the cores, at most 4 (``MMRWE_THREADS`` to set)."""
    raw = os.environ.get("MMRWE_THREADS", "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return max(1, min(4, os.cpu_count() or 1))


def _fit_centers(
    parts: Iterable[tuple[str, np.ndarray, np.ndarray, np.ndarray]], names: list[str], ties: Any
) -> dict[str, Any]:
    """:func:`_center_fit` of every center, in threads (the fits are independent and numpy
    releases the interpreter while it sorts and sums: six fits of 500,000 patients take
    1.3 s instead of 1.9 s on two cores; memory bandwidth limits the rest). At most one
    center more than the threads is held in memory. Results are those of one fit after
    another: each is its own computation.
    """
    out: dict[str, Any] = {}
    pending: deque[tuple[str, Future[Any]]] = deque()
    n_threads = _workers()
    # the per-center fits' warnings are not the user's model: silenced once, around all
    # threads (warnings filters are process-wide, not per thread)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="mmrwe-center") as pool:
            for label, t, e, X in parts:
                pending.append((label, pool.submit(_center_fit, t, e, X, names, ties)))
                while len(pending) > n_threads:
                    lv, fut = pending.popleft()
                    out[lv] = fut.result()
            while pending:
                lv, fut = pending.popleft()
                out[lv] = fut.result()
    return out


def _center_fit(t: np.ndarray, e: np.ndarray, X: np.ndarray, names: list[str], ties: Any) -> Any:
    """One center's Cox fit, or ``(n, events, note)`` where there is none (warnings are the
    caller's to silence: see :func:`_fit_centers`)."""
    from mmrwe.stats.cox import cox_fit

    n_ev = int(e.sum())
    if n_ev == 0:
        return (t.size, 0, "fewer than 2 events")
    try:
        return cox_fit(t, e, X, names=names, ties=ties, concordance=False)
    except (MmrweError, ArithmeticError, np.linalg.LinAlgError) as exc:
        return (t.size, n_ev, f"not estimable: {getattr(exc, 'what', type(exc).__name__)}")


def _heterogeneity_chunked(ctx: AnalysisContext, cx: Any, entry: dict[str, Any]) -> None:
    """The center-stratified fit and the per-center fits of a large study, memory-bounded.

    Above ``MMRWE_COX_IN_MEMORY_MAX_ROWS`` patients the design (with the center as the
    stratum) is built on the engine and spilled to disk once, as for the chunked
    ``[[cox]]`` fit: the stratified model is fitted in chunks, and the per-center models
    from one center's rows at a time. The interaction test is then the sum of the
    per-center fits (:func:`_interaction`), as for any study above the joint-fit size.
    """
    from dataclasses import replace

    from mmrwe.stats.cox_scaled import cox_fit_chunked
    from mmrwe.study.analyses.cox import chunked_design

    d = chunked_design(ctx, replace(cx, strata="center", cluster=None))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            strat = cox_fit_chunked(
                d.spill.source, names=d.names, ties=cx.ties, n_strata=d.n_strata,
                terms=d.terms_of, column_sums=d.spill.column_sums(),
            ).result  # fmt: skip
        said = [str(w.message) for w in caught]
        constant: dict[str, set[str]] = {}

        def parts() -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
            for k, t, e, X in d.spill.by_stratum(int(d.n_strata or 0)):
                lv = str(d.strata_levels[k])
                # as _constant_in_center: checked on the data, not trusted from the fit
                same = np.all(X[0] == X, axis=0) if X.shape[0] else np.zeros(X.shape[1], bool)
                constant[lv] = {n for n, flat in zip(d.names, same, strict=True) if flat}
                yield lv, t, e, X

        fits = _fit_centers(parts(), d.names, cx.ties)
    finally:
        d.spill.close()
    entry["stratified_by_center"] = {n: _coef(strat, j) for j, n in enumerate(d.names)}
    entry["interaction"] = _interaction(strat, fits, said)
    entry["per_center"], entry["q"] = _per_center(fits, d.names, constant)
    for c in entry["stratified_by_center"].values():
        coefficient_reasons(c)
    entry["computation"] = "chunked"


#: Largest rows x columns^2 of the joint interaction fit (about 0.1 s); above it the test
#: is computed from the per-center fits.
JOINT_FIT_MAX_WORK = 5e7

_TEST = "likelihood ratio, term x center within center strata"


def _interaction_joint(
    t: np.ndarray, e: np.ndarray, X: np.ndarray, names: list[str], center: np.ndarray,
    ties: Any, strat: Any, strat_warnings: list[str],
) -> dict[str, Any]:  # fmt: skip
    """The interaction test as R computes it: one fit with term x center columns."""
    from scipy.stats import chi2

    from mmrwe.stats.cox import cox_fit

    coded = _coded(center)
    codes = np.asarray(coded)
    present = np.unique(codes).tolist()
    inter = [X[:, j] * (codes == k) for k in present[1:] for j in range(X.shape[1])]
    inames = [f"{n}:center={coded.names[k]}" for k in present[1:] for n in names]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        full = cox_fit(t, e, np.column_stack([X, *inter]), names=[*names, *inames], ties=ties,
                       strata=codes, concordance=False)  # fmt: skip
    df = full.df - strat.df
    lr = 2.0 * (full.loglik[1] - strat.loglik[1])
    return {
        "test": _TEST,
        "chisq": _num(lr) if df > 0 else None,
        "df": int(df) if df > 0 else None,
        "p": _num(float(chi2.sf(lr, df))) if df > 0 and math.isfinite(lr) else None,
        **_interaction_reasons(df, lr),
        "converged": bool(full.converged and strat.converged),
        "warnings": sorted({*strat_warnings, *(str(w.message) for w in caught), *full.warnings}),
        "computation": "joint fit",
    }


def _interaction(strat: Any, fits: dict[str, Any], strat_warnings: list[str]) -> dict[str, Any]:
    """The interaction test from the per-center fits, for large studies.

    With every term's coefficient free in every center and a baseline hazard per center,
    the partial likelihood of the interaction model is the product of the centers' own
    partial likelihoods: its maximum is the sum of the per-center fits' maxima and its
    rank the sum of their ranks. This needs no fit with terms x centers columns (60
    columns at 20 centers and 3 terms: 0.9 s at 1e5 patients, 5 GB of design at 1e7) and
    equals the joint fit to rounding where every center's fit converges. Where a center's
    coefficient diverges (monotone likelihood, a center with one event), the two stop at
    different points, and R's joint fit may call such a column singular instead
    (its tolerance is relative to the largest diagonal of the joint information).
    """
    from scipy.stats import chi2

    loglik, df_full, converged = 0.0, 0, bool(strat.converged)
    messages = set(strat_warnings)
    for lv, fit in fits.items():
        if isinstance(fit, tuple):
            if fit[1] > 0:  # a center with events but no fit: the test is not defined
                converged = False
                messages.add(f"center {lv}: {fit[2]}")
            continue
        loglik += float(fit.loglik[1])
        df_full += int(fit.df)
        converged = converged and bool(fit.converged)
        messages |= {f"center {lv}: {w}" for w in fit.warnings}
    df = df_full - int(strat.df)
    lr = 2.0 * (loglik - float(strat.loglik[1]))
    return {
        "test": _TEST,
        "chisq": _num(lr) if df > 0 else None,
        "df": int(df) if df > 0 else None,
        "p": _num(float(chi2.sf(lr, df))) if df > 0 and math.isfinite(lr) else None,
        **_interaction_reasons(df, lr),
        "converged": converged,
        "warnings": sorted(messages),
        "computation": "sum of per-center fits",
    }


def _interaction_reasons(df: int, lr: float) -> dict[str, str]:
    """``chisq_reason``/``df_reason``/``p_reason`` of an interaction test that has no value."""
    if df <= 0:
        why = (
            "not estimable: no term x center coefficient can be estimated beyond the "
            "stratified model (each term is constant, or has no events, within the centers)"
        )
        return {"chisq_reason": why, "df_reason": why, "p_reason": why}
    if not math.isfinite(lr):
        return {"p_reason": "not estimable: the likelihood-ratio statistic is not finite"}
    return {}


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


def _constant_in_center(X: np.ndarray, center: np.ndarray, names: list[str]) -> dict[str, set[str]]:
    """The design columns that take one value among a center's patients, per center.

    Such a column has no coefficient in that center. The fit usually finds it singular
    (R's NA), but not always: when another coefficient diverges, rounding can leave a
    finite "estimate" with a standard error of 0 or 2^26. Checked on the data, not on
    the fit, so no such number is ever reported.
    """
    coded = _coded(center)
    codes = np.asarray(coded)
    out: dict[str, set[str]] = {}
    for k, lv in enumerate(coded.names):
        rows = X[codes == k]
        if rows.shape[0] == 0:
            continue
        same = np.all(rows == rows[0], axis=0)
        out[lv] = {n for n, flat in zip(names, same, strict=True) if flat}
    return out


#: Why a per-center coefficient is null when its column is constant in that center.
CONSTANT_IN_CENTER = (
    "not estimable: the term takes one value among this center's patients (R gives NA)"
)


#: Why a per-center coefficient is null when the fit found its column redundant.
REDUNDANT_IN_CENTER = (
    "not estimable in this center: the column is constant or collinear with other terms "
    "among its patients (R gives NA)"
)
#: What a per-center coefficient of a fit that did not converge means.
DIVERGED_IN_CENTER = (
    "the fit in this center did not converge (monotone likelihood): the coefficient tends to "
    "infinity and its estimate and standard error are where the iterations stopped, not "
    "estimates (R reports the same numbers); left out of Q and I^2"
)

#: The other coefficients of a per-center fit in which one coefficient diverged.
OTHER_DIVERGED_IN_CENTER = (
    "the fit in this center did not converge because another coefficient diverges: "
    "interpret with care; left out of Q and I^2"
)


def _per_center(
    fits: dict[str, Any], names: list[str], constant: Mapping[str, set[str]] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per-center coefficients and Cochran's Q / I^2 (inverse-variance, fixed effect) per term.

    Parameters
    ----------
    fits : dict
        Per center, the Cox fit or ``(n, events, note)`` where there is none.
    names : list of str
        Design column names.
    constant : mapping, optional
        Per center, the columns constant among its patients: their coefficients are null
        with a reason (whatever the fit returned) and left out of Q.

    Returns
    -------
    (per_center, q) : tuple of dict
    """
    from scipy.stats import chi2

    constant = constant or {}
    per: dict[str, Any] = {}
    est: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    for lv, fit in fits.items():
        if isinstance(fit, tuple):
            n, n_ev, note = fit
            per[lv] = {"note": note} if note.startswith("not estimable") else {
                "n": n, "events": n_ev, "note": note}  # fmt: skip
            continue
        n_ev = int(fit.events)
        if n_ev < 2:  # nothing to estimate from 1 event
            per[lv] = {"n": int(fit.n), "events": n_ev, "note": "fewer than 2 events"}
            continue
        diverged = not fit.converged or any(
            "infinite" in w or "monotone" in w.lower() for w in fit.warnings
        )
        flat = constant.get(lv, set())
        coefs: dict[str, dict[str, Any]] = {n: _coef(fit, j) for j, n in enumerate(names)}
        for n, c in coefs.items():
            if n in flat or (c["se"] is not None and c["se"] <= 0):
                c.update(dict.fromkeys(c))  # no number where the data hold no estimate
            coefficient_reasons(c, CONSTANT_IN_CENTER if n in flat else REDUNDANT_IN_CENTER)
            if diverged and c["coef"] is not None:
                infinite = c["lower"] is None or c["upper"] is None or c["lower"] == 0.0
                c["reason"] = DIVERGED_IN_CENTER if infinite else OTHER_DIVERGED_IN_CENTER
        per[lv] = {"n": int(fit.n), "events": n_ev, "converged": not diverged,
                   "coefficients": coefs}  # fmt: skip
        if diverged:
            continue
        for j, n in enumerate(names):
            b, se = float(fit.coef[j]), float(fit.se[j])
            if n not in flat and math.isfinite(b) and math.isfinite(se) and se > 0:
                est[n].append((b, se))
    q: dict[str, Any] = {}
    for n, pairs in est.items():
        if len(pairs) < 2:
            q[n] = {"q": None, "df": None, "p": None, "i2": None, "n_centers": len(pairs)}
            continue
        b_all = np.array([x for x, _ in pairs])
        w = 1.0 / np.array([s for _, s in pairs]) ** 2
        pooled = float(np.sum(w * b_all) / np.sum(w))
        qv = float(np.sum(w * (b_all - pooled) ** 2))
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
    return "not estimable" if x is None else f"{x:.{digits}g}"


def _p(x: float | None) -> str:
    if x is None:
        return "not estimable"
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
        if r.get("chisq") is None or not (r.get("df") or 0) > 0:
            why = r.get("note") or r.get("reason") or "fewer than two centers with patients at risk"
            ep_txt.append(f"{ep}: log-rank test across centers not estimable ({why})")
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
            + (
                f"; term x center interaction p = {_p(it['p'])}"
                if it["p"] is not None
                else "; term x center interaction not estimable"
            )
            + ("" if it["converged"] else " (fit did not converge: interpret with care)")
            + "."
        )  # fmt: skip
    parts.append(
        "Differences between centers are tested, not removed; a small p suggests center "
        'effects worth a stratified (strata = "center") analysis.'
    )
    return " ".join(parts)
