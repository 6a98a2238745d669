"""Display formatting: rounding half away from zero (as SAS and cards::round5), p-values."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def fmt_num(x: float | int | None, digits: int = 1, *, na: str = "NR") -> str:
    """Round half away from zero for display only (Python's round() is half-even).

    Examples
    --------
    >>> fmt_num(2.25, 1), fmt_num(-2.25, 1), fmt_num(None)
    ('2.3', '-2.3', 'NR')
    """
    if x is None:
        return na
    q = Decimal(1).scaleb(-digits)
    return str(Decimal(repr(float(x))).quantize(q, rounding=ROUND_HALF_UP))


def fmt_pct(x: float | None, digits: int = 1, *, na: str = "NR") -> str:
    """A proportion as a percentage string."""
    return na if x is None else f"{fmt_num(100 * x, digits)}%"


def fmt_p(p: float | None) -> str:
    """p-values: 3 significant places, '<0.001' below 0.001.

    Examples
    --------
    >>> fmt_p(0.0004), fmt_p(0.04567), fmt_p(0.5)
    ('<0.001', '0.046', '0.500')
    """
    if p is None:
        return "NA"
    return "<0.001" if p < 0.001 else fmt_num(p, 3)


def fmt_ci(est: float | None, lo: float | None, hi: float | None, digits: int = 1) -> str:
    """'est (lo-hi)', with NR for limits not reached."""
    return f"{fmt_num(est, digits)} ({fmt_num(lo, digits)}\u2013{fmt_num(hi, digits)})"
