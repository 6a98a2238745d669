"""Firth-penalized Cox regression (Heinze & Schemper 2001) and a monotone-likelihood check.

With few patients and a strong binary factor (9 high-risk of 28, say), the ordinary Cox
partial likelihood can be *monotone*: it keeps increasing as a coefficient goes to +-infinity,
so the "estimate" is whatever the iteration stopped at and its Wald interval is meaningless.
Firth's penalty ``0.5 * log|I(beta)|`` (Jeffreys prior) removes the first-order bias and
keeps the estimate finite. Intervals and p-values come from the profile penalized likelihood,
as in R ``coxphf`` (``pl = TRUE``), which uses Breslow ties.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize
from scipy.stats import chi2

from mmrwe.core.errors import ConvergenceError, EstimationError, InputError
from mmrwe.stats._common import as_time_event, none_if_nan, read_only, z_value

FirthTies = Literal["breslow", "efron"]

__all__ = [
    "FirthCoxResult",
    "MonotoneLikelihood",
    "detect_monotone_likelihood",
    "firth_cox",
]


# ---------------------------------------------------------------------------------------
# Cox partial likelihood with derivatives up to the third (for the Firth score)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _CoxData:
    """Rows sorted by time, with the tie groups of distinct times precomputed."""

    x: NDArray[np.float64]  # (n, p), centred: the likelihood is invariant to centring
    event: NDArray[np.float64]  # (n,) 0/1
    starts: NDArray[np.intp]  # first row of each distinct time
    n_dead: NDArray[np.float64]  # deaths per distinct time
    max_dead: int


def _prepare(
    time: NDArray[np.float64], event: NDArray[np.bool_], x: NDArray[np.float64]
) -> _CoxData:
    order = np.argsort(time, kind="stable")
    t = time[order]
    xs = x[order]
    xs = xs - xs.mean(axis=0)  # centring keeps exp() in range; coefficients are unchanged
    ev = event[order].astype(np.float64)
    starts = np.flatnonzero(np.r_[True, t[1:] != t[:-1]])
    n_dead = np.add.reduceat(ev, starts)
    return _CoxData(xs, ev, starts, n_dead, int(n_dead.max()) if n_dead.size else 0)


def _derivatives(
    d: _CoxData, beta: NDArray[np.float64], ties: FirthTies, third: bool
) -> tuple[float, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64] | None]:
    """Log partial likelihood, score, information and (optionally) dI/dbeta.

    Efron's k-th term for a time with D deaths is an ordinary risk set whose dying members
    carry weight 1 - k/D, so its moments are S_k = S - (k/D) S_dead; Breslow is k = 0
    counted D times. dI/dbeta_r is the sum of the third central moments of x over these
    weighted risk sets (the derivative of a covariance with respect to a natural parameter).
    """
    x = d.x
    p = x.shape[1]
    eta = x @ beta
    shift = float(eta.max()) if eta.size else 0.0  # ratios are shift-invariant; log S0 adds it back
    r = np.exp(eta - shift)
    rx = r[:, None] * x
    rxx = rx[:, :, None] * x[:, None, :]
    dead = d.event
    # group sums per distinct time, then risk sets as reverse cumulative sums
    g0 = np.add.reduceat(r, d.starts)
    g1 = np.add.reduceat(rx, d.starts, axis=0)
    g2 = np.add.reduceat(rxx, d.starts, axis=0)
    s0 = np.cumsum(g0[::-1])[::-1]
    s1 = np.cumsum(g1[::-1], axis=0)[::-1]
    s2 = np.cumsum(g2[::-1], axis=0)[::-1]
    d0 = np.add.reduceat(r * dead, d.starts)
    d1 = np.add.reduceat(rx * dead[:, None], d.starts, axis=0)
    d2 = np.add.reduceat(rxx * dead[:, None, None], d.starts, axis=0)
    xdead = np.add.reduceat(x * dead[:, None], d.starts, axis=0)
    if third:
        rxxx = rxx[:, :, :, None] * x[:, None, None, :]
        s3 = np.cumsum(np.add.reduceat(rxxx, d.starts, axis=0)[::-1], axis=0)[::-1]
        d3 = np.add.reduceat(rxxx * dead[:, None, None, None], d.starts, axis=0)
    nd = d.n_dead
    has = nd > 0
    loglik = float(np.sum(xdead @ beta))
    score = xdead.sum(axis=0)
    info = np.zeros((p, p))
    dinfo = np.zeros((p, p, p)) if third else None
    n_terms = 1 if ties == "breslow" else d.max_dead
    for k in range(n_terms):
        if ties == "breslow":
            use = has
            f = np.zeros_like(nd)
            mult = nd
        else:
            use = nd > k
            f = np.where(use, k / np.where(use, nd, 1.0), 0.0)
            mult = use.astype(np.float64)
        if not np.any(use):
            continue
        f_u, m_u = f[use], mult[use]
        a0 = s0[use] - f_u * d0[use]
        a1 = s1[use] - f_u[:, None] * d1[use]
        a2 = s2[use] - f_u[:, None, None] * d2[use]
        mu = a1 / a0[:, None]
        m2 = a2 / a0[:, None, None]
        v = m2 - mu[:, :, None] * mu[:, None, :]
        loglik -= float(np.sum(m_u * (np.log(a0) + shift)))
        score = score - np.sum(m_u[:, None] * mu, axis=0)
        info = info + np.sum(m_u[:, None, None] * v, axis=0)
        if third and dinfo is not None:
            a3 = s3[use] - f_u[:, None, None, None] * d3[use]
            m3 = a3 / a0[:, None, None, None]
            t3 = (
                m3
                - mu[:, :, None, None] * m2[:, None, :, :]
                - mu[:, None, :, None] * m2[:, :, None, :]
                - mu[:, None, None, :] * m2[:, :, :, None]
                + 2.0 * mu[:, :, None, None] * mu[:, None, :, None] * mu[:, None, None, :]
            )
            dinfo = dinfo + np.sum(m_u[:, None, None, None] * t3, axis=0)
    return loglik, score, info, dinfo


def _penalized(
    d: _CoxData, beta: NDArray[np.float64], ties: FirthTies
) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """Penalized log-likelihood l + 0.5 log|I|, the Firth-modified score and I."""
    ll, u, info, dinfo = _derivatives(d, beta, ties, third=True)
    assert dinfo is not None
    sign, logdet = np.linalg.slogdet(info)
    if sign <= 0:
        return -math.inf, u, info
    inv = np.linalg.inv(info)
    # U*_r = U_r + 0.5 trace(I^-1 dI/dbeta_r)   (Heinze & Schemper 2001, eq. 2)
    u_star = u + 0.5 * np.einsum("ab,bar->r", inv, dinfo)
    return ll + 0.5 * logdet, u_star, info


def _newton(
    d: _CoxData,
    beta0: NDArray[np.float64],
    ties: FirthTies,
    free: NDArray[np.bool_],
    *,
    max_iter: int,
    tol: float,
    max_step: float = 5.0,
    max_halving: int = 25,
) -> tuple[NDArray[np.float64], float, int, bool]:
    """Maximise the penalized likelihood over the ``free`` coefficients (others fixed).

    Newton steps use the (unpenalized) information as the Hessian, as coxphf does; the
    fixed point is the root of the modified score. Steps are capped and halved while the
    penalized likelihood decreases.
    """
    beta = beta0.astype(np.float64).copy()
    pll, u, info = _penalized(d, beta, ties)
    if not np.isfinite(pll):
        raise EstimationError("the information matrix is singular at the start of the Firth fit")
    idx = np.flatnonzero(free)
    for it in range(1, max_iter + 1):
        if idx.size == 0:
            return beta, pll, it - 1, True
        step = np.zeros_like(beta)
        step[idx] = np.linalg.solve(info[np.ix_(idx, idx)], u[idx])
        big = float(np.max(np.abs(step)))
        if big > max_step:
            step *= max_step / big
        unorm = float(np.linalg.norm(u[idx]))
        for _ in range(max_halving):
            cand = beta + step
            pll_c, u_c, info_c = _penalized(d, cand, ties)
            # The information is not the penalized Hessian, so a full step can jump to the
            # mirror point with the same penalized likelihood and oscillate; accept a step
            # only if it increases l*, or keeps it (to rounding) while shrinking the score.
            if np.isfinite(pll_c) and (
                pll_c > pll
                or (
                    pll_c >= pll - 1e-12 * max(1.0, abs(pll))
                    and float(np.linalg.norm(u_c[idx])) < unorm
                )
            ):
                break
            step = step / 2.0
        beta, pll, u, info = cand, pll_c, u_c, info_c
        if float(np.max(np.abs(step))) < tol and float(np.max(np.abs(u[idx]))) < 1e-6:
            return beta, pll, it, True
    return beta, pll, max_iter, False


# ---------------------------------------------------------------------------------------
# Public result and fit
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FirthCoxResult:
    """Firth-penalized Cox fit, with profile penalized-likelihood intervals and tests.

    Attributes
    ----------
    names : tuple of str
        Term names, in the order of the columns of ``X``.
    coef, se, hr, lower, upper, z, p, chisq : ndarray
        Penalized estimate, its SE ``sqrt(diag(I(b)^-1))`` (unpenalized information at the
        penalized estimate, as coxphf), ``exp(coef)``, confidence limits of the HR (profile
        penalized likelihood, or Wald when ``ci_method == "wald"``), Wald ``z = coef / se``,
        and the p-value and chi-square of the penalized likelihood-ratio test of ``coef = 0``
        (Wald when ``profile_ci=False``). ``nan`` limits mean not found (unbounded).
    loglik_penalized : float
        Penalized log partial likelihood at the estimate (coxphf ``loglik[2]``).
    loglik_penalized_null : float
        The same at ``beta = 0`` (coxphf ``loglik[1]``).
    lr_chisq, lr_df, lr_p : float, int, float
        Global penalized likelihood-ratio test (coxphf's "Likelihood ratio test").
    n, events : int
        Rows used and events.
    ties, conf_level, ci_method, p_method, converged, iterations, notes
        Conventions and fit diagnostics.
    """

    names: tuple[str, ...]
    coef: NDArray[np.float64]
    se: NDArray[np.float64]
    hr: NDArray[np.float64]
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]
    z: NDArray[np.float64]
    p: NDArray[np.float64]
    chisq: NDArray[np.float64]
    loglik_penalized: float
    loglik_penalized_null: float
    lr_chisq: float
    lr_df: int
    lr_p: float
    n: int
    events: int
    ties: FirthTies = "breslow"
    conf_level: float = 0.95
    ci_method: Literal["profile penalized likelihood", "wald"] = "profile penalized likelihood"
    p_method: Literal["penalized likelihood ratio", "wald"] = "penalized likelihood ratio"
    converged: bool = True
    iterations: int = 0
    penalty: float = 0.5
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for name in ("coef", "se", "hr", "lower", "upper", "z", "p", "chisq"):
            object.__setattr__(self, name, read_only(getattr(self, name), dtype=np.float64))

    def to_dict(self) -> dict[str, Any]:
        """Return the contract's ``cox`` entry keys (``coefficients``, ``tests``) plus Firth's."""
        coefs = {
            name: {
                "coef": none_if_nan(self.coef[i]),
                "se": none_if_nan(self.se[i]),
                "hr": none_if_nan(self.hr[i]),
                "lower": none_if_nan(self.lower[i]),
                "upper": none_if_nan(self.upper[i]),
                "z": none_if_nan(self.z[i]),
                "p": none_if_nan(self.p[i]),
                "chisq": none_if_nan(self.chisq[i]),
            }
            for i, name in enumerate(self.names)
        }
        return {
            "method": "firth",
            "terms": list(self.names),
            "ties": self.ties,
            "n": int(self.n),
            "events": int(self.events),
            "coefficients": coefs,
            "tests": {
                "lr": {
                    "chisq": none_if_nan(self.lr_chisq),
                    "df": int(self.lr_df),
                    "p": none_if_nan(self.lr_p),
                }
            },
            "loglik_penalized": none_if_nan(self.loglik_penalized),
            "loglik_penalized_null": none_if_nan(self.loglik_penalized_null),
            "conf_level": float(self.conf_level),
            "ci_method": self.ci_method,
            "p_method": self.p_method,
            "penalty": float(self.penalty),
            "converged": bool(self.converged),
            "iterations": int(self.iterations),
            "notes": list(self.notes),
        }


def _as_design(x: ArrayLike, n: int, names: tuple[str, ...]) -> NDArray[np.float64]:
    xm = np.asarray(x, dtype=np.float64)
    if xm.ndim == 1:
        xm = xm[:, None]
    if xm.ndim != 2 or xm.shape[0] != n:
        raise InputError(f"X must have {n} rows (one per patient), got shape {xm.shape}")
    if xm.shape[1] != len(names):
        raise InputError(f"names has {len(names)} entries but X has {xm.shape[1]} columns")
    if not np.all(np.isfinite(xm)):
        raise InputError("X has missing or infinite values", fix="drop incomplete rows first")
    return xm


def firth_cox(
    time: ArrayLike,
    is_event: ArrayLike,
    X: ArrayLike,
    *,
    names: tuple[str, ...] | list[str],
    ties: FirthTies = "breslow",
    conf_level: float = 0.95,
    profile_ci: bool = True,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> FirthCoxResult:
    """Fit a Cox model by Firth's penalized partial likelihood.

    Parameters
    ----------
    time, is_event : array_like, shape (n,)
        Follow-up time and event indicator (True = event).
    X : array_like, shape (n, p) or (n,)
        Covariates (dummy-coded already).
    names : sequence of str
        One name per column.
    ties : {"breslow", "efron"}
        Tie handling; R ``coxphf`` uses Breslow, the default here.
    conf_level : float
        Level of the confidence intervals.
    profile_ci : bool
        Profile penalized-likelihood intervals and penalized LR p-values (coxphf's
        ``pl = TRUE``); Wald intervals and p-values when False.
    max_iter, tol : int, float
        Newton iteration limit and convergence tolerance on the step.

    Returns
    -------
    FirthCoxResult

    Notes
    -----
    Maximises ``l(b) + 0.5 log|I(b)|`` (Heinze & Schemper 2001); the same estimate as R
    ``coxphf::coxphf(..., pl = TRUE)``. The reference tests prove it against an independent
    R implementation that evaluates ``l(b)`` and ``I(b)`` with ``survival::coxph(init = b,
    iter.max = 0)`` and maximises with ``optim``/``uniroot`` (coxphf itself is not packaged
    for Debian).

    Examples
    --------
    >>> r = firth_cox([1, 2, 3, 4, 5, 6], [1, 1, 1, 0, 1, 0], [1, 1, 0, 1, 0, 0], names=["g"])
    >>> round(float(r.coef[0]), 4)
    1.048
    """
    t, e = as_time_event(time, is_event)
    names_t = tuple(str(s) for s in names)
    xm = _as_design(X, t.size, names_t)
    if ties not in ("breslow", "efron"):
        raise InputError(f"ties must be 'breslow' or 'efron', got {ties!r}")
    n_events = int(e.sum())
    if n_events == 0:
        raise EstimationError("no events: a Cox model cannot be fitted")
    d = _prepare(t, e, xm)
    p = xm.shape[1]
    free = np.ones(p, dtype=bool)
    beta, pll, iters, ok = _newton(d, np.zeros(p), ties, free, max_iter=max_iter, tol=tol)
    if not ok:
        raise ConvergenceError(
            f"Firth-penalized Cox did not converge in {max_iter} iterations",
            fix="check for collinear or constant covariates",
        )
    _, _, info = _penalized(d, beta, ties)
    cov = np.linalg.inv(info)
    se = np.sqrt(np.diag(cov))
    pll0, _, _ = _penalized(d, np.zeros(p), ties)
    lr = 2.0 * (pll - pll0)
    notes: list[str] = []
    z = z_value(conf_level)
    if profile_ci:
        q = float(chi2.ppf(conf_level, 1))
        lower = np.full(p, np.nan)
        upper = np.full(p, np.nan)
        chisq = np.full(p, np.nan)
        for r in range(p):  # a loop over a handful of covariates
            prof = _Profile(d, beta, pll, r, ties, max_iter, tol)
            chisq[r] = max(0.0, 2.0 * (pll - prof(0.0)))
            lo = prof.limit(-1.0, se[r], q)
            hi = prof.limit(+1.0, se[r], q)
            lower[r], upper[r] = lo, hi
            if not (np.isfinite(lo) and np.isfinite(hi)):
                notes.append(f"profile limit for {names_t[r]} not found (unbounded)")
        pvals = chi2.sf(chisq, 1)
        ci_method: Literal["profile penalized likelihood", "wald"] = "profile penalized likelihood"
        p_method: Literal["penalized likelihood ratio", "wald"] = "penalized likelihood ratio"
    else:
        lower = beta - z * se
        upper = beta + z * se
        chisq = (beta / se) ** 2
        pvals = chi2.sf(chisq, 1)
        ci_method, p_method = "wald", "wald"
    return FirthCoxResult(
        names=names_t,
        coef=beta,
        se=se,
        hr=np.exp(beta),
        lower=np.exp(lower),
        upper=np.exp(upper),
        z=beta / se,
        p=pvals,
        chisq=chisq,
        loglik_penalized=float(pll),
        loglik_penalized_null=float(pll0),
        lr_chisq=float(lr),
        lr_df=p,
        lr_p=float(chi2.sf(lr, p)),
        n=int(t.size),
        events=n_events,
        ties=ties,
        conf_level=conf_level,
        ci_method=ci_method,
        p_method=p_method,
        converged=ok,
        iterations=iters,
        notes=tuple(notes),
    )


class _Profile:
    """Profile penalized log-likelihood of coefficient ``r`` (others re-maximised)."""

    def __init__(
        self,
        d: _CoxData,
        beta_hat: NDArray[np.float64],
        pll_hat: float,
        r: int,
        ties: FirthTies,
        max_iter: int,
        tol: float,
    ) -> None:
        self.d, self.beta_hat, self.pll_hat, self.r = d, beta_hat, pll_hat, r
        self.ties, self.max_iter, self.tol = ties, max_iter, tol
        self.free = np.ones(beta_hat.size, dtype=bool)
        self.free[r] = False
        self._warm = beta_hat.copy()

    def __call__(self, value: float) -> float:
        start = self._warm.copy()
        start[self.r] = value
        if not self.free.any():
            pll, _, _ = _penalized(self.d, start, self.ties)
            return pll
        beta, pll, _, ok = _newton(
            self.d, start, self.ties, self.free, max_iter=self.max_iter, tol=self.tol
        )
        if not ok:
            raise ConvergenceError("profile penalized likelihood did not converge")
        self._warm = beta
        return pll

    def limit(self, sign: float, se: float, q: float) -> float:
        """Solve 2 (pll_hat - profile(b)) = q on one side of the estimate."""
        b0 = float(self.beta_hat[self.r])
        target = self.pll_hat - q / 2.0

        def f(b: float) -> float:
            return self(b) - target

        step = max(se, 1e-3)
        inner = b0
        for _ in range(60):
            outer = b0 + sign * step
            try:
                val = f(outer)
            except (EstimationError, np.linalg.LinAlgError):
                return math.nan
            if val < 0:
                self._warm = self.beta_hat.copy()
                return float(
                    optimize.brentq(f, inner, outer, xtol=1e-12, rtol=4 * np.finfo(float).eps)
                )
            inner = outer
            step *= 2.0
            if step > 1e3:
                break
        return math.nan


# ---------------------------------------------------------------------------------------
# Monotone likelihood
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MonotoneLikelihood:
    """Whether the Cox partial likelihood is monotone (some coefficient diverges).

    Attributes
    ----------
    detected : bool
        True if a direction ``d`` exists along which the log partial likelihood keeps
        increasing (Bryson & Johnson 1981): ``d'x_i >= d'x_k`` for every event ``i`` and
        every ``k`` at risk at its time, with strict inequality somewhere.
    direction : ndarray or None
        Such a direction (scaled to max |d| = 1), when found.
    terms : tuple of str
        Terms with a non-zero component in ``direction`` (the diverging coefficients).
    method : str
        ``"exact-1d"`` (one covariate: risk-set extremes) or ``"linear-program"``.
    note : str
        Plain-language note for the report.
    """

    detected: bool
    direction: NDArray[np.float64] | None
    terms: tuple[str, ...]
    method: str
    note: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "detected": bool(self.detected),
            "direction": None if self.direction is None else [float(v) for v in self.direction],
            "terms": list(self.terms),
            "method": self.method,
            "note": self.note,
        }


def detect_monotone_likelihood(
    time: ArrayLike,
    is_event: ArrayLike,
    X: ArrayLike,
    *,
    names: tuple[str, ...] | list[str] | None = None,
    max_constraints: int = 2_000_000,
) -> MonotoneLikelihood:
    """Detect monotone likelihood (separation) in a Cox model before fitting it.

    Parameters
    ----------
    time, is_event : array_like, shape (n,)
        Follow-up time and event indicator.
    X : array_like, shape (n, p) or (n,)
        Covariates.
    names : sequence of str, optional
        Term names (default ``x1, x2, ...``).
    max_constraints : int
        Above this many (event, at-risk) pairs the multivariable linear program is skipped
        and only each covariate alone is checked (monotone likelihood is a small-sample
        problem).

    Returns
    -------
    MonotoneLikelihood

    Notes
    -----
    One covariate: monotone iff at every event time the dying patients carry the largest
    (or every one the smallest) value in the risk set, and not all risk sets are constant.
    Several covariates: a linear program looks for a direction ``d`` with
    ``d'(x_i - x_k) >= 0`` over all events ``i`` and their risk sets ``k``. The same
    condition holds for Breslow and Efron ties. When detected, use :func:`firth_cox`.
    """
    t, e = as_time_event(time, is_event)
    xm = np.asarray(X, dtype=np.float64)
    if xm.ndim == 1:
        xm = xm[:, None]
    p = xm.shape[1]
    names_t = tuple(names) if names is not None else tuple(f"x{i + 1}" for i in range(p))
    xm = _as_design(xm, t.size, names_t)
    if not e.any():
        return MonotoneLikelihood(False, None, (), "exact-1d", "no events")
    order = np.argsort(t, kind="stable")
    ts, es, xs = t[order], e[order], xm[order]
    starts = np.flatnonzero(np.r_[True, ts[1:] != ts[:-1]])
    group = np.cumsum(np.r_[True, ts[1:] != ts[:-1]]) - 1
    # risk-set extremes per distinct time: suffix max/min over time-sorted rows
    rmax = np.maximum.accumulate(xs[::-1], axis=0)[::-1][starts]
    rmin = np.minimum.accumulate(xs[::-1], axis=0)[::-1][starts]
    ev_rows = np.flatnonzero(es)
    g = group[ev_rows]
    single: list[tuple[int, float]] = []
    for j in range(p):  # a loop over a handful of covariates
        xe = xs[ev_rows, j]
        nonflat = bool(np.any(rmax[g, j] > rmin[g, j]))
        if not nonflat:
            continue
        if np.all(xe >= rmax[g, j]):
            single.append((j, 1.0))
        elif np.all(xe <= rmin[g, j]):
            single.append((j, -1.0))
    if single:
        j, s = single[0]
        direction = np.zeros(p)
        direction[j] = s
        which = "+infinity" if s > 0 else "-infinity"
        return MonotoneLikelihood(
            True,
            direction,
            (names_t[j],),
            "exact-1d",
            f"monotone likelihood: the coefficient of {names_t[j]} diverges to {which} "
            "(at every event time the patient with the event has the extreme value in the "
            "risk set); Firth's penalized likelihood gives a finite estimate",
        )
    if p == 1:
        return MonotoneLikelihood(False, None, (), "exact-1d", "no monotone likelihood")
    # multivariable: linear program over pairwise differences
    n_pairs = int(np.sum(t.size - starts[g]))
    if n_pairs > max_constraints:
        return MonotoneLikelihood(
            False,
            None,
            (),
            "exact-1d",
            "no single covariate separates; the multivariable check was skipped (large data)",
        )
    first_row = starts[g]
    counts = t.size - first_row
    rows_i = np.repeat(ev_rows, counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    rows_k = np.repeat(first_row, counts) + offsets
    diff = xs[rows_i] - xs[rows_k]
    diff = diff[np.any(diff != 0.0, axis=1)]
    if diff.shape[0] == 0:
        return MonotoneLikelihood(False, None, (), "linear-program", "no monotone likelihood")
    scale = np.maximum(np.abs(diff).max(axis=0), 1e-300)
    dn = diff / scale  # unit-free columns for a well-conditioned program
    res = optimize.linprog(
        c=-dn.sum(axis=0),
        A_ub=-dn,
        b_ub=np.zeros(dn.shape[0]),
        bounds=[(-1.0, 1.0)] * p,
        method="highs",
    )
    if res.status == 0 and -res.fun > 1e-6:
        dvec = res.x / scale
        dvec = dvec / np.max(np.abs(dvec))
        dvec[np.abs(dvec) < 1e-9] = 0.0
        terms = tuple(names_t[i] for i in range(p) if dvec[i] != 0.0)
        return MonotoneLikelihood(
            True,
            dvec,
            terms,
            "linear-program",
            "monotone likelihood: a combination of "
            + ", ".join(terms)
            + " separates the events; Firth's penalized likelihood gives finite estimates",
        )
    return MonotoneLikelihood(False, None, (), "linear-program", "no monotone likelihood")
