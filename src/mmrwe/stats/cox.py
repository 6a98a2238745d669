"""Cox proportional-hazards regression, as R ``survival::coxph`` (survival 3.5).

:func:`cox_fit` reproduces ``coxph(Surv(time, status) ~ x1 + ... [+ strata(s)],
ties = "efron" | "breslow", cluster = , robust = )`` for right-censored data:

* ``aeqSurv`` near-tie merging of the times (``coxph.control(timefix = TRUE)``);
* centring and scaling of the covariates as ``coxfit6.c`` (columns whose values all lie in
  {-1, 0, 1} are left alone, R's ``nocenter``), so that the singularity tolerance of the
  Cholesky decomposition acts on the same numbers as in R;
* Newton-Raphson with R's step-halving and its stopping rule
  ``|1 - loglik_old / loglik_new| <= eps`` (``coxph.control``: ``eps = 1e-9``,
  ``iter.max = 20``, ``toler.chol = eps^0.75``, ``toler.inf = sqrt(eps)``);
* R's generalized Cholesky (``cholesky2``/``chsolve2``/``chinv2``): a column found to be
  redundant gets a zero row/column in the variance and an ``NA`` (here ``None``) coefficient;
* the "coefficient may be infinite" check of ``coxph.fit`` (monotone likelihood);
* robust (infinitesimal-jackknife) variance from the score residuals (``coxscore2.c``),
  summed within clusters, and the robust score test;
* Harrell's concordance as ``concordancefit(reverse = TRUE, timewt = "n")`` with its
  infinitesimal-jackknife standard error (``concordance3.c``), per stratum.

Everything is vectorized over patients and over distinct times: one stable sort by
(stratum, time, status), per-(stratum, time, status) block sums with ``np.add.reduceat``,
risk-set sums by reverse cumulative sums over blocks, and Efron's tied-death correction
by expanding each tied block into its ``d`` terms with weights ``k / d``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
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

    time: FloatArray  # after aeqSurv, sorted by (stratum, time, status)
    status: BoolArray
    stratum: IntArray  # 0-based stratum code per row
    x: FloatArray  # (n, q) original (uncentred) covariates of the non-NA columns
    eta: FloatArray  # linear predictor as coxph's fit$linear.predictors
    coef: FloatArray  # (q,) the non-NA coefficients
    names: tuple[str, ...]  # the q non-NA column names
    terms: tuple[str, ...]  # term label of each of the q columns


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
        return {
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
    y = np.unique(time)
    y = y[np.isfinite(y)]
    if y.size < 2:
        return time
    dy = np.diff(y)
    tied = (dy <= tolerance) | ((dy / np.mean(np.abs(y))) <= tolerance)
    if not np.any(tied):
        return time
    cuts = y[np.concatenate(([True], ~tied))]
    idx = np.searchsorted(cuts, time, side="right") - 1
    return cuts[idx]


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


@dataclass(slots=True)
class _Layout:
    """The data sorted once by (stratum, time, status), with its block structure.

    A *block* is a run of rows with the same (stratum, time, status); a *group* is a run
    with the same (stratum, time). Censored rows come before deaths within a time, so each
    group has at most one censored and one death block, in that order.
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


def _design_columns(x: FloatArray) -> FloatArray:
    """Rows [1, x_j, x_j x_k (j <= k)] of shape (k, n): the terms whose risk-weighted
    sums the likelihood needs (row-major per term, so each is one contiguous array)."""
    n, p = x.shape
    iu, ju = _tri_index(p)
    qt = np.empty((1 + p + iu.size, n), dtype=np.float64)
    qt[0] = 1.0
    xt = x.T
    qt[1 : 1 + p] = xt
    for c, (i, j) in enumerate(zip(iu, ju, strict=True)):
        np.multiply(xt[i], xt[j], out=qt[1 + p + c])
    return qt


def _reverse_cumsum_within(v: FloatArray, bounds: IntArray) -> FloatArray:
    """Sum of rows g..end of g's stratum, per stratum (bounds: stratum starts, + end)."""
    out = np.empty_like(v)
    # a loop over strata (few), not over patients or times; summing from the end of each
    # stratum keeps the small late risk sets accurate, as R's backward accumulation does
    for k in range(bounds.size - 1):
        a, b = int(bounds[k]), int(bounds[k + 1])
        if b > a:
            out[a:b] = np.cumsum(v[a:b][::-1], axis=0)[::-1]
    return out


@dataclass(slots=True)
class _RiskSums:
    """Per-group sums of risk-weighted [1, x, xx'] for censored rows, deaths, and later groups."""

    cens: FloatArray  # (G, k) censored rows of the group
    dead: FloatArray  # (G, k) deaths of the group
    later: FloatArray  # (G, k) all rows of later groups of the same stratum


def _risk_sums(lay: _Layout, qt: FloatArray, risk: FloatArray) -> _RiskSums:
    bs = np.add.reduceat(qt * risk, lay.bstart, axis=1).T
    k = qt.shape[0]
    cens = np.zeros((lay.n_groups, k))
    dead = np.zeros((lay.n_groups, k))
    cens[lay.b_group[~lay.b_death]] = bs[~lay.b_death]
    dead[lay.b_group[lay.b_death]] = bs[lay.b_death]
    incl = _reverse_cumsum_within(cens + dead, lay.s_gbounds)
    # later[g] = incl[g + 1] within the stratum, 0 at the stratum's last group
    later = np.zeros_like(incl)
    later[:-1] = incl[1:]
    last = lay.s_gbounds[1:] - 1
    later[last[last >= lay.s_gbounds[:-1]]] = 0.0
    return _RiskSums(cens=cens, dead=dead, later=later)


def _efron_terms(lay: _Layout, ties: Ties) -> tuple[IntArray, FloatArray, FloatArray]:
    """Per-term (index into ``lay.dgroups``, fraction of the deaths' risk included, weight).

    Efron: a time with d deaths gives d terms, the k-th (k = 1..d) with the deaths'
    risk sums multiplied by k/d, each with weight 1 (coxfit6.c adds ``denom2/ndead`` d
    times). Breslow: one term per time with fraction 1 and weight d.
    """
    ndg = lay.dgroups.size
    if ties == "breslow" or ndg == 0 or np.all(lay.nd == 1):
        return np.arange(ndg, dtype=np.int64), np.ones(ndg), lay.nd.astype(np.float64)
    gi = np.repeat(np.arange(ndg, dtype=np.int64), lay.nd)
    first = np.cumsum(lay.nd) - lay.nd
    k = np.arange(gi.size) - np.repeat(first, lay.nd) + 1
    frac = k / np.repeat(lay.nd, lay.nd).astype(np.float64)
    return gi, frac, np.ones(gi.size)


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

    Term k of death time g has sums ``base[g] + frac_k dead[g]`` (risk, risk x, risk xx').
    Everything linear in those sums is aggregated per time first (bincount over terms of
    scalars only), so no (terms x p x p) array is ever formed.
    """
    ng = base.shape[0]
    wd = wv / denom
    s0 = np.bincount(gi, weights=wd, minlength=ng)
    s1 = np.bincount(gi, weights=wd * frac, minlength=ng)
    wd2 = wd / denom
    t0 = np.bincount(gi, weights=wd2, minlength=ng)
    t1 = np.bincount(gi, weights=wd2 * frac, minlength=ng)
    t2 = np.bincount(gi, weights=wd2 * frac * frac, minlength=ng)
    ba = base[:, 1 : 1 + p]
    da = dead[:, 1 : 1 + p]
    smean = s0 @ ba + s1 @ da
    c2 = s0 @ base[:, 1 + p :] + s1 @ dead[:, 1 + p :]
    cross = (ba * t1[:, None]).T @ da
    mm = (ba * t0[:, None]).T @ ba + cross + cross.T + (da * t2[:, None]).T @ da
    return smean, _unpack_sym(c2, p, iu, ju) - mm


# ----------------------------------------------------------------------------------------
# One evaluation of loglik, score and information (coxfit6_iter)
# ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Problem:
    lay: _Layout
    x: FloatArray  # (n, p) centred/scaled, sorted
    qt: FloatArray  # (k, n) design rows of x
    p: int
    iu: IntArray
    ju: IntArray
    term_g: IntArray  # index into lay.dgroups
    term_frac: FloatArray
    term_w: FloatArray
    xdead_sum: FloatArray  # sum of x over deaths


def _make_problem(lay: _Layout, x: FloatArray, ties: Ties) -> _Problem:
    p = x.shape[1]
    iu, ju = _tri_index(p)
    g, frac, w = _efron_terms(lay, ties)
    return _Problem(
        lay=lay,
        x=x,
        qt=_design_columns(x),
        p=p,
        iu=iu,
        ju=ju,
        term_g=g,
        term_frac=frac,
        term_w=w,
        xdead_sum=x[lay.status].sum(axis=0),
    )


def _unpack_sym(vals: FloatArray, p: int, iu: IntArray, ju: IntArray) -> FloatArray:
    out = np.zeros((p, p))
    out[iu, ju] = vals
    out[ju, iu] = vals
    return out


def _evaluate(pr: _Problem, beta: FloatArray) -> tuple[float, FloatArray, FloatArray]:
    """Log partial likelihood, score and information at ``beta`` (scaled space)."""
    p = pr.p
    # overflow of exp() at wild trial values gives inf/nan, which the caller treats as
    # R does (step halving), so numpy's warnings would only be noise
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        eta = beta @ pr.qt[1 : 1 + p]
        risk = np.exp(eta)
        rs = _risk_sums(pr.lay, pr.qt, risk)
        dg = pr.lay.dgroups
        base = rs.later[dg] + rs.cens[dg]
        dead = rs.dead[dg]
        g = pr.term_g
        f = pr.term_frac
        w = pr.term_w
        denom = base[g, 0] + f * dead[g, 0]
        loglik = float(np.dot(pr.xdead_sum, beta) - np.dot(w, np.log(denom)))
        smean, imat = _term_moments(base, dead, g, f, w, denom, p, pr.iu, pr.ju)
    return loglik, pr.xdead_sum - smean, imat


# ----------------------------------------------------------------------------------------
# Score residuals (coxscore2.c), for the robust variance
# ----------------------------------------------------------------------------------------


def _score_residuals(pr: _Problem, eta: FloatArray, ties: Ties) -> FloatArray:
    """Score residuals in sorted order for linear predictor ``eta`` (sorted)."""
    lay = pr.lay
    p = pr.p
    x = pr.x
    # residuals do not change when eta shifts by a constant: callers pass eta - max(eta)
    score = np.exp(eta)
    rs = _risk_sums(lay, pr.qt, score)
    # per-term hazard increments and means (Efron's d terms, or one Breslow term)
    gi, frac_in, _ = _efron_terms(lay, ties)
    g = lay.dgroups[gi]
    nd_g = np.zeros(lay.n_groups)
    nd_g[lay.dgroups] = lay.nd
    tot_all = rs.later[g] + rs.cens[g] + rs.dead[g]
    if ties == "efron":
        # coxscore2.c: downwt = dd/d (dd = 0..d-1); here frac_in = k/d (k = 1..d), so
        # downwt = 1 - frac_in; hazard = (deaths/d) / (denom - downwt * e_denom)
        downwt = 1.0 - frac_in
        tot = tot_all - downwt[:, None] * rs.dead[g]
        haz = 1.0 / tot[:, 0]
        own = 1.0 - downwt
    else:
        tot = tot_all
        haz = nd_g[g] / tot[:, 0]
        own = np.ones(g.size)
    mean = tot[:, 1 : 1 + p] / tot[:, :1]
    ng = lay.n_groups
    h_g = np.bincount(g, weights=haz, minlength=ng)
    xh_g = np.zeros((ng, p))
    h1_g = np.bincount(g, weights=haz * own, minlength=ng)
    xh1_g = np.zeros((ng, p))
    mavg_g = np.zeros((ng, p))
    cnt = np.bincount(g, minlength=ng).astype(np.float64)
    for j in range(p):
        xh_g[:, j] = np.bincount(g, weights=mean[:, j] * haz, minlength=ng)
        xh1_g[:, j] = np.bincount(g, weights=mean[:, j] * haz * own, minlength=ng)
        mavg_g[:, j] = np.bincount(g, weights=mean[:, j], minlength=ng)
    with np.errstate(invalid="ignore", divide="ignore"):
        mavg_g = np.where(cnt[:, None] > 0, mavg_g / np.maximum(cnt, 1.0)[:, None], 0.0)
    # cumulative sums over earlier groups of the same stratum (exclusive)
    cum_h = np.zeros(ng)
    cum_xh = np.zeros((ng, p))
    for k in range(lay.s_gbounds.size - 1):
        a, b = int(lay.s_gbounds[k]), int(lay.s_gbounds[k + 1])
        if b > a:
            cum_h[a:b] = np.concatenate(([0.0], np.cumsum(h_g[a : b - 1])))
            cum_xh[a:b] = np.vstack((np.zeros((1, p)), np.cumsum(xh_g[a : b - 1], axis=0)))
    row_g = np.repeat(lay.b_group, lay.b_count)
    dead = lay.status
    hh = cum_h[row_g] + np.where(dead, h1_g[row_g], h_g[row_g])
    xhh = cum_xh[row_g] + np.where(dead[:, None], xh1_g[row_g], xh_g[row_g])
    resid = -score[:, None] * (x * hh[:, None] - xhh)
    resid[dead] += x[dead] - mavg_g[row_g[dead]]
    return resid


def _rowsum(v: FloatArray, codes: IntArray, k: int) -> FloatArray:
    out = np.zeros((k, v.shape[1]))
    for j in range(v.shape[1]):
        out[:, j] = np.bincount(codes, weights=v[:, j], minlength=k)
    return out


# ----------------------------------------------------------------------------------------
# Concordance (concordancefit / concordance3.c, reverse = TRUE, timewt = "n")
# ----------------------------------------------------------------------------------------


class _WaveletMatrix:
    """Rank queries on an integer sequence: among positions [s, e), how many values are
    < r and how many == r. Built in O(n log sigma) by stable partitions on each bit; the
    queries of all rows are answered together, one bit level at a time.
    """

    def __init__(self, values: IntArray, nbits: int) -> None:
        self.nbits = nbits
        self.zeros: list[NDArray[np.int32]] = []
        self.nz: list[int] = []
        cur = values.astype(np.int32)
        for lev in range(nbits - 1, -1, -1):
            is0 = ((cur >> lev) & 1) == 0
            zp = np.zeros(cur.size + 1, dtype=np.int32)
            np.cumsum(is0, out=zp[1:])
            self.zeros.append(zp)
            self.nz.append(int(zp[-1]))
            cur = np.concatenate((cur[is0], cur[~is0]))

    def count_less_equal(self, s: IntArray, e: IntArray, r: IntArray) -> tuple[IntArray, IntArray]:
        """(# values < r, # values == r) in [s, e), per query."""
        less = np.zeros(s.size, dtype=np.int64)
        s32 = s.astype(np.int32)
        e32 = e.astype(np.int32)
        r32 = r.astype(np.int32)
        for i, lev in enumerate(range(self.nbits - 1, -1, -1)):
            zp = self.zeros[i]
            zs = zp[s32]
            ze = zp[e32]
            one = ((r32 >> lev) & 1).astype(bool)
            less += np.where(one, ze - zs, 0)
            # follow r's bit: into the ones (offset by the number of zeros) or the zeros
            nz = np.int32(self.nz[i])
            s32 = np.where(one, nz + (s32 - zs), zs)
            e32 = np.where(one, nz + (e32 - ze), ze)
        # the range left after following every bit of r holds exactly the values == r
        return less, (e32 - s32).astype(np.int64)


def _concordance(
    lay: _Layout,
    lp: FloatArray,
    cluster: IntArray | None,
    n_cluster: int,
) -> tuple[float | None, float | None]:
    """``concordancefit(y, lp, strata, reverse = TRUE, timefix = FALSE)``: C and its SE.

    ``lp`` and ``cluster`` are in the layout's (sorted) row order. Counts as
    ``concordance3.c`` (time weight "n"): for each death, the rows still at risk (longer
    time, or censored at the death time) with a larger, smaller or equal risk score;
    deaths tied on time are not compared. The SE is the infinitesimal jackknife:
    per-row influence = the row's own concordant/discordant/tied pair counts.
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
    lt, eq = _WaveletMatrix(xo, nbits).count_less_equal(s_q, e_q, xo[di])
    gt = (e_q - s_q) - lt - eq
    # non-reversed counts of concordance3.c: "concordant" = the longer survivor has the
    # larger score (wsum[0]: tree values > the death's)
    conc = float(np.sum(gt))
    disc = float(np.sum(lt))
    tiex = float(np.sum(eq))
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
    # the deaths whose block starts after the row's position
    a = np.searchsorted(e_q, pos, side="right")
    b = np.searchsorted(di, st_end, side="left")
    a = np.minimum(a, b)
    lt2, eq2 = _WaveletMatrix(xo[di], nbits).count_less_equal(a, b, xo)
    infl_c += lt2
    infl_d += (b - a) - lt2 - eq2
    infl_n += b - a
    dfbeta = (infl_c - infl_d) / npair - (somer / npair) * infl_n
    if cluster is not None:
        dfbeta = np.bincount(cluster[order], weights=dfbeta, minlength=n_cluster).astype(np.float64)
    var = float(np.sum(dfbeta**2)) / 4.0
    # reverse = TRUE: a higher risk score should go with a shorter time
    return 1.0 - (somer + 1.0) / 2.0, math.sqrt(var)


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
    robust: bool = False,
    conf_level: float = 0.95,
    init: ArrayLike | None = None,
    max_iter: int = DEFAULT_MAX_ITER,
    eps: float = DEFAULT_EPS,
    toler_inf: float | None = None,
    toler_chol: float | None = None,
    timefix: bool = True,
    terms: Sequence[str] | None = None,
) -> CoxResult:
    """Fit a Cox proportional-hazards model, as R ``coxph``.

    Parameters
    ----------
    time : array_like of float, shape (n,)
        Follow-up times, >= 0.
    is_event : array_like of bool, shape (n,)
        True if follow-up ended with the event.
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
        Cluster label per row (``cluster = ``): robust variance summed within clusters.
        Giving a cluster implies ``robust=True``, as in R.
    robust : bool
        Robust (sandwich) variance (``robust = TRUE``); each row is its own cluster unless
        ``cluster`` is given.
    conf_level : float
        Level of the Wald intervals exp(coef -+ z se).
    init : array_like, optional
        Initial coefficients (R's ``init``); zeros by default.
    max_iter, eps, toler_inf, toler_chol : optional
        ``coxph.control(iter.max = 20, eps = 1e-9, toler.inf = sqrt(eps),
        toler.chol = eps^0.75)`` with R's defaults.
    timefix : bool
        Merge near-tied times as R's ``aeqSurv`` (``coxph.control(timefix = TRUE)``).
    terms : sequence of str, optional
        Term label of each column, used by :func:`mmrwe.stats.coxzph.cox_zph` to test a
        multi-column term jointly. Default: the part of each name before ``"="``.

    Returns
    -------
    CoxResult
        Coefficients, variance, tests, concordance, with the conventions used.

    Notes
    -----
    Equals ``summary(coxph(Surv(time, status) ~ ..., ties = ties))`` of survival 3.5 for
    right-censored data without case weights or offsets. A redundant column (constant, or
    constant within every stratum, or collinear) gets NaN here and ``None`` in
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
    if cluster is not None:
        ccode, n_cluster = _codes(cluster, "cluster", n)
        robust = True
    else:
        ccode, n_cluster = None, 0
    if robust and ccode is None:
        ccode, n_cluster = np.arange(n, dtype=np.int64), n

    if timefix:
        t = aeq_times(t)

    beta0 = np.zeros(p) if init is None else np.asarray(init, dtype=np.float64).ravel()
    if beta0.size != p:
        raise InputError(f"init has {beta0.size} values but X has {p} columns")

    lay = _layout(t, ev, scode, n_strata)
    xs_raw = xmat[lay.order]

    # centring and scaling as coxfit6.c; nocenter = c(-1, 0, 1) columns are left alone
    zero_one = np.all(np.isin(xmat, (-1.0, 0.0, 1.0)), axis=0)
    means = np.where(zero_one, 0.0, xmat.mean(axis=0))
    xs = xs_raw - means
    absmean = np.mean(np.abs(xs), axis=0)
    scale = np.where(
        zero_one, 1.0, np.where(absmean > 0, 1.0 / np.where(absmean > 0, absmean, 1), 1.0)
    )
    xs = xs * scale

    pr = _make_problem(lay, xs, ties)

    beta = beta0 / scale
    nr = _newton_raphson(lambda b: _evaluate(pr, b), beta, max_iter, eps, tol_chol)
    beta, loglik0, loglik1, u_final, imat = nr.beta, nr.loglik0, nr.loglik1, nr.u, nr.imat
    var_s, flag, sctest, iterations, converged = (
        nr.var_s, nr.flag, nr.sctest, nr.iterations, nr.converged,
    )  # fmt: skip

    coef_full = beta * scale
    naive_var = var_s * np.outer(scale, scale)
    # R's lp: X %*% coef - sum(coef * means) (means are 0 for nocenter columns)
    lp_sorted = xs_raw @ coef_full - float(np.dot(coef_full, means))

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
        variance = "robust"
        resid = _score_residuals(pr, lp_sorted - float(np.max(lp_sorted)), ties)
        # resid is on the centred/scaled x: back to the original scale
        resid = resid / scale
        dfb = resid @ naive_var
        assert ccode is not None
        dfb_c = _rowsum(dfb, ccode[lay.order], n_cluster)
        var = dfb_c.T @ dfb_c
        # R scores at the initial values: X %*% init with a cluster, else lp = 0
        eta0 = (xs_raw @ beta0) if (init is not None and cluster is not None) else np.zeros(n)
        resid0 = _score_residuals(pr, eta0 - float(np.max(eta0)), ties) / scale
        r0 = _rowsum(resid0, ccode[lay.order], n_cluster)
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

    conc, conc_se = _concordance(
        lay,
        lp_sorted,
        ccode[lay.order] if (ccode is not None and cluster is not None) else None,
        n_cluster,
    )

    zph = _ZphData(
        time=lay.time,
        status=lay.status,
        stratum=lay.stratum,
        x=xs_raw[:, keep],
        eta=lp_sorted,
        coef=coef_full[keep],
        names=tuple(nm for nm, k in zip(names_t, keep, strict=True) if k),
        terms=tuple(tm for tm, k in zip(term_labels, keep, strict=True) if k),
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
        _zph=zph,
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
