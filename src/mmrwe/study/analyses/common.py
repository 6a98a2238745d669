"""Helpers the analyses share: risk-table ticks, Kaplan-Meier blocks, design matrices."""

from __future__ import annotations

import functools
import math
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mmrwe.core.errors import DerivationError, EstimationError, MmrweError, SpecError
from mmrwe.study.context import AnalysisContext


def fmt_time(t: float) -> str:
    """A landmark time as a results.json key ("12", "6.5")."""
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


#: Steps stored per curve at most (results.json and the figures): what a figure can show.
#: Every number (median, landmarks, risk table) is computed from the whole curve first.
CURVE_MAX_STEPS = 2000
#: The same for the per-center curves of the center effects (20 centers at registry size).
CENTER_CURVE_MAX_STEPS = 500


def thin_curve(curve: dict[str, Any], max_steps: int = CURVE_MAX_STEPS) -> dict[str, Any]:
    """A curve's steps thinned to at most ``max_steps``, as a figure of it looks the same.

    The time axis is cut into ``max_steps // 2`` equal slices and the first and last step
    of each slice are kept (the curve is monotone: inside a slice it lies between them);
    events and censorings of the dropped steps are added to the next kept step, so the
    totals stay exact. A thinned curve says so (``thinned``: steps before and after, the rule).
    """
    t = np.asarray(curve["time"], dtype=np.float64)
    n = t.size
    if n <= max_steps:
        return curve
    bins = max(1, max_steps // 2)
    span = float(t[-1] - t[0]) or 1.0
    slot = np.minimum(((t - t[0]) / span * bins).astype(np.int64), bins - 1)
    change = np.flatnonzero(np.diff(slot)) + 1
    keep = np.unique(np.concatenate([[0, n - 1], change, change - 1]))
    out: dict[str, Any] = {}
    for key, values in curve.items():
        if not isinstance(values, list | tuple) or len(values) != n:
            out[key] = values
            continue
        arr = np.asarray(values, dtype=object)
        if key in ("n_event", "n_censor", "weighted_n_event", "weighted_n_censor"):
            num = np.asarray([0 if v is None else v for v in values], dtype=np.float64)
            sums = np.diff(np.concatenate([[0.0], np.cumsum(num)[keep]]))
            out[key] = [int(x) if key.startswith("n_") else float(x) for x in sums]
        else:
            out[key] = arr[keep].tolist()
    out["thinned"] = {
        "steps": int(n),
        "kept": int(keep.size),
        "rule": f"first and last step of each of {bins} equal slices of the time axis; "
        "events and censorings of dropped steps added to the next kept step",
    }
    return out


def km_from_counts(ctx: AnalysisContext, counts: pd.DataFrame) -> Any:
    """Kaplan-Meier curve from per-time counts (bit-identical to the row version)."""
    from mmrwe.stats.km import kaplan_meier_from_counts

    return kaplan_meier_from_counts(
        ctx.times(counts["time_days"].to_numpy()),
        counts["n_event"].to_numpy(),
        counts["n_censor"].to_numpy(),
        conventions=ctx.conventions,
    )


def km_block(ctx: AnalysisContext, counts: pd.DataFrame) -> dict[str, Any]:
    """An endpoint's entry: median (band and symmetric CI), landmarks, follow-up, risk table, curve."""
    from mmrwe.stats.km import reverse_km_followup_from_counts

    conv = ctx.conventions
    days = counts["time_days"].to_numpy()
    km = km_from_counts(ctx, counts)
    band = km.median.to_dict()
    sym = km.median_symmetric()
    sym_d = {"estimate": sym.value, "lower": sym.lower, "upper": sym.upper, "std_err": sym.std_err}
    symmetric = ctx.spec.km.median_ci == "symmetric"
    median = dict(sym_d) if symmetric else dict(band)
    median["method"] = (
        "median +- z x SE (symmetric)" if symmetric else f"{conv.conf_type} band crossing 0.5"
    )
    for m in (median, band, sym_d):
        median_reasons(m)
    block: dict[str, Any] = {
        "n": int(km.n),
        "events": int(km.events),
        "censored": int(km.n - km.events),
        "median": median,
        "median_band": band,
        "median_symmetric": sym_d,
        "landmarks": {},
    }
    for t in ctx.spec.km.landmarks:
        s = km.survival_at(t)
        block["landmarks"][fmt_time(t)] = landmark_reasons(
            {
                "surv": s.surv,
                "lower": s.lower,
                "upper": s.upper,
                "std_err": s.std_err,
                "n_risk": int(s.n_risk),
            }
        )
    fu = reverse_km_followup_from_counts(
        ctx.times(days),
        counts["n_event"].to_numpy(),
        counts["n_censor"].to_numpy(),
        conventions=conv,
    )
    block["followup"] = fu.to_dict()
    for key in ("estimate", "lower", "upper"):
        if key in block["followup"] and block["followup"][key] is None:
            block["followup"][f"{key}_reason"] = (
                "not reached: the reverse Kaplan-Meier curve (of censoring) or its confidence "
                "limit stays above 0.5"
            )
    ticks = risk_ticks(
        float(km.time.max()) if km.time.size else 0.0, conv.time_unit, ctx.spec.km.risk_table_step
    )
    block["risk_table"] = {
        "times": ticks,
        "n_risk": [int(x) for x in km.n_risk_at(np.asarray(ticks, dtype=float))],
        "rule": "number with time >= t",
    }
    block["curve"] = thin_curve(km.curve_dict())
    return block


def group_curve(
    ctx: AnalysisContext, km: Any, ticks: list[float], max_steps: int = CURVE_MAX_STEPS
) -> dict[str, Any]:
    """One group's entry of a log-rank ``curves`` map: median, landmarks, risk table, steps."""
    return {
        "median": median_reasons(km.median.to_dict()),
        "landmarks": {
            fmt_time(x): landmark_reasons(
                {"surv": km.survival_at(x).surv, "n_risk": int(km.survival_at(x).n_risk)}
            )
            for x in ctx.spec.km.landmarks
        },
        "risk_table": {
            "times": ticks,
            "n_risk": [int(v) for v in km.n_risk_at(np.asarray(ticks, dtype=float))],
        },
        "curve": thin_curve(km.curve_dict(), max_steps),
    }


def design_matrix(
    ctx: AnalysisContext,
    terms: tuple[str, ...],
    reference: dict[str, str],
    extra: list[str],
    population: np.ndarray | None = None,
) -> tuple[np.ndarray, list[str], np.ndarray, dict[str, Any]]:
    """X for a Cox or logistic model: numeric as is, categorical as dummies vs reference.

    Returns (X of the kept rows, column names, keep mask, information about the terms).
    Rows missing any term (or an ``extra`` column) are dropped; with ``population`` (a mask:
    the endpoint's population, e.g. DoR's responders) only those rows are considered, so the
    levels and the reference are those of the patients analysed.
    """
    keep = np.ones(ctx.n, dtype=bool) if population is None else population.copy()
    for c in (*terms, *extra):
        keep &= (
            ctx.labels(c).notna().to_numpy() if not ctx.is_numeric(c) else ~np.isnan(_num(ctx, c))
        )
    cols: list[np.ndarray] = []
    names: list[str] = []
    info: dict[str, Any] = {}
    for term in terms:
        if ctx.is_numeric(term):
            cols.append(_num(ctx, term)[keep])
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


def _num(ctx: AnalysisContext, column: str) -> np.ndarray:
    col = ctx.column(column)
    if col.dtype == object:  # a categorical column declared numeric: its text as numbers
        return pd.to_numeric(pd.Series(col), errors="coerce").to_numpy(np.float64)
    return np.asarray(col, dtype=np.float64)


def success_flags(ctx: AnalysisContext, name: str) -> tuple[np.ndarray, np.ndarray, Any]:
    """(is_success, is_missing, proportion spec) for a ``[[proportion]]`` name."""
    p = next(x for x in ctx.spec.proportions if x.name == name)
    labels = ctx.labels(p.variable)
    missing = labels.isna().to_numpy()
    success = labels.isin(p.success).to_numpy() & ~missing
    return success, missing, p


# --- failure boundary ------------------------------------------------------------------------

OK, NOT_ESTIMABLE, FAILED = "ok", "not_estimable", "failed"
ERROR_LOG = "mmrwe-errors.log"


def boundary(
    ctx: AnalysisContext,
    spec_key: str | None,
    identity: dict[str, Any],
    compute: Callable[[], Any],
    *,
    ok_keys: bool = True,
) -> Any:
    """Run one analysis entry inside its own failure boundary: it never sinks the study.

    The entry gets ``status`` ("ok", "not_estimable", "failed"), ``reason`` (words; None
    when ok) and ``spec_key`` (``"[[cox]] 2"``). A model that cannot be estimated from these
    data (no events, one level, a constant covariate) is "not_estimable"; a problem of spec
    or data found at analysis time is "failed" with its message; an unexpected error is
    "failed", its traceback kept for the error log in the output folder (never printed).
    An entry may set its own status (e.g. a test reported with null numbers and a note).
    With ``ok_keys=False`` (a section rather than a list entry) a successful result gets no
    status keys.
    """
    try:
        entry = compute()
    except (EstimationError, DerivationError) as exc:
        entry = {**identity, "status": NOT_ESTIMABLE, "reason": exc.what}
    except MmrweError as exc:
        entry = {**identity, "status": FAILED, "reason": exc.what}
    except Exception as exc:  # a bug in mmrwe: the study goes on, the log keeps the trace
        ctx.failures.append((spec_key or "(section)", traceback.format_exc()))
        entry = {**identity, "status": FAILED,
                 "reason": f"internal error ({type(exc).__name__}: {_short(exc)}); the traceback is in {ERROR_LOG}"}  # fmt: skip
    if not isinstance(entry, dict) or (not ok_keys and "status" not in entry):
        return entry
    entry.setdefault("status", OK)
    entry.setdefault("reason", None)
    if spec_key is not None:
        entry["spec_key"] = spec_key
    if entry["status"] != OK:
        where = spec_key or ", ".join(f"{k} {v}" for k, v in identity.items())
        ctx.warnings.append(f"{where}: {entry['status'].replace('_', ' ')}: {entry['reason']}")
    return entry


def entries(
    ctx: AnalysisContext,
    name: str,
    specs: Sequence[Any],
    compute: Callable[[AnalysisContext, Any], dict[str, Any]],
    identity: Callable[[Any], dict[str, Any]],
) -> list[dict[str, Any]]:
    """One entry per ``[[name]]`` spec entry, each in its own failure boundary, in spec order."""
    return [
        boundary(ctx, f"[[{name}]] {k}", identity(s), functools.partial(compute, ctx, s))
        for k, s in enumerate(specs, 1)
    ]


def _short(exc: BaseException, n: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= n else text[: n - 1] + "\u2026"


# --- E-values ------------------------------------------------------------------------------

#: EValue's rule of thumb: an outcome is "rare" when fewer than 15 % had it by the end of
#: follow-up (VanderWeele & Ding 2017); then an HR approximates a risk ratio.
RARE_OUTCOME_SHARE = 0.15


def rare_outcome(
    ctx: AnalysisContext, override: bool | None, events: int, n: int, where: str
) -> dict[str, Any]:
    """Whether an outcome counts as rare for the E-values of its hazard ratios.

    The model's own ``rare_outcome`` key wins, then ``[study] rare_outcome``; otherwise the
    share of the analysed patients who had the event decides (rare below 15 %).
    """
    share = events / n if n else None
    if override is not None:
        rare, source = bool(override), f"{where} rare_outcome"
    elif ctx.spec.study.rare_outcome is not None:
        rare, source = bool(ctx.spec.study.rare_outcome), "[study] rare_outcome"
    else:
        rare = share is not None and share < RARE_OUTCOME_SHARE
        source = "the event share, common when >= 15%"
    return {"rare": rare, "event_share": share, "events": events, "n": n, "source": source}


def add_evalue(coef: dict[str, Any], rare: bool) -> None:
    """Set ``evalue`` {point, ci, ...} of one HR entry (``hr``, ``lower``, ``upper``), or
    ``evalue: null`` with ``evalue_reason`` when the HR or its limits are not estimable."""
    from mmrwe.stats.evalue import evalue

    hr, lo, hi = coef.get("hr"), coef.get("lower"), coef.get("upper")
    if hr is None or lo is None or hi is None:
        coef["evalue"] = None
        coef["evalue_reason"] = "the hazard ratio or a confidence limit is not estimable"
        return
    try:
        coef["evalue"] = evalue(hr, lo, hi, measure="HR", rare=rare).to_dict()
    except MmrweError as exc:
        coef["evalue"] = None
        coef["evalue_reason"] = exc.what


# --- null with a reason ----------------------------------------------------------------------

#: Why a coefficient has no numbers (R prints NA for such a column).
REDUNDANT_COLUMN = (
    "not estimable: the column is constant, constant within every stratum, or collinear "
    "with other terms (R gives NA)"
)
#: Why a confidence limit of a hazard ratio is null while the estimate stands.
INFINITE_LIMIT = (
    "infinite: exp(coef {sign} z x se) overflows; the coefficient diverges (monotone "
    "likelihood, e.g. no events in one group)"
)


def coefficient_reasons(coef: dict[str, Any], why_missing: str = REDUNDANT_COLUMN) -> None:
    """Give every null number of one coefficient entry its reason, in place.

    A coefficient whose estimate is null gets ``reason`` (the whole entry is not
    estimable); otherwise a null limit or standard error gets ``<name>_reason`` beside it,
    so a reader never has to guess why a number is missing (results format: "a part that
    cannot be computed is null with a sibling ``<name>_reason``").
    """
    if coef.get("coef", coef.get("hr")) is None:
        coef["reason"] = why_missing
        return
    for key, sign in (("lower", "-"), ("upper", "+")):
        if key in coef and coef[key] is None:
            coef[f"{key}_reason"] = INFINITE_LIMIT.format(sign=sign)
    for key in ("se", "robust_se", "z", "p"):
        if key in coef and coef[key] is None:
            coef[f"{key}_reason"] = "not estimable: the coefficient diverges or its variance is 0"


def cox_reasons(entry: dict[str, Any]) -> None:
    """``<name>_reason`` beside every null part of a Cox entry (coefficients, concordance)."""
    for coef in (entry.get("coefficients") or {}).values():
        if isinstance(coef, dict):
            coefficient_reasons(coef)
    if "concordance" in entry and entry["concordance"] is None:
        entry["concordance_reason"] = (
            "not computed for a model fitted in chunks"
            if (entry.get("computation") or {}).get("method") == "chunked"
            else "not estimable: no pair of patients whose order of events can be compared"
        )


def refuse_one_level(info: dict[str, Any]) -> None:
    """Raise "not estimable" when a categorical term has fewer than two levels.

    Such a term has no dummy column, so a model would silently leave it out; R stops
    ("contrasts can be applied only to factors with 2 or more levels"). The entry is
    reported as not estimable, with the term and its one level named, and the warning
    reaches run.json and the reports.
    """
    one = [
        t
        for t, i in info.items()
        if i.get("type") == "categorical" and len(i.get("levels") or []) < 2
    ]
    if one:
        levels = info[one[0]].get("levels") or []
        raise EstimationError(
            f"{one[0]} has one level ({', '.join(levels) or 'none'}) among the analysed patients: "
            "it cannot be compared",
            fix=f"remove {one[0]} from terms, or check its values",
        )


#: Why a Kaplan-Meier median or one of its limits is null.
MEDIAN_REASONS = {
    "estimate": "not reached: survival stays above 0.5 over the follow-up",
    "lower": "not reached: the lower confidence limit of survival stays above 0.5 over the "
    "follow-up (or is not defined where survival is 0 or 1)",
    "upper": "not reached: the upper confidence limit of survival stays above 0.5 over the "
    "follow-up (or is not defined where survival is 0 or 1)",
}


def median_reasons(median: dict[str, Any]) -> dict[str, Any]:
    """``<name>_reason`` beside each null number of a median entry (in place; returned).

    R prints NA for a median or limit that is not reached; results.json says why. A
    symmetric CI (median +- z x SE) has no limits when its standard error is not defined.
    """
    symmetric = "std_err" in median
    for key, why in MEDIAN_REASONS.items():
        if key in median and median[key] is None:
            if symmetric and key != "estimate":
                why = (
                    "not estimable: the median is not reached or its standard error is not defined"
                )
            median[f"{key}_reason"] = why
    if symmetric and median.get("std_err") is None:
        median["std_err_reason"] = (
            "not estimable: the median is not reached, or the curve gives no density around it "
            "(it falls through 0.45-0.55 in one step at time 0)"
        )
    return median


def landmark_reasons(point: dict[str, Any]) -> dict[str, Any]:
    """``reason`` of a landmark whose survival is null (in place; returned)."""
    if point.get("surv") is None:
        point["reason"] = "not estimable: the time is beyond the longest follow-up"
    elif any(point.get(k, 0.0) is None for k in ("lower", "upper", "std_err")):
        point["reason"] = (
            "confidence limits not estimable: survival is 0 or 1 here, or no patient is "
            "left at risk"
        )
    return point
