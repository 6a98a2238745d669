"""Cox models with time-varying covariates (``[[tv_cox]]``): response as it is reached.

Each patient's follow-up is split at the date a time-varying covariate switches on
(``response``: ``first_response_date``, the first documented PR or better; or any date
column): 0 on (0, date], 1 on (date, end], as R ``tmerge(..., tdc(date))``. A date on or
before day 0 gives 1 from the start; a date on or after the end of follow-up (or none) gives
0 throughout. The split rows are fitted by :func:`mmrwe.stats.cox.cox_fit` with their start
times and the patient as cluster: R ``coxph(Surv(tstart, tstop, event) ~ response + terms,
cluster = id)``, robust variance by patient. Unlike a comparison of survival by best
response, no patient is credited with the time before the response (immortal time).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from mmrwe.core.errors import EstimationError
from mmrwe.spec.model import StudySpec, TvCoxSpec
from mmrwe.study.analyses.common import design_matrix, entries, refuse_one_level
from mmrwe.study.context import AnalysisContext

KEY = "tv_cox"
IS_LIST = True
LABEL = "Time-varying Cox models"


def wanted(spec: StudySpec) -> bool:
    """Only with ``[[tv_cox]]`` entries: the section is absent otherwise."""
    return bool(spec.tv_cox)


def date_column(name: str) -> str:
    """The date column of a time-varying covariate ("response" -> first_response_date)."""
    return "first_response_date" if name == "response" else name


def columns(spec: StudySpec) -> set[str]:
    """Row-level columns read: terms, the covariates' dates, start_date, endpoint time/event."""
    out: set[str] = set()
    for tv in spec.tv_cox:
        out |= set(tv.terms) | {date_column(n) for n in tv.time_varying} | {"start_date"}
        out |= {f"{tv.endpoint}_time_days", f"{tv.endpoint}_event"}
    return out


def run(ctx: AnalysisContext, done: dict[str, Any]) -> list[dict[str, Any]]:
    """results.json ``tv_cox``: one entry per ``[[tv_cox]]``, each in its own boundary."""
    return entries(ctx, "tv_cox", ctx.spec.tv_cox, tv_cox_entry,
                   lambda tv: {"endpoint": tv.endpoint, "time_varying": list(tv.time_varying),
                               "terms": list(tv.terms)})  # fmt: skip


def split_at_dates(
    time_days: np.ndarray, event: np.ndarray, change_days: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split each patient's follow-up (0, T] at the days its covariates switch on.

    Parameters
    ----------
    time_days : ndarray of int, shape (n,)
        End of follow-up (days from day 0).
    event : ndarray of bool, shape (n,)
    change_days : ndarray of float, shape (n, k)
        Day each covariate switches from 0 to 1 (NaN: never).

    Returns
    -------
    patient, start, stop, is_event, Z
        One row per interval: the patient's index, (start, stop] in days, the event (on the
        last interval only) and the k covariate values (1 where the switch is on or before
        the interval's start). Zero-length intervals (two switches on one day) are dropped.
    """
    n = change_days.shape[0]
    T = time_days.astype(np.float64)
    inside = (change_days > 0) & (change_days < T[:, None])  # splits within (0, T)
    cuts = np.sort(np.where(inside, change_days, np.nan), axis=1)  # NaN last
    starts = np.concatenate([np.zeros((n, 1)), cuts], axis=1)  # (n, k + 1)
    stops = np.concatenate([cuts, np.full((n, 1), np.nan)], axis=1)
    # the interval after the last cut ends at T: fill the first NaN stop of each row with T
    stops = np.where(np.isnan(stops), T[:, None], stops)
    valid = ~np.isnan(starts) & (stops > starts)
    # an interval that ends at T is the last one: it carries the event
    last = valid & (stops == T[:, None])
    pid, slot = np.nonzero(valid)
    start, stop = starts[pid, slot], stops[pid, slot]
    ch = change_days[pid]
    Z = (~np.isnan(ch) & (ch <= start[:, None])).astype(np.float64)
    is_event = event[pid] & last[pid, slot]
    return pid, start, stop, is_event, Z


def tv_cox_entry(ctx: AnalysisContext, tv: TvCoxSpec) -> dict[str, Any]:
    """One ``[[tv_cox]]`` model: split, fit with start times and patient clusters."""
    from mmrwe.stats.cox import cox_fit

    t_days = np.asarray(ctx.column(f"{tv.endpoint}_time_days"), dtype=np.float64)
    event = np.asarray(ctx.column(f"{tv.endpoint}_event"), dtype=bool)
    pop = ~np.isnan(t_days)
    X, names, keep, info = design_matrix(ctx, tuple(tv.terms), dict(tv.reference), [], pop)
    start0 = ctx.column("start_date").astype("datetime64[D]")
    change = np.full((ctx.n, len(tv.time_varying)), np.nan)
    for j, name in enumerate(tv.time_varying):
        d = ctx.column(date_column(name))
        if not np.issubdtype(np.asarray(d).dtype, np.datetime64):
            raise EstimationError(f"{date_column(name)} is not a date column")
        dd = np.asarray(d).astype("datetime64[D]")
        ok = ~np.isnat(dd)
        change[ok, j] = (dd[ok] - start0[ok]).astype(np.int64)
    n_kept = int(keep.sum())
    if n_kept == 0:
        raise EstimationError("no patient has every term of the model recorded")
    refuse_one_level(info)
    if int(event[keep].sum()) == 0:
        raise EstimationError(f"no {tv.endpoint} events among the {n_kept} patients analysed")
    pid, start, stop, is_event, Z = split_at_dates(t_days[keep], event[keep], change[keep])
    if Z.size == 0 or bool((Z.min(axis=0) == Z.max(axis=0)).all()):
        raise EstimationError(
            f"{', '.join(tv.time_varying)} never changes during follow-up (every patient "
            f"{'has' if Z.size and Z[0, 0] else 'lacks'} it throughout): it cannot be compared"
        )
    tv_names = list(tv.time_varying)
    design = np.column_stack([Z, X[pid]]) if X.shape[1] else Z
    dpu = ctx.days_per_unit
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = cox_fit(stop / dpu, is_event, design, names=[*tv_names, *names], ties=tv.ties,
                      start=start / dpu, cluster=pid)  # fmt: skip
    entry: dict[str, Any] = {
        "endpoint": tv.endpoint,
        "time_varying": tv_names,
        "terms": list(tv.terms),
        "ties": tv.ties,
        "n_patients": int(np.unique(pid).size),
        # no (start, stop] interval when the follow-up is 0 days (R's coxph refuses stop <= start)
        "n_zero_followup": n_kept - int(np.unique(pid).size),
        "n_excluded_missing": int((pop & ~keep).sum()),
        "term_info": info,
        "split": {
            name: f"0 before {date_column(name)}, 1 from it on (the follow-up is split there, "
            "as R tmerge tdc); a date on or before day 0: 1 from the start"
            for name in tv_names
        },
        "n_switched": {name: int(np.unique(pid[Z[:, j] == 1]).size)
                       for j, name in enumerate(tv_names)},
        "variance_note": "robust (sandwich) variance clustered by patient, as R coxph(..., cluster = id)",
    }  # fmt: skip
    if tv.name:
        entry["name"] = tv.name
    fd = fit.to_dict()
    fd["n_intervals"] = fd.pop("n")
    entry.update(fd)
    seen = [str(w.message) for w in caught]
    entry["warnings"] = seen + [w for w in fit.warnings if w not in seen]
    for w in entry["warnings"]:
        ctx.warnings.append(f"tv_cox {tv.endpoint} ~ {' + '.join([*tv_names, *tv.terms])}: {w}")
    return entry
