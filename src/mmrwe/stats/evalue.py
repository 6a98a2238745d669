"""E-values for unmeasured confounding (VanderWeele & Ding, Ann Intern Med 2017).

The E-value is the minimum strength of association, on the risk-ratio scale, that an
unmeasured confounder would need with both the treatment and the outcome to move the
observed estimate (or its confidence limit) to the null, conditional on the measured
covariates.

Every formula transcribes the R package EValue 4.1.4 (``R/EValue.R``: ``evalues.RR``,
``evalues.OR``, ``evalues.HR``, ``threshold``; ``R/effect_measures.R``: ``toRR.OR``,
``toRR.HR``), so the numbers equal ``EValue::evalues.XX(est, lo, hi, rare =, true =)``:

* conversion to the risk-ratio scale: RR as is; OR with a rare outcome (< 15 %) as is, OR
  with a common outcome ``sqrt(OR)``; HR with a rare outcome as is, HR with a common outcome
  ``(1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))``. The null value ``true`` is converted alike.
* ``threshold(x, true)``: for ``x <= 1`` take ``1/x`` and ``1/true``; then
  ``(x + sqrt(x (x - true))) / true`` when ``true <= x`` (the usual case, ``true = 1``:
  ``x + sqrt(x (x - 1))``), otherwise ``r + sqrt(r (r - 1))`` with ``r = true / x``.
* the CI E-value is that of the limit closer to the null: the lower limit when the estimate
  is above ``true``, the upper one when below; it is 1 when the interval crosses ``true``.
  When the estimate equals ``true`` the point and CI E-values are both 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from mmrwe.core.errors import InputError
from mmrwe.stats._common import none_if_nan

Measure = Literal["RR", "OR", "HR"]
_MEASURES: tuple[str, ...] = ("RR", "OR", "HR")


@dataclass(frozen=True, slots=True)
class EValue:
    """E-values of a ratio estimate and of its confidence interval.

    Attributes
    ----------
    measure : {"RR", "OR", "HR"}
        Scale of the estimate given.
    estimate, lower, upper : float or None
        The estimate and its confidence limits as given (``None``: not given).
    rare : bool or None
        Rare-outcome assumption used to convert an OR or HR (``None`` for an RR).
    true : float
        The null value on the measure's own scale (1 unless a non-null E-value is asked).
    rr_estimate, rr_lower, rr_upper : float or None
        The same on the risk-ratio scale (EValue's ``toRR``).
    point : float
        E-value of the estimate.
    ci : float or None
        E-value of the confidence limit closer to the null; 1 when the interval crosses
        the null; ``None`` when the limit on that side was not given (R: NA).
    ci_crosses_null : bool or None
        Whether the interval contains ``true`` (``None`` without the relevant limit).
    """

    measure: Measure
    estimate: float
    lower: float | None
    upper: float | None
    rare: bool | None
    true: float
    rr_estimate: float
    rr_lower: float | None
    rr_upper: float | None
    point: float
    ci: float | None
    ci_crosses_null: bool | None

    def to_dict(self) -> dict[str, Any]:
        """``{"point", "ci"}`` (contract ``iptw[].evalue``) plus the inputs and conversions."""
        return {
            "point": none_if_nan(self.point),
            "ci": none_if_nan(self.ci),
            "measure": self.measure,
            "estimate": none_if_nan(self.estimate),
            "lower": none_if_nan(self.lower),
            "upper": none_if_nan(self.upper),
            "rare": self.rare,
            "true": self.true,
            "rr": {
                "estimate": none_if_nan(self.rr_estimate),
                "lower": none_if_nan(self.rr_lower),
                "upper": none_if_nan(self.rr_upper),
            },
            "ci_crosses_null": self.ci_crosses_null,
            "method": "VanderWeele-Ding 2017 (R EValue 4.1.4)",
        }


def to_risk_ratio(value: float, measure: Measure, rare: bool | None = None) -> float:
    """Convert an OR or HR to the risk-ratio scale as EValue's ``toRR``.

    Parameters
    ----------
    value : float
        The ratio (> 0).
    measure : {"RR", "OR", "HR"}
    rare : bool, optional
        Required for OR and HR: whether the outcome is rare (< 15 % at the end of follow-up).

    Returns
    -------
    float
        RR: ``value``; rare OR/HR: ``value``; common OR: ``sqrt(value)``; common HR:
        ``(1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))``.
    """
    if measure == "RR" or rare:
        return float(value)
    if measure == "OR":
        return math.sqrt(value)
    return (1.0 - 0.5 ** math.sqrt(value)) / (1.0 - 0.5 ** math.sqrt(1.0 / value))


def _threshold(x: float, true: float) -> float:
    # EValue's threshold(): the E-value of one risk ratio against the null value `true`
    if x <= 1.0:
        x = 1.0 / x
        true = 1.0 / true
    if true <= x:
        return (x + math.sqrt(x * (x - true))) / true
    rat = true / x
    return rat + math.sqrt(rat * (rat - 1.0))


def _check_positive(name: str, v: float | None) -> float | None:
    if v is None:
        return None
    f = float(v)
    if not math.isfinite(f) or f <= 0.0:
        raise InputError(
            f"{name} must be a finite ratio > 0, got {v!r}",
            fix="give the ratio itself (for example exp(coef)), not its logarithm",
        )
    return f


def evalue(
    estimate: float,
    lower: float | None = None,
    upper: float | None = None,
    *,
    measure: Measure = "RR",
    rare: bool | None = None,
    true: float = 1.0,
) -> EValue:
    """E-values of a risk ratio, odds ratio or hazard ratio and of its confidence limit.

    Parameters
    ----------
    estimate : float
        The ratio (> 0).
    lower, upper : float, optional
        Its confidence limits (either or both).
    measure : {"RR", "OR", "HR"}
        Scale of ``estimate``.
    rare : bool, optional
        Required for ``"OR"`` and ``"HR"``: True if the outcome is rare (< 15 %) at the end
        of follow-up, so the ratio approximates a risk ratio; False for a common outcome
        (OR -> sqrt(OR); HR -> (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))).
    true : float
        Null value on the scale of ``measure`` (1 = no effect; another value gives
        EValue's "non-null" E-value).

    Returns
    -------
    EValue

    Raises
    ------
    InputError
        A ratio <= 0, limits in the wrong order, an estimate outside its interval, an
        unknown measure, or ``rare`` missing for an OR or HR (EValue stops likewise).

    Notes
    -----
    Equals R ``EValue::evalues.RR`` / ``evalues.OR`` / ``evalues.HR`` (version 4.1.4):
    row "E-values", column "point", and the non-NA one of "lower"/"upper".

    Examples
    --------
    VanderWeele & Ding's example, RR 3.9 (1.8 to 8.7): 3.9 + sqrt(3.9 * 2.9) = 7.26 and
    1.8 + sqrt(1.8 * 0.8) = 3.0.

    >>> e = evalue(3.9, 1.8, 8.7)
    >>> round(e.point, 4), round(e.ci, 4)
    (7.263, 3.0)
    """
    if measure not in _MEASURES:
        raise InputError(f"unknown effect measure {measure!r}", fix="use 'RR', 'OR' or 'HR'")
    if measure != "RR" and rare is None:
        raise InputError(
            f"an E-value for an {measure} needs to know whether the outcome is rare",
            fix="pass rare=True if the outcome occurs in < 15% by the end of follow-up, "
            "otherwise rare=False",
        )
    est = _check_positive("the estimate", estimate)
    lo = _check_positive("the lower limit", lower)
    hi = _check_positive("the upper limit", upper)
    t0 = _check_positive("the null value `true`", true)
    assert est is not None
    assert t0 is not None
    if lo is not None and hi is not None and lo > hi:
        raise InputError(f"the lower limit {lo} is above the upper limit {hi}")
    if (lo is not None and est < lo) or (hi is not None and est > hi):
        raise InputError(f"the estimate {est} lies outside its confidence interval")
    rare_used = None if measure == "RR" else bool(rare)

    rr = to_risk_ratio(est, measure, rare_used)
    rr_lo = None if lo is None else to_risk_ratio(lo, measure, rare_used)
    rr_hi = None if hi is None else to_risk_ratio(hi, measure, rare_used)
    rr_true = to_risk_ratio(t0, measure, rare_used)

    crosses: bool | None = None
    if rr > rr_true and rr_lo is not None:
        crosses = rr_lo < rr_true
    if rr < rr_true and rr_hi is not None:
        crosses = rr_hi > rr_true

    point = _threshold(rr, rr_true)
    ci: float | None
    if rr_lo is None and rr_hi is None:
        ci = None
    elif rr == rr_true:
        # EValue sets the lower E-value to 1 and the upper to NA
        ci = 1.0
        crosses = True
    elif crosses:
        ci = 1.0
    elif rr > rr_true:
        ci = None if rr_lo is None else _threshold(rr_lo, rr_true)
    else:
        ci = None if rr_hi is None else _threshold(rr_hi, rr_true)

    return EValue(
        measure=measure,
        estimate=est,
        lower=lo,
        upper=hi,
        rare=rare_used,
        true=t0,
        rr_estimate=rr,
        rr_lower=rr_lo,
        rr_upper=rr_hi,
        point=point,
        ci=ci,
        ci_crosses_null=crosses,
    )
