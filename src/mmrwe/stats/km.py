"""Kaplan-Meier curves, quantiles, landmark rates, RMST and reverse-KM follow-up.

Every number here is defined to equal R ``survival`` 3.5 (``survfit``, ``quantile.survfit``,
``summary.survfit``, ``print.survfit(rmean=)``) run with the same ``conf.type`` and
``conf.int``. The one addition R lacks is :meth:`KaplanMeier.median_symmetric`, the
symmetric median interval that SPSS prints (see its docstring for the formula and source).

Times are compared exactly: R's ``timefix`` (``aeqSurv``) merges times closer than
``sqrt(eps)``; mmrwe derives times from whole days, so two times are either equal or at
least a day apart and the two rules give the same risk sets.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mmrwe.core.conventions import SurvivalConventions
from mmrwe.core.errors import InputError, SpecError
from mmrwe.stats._common import Estimate, as_time_event, none_if_nan, read_only, z_value

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# R quantile.survfit(tolerance = sqrt(.Machine$double.eps)): a curve within this distance of
# 1 - p counts as lying exactly on it, so an exact 0.5 plateau is found despite rounding.
_TOL = math.sqrt(np.finfo(np.float64).eps)
_CONF_TYPES = ("log-log", "log", "plain")
_MEDIAN_RULES = ("midpoint", "first-at-or-below", "first-below")
# KaplanMeier.median_symmetric: the density at the median is estimated over S in
# [0.5 - 0.05, 0.5 + 0.05] (Collett; Klein & Moeschberger section 4.5, practical note 3).
_SYMMETRIC_EPS = 0.05


# --------------------------------------------------------------------------------------
# result types
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SurvivalAt:
    """Survival at one time point (a landmark rate), as R ``summary(fit, times = t)``.

    ``surv``, ``std_err`` (SE of S), ``lower`` and ``upper`` are ``None`` where R gives NA
    (beyond the last observed time, where S = 0, or a log-log band where S = 1).
    ``n_risk`` is the number of patients with time >= ``time``.
    """

    time: float
    surv: float | None
    std_err: float | None
    lower: float | None
    upper: float | None
    n_risk: int

    def to_dict(self) -> dict[str, float | int | None]:
        """Return ``{"time", "surv", "std_err", "lower", "upper", "n_risk"}``."""
        return {
            "time": float(self.time),
            "surv": none_if_nan(self.surv),
            "std_err": none_if_nan(self.std_err),
            "lower": none_if_nan(self.lower),
            "upper": none_if_nan(self.upper),
            "n_risk": int(self.n_risk),
        }


@dataclass(frozen=True, slots=True)
class RMST:
    """Restricted mean survival time up to ``tau`` with a Wald interval.

    ``estimate`` and ``std_err`` equal R ``summary(fit, rmean = tau)$table[, c("rmean",
    "se(rmean)")]``; ``lower``/``upper`` are ``estimate -+ z * std_err`` (R prints none).
    """

    tau: float
    estimate: float
    std_err: float
    lower: float
    upper: float
    conf_level: float

    def to_dict(self) -> dict[str, float | None]:
        """Return ``{"tau", "estimate", "std_err", "lower", "upper", "conf_level"}``."""
        return {
            "tau": float(self.tau),
            "estimate": none_if_nan(self.estimate),
            "std_err": none_if_nan(self.std_err),
            "lower": none_if_nan(self.lower),
            "upper": none_if_nan(self.upper),
            "conf_level": float(self.conf_level),
        }


@dataclass(frozen=True, slots=True)
class MedianSE:
    """Median with a standard error and the symmetric interval ``value -+ z * std_err``."""

    value: float | None
    std_err: float | None
    lower: float | None
    upper: float | None
    method: str
    conf_level: float

    def to_dict(self) -> dict[str, float | str | None]:
        """Return ``{"estimate", "std_err", "lower", "upper", "method", "conf_level"}``."""
        return {
            "estimate": none_if_nan(self.value),
            "std_err": none_if_nan(self.std_err),
            "lower": none_if_nan(self.lower),
            "upper": none_if_nan(self.upper),
            "method": self.method,
            "conf_level": float(self.conf_level),
        }


@dataclass(frozen=True, slots=True)
class FollowUp:
    """Median follow-up by the reverse Kaplan-Meier method (censoring as the event).

    ``curve`` is the reverse-KM curve itself (its conventions say which band gave the CI).
    """

    estimate: float | None
    lower: float | None
    upper: float | None
    curve: KaplanMeier
    method: str = "reverse Kaplan-Meier"

    def to_dict(self) -> dict[str, float | str | None]:
        """Return exactly ``{"estimate", "lower", "upper", "method"}`` (results.json)."""
        return {
            "estimate": none_if_nan(self.estimate),
            "lower": none_if_nan(self.lower),
            "upper": none_if_nan(self.upper),
            "method": self.method,
        }


@dataclass(frozen=True, slots=True)
class KaplanMeier:
    """A Kaplan-Meier curve with Greenwood errors and a pointwise band, as R ``survfit``.

    Attributes
    ----------
    time : ndarray of float
        Distinct observed times (events or censorings), ascending, as ``fit$time``.
    n_risk, n_event, n_censor : ndarray of int
        As ``fit$n.risk``, ``fit$n.event``, ``fit$n.censor``.
    surv : ndarray of float
        Product-limit estimate just after each time.
    std_err : ndarray of float
        SE of S(t) (Greenwood), as ``summary(fit)$std.err``; NaN where S = 0.
    std_err_log : ndarray of float
        SE of log S(t), as ``fit$std.err``; ``inf`` once S = 0.
    lower, upper : ndarray of float
        Pointwise band per ``conventions.conf_type``; NaN where R gives NA.
    median : Estimate
        ``quantile(0.5)`` under ``conventions.median_rule``; ``None`` = not reached.
    n, events : int
        Patients and events.
    conventions : SurvivalConventions
        Band transform, level and median rule used.
    variance : {"greenwood", "robust"}
        How ``std_err`` was computed: Greenwood's formula (on the weighted counts for a
        weighted curve), or the infinitesimal-jackknife ("robust") variance that R's
        ``survfit`` uses by default when case weights are not whole numbers.
    weighted_n_risk, weighted_n_event, weighted_n_censor : ndarray of float or None
        Sums of the case weights at risk, with the event and censored at each time (what
        R's ``fit$n.risk``, ``fit$n.event``, ``fit$n.censor`` hold for a weighted fit);
        ``None`` for an unweighted curve. ``n_risk``, ``n_event``, ``n_censor`` always count
        rows.
    """

    time: FloatArray
    n_risk: IntArray
    n_event: IntArray
    n_censor: IntArray
    surv: FloatArray
    std_err: FloatArray
    std_err_log: FloatArray
    lower: FloatArray
    upper: FloatArray
    median: Estimate
    n: int
    events: int
    conventions: SurvivalConventions
    variance: str = "greenwood"
    weighted_n_risk: FloatArray | None = None
    weighted_n_event: FloatArray | None = None
    weighted_n_censor: FloatArray | None = None

    def __post_init__(self) -> None:
        # frozen=True does not freeze array contents
        for name in ("weighted_n_risk", "weighted_n_event", "weighted_n_censor"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, read_only(getattr(self, name), np.float64))
        for name, dtype in (
            ("time", np.float64),
            ("n_risk", np.int64),
            ("n_event", np.int64),
            ("n_censor", np.int64),
            ("surv", np.float64),
            ("std_err", np.float64),
            ("std_err_log", np.float64),
            ("lower", np.float64),
            ("upper", np.float64),
        ):
            object.__setattr__(self, name, read_only(getattr(self, name), dtype=dtype))

    # ---------------------------------------------------------------- quantiles
    def quantile(self, p: float = 0.5) -> Estimate:
        """Return the time at which the curve falls to ``1 - p``, with its CI.

        Parameters
        ----------
        p : float
            Probability of the event by that time: 0.5 is the median, 0.25 the time by
            which a quarter had the event (R's ``probs``).

        Returns
        -------
        Estimate
            ``value`` from the curve, ``lower`` from the lower band and ``upper`` from the
            upper band (Brookmeyer-Crowley style inversion of the pointwise band, as R);
            ``None`` where the curve or band never gets that low.

        Notes
        -----
        ``median_rule="midpoint"`` is R ``quantile.survfit``: the first time S <= 1 - p,
        except that a flat at exactly 1 - p (within ``sqrt(eps)``) gives the midpoint of
        the flat, and a curve that ends on such a flat gives the midpoint between the
        flat's start and the last observed time. ``"first-at-or-below"`` (lifelines,
        Collett) and ``"first-below"`` (statsmodels) take the first time with
        S <= 1 - p or S < 1 - p, with the same tolerance.
        """
        if not 0.0 <= p <= 1.0:
            raise InputError(f"quantile probability must be in [0, 1], got {p!r}")
        return _quantile(self.time, self.surv, self.lower, self.upper, p, self.conventions)

    def median_symmetric(self, conf_level: float | None = None) -> MedianSE:
        """Median with a standard error and a symmetric CI, as SPSS ``KM`` prints it.

        Parameters
        ----------
        conf_level : float, optional
            Defaults to ``conventions.conf_level``.

        Returns
        -------
        MedianSE
            ``value`` is ``self.median.value``; ``lower``/``upper`` are
            ``value -+ z * std_err`` (not clipped at 0).

        Notes
        -----
        The large-sample (delta-method) SE of a KM percentile, with the density of the
        survival time at the median estimated by a uniform kernel::

            se(t50) = se(S(t50)) / f,   f = (S(u) - S(l)) / (l - u)
            u = largest event time with S(u) >= 0.5 + 0.05  (time 0, S = 1, if none)
            l = smallest event time with S(l) <= 0.5 - 0.05

        ``se(S(t50))`` is the Greenwood SE of S at the last observed time <= t50. This is
        Collett's formula (*Modelling Survival Data in Medical Research*, chapter 2,
        standard error of a percentile) and Klein & Moeschberger's "crude" estimator
        (*Survival Analysis*, 2nd ed., section 4.5, practical note 3). The IBM SPSS
        Statistics Algorithms document ("KM" chapter) is reported to use it with this
        45th/55th percentile bracket (Cross Validated, "Kaplan-Meier using survfit:
        confidence interval of the median"); the IBM document itself was not available
        to check, so agreement with SPSS output is not proven here. Comparisons use the
        same ``sqrt(eps)`` tolerance as :meth:`quantile`. When the median is not reached,
        or the curve never falls to 0.45, the SE is ``None``. Collett's point estimate is
        the first time with S <= 0.5 (``median_rule="first-at-or-below"``); the default
        midpoint rule differs from it only on an exact 0.5 flat. R has no equivalent.
        """
        level = self.conventions.conf_level if conf_level is None else conf_level
        _check_level(level)
        method = "delta method, uniform-kernel density over S in [0.45, 0.55] (Collett; SPSS)"
        value = self.median.value
        if value is None:
            return MedianSE(None, None, None, None, method, level)
        is_event_time = self.n_event > 0
        ev_time = self.time[is_event_time]
        ev_surv = self.surv[is_event_time]
        hi = ev_surv >= 0.5 + _SYMMETRIC_EPS - _TOL
        lo = ev_surv <= 0.5 - _SYMMETRIC_EPS + _TOL
        if not lo.any():
            return MedianSE(value, None, None, None, method, level)
        # the curve starts at S(0) = 1, so time 0 brackets from above when no event does
        u_time, u_surv = (
            (float(ev_time[hi][-1]), float(ev_surv[hi][-1])) if hi.any() else (0.0, 1.0)
        )
        l_time, l_surv = float(ev_time[lo][0]), float(ev_surv[lo][0])
        if not l_time > u_time:
            # the curve falls through the whole 0.45-0.55 bracket at time 0 (every patient
            # with an event on day 0): no density to divide by, so no SE and no interval
            return MedianSE(value, None, None, None, method, level)
        density = (u_surv - l_surv) / (l_time - u_time)
        at = int(np.searchsorted(self.time, value, side="right")) - 1
        se_surv = float(self.std_err[at]) if at >= 0 else 0.0
        se = none_if_nan(se_surv / density)  # NaN when S = 0 at the median (no Greenwood SE)
        if se is None:
            return MedianSE(value, None, None, None, method, level)
        z = z_value(level)
        return MedianSE(value, se, value - z * se, value + z * se, method, level)

    # ------------------------------------------------------------ point queries
    def survival_at(self, t: float) -> SurvivalAt:
        """Survival at time ``t``: S at the last observed time <= t, as R ``summary``.

        Parameters
        ----------
        t : float
            Time in the curve's unit.

        Returns
        -------
        SurvivalAt
            Equal to R ``summary(fit, times = t)`` (``surv``, ``std.err``, ``lower``,
            ``upper``, ``n.risk``). Before the first observed time: the origin (S = 1,
            SE 0, band 1), as R. Beyond the largest observed time R reports nothing; here
            surv, std_err, lower and upper are ``None`` and ``n_risk`` is 0.
        """
        t = float(t)
        n_risk = int(self.n_risk_at(np.array([t]))[0])
        if t > self.time[-1]:
            return SurvivalAt(t, None, None, None, None, n_risk)
        i = int(np.searchsorted(self.time, t, side="right")) - 1
        if i < 0:
            # before the first observed time: the origin. (For t < 0 with an event at time 0,
            # R's summary reports the time-0 row, after that event; we report S = 1.)
            return SurvivalAt(t, 1.0, 0.0, 1.0, 1.0, n_risk)
        return SurvivalAt(
            t,
            none_if_nan(self.surv[i]),
            none_if_nan(self.std_err[i]),
            none_if_nan(self.lower[i]),
            none_if_nan(self.upper[i]),
            n_risk,
        )

    def n_risk_at(self, times: ArrayLike) -> IntArray:
        """Return the number of patients with time >= t, for each t (contract rule).

        Parameters
        ----------
        times : array_like of float
            Tick times (any order).

        Returns
        -------
        ndarray of int
            Same shape as ``times``.
        """
        tt = np.asarray(times, dtype=np.float64)
        j = np.searchsorted(self.time, tt, side="left")
        # n_risk at the first observed time >= t counts everyone with time >= t
        padded = np.append(self.n_risk, 0)
        return padded[j].astype(np.int64)

    def weighted_n_risk_at(self, times: ArrayLike) -> FloatArray:
        """Sum of the case weights of the patients with time >= t, for each t.

        Parameters
        ----------
        times : array_like of float
            Tick times (any order).

        Returns
        -------
        ndarray of float
            What R ``summary(survfit(..., weights = w), times = t)$n.risk`` reports for a
            weighted curve at times within its range (0 after the last time); for an
            unweighted curve, :meth:`n_risk_at` as floats.
        """
        tt = np.asarray(times, dtype=np.float64)
        if self.weighted_n_risk is None:
            return self.n_risk_at(tt).astype(np.float64)
        j = np.searchsorted(self.time, tt, side="left")
        out: FloatArray = np.append(self.weighted_n_risk, 0.0)[j]
        return out

    def rmst(self, tau: float) -> RMST:
        """Restricted mean survival time: the area under the curve from 0 to ``tau``.

        Parameters
        ----------
        tau : float
            Truncation time, in the curve's unit.

        Returns
        -------
        RMST
            ``estimate`` and ``std_err`` as R ``summary(fit, rmean = tau)$table``
            (``rmean``, ``se(rmean)``): variance = sum over times t_i <= tau of
            A_i^2 d_i / (n_i (n_i - d_i)), A_i the area under the curve from t_i to tau
            (terms with n_i = d_i count 0, as R); Wald limits at ``conventions.conf_level``.
            A weighted curve uses the weighted counts, as R (whatever its ``variance``).
        """
        tau = float(tau)
        keep = self.time <= tau
        if keep.any():
            t_keep = self.time[keep]
            s_keep = self.surv[keep]
            if self.weighted_n_risk is not None and self.weighted_n_event is not None:
                n = self.weighted_n_risk[keep]
                d = self.weighted_n_event[keep]
            else:
                n = self.n_risk[keep].astype(np.float64)
                d = self.n_event[keep].astype(np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                hazard_var = np.where(n - d == 0, 0.0, d / (n * (n - d)))
            knots = np.append(t_keep, tau)
            heights = np.append(1.0, s_keep)  # S before each knot
        else:
            knots = np.array([tau])
            heights = np.array([1.0])
            hazard_var = np.zeros(0)
        rectangles = np.diff(np.append(0.0, knots)) * heights
        estimate = float(np.sum(rectangles))
        # area from each time t_i to tau, summed from the right as R's survmean does
        area_after = np.cumsum(rectangles[1:][::-1])[::-1]
        variance = float(np.sum(area_after**2 * hazard_var))
        se = math.sqrt(variance)
        z = z_value(self.conventions.conf_level)
        return RMST(
            tau, estimate, se, estimate - z * se, estimate + z * se, self.conventions.conf_level
        )

    # ------------------------------------------------------------------- output
    def curve_dict(self) -> dict[str, list[Any]]:
        """Step data for figures and results.json (NaN written as ``None``).

        Returns
        -------
        dict
            ``time``, ``surv``, ``lower``, ``upper``, ``n_risk``, ``n_event``, ``n_censor``
            as lists of the same length; a weighted curve adds ``weighted_n_risk``,
            ``weighted_n_event`` and ``weighted_n_censor``.
        """
        out: dict[str, list[Any]] = {
            "time": self.time.tolist(),
            "surv": _json_list(self.surv),
            "lower": _json_list(self.lower),
            "upper": _json_list(self.upper),
            "n_risk": self.n_risk.tolist(),
            "n_event": self.n_event.tolist(),
            "n_censor": self.n_censor.tolist(),
        }
        for name in ("weighted_n_risk", "weighted_n_event", "weighted_n_censor"):
            arr = getattr(self, name)
            if arr is not None:
                out[name] = _json_list(arr)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Return ``n``, ``events``, ``censored``, ``median``, ``conventions``, ``curve``.

        A weighted curve adds ``weighted: true`` and ``variance`` ("greenwood" or
        "robust"); ``n``, ``events`` and ``censored`` count rows.
        """
        out: dict[str, Any] = {
            "n": int(self.n),
            "events": int(self.events),
            "censored": int(self.n - self.events),
            "median": self.median.to_dict(),
            "conventions": self.conventions.to_dict(),
            "curve": self.curve_dict(),
        }
        if self.weighted_n_risk is not None:
            out["weighted"] = True
            out["variance"] = self.variance
        return out


# --------------------------------------------------------------------------------------
# public functions
# --------------------------------------------------------------------------------------


def _km_from_table(
    times: FloatArray,
    n_risk: IntArray,
    n_event: IntArray,
    n_censor: IntArray,
    n: int,
    conv: SurvivalConventions,
    *,
    fresh: bool,
) -> KaplanMeier:
    """Product-limit curve, Greenwood SE, band and median from a per-time table.

    ``fresh``: the arrays were made here and nobody else holds them, so they are frozen in
    place rather than copied.
    """
    surv, se_log = _product_limit(n_risk, n_event)
    with np.errstate(invalid="ignore"):
        std_err = surv * se_log  # inf * 0 -> NaN once S = 0, as R summary()
    lower, upper = _band(surv, se_log, conv.conf_type, _z(conv.conf_level))
    median = _quantile(times, surv, lower, upper, 0.5, conv)
    make = _km_from_fresh_arrays if fresh else KaplanMeier
    return make(
        time=times,
        n_risk=n_risk,
        n_event=n_event,
        n_censor=n_censor,
        surv=surv,
        std_err=std_err,
        std_err_log=se_log,
        lower=lower,
        upper=upper,
        median=median,
        n=n,
        events=int(n_event.sum()),
        conventions=conv,
    )


def kaplan_meier(
    time: ArrayLike,
    is_event: ArrayLike,
    *,
    conventions: SurvivalConventions | None = None,
    weights: ArrayLike | None = None,
    robust: bool | None = None,
) -> KaplanMeier:
    """Estimate survival with the Kaplan-Meier product-limit method.

    Parameters
    ----------
    time : array_like of float, shape (n,)
        Time from the origin to the event or censoring; finite and >= 0.
    is_event : array_like of bool, shape (n,)
        True if follow-up ended with the event, False if censored.
    conventions : SurvivalConventions, optional
        Band transform (``conf_type``), ``conf_level`` and ``median_rule``; the contract
        defaults (log-log, 0.95, midpoint) when omitted.
    weights : array_like of float, shape (n,), optional
        Case weights >= 0 (``survfit(..., weights = w)``, e.g. IPTW weights): the curve is
        the product of 1 - d_w / n_w over the weighted numbers of events and at risk.
    robust : bool, optional
        Infinitesimal-jackknife ("robust") standard errors, each row its own cluster.
        ``None`` (default) follows R's ``survfit``: robust when the weights are not all
        whole numbers, Greenwood otherwise. ``False`` with weights gives Greenwood's formula
        on the weighted counts.

    Returns
    -------
    KaplanMeier
        Curve, standard errors, pointwise band, risk counts and median.

    Notes
    -----
    Equals R ``survfit(Surv(time, is_event) ~ 1, conf.type = ..., conf.int = ...)``
    including its band rules: "log" and "log-log" give NA (NaN here) where S = 0, "log-log"
    also where S = 1; "log" and "plain" upper limits are capped at 1, "plain" lower limits
    floored at 0. One sort of the data, then counts per distinct time by cumulative sums.
    With ``weights`` it equals ``survfit(..., weights = w)`` (``survfitkm.c``): curve,
    ``std.err`` (Greenwood on the weighted counts, or the robust variance R chooses for
    weights that are not whole numbers; ``robust=`` overrides as R's ``robust =``), band,
    median and its interval, landmark rates and restricted mean. ``n_risk``, ``n_event``,
    ``n_censor`` (and landmark ``n_risk``) still count rows; R's weighted counts are in
    ``weighted_n_risk`` etc. The unweighted path is unchanged by these options.

    Examples
    --------
    >>> kaplan_meier([1, 2, 3, 4], [True, True, True, True]).median.value
    2.5
    >>> kaplan_meier([1, 2, 3, 4], [True] * 4, weights=[1, 1, 2, 1]).surv.round(3).tolist()
    [0.8, 0.6, 0.2, 0.0]
    """
    conv = _check_conventions(conventions)
    if weights is not None or robust:
        return _kaplan_meier_weighted(time, is_event, weights, robust, conv)
    t, e = _time_event_bits(time, is_event)
    if t.size == 0:
        raise InputError("no observations: a Kaplan-Meier curve needs at least one patient")
    times, n_risk, n_event, n_censor = _tabulate(t, e)
    return _km_from_table(times, n_risk, n_event, n_censor, int(t.size), conv, fresh=True)


def _kaplan_meier_weighted(
    time: ArrayLike,
    is_event: ArrayLike,
    weights: ArrayLike | None,
    robust: bool | None,
    conv: SurvivalConventions,
) -> KaplanMeier:
    """survfitkm.c with case weights: weighted product limit, Greenwood or robust SE."""
    t, e = as_time_event(time, is_event)
    n = t.size
    if n == 0:
        raise InputError("no observations: a Kaplan-Meier curve needs at least one patient")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or w.shape[0] != n:
        raise InputError(f"weights must be a 1-d array of length {n}, got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InputError(
            "weights must be finite and >= 0 (R survfit: 'weights must be non-negative')"
        )
    if robust is None:
        # R survfit: robust when the weights are not whole numbers
        robust = bool(np.any(w != np.floor(w)))
    times, inv = np.unique(t + 0.0, return_inverse=True)
    inv = inv.ravel()
    m = times.size
    ev = e.astype(np.float64)
    n_at = np.bincount(inv, minlength=m)
    n_event = _wsum(inv, ev, m).astype(np.int64)
    n_censor = (n_at - n_event).astype(np.int64)
    n_risk = np.cumsum(n_at[::-1])[::-1].astype(np.int64)
    w_at = _wsum(inv, w, m)
    w_event = _wsum(inv, w * ev, m)
    w_censor = _wsum(inv, w * (1.0 - ev), m)
    w_risk = np.cumsum(w_at[::-1])[::-1]
    # survfitkm.c updates only at times with an event of positive weight
    has = (n_event > 0) & (w_event > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(has, (w_risk - w_event) / w_risk, 1.0)
        greenwood = np.where(has, w_event / (w_risk * (w_risk - w_event)), 0.0)
    surv: FloatArray = np.cumprod(factor, dtype=np.float64)
    if not robust:
        se_log = np.sqrt(np.cumsum(greenwood))
        with np.errstate(invalid="ignore"):
            std_err = surv * se_log  # inf * 0 -> NaN once S = 0, as R summary()
        variance = "greenwood"
    else:
        std_err = _robust_km_se(inv, e, w, w_risk, w_event, has, surv, m)
        with np.errstate(divide="ignore", invalid="ignore"):
            # survfit_confint(logse = FALSE): se <- ifelse(se == 0, 0, se / p)
            se_log = np.where(std_err == 0, 0.0, std_err / surv)
        variance = "robust"
    lower, upper = _band(surv, se_log, conv.conf_type, _z(conv.conf_level))
    median = _quantile(times, surv, lower, upper, 0.5, conv)
    return KaplanMeier(
        time=times,
        n_risk=n_risk,
        n_event=n_event,
        n_censor=n_censor,
        surv=surv,
        std_err=std_err,
        std_err_log=se_log,
        lower=lower,
        upper=upper,
        median=median,
        n=n,
        events=int(n_event.sum()),
        conventions=conv,
        variance=variance,
        weighted_n_risk=w_risk,
        weighted_n_event=w_event,
        weighted_n_censor=w_censor,
    )


def _robust_km_se(
    inv: IntArray,
    e: NDArray[np.bool_],
    w: FloatArray,
    w_risk: FloatArray,
    w_event: FloatArray,
    has: NDArray[np.bool_],
    surv: FloatArray,
    m: int,
) -> FloatArray:
    """Infinitesimal-jackknife SE of S(t), each row its own cluster (survfitkm.c, type 1).

    survfitkm.c updates every row's influence at each event time; in closed form, row k
    (time T_k, weight w_k) has influence S(t) U_k(t) with
    U_k(t) = w_k [C(min(t, T_k)) - 1{event, T_k <= t} / (n(T_k) - d(T_k))],
    C(t) = sum over event times s <= t of d(s) / (n(s) (n(s) - d(s))) (weighted counts).
    So var S(t) = S(t)^2 [C(t)^2 sum_{T_k > t} w_k^2 + sum_{T_k <= t} w_k^2 a_k^2], two
    cumulative sums. An event row's a_k = C(T_k-) - 1/n(T_k) (the same value, without the
    cancellation). Once every remaining weight has the event (S = 0) the influence of
    every row is 0, as in R.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(has, w_event / (w_risk * (w_risk - w_event)), 0.0)
        c = np.cumsum(g)
        c_before = c - g
        w2 = w * w
        w2_event = _wsum(inv, w2 * e, m)
        w2_cens = _wsum(inv, w2 * ~e, m)
        a_event = c_before - 1.0 / w_risk  # an event row's a_k
        # sum over rows leaving at each time of w^2 a^2 (censored rows: a = C at their time)
        left = w2_cens * c * c + np.where(w2_event > 0, w2_event * a_event * a_event, 0.0)
        # sum of w^2 over rows still at risk after each time
        rev = np.cumsum((w2_cens + w2_event)[::-1])[::-1]
        later = np.append(rev[1:], 0.0)
        var = surv * surv * (c * c * later + np.cumsum(left))
    dead_all = np.cumsum(has & (w_event >= w_risk)) > 0  # S has reached 0
    var = np.where(dead_all, 0.0, var)
    return np.sqrt(var)


def _wsum(idx: IntArray, v: ArrayLike, m: int) -> FloatArray:
    """Sum of ``v`` per index 0..m-1 (np.bincount with weights, typed as float)."""
    return np.asarray(np.bincount(idx, weights=np.asarray(v, np.float64), minlength=m), np.float64)


def reverse_km_followup(
    time: ArrayLike,
    is_event: ArrayLike,
    *,
    conventions: SurvivalConventions | None = None,
) -> FollowUp:
    """Median follow-up by the reverse Kaplan-Meier method (Schemper & Smith 1996).

    Parameters
    ----------
    time : array_like of float
        Follow-up times of the endpoint.
    is_event : array_like of bool
        Event indicator of the endpoint; censoring becomes the "event".
    conventions : SurvivalConventions, optional
        As for :func:`kaplan_meier`.

    Returns
    -------
    FollowUp
        Median and CI of ``survfit(Surv(time, 1 - status) ~ 1, conf.type = ...)``;
        ``to_dict()`` gives ``estimate``, ``lower``, ``upper``, ``method``.
    """
    t, e = as_time_event(time, is_event)
    curve = kaplan_meier(t, ~e, conventions=conventions)
    m = curve.median
    return FollowUp(estimate=m.value, lower=m.lower, upper=m.upper, curve=curve)


def kaplan_meier_by(
    time: ArrayLike,
    is_event: ArrayLike,
    group: ArrayLike,
    *,
    conventions: SurvivalConventions | None = None,
    weights: ArrayLike | None = None,
    robust: bool | None = None,
) -> dict[str, KaplanMeier]:
    """Kaplan-Meier curves per group, as R ``survfit(Surv(time, status) ~ group)``.

    Parameters
    ----------
    time, is_event : array_like
        As for :func:`kaplan_meier`.
    group : array_like
        Group of each row; rows with a missing group (None / NaN) are dropped, as R's
        ``na.omit``. Labels become strings (integral floats lose ".0": 1.0 -> "1").
    conventions : SurvivalConventions, optional
        As for :func:`kaplan_meier`.
    weights, robust : optional
        Case weights and variance choice, as for :func:`kaplan_meier` (R:
        ``survfit(Surv(time, status) ~ group, weights = w)``).

    Returns
    -------
    dict of str to KaplanMeier
        One curve per group, in sorted group order.
    """
    t, e = as_time_event(time, is_event)
    codes, labels, missing = factorize_groups(group, t.size)
    keep = ~missing
    t, e, codes = t[keep], e[keep], codes[keep]
    if weights is None and not robust:
        return {
            label: kaplan_meier(t[codes == k], e[codes == k], conventions=conventions)
            for k, label in enumerate(labels)
        }
    w = np.ones(keep.size) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != keep.shape:
        raise InputError(f"weights must be a 1-d array of length {keep.size}")
    w = w[keep]
    if robust is None:
        # R decides once for the whole call, from all the weights
        robust = bool(np.any(w != np.floor(w)))
    return {
        label: kaplan_meier(
            t[codes == k],
            e[codes == k],
            conventions=conventions,
            weights=w[codes == k],
            robust=robust,
        )
        for k, label in enumerate(labels)
    }


# --------------------------------------------------------------------------------------
# helpers shared with logrank.py
# --------------------------------------------------------------------------------------


def factorize_groups(
    values: ArrayLike, n: int
) -> tuple[IntArray, tuple[str, ...], NDArray[np.bool_]]:
    """Code a grouping variable: (codes, sorted string labels, missing mask).

    Missing means None or NaN (R's NA). Values are sorted in their own order (numbers
    numerically) before they become strings; whole-number floats are labelled as R's
    ``as.character`` does, so a numeric column read with NaN gives "1", not "1.0".
    Codes of missing rows are -1.
    """
    a = np.asarray(values)
    missing = missing_mask(a, n)
    valid = a[~missing]
    if valid.dtype.kind == "O":
        kinds = {type(v) for v in valid.tolist()}
        numeric = all(issubclass(k, int | float) and not issubclass(k, bool) for k in kinds)
        valid = valid.astype(np.float64) if numeric and valid.size else valid.astype(str)
    if valid.dtype.kind == "b":
        valid = valid.astype(str)
    uniq, inv = np.unique(valid, return_inverse=True)
    codes = np.full(n, -1, dtype=np.int64)
    codes[~missing] = inv.reshape(-1)
    labels = tuple(_label(u) for u in uniq.tolist())
    return codes, labels, missing


def _label(value: object) -> str:
    # as R's as.character: whole numbers without ".0" (a numeric column with NaN is float)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def missing_mask(values: ArrayLike, n: int) -> NDArray[np.bool_]:
    """True where a grouping value is missing: None or NaN (R's NA), pandas NA / NaT."""
    a = np.asarray(values)
    if a.ndim != 1 or a.shape[0] != n:
        raise InputError(f"group must be a 1-d array of length {n}, got shape {a.shape}")
    if a.dtype.kind == "f":
        return np.isnan(a)
    if a.dtype.kind == "O":
        return _is_missing_object(a)
    return np.zeros(n, dtype=bool)


def _is_missing_object(a: NDArray[Any]) -> NDArray[np.bool_]:
    # None, float NaN, pandas NA / NaT: the values R reads as NA
    def one(v: object) -> bool:
        if v is None:
            return True
        if isinstance(v, float | np.floating):
            return bool(np.isnan(v))
        return type(v).__name__ in ("NAType", "NaTType")

    return np.asarray(np.frompyfunc(one, 1, 1)(a), dtype=bool)


# --------------------------------------------------------------------------------------
# private computation
# --------------------------------------------------------------------------------------


_KM_ARRAY_DTYPES = {
    "time": np.float64,
    "n_risk": np.int64,
    "n_event": np.int64,
    "n_censor": np.int64,
    "surv": np.float64,
    "std_err": np.float64,
    "std_err_log": np.float64,
    "lower": np.float64,
    "upper": np.float64,
}


_KM_OPTIONAL_DEFAULTS: dict[str, Any] = {
    "variance": "greenwood",
    "weighted_n_risk": None,
    "weighted_n_event": None,
    "weighted_n_censor": None,
}


def _km_from_fresh_arrays(**fields: Any) -> KaplanMeier:
    """``KaplanMeier(**fields)`` for arrays this module has just computed.

    ``__post_init__`` copies every array, because a caller could still hold and change
    it. Arrays made here have no other owner: freezing them in place gives the same
    read-only result without nine copies. Anything not a fresh array of the final dtype
    (a view, another dtype) still goes through ``read_only``.
    """
    km = object.__new__(KaplanMeier)
    # fields with defaults that the fast path does not pass (slots have no class default)
    for name, default in _KM_OPTIONAL_DEFAULTS.items():
        if name not in fields:
            object.__setattr__(km, name, default)
    for name, value in fields.items():
        dtype = _KM_ARRAY_DTYPES.get(name)
        if dtype is not None:
            if value.dtype == dtype and value.base is None and value.flags.owndata:
                value.setflags(write=False)
            else:
                value = read_only(value, dtype=dtype)
        object.__setattr__(km, name, value)
    return km


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise SpecError(f"conf_level must be between 0 and 1, got {level!r}", fix="use e.g. 0.95")


def _check_conventions(conventions: SurvivalConventions | None) -> SurvivalConventions:
    conv = SurvivalConventions() if conventions is None else conventions
    if conv.conf_type not in _CONF_TYPES:
        raise SpecError(
            f"unknown conf_type {conv.conf_type!r}", fix=f"use one of {', '.join(_CONF_TYPES)}"
        )
    if conv.median_rule not in _MEDIAN_RULES:
        raise SpecError(
            f"unknown median_rule {conv.median_rule!r}",
            fix=f"use one of {', '.join(_MEDIAN_RULES)}",
        )
    _check_level(conv.conf_level)
    return conv


_INF_BITS = np.uint64(0x7FF0000000000000)  # bit pattern of +inf
_ROWS6 = np.arange(6)
_UINT_OF_SIZE = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


@functools.lru_cache(maxsize=16)
def _z(level: float) -> float:
    """``z_value(level)``, cached: scipy's ``norm.ppf`` costs about as much as a whole fit of
    10^4 rows, and every fit asks for the same few levels."""
    return z_value(level)


def _time_event_bits(time: ArrayLike, is_event: ArrayLike) -> tuple[FloatArray, NDArray[Any]]:
    """Check survival inputs as ``as_time_event``; return times and events as unsigned 0/1.

    The event array comes back as an unsigned-integer view of the caller's 0/1 or boolean
    array (no copy), ready to be OR-ed into the sort key of :func:`_tabulate`. Clean inputs
    are checked with one reduction each; anything else (other dtypes, bad values, -0.0,
    empty) goes through ``as_time_event``, so errors and their messages are its own.
    """
    t = np.asarray(time, dtype=np.float64)
    e = np.asarray(is_event)
    if (
        t.ndim == 1
        and e.shape == t.shape
        and t.size > 0
        and e.dtype.kind in "biu"
        and e.dtype.isnative
        # as unsigned integers, the doubles 0.0 <= t < inf are exactly those below the bit
        # pattern of inf: negatives (and -0.0) have the sign bit set, NaNs lie above inf
        and t.view(np.uint64).max() < _INF_BITS
    ):
        if e.dtype.kind == "b":
            return t, e.view(np.uint8)
        e_bits = e.view(_UINT_OF_SIZE[e.dtype.itemsize])
        if e_bits.max() <= 1:  # as unsigned, a negative integer is huge
            return t, e_bits
    tt, ee = as_time_event(t, e)
    return tt, ee.view(np.uint8)


def _time_event_keys(t: FloatArray, e: NDArray[Any]) -> NDArray[np.uint64]:
    """Sort keys ``(bits of t) << 1 | event``: time order, censorings before events.

    The bit pattern of a non-negative double orders like its value. Its top (sign) bit is
    0, except for -0.0, whose sign bit the shift drops, so -0.0 becomes +0.0 (R: equal).
    """
    key = np.left_shift(t.view(np.uint64), np.uint64(1))
    np.bitwise_or(key, e, out=key)
    return key


def _key_pairs(key: NDArray[np.uint64], n: int) -> tuple[IntArray, NDArray[np.uint64]]:
    """First row and key of each distinct key in a sorted key array."""
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(key[1:], key[:-1], out=new[1:])
    first = new.nonzero()[0]
    return first, key[first]


def _tabulate(t: FloatArray, e: NDArray[Any]) -> tuple[FloatArray, IntArray, IntArray, IntArray]:
    """Distinct times with numbers at risk, events and censorings (one sort of n keys).

    ``e`` is 0/1 (boolean or unsigned, as from :func:`_time_event_bits`). After the sort,
    only two passes touch all n keys (finding the distinct (time, event) pairs); the rest
    works on the pairs, at most two per distinct time (censorings first, then events).
    """
    n = t.size
    key = _time_event_keys(t, e)
    key.sort()
    first, pair = _key_pairs(key, n)
    m = first.size
    pair_time = pair >> np.uint64(1)
    new_time = np.empty(m, dtype=bool)
    new_time[0] = True
    np.not_equal(pair_time[1:], pair_time[:-1], out=new_time[1:])
    t_first = new_time.nonzero()[0]  # first pair of each distinct time
    # a time's event pair, if it has one, is its last pair: events = rows of that pair
    # times its event bit (0 for a censoring pair)
    t_last = np.empty_like(t_first)
    np.subtract(t_first[1:], 1, out=t_last[:-1])
    t_last[-1] = m - 1
    event_rows = _gaps(first, n) * (pair & np.uint64(1)).view(np.int64)
    n_event = event_rows[t_last]
    row_first = first[t_first]
    n_censor = _gaps(row_first, n) - n_event
    n_risk = n - row_first
    times = pair_time.view(np.float64)[t_first]
    return times, n_risk, n_event, n_censor


def _gaps(starts: IntArray, end: int) -> IntArray:
    """``np.diff(starts, append=end)``: the length of each block (without a concatenate)."""
    out = np.empty_like(starts)
    np.subtract(starts[1:], starts[:-1], out=out[:-1])
    out[-1] = end - starts[-1]
    return out


def _product_limit(n_risk: IntArray, n_event: IntArray) -> tuple[FloatArray, FloatArray]:
    """KM survival and Greenwood SE of log S, in R survfitkm.c's order of operations.

    No masking for times without events: there (n - 0) / n is exactly 1 and 0 / (n n)
    exactly 0, the values survfitkm.c skips to.
    """
    n = n_risk.astype(np.float64)
    d = n_event.astype(np.float64)
    alive = n - d
    greenwood = n * alive
    with np.errstate(divide="ignore"):
        # d / (n (n - d)) is inf when everyone at risk has the event; R keeps that inf
        np.divide(d, greenwood, out=greenwood)
    np.divide(alive, n, out=alive)  # the factor (n - d) / n
    surv: FloatArray = np.cumprod(alive, dtype=np.float64)
    se_log: FloatArray = np.sqrt(
        np.cumsum(greenwood, dtype=np.float64, out=greenwood), out=greenwood
    )
    return surv, se_log


def _band(
    surv: FloatArray, se_log: FloatArray, conf_type: str, z: float
) -> tuple[FloatArray, FloatArray]:
    """Pointwise band as R survfit_confint (conf.lower = "usual", so scale = 1)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "plain":
            half = se_log * surv * z  # inf * 0 -> NaN where S = 0, as R
            return np.maximum(surv - half, 0.0), np.minimum(surv + half, 1.0)
        if conf_type == "log":
            xx = np.where(surv == 0, np.nan, surv)
            half = z * se_log
            return np.exp(np.log(xx) - half), np.minimum(np.exp(np.log(xx) + half), 1.0)
        # log-log: undefined where S is 0 or 1 (log(-log S) infinite), NA in R
        xx = np.where((surv == 0) | (surv == 1), np.nan, surv)
        log_s = np.log(xx)
        half = z * se_log / log_s
        loglog = np.log(-log_s)
        return np.exp(-np.exp(loglog - half)), np.exp(-np.exp(loglog + half))


def _quantile(
    time: FloatArray,
    surv: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    p: float,
    conv: SurvivalConventions,
) -> Estimate:
    if conv.median_rule == "midpoint":
        value, lo, hi = _findq3(time, (surv, lower, upper), p)
        return Estimate(value=none_if_nan(value), lower=none_if_nan(lo), upper=none_if_nan(hi))
    strict = conv.median_rule == "first-below"

    def find(s: FloatArray) -> float:
        return _first_crossing(time, s, 1.0 - p, strict=strict)

    return Estimate(
        value=none_if_nan(find(surv)),
        lower=none_if_nan(find(lower)),
        upper=none_if_nan(find(upper)),
    )


def _findq3(
    time: FloatArray, curves: tuple[FloatArray, FloatArray, FloatArray], p: float
) -> tuple[float, float, float]:
    """:func:`_findq` of three curves at once (curve, lower, upper), without its sort.

    ``_findq`` first drops repeated y values (R's ``duplicated``), which needs a sort. The
    drop changes nothing that ``_approx_constant_right`` returns: the smallest v >= p is
    found first at the first occurrence of its y, which the drop keeps, and min/max are
    unchanged. It matters only to the last-flat rule, through which y ends the kept
    values; that rule needs some y within ``_TOL`` of p, and only such curves (and p
    below 4 tol) go to ``_findq``.
    """
    if p < 4 * _TOL:  # quantiles this close to 0: findq itself (see the bound below)
        x = np.concatenate(([0.0], time))
        q0, q1, q2 = (_findq(x, np.concatenate(([0.0], 1.0 - s)), p) for s in curves)
        return q0, q1, q2
    # findq's y = c(0, 1 - curve); its first value, 0, is never a candidate here (0 + tol <
    # p) and makes min(v) <= p always true, so it is left out: index i below is x[i + 1]
    m = time.size
    y = np.empty((3, m))
    for r, s in enumerate(curves):
        np.subtract(1.0, s, out=y[r])
    # v = y + tol (rows 0-2) and y - tol (rows 3-5), as findq's two approx() calls
    v = np.empty((6, m))
    np.add(y, _TOL, out=v[:3])
    np.subtract(y, _TOL, out=v[3:])
    above = v >= p  # NaN compares False: approx() drops NA pairs
    # the first candidate is the smallest one unless a later candidate is smaller
    # (a band need not be monotone): only then search for the minimum
    j = above.argmax(axis=1)
    vj = v[_ROWS6, j]
    later_smaller = (above & (v < vj[:, None])).any(axis=1).nonzero()[0]
    if later_smaller.size:
        w = np.where(above[later_smaller], v[later_smaller], np.inf)
        j[later_smaller] = w.argmin(axis=1)
        vj = v[_ROWS6, j]
    # approx(rule = 1): NA unless some v >= p (some v <= p: the left-out 0 -+ tol).
    # j is a candidate whenever the row has one (argmax: the first; argmin: a finite one).
    has: list[bool] = above[_ROWS6, j].tolist()
    idx = j.tolist()
    v_min = vj.tolist()
    out = [math.nan, math.nan, math.nan]
    for r in range(3):
        if not has[r]:
            continue  # no y + tol >= p, so no y >= p: findq's NA ("not reached")
        if v_min[r] <= p + 3 * _TOL:
            # Some y may lie within tol of p. (Such a y has p <= fl(y + tol) <= p + 3 tol,
            # |y - p| being exact there by Sterbenz as y is within p / 2 of p for
            # p >= 4 tol; otherwise every y + tol >= p has y > p: "reached", not "near".)
            if not (y[r] >= p).any():  # findq: NA unless max(y, na.rm) >= p
                continue
            if (np.abs(y[r] - p) < _TOL).any():
                x = np.concatenate(([0.0], time))
                out[r] = _findq(x, np.concatenate(([0.0], y[r])), p)
                continue
        if has[r + 3]:
            out[r] = float((time[idx[r]] + time[idx[r + 3]]) / 2.0)
    return out[0], out[1], out[2]


def _first_crossing(time: FloatArray, s: FloatArray, level: float, *, strict: bool) -> float:
    with np.errstate(invalid="ignore"):
        hit = s < level - _TOL if strict else s <= level + _TOL
    idx = np.flatnonzero(hit)
    return float(time[idx[0]]) if idx.size else math.nan


def _findq(x: FloatArray, y: FloatArray, p: float) -> float:
    """R survival's findq (quantile.survfit), line for line, for one probability.

    ``x`` = c(0, time), ``y`` = c(0, 1 - curve); NaN plays R's NA.
    """
    finite = ~np.isnan(y)
    if not finite.any() or float(np.max(y[finite])) < p:
        return math.nan
    xmax = float(x[-1])
    # duplicated(y): keep the first time of each distinct value (NA equal to NA)
    _, first = np.unique(y, return_index=True)
    keep = np.sort(first)
    x, y = x[keep], y[keep]
    i1 = _approx_constant_right(y + _TOL, p)
    i2 = _approx_constant_right(y - _TOL, p)
    quant = (x[i1] + x[i2]) / 2.0 if i1 >= 0 and i2 >= 0 else math.nan
    if p == 0.0:
        quant = float(x[0])
    if not np.isnan(y[-1]) and abs(p - float(y[-1])) < _TOL:
        # the curve ends on the flat at 1 - p: midpoint of the flat's start and the last time
        quant = (x[i1] + xmax) / 2.0 if i1 >= 0 else math.nan
    return float(quant)


def _approx_constant_right(v: FloatArray, p: float) -> int:
    """``approx(v, seq_along(v), p, method = "constant", f = 1)$y - 1`` (or -1 for NA).

    R's approx drops NA pairs, sorts by ``v`` and returns the index of the smallest
    ``v >= p`` (rule = 1: NA outside the range of ``v``). The bands need not be monotone,
    so this is not always the first index with v >= p.
    """
    ok = np.flatnonzero(~np.isnan(v))
    if ok.size == 0:
        return -1
    vv = v[ok]
    if p < vv.min() or p > vv.max():
        return -1
    cand = np.flatnonzero(vv >= p)
    return int(ok[cand[np.argmin(vv[cand])]])


def _json_list(a: FloatArray) -> list[float | None]:
    out = a.astype(object)
    out[~np.isfinite(a)] = None
    values: list[float | None] = out.tolist()
    return values


# --------------------------------------------------------------------------------------
# from per-time counts (the scaled path: counts computed in a database)
# --------------------------------------------------------------------------------------


def kaplan_meier_from_counts(
    time: ArrayLike,
    n_event: ArrayLike,
    n_censor: ArrayLike,
    *,
    conventions: SurvivalConventions | None = None,
) -> KaplanMeier:
    """Kaplan-Meier curve from events and censorings per distinct time.

    Parameters
    ----------
    time : array_like of float, shape (k,)
        Distinct times (any order; finite and >= 0).
    n_event, n_censor : array_like of int, shape (k,)
        Events and censorings at each time (``GROUP BY time`` in a database).
    conventions : SurvivalConventions, optional
        As for :func:`kaplan_meier`.

    Returns
    -------
    KaplanMeier
        Identical (bit for bit) to :func:`kaplan_meier` on the patient rows these counts
        summarise: the same numbers at risk (patients with time >= t) feed the same
        product-limit, Greenwood, band and quantile code. Times with no patient (both
        counts 0) are dropped. Equals R ``survfit(Surv(time, status) ~ 1)``.

    Examples
    --------
    >>> kaplan_meier_from_counts([1, 2, 3, 4], [1, 1, 1, 1], [0, 0, 0, 0]).median.value
    2.5
    """
    conv = _check_conventions(conventions)
    times, ev, ce = _check_counts(time, n_event, n_censor)
    if times.size == 0:
        raise InputError("no observations: a Kaplan-Meier curve needs at least one patient")
    n_at = ev + ce
    # patients with time >= t: the sum of counts from t on (as n - start of t's block)
    n_risk = np.cumsum(n_at[::-1])[::-1].astype(np.int64)
    return _km_from_table(times, n_risk, ev, ce, int(n_at.sum()), conv, fresh=False)


def reverse_km_followup_from_counts(
    time: ArrayLike,
    n_event: ArrayLike,
    n_censor: ArrayLike,
    *,
    conventions: SurvivalConventions | None = None,
) -> FollowUp:
    """Median follow-up by reverse Kaplan-Meier from per-time counts.

    The counts are those of the endpoint (events, censorings per time); censoring becomes
    the "event", so this equals :func:`reverse_km_followup` on the rows they summarise.
    """
    curve = kaplan_meier_from_counts(time, n_censor, n_event, conventions=conventions)
    m = curve.median
    return FollowUp(estimate=m.value, lower=m.lower, upper=m.upper, curve=curve)


def _check_counts(
    time: ArrayLike, n_event: ArrayLike, n_censor: ArrayLike
) -> tuple[FloatArray, IntArray, IntArray]:
    """Sorted distinct times with their counts; zero-count times dropped."""
    t = np.asarray(time, dtype=np.float64).ravel()
    ev = np.asarray(n_event).ravel()
    ce = np.asarray(n_censor).ravel()
    if not (t.shape == ev.shape == ce.shape):
        raise InputError(
            f"time, n_event and n_censor must have one length, got {t.size}, {ev.size}, {ce.size}"
        )
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise InputError("survival times must be finite and >= 0")
    evi = ev.astype(np.int64)
    cei = ce.astype(np.int64)
    if np.any(evi != ev) or np.any(cei != ce) or np.any(evi < 0) or np.any(cei < 0):
        raise InputError("n_event and n_censor must be non-negative whole numbers")
    t = t + 0.0  # -0.0 -> +0.0, as _tabulate
    order = np.argsort(t, kind="stable")
    t, evi, cei = t[order], evi[order], cei[order]
    if t.size > 1 and np.any(t[1:] == t[:-1]):
        raise InputError("times must be distinct: sum the counts of equal times first")
    keep = (evi + cei) > 0
    return t[keep], evi[keep], cei[keep]
