"""Fine-Gray subdistribution hazards per ``[[finegray]]`` (R ``cmprsk::crr``), with the
cause-specific Cox model of the same terms (R ``coxph`` with the competing event censored).

Events as in ``[[cuminc]]``: the PFS ended with a progression, or with a death without a
progression before it; a censored PFS is censored. Patients missing a term (or the censoring
group) are left out of both models, as R's ``na.omit``.

The fit needs the rows in memory (time, cause, covariates; about 8 bytes per number) and
costs a few passes over them per Newton step; above :data:`FINEGRAY_MAX_ROWS` patients
(``MMRWE_FINEGRAY_MAX_ROWS``) the entry is not estimable and says why.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from mmrwe.core.errors import EstimationError, MmrweError
from mmrwe.spec.model import FinegraySpec, StudySpec
from mmrwe.study.analyses.common import design_matrix, entries
from mmrwe.study.analyses.cuminc import DEFINITION
from mmrwe.study.context import AnalysisContext

KEY = "finegray"
IS_LIST = True  # one entry per spec entry, each in its own failure boundary
LABEL = "Fine-Gray models"

#: Largest cohort fitted (``MMRWE_FINEGRAY_MAX_ROWS``): see docs/architecture.md.
FINEGRAY_MAX_ROWS = int(os.environ.get("MMRWE_FINEGRAY_MAX_ROWS", "2000000"))
_CODE = {"censored": 0, "event": 1, "competing": 2}


def columns(spec: StudySpec) -> set[str]:
    """Row-level columns read: terms, censoring groups, the PFS time and how it ended."""
    out: set[str] = set()
    for fg in spec.finegray:
        out |= set(fg.terms) | ({fg.cengroup} if fg.cengroup else set())
        out |= {"PFS_time_days", "PFS_event", "PFS_end_source"}
    return out


def run(ctx: AnalysisContext, done: dict[str, Any]) -> list[dict[str, Any]]:
    """results.json ``finegray``: one entry per ``[[finegray]]``."""
    return entries(ctx, "finegray", ctx.spec.finegray, finegray_one, _identity)


def _identity(fg: FinegraySpec) -> dict[str, Any]:
    return {"event": fg.event, "competing": fg.competing, "terms": list(fg.terms)}


def finegray_one(ctx: AnalysisContext, fg: FinegraySpec) -> dict[str, Any]:
    """One ``[[finegray]]``: crr's coefficients and the cause-specific Cox hazard ratios."""
    from mmrwe.stats.finegray import cause_specific_cox, finegray

    if ctx.n > FINEGRAY_MAX_ROWS:
        raise EstimationError(
            f"{ctx.n} patients: the Fine-Gray fit holds every row in memory and is run up to "
            f"{FINEGRAY_MAX_ROWS} patients",
            fix="set MMRWE_FINEGRAY_MAX_ROWS above the cohort size if the machine has the "
            "memory (about 8 bytes per patient and covariate, several copies), or fit a "
            "sample",
        )
    t, _ = ctx.survival("PFS")
    source = ctx.column("PFS_end_source")
    cause = np.where(
        source == fg.event,
        _CODE["event"],
        np.where(source == fg.competing, _CODE["competing"], _CODE["censored"]),
    )
    extra = [fg.cengroup] if fg.cengroup else []
    X, names, keep, info = design_matrix(ctx, fg.terms, dict(fg.reference), extra)
    n = int(keep.sum())
    tk, ck = t[keep], cause[keep]
    _check_estimable(fg, n, ck, X, names, info)
    cengroup = ctx.labels(fg.cengroup).to_numpy()[keep] if fg.cengroup else None
    entry: dict[str, Any] = {
        "event": fg.event,
        "competing": fg.competing,
        "terms": list(fg.terms),
        "term_info": info,
        "cengroup": fg.cengroup,
        "n_excluded_missing": int((~keep).sum()),
        "definition": {
            "endpoint": "PFS",
            "event": DEFINITION[fg.event],
            "competing": DEFINITION[fg.competing],
            "censored": "PFS censored at the last follow-up",
        },
        "conf_level": fg.conf_level,
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = finegray(
            tk, ck, X, names=names, event=1, censored=0, cengroup=cengroup,
            conf_level=fg.conf_level,
        )  # fmt: skip
    entry.update(fit.to_dict(event=fg.event, competing=fg.competing))
    seen = [str(w.message) for w in caught]
    entry["warnings"] = seen + [w for w in fit.warnings if w not in seen]
    if fit.competing_events == 0:
        entry["warnings"].append(
            f"no PFS ended with {DEFINITION[fg.competing]}: the Fine-Gray model is the Cox "
            "model of the event (Breslow ties) with a robust variance"
        )
    if fg.cause_specific:
        entry.update(_cause_specific(fg, tk, ck, X, names, cause_specific_cox))
    else:
        entry.update(
            cause_specific=None, cause_specific_reason="not requested (cause_specific = false)"
        )
    for w in entry["warnings"]:
        ctx.warnings.append(f"finegray {fg.event} ~ {' + '.join(fg.terms)}: {w}")
    return entry


def _cause_specific(
    fg: FinegraySpec, t: Any, cause: Any, X: Any, names: list[str], fit_fn: Any
) -> dict[str, Any]:
    """The cause-specific Cox model beside crr: hazard ratios of the same terms."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cs = fit_fn(t, cause, X, 1, names=names, censored=0, ties="efron",
                        conf_level=fg.conf_level)  # fmt: skip
    except MmrweError as exc:
        return {"cause_specific": None, "cause_specific_reason": exc.what}
    d = cs.to_dict()
    coefs = {
        name: {k: c.get(k) for k in ("coef", "se", "hr", "lower", "upper", "z", "p")} if c else None
        for name, c in (d.get("coefficients") or {}).items()
    }
    seen = [str(w.message) for w in caught]
    return {
        "cause_specific": coefs,
        "cause_specific_model": {
            "n": d.get("n"),
            "events": d.get("events"),
            "ties": "efron",
            "tests": d.get("tests"),
            "method": f"Cox model of the time to {fg.event}, {fg.competing} censored "
            "(R coxph, Efron ties, Wald CI and p)",
            "warnings": seen + [w for w in getattr(cs, "warnings", ()) if w not in seen],
        },
    }


def _check_estimable(
    fg: FinegraySpec, n: int, cause: Any, X: Any, names: list[str], info: dict[str, Any]
) -> None:
    """A model the data cannot support is "not estimable", with the reason in words."""
    if n == 0:
        raise EstimationError(
            f"no patient has every term of the model ({', '.join(fg.terms)}) recorded",
            fix="check the terms for columns that are empty or missing for most patients",
        )
    is_event = cause == _CODE["event"]
    if not is_event.any():
        raise EstimationError(
            f"no PFS ended with {DEFINITION[fg.event]} among the {n} patients analysed",
            fix=f'check progression_date and death_date, or choose event = "{fg.competing}"',
        )
    for term, ti in info.items():
        levels = ti.get("levels") or []
        if ti.get("type") == "categorical" and len(levels) < 2:
            raise EstimationError(
                f"{term} has one level ({', '.join(levels) or 'none'}) among the analysed "
                "patients: it cannot be compared",
                fix=f"remove {term} from terms, or check its values",
            )
    # a level without any event of interest (or holding all of them) makes the
    # pseudo-likelihood monotone: crr's coefficients run off to infinity
    total = int(is_event.sum())
    for term, ti in info.items():
        if ti.get("type") != "categorical":
            continue
        cols = [j for j, name in enumerate(names) if "=" in name and name.split("=", 1)[0] == term]
        dummies = X[:, cols] == 1
        events: dict[str, int] = {}
        for level in ti.get("levels") or []:
            if level == ti.get("reference"):
                in_level = ~dummies.any(axis=1)
            else:
                in_level = dummies[:, cols.index(names.index(f"{term}={level}"))]
            events[level] = int(is_event[in_level].sum())
        none = [lv for lv, k in events.items() if k == 0]
        every = [lv for lv, k in events.items() if k == total]
        if none or every:
            where = (
                f"no patient with {term} = {none[0]}"
                if none
                else (f"only patients with {term} = {every[0]}")
            )
            raise EstimationError(
                f"{where} had the event ({fg.event}): the subdistribution hazard ratios of "
                f"{term} are infinite (monotone likelihood)",
                fix=f"merge the levels of {term}, or remove it from terms",
            )
