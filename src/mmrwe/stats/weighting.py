"""Propensity scores, inverse-probability-of-treatment weights and covariate balance.

The propensity score is R ``glm(treated ~ covariates, family = binomial)``
(:func:`mmrwe.stats.logistic.logistic_fit`, a transcription of ``glm.fit``). Weights follow
WeightIt (``R/functions_for_processing.R``, ``.get_w_from_ps_internal_bin`` and
``stabilize_w``, read in github.com/ngreifer/WeightIt):

========  =========================  =====================
estimand  treated                    control
========  =========================  =====================
ATE       1 / ps                     1 / (1 - ps)
ATT       1                          ps / (1 - ps)
ATO       1 - ps                     ps
========  =========================  =====================

``stabilize=True`` (ATE only, as ``weightit(stabilize = TRUE)``) multiplies each weight by
the marginal proportion of the unit's own treatment group.

Balance statistics transcribe cobalt (github.com/ngreifer/cobalt, ``R/balance-summary.R``
``col_w_smd``, ``col_w_vr``, ``R/utils.R`` ``col.w.m``, ``col.w.v``,
``R/functions_for_processing.R`` ``.compute_s.d.denom`` and ``.s.d.denom_from_estimand``):

* weighted mean ``sum(w x) / sum(w)``; weighted variance of a continuous covariate
  ``sum(w (x - m)^2) / (1 - sum(w^2))`` with ``w`` normalised to sum 1 (the usual ``n - 1``
  variance when unweighted); variance of a binary covariate ``p (1 - p)``, no ``n - 1``.
* SMD = (weighted mean treated - weighted mean control) / denominator, with the same
  denominator before and after weighting, chosen by the estimand as cobalt does by
  default: ATE ``sqrt((var_treated + var_control) / 2)`` of the unweighted groups
  ("pooled"); ATT the unweighted treated SD ("treated"); ATO the SD of the whole sample
  weighted by the overlap weights ("weighted"). A difference smaller than
  ``sqrt(.Machine$double.eps)`` is left unstandardised (cobalt's ``check_if_zero``).
* binary covariates are standardised too, with ``sqrt(p (1 - p))`` variances (cobalt's
  ``col_w_smd(std = TRUE)``; note that ``bal.tab`` *prints* raw differences for binary
  covariates by default: ``diff_before`` / ``diff_after`` hold those).
* variance ratio treated / control of weighted variances, continuous covariates only
  (``None`` for binary ones, as cobalt).

A numeric covariate with exactly two distinct values is binary (cobalt's ``is_binary``):
coded 1 for its second value in sorted order (0/1 variables keep their coding) and shown as
one row; a categorical (string) covariate gives one binary row per level
(``variable=level``), two-level ones included (cobalt shows one of the two; their SMDs
differ only in sign).

Trimming (optional) removes units from the weighted sample (weight 0); the propensity model
is not refitted. Two rules:

* ``trim_bounds=(a, b)``: keep ``a <= ps <= b`` (Crump et al. 2009 used (0.1, 0.9)).
* ``trim_quantile=q``: asymmetric trimming of Stürmer et al. (Am J Epidemiol 2010): keep
  ``ps >= Q_treated(q)`` and ``ps <= Q_control(1 - q)``, quantiles of the propensity score
  among the treated and the controls (R ``quantile`` type 7).

Warnings (in ``IptwResult.warnings``): any ``|SMD after| > smd_threshold`` (0.1); any
propensity score outside ``ps_bounds`` ([0.025, 0.975]) among the analysed units
(positivity); a group whose effective sample size is below ``min_ess_fraction`` (25 %) of
its number of analysed units.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mmrwe.core.errors import InputError, MmrweWarning
from mmrwe.stats._common import none_if_nan, read_only
from mmrwe.stats.km import factorize_groups, missing_mask

Estimand = Literal["ATE", "ATT", "ATO"]
_ESTIMANDS: tuple[str, ...] = ("ATE", "ATT", "ATO")
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

_DBL_EPS = float(np.finfo(float).eps)
# R's C_logit_linkinv clamps |eta| > -log(DBL_EPSILON), as glm's fitted values
_THRESH = -math.log(_DBL_EPS)
# cobalt's check_if_zero: the all.equal tolerance
_ZERO_TOL = math.sqrt(_DBL_EPS)
SD_DENOMINATOR = {"ATE": "pooled", "ATT": "treated", "ATO": "weighted"}


# --------------------------------------------------------------------------------------
# covariates -> design columns
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Column:
    name: str  # "age", "sex=M"
    variable: str
    level: str | None
    binary: bool
    values: FloatArray


def _is_numeric(a: NDArray[Any], miss: BoolArray) -> bool:
    if a.dtype.kind in "fiub":
        return True
    if a.dtype.kind != "O":
        return False
    vals = a[~miss].tolist()
    return all(isinstance(v, int | float | np.integer | np.floating) for v in vals)


def _columns(
    name: str, values: ArrayLike, n: int, reference: str | None
) -> tuple[list[_Column], list[_Column]]:
    """(model columns for the PS, balance columns) of one covariate."""
    a = np.asarray(values)
    if a.ndim != 1 or a.shape[0] != n:
        raise InputError(f"covariate {name!r} must be a 1-d array of length {n}, got {a.shape}")
    miss = missing_mask(a, n)
    if miss.any():
        raise InputError(
            f"covariate {name!r} has {int(miss.sum())} missing value(s)",
            fix="impute them (mmrwe.stats.imputation.mice) or drop those rows first",
        )
    if _is_numeric(a, miss):
        x = a.astype(np.float64)
        if not np.all(np.isfinite(x)):
            raise InputError(f"covariate {name!r} has infinite values")
        uniq = np.unique(x)
        if uniq.size == 2 and not (uniq[0] == 0.0 and uniq[1] == 1.0):
            # cobalt turns a two-valued numeric into a factor: one indicator of its second level
            codes, labels, _ = factorize_groups(x, n)
            col = _Column(f"{name}={labels[1]}", name, labels[1], True, (codes == 1) * 1.0)
            return [col], [col]
        col = _Column(name, name, None, uniq.size == 2, x)
        return [col], [col]
    codes, labels, _ = factorize_groups(a, n)
    if len(labels) < 2:
        raise InputError(
            f"covariate {name!r} has a single level ({labels[0] if labels else 'none'})",
            fix="drop it from the covariates",
        )
    ref = labels[0] if reference is None else str(reference)
    if ref not in labels:
        raise InputError(f"reference level {ref!r} of {name!r} not among its levels {labels}")
    dummies = [
        _Column(f"{name}={lab}", name, lab, True, (codes == k) * 1.0)
        for k, lab in enumerate(labels)
    ]
    model = [c for c in dummies if c.level != ref]
    return model, dummies


def _design(
    covariates: Mapping[str, ArrayLike], n: int, reference: Mapping[str, str] | None
) -> tuple[list[_Column], list[_Column]]:
    if not covariates:
        raise InputError("no covariates given", fix="name at least one covariate")
    model: list[_Column] = []
    balance: list[_Column] = []
    for name, values in covariates.items():
        m, b = _columns(str(name), values, n, (reference or {}).get(name))
        model.extend(m)
        balance.extend(b)
    return model, balance


def _treatment(treatment: ArrayLike, treated: str | None = None) -> tuple[BoolArray, str, str]:
    a = np.asarray(treatment)
    if a.ndim != 1:
        raise InputError(f"treatment must be a 1-d array, got shape {a.shape}")
    n = a.shape[0]
    codes, labels, miss = factorize_groups(a, n)
    if miss.any():
        raise InputError(
            f"treatment has {int(miss.sum())} missing value(s)",
            fix="drop the rows whose treatment is unknown",
        )
    if len(labels) != 2:
        raise InputError(
            f"treatment must have exactly two levels, found {len(labels)}: {labels}",
            fix="recode the treatment as binary (the second level in sorted order is 'treated')",
        )
    if treated is None:
        return codes == 1, labels[1], labels[0]
    if str(treated) not in labels:
        raise InputError(
            f"treated level {treated!r} is not a level of the treatment {labels}",
            fix=f"use one of: {', '.join(labels)}",
        )
    k = labels.index(str(treated))
    return codes == k, labels[k], labels[1 - k]


# --------------------------------------------------------------------------------------
# propensity score
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PropensityModel:
    """A logistic propensity-score model, R ``glm(treated ~ ..., family = binomial)``.

    Attributes
    ----------
    names : tuple of str
        ``"(Intercept)"`` then the model columns (factor dummies ``variable=level`` vs the
        reference level).
    coef, se : ndarray
        Log-odds coefficients and model-based standard errors (``summary.glm``).
    ps : ndarray
        Fitted probability of treatment per unit (``fitted(fit)``), read-only.
    treated, control : str
        Labels of the treated level (second in sorted order) and the control level.
    n, n_treated : int
    converged, separation : bool
        From the IRLS fit; separation means some scores are numerically 0 or 1.
    warnings : tuple of str
    """

    names: tuple[str, ...]
    coef: FloatArray
    se: FloatArray
    ps: FloatArray
    treated: str
    control: str
    n: int
    n_treated: int
    converged: bool
    separation: bool
    warnings: tuple[str, ...]

    def __post_init__(self) -> None:
        for name in ("coef", "se", "ps"):
            object.__setattr__(self, name, read_only(getattr(self, name), dtype=np.float64))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: coefficients {name: {coef, se}}, levels, counts, flags."""
        return {
            "method": "logistic regression (R glm, binomial, logit link)",
            "coefficients": {
                nm: {"coef": none_if_nan(c), "se": none_if_nan(s)}
                for nm, c, s in zip(self.names, self.coef.tolist(), self.se.tolist(), strict=True)
            },
            "treated": self.treated,
            "control": self.control,
            "n": self.n,
            "n_treated": self.n_treated,
            "ps_min": none_if_nan(float(self.ps.min())),
            "ps_max": none_if_nan(float(self.ps.max())),
            "converged": self.converged,
            "separation": self.separation,
            "warnings": list(self.warnings),
        }


def _expit(eta: FloatArray) -> FloatArray:
    # binomial()$linkinv: exp(eta) / (1 + exp(eta)) with eta clamped at +-log(1/DBL_EPSILON)
    tmp = np.exp(np.clip(eta, -_THRESH, _THRESH))
    tmp = np.where(eta < -_THRESH, _DBL_EPS, np.where(eta > _THRESH, 1.0 / _DBL_EPS, tmp))
    out: FloatArray = tmp / (1.0 + tmp)
    return out


def _fit_ps(
    treated: BoolArray, cols: Sequence[_Column], treated_label: str, control: str
) -> PropensityModel:
    from mmrwe.stats.logistic import logistic_fit

    x = np.column_stack([c.values for c in cols])
    # Wald: the score needs no profile intervals; SeparationWarning reaches the caller
    fit = logistic_fit(treated.astype(np.float64), x, names=[c.name for c in cols], ci="wald")
    eta = np.column_stack([np.ones(len(treated)), x]) @ fit.coef
    return PropensityModel(
        names=fit.names,
        coef=fit.coef,
        se=fit.se,
        ps=_expit(eta),
        treated=treated_label,
        control=control,
        n=fit.n,
        n_treated=fit.events,
        converged=fit.converged,
        separation=fit.separation,
        warnings=fit.warnings,
    )


def propensity_score(
    treatment: ArrayLike,
    covariates: Mapping[str, ArrayLike],
    *,
    reference: Mapping[str, str] | None = None,
) -> PropensityModel:
    """Fit the propensity score by logistic regression, as R ``glm(family = binomial)``.

    Parameters
    ----------
    treatment : array_like, shape (n,)
        Two levels (bool, 0/1 or labels); the second in sorted order is "treated"
        (contract 5.3: ``True``, ``1``, ``"yes"`` over ``"no"``).
    covariates : mapping of str to array_like
        One array per covariate. Numeric arrays enter linearly; a numeric covariate with
        two values other than 0/1 enters as the indicator of its larger value; strings or
        objects are categorical and enter as dummies vs the reference level.
    reference : mapping of str to str, optional
        Reference level per categorical covariate (default: the first in sorted order).

    Returns
    -------
    PropensityModel

    Raises
    ------
    InputError
        Missing values, a treatment that is not binary, a single-level factor.
    EstimationError
        Collinear covariates or too few patients (from ``logistic_fit``).
    """
    treated, t_lab, c_lab = _treatment(treatment)
    model, _ = _design(covariates, treated.size, reference)
    return _fit_ps(treated, model, t_lab, c_lab)


# --------------------------------------------------------------------------------------
# weights
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WeightSummary:
    """Sum, range and Kish effective sample size ``(sum w)^2 / sum w^2`` of a set of weights."""

    n: int
    sum: float
    min: float | None
    max: float | None
    ess: float | None

    def to_dict(self) -> dict[str, Any]:
        """``{"n", "sum", "min", "max", "ess"}``."""
        return {
            "n": self.n,
            "sum": none_if_nan(self.sum),
            "min": none_if_nan(self.min),
            "max": none_if_nan(self.max),
            "ess": none_if_nan(self.ess),
        }


def effective_sample_size(weights: ArrayLike) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2`` (cobalt / WeightIt ``ESS``).

    Examples
    --------
    >>> effective_sample_size([1, 1, 1, 1])
    4.0
    >>> effective_sample_size([1, 1, 2])   # 16 / 6
    2.6666666666666665
    """
    w = np.asarray(weights, dtype=np.float64)
    s2 = float(np.sum(w * w))
    if s2 == 0.0:
        return math.nan
    return float(np.sum(w)) ** 2 / s2


def _summary(w: FloatArray) -> WeightSummary:
    if w.size == 0:
        return WeightSummary(0, 0.0, None, None, None)
    return WeightSummary(
        int(w.size), float(w.sum()), float(w.min()), float(w.max()), effective_sample_size(w)
    )


@dataclass(frozen=True, slots=True)
class Weights:
    """Balancing weights from propensity scores.

    Attributes
    ----------
    weights : ndarray
        One weight per unit; 0 for trimmed units. Read-only.
    treated : ndarray of bool
    ps : ndarray
    estimand : {"ATE", "ATT", "ATO"}
    stabilized : bool
    trim_rule : str or None
        ``"bounds"`` or ``"quantile"``; ``trim_limits`` are the propensity-score limits
        applied (both inclusive).
    trimmed : ndarray of bool
        Units removed by trimming.
    overall, treated_summary, control_summary : WeightSummary
        Over the analysed (untrimmed) units.
    """

    weights: FloatArray
    treated: BoolArray
    ps: FloatArray
    estimand: Estimand
    stabilized: bool
    trim_rule: str | None
    trim_limits: tuple[float, float] | None
    trimmed: BoolArray
    overall: WeightSummary
    treated_summary: WeightSummary
    control_summary: WeightSummary

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", read_only(self.weights, dtype=np.float64))
        object.__setattr__(self, "treated", read_only(self.treated, dtype=np.bool_))
        object.__setattr__(self, "ps", read_only(self.ps, dtype=np.float64))
        object.__setattr__(self, "trimmed", read_only(self.trimmed, dtype=np.bool_))

    def to_dict(self) -> dict[str, Any]:
        """Contract ``iptw[].weights`` ``{sum, min, max, ess}`` (analysed units) plus
        ``treated`` / ``control`` summaries, the estimand and the trimming applied."""
        out: dict[str, Any] = {
            k: v for k, v in self.overall.to_dict().items() if k in ("sum", "min", "max", "ess")
        }
        out.update(
            {
                "n": self.overall.n,
                "treated": self.treated_summary.to_dict(),
                "control": self.control_summary.to_dict(),
                "estimand": self.estimand,
                "stabilized": self.stabilized,
                "trim": {
                    "rule": self.trim_rule,
                    "lower": None if self.trim_limits is None else self.trim_limits[0],
                    "upper": None if self.trim_limits is None else self.trim_limits[1],
                    "n_trimmed": int(self.trimmed.sum()),
                    "n_trimmed_treated": int((self.trimmed & self.treated).sum()),
                    "n_trimmed_control": int((self.trimmed & ~self.treated).sum()),
                },
            }
        )
        return out


def _check_estimand(estimand: str) -> Estimand:
    if estimand not in _ESTIMANDS:
        raise InputError(f"unknown estimand {estimand!r}", fix="use 'ATE', 'ATT' or 'ATO'")
    return estimand  # type: ignore[return-value]


def _trim(
    ps: FloatArray,
    treated: BoolArray,
    bounds: tuple[float, float] | None,
    quantile: float | None,
) -> tuple[BoolArray, str | None, tuple[float, float] | None]:
    if bounds is not None and quantile is not None:
        raise InputError(
            "give either trim_bounds or trim_quantile, not both",
            fix="choose one trimming rule",
        )
    if bounds is not None:
        lo, hi = float(bounds[0]), float(bounds[1])
        if not (0.0 <= lo < hi <= 1.0):
            raise InputError(f"trim_bounds must satisfy 0 <= lower < upper <= 1, got {bounds}")
        return (ps < lo) | (ps > hi), "bounds", (lo, hi)
    if quantile is not None:
        q = float(quantile)
        if not (0.0 <= q < 0.5):
            raise InputError(f"trim_quantile must be in [0, 0.5), got {quantile}")
        lo = float(np.quantile(ps[treated], q))  # numpy "linear" = R type 7
        hi = float(np.quantile(ps[~treated], 1.0 - q))
        return (ps < lo) | (ps > hi), "quantile", (lo, hi)
    return np.zeros(ps.size, dtype=bool), None, None


def ipt_weights(
    treated: ArrayLike,
    ps: ArrayLike,
    *,
    estimand: Estimand = "ATE",
    stabilize: bool = False,
    trim_bounds: tuple[float, float] | None = None,
    trim_quantile: float | None = None,
) -> Weights:
    """Balancing weights from propensity scores, as WeightIt's ``get_w_from_ps``.

    Parameters
    ----------
    treated : array_like of bool, shape (n,)
        True for the treated units.
    ps : array_like of float, shape (n,)
        Propensity scores, strictly between 0 and 1.
    estimand : {"ATE", "ATT", "ATO"}
        ATE: treated 1/ps, control 1/(1 - ps); ATT: treated 1, control ps/(1 - ps);
        ATO (overlap): treated 1 - ps, control ps.
    stabilize : bool
        ATE only: multiply each weight by the proportion of its treatment group among the
        analysed units (WeightIt ``stabilize = TRUE``).
    trim_bounds : (float, float), optional
        Keep units with ``lower <= ps <= upper``.
    trim_quantile : float, optional
        Stürmer's asymmetric trimming: keep ``ps >= q``-quantile among the treated and
        ``ps <= (1 - q)``-quantile among the controls (type-7 quantiles).

    Returns
    -------
    Weights
        Trimmed units get weight 0.
    """
    est = _check_estimand(estimand)
    t = np.asarray(treated)
    if t.dtype != np.bool_:
        t = np.asarray(t, dtype=np.float64)
        if not np.all(np.isin(t, (0.0, 1.0))):
            raise InputError("treated must be boolean or 0/1")
        t = t.astype(bool)
    p = np.asarray(ps, dtype=np.float64)
    if p.shape != t.shape or p.ndim != 1:
        raise InputError(f"treated and ps must be 1-d of one length, got {t.shape}, {p.shape}")
    if not np.all((p > 0.0) & (p < 1.0)):
        raise InputError(
            "propensity scores must lie strictly between 0 and 1",
            fix="scores of exactly 0 or 1 mean complete separation: drop or coarsen the "
            "covariate that predicts treatment perfectly, or trim",
        )
    if t.all() or not t.any():
        raise InputError("both treatment groups must have at least one unit")
    if stabilize and est != "ATE":
        raise InputError(
            f"stabilization is defined for the ATE only, not the {est}",
            fix="drop stabilize or use estimand 'ATE' (as WeightIt)",
        )
    trimmed, rule, limits = _trim(p, t, trim_bounds, trim_quantile)
    keep = ~trimmed
    if not (keep & t).any() or not (keep & ~t).any():
        raise InputError(
            "trimming removed every unit of a treatment group",
            fix="use milder trimming limits",
        )
    if est == "ATE":
        w = np.where(t, 1.0 / p, 1.0 / (1.0 - p))
    elif est == "ATT":
        w = np.where(t, 1.0, p / (1.0 - p))
    else:
        w = np.where(t, 1.0 - p, p)
    if stabilize:
        p_treated = float((t & keep).sum()) / float(keep.sum())
        w = w * np.where(t, p_treated, 1.0 - p_treated)
    w = np.where(keep, w, 0.0)
    return Weights(
        weights=w,
        treated=t,
        ps=p,
        estimand=est,
        stabilized=bool(stabilize),
        trim_rule=rule,
        trim_limits=limits,
        trimmed=trimmed,
        overall=_summary(w[keep]),
        treated_summary=_summary(w[keep & t]),
        control_summary=_summary(w[keep & ~t]),
    )


# --------------------------------------------------------------------------------------
# balance
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BalanceRow:
    """Balance of one covariate column before and after weighting (cobalt conventions)."""

    covariate: str
    variable: str
    level: str | None
    binary: bool
    mean_treated_before: float
    mean_control_before: float
    mean_treated_after: float
    mean_control_after: float
    diff_before: float
    diff_after: float
    sd_denominator: float
    smd_before: float | None
    smd_after: float | None
    var_ratio_before: float | None
    var_ratio_after: float | None

    def to_dict(self) -> dict[str, Any]:
        """``{"smd_before", "smd_after"}`` (contract) plus means, raw differences, variance
        ratios, the SD used and the covariate type."""
        return {
            "smd_before": none_if_nan(self.smd_before),
            "smd_after": none_if_nan(self.smd_after),
            "variable": self.variable,
            "level": self.level,
            "type": "binary" if self.binary else "continuous",
            "mean_treated_before": none_if_nan(self.mean_treated_before),
            "mean_control_before": none_if_nan(self.mean_control_before),
            "mean_treated_after": none_if_nan(self.mean_treated_after),
            "mean_control_after": none_if_nan(self.mean_control_after),
            "diff_before": none_if_nan(self.diff_before),
            "diff_after": none_if_nan(self.diff_after),
            "sd_denominator": none_if_nan(self.sd_denominator),
            "var_ratio_before": none_if_nan(self.var_ratio_before),
            "var_ratio_after": none_if_nan(self.var_ratio_after),
        }


@dataclass(frozen=True, slots=True)
class BalanceTable:
    """Covariate balance before and after weighting.

    Attributes
    ----------
    rows : tuple of BalanceRow
        One per numeric covariate, two-valued numeric covariate, or level of a categorical
        covariate.
    estimand : str
    sd_denominator : {"pooled", "treated", "weighted"}
        cobalt's ``s.d.denom`` for the estimand.
    """

    rows: tuple[BalanceRow, ...]
    estimand: Estimand
    sd_denominator: str

    def row(self, covariate: str) -> BalanceRow:
        """The row of one covariate column (``"age"``, ``"size=>50"``)."""
        for r in self.rows:
            if r.covariate == covariate:
                return r
        raise KeyError(f"no balance row {covariate!r}; have {[r.covariate for r in self.rows]}")

    def max_abs_smd_after(self) -> float | None:
        """Largest ``|SMD|`` after weighting (``None`` if none is estimable)."""
        vals = [abs(r.smd_after) for r in self.rows if r.smd_after is not None]
        return max(vals) if vals else None

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """``{covariate: {smd_before, smd_after, ...}}`` (contract ``iptw[].balance``)."""
        return {r.covariate: r.to_dict() for r in self.rows}


def _w_mean(x: FloatArray, w: FloatArray) -> FloatArray:
    # cobalt col.w.m
    out: FloatArray = (w @ x) / w.sum()
    return out


def _w_var(x: FloatArray, w: FloatArray, binary: BoolArray) -> FloatArray:
    # cobalt col.w.v with weights: w normalised; reliability-weights variance; p(1 - p)
    wn = w / w.sum()
    m = wn @ x
    cont = ((wn[:, None] * (x - m) ** 2).sum(axis=0)) / (1.0 - float(np.sum(wn * wn)))
    out: FloatArray = np.where(binary, m * (1.0 - m), cont)
    return out


def _balance(
    cols: Sequence[_Column],
    treated: BoolArray,
    weights: FloatArray,
    estimand: Estimand,
) -> BalanceTable:
    x = np.column_stack([c.values for c in cols])
    binary = np.array([c.binary for c in cols], dtype=bool)
    ones = np.ones(treated.size)
    t, c = treated, ~treated
    denom_rule = SD_DENOMINATOR[estimand]
    with np.errstate(divide="ignore", invalid="ignore"):
        if denom_rule == "pooled":
            sd = np.sqrt((_w_var(x[t], ones[t], binary) + _w_var(x[c], ones[c], binary)) / 2.0)
        elif denom_rule == "treated":
            sd = np.sqrt(_w_var(x[t], ones[t], binary))
        else:
            sd = np.sqrt(_w_var(x, weights, binary))

        def means(w: FloatArray) -> tuple[FloatArray, FloatArray]:
            return _w_mean(x[t], w[t]), _w_mean(x[c], w[c])

        def smd(diff: FloatArray) -> FloatArray:
            # cobalt: a difference below sqrt(eps) is not standardised
            std = np.abs(diff) >= _ZERO_TOL
            out: FloatArray = np.where(std, diff / sd, diff)
            return out

        def vratio(w: FloatArray) -> FloatArray:
            wt, wc = w[t], w[c]
            if (wt > 0).sum() < 2 or (wc > 0).sum() < 2:
                return np.full(x.shape[1], np.nan)
            out: FloatArray = _w_var(x[t], wt, binary) / _w_var(x[c], wc, binary)
            return out

        mt0, mc0 = means(ones)
        mt1, mc1 = means(weights)
        d0, d1 = mt0 - mc0, mt1 - mc1
        s0, s1 = smd(d0), smd(d1)
        v0, v1 = vratio(ones), vratio(weights)
    rows = []
    for j, col in enumerate(cols):
        rows.append(
            BalanceRow(
                covariate=col.name,
                variable=col.variable,
                level=col.level,
                binary=col.binary,
                mean_treated_before=float(mt0[j]),
                mean_control_before=float(mc0[j]),
                mean_treated_after=float(mt1[j]),
                mean_control_after=float(mc1[j]),
                diff_before=float(d0[j]),
                diff_after=float(d1[j]),
                sd_denominator=float(sd[j]),
                smd_before=none_if_nan(float(s0[j])),
                smd_after=none_if_nan(float(s1[j])),
                var_ratio_before=None if col.binary else none_if_nan(float(v0[j])),
                var_ratio_after=None if col.binary else none_if_nan(float(v1[j])),
            )
        )
    return BalanceTable(tuple(rows), estimand, denom_rule)


def balance_table(
    treatment: ArrayLike,
    covariates: Mapping[str, ArrayLike],
    weights: ArrayLike,
    *,
    estimand: Estimand = "ATE",
) -> BalanceTable:
    """Standardized mean differences and variance ratios before and after weighting.

    Parameters
    ----------
    treatment : array_like, shape (n,)
        Two levels; the second in sorted order is "treated".
    covariates : mapping of str to array_like
        As in :func:`propensity_score`; categorical covariates give one row per level.
    weights : array_like of float, shape (n,)
        Balancing weights (0 = not in the weighted sample).
    estimand : {"ATE", "ATT", "ATO"}
        Chooses the SD in the denominator as cobalt does by default (see module notes).

    Returns
    -------
    BalanceTable

    Notes
    -----
    Equals cobalt ``col_w_smd(..., std = TRUE, s.d.denom = <pooled|treated|weighted>)``
    and ``col_w_vr`` (``bal.tab(..., binary = "std")``), with the weighted denominators of
    ``.compute_s.d.denom``.
    """
    treated, _, _ = _treatment(treatment)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != treated.shape:
        raise InputError(f"weights must have length {treated.size}, got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InputError("weights must be finite and >= 0")
    if not (w[treated] > 0).any() or not (w[~treated] > 0).any():
        raise InputError("each treatment group needs at least one unit with a positive weight")
    _, cols = _design(covariates, treated.size, None)
    return _balance(cols, treated, w, _check_estimand(estimand))


# --------------------------------------------------------------------------------------
# everything together
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IptwResult:
    """Propensity model, weights, balance and diagnostics of one IPTW analysis.

    ``to_dict()`` gives the contract's ``iptw[]`` entry without the parts computed
    elsewhere (``cox``: a weighted Cox fit with robust SE; ``evalue``).
    """

    treatment: str
    model: PropensityModel
    weights: Weights
    balance: BalanceTable
    smd_threshold: float
    ps_bounds: tuple[float, float]
    min_ess_fraction: float
    n_ps_outside_bounds: int
    warnings: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """``{treatment, estimand, weights, balance, propensity_model, diagnostics, warnings}``."""
        return {
            "treatment": self.treatment,
            "estimand": self.weights.estimand,
            "treated_level": self.model.treated,
            "control_level": self.model.control,
            "weights": self.weights.to_dict(),
            "balance": self.balance.to_dict(),
            "balance_sd_denominator": self.balance.sd_denominator,
            "propensity_model": self.model.to_dict(),
            "diagnostics": {
                "max_abs_smd_after": none_if_nan(self.balance.max_abs_smd_after()),
                "smd_threshold": self.smd_threshold,
                "ps_bounds": list(self.ps_bounds),
                "n_ps_outside_bounds": self.n_ps_outside_bounds,
                "min_ess_fraction": self.min_ess_fraction,
            },
            "warnings": list(self.warnings),
        }


def iptw(
    treatment: ArrayLike,
    covariates: Mapping[str, ArrayLike],
    *,
    estimand: Estimand = "ATE",
    stabilize: bool = False,
    trim_bounds: tuple[float, float] | None = None,
    trim_quantile: float | None = None,
    reference: Mapping[str, str] | None = None,
    treatment_name: str = "treatment",
    treated_level: str | None = None,
    smd_threshold: float = 0.1,
    ps_bounds: tuple[float, float] = (0.025, 0.975),
    min_ess_fraction: float = 0.25,
) -> IptwResult:
    """Inverse probability of treatment weighting: PS model, weights, balance, warnings.

    Parameters
    ----------
    treatment, covariates, reference
        As :func:`propensity_score`.
    estimand, stabilize, trim_bounds, trim_quantile
        As :func:`ipt_weights`.
    treatment_name : str
        Name of the treatment variable, echoed in ``to_dict()["treatment"]``.
    treated_level : str, optional
        The level of ``treatment`` that is "treated" (default: the second in sorted order).
    smd_threshold : float
        Warn when any ``|SMD|`` after weighting exceeds it (0.1, Austin 2009).
    ps_bounds : (float, float)
        Warn when an analysed unit's propensity score lies outside (positivity).
    min_ess_fraction : float
        Warn when a group's effective sample size is below this share of its analysed units.

    Returns
    -------
    IptwResult

    Warns
    -----
    MmrweWarning
        Each entry of ``IptwResult.warnings`` is also emitted.

    Notes
    -----
    Matches R ``glm`` (the score), WeightIt ``get_w_from_ps`` (the weights) and cobalt
    ``col_w_smd`` / ``col_w_vr`` (balance); see the module docstring for the formulas and
    ``tests/reference/r/weighting.R`` for the R transcription tested against.
    """
    treated, t_lab, c_lab = _treatment(treatment, treated_level)
    model_cols, balance_cols = _design(covariates, treated.size, reference)
    model = _fit_ps(treated, model_cols, t_lab, c_lab)
    w = ipt_weights(
        treated,
        model.ps,
        estimand=estimand,
        stabilize=stabilize,
        trim_bounds=trim_bounds,
        trim_quantile=trim_quantile,
    )
    bal = _balance(balance_cols, treated, w.weights, w.estimand)

    msgs: list[str] = []
    big = [r for r in bal.rows if r.smd_after is not None and abs(r.smd_after) > smd_threshold]
    if big:
        listing = ", ".join(f"{r.covariate} ({r.smd_after:+.3f})" for r in big)
        msgs.append(
            f"imbalance remains after weighting: |SMD| > {smd_threshold} for {listing}; "
            "revise the propensity model (splines, interactions) or report the adjusted "
            "analysis with these covariates in the outcome model"
        )
    keep = ~w.trimmed
    lo_b, hi_b = ps_bounds
    outside = keep & ((model.ps < lo_b) | (model.ps > hi_b))
    n_out = int(outside.sum())
    if n_out:
        msgs.append(
            f"positivity: {n_out} analysed patient(s) have a propensity score outside "
            f"[{lo_b}, {hi_b}] (min {model.ps[keep].min():.4g}, max {model.ps[keep].max():.4g}); "
            "consider trimming or the overlap estimand (ATO)"
        )
    for label, summ in ((t_lab, w.treated_summary), (c_lab, w.control_summary)):
        if summ.ess is not None and summ.ess < min_ess_fraction * summ.n:
            msgs.append(
                f"positivity: the effective sample size of group {label!r} is "
                f"{summ.ess:.1f} of {summ.n} patients (< {min_ess_fraction:.0%}): a few "
                "patients carry most of the weight"
            )
    for m in msgs:
        warnings.warn(m, MmrweWarning, stacklevel=2)
    return IptwResult(
        treatment=treatment_name,
        model=model,
        weights=w,
        balance=bal,
        smd_threshold=float(smd_threshold),
        ps_bounds=(float(lo_b), float(hi_b)),
        min_ess_fraction=float(min_ess_fraction),
        n_ps_outside_bounds=n_out,
        warnings=tuple(msgs),
    )
