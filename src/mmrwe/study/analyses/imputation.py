"""Multiple imputation of missing covariates (``[imputation]``) and Rubin's-rules pooling.

One imputation model for the whole study (mice's chained equations,
:func:`mmrwe.stats.imputation.mice`: pmm for numbers, logreg for two levels, polyreg for
more): its variables are ``[imputation] variables`` (default: the columns of the analyses it
pools), and for every endpoint of a pooled Cox model the event indicator and the
Nelson-Aalen cumulative hazard H(T) enter as complete predictors (White & Royston 2009),
with H(T) times each complete variable when ``cumhaz_interactions`` (the benchmark in
benchmarks/bench_mi_coverage.py found it closer to nominal coverage than H(T) alone).

Every ``[[cox]]`` model, ``[[compare_proportion]]`` logistic model and ``[[proportion]]``
whose variables have missing values (and are all in the imputation model) is refitted on
each of the m completed data sets and pooled by Rubin's rules with Barnard-Rubin degrees of
freedom (:func:`pool_cox`, :func:`pool_logistic`, :func:`pool_proportion`, equal to
``mice::pool``). The pooled result goes into that entry as ``imputed`` (beside the
complete-case numbers, which stay as they were); an entry that is not pooled gets
``imputed: null`` and ``imputed_reason``. This section records the imputation itself.
"""

from __future__ import annotations

import traceback
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from mmrwe.core.errors import EstimationError, MmrweError
from mmrwe.spec.model import StudySpec
from mmrwe.study.analyses.common import ERROR_LOG, NOT_ESTIMABLE, add_evalue
from mmrwe.study.context import ENDPOINTS, AnalysisContext

KEY = "imputation"
LABEL = "Multiple imputation"


def _default_variables(spec: StudySpec) -> list[str]:
    by_name = {p.name: p.variable for p in spec.proportions}
    out: list[str] = []
    for cx in spec.cox:
        out += list(cx.terms)
    for c in spec.compare_proportions:
        out += [c.by, by_name.get(c.outcome, c.by)]
    out += [p.variable for p in spec.proportions]
    return list(dict.fromkeys(out))


def _variables(spec: StudySpec) -> list[str]:
    assert spec.imputation is not None
    return list(spec.imputation.variables) or _default_variables(spec)


def columns(spec: StudySpec) -> set[str]:
    """Row-level columns read: the imputation model's variables and the endpoints."""
    if spec.imputation is None:
        return set()
    out = set(_variables(spec))
    for ep in ENDPOINTS:
        out |= {f"{ep}_time_days", f"{ep}_event"}
    return out


def _missing(ctx: AnalysisContext, column: str) -> np.ndarray:
    if ctx.is_numeric(column):
        return np.isnan(ctx.values(column))
    return ctx.labels(column).isna().to_numpy()


def _data(ctx: AnalysisContext, column: str) -> np.ndarray:
    if ctx.is_numeric(column):
        return ctx.values(column)
    return np.asarray(ctx.labels(column).to_numpy(), dtype=object)


# -- what is pooled -------------------------------------------------------------------------


def _targets(
    ctx: AnalysisContext, done: dict[str, Any], variables: set[str], incomplete: set[str]
) -> list[tuple[str, int, dict[str, Any], list[str], str | None]]:
    """(section, index, entry, columns, reason not pooled) of every entry that could be."""
    spec = ctx.spec
    by_name = {p.name: p.variable for p in spec.proportions}
    out: list[tuple[str, int, dict[str, Any], list[str], str | None]] = []

    def judge(cols: list[str], entry: dict[str, Any], fixed: list[str]) -> str | None:
        if entry.get("status") not in (None, "ok"):
            return "the complete-case analysis was not estimated"
        missing = [c for c in cols if c in incomplete or _missing(ctx, c).any()]
        if not missing:
            return "no missing values in the analysis' variables: nothing to impute"
        outside = [c for c in missing if c not in variables]
        if outside:
            return (
                f"{', '.join(outside)} has missing values but is not in the imputation model"
                " ([imputation] variables)"
            )
        bad = [c for c in fixed if _missing(ctx, c).any()]
        if bad:
            return f"{', '.join(bad)} (strata or cluster) has missing values"
        return None

    for i, (cx, e) in enumerate(zip(spec.cox, done.get("cox") or [], strict=False)):
        fixed = [c for c in (cx.strata, cx.cluster) if c]
        out.append(("cox", i, e, list(cx.terms), judge(list(cx.terms), e, fixed)))
    for i, (c, e) in enumerate(
        zip(spec.compare_proportions, done.get("proportion_comparisons") or [], strict=False)
    ):
        cols = [c.by, by_name.get(c.outcome, c.by)]
        out.append(("proportion_comparisons", i, e, cols, judge(cols, e, [])))
    for i, (p, e) in enumerate(zip(spec.proportions, done.get("proportions") or [], strict=False)):
        out.append(("proportions", i, e, [p.variable], judge([p.variable], e, [])))
    return out


def _auxiliary_endpoints(ctx: AnalysisContext, pooled_cox: list[int]) -> list[str]:
    assert ctx.spec.imputation is not None
    choice = ctx.spec.imputation.auxiliary_endpoint
    if choice == "none":
        return []
    if choice == "both":
        return list(ENDPOINTS)
    if choice in ENDPOINTS:
        return [choice]
    used = {ctx.spec.cox[i].endpoint for i in pooled_cox}
    return [ep for ep in ENDPOINTS if ep in used]


def _auxiliaries(
    ctx: AnalysisContext, endpoints: list[str], data: dict[str, np.ndarray], complete: list[str]
) -> dict[str, np.ndarray]:
    """Event and H(T) per endpoint; with interactions, H(T) x each complete variable."""
    from mmrwe.stats.imputation import cox_auxiliaries

    assert ctx.spec.imputation is not None
    aux: dict[str, np.ndarray] = {}
    for ep in endpoints:
        t, e = ctx.survival(ep)
        a = cox_auxiliaries(t, e)
        aux[f"{ep}_event"] = a["event"]
        aux[f"{ep}_cumhaz"] = a["cumhaz"]
        if not ctx.spec.imputation.cumhaz_interactions:
            continue
        for v in complete:
            x = data[v]
            if x.dtype.kind == "f":
                aux[f"{ep}_cumhaz*{v}"] = a["cumhaz"] * x
            else:
                levels = ctx.levels(v, x)
                for lv in levels[1:]:
                    aux[f"{ep}_cumhaz*{v}={lv}"] = a["cumhaz"] * (x == lv)
    return aux


# -- the section ----------------------------------------------------------------------------


def run(ctx: AnalysisContext, done: dict[str, Any]) -> dict[str, Any] | None:
    """results.json ``imputation`` (null without ``[imputation]``); adds ``imputed`` to the
    entries of ``cox``, ``proportion_comparisons`` and ``proportions``."""
    from mmrwe.stats.imputation import mice

    spec = ctx.spec
    if spec.imputation is None:
        return None
    imp = spec.imputation
    requested = _variables(spec)
    variables: list[str] = []
    dropped: list[str] = []
    for v in requested:
        (dropped if _missing(ctx, v).all() else variables).append(v)
    incomplete = {v for v in variables if _missing(ctx, v).any()}
    targets = _targets(ctx, done, set(variables), incomplete)
    pooled = [x for x in targets if x[4] is None]
    section: dict[str, Any] = {
        "variables": variables,
        "variables_dropped": dropped,
        "n": ctx.n,
        "n_incomplete": int(np.sum(np.any([_missing(ctx, v) for v in variables], axis=0)))
        if variables
        else 0,
        "analyses": [],
        "warnings": [],
    }
    for v in dropped:
        section["warnings"].append(f"{v} has no observed value: left out of the imputation model")
    for _sec, _i, entry, _, reason in targets:
        if reason is not None and isinstance(entry, dict):
            entry["imputed"] = None
            entry["imputed_reason"] = reason
    if not pooled:
        section["status"] = NOT_ESTIMABLE
        section["reason"] = "no analysis has missing values in the imputation model's variables"
        return section
    endpoints = _auxiliary_endpoints(ctx, [i for s, i, *_ in pooled if s == "cox"])
    data = {v: _data(ctx, v) for v in variables}
    complete = [v for v in variables if v not in incomplete]
    aux = _auxiliaries(ctx, endpoints, data, complete)
    try:
        res = mice(data, m=imp.m, maxit=imp.maxit, seed=imp.seed, auxiliary=aux or None,
                   donors=imp.donors)  # fmt: skip
    except MmrweError as exc:
        for _, _, entry, _, _ in pooled:
            entry["imputed"] = None
            entry["imputed_reason"] = f"imputation failed: {exc.what}"
        section.update({"status": NOT_ESTIMABLE, "reason": exc.what})
        return section
    section.update(res.to_dict())
    section["auxiliary_endpoints"] = endpoints
    section["cumhaz_interactions"] = imp.cumhaz_interactions
    completed = [res.complete(k) for k in range(res.m)]
    pool_fn: dict[str, Callable[..., dict[str, Any]]] = {
        "cox": _pool_cox,
        "proportion_comparisons": _pool_compare,
        "proportions": _pool_proportion,
    }
    for sec, i, entry, _, _ in pooled:
        where = str(entry.get("spec_key") or f"{sec}[{i}]")
        try:
            entry["imputed"] = pool_fn[sec](ctx, i, entry, completed)
            entry["imputed"]["m"] = res.m
            section["analyses"].append({"section": sec, "index": i, "spec_key": where})
        except MmrweError as exc:
            entry["imputed"] = None
            entry["imputed_reason"] = exc.what
            ctx.warnings.append(f"{where} (imputed): not estimable: {exc.what}")
        except Exception as exc:  # a bug: this pooled result fails, the rest goes on
            ctx.failures.append((f"{where} (imputed)", traceback.format_exc()))
            entry["imputed"] = None
            entry["imputed_reason"] = (
                f"internal error ({type(exc).__name__}); the traceback is in {ERROR_LOG}"
            )
    return section


# -- pooling per analysis kind --------------------------------------------------------------


def _design(
    completed: dict[str, np.ndarray], terms: list[str], info: dict[str, Any], rows: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """X as the complete-case fit built it (same dummies and reference levels)."""
    cols: list[np.ndarray] = []
    names: list[str] = []
    for term in terms:
        ti = info.get(term) or {}
        x = completed[term][rows]
        if ti.get("type") == "categorical":
            for lv in ti.get("levels") or []:
                if lv != ti.get("reference"):
                    cols.append((x == lv).astype(np.float64))
                    names.append(f"{term}={lv}")
        else:
            cols.append(np.asarray(x, dtype=np.float64))
            names.append(term)
    return np.column_stack(cols), names


def _pooled_terms(pool: Any, ratio: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for t in pool.terms:
        d = t.to_dict()
        tr = d.get("transformed") or {}
        out[t.name] = {
            "coef": d["estimate"],
            "se": d["se"],
            ratio: tr.get("estimate"),
            "lower": tr.get("lower"),
            "upper": tr.get("upper"),
            "statistic": d["statistic"],
            "df": d["df"],
            "p": d["p"],
            "fmi": d["fmi"],
            "riv": d["riv"],
            "lambda": d["lambda"],
            "ubar": d["ubar"],
            "b": d["b"],
            "t": d["t"],
        }
    return out


def _pool_cox(
    ctx: AnalysisContext, i: int, entry: dict[str, Any], completed: list[dict[str, np.ndarray]]
) -> dict[str, Any]:
    from mmrwe.stats.cox import cox_fit
    from mmrwe.stats.imputation import pool_cox

    cx = ctx.spec.cox[i]
    t, e = ctx.survival(cx.endpoint)
    rows = np.ones(ctx.n, dtype=bool)
    strata = ctx.labels(cx.strata).to_numpy() if cx.strata else None
    cluster = ctx.labels(cx.cluster).to_numpy() if cx.cluster else None
    fits = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for data in completed:  # one fit per imputed data set (m of them)
            full = {c: data[c] if c in data else _data(ctx, c) for c in cx.terms}
            X, names = _design(full, list(cx.terms), entry.get("term_info") or {}, rows)
            fit = cox_fit(t, e, X, names=names, ties=cx.ties, strata=strata, cluster=cluster,
                          robust=cx.robust or cluster is not None, concordance=False)  # fmt: skip
            fits.append(fit)
    if any(not np.all(np.isfinite(f.coef)) for f in fits):
        raise EstimationError("a coefficient is not estimable in some imputed data set")
    pool = pool_cox(fits, conf_level=1 - ctx.spec.study.alpha)
    coefs = _pooled_terms(pool, "hr")
    rare = bool((entry.get("evalue_outcome") or {}).get("rare", False))
    for c in coefs.values():
        add_evalue(c, rare)
    out: dict[str, Any] = {
        "method": pool.to_dict()["method"],
        "n": int(fits[0].n),
        "events": int(fits[0].events),
        "dfcom": pool.dfcom,
        "conf_level": pool.conf_level,
        "coefficients": coefs,
        "ci": "t with Barnard-Rubin degrees of freedom",
    }
    msgs = sorted({str(w.message) for w in caught})
    if msgs:
        out["warnings"] = msgs
    return out


def _success(
    ctx: AnalysisContext, proportion: str, data: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, Any]:
    """(success, missing) of a [[proportion]] on a completed data set (else as observed)."""
    p = next(x for x in ctx.spec.proportions if x.name == proportion)
    if p.variable in data:
        lab = np.asarray(data[p.variable], dtype=object)
        lab = np.array([None if v is None else _label(v) for v in lab.tolist()], dtype=object)
    else:
        lab = ctx.labels(p.variable).to_numpy()
    missing = np.array([v is None for v in lab.tolist()], dtype=bool)
    success = np.isin(lab, list(p.success)) & ~missing
    return success, missing, p


def _label(v: Any) -> str:
    from mmrwe.study.context import label_of

    return label_of(v) or ""


def _pool_compare(
    ctx: AnalysisContext, i: int, entry: dict[str, Any], completed: list[dict[str, np.ndarray]]
) -> dict[str, Any]:
    from mmrwe.stats.imputation import pool_logistic
    from mmrwe.stats.logistic import logistic_fit

    c = ctx.spec.compare_proportions[i]
    fits = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for data in completed:  # one fit per imputed data set
            success, missing, p = _success(ctx, c.outcome, data)
            rows = ~missing if p.denominator == "non-missing" else np.ones(ctx.n, dtype=bool)
            by = data[c.by] if c.by in data else _data(ctx, c.by)
            if entry.get("type") == "numeric":
                X, names = np.asarray(by, float)[rows][:, None], [c.by]
            else:
                levels, ref = entry.get("levels") or [], entry.get("reference")
                lab = np.array([_label(v) for v in np.asarray(by)[rows].tolist()], dtype=object)
                names = [f"{c.by}={lv}" for lv in levels if lv != ref]
                X = np.column_stack([(lab == lv).astype(float) for lv in levels if lv != ref])
            fits.append(logistic_fit(success[rows].astype(float), X, names=names, ci="wald"))
    pool = pool_logistic(fits, conf_level=1 - ctx.spec.study.alpha)
    coefs = {k: v for k, v in _pooled_terms(pool, "odds_ratio").items() if k != "(Intercept)"}
    out: dict[str, Any] = {
        "method": pool.to_dict()["method"],
        "n": int(fits[0].n),
        "dfcom": pool.dfcom,
        "conf_level": pool.conf_level,
        "ci": "t with Barnard-Rubin degrees of freedom",
    }
    if len(coefs) == 1:
        out.update(next(iter(coefs.values())))
    else:
        out["coefficients"] = coefs
    msgs = sorted({str(w.message) for w in caught})
    if msgs:
        out["warnings"] = msgs
    return out


def _pool_proportion(
    ctx: AnalysisContext, i: int, entry: dict[str, Any], completed: list[dict[str, np.ndarray]]
) -> dict[str, Any]:
    from mmrwe.stats.imputation import pool_proportion

    p = ctx.spec.proportions[i]
    counts = []
    for data in completed:
        success, _, _ = _success(ctx, p.name, data)
        counts.append(int(success.sum()))
    pool = pool_proportion(np.asarray(counts), ctx.n, conf_level=1 - ctx.spec.study.alpha,
                           name=p.name)  # fmt: skip
    d = pool.terms[0].to_dict()
    tr = d["transformed"]
    return {
        "method": pool.to_dict()["method"] + "; logit scale, back-transformed",
        "n": ctx.n,
        "successes": counts,
        "estimate": tr["estimate"],
        "lower": tr["lower"],
        "upper": tr["upper"],
        "logit": d["estimate"],
        "se_logit": d["se"],
        "df": d["df"],
        "fmi": d["fmi"],
        "riv": d["riv"],
        "lambda": d["lambda"],
        "conf_level": pool.conf_level,
    }
