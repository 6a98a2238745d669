"""The center-effects interaction test against R (tests/reference/r/center_interaction.R).

anova(coxph(~ age + sex + hgb + strata(center)), coxph(~ (age + sex + hgb) * center-free
coefficients + strata(center))): both ways mmrwe computes it, the joint fit (small studies)
and the sum of per-center fits (large studies), must give R's chi-square and df.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tests.refdata import load_data, load_expected

from mmrwe.stats.cox import cox_fit
from mmrwe.study.analyses import center_effects as ce

pytestmark = pytest.mark.reference

RTOL = 1e-6
REF = load_expected("center_interaction")
NAMES = ["age", "sex", "hgb"]


def _inputs() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    d = load_data("center_interaction")
    return (
        d["time"].to_numpy(float),
        d["event"].to_numpy(bool),
        d[NAMES].to_numpy(float),
        d["center"].astype(str).to_numpy(object),
    )


def _check(got: dict[str, Any], ref: dict[str, Any]) -> None:
    assert got["df"] == ref["df"]
    assert got["chisq"] == pytest.approx(ref["chisq"], rel=RTOL)
    assert got["p"] == pytest.approx(ref["p"], rel=RTOL)
    assert got["converged"] is True


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_joint_fit_matches_r(ties: str) -> None:
    t, e, X, center = _inputs()
    strat = cox_fit(t, e, X, names=NAMES, ties=ties, strata=center)
    got = ce._interaction_joint(t, e, X, NAMES, center, ties, strat, [])
    assert got["computation"] == "joint fit"
    _check(got, REF[ties])


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_sum_of_center_fits_matches_r(ties: str) -> None:
    t, e, X, center = _inputs()
    strat = cox_fit(t, e, X, names=NAMES, ties=ties, strata=center)
    fits = ce._center_fits(t, e, X, NAMES, center, ties)
    got = ce._interaction(strat, fits, [])
    assert got["computation"] == "sum of per-center fits"
    _check(got, REF[ties])
    joint = ce._interaction_joint(t, e, X, NAMES, center, ties, strat, [])
    assert got["chisq"] == pytest.approx(joint["chisq"], rel=1e-9)


def test_a_center_without_events_adds_nothing() -> None:
    t, e, X, center = _inputs()
    e = e.copy()
    e[center == "C03"] = False
    strat = cox_fit(t, e, X, names=NAMES, strata=center)
    fits = ce._center_fits(t, e, X, NAMES, center, "efron")
    assert fits["C03"][1:] == (0, "fewer than 2 events")
    got = ce._interaction(strat, fits, [])
    joint = ce._interaction_joint(t, e, X, NAMES, center, "efron", strat, [])
    # the joint fit's C03 columns carry no information (R: NA), the per-center sum skips C03
    assert got["df"] == joint["df"] == 12
    assert got["chisq"] == pytest.approx(joint["chisq"], rel=1e-9)
