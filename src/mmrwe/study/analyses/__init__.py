"""The analyses registry: one small module per analysis kind.

Each module declares ``KEY`` (its results.json section), ``LABEL`` (the progress step),
``columns(spec)`` (the patient-level columns it reads, so they can be collected in one
query) and ``run(ctx, done) -> entry`` (``done`` holds the sections computed before it, in
registry order). Every analysis runs on the one engine path, whatever the cohort's size;
where a row-level estimator would not fit in memory the module chooses a bounded way and
records it in its entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from mmrwe.spec.model import StudySpec
from mmrwe.study.analyses import (
    center_effects,
    compare,
    cox,
    cutpoints,
    endpoints,
    logrank,
    proportions,
    response,
    table1,
)
from mmrwe.study.context import AnalysisContext


@dataclass(frozen=True)
class Analysis:
    """One registered analysis kind."""

    key: str
    label: str
    run: Callable[[AnalysisContext, dict[str, Any]], Any]
    columns: Callable[[StudySpec], set[str]]

    @classmethod
    def of(cls, module: ModuleType) -> Analysis:
        """The entry of an analysis module."""
        return cls(module.KEY, module.LABEL, module.run, module.columns)


REGISTRY: tuple[Analysis, ...] = tuple(
    Analysis.of(m)
    for m in (
        endpoints,
        response,
        proportions,
        compare,
        logrank,
        cox,
        cutpoints,
        table1,
        center_effects,
    )
)

__all__ = ["REGISTRY", "Analysis"]
