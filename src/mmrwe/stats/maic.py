"""Matching-adjusted indirect comparison (Signorovitch et al. 2010, 2012; NICE DSU TSD 18).

Individual patient data (IPD, here the real-world cohort) are reweighted so that their
covariate moments equal the published aggregate values of a trial (the target):

* weights ``w_i = exp(x_i' a)``, ``x_i`` the patient's covariates centred on the target means;
  when a target SD is given the second moment is matched too (TSD 18 appendix D): the column
  ``x_i^2`` is added, centred on ``mean^2 + sd^2``;
* ``a`` minimises the convex ``Q(a) = sum_i exp(x_i' a)``, whose gradient is
  ``sum_i x_i w_i``: at the minimum the weighted means equal the targets exactly. Found by
  Newton-Raphson (analytic gradient and Hessian ``sum_i w_i x_i x_i'``) with backtracking, on
  columns scaled to unit SD;
* the minimum exists only if the target lies in the interior of the convex hull of the IPD
  covariate vectors. A target outside its own covariate's range is refused at once; else
  Newton runs, and only if it does not reach the targets does a linear program (is there a
  direction ``a`` with ``x_i' a <= 0`` for every patient?) decide whether the targets are
  outside the hull (an :class:`EstimationError` naming the covariates whose targets lie
  outside the observed range) or the fit failed for another reason. A matched solution
  proves the targets are inside, so the program is not run for it (it is what costs time
  in a bootstrap);
* effective sample size ``(sum w)^2 / sum w^2``; rescaled weights ``w n / sum w`` (sum n);
* the weighted moments are checked against the targets (``|diff| <= 1e-8 max(1, |target|)``).

Outcomes: a weighted proportion ``sum w y / sum w``; a weighted Kaplan-Meier median and
landmark rates (they need ``kaplan_meier(..., weights=)``, which another change adds to
:mod:`mmrwe.stats.km`; until then :func:`maic_survival` raises a clear error); and a
bootstrap (:func:`maic_bootstrap`) that re-estimates the weights in every resample and draws
the comparator's published value from a normal distribution on the log (or logit) scale
whose SD is recovered from its confidence interval, giving a percentile interval for the
contrast (ratio or difference) between the weighted cohort and the comparator.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mmrwe.core.errors import EstimationError, InputError
from mmrwe.stats._common import as_time_event, none_if_nan, read_only, z_value

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Contrast = Literal["ratio", "difference"]
Scale = Literal["log", "logit", "identity"]

_MAX_ITER = 100
_CHECK_TOL = 1e-8
_LP_TOL = 1e-9


@dataclass(frozen=True, slots=True)
class MaicWeights:
    """MAIC weights matching IPD moments to published targets.

    Attributes
    ----------
    names : tuple of str
        The matched moments: covariate names, and ``"<name>^2"`` for matched second moments.
    target : ndarray
        Target of each moment (mean, or ``mean^2 + sd^2``).
    alpha : ndarray
        The solution ``a`` (per moment, on the centred but unscaled covariates).
    weights : ndarray
        ``exp(x' a)`` per patient, as TSD 18 (not normalised).
    rescaled : ndarray
        ``weights * n / sum(weights)``.
    ess : float
        Kish effective sample size ``(sum w)^2 / sum w^2``.
    n : int
    weighted_moments : ndarray
        Weighted means of the moments; equal ``target`` within the tolerance checked.
    max_abs_deviation : float
        ``max |weighted_moments - target|``.
    iterations : int
        Newton iterations.
    """

    names: tuple[str, ...]
    target: FloatArray
    alpha: FloatArray
    weights: FloatArray
    rescaled: FloatArray
    ess: float
    n: int
    weighted_moments: FloatArray
    max_abs_deviation: float
    iterations: int

    def __post_init__(self) -> None:
        for name in ("target", "alpha", "weights", "rescaled", "weighted_moments"):
            object.__setattr__(self, name, read_only(getattr(self, name), dtype=np.float64))

    def to_dict(self) -> dict[str, Any]:
        """Moments matched, ``alpha``, ESS, weight range and the balance check (no rows)."""
        return {
            "method": "MAIC method of moments (Signorovitch 2010; NICE DSU TSD 18)",
            "n": self.n,
            "ess": none_if_nan(self.ess),
            "ess_fraction": none_if_nan(self.ess / self.n),
            "moments": {
                nm: {
                    "target": none_if_nan(float(t)),
                    "weighted": none_if_nan(float(m)),
                    "alpha": none_if_nan(float(a)),
                }
                for nm, t, m, a in zip(
                    self.names, self.target, self.weighted_moments, self.alpha, strict=True
                )
            },
            "rescaled_weights": {
                "min": none_if_nan(float(self.rescaled.min())),
                "max": none_if_nan(float(self.rescaled.max())),
                "sum": none_if_nan(float(self.rescaled.sum())),
            },
            "max_abs_deviation": none_if_nan(self.max_abs_deviation),
            "iterations": self.iterations,
        }


def _moments(
    x: FloatArray,
    names: Sequence[str],
    target_means: FloatArray,
    target_sds: Sequence[float | None] | None,
) -> tuple[FloatArray, FloatArray, tuple[str, ...]]:
    """(matrix of moments per patient, their targets, their names)."""
    cols = [x[:, j] for j in range(x.shape[1])]
    targets = list(target_means.tolist())
    labels = [str(nm) for nm in names]
    if target_sds is not None:
        if len(target_sds) != x.shape[1]:
            raise InputError(
                f"target_sds has {len(target_sds)} entries for {x.shape[1]} covariates"
            )
        for j, sd in enumerate(target_sds):
            if sd is None or (isinstance(sd, float) and math.isnan(sd)):
                continue
            if not (math.isfinite(float(sd)) and float(sd) > 0):
                raise InputError(f"target SD of {names[j]!r} must be > 0, got {sd!r}")
            cols.append(x[:, j] ** 2)
            targets.append(float(target_means[j]) ** 2 + float(sd) ** 2)
            labels.append(f"{names[j]}^2")
    return np.column_stack(cols), np.asarray(targets, dtype=np.float64), tuple(labels)


def _outside_hull(z: FloatArray) -> bool:
    """True if some direction a != 0 has z_i' a <= 0 for every row (no minimum of Q)."""
    from scipy import optimize as _opt

    n, k = z.shape
    res = _opt.linprog(
        c=z.sum(axis=0),
        A_ub=z,
        b_ub=np.zeros(n),
        bounds=[(-1.0, 1.0)] * k,
        method="highs",
    )
    return bool(res.status == 0 and -res.fun > _LP_TOL * n)


def _hull_message(m: FloatArray, target: FloatArray, labels: Sequence[str]) -> str:
    lo, hi = m.min(axis=0), m.max(axis=0)
    bad = [
        f"{nm} (target {t:.6g}, cohort range {a:.6g} to {b:.6g})"
        for nm, t, a, b in zip(labels, target, lo, hi, strict=True)
        if not (a < t < b)
    ]
    if bad:
        return "targets outside the cohort's range: " + "; ".join(bad)
    return "each target lies within its covariate's range, but not their combination"


def _newton(z: FloatArray) -> tuple[FloatArray, int]:
    """Minimise Q(a) = sum exp(z a) from a = 0; returns (a, iterations)."""
    eps = float(np.finfo(float).eps)
    a = np.zeros(z.shape[1])
    w = np.exp(z @ a)
    q = float(w.sum())
    it = 0
    for it in range(_MAX_ITER):  # Newton iterations
        g = z.T @ w
        # the gradient over sum(w) is the weighted mean of the standardised moments
        if float(np.max(np.abs(g))) / q < 1e-12:
            return a, it
        h = (z * w[:, None]).T @ z
        try:
            step = np.linalg.solve(h, g)
        except np.linalg.LinAlgError as exc:
            raise EstimationError(
                "the matched moments are collinear (singular Hessian)",
                fix="drop a redundant covariate or second moment",
            ) from exc
        t = 1.0
        accepted = False
        with np.errstate(over="ignore"):
            for _ in range(60):  # backtracking line search (Armijo, with rounding slack)
                new = a - t * step
                w_new = np.exp(z @ new)
                q_new = float(w_new.sum())
                if q_new <= q - 1e-4 * t * float(g @ step) + 8.0 * eps * q:
                    accepted = True
                    break
                t /= 2.0
        if not accepted:
            break
        a, w, q = new, w_new, q_new
    if not float(np.max(np.abs(z.T @ w))) / q <= 1e-9:  # also catches NaN / inf
        raise EstimationError(
            f"the MAIC weights did not converge in {_MAX_ITER} Newton iterations",
            fix="check for extreme covariate values or near-collinear moments",
        )
    return a, it


def maic_weights(
    X: ArrayLike,
    target_means: ArrayLike,
    *,
    names: Sequence[str],
    target_sds: Sequence[float | None] | None = None,
) -> MaicWeights:
    """Estimate MAIC weights by the method of moments (NICE DSU TSD 18).

    Parameters
    ----------
    X : array_like, shape (n, k)
        IPD covariates (binary ones as 0/1, so their target is a proportion).
    target_means : array_like, shape (k,)
        Published means / proportions of the comparator population.
    names : sequence of str, length k
    target_sds : sequence of (float or None), length k, optional
        Published SDs; where given, ``x^2`` is matched to ``mean^2 + sd^2`` as well.

    Returns
    -------
    MaicWeights

    Raises
    ------
    InputError
        Shapes, missing or non-finite values.
    EstimationError
        The targets lie on or outside the convex hull of the IPD (no weights can match
        them), or the moments are collinear.

    Notes
    -----
    Solves the estimating equations ``sum_i (x_i - target) exp((x_i - target)' a) = 0`` as
    TSD 18's R code does with ``optim(method = "BFGS")``, but by Newton-Raphson to
    machine precision; ``tests/reference/r/maic.R`` checks the solution in R (Newton and
    ``optim``) on survival::lung.
    """
    x = np.asarray(X, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    tm = np.asarray(target_means, dtype=np.float64).reshape(-1)
    n, k = x.shape
    if len(names) != k or tm.size != k:
        raise InputError(f"X has {k} columns, names {len(names)}, target_means {tm.size}")
    if not np.all(np.isfinite(x)):
        raise InputError(
            "IPD covariates must be finite: no missing values",
            fix="impute (mmrwe.stats.imputation) or restrict to complete cases first",
        )
    if not np.all(np.isfinite(tm)):
        raise InputError("target means must be finite numbers")
    if n < 2:
        raise EstimationError("MAIC needs at least two patients")
    m, target, labels = _moments(x, names, tm, target_sds)
    centred = m - target
    scale = centred.std(axis=0)
    if np.any(scale == 0):
        raise EstimationError(
            "a matched covariate is constant in the cohort: "
            + ", ".join(nm for nm, s in zip(labels, scale, strict=True) if s == 0),
            fix="drop it (it cannot be reweighted)",
        )
    z = centred / scale
    if np.linalg.matrix_rank(z) < z.shape[1]:
        raise EstimationError(
            "the matched moments are collinear", fix="drop a redundant covariate or moment"
        )
    hull_error = EstimationError(
        "no MAIC weights exist: the targets lie on or outside the convex hull of the "
        "cohort's covariates; " + _hull_message(m, target, labels),
        fix="check the units and coding of the published values, or drop the covariate",
    )
    lo, hi = z.min(axis=0), z.max(axis=0)
    if np.any((lo >= 0.0) | (hi <= 0.0)):
        # a target at or beyond its own covariate's range: outside the hull, no LP needed
        raise hull_error
    # Newton first: a minimum of Q exists only for targets inside the hull, so a matched
    # solution proves feasibility and the linear program (milliseconds each, which adds up
    # over bootstrap resamples) runs only to explain a failure
    failure: EstimationError | None = None
    try:
        a_z, iterations = _newton(z)
    except EstimationError as exc:
        failure = exc
    if failure is None:
        alpha = a_z / scale
        eta = centred @ alpha
        with np.errstate(over="ignore", invalid="ignore"):
            w = np.exp(eta)
            wm = (w @ m) / w.sum()
        dev = float(np.max(np.abs(wm - target)))
        tol = _CHECK_TOL * np.maximum(1.0, np.abs(target))
        if not (np.all(np.isfinite(w)) and np.all(np.abs(wm - target) <= tol)):
            failure = EstimationError(
                f"the weighted moments miss their targets by up to {dev:.3g} (tolerance 1e-8)",
                fix="the weights are unreliable: check for extreme covariate values",
            )
    if failure is not None:
        if _outside_hull(z):
            raise hull_error
        raise failure
    return MaicWeights(
        names=labels,
        target=target,
        alpha=alpha,
        weights=w,
        rescaled=w * n / w.sum(),
        ess=float(w.sum() ** 2 / np.sum(w * w)),
        n=n,
        weighted_moments=wm,
        max_abs_deviation=dev,
        iterations=iterations,
    )


# --------------------------------------------------------------------------------------
# weighted outcomes
# --------------------------------------------------------------------------------------


def weighted_proportion(y: ArrayLike, weights: ArrayLike) -> float:
    """``sum(w y) / sum(w)`` for a 0/1 outcome (R ``weighted.mean``).

    Examples
    --------
    >>> weighted_proportion([1, 0, 1], [1.0, 2.0, 1.0])
    0.5
    """
    yv = np.asarray(y, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if yv.shape != w.shape:
        raise InputError(f"y and weights differ in shape: {yv.shape} vs {w.shape}")
    if not np.all(np.isin(yv, (0.0, 1.0))):
        raise InputError("the outcome must be 0/1")
    return float(w @ yv / w.sum())


@dataclass(frozen=True, slots=True)
class WeightedSurvival:
    """Weighted Kaplan-Meier median and landmark survival of the reweighted cohort."""

    median: float | None
    median_lower: float | None
    median_upper: float | None
    landmarks: dict[float, float | None]

    def to_dict(self) -> dict[str, Any]:
        """``{"median": {estimate, lower, upper}, "landmarks": {t: surv}}``."""
        return {
            "median": {
                "estimate": none_if_nan(self.median),
                "lower": none_if_nan(self.median_lower),
                "upper": none_if_nan(self.median_upper),
            },
            "landmarks": {f"{t:g}": none_if_nan(s) for t, s in self.landmarks.items()},
        }


def _weighted_km(time: FloatArray, event: NDArray[np.bool_], weights: FloatArray) -> Any:
    from mmrwe.stats.km import kaplan_meier

    return kaplan_meier(time, event, weights=weights)


def maic_survival(
    time: ArrayLike,
    is_event: ArrayLike,
    weights: ArrayLike,
    *,
    landmarks: Sequence[float] = (),
) -> WeightedSurvival:
    """Weighted KM median and landmark survival (R ``survfit(..., weights = w)``).

    Needs ``mmrwe.stats.km.kaplan_meier(..., weights=)``; raises
    :class:`EstimationError` saying so where it is missing.
    """
    t, e = as_time_event(time, is_event)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != t.shape or np.any(w < 0) or not np.all(np.isfinite(w)):
        raise InputError("weights must be finite, >= 0 and one per patient")
    km = _weighted_km(t, e, w)
    med = km.median
    return WeightedSurvival(
        median=med.value,
        median_lower=med.lower,
        median_upper=med.upper,
        landmarks={float(lt): km.survival_at(float(lt)).surv for lt in landmarks},
    )


# --------------------------------------------------------------------------------------
# bootstrap
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Comparator:
    """A published comparator value with its confidence interval.

    ``scale`` is where its sampling distribution is normal: ``"log"`` (medians, rates,
    hazard ratios), ``"logit"`` (proportions) or ``"identity"``.
    """

    estimate: float
    lower: float
    upper: float
    conf_level: float = 0.95
    scale: Scale = "log"

    def __post_init__(self) -> None:
        if not (self.lower <= self.estimate <= self.upper) or self.lower == self.upper:
            raise InputError(
                f"comparator {self.estimate} must lie within its interval "
                f"({self.lower}, {self.upper}) of positive width"
            )
        if self.scale == "log" and self.lower <= 0:
            raise InputError("a comparator on the log scale needs a positive lower limit")
        if self.scale == "logit" and not (self.lower > 0 and self.upper < 1):
            raise InputError("a comparator on the logit scale needs limits within (0, 1)")

    def _fwd(self, v: FloatArray | float) -> Any:
        if self.scale == "log":
            return np.log(v)
        if self.scale == "logit":
            return np.log(np.asarray(v) / (1.0 - np.asarray(v)))
        return np.asarray(v, dtype=np.float64)

    def _back(self, v: FloatArray) -> FloatArray:
        if self.scale == "log":
            return np.exp(v)
        if self.scale == "logit":
            out: FloatArray = 1.0 / (1.0 + np.exp(-v))
            return out
        return v

    @property
    def se(self) -> float:
        """SD on ``scale``: ``(f(upper) - f(lower)) / (2 z)``."""
        return float(self._fwd(self.upper) - self._fwd(self.lower)) / (
            2.0 * z_value(self.conf_level)
        )

    def draw(self, rng: np.random.Generator, size: int) -> FloatArray:
        """``size`` draws of the comparator value."""
        return self._back(rng.normal(float(self._fwd(self.estimate)), self.se, size))


@dataclass(frozen=True, slots=True)
class MaicBootstrap:
    """Bootstrap of a weighted outcome and of its contrast with a comparator."""

    estimate: float
    lower: float | None
    upper: float | None
    se: float | None
    contrast: Contrast | None
    contrast_estimate: float | None
    contrast_lower: float | None
    contrast_upper: float | None
    comparator: Comparator | None
    n_boot: int
    n_failed: int
    seed: int | None
    conf_level: float
    replicates: FloatArray

    def __post_init__(self) -> None:
        object.__setattr__(self, "replicates", read_only(self.replicates, dtype=np.float64))

    def to_dict(self) -> dict[str, Any]:
        """Outcome and contrast with percentile limits, the comparator, counts and seed."""
        return {
            "method": "nonparametric bootstrap re-estimating the MAIC weights; comparator "
            "drawn from its CI; percentile intervals",
            "outcome": {
                "estimate": none_if_nan(self.estimate),
                "lower": none_if_nan(self.lower),
                "upper": none_if_nan(self.upper),
                "se": none_if_nan(self.se),
            },
            "contrast": None
            if self.contrast is None
            else {
                "type": self.contrast,
                "estimate": none_if_nan(self.contrast_estimate),
                "lower": none_if_nan(self.contrast_lower),
                "upper": none_if_nan(self.contrast_upper),
            },
            "comparator": None
            if self.comparator is None
            else {
                "estimate": self.comparator.estimate,
                "lower": self.comparator.lower,
                "upper": self.comparator.upper,
                "conf_level": self.comparator.conf_level,
                "scale": self.comparator.scale,
            },
            "n_boot": self.n_boot,
            "n_failed": self.n_failed,
            "seed": self.seed,
            "conf_level": self.conf_level,
        }


OutcomeFn = Callable[[IntArray, FloatArray], "float | None"]


def proportion_outcome(y: ArrayLike) -> OutcomeFn:
    """Outcome function for :func:`maic_bootstrap`: the weighted proportion of ``y``."""
    yv = np.asarray(y, dtype=np.float64)

    def f(rows: IntArray, w: FloatArray) -> float:
        return weighted_proportion(yv[rows], w)

    return f


def survival_outcome(
    time: ArrayLike, is_event: ArrayLike, *, landmark: float | None = None
) -> OutcomeFn:
    """Outcome function: weighted KM median (``landmark=None``) or survival at ``landmark``.

    Needs ``kaplan_meier(weights=)`` (see :func:`maic_survival`).
    """
    t, e = as_time_event(time, is_event)

    def f(rows: IntArray, w: FloatArray) -> float | None:
        s = maic_survival(t[rows], e[rows], w, landmarks=() if landmark is None else (landmark,))
        return s.median if landmark is None else s.landmarks[float(landmark)]

    return f


def _quantile7(x: FloatArray, q: float) -> float:
    """R ``quantile(type = 7)`` that allows +inf values: ``inf`` when the interpolation
    touches one (the limit is "not reached"; ``to_dict`` writes it as null)."""
    v = np.sort(x)
    h = (v.size - 1) * q
    lo, hi = math.floor(h), math.ceil(h)
    if not (math.isfinite(v[lo]) and math.isfinite(v[hi])):
        return math.inf if v[hi] == math.inf else float(v[lo])
    return float(v[lo] + (h - lo) * (v[hi] - v[lo]))


def maic_bootstrap(
    X: ArrayLike,
    target_means: ArrayLike,
    outcome: OutcomeFn,
    *,
    names: Sequence[str],
    target_sds: Sequence[float | None] | None = None,
    comparator: Comparator | None = None,
    contrast: Contrast = "ratio",
    n_boot: int = 1000,
    seed: int | np.random.Generator | None = None,
    conf_level: float = 0.95,
) -> MaicBootstrap:
    """Percentile bootstrap of a MAIC-weighted outcome and its contrast with a comparator.

    Each replicate resamples patients with replacement, re-estimates the weights
    (:func:`maic_weights`) and evaluates ``outcome(rows, weights)``; with a
    ``comparator`` it also draws the comparator's value (normal on its ``scale``, SD from
    its CI) and forms the ``contrast`` (``"ratio"``: outcome / comparator; or
    ``"difference"``). Replicates whose weights do not exist or whose outcome is not
    estimable (``None`` or NaN) are counted in ``n_failed`` and left out. An outcome of
    ``math.inf`` (e.g. a median the weighted curve does not reach) is a valid, highest
    replicate: a percentile limit that falls on it is ``inf`` (``None`` in ``to_dict``),
    "not reached", and the SE is then ``None``.

    Parameters
    ----------
    X, target_means, names, target_sds
        As :func:`maic_weights`.
    outcome : callable ``(rows, weights) -> float | None``
        E.g. :func:`proportion_outcome` or :func:`survival_outcome`.
    comparator : Comparator, optional
    contrast : {"ratio", "difference"}
    n_boot : int
    seed : int or numpy Generator
    conf_level : float

    Returns
    -------
    MaicBootstrap
        Point estimates from the full cohort; limits are the ``(1 - level)/2`` and
        ``(1 + level)/2`` quantiles (type 7) of the replicates.
    """
    if contrast not in ("ratio", "difference"):
        raise InputError(f"unknown contrast {contrast!r}", fix="use 'ratio' or 'difference'")
    if n_boot < 2:
        raise InputError(f"n_boot must be >= 2, got {n_boot}")
    x = np.asarray(X, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    n = x.shape[0]
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    full = maic_weights(x, target_means, names=names, target_sds=target_sds)
    est = outcome(np.arange(n), full.weights)
    if est is None or not math.isfinite(est):
        raise EstimationError("the weighted outcome is not estimable in the full cohort")
    reps = np.full(n_boot, np.nan)
    for b in range(n_boot):  # a loop over bootstrap replicates
        rows = np.asarray(rng.integers(0, n, size=n), dtype=np.int64)
        try:
            wb = maic_weights(x[rows], target_means, names=names, target_sds=target_sds)
        except EstimationError:
            continue
        val = outcome(rows, wb.weights)
        if val is not None and (math.isfinite(val) or val == math.inf):
            reps[b] = val
    # +inf is a valid replicate (a median not reached lies above every finite one); only
    # NaN (no weights, or a statistic that does not exist) is a failure
    ok = ~np.isnan(reps)
    n_failed = int((~ok).sum())
    if ok.sum() < 2:
        raise EstimationError(
            f"{n_failed} of {n_boot} bootstrap replicates failed",
            fix="the targets are near the edge of the cohort's covariate range",
        )
    a = (1.0 - conf_level) / 2.0
    good = reps[ok]
    lo, hi = _quantile7(good, a), _quantile7(good, 1.0 - a)
    c_est = c_lo = c_hi = None
    if comparator is not None:
        comp = comparator.draw(rng, n_boot)[ok]
        if contrast == "ratio":
            c_est = est / comparator.estimate
            crep = good / comp
        else:
            c_est = est - comparator.estimate
            crep = good - comp
        c_lo, c_hi = _quantile7(crep, a), _quantile7(crep, 1.0 - a)
    return MaicBootstrap(
        estimate=float(est),
        lower=lo,
        upper=hi,
        se=float(np.std(good, ddof=1)) if np.all(np.isfinite(good)) else None,
        contrast=contrast if comparator is not None else None,
        contrast_estimate=c_est,
        contrast_lower=c_lo,
        contrast_upper=c_hi,
        comparator=comparator,
        n_boot=n_boot,
        n_failed=n_failed,
        seed=seed if isinstance(seed, int) else None,
        conf_level=conf_level,
        replicates=reps,
    )
