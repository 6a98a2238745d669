"""Cumulative incidence with competing risks (Aalen-Johansen) and Gray's K-sample test.

Every number equals R ``cmprsk::cuminc`` (cmprsk 2.2-11/12, Fortran ``cinc`` and ``crstm``)
and ``cmprsk::timepoints`` run on the same data; the pointwise intervals, which cmprsk does
not compute, follow the formulas stated in :func:`cuminc`. Fixtures:
``tests/reference/r/competing_risks.R``.

Event coding
------------
One array ``cause`` per patient: the value ``censored`` (default ``0``) for a patient
censored alive and event-free, any other value for the first event that ended follow-up
(``1, 2, ...`` or labels such as ``"progression"``, ``"death"``). ``event`` names the cause
of interest; every other non-censored value is a competing event. Times are in any unit
(the estimates do not depend on it; the requested ``times`` are in the same unit).

Times are compared exactly (cmprsk applies no ``timefix``); mmrwe derives times from whole
days, so two times are either equal or at least a day apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mmrwe.core.errors import EstimationError, InputError
from mmrwe.stats._common import none_if_nan, read_only, z_value
from mmrwe.stats.km import factorize_groups, missing_mask

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
CifConfType = Literal["log-log", "plain"]

CENSORED, CAUSE, COMPETING = 0, 1, 2
VARIANCE_METHOD = "Aalen (1978) asymptotic variance, as cmprsk::cuminc"
ESTIMATOR = "Aalen-Johansen (cmprsk::cuminc)"
# R's qr() default tolerance, with which cuminc decides whether the score variance of Gray's
# test is of full rank (otherwise cuminc reports the statistic as -1)
_QR_TOL = 1e-7


# --------------------------------------------------------------------------------------
# result types
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CIFAt:
    """The cumulative incidence at requested times, as ``cmprsk::timepoints``.

    ``estimate``/``variance``/``lower``/``upper`` hold ``None`` where cmprsk gives NA:
    beyond the group's largest observed time (of any kind) or before time 0. Where the
    estimate is 0 or 1 the log(-log) limits are ``None`` (undefined there).
    ``n_risk`` is the number of patients with time >= t.
    """

    times: tuple[float, ...]
    estimate: tuple[float | None, ...]
    variance: tuple[float | None, ...]
    lower: tuple[float | None, ...]
    upper: tuple[float | None, ...]
    n_risk: tuple[int, ...]

    def to_dict(self) -> dict[str, list[Any]]:
        """Return ``{"times", "estimate", "variance", "lower", "upper", "n_risk"}``."""
        return {
            "times": list(self.times),
            "estimate": list(self.estimate),
            "variance": list(self.variance),
            "lower": list(self.lower),
            "upper": list(self.upper),
            "n_risk": list(self.n_risk),
        }


@dataclass(frozen=True, slots=True)
class CIFCurve:
    """Cumulative incidence of one cause in one group, a right-continuous step function.

    Attributes
    ----------
    time : ndarray of float
        Distinct times with at least one event of the cause (the jumps), ascending.
    estimate : ndarray of float
        CIF just after each jump (``cuminc``'s ``est`` at the second corner of the step).
    variance : ndarray of float
        Its variance as ``cuminc``'s ``var``. Like cmprsk, it changes only at jumps of
        this cause (competing events enter the sums but are reported at the next jump).
    lower, upper : ndarray of float
        Pointwise limits per ``conf_type``; NaN where undefined (written as ``None``).
    max_time : float
        Largest observed time in the group (event or censoring): the curve is defined on
        [0, max_time] and ``None`` beyond, as ``timepoints``.
    risk_time, risk_n : ndarray
        Distinct observed times and the number at risk (time >= t) at each, for
        :meth:`n_risk_at`.
    n, events, competing_events, censored : int
        Patients, events of the cause, competing events, censorings.
    conf_type : {"log-log", "plain"}
    conf_level : float
    """

    time: FloatArray
    estimate: FloatArray
    variance: FloatArray
    lower: FloatArray
    upper: FloatArray
    max_time: float
    risk_time: FloatArray
    risk_n: IntArray
    n: int
    events: int
    competing_events: int
    censored: int
    conf_type: CifConfType
    conf_level: float

    def __post_init__(self) -> None:
        for name, dtype in (
            ("time", np.float64),
            ("estimate", np.float64),
            ("variance", np.float64),
            ("lower", np.float64),
            ("upper", np.float64),
            ("risk_time", np.float64),
            ("risk_n", np.int64),
        ):
            object.__setattr__(self, name, read_only(getattr(self, name), dtype=dtype))

    def n_risk_at(self, ticks: ArrayLike) -> IntArray:
        """Number of patients with time >= t, for each tick (contract rule)."""
        tt = np.asarray(ticks, dtype=np.float64)
        j = np.searchsorted(self.risk_time, tt, side="left")
        return np.append(self.risk_n, 0)[j].astype(np.int64)

    def at(self, times: ArrayLike) -> CIFAt:
        """Estimate, variance and CI at each requested time, as ``cmprsk::timepoints``.

        The value at t is the one after the last jump <= t (0 before the first jump);
        ``None`` for t > ``max_time`` or t < 0 (cmprsk: NA). Times keep the given order
        (``timepoints`` sorts and de-duplicates them).
        """
        tt = np.atleast_1d(np.asarray(times, dtype=np.float64))
        if tt.ndim != 1 or not np.all(np.isfinite(tt)):
            raise InputError("times must be a 1-d array of finite numbers")
        i = np.searchsorted(self.time, tt, side="right") - 1
        before = i < 0
        ii = np.where(before, 0, i)
        if self.time.size:
            est = np.where(before, 0.0, self.estimate[ii])
            var = np.where(before, 0.0, self.variance[ii])
        else:
            est = np.zeros(tt.size)
            var = np.zeros(tt.size)
        outside = (tt > self.max_time) | (tt < 0)
        est = np.where(outside, np.nan, est)
        var = np.where(outside, np.nan, var)
        lo, hi = cif_confint(est, var, self.conf_type, self.conf_level)
        return CIFAt(
            times=tuple(float(x) for x in tt),
            estimate=_tuple(est),
            variance=_tuple(var),
            lower=_tuple(lo),
            upper=_tuple(hi),
            n_risk=tuple(int(x) for x in self.n_risk_at(tt)),
        )

    def corners(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """The curve in ``cuminc``'s layout: ``(time, est, var)`` with every step corner.

        ``time = (0, t1, t1, t2, t2, ..., tk, tk, max_time)``, ``est = (0, 0, F1, F1,
        F2, ..., F(k-1), Fk, Fk)``, and ``var`` like ``est``: the vectors cmprsk returns.
        """
        k = self.time.size
        x = np.empty(2 * k + 2)
        f = np.empty(2 * k + 2)
        v = np.empty(2 * k + 2)
        x[0], f[0], v[0] = 0.0, 0.0, 0.0
        x[1 : 2 * k + 1 : 2] = self.time
        x[2 : 2 * k + 2 : 2] = self.time
        f[2 : 2 * k + 2 : 2] = self.estimate
        v[2 : 2 * k + 2 : 2] = self.variance
        f[1 : 2 * k + 1 : 2] = np.concatenate(([0.0], self.estimate[:-1])) if k else []
        v[1 : 2 * k + 1 : 2] = np.concatenate(([0.0], self.variance[:-1])) if k else []
        x[-1] = self.max_time
        f[-1] = f[-2]
        v[-1] = v[-2]
        return x, f, v

    def curve_dict(self) -> dict[str, list[Any]]:
        """Jump times with estimate, variance and limits (NaN as ``None``), for figures."""
        return {
            "time": self.time.tolist(),
            "estimate": list(_tuple(self.estimate)),
            "variance": list(_tuple(self.variance)),
            "lower": list(_tuple(self.lower)),
            "upper": list(_tuple(self.upper)),
        }


@dataclass(frozen=True, slots=True)
class GrayTest:
    """Gray's (1988) K-sample test of the cumulative incidence of one cause.

    ``stat`` and ``df`` equal ``cuminc(...)$Tests[cause, c("stat", "df")]``; ``p`` is the
    upper chi-square tail computed directly (cuminc prints ``1 - pchisq(stat, df)``, which
    agrees to ~1e-13 relative and loses digits only for p below ~1e-15). ``stat`` is
    ``None`` where cuminc reports -1 (the score variance is not of full rank).
    """

    stat: float | None
    df: int
    p: float | None
    rho: float
    stratified: bool
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"stat", "df", "p", "rho", "stratified", "reason"}``."""
        return {
            "stat": none_if_nan(self.stat),
            "df": int(self.df),
            "p": none_if_nan(self.p),
            "rho": float(self.rho),
            "stratified": bool(self.stratified),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class CumincResult:
    """Cumulative incidence of one cause by group, with Gray's test, as ``cmprsk::cuminc``.

    Attributes
    ----------
    event : str
        Label of the cause of interest.
    competing : tuple of str
        Labels of the competing causes present in the data.
    groups : dict of str to CIFCurve
        One curve per group level (sorted; ``"all"`` without a group).
    at : dict of str to CIFAt
        Values at the requested ``times`` per group.
    gray : GrayTest or None
        ``None`` with fewer than two groups (``gray_reason`` says why).
    times : tuple of float
        The requested times.
    n : int
        Patients analysed; ``n_excluded_missing`` rows were dropped for a missing group
        or stratum (R's ``na.omit``).
    conf_type, conf_level, variance_method, estimator : conventions recorded for the report.
    """

    event: str
    competing: tuple[str, ...]
    groups: dict[str, CIFCurve]
    at: dict[str, CIFAt]
    gray: GrayTest | None
    gray_reason: str | None
    times: tuple[float, ...]
    n: int
    n_excluded_missing: int
    conf_type: CifConfType
    conf_level: float
    variance_method: str = VARIANCE_METHOD
    estimator: str = ESTIMATOR

    def to_dict(
        self,
        *,
        event: str | None = None,
        competing: str | None = None,
        by: str | None = None,
    ) -> dict[str, Any]:
        """Return the ``cuminc[]`` entry of results.json (contract section 5.4).

        Parameters
        ----------
        event, competing, by : str, optional
            The spec's names (``[[cuminc]] event``, ``competing``, ``by``); default: the
            cause labels of the data (competing causes joined by ``"+"``) and ``None``.

        Returns
        -------
        dict
            ``event``, ``competing``, ``by``, ``groups`` {level: {``times``,
            ``estimate``, ``variance``, ``lower``, ``upper``, ``n_risk``, ``n``,
            ``events``, ``competing_events``, ``censored``, ``max_time``, ``curve``}},
            ``gray`` {``stat``, ``df``, ``p``, ...} or ``None`` with ``gray_reason``,
            ``n``, ``n_excluded_missing`` and ``conventions``.
        """
        groups: dict[str, Any] = {}
        for level, curve in self.groups.items():
            entry: dict[str, Any] = self.at[level].to_dict()
            entry.update(
                n=curve.n,
                events=curve.events,
                competing_events=curve.competing_events,
                censored=curve.censored,
                max_time=float(curve.max_time),
                curve=curve.curve_dict(),
            )
            groups[level] = entry
        return {
            "event": event if event is not None else self.event,
            "competing": competing if competing is not None else "+".join(self.competing),
            "by": by,
            "groups": groups,
            "gray": None if self.gray is None else self.gray.to_dict(),
            "gray_reason": self.gray_reason,
            "n": int(self.n),
            "n_excluded_missing": int(self.n_excluded_missing),
            "conventions": {
                "estimator": self.estimator,
                "variance": self.variance_method,
                "conf_type": self.conf_type,
                "conf_level": float(self.conf_level),
                "ci": _CI_TEXT[self.conf_type],
                "times_rule": "value after the last jump <= t; null beyond the group's "
                "largest observed time (cmprsk::timepoints)",
                "n_risk_rule": "patients with time >= t",
            },
        }


_CI_TEXT = {
    "log-log": "est^exp(-+ z sqrt(var) / (est log est)); null where est is 0 or 1",
    "plain": "est -+ z sqrt(var), clipped to [0, 1]",
}


# --------------------------------------------------------------------------------------
# public functions
# --------------------------------------------------------------------------------------


def cuminc(
    time: ArrayLike,
    cause: ArrayLike,
    group: ArrayLike | None = None,
    *,
    event: object = 1,
    censored: object = 0,
    strata: ArrayLike | None = None,
    times: Sequence[float] = (),
    conf_type: CifConfType = "log-log",
    conf_level: float = 0.95,
    rho: float = 0.0,
) -> CumincResult:
    """Aalen-Johansen cumulative incidence of one cause by group, with Gray's test.

    Parameters
    ----------
    time : array_like of float, shape (n,)
        Time to the first event or censoring, finite and >= 0, in any unit.
    cause : array_like, shape (n,)
        ``censored`` for censored patients, otherwise the cause that ended follow-up
        (integer codes ``1..k`` or labels). No missing values.
    group : array_like, optional
        Group per patient: one curve per level and Gray's test across levels. Rows with a
        missing group are dropped (R ``na.omit``) and counted in ``n_excluded_missing``.
    event : scalar
        The cause of interest (default 1); all other non-censored values compete.
    censored : scalar
        The value of ``cause`` meaning censored (cmprsk's ``cencode``, default 0).
    strata : array_like, optional
        Strata for Gray's test only (``cuminc(strata = )``): the estimates are not
        stratified. Rows with a missing stratum are dropped, as R.
    times : sequence of float
        Times at which to report the CIF (``timepoints``) and the numbers at risk.
    conf_type : {"log-log", "plain"}
        Pointwise CI. "log-log" (default, the transform used with cuminc in practice):
        ``est^exp(-+ z sqrt(var) / (est log est))``, undefined (``None``) where est is 0 or
        1. "plain" (delta method on the CIF scale): ``est -+ z sqrt(var)`` clipped to
        [0, 1]. The result records which one was used.
    conf_level : float
        Level of the pointwise intervals (z = ``qnorm(1 - (1 - level) / 2)``).
    rho : float
        Power of the weight (1 - F(t-))^rho in Gray's test (cuminc's ``rho``; 0 default).

    Returns
    -------
    CumincResult
        Curves per group, values at ``times``, Gray's test (with >= 2 groups).

    Raises
    ------
    InputError
        Bad shapes, missing or negative times, missing causes, ``event == censored``.
    EstimationError
        No patient left, or the cause of interest never occurs.

    Notes
    -----
    Equals R ``cmprsk::cuminc(ftime, fstatus, group, strata, rho, cencode)`` (cmprsk
    2.2-11): the estimate F(t) = sum over event times s <= t of S(s-) d1(s) / n(s), S the
    all-cause Kaplan-Meier curve of the group; the variance of Aalen (1978) as computed in
    cmprsk's Fortran ``cinc`` (tied events use the factor 1 - (d - 1)/(n - 1)); Gray's
    (1988) statistic and its variance as ``crstm`` (summed over strata), with the 2.2-12
    guard that skips a zero weight instead of forming 0/0. Values at ``times`` are
    ``timepoints``. Each group's curve and the test are computed with one sort of the
    data and cumulative sums over distinct times (no loop over patients).

    Examples
    --------
    Four patients: a progression at 1, a death at 2, a progression at 3, censored at 4.
    After time 1 S = 3/4; the progression at 3 (2 at risk) adds (3/4)(2/3)(1/2) = 1/4:

    >>> res = cuminc([1, 2, 3, 4], [1, 2, 1, 0])
    >>> res.groups["all"].estimate.tolist()
    [0.25, 0.5]
    """
    _check_conf(conf_type, conf_level)
    t, kind, labels_event, labels_comp = _prepare(time, cause, event, censored)
    return _estimate(
        t, kind, None, group, strata, labels_event, labels_comp, times, conf_type, conf_level, rho
    )


def cuminc_from_counts(
    time: ArrayLike,
    cause: ArrayLike,
    n: ArrayLike,
    group: ArrayLike | None = None,
    *,
    event: object = 1,
    censored: object = 0,
    strata: ArrayLike | None = None,
    times: Sequence[float] = (),
    conf_type: CifConfType = "log-log",
    conf_level: float = 0.95,
    rho: float = 0.0,
) -> CumincResult:
    """:func:`cuminc` from patient counts per (time, cause, group, stratum) cell.

    Parameters
    ----------
    time, cause, group, strata : array_like, shape (k,)
        One row per cell (a ``GROUP BY time, cause, group, stratum`` in a database); the
        same coding as :func:`cuminc`. Cells may repeat and come in any order.
    n : array_like of int, shape (k,)
        Patients in each cell (whole numbers >= 0; empty cells are ignored).
    event, censored, times, conf_type, conf_level, rho :
        As :func:`cuminc`.

    Returns
    -------
    CumincResult
        Equal to :func:`cuminc` on the patient rows the counts summarise: the counts per
        distinct time and group (and stratum) are the only thing ``cuminc`` (and cmprsk's
        ``cinc`` and ``crstm``) reads from the rows, so the same tables feed the same
        code. Memory depends on the number of cells, not of patients.
        ``n_excluded_missing`` counts patients.

    Examples
    --------
    The four patients of :func:`cuminc`'s example as four cells of one patient, and as
    two patients per cell (twice the patients: the same estimate):

    >>> cuminc_from_counts([1, 2, 3, 4], [1, 2, 1, 0], [2, 2, 2, 2]).groups["all"].estimate.tolist()
    [0.25, 0.5]
    """
    _check_conf(conf_type, conf_level)
    w = np.asarray(n, dtype=np.float64)
    k = np.asarray(time).shape[0] if np.ndim(time) == 1 else -1
    if w.ndim != 1 or w.shape[0] != k:
        raise InputError(
            f"n must be a 1-d array with one count per row of time, got shape {w.shape}"
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0) or np.any(w != np.floor(w)):
        raise InputError("n must hold whole numbers >= 0 (patients per cell)")
    present = w > 0

    def cells(values: ArrayLike | None) -> ArrayLike | None:
        if values is None:
            return None
        a = np.asarray(values)
        if a.ndim != 1 or a.shape[0] != k:
            raise InputError(f"group and strata must have one value per cell ({k})")
        return a[present]

    c = np.asarray(cause)
    if c.ndim != 1 or c.shape[0] != k:
        raise InputError(f"cause must have one value per cell ({k}), got shape {c.shape}")
    t, kind, labels_event, labels_comp = _prepare(
        np.asarray(time, dtype=np.float64)[present], c[present], event, censored
    )
    return _estimate(
        t,
        kind,
        w[present],
        cells(group),
        cells(strata),
        labels_event,
        labels_comp,
        times,
        conf_type,
        conf_level,
        rho,
    )


def _estimate(
    t: FloatArray,
    kind: NDArray[np.int8],
    freq: FloatArray | None,
    group: ArrayLike | None,
    strata: ArrayLike | None,
    labels_event: str,
    labels_comp: tuple[str, ...],
    times: Sequence[float],
    conf_type: CifConfType,
    conf_level: float,
    rho: float,
) -> CumincResult:
    """The estimates of :func:`cuminc`; ``freq`` = patients per row (None: one each)."""
    n_all = t.size
    keep = np.ones(n_all, dtype=bool)
    if group is not None:
        gcodes, glabels, gmiss = factorize_groups(group, n_all)
        keep &= ~gmiss
    else:
        gcodes, glabels = np.zeros(n_all, dtype=np.int64), ("all",)
    if strata is not None:
        scodes, _, smiss = factorize_groups(strata, n_all)
        keep &= ~smiss
    else:
        scodes = np.zeros(n_all, dtype=np.int64)
    n_dropped = int(n_all - keep.sum()) if freq is None else int(freq[~keep].sum())
    if not keep.all():
        t, kind, gcodes, scodes = t[keep], kind[keep], gcodes[keep], scodes[keep]
        freq = None if freq is None else freq[keep]
        # levels that only occurred on dropped rows disappear, as R's table(group) > 0
        present = np.unique(gcodes)
        remap = np.full(len(glabels), -1, dtype=np.int64)
        remap[present] = np.arange(present.size)
        gcodes = remap[gcodes]
        glabels = tuple(glabels[i] for i in present.tolist())
        scodes = np.unique(scodes, return_inverse=True)[1].reshape(-1)
    if t.size == 0:
        raise EstimationError(
            "no patients left for the cumulative incidence",
            fix="every row has a missing group or stratum; check those columns",
        )
    if not np.any(kind == CAUSE):
        raise EstimationError(
            f"the cause of interest {labels_event!r} never occurs in the data",
            fix="check the event code (cause value) of the event of interest",
        )
    n_groups = len(glabels)
    tab = _tabulate(t, kind, gcodes, n_groups, freq)
    groups: dict[str, CIFCurve] = {}
    for g, label in enumerate(glabels):
        groups[label] = _cif_curve(tab, g, conf_type, conf_level)
    requested = tuple(float(x) for x in times)
    at = {
        label: curve.at(np.asarray(requested, dtype=np.float64)) for label, curve in groups.items()
    }
    gray: GrayTest | None = None
    gray_reason: str | None = None
    if n_groups < 2:
        gray_reason = "one group: Gray's test needs at least two"
    else:
        gray = _gray_test(t, kind, gcodes, scodes, n_groups, rho, strata is not None, tab, freq)
    return CumincResult(
        event=labels_event,
        competing=labels_comp,
        groups=groups,
        at=at,
        gray=gray,
        gray_reason=gray_reason,
        times=requested,
        n=int(t.size) if freq is None else int(freq.sum()),
        n_excluded_missing=n_dropped,
        conf_type=conf_type,
        conf_level=float(conf_level),
    )


def cif_confint(
    estimate: ArrayLike, variance: ArrayLike, conf_type: CifConfType, conf_level: float
) -> tuple[FloatArray, FloatArray]:
    """Pointwise limits of a cumulative incidence (NaN where undefined).

    Parameters
    ----------
    estimate, variance : array_like of float
        CIF values and their variances (as ``cuminc``'s ``est`` and ``var``).
    conf_type : {"log-log", "plain"}
        "log-log": the interval for log(-log F) mapped back,
        ``est^exp(-z se / (est log est))`` (lower) and ``est^exp(z se / (est log est))``
        (upper), NaN where est is 0 or 1 or the variance is negative or missing.
        "plain": ``est -+ z se`` clipped to [0, 1] (NaN where the variance is).
    conf_level : float
        Coverage, z = ``qnorm(1 - (1 - conf_level) / 2)``.

    Returns
    -------
    (lower, upper) : tuple of ndarray
    """
    _check_conf(conf_type, conf_level)
    est = np.asarray(estimate, dtype=np.float64)
    var = np.asarray(variance, dtype=np.float64)
    z = z_value(conf_level)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(var)
        if conf_type == "plain":
            return np.maximum(est - z * se, 0.0), np.minimum(est + z * se, 1.0)
        ok = (est > 0) & (est < 1) & np.isfinite(se)
        e = np.where(ok, est, 0.5)
        denom = e * np.log(e)
        lower = np.where(ok, e ** np.exp(-z * se / denom), np.nan)
        upper = np.where(ok, e ** np.exp(z * se / denom), np.nan)
    return lower, upper


# --------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------


def _check_conf(conf_type: str, conf_level: float) -> None:
    if conf_type not in ("log-log", "plain"):
        raise InputError(
            f"unknown conf_type {conf_type!r} for a cumulative incidence",
            fix='use "log-log" (default) or "plain"',
        )
    if not 0.0 < float(conf_level) < 1.0:
        raise InputError(f"conf_level must be between 0 and 1, got {conf_level!r}")


def _prepare(
    time: ArrayLike, cause: ArrayLike, event: object, censored: object
) -> tuple[FloatArray, NDArray[np.int8], str, tuple[str, ...]]:
    """Check inputs; code causes as 0 censored, 1 cause of interest, 2 competing."""
    t = np.asarray(time, dtype=np.float64)
    c = np.asarray(cause)
    if t.ndim != 1 or c.ndim != 1 or t.shape != c.shape:
        raise InputError(
            f"time and cause must be 1-d arrays of one length, got {t.shape} and {c.shape}"
        )
    if not np.all(np.isfinite(t)):
        raise InputError(
            "survival times must be finite (no NaN or infinity)",
            fix="drop rows with a missing time before estimating",
        )
    if np.any(t < 0):
        raise InputError(
            "survival times must be >= 0", fix="check that no event date precedes its start date"
        )
    if bool(missing_mask(c, c.size).any()):
        raise InputError(
            "cause has missing values",
            fix=f"code censored patients as {censored!r} and drop rows with an unknown cause",
        )
    if _same(event, censored):
        raise InputError(
            f"the event of interest ({event!r}) is the censoring code",
            fix="pass the cause of interest as `event` and the censoring code as `censored`",
        )
    is_cens = _equals(c, censored)
    is_event = _equals(c, event)
    kind = np.full(t.size, COMPETING, dtype=np.int8)
    kind[is_cens] = CENSORED
    kind[is_event] = CAUSE
    competing_values = np.unique(c[kind == COMPETING])
    comp_labels = tuple(sorted({_code_label(v) for v in competing_values.tolist()}))
    return t + 0.0, kind, _code_label(event), comp_labels


def _code_label(value: object) -> str:
    # a cause read from a numeric column with NaN is float: label 2.0 as "2", as R prints it
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _same(a: object, b: object) -> bool:
    try:
        return bool(a == b)
    except Exception:  # pragma: no cover - exotic objects
        return False


def _equals(values: NDArray[Any], code: object) -> NDArray[np.bool_]:
    # numbers compare numerically (1 == 1.0), labels as strings
    if values.dtype.kind in "biuf" and isinstance(code, int | float | np.number):
        return np.asarray(values == code, dtype=bool)
    return np.asarray(values.astype(str) == str(code), dtype=bool)


def _tuple(a: FloatArray) -> tuple[float | None, ...]:
    return tuple(None if not math.isfinite(x) else x for x in a.tolist())


# --------------------------------------------------------------------------------------
# computation
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Table:
    """Counts per distinct time (rows) and group (columns)."""

    times: FloatArray  # distinct times, ascending
    n_obs: FloatArray  # (T, G) patients with exactly this time
    d1: FloatArray  # (T, G) events of the cause of interest
    d2: FloatArray  # (T, G) competing events
    n_risk: FloatArray  # (T, G) patients with time >= this time


def _tabulate(
    t: FloatArray,
    kind: NDArray[np.int8],
    g: IntArray,
    n_groups: int,
    freq: FloatArray | None = None,
) -> _Table:
    """One sort of the data, then counts by (time, group, kind) with one bincount.

    ``freq`` (patients per row, whole numbers) turns the counts into sums of it; sums of
    whole numbers are exact in float64, so the table equals the one of the expanded rows.
    """
    times, inv = np.unique(t, return_inverse=True)
    inv = inv.reshape(-1)
    n_t = times.size
    cell = (inv * n_groups + g) * 3 + kind
    counts: FloatArray = (
        np.bincount(cell, weights=freq, minlength=n_t * n_groups * 3)
        .reshape(n_t, n_groups, 3)
        .astype(np.float64)
    )
    n_obs = counts.sum(axis=2)
    n_risk = np.cumsum(n_obs[::-1], axis=0)[::-1]
    return _Table(times, n_obs, counts[:, :, CAUSE], counts[:, :, COMPETING], n_risk)


def _cif_curve(tab: _Table, g: int, conf_type: CifConfType, conf_level: float) -> CIFCurve:
    """Estimate and variance of one group as cmprsk's ``cinc``, by cumulative sums.

    ``cinc`` walks the group's distinct times keeping the all-cause KM just before the time
    (fk) and after it (fkn) and three running sums v1, v2, v3; the variance at a jump of
    the cause is v1 + F^2 v3 - 2 F v2. The running sums are cumulative sums of per-time
    terms, written here in cinc's order of operations. Times with only censorings change
    none of them (their KM factor is exactly 1), so only event times are kept.
    """
    n_obs = tab.n_obs[:, g]
    own = n_obs > 0
    risk_time = tab.times[own]
    risk_n = tab.n_risk[own, g].astype(np.int64)
    max_time = float(risk_time[-1])
    n_events_g = tab.d1[:, g] + tab.d2[:, g]
    rows = n_events_g > 0
    times = tab.times[rows]
    r = tab.n_risk[rows, g]
    d1 = tab.d1[rows, g]
    d2 = tab.d2[rows, g]
    nd = n_events_g[rows]
    fkn = np.cumprod((r - nd) / r)
    fk = np.concatenate(([1.0], fkn))[:-1]
    f = np.cumsum(fk * d1 / r)
    with np.errstate(divide="ignore", invalid="ignore"):
        t3 = np.where(fkn > 0, 1.0 / np.where(fkn > 0, fkn, 1.0), 0.0)
        # competing events: only while the all-cause KM stays above 0 (cinc's fkn > 0)
        t5 = np.where(d2 > 1, 1.0 - (d2 - 1.0) / (r - 1.0), 1.0)
        t6 = fk * fk * t5 * d2 / (r * r)
        t4 = f / np.where(fkn > 0, fkn, 1.0)
        comp = (d2 > 0) & (fkn > 0)
        a1 = np.where(comp, t4 * t4 * t6, 0.0)
        a2 = np.where(comp, t3 * t4 * t6, 0.0)
        a3 = np.where(comp, t3 * t3 * t6, 0.0)
        # events of the cause
        t5 = np.where(d1 > 1, 1.0 - (d1 - 1.0) / (r - 1.0), 1.0)
        t6 = fk * fk * t5 * d1 / (r * r)
        t4 = 1.0 + t3 * f
        own_cause = d1 > 0
        a1 = a1 + np.where(own_cause, t4 * t4 * t6, 0.0)
        a2 = a2 + np.where(own_cause, t3 * t4 * t6, 0.0)
        a3 = a3 + np.where(own_cause, t3 * t3 * t6, 0.0)
    v1, v2, v3 = np.cumsum(a1), np.cumsum(a2), np.cumsum(a3)
    var = v1 + f * f * v3 - 2.0 * f * v2
    jump = own_cause
    est_j, var_j = f[jump], var[jump]
    lower, upper = cif_confint(est_j, var_j, conf_type, conf_level)
    return CIFCurve(
        time=times[jump],
        estimate=est_j,
        variance=var_j,
        lower=lower,
        upper=upper,
        max_time=max_time,
        risk_time=risk_time,
        risk_n=risk_n,
        n=int(n_obs.sum()),
        events=int(d1.sum()),
        competing_events=int(d2.sum()),
        censored=int(n_obs.sum() - nd.sum()),
        conf_type=conf_type,
        conf_level=float(conf_level),
    )


def _gray_test(
    t: FloatArray,
    kind: NDArray[np.int8],
    g: IntArray,
    s: IntArray,
    n_groups: int,
    rho: float,
    stratified: bool,
    whole: _Table,
    freq: FloatArray | None = None,
) -> GrayTest:
    """Gray's statistic: scores and their variance summed over strata, as ``crstm``.

    ``whole`` is the table of all rows, reused when there is a single stratum.
    """
    k1 = n_groups - 1
    score = np.zeros(k1)
    var = np.zeros((k1, k1))
    strata_codes = np.unique(s).tolist()
    for stratum in strata_codes:
        if len(strata_codes) == 1:
            tab = whole
        else:
            rows = s == stratum
            tab = _tabulate(
                t[rows], kind[rows], g[rows], n_groups, None if freq is None else freq[rows]
            )
        sc, v = _crst(tab, rho)
        score += sc
        var += v
    df = k1
    rank = _qr_rank(var)
    if rank < k1:
        return GrayTest(
            None,
            df,
            None,
            float(rho),
            stratified,
            reason="the variance of the scores is singular (cuminc reports -1)",
        )
    stat = float(score @ np.linalg.solve(var, score))
    from scipy.special import chdtrc

    return GrayTest(stat, df, float(chdtrc(df, stat)), float(rho), stratified)


def _qr_rank(v: FloatArray) -> int:
    """Rank as R ``qr(v)$rank`` decides it (tolerance 1e-7 on the pivoted R diagonal)."""
    if v.size == 0:
        return 0
    if not np.all(np.isfinite(v)):
        return 0
    # R's dqrdc2 drops a column whose norm falls below tol times its original norm; for the
    # small symmetric matrices here the relative singular values give the same answer
    sv = np.linalg.svd(v, compute_uv=False)
    if sv[0] == 0:
        return 0
    return int(np.sum(sv > _QR_TOL * sv[0]))


def _crst(tab: _Table, rho: float) -> tuple[FloatArray, FloatArray]:
    """Scores and variance of one stratum (cmprsk ``crst``), vectorised over times.

    ``crst`` loops over distinct times; at each time with an event it updates per-group
    KM (left and right limits skmm/skm), per-group CIFs (f1m/f1), the pooled CIF (fm/f),
    the weights a, the running sums c, and the variance pieces v, v2, v3. Only times with
    an event change anything, so the arrays keep those rows. Within a time, c is updated
    before it is used, so cumulative sums including the current row are what crst uses.
    """
    event_rows = (tab.d1.sum(axis=1) + tab.d2.sum(axis=1)) > 0
    rs = tab.n_risk[event_rows]  # (T, G)
    d1 = tab.d1[event_rows]
    d2 = tab.d2[event_rows]
    n_t, n_g = rs.shape
    k1 = n_g - 1
    if n_t == 0:
        return np.zeros(k1), np.zeros((k1, k1))
    pos = rs > 0
    rs_safe = np.where(pos, rs, 1.0)
    td = d1 + d2
    skm = np.cumprod(np.where(pos, (rs - td) / rs_safe, 1.0), axis=0)
    skmm = np.vstack((np.ones((1, n_g)), skm[:-1]))
    f1 = np.cumsum(np.where(pos, skmm * d1 / rs_safe, 0.0), axis=0)
    f1m = np.vstack((np.zeros((1, n_g)), f1[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = np.where(pos, rs / skmm, 0.0)
        tr = t1.sum(axis=1)
        tq = np.where(pos, rs * (1.0 - f1m) / skmm, 0.0).sum(axis=1)
        nd1 = d1.sum(axis=1)
        f = np.cumsum(nd1 / tr)
        fm = np.concatenate(([0.0], f[:-1]))
        fb = (1.0 - fm) ** rho
        # scores of groups 1..G-1 (zero at times without an event of the cause)
        score = np.where(
            pos[:, :k1],
            fb[:, None]
            * (
                d1[:, :k1]
                - nd1[:, None] * rs[:, :k1] * (1.0 - f1m[:, :k1]) / (skmm[:, :k1] * tq[:, None])
            ),
            0.0,
        ).sum(axis=0)
        # events of the cause: groups with someone at risk at times with nd1 > 0
        use1 = pos & (nd1 > 0)[:, None]
        skm_safe = np.where(skm > 0, skm, 1.0)
        t4 = np.where(use1 & (skm > 0), 1.0 - (1.0 - f[:, None]) / skm_safe, 1.0)
        t4 = np.where(use1, t4, 0.0)
        t5 = np.where(
            nd1[:, None] > 1, 1.0 - (nd1[:, None] - 1.0) / (tr[:, None] * skmm - 1.0), 1.0
        )
        t3 = np.where(use1, t5 * skmm * nd1[:, None] / (tr[:, None] * rs_safe), 0.0)
        # competing events: groups with skm > 0 and a competing event at this time
        use2 = (skm > 0) & (d2 > 0)
        t4c = np.where(use2, (1.0 - f[:, None]) / skm_safe, 0.0)
        t5c = np.where(d2 > 1, 1.0 - (d2 - 1.0) / (rs - 1.0), 1.0)
        t3c = np.where(use2, t5c * (skmm * skmm) * d2 / (rs_safe * rs_safe), 0.0)
        w = t4c * t4c * t3c
        scale = nd1 / (tr * (1.0 - fm))
        # crst's weights a(i, k) = fb t1_i (delta_ik - t1_k / tr) (0 where either group has
        # nobody at risk) and their running sums c(i, k), for the rows i < G - 1 it uses
        a: dict[tuple[int, int], FloatArray] = {}
        c: dict[tuple[int, int], FloatArray] = {}
        for i in range(k1):
            for k in range(n_g):
                if i == k:
                    a_ik = fb * t1[:, i] * (1.0 - t1[:, i] / tr)
                else:
                    a_ik = -fb * t1[:, i] * t1[:, k] / tr
                a[i, k] = a_ik
                # 2.2-12 adds a(i, k) * scale only where a(i, k) != 0 (no 0 * inf)
                c[i, k] = np.cumsum(np.where(a_ik != 0, a_ik * scale, 0.0))
    v3 = (t4 * t4 * t3).sum(axis=0) + w.sum(axis=0)
    b = {key: a[key] - t4[:, key[1]] * c[key] for key in a}
    v2 = np.empty((k1, n_g))
    for i in range(k1):
        for k in range(n_g):
            v2[i, k] = b[i, k] @ (t4[:, k] * t3[:, k]) - c[i, k] @ w[:, k]
    v = np.empty((k1, k1))
    for i in range(k1):
        for j in range(i + 1):
            total = 0.0
            for k in range(n_g):
                total += (b[i, k] * t3[:, k]) @ b[j, k] + (c[i, k] * w[:, k]) @ c[j, k]
            v[i, j] = v[j, i] = total
    c_end = np.array([[c[i, k][-1] for k in range(n_g)] for i in range(k1)])  # (k1, G)
    v = v + (c_end * v3) @ c_end.T + c_end @ v2.T + v2 @ c_end.T
    return score, v
