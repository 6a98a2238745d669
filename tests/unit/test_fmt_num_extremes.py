"""Display rounding of numbers a diverging model can produce (found by the random-spec test)."""

from __future__ import annotations

import math

from mmrwe.tables.format import fmt_num


def test_a_huge_estimate_prints_in_scientific_notation() -> None:
    # Decimal.quantize raised InvalidOperation on 1e300 and the reports were never written
    assert fmt_num(3.2e300, 2) == "3.20e+300"
    assert fmt_num(-1.5e20, 1) == "-1.5e+20"


def test_non_finite_numbers_print_as_not_available() -> None:
    assert fmt_num(math.inf, 2, na="NA") == "NA"
    assert fmt_num(math.nan, 2, na="NA") == "NA"


def test_ordinary_numbers_are_unchanged() -> None:
    assert fmt_num(2.675, 2) == "2.68" and fmt_num(-0.04, 1) == "0.0"
    assert fmt_num(123456789012345.0, 1) == "123456789012345.0"
