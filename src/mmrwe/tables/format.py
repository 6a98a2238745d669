"""Display formatting for every renderer: rounding, p-values, counts, labels.

Rounding happens here and only here, half away from zero (``decimal.ROUND_HALF_UP``, as SAS
and ``cards::round5``; Python's ``round()`` is half-even, so ``round(2.25, 1) == 2.2``).
results.json keeps full precision.

Every formatted number in a table or a sentence is produced by :func:`render_value` from a
value read at a path in results.json and a format code, so a test can re-read the value and
re-format it (see :class:`mmrwe.tables.model.Ref`).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

DASH = "\u2013"  # en dash, for ranges and intervals
NOT_AVAILABLE = "\u2014"  # em dash, for "not applicable / not estimable"


def fmt_num(x: float | int | None, digits: int = 1, *, na: str = "NR") -> str:
    """Round half away from zero for display only.

    Examples
    --------
    >>> fmt_num(2.25, 1), fmt_num(-2.25, 1), fmt_num(None)
    ('2.3', '-2.3', 'NR')
    """
    if x is None:
        return na
    v = float(x)
    if not math.isfinite(v):
        return na
    if abs(v) >= 1e15:
        # a diverging estimate (HR 1e300): fixed-point digits would exceed Decimal's
        # precision (InvalidOperation ended a run's reports); scientific notation instead
        return f"{v:.{max(digits, 1)}e}"
    q = Decimal(1).scaleb(-digits)
    # repr() is the shortest string that round-trips, so 2.675 rounds as written (2.68), not
    # as its binary value 2.67499999... would.
    out = str(Decimal(repr(v)).quantize(q, rounding=ROUND_HALF_UP))
    # -0.04 rounds to "-0.0": print "0.0", as R's format() does.
    return out[1:] if out.startswith("-") and set(out[1:]) <= set("0.") else out


def fmt_sig(x: float | int, sig: int = 4) -> str:
    """At most ``sig`` significant digits, half away from zero, trailing zeros dropped.

    Examples
    --------
    >>> fmt_sig(11.6), fmt_sig(118), fmt_sig(0.12345), fmt_sig(1234.5)
    ('11.6', '118', '0.1235', '1235')
    """
    d = Decimal(repr(float(x)))
    if d == 0:
        return "0"
    out = fmt_num(x, max(sig - 1 - d.adjusted(), 0))
    return out.rstrip("0").rstrip(".") if "." in out else out


def fmt_pct(x: float | None, digits: int = 1, *, na: str = NOT_AVAILABLE) -> str:
    """A proportion (0..1) as a percentage number without the % sign (``0.5686 -> '56.9'``)."""
    return na if x is None else fmt_num(100 * x, digits)


def fmt_p(p: float | None, *, na: str = NOT_AVAILABLE) -> str:
    """p-values: three decimals, ``<0.001`` below 0.001, ``>0.999`` above 0.999.

    Examples
    --------
    >>> fmt_p(0.0004), fmt_p(0.04567), fmt_p(0.5), fmt_p(1.0)
    ('<0.001', '0.046', '0.500', '>0.999')
    """
    if p is None:
        return na
    if p < 0.001:
        return "<0.001"
    if p > 0.999:
        # Lau94 can exceed 1 (reported raw in results.json); a display p never does.
        return ">0.999"
    return fmt_num(p, 3)


def fmt_count(n: int | float | None, k: int = 0, *, na: str = NOT_AVAILABLE) -> str:
    """A count, suppressed as ``<k`` when ``1 <= n < k`` (small-cell rule; ``k = 0`` is off)."""
    if n is None:
        return na
    v = round(float(n))
    return f"<{k}" if is_suppressed(v, k) else str(v)


def is_suppressed(n: int | float | None, k: int) -> bool:
    """True when the small-cell rule hides this count."""
    return n is not None and k > 0 and 1 <= float(n) < k


def fmt_level(level: Any) -> str:
    """A category level for display: ``>=11`` -> ``≥11``, ``<=3`` -> ``≤3``."""
    s = str(level)
    return s.replace(">=", "\u2265").replace("<=", "\u2264")


# Method and convention identifiers of results.json as a manuscript names them: proper nouns
# capitalised (Kaplan-Meier, Cox, Fisher, Clopper-Pearson), abbreviations spelled out.
METHOD_NAMES = {
    "efron": "Efron",
    "breslow": "Breslow",
    "exact": "exact",
    "km": "Kaplan-Meier",
    "rank": "rank",
    "identity": "identity",
    "clopper-pearson": "Clopper-Pearson",
    "wilson": "Wilson",
    "wilson-cc": "Wilson with continuity correction",
    "conditional MLE": "conditional maximum-likelihood",
    "profile likelihood": "profile-likelihood",
    "profile": "profile-likelihood",
    "Lau94": "Lau (1994) approximation",
    "Lau92": "Lau (1992) approximation",
    "condMC": "conditional Monte Carlo",
    "harrell bootstrap": "Harrell's bootstrap",
    "reverse Kaplan-Meier": "reverse Kaplan-Meier",
    "log-rank": "log-rank",
    "Fisher exact": "Fisher's exact test",
    "Pearson chi-square": "Pearson's chi-square test",
    # test ids of cox[].term_tests and subgroups[].interaction
    "lr": "likelihood-ratio test",
    "wald": "Wald test",
}


def method_name(value: Any) -> str:
    """A method identifier as prose names it (``"efron"`` -> ``"Efron"``); others unchanged.

    Examples
    --------
    >>> method_name("clopper-pearson"), method_name("km"), method_name("log-log")
    ('Clopper-Pearson', 'Kaplan-Meier', 'log-log')
    """
    s = str(value)
    return METHOD_NAMES.get(s, METHOD_NAMES.get(s.lower(), s))


_SINGULAR = {"years": "year", "months": "month", "days": "day", "weeks": "week", "count": "unit"}


def render_value(value: Any, fmt: str, k: int = 0) -> str:
    """Format one value from results.json by a format code.

    Codes: ``num:D`` (D decimals), ``num:D:NA`` (text for null), ``pct:D`` (proportion shown
    as percent), ``pctv:D`` (value already in percent), ``p`` (``p:bare`` without the
    leading ``<``/``>``), ``count`` (small-cell aware,
    ``k`` = threshold), ``int``, ``str``, ``level`` and ``label`` (``>=`` shown as ``≥``),
    ``method`` (an identifier as prose names it, :func:`method_name`), ``p:ne`` (null p as
    "not estimable"),
    ``unit1`` (a unit in the singular, for "per year"), ``name`` (underscores as spaces), ``g`` (4 significant digits, for
    observed data values such as cut-offs).
    """
    kind, _, rest = fmt.partition(":")
    digits_s, _, na = rest.partition(":")
    if kind == "num":
        return fmt_num(value, int(digits_s or 1), na=na or NOT_AVAILABLE)
    if kind == "pct":
        return fmt_pct(value, int(digits_s or 1), na=na or NOT_AVAILABLE)
    if kind == "pctv":
        return fmt_num(value, int(digits_s or 1), na=na or NOT_AVAILABLE)
    if kind == "p":
        # "p:bare": the comparator of "<0.001" is printed separately ("p < 0.001");
        # "p:ne": a null p in running text reads "not estimable"
        if digits_s == "ne":
            return "not estimable" if value is None else fmt_p(value)
        return fmt_p(value).lstrip("<>") if digits_s == "bare" else fmt_p(value)
    if kind == "method":
        return NOT_AVAILABLE if value is None else method_name(value)
    if kind == "count":
        return fmt_count(value, k)
    if kind == "int":
        return NOT_AVAILABLE if value is None else str(int(value))
    if kind == "str":
        return NOT_AVAILABLE if value is None else str(value)
    if kind == "label":
        return NOT_AVAILABLE if value is None else fmt_level(value)
    if kind == "unit1":
        # "per years" reads "per year"
        return NOT_AVAILABLE if value is None else _SINGULAR.get(str(value), str(value))
    if kind == "level":
        return fmt_level(value)
    if kind == "name":
        # spec names such as "VGPR_or_better" read better with spaces
        return NOT_AVAILABLE if value is None else str(value).replace("_", " ")
    if kind == "g":
        # observed data values (cut-offs): as recorded, up to 4 significant digits
        return NOT_AVAILABLE if value is None else fmt_sig(value, 4)
    raise ValueError(f"unknown format code {fmt!r}")


# Backwards-compatible helpers used by older templates -----------------------------------


def fmt_ci(est: float | None, lo: float | None, hi: float | None, digits: int = 1) -> str:
    """``'est (lo–hi)'``, with NR for limits not reached."""
    return f"{fmt_num(est, digits)} ({fmt_num(lo, digits)}{DASH}{fmt_num(hi, digits)})"
