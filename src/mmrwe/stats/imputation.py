"""Multiple imputation by chained equations (mice's algorithm) and Rubin's rules (mice::pool).

Imputation
----------
:func:`mice` follows R mice 3.15 (``mice``, ``sampler``, ``sampler.univ``, read from the
installed package) step by step; only the random numbers differ (a numpy ``Generator``):

* start: each missing value is a random draw from the observed values of its variable
  (``mice.impute.sample``);
* ``maxit`` iterations; in each, every imputation ``1..m`` in turn, and within it every
  incomplete variable left to right (mice's "roman" visit sequence) is re-imputed from all
  other variables (mice's default predictor matrix: everyone predicts everyone) plus the
  auxiliary predictors, categorical predictors entering as treatment-contrast dummies;
* predictors are screened as ``remove.lindep`` does (variance > 1e-4, correlation with the
  target < 0.99, drop the column loading most on the smallest eigenvalue of their
  correlation matrix while that eigenvalue is < 1e-4 times the largest);
* numeric variables: ``mice.impute.pmm``: least squares fit on the observed rows, Bayesian
  draw of the parameters (``.norm.draw``: ``sigma* = sqrt(RSS / chisq(df))``,
  ``beta* = beta + t(chol((X'X)^-1)) z sigma*``, ridge 1e-5 when X'X is singular), type-1
  matching (observed rows predicted with ``beta``, missing rows with ``beta*``), and a random
  draw among the ``donors = 5`` nearest observed values, found as mice's C++
  ``matchindex`` does (donors shuffled, then the h-th nearest, h uniform on 1..donors);
* two-level categorical variables: ``mice.impute.logreg``: ``augment()`` adds 2 p k pseudo
  rows (White, Daniel & Royston 2010) weighted (p + 1) / (2 p k) against perfect prediction,
  weighted logistic IRLS (``glm.fit``), ``beta* = beta + t(chol(cov.unscaled)) z``, then
  ``runif() <= expit(x beta*)``;
* categorical variables with more levels: ``mice.impute.polyreg``: ``augment()``, a weighted
  multinomial logit (``nnet::multinom``; here Newton-Raphson to convergence, where nnet
  stops its BFGS after 100 iterations), then one uniform per row against the cumulative
  predicted probabilities. As in mice, no parameter draw is made for polyreg.

For a Cox analysis, White & Royston (Stat Med 2009) recommend the event indicator and the
Nelson-Aalen cumulative hazard at the patient's time as predictors:
:func:`cox_auxiliaries` gives both (the hazard as ``mice::nelsonaalen``).

Pooling
-------
:func:`pool_rubin` equals ``mice::pool`` (rule "rubin1987") and ``summary(pool(fit),
conf.int = TRUE)``: ``qbar`` the mean estimate, ``ubar`` the mean squared standard error,
``b`` the between-imputation variance (``var``, n - 1), ``t = ubar + (1 + 1/m) b``,
``riv = (1 + 1/m) b / ubar``, ``lambda = (1 + 1/m) b / t``, Barnard-Rubin degrees of freedom
(``lambda`` floored at 1e-4; ``dfold = (m - 1) / lambda^2``;
``dfobs = (dfcom + 1) / (dfcom + 3) dfcom (1 - lambda)``; ``df = dfold dfobs / (dfold +
dfobs)``, or ``dfold`` when ``dfcom`` is infinite), ``fmi = (riv + 2 / (df + 3)) / (riv +
1)``, the t-statistic ``qbar / sqrt(t)``, ``p = 2 pt(-|t|, max(df, 0.001))`` and the CI
``qbar +- qt(1 - alpha/2, df) sqrt(t)``. The complete-data df are mice's ``get.dfcom``:
events - coefficients for a Cox model, n - coefficients for a logistic model, n - 1 for a
proportion (an intercept-only logistic model: the proportion is pooled on the logit scale,
``logit(p)`` with variance ``1 / (n p (1 - p))`` from ``glm(y ~ 1, binomial)``, and
back-transformed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mmrwe.core.errors import EstimationError, InputError
from mmrwe.stats._common import as_time_event, none_if_nan, read_only
from mmrwe.stats.km import factorize_groups, missing_mask

if TYPE_CHECKING:
    from mmrwe.stats.cox import CoxResult
    from mmrwe.stats.logistic import LogisticResult

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
Method = Literal["pmm", "logreg", "polyreg", ""]
PoolScale = Literal["identity", "log", "logit"]

_METHODS: tuple[str, ...] = ("pmm", "logreg", "polyreg", "")
_DBL_EPS = float(np.finfo(float).eps)
_THRESH = -math.log(_DBL_EPS)
# mice's remove.lindep defaults
_LINDEP_EPS = 1e-4
_LINDEP_MAXCOR = 0.99
# mice.impute.pmm / estimice defaults
_RIDGE = 1e-5
_GLM_EPSILON = 1e-8
_GLM_MAXIT = 25


# ======================================================================================
# Rubin's rules
# ======================================================================================


def _t_ppf(q: float, df: float) -> float:
    from scipy import stats as _st

    return float(_st.t.ppf(q, df))


def _t_sf(x: float, df: float) -> float:
    from scipy import stats as _st

    return float(_st.t.sf(x, df))


def barnard_rubin_df(m: int, b: float, t: float, dfcom: float = math.inf) -> float:
    """Barnard-Rubin (1999) small-sample degrees of freedom, as ``mice:::barnard.rubin``.

    ``lambda = (1 + 1/m) b / t`` floored at 1e-4; ``dfold = (m - 1) / lambda^2``;
    ``dfobs = (dfcom + 1) / (dfcom + 3) * dfcom * (1 - lambda)``;
    ``df = dfold * dfobs / (dfold + dfobs)``, or ``dfold`` when ``dfcom`` is infinite.

    Examples
    --------
    m = 5, b = 0.01, t = 0.05: lambda = 1.2 * 0.01 / 0.05 = 0.24, dfold = 4 / 0.0576.

    >>> round(barnard_rubin_df(5, 0.01, 0.05), 6)
    69.444444
    """
    lam = (1.0 + 1.0 / m) * b / t
    lam = max(lam, 1e-4)
    dfold = (m - 1) / lam**2
    if math.isinf(dfcom):
        return dfold
    dfobs = (dfcom + 1.0) / (dfcom + 3.0) * dfcom * (1.0 - lam)
    return dfold * dfobs / (dfold + dfobs)


@dataclass(frozen=True, slots=True)
class PooledTerm:
    """One pooled coefficient (a row of ``summary(pool(fit), conf.int = TRUE)``).

    ``estimate``, ``lower`` and ``upper`` are on the analysis scale (log HR, log OR,
    logit); ``scale`` says which and ``*_transformed`` are exp / expit of them.
    ``lambda_`` is mice's ``lambda`` (a Python keyword).
    """

    name: str
    m: int
    estimate: float
    ubar: float
    b: float
    t: float
    dfcom: float
    df: float
    riv: float
    lambda_: float
    fmi: float
    se: float
    statistic: float
    p: float
    lower: float
    upper: float
    scale: PoolScale
    conf_level: float

    def _back(self, v: float) -> float:
        if self.scale == "log":
            return math.exp(v) if v < 709.0 else math.inf
        if self.scale == "logit":
            return 1.0 / (1.0 + math.exp(-v)) if v > -709.0 else 0.0
        return v

    @property
    def estimate_transformed(self) -> float:
        """``exp`` (log scale) or ``expit`` (logit scale) of the estimate."""
        return self._back(self.estimate)

    def to_dict(self) -> dict[str, Any]:
        """All of mice's columns (``lambda`` named as in mice) plus the back-transformed
        estimate and limits (``hr`` / ``odds_ratio`` / ``proportion`` depending on scale)."""
        out: dict[str, Any] = {
            "estimate": none_if_nan(self.estimate),
            "se": none_if_nan(self.se),
            "statistic": none_if_nan(self.statistic),
            "df": none_if_nan(self.df),
            "p": none_if_nan(self.p),
            "lower": none_if_nan(self.lower),
            "upper": none_if_nan(self.upper),
            "m": self.m,
            "ubar": none_if_nan(self.ubar),
            "b": none_if_nan(self.b),
            "t": none_if_nan(self.t),
            "dfcom": none_if_nan(self.dfcom),
            "riv": none_if_nan(self.riv),
            "lambda": none_if_nan(self.lambda_),
            "fmi": none_if_nan(self.fmi),
        }
        if self.scale != "identity":
            out["transformed"] = {
                "estimate": none_if_nan(self._back(self.estimate)),
                "lower": none_if_nan(self._back(self.lower)),
                "upper": none_if_nan(self._back(self.upper)),
                "transform": "exp" if self.scale == "log" else "expit",
            }
        return out


@dataclass(frozen=True, slots=True)
class PooledResult:
    """Rubin's-rules pooling of m complete-data analyses (``mice::pool``)."""

    terms: tuple[PooledTerm, ...]
    m: int
    dfcom: float
    scale: PoolScale
    conf_level: float
    analysis: str

    def term(self, name: str) -> PooledTerm:
        """The pooled row of one coefficient."""
        for t in self.terms:
            if t.name == name:
                return t
        raise KeyError(f"no term {name!r}; have {[t.name for t in self.terms]}")

    def to_dict(self) -> dict[str, Any]:
        """``{m, dfcom, scale, analysis, method, conf_level, terms: {name: {...}}}``."""
        return {
            "m": self.m,
            "dfcom": none_if_nan(self.dfcom),
            "scale": self.scale,
            "analysis": self.analysis,
            "conf_level": self.conf_level,
            "method": "Rubin's rules with Barnard-Rubin df (mice::pool, rubin1987)",
            "terms": {t.name: t.to_dict() for t in self.terms},
        }


def pool_rubin(
    estimates: ArrayLike,
    std_errors: ArrayLike,
    *,
    names: Sequence[str],
    dfcom: float = math.inf,
    conf_level: float = 0.95,
    scale: PoolScale = "identity",
    analysis: str = "custom",
) -> PooledResult:
    """Pool m complete-data estimates with Rubin's rules, as R ``mice::pool``.

    Parameters
    ----------
    estimates : array_like, shape (m, p)
        One row per imputed data set.
    std_errors : array_like, shape (m, p)
        Their standard errors (squared to within-imputation variances).
    names : sequence of str, length p
    dfcom : float
        Complete-data degrees of freedom (``inf`` allowed: then ``df = dfold``).
    conf_level : float
    scale : {"identity", "log", "logit"}
        Scale of the estimates, for the back-transformed values only.
    analysis : str
        Label recorded in the result (``"cox"``, ``"logistic"``, ``"proportion"``).

    Returns
    -------
    PooledResult

    Notes
    -----
    Equals ``summary(pool(fit, dfcom = dfcom), conf.int = TRUE, conf.level = )`` with
    ``rule = "rubin1987"``: see the module docstring for each formula.
    """
    q = np.atleast_2d(np.asarray(estimates, dtype=np.float64))
    se = np.atleast_2d(np.asarray(std_errors, dtype=np.float64))
    if q.shape != se.shape:
        raise InputError(f"estimates {q.shape} and std_errors {se.shape} differ in shape")
    m, p = q.shape
    if len(names) != p:
        raise InputError(f"{len(names)} names for {p} coefficients")
    if m < 2:
        raise EstimationError(
            "pooling needs at least two imputed data sets (mice: 'No pooling done')",
            fix="impute with m >= 2 (20 or more when much is missing)",
        )
    if not (np.all(np.isfinite(q)) and np.all(np.isfinite(se))):
        raise EstimationError(
            "an imputed data set gave a non-finite estimate or standard error",
            fix="check each complete-data fit (separation, empty groups) before pooling",
        )
    if not (0.0 < conf_level < 1.0):
        raise InputError(f"conf_level must be in (0, 1), got {conf_level}")
    dfc = float(dfcom)
    if not dfc > 0:
        raise InputError(f"dfcom must be > 0, got {dfcom}")
    qbar = q.mean(axis=0)
    ubar = (se**2).mean(axis=0)
    b = q.var(axis=0, ddof=1)
    t = ubar + (1.0 + 1.0 / m) * b
    a = (1.0 - conf_level) / 2.0
    terms = []
    for j, nm in enumerate(names):  # a loop over coefficients (a handful)
        df = barnard_rubin_df(m, float(b[j]), float(t[j]), dfc)
        riv = (1.0 + 1.0 / m) * float(b[j]) / float(ubar[j])
        lam = (1.0 + 1.0 / m) * float(b[j]) / float(t[j])
        fmi = (riv + 2.0 / (df + 3.0)) / (riv + 1.0)
        s = math.sqrt(float(t[j]))
        stat = float(qbar[j]) / s
        pval = 2.0 * _t_sf(abs(stat), max(df, 0.001))
        crit = _t_ppf(1.0 - a, df)
        terms.append(
            PooledTerm(
                name=str(nm),
                m=m,
                estimate=float(qbar[j]),
                ubar=float(ubar[j]),
                b=float(b[j]),
                t=float(t[j]),
                dfcom=dfc,
                df=df,
                riv=riv,
                lambda_=lam,
                fmi=fmi,
                se=s,
                statistic=stat,
                p=pval,
                lower=float(qbar[j]) - crit * s,
                upper=float(qbar[j]) + crit * s,
                scale=scale,
                conf_level=conf_level,
            )
        )
    return PooledResult(tuple(terms), m, dfc, scale, conf_level, analysis)


def pool_cox(fits: Sequence[CoxResult], *, conf_level: float = 0.95) -> PooledResult:
    """Pool Cox fits of the m imputed data sets (``pool(with(imp, coxph(...))))``).

    Uses the robust standard errors when the fits have them (mice takes broom's
    ``robust.se``), and ``dfcom = events - coefficients`` of the first fit (mice's
    ``get.dfcom`` for ``coxph``). Estimates are log hazard ratios.
    """
    if len(fits) < 2:
        raise EstimationError("pooling needs at least two Cox fits")
    names = fits[0].names
    if any(f.names != names for f in fits):
        raise EstimationError(
            "the Cox fits have different coefficients",
            fix="fit the same model (same dummies and reference levels) to every data set",
        )
    est = np.vstack([f.coef for f in fits])
    se = np.vstack([f.robust_se if f.robust_se is not None else f.se for f in fits])
    dfcom = max(fits[0].events - len(names), 1)
    return pool_rubin(
        est, se, names=names, dfcom=dfcom, conf_level=conf_level, scale="log", analysis="cox"
    )


def pool_logistic(fits: Sequence[LogisticResult], *, conf_level: float = 0.95) -> PooledResult:
    """Pool logistic fits (``pool(with(imp, glm(..., family = binomial))))``).

    ``dfcom`` = n - number of coefficients (``glance(fit)$df.residual``). Estimates are
    log odds ratios (the intercept a log odds).
    """
    if len(fits) < 2:
        raise EstimationError("pooling needs at least two logistic fits")
    names = fits[0].names
    if any(f.names != names for f in fits):
        raise EstimationError("the logistic fits have different coefficients")
    est = np.vstack([f.coef for f in fits])
    se = np.vstack([f.se for f in fits])
    return pool_rubin(
        est,
        se,
        names=names,
        dfcom=float(fits[0].df_residual),
        conf_level=conf_level,
        scale="log",
        analysis="logistic",
    )


def pool_proportion(
    successes: ArrayLike, n: int, *, conf_level: float = 0.95, name: str = "proportion"
) -> PooledResult:
    """Pool a proportion over imputed data sets on the logit scale.

    Each data set contributes ``logit(p_i)`` with variance ``1 / (n p_i (1 - p_i))`` from an
    intercept-only logistic model (``glm(y ~ 1, binomial)``, so equal to mice pooling that
    model), ``dfcom = n - 1``; the
    pooled estimate and limits are back-transformed with ``expit``
    (``to_dict()["terms"][name]["transformed"]``).
    """
    s = np.asarray(successes, dtype=np.float64)
    if s.ndim != 1 or s.size < 2:
        raise EstimationError("pooling a proportion needs the counts of >= 2 imputed data sets")
    if n < 2:
        raise InputError(f"n must be >= 2, got {n}")
    if np.any((s <= 0) | (s >= n)):
        raise EstimationError(
            "a proportion of 0 or 1 in some imputed data set has no logit",
            fix="report the proportions per data set, or an exact interval on complete cases",
        )
    from mmrwe.stats.logistic import logistic_fit

    # glm(y ~ 1, binomial) per data set, as mice pools it: logit(p) and an SE within
    # glm's IRLS tolerance (~1e-6 relative) of the closed form 1 / sqrt(n p (1 - p))
    est = np.empty((s.size, 1))
    se = np.empty((s.size, 1))
    for i, si in enumerate(s.astype(np.int64).tolist()):  # a loop over imputations
        y = np.zeros(n)
        y[:si] = 1.0
        fit = logistic_fit(y, np.zeros((n, 0)), names=[], ci="wald")
        est[i, 0], se[i, 0] = fit.coef[0], fit.se[0]
    return pool_rubin(
        est,
        se,
        names=[name],
        dfcom=float(n - 1),
        conf_level=conf_level,
        scale="logit",
        analysis="proportion",
    )


# ======================================================================================
# Auxiliary predictors for a Cox analysis
# ======================================================================================


def nelson_aalen(time: ArrayLike, is_event: ArrayLike) -> FloatArray:
    """Cumulative hazard at each patient's own time, as ``mice::nelsonaalen``.

    mice takes ``basehaz(coxph(Surv(time, status) ~ 1))``: the default Efron tie handling
    makes the increment at a time with ``d`` events and ``n`` at risk
    ``sum_{k=0}^{d-1} 1 / (n - k)`` (equal to the Nelson-Aalen ``d / n`` without ties).

    Examples
    --------
    Times 1, 2, 2, 3 all events: H(1) = 1/4; at 2 two tied events with 3 at risk add
    1/3 + 1/2; H(3) adds 1/1.

    >>> nelson_aalen([1, 2, 2, 3], [1, 1, 1, 1]).round(6).tolist()
    [0.25, 1.083333, 1.083333, 2.083333]
    """
    t, e = as_time_event(time, is_event)
    n = t.size
    order = np.argsort(t, kind="stable")
    ts, es = t[order], e[order]
    uniq, first = np.unique(ts, return_index=True)
    n_risk = n - first  # in sorted order everyone from a time's first row on is at risk
    ev_time = np.searchsorted(uniq, ts[es])  # sorted, so tied events are adjacent
    k = np.arange(ev_time.size) - np.searchsorted(ev_time, ev_time, side="left")
    # Efron: the k-th of d tied events (k = 0..d-1) sees n - k at risk
    inc = np.bincount(ev_time, weights=1.0 / (n_risk[ev_time] - k), minlength=uniq.size)
    out = np.empty(n)
    out[order] = np.cumsum(inc)[np.searchsorted(uniq, ts)]
    return out


def cox_auxiliaries(time: ArrayLike, is_event: ArrayLike) -> dict[str, FloatArray]:
    """White & Royston (2009) predictors for imputing covariates of a Cox model.

    Returns ``{"event": 0/1, "cumhaz": Nelson-Aalen H(T)}``, to pass as ``auxiliary=`` to
    :func:`mice` (never imputed, only used as predictors).
    """
    t, e = as_time_event(time, is_event)
    return {"event": e.astype(np.float64), "cumhaz": nelson_aalen(t, e)}


# ======================================================================================
# mice building blocks
# ======================================================================================


def _sym(x: NDArray[Any]) -> FloatArray:
    return np.asarray((x + x.T) / 2.0, dtype=np.float64)


def remove_lindep(x: FloatArray, y: FloatArray, ry: BoolArray) -> BoolArray:
    """Predictors kept by ``mice:::remove.lindep`` (eps 1e-4, maxcor 0.99).

    Drops predictors with variance <= eps on the observed rows or a correlation with the
    target >= 0.99 (signed, as mice), then, while the smallest eigenvalue of their
    correlation matrix is below eps times the largest, the predictor with the largest
    loading on it. Keeps none when the target itself has variance < eps.
    """
    p = x.shape[1]
    if p == 0:
        return np.zeros(0, dtype=bool)
    if not ry.any():
        return np.ones(p, dtype=bool)
    xobs = x[ry]
    yobs = y[ry]
    if yobs.size < 2 or np.var(yobs, ddof=1) < _LINDEP_EPS:
        return np.zeros(p, dtype=bool)
    var = np.var(xobs, axis=0, ddof=1)
    keep = var > _LINDEP_EPS
    with np.errstate(invalid="ignore", divide="ignore"):
        xc = xobs - xobs.mean(axis=0)
        yc = yobs - yobs.mean()
        cor = (xc * yc[:, None]).sum(axis=0) / np.sqrt((xc**2).sum(axis=0) * (yc**2).sum())
    keep &= np.where(np.isnan(cor), False, cor < _LINDEP_MAXCOR)
    while keep.sum() > 1:
        idx = np.flatnonzero(keep)
        cx = np.corrcoef(xobs[:, idx], rowvar=False)
        vals, vecs = np.linalg.eigh(cx)  # ascending
        if vals[0] / vals[-1] >= _LINDEP_EPS:
            break
        keep[idx[int(np.argmax(np.abs(vecs[:, 0])))]] = False
    return keep


def _norm_draw(
    x: FloatArray, y: FloatArray, z: FloatArray, chisq: float
) -> tuple[FloatArray, FloatArray, float]:
    """``mice:::.norm.draw`` on the observed rows with given N(0,1) ``z`` and chi-square draw.

    Returns ``(coef, beta_star, sigma_star)``.
    """
    p = x.shape[1]
    sol, _, rank, _ = np.linalg.lstsq(x, y, rcond=None)
    coef = np.asarray(sol, dtype=np.float64)
    resid = y - x @ coef
    xtx = x.T @ x
    try:
        if rank < p:
            raise np.linalg.LinAlgError
        v = np.linalg.inv(xtx)
        chol = np.asarray(np.linalg.cholesky(_sym(v)), dtype=np.float64)
    except np.linalg.LinAlgError:
        # estimice: a ridge penalty when X'X is singular
        v = np.linalg.inv(xtx + np.diag(np.diag(xtx) * _RIDGE))
        chol = np.asarray(np.linalg.cholesky(_sym(v)), dtype=np.float64)
    sigma = math.sqrt(float(resid @ resid) / chisq)
    beta_star = coef + (chol @ z) * sigma
    return coef, beta_star, sigma


def _match_index(d: FloatArray, t: FloatArray, k: int, shuffle: IntArray, h: IntArray) -> IntArray:
    """mice's C++ ``matchindex`` with its two random inputs given.

    ``shuffle`` is a permutation of the donors (0-based), ``h`` (1..k per target) says which
    nearest neighbour to take. Ties in distance go to the right-hand (larger) donor, as the
    C++ merge walk does. Returns 0-based donor indices.
    """
    n1 = d.size
    k = min(max(k, 1), n1)
    yshuf = d[shuffle]
    isort = np.argsort(yshuf, kind="stable")
    ids = shuffle[isort]
    ysort = d[ids]
    r0 = np.searchsorted(ysort, t, side="left")  # std::lower_bound
    # candidates: the k nearest on each side of the crossover point
    off = np.arange(k)
    left = r0[:, None] - 1 - off  # positions l, l-1, ...
    right = r0[:, None] + off  # positions r, r+1, ...
    pos = np.concatenate([left, right], axis=1)
    valid = (pos >= 0) & (pos < n1)
    posc = np.clip(pos, 0, n1 - 1)
    dist = np.where(valid, np.abs(ysort[posc] - t[:, None]), np.inf)
    # the walk takes left only when strictly closer: order by (distance, right first,
    # nearness within a side)
    is_left = np.concatenate([np.ones_like(left), np.zeros_like(right)], axis=1)
    rank_in_side = np.concatenate([off, off])[None, :].repeat(t.size, axis=0)
    order = np.lexsort((rank_in_side, is_left, dist), axis=1)
    chosen = np.take_along_axis(posc, order, axis=1)[np.arange(t.size), h - 1]
    out: IntArray = ids[chosen]
    return out


def _pmm(
    y: FloatArray,
    ry: BoolArray,
    x: FloatArray,
    wy: BoolArray,
    donors: int,
    rng: np.random.Generator,
) -> FloatArray:
    """``mice.impute.pmm`` (type-1 matching)."""
    x1 = np.column_stack([np.ones(y.size), x])
    xo, yo = x1[ry], y[ry]
    df = max(int(ry.sum()) - x1.shape[1], 1)
    z = rng.standard_normal(x1.shape[1])
    chisq = float(rng.chisquare(df))
    coef, beta_star, _ = _norm_draw(xo, yo, z, chisq)
    yhatobs = xo @ coef
    yhatmis = x1[wy] @ beta_star
    n1 = yhatobs.size
    shuffle = rng.permutation(n1).astype(np.int64)
    kk = min(max(donors, 1), n1)
    h = rng.integers(1, kk + 1, size=yhatmis.size)
    idx = _match_index(yhatobs, yhatmis, kk, shuffle, h)
    out: FloatArray = yo[idx]
    return out


def _augment(
    y: IntArray, ry: BoolArray, x: FloatArray, wy: BoolArray
) -> tuple[IntArray, BoolArray, FloatArray, BoolArray, FloatArray]:
    """``mice:::augment``: 2 p k pseudo-observations against perfect prediction."""
    icod = np.unique(y)
    k = icod.size
    n, p = x.shape
    if p == 0 or int((~ry).sum()) == 1:
        return y, ry, x, wy, np.ones(n)
    mean = x.mean(axis=0)
    sd = x.std(axis=0, ddof=1)
    nr = 2 * p * k
    a = np.tile(mean, (nr, 1))
    v = np.concatenate([np.tile([0.5, -0.5], k), np.zeros(nr)])
    b = np.resize(v, nr * p).reshape((nr, p), order="F")  # R's recycling, column-major fill
    dd = a + b * np.tile(sd, (nr, 1))
    dd = np.minimum(np.maximum(dd, x.min(axis=0)), x.max(axis=0))
    e = np.tile(np.repeat(icod, 2), p)
    ya = np.concatenate([y, e])
    rya = np.concatenate([ry, np.ones(nr, dtype=bool)])
    wya = np.concatenate([wy, np.zeros(nr, dtype=bool)])
    wa = np.concatenate([np.ones(n), np.full(nr, (p + 1) / nr)])
    return ya, rya, np.vstack([x, dd]), wya, wa


def _logit_linkinv(eta: FloatArray) -> FloatArray:
    tmp = np.exp(np.clip(eta, -_THRESH, _THRESH))
    out: FloatArray = tmp / (1.0 + tmp)
    return out


def _glm_logit_weighted(
    x: FloatArray, y: FloatArray, weights: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """R ``glm.fit(x, y, weights, family = quasibinomial())``: (coef, cov.unscaled)."""
    mustart = (weights * y + 0.5) / (weights + 1.0)
    eta = np.log(mustart / (1.0 - mustart))
    mu = _logit_linkinv(eta)

    def dev(mu_: FloatArray) -> float:
        with np.errstate(divide="ignore", invalid="ignore"):
            a = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu_), 0.0)
            b = np.where(y < 1, (1 - y) * np.log(np.where(y < 1, 1 - y, 1.0) / (1 - mu_)), 0.0)
        return float(np.sum(2.0 * weights * (a + b)))

    devold = dev(mu)
    coef = np.zeros(x.shape[1])
    xw = x
    for _ in range(_GLM_MAXIT):  # IRLS iterations
        e = np.exp(np.clip(eta, -_THRESH, _THRESH))
        mu_eta = np.maximum(e / (1.0 + e) ** 2, _DBL_EPS)
        varmu = mu * (1.0 - mu)
        z = eta + (y - mu) / mu_eta
        w = np.sqrt(weights * mu_eta**2 / varmu)
        xw = x * w[:, None]
        coef = np.linalg.lstsq(xw, z * w, rcond=None)[0]
        eta = x @ coef
        mu = _logit_linkinv(eta)
        dv = dev(mu)
        if abs(dv - devold) / (abs(dv) + 0.1) < _GLM_EPSILON:
            break
        devold = dv
    _, r = np.linalg.qr(xw)
    r_inv = np.linalg.solve(r, np.eye(r.shape[0]))
    return coef, r_inv @ r_inv.T


def _logreg(
    y: IntArray, ry: BoolArray, x: FloatArray, wy: BoolArray, rng: np.random.Generator
) -> IntArray:
    """``mice.impute.logreg``: codes 0/1 (1 = second level)."""
    ya, rya, xa, wya, wa = _augment(y, ry, x, wy)
    x1 = np.column_stack([np.ones(ya.size), xa])
    coef, cov = _glm_logit_weighted(x1[rya], (ya[rya] == 1).astype(np.float64), wa[rya])
    chol = np.linalg.cholesky(_sym(cov))
    beta_star = coef + chol @ rng.standard_normal(coef.size)
    p = 1.0 / (1.0 + np.exp(-(x1[wya] @ beta_star)))
    out: IntArray = (rng.random(p.size) <= p).astype(np.int64)
    return out


def _multinom_weighted(
    x: FloatArray, y: IntArray, weights: FloatArray, n_levels: int, max_iter: int = 100
) -> FloatArray:
    """Weighted multinomial logit MLE (baseline = level 0): coefficients (p, K - 1).

    The model of ``nnet::multinom`` (softmax, no decay), fitted by Newton-Raphson with
    step halving to a relative change in deviance < 1e-10.
    """
    n, p = x.shape
    km1 = n_levels - 1
    beta = np.zeros(p * km1)
    yk = np.zeros((n, n_levels))
    yk[np.arange(n), y] = 1.0

    def loglik(b: FloatArray) -> tuple[float, FloatArray]:
        eta = np.column_stack([np.zeros(n), x @ b.reshape(km1, p).T])
        eta -= eta.max(axis=1, keepdims=True)
        lse = np.log(np.exp(eta).sum(axis=1, keepdims=True))
        logp = eta - lse
        return float(np.sum(weights[:, None] * yk * logp)), np.exp(logp)

    ll, prob = loglik(beta)
    for _ in range(max_iter):  # Newton iterations
        pr = prob[:, 1:]
        resid = (yk[:, 1:] - pr) * weights[:, None]
        grad = (resid.T @ x).reshape(-1)
        # Hessian blocks: -sum w x x' (p_j (delta_jl - p_l))
        hess = np.zeros((km1 * p, km1 * p))
        for j in range(km1):  # a loop over outcome levels (a few)
            for m_ in range(km1):
                c = weights * pr[:, j] * ((j == m_) - pr[:, m_])
                hess[j * p : (j + 1) * p, m_ * p : (m_ + 1) * p] = (x * c[:, None]).T @ x
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        s = 1.0
        for _half in range(30):  # step halving
            new = beta + s * step
            ll_new, prob_new = loglik(new)
            if ll_new >= ll - 1e-12 * abs(ll):
                break
            s /= 2.0
        done = abs(ll_new - ll) / (abs(ll_new) + 0.1) < 1e-10
        beta, ll, prob = new, ll_new, prob_new
        if done:
            break
    out: FloatArray = beta.reshape(km1, p).T
    return out


def _polyreg(
    y: IntArray,
    ry: BoolArray,
    x: FloatArray,
    wy: BoolArray,
    n_levels: int,
    rng: np.random.Generator,
) -> IntArray:
    """``mice.impute.polyreg``: fitted multinomial probabilities, one uniform per row."""
    ya, rya, xa, wya, wa = _augment(y, ry, x, wy)
    n_wy = int(wya.sum())
    un = rng.random(n_wy)
    obs_counts = np.bincount(ya[rya], minlength=n_levels)
    if np.any(obs_counts == int(rya.sum())):
        return np.full(n_wy, int(np.argmax(obs_counts)), dtype=np.int64)
    x1 = np.column_stack([np.ones(ya.size), xa])
    beta = _multinom_weighted(x1[rya], ya[rya], wa[rya], n_levels)
    eta = np.column_stack([np.zeros(n_wy), x1[wya] @ beta])
    eta -= eta.max(axis=1, keepdims=True)
    post = np.exp(eta)
    post /= post.sum(axis=1, keepdims=True)
    out: IntArray = (un[:, None] > np.cumsum(post, axis=1)).sum(axis=1).astype(np.int64)
    return np.minimum(out, n_levels - 1)


# ======================================================================================
# mice
# ======================================================================================


@dataclass(frozen=True, slots=True)
class _Var:
    name: str
    categorical: bool
    levels: tuple[str, ...]
    values: FloatArray  # numeric values, or level codes as float; NaN = missing
    missing: BoolArray


def _prepare(name: str, values: ArrayLike, n: int) -> _Var:
    a = np.asarray(values)
    if a.ndim != 1 or a.shape[0] != n:
        raise InputError(f"variable {name!r} must be a 1-d array of length {n}, got {a.shape}")
    miss = missing_mask(a, n)
    numeric = a.dtype.kind in "fiu" or (
        a.dtype.kind == "O"
        and all(
            isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
            for v in a[~miss].tolist()
        )
    )
    if numeric:
        x = a.astype(np.float64)
        if np.any(np.isinf(x)):
            raise InputError(f"variable {name!r} has infinite values")
        return _Var(name, False, (), x, np.isnan(x))
    codes, labels, miss = factorize_groups(a, n)
    vals = np.where(miss, np.nan, codes.astype(np.float64))
    return _Var(name, True, labels, vals, miss)


def _design_columns(vars_: Sequence[_Var], current: Mapping[str, FloatArray]) -> FloatArray:
    cols: list[FloatArray] = []
    for v in vars_:
        x = current[v.name]
        if v.categorical:
            cols.extend((x == k).astype(np.float64) for k in range(1, len(v.levels)))
        else:
            cols.append(x)
    if not cols:
        return np.zeros((len(next(iter(current.values()))), 0))
    return np.column_stack(cols)


@dataclass(frozen=True, slots=True)
class MiceResult:
    """m completed versions of a data set with missing covariates (R ``mids``).

    Attributes
    ----------
    names : tuple of str
        The variables, in the order given.
    methods : dict
        Method per variable (``""`` = complete, not imputed).
    levels : dict
        Levels of each categorical variable (sorted), as the imputed codes refer to them.
    n_missing : dict
        Missing values per variable.
    m, maxit : int
    seed : int or None
    donors : int
    auxiliary : tuple of str
        Complete predictors that were used but are not part of the data.
    chain_mean, chain_var : dict
        Per imputed variable, arrays (maxit, m) of the mean and variance of its imputed
        values after each iteration (mice ``chainMean`` / ``chainVar``; categorical: of
        the 1-based level codes), for convergence plots.
    """

    names: tuple[str, ...]
    methods: dict[str, str]
    levels: dict[str, tuple[str, ...]]
    n_missing: dict[str, int]
    m: int
    maxit: int
    seed: int | None
    donors: int
    auxiliary: tuple[str, ...]
    chain_mean: dict[str, FloatArray]
    chain_var: dict[str, FloatArray]
    _observed: dict[str, FloatArray] = field(repr=False)
    _missing: dict[str, BoolArray] = field(repr=False)
    _imputed: dict[str, FloatArray] = field(repr=False)  # (n_missing, m)

    def __post_init__(self) -> None:
        for dct in (self.chain_mean, self.chain_var, self._observed, self._imputed):
            for k in list(dct):
                dct[k] = read_only(dct[k])
        for k in list(self._missing):
            self._missing[k] = read_only(self._missing[k])

    def imputed_values(self, name: str) -> NDArray[Any]:
        """The imputed values of one variable, shape (n_missing, m) (labels if categorical)."""
        v = self._imputed[name]
        if name in self.levels:
            return np.asarray(self.levels[name], dtype=object)[v.astype(np.int64)]
        return v

    def missing(self, name: str) -> BoolArray:
        """Which rows of ``name`` were missing."""
        return self._missing[name]

    def complete(self, i: int) -> dict[str, NDArray[Any]]:
        """The ``i``-th completed data set (0-based), as ``mice::complete(imp, i + 1)``.

        Numeric variables as float arrays, categorical ones as object arrays of labels.
        """
        if not (0 <= i < self.m):
            raise InputError(f"imputation index must be in 0..{self.m - 1}, got {i}")
        out: dict[str, NDArray[Any]] = {}
        for name in self.names:
            x = self._observed[name].copy()
            miss = self._missing[name]
            if miss.any():
                x[miss] = self._imputed[name][:, i]
            if name in self.levels:
                out[name] = np.asarray(self.levels[name], dtype=object)[x.astype(np.int64)]
            else:
                out[name] = x
        return out

    def to_dict(self) -> dict[str, Any]:
        """Settings and per-variable summary (no patient rows): ``{m, maxit, seed, donors,
        methods, n_missing, auxiliary, visit_sequence, chain_mean_last}``."""
        return {
            "method": "multiple imputation by chained equations (mice 3.15 algorithm)",
            "m": self.m,
            "maxit": self.maxit,
            "seed": self.seed,
            "donors": self.donors,
            "methods": dict(self.methods),
            "n_missing": dict(self.n_missing),
            "auxiliary": list(self.auxiliary),
            "visit_sequence": [nm for nm in self.names if self.methods[nm]],
            "chain_mean_last": {
                k: [none_if_nan(float(v)) for v in arr[-1]] for k, arr in self.chain_mean.items()
            },
        }


def mice(
    data: Mapping[str, ArrayLike],
    *,
    m: int = 5,
    maxit: int = 5,
    seed: int | np.random.Generator | None = None,
    method: Mapping[str, Method] | None = None,
    auxiliary: Mapping[str, ArrayLike] | None = None,
    donors: int = 5,
) -> MiceResult:
    """Multiple imputation by chained equations, R ``mice(data, m, maxit, method)``.

    Parameters
    ----------
    data : mapping of str to array_like
        The analysis variables (covariates), one array each; missing = NaN / None.
        Numeric arrays are imputed by ``"pmm"``; string / object arrays are categorical:
        two levels ``"logreg"``, more ``"polyreg"``.
    m : int
        Number of imputed data sets (mice default 5; use >= the percentage of incomplete
        cases, White et al. 2011).
    maxit : int
        Iterations of the chained equations (mice default 5).
    seed : int or numpy Generator, optional
        Random source: the same seed gives the same imputations.
    method : mapping, optional
        Override the method per variable (``""`` keeps a variable as predictor only).
    auxiliary : mapping of str to array_like, optional
        Complete extra predictors (e.g. :func:`cox_auxiliaries`; the outcome of a
        logistic analysis). Never imputed; not part of :meth:`MiceResult.complete`.
    donors : int
        Donor pool size of predictive mean matching (mice default 5).

    Returns
    -------
    MiceResult

    Raises
    ------
    InputError
        Unequal lengths, a missing auxiliary value, a method not fitting the variable.
    EstimationError
        A variable with no observed value.
    """
    if not data:
        raise InputError("no variables to impute")
    if m < 1 or maxit < 0:
        raise InputError(f"need m >= 1 and maxit >= 0, got m={m}, maxit={maxit}")
    if donors < 1:
        raise InputError(f"donors must be >= 1, got {donors}")
    lengths = {np.asarray(v).shape[0] if np.asarray(v).ndim else -1 for v in data.values()}
    if len(lengths) != 1:
        raise InputError("all variables must have the same length")
    n = lengths.pop()
    vars_ = [_prepare(str(k), v, n) for k, v in data.items()]
    aux = [_prepare(str(k), v, n) for k, v in (auxiliary or {}).items()]
    clash = {a.name for a in aux} & {v.name for v in vars_}
    if clash:
        raise InputError(f"auxiliary names clash with data names: {sorted(clash)}")
    for a in aux:
        if a.missing.any():
            raise InputError(
                f"auxiliary predictor {a.name!r} has {int(a.missing.sum())} missing value(s)",
                fix="auxiliary predictors must be complete (event indicator, cumulative hazard)",
            )
    methods: dict[str, str] = {}
    for v in vars_:
        default = "" if not v.missing.any() else ("pmm" if not v.categorical else "")
        if v.categorical and v.missing.any():
            default = "logreg" if len(v.levels) == 2 else "polyreg"
        chosen = (method or {}).get(v.name, default)
        if chosen not in _METHODS:
            raise InputError(f"unknown method {chosen!r} for {v.name!r}", fix=f"use {_METHODS}")
        if chosen and not v.missing.any():
            chosen = ""  # mice sets the method of a complete variable to ""
        if chosen == "pmm" and v.categorical:
            raise InputError(f"pmm needs a numeric variable; {v.name!r} is categorical")
        if chosen in ("logreg", "polyreg") and not v.categorical:
            raise InputError(
                f"{chosen} needs a categorical variable; {v.name!r} is numeric",
                fix="pass it as strings (labels) or use 'pmm'",
            )
        if chosen == "logreg" and len(v.levels) != 2:
            raise InputError(f"logreg needs two levels; {v.name!r} has {len(v.levels)}")
        if chosen and v.missing.all():
            raise EstimationError(f"variable {v.name!r} has no observed value to impute from")
        methods[v.name] = chosen
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    seed_rec = seed if isinstance(seed, int) else None

    todo = [v for v in vars_ if methods[v.name]]
    imp: dict[str, FloatArray] = {}
    for v in todo:  # initial values: mice.impute.sample
        obs = v.values[~v.missing]
        if obs.size == 1:
            obs = np.repeat(obs, 2)
        nm = int(v.missing.sum())
        imp[v.name] = np.column_stack([rng.choice(obs, size=nm, replace=True) for _ in range(m)])

    chain_mean = {v.name: np.full((maxit, m), np.nan) for v in todo}
    chain_var = {v.name: np.full((maxit, m), np.nan) for v in todo}
    all_vars = [*vars_, *aux]
    for it in range(maxit):  # chained-equation iterations
        for i in range(m):  # imputations
            current = {v.name: v.values.copy() for v in all_vars}
            for v in todo:
                current[v.name][v.missing] = imp[v.name][:, i]
            for v in todo:
                others = [u for u in all_vars if u.name != v.name]
                x = _design_columns(others, current)
                y = current[v.name]
                ry = ~v.missing
                wy = v.missing
                keep = remove_lindep(x, y, ry)
                x = x[:, keep]
                if methods[v.name] == "pmm":
                    new = _pmm(y, ry, x, wy, donors, rng)
                elif methods[v.name] == "logreg":
                    new = _logreg(y.astype(np.int64), ry, x, wy, rng).astype(np.float64)
                else:
                    new = _polyreg(y.astype(np.int64), ry, x, wy, len(v.levels), rng).astype(
                        np.float64
                    )
                imp[v.name][:, i] = new
                current[v.name][wy] = new
        for v in todo:
            vals = imp[v.name] + (1.0 if v.categorical else 0.0)
            chain_mean[v.name][it] = vals.mean(axis=0)
            chain_var[v.name][it] = vals.var(axis=0, ddof=1) if vals.shape[0] > 1 else np.nan

    return MiceResult(
        names=tuple(v.name for v in vars_),
        methods=methods,
        levels={v.name: v.levels for v in vars_ if v.categorical},
        n_missing={v.name: int(v.missing.sum()) for v in vars_},
        m=m,
        maxit=maxit,
        seed=seed_rec,
        donors=donors,
        auxiliary=tuple(a.name for a in aux),
        chain_mean=chain_mean,
        chain_var=chain_var,
        _observed={v.name: v.values for v in vars_},
        _missing={v.name: v.missing for v in vars_},
        _imputed={v.name: imp[v.name] for v in todo},
    )
