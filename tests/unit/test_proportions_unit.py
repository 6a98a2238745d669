"""Hand-derived checks of mmrwe.stats.proportions."""

from __future__ import annotations

import math

import pytest

from mmrwe.core.errors import InputError
from mmrwe.stats.proportions import binom_test_p, proportion_ci


def test_clopper_pearson_zero_successes_closed_form() -> None:
    # x = 0: lower = 0 and upper solves (1 - p)^n = alpha / 2, i.e. 1 - 0.025^(1/n).
    ci = proportion_ci(0, 10)
    assert ci.lower == 0.0
    assert ci.upper == pytest.approx(1 - 0.025**0.1, rel=1e-12)  # 0.30850


def test_clopper_pearson_all_successes_closed_form() -> None:
    # x = n: upper = 1 and lower solves p^n = alpha / 2, i.e. 0.025^(1/n).
    ci = proportion_ci(10, 10)
    assert ci.upper == 1.0
    assert ci.lower == pytest.approx(0.025**0.1, rel=1e-12)  # 0.69150


def test_n_equals_one() -> None:
    # n = 1, x = 1: lower = 0.025, upper = 1 (binom.test(1, 1)$conf.int).
    ci = proportion_ci(1, 1)
    assert (ci.estimate, ci.lower, ci.upper) == (1.0, pytest.approx(0.025), 1.0)


def test_wilson_closed_form() -> None:
    # x = 5, n = 10, z = 1.959964: centre (p + z^2/2n) / (1 + z^2/n) = 0.5,
    # half-width z * sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n) = 0.2634 -> (0.2366, 0.7634).
    z = 1.959963984540054
    ci = proportion_ci(5, 10, method="wilson")
    half = z * math.sqrt(0.25 / 10 + z**2 / 400) / (1 + z**2 / 10)
    assert ci.lower == pytest.approx(0.5 - half, rel=1e-12)
    assert ci.upper == pytest.approx(0.5 + half, rel=1e-12)


def test_wilson_cc_vanishes_at_half_as_in_r() -> None:
    # prop.test's YATES = min(0.5, |x - n/2|) = 0 for x = 5, n = 10: same as uncorrected.
    a = proportion_ci(5, 10, method="wilson-cc")
    b = proportion_ci(5, 10, method="wilson")
    assert (a.lower, a.upper) == (b.lower, b.upper)


def test_n_zero_gives_none() -> None:
    ci = proportion_ci(0, 0)
    assert ci.to_dict() == {
        "successes": 0,
        "n": 0,
        "estimate": None,
        "lower": None,
        "upper": None,
        "method": "clopper-pearson",
        "conf_level": 0.95,
    }


def test_to_dict_keys() -> None:
    d = proportion_ci(29, 51).to_dict()
    assert set(d) == {"successes", "n", "estimate", "lower", "upper", "method", "conf_level"}


@pytest.mark.parametrize(("x", "n"), [(-1, 5), (6, 5), (1.5, 5), (1, -2)])
def test_bad_counts_raise(x: float, n: int) -> None:
    with pytest.raises(InputError):
        proportion_ci(x, n)  # type: ignore[arg-type]


def test_bad_method_and_level() -> None:
    with pytest.raises(InputError):
        proportion_ci(1, 5, method="wald")  # type: ignore[arg-type]
    with pytest.raises(InputError):
        proportion_ci(1, 5, conf_level=1.0)


def test_binom_test_symmetric_case() -> None:
    # x = 2, n = 10, p0 = 0.5: P(X <= 2) + P(X >= 8) = 2 * (1 + 10 + 45) / 1024 = 0.109375.
    assert binom_test_p(2, 10) == pytest.approx(112 / 1024, rel=1e-12)


def test_binom_test_at_mode_is_one() -> None:
    # binom.test returns exactly 1 when x equals n * p0.
    assert binom_test_p(5, 10) == 1.0
    assert binom_test_p(3, 12, 0.25) == 1.0


def test_binom_test_degenerate_null() -> None:
    assert binom_test_p(0, 5, 0.0) == 1.0
    assert binom_test_p(1, 5, 0.0) == 0.0
    assert binom_test_p(5, 5, 1.0) == 1.0
