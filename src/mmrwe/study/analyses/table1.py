"""Table 1: baseline characteristics, overall and by a factor, with tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from mmrwe.spec.model import StudySpec
from mmrwe.study.context import AnalysisContext

KEY = "table1"
LABEL = "Table 1"

_NOT_DESCRIBED = {"patient_id", "center", "start_date", "progression_date", "death_date",
                  "last_followup_date"}  # fmt: skip


def variables_of(spec: StudySpec, types: dict[str, str]) -> list[str]:
    """The variables Table 1 describes: the spec's list, else every covariate."""
    if spec.table1.variables:
        return list(spec.table1.variables)
    return [
        c
        for c, kind in types.items()
        if c not in _NOT_DESCRIBED and not c.startswith("_") and kind in ("numeric", "categorical")
    ]


def columns(spec: StudySpec) -> set[str]:
    """Row-level columns read: the described variables and the grouping factor."""
    by = spec.table1.by or spec.report.table1_by
    return set(spec.table1.variables) | ({by} if by else set())


#: Above this many patients, Table 1's counts, means, SDs and quartiles are aggregates
#: computed by the engine (no column is fetched); the tests of a ``by`` factor still read
#: the rows they rank.
TABLE1_IN_MEMORY_MAX_ROWS = 2_000_000


def run(ctx: AnalysisContext, done: dict[str, Any]) -> dict[str, Any] | None:
    """results.json ``table1``."""
    from mmrwe.stats.descriptive import describe_categorical, describe_numeric

    variables = variables_of(ctx.spec, ctx.types)
    by = ctx.spec.table1.by or ctx.spec.report.table1_by
    if ctx.n > TABLE1_IN_MEMORY_MAX_ROWS:
        return _run_engine(ctx, variables, by)
    ctx.prefetch(variables)
    groups: list[str] = []
    g = None
    if by:
        g = ctx.labels(by)
        groups = ctx.levels(by, g)
    rows = []
    for v in variables:
        row: dict[str, Any]
        if ctx.is_numeric(v):
            x = ctx.values(v)
            row = {"variable": v, "type": "numeric", "unit": ctx.units.get(v),
                   "overall": describe_numeric(x)}  # fmt: skip
            if g is not None:
                row["by"] = {lv: describe_numeric(x[(g == lv).to_numpy()]) for lv in groups}
        else:
            lab = ctx.labels(v)
            levels = ctx.levels(v, lab)
            refused = _refused(ctx, v, by, lab.value_counts, levels)
            if refused is not None:
                rows.append(refused)
                continue
            row = {"variable": v, "type": "categorical", "levels": levels,
                   "overall": describe_categorical(lab.to_numpy(), levels)}  # fmt: skip
            if g is not None:
                row["by"] = {
                    lv: describe_categorical(lab.to_numpy()[(g == lv).to_numpy()], levels)
                    for lv in groups
                }
        if g is not None and len(groups) >= 2:
            row["test"] = _test(ctx, v, g, groups)
        rows.append(row)
    group_n = {lv: int((g == lv).sum()) for lv in groups} if g is not None else {}
    return {
        "by": by,
        "groups": groups,
        "group_n": group_n,
        "n_missing_by": int(g.isna().sum()) if g is not None else 0,
        "rows": rows,
    }


def _test(ctx: AnalysisContext, v: str, g: pd.Series, groups: list[str]) -> dict[str, Any] | None:
    from mmrwe.stats.descriptive import compare_categorical, compare_numeric

    mask = g.notna().to_numpy()
    gv = g.to_numpy()[mask]
    if ctx.is_numeric(v):
        return compare_numeric(np.asarray(ctx.values(v))[mask], gv, groups)
    return compare_categorical(ctx.labels(v).to_numpy()[mask], gv, groups)


#: With the small-cell rule on, a categorical variable of more levels than this is refused
#: in Table 1 (free text, ids, codes, dates written as text).
TABLE1_MAX_LEVELS = 20


def _refused(
    ctx: AnalysisContext,
    v: str,
    by: str | None,
    counts: Callable[[], Any],
    levels: list[str],
) -> dict[str, Any] | None:
    """The row of a categorical variable the small-cell rule refuses (every level would
    describe one or a few patients: free text, codes, dates as text): no level, no count,
    no test leaves the site. None when it may be described; ``counts`` is only asked for
    when the rule is on."""
    k = ctx.spec.report.small_cell_k
    why = _too_fine(counts(), levels, k) if v != by and k > 0 else None
    if why is None:
        return None
    ctx.warnings.append(f"table1: {v!r} is not described: {why}")
    return {"variable": v, "type": "categorical", "status": "not_estimable", "reason": why,
            "levels": []}  # fmt: skip


def _too_fine(counts: Any, levels: list[str], k: int) -> str | None:
    """Why Table 1 refuses a categorical variable under the small-cell rule (``k > 0``):
    more than :data:`TABLE1_MAX_LEVELS` levels, or at least 5 levels of which more than half
    hold fewer than ``k`` patients. None when it may be described."""
    if k <= 0 or not levels:
        return None
    n_levels = len(levels)
    if n_levels > TABLE1_MAX_LEVELS:
        return (
            f"{n_levels} distinct values (more than {TABLE1_MAX_LEVELS}: free text or codes); "
            f"refused with [report] small_cell_k = {k}"
        )
    small = sum(1 for lv in levels if 1 <= int(counts.get(lv, 0)) < k)
    if n_levels >= 5 and small * 2 > n_levels:
        return (
            f"{small} of its {n_levels} values hold fewer than {k} patients (free text or "
            f"codes); refused with [report] small_cell_k = {k}"
        )
    return None


def _run_engine(ctx: AnalysisContext, variables: list[str], by: str | None) -> dict[str, Any]:
    """Table 1 of a large cohort from aggregates the engine computes.

    The same numbers as the in-memory path: counts per level, n and missing, mean, SD
    (n - 1), quartiles by linear interpolation (R type 7: the engine's exact
    ``quantile_cont``), minimum and maximum, overall and per level of ``by``. Only the
    tests of a ``by`` factor (rank tests) read the two columns they compare.
    """
    import ibis

    groups: list[str] = []
    group_n: dict[str, int] = {}
    n_missing_by = 0
    table = ctx.table
    if by:
        per_by = ctx.value_counts(by)
        groups = ctx.levels(by, [lv for lv in per_by if lv is not None])
        group_n = {lv: int(per_by.get(lv, 0)) for lv in groups}
        n_missing_by = int(per_by.get(None, 0))
        table = table.mutate(_g=ctx.label(by))
    g_labels: pd.Series | None = None
    rows: list[dict[str, Any]] = []
    for v in variables:
        row: dict[str, Any]
        if ctx.is_numeric(v):
            x = table[v].cast("float64")
            xs = (x.notnull() & ~x.isnan()).ifelse(x, ibis.null().cast("float64"))
            aggs = {
                "_total": ibis._.count(),
                "n": xs.count(),
                "mean": xs.mean(),
                "sd": xs.std(how="sample"),
                "q": xs.quantile([0.25, 0.5, 0.75]),
                "min": xs.min(),
                "max": xs.max(),
            }
            overall = _numeric_summary(table.aggregate(**aggs).to_pyarrow().to_pylist()[0])
            row = {"variable": v, "type": "numeric", "unit": ctx.units.get(v), "overall": overall}
            if by:
                res = table.group_by("_g").aggregate(**aggs).to_pyarrow().to_pylist()
                per = {r["_g"]: _numeric_summary(r) for r in res}
                row["by"] = {lv: per.get(lv) or _numeric_summary({}) for lv in groups}
        else:
            lab = ctx.label(v)
            counts = ctx.value_counts(v)
            levels = ctx.levels(v, [lv for lv in counts if lv is not None])
            refused = _refused(ctx, v, by, counts.copy, levels)
            if refused is not None:
                rows.append(refused)
                continue
            row = {"variable": v, "type": "categorical", "levels": levels,
                   "overall": _categorical_summary(counts, levels)}  # fmt: skip
            if by:
                res = (
                    table.select(_v=lab, _g=table["_g"])
                    .group_by(["_v", "_g"])
                    .aggregate(n=ibis._.count())
                    .to_pyarrow()
                )
                per_g: dict[Any, dict[Any, int]] = {}
                for gv, vv, n in zip(res["_g"].to_pylist(), res["_v"].to_pylist(),
                                     res["n"].to_pylist(), strict=True):  # fmt: skip
                    per_g.setdefault(gv, {})[vv] = int(n)
                row["by"] = {lv: _categorical_summary(per_g.get(lv, {}), levels) for lv in groups}
        if by and len(groups) >= 2:
            if g_labels is None:
                g_labels = ctx.labels(by)
            row["test"] = _test(ctx, v, g_labels, groups)
        rows.append(row)
    return {
        "by": by,
        "groups": groups,
        "group_n": group_n,
        "n_missing_by": n_missing_by,
        "rows": rows,
    }


def _numeric_summary(r: dict[str, Any]) -> dict[str, Any]:
    """:func:`~mmrwe.stats.descriptive.describe_numeric`'s dict from engine aggregates."""
    from mmrwe.stats._common import none_if_nan

    n = int(r.get("n") or 0)
    out: dict[str, Any] = {"n": n, "missing": int(r.get("_total") or 0) - n}
    if n == 0:
        out.update(dict.fromkeys(("mean", "sd", "median", "q1", "q3", "min", "max")))
        return out
    q1, med, q3 = (float(v) for v in r["q"])
    sd = r.get("sd")
    out.update(
        {
            "mean": float(r["mean"]),
            "sd": none_if_nan(float(sd)) if n > 1 and sd is not None else None,
            "median": med,
            "q1": q1,
            "q3": q3,
            "min": float(r["min"]),
            "max": float(r["max"]),
        }
    )
    return out


def _categorical_summary(counts: dict[Any, int], levels: list[str]) -> dict[str, Any]:
    """:func:`~mmrwe.stats.descriptive.describe_categorical`'s dict from counts per label
    (``None``: missing)."""
    n = int(sum(k for lv, k in counts.items() if lv is not None))
    per = {lv: int(counts.get(lv, 0)) for lv in levels}
    return {
        "n": n,
        "missing": int(counts.get(None, 0)),
        "counts": per,
        "percent": {lv: (100.0 * c / n if n else None) for lv, c in per.items()},
    }
