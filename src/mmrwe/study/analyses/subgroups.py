"""Subgroup analyses per ``[[subgroup]]``: a binary effect's hazard ratio within subgroups.

One entry per spec entry (the renderers draw one forest plot per entry): the effect's
hazard ratio in all patients (``overall``), in each level of each ``by`` column
(``levels[]``, each naming its ``by``) and one interaction test per ``by``
(``interaction[]``), all from :func:`mmrwe.stats.cox_terms.subgroup_hrs` (R: ``coxph`` on
each subset; ``anova(coxph(~ effect + by), coxph(~ effect * by))``). A ``by`` column that
cannot be analysed (one level, too many levels) gets its interaction entry marked not
estimable with the reason; the others go on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mmrwe.core.errors import EstimationError, SpecError
from mmrwe.spec.model import StudySpec, SubgroupSpec
from mmrwe.study.analyses.common import NOT_ESTIMABLE, OK, entries
from mmrwe.study.context import AnalysisContext

KEY = "subgroups"
IS_LIST = True  # one entry per spec entry, each in its own failure boundary
LABEL = "Subgroup analyses"

#: A ``by`` column with more levels than this is refused: one Cox model per distinct value
#: of a continuous column (age in years) is not a subgroup analysis.
MAX_LEVELS = 20
#: Confidence level of the hazard ratios (as the Cox models and the report's "95% CI").
CONF_LEVEL = 0.95
TIES = "efron"  # R coxph's default, as the [[cox]] default


def columns(spec: StudySpec) -> set[str]:
    """Row-level columns read: the effect, the subgroup columns, the endpoint."""
    out: set[str] = set()
    for sg in spec.subgroups:
        out |= {sg.effect, *sg.by, f"{sg.endpoint}_time_days", f"{sg.endpoint}_event"}
    return out


def run(ctx: AnalysisContext, done: dict[str, Any]) -> list[dict[str, Any]]:
    """results.json ``subgroups``: one entry per ``[[subgroup]]``, each in its own boundary."""
    return entries(ctx, "subgroup", ctx.spec.subgroups, subgroup_entry, _identity)


def _identity(sg: SubgroupSpec) -> dict[str, Any]:
    return {"endpoint": sg.endpoint, "effect": sg.effect, "by": list(sg.by)}


def _effect_levels(ctx: AnalysisContext, sg: SubgroupSpec, eff: pd.Series) -> tuple[str, str]:
    levels = ctx.levels(sg.effect, eff.dropna().unique())
    if len(levels) != 2:
        raise EstimationError(
            f"the effect {sg.effect!r} has {len(levels)} level(s) among the analysed patients "
            f"({', '.join(levels) or 'none'}); a subgroup analysis needs exactly two",
            fix="use a binary column as effect, e.g. one made by [[derive]]",
        )
    ref = sg.reference if sg.reference is not None else levels[0]
    if ref not in levels:
        raise SpecError(
            f"reference {ref!r} of the effect {sg.effect!r} is not one of its levels "
            f"({', '.join(levels)})",
            fix=f"use one of: {', '.join(levels)}",
        )
    return ref, next(lv for lv in levels if lv != ref)


def subgroup_entry(ctx: AnalysisContext, sg: SubgroupSpec) -> dict[str, Any]:
    """The results entry of one ``[[subgroup]]``: overall HR, HR per level, interactions."""
    from mmrwe.stats.cox_terms import subgroup_hrs

    # only the endpoint's population (DoR: the responders; everyone for the others)
    pop = ctx.population(sg.endpoint)
    t, e = ctx.survival(sg.endpoint)
    t, e = t[pop], e[pop]
    eff_labels = ctx.labels(sg.effect)[pop].reset_index(drop=True)
    eff = eff_labels.to_numpy(dtype=object)
    eff_missing = eff_labels.isna().to_numpy()
    ref, cmp_ = _effect_levels(ctx, sg, eff_labels)
    n_kept = int((~eff_missing).sum())
    if not e[~eff_missing].any():
        raise EstimationError(
            f"no {sg.endpoint} events among the {n_kept} patients with {sg.effect} recorded"
        )
    common: dict[str, Any] = {
        "effect_name": sg.effect,
        "effect_levels": (ref, cmp_),
        "ties": TIES,
        "conf_level": CONF_LEVEL,
    }
    # the effect in all patients: the same model with a single subgroup
    everyone = np.full(eff.size, "all", dtype=object)
    overall = subgroup_hrs(t, e, eff, everyone, by_name="all", **common)
    o = overall.levels[0].to_dict(overall.effect_levels)
    for k in ("by", "level"):
        o.pop(k)
    entry: dict[str, Any] = {
        "endpoint": sg.endpoint,
        "effect": sg.effect,
        "effect_levels": [ref, cmp_],
        "by": list(sg.by),
        "ties": TIES,
        "conf_level": CONF_LEVEL,
        "n": n_kept,
        "n_excluded_missing": int(eff_missing.sum()),
        **({"n_outside_population": int((~pop).sum())} if not pop.all() else {}),
        "overall": o,
        "levels": [],
        "interaction": [],
    }
    warnings: list[str] = list(overall.warnings)
    for by in sg.by:
        by_labels = ctx.labels(by)[pop].reset_index(drop=True)
        lab = by_labels.to_numpy(dtype=object)
        levels = ctx.levels(by, by_labels[~eff_missing].dropna().unique())
        reason = None
        if len(levels) > MAX_LEVELS:
            reason = (
                f"{by} has {len(levels)} distinct values among the analysed patients (at most "
                f"{MAX_LEVELS} subgroups): group it first, e.g. with [[derive]]"
            )
        elif len(levels) < 2:
            reason = f"{by} has {len(levels)} level(s) among the patients with {sg.effect} recorded"
        if reason is not None:
            entry["interaction"].append(
                {"by": by, "test": None, "chisq": None, "df": None, "p": None,
                 "status": NOT_ESTIMABLE, "reason": reason}
            )  # fmt: skip
            continue
        # levels of rows whose effect is missing are named too (subgroup_hrs drops the rows)
        all_levels = ctx.levels(by, by_labels.dropna().unique())
        res = subgroup_hrs(t, e, eff, lab, by_name=by, by_levels=all_levels, **common)
        d = res.to_dict()
        entry["levels"].extend(d["levels"])
        inter = d["interaction"]
        inter["n_excluded_missing"] = d["n_excluded_missing"]
        entry["interaction"].append(inter)
        warnings.extend(res.warnings)
    entry["warnings"] = list(dict.fromkeys(warnings))
    for w in entry["warnings"]:
        ctx.warnings.append(f"subgroups of {sg.effect} on {sg.endpoint}: {w}")
    if not any(x["status"] == OK for x in entry["interaction"]) and not any(
        lv["status"] == OK for lv in entry["levels"]
    ):
        entry["status"] = NOT_ESTIMABLE
        entry["reason"] = (
            "; ".join(f"{x['by']}: {x['reason']}" for x in entry["interaction"] if x.get("reason"))
            or "no subgroup hazard ratio is estimable"
        )
    return entry
