"""The analyses registry: one small module per analysis kind.

Each module declares ``KEY`` (its results.json section), ``LABEL`` (the progress step),
``columns(spec)`` (the patient-level columns it reads, so they can be collected in one
query) and ``run(ctx, done) -> entry`` (``done`` holds the sections computed before it, in
registry order). Every analysis runs on the one engine path, whatever the cohort's size;
where a row-level estimator would not fit in memory the module chooses a bounded way and
records it in its entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from mmrwe.spec.model import StudySpec
from mmrwe.study.analyses import (
    center_effects,
    compare,
    cox,
    cuminc,
    cutpoints,
    endpoints,
    finegray,
    imputation,
    iptw,
    landmark,
    logrank,
    maic,
    proportions,
    response,
    rmst,
    subgroups,
    table1,
    tv_cox,
)
from mmrwe.study.analyses.common import FAILED, boundary
from mmrwe.study.context import AnalysisContext


@dataclass(frozen=True)
class Analysis:
    """One registered analysis kind."""

    key: str
    label: str
    run: Callable[[AnalysisContext, dict[str, Any]], Any]
    columns: Callable[[StudySpec], set[str]]
    is_list: bool = False  # a list section: one entry per spec entry
    # an optional section (added after results format v1.2): absent from results.json
    # unless the spec asks for it, so existing studies' results do not change
    wanted: Callable[[StudySpec], bool] | None = None

    @classmethod
    def of(cls, module: ModuleType) -> Analysis:
        """The entry of an analysis module."""
        return cls(module.KEY, module.LABEL, module.run, module.columns,
                   getattr(module, "IS_LIST", False), getattr(module, "wanted", None))  # fmt: skip

    def is_wanted(self, spec: StudySpec) -> bool:
        """False for an optional section the spec does not ask for."""
        return self.wanted is None or self.wanted(spec)

    def run_safely(self, ctx: AnalysisContext, done: dict[str, Any]) -> Any:
        """Run the section in a failure boundary: a crash fails this section only."""
        out = boundary(ctx, None, {"section": self.key}, lambda: self.run(ctx, done), ok_keys=False)
        if self.is_list and not isinstance(out, list):
            return []  # the failure is in the warnings and the error log
        return out


def failed_analyses(results: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """(where, reason) of every analysis entry or section whose status is "failed"."""
    out: list[tuple[str, str | None]] = []

    def visit(where: str, x: Any, depth: int) -> None:
        if isinstance(x, Mapping):
            if x.get("status") == FAILED:
                out.append((str(x.get("spec_key") or where), x.get("reason")))
            elif depth < 2:
                for k, v in x.items():
                    visit(f"{where}.{k}", v, depth + 1)
        elif isinstance(x, list | tuple) and depth < 2:
            for i, v in enumerate(x):
                visit(f"{where}[{i}]", v, depth + 1)

    for key in (*(a.key for a in REGISTRY), "swimmer", "therapy_flow"):
        visit(key, results.get(key), 0)
    return out


REGISTRY: tuple[Analysis, ...] = tuple(
    Analysis.of(m)
    for m in (
        endpoints,
        response,
        proportions,
        compare,
        logrank,
        landmark,
        cox,
        subgroups,
        tv_cox,
        cutpoints,
        cuminc,
        finegray,
        rmst,
        table1,
        center_effects,
        iptw,
        maic,
        imputation,
    )
)

__all__ = ["REGISTRY", "Analysis", "failed_analyses"]
