"""Log-rank (G-rho) tests for k groups, optionally stratified, and the test for trend.

:func:`logrank_test` equals R ``survdiff(Surv(time, status) ~ group [+ strata(s)], rho)``
(survival 3.5, ``survdiff2.c``): observed, expected and variance per group summed over
strata, chi-square from the generalized inverse on the groups with expected > 0.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import chdtrc

from mmrwe.core.errors import EstimationError, InputError
from mmrwe.stats._common import as_time_event, none_if_nan, read_only
from mmrwe.stats.km import (
    _gaps,
    _time_event_bits,
    _time_event_keys,
    factorize_groups,
    missing_mask,
)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class LogRankResult:
    """Log-rank (G-rho) test of k survival curves, as R ``survdiff``.

    Attributes
    ----------
    groups : tuple of str
        Group labels in sorted order.
    n : Mapping of str to int
        Patients per group (after dropping rows with a missing group or stratum).
    observed, expected : Mapping of str to float
        Events and expected events per group, summed over strata (weighted by S(t-)^rho
        when rho != 0, as survdiff).
    variance : ndarray, shape (k, k)
        Variance-covariance of observed - expected (read-only), as ``survdiff()$var``.
    chisq : float
        Chi-square statistic; 0 when fewer than two groups have expected > 0 (as R).
    df : int
        Groups with expected > 0, minus 1 (k - 1 in any non-degenerate case).
    p : float or None
        Upper-tail chi-square probability; ``None`` where R gives NaN (df < 0).
    rho : float
        Weight exponent: 0 log-rank, 1 Peto-Peto modification of the Wilcoxon test.
    stratified : bool
        True when a stratum variable was given.
    strata_name : str or None
        Name of the stratum variable, if the caller gave one.
    n_strata : int
        Number of strata (1 when not stratified).
    n_excluded_missing : int
        Rows dropped for a missing group or stratum (R's ``na.omit``).
    """

    groups: tuple[str, ...]
    n: Mapping[str, int]
    observed: Mapping[str, float]
    expected: Mapping[str, float]
    variance: FloatArray
    chisq: float
    df: int
    p: float | None
    rho: float
    stratified: bool
    strata_name: str | None
    n_strata: int
    n_excluded_missing: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "variance", read_only(self.variance, dtype=np.float64))
        for name in ("n", "observed", "expected"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    @property
    def method(self) -> str:
        """``"log-rank"`` for rho = 0, else ``"G-rho (rho=...)"``."""
        return "log-rank" if self.rho == 0 else f"G-rho (rho={self.rho:g})"

    def to_dict(self) -> dict[str, Any]:
        """Return the results.json ``logrank`` entry (without ``endpoint``/``by``)."""
        return {
            "groups": list(self.groups),
            "n": {g: int(v) for g, v in self.n.items()},
            "observed": {g: float(v) for g, v in self.observed.items()},
            "expected": {g: float(v) for g, v in self.expected.items()},
            "variance": self.variance.tolist(),
            "chisq": none_if_nan(self.chisq),
            "df": int(self.df),
            "p": none_if_nan(self.p),
            "rho": float(self.rho),
            "method": self.method,
            "stratified": self.stratified,
            "strata_name": self.strata_name,
            "n_strata": int(self.n_strata),
            "n_excluded_missing": int(self.n_excluded_missing),
        }


@dataclass(frozen=True, slots=True)
class LogRankTrendResult:
    """Log-rank test for trend across ordered groups.

    ``statistic = s'(O - E)``, ``variance = s' V s``, ``chisq = statistic^2 / variance`` on
    1 df, with ``V`` the survdiff variance matrix and ``s`` the group scores.
    ``chisq``/``p`` are ``None`` when the variance is 0 (no informative event time).
    """

    groups: tuple[str, ...]
    scores: tuple[float, ...]
    n: Mapping[str, int]
    observed: Mapping[str, float]
    expected: Mapping[str, float]
    statistic: float
    variance: float
    chisq: float | None
    df: int
    p: float | None
    stratified: bool
    strata_name: str | None
    n_strata: int
    n_excluded_missing: int

    def __post_init__(self) -> None:
        for name in ("n", "observed", "expected"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (``method`` = "log-rank test for trend")."""
        return {
            "groups": list(self.groups),
            "scores": [float(s) for s in self.scores],
            "n": {g: int(v) for g, v in self.n.items()},
            "observed": {g: float(v) for g, v in self.observed.items()},
            "expected": {g: float(v) for g, v in self.expected.items()},
            "statistic": none_if_nan(self.statistic),
            "variance": none_if_nan(self.variance),
            "chisq": none_if_nan(self.chisq),
            "df": int(self.df),
            "p": none_if_nan(self.p),
            "method": "log-rank test for trend",
            "stratified": self.stratified,
            "strata_name": self.strata_name,
            "n_strata": int(self.n_strata),
            "n_excluded_missing": int(self.n_excluded_missing),
        }


def logrank_test(
    time: ArrayLike,
    is_event: ArrayLike,
    group: ArrayLike,
    *,
    strata: ArrayLike | None = None,
    rho: float = 0.0,
    strata_name: str | None = None,
) -> LogRankResult:
    """Compare survival curves of k groups with the log-rank (G-rho) test.

    Parameters
    ----------
    time : array_like of float, shape (n,)
        Follow-up times (>= 0).
    is_event : array_like of bool, shape (n,)
        True for an event, False for censoring.
    group : array_like, shape (n,)
        Group of each row; None / NaN rows are dropped (R ``na.omit``).
    strata : array_like, optional
        Stratum of each row: the test sums observed, expected and variance over strata
        (``strata()`` in the survdiff formula); None / NaN rows are dropped.
    rho : float
        Weights S(t-)^rho, S the pooled left-continuous KM within stratum: 0 is the
        log-rank test, 1 the Peto & Peto modification of the Gehan-Wilcoxon test.
    strata_name : str, optional
        Name of the stratum variable, recorded on the result.

    Returns
    -------
    LogRankResult

    Raises
    ------
    EstimationError
        Fewer than two groups remain after dropping missing rows (R: "There is only 1
        group"), or the variance matrix is singular (R's ``solve`` fails the same way).

    Notes
    -----
    Equals R ``survdiff(Surv(time, status) ~ group + strata(s), rho = rho)``: chisq
    ``(O-E)' V^- (O-E)`` over the groups with expected > 0 (dropping the first of them),
    ``df`` = their number - 1; a death time with one patient at risk adds no variance.
    Vectorized: the rows of each (stratum, group) cell are sorted by time once and reduced
    to counts per distinct time, and the test runs on those counts as
    :func:`logrank_from_counts` does (the same numbers, to the last bit, as the direct
    computation over sorted rows, which still handles the inputs that raise errors).

    Examples
    --------
    >>> r = logrank_test([1, 2, 3, 4], [True, True, True, True], ["a", "b", "a", "b"])
    >>> r.df, round(r.chisq, 6)
    (1, 0.615385)
    """
    fast = _prepare_blocks(time, is_event, group, strata)
    prep = _prepare(time, is_event, group, strata) if fast is None else None
    rho = float(rho)
    if not math.isfinite(rho):
        raise InputError(f"rho must be a finite number, got {rho!r}")
    if fast is not None:
        blocks, n_excluded = fast
        obs, exp, var = _survdiff_counts(blocks, rho)
        labels, n_per_group, n_strata = blocks.labels, blocks.n_per_group, blocks.n_strata
    else:
        assert prep is not None
        obs, exp, var = _survdiff(prep, rho)
        labels, n_per_group, n_strata = prep.labels, prep.n_per_group, prep.n_strata
        n_excluded = prep.n_excluded
    chisq, df, p = _chisq_df_p(obs, exp, var)
    return LogRankResult(
        groups=labels,
        n=dict(zip(labels, n_per_group.tolist(), strict=True)),
        observed=dict(zip(labels, obs.tolist(), strict=True)),
        expected=dict(zip(labels, exp.tolist(), strict=True)),
        variance=var,
        chisq=chisq,
        df=df,
        p=p,
        rho=rho,
        stratified=strata is not None,
        strata_name=strata_name,
        n_strata=n_strata,
        n_excluded_missing=n_excluded,
    )


def _trend_scores(scores: Any, labels: Sequence[str]) -> NDArray[np.float64]:
    """Scores per group for the trend test: default 1..k, a sequence, or a {label: score} map."""
    k = len(labels)
    if scores is None:
        s = np.arange(1.0, k + 1.0)
    elif isinstance(scores, Mapping):
        missing = [g for g in labels if g not in scores]
        if missing:
            raise InputError(
                f"no score given for group(s) {missing}",
                fix=f"give a score for each of {list(labels)}",
            )
        s = np.array([float(scores[g]) for g in labels])
    else:
        s = np.asarray(scores, dtype=np.float64)
        if s.shape != (k,):
            raise InputError(f"need {k} scores (one per group {list(labels)}), got {s.size}")
    if not np.all(np.isfinite(s)):
        raise InputError("trend scores must be finite numbers")
    return s


def logrank_trend_test(
    time: ArrayLike,
    is_event: ArrayLike,
    group: ArrayLike,
    *,
    scores: Sequence[float] | Mapping[str, float] | None = None,
    strata: ArrayLike | None = None,
    strata_name: str | None = None,
) -> LogRankTrendResult:
    """Log-rank test for trend across ordered groups (1 df).

    Parameters
    ----------
    time, is_event, group, strata :
        As for :func:`logrank_test`.
    scores : sequence of float or mapping of label to score, optional
        One score per group, in sorted group order for a sequence; default 1, 2, ..., k.
    strata_name : str, optional
        Name of the stratum variable, recorded on the result.

    Returns
    -------
    LogRankTrendResult

    Notes
    -----
    ``chisq = (s'(O - E))^2 / (s' V s)`` with survdiff's ``obs``, ``exp`` and ``var``
    (rho = 0). It equals survMisc ``comp()`` "tft" with log-rank weights (as used by
    survminer ``surv_pvalue(test.for.trend = TRUE)``) and the score test of
    ``coxph(Surv(time, status) ~ score, ties = "exact")``.
    """
    fast = _prepare_blocks(time, is_event, group, strata)
    prep = _prepare(time, is_event, group, strata) if fast is None else None
    if fast is not None:
        blocks, n_excluded = fast
        labels, n_per_group, n_strata = blocks.labels, blocks.n_per_group, blocks.n_strata
    else:
        assert prep is not None
        labels, n_per_group, n_strata = prep.labels, prep.n_per_group, prep.n_strata
        n_excluded = prep.n_excluded
    s = _trend_scores(scores, labels)
    if fast is not None:
        obs, exp, var = _survdiff_counts(fast[0], 0.0)
    else:
        assert prep is not None
        obs, exp, var = _survdiff(prep, 0.0)
    statistic = float(s @ (obs - exp))
    v = float(s @ var @ s)
    chisq = statistic**2 / v if v > 0 else None
    p = _chi2_sf(chisq, 1) if chisq is not None else None
    return LogRankTrendResult(
        groups=labels,
        scores=tuple(s.tolist()),
        n=dict(zip(labels, n_per_group.tolist(), strict=True)),
        observed=dict(zip(labels, obs.tolist(), strict=True)),
        expected=dict(zip(labels, exp.tolist(), strict=True)),
        statistic=statistic,
        variance=v,
        chisq=chisq,
        df=1,
        p=p,
        stratified=strata is not None,
        strata_name=strata_name,
        n_strata=n_strata,
        n_excluded_missing=n_excluded,
    )


# --------------------------------------------------------------------------------------
# private
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Prepared:
    time: FloatArray
    is_event: NDArray[np.bool_]
    group: IntArray
    stratum: IntArray | None
    labels: tuple[str, ...]
    n_per_group: IntArray
    n_strata: int
    n_strata_given: bool
    n_excluded: int


def _prepare(
    time: ArrayLike, is_event: ArrayLike, group: ArrayLike, strata: ArrayLike | None
) -> _Prepared:
    t, e = as_time_event(time, is_event)
    n = t.size
    g_all = np.asarray(group)
    missing = missing_mask(g_all, n)
    s_all = None
    if strata is not None:
        s_all = np.asarray(strata)
        missing = missing | missing_mask(s_all, n)
    keep = ~missing
    # code groups after dropping: a group seen only on dropped rows is no group (R)
    codes, labels, _ = factorize_groups(g_all[keep], int(np.count_nonzero(keep)))
    if len(labels) < 2:
        raise EstimationError(
            f"There is only 1 group ({labels[0] if labels else 'no rows left'}): "
            "the log-rank test needs at least two groups",
            fix="check the grouping variable and missing values",
        )
    stratum = None
    n_strata = 1
    if s_all is not None:
        stratum, s_labels, _ = factorize_groups(s_all[keep], codes.size)
        n_strata = len(s_labels)
    return _Prepared(
        time=t[keep],
        is_event=e[keep],
        group=codes,
        stratum=stratum,
        labels=labels,
        n_per_group=np.bincount(codes, minlength=len(labels)).astype(np.int64),
        n_strata=n_strata,
        n_strata_given=strata is not None,
        n_excluded=int(n - codes.size),
    )


def _survdiff(prep: _Prepared, rho: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Observed, expected (k,) and variance (k, k) summed over strata, as survdiff2.c."""
    t, e, g = prep.time, prep.is_event, prep.group
    k = len(prep.labels)
    n = t.size
    key: NDArray[Any]
    if prep.stratum is None:
        order = np.argsort(t)
        key = t[order]
        stratum_sorted = None
    else:
        # one integer key orders by (stratum, time): ranks of the times, offset per stratum
        uniq_t, t_rank = np.unique(t, return_inverse=True)
        composite = prep.stratum * uniq_t.size + t_rank.reshape(-1)
        order = np.argsort(composite)
        key = composite[order]
        stratum_sorted = prep.stratum[order]
    gs = g[order]
    es = e[order]
    new_block = np.empty(n, dtype=bool)
    new_block[0] = True
    np.not_equal(key[1:], key[:-1], out=new_block[1:])
    starts = np.flatnonzero(new_block)
    ends = np.append(starts[1:], n)
    if stratum_sorted is None:
        stratum_end = np.full(starts.size, n)
        stratum_first_block = np.array([0])
    else:
        s_new = np.flatnonzero(np.diff(stratum_sorted)) + 1
        s_ends = np.append(s_new, n)
        stratum_end = s_ends[np.searchsorted(s_new, starts, side="right")]
        stratum_first_block = np.searchsorted(starts, np.append(0, s_new))
    n_risk = (stratum_end - starts).astype(np.float64)
    cum_e = np.concatenate(([0], np.cumsum(es, dtype=np.int64)))
    deaths = (cum_e[ends] - cum_e[starts]).astype(np.float64)

    if rho == 0.0:
        weight = np.ones(starts.size)
    else:
        # pooled KM within stratum, left-continuous: S just before each time (survdiff2.c)
        factor = (n_risk - deaths) / n_risk
        weight = np.empty(starts.size)
        bounds = np.append(stratum_first_block, starts.size)
        for a, b in itertools.pairwise(bounds.tolist()):  # one pass per stratum
            km = np.cumprod(factor[a:b])
            weight[a] = 1.0
            weight[a + 1 : b] = km[:-1]
        weight = weight**rho

    is_death = deaths > 0
    w = weight[is_death]
    d = deaths[is_death]
    nr = n_risk[is_death]
    s_starts, s_ends_blk = starts[is_death], ends[is_death]
    s_stratum_end = stratum_end[is_death]
    risk = np.empty((d.size, k))
    obs = np.empty(k)
    for j in range(k):  # a loop over the handful of groups, vectorized over times
        in_g = gs == j
        cum_g = np.concatenate(([0], np.cumsum(in_g, dtype=np.int64)))
        cum_gd = np.concatenate(([0], np.cumsum(in_g & es, dtype=np.int64)))
        risk[:, j] = cum_g[s_stratum_end] - cum_g[s_starts]
        obs[j] = float(np.sum(w * (cum_gd[s_ends_blk] - cum_gd[s_starts])))
    exp = (w * d / nr) @ risk
    with np.errstate(divide="ignore", invalid="ignore"):
        # hypergeometric variance; a time with one patient at risk adds none (survdiff2.c)
        c = np.where(nr > 1, w * w * d * (nr - d) / (nr * (nr - 1)), 0.0)
    var = np.diag(c @ risk) - (risk * (c / nr)[:, None]).T @ risk
    return obs, exp, var


# --------------------------------------------------------------------------------------
# fast path: per-(stratum, time) block counts straight from the rows
# --------------------------------------------------------------------------------------

# A "cell" is one (stratum, group) pair. Up to this many cells, each cell's rows are
# picked with a boolean mask (one pass each); beyond, one stable (radix) argsort of the
# cell codes groups them.
_MASK_CELLS = 4
# Integer (or whole-number float) labels spanning at most this many values (or the number
# of rows, if larger) are coded by counting instead of np.unique's sort.
_COUNT_SPAN = 1 << 16


def _prepare_blocks(
    time: ArrayLike, is_event: ArrayLike, group: ArrayLike, strata: ArrayLike | None
) -> tuple[_CountBlocks, int] | None:
    """Per-(stratum, time) counts of every group, as ``_count_blocks`` on the rows' counts.

    Returns ``(blocks, n_excluded)``, or ``None`` when ``_prepare`` must decide (bad
    shapes, fewer than two groups: it raises the errors). ``_survdiff_counts`` on these
    blocks gives the same numbers, to the last bit, as ``_survdiff`` on ``_prepare``.

    Instead of ``_survdiff``'s argsort of all rows and a pass over all rows per group, the
    rows' keys ``time bits << 1 | event`` are split by cell and each cell's keys sorted
    (a plain sort of n / cells keys, not an argsort of n). Each cell then reduces to its
    distinct (time, event) pairs and the per-stratum tables are filled from those: only
    arrays the size of the distinct times remain.
    """
    t, e = _time_event_bits(time, is_event)
    n = t.size
    g = np.asarray(group)
    if n == 0 or g.ndim != 1 or g.shape[0] != n:
        return None
    s = None
    if strata is not None:
        s = np.asarray(strata)
        if s.ndim != 1 or s.shape[0] != n:
            return None
    # rows with a missing group or stratum are dropped (R's na.omit)
    missing = _missing_or_none(g)
    if s is not None:
        s_missing = _missing_or_none(s)
        if s_missing is not None:
            missing = s_missing if missing is None else missing | s_missing
    key = _time_event_keys(t, e)
    if missing is not None:
        keep = ~missing
        key, g = key[keep], g[keep]
        s = None if s is None else s[keep]
    nk = key.size
    coded = _factorize_rows(g)
    if coded is None or len(coded[1]) < 2:
        return None  # _prepare raises "There is only 1 group"
    g_codes, labels, n_per_group = coded
    k = len(labels)
    if s is None:
        cell: NDArray[Any] = g_codes
        n_strata = 1
    else:
        s_coded = _factorize_rows(s)
        if s_coded is None:
            return None
        n_strata = len(s_coded[1])
        cell = g_codes if n_strata == 1 else s_coded[0].astype(np.int64) * k + g_codes
    n_cells = k * n_strata
    per_cell = n_per_group if n_strata == 1 else np.bincount(cell, minlength=n_cells)
    bounds = np.zeros(n_cells + 1, dtype=np.int64)
    per_cell.cumsum(out=bounds[1:])
    # the keys grouped by cell, each cell's keys sorted
    ks = np.empty(nk, dtype=np.uint64)
    if n_cells <= _MASK_CELLS:
        if n_cells == 2:
            in_1 = cell.view(np.bool_) if cell.dtype == np.uint8 else cell != 0
            key.compress(~in_1, out=ks[: bounds[1]])
            key.compress(in_1, out=ks[bounds[1] :])
        else:
            for c in range(n_cells):
                key.compress(cell == c, out=ks[bounds[c] : bounds[c + 1]])
    else:
        small = cell.astype(
            np.uint8 if n_cells <= 256 else np.uint16 if n_cells <= 65536 else np.int64
        )
        key.take(small.argsort(kind="stable"), out=ks)
    for c in range(n_cells):
        ks[bounds[c] : bounds[c + 1]].sort()
    # distinct (cell, time, event) runs; a run never spans two cells
    new = np.empty(nk, dtype=bool)
    new[0] = True
    np.not_equal(ks[1:], ks[:-1], out=new[1:])
    new[bounds[1:-1][bounds[1:-1] < nk]] = True  # cell starts (an empty cell has none)
    first = new.nonzero()[0]
    pair = ks[first]
    m = first.size
    pair_time = pair >> np.uint64(1)
    cell_pair = first.searchsorted(bounds)  # first pair of each cell
    new_time = np.empty(m, dtype=bool)
    new_time[0] = True
    np.not_equal(pair_time[1:], pair_time[:-1], out=new_time[1:])
    new_time[cell_pair[1:-1][cell_pair[1:-1] < m]] = True
    t_first = new_time.nonzero()[0]  # first pair of each distinct (cell, time)
    t_last = np.empty_like(t_first)
    np.subtract(t_first[1:], 1, out=t_last[:-1])
    t_last[-1] = m - 1
    # per (cell, time): patients and events (the event pair, if any, is the last one)
    row_first = first[t_first]
    n_at = _gaps(row_first, nk)
    n_dead = (_gaps(first, nk) * (pair & np.uint64(1)).view(np.int64))[t_last]
    t_bits = pair_time[t_first]
    cell_time = t_first.searchsorted(cell_pair)  # first (cell, time) of each cell
    total_parts: list[IntArray] = []
    death_parts: list[IntArray] = []
    for st in range(n_strata):
        a, b = int(cell_time[st * k]), int(cell_time[(st + 1) * k])
        # the stratum's distinct times: merge its groups' sorted runs (a stable sort finds
        # the runs and merges them in linear time); block = rank among distinct times
        order = t_bits[a:b].argsort(kind="stable")
        merged = t_bits[a:b][order]
        new_block = np.empty(b - a, dtype=bool)
        new_block[0] = True
        np.not_equal(merged[1:], merged[:-1], out=new_block[1:])
        block_sorted = new_block.cumsum() - 1
        nb = int(block_sorted[-1]) + 1
        # cell of each entry (the entries are in cell order): its place in the (nb, k) table
        slot = np.empty(b - a, dtype=np.int64)
        slot[order] = block_sorted * k
        for j in range(1, k):
            slot[int(cell_time[st * k + j]) - a : int(cell_time[st * k + j + 1]) - a] += j
        total = np.zeros(nb * k, dtype=np.int64)
        deaths = np.zeros(nb * k, dtype=np.int64)
        total[slot] = n_at[a:b]
        deaths[slot] = n_dead[a:b]
        total_parts.append(total.reshape(nb, k))
        death_parts.append(deaths.reshape(nb, k))
    if n_strata == 1:
        total_all, deaths_all = total_parts[0], death_parts[0]
        block_stratum = np.zeros(total_all.shape[0], dtype=np.int64)
    else:
        total_all = np.concatenate(total_parts)
        deaths_all = np.concatenate(death_parts)
        block_stratum = np.repeat(
            np.arange(n_strata, dtype=np.int64), [p.shape[0] for p in total_parts]
        )
    blocks = _CountBlocks(
        labels=labels,
        total=total_all,
        deaths=deaths_all,
        block_stratum=block_stratum,
        n_per_group=np.asarray(n_per_group, dtype=np.int64),
        n_strata=n_strata,
    )
    return blocks, n - nk


def _missing_or_none(a: NDArray[Any]) -> NDArray[np.bool_] | None:
    """``missing_mask(a)``, or ``None`` when no value is missing (numbers and booleans are
    checked without building a mask of all False)."""
    if a.dtype.kind in "biu":
        return None
    if a.dtype.kind == "f":
        if not np.isnan(a.min()):
            return None
        return np.isnan(a)
    mask = missing_mask(a, a.shape[0])
    return mask if mask.any() else None


def _factorize_rows(values: NDArray[Any]) -> tuple[NDArray[Any], tuple[str, ...], IntArray] | None:
    """``factorize_groups`` of non-missing values: (codes 0..k-1, labels, rows per code).

    Booleans and integers (and floats holding whole numbers) over a short span are coded
    by counting: the labels come out in the same (numeric) order and spelling as
    ``factorize_groups`` gives, without its sort. The codes may be the caller's array
    itself (integers 0..k-1 all present) or a view of it (booleans).
    """
    a = values
    n = a.shape[0]
    if n == 0:
        return None
    kind = a.dtype.kind
    if kind == "b" and a.dtype.isnative:
        n_true = int(np.count_nonzero(a))
        if 0 < n_true < n:
            return a.view(np.uint8), ("False", "True"), np.array([n - n_true, n_true])
        only = "True" if n_true else "False"
        return np.zeros(n, dtype=np.uint8), (only,), np.array([n])
    if kind in "iuf" and a.dtype.isnative:
        lo_v, hi_v = a.min(), a.max()
        span_limit = max(_COUNT_SPAN, n)
        if kind == "f":
            # whole numbers only (labels "1", not "1.0"), in a span that int64 holds exactly
            if not (lo_v >= -(2.0**52) and hi_v <= 2.0**52 and hi_v - lo_v < span_limit):
                return _factorize_general(a)
            ints = a.astype(np.int64)
            if not np.array_equal(ints, a):
                return _factorize_general(a)
            a = ints
            lo, hi = int(ints.min()), int(ints.max())
        else:
            lo, hi = int(lo_v), int(hi_v)
            if hi - lo >= span_limit or not (lo >= -(2**62) and hi <= 2**62):
                return _factorize_general(a)
        if hi - lo <= 1:  # one or two values (the usual 0/1 coding): count, no bincount
            if hi == lo:
                return np.zeros(n, dtype=np.uint8), (str(lo),), np.array([n], dtype=np.int64)
            is_hi = a != lo  # a boolean mask: the caller splits the rows with it directly
            n_hi = int(np.count_nonzero(is_hi))
            return (
                is_hi.view(np.uint8),
                (str(lo), str(hi)),
                np.array([n - n_hi, n_hi], dtype=np.int64),
            )
        # in intp (no overflow: |values| < 2^62 here), shifted to start at 0
        shifted = a.astype(np.intp, copy=False)
        if lo != 0:
            shifted = shifted - lo
        counts = np.bincount(shifted, minlength=hi - lo + 1)
        present = counts.nonzero()[0]
        labels = tuple(str(lo + v) for v in present.tolist())
        if present.size == counts.size:
            codes = shifted
        else:
            lut = np.zeros(counts.size, dtype=np.int64)
            lut[present] = np.arange(present.size)
            codes = lut[shifted]
        return codes, labels, counts[present].astype(np.int64)
    return _factorize_general(a)


def _factorize_general(a: NDArray[Any]) -> tuple[NDArray[Any], tuple[str, ...], IntArray]:
    codes, labels, _ = factorize_groups(a, a.shape[0])
    return codes, labels, np.bincount(codes, minlength=len(labels)).astype(np.int64)


def _row_sums(a: NDArray[Any]) -> NDArray[Any]:
    """``a.sum(axis=1)`` of a table of counts with a few columns (exact in any order)."""
    out = a[:, 0].copy()
    for j in range(1, a.shape[1]):
        out += a[:, j]
    return out


def _chisq_df_p(
    obs: NDArray[np.float64], exp: NDArray[np.float64], var: NDArray[np.float64]
) -> tuple[float, int, float | None]:
    """survdiff's chi-square, df and p: groups with expected > 0, the first one dropped."""
    informative = exp > 0
    df = int(np.count_nonzero(informative)) - 1
    chisq = 0.0
    if df >= 1:
        idx = np.flatnonzero(informative)[1:]
        diff = (obs - exp)[idx]
        try:
            chisq = float(np.dot(np.linalg.solve(var[np.ix_(idx, idx)], diff), diff))
        except np.linalg.LinAlgError as err:
            # R's solve() stops here too ("system is exactly singular")
            raise EstimationError(
                "the log-rank variance matrix is singular: no event time carries information "
                "(e.g. every patient at risk at each event time had the event)",
                fix="the groups cannot be compared with these data; check the grouping variable",
            ) from err
    p: float | None
    if df >= 1:
        p = _chi2_sf(chisq, df)
    elif df == 0:
        p = 1.0  # R: pchisq(0, 0, lower.tail = FALSE) is 1
    else:
        p = None  # R: NaN (no events at all)
    return chisq, df, p


def _chi2_sf(chisq: float, df: int) -> float:
    """``chi2.sf(chisq, df)``: the same ``chdtrc`` value, without scipy's distribution
    machinery (which costs more than a whole test of 10^4 rows) for ordinary arguments."""
    if chisq > 0.0 and math.isfinite(chisq) and df >= 1:
        return float(chdtrc(df, chisq))
    from scipy.stats import chi2  # edge cases (0, inf, NaN); imported on demand: it is slow

    return float(chi2.sf(chisq, df))


# --------------------------------------------------------------------------------------
# from per-time counts (the scaled path: counts computed in a database)
# --------------------------------------------------------------------------------------


def logrank_from_counts(
    time: ArrayLike,
    group: ArrayLike,
    n_event: ArrayLike,
    n_censor: ArrayLike,
    *,
    strata: ArrayLike | None = None,
    rho: float = 0.0,
    strata_name: str | None = None,
    n_excluded_missing: int = 0,
) -> LogRankResult:
    """Log-rank (G-rho) test from events and censorings per (stratum, group, time).

    Parameters
    ----------
    time : array_like of float, shape (m,)
        Time of each count row.
    group : array_like, shape (m,)
        Group of each count row (no missing values: drop them before, and pass their
        number as ``n_excluded_missing``).
    n_event, n_censor : array_like of int, shape (m,)
        Events and censorings of that group at that time (``GROUP BY group, time``).
    strata : array_like, optional
        Stratum of each count row (``GROUP BY stratum, group, time``).
    rho : float
        As for :func:`logrank_test`.
    strata_name : str, optional
        Recorded on the result.
    n_excluded_missing : int
        Patients dropped for a missing group or stratum, recorded on the result.

    Returns
    -------
    LogRankResult
        Identical to :func:`logrank_test` on the patient rows these counts summarise
        (the same per-time arrays feed the same arithmetic); equals R ``survdiff``.

    Examples
    --------
    >>> r = logrank_from_counts([1, 2, 3, 4], ["a", "b", "a", "b"], [1, 1, 1, 1], [0, 0, 0, 0])
    >>> r.df, round(r.chisq, 6)
    (1, 0.615385)
    """
    rho = float(rho)
    if not math.isfinite(rho):
        raise InputError(f"rho must be a finite number, got {rho!r}")
    blocks = _count_blocks(time, group, n_event, n_censor, strata)
    obs, exp, var = _survdiff_counts(blocks, rho)
    chisq, df, p = _chisq_df_p(obs, exp, var)
    labels = blocks.labels
    return LogRankResult(
        groups=labels,
        n=dict(zip(labels, blocks.n_per_group.tolist(), strict=True)),
        observed=dict(zip(labels, obs.tolist(), strict=True)),
        expected=dict(zip(labels, exp.tolist(), strict=True)),
        variance=var,
        chisq=chisq,
        df=df,
        p=p,
        rho=rho,
        stratified=strata is not None,
        strata_name=strata_name,
        n_strata=blocks.n_strata,
        n_excluded_missing=int(n_excluded_missing),
    )


def logrank_trend_from_counts(
    time: ArrayLike,
    group: ArrayLike,
    n_event: ArrayLike,
    n_censor: ArrayLike,
    *,
    scores: Sequence[float] | Mapping[str, float] | None = None,
    strata: ArrayLike | None = None,
    strata_name: str | None = None,
    n_excluded_missing: int = 0,
) -> LogRankTrendResult:
    """Log-rank test for trend from per-(stratum, group, time) counts.

    Identical to :func:`logrank_trend_test` on the rows the counts summarise; the
    arguments are those of :func:`logrank_from_counts` plus ``scores`` (as there).
    """
    blocks = _count_blocks(time, group, n_event, n_censor, strata)
    labels = blocks.labels
    s = _trend_scores(scores, labels)
    obs, exp, var = _survdiff_counts(blocks, 0.0)
    statistic = float(s @ (obs - exp))
    v = float(s @ var @ s)
    chisq = statistic**2 / v if v > 0 else None
    p = _chi2_sf(chisq, 1) if chisq is not None else None
    return LogRankTrendResult(
        groups=labels,
        scores=tuple(s.tolist()),
        n=dict(zip(labels, blocks.n_per_group.tolist(), strict=True)),
        observed=dict(zip(labels, obs.tolist(), strict=True)),
        expected=dict(zip(labels, exp.tolist(), strict=True)),
        statistic=statistic,
        variance=v,
        chisq=chisq,
        df=1,
        p=p,
        stratified=strata is not None,
        strata_name=strata_name,
        n_strata=blocks.n_strata,
        n_excluded_missing=int(n_excluded_missing),
    )


@dataclass(frozen=True, slots=True)
class _CountBlocks:
    """Per-(stratum, time) block counts of every group, blocks ordered by (stratum, time)."""

    labels: tuple[str, ...]
    total: IntArray  # (B, k) patients of group j whose time is the block's time
    deaths: IntArray  # (B, k) events of group j at the block's time
    block_stratum: IntArray  # (B,) stratum code of each block
    n_per_group: IntArray
    n_strata: int


def _count_blocks(
    time: ArrayLike,
    group: ArrayLike,
    n_event: ArrayLike,
    n_censor: ArrayLike,
    strata: ArrayLike | None,
) -> _CountBlocks:
    t = np.asarray(time, dtype=np.float64).ravel()
    m = t.size
    ev = np.asarray(n_event).ravel().astype(np.int64)
    ce = np.asarray(n_censor).ravel().astype(np.int64)
    if ev.size != m or ce.size != m:
        raise InputError("time, group, n_event and n_censor must have one length")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise InputError("survival times must be finite and >= 0")
    if np.any(ev < 0) or np.any(ce < 0):
        raise InputError("n_event and n_censor must be non-negative")
    g_all = np.asarray(group)
    if np.any(missing_mask(g_all, m)):
        raise InputError("group has missing values: drop those rows and count them instead")
    codes, labels, _ = factorize_groups(g_all, m)
    if len(labels) < 2:
        raise EstimationError(
            f"There is only 1 group ({labels[0] if labels else 'no rows left'}): "
            "the log-rank test needs at least two groups",
            fix="check the grouping variable and missing values",
        )
    if strata is not None:
        s_all = np.asarray(strata)
        if np.any(missing_mask(s_all, m)):
            raise InputError("strata has missing values: drop those rows and count them instead")
        scode, s_labels, _ = factorize_groups(s_all, m)
        n_strata = len(s_labels)
    else:
        scode, n_strata = np.zeros(m, dtype=np.int64), 1
    k = len(labels)
    # one integer key per (stratum, time): ranks of the times, offset per stratum
    uniq_t, t_rank = np.unique(t + 0.0, return_inverse=True)
    key = scode * uniq_t.size + t_rank.reshape(-1)
    ukey, b_of_row = np.unique(key, return_inverse=True)
    b_of_row = b_of_row.reshape(-1)
    nb = ukey.size
    total = np.zeros((nb, k), dtype=np.int64)
    deaths = np.zeros((nb, k), dtype=np.int64)
    np.add.at(total, (b_of_row, codes), ev + ce)
    np.add.at(deaths, (b_of_row, codes), ev)
    return _CountBlocks(
        labels=labels,
        total=total,
        deaths=deaths,
        block_stratum=(ukey // uniq_t.size).astype(np.int64),
        n_per_group=total.sum(axis=0).astype(np.int64),
        n_strata=n_strata,
    )


def _survdiff_counts(blocks: _CountBlocks, rho: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Observed, expected and variance as ``_survdiff``, from block counts.

    The arrays fed to the final arithmetic (numbers at risk, deaths and the at-risk matrix
    at the death times, the weights) hold the same values in the same order as in
    ``_survdiff``, so the results are the same to the last bit.
    """
    total, dth = blocks.total, blocks.deaths
    nb, k = total.shape
    bs = blocks.block_stratum
    at_risk = np.empty_like(total)  # C order: its rows are taken below
    if bs[0] == bs[-1]:  # one stratum (block_stratum is sorted)
        bounds = np.array([0, nb])
        np.cumsum(total[::-1], axis=0, out=at_risk[::-1])
    else:
        s_first = np.flatnonzero(np.concatenate(([True], bs[1:] != bs[:-1])))
        bounds = np.append(s_first, nb)
        for a, b in itertools.pairwise(bounds.tolist()):  # one pass per stratum
            at_risk[a:b] = np.cumsum(total[a:b][::-1], axis=0)[::-1]
    # Counts as float64 from here (exact: whole numbers far below 2^53, so their sums are
    # exact in any order); row sums column by column, as sum(axis=1) over a handful of
    # columns is many times slower.
    at_risk_f = at_risk.astype(np.float64)
    dth_f = dth.astype(np.float64)
    n_risk = _row_sums(at_risk_f)
    deaths = _row_sums(dth_f)
    if rho == 0.0:
        weight = np.ones(nb)
    else:
        factor = (n_risk - deaths) / n_risk
        weight = np.empty(nb)
        for a, b in itertools.pairwise(bounds.tolist()):
            km = np.cumprod(factor[a:b])
            weight[a] = 1.0
            weight[a + 1 : b] = km[:-1]
        weight = weight**rho
    death_at = (deaths > 0).nonzero()[0]
    w = weight[death_at]
    d = deaths[death_at]
    nr = n_risk[death_at]
    # np.take of float rows is many times faster than boolean indexing of integer rows
    risk = at_risk_f.take(death_at, axis=0)
    dg = dth_f.take(death_at, axis=0)
    obs = np.empty(k)
    for j in range(k):
        obs[j] = float(np.add.reduce(w * dg[:, j]))  # np.sum without its wrapper
    exp = (w * d / nr) @ risk
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(nr > 1, w * w * d * (nr - d) / (nr * (nr - 1)), 0.0)
    var = np.diag(c @ risk) - (risk * (c / nr)[:, None]).T @ risk
    return obs, exp, var
