"""Binary logistic regression, as R ``glm(y ~ ., family = binomial)`` with ``confint()``.

The fit transcribes R's ``glm.fit`` (IRLS from ``mustart = (y + 0.5) / 2``, convergence when
``|dev - dev_old| / (|dev| + 0.1) < 1e-8``, at most 25 iterations, R's clamped logit link),
so coefficients, standard errors (from the weights of the last iteration, as
``summary.glm``), deviances and iteration counts equal R's.

Profile-likelihood intervals transcribe what ``confint(fit)`` runs in R 4.2 (MASS 7.3
``profile.glm`` and ``confint.profile.glm``): each coefficient is fixed on a grid of
``B0 +/- k * del * se`` (``del = zmax / 5``, ``zmax = sqrt(qchisq(1 - (1 - level) / 4, 1))``,
at most 9 steps each way), the other coefficients refitted by ``glm.fit`` started from the
previous linear predictor, the signed root deviance ``z`` computed at each point, an FMM
cubic spline (R ``spline``) drawn through ``(beta, z)`` at ``3 * points`` equally spaced
values, and the limits read off by linear interpolation (R ``approx``) at ``qnorm(a)``,
``qnorm(1 - a)``. This is an approximation of the exact profile-likelihood root (typically
within 1e-4 of it), and the point of transcribing it is to give R's numbers: they agree
to ~1e-9 (``tests/reference/test_logistic.py``). :func:`profile_likelihood_root` gives the
exact root for comparison.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize as _opt
from scipy import stats as _st

from mmrwe.core.errors import EstimationError, InputError, SeparationWarning
from mmrwe.stats._common import none_if_nan, read_only, z_value

CIMethod = Literal["profile", "wald"]

_DBL_EPS = float(np.finfo(float).eps)
# R's C_logit_linkinv / C_logit_mu_eta clamp at |eta| > -log(DBL_EPSILON).
_THRESH = -math.log(_DBL_EPS)
_INTERCEPT = "(Intercept)"
_GLM_EPSILON = 1e-8
_GLM_MAXIT = 25
# glm.fit's check for fitted probabilities numerically 0 or 1.
_FITTED_EPS = 10 * _DBL_EPS
SEPARATION_ADVICE = (
    "some estimates diverge, so their standard errors, Wald tests and intervals are "
    "meaningless; consider Firth's penalized likelihood (R logistf)"
)


# ---------------------------------------------------------------------------------------
# glm.fit for the binomial family with logit link
# ---------------------------------------------------------------------------------------


def _linkinv(eta: NDArray[np.float64]) -> NDArray[np.float64]:
    tmp = np.where(
        eta < -_THRESH,
        _DBL_EPS,
        np.where(eta > _THRESH, 1.0 / _DBL_EPS, np.exp(np.clip(eta, -_THRESH, _THRESH))),
    )
    return tmp / (1.0 + tmp)


def _mu_eta(eta: NDArray[np.float64]) -> NDArray[np.float64]:
    e = np.exp(np.clip(eta, -_THRESH, _THRESH))
    opexp = 1.0 + e
    return np.where((eta > _THRESH) | (eta < -_THRESH), _DBL_EPS, e / (opexp * opexp))


def _deviance(y: NDArray[np.float64], mu: NDArray[np.float64]) -> float:
    # binomial()$dev.resids with unit weights: 2 * (y log(y / mu) + (1 - y) log((1 - y) / (1 - mu)))
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(y != 0, y * np.log(np.where(y != 0, y, 1.0) / mu), 0.0)
        b = np.where(y != 1, (1 - y) * np.log(np.where(y != 1, 1 - y, 1.0) / (1 - mu)), 0.0)
    return float(np.sum(2.0 * (a + b)))


@dataclass(frozen=True, slots=True)
class _GlmFit:
    coef: NDArray[np.float64]
    eta: NDArray[np.float64]
    mu: NDArray[np.float64]
    deviance: float
    iterations: int
    converged: bool
    boundary: bool
    weighted_x: NDArray[np.float64]  # X * w of the last iteration (summary.glm's QR)
    warnings: tuple[str, ...]


def _glm_fit(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    offset: NDArray[np.float64],
    etastart: NDArray[np.float64] | None = None,
) -> _GlmFit:
    """R ``glm.fit(x, y, family = binomial(), offset =, etastart =)`` with default control."""
    n, p = x.shape
    msgs: list[str] = []
    if etastart is None:
        mustart = (y + 0.5) / 2.0
        eta = np.log(mustart / (1.0 - mustart))
    else:
        eta = np.asarray(etastart, dtype=np.float64).copy()
    mu = _linkinv(eta)
    if p == 0:  # glm.fit's EMPTY model: nothing to estimate besides the offset
        eta = offset.copy()
        mu = _linkinv(eta)
        return _GlmFit(np.zeros(0), eta, mu, _deviance(y, mu), 0, True, True, np.zeros((n, 0)), ())
    devold = _deviance(y, mu)
    coefold: NDArray[Any] | None = None
    coef: NDArray[Any] = np.zeros(p)
    start: NDArray[Any]
    conv = boundary = False
    it = 0
    xw = x
    for it in range(1, _GLM_MAXIT + 1):  # a loop over IRLS iterations
        mu_eta = _mu_eta(eta)
        varmu = mu * (1.0 - mu)
        z = (eta - offset) + (y - mu) / mu_eta
        w = np.sqrt(mu_eta**2 / varmu)
        xw = x * w[:, None]
        start, _, rank, _ = np.linalg.lstsq(xw, z * w, rcond=None)
        if rank < p:
            raise EstimationError(
                "the covariates are collinear (the design matrix is not of full rank)",
                fix="drop a redundant covariate or a reference dummy",
            )
        if not np.all(np.isfinite(start)):
            msgs.append(f"non-finite coefficients at iteration {it}")
            break
        eta = x @ start + offset
        mu = _linkinv(eta)
        dev = _deviance(y, mu)
        boundary = False
        if not math.isfinite(dev):
            if coefold is None:
                raise EstimationError("no valid set of coefficients has been found")
            msgs.append("step size truncated due to divergence")
            for _ in range(_GLM_MAXIT):  # R's step halving
                start = (start + coefold) / 2.0
                eta = x @ start + offset
                mu = _linkinv(eta)
                dev = _deviance(y, mu)
                if math.isfinite(dev):
                    break
            boundary = True
        if abs(dev - devold) / (abs(dev) + 0.1) < _GLM_EPSILON:
            conv = True
            coef = start
            break
        devold = dev
        coef = coefold = start
    if not conv:
        msgs.append("glm.fit: algorithm did not converge")
    if boundary:
        msgs.append("glm.fit: algorithm stopped at boundary value")
    if np.any(mu > 1.0 - _FITTED_EPS) or np.any(mu < _FITTED_EPS):
        msgs.append("glm.fit: fitted probabilities numerically 0 or 1 occurred")
    return _GlmFit(coef, eta, mu, _deviance(y, mu), it, conv, boundary, xw, tuple(msgs))


def _unscaled_cov(weighted_x: NDArray[np.float64]) -> NDArray[np.float64]:
    # summary.glm: chol2inv of R from the QR of the last iteration's weighted X.
    _, r = np.linalg.qr(weighted_x)
    r_inv = np.linalg.solve(r, np.eye(r.shape[0]))
    return r_inv @ r_inv.T


# ---------------------------------------------------------------------------------------
# R's spline (method "fmm") and approx, as used by MASS confint.profile.glm
# ---------------------------------------------------------------------------------------


def _regularize(
    x: NDArray[np.float64], y: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """R ``regularize.values(x, y, mean)``: sort by x (stable) and average y over tied x."""
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    ux, inverse = np.unique(xs, return_inverse=True)
    if len(ux) < len(xs):
        sums = np.bincount(inverse, weights=ys)
        counts = np.bincount(inverse)
        return ux, sums / counts
    return xs, ys


def _fmm_coef(x: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
    """Forsythe-Malcolm-Moler cubic spline coefficients (R ``fmm_spline``, 0-based)."""
    n = len(x)
    b, c, d = np.zeros(n), np.zeros(n), np.zeros(n)
    if n < 2:
        raise EstimationError("spline needs at least two profile points")
    if n < 3:
        t = y[1] - y[0]
        b[0] = t / (x[1] - x[0])
        b[1] = b[0]
        return b, c, d
    nm1 = n - 1
    # 1-based indices of the C code shifted by one; a loop over profile points (<= 19)
    d[0] = x[1] - x[0]
    c[1] = (y[1] - y[0]) / d[0]
    for i in range(1, nm1):
        d[i] = x[i + 1] - x[i]
        b[i] = 2.0 * (d[i - 1] + d[i])
        c[i + 1] = (y[i + 1] - y[i]) / d[i]
        c[i] = c[i + 1] - c[i]
    b[0] = -d[0]
    b[nm1] = -d[n - 2]
    c[0] = c[nm1] = 0.0
    if n > 3:
        c[0] = c[2] / (x[3] - x[1]) - c[1] / (x[2] - x[0])
        c[nm1] = c[n - 2] / (x[nm1] - x[n - 3]) - c[n - 3] / (x[n - 2] - x[n - 4])
        c[0] = c[0] * d[0] * d[0] / (x[3] - x[0])
        c[nm1] = -c[nm1] * d[n - 2] * d[n - 2] / (x[nm1] - x[n - 4])
    for i in range(1, n):
        t = d[i - 1] / b[i - 1]
        b[i] = b[i] - t * d[i - 1]
        c[i] = c[i] - t * c[i - 1]
    c[nm1] = c[nm1] / b[nm1]
    for i in range(n - 2, -1, -1):
        c[i] = (c[i] - d[i] * c[i + 1]) / b[i]
    b[nm1] = (y[nm1] - y[n - 2]) / d[n - 2] + d[n - 2] * (c[n - 2] + 2.0 * c[nm1])
    for i in range(nm1):
        b[i] = (y[i + 1] - y[i]) / d[i] - d[i] * (c[i + 1] + 2.0 * c[i])
        d[i] = (c[i + 1] - c[i]) / d[i]
        c[i] = 3.0 * c[i]
    c[nm1] = 3.0 * c[nm1]
    d[nm1] = d[n - 2]
    return b, c, d


def _r_seq(start: float, stop: float, n: int) -> NDArray[np.float64]:
    """R ``seq.int(from, to, length.out = n)``: symmetric fill from both ends."""
    if n == 1:
        return np.array([start])
    by = (stop - start) / (n - 1)
    i = np.arange(n, dtype=np.float64)
    out = np.where(i < n // 2, start + i * by, stop - (n - 1 - i) * by)
    out[0], out[-1] = start, stop
    return out


def _spline(
    x: NDArray[np.float64], y: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """R ``spline(x, y)`` (method "fmm", ``n = 3 * length(unique x)``)."""
    xs, ys = _regularize(x, y)
    b, c, d = _fmm_coef(xs, ys)
    u = _r_seq(float(xs[0]), float(xs[-1]), 3 * len(xs))
    i = np.clip(np.searchsorted(xs, u, side="right") - 1, 0, len(xs) - 1)
    dx = u - xs[i]
    return u, ys[i] + dx * (b[i] + dx * (c[i] + dx * d[i]))


def _approx(x: NDArray[np.float64], y: NDArray[np.float64], xout: Sequence[float]) -> list[float]:
    """R ``approx(x, y, xout)`` (linear, rule = 1: NaN outside the range of x)."""
    xs, ys = _regularize(x, y)
    out: list[float] = []
    for v in xout:  # two cut-offs
        if not (xs[0] <= v <= xs[-1]):
            out.append(math.nan)
            continue
        j = int(np.searchsorted(xs, v, side="left"))
        if xs[j] == v:
            out.append(float(ys[j]))
            continue
        i = j - 1
        out.append(float(ys[i] + (ys[j] - ys[i]) * ((v - xs[i]) / (xs[j] - xs[i]))))
    return out


# ---------------------------------------------------------------------------------------
# MASS profile.glm + confint.profile.glm
# ---------------------------------------------------------------------------------------


def _profile_ci(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    fit: _GlmFit,
    se: NDArray[np.float64],
    conf_level: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64], tuple[str, ...]]:
    n, p = x.shape
    alpha = (1.0 - conf_level) / 4.0
    zmax = math.sqrt(float(_st.chi2.isf(alpha, 1)))
    step_size = zmax / 5.0
    max_steps = 10
    a = (1.0 - conf_level) / 2.0
    cutoff = [float(_st.norm.ppf(a)), float(_st.norm.ppf(1.0 - a))]
    b0 = fit.coef
    dev0 = fit.deviance
    zero = np.zeros(n)
    lower = np.full(p, math.nan)
    upper = np.full(p, math.nan)
    msgs: list[str] = []
    for i in range(p):  # a loop over coefficients (a handful)
        keep = np.arange(p) != i
        xi = x[:, keep]
        zs = [0.0]
        bis = [float(b0[i])]
        for sgn in (-1.0, 1.0):
            step = 0
            z = 0.0
            lp = x @ b0 + zero
            while True:
                step += 1
                if not (step < max_steps and abs(z) < zmax):
                    break
                bi = float(b0[i]) + sgn * step * step_size * float(se[i])
                o = zero + x[:, i] * bi
                fm = _glm_fit(xi, y, o, etastart=lp)
                msgs.extend(fm.warnings)
                lp = xi @ fm.coef + o
                zz = fm.deviance - dev0
                if zz > -1e-3:
                    zz = max(zz, 0.0)
                else:
                    raise EstimationError(
                        "profiling has found a better solution, so original fit had not converged"
                    )
                z = sgn * math.sqrt(zz)
                zs.append(z)
                bis.append(bi)
        order = np.argsort(np.asarray(zs), kind="stable")
        z_arr = np.asarray(zs)[order]
        b_arr = np.asarray(bis)[order]
        sx, sy = _spline(b_arr, z_arr)
        lo, hi = _approx(sy, sx, cutoff)
        lower[i], upper[i] = lo, hi
    return lower, upper, tuple(dict.fromkeys(msgs))


def profile_likelihood_root(
    y: ArrayLike,
    X: ArrayLike,
    *,
    index: int,
    side: Literal["lower", "upper"],
    conf_level: float = 0.95,
) -> float | None:
    """Exact profile-likelihood confidence limit for one coefficient (not R's numbers).

    Solves ``deviance(beta_index = b) - deviance_min = qchisq(conf_level, 1)`` on one side
    of the MLE with Brent's method, refitting the other coefficients at each trial value.
    Used to show how far MASS's spline interpolation (what R's ``confint`` returns) is from
    the exact root. ``index`` counts the intercept as 0. Returns ``None`` if the profile
    does not reach the cut-off within 50 standard errors.
    """
    yv, xm = _prepare(y, X)
    fit = _glm_fit(xm, yv, np.zeros(len(yv)))
    se = np.sqrt(np.diag(_unscaled_cov(fit.weighted_x)))
    crit = float(_st.chi2.ppf(conf_level, 1))
    keep = np.arange(xm.shape[1]) != index

    def excess(b: float) -> float:
        fm = _glm_fit(xm[:, keep], yv, xm[:, index] * b)
        return fm.deviance - fit.deviance - crit

    sgn = -1.0 if side == "lower" else 1.0
    b_hat = float(fit.coef[index])
    far = b_hat + sgn * 50.0 * float(se[index])
    if excess(far) < 0:
        return None
    return float(_opt.brentq(excess, b_hat, far, xtol=1e-14, rtol=4 * _DBL_EPS))


# ---------------------------------------------------------------------------------------
# Separation
# ---------------------------------------------------------------------------------------


def _linear_separation(x: NDArray[np.float64], y: NDArray[np.float64]) -> bool:
    """True if some direction b != 0 has (2y - 1) x_i'b >= 0 for every row (Konis 2007).

    Linear program: maximise sum_i s_i x_i'b subject to s_i x_i'b >= 0 and -1 <= b <= 1,
    with s_i = 2 y_i - 1. A positive optimum means complete or quasi-complete separation,
    in which case the maximum-likelihood estimate does not exist.
    """
    s = 2.0 * y - 1.0
    a = x * s[:, None]
    scale = np.maximum(np.abs(x).max(axis=0), 1.0)  # bounded b on a common scale
    a_scaled = a / scale
    res = _opt.linprog(
        c=-a_scaled.sum(axis=0),
        A_ub=-a_scaled,
        b_ub=np.zeros(len(y)),
        bounds=[(-1.0, 1.0)] * x.shape[1],
        method="highs",
    )
    return bool(res.status == 0 and -res.fun > 1e-7 * len(y))


# ---------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogisticCoefficient:
    """One row of the coefficient table (log-odds scale, and the odds ratio with its CI)."""

    name: str
    coef: float
    se: float
    z: float
    p: float
    odds_ratio: float
    lower: float | None
    upper: float | None

    def to_dict(self) -> dict[str, float | None]:
        """``{"coef", "se", "odds_ratio", "lower", "upper", "z", "p"}`` (limits on the OR scale)."""
        return {
            "coef": none_if_nan(self.coef),
            "se": none_if_nan(self.se),
            "odds_ratio": none_if_nan(self.odds_ratio),
            "lower": none_if_nan(self.lower),
            "upper": none_if_nan(self.upper),
            "z": none_if_nan(self.z),
            "p": none_if_nan(self.p),
        }


@dataclass(frozen=True, slots=True)
class LogisticResult:
    """A binary logistic regression fit (R ``glm(family = binomial)`` + ``confint``).

    Attributes
    ----------
    names : tuple of str
        ``"(Intercept)"`` then the covariate names.
    coef, se, z, p : ndarray, read-only
        Log-odds coefficients, standard errors, Wald z and two-sided Wald p.
    odds_ratio : ndarray, read-only
        ``exp(coef)``.
    lower, upper : ndarray, read-only
        CI limits for the odds ratio (``exp`` of the limits for the coefficient); NaN
        where R gives NA (a profile that never reaches the cut-off).
    coef_lower, coef_upper : ndarray, read-only
        The same limits on the log-odds scale.
    ci_method : {"profile", "wald"}
        ``"profile"``: MASS ``confint.glm`` (R's ``confint``); ``"wald"``: ``confint.default``.
    conf_level : float
    n, events : int
        Observations and number of y = 1.
    deviance, null_deviance, aic : float
    df_residual, df_null : int
    lr_chisq, lr_df, lr_p : float, int, float
        Likelihood-ratio test against the intercept-only model.
    iterations : int
        IRLS iterations (R ``fit$iter``).
    converged : bool
    separation : bool
        R's "fitted probabilities numerically 0 or 1" condition, or a (quasi-)complete
        separation found by linear programming (which R does not always flag).
    warnings : tuple of str
        R's warnings (``glm.fit: ...``) and ours.
    """

    names: tuple[str, ...]
    coef: NDArray[np.float64]
    se: NDArray[np.float64]
    z: NDArray[np.float64]
    p: NDArray[np.float64]
    odds_ratio: NDArray[np.float64]
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]
    coef_lower: NDArray[np.float64]
    coef_upper: NDArray[np.float64]
    ci_method: CIMethod
    conf_level: float
    n: int
    events: int
    deviance: float
    null_deviance: float
    aic: float
    df_residual: int
    df_null: int
    lr_chisq: float
    lr_df: int
    lr_p: float
    iterations: int
    converged: bool
    separation: bool
    warnings: tuple[str, ...]

    def __post_init__(self) -> None:
        for name in (
            "coef",
            "se",
            "z",
            "p",
            "odds_ratio",
            "lower",
            "upper",
            "coef_lower",
            "coef_upper",
        ):
            object.__setattr__(self, name, read_only(getattr(self, name), dtype=np.float64))

    def coefficient(self, name: str) -> LogisticCoefficient:
        """The row of one coefficient."""
        try:
            i = self.names.index(name)
        except ValueError:
            raise KeyError(f"no coefficient {name!r}; have {self.names}") from None
        return LogisticCoefficient(
            name=name,
            coef=float(self.coef[i]),
            se=float(self.se[i]),
            z=float(self.z[i]),
            p=float(self.p[i]),
            odds_ratio=float(self.odds_ratio[i]),
            lower=none_if_nan(float(self.lower[i])),
            upper=none_if_nan(float(self.upper[i])),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``coefficients`` ({name: {coef, se, odds_ratio, lower, upper, z, p}}),
        ``ci_method``, ``conf_level``, ``n``, ``events``, ``deviance``, ``null_deviance``,
        ``aic``, ``lr_test`` ({chisq, df, p}), ``iterations``, ``converged``, ``separation``,
        ``warnings``.
        """
        return {
            "coefficients": {nm: self.coefficient(nm).to_dict() for nm in self.names},
            "ci_method": self.ci_method,
            "conf_level": self.conf_level,
            "n": self.n,
            "events": self.events,
            "deviance": none_if_nan(self.deviance),
            "null_deviance": none_if_nan(self.null_deviance),
            "aic": none_if_nan(self.aic),
            "lr_test": {
                "chisq": none_if_nan(self.lr_chisq),
                "df": self.lr_df,
                "p": none_if_nan(self.lr_p),
            },
            "iterations": self.iterations,
            "converged": self.converged,
            "separation": self.separation,
            "warnings": list(self.warnings),
        }


def _prepare(y: ArrayLike, X: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    yv = np.asarray(y)
    if yv.dtype == np.bool_:
        yv = yv.astype(np.float64)
    try:
        yv = np.asarray(yv, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError("y must be 0/1 or boolean") from exc
    xm = np.asarray(X, dtype=np.float64)
    if xm.ndim == 1:
        xm = xm[:, None]
    if yv.ndim != 1 or xm.ndim != 2 or xm.shape[0] != yv.shape[0]:
        raise InputError(f"y (n,) and X (n, k) must have the same n, got {yv.shape} and {xm.shape}")
    if not np.all(np.isin(yv, (0.0, 1.0))):
        raise InputError("y must contain only 0 and 1 (or booleans)")
    if not np.all(np.isfinite(xm)):
        raise InputError("covariates must be finite: drop or impute missing values first")
    return yv, np.column_stack([np.ones(len(yv)), xm])


def logistic_fit(
    y: ArrayLike,
    X: ArrayLike,
    *,
    names: Sequence[str],
    conf_level: float = 0.95,
    ci: CIMethod = "profile",
) -> LogisticResult:
    """Fit a binary logistic regression, as R ``glm(y ~ ., family = binomial)``.

    Parameters
    ----------
    y : array_like of {0, 1} or bool, shape (n,)
        Outcome.
    X : array_like, shape (n, k)
        Covariates (numeric; dummies for categorical terms). An intercept is added.
    names : sequence of str, length k
        Covariate names; the result names are ``("(Intercept)", *names)``.
    conf_level : float
        Confidence level of the odds-ratio intervals.
    ci : {"profile", "wald"}
        ``"profile"`` (default, R ``confint(fit)``, MASS's profile + spline method) or
        ``"wald"`` (R ``confint.default``: ``coef +/- z * se``).

    Returns
    -------
    LogisticResult

    Warns
    -----
    SeparationWarning
        If fitted probabilities are numerically 0 or 1 (R's warning) or the outcome is
        (quasi-)completely separated; the message suggests Firth's method.

    Examples
    --------
    >>> y = [1] * 20 + [0] * 18 + [1] * 9 + [0] * 4
    >>> x = [[1]] * 38 + [[0]] * 13
    >>> fit = logistic_fit(y, x, names=["group_yes"])
    >>> round(fit.coefficient("group_yes").odds_ratio, 4)   # (20/18) / (9/4)
    0.4938
    """
    yv, xm = _prepare(y, X)
    names_t = (_INTERCEPT, *[str(nm) for nm in names])
    if len(names_t) != xm.shape[1]:
        raise InputError(f"names has {len(names_t) - 1} entries for {xm.shape[1] - 1} covariates")
    if ci not in ("profile", "wald"):
        raise InputError(f"unknown ci method {ci!r}", fix="use 'profile' or 'wald'")
    level = float(conf_level)
    if not (0.0 < level < 1.0):
        raise InputError(f"conf_level must be strictly between 0 and 1, got {conf_level!r}")
    n, p = xm.shape
    if n <= p:
        raise EstimationError(f"{n} observations are too few for {p} coefficients")
    if np.all(yv == yv[0]):
        raise EstimationError("the outcome has a single value: no logistic model can be fitted")

    fit = _glm_fit(xm, yv, np.zeros(n))
    cov = _unscaled_cov(fit.weighted_x)
    se = np.sqrt(np.diag(cov))
    z = fit.coef / se
    pval = 2.0 * _st.norm.sf(np.abs(z))
    null_dev = _deviance(yv, np.full(n, yv.mean()))
    # binomial()$aic for 0/1 data is -2 * log-likelihood = deviance; plus 2 * rank
    aic = fit.deviance + 2.0 * p
    lr = null_dev - fit.deviance
    lr_df = p - 1
    lr_p = float(_st.chi2.sf(lr, lr_df)) if lr_df > 0 else math.nan

    msgs = list(fit.warnings)
    r_flag = "glm.fit: fitted probabilities numerically 0 or 1 occurred" in fit.warnings
    separation = r_flag or _linear_separation(xm, yv)

    if ci == "profile":
        lo, hi, prof_msgs = _profile_ci(xm, yv, fit, se, level)
        # R emits these while profiling (confint), not while fitting: keep them apart.
        msgs.extend(f"profile: {m}" for m in prof_msgs)
    else:
        zq = z_value(level)
        lo, hi = fit.coef - zq * se, fit.coef + zq * se
    if separation:
        what = (
            "fitted probabilities numerically 0 or 1 occurred (R's glm warning)"
            if r_flag
            else "the outcome is (quasi-)completely separated by the covariates "
            "(found by linear programming; R's glm does not warn here)"
        )
        message = f"{what}: {SEPARATION_ADVICE}"
        msgs.append(message)
        warnings.warn(message, SeparationWarning, stacklevel=2)

    with np.errstate(over="ignore"):
        return LogisticResult(
            names=names_t,
            coef=fit.coef,
            se=se,
            z=z,
            p=pval,
            odds_ratio=np.exp(fit.coef),
            lower=np.exp(lo),
            upper=np.exp(hi),
            coef_lower=lo,
            coef_upper=hi,
            ci_method=ci,
            conf_level=level,
            n=n,
            events=int(yv.sum()),
            deviance=fit.deviance,
            null_deviance=null_dev,
            aic=aic,
            df_residual=n - p,
            df_null=n - 1,
            lr_chisq=lr,
            lr_df=lr_df,
            lr_p=lr_p,
            iterations=fit.iterations,
            converged=fit.converged,
            separation=separation,
            warnings=tuple(dict.fromkeys(msgs)),
        )
