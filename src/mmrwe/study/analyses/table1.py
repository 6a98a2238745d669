"""Table 1: baseline characteristics, overall and by a factor, with tests."""

from __future__ import annotations

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


def run(ctx: AnalysisContext, done: dict[str, Any]) -> dict[str, Any] | None:
    """results.json ``table1``."""
    from mmrwe.stats.descriptive import describe_categorical, describe_numeric

    variables = variables_of(ctx.spec, ctx.types)
    ctx.prefetch(variables)
    by = ctx.spec.table1.by or ctx.spec.report.table1_by
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
            why = _too_fine(lab, levels, ctx.spec.report.small_cell_k) if v != by else None
            if why is not None:
                # small-cell rule: every level would describe one or a few patients (free
                # text, codes, dates as text): no level, no count, no test leaves the site
                ctx.warnings.append(f"table1: {v!r} is not described: {why}")
                rows.append({"variable": v, "type": "categorical", "status": "not_estimable",
                             "reason": why, "levels": []})  # fmt: skip
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


def _too_fine(lab: pd.Series, levels: list[str], k: int) -> str | None:
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
    counts = lab.value_counts()
    small = sum(1 for lv in levels if 1 <= int(counts.get(lv, 0)) < k)
    if n_levels >= 5 and small * 2 > n_levels:
        return (
            f"{small} of its {n_levels} values hold fewer than {k} patients (free text or "
            f"codes); refused with [report] small_cell_k = {k}"
        )
    return None
