"""Confidence intervals and exact tests for a single binomial proportion.

R equivalents: ``binom.test`` (Clopper-Pearson interval, exact two-sided p) and
``prop.test`` for one proportion (Wilson score interval, with or without continuity
correction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats as _st

from mmrwe.core.errors import InputError
from mmrwe.stats._common import none_if_nan, z_value

ProportionMethod = Literal["clopper-pearson", "wilson", "wilson-cc"]
_METHODS: tuple[str, ...] = ("clopper-pearson", "wilson", "wilson-cc")

# R's binom.test and fisher.test count a table as "as extreme" when its probability is
# <= d * (1 + 1e-7): the fuzz absorbs rounding in the densities of exactly tied outcomes.
R_RELATIVE_FUZZ = 1e-7


@dataclass(frozen=True, slots=True)
class ProportionCI:
    """A binomial proportion with its confidence interval.

    Attributes
    ----------
    successes, n : int
        Counts; ``n = 0`` gives ``estimate = lower = upper = None``.
    estimate : float or None
        ``successes / n``.
    lower, upper : float or None
        Confidence limits on the proportion scale, within [0, 1].
    method : {"clopper-pearson", "wilson", "wilson-cc"}
        Interval method (R ``binom.test``, ``prop.test(correct=FALSE)``,
        ``prop.test(correct=TRUE)``).
    conf_level : float
        Two-sided confidence level.
    """

    successes: int
    n: int
    estimate: float | None
    lower: float | None
    upper: float | None
    method: ProportionMethod
    conf_level: float

    def to_dict(self) -> dict[str, int | float | str | None]:
        """Return the results.json ``proportions`` item (without its ``name``)."""
        return {
            "successes": self.successes,
            "n": self.n,
            "estimate": none_if_nan(self.estimate),
            "lower": none_if_nan(self.lower),
            "upper": none_if_nan(self.upper),
            "method": self.method,
            "conf_level": self.conf_level,
        }


def _check_counts(successes: int, n: int) -> tuple[int, int]:
    """Validate a binomial count pair and return it as Python ints."""
    try:
        x_f, n_f = float(successes), float(n)
    except (TypeError, ValueError) as exc:
        raise InputError(f"successes and n must be integers, got {successes!r} and {n!r}") from exc
    if not (x_f.is_integer() and n_f.is_integer()):
        raise InputError(f"successes and n must be whole numbers, got {successes!r} and {n!r}")
    x_i, n_i = int(x_f), int(n_f)
    if n_i < 0 or x_i < 0 or x_i > n_i:
        raise InputError(f"need 0 <= successes <= n, got successes={x_i}, n={n_i}")
    return x_i, n_i


def _check_level(conf_level: float) -> float:
    level = float(conf_level)
    if not (0.0 < level < 1.0):
        raise InputError(f"conf_level must be strictly between 0 and 1, got {conf_level!r}")
    return level


def _clopper_pearson(x: int, n: int, conf_level: float) -> tuple[float, float]:
    # binom.test: p.L = qbeta(alpha, x, n - x + 1) (0 when x = 0),
    #             p.U = qbeta(1 - alpha, x + 1, n - x) (1 when x = n), alpha = (1 - level) / 2.
    alpha = (1.0 - conf_level) / 2.0
    lower = 0.0 if x == 0 else float(_st.beta.ppf(alpha, x, n - x + 1))
    upper = 1.0 if x == n else float(_st.beta.ppf(1.0 - alpha, x + 1, n - x))
    return lower, upper


def _wilson(x: int, n: int, conf_level: float, correct: bool) -> tuple[float, float]:
    # Transcribes prop.test for one proportion (k = 1, p = 0.5 default null value). Note
    # R's YATES <- min(0.5, abs(x - n * p)): with x == n / 2 the correction vanishes.
    z = z_value(conf_level)
    yates = min(0.5, abs(x - n * 0.5)) if correct else 0.0
    est = x / n
    z22n = z * z / (2.0 * n)
    p_c = est + yates / n
    if p_c >= 1.0:
        p_u = 1.0
    else:
        p_u = (p_c + z22n + z * math.sqrt(p_c * (1.0 - p_c) / n + z22n / (2.0 * n))) / (
            1.0 + 2.0 * z22n
        )
    p_c = est - yates / n
    if p_c <= 0.0:
        p_l = 0.0
    else:
        p_l = (p_c + z22n - z * math.sqrt(p_c * (1.0 - p_c) / n + z22n / (2.0 * n))) / (
            1.0 + 2.0 * z22n
        )
    return max(p_l, 0.0), min(p_u, 1.0)


def proportion_ci(
    successes: int,
    n: int,
    *,
    method: ProportionMethod = "clopper-pearson",
    conf_level: float = 0.95,
) -> ProportionCI:
    """Confidence interval for a binomial proportion.

    Parameters
    ----------
    successes : int
        Number of successes, ``0 <= successes <= n``.
    n : int
        Number of trials; ``n = 0`` returns ``None`` for the estimate and limits.
    method : {"clopper-pearson", "wilson", "wilson-cc"}
        ``"clopper-pearson"``: exact interval of R ``binom.test(x, n)$conf.int``
        (lower = 0 when x = 0, upper = 1 when x = n). ``"wilson"``: score interval of
        ``prop.test(x, n, correct = FALSE)``. ``"wilson-cc"``: ``prop.test(x, n,
        correct = TRUE)``, whose continuity correction is ``min(0.5, |x - n/2|)``.
    conf_level : float
        Two-sided confidence level.

    Returns
    -------
    ProportionCI

    Examples
    --------
    >>> ci = proportion_ci(29, 51)
    >>> round(ci.estimate, 4), round(ci.lower, 4), round(ci.upper, 4)
    (0.5686, 0.4225, 0.7065)
    """
    if method not in _METHODS:
        raise InputError(f"unknown proportion CI method {method!r}", fix=f"use one of {_METHODS}")
    x, n_i = _check_counts(successes, n)
    level = _check_level(conf_level)
    if n_i == 0:
        return ProportionCI(x, n_i, None, None, None, method, level)
    if method == "clopper-pearson":
        lower, upper = _clopper_pearson(x, n_i, level)
    else:
        lower, upper = _wilson(x, n_i, level, correct=(method == "wilson-cc"))
    return ProportionCI(x, n_i, x / n_i, lower, upper, method, level)


def binom_test_p(successes: int, n: int, p0: float = 0.5) -> float:
    """Exact two-sided binomial test p-value, as R ``binom.test(x, n, p = p0)$p.value``.

    R's two-sided rule: sum the probabilities of all outcomes whose probability is at most
    ``d * (1 + 1e-7)``, where ``d = dbinom(x, n, p0)``; the p-value is capped at 1.

    Parameters
    ----------
    successes, n : int
        Observed successes and trials (``n >= 1``).
    p0 : float
        Null proportion, in [0, 1].

    Returns
    -------
    float

    Examples
    --------
    >>> round(binom_test_p(2, 10), 6)
    0.109375
    """
    x, n_i = _check_counts(successes, n)
    if n_i == 0:
        raise InputError("binom_test_p needs n >= 1")
    p = float(p0)
    if not (0.0 <= p <= 1.0):
        raise InputError(f"p0 must be in [0, 1], got {p0!r}")
    if p == 0.0:
        return float(x == 0)
    if p == 1.0:
        return float(x == n_i)
    binom = _st.binom(n_i, p)
    rel_err = 1.0 + R_RELATIVE_FUZZ
    d = float(binom.pmf(x))
    m = n_i * p
    # Same branches as binom.test: count only outcomes in the opposite tail, never x twice.
    if x == m:
        pval = 1.0
    elif x < m:
        i = np.arange(math.ceil(m), n_i + 1)
        y = int(np.sum(binom.pmf(i) <= d * rel_err))
        pval = float(binom.cdf(x)) + float(binom.sf(n_i - y))
    else:
        i = np.arange(0, math.floor(m) + 1)
        y = int(np.sum(binom.pmf(i) <= d * rel_err))
        pval = float(binom.cdf(y - 1)) + float(binom.sf(x - 1))
    return min(1.0, pval)
