"""Cox proportional-hazards regression, as R ``survival::coxph`` (survival 3.5).

:func:`cox_fit` reproduces ``coxph(Surv(time, status) ~ x1 + ... [+ strata(s)],
weights = , ties = "efron" | "breslow", cluster = , robust = )`` for right-censored data
(``coxph.fit`` / ``coxfit6.c``) and ``coxph(Surv(start, stop, status) ~ ...)`` for
counting-process data (``agreg.fit`` / ``agfit4.c``: time-varying covariates, delayed entry):

* ``aeqSurv`` near-tie merging of the times (``coxph.control(timefix = TRUE)``);
* centring and scaling of the covariates as ``coxfit6.c`` / ``agfit4.c`` (columns whose
  values all lie in {-1, 0, 1} are left alone, R's ``nocenter``), so that the singularity
  tolerance of the Cholesky decomposition acts on the same numbers as in R;
* Newton-Raphson with R's step-halving and stopping rule
  ``|1 - loglik_old / loglik_new| <= eps`` (``coxph.control``: ``eps = 1e-9``,
  ``iter.max = 20``, ``toler.chol = eps^0.75``, ``toler.inf = sqrt(eps)``), with the small
  differences between ``coxfit6.c`` and ``agfit4.c`` kept;
* R's generalized Cholesky (``cholesky2``/``chsolve2``/``chinv2``): a column found to be
  redundant gets a zero row/column in the variance and an ``NA`` (here ``None``) coefficient;
* the "coefficient may be infinite" checks of ``coxph.fit`` and ``agreg.fit``;
* case weights as R: risk scores ``w exp(eta)``, Efron's tied deaths each weighted by the
  mean weight of the deaths, weighted log-likelihood, score and information;
* robust (infinitesimal-jackknife) variance from the weighted score residuals
  (``coxscore2.c``, ``agscore2.c``), summed within clusters, and the robust score test;
* Harrell's concordance as ``concordancefit(reverse = TRUE, timewt = "n")`` with case
  weights and (start, stop] risk sets, and its infinitesimal-jackknife standard error
  (``concordance3.c``, ``concordance4``), per stratum.

Everything is vectorized over rows and over distinct times. The rows are sorted once by
(stratum, stop, status); each row is at risk at the death times in an interval of the
sorted death times, so every risk-set sum is one sparse aggregation into per-death-time
buckets followed by a cumulative sum over the death times of each stratum. The information
matrix is never built per death time: sum_t (w_t / denom_t) sum_{i at risk} r_i x_i x_i' is
X' diag(r a) X with a_i the sum of w_t / denom_t over the death times row i is at risk at,
one BLAS product, so memory is O(n p) and time O(n p^2) per Newton step.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from scipy.stats import chi2

from mmrwe.core.errors import EstimationError, InputError, SeparationWarning
from mmrwe.stats._common import as_time_event, none_if_nan, read_only, z_value

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

Ties = Literal["efron", "breslow"]

# coxph.control() defaults of survival 3.5
DEFAULT_EPS = 1e-9
DEFAULT_MAX_ITER = 20
_DBL_EPS = float(np.finfo(np.float64).eps)
# cumulative sums within strata loop over the strata (accurate: no subtraction of the other
# strata's totals); beyond this many strata one global pass is used instead (see
# _cumsum_within)
_MAX_STRATA_LOOP = 256


# ----------------------------------------------------------------------------------------
# Result types
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChisqTest:
    """A chi-square test: statistic, degrees of freedom, upper-tail p."""

    chisq: float | None
    df: int
    p: float | None

    def to_dict(self) -> dict[str, float | int | None]:
        """Return ``{"chisq", "df", "p"}``; ``None`` where R gives NA."""
        return {"chisq": none_if_nan(self.chisq), "df": int(self.df), "p": none_if_nan(self.p)}


@dataclass(frozen=True, slots=True)
class _ZphData:
    """What ``cox.zph`` needs from a fit, in the fit's sorted order (private)."""

    time: FloatArray  # stop times after aeqSurv, sorted by (stratum, stop, status)
    status: BoolArray
    stratum: IntArray  # 0-based stratum code per row
    x: FloatArray  # (n, q) original (uncentred) covariates of the non-NA columns
    eta: FloatArray  # linear predictor as coxph's fit$linear.predictors
    coef: FloatArray  # (q,) the non-NA coefficients
    names: tuple[str, ...]  # the q non-NA column names
    terms: tuple[str, ...]  # term label of each of the q columns
    start: FloatArray | None = None  # start times (counting process), else None
    weights: FloatArray | None = None  # case weights, else None


@dataclass(frozen=True, slots=True)
class CoxResult:
    """A fitted Cox model, as R ``summary(coxph(...))``.

    Attributes
    ----------
    names : tuple of str
        Column names of X (categorical dummies named ``variable=level``).
    coef, se, hr, lower, upper, z, p : ndarray, shape (p,)
        Coefficients, model-based standard errors, hazard ratios exp(coef), Wald limits
        exp(coef -+ z se) (robust se when ``variance == "robust"``), z = coef / se
        (robust se when robust) and two-sided Wald p. NaN where R gives NA (a column
        deemed redundant: constant, or constant within every stratum, or collinear).
    robust_se : ndarray or None
        Robust (sandwich) standard errors, ``None`` for model-based variance.
    var : ndarray, shape (p, p)
        Variance matrix used for inference (robust when robust), read-only; R's ``fit$var``.
    naive_var : ndarray, shape (p, p)
        Model-based variance (inverse information); equals ``var`` unless robust.
    loglik : tuple of float
        Log partial likelihood at the initial values and at the estimate.
    tests : dict
        ``lr``, ``wald``, ``score`` (and ``robust_score`` when robust) :class:`ChisqTest`.
    concordance, concordance_se : float or None
        ``summary(coxph)$concordance``: Harrell's C (pairs tied on the risk score count 1/2,
        pairs tied on time are not comparable) and its infinitesimal-jackknife SE
        (clustered when a cluster was given), computed within strata.
    n, events : int
        Rows used and number of events.
    iterations : int
        Newton-Raphson iterations (R's ``fit$iter``).
    converged : bool
        False when the iteration limit was reached (R: "Ran out of iterations").
    ties : {"efron", "breslow"}
    variance : {"model", "robust"}
    strata : int
        Number of strata (0 when the model is not stratified).
    conf_level : float
    warnings : tuple of str
        Messages for the user (monotone likelihood, non-convergence, redundant columns).
    terms : tuple of str
        Term label of each column (a categorical variable's dummies share one).
    case_weights : bool
        Fitted with case weights (R ``weights =``).
    counting_process : bool
        Fitted on (start, stop] data (R ``Surv(start, stop, event)``).
    """

    names: tuple[str, ...]
    coef: FloatArray
    se: FloatArray
    robust_se: FloatArray | None
    hr: FloatArray
    lower: FloatArray
    upper: FloatArray
    z: FloatArray
    p: FloatArray
    var: FloatArray
    naive_var: FloatArray
    loglik: tuple[float, float]
    tests: dict[str, ChisqTest]
    concordance: float | None
    concordance_se: float | None
    n: int
    events: int
    iterations: int
    converged: bool
    ties: Ties
    variance: Literal["model", "robust"]
    strata: int
    conf_level: float
    warnings: tuple[str, ...]
    terms: tuple[str, ...] = ()
    case_weights: bool = False
    counting_process: bool = False
    _zph: _ZphData | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("coef", "se", "hr", "lower", "upper", "z", "p", "var", "naive_var"):
            object.__setattr__(self, name, read_only(getattr(self, name), dtype=np.float64))
        if self.robust_se is not None:
            object.__setattr__(self, "robust_se", read_only(self.robust_se, dtype=np.float64))

    @property
    def df(self) -> int:
        """Number of estimated (non-NA) coefficients, the df of the global tests."""
        return int(np.sum(np.isfinite(self.coef)))

    def to_dict(self) -> dict[str, Any]:
        """Return the contract's cox entry (coefficients, tests, concordance, n, events, ties).

        A coefficient that R reports as NA (redundant column) has every value ``None``.
        ``case_weights`` and ``counting_process`` (both ``true``) are present only for fits
        that used them, so the entry of an ordinary fit is unchanged.
        """
        coefs: dict[str, dict[str, float | None]] = {}
        for j, name in enumerate(self.names):
            entry: dict[str, float | None] = {
                "coef": none_if_nan(self.coef[j]),
                "se": none_if_nan(self.se[j]) if np.isfinite(self.coef[j]) else None,
                "hr": none_if_nan(self.hr[j]),
                "lower": none_if_nan(self.lower[j]),
                "upper": none_if_nan(self.upper[j]),
                "z": none_if_nan(self.z[j]),
                "p": none_if_nan(self.p[j]),
            }
            if self.robust_se is not None:
                entry["robust_se"] = (
                    none_if_nan(self.robust_se[j]) if np.isfinite(self.coef[j]) else None
                )
            coefs[name] = entry
        out: dict[str, Any] = {
            "coefficients": coefs,
            "tests": {k: v.to_dict() for k, v in self.tests.items()},
            "concordance": none_if_nan(self.concordance),
            "concordance_se": none_if_nan(self.concordance_se),
            "loglik": [none_if_nan(self.loglik[0]), none_if_nan(self.loglik[1])],
            "n": int(self.n),
            "events": int(self.events),
            "iterations": int(self.iterations),
            "converged": bool(self.converged),
            "ties": self.ties,
            "variance": self.variance,
            "strata": int(self.strata),
            "conf_level": float(self.conf_level),
            "warnings": list(self.warnings),
        }
        if self.case_weights:
            out["case_weights"] = True
        if self.counting_process:
            out["counting_process"] = True
        return out


# ----------------------------------------------------------------------------------------
# R's generalized Cholesky routines (cholesky2.c, chsolve2.c, chinv2.c), for small p
# ----------------------------------------------------------------------------------------


def _cholesky2(mat: FloatArray, toler: float) -> tuple[FloatArray, int]:
    """LDL' decomposition with R's singularity rule; returns (factor, rank or -rank).

    The factor holds D on the diagonal and F (unit lower triangular) below it. A pivot
    below ``toler * max(diag)`` (or non-finite) is set to zero: that column is redundant.
    """
    n = mat.shape[0]
    m = np.array(mat, dtype=np.float64, copy=True)
    m = np.triu(m) + np.triu(m, 1).T  # the routine reads the upper triangle
    eps = 0.0
    for i in range(n):
        if m[i, i] > eps:
            eps = m[i, i]
    if eps == 0:
        for i in range(n):
            m[i, i] = 0.0
        return m, 0
    eps *= toler
    rank = 0
    nonneg = 1
    for i in range(n):
        pivot = m[i, i]
        if not math.isfinite(pivot) or pivot < eps:
            m[i, i] = 0.0
            if pivot < -8 * eps:
                nonneg = -1
        else:
            rank += 1
            for j in range(i + 1, n):
                temp = m[j, i] / pivot
                m[j, i] = temp
                m[j, j] -= temp * temp * pivot
                for k in range(j + 1, n):
                    m[k, j] -= temp * m[k, i]
    return m, rank * nonneg


def _chsolve2(fac: FloatArray, y: FloatArray) -> FloatArray:
    """Solve A b = y given ``_cholesky2`` of A; redundant components get 0."""
    n = fac.shape[0]
    b = np.array(y, dtype=np.float64, copy=True)
    for i in range(n):
        temp = b[i]
        for j in range(i):
            temp -= b[j] * fac[i, j]
        b[i] = temp
    for i in range(n - 1, -1, -1):
        if fac[i, i] == 0:
            b[i] = 0.0
        else:
            temp = b[i] / fac[i, i]
            for j in range(i + 1, n):
                temp -= b[j] * fac[j, i]
            b[i] = temp
    return b


def _chinv2(fac: FloatArray) -> FloatArray:
    """Inverse from ``_cholesky2``; rows and columns of redundant columns are zero."""
    n = fac.shape[0]
    m = np.array(fac, dtype=np.float64, copy=True)
    for i in range(n):
        if m[i, i] > 0:
            m[i, i] = 1.0 / m[i, i]
            for j in range(i + 1, n):
                m[j, i] = -m[j, i]
                for k in range(i):
                    m[j, k] += m[j, i] * m[i, k]
    for i in range(n):
        if m[i, i] == 0:
            for j in range(i):
                m[j, i] = 0.0
            for j in range(i, n):
                m[i, j] = 0.0
        else:
            for j in range(i + 1, n):
                temp = m[j, i] * m[j, j]
                m[i, j] = temp
                for k in range(i, j):
                    m[i, k] += temp * m[j, k]
    out = np.triu(m)
    return out + np.triu(out, 1).T


def _converged(loglik_old: float, loglik_new: float, eps: float) -> bool:
    """coxfit6.c's test fabs(1 - old/new) <= eps, with C's IEEE division: a log-likelihood of
    exactly 0 (e.g. a single event alone in its risk set) gives NaN or inf, not a crash."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.float64(loglik_old) / np.float64(loglik_new)
    return bool(abs(1.0 - ratio) <= eps)


def _wald_test(var: FloatArray, b: FloatArray, toler_chol: float) -> tuple[float, int]:
    """R's ``coxph.wtest``: b' var^- b with the generalized Cholesky; df = its rank."""
    if b.size == 0:
        return 0.0, 0
    if not (np.all(np.isfinite(var)) and np.all(np.isfinite(b))):
        return math.nan, int(b.size)
    fac, _ = _cholesky2(var, toler_chol)
    df = int(np.sum(np.diag(fac) > 0))
    sol = _chsolve2(fac, b)
    return float(np.dot(b, sol)), df


def _chisq_sf(x: float, df: int) -> float:
    if not math.isfinite(x) or df <= 0:
        return math.nan
    return float(chi2.sf(x, df))


# ----------------------------------------------------------------------------------------
# Data preparation
# ----------------------------------------------------------------------------------------


def aeq_times(time: FloatArray, tolerance: float = math.sqrt(_DBL_EPS)) -> FloatArray:
    """Merge near-tied times as R ``aeqSurv`` (``coxph.control(timefix = TRUE)``).

    Sorted distinct times closer than ``tolerance`` (absolutely, or relative to the mean
    absolute distinct time) are replaced by the smaller one, so floating-point noise from
    unit conversions (days / 30.4375) does not split tied times.
    """
    if time.size == 0:
        return time
    cuts = _aeq_cuts(time, tolerance)
    if cuts is None:
        return time
    idx = np.searchsorted(cuts, time, side="right") - 1
    return cuts[idx]


def _aeq_cuts(values: FloatArray, tolerance: float) -> FloatArray | None:
    """The merged distinct values of ``aeqSurv``, or None when nothing is merged."""
    y = np.unique(values)
    y = y[np.isfinite(y)]
    if y.size < 2:
        return None
    dy = np.diff(y)
    tied = (dy <= tolerance) | ((dy / np.mean(np.abs(y))) <= tolerance)
    if not np.any(tied):
        return None
    return y[np.concatenate(([True], ~tied))]


def aeq_counting(
    start: FloatArray, stop: FloatArray, tolerance: float = math.sqrt(_DBL_EPS)
) -> tuple[FloatArray, FloatArray]:
    """``aeqSurv`` for (start, stop] data: start and stop times are merged together.

    Raises :class:`InputError` when merging makes an interval empty (R: "aeqSurv exception,
    an interval has effective length 0").
    """
    if stop.size == 0:
        return start, stop
    cuts = _aeq_cuts(np.concatenate((start, stop)), tolerance)
    if cuts is None:
        return start, stop
    i1 = np.searchsorted(cuts, start, side="right") - 1
    i2 = np.searchsorted(cuts, stop, side="right") - 1
    if np.any((i1 == i2) & (start != stop)):
        raise InputError(
            "a (start, stop] interval becomes empty when near-tied times are merged "
            "(R: 'aeqSurv exception, an interval has effective length 0')",
            fix="check for intervals shorter than about 1e-8 of the time scale, or use "
            "timefix=False",
        )
    return cuts[i1], cuts[i2]


def _codes(labels: ArrayLike, what: str, n: int) -> tuple[IntArray, int]:
    """Integer codes 0..k-1 of a label vector in sorted label order (R's factor order)."""
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InputError(f"{what} must be a 1-d array with one value per row")
    if arr.dtype.kind == "f" and np.any(np.isnan(arr)):
        raise InputError(f"{what} has missing values", fix=f"drop rows with a missing {what}")
    if arr.dtype == object and any(v is None for v in arr.tolist()):
        raise InputError(f"{what} has missing values", fix=f"drop rows with a missing {what}")
    uniq, inv = np.unique(arr, return_inverse=True)
    return inv.astype(np.int64).ravel(), int(uniq.size)


def _default_terms(names: Sequence[str]) -> tuple[str, ...]:
    # the pipeline names dummies "variable=level": the term is the part before "="
    return tuple(str(nm).split("=", 1)[0] for nm in names)


def _check_weights(weights: ArrayLike, n: int) -> FloatArray:
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or w.shape[0] != n:
        raise InputError(f"weights must be a 1-d array of length {n}, got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise InputError("weights must be finite (R: 'weights must be finite')")
    if np.any(w <= 0):
        raise InputError(
            "weights must be > 0 (R coxph: 'Invalid weights, must be >0')",
            fix="drop the rows with weight 0 before fitting",
        )
    return w


def _check_start(start: ArrayLike, stop: FloatArray) -> FloatArray:
    s = np.asarray(start, dtype=np.float64)
    if s.ndim != 1 or s.shape != stop.shape:
        raise InputError(f"start must be a 1-d array of length {stop.size}, got {s.shape}")
    if not np.all(np.isfinite(s)):
        raise InputError("start times must be finite (no NaN or infinity)")
    bad = np.flatnonzero(s >= stop)
    if bad.size:
        raise InputError(
            f"{bad.size} row(s) have start >= stop (first: row {int(bad[0])}: start "
            f"{float(s[bad[0]])!r}, stop {float(stop[bad[0]])!r}); R's Surv() makes them NA",
            fix="every (start, stop] interval must have start < stop",
        )
    return s + 0.0  # -0.0 -> +0.0


@dataclass(slots=True)
class _Layout:
    """The data sorted once by (stratum, time, status), with its block structure.

    A *block* is a run of rows with the same (stratum, time, status); a *group* is a run
    with the same (stratum, time). Censored rows come before deaths within a time, so each
    group has at most one censored and one death block, in that order. For (start, stop]
    data ``time`` is the stop time.
    """

    order: IntArray
    time: FloatArray
    status: BoolArray
    stratum: IntArray
    bstart: IntArray  # first row of each block
    b_group: IntArray  # group index of each block
    b_death: BoolArray  # block holds deaths
    b_count: IntArray  # rows in each block
    n_groups: int
    g_stratum: IntArray  # stratum of each group
    g_time: FloatArray
    s_gbounds: IntArray  # group index where each stratum starts (len n_strata + 1)
    dgroups: IntArray  # groups with deaths
    nd: IntArray  # deaths in each of dgroups


def _layout(time: FloatArray, status: BoolArray, stratum: IntArray, n_strata: int) -> _Layout:
    # one stable sort; R sorts by order(strata, time): the status key only changes the
    # order of additions within a tied time, which does not change any sum in exact arithmetic
    order = np.lexsort((status.astype(np.int8), time, stratum)).astype(np.int64)
    t = time[order]
    s = status[order]
    st = stratum[order]
    n = t.size
    new_group = np.empty(n, dtype=bool)
    new_group[0] = True
    new_group[1:] = (t[1:] != t[:-1]) | (st[1:] != st[:-1])
    new_block = new_group.copy()
    new_block[1:] |= s[1:] != s[:-1]
    bstart = np.flatnonzero(new_block).astype(np.int64)
    gid = np.cumsum(new_group) - 1
    b_group = gid[bstart].astype(np.int64)
    b_death = s[bstart]
    b_count = np.diff(np.append(bstart, n)).astype(np.int64)
    gstart = np.flatnonzero(new_group)
    n_groups = int(gstart.size)
    g_stratum = st[gstart].astype(np.int64)
    g_time = t[gstart]
    s_gbounds = np.searchsorted(g_stratum, np.arange(n_strata + 1), side="left").astype(np.int64)
    dgroups = b_group[b_death]
    nd = b_count[b_death]
    return _Layout(
        order=order,
        time=t,
        status=s,
        stratum=st,
        bstart=bstart,
        b_group=b_group,
        b_death=b_death,
        b_count=b_count,
        n_groups=n_groups,
        g_stratum=g_stratum,
        g_time=g_time,
        s_gbounds=s_gbounds,
        dgroups=dgroups,
        nd=nd,
    )


def _tri_index(p: int) -> tuple[IntArray, IntArray]:
    iu, ju = np.triu_indices(p)
    return iu.astype(np.int64), ju.astype(np.int64)


def _cumsum_within(v: FloatArray, bounds: IntArray, *, reverse: bool) -> FloatArray:
    """Cumulative sums along axis 0 restarted at each stratum (bounds: starts + end).

    ``reverse``: sums from the end of each stratum (rows g..end), as R accumulates risk
    sets backwards in time, which keeps the small late risk sets accurate.
    """
    n_seg = bounds.size - 1
    if n_seg <= _MAX_STRATA_LOOP:
        out = np.empty_like(v)
        # a loop over strata (few), not over patients or times
        for k in range(n_seg):
            a, b = int(bounds[k]), int(bounds[k + 1])
            if b > a:
                if reverse:
                    out[a:b] = np.cumsum(v[a:b][::-1], axis=0)[::-1]
                else:
                    out[a:b] = np.cumsum(v[a:b], axis=0)
        return out
    # many small strata (matched sets): one global cumulative sum minus each stratum's
    # offset; the error is then relative to the running total of the strata summed before
    # (about n_strata * eps), accepted to avoid a Python loop over thousands of strata
    n = v.shape[0]
    seg_of = np.repeat(np.arange(n_seg), np.diff(bounds))
    if reverse:
        src, seg_start, seg_of = v[::-1], n - bounds[1:], seg_of[::-1]
    else:
        src, seg_start = v, bounds[:-1]
    cs = np.cumsum(src, axis=0)
    before = cs[np.maximum(seg_start - 1, 0)]
    before[seg_start == 0] = 0.0
    out = cs - before[seg_of]
    return out[::-1] if reverse else out


def _efron_terms(lay: Any, ties: Ties) -> tuple[IntArray, FloatArray, FloatArray]:
    """Per-term (index into ``lay.dgroups``, fraction of the deaths' risk included, weight).

    Efron: a time with d deaths gives d terms, the k-th (k = 1..d) with the deaths'
    risk sums multiplied by k/d, each with weight 1 (coxfit6.c adds ``denom2/ndead`` d
    times). Breslow: one term per time with fraction 1 and weight d. With case weights the
    weights become the deaths' mean weight (Efron) or their total weight (Breslow): see
    :func:`_term_weights`.
    """
    ndg = lay.dgroups.size
    if ties == "breslow" or ndg == 0 or np.all(lay.nd == 1):
        return np.arange(ndg, dtype=np.int64), np.ones(ndg), lay.nd.astype(np.float64)
    gi = np.repeat(np.arange(ndg, dtype=np.int64), lay.nd)
    first = np.cumsum(lay.nd) - lay.nd
    k = np.arange(gi.size) - np.repeat(first, lay.nd) + 1
    frac = k / np.repeat(lay.nd, lay.nd).astype(np.float64)
    return gi, frac, np.ones(gi.size)


def _term_weights(
    gi: IntArray, nd: IntArray, deadwt: FloatArray | None, ties: Ties
) -> FloatArray | None:
    """Case-weighted term weights (None without case weights: keep _efron_terms' weights).

    coxfit6.c / agfit4.c: Breslow weighs a death time by the deaths' total weight
    ``deadwt``; Efron's d terms each by their mean weight ``deadwt / d`` (a single death
    is the Breslow term).
    """
    if deadwt is None:
        return None
    if ties == "breslow" or np.all(nd == 1):
        return deadwt[gi]
    return deadwt[gi] / nd[gi].astype(np.float64)


def _term_moments(
    base: FloatArray,
    dead: FloatArray,
    gi: IntArray,
    frac: FloatArray,
    wv: FloatArray,
    denom: FloatArray,
    p: int,
    iu: IntArray,
    ju: IntArray,
) -> tuple[FloatArray, FloatArray]:
    """sum_k wv_k mean_k and sum_k wv_k (C_k / denom_k - mean_k mean_k'), per-group algebra.

    Term k of death time g has sums ``base[g] + frac_k dead[g]`` (risk, risk x, risk xx'
    as the columns [1, x, x_j x_k (j <= k)]). Used by the chunked fit (cox_scaled.py),
    which accumulates risk x x' per death time; :func:`cox_fit` uses :func:`_term_means`
    and the per-row form instead.
    """
    s0, s1, mm = _term_mean_parts(base[:, 1 : 1 + p], dead[:, 1 : 1 + p], gi, frac, wv, denom)
    smean = s0 @ base[:, 1 : 1 + p] + s1 @ dead[:, 1 : 1 + p]
    c2 = s0 @ base[:, 1 + p :] + s1 @ dead[:, 1 + p :]
    return smean, _unpack_sym(c2, p, iu, ju) - mm


def _term_mean_parts(
    ba: FloatArray,
    da: FloatArray,
    gi: IntArray,
    frac: FloatArray,
    wv: FloatArray,
    denom: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per-death-time s0 = sum_k wv_k / denom_k, s1 = sum_k wv_k frac_k / denom_k, and
    mm = sum_k wv_k mean_k mean_k' with mean_k = (ba[g] + frac_k da[g]) / denom_k.

    Everything linear in the per-time sums is aggregated per time first (bincount over
    terms of scalars only), so no (terms x p) array is ever formed.
    """
    ng = ba.shape[0]
    wd = wv / denom
    s0 = _wsum(gi, wd, ng)
    s1 = _wsum(gi, wd * frac, ng)
    wd2 = wd / denom
    t0 = _wsum(gi, wd2, ng)
    t1 = _wsum(gi, wd2 * frac, ng)
    t2 = _wsum(gi, wd2 * frac * frac, ng)
    cross = (ba * t1[:, None]).T @ da
    mm = (ba * t0[:, None]).T @ ba + cross + cross.T + (da * t2[:, None]).T @ da
    return s0, s1, mm


def _wsum(idx: IntArray, v: FloatArray, m: int) -> FloatArray:
    """Sum of ``v`` per index 0..m-1 (np.bincount with weights, typed as float)."""
    return np.asarray(np.bincount(idx, weights=v, minlength=m), dtype=np.float64)


def _unpack_sym(vals: FloatArray, p: int, iu: IntArray, ju: IntArray) -> FloatArray:
    out = np.zeros((p, p))
    out[iu, ju] = vals
    out[ju, iu] = vals
    return out


def _sym_upper(m: FloatArray) -> FloatArray:
    """The symmetric matrix of m's upper triangle (what R's cholesky2 reads)."""
    up = np.triu(m)
    return up + np.triu(up, 1).T


# ----------------------------------------------------------------------------------------
# Risk sets at the death times
# ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class _RiskSets:
    """Which death times each sorted row is at risk at, and sums over those risk sets.

    Death groups are the distinct (stratum, time) with at least one death, in sorted
    order. Row i is at risk at death group g when start_i < t_g <= stop_i in its stratum
    (start = -inf without ``start``). It is in the *base* set of g (the risk set without
    g's deaths) for g in [first_i, base_end_i], and in the *dead* set of its own death
    group ``last_i`` when it is an event.
    """

    ndg: int
    bounds: IntArray  # death-group index where each stratum starts (n_strata + 1)
    first: IntArray  # per row
    base_end: IntArray  # per row; base_end < first: in no base set
    last: IntArray  # per row: last death group with t_g <= stop (own group for deaths)
    event: BoolArray
    late: BoolArray  # per row in a base set: enters after its stratum's first death time
    in_base: BoolArray
    to_base: Any  # sparse (ndg x n): +1 at base_end, -1 at first - 1 for late rows
    to_dead: Any  # sparse (ndg x n): +1 at the own death group of each event row
    nd: IntArray  # deaths per death group
    dg_time: FloatArray
    dg_stratum: IntArray

    def sums(self, v: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(base, dead) sums of the row values ``v`` (n, m) per death group, (ndg, m).

        The base sums are cumulated from the last death time of each stratum backwards:
        a row is added at its last base time and, with delayed entry, taken out again
        before its entry (as agfit4.c adds and removes rows while walking back in time).
        """
        base = _cumsum_within(np.asarray(self.to_base @ v), self.bounds, reverse=True)
        dead = np.asarray(self.to_dead @ v)
        return base, dead

    def per_row(self, s0: FloatArray, s1: FloatArray) -> FloatArray:
        """For each row: sum of ``s0[g]`` over its base death groups, plus ``s1`` of its own
        death group when it is an event (shapes (ndg,) or (ndg, m) -> (n,) or (n, m))."""
        cs = _cumsum_within(s0, self.bounds, reverse=False)
        end = np.maximum(self.base_end, 0)
        out = cs[end]
        lead = np.maximum(self.first - 1, 0)
        if np.any(self.late):
            out = out - np.where(_col(self.late, s0), cs[lead], 0.0)
        out = np.where(_col(self.in_base, s0), out, 0.0)
        own = s1[np.maximum(self.last, 0)]
        return out + np.where(_col(self.event, s0), own, 0.0)


def _col(mask: BoolArray, like: FloatArray) -> BoolArray:
    return mask[:, None] if like.ndim == 2 else mask


_PREPARED: ContextVar[dict[tuple[Any, ...], Any] | None] = ContextVar("_cox_prepared", default=None)


@contextmanager
def shared_layout() -> Iterator[None]:
    """Within the block, Cox fits on the same times, events, strata and entry times share
    one preparation (the tied-time correction, the sort and the risk sets).

    The preparation does not depend on the covariates, and is most of a fit's time at
    large n (at 1e6 rows, 0.4 s of 0.7 s): a model and its reduced models for the term
    tests, or a model refitted on other covariates, sort the rows once. Fits are matched by
    the content of their arrays (a digest), so a fit on other rows never gets another's
    preparation; the results are those of separate fits, bit for bit. Nested blocks share
    the outer block's preparations, which are released when it ends.
    """
    if _PREPARED.get() is not None:
        yield
        return
    token = _PREPARED.set({})
    try:
        yield
    finally:
        _PREPARED.reset(token)


def _digest(a: NDArray[Any] | None) -> tuple[Any, ...] | None:
    if a is None:
        return None
    arr = np.ascontiguousarray(a)
    digest = hashlib.blake2b(arr.tobytes(), digest_size=16).digest()
    return (arr.dtype.str, arr.shape, digest)


def _prepared(
    t: FloatArray,
    ev: BoolArray,
    scode: IntArray,
    n_strata: int,
    st0: FloatArray | None,
    timefix: bool,
) -> tuple[FloatArray, FloatArray | None, _Layout, _RiskSets]:
    """(time and entry time after the tied-time correction, layout, risk sets) of a fit,
    from the :func:`shared_layout` block's store when it holds the same data."""
    cache = _PREPARED.get()
    key: tuple[Any, ...] | None = None
    if cache is not None:
        key = (n_strata, timefix, _digest(t), _digest(ev), _digest(scode), _digest(st0))
        hit = cache.get(key)
        if hit is not None:
            return hit
    if timefix:
        if st0 is None:
            t = aeq_times(t)
        else:
            st0, t = aeq_counting(st0, t)
    lay = _layout(t, ev, scode, n_strata)
    rs = _risk_sets(lay, None if st0 is None else st0[lay.order])
    if cache is not None:
        # kept for later fits: copies, so that a caller changing its own arrays afterwards
        # cannot change what the key promises (the caller's arrays are never frozen)
        t = t.copy()
        st0 = None if st0 is None else st0.copy()
    out = (t, st0, lay, rs)
    # what the fit made (and, in a block, the copies) may be shared: a write raises
    owned = (*_arrays(lay), *_arrays(rs), *((t, st0) if cache is not None else ()))
    for arr in owned:
        if isinstance(arr, np.ndarray):
            arr.flags.writeable = False
    if cache is not None and key is not None:
        cache.clear()  # one data set at a time: at 1e6 rows a preparation holds ~100 MB
        cache[key] = out
    return out


def _arrays(obj: Any) -> list[Any]:
    return [getattr(obj, f) for f in obj.__slots__]


def _risk_sets(lay: _Layout, start: FloatArray | None) -> _RiskSets:
    """Risk-set bookkeeping for the rows in layout order (``start`` in that order too)."""
    n = lay.time.size
    dg = lay.dgroups
    ndg = int(dg.size)
    dg_time = lay.g_time[dg]
    dg_stratum = lay.g_stratum[dg]
    n_strata = lay.s_gbounds.size - 1
    bounds = np.searchsorted(dg_stratum, np.arange(n_strata + 1), side="left").astype(np.int64)
    # (stratum, time) as one sortable integer key: times by their rank among all times
    all_t = lay.time if start is None else np.concatenate((lay.time, start))
    ut = np.unique(all_t)
    k = np.int64(ut.size + 1)
    dg_key = dg_stratum * k + np.searchsorted(ut, dg_time)
    stop_key = lay.stratum * k + np.searchsorted(ut, lay.time)
    last = (np.searchsorted(dg_key, stop_key, side="right") - 1).astype(np.int64)
    s_first = bounds[lay.stratum]
    if start is None:
        first = s_first
        late = np.zeros(n, dtype=bool)
    else:
        start_key = lay.stratum * k + np.searchsorted(ut, start)
        first = np.searchsorted(dg_key, start_key, side="right").astype(np.int64)
        late = first > s_first
    event = lay.status
    has_time = last >= s_first  # some death time of the stratum at or before the stop
    base_end = np.where(event, last - 1, last)
    in_base = has_time & (base_end >= first)
    late = late & in_base
    rows = np.arange(n, dtype=np.int64)
    add_r, add_c = base_end[in_base], rows[in_base]
    sub_r, sub_c = first[late] - 1, rows[late]
    to_base = sparse.csr_matrix(
        (
            np.concatenate((np.ones(add_r.size), -np.ones(sub_r.size))),
            (np.concatenate((add_r, sub_r)), np.concatenate((add_c, sub_c))),
        ),
        shape=(ndg, n),
    )
    to_base.sum_duplicates()
    to_dead = sparse.csr_matrix(
        (np.ones(int(event.sum())), (last[event], rows[event])), shape=(ndg, n)
    )
    return _RiskSets(
        ndg=ndg,
        bounds=bounds,
        first=first.astype(np.int64),
        base_end=base_end.astype(np.int64),
        last=last,
        event=event,
        late=late,
        in_base=in_base,
        to_base=to_base,
        to_dead=to_dead,
        nd=lay.nd.astype(np.int64),
        dg_time=dg_time,
        dg_stratum=dg_stratum,
    )


# ----------------------------------------------------------------------------------------
# One evaluation of loglik, score and information (coxfit6_iter, agfit4's inner loop)
# ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Problem:
    rs: _RiskSets
    x: FloatArray  # (n, p) centred/scaled, sorted
    w: FloatArray | None  # case weights, sorted (None: all 1)
    p: int
    term_g: IntArray  # index into the death groups
    term_frac: FloatArray
    term_w: FloatArray
    xdead_sum: FloatArray  # sum of w x over deaths
    vbuf: FloatArray  # (n, p + 1) scratch for [risk, risk x], reused by every evaluation


def _risk_values(x: FloatArray, risk: FloatArray, out: FloatArray | None = None) -> FloatArray:
    """Rows [risk, risk * x]: what the likelihood sums over risk sets (into ``out``)."""
    v = np.empty((x.shape[0], x.shape[1] + 1)) if out is None else out
    v[:, 0] = risk
    np.multiply(x, risk[:, None], out=v[:, 1:])
    return v


def _weighted_cross(x: FloatArray, a: FloatArray, block: int = 32768) -> FloatArray:
    """x' diag(a) x, exactly symmetric, summed over blocks of rows.

    Blocks keep the temporary x * a small (memory O(block p), not O(n p)) and the BLAS
    products short; the partial products are added in a fixed order.
    """
    n, p = x.shape
    out = np.zeros((p, p))
    for s in range(0, n, block):
        xb = x[s : s + block]
        out += xb.T @ (xb * a[s : s + block, None])
    return _sym_upper(out)


def _evaluate(pr: _Problem, beta: FloatArray) -> tuple[float, FloatArray, FloatArray]:
    """Log partial likelihood, score and information at ``beta`` (scaled space)."""
    # overflow of exp() at wild trial values gives inf/nan, which the caller treats as
    # R does (step halving), so numpy's warnings would only be noise
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        eta = pr.x @ beta
        risk = np.exp(eta)
        if pr.w is not None:
            risk = risk * pr.w
        base, dead = pr.rs.sums(_risk_values(pr.x, risk, pr.vbuf))
        g = pr.term_g
        f = pr.term_frac
        w = pr.term_w
        denom = base[g, 0] + f * dead[g, 0]
        loglik = float(np.dot(pr.xdead_sum, beta) - np.dot(w, np.log(denom)))
        ba, da = base[:, 1:], dead[:, 1:]
        s0, s1, mm = _term_mean_parts(ba, da, g, f, w, denom)
        smean = s0 @ ba + s1 @ da
        a = pr.rs.per_row(s0, s1)
        # rows never at risk have a = 0; keep an overflowed risk there from making NaN
        imat = _weighted_cross(pr.x, np.where(a != 0, risk * a, 0.0)) - mm
    return loglik, pr.xdead_sum - smean, imat


# ----------------------------------------------------------------------------------------
# Score residuals (coxscore2.c, agscore2.c), for the robust variance
# ----------------------------------------------------------------------------------------


def _score_residuals(pr: _Problem, eta: FloatArray) -> FloatArray:
    """Score residuals in sorted order for linear predictor ``eta`` (sorted), without the
    case weights (R's ``residuals(type = "score")``; ``weighted = TRUE`` multiplies them)."""
    rs = pr.rs
    x = pr.x
    # residuals do not change when eta shifts by a constant: callers pass eta - max(eta)
    score = np.exp(eta)
    risk = score if pr.w is None else score * pr.w
    base, dead = rs.sums(_risk_values(x, risk, pr.vbuf))
    g = pr.term_g
    f = pr.term_frac  # Efron: the k-th of d terms holds k/d of the deaths (1 for Breslow)
    tot = base[g, 0] + f * dead[g, 0]
    # hazard increment of each term: the deaths' weight share over the term's denominator
    # (coxscore2.c: hazard = meanwt / (denom - downwt * e_denom), downwt = 1 - f)
    haz = pr.term_w / tot
    ndg = rs.ndg
    ba, da = base[:, 1:], dead[:, 1:]

    def per_group(v: FloatArray) -> FloatArray:
        return _wsum(g, v, ndg)

    h = per_group(haz)
    h1 = per_group(haz * f)  # a death's own time counts only its included share f
    # sum_k haz_k mean_k with mean_k = (ba + f_k da) / tot_k, aggregated per time
    xh = ba * per_group(haz / tot)[:, None] + da * per_group(haz * f / tot)[:, None]
    xh1 = ba * per_group(haz * f / tot)[:, None] + da * per_group(haz * f * f / tot)[:, None]
    # a death's own term: x minus the average of its time's d means
    cnt = np.maximum(per_group(np.ones(g.size)), 1.0)
    mavg = ba * (per_group(1.0 / tot) / cnt)[:, None] + da * (per_group(f / tot) / cnt)[:, None]
    hh = rs.per_row(h, h1)
    xhh = rs.per_row(xh, xh1)
    resid = -score[:, None] * (x * hh[:, None] - xhh)
    ev = rs.event
    resid[ev] += x[ev] - mavg[rs.last[ev]]
    return resid


def _rowsum(v: FloatArray, codes: IntArray, k: int) -> FloatArray:
    out = np.zeros((k, v.shape[1]))
    for j in range(v.shape[1]):
        out[:, j] = np.bincount(codes, weights=v[:, j], minlength=k)
    return out


# ----------------------------------------------------------------------------------------
# Concordance (concordancefit / concordance3.c and concordance4, reverse = TRUE, timewt "n")
# ----------------------------------------------------------------------------------------


class _WaveletMatrix:
    """Rank queries on an integer sequence: among positions [s, e), how many values are
    < r and how many == r (or, with weights, the total weight of those). Built in
    O(n log sigma) by stable partitions on each bit; the queries of all rows are answered
    together, one bit level at a time.
    """

    def __init__(self, values: IntArray, nbits: int, weights: FloatArray | None = None) -> None:
        self.nbits = nbits
        self.weighted = weights is not None
        self.zeros: list[NDArray[np.int32]] = []
        self.wzeros: list[FloatArray] = []
        self.nz: list[int] = []
        cur = values.astype(np.int32)
        wcur = weights
        for lev in range(nbits - 1, -1, -1):
            is0 = ((cur >> lev) & 1) == 0
            zp = np.zeros(cur.size + 1, dtype=np.int32)
            np.cumsum(is0, out=zp[1:])
            self.zeros.append(zp)
            self.nz.append(int(zp[-1]))
            if wcur is not None:
                wz = np.zeros(cur.size + 1)
                np.cumsum(np.where(is0, wcur, 0.0), out=wz[1:])
                self.wzeros.append(wz)
                wcur = np.concatenate((wcur[is0], wcur[~is0]))
            cur = np.concatenate((cur[is0], cur[~is0]))
        self.wfinal = None
        if wcur is not None:
            self.wfinal = np.zeros(cur.size + 1)
            np.cumsum(wcur, out=self.wfinal[1:])

    def count_less_equal(
        self, s: IntArray, e: IntArray, r: IntArray
    ) -> tuple[NDArray[Any], NDArray[Any]]:
        """(# values < r, # values == r) in [s, e), per query; weights summed if weighted."""
        less: NDArray[Any] = np.zeros(s.size, dtype=np.float64 if self.weighted else np.int64)
        s32 = s.astype(np.int32)
        e32 = e.astype(np.int32)
        r32 = r.astype(np.int32)
        for i, lev in enumerate(range(self.nbits - 1, -1, -1)):
            zp = self.zeros[i]
            zs = zp[s32]
            ze = zp[e32]
            one = ((r32 >> lev) & 1).astype(bool)
            if self.weighted:
                wz = self.wzeros[i]
                less += np.where(one, wz[e32] - wz[s32], 0.0)
            else:
                less += np.where(one, ze - zs, 0)
            # follow r's bit: into the ones (offset by the number of zeros) or the zeros
            nz = np.int32(self.nz[i])
            s32 = np.where(one, nz + (s32 - zs), zs)
            e32 = np.where(one, nz + (e32 - ze), ze)
        # the range left after following every bit of r holds exactly the values == r
        if self.wfinal is not None:
            return less, self.wfinal[e32] - self.wfinal[s32]
        return less, (e32 - s32).astype(np.int64)


def _concordance(
    lay: _Layout,
    lp: FloatArray,
    cluster: IntArray | None,
    n_cluster: int,
    weights: FloatArray | None = None,
    start: FloatArray | None = None,
) -> tuple[float | None, float | None]:
    """``concordancefit(y, lp, strata, weights, reverse = TRUE, timefix = FALSE)``: C, SE.

    ``lp``, ``cluster``, ``weights`` and ``start`` are in the layout's (sorted) row order.
    Counts as ``concordance3.c`` (time weight "n"): for each death, the rows still at risk
    (longer time, or censored at the death time, and for (start, stop] data entered before
    the death time: ``concordance4``) with a larger, smaller or equal risk score; deaths
    tied on time are not compared. With case weights a pair counts w_death * w_other. The
    SE is the infinitesimal jackknife: per-row influence = the row's own weighted
    concordant/discordant/tied pair counts, times its weight.
    """
    n = lay.time.size
    if n == 0 or not np.any(lay.status):
        return None, None
    # R ties risk scores by exact equality: utemp <- match(risk, sort(unique(risk)))
    _, xr = np.unique(lp, return_inverse=True)
    xr = xr.astype(np.int64).ravel()
    # processing order of concordance3.c within a stratum: time descending, censored
    # before deaths at a time (the order inside a block does not change any count), so
    # reorder whole (stratum, time, status) blocks instead of sorting the rows again
    nb = lay.bstart.size
    b_time = lay.time[lay.bstart]
    b_strat = lay.stratum[lay.bstart]
    bperm = np.lexsort((lay.b_death, -b_time, b_strat))
    cnt = lay.b_count[bperm]
    new_start = np.cumsum(cnt) - cnt
    order = np.repeat(lay.bstart[bperm] - new_start, cnt) + np.arange(n, dtype=np.int64)
    d = lay.status[order]
    xo = xr[order]
    wo = None if weights is None else weights[order]
    # block start and stratum end of every position
    blk_start = np.repeat(new_start, cnt)
    b_strat_new = b_strat[bperm]
    s_first = np.flatnonzero(np.concatenate(([True], b_strat_new[1:] != b_strat_new[:-1])))
    s_starts = new_start[s_first]
    s_ends = np.append(s_starts[1:], n)
    s_len_blocks = np.diff(np.append(s_first, nb))
    st_start = np.repeat(np.repeat(s_starts, s_len_blocks), cnt)
    st_end = np.repeat(np.repeat(s_ends, s_len_blocks), cnt)
    pos = np.arange(n, dtype=np.int64)
    nbits = max(1, int(np.max(xo)).bit_length())
    # deaths: comparisons with the risk set [stratum start, block start)
    di = np.flatnonzero(d)
    e_q = blk_start[di]
    s_q = st_start[di]
    lt, eq = _WaveletMatrix(xo, nbits, wo).count_less_equal(s_q, e_q, xo[di])
    tot = (e_q - s_q) if wo is None else _range_weight(wo, s_q, e_q)
    late_rank: IntArray | None = None
    if start is not None:
        # (start, stop]: rows of the stratum that enter at or after the death time are not
        # at risk; they all have a longer stop time, so they lie inside [stratum start,
        # block start): count them in the rows sorted by (stratum, start descending), where
        # they form a prefix of the stratum, and take them out
        so = start[order]
        ut = np.unique(np.concatenate((lay.time, start)))
        k = np.int64(ut.size)
        st_o = lay.stratum[order]
        t_rank = np.searchsorted(ut, lay.time[order])
        late_rank = np.searchsorted(ut, so)
        key2 = st_o * k + (k - 1 - late_rank)
        perm2 = np.argsort(key2, kind="stable")
        key2s = key2[perm2]
        q_lo = np.searchsorted(key2s, st_o[di] * k, side="left")
        q_hi = np.searchsorted(key2s, st_o[di] * k + (k - 1 - t_rank[di]), side="right")
        w2 = None if wo is None else wo[perm2]
        lt2, eq2 = _WaveletMatrix(xo[perm2], nbits, w2).count_less_equal(q_lo, q_hi, xo[di])
        lt = lt - lt2
        eq = eq - eq2
        tot = tot - ((q_hi - q_lo) if w2 is None else _range_weight(w2, q_lo, q_hi))
    gt = tot - lt - eq
    # non-reversed counts of concordance3.c: "concordant" = the longer survivor has the
    # larger score (wsum[0]: tree values > the death's)
    wd = None if wo is None else wo[di]
    conc = float(np.sum(gt if wd is None else wd * gt))
    disc = float(np.sum(lt if wd is None else wd * lt))
    tiex = float(np.sum(eq if wd is None else wd * eq))
    npair = conc + disc + tiex
    if npair == 0:
        return None, None
    somer = (conc - disc) / npair
    infl_c = np.zeros(n)
    infl_d = np.zeros(n)
    infl_c[di] = gt
    infl_d[di] = lt
    infl_n = np.zeros(n)
    infl_n[di] = gt + lt + eq
    # each row as a risk-set member of later (shorter-time) deaths of its stratum:
    # the deaths whose block starts after the row's position (and, with delayed entry,
    # whose time is after the row's start: a prefix of the stratum's deaths)
    a = np.searchsorted(e_q, pos, side="right")
    b = np.searchsorted(di, st_end, side="left")
    if late_rank is not None:
        d_key = lay.stratum[order][di] * k + (k - 1 - t_rank[di])
        b_start = np.searchsorted(d_key, lay.stratum[order] * k + (k - 1 - late_rank), "left")
        b = np.minimum(b, b_start)
    a = np.minimum(a, b)
    lt2, eq2 = _WaveletMatrix(xo[di], nbits, wd).count_less_equal(a, b, xo)
    tot2 = (b - a) if wd is None else _range_weight(wd, a, b)
    infl_c += lt2
    infl_d += tot2 - lt2 - eq2
    infl_n += tot2
    dfbeta = (infl_c - infl_d) / npair - (somer / npair) * infl_n
    if wo is not None:
        dfbeta = wo * dfbeta
    if cluster is not None:
        dfbeta = np.bincount(cluster[order], weights=dfbeta, minlength=n_cluster).astype(np.float64)
    var = float(np.sum(dfbeta**2)) / 4.0
    # reverse = TRUE: a higher risk score should go with a shorter time
    return 1.0 - (somer + 1.0) / 2.0, math.sqrt(var)


def _range_weight(w: FloatArray, s: IntArray, e: IntArray) -> FloatArray:
    """Total weight of positions [s, e) per query."""
    cs = np.zeros(w.size + 1)
    np.cumsum(w, out=cs[1:])
    return cs[e] - cs[s]


# ----------------------------------------------------------------------------------------
# The fit
# ----------------------------------------------------------------------------------------


def cox_fit(
    time: ArrayLike,
    is_event: ArrayLike,
    X: ArrayLike,
    *,
    names: Sequence[str],
    ties: Ties = "efron",
    strata: ArrayLike | None = None,
    cluster: ArrayLike | None = None,
    robust: bool | None = None,
    weights: ArrayLike | None = None,
    start: ArrayLike | None = None,
    conf_level: float = 0.95,
    init: ArrayLike | None = None,
    max_iter: int = DEFAULT_MAX_ITER,
    eps: float = DEFAULT_EPS,
    toler_inf: float | None = None,
    toler_chol: float | None = None,
    timefix: bool = True,
    terms: Sequence[str] | None = None,
    concordance: bool = True,
) -> CoxResult:
    """Fit a Cox proportional-hazards model, as R ``coxph``.

    Parameters
    ----------
    time : array_like of float, shape (n,)
        Follow-up times, >= 0; with ``start``, the stop time of each (start, stop] row.
    is_event : array_like of bool, shape (n,)
        True if follow-up (the row's interval) ended with the event.
    X : array_like of float, shape (n, p)
        Covariates (dummies for categorical terms, built by the caller). No NaN: rows with
        a missing covariate are the caller's to drop (R's ``na.omit``).
    names : sequence of str, length p
        Column names (``"variable=level"`` for dummies).
    ties : {"efron", "breslow"}
        Handling of tied event times; R's default is Efron.
    strata : array_like, optional
        Stratum label per row (``+ strata(s)``): separate baseline hazards.
    cluster : array_like, optional
        Cluster label per row (``cluster = ``): robust variance summed within clusters
        (the patient id for split (start, stop] records).
    robust : bool, optional
        Robust (sandwich) variance (``robust = TRUE``). ``None`` (default) follows R: robust
        when a cluster is given or the case weights are not all whole numbers (IPTW
        weights); each row is its own cluster unless ``cluster`` is given. ``False`` with
        a cluster ignores the cluster with a warning, as R. For (start, stop] data an
        explicit ``robust=True`` needs ``cluster`` (R: "one of cluster or id is needed").
    weights : array_like of float, shape (n,), optional
        Case weights > 0 (``weights = w``): weighted risk sets, likelihood, score,
        information, residuals and concordance, as R.
    start : array_like of float, shape (n,), optional
        Start times for counting-process data (``Surv(start, stop, event)``): row i is at
        risk at the event times t with start_i < t <= stop_i (time-varying covariates,
        delayed entry). start < stop on every row.
    conf_level : float
        Level of the Wald intervals exp(coef -+ z se).
    init : array_like, optional
        Initial coefficients (R's ``init``); zeros by default.
    max_iter, eps, toler_inf, toler_chol : optional
        ``coxph.control(iter.max = 20, eps = 1e-9, toler.inf = sqrt(eps),
        toler.chol = eps^0.75)`` with R's defaults.
    timefix : bool
        Merge near-tied times as R's ``aeqSurv`` (``coxph.control(timefix = TRUE)``); with
        ``start``, start and stop times are merged together, as R.
    terms : sequence of str, optional
        Term label of each column, used by :func:`mmrwe.stats.coxzph.cox_zph` to test a
        multi-column term jointly. Default: the part of each name before ``"="``.
    concordance : bool
        Compute Harrell's C and its standard error (about half the time of a fit with few
        covariates); ``False`` leaves both ``None``, for fits that only feed other
        statistics.

    Returns
    -------
    CoxResult
        Coefficients, variance, tests, concordance, with the conventions used.

    Notes
    -----
    Equals ``summary(coxph(Surv(time, status) ~ ..., weights = w, ties = ties))`` of
    survival 3.5 for right-censored data (``coxph.fit``) and ``coxph(Surv(start, stop,
    status) ~ ...)`` for counting-process data (``agreg.fit``, whose Newton-Raphson differs
    slightly: no convergence while step-halving, ``iter`` = ``iter.max`` when it runs out,
    the rank of the first step decides which columns are NA, and its own "may be infinite"
    rule ``|u' V| > toler.inf (1 + |coef|)``). A redundant column (constant, or constant
    within every stratum, or collinear) gets NaN here and ``None`` in
    :meth:`CoxResult.to_dict` (R: NA) and is left out of the tests' df. When the log
    likelihood converges while a coefficient keeps growing (monotone likelihood,
    separation) the result carries R's warning, naming the term, and a
    :class:`~mmrwe.core.errors.SeparationWarning` is emitted: use Firth's penalized Cox.

    Examples
    --------
    Three deaths at times 1, 2, 3 with x = 1, 0, 1: the partial likelihood
    u/(2u + 1) * 1/(1 + u), u = exp(b), is largest at u = 1/sqrt(2), b = -log(2)/2:

    >>> fit = cox_fit([1, 2, 3], [1, 1, 1], [[1.0], [0.0], [1.0]], names=["x"])
    >>> round(float(fit.coef[0]), 6)
    -0.346574
    """
    t, ev = as_time_event(time, is_event)
    n = t.size
    xmat = np.asarray(X, dtype=np.float64)
    if xmat.ndim == 1:
        xmat = xmat.reshape(-1, 1)
    if xmat.ndim != 2 or xmat.shape[0] != n:
        raise InputError(f"X must have shape (n, p) with n = {n} rows, got {xmat.shape}")
    p = xmat.shape[1]
    names_t = tuple(str(nm) for nm in names)
    if len(names_t) != p:
        raise InputError(f"names has {len(names_t)} entries but X has {p} columns")
    if p == 0:
        raise InputError("the Cox model needs at least one covariate")
    if np.any(np.isnan(xmat)):
        bad = sorted({names_t[j] for j in np.flatnonzero(np.isnan(xmat).any(axis=0))})
        raise InputError(
            f"covariate(s) {', '.join(bad)} have missing values",
            fix="drop rows with a missing covariate before fitting (R's na.omit)",
        )
    if not np.all(np.isfinite(xmat)):
        raise InputError("X contains an infinite value (R: 'data contains an infinite predictor')")
    if ties not in ("efron", "breslow"):
        raise InputError(f"ties must be 'efron' or 'breslow', got {ties!r}")
    if not 0 < conf_level < 1:
        raise InputError(f"conf_level must be in (0, 1), got {conf_level}")
    if max_iter < 0:
        raise InputError("max_iter must be >= 0")
    if eps <= 0:
        raise InputError("eps must be > 0")
    tol_inf = math.sqrt(eps) if toler_inf is None else float(toler_inf)
    tol_chol = _DBL_EPS**0.75 if toler_chol is None else float(toler_chol)
    term_labels = tuple(terms) if terms is not None else _default_terms(names_t)
    if len(term_labels) != p:
        raise InputError(f"terms has {len(term_labels)} entries but X has {p} columns")
    if n == 0:
        raise InputError("no rows to fit")
    w = None if weights is None else _check_weights(weights, n)
    st0 = None if start is None else _check_start(start, t)
    counting = st0 is not None
    n_events = int(np.sum(ev))
    if n_events == 0:
        raise EstimationError(
            "the Cox model cannot be fitted: no events (R returns NA coefficients)",
            fix="check the endpoint definition; every patient is censored",
        )

    if strata is not None:
        scode, n_strata = _codes(strata, "strata", n)
    else:
        scode, n_strata = np.zeros(n, dtype=np.int64), 1
    # R's default: robust with a cluster or with case weights that are not whole numbers
    robust_given = robust is not None
    if robust is None:
        robust = cluster is not None or (w is not None and bool(np.any(w != np.floor(w))))
    if cluster is not None and not robust:
        warnings.warn(
            "cluster given with robust=False: the cluster is ignored (R: 'cluster specified "
            "with robust=FALSE, cluster ignored')",
            UserWarning,
            stacklevel=2,
        )
        cluster = None
    if cluster is not None:
        ccode, n_cluster = _codes(cluster, "cluster", n)
    elif robust:
        if counting and robust_given:
            raise InputError(
                "a robust variance for (start, stop] data needs the cluster (patient id) of "
                "each row (R: 'one of cluster or id is needed')",
                fix="pass cluster= with the patient id of each row",
            )
        # R: cluster <- seq.int(1, nrow(mf)), every row its own cluster
        ccode, n_cluster = np.arange(n, dtype=np.int64), n
    else:
        ccode, n_cluster = None, 0

    beta0 = np.zeros(p) if init is None else np.asarray(init, dtype=np.float64).ravel()
    if beta0.size != p:
        raise InputError(f"init has {beta0.size} values but X has {p} columns")

    t, st0, lay, rs_probe = _prepared(t, ev, scode, n_strata, st0, timefix)
    xs_raw = xmat[lay.order]
    w_s = None if w is None else w[lay.order]
    start_s = None if st0 is None else st0[lay.order]
    zero_one = np.all(np.isin(xmat, (-1.0, 0.0, 1.0)), axis=0)
    if counting:
        means, scale, lp_means = _ag_centering(xs_raw, xmat, w_s, lay, rs_probe, zero_one)
        xs = xs_raw - means
    else:
        means, xs, scale = _coxfit6_centering(xmat, xs_raw, w_s, zero_one)
        lp_means = means
    xs *= scale  # in place: at large n every (n, p) copy costs

    pr = _make_problem(rs_probe, lay, xs, ties, w_s)

    beta = beta0 / scale
    if counting:
        nr = _newton_raphson_ag(lambda b: _evaluate(pr, b), beta, max_iter, eps, tol_chol)
    else:
        nr = _newton_raphson(lambda b: _evaluate(pr, b), beta, max_iter, eps, tol_chol)
    beta, loglik0, loglik1, u_final, imat = nr.beta, nr.loglik0, nr.loglik1, nr.u, nr.imat
    var_s, flag, sctest, iterations, converged = (
        nr.var_s, nr.flag, nr.sctest, nr.iterations, nr.converged,
    )  # fmt: skip

    coef_full = beta * scale
    naive_var = var_s * np.outer(scale, scale)
    if counting and not np.all(np.isfinite(coef_full)):
        raise EstimationError(
            "the Cox model failed by numeric overflow (R agreg.fit: 'routine failed due to "
            "numeric overflow')",
            fix="check the covariates for extreme values",
        )
    # R's lp: X %*% coef - sum(coef * means): coxph.fit's (weighted) means, agreg.fit's
    # plain column means (0 for nocenter columns)
    lp_sorted = xs_raw @ coef_full - float(np.dot(coef_full, lp_means))

    if counting:
        msgs, which_sing = _fit_messages_ag(
            flag, converged, max_iter, p, names_t, beta, u_final, imat, tol_chol, naive_var,
            scale, coef_full, tol_inf,
        )  # fmt: skip
    else:
        msgs, which_sing = _fit_messages(
            flag, max_iter, p, names_t, beta, u_final, imat, tol_chol, naive_var, scale,
            coef_full, float(np.max(lp_sorted)), eps, tol_inf,
        )  # fmt: skip
    coef = np.where(which_sing, np.nan, coef_full)
    keep = ~which_sing
    df = int(np.sum(keep))

    variance: Literal["model", "robust"] = "model"
    robust_se: FloatArray | None = None
    var = naive_var
    tests: dict[str, ChisqTest] = {}
    rscore: float | None = None
    if robust:
        assert ccode is not None
        variance = "robust"
        c_sorted = ccode[lay.order]
        # residuals(fit, type = "dfbeta", weighted = TRUE), summed within clusters; the
        # residuals are on the centred/scaled x: divide by the scale for the original one
        resid = _score_residuals(pr, lp_sorted - float(np.max(lp_sorted))) / scale
        if w_s is not None:
            resid = resid * w_s[:, None]
        dfb_c = _rowsum(resid @ naive_var, c_sorted, n_cluster)
        var = dfb_c.T @ dfb_c
        # R scores at the initial values: X %*% init when init is given, else lp = 0
        eta0 = (xs_raw @ beta0) if init is not None else np.zeros(n)
        resid0 = _score_residuals(pr, eta0 - float(np.max(eta0))) / scale
        if w_s is not None:
            resid0 = resid0 * w_s[:, None]
        r0 = _rowsum(resid0, c_sorted, n_cluster)
        rscore, _ = _wald_test(r0.T @ r0, r0.sum(axis=0), tol_chol)
        robust_se = np.where(keep, np.sqrt(np.diag(var)), np.nan)

    se_naive = np.where(keep, np.sqrt(np.diag(naive_var)), np.nan)
    se_used = robust_se if robust_se is not None else se_naive
    zstat, pval, hr, lower, upper = _wald_table(coef, se_used, conf_level)

    lr = -2.0 * (loglik0 - loglik1)
    tests["lr"] = ChisqTest(lr, df, _chisq_sf(lr, df))
    b_test = coef_full[keep] - (beta0[keep] if init is not None else 0.0)
    wald, _ = _wald_test(var[np.ix_(keep, keep)], b_test, tol_chol)
    tests["wald"] = ChisqTest(wald, df, _chisq_sf(wald, df))
    tests["score"] = ChisqTest(sctest, df, _chisq_sf(sctest, df))
    if rscore is not None:
        tests["robust_score"] = ChisqTest(rscore, df, _chisq_sf(rscore, df))

    conc: float | None = None
    conc_se: float | None = None
    if concordance:
        conc, conc_se = _concordance(
            lay,
            lp_sorted,
            ccode[lay.order] if (ccode is not None and cluster is not None) else None,
            n_cluster,
            w_s,
            start_s,
        )

    zph = _ZphData(
        time=lay.time,
        status=lay.status,
        stratum=lay.stratum,
        x=xs_raw if bool(np.all(keep)) else xs_raw[:, keep],
        eta=lp_sorted,
        coef=coef_full[keep],
        names=tuple(nm for nm, k in zip(names_t, keep, strict=True) if k),
        terms=tuple(tm for tm, k in zip(term_labels, keep, strict=True) if k),
        start=start_s,
        weights=w_s,
    )

    return CoxResult(
        names=names_t,
        coef=coef,
        se=se_naive,
        robust_se=robust_se,
        hr=hr,
        lower=lower,
        upper=upper,
        z=zstat,
        p=pval,
        var=var,
        naive_var=naive_var,
        loglik=(float(loglik0), float(loglik1)),
        tests=tests,
        concordance=conc,
        concordance_se=conc_se,
        n=int(n),
        events=n_events,
        iterations=int(iterations),
        converged=bool(converged),
        ties=ties,
        variance=variance,
        strata=int(n_strata) if strata is not None else 0,
        conf_level=float(conf_level),
        warnings=tuple(msgs),
        terms=term_labels,
        case_weights=w is not None,
        counting_process=counting,
        _zph=zph,
    )


def _coxfit6_centering(
    xmat: FloatArray, xs_raw: FloatArray, w_s: FloatArray | None, zero_one: BoolArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """coxfit6.c: (weighted) column means and scale = sum(w) / sum(w |x - mean|).

    Returns the means, the centred sorted covariates (one new (n, p) array) and the scale.
    """
    if w_s is None:
        means = np.where(zero_one, 0.0, xmat.mean(axis=0))
        xs = xs_raw - means
        absmean = np.mean(np.abs(xs), axis=0)
    else:
        wsum = float(np.sum(w_s))
        means = np.where(zero_one, 0.0, (w_s @ xs_raw) / wsum)
        xs = xs_raw - means
        absmean = (w_s @ np.abs(xs)) / wsum
    scale = np.where(
        zero_one, 1.0, np.where(absmean > 0, 1.0 / np.where(absmean > 0, absmean, 1), 1.0)
    )
    return means, xs, scale


def _ag_centering(
    xs_raw: FloatArray,
    xmat: FloatArray,
    w_s: FloatArray | None,
    lay: _Layout,
    rs: _RiskSets,
    zero_one: BoolArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """agfit4.c's centre and scale, and agreg.fit's centring of the linear predictor.

    agfit4.c (survival 3.5) means to centre each column per stratum, but a misplaced brace
    makes it subtract the value of the first used row in its ``sort2`` order (first
    stratum, longest stop time) from every row; the scale is then sum(w) / sum(w |x - c|)
    over the used rows (those at risk at some death time). Mirrored because the scale
    decides which pivots the Cholesky tolerance treats as zero. The linear predictor is
    centred on the plain column means (``agmeans``).
    """
    used = rs.in_base | rs.event
    idx = np.flatnonzero(used)
    # order(ignore, strata, -stop), stable: smallest stratum, then largest stop, then the
    # row that came first in the data
    first = idx[np.lexsort((lay.order[idx], -lay.time[idx], lay.stratum[idx]))[0]]
    center = np.where(zero_one, 0.0, xs_raw[first])
    wu = np.ones(idx.size) if w_s is None else w_s[idx]
    dev = wu @ np.abs(xs_raw[idx] - center)
    total = float(np.sum(wu))
    scale = np.where(zero_one, 1.0, np.where(dev > 0, total / np.where(dev > 0, dev, 1.0), 1.0))
    lp_means = np.where(zero_one, 0.0, xmat.mean(axis=0))
    return center, scale, lp_means


def _make_problem(
    rs: _RiskSets, lay: _Layout, x: FloatArray, ties: Ties, w: FloatArray | None
) -> _Problem:
    g, frac, tw = _efron_terms(lay, ties)
    if w is None:
        xdead_sum = x[lay.status].sum(axis=0)
    else:
        deadwt = np.asarray(rs.to_dead @ w)
        tw2 = _term_weights(g, rs.nd, deadwt, ties)
        assert tw2 is not None
        tw = tw2
        xdead_sum = (x[lay.status] * w[lay.status][:, None]).sum(axis=0)
    return _Problem(
        rs=rs,
        x=x,
        w=w,
        p=x.shape[1],
        term_g=g,
        term_frac=frac,
        term_w=tw,
        xdead_sum=xdead_sum,
        vbuf=np.empty((x.shape[0], x.shape[1] + 1)),
    )


def _fit_messages(
    flag: int,
    max_iter: int,
    p: int,
    names: Sequence[str],
    beta: FloatArray,
    u_final: FloatArray,
    imat: FloatArray,
    tol_chol: float,
    naive_var: FloatArray,
    scale: FloatArray,
    coef_full: FloatArray,
    lp_max: float,
    eps: float,
    tol_inf: float,
) -> tuple[list[str], NDArray[np.bool_]]:
    """R's convergence, infinite-coefficient and singularity messages after the Newton steps.

    Shared by :func:`cox_fit` and the chunked fit (the same checks on the same quantities);
    warns with :class:`SeparationWarning` where R warns. Returns the messages and the columns
    whose coefficient R reports as NA (redundant: ``diag(var) == 0`` below full rank).
    """
    u_orig = u_final / scale
    msgs: list[str] = []
    if flag == 1000:
        msgs.append(
            f"the Cox model did not converge in {max_iter} iterations (R: 'Ran out of "
            "iterations and did not converge')"
        )
        infs_nf = not np.all(np.isfinite(np.abs(u_orig @ naive_var)))
        # beyond R's check (max(lp) > 500): a coefficient that is large on the scale of
        # its covariate (|b| * mean|x - mean| > 5) and still moving by half a unit per
        # Newton step is diverging (monotone likelihood), so name it
        step_s = _chsolve2(_cholesky2(imat, tol_chol)[0], u_final)
        diverging = (np.abs(beta) > 5.0) & (np.abs(step_s) > 0.5)
        if lp_max > 500 or infs_nf or np.any(diverging):
            which = [names[int(j)] for j in np.flatnonzero(diverging)]
            msgs.append(
                "one or more coefficients may be infinite"
                + (f" ({', '.join(which)})" if which else "")
                + ": monotone likelihood, e.g. no events in one group. "
                "Consider Firth's penalized Cox regression (R coxphf)."
            )
            warnings.warn(msgs[-1], SeparationWarning, stacklevel=3)
    elif max_iter > 1:
        infs = np.abs(u_orig @ naive_var)
        bad = (~np.isfinite(u_orig)) | ((infs > eps) & (infs > tol_inf * np.abs(coef_full)))
        if np.any(bad):
            which = [names[int(j)] for j in np.flatnonzero(bad)]
            msg = (
                f"log-likelihood converged before the coefficient of {', '.join(which)}; "
                "it may be infinite (monotone likelihood, e.g. no events in one group). "
                "Consider Firth's penalized Cox regression (R coxphf)."
            )
            msgs.append(msg)
            warnings.warn(msg, SeparationWarning, stacklevel=3)

    # redundant columns: R's coef[diag(var) == 0] <- NA when the rank is below p
    # (not when iterations ran out, nor with iter.max = 0)
    has_sing = flag != 1000 and flag < p and max_iter > 0
    which_sing = (np.diag(naive_var) == 0) if has_sing else np.zeros(p, dtype=bool)
    if np.any(which_sing):
        msgs.append(
            "X is singular: no coefficient for "
            + ", ".join(names[int(j)] for j in np.flatnonzero(which_sing))
            + " (constant, constant within every stratum, or collinear; R gives NA)"
        )
    return msgs, which_sing


@dataclass(frozen=True)
class _NewtonFit:
    beta: FloatArray  # on the scaled covariates
    loglik0: float
    loglik1: float
    u: FloatArray  # score at beta
    imat: FloatArray  # information at beta
    var_s: FloatArray
    flag: int  # Cholesky rank; -2 converged while halving; 1000 ran out of iterations
    sctest: float  # score test at the start
    iterations: int
    converged: bool


def _newton_raphson(
    evaluate: Any, beta: FloatArray, max_iter: int, eps: float, tol_chol: float
) -> _NewtonFit:
    """R's coxfit6.c Newton-Raphson: step-halving when the likelihood falls, its stopping rule
    and its variance when iterations run out. ``evaluate(beta)`` gives (loglik, score,
    information); shared by :func:`cox_fit` and the chunked fit, which sum differently."""
    p = beta.size
    loglik0, u, imat = evaluate(beta)
    fac, flag = _cholesky2(imat, tol_chol)
    a = _chsolve2(fac, u)
    sctest = float(np.dot(u, a))
    iterations = 0
    converged = True

    if max_iter == 0 or not math.isfinite(loglik0):
        var_s = _chinv2(fac)
        loglik1 = loglik0
        u_final = u
    else:
        loglik_best = loglik0
        newbeta = beta + a
        halving = 0
        done = False
        var_s = np.zeros((p, p))
        loglik1 = loglik0
        u_final = u
        for it in range(1, max_iter + 1):
            newlk, u, imat = evaluate(newbeta)
            fac, flag = _cholesky2(imat, tol_chol)
            notfinite = (
                not np.all(np.isfinite(u))
                or not np.all(np.isfinite(imat))
                or not math.isfinite(newlk)
            )
            if not notfinite and _converged(loglik_best, newlk, eps):
                loglik1 = newlk
                var_s = _chinv2(fac)
                beta = newbeta
                u_final = u
                if halving > 0:
                    flag = -2  # coxfit6.c flags a convergence reached while halving
                iterations = it
                done = True
                break
            if notfinite or newlk < loglik_best:
                # not improving: step back towards the last good beta, harder each time
                halving += 1
                newbeta = (newbeta + halving * beta) / (halving + 1.0)
            else:
                halving = 0
                loglik_best = newlk
                step = _chsolve2(fac, u)
                beta = newbeta
                newbeta = newbeta + step
        if not done:
            # coxfit6.c: recompute loglik, score and information at the last good beta;
            # it then calls chinv2 without a fresh Cholesky, which (the lower triangle
            # being zeroed by the recomputation) yields diag(1 / information) - mirrored
            # here so that the variance equals R's in this no-convergence case
            iterations = max_iter + 1
            converged = False
            if max_iter > 1:
                loglik1, u_final, imat = evaluate(beta)
            else:
                loglik1 = loglik_best
            dg = np.diag(imat)
            with np.errstate(divide="ignore"):
                var_s = np.diag(np.where(dg > 0, 1.0 / np.where(dg > 0, dg, 1.0), 0.0))
            flag = 1000
    return _NewtonFit(
        beta, float(loglik0), float(loglik1), u_final, imat, var_s, int(flag), sctest,
        iterations, converged,
    )  # fmt: skip


def _wald_table(
    coef: FloatArray, se: FloatArray, conf_level: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """z, two-sided p, hazard ratio and its Wald CI per coefficient (R's summary.coxph)."""
    z = z_value(conf_level)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        zstat = coef / se
        pval = chi2.sf(zstat**2, 1)
        hr = np.exp(coef)
        lower = np.exp(coef - z * se)
        upper = np.exp(coef + z * se)
    return zstat, pval, hr, lower, upper


def _fit_messages_ag(
    rank: int,
    converged: bool,
    max_iter: int,
    p: int,
    names: Sequence[str],
    beta: FloatArray,
    u_final: FloatArray,
    imat: FloatArray,
    tol_chol: float,
    naive_var: FloatArray,
    scale: FloatArray,
    coef_full: FloatArray,
    tol_inf: float,
) -> tuple[list[str], NDArray[np.bool_]]:
    """agreg.fit's messages after agfit4.c: its "may be infinite" rule is
    ``|u' V| > toler.inf * (1 + |coef|)``, and the rank of the first step decides the NA
    columns (``diag(var) == 0``), also when the iterations ran out."""
    u_orig = u_final / scale
    msgs: list[str] = []
    if max_iter > 1:
        if not converged:
            msgs.append(
                f"the Cox model did not converge in {max_iter} iterations (R: 'Ran out of "
                "iterations and did not converge')"
            )
            # as for right-censored data (beyond R, which says nothing more here): name a
            # coefficient that is large and still moving by half a unit per Newton step
            step_s = _chsolve2(_cholesky2(imat, tol_chol)[0], u_final)
            diverging = (np.abs(beta) > 5.0) & (np.abs(step_s) > 0.5)
            if np.any(diverging):
                which = [names[int(j)] for j in np.flatnonzero(diverging)]
                msgs.append(
                    f"one or more coefficients may be infinite ({', '.join(which)}): "
                    "monotone likelihood, e.g. no events in one group. "
                    "Consider Firth's penalized Cox regression (R coxphf)."
                )
                warnings.warn(msgs[-1], SeparationWarning, stacklevel=3)
        else:
            infs = np.abs(u_orig @ naive_var)
            bad = (~np.isfinite(u_orig)) | (infs > tol_inf * (1.0 + np.abs(coef_full)))
            if np.any(bad):
                which = [names[int(j)] for j in np.flatnonzero(bad)]
                msg = (
                    f"log-likelihood converged before the coefficient of {', '.join(which)}; "
                    "it may be infinite (monotone likelihood, e.g. no events in one group). "
                    "Consider Firth's penalized Cox regression (R coxphf)."
                )
                msgs.append(msg)
                warnings.warn(msg, SeparationWarning, stacklevel=3)
    has_sing = rank < p and max_iter > 0
    which_sing = (np.diag(naive_var) == 0) if has_sing else np.zeros(p, dtype=bool)
    if np.any(which_sing):
        msgs.append(
            "X is singular: no coefficient for "
            + ", ".join(names[int(j)] for j in np.flatnonzero(which_sing))
            + " (constant, constant within every stratum, or collinear; R gives NA)"
        )
    return msgs, which_sing


def _newton_raphson_ag(
    evaluate: Callable[[FloatArray], tuple[float, FloatArray, FloatArray]],
    beta: FloatArray,
    max_iter: int,
    eps: float,
    tol_chol: float,
) -> _NewtonFit:
    """agfit4.c's Newton-Raphson (counting-process data), step for step.

    It differs from coxfit6.c: convergence is only accepted when not step-halving; a
    change of the Cholesky rank counts as a failed step; when the iterations run out the
    last step is kept unless it is worse than the best by more than ``eps`` (then the best
    is recomputed), and ``iter`` is ``iter.max``. ``flag`` returned is the rank of the
    first step's information (R's ``fit$info["rank"]``).
    """
    loglik0, u, imat = evaluate(beta)
    fac, rank = _cholesky2(imat, tol_chol)
    a = _chsolve2(fac, u)
    sctest = float(np.dot(u, a))
    newlk = loglik0
    iterations = 0
    converged = True
    if max_iter > 0 and math.isfinite(loglik0):
        best = loglik0
        oldbeta = beta
        beta = beta + a
        halving = 0
        for it in range(1, max_iter + 1):
            newlk, u, imat = evaluate(beta)
            fail = int(np.sum(~np.isfinite(np.diag(imat))))
            fac, rank2 = _cholesky2(imat, tol_chol)
            fail += int(math.isnan(newlk)) + int(math.isinf(newlk)) + abs(rank - rank2)
            iterations = it
            if fail == 0 and halving == 0 and _converged(best, newlk, eps):
                break
            if it == max_iter:
                converged = False
                with np.errstate(divide="ignore", invalid="ignore"):
                    worse = (np.float64(newlk) - best) / abs(np.float64(best)) < -eps
                if max_iter > 1 and bool(worse):
                    # the last step was worse than an earlier one: back to the best beta
                    beta = oldbeta
                    newlk, u, imat = evaluate(beta)
                    fac, _ = _cholesky2(imat, tol_chol)
                break
            if fail > 0 or newlk < best:
                halving += 1
                beta = (oldbeta * halving + beta) / (halving + 1.0)
            else:
                halving = 0
                best = newlk
                step = _chsolve2(fac, u)
                oldbeta = beta
                beta = beta + step
    var_s = _chinv2(fac)
    return _NewtonFit(
        beta, float(loglik0), float(newlk), u, imat, var_s, int(rank), sctest, iterations,
        converged,
    )  # fmt: skip
