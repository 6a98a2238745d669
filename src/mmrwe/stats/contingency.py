"""Exact and asymptotic tests for contingency tables.

R equivalents: ``fisher.test`` (2 x 2: conditional MLE odds ratio, its conditional CI and
R's two-sided p; r x c: the exact p of the network algorithm, here by exact enumeration)
and ``chisq.test`` (Pearson, Yates' continuity correction for 2 x 2 only).

Numerical notes
---------------
* ``fisher.test`` finds the conditional MLE and the CI limits with ``uniroot`` at its default
  tolerance ``.Machine$double.eps^0.25 = 2^-13``, so R's own numbers are off the exact roots
  by up to ~1e-4 (on the scale of the root-finding variable). :func:`fisher_exact`
  reproduces R's numbers by running the same Brent search (a transcription of R's C
  ``R_zeroin2``) on the same functions: with the default ``root_tol`` the results agree
  with R to ~1e-12 (see ``tests/reference/test_contingency.py``). Pass ``root_tol=0.0`` for
  the exact roots; they differ from R's by less than 1e-3 relative.
* For r x c tables R's FEXACT counts a table as "as extreme" when its log probability is
  at most the observed one plus ``3.45254e-7``; the same rule is used here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special as _sp
from scipy import stats as _st

from mmrwe.core.errors import EstimationError, InputError
from mmrwe.stats._common import none_if_nan, read_only
from mmrwe.stats.logistic import LogisticCoefficient, logistic_fit

Alternative = Literal["two.sided", "less", "greater"]

#: R's default ``uniroot`` tolerance, ``.Machine$double.eps^0.25`` (exactly 2^-13).
R_UNIROOT_TOL = 2.0**-13
_DBL_EPS = float(np.finfo(float).eps)
# fisher.test (2 x 2) and binom.test: "as extreme" means density <= d * (1 + 1e-7).
_R_REL_ERR_2X2 = 1.0 + 1e-7
# FEXACT (r x c): TOL, "the square root of the smallest relative spacing", added to the
# observed log path length.
_FEXACT_TOL = 3.45254e-7
# Exact enumeration limit: number of partial tables in one half of the meet-in-the-middle.
_MAX_HALF_TABLES = 8_000_000


# ---------------------------------------------------------------------------------------
# R's uniroot (Brent's zeroin, as in R's src/library/stats/src/zeroin.c)
# ---------------------------------------------------------------------------------------


def _zeroin2(
    f: Callable[[float], float],
    ax: float,
    bx: float,
    fa: float,
    fb: float,
    tol: float,
    maxit: int,
) -> float:
    """Brent's root finder, step for step as R's ``R_zeroin2`` (used by ``uniroot``).

    Reproducing the iteration (not only the root) is what makes the results equal to
    R's: R stops as soon as the bracket is within ``tol``, so its answer depends on the
    path taken.
    """
    a, b = ax, bx
    c, fc = a, fa
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    for _ in range(maxit + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2.0 * _DBL_EPS * abs(b) + tol / 2.0
        new_step = (c - b) / 2.0
        if abs(new_step) <= tol_act or fb == 0.0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0.0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2.0) and p < abs(prev_step * q / 2.0):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0.0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    raise EstimationError("root finding did not converge in the Fisher conditional MLE / CI")


def _uniroot(f: Callable[[float], float], lower: float, upper: float, tol: float) -> float:
    """``uniroot(f, c(lower, upper), tol = tol)$root`` (maxiter 1000, no interval extension)."""
    f_lower, f_upper = f(lower), f(upper)
    if f_lower * f_upper > 0:
        raise EstimationError("f() values at end points not of opposite sign")
    return _zeroin2(f, lower, upper, f_lower, f_upper, tol, 1000)


# ---------------------------------------------------------------------------------------
# Result types
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FisherResult:
    """Fisher's exact test.

    Attributes
    ----------
    p : float
        p-value (two-sided by R's rule unless ``alternative`` says otherwise).
    odds_ratio : float or None
        Conditional maximum-likelihood odds ratio (2 x 2 only): row 1 odds of column 1
        over row 2 odds; ``0.0`` or ``inf`` with a zero cell, as R. ``None`` for r x c.
    lower, upper : float or None
        Conditional (exact) confidence limits for the odds ratio; may be 0 or ``inf``.
    method : str
        ``"conditional MLE"`` (2 x 2) or ``"exact enumeration"`` (r x c, p only).
    conf_level : float
    alternative : {"two.sided", "less", "greater"}
    table : ndarray of int, read-only
        The table as given.
    root_tol : float
        Tolerance of the root finder (``R_UNIROOT_TOL`` reproduces R).
    note : str or None
        Explains infinite estimates / limits, which :meth:`to_dict` writes as ``null``.
    """

    p: float
    odds_ratio: float | None
    lower: float | None
    upper: float | None
    method: str
    conf_level: float
    alternative: Alternative
    table: NDArray[np.int64]
    root_tol: float = R_UNIROOT_TOL
    note: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", read_only(self.table, dtype=np.int64))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``p, odds_ratio, lower, upper, method, conf_level, note``.

        An infinite odds ratio or limit (R's ``Inf``) becomes ``None``; ``note`` says so.
        """
        return {
            "p": none_if_nan(self.p),
            "odds_ratio": none_if_nan(self.odds_ratio),
            "lower": none_if_nan(self.lower),
            "upper": none_if_nan(self.upper),
            "method": self.method,
            "conf_level": self.conf_level,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class ChiSquareResult:
    """Pearson's chi-square test of independence, as R ``chisq.test``.

    Attributes
    ----------
    statistic : float or None
        X-squared; ``None`` where R gives NaN (a zero row or column margin).
    df : int
        ``(r - 1) * (c - 1)``.
    p : float or None
    expected : ndarray of float, read-only
        Expected counts under independence.
    correct : bool
        Whether a continuity correction was requested (applied to 2 x 2 tables only).
    yates : float
        The correction used, R's ``min(0.5, abs(x - E))`` (0 when not applied).
    method : str
        R's method string ("Pearson's Chi-squared test" [with Yates' continuity correction]).
    warning : str or None
        ``"Chi-squared approximation may be incorrect"`` when an expected count is < 5.
    table : ndarray of int, read-only
    """

    statistic: float | None
    df: int
    p: float | None
    expected: NDArray[np.float64]
    correct: bool
    yates: float
    method: str
    warning: str | None
    table: NDArray[np.int64]

    def __post_init__(self) -> None:
        object.__setattr__(self, "expected", read_only(self.expected, dtype=np.float64))
        object.__setattr__(self, "table", read_only(self.table, dtype=np.int64))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``statistic, df, p, method, correct, expected, warning``."""
        return {
            "statistic": none_if_nan(self.statistic),
            "df": self.df,
            "p": none_if_nan(self.p),
            "method": self.method,
            "correct": self.correct,
            "expected": [[float(v) for v in row] for row in self.expected],
            "warning": self.warning,
        }


# ---------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------


def _as_table(table: ArrayLike) -> NDArray[np.int64]:
    arr = np.asarray(table)
    if arr.ndim != 2 or arr.shape[0] < 2 or arr.shape[1] < 2:
        raise InputError(
            f"a contingency table needs at least 2 rows and 2 columns, got shape {arr.shape}"
        )
    try:
        f = arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError("contingency table entries must be counts") from exc
    if not np.all(np.isfinite(f)) or np.any(f < 0):
        raise InputError("all entries of a contingency table must be non-negative and finite")
    if not np.all(f == np.round(f)):
        raise InputError("contingency table entries must be whole numbers (counts)")
    return f.astype(np.int64)


# ---------------------------------------------------------------------------------------
# Fisher 2 x 2 (transcription of the 2 x 2 branch of R's fisher.test)
# ---------------------------------------------------------------------------------------


class _NoncentralHypergeometric:
    """Conditional distribution of x[0, 0] given the margins, with odds ratio ``ncp``."""

    def __init__(self, tab: NDArray[np.int64]) -> None:
        self.m = int(tab[0, 0] + tab[1, 0])  # column 1 total
        self.n = int(tab[0, 1] + tab[1, 1])  # column 2 total
        self.k = int(tab[0, 0] + tab[0, 1])  # row 1 total
        self.x = int(tab[0, 0])
        self.lo = max(0, self.k - self.n)
        self.hi = min(self.k, self.m)
        self.support = np.arange(self.lo, self.hi + 1, dtype=np.float64)
        self._central = _st.hypergeom(self.m + self.n, self.m, self.k)
        self.logdc = self._central.logpmf(self.support)

    def density(self, ncp: float) -> NDArray[np.float64]:
        d = self.logdc + math.log(ncp) * self.support
        d = np.exp(d - np.max(d))
        return d / np.sum(d)

    def mean(self, ncp: float) -> float:
        if ncp == 0.0:
            return float(self.lo)
        if math.isinf(ncp):
            return float(self.hi)
        return float(np.sum(self.support * self.density(ncp)))

    def cdf(self, q: int, ncp: float, upper_tail: bool = False) -> float:
        if ncp == 1.0:
            # R uses phyper here, with x (not q), exactly as in fisher.test's pnhyper.
            if upper_tail:
                return float(self._central.sf(self.x - 1))
            return float(self._central.cdf(self.x))
        if ncp == 0.0:
            return float(q <= self.lo) if upper_tail else float(q >= self.lo)
        if math.isinf(ncp):
            return float(q <= self.hi) if upper_tail else float(q >= self.hi)
        d = self.density(ncp)
        mask = self.support >= q if upper_tail else self.support <= q
        return float(np.sum(d[mask]))


def _fisher_2x2(
    tab: NDArray[np.int64], conf_level: float, alternative: Alternative, root_tol: float
) -> tuple[float, float, float, float]:
    h = _NoncentralHypergeometric(tab)
    x, lo, hi = h.x, h.lo, h.hi

    if alternative == "less":
        p = h.cdf(x, 1.0)
    elif alternative == "greater":
        p = h.cdf(x, 1.0, upper_tail=True)
    else:
        d = h.density(1.0)
        # R leaves this sum uncapped (it can reach 1 + 2e-16); we cap at 1.
        p = min(1.0, float(np.sum(d[d <= d[x - lo] * _R_REL_ERR_2X2])))

    def mle() -> float:
        if x == lo:
            return 0.0
        if x == hi:
            return math.inf
        mu = h.mean(1.0)
        if mu > x:
            return _uniroot(lambda t: h.mean(t) - x, 0.0, 1.0, root_tol)
        if mu < x:
            return 1.0 / _uniroot(lambda t: h.mean(1.0 / t) - x, _DBL_EPS, 1.0, root_tol)
        return 1.0

    def ncp_upper(alpha: float) -> float:
        if x == hi:
            return math.inf
        p1 = h.cdf(x, 1.0)
        if p1 < alpha:
            return _uniroot(lambda t: h.cdf(x, t) - alpha, 0.0, 1.0, root_tol)
        if p1 > alpha:
            return 1.0 / _uniroot(lambda t: h.cdf(x, 1.0 / t) - alpha, _DBL_EPS, 1.0, root_tol)
        return 1.0

    def ncp_lower(alpha: float) -> float:
        if x == lo:
            return 0.0
        p1 = h.cdf(x, 1.0, upper_tail=True)
        if p1 > alpha:
            return _uniroot(lambda t: h.cdf(x, t, upper_tail=True) - alpha, 0.0, 1.0, root_tol)
        if p1 < alpha:
            return 1.0 / _uniroot(
                lambda t: h.cdf(x, 1.0 / t, upper_tail=True) - alpha, _DBL_EPS, 1.0, root_tol
            )
        return 1.0

    if alternative == "less":
        lower, upper = 0.0, ncp_upper(1.0 - conf_level)
    elif alternative == "greater":
        lower, upper = ncp_lower(1.0 - conf_level), math.inf
    else:
        alpha = (1.0 - conf_level) / 2.0
        lower, upper = ncp_lower(alpha), ncp_upper(alpha)
    return p, mle(), lower, upper


# ---------------------------------------------------------------------------------------
# Fisher r x c: exact enumeration, meet in the middle over column blocks
# ---------------------------------------------------------------------------------------


def _column_fillings(total: int, bounds: NDArray[np.int64]) -> NDArray[np.int64]:
    """All integer vectors ``v`` with ``0 <= v <= bounds`` and ``sum(v) == total``."""
    r = len(bounds)
    parts = np.zeros((1, 0), dtype=np.int64)
    rem = np.array([total], dtype=np.int64)
    for i in range(r - 1):  # a loop over the rows of the table (a handful)
        # later rows can hold at most sum(bounds[i+1:]); that bounds the choice from below
        cap_after = int(bounds[i + 1 :].sum())
        lo = np.maximum(rem - cap_after, 0)
        hi = np.minimum(rem, bounds[i])
        cnt = np.maximum(hi - lo + 1, 0)
        idx = np.repeat(np.arange(len(rem)), cnt)
        starts = np.repeat(np.cumsum(cnt) - cnt, cnt)
        choice = lo[idx] + (np.arange(idx.size) - starts)
        parts = np.column_stack([parts[idx], choice])
        rem = rem[idx] - choice
    ok = rem <= bounds[-1]
    return np.column_stack([parts[ok], rem[ok]])


def _count_fillings(total: int, n_rows: int) -> int:
    # Number of fillings ignoring the row bounds: an upper bound, used to refuse early.
    return math.comb(total + n_rows - 1, n_rows - 1)


def _block_tables(
    col_totals: Sequence[int], row_totals: NDArray[np.int64], lfact: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Partial tables on a block of columns: (row-sum code, sum of -log(cell!))."""
    radix = np.concatenate([[1], np.cumprod(row_totals[:-1] + 1)]).astype(np.int64)
    sums = np.zeros((1, len(row_totals)), dtype=np.int32)
    vals = np.zeros(1, dtype=np.float64)
    for tot in col_totals:  # a loop over the columns of one block (a handful)
        fill = _column_fillings(int(tot), row_totals).astype(np.int32)
        fval = -lfact[fill].sum(axis=1)
        new = sums[:, None, :] + fill[None, :, :]
        ok = np.all(new <= row_totals, axis=2)
        i_old, i_new = np.nonzero(ok)
        sums = new[i_old, i_new]
        vals = vals[i_old] + fval[i_new]
    return sums.astype(np.int64) @ radix, vals


def _fisher_rxc_p(tab: NDArray[np.int64]) -> float:
    # Rows or columns with a zero margin do not change the set of tables or their odds.
    tab = tab[tab.sum(axis=1) > 0][:, tab.sum(axis=0) > 0]
    if tab.shape[0] < 2 or tab.shape[1] < 2:
        return 1.0
    if tab.shape[0] > tab.shape[1]:
        tab = tab.T  # fewer rows: shorter column fillings, as FEXACT orders its margins
    rows = tab.sum(axis=1)
    cols = tab.sum(axis=0)
    total = int(rows.sum())
    lfact = _sp.gammaln(np.arange(total + 1, dtype=np.float64) + 1.0)

    # Split the columns into two blocks of similar enumeration size (greedy on the bound).
    sizes = [_count_fillings(int(c), len(rows)) for c in cols]
    block_a: list[int] = []
    block_b: list[int] = []
    size_a = size_b = 1
    for j in sorted(range(len(cols)), key=lambda j: -sizes[j]):
        if size_a <= size_b:
            block_a.append(j)
            size_a *= sizes[j]
        else:
            block_b.append(j)
            size_b *= sizes[j]
    if max(size_a, size_b) > _MAX_HALF_TABLES:
        raise EstimationError(
            f"Fisher's exact test on this {tab.shape[0]} x {tab.shape[1]} table (n = {total}) "
            "is too large for exact enumeration",
            fix="use chisq_test(), or R fisher.test(simulate.p.value = TRUE)",
        )

    code_a, val_a = _block_tables([int(cols[j]) for j in block_a], rows, lfact)
    code_b, val_b = _block_tables([int(cols[j]) for j in block_b], rows, lfact)
    if len(code_b) > len(code_a):
        # Sort the smaller block; the larger one is only searched into.
        code_a, val_a, code_b, val_b = code_b, val_b, code_a, val_a
    radix = np.concatenate([[1], np.cumprod(rows[:-1] + 1)]).astype(np.int64)
    full_code = int(rows @ radix)

    # log P(table) = const + val_a + val_b with const from the margins.
    const = float(lfact[rows].sum() + lfact[cols].sum() - lfact[total])
    obs = float(-lfact[tab].sum())
    threshold = obs + _FEXACT_TOL

    order = np.lexsort((val_b, code_b))
    code_b, val_b = code_b[order], val_b[order]
    starts = np.flatnonzero(np.r_[True, code_b[1:] != code_b[:-1]])
    group_code = code_b[starts]
    group_end = np.r_[starts[1:], len(code_b)]
    group_max = val_b[group_end - 1]  # values are sorted within each group

    # Each A entry pairs with the B group holding the remaining row sums (if any).
    need = full_code - code_a
    g = np.searchsorted(group_code, need)
    g_safe = np.minimum(g, len(group_code) - 1)
    has = group_code[g_safe] == need
    g, val_a = g_safe[has], val_a[has]
    lo, hi = starts[g], group_end[g]

    # Within the group count the B entries with val_b <= threshold - val_a. Most entries
    # take all or none of their group; bisect (vectorised, on the rest only) otherwise.
    target = threshold - val_a
    cut = np.where(val_b[lo] > target, lo, hi)
    mixed = np.flatnonzero((val_b[lo] <= target) & (group_max[g] > target))
    left, right, tgt = lo[mixed] + 1, hi[mixed] - 1, target[mixed]
    while left.size and np.any(left < right):
        mid = (left + right) // 2
        le = val_b[mid] <= tgt
        left = np.where(le & (left < right), mid + 1, left)
        right = np.where(~le & (left < right), mid, right)
    cut[mixed] = left

    # Probabilities scaled by each group's largest value; long-double prefix sums keep the
    # within-group partial sums free of cancellation from earlier groups.
    group_id = np.repeat(np.arange(len(starts)), group_end - starts)
    w = np.exp(val_b - group_max[group_id]).astype(np.longdouble)
    csum = np.concatenate([np.zeros(1, dtype=np.longdouble), np.cumsum(w)])
    partial = csum[cut] - csum[lo]
    p = float(np.sum(np.exp(const + val_a + group_max[g]) * partial))
    return max(0.0, min(1.0, p))


# ---------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------


def fisher_exact(
    table: ArrayLike,
    *,
    conf_level: float = 0.95,
    alternative: Alternative = "two.sided",
    root_tol: float = R_UNIROOT_TOL,
) -> FisherResult:
    """Fisher's exact test, as R ``fisher.test``.

    Parameters
    ----------
    table : array_like of int, shape (r, c)
        Counts, r, c >= 2. For 2 x 2 tables the odds ratio is
        ``(table[0,0] / table[0,1]) / (table[1,0] / table[1,1])`` (R's orientation).
    conf_level : float
        Level of the conditional CI (2 x 2).
    alternative : {"two.sided", "less", "greater"}
        2 x 2 only; r x c tables are always two-sided, as in R.
    root_tol : float
        Tolerance of the Brent root search for the MLE and the limits. The default is
        R's ``uniroot`` tolerance, which reproduces R's numbers (including R's ~1e-4
        root-finding error); ``0.0`` gives the exact roots.

    Returns
    -------
    FisherResult

    Notes
    -----
    2 x 2: two-sided p sums the probabilities (odds ratio 1) of the tables with density
    ``<= d_obs * (1 + 1e-7)``; the estimate is the conditional MLE; with a zero cell it is
    0 or ``inf`` and so may be a limit, as in R. r x c: every table with the observed
    margins is enumerated (meet in the middle over two blocks of columns) and the tables
    with log probability ``<= log p_obs + 3.45254e-7`` (FEXACT's rule) are summed. Tables
    too large for that raise :class:`EstimationError` advising the chi-square test.

    Examples
    --------
    >>> r = fisher_exact([[20, 18], [9, 4]])
    >>> round(r.p, 4), round(r.odds_ratio, 4)
    (0.3481, 0.5006)
    """
    tab = _as_table(table)
    level = float(conf_level)
    if not (0.0 < level < 1.0):
        raise InputError(f"conf_level must be strictly between 0 and 1, got {conf_level!r}")
    if alternative not in ("two.sided", "less", "greater"):
        raise InputError(f"unknown alternative {alternative!r}", fix="two.sided, less or greater")
    if tab.shape == (2, 2):
        p, est, lower, upper = _fisher_2x2(tab, level, alternative, float(root_tol))
        notes = []
        if math.isinf(est):
            notes.append("odds ratio is infinite (a zero cell); R reports Inf, written as null")
        if math.isinf(upper):
            notes.append("upper limit is infinite; R reports Inf, written as null")
        return FisherResult(
            p=p,
            odds_ratio=est,
            lower=lower,
            upper=upper,
            method="conditional MLE",
            conf_level=level,
            alternative=alternative,
            table=tab,
            root_tol=float(root_tol),
            note="; ".join(notes) or None,
        )
    return FisherResult(
        p=_fisher_rxc_p(tab),
        odds_ratio=None,
        lower=None,
        upper=None,
        method="exact enumeration",
        conf_level=level,
        alternative="two.sided",
        table=tab,
        root_tol=float(root_tol),
        note=None,
    )


def chisq_test(table: ArrayLike, *, correct: bool = True) -> ChiSquareResult:
    """Pearson's chi-square test of independence, as R ``chisq.test(table, correct =)``.

    Parameters
    ----------
    table : array_like of int, shape (r, c)
        Counts, r, c >= 2, total > 0.
    correct : bool
        Continuity correction; as in R it applies to 2 x 2 tables only and equals
        ``min(0.5, min |x - E|)``, so it vanishes when a cell equals its expectation.

    Returns
    -------
    ChiSquareResult
        With ``warning = "Chi-squared approximation may be incorrect"`` when any expected
        count is below 5 (R's rule).

    Examples
    --------
    >>> r = chisq_test([[20, 18], [9, 4]])
    >>> round(r.statistic, 4), r.df, r.warning is None
    (0.5166, 1, True)
    """
    tab = _as_table(table)
    x = tab.astype(np.float64)
    n = float(x.sum())
    if n == 0:
        raise InputError("at least one entry of the table must be positive")
    e = np.outer(x.sum(axis=1), x.sum(axis=0)) / n
    method = "Pearson's Chi-squared test"
    yates = 0.0
    if correct and tab.shape == (2, 2):
        yates = float(min(0.5, float(np.min(np.abs(x - e)))))
        if yates > 0:
            method += " with Yates' continuity correction"
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = float(np.sum((np.abs(x - e) - yates) ** 2 / e))
    df = (tab.shape[0] - 1) * (tab.shape[1] - 1)
    p = float(_st.chi2.sf(stat, df)) if np.isfinite(stat) else math.nan
    warning = "Chi-squared approximation may be incorrect" if np.any(e < 5) else None
    return ChiSquareResult(
        statistic=stat if np.isfinite(stat) else None,
        df=df,
        p=p if np.isfinite(p) else None,
        expected=e,
        correct=bool(correct),
        yates=yates,
        method=method,
        warning=warning,
        table=tab,
    )


@dataclass(frozen=True, slots=True)
class ProportionComparison:
    """A binary outcome compared across groups.

    Attributes
    ----------
    groups : tuple of str
        Group names, in table row order.
    successes, failures : tuple of int
        Counts per group.
    fisher : FisherResult or None
        Fisher's exact test (``None`` if the table is too large for enumeration).
    chisq : ChiSquareResult
        Chi-square test with R's default continuity correction.
    logistic : LogisticCoefficient or None
        Two groups only: the odds ratio of the first group versus the second from
        ``glm(success ~ first_group, binomial)`` with its profile (R ``confint``) CI.
    note : str or None
    """

    groups: tuple[str, ...]
    successes: tuple[int, ...]
    failures: tuple[int, ...]
    fisher: FisherResult | None
    chisq: ChiSquareResult
    logistic: LogisticCoefficient | None = None
    note: str | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with ``n``, ``table`` ({group: {success, failure}}), ``fisher``, ``chisq``."""
        return {
            "n": int(sum(self.successes) + sum(self.failures)),
            "table": {
                g: {"success": s, "failure": f}
                for g, s, f in zip(self.groups, self.successes, self.failures, strict=True)
            },
            "fisher": None if self.fisher is None else self.fisher.to_dict(),
            "chisq": self.chisq.to_dict(),
            "logistic": None
            if self.logistic is None
            else {
                k: v
                for k, v in self.logistic.to_dict().items()
                if k in ("odds_ratio", "lower", "upper", "p")
            },
            "note": self.note,
        }


def compare_proportions(
    success_by_group: Sequence[int],
    failure_by_group: Sequence[int],
    *,
    groups: Sequence[str] | None = None,
    conf_level: float = 0.95,
) -> ProportionComparison:
    """Compare a binary outcome across groups with Fisher's exact and chi-square tests.

    Parameters
    ----------
    success_by_group, failure_by_group : sequence of int
        Counts per group, in the same order. The table has one row per group and columns
        (success, failure), so for two groups the Fisher odds ratio is the odds of success
        in the first group over the odds in the second: put the reference group last.
    groups : sequence of str, optional
        Group names (default ``"1"``, ``"2"``, ...).
    conf_level : float
        Level of the Fisher and logistic CIs.

    Returns
    -------
    ProportionComparison
        For two groups also a logistic odds ratio (profile CI, Wald p); with a zero cell
        that fit is separated and emits :class:`~mmrwe.core.errors.SeparationWarning`.

    Examples
    --------
    >>> c = compare_proportions([20, 9], [18, 4], groups=["yes", "no"])
    >>> round(c.fisher.odds_ratio, 4)
    0.5006
    """
    s = [int(v) for v in success_by_group]
    f = [int(v) for v in failure_by_group]
    if len(s) != len(f) or len(s) < 2:
        raise InputError("need success and failure counts for at least 2 groups, of equal length")
    names = (
        tuple(str(g) for g in groups)
        if groups is not None
        else tuple(str(i + 1) for i in range(len(s)))
    )
    if len(names) != len(s):
        raise InputError("groups must name every group once")
    tab = np.column_stack([s, f])
    note = None
    try:
        fisher: FisherResult | None = fisher_exact(tab, conf_level=conf_level)
    except EstimationError as exc:
        fisher, note = None, str(exc)
    logistic = None
    if len(s) == 2 and min(s[0] + f[0], s[1] + f[1]) > 0 and 0 < sum(s) < sum(s) + sum(f):
        # Individual rows rebuilt from the counts: outcome 1 = success, covariate 1 = group 1.
        counts = np.array([s[0], f[0], s[1], f[1]])
        y = np.repeat([1.0, 0.0, 1.0, 0.0], counts)
        x = np.repeat([1.0, 1.0, 0.0, 0.0], counts)[:, None]
        fit = logistic_fit(y, x, names=[names[0]], conf_level=conf_level)
        logistic = fit.coefficient(names[0])
    return ProportionComparison(
        groups=names,
        successes=tuple(s),
        failures=tuple(f),
        fisher=fisher,
        chisq=chisq_test(tab),
        logistic=logistic,
        note=note,
    )
