"""Fine-Gray subdistribution hazards regression (as ``cmprsk::crr``) and cause-specific Cox.

:func:`finegray` equals R ``cmprsk::crr(ftime, fstatus, cov1, cengroup, failcode, cencode)``
(cmprsk 2.2-11/12, Fortran ``crrfsv``, ``crrf``, ``crrvv``, ``crrfit``): the same censoring
weights, objective, Newton-Raphson with backtracking and stopping rule, and the sandwich
variance ``crr()$var``. :func:`cause_specific_cox` is :func:`mmrwe.stats.cox.cox_fit` with the
competing events censored (R ``coxph(Surv(time, cause == k) ~ ...)``). Fixtures:
``tests/reference/r/competing_risks.R``.

Event coding as in :mod:`mmrwe.stats.cuminc`: ``censored`` (default 0) for censored rows,
``event`` (default 1) for the event of interest, any other value competes.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mmrwe.core.errors import EstimationError, InputError, MmrweWarning
from mmrwe.stats._common import none_if_nan, read_only, z_value
from mmrwe.stats.cox import CoxResult, cox_fit
from mmrwe.stats.cuminc import CAUSE, CENSORED, COMPETING, _prepare
from mmrwe.stats.km import factorize_groups, kaplan_meier

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_EPS = float(np.finfo(np.float64).eps)  # R's .Machine$double.eps
DEFAULT_GTOL = 1e-6  # crr(gtol = 1e-6)
DEFAULT_MAX_ITER = 10  # crr(maxiter = 10)
VARIANCE_METHOD = "sandwich (Fine & Gray 1999), as cmprsk::crr var"
WEIGHTS = "Kaplan-Meier of censoring at t- (within cengroup), as cmprsk::crr"


@dataclass(frozen=True, slots=True)
class FineGrayResult:
    """A fitted Fine-Gray model, as R ``crr()`` and ``summary(crr())``.

    Attributes
    ----------
    names : tuple of str
        Column names of X.
    coef, se, z, p, shr, lower, upper : ndarray, shape (p,)
        Coefficients, sandwich standard errors ``sqrt(diag(crr()$var))``, Wald z and
        two-sided p ``2 * pnorm(-|z|)`` (summary.crr prints ``2 * (1 - pnorm(|z|))``
        rounded), subdistribution hazard ratios exp(coef) and Wald limits
        exp(coef -+ z se).
    var : ndarray, shape (p, p)
        Sandwich variance ``crr()$var`` (read-only).
    information : ndarray, shape (p, p)
        Information matrix of the pseudo log-likelihood ``crr()$inf``.
    score : ndarray, shape (p,)
        Score at the estimate ``crr()$score``.
    loglik, loglik_null : float
        Log pseudo-likelihood at the estimate and at 0 (``loglik``, ``loglik.null``).
    lr_chisq, lr_df, lr_p : float, int, float
        Pseudo likelihood-ratio test ``-2 (loglik.null - loglik)`` on p df (as printed by
        ``summary.crr``; its chi-square p is not a valid test, Fine & Gray 1999).
    converged : bool
        crr's ``converged``.
    iterations : int
        Newton steps taken (crr does not report it).
    n, events, competing_events, censored : int
    uftime, bfitj : ndarray
        Distinct event times and the jumps of the baseline cumulative subdistribution
        hazard at them (``crr()$uftime``, ``crr()$bfitj``), for predictions.
    cengroups : int
        Number of censoring groups (1 = crr's default).
    event : str
    competing : tuple of str
    conf_level : float
    warnings : tuple of str
    """

    names: tuple[str, ...]
    coef: FloatArray
    se: FloatArray
    z: FloatArray
    p: FloatArray
    shr: FloatArray
    lower: FloatArray
    upper: FloatArray
    var: FloatArray
    information: FloatArray
    score: FloatArray
    loglik: float
    loglik_null: float
    lr_chisq: float
    lr_df: int
    lr_p: float | None
    converged: bool
    iterations: int
    n: int
    events: int
    competing_events: int
    censored: int
    uftime: FloatArray
    bfitj: FloatArray
    cengroups: int
    event: str
    competing: tuple[str, ...]
    conf_level: float
    warnings: tuple[str, ...]

    def __post_init__(self) -> None:
        for name in (
            "coef", "se", "z", "p", "shr", "lower", "upper", "var", "information", "score",
            "uftime", "bfitj",
        ):  # fmt: skip
            object.__setattr__(self, name, read_only(getattr(self, name), dtype=np.float64))

    def to_dict(self, *, event: str | None = None, competing: str | None = None) -> dict[str, Any]:
        """Return the ``finegray[]`` entry of results.json (contract section 5.4).

        Parameters
        ----------
        event, competing : str, optional
            The spec's names; default: the cause labels of the data.

        Returns
        -------
        dict
            ``event``, ``competing``, ``coefficients`` {term: {``coef``, ``se``, ``shr``,
            ``lower``, ``upper``, ``z``, ``p``}}, ``loglik``, ``loglik_null``,
            ``lr_test`` {``chisq``, ``df``, ``p``}, ``converged``, ``iterations``, ``n``,
            ``events``, ``competing_events``, ``censored``, ``conventions``, ``warnings``.
        """
        coefs = {
            name: {
                "coef": none_if_nan(self.coef[j]),
                "se": none_if_nan(self.se[j]),
                "shr": none_if_nan(self.shr[j]),
                "lower": none_if_nan(self.lower[j]),
                "upper": none_if_nan(self.upper[j]),
                "z": none_if_nan(self.z[j]),
                "p": none_if_nan(self.p[j]),
            }
            for j, name in enumerate(self.names)
        }
        return {
            "event": event if event is not None else self.event,
            "competing": competing if competing is not None else "+".join(self.competing),
            "coefficients": coefs,
            "loglik": none_if_nan(self.loglik),
            "loglik_null": none_if_nan(self.loglik_null),
            "lr_test": {
                "chisq": none_if_nan(self.lr_chisq),
                "df": int(self.lr_df),
                "p": none_if_nan(self.lr_p),
            },
            "converged": bool(self.converged),
            "iterations": int(self.iterations),
            "n": int(self.n),
            "events": int(self.events),
            "competing_events": int(self.competing_events),
            "censored": int(self.censored),
            "conventions": {
                "method": "Fine-Gray subdistribution hazards (cmprsk::crr)",
                "variance": VARIANCE_METHOD,
                "weights": WEIGHTS,
                "ties": "Breslow-type: tied events share one risk-set sum (crr)",
                "cengroups": int(self.cengroups),
                "conf_level": float(self.conf_level),
            },
            "warnings": list(self.warnings),
        }


# --------------------------------------------------------------------------------------
# public functions
# --------------------------------------------------------------------------------------


def finegray(
    time: ArrayLike,
    cause: ArrayLike,
    X: ArrayLike,
    *,
    names: Sequence[str],
    event: object = 1,
    censored: object = 0,
    cengroup: ArrayLike | None = None,
    init: ArrayLike | None = None,
    max_iter: int = DEFAULT_MAX_ITER,
    gtol: float = DEFAULT_GTOL,
    conf_level: float = 0.95,
) -> FineGrayResult:
    """Fit a Fine-Gray subdistribution hazards model, as R ``cmprsk::crr``.

    Parameters
    ----------
    time : array_like of float, shape (n,)
        Time to the first event or censoring, finite and >= 0 (any unit).
    cause : array_like, shape (n,)
        ``censored`` for censored rows, else the cause (codes or labels); no missing.
    X : array_like of float, shape (n, p)
        Covariates (dummies built by the caller); no NaN (drop incomplete rows first, as
        crr's ``na.omit``).
    names : sequence of str, length p
        Column names.
    event : scalar
        The event of interest (crr's ``failcode``, default 1).
    censored : scalar
        The censoring code (crr's ``cencode``, default 0).
    cengroup : array_like, optional
        Groups with separate censoring distributions (crr's ``cengroup``); by default one
        censoring distribution for everybody, as crr.
    init : array_like, optional
        Starting values (crr's ``init``; zeros by default).
    max_iter, gtol : optional
        crr's ``maxiter = 10`` and ``gtol = 1e-6``.
    conf_level : float
        Level of the Wald limits exp(coef -+ z se).

    Returns
    -------
    FineGrayResult

    Raises
    ------
    InputError
        Bad shapes, NaN, negative times, missing causes, wrong number of names.
    EstimationError
        No event of interest, or a singular information matrix (constant or collinear
        covariates).

    Notes
    -----
    Equals crr (cmprsk 2.2-11) without time-varying covariates (``cov2``). Rows are
    sorted by time; weights for a competing-event row i at event time t are
    G(t-)/G(T_i-), G the Kaplan-Meier curve of censoring of i's censoring group, read
    just before each time as crr does (its ``approx`` at t (1 - 100 eps)). Tied events
    share one risk-set sum (Breslow-type pseudo-likelihood). Newton-Raphson from ``init``
    with crr's step halving (Armijo factor 1e-4, at most 20 halvings) and stopping rule
    max|U_j| max(|b_j|, 1) < max(|loglik|, 1) gtol. The variance is crr's sandwich
    I^-1 (sum_i (eta_i + psi_i)(eta_i + psi_i)') I^-1, psi_i the term for the estimated
    censoring distribution (Fine & Gray 1999, section 3), computed as crr's ``crrvv``
    (including its choice to pair event rows and competing rows of the same censoring
    group in q(u)). All sums use cumulative sums over the sorted rows (no loop over
    patients); covariates are centered internally, which changes no result.

    Examples
    --------
    >>> import numpy as np
    >>> fit = finegray([1, 2, 3, 4, 5, 6], [1, 2, 1, 0, 1, 2],
    ...                np.array([[0.0], [1.0], [1.0], [0.0], [0.0], [1.0]]), names=["x"])
    >>> fit.converged
    True
    """
    t, kind, event_label, comp_labels = _prepare(time, cause, event, censored)
    x = np.asarray(X, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    n = t.size
    if x.ndim != 2 or x.shape[0] != n:
        raise InputError(f"X must have one row per patient ({n}), got shape {x.shape}")
    p = x.shape[1]
    names_t = tuple(str(s) for s in names)
    if len(names_t) != p:
        raise InputError(f"names has {len(names_t)} entries for {p} columns of X")
    if p == 0:
        raise InputError("X has no columns: a Fine-Gray model needs at least one covariate")
    if not np.all(np.isfinite(x)):
        raise InputError(
            "X has missing or infinite values",
            fix="drop rows with a missing covariate before fitting (crr's na.omit)",
        )
    if cengroup is not None:
        gcodes, _, gmiss = factorize_groups(cengroup, n)
        if gmiss.any():
            raise InputError("cengroup has missing values", fix="drop those rows first")
    else:
        gcodes = np.zeros(n, dtype=np.int64)
    if not np.any(kind == CAUSE):
        raise EstimationError(
            f"the event of interest {event_label!r} never occurs: nothing to model",
            fix="check the event code of the event of interest",
        )
    if not 0.0 < conf_level < 1.0:
        raise InputError(f"conf_level must be between 0 and 1, got {conf_level!r}")
    if max_iter < 0:
        raise InputError(f"max_iter must be >= 0, got {max_iter}")

    order = np.argsort(t, kind="stable")  # R: d[order(d$ftime), ]
    data = _Data.build(t[order], kind[order], x[order], gcodes[order])
    b = np.zeros(p) if init is None else np.asarray(init, dtype=np.float64).reshape(-1).copy()
    if b.size != p:
        raise InputError(f"init has {b.size} values for {p} coefficients")

    b, neg_lik, neg_score, converged, iterations = _newton(data, b, max_iter, gtol)
    info, var = _sandwich(data, b)
    se = np.sqrt(np.diag(var))
    with np.errstate(divide="ignore", invalid="ignore"):
        zval = b / se
    from scipy.special import chdtrc, ndtr

    pval = 2.0 * ndtr(-np.abs(zval))
    zq = z_value(conf_level)
    loglik = -neg_lik
    loglik_null = -_objective(data, np.zeros(p))
    lr = -2.0 * (loglik_null - loglik)
    msgs: list[str] = []
    if not converged:
        msgs.append(
            f"crr did not converge in {max_iter} iterations (converged = FALSE in R); "
            "estimates are from the last step"
        )
        warnings.warn(msgs[-1], MmrweWarning, stacklevel=2)
    return FineGrayResult(
        names=names_t,
        coef=b,
        se=se,
        z=zval,
        p=pval,
        shr=np.exp(b),
        lower=np.exp(b - zq * se),
        upper=np.exp(b + zq * se),
        var=var,
        information=info,
        score=-neg_score,
        loglik=float(loglik),
        loglik_null=float(loglik_null),
        lr_chisq=float(lr),
        lr_df=p,
        lr_p=none_if_nan(float(chdtrc(p, lr))) if lr >= 0 else None,
        converged=converged,
        iterations=iterations,
        n=n,
        events=int(np.sum(kind == CAUSE)),
        competing_events=int(np.sum(kind == COMPETING)),
        censored=int(np.sum(kind == CENSORED)),
        uftime=data.uft,
        bfitj=_baseline_jumps(data, b),
        cengroups=data.n_cg,
        event=event_label,
        competing=comp_labels,
        conf_level=float(conf_level),
        warnings=tuple(msgs),
    )


def cause_specific_cox(
    time: ArrayLike,
    cause: ArrayLike,
    X: ArrayLike,
    event_of_interest: object = 1,
    *,
    names: Sequence[str],
    censored: object = 0,
    **cox_options: Any,
) -> CoxResult:
    """Cause-specific Cox model: :func:`~mmrwe.stats.cox.cox_fit` with competing events censored.

    Parameters
    ----------
    time, cause :
        As :func:`finegray` (``cause``: ``censored`` or the cause of each row).
    X : array_like of float, shape (n, p)
        Covariates.
    event_of_interest : scalar
        The cause modelled; every other cause is treated as censoring at its time.
    names : sequence of str
        Column names.
    censored : scalar
        The censoring code (only checked to differ from ``event_of_interest``).
    **cox_options
        Passed to :func:`~mmrwe.stats.cox.cox_fit` (``ties``, ``strata``, ``robust``, ...).

    Returns
    -------
    CoxResult
        Equals R ``coxph(Surv(time, cause == event_of_interest) ~ X)``.
    """
    t, kind, _, _ = _prepare(time, cause, event_of_interest, censored)
    return cox_fit(t, kind == CAUSE, X, names=names, **cox_options)


# --------------------------------------------------------------------------------------
# computation
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Data:
    """Rows sorted by time, with everything that does not depend on the coefficients."""

    t: FloatArray  # (n,) sorted times
    fail: NDArray[np.bool_]  # event of interest
    comp: NDArray[np.bool_]  # competing event
    cens: NDArray[np.bool_]
    x: FloatArray  # (n, p) centered covariates
    center: FloatArray  # (p,) column means removed from x
    g: IntArray  # (n,) censoring group 0..n_cg-1
    n_cg: int
    uft: FloatArray  # (D,) distinct event times of interest
    d: FloatArray  # (D,) events at each
    pos: IntArray  # (D,) first row with t >= uft
    g_uft: FloatArray  # (n_cg, D) G_k(uft-)
    g_own: FloatArray  # (n,) G_{g_i}(t_i-)
    fail_idx: IntArray  # (n,) index into uft of each row's time (valid for event rows)

    @staticmethod
    def build(t: FloatArray, kind: NDArray[np.int8], x: FloatArray, g: IntArray) -> _Data:
        n_cg = int(g.max()) + 1 if g.size else 1
        fail = kind == CAUSE
        uft, d = np.unique(t[fail], return_counts=True)
        pos = np.searchsorted(t, uft, side="left")
        surv_at = _censoring_km(t, kind == CENSORED, g, n_cg)
        g_uft = np.vstack([surv_at[k](uft) for k in range(n_cg)])
        g_own = np.empty(t.size)
        for k in range(n_cg):
            rows = g == k
            g_own[rows] = surv_at[k](t[rows])
        center = x.mean(axis=0)
        fail_idx = np.clip(np.searchsorted(uft, t, side="left"), 0, max(uft.size - 1, 0))
        return _Data(
            t=t,
            fail=fail,
            comp=kind == COMPETING,
            cens=kind == CENSORED,
            x=x - center,
            center=center,
            g=g,
            n_cg=n_cg,
            uft=uft,
            d=d.astype(np.float64),
            pos=pos,
            g_uft=g_uft,
            g_own=g_own,
            fail_idx=fail_idx,
        )


def _censoring_km(t: FloatArray, is_cens: NDArray[np.bool_], g: IntArray, n_cg: int) -> list[Any]:
    """Per censoring group, G(x-) as crr reads it (a function of the times).

    crr: ``u <- survfit(Surv(ftime, cenind) ~ 1, subset = cengroup == k)`` then
    ``approx(c(min(0, u$time) - 10 eps, u$time, max(u$time) (1 + 10 eps)), c(1, u$surv,
    0), xout = ftime * (1 - 100 eps), method = "constant", f = 0, rule = 2)``: the value
    of the step function just before each time, 1 before the first knot and 0 after the
    group's last time.
    """
    out = []
    shrink = 1.0 - 100.0 * _EPS
    for k in range(n_cg):
        rows = g == k
        km = kaplan_meier(t[rows], is_cens[rows])
        knots = np.concatenate(
            (
                [min(0.0, float(km.time[0])) - 10.0 * _EPS],
                km.time,
                [km.time[-1] * (1.0 + 10.0 * _EPS)],
            )
        )
        values = np.concatenate(([1.0], km.surv, [0.0]))

        def at(
            times: FloatArray, knots: FloatArray = knots, values: FloatArray = values
        ) -> FloatArray:
            xout = times * shrink
            j = np.searchsorted(knots, xout, side="right") - 1
            return values[np.clip(j, 0, values.size - 1)]  # rule = 2 below the first knot

        out.append(at)
    return out


def _risk_sums(
    data: _Data, b: FloatArray, second: bool
) -> tuple[FloatArray, FloatArray, FloatArray | None, FloatArray]:
    """S0, S1 (and S2) of the weighted risk set at each distinct event time.

    Risk set at event time s: rows with t >= s (weight exp(x b)) plus competing-event rows
    with t < s, weighted exp(x b) G(s-)/G(t-) in their censoring group (crr's ``crrfsv``).
    Both parts are cumulative sums over the sorted rows: from the right for the first, from
    the left (times G(s-)) for the second, so no subtraction of running totals occurs.
    """
    x = data.x
    n, p = x.shape
    w = np.exp(x @ b)
    parts = [w[:, None], w[:, None] * x]
    if second:
        parts.append((w[:, None, None] * x[:, :, None] * x[:, None, :]).reshape(n, p * p))
    stacked = np.hstack(parts)  # (n, 1 + p [+ p^2])
    at_or_after = np.cumsum(stacked[::-1], axis=0)[::-1][data.pos]
    total = at_or_after
    if data.comp.any():
        cw = np.where(data.comp, 1.0 / np.where(data.comp, data.g_own, 1.0), 0.0)
        for k in range(data.n_cg):
            rw = np.where(data.g == k, cw, 0.0)
            if not rw.any():
                continue
            before = np.cumsum(stacked * rw[:, None], axis=0)
            # rows strictly before pos: index pos - 1 (nothing when pos == 0)
            prev = np.where((data.pos > 0)[:, None], before[np.maximum(data.pos - 1, 0)], 0.0)
            total = total + data.g_uft[k][:, None] * prev
    s0 = total[:, 0]
    s1 = total[:, 1 : 1 + p]
    s2 = total[:, 1 + p :].reshape(-1, p, p) if second else None
    return s0, s1, s2, w


def _objective(data: _Data, b: FloatArray) -> float:
    """crr's ``crrf``: minus the log pseudo-likelihood (NaN if it overflows)."""
    with np.errstate(over="ignore", invalid="ignore"):
        s0, _, _, _ = _risk_sums(data, b, second=False)
        xb_fail = data.x[data.fail] @ b
        val = -float(xb_fail.sum()) + float(np.sum(data.d * np.log(s0)))
    return val if math.isfinite(val) else math.nan


def _score_info(data: _Data, b: FloatArray) -> tuple[float, FloatArray, FloatArray]:
    """crr's ``crrfsv``: minus log pseudo-likelihood, minus the score, and the information."""
    s0, s1, s2, _ = _risk_sums(data, b, second=True)
    assert s2 is not None
    xbar = s1 / s0[:, None]
    lik = -float((data.x[data.fail] @ b).sum()) + float(np.sum(data.d * np.log(s0)))
    neg_score = -data.x[data.fail].sum(axis=0) + (data.d[:, None] * xbar).sum(axis=0)
    info = np.einsum("j,jkl->kl", data.d / s0, s2) - np.einsum("j,jk,jl->kl", data.d, xbar, xbar)
    return lik, neg_score, (info + info.T) / 2.0


def _newton(
    data: _Data, b: FloatArray, max_iter: int, gtol: float
) -> tuple[FloatArray, float, FloatArray, bool, int]:
    """crr's Newton-Raphson loop, line for line (stopping rule, Armijo step halving)."""
    step_factor = 0.5
    converged = False
    ll = 0
    lik, s, h = _score_info(data, b)
    for ll in range(max_iter + 1):
        if ll > 0:
            lik, s, h = _score_info(data, b)
        if np.max(np.abs(s) * np.maximum(np.abs(b), 1.0)) < max(abs(lik), 1.0) * gtol:
            converged = True
            break
        if ll == max_iter:
            break
        sc = -_solve(h, s)
        bn = b + sc
        fbn = _objective(data, bn)
        halvings = 0
        target = lik + 1e-4 * float(np.sum(sc * s))
        while math.isnan(fbn) or fbn > target:
            halvings += 1
            sc = sc * step_factor
            bn = b + sc
            fbn = _objective(data, bn)
            target = lik + 1e-4 * float(np.sum(sc * s))
            if halvings > 20:
                break
        if halvings > 20:
            break
        b = bn
    return b, lik, s, converged, ll


def _solve(h: FloatArray, s: FloatArray) -> FloatArray:
    try:
        out: FloatArray = np.asarray(np.linalg.solve(h, s), dtype=np.float64)
    except np.linalg.LinAlgError:
        out = np.full(s.shape, np.nan)
    if not np.all(np.isfinite(out)):
        raise EstimationError(
            "the information matrix of the Fine-Gray model is singular",
            fix="remove constant or collinear covariates (R crr stops with 'system is "
            "computationally singular')",
        )
    return out


def _sandwich(data: _Data, b: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Information and crr's sandwich variance (``crrvv``), by cumulative sums.

    For each row i: eta_i = [event](x_i - xbar(t_i)) - int (x_i - xbar(s)) w_i(s) dN(s) / S0(s)
    over event times s where i is in the risk set, and psi_i, the term for the estimated
    censoring distribution: the cumulative -sum q_g(u) dNc_g(u) / Y_g(u)^2 over censoring
    times u <= t_i of i's censoring group g, plus q_g(t_i) / Y_g(t_i) if i is censored, with
    q_g(u) = sum over event rows j of group g with t_j >= u of G_g(t_j-) / S0(t_j) times
    sum over competing rows k of group g with t_k < u of w_k (x_k - xbar(t_j)) / G_g(t_k-).
    """
    s0, s1, s2, w = _risk_sums(data, b, second=True)
    assert s2 is not None
    x, t = data.x, data.t
    n, p = x.shape
    xbar = s1 / s0[:, None]
    dd = data.d
    info = np.einsum("j,jkl->kl", dd / s0, s2) - np.einsum("j,jk,jl->kl", dd, xbar, xbar)
    info = (info + info.T) / 2.0
    # --- eta: the score residual for the event of interest
    eta = np.zeros((n, p))
    fail = data.fail
    eta[fail] = x[fail] - xbar[data.fail_idx[fail]]
    lam0 = dd / s0  # dLambda at each event time
    lam1 = (dd / s0)[:, None] * xbar
    c0 = np.cumsum(lam0)
    c1 = np.cumsum(lam1, axis=0)
    # event times s <= t_i: rows at risk (t_i >= s)
    k_le = np.searchsorted(data.uft, t, side="right") - 1
    has = k_le >= 0
    kk = np.maximum(k_le, 0)
    c0_i = np.where(has, c0[kk], 0.0)
    c1_i = np.where(has[:, None], c1[kk], 0.0)
    eta -= w[:, None] * (x * c0_i[:, None] - c1_i)
    # competing rows stay in the risk set after t_i with weight G(s-)/G(t_i-)
    if data.comp.any():
        first_after = k_le + 1  # first event time > t_i
        for k in range(data.n_cg):
            rows = data.comp & (data.g == k)
            if not rows.any():
                continue
            gk = data.g_uft[k]
            d0 = np.concatenate((np.cumsum((gk * lam0)[::-1])[::-1], [0.0]))
            d1 = np.vstack((np.cumsum((gk[:, None] * lam1)[::-1], axis=0)[::-1], np.zeros((1, p))))
            fa = first_after[rows]
            ratio = w[rows] / data.g_own[rows]
            eta[rows] -= ratio[:, None] * (x[rows] * d0[fa][:, None] - d1[fa])
    # --- psi: the term for the estimated censoring distribution
    psi = np.zeros((n, p))
    if data.cens.any() and data.comp.any():
        u_times = np.unique(t[data.cens])
        u_pos = np.searchsorted(t, u_times, side="left")  # first row with t >= u
        fail_rows = np.flatnonzero(fail)
        fr_idx = data.fail_idx[fail_rows]
        for k in range(data.n_cg):
            in_k = data.g == k
            # E0, E1: competing rows of group k with t < u, weighted w / G_k(t-)
            comp_k = data.comp & in_k
            ew = np.where(comp_k, w / np.where(comp_k, data.g_own, 1.0), 0.0)
            e0c = np.cumsum(ew)
            e1c = np.cumsum(ew[:, None] * x, axis=0)
            has_prev = u_pos > 0
            prev = np.maximum(u_pos - 1, 0)
            e0 = np.where(has_prev, e0c[prev], 0.0)
            e1 = np.where(has_prev[:, None], e1c[prev], 0.0)
            # F0, F1: event rows of group k with t >= u, weighted G_k(t-) / S0(t)
            fw = np.zeros(n)
            fx = np.zeros((n, p))
            rows_k = fail_rows[in_k[fail_rows]]
            idx_k = fr_idx[in_k[fail_rows]]
            fw[rows_k] = data.g_uft[k][idx_k] / s0[idx_k]
            fx[rows_k] = fw[rows_k][:, None] * xbar[idx_k]
            f0c = np.concatenate((np.cumsum(fw[::-1])[::-1], [0.0]))
            f1c = np.vstack((np.cumsum(fx[::-1], axis=0)[::-1], np.zeros((1, p))))
            q = e1 * f0c[u_pos][:, None] - e0[:, None] * f1c[u_pos]  # (U, p)
            # at risk in group k at u, and censorings of group k at u
            t_k = t[in_k]
            y_k = (t_k.size - np.searchsorted(t_k, u_times, side="left")).astype(np.float64)
            tc_k = t[data.cens & in_k]
            dc_k = (
                np.searchsorted(tc_k, u_times, side="right")
                - np.searchsorted(tc_k, u_times, side="left")
            ).astype(np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                inc = np.where((dc_k > 0)[:, None], q * (dc_k / (y_k * y_k))[:, None], 0.0)
            ss2 = -np.cumsum(inc, axis=0)
            # each row of group k: ss2 at the last censoring time <= t_i
            j = np.searchsorted(u_times, t[in_k], side="right") - 1
            got = j >= 0
            psi_k = np.where(got[:, None], ss2[np.maximum(j, 0)], 0.0)
            cens_k = data.cens[in_k]
            jc = j[cens_k]
            psi_k[cens_k] += q[jc] / y_k[jc][:, None]
            psi[in_k] = psi_k
    u = eta + psi
    v2 = u.T @ u
    try:
        h = np.linalg.inv(info)
    except np.linalg.LinAlgError as err:
        raise EstimationError(
            "the information matrix of the Fine-Gray model is singular",
            fix="remove constant or collinear covariates",
        ) from err
    var = h @ v2 @ h.T
    return info, (var + var.T) / 2.0


def _baseline_jumps(data: _Data, b: FloatArray) -> FloatArray:
    """crr's ``bfitj``: d / S0 at each event time, with S0 on the uncentered covariates."""
    s0, _, _, _ = _risk_sums(data, b, second=False)
    # S0 of the centered covariates is exp(-center . b) times crr's
    return np.asarray(data.d / (s0 * math.exp(float(data.center @ b))), dtype=np.float64)
