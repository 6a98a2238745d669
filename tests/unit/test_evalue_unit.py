"""E-values: hand-derived values, the CI rules, bad input, and properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmrwe.core.errors import InputError
from mmrwe.stats.evalue import evalue, to_risk_ratio


def test_risk_ratio_hand_derived() -> None:
    # RR 2: 2 + sqrt(2 * 1) = 3.41421; lower 1.5: 1.5 + sqrt(1.5 * 0.5) = 2.36603
    e = evalue(2.0, 1.5, 2.7)
    assert e.point == pytest.approx(2 + math.sqrt(2))
    assert e.ci == pytest.approx(1.5 + math.sqrt(0.75))
    assert e.ci_crosses_null is False


def test_protective_risk_ratio_uses_inverse_and_upper_limit() -> None:
    # RR 0.5 -> 2: 2 + sqrt(2); upper 0.8 -> 1.25: 1.25 + sqrt(1.25 * 0.25) = 1.80902
    e = evalue(0.5, 0.3, 0.8)
    assert e.point == pytest.approx(2 + math.sqrt(2))
    assert e.ci == pytest.approx(1.25 + math.sqrt(0.3125))


def test_interval_crossing_null_gives_one() -> None:
    assert evalue(1.4, 0.9, 2.1).ci == 1.0
    assert evalue(0.8, 0.6, 1.1).ci == 1.0


def test_common_odds_ratio_is_square_rooted() -> None:
    # OR 4 common -> RR 2
    e = evalue(4.0, measure="OR", rare=False)
    assert e.rr_estimate == 2.0
    assert e.point == pytest.approx(2 + math.sqrt(2))
    assert evalue(4.0, measure="OR", rare=True).rr_estimate == 4.0


def test_common_hazard_ratio_conversion() -> None:
    # HR 4: (1 - 0.5^2) / (1 - 0.5^0.5) = 0.75 / 0.29289 = 2.56066
    rr = to_risk_ratio(4.0, "HR", rare=False)
    assert rr == pytest.approx(0.75 / (1 - 0.5**0.5))
    assert to_risk_ratio(4.0, "HR", rare=True) == 4.0
    assert to_risk_ratio(1.0, "HR", rare=False) == 1.0


def test_point_only_has_no_ci_evalue() -> None:
    e = evalue(2.0)
    assert e.ci is None
    assert e.to_dict()["ci"] is None


def test_estimate_at_null() -> None:
    e = evalue(1.0, 0.8, 1.3)
    assert e.point == 1.0 and e.ci == 1.0


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((0.0,), {}, "ratio > 0"),
        ((-1.2,), {}, "ratio > 0"),
        ((2.0, 2.5, 3.0), {}, "outside its confidence interval"),
        ((2.0, 3.0, 1.0), {}, "above the upper limit"),
        ((2.0,), {"measure": "HR"}, "rare"),
        ((2.0,), {"measure": "RD"}, "unknown effect measure"),
    ],
)
def test_bad_input_is_a_clear_error(args, kwargs, match) -> None:
    with pytest.raises(InputError, match=match):
        evalue(*args, **kwargs)


ratios = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False)


@given(x=ratios)
def test_evalue_at_least_one_and_symmetric_in_inverse(x: float) -> None:
    e = evalue(x)
    assert e.point >= 1.0
    assert evalue(1.0 / x).point == pytest.approx(e.point, rel=1e-12)


@given(a=ratios, b=ratios)
def test_evalue_increases_with_distance_from_null(a: float, b: float) -> None:
    lo, hi = sorted((max(a, 1.0), max(b, 1.0)))
    assert evalue(lo).point <= evalue(hi).point * (1 + 1e-12)


@given(est=ratios, f1=st.floats(1.0, 5.0), f2=st.floats(1.0, 5.0))
def test_ci_evalue_never_exceeds_point(est: float, f1: float, f2: float) -> None:
    e = evalue(est, est / f1, est * f2)
    assert e.ci is not None and 1.0 <= e.ci <= e.point * (1 + 1e-12)
