"""Share of patients in the success categories, with an exact (or Wilson) CI, from counts."""

from __future__ import annotations

from typing import Any

from mmrwe.spec.model import StudySpec
from mmrwe.study.analyses.common import entries
from mmrwe.study.context import AnalysisContext

KEY = "proportions"
IS_LIST = True  # one entry per spec entry, each in its own failure boundary
LABEL = "Proportions"


def columns(spec: StudySpec) -> set[str]:
    """Row-level columns read (none: counts only)."""
    return set()


def run(ctx: AnalysisContext, done: dict[str, Any]) -> list[dict[str, Any]]:
    """results.json ``proportions``."""
    return entries(ctx, "proportion", ctx.spec.proportions, proportion_one,
                   lambda p: {"name": p.name, "variable": p.variable})  # fmt: skip


def proportion_one(ctx: AnalysisContext, p: Any) -> dict[str, Any]:
    """One ``[[proportion]]`` from the category counts of its variable."""
    from mmrwe.stats.proportions import proportion_ci

    counts = ctx.value_counts(p.variable)
    total = sum(counts.values())
    n_missing = int(counts.get(None, 0))
    successes = sum(k for v, k in counts.items() if v is not None and v in p.success)
    n = int(total if p.denominator == "all" else total - n_missing)
    res: dict[str, Any] = dict(
        proportion_ci(
            int(successes), n, method=p.method, conf_level=1 - ctx.spec.study.alpha
        ).to_dict()
    )
    res.update(
        {
            "name": p.name,
            "variable": p.variable,
            "success": list(p.success),
            "denominator": p.denominator,
            "n_missing": n_missing,
        }
    )
    return res
