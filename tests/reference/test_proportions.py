"""mmrwe.stats.proportions against R binom.test / prop.test (tests/reference/r/proportions.R)."""

from __future__ import annotations

import pytest

from mmrwe.stats.proportions import binom_test_p, proportion_ci

pytestmark = pytest.mark.reference

RTOL = 1e-9  # R writes 15 significant digits; qbeta (R) vs Boost's inverse beta agree far better


def _close(ours: float | None, theirs: float | None) -> None:
    assert ours is not None
    assert theirs is not None
    assert ours == pytest.approx(theirs, rel=RTOL, abs=1e-14)


@pytest.mark.parametrize(
    ("method", "key"),
    [("clopper-pearson", "cp"), ("wilson", "wilson"), ("wilson-cc", "wilsoncc")],
)
def test_intervals_match_r(method: str, key: str, expected) -> None:
    for case in expected("proportions")["intervals"]:
        ci = proportion_ci(
            case["successes"], case["n"], method=method, conf_level=case["conf_level"]
        )  # type: ignore[arg-type]
        _close(ci.estimate, case["estimate"])
        _close(ci.lower, case[f"{key}_lower"])
        _close(ci.upper, case[f"{key}_upper"])


def test_binom_test_p_matches_r(expected) -> None:
    for case in expected("proportions")["binom_test"]:
        p = binom_test_p(case["successes"], case["n"], case["p0"])
        assert p == pytest.approx(case["p"], rel=RTOL, abs=1e-15), case


def test_contract_example_29_of_51(expected) -> None:
    case = next(
        c
        for c in expected("proportions")["intervals"]
        if (c["successes"], c["n"], c["conf_level"]) == (29, 51, 0.95)
    )
    d = proportion_ci(29, 51).to_dict()
    assert d["lower"] == pytest.approx(case["cp_lower"], rel=RTOL)
    assert d["upper"] == pytest.approx(case["cp_upper"], rel=RTOL)
    assert round(d["lower"], 4) == 0.4225
    assert round(d["upper"], 4) == 0.7065
