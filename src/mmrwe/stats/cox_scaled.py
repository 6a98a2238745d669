"""Cox regression over data streamed in chunks: the scaled path's ``coxph``.

:func:`cox_fit_chunked` fits the same model as :func:`mmrwe.stats.cox.cox_fit` (R
``coxph``: Efron or Breslow ties, strata, R's centring/scaling, step-halving and stopping
rule, generalized Cholesky) without ever holding the cohort in memory. The data arrive as
chunks of (time, event, X, stratum) from a re-iterable source, and every Newton-Raphson
iteration is one pass that adds each chunk's risk-weighted sums of ``[1, x, x x']`` into
per-(stratum, time, status) accumulators. Memory is O(chunk + distinct times x p^2),
whatever the number of patients. With many columns (``mode="per_row"``, chosen
automatically above :data:`PER_ROW_MIN_COLUMNS` columns) each iteration makes two passes
instead: the per-time sums of [1, x] only, then the information as the sum over chunks of
X' diag(r a) X (as ``cox_fit``), so memory is O(chunk x p + distinct times x p). Likelihood, score and information then come from those
per-time sums by the same code as ``cox_fit`` (R ``coxfit6.c``), so the two agree to
rounding: only the order in which rows are added differs.

:func:`cox_zph_chunked` is ``cox.zph`` (the survival >= 3.0 score test) computed the same
way. Harrell's concordance needs the order of every pair; it is computed exactly (as
``cox_fit``) when the cohort is small enough to hold three numeric arrays
(``concordance_max_rows``), and is None beyond, with a warning saying so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType, SimpleNamespace
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.stats import chi2

from mmrwe.core.errors import EstimationError, InputError
from mmrwe.stats.cox import (
    DEFAULT_EPS,
    DEFAULT_MAX_ITER,
    ChisqTest,
    CoxResult,
    Ties,
    _chisq_sf,
    _concordance,
    _cumsum_within,
    _efron_terms,
    _fit_messages,
    _layout,
    _newton_raphson,
    _sym_upper,
    _term_mean_parts,
    _term_moments,
    _tri_index,
    _wald_table,
    _wald_test,
    aeq_times,
)
from mmrwe.stats.coxzph import PHTest

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: One chunk: times (n,), event flags (n,), covariates (n, p), stratum codes 0..K-1 or None.
CoxChunk = tuple[FloatArray, BoolArray, FloatArray, IntArray | None]
#: A re-iterable source: each call starts a new pass over all rows (any row order).
ChunkSource = Callable[[], Iterable[CoxChunk]]
#: ``mode="auto"`` evaluates per row (two passes per Newton step, O(times x p) memory)
#: from this many columns on; below, one pass with per-time sums of x x' (O(times x p^2)),
#: which reads the source half as often.
PER_ROW_MIN_COLUMNS = 11
Mode = Literal["auto", "per_time", "per_row"]


def chunks_from_arrays(
    time: FloatArray,
    event: BoolArray,
    x: FloatArray,
    stratum: IntArray | None = None,
    *,
    chunk_size: int = 1_000_000,
) -> ChunkSource:
    """A :data:`ChunkSource` over in-memory arrays (tests; arrays memory-mapped from disk)."""
    n = len(time)

    def gen() -> Iterable[CoxChunk]:
        for a in range(0, n, chunk_size):
            b = min(a + chunk_size, n)
            yield (
                np.asarray(time[a:b], dtype=np.float64),
                np.asarray(event[a:b], dtype=bool),
                np.asarray(x[a:b], dtype=np.float64).reshape(b - a, -1),
                None if stratum is None else np.asarray(stratum[a:b], dtype=np.int64),
            )

    return gen


#: Rows whose group index a chunked fit keeps between passes (4 bytes each: 200 MB at most).
GROUP_INDEX_CACHE_MAX_ROWS = 50_000_000


@dataclass(frozen=True, slots=True)
class _Groups:
    """The (stratum, time) groups of the cohort, sorted: the only per-time state kept."""

    code: IntArray  # (G,) stratum * n_cuts + rank of the merged time, ascending
    cuts: FloatArray  # merged distinct times (aeqSurv)
    g_time: FloatArray  # (G,) merged time of each group
    total: IntArray  # (G,) rows per group
    deaths: IntArray  # (G,) deaths per group
    s_gbounds: IntArray  # group index where each stratum starts (n_strata + 1)
    dgroups: IntArray  # groups with deaths
    nd: IntArray  # deaths in each of dgroups
    n_strata: int

    # chunk number -> group index of its rows, kept from the first pass (every Newton step
    # reads the same chunks in the same order); int32, up to GROUP_INDEX_CACHE_MAX_ROWS rows
    memo: list[NDArray[np.int32]] = field(default_factory=list, compare=False, repr=False)

    def index(self, time: FloatArray, stratum: IntArray | None) -> IntArray:
        """Group index of each row."""
        rank = np.searchsorted(self.cuts, time, side="right") - 1
        s = 0 if stratum is None else stratum.astype(np.int64)
        return np.searchsorted(self.code, s * self.cuts.size + rank).astype(np.int64)

    def chunk_index(self, k: int, time: FloatArray, stratum: IntArray | None) -> Any:
        """:meth:`index` of the ``k``-th chunk of the source, computed on the first pass.

        Two binary searches per row and pass were a third of a chunked fit's time (at 1e7
        rows, 0.7 s per pass); the kept indices cost 4 bytes per row, and only the first
        :data:`GROUP_INDEX_CACHE_MAX_ROWS` rows are kept, so memory stays bounded.
        """
        if k < len(self.memo) and self.memo[k].size == time.size:
            return self.memo[k]
        g = self.index(time, stratum)
        kept = sum(m.size for m in self.memo)
        if k == len(self.memo) and kept + g.size <= GROUP_INDEX_CACHE_MAX_ROWS:
            self.memo.append(g.astype(np.int32))
        return g


@dataclass(slots=True)
class _Setup:
    groups: _Groups
    n: int
    events: int
    p: int
    means: FloatArray
    scale: FloatArray
    raw_mean: FloatArray  # plain mean of each column (cox.zph recentring)
    xdead_raw: FloatArray  # sum of the raw columns over deaths


def _as_chunk(chunk: CoxChunk, p: int | None) -> CoxChunk:
    time, event, x, stratum = chunk
    t = np.asarray(time, dtype=np.float64).ravel() + 0.0
    e = np.asarray(event).ravel().astype(bool)
    xm = np.asarray(x, dtype=np.float64).reshape(t.size, -1)
    if p is not None and xm.shape[1] != p:
        raise InputError(f"every chunk must have {p} columns, got {xm.shape[1]}")
    s = None if stratum is None else np.asarray(stratum, dtype=np.int64).ravel()
    return t, e, xm, s


def _chunk_pairs(t: FloatArray, ss: IntArray, n_strata: int) -> tuple[IntArray, FloatArray, Any]:
    """The distinct (stratum, time) pairs of a chunk: (pair keys ``stratum * len(ut) +
    time code``, the chunk's distinct times ``ut``, each row's pair number (int32)).

    Times are coded by hashing (a chunk holds few distinct times: days of follow-up), and
    pairs counted in a table of strata x times when it is small; sorting every chunk twice
    was a third of the time of a chunked fit's setup. The keys need not be sorted.
    """
    import pandas as pd

    codes, ut = pd.factorize(t, sort=False)
    ut = np.asarray(ut, dtype=np.float64)
    key = ss * ut.size + codes
    size = n_strata * ut.size
    if size <= 4 * t.size + 1024:
        seen = np.zeros(size, dtype=bool)
        seen[key] = True
        uk = np.flatnonzero(seen)
        number = np.zeros(size, dtype=np.int32)
        number[uk] = np.arange(uk.size, dtype=np.int32)
        return uk.astype(np.int64), ut, number[key]
    uk, inv = np.unique(key, return_inverse=True)
    return uk.astype(np.int64), ut, inv.reshape(-1).astype(np.int32)


@dataclass(frozen=True, slots=True)
class ColumnSums:
    """Rows, column sums and whether each column holds only -1, 0 and 1, of every row a
    source gives: the caller that wrote the rows (a spill) passes them to
    :func:`cox_fit_chunked`, which then needs one pass less (R's scale factors are
    computed in the first pass instead of a second)."""

    n: int
    sums: FloatArray
    zero_one: BoolArray


def _setup(
    source: ChunkSource, n_strata: int, timefix: bool, sums: ColumnSums | None = None
) -> _Setup:
    """Pass 1: distinct (stratum, time) with counts, sums; pass 2: R's scale factors
    (in pass 1 when the column sums are given)."""
    given_means = None
    if sums is not None and sums.n > 0:
        given_means = np.where(sums.zero_one, 0.0, np.asarray(sums.sums) / sums.n)
        absdev_1 = np.zeros(given_means.size)
    parts_s: list[IntArray] = []
    parts_t: list[FloatArray] = []
    parts_n: list[IntArray] = []
    parts_d: list[IntArray] = []
    n = events = 0
    p: int | None = None
    xsum = xdead = zero_one = None
    pairs: list[tuple[IntArray, FloatArray, Any]] = []  # per chunk: (stratum, time, row -> pair)
    kept_rows = 0
    for n_chunk, chunk in enumerate(source()):
        t, e, xm, s = _as_chunk(chunk, p)
        if p is None:
            p = xm.shape[1]
            xsum, xdead, zero_one = np.zeros(p), np.zeros(p), np.ones(p, dtype=bool)
        assert xsum is not None
        assert xdead is not None
        assert zero_one is not None
        if t.size == 0:
            if len(pairs) == n_chunk:  # keep the chunk numbering of the kept pairs
                pairs.append((np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int32)))
            continue
        if not np.all(np.isfinite(t)) or np.any(t < 0):
            raise InputError("survival times must be finite and >= 0")
        if not np.all(np.isfinite(xm)):
            raise InputError(
                "X contains a missing or infinite value",
                fix="drop rows with a missing covariate before fitting (R's na.omit)",
            )
        ss = np.zeros(t.size, dtype=np.int64) if s is None else s
        if np.any(ss < 0) or np.any(ss >= n_strata):
            raise InputError(f"stratum codes must lie in 0..{n_strata - 1}")
        n += t.size
        events += int(e.sum())
        xsum += xm.sum(axis=0)
        if given_means is not None:
            if given_means.size != xm.shape[1]:
                raise InputError("the column sums given have another number of columns than X")
            absdev_1 += np.abs(xm - given_means).sum(axis=0)
        xdead += xm[e].sum(axis=0)
        zero_one &= np.all(np.isin(xm, (-1.0, 0.0, 1.0)), axis=0)
        uk, ut, local = _chunk_pairs(t, ss, n_strata)
        parts_s.append(uk // ut.size)
        parts_t.append(ut[uk % ut.size])
        parts_n.append(np.bincount(local, minlength=uk.size).astype(np.int64))
        parts_d.append(np.bincount(local, weights=e, minlength=uk.size).astype(np.int64))
        if kept_rows + t.size <= GROUP_INDEX_CACHE_MAX_ROWS and len(pairs) == n_chunk:
            # the rows' (stratum, time) pair, to become their group index once the groups
            # of the whole cohort are known (the first Newton pass then searches nothing)
            pairs.append((uk // ut.size, ut[uk % ut.size], local))
            kept_rows += t.size
    if p is None or n == 0:
        raise InputError("no rows to fit")
    if p == 0:
        raise InputError("the Cox model needs at least one covariate")
    assert xsum is not None
    assert xdead is not None
    assert zero_one is not None
    if events == 0:
        raise EstimationError(
            "the Cox model cannot be fitted: no events (R returns NA coefficients)",
            fix="check the endpoint definition; every patient is censored",
        )
    all_s = np.concatenate(parts_s)
    all_t = np.concatenate(parts_t)
    raw_times = np.unique(all_t)
    cuts = aeq_times(raw_times) if timefix else raw_times
    cuts = np.unique(cuts)
    rank = np.searchsorted(cuts, all_t, side="right") - 1
    code_rows = all_s * cuts.size + rank
    code, inv = np.unique(code_rows, return_inverse=True)
    inv = inv.reshape(-1)
    total = np.bincount(inv, weights=np.concatenate(parts_n), minlength=code.size)
    deaths = np.bincount(inv, weights=np.concatenate(parts_d), minlength=code.size)
    g_stratum = code // cuts.size
    has_death = deaths > 0
    groups = _Groups(
        code=code.astype(np.int64),
        cuts=cuts,
        g_time=cuts[code % cuts.size],
        total=total.astype(np.int64),
        deaths=deaths.astype(np.int64),
        s_gbounds=np.searchsorted(g_stratum, np.arange(n_strata + 1), side="left").astype(np.int64),
        dgroups=np.flatnonzero(has_death).astype(np.int64),
        nd=deaths[has_death].astype(np.int64),
        n_strata=n_strata,
    )
    for ps, pt, local in pairs:
        group_of_pair = groups.index(pt, ps)
        groups.memo.append(group_of_pair[local].astype(np.int32))
    del pairs
    # centring and scaling as coxfit6.c (and cox_fit): nocenter = c(-1, 0, 1) columns alone
    if given_means is not None and sums is not None:
        if sums.n != n or not np.array_equal(sums.zero_one, zero_one):
            raise InputError("the column sums given are not those of the source's rows")
        raw_mean = np.asarray(sums.sums) / n
        means = given_means
        absdev = absdev_1
    else:
        raw_mean = xsum / n
        means = np.where(zero_one, 0.0, raw_mean)
        absdev = np.zeros(p)
        for chunk in source():
            _, _, xm, _ = _as_chunk(chunk, p)
            absdev += np.abs(xm - means).sum(axis=0)
    absmean = absdev / n
    scale = np.where(
        zero_one, 1.0, np.where(absmean > 0, 1.0 / np.where(absmean > 0, absmean, 1), 1.0)
    )
    return _Setup(groups, n, events, p, means, scale, raw_mean, xdead)


def _design_sums(
    source: ChunkSource,
    st: _Setup,
    center: FloatArray,
    scale: FloatArray,
    coef: FloatArray,
    shift: float,
    extra: Callable[[IntArray, BoolArray, FloatArray], None] | None = None,
    second: bool = True,
) -> tuple[FloatArray, FloatArray]:
    """One pass: per group, sums of exp(eta - shift) * [1, x, x x'] (censored, deaths).

    ``x = (raw - center) * scale`` and ``eta = x @ coef``. Returns (cens, dead), each of
    shape (G, 1 + p + p(p+1)/2); with ``second=False`` only [1, x], (G, 1 + p).
    """
    gr = st.groups
    p = st.p
    iu, ju = _tri_index(p) if second else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    k = 1 + p + iu.size
    ng = gr.code.size
    acc = np.zeros((k, 2 * ng))
    for n_chunk, chunk in enumerate(source()):
        t, e, xm, s = _as_chunk(chunk, p)
        if t.size == 0:
            continue
        g = gr.chunk_index(n_chunk, t, s)
        xs = (xm - center) * scale
        risk = np.exp(xs @ coef - shift)
        blk = 2 * g + e
        acc[0] += np.bincount(blk, weights=risk, minlength=2 * ng)
        for j in range(p):
            acc[1 + j] += np.bincount(blk, weights=risk * xs[:, j], minlength=2 * ng)
        for c, (i, j) in enumerate(zip(iu, ju, strict=True)):
            acc[1 + p + c] += np.bincount(blk, weights=risk * xs[:, i] * xs[:, j], minlength=2 * ng)
        if extra is not None:
            extra(g, e, xs)
    return acc[:, 0::2].T.copy(), acc[:, 1::2].T.copy()


def _later(gr: _Groups, cens: FloatArray, dead: FloatArray) -> FloatArray:
    """Sums over later groups of the same stratum (the rest of the risk set)."""
    v = cens + dead
    incl = np.empty_like(v)
    b = gr.s_gbounds
    for k in range(b.size - 1):  # a loop over strata (few)
        lo, hi = int(b[k]), int(b[k + 1])
        if hi > lo:
            incl[lo:hi] = np.cumsum(v[lo:hi][::-1], axis=0)[::-1]
    later = np.zeros_like(incl)
    later[:-1] = incl[1:]
    last = b[1:] - 1
    later[last[last >= b[:-1]]] = 0.0
    return later


class _Evaluator:
    """Log partial likelihood, score and information at beta, one pass per call."""

    def __init__(self, source: ChunkSource, st: _Setup, ties: Ties) -> None:
        self.source, self.st, self.ties = source, st, ties
        self.iu, self.ju = _tri_index(st.p)
        lay = SimpleNamespace(dgroups=st.groups.dgroups, nd=st.groups.nd)
        self.term_g, self.term_f, self.term_w = _efron_terms(lay, ties)
        self.xdead_sum = (st.xdead_raw - st.events * st.means) * st.scale
        self.passes = 0

    def __call__(self, beta: FloatArray) -> tuple[float, FloatArray, FloatArray]:
        st = self.st
        cens, dead = _design_sums(self.source, st, st.means, st.scale, beta, 0.0)
        self.passes += 1
        later = _later(st.groups, cens, dead)
        dg = st.groups.dgroups
        base = later[dg] + cens[dg]
        dd = dead[dg]
        g, f, w = self.term_g, self.term_f, self.term_w
        denom = base[g, 0] + f * dd[g, 0]
        loglik = float(np.dot(self.xdead_sum, beta) - np.dot(w, np.log(denom)))
        smean, imat = _term_moments(base, dd, g, f, w, denom, st.p, self.iu, self.ju)
        return loglik, self.xdead_sum - smean, imat


class _DeathIndex:
    """Where each (stratum, time) group stands among the death times of its stratum.

    A censored row at time t is in the risk set of every death time <= t of its stratum;
    a death also in its own time's terms, with Efron's included fraction (s1). So a row's
    weight in the information sum is a cumulative sum of the per-death-time s0 up to its
    group (:meth:`row_weights`).
    """

    def __init__(self, gr: _Groups) -> None:
        n_groups = gr.code.size
        ndg = gr.dgroups.size
        g_stratum = gr.code // gr.cuts.size
        dg_stratum = g_stratum[gr.dgroups]
        self.dbounds = np.searchsorted(dg_stratum, np.arange(gr.n_strata + 1), side="left").astype(
            np.int64
        )
        has_death = np.zeros(n_groups, dtype=bool)
        has_death[gr.dgroups] = True
        last_le = np.cumsum(has_death).astype(np.int64) - 1
        s_first = self.dbounds[g_stratum]
        self.cens_ok = last_le >= s_first
        self.last_le = np.maximum(last_le, 0)
        own = np.full(n_groups, -1, dtype=np.int64)
        own[gr.dgroups] = np.arange(ndg, dtype=np.int64)
        self.own = np.maximum(own, 0)
        self.before_ok = own - 1 >= s_first  # an earlier death time in the stratum
        self.before = np.maximum(own - 1, 0)

    def row_weights(self, s0: FloatArray, s1: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Per group: the weight of a censored row and of a death row."""
        cs = _cumsum_within(s0, self.dbounds, reverse=False)
        a_cens = np.where(self.cens_ok, cs[self.last_le], 0.0)
        a_dead = np.where(self.before_ok, cs[self.before], 0.0) + s1[self.own]
        return a_cens, a_dead


class _RowEvaluator:
    """As :class:`_Evaluator`, with the information summed per row (two passes per call).

    Pass 1 accumulates only [r, r x] per (stratum, time, status) block; from them the
    denominators, means, log-likelihood and score, and per death time the weights
    s0 = sum_k w_k / denom_k and s1 (Efron's included fractions); pass 2 adds
    X' diag(r a) X chunk by chunk (:class:`_DeathIndex`).
    """

    def __init__(self, source: ChunkSource, st: _Setup, ties: Ties) -> None:
        self.source, self.st, self.ties = source, st, ties
        lay = SimpleNamespace(dgroups=st.groups.dgroups, nd=st.groups.nd)
        self.term_g, self.term_f, self.term_w = _efron_terms(lay, ties)
        self.xdead_sum = (st.xdead_raw - st.events * st.means) * st.scale
        self.passes = 0
        self.index = _DeathIndex(st.groups)

    def __call__(self, beta: FloatArray) -> tuple[float, FloatArray, FloatArray]:
        st = self.st
        gr = st.groups
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            cens, dead = _design_sums(self.source, st, st.means, st.scale, beta, 0.0, second=False)
            later = _later(gr, cens, dead)
            dg = gr.dgroups
            base = later[dg] + cens[dg]
            dd = dead[dg]
            g, f, w = self.term_g, self.term_f, self.term_w
            denom = base[g, 0] + f * dd[g, 0]
            loglik = float(np.dot(self.xdead_sum, beta) - np.dot(w, np.log(denom)))
            ba, da = base[:, 1:], dd[:, 1:]
            s0, s1, mm = _term_mean_parts(ba, da, g, f, w, denom)
            smean = s0 @ ba + s1 @ da
            a_cens, a_dead = self.index.row_weights(s0, s1)
            c2 = _cross_pass(self.source, st, beta, a_cens, a_dead)
        self.passes += 2
        return loglik, self.xdead_sum - smean, _sym_upper(c2) - mm


def _cross_pass(
    source: ChunkSource,
    st: _Setup,
    beta: FloatArray,
    a_cens: FloatArray,
    a_dead: FloatArray,
    shift: float = 0.0,
) -> FloatArray:
    """Sum over chunks of x' diag(r a) x, a per row from its group (censored / death).

    ``a_cens``/``a_dead`` may have a leading axis of several weight sets (the PH test's
    powers of g(t)); the result then has one (p, p) matrix per set.
    """
    gr = st.groups
    multi = a_cens.ndim == 2
    q = beta.size
    out = np.zeros((a_cens.shape[0], q, q)) if multi else np.zeros((q, q))
    block = 32768
    for n_chunk, chunk in enumerate(source()):
        t, e, xm, s = _as_chunk(chunk, st.p)
        if t.size == 0:
            continue
        g = gr.chunk_index(n_chunk, t, s)
        xs = (xm - st.means) * st.scale
        risk = np.exp(xs @ beta - shift)
        for a0 in range(0, t.size, block):
            sl = slice(a0, a0 + block)
            xb, gb, eb, rb = xs[sl], g[sl], e[sl], risk[sl]
            for k in range(a_cens.shape[0] if multi else 1):
                ac, ad = (a_cens[k], a_dead[k]) if multi else (a_cens, a_dead)
                ar = np.where(eb, ad[gb], ac[gb])
                # rows at risk at no death time have a = 0: keep an overflowed risk from NaN
                wt = np.where(ar != 0, rb * ar, 0.0)
                if multi:
                    out[k] += xb.T @ (xb * wt[:, None])
                else:
                    out += xb.T @ (xb * wt[:, None])
    return out


def cox_fit_chunked(
    source: ChunkSource,
    *,
    names: Sequence[str],
    ties: Ties = "efron",
    n_strata: int | None = None,
    conf_level: float = 0.95,
    max_iter: int = DEFAULT_MAX_ITER,
    eps: float = DEFAULT_EPS,
    toler_inf: float | None = None,
    toler_chol: float | None = None,
    timefix: bool = True,
    terms: Sequence[str] | None = None,
    concordance_max_rows: int = 2_000_000,
    mode: Mode = "auto",
    column_sums: ColumnSums | None = None,
) -> ChunkedCoxFit:
    """Fit a Cox model from chunks, as R ``coxph`` (and :func:`~mmrwe.stats.cox.cox_fit`).

    Parameters
    ----------
    source : callable
        Each call returns an iterable of chunks ``(time, is_event, X, stratum)``: times
        (n,), event flags (n,), covariates (n, p) without missing values, stratum codes
        0..n_strata-1 (or None). It is called once per pass (about ``iterations + 4``).
    names : sequence of str
        Column names of X.
    ties : {"efron", "breslow"}
    n_strata : int, optional
        Number of strata (codes in the chunks); None for an unstratified model.
    conf_level, max_iter, eps, toler_inf, toler_chol, timefix, terms :
        As for :func:`~mmrwe.stats.cox.cox_fit`.
    concordance_max_rows : int
        Largest cohort for which the concordance is computed (it needs every row's time,
        status and linear predictor in memory); beyond, None with a warning.
    mode : {"auto", "per_time", "per_row"}
        ``"per_time"``: one pass per Newton step, per-time sums of x x' (memory O(times
        x p^2)); ``"per_row"``: two passes per step, the information summed per row
        (memory O(chunk x p + times x p), much faster with many columns); ``"auto"``:
        per row from :data:`PER_ROW_MIN_COLUMNS` columns on. The two agree to rounding.
    column_sums : ColumnSums, optional
        The rows, column sums and -1/0/1 columns of the source, when the caller has them
        (it wrote the rows): saves one pass. Checked against the rows.

    Returns
    -------
    ChunkedCoxFit
        ``.result`` is the :class:`CoxResult`, as ``cox_fit`` gives it (model-based
        variance; no robust/cluster variance here). Pass the whole object to
        :func:`cox_zph_chunked` for the PH test (``cox_zph`` needs the rows).

    Notes
    -----
    Equals ``coxph(Surv(time, status) ~ ... [+ strata(s)], ties = ties)`` of survival
    3.5; agrees with ``cox_fit`` on the same rows to ~1e-12 relative (summation order).
    """
    names_t = tuple(str(nm) for nm in names)
    if ties not in ("efron", "breslow"):
        raise InputError(f"ties must be 'efron' or 'breslow', got {ties!r}")
    if not 0 < conf_level < 1:
        raise InputError(f"conf_level must be in (0, 1), got {conf_level}")
    if max_iter < 0 or eps <= 0:
        raise InputError("max_iter must be >= 0 and eps > 0")
    tol_inf = math.sqrt(eps) if toler_inf is None else float(toler_inf)
    tol_chol = float(np.finfo(np.float64).eps) ** 0.75 if toler_chol is None else float(toler_chol)
    stratified = n_strata is not None
    st = _setup(source, int(n_strata) if n_strata is not None else 1, timefix, column_sums)
    p = st.p
    if len(names_t) != p:
        raise InputError(f"names has {len(names_t)} entries but X has {p} columns")
    term_labels = (
        tuple(terms) if terms is not None else tuple(nm.split("=", 1)[0] for nm in names_t)
    )
    scale = st.scale
    if mode not in ("auto", "per_time", "per_row"):
        raise InputError(f"mode must be 'auto', 'per_time' or 'per_row', got {mode!r}")
    per_row = mode == "per_row" or (mode == "auto" and p >= PER_ROW_MIN_COLUMNS)
    evaluate: _Evaluator | _RowEvaluator = (
        _RowEvaluator(source, st, ties) if per_row else _Evaluator(source, st, ties)
    )

    # Newton-Raphson exactly as cox_fit (R coxfit6.c): step-halving, stopping rule
    beta = np.zeros(p)
    nr = _newton_raphson(evaluate, beta, max_iter, eps, tol_chol)
    beta, loglik0, loglik1, u_final, imat = nr.beta, nr.loglik0, nr.loglik1, nr.u, nr.imat
    var_s, flag, sctest, iterations, converged = (
        nr.var_s, nr.flag, nr.sctest, nr.iterations, nr.converged,
    )  # fmt: skip

    coef_full = beta * scale
    naive_var = var_s * np.outer(scale, scale)

    # one pass for the linear predictor: its maximum (R's infinite-coefficient check) and,
    # for a cohort that fits, the arrays the concordance needs
    lp_offset = float(np.dot(coef_full, st.means))
    lp_max = -math.inf
    keep_rows = st.n <= concordance_max_rows
    c_time: list[FloatArray] = []
    c_status: list[BoolArray] = []
    c_strat: list[IntArray] = []
    c_lp: list[FloatArray] = []
    for chunk in source():
        t, e, xm, s = _as_chunk(chunk, p)
        if t.size == 0:
            continue
        lp = xm @ coef_full - lp_offset
        lp_max = max(lp_max, float(lp.max()))
        if keep_rows:
            rank = np.searchsorted(st.groups.cuts, t, side="right") - 1
            c_time.append(st.groups.cuts[rank])
            c_status.append(e)
            c_strat.append(np.zeros(t.size, dtype=np.int64) if s is None else s)
            c_lp.append(lp)

    msgs, which_sing = _fit_messages(
        flag, max_iter, p, names_t, beta, u_final, imat, tol_chol, naive_var, scale,
        coef_full, lp_max, eps, tol_inf,
    )  # fmt: skip
    coef = np.where(which_sing, np.nan, coef_full)
    keep = ~which_sing
    df = int(np.sum(keep))
    se_naive = np.where(keep, np.sqrt(np.diag(naive_var)), np.nan)
    zstat, pval, hr, lower, upper = _wald_table(coef, se_naive, conf_level)
    tests: dict[str, ChisqTest] = {}
    lr = -2.0 * (loglik0 - loglik1)
    tests["lr"] = ChisqTest(lr, df, _chisq_sf(lr, df))
    wald, _ = _wald_test(naive_var[np.ix_(keep, keep)], coef_full[keep], tol_chol)
    tests["wald"] = ChisqTest(wald, df, _chisq_sf(wald, df))
    tests["score"] = ChisqTest(sctest, df, _chisq_sf(sctest, df))

    conc: float | None = None
    conc_se: float | None = None
    if keep_rows:
        time_all = np.concatenate(c_time)
        status_all = np.concatenate(c_status)
        lay = _layout(time_all, status_all, np.concatenate(c_strat), st.groups.n_strata)
        conc, conc_se = _concordance(lay, np.concatenate(c_lp)[lay.order], None, 0)
        del lay, time_all, status_all
    else:
        msgs.append(
            f"concordance not computed: {st.n} rows exceed concordance_max_rows "
            f"({concordance_max_rows}); it needs every row's linear predictor in memory"
        )
    del c_time, c_status, c_strat, c_lp

    result = CoxResult(
        names=names_t,
        coef=coef,
        se=se_naive,
        robust_se=None,
        hr=hr,
        lower=lower,
        upper=upper,
        z=zstat,
        p=pval,
        var=naive_var,
        naive_var=naive_var,
        loglik=(float(loglik0), float(loglik1)),
        tests=tests,
        concordance=conc,
        concordance_se=conc_se,
        n=int(st.n),
        events=int(st.events),
        iterations=int(iterations),
        converged=bool(converged),
        ties=ties,
        variance="model",
        strata=int(n_strata) if stratified and n_strata is not None else 0,
        conf_level=float(conf_level),
        warnings=tuple(msgs),
        terms=term_labels,
    )
    return ChunkedCoxFit(result, st, keep, coef_full, lp_offset, lp_max, per_row)


@dataclass(frozen=True, slots=True)
class ChunkedCoxFit:
    """A chunked Cox fit: the :class:`CoxResult` plus what :func:`cox_zph_chunked` needs.

    Attributes
    ----------
    result : CoxResult
        Coefficients, variance, tests, concordance, as ``cox_fit`` returns them.
    """

    result: CoxResult
    _setup: _Setup
    _keep: BoolArray
    _coef_full: FloatArray
    _lp_offset: float
    _lp_max: float
    _per_row: bool = False


def cox_zph_chunked(
    chunked: ChunkedCoxFit,
    source: ChunkSource,
    *,
    transform: Literal["km", "rank", "identity"] = "km",
    terms: bool = True,
) -> PHTest:
    """Test proportional hazards of a chunked fit, as R ``cox.zph`` (and ``cox_zph``).

    Parameters
    ----------
    chunked : ChunkedCoxFit
        A result of :func:`cox_fit_chunked` (on the same ``source``).
    source : callable
        The chunk source of the fit; one more pass is made.
    transform, terms :
        As for :func:`mmrwe.stats.coxzph.cox_zph`.

    Returns
    -------
    PHTest
        Equal to ``cox_zph(cox_fit(...))`` on the same rows, to rounding.
    """
    if transform not in ("km", "rank", "identity"):
        raise InputError(f"transform must be 'km', 'rank' or 'identity', got {transform!r}")
    fit = chunked.result
    st, keep, coef_full = chunked._setup, chunked._keep, chunked._coef_full
    lp_offset, lp_max = chunked._lp_offset, chunked._lp_max
    gr = st.groups
    kk = np.flatnonzero(keep)
    q = kk.size
    if q == 0:
        raise EstimationError("cox.zph: the model has no estimated coefficient to test")
    # g(t) per distinct (merged) time over all strata, as _km_transform / rankdata / time
    ut, inv = np.unique(gr.g_time, return_inverse=True)
    inv = inv.reshape(-1)
    n_at = np.bincount(inv, weights=gr.total, minlength=ut.size)
    n_ev = np.bincount(inv, weights=gr.deaths, minlength=ut.size)
    if transform == "identity":
        tt = ut.astype(np.float64)
    elif transform == "rank":
        before = np.concatenate(([0.0], np.cumsum(n_at)[:-1]))
        tt = before + (n_at + 1.0) / 2.0
    else:
        n_risk = np.cumsum(n_at[::-1])[::-1]
        surv = np.cumprod(1.0 - n_ev / n_risk)
        tt = 1.0 - np.concatenate(([1.0], surv[:-1]))
    gmean = float(np.sum(n_ev * tt) / np.sum(n_ev))
    g_group = (tt - gmean)[inv]  # per (stratum, time) group

    # one pass: risk sums of the recentred columns at the fit, and sum of g(t) x over deaths
    coef_q = coef_full[kk]
    center = st.raw_mean[kk]
    gx = np.zeros(q)

    def add_gx(g: IntArray, e: BoolArray, xs: FloatArray) -> None:
        nonlocal gx
        gx = gx + (g_group[g[e]][:, None] * xs[e]).sum(axis=0)

    sub = _Setup(gr, st.n, st.events, q, center, np.ones(q), center, np.zeros(q))

    def sub_source() -> Iterable[CoxChunk]:
        for t, e, xm, s in source():
            xm2 = np.asarray(xm, dtype=np.float64).reshape(len(t), -1)[:, kk]
            yield t, e, xm2, s

    # eta = (x - center) @ coef + (center - means) @ coef; shift it so that max(eta) = 0
    shift = lp_max - float(np.dot(center, coef_q)) + lp_offset
    per_row = chunked._per_row
    cens, dead = _design_sums(
        sub_source, sub, center, np.ones(q), coef_q, shift, add_gx, second=not per_row
    )
    later = _later(gr, cens, dead)
    dg = gr.dgroups
    base = later[dg] + cens[dg]
    dd = dead[dg]
    lay = SimpleNamespace(dgroups=dg, nd=gr.nd)
    gi, frac, w = _efron_terms(lay, "breslow" if fit.ties == "breslow" else "efron")
    denom = base[gi, 0] + frac * dd[gi, 0]
    gt = g_group[dg][gi]
    iu, ju = _tri_index(q)
    info = np.zeros((2 * q, 2 * q))
    u2 = np.zeros(q)
    spots = ((0, (0, 0)), (1, (0, q)), (2, (q, q)))
    if per_row:
        # as the fit's per-row mode: per-time sums of [1, x] only, then x' diag(r a) x for
        # the three powers of g(t) in one more pass
        ba, da = base[:, 1 : 1 + q], dd[:, 1 : 1 + q]
        index = _DeathIndex(gr)
        parts = [_term_mean_parts(ba, da, gi, frac, w * gt**pw, denom) for pw, _ in spots]
        weights = [index.row_weights(s0, s1) for s0, s1, _ in parts]
        c2 = _cross_pass(
            sub_source, sub, coef_q, np.stack([a for a, _ in weights]),
            np.stack([b for _, b in weights]), shift,
        )  # fmt: skip
        for k, (power, (r0, c0)) in enumerate(spots):
            s0, s1, mm = parts[k]
            info[r0 : r0 + q, c0 : c0 + q] = _sym_upper(c2[k]) - mm
            if power == 1:
                u2 = gx - (s0 @ ba + s1 @ da)
    else:
        for power, (r0, c0) in spots:
            smean, blk = _term_moments(base, dd, gi, frac, w * gt**power, denom, q, iu, ju)
            info[r0 : r0 + q, c0 : c0 + q] = blk
            if power == 1:
                u2 = gx - smean
    info[q:, :q] = info[:q, q:].T

    names = tuple(fit.names[j] for j in kk)
    term_of = tuple(fit.terms[j] for j in kk)
    labels = names if not terms else term_of
    order_terms: list[str] = []
    for lab in labels:
        if lab not in order_terms:
            order_terms.append(lab)
    out: dict[str, tuple[float, int, float]] = {}
    for term in order_terms:
        jj = [j for j, lab in enumerate(labels) if lab == term]
        idx = list(range(q)) + [q + j for j in jj]
        uvec = np.concatenate((np.zeros(q), u2[jj]))
        stat = float(np.linalg.solve(info[np.ix_(idx, idx)], uvec) @ uvec)
        out[term] = (stat, len(jj), float(chi2.sf(stat, len(jj))))
    uall = np.concatenate((np.zeros(q), u2))
    gstat = float(np.linalg.solve(info, uall) @ uall)
    return PHTest(
        transform=transform,
        terms=MappingProxyType(out),
        global_=(gstat, q, float(chi2.sf(gstat, q))),
        ties=fit.ties,
    )
