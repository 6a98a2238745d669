"""Restricted mean survival time (RMST) per group and between two groups (survRM2).

Per group, the RMST up to tau and its standard error are :meth:`KaplanMeier.rmst
<mmrwe.stats.km.KaplanMeier.rmst>`, equal to R ``summary(survfit(...), rmean = tau)``
(``rmean``, ``se(rmean)``). survRM2's ``rmst1`` (1.0-4) computes the same area and the same
Greenwood plug-in variance, sum over times t_i <= tau of A_i^2 d_i / (n_i (n_i - d_i)),
A_i the area under the curve from t_i to tau (survival's ``survmean`` and survRM2's
``rmst1`` both read): with survival 3.5 the two agree to the last digit
(``tests/reference/r/rmst.R`` records both), so one variance serves the per-group numbers
and the contrasts, and every result states it.

Between two groups, the difference of RMSTs, the ratio of RMSTs and the ratio of restricted
mean times lost are survRM2 ``rmst2`` (unadjusted): Wald intervals on the difference and on
the log ratios, two-sided normal p-values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from mmrwe.core.conventions import SurvivalConventions
from mmrwe.core.errors import EstimationError, InputError
from mmrwe.stats._common import as_time_event, none_if_nan, z_value
from mmrwe.stats.km import factorize_groups, kaplan_meier

VARIANCE_METHOD = (
    "Greenwood plug-in: sum over t_i <= tau of A_i^2 d_i / (n_i (n_i - d_i)) "
    "(R survfit rmean se = survRM2 rmst1)"
)
CONTRAST_METHOD = (
    "survRM2 rmst2 (unadjusted): difference with Wald CI; ratios of RMST and RMTL with Wald CI "
    "on the log scale; two-sided normal p"
)


@dataclass(frozen=True, slots=True)
class GroupRMST:
    """RMST of one group up to tau, with its Wald interval (``rmst -+ z se``).

    ``rmtl`` is the restricted mean time lost, tau - rmst (same SE).
    """

    rmst: float
    se: float
    variance: float
    lower: float
    upper: float
    rmtl: float
    n: int
    events: int
    max_time: float

    def to_dict(self) -> dict[str, float | int | None]:
        """Return ``{"rmst", "se", "lower", "upper", "variance", "rmtl", "n", "events", "max_time"}``."""
        return {
            "rmst": none_if_nan(self.rmst),
            "se": none_if_nan(self.se),
            "lower": none_if_nan(self.lower),
            "upper": none_if_nan(self.upper),
            "variance": none_if_nan(self.variance),
            "rmtl": none_if_nan(self.rmtl),
            "n": int(self.n),
            "events": int(self.events),
            "max_time": float(self.max_time),
        }


@dataclass(frozen=True, slots=True)
class Contrast:
    """A between-group contrast with Wald CI and two-sided p.

    For a ratio, ``se`` is the SE of the log ratio and the limits are exp(log -+ z se).
    """

    estimate: float | None
    se: float | None
    lower: float | None
    upper: float | None
    p: float | None
    scale: str  # "difference" or "log ratio"

    def to_dict(self) -> dict[str, float | str | None]:
        """Return ``{"estimate", "se", "lower", "upper", "p", "se_scale"}``."""
        return {
            "estimate": none_if_nan(self.estimate),
            "se": none_if_nan(self.se),
            "lower": none_if_nan(self.lower),
            "upper": none_if_nan(self.upper),
            "p": none_if_nan(self.p),
            "se_scale": self.scale,
        }


@dataclass(frozen=True, slots=True)
class RMSTResult:
    """RMST per group up to ``tau`` and, with two groups, survRM2's contrasts.

    Attributes
    ----------
    tau : float
    tau_max : float
        The largest tau survRM2 accepts for these data (see :func:`rmst_compare`).
    groups : dict of str to GroupRMST
        Sorted levels (``"all"`` without a group).
    reference, comparator : str or None
        Contrasts are comparator - reference and comparator / reference (survRM2: arm 1
        versus arm 0); ``None`` unless there are exactly two groups.
    difference, ratio, rmtl_ratio : Contrast or None
        ``None`` unless exactly two groups (``contrast_reason`` says why).
    conf_level : float
    n, n_excluded_missing : int
    """

    tau: float
    tau_max: float
    groups: dict[str, GroupRMST]
    reference: str | None
    comparator: str | None
    difference: Contrast | None
    ratio: Contrast | None
    rmtl_ratio: Contrast | None
    contrast_reason: str | None
    conf_level: float
    n: int
    n_excluded_missing: int

    def to_dict(self, *, endpoint: str | None = None, by: str | None = None) -> dict[str, Any]:
        """Return the ``rmst[]`` entry of results.json (contract section 5.4).

        Parameters
        ----------
        endpoint, by : str, optional
            The spec's ``[[rmst]] endpoint`` and ``by`` (the stats layer does not know them).

        Returns
        -------
        dict
            ``endpoint``, ``tau``, ``by``, ``groups`` {level: {``rmst``, ``se``, ``lower``,
            ``upper``, ...}}, ``difference`` {``estimate``, ``se``, ``lower``, ``upper``,
            ``p``}, ``ratio`` {...}, ``rmtl_ratio`` {...}, ``reference``, ``comparator``,
            ``contrast_reason``, ``tau_max``, ``n``, ``n_excluded_missing``, ``conventions``.
        """
        return {
            "endpoint": endpoint,
            "tau": float(self.tau),
            "by": by,
            "groups": {k: v.to_dict() for k, v in self.groups.items()},
            "difference": None if self.difference is None else self.difference.to_dict(),
            "ratio": None if self.ratio is None else self.ratio.to_dict(),
            "rmtl_ratio": None if self.rmtl_ratio is None else self.rmtl_ratio.to_dict(),
            "reference": self.reference,
            "comparator": self.comparator,
            "contrast_reason": self.contrast_reason,
            "tau_max": float(self.tau_max),
            "n": int(self.n),
            "n_excluded_missing": int(self.n_excluded_missing),
            "conventions": {
                "variance": VARIANCE_METHOD,
                "ci": "Wald: rmst -+ z se",
                "contrasts": CONTRAST_METHOD,
                "tau_rule": "survRM2: tau <= the smallest last observed time among groups "
                "whose last observation is censored, and <= the largest last time overall",
                "conf_level": float(self.conf_level),
            },
        }


def rmst_tau_max(time: ArrayLike, is_event: ArrayLike, group: ArrayLike | None = None) -> float:
    """The largest truncation time survRM2 ``rmst2`` accepts for these data.

    Parameters
    ----------
    time, is_event : array_like
        As :func:`~mmrwe.stats.km.kaplan_meier`.
    group : array_like, optional
        Group per row (rows with a missing group are ignored).

    Returns
    -------
    float
        survRM2 1.0-4's rule (its cases 1-4), written for any number of groups: tau may not
        exceed the last observed time of a group whose last observation is censored (its
        curve is unknown beyond), nor the largest observed time overall. A group whose last
        observation is an event (all rows at its last time are events, so its curve has
        reached 0) imposes no other limit. With two groups this is exactly rmst2's check;
        when every group ends censored it is the minimum over groups of the largest observed
        time.
    """
    t, e = as_time_event(time, is_event)
    if group is None:
        codes = np.zeros(t.size, dtype=np.int64)
        n_groups = 1
    else:
        codes, labels, missing = factorize_groups(group, t.size)
        t, e, codes = t[~missing], e[~missing], codes[~missing]
        n_groups = len(labels)
    if t.size == 0:
        raise EstimationError("no patients: the RMST needs at least one")
    last: list[float] = []
    ends_with_event: list[bool] = []
    for k in range(n_groups):
        tk, ek = t[codes == k], e[codes == k]
        last.append(float(tk.max()))
        # survRM2: min(status[time == max(time)]) == 1 means the group ends with events only
        ends_with_event.append(bool(ek[tk == last[-1]].all()))
    return _tau_max(last, ends_with_event)


def _tau_max(last: list[float], ends_with_event: list[bool]) -> float:
    """survRM2's limit from each group's last observed time and whether it ends with events."""
    limit = max(last)
    censored_limit = min(
        (x for x, ev in zip(last, ends_with_event, strict=True) if not ev), default=math.inf
    )
    return min(limit, censored_limit)


def rmst_compare(
    time: ArrayLike,
    is_event: ArrayLike,
    group: ArrayLike | None = None,
    *,
    tau: float,
    reference: str | None = None,
    conf_level: float = 0.95,
) -> RMSTResult:
    """RMST per group up to ``tau`` and, for two groups, survRM2's difference and ratios.

    Parameters
    ----------
    time : array_like of float
        Follow-up times (any unit; ``tau`` in the same unit), finite and >= 0.
    is_event : array_like of bool
        True for an event.
    group : array_like, optional
        Group per row; rows with a missing group are dropped (counted in
        ``n_excluded_missing``). Without it, one group ``"all"``.
    tau : float
        Truncation time, > 0 and at most :func:`rmst_tau_max` of the data.
    reference : str, optional
        The group subtracted / in the denominator (survRM2's arm 0); default the first
        level in sorted order.
    conf_level : float
        Level of all intervals (survRM2's ``1 - alpha``).

    Returns
    -------
    RMSTResult

    Raises
    ------
    InputError
        Bad inputs, tau <= 0, an unknown reference level.
    EstimationError
        tau beyond the follow-up (the message gives the largest allowed tau), or no rows.

    Notes
    -----
    Per group: :meth:`KaplanMeier.rmst <mmrwe.stats.km.KaplanMeier.rmst>`, equal to
    R ``summary(survfit(Surv(time, status) ~ 1), rmean = tau)`` and to survRM2 ``rmst1``
    (identical formulas, verified to the last digit in the fixture). Between two groups
    (comparator C, reference R; survRM2 arm 1 and arm 0):

    * difference C - R, se = sqrt(var_C + var_R), Wald CI, p = 2 Phi(-|d| / se);
    * ratio C / R: log ratio with se = sqrt(var_C / rmst_C^2 + var_R / rmst_R^2), limits
      exp(log ratio -+ z se), p from the log ratio;
    * ratio of restricted mean times lost (tau - rmst), the same way.

    With more than two groups only the per-group values are given.

    Examples
    --------
    Two groups, no censoring; A: deaths at 1 and 3, B: deaths at 2 and 4, tau = 2.
    RMST_A = 1 * 1 + 1 * 0.5 = 1.5 and RMST_B = 2:

    >>> r = rmst_compare([1, 3, 2, 4], [1, 1, 1, 1], ["A", "A", "B", "B"], tau=2)
    >>> r.groups["A"].rmst, r.groups["B"].rmst, r.difference.estimate
    (1.5, 2.0, 0.5)
    """
    t, e = as_time_event(time, is_event)
    tau_f, _ = _check_tau(tau, conf_level)
    n_all = t.size
    if group is None:
        codes = np.zeros(n_all, dtype=np.int64)
        labels: tuple[str, ...] = ("all",)
        missing = np.zeros(n_all, dtype=bool)
    else:
        codes, labels, missing = factorize_groups(group, n_all)
    t, e, codes = t[~missing], e[~missing], codes[~missing]
    if t.size == 0:
        raise EstimationError("no patients left for the RMST", fix="check the group column")
    conv = SurvivalConventions(conf_level=conf_level)
    curves = {}
    for k, label in enumerate(labels):
        tk, ek = t[codes == k], e[codes == k]
        last = float(tk.max())
        curves[label] = _Arm(
            kaplan_meier(tk, ek, conventions=conv),
            int(tk.size),
            int(ek.sum()),
            last,
            bool(ek[tk == last].all()),
        )
    return _compare(curves, tau_f, reference, conf_level, int(t.size), int(missing.sum()))


def rmst_compare_from_counts(
    time: ArrayLike,
    n_event: ArrayLike,
    n_censor: ArrayLike,
    group: ArrayLike | None = None,
    *,
    tau: float,
    reference: str | None = None,
    conf_level: float = 0.95,
) -> RMSTResult:
    """:func:`rmst_compare` from events and censorings per (time, group) cell.

    Parameters
    ----------
    time : array_like of float, shape (k,)
        Distinct times (within a group; any order), finite and >= 0.
    n_event, n_censor : array_like of int, shape (k,)
        Events and censorings at each time (a ``GROUP BY group, time`` in a database).
    group : array_like, optional
        Group of each cell; cells with a missing group are dropped and their patients
        counted in ``n_excluded_missing``.
    tau, reference, conf_level :
        As :func:`rmst_compare`.

    Returns
    -------
    RMSTResult
        Equal to :func:`rmst_compare` on the patient rows the counts summarise: each
        group's curve is :func:`~mmrwe.stats.km.kaplan_meier_from_counts` (bit for bit the
        row curve), and survRM2's tau rule needs only each group's last time and whether
        every patient there had the event.

    Examples
    --------
    The example of :func:`rmst_compare` as counts:

    >>> r = rmst_compare_from_counts([1, 3, 2, 4], [1, 1, 1, 1], [0, 0, 0, 0],
    ...                              ["A", "A", "B", "B"], tau=2)
    >>> r.groups["A"].rmst, r.groups["B"].rmst, r.difference.estimate
    (1.5, 2.0, 0.5)
    """
    from mmrwe.stats.km import kaplan_meier_from_counts

    tau_f, _ = _check_tau(tau, conf_level)
    tt = np.asarray(time, dtype=np.float64)
    ev = np.asarray(n_event, dtype=np.float64)
    ce = np.asarray(n_censor, dtype=np.float64)
    if tt.ndim != 1 or ev.shape != tt.shape or ce.shape != tt.shape:
        raise InputError("time, n_event and n_censor must be 1-d arrays of one length")
    for name, a in (("n_event", ev), ("n_censor", ce)):
        if not np.all(np.isfinite(a)) or np.any(a < 0) or np.any(a != np.floor(a)):
            raise InputError(f"{name} must hold whole numbers >= 0")
    if group is None:
        codes = np.zeros(tt.size, dtype=np.int64)
        labels: tuple[str, ...] = ("all",)
        missing = np.zeros(tt.size, dtype=bool)
    else:
        codes, labels, missing = factorize_groups(group, tt.size)
    n_excluded = int((ev + ce)[missing].sum())
    conv = SurvivalConventions(conf_level=conf_level)
    curves = {}
    for k, label in enumerate(labels):
        rows = (codes == k) & ((ev + ce) > 0)
        if not rows.any():
            continue
        tk, ek, ck = tt[rows], ev[rows], ce[rows]
        j = int(np.argmax(tk))
        curves[label] = _Arm(
            kaplan_meier_from_counts(
                tk, ek.astype(np.int64), ck.astype(np.int64), conventions=conv
            ),
            int(ek.sum() + ck.sum()),
            int(ek.sum()),
            float(tk[j]),
            # survRM2's rule reads the rows at the last time: all of them events
            bool(ck[tk == tk[j]].sum() == 0),
        )
    if not curves:
        raise EstimationError("no patients left for the RMST", fix="check the group column")
    n = sum(a.n for a in curves.values())
    return _compare(curves, tau_f, reference, conf_level, n, n_excluded)


def _check_tau(tau: float, conf_level: float) -> tuple[float, float]:
    tau_f = float(tau)
    if not math.isfinite(tau_f) or tau_f <= 0:
        raise InputError(f"tau must be a positive number, got {tau!r}")
    if not 0.0 < conf_level < 1.0:
        raise InputError(f"conf_level must be between 0 and 1, got {conf_level!r}")
    return tau_f, float(conf_level)


@dataclass(frozen=True, slots=True)
class _Arm:
    """One group's Kaplan-Meier curve and what survRM2's tau rule reads from it."""

    km: Any
    n: int
    events: int
    last: float
    ends_with_event: bool


def _compare(
    curves: dict[str, _Arm],
    tau_f: float,
    reference: str | None,
    conf_level: float,
    n: int,
    n_excluded: int,
) -> RMSTResult:
    labels = tuple(curves)
    allowed = _tau_max([a.last for a in curves.values()],
                       [a.ends_with_event for a in curves.values()])  # fmt: skip
    if tau_f > allowed:
        raise EstimationError(
            f"tau = {tau_f:g} is beyond the follow-up: the largest allowed tau is {allowed:g}",
            fix=f"choose tau <= {allowed:g} (survRM2's rule: no group's curve may be unknown "
            "before tau, i.e. tau <= the last observed time of every group whose last "
            "observation is censored)",
        )
    groups: dict[str, GroupRMST] = {}
    for label, arm in curves.items():
        r = arm.km.rmst(tau_f)
        groups[label] = GroupRMST(
            rmst=r.estimate,
            se=r.std_err,
            variance=r.std_err**2,
            lower=r.lower,
            upper=r.upper,
            rmtl=tau_f - r.estimate,
            n=arm.n,
            events=arm.events,
            max_time=arm.last,
        )
    ref: str | None = None
    comp: str | None = None
    diff = ratio = rmtl_ratio = None
    reason: str | None = None
    if reference is not None and str(reference) not in labels:
        raise InputError(
            f"reference group {reference!r} is not among the groups {list(labels)}",
            fix="name one of the groups as the reference",
        )
    if len(labels) == 2:
        ref = str(reference) if reference is not None else labels[0]
        comp = labels[1] if ref == labels[0] else labels[0]
        diff, ratio, rmtl_ratio = _contrasts(groups[comp], groups[ref], z_value(conf_level))
    elif len(labels) == 1:
        reason = "one group: contrasts need two"
    else:
        reason = f"{len(labels)} groups: survRM2's contrasts compare exactly two"
    return RMSTResult(
        tau=tau_f,
        tau_max=allowed,
        groups=groups,
        reference=ref,
        comparator=comp,
        difference=diff,
        ratio=ratio,
        rmtl_ratio=rmtl_ratio,
        contrast_reason=reason,
        conf_level=float(conf_level),
        n=n,
        n_excluded_missing=n_excluded,
    )


def _contrasts(c: GroupRMST, r: GroupRMST, z: float) -> tuple[Contrast, Contrast, Contrast]:
    """survRM2 rmst2's three unadjusted contrasts of arm 1 (c) against arm 0 (r)."""
    from scipy.special import ndtr

    d = c.rmst - r.rmst
    d_se = math.sqrt(c.variance + r.variance)
    diff = Contrast(d, d_se, d - z * d_se, d + z * d_se, _p(d, d_se, ndtr), "difference")
    out = [diff]
    for a, b in ((c.rmst, r.rmst), (c.rmtl, r.rmtl)):
        if a > 0 and b > 0:
            lr = math.log(a) - math.log(b)
            se = math.sqrt(c.variance / a / a + r.variance / b / b)
            out.append(
                Contrast(
                    math.exp(lr),
                    se,
                    math.exp(lr - z * se),
                    math.exp(lr + z * se),
                    _p(lr, se, ndtr),
                    "log ratio",
                )
            )
        else:  # a zero RMST or RMTL (tau at a time nobody has lost) has no log ratio
            out.append(Contrast(None, None, None, None, None, "log ratio"))
    return out[0], out[1], out[2]


def _p(est: float, se: float, ndtr: Any) -> float | None:
    if not se > 0:
        return None
    return float(2.0 * ndtr(-abs(est) / se))
