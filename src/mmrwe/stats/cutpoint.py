"""Data-driven cut-offs, done honestly.

A cut-off chosen on the same patients it is tested on overstates the effect. This module
reports, for a continuous variable dichotomized at a data-driven cut-off:

* the maximally selected rank statistic (R ``maxstat`` 0.7 semantics) with the p-value
  adjusted for the search (Lausen & Schumacher 1992 / 1994, or a conditional Monte-Carlo
  permutation p-value);
* the ROC / Youden cut-off (R ``cutpointr`` 1.1 semantics) with the DeLong AUC interval
  (``pROC::ci.auc``);
* the bootstrap distribution of the cut-off, the out-of-bag hazard ratio, Harrell's
  optimism-corrected hazard ratio and the continuous-variable Cox HR next to it.

Everything is vectorized: candidate cuts are handled with cumulative sums over the sorted
variable, and bootstrap resamples as a B x N count matrix (no loop over patients, cuts or
resamples; loops run only over Newton iterations and Efron tie positions).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special
from scipy.stats import norm

from mmrwe.core.errors import EstimationError, InputError
from mmrwe.stats._common import as_time_event, none_if_nan, read_only, z_value
from mmrwe.stats.firth import detect_monotone_likelihood, firth_cox

ScoreMethod = Literal["LogRank", "Data", "Wilcoxon"]
PMethod = Literal["Lau94", "Lau92", "condMC"]
Direction = Literal["<=", ">="]
FirthPolicy = Literal["auto", "always", "never"]
Ties = Literal["efron", "breslow"]

GROUPS_TEXT = "low: x <= cutpoint; high: x > cutpoint"
# Two statistics closer than this (relative) count as tied, so "smallest cut on ties of the
# maximum" (R maxstat: min(which(Test == max))) does not hinge on summation-order rounding.
_TIE_RTOL = 1e-10

__all__ = [
    "CutpointBootstrap",
    "CutpointProfile",
    "HazardRatio",
    "MaxstatResult",
    "OptimismResult",
    "YoudenResult",
    "bootstrap_cutpoint",
    "logrank_scores",
    "maxstat_binary",
    "maxstat_cutpoint",
    "maxstat_cutpoint_binary",
    "optimism_corrected_hr",
    "p_lausen92",
    "p_lausen94",
    "youden_cutpoint",
]


# ---------------------------------------------------------------------------------------
# Result types
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CutpointProfile:
    """Statistic at every candidate cut (for the report's profile plot).

    ``cutpoints`` are the candidate cuts in increasing order, ``statistics`` the
    standardized statistic (maxstat) or Youden index (ROC) at each, ``n_low`` the number of
    patients with ``x <= cut``.
    """

    cutpoints: NDArray[np.float64]
    statistics: NDArray[np.float64]
    n_low: NDArray[np.int64]

    def __post_init__(self) -> None:
        object.__setattr__(self, "cutpoints", read_only(self.cutpoints, dtype=np.float64))
        object.__setattr__(self, "statistics", read_only(self.statistics, dtype=np.float64))
        object.__setattr__(self, "n_low", read_only(self.n_low, dtype=np.int64))

    def to_dict(self) -> dict[str, list[Any]]:
        """Return ``{"cutpoints", "statistics", "n_low"}`` lists (infinite cuts as null)."""
        return {
            "cutpoints": [none_if_nan(v) for v in self.cutpoints],
            "statistics": [none_if_nan(v) for v in self.statistics],
            "n_low": [int(v) for v in self.n_low],
        }


@dataclass(frozen=True, slots=True)
class HazardRatio:
    """A single hazard ratio with its interval and how it was obtained.

    ``method`` is ``"cox"`` (partial likelihood, ``ties``; Wald interval and p, as R
    ``coxph``) or ``"firth"`` (penalized likelihood, Breslow ties as R ``coxphf``; profile
    penalized-likelihood interval and penalized LR p), used when the likelihood is monotone.
    """

    hr: float | None
    lower: float | None
    upper: float | None
    log_hr: float | None
    se: float | None
    p: float | None
    method: Literal["cox", "firth"]
    ties: Ties
    conf_level: float
    contrast: str
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"hr", "lower", "upper"}`` (contract) plus the method keys."""
        return {
            "hr": none_if_nan(self.hr),
            "lower": none_if_nan(self.lower),
            "upper": none_if_nan(self.upper),
            "log_hr": none_if_nan(self.log_hr),
            "se": none_if_nan(self.se),
            "p": none_if_nan(self.p),
            "method": self.method,
            "ties": self.ties,
            "conf_level": float(self.conf_level),
            "contrast": self.contrast,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class MaxstatResult:
    """Maximally selected rank statistic (R ``maxstat.test``) and its adjusted p-values.

    Attributes
    ----------
    cutpoint : float
        Estimated cut-off (an observed value); low group is ``x <= cutpoint``.
    statistic : float
        Maximum of the standardized statistics (R's ``M``).
    p_adjusted, p_adjusted_method : float or None, str
        The p-value adjusted for the search by the requested method (``"Lau94"`` by default;
        reported raw: Lau94 can exceed 1).
    p_lau92, p_lau94 : float or None
        Both approximations, always computed (``None`` where R gives ``Inf``/``NaN``).
    p_permutation : float or None
        Conditional Monte-Carlo permutation p (R ``pmethod = "condMC"``) if ``n_perm > 0``.
    n_permutations, seed : int, int or None
        Permutations drawn and the seed of the numpy Generator.
    critical_value : float or None
        Critical value of M at ``alpha`` for the Lau92/Lau94 method (R ``quant``; R finds it
        with ``optimize``, here an exact root).
    minprop, maxprop : float
        Smallest and largest group share searched.
    n, n_low, n_high : int
        Patients used and in each group at the cut-off.
    events_low, events_high : int
        Events (survival) or successes (binary outcome) per group.
    score_method : str
        ``"LogRank"`` for survival endpoints; ``"Data"`` or ``"Wilcoxon"`` for binary outcomes.
    outcome : str
        ``"survival"`` or ``"binary"``.
    profile : CutpointProfile
        Candidate cuts and their standardized statistics.
    hr_low_vs_high : HazardRatio or None
        Cox HR of the low vs the high group at the cut-off (survival only).
    proportion_low, proportion_high : float or None
        Success proportions per group (binary outcomes only).
    notes : tuple of str
        Plain-language notes (Firth switch, quirks).
    """

    cutpoint: float
    statistic: float
    p_adjusted: float | None
    p_adjusted_method: PMethod
    p_lau92: float | None
    p_lau94: float | None
    p_permutation: float | None
    n_permutations: int
    seed: int | None
    critical_value: float | None
    alpha: float
    minprop: float
    maxprop: float
    n: int
    n_low: int
    n_high: int
    events_low: int
    events_high: int
    score_method: ScoreMethod
    outcome: Literal["survival", "binary"]
    profile: CutpointProfile
    hr_low_vs_high: HazardRatio | None = None
    proportion_low: float | None = None
    proportion_high: float | None = None
    groups: str = GROUPS_TEXT
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """Return the contract's ``cutpoints`` entry keys for maxstat, plus added keys."""
        return {
            "method": "maxstat",
            "cutpoint": float(self.cutpoint),
            "groups": self.groups,
            "n": int(self.n),
            "n_low": int(self.n_low),
            "n_high": int(self.n_high),
            "statistic": float(self.statistic),
            "p_adjusted": none_if_nan(self.p_adjusted),
            "p_adjusted_method": self.p_adjusted_method,
            "hr_low_vs_high": None
            if self.hr_low_vs_high is None
            else self.hr_low_vs_high.to_dict(),
            "p_lau92": none_if_nan(self.p_lau92),
            "p_lau94": none_if_nan(self.p_lau94),
            "p_permutation": none_if_nan(self.p_permutation),
            "n_permutations": int(self.n_permutations),
            "seed": self.seed,
            "critical_value": none_if_nan(self.critical_value),
            "alpha": float(self.alpha),
            "minprop": float(self.minprop),
            "maxprop": float(self.maxprop),
            "events_low": int(self.events_low),
            "events_high": int(self.events_high),
            "proportion_low": none_if_nan(self.proportion_low),
            "proportion_high": none_if_nan(self.proportion_high),
            "score_method": self.score_method,
            "outcome": self.outcome,
            "profile": self.profile.to_dict(),
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class YoudenResult:
    """ROC cut-off maximising Youden's J (R ``cutpointr``, ``maximize_metric``/``youden``).

    Attributes
    ----------
    direction : {"<=", ">="}
        ``">="``: the event is predicted when ``x >= cutpoint``; ``"<="``: when ``x <= cutpoint``.
    cutpoint : float or None
        Median of the optimal cuts (``break_ties = median``); may lie between observed values
        when several cuts tie; ``None`` if it is infinite (no cut beats predicting nobody).
    sensitivity, specificity, youden : float
        At ``cutpoint`` applied with ``direction`` (as cutpointr reports them).
    auc, auc_lower, auc_upper : float, float or None
        Area under the ROC curve in the given direction and its DeLong interval
        (``pROC::ci.auc(method = "delong")``, clipped to [0, 1]).
    tied_cutpoints : ndarray
        All cuts whose Youden index is within ``tol_metric`` of the maximum.
    n, n_events, n_no_event : int
        Patients, and those with / without the event (class 1 / 0).
    profile : CutpointProfile
        Youden index at every candidate cut (observed values plus the infinite one).
    """

    direction: Direction
    cutpoint: float | None
    sensitivity: float
    specificity: float
    youden: float
    auc: float
    auc_lower: float | None
    auc_upper: float | None
    conf_level: float
    tied_cutpoints: NDArray[np.float64]
    n: int
    n_events: int
    n_no_event: int
    tol_metric: float
    profile: CutpointProfile
    tie_rule: str = "median"
    auc_ci_method: str = "delong"
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tied_cutpoints", read_only(self.tied_cutpoints, dtype=np.float64))

    def to_dict(self) -> dict[str, Any]:
        """Return the contract's ``cutpoints`` entry keys for youden, plus added keys."""
        return {
            "method": "youden",
            "direction": self.direction,
            "cutpoint": none_if_nan(self.cutpoint),
            "sensitivity": none_if_nan(self.sensitivity),
            "specificity": none_if_nan(self.specificity),
            "youden": none_if_nan(self.youden),
            "auc": none_if_nan(self.auc),
            "auc_lower": none_if_nan(self.auc_lower),
            "auc_upper": none_if_nan(self.auc_upper),
            "auc_ci_method": self.auc_ci_method,
            "conf_level": float(self.conf_level),
            "n": int(self.n),
            "n_events": int(self.n_events),
            "n_no_event": int(self.n_no_event),
            "tied_cutpoints": [none_if_nan(v) for v in self.tied_cutpoints],
            "tie_rule": self.tie_rule,
            "tol_metric": float(self.tol_metric),
            "profile": self.profile.to_dict(),
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class CutpointBootstrap:
    """Bootstrap distribution of a data-driven cut-off and the out-of-bag hazard ratio.

    Attributes
    ----------
    method : {"maxstat", "youden"}
        How the cut is chosen in every resample (same settings as on the full data).
    cutpoint : float or None
        The cut chosen on the full data.
    cutpoints : ndarray, shape (B,)
        The cut chosen in each resample (``nan`` if none could be chosen), for the histogram.
    lower, upper : float or None
        Percentile interval of the cut (``conf_level``; quantile type 7).
    oob_log_hr : ndarray, shape (B,)
        Log HR of the dichotomized variable (cut from the resample) estimated on the
        patients not drawn (``nan`` if not estimable there).
    oob_hr, oob_hr_median, oob_lower, oob_upper : float or None
        ``exp`` of the mean, median and percentile interval of ``oob_log_hr``.
    contrast : str
        Which group the HR compares with which.
    B, seed, n_failed, n_oob_used, n_firth : int
        Resamples, seed, resamples with no valid cut, out-of-bag fits used, fits that
        switched to Firth (monotone likelihood).
    """

    method: Literal["maxstat", "youden"]
    cutpoint: float | None
    cutpoints: NDArray[np.float64]
    lower: float | None
    upper: float | None
    conf_level: float
    oob_log_hr: NDArray[np.float64]
    oob_hr: float | None
    oob_hr_median: float | None
    oob_lower: float | None
    oob_upper: float | None
    contrast: str
    B: int
    seed: int | None
    n_failed: int
    n_oob_used: int
    n_firth: int
    minprop: float
    direction: Direction | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    maxprop: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "cutpoints", read_only(self.cutpoints, dtype=np.float64))
        object.__setattr__(self, "oob_log_hr", read_only(self.oob_log_hr, dtype=np.float64))

    def histogram(self) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Distinct bootstrap cuts and how often each was chosen (for the report)."""
        c = self.cutpoints[np.isfinite(self.cutpoints)]
        vals, counts = np.unique(c, return_counts=True)
        return vals, counts.astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (the B cuts are summarized as a histogram)."""
        vals, counts = self.histogram()
        return {
            "method": self.method,
            "cutpoint": none_if_nan(self.cutpoint),
            "lower": none_if_nan(self.lower),
            "upper": none_if_nan(self.upper),
            "conf_level": float(self.conf_level),
            "interval_method": "percentile",
            "B": int(self.B),
            "seed": self.seed,
            "n_failed": int(self.n_failed),
            "histogram": {
                "cutpoints": [float(v) for v in vals],
                "counts": [int(c) for c in counts],
            },
            "oob_hr": none_if_nan(self.oob_hr),
            "oob_hr_median": none_if_nan(self.oob_hr_median),
            "oob_lower": none_if_nan(self.oob_lower),
            "oob_upper": none_if_nan(self.oob_upper),
            "n_oob_used": int(self.n_oob_used),
            "n_firth": int(self.n_firth),
            "contrast": self.contrast,
            "minprop": float(self.minprop),
            **({} if self.maxprop is None else {"maxprop": float(self.maxprop)}),
            "direction": self.direction,
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class OptimismResult:
    """Apparent, optimism-corrected and out-of-bag HR of a maxstat-dichotomized variable.

    Attributes
    ----------
    maxstat : MaxstatResult
        The cut-off chosen on the full data, with the adjusted p-value.
    apparent : HazardRatio
        HR low vs high at that cut-off on the full data (what papers report).
    optimism : float
        Mean over resamples of ``s_b (b_boot - b_orig)``: the log HR at the resample's own
        cut in the resample minus the log HR of that same cut on the original data, oriented
        by the sign ``s_b`` of the resample's effect (the search maximizes |effect|).
    corrected_log_hr, corrected_hr : float
        ``sign(b_app) * (|b_app| - optimism)`` and its exponential (Harrell's correction).
    bootstrap : CutpointBootstrap
        Cut-off distribution and out-of-bag HR from the same resamples.
    boot_log_hr_apparent, boot_log_hr_original : ndarray, shape (B,)
        The two log HRs per resample (``nan`` where not estimable).
    n_used : int
        Resamples entering the optimism mean.
    continuous_per_unit, continuous_per_sd : HazardRatio
        Cox HR of the untransformed variable per unit and per (sample) SD.
    sd : float
        Sample standard deviation of x (ddof = 1).
    sentence : str
        Plain-language summary for the report.
    """

    maxstat: MaxstatResult
    apparent: HazardRatio
    optimism: float
    corrected_log_hr: float
    corrected_hr: float
    bootstrap: CutpointBootstrap
    boot_log_hr_apparent: NDArray[np.float64]
    boot_log_hr_original: NDArray[np.float64]
    n_used: int
    continuous_per_unit: HazardRatio
    continuous_per_sd: HazardRatio
    sd: float
    sentence: str
    firth: FirthPolicy = "auto"
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for name in ("boot_log_hr_apparent", "boot_log_hr_original"):
            object.__setattr__(self, name, read_only(getattr(self, name), dtype=np.float64))

    def to_dict(self) -> dict[str, Any]:
        """Return the maxstat ``cutpoints`` entry keys plus the optimism/bootstrap keys."""
        out = self.maxstat.to_dict()
        out["hr_low_vs_high"] = self.apparent.to_dict()
        out.update(
            {
                "optimism": {
                    "method": "harrell bootstrap",
                    "optimism_log_hr": none_if_nan(self.optimism),
                    "corrected_log_hr": none_if_nan(self.corrected_log_hr),
                    "corrected_hr": none_if_nan(self.corrected_hr),
                    "n_used": int(self.n_used),
                    "firth": self.firth,
                },
                "bootstrap": self.bootstrap.to_dict(),
                "continuous": {
                    "per_unit": self.continuous_per_unit.to_dict(),
                    "per_sd": self.continuous_per_sd.to_dict(),
                    "sd": none_if_nan(self.sd),
                },
                "sentence": self.sentence,
            }
        )
        out["notes"] = list(self.maxstat.notes) + list(self.notes)
        return out


# ---------------------------------------------------------------------------------------
# Scores and the maximally selected statistic
# ---------------------------------------------------------------------------------------


def _logrank_scores(t: NDArray[np.float64], e: NDArray[np.float64]) -> NDArray[np.float64]:
    # exactRankTests::cscores.Surv: rt is the *maximum* rank within tied times, so the
    # denominator N - rt + 1 is (number with a larger time) + 1, not the number at risk.
    n = t.size
    ot = np.argsort(t, kind="stable")
    rt = np.searchsorted(t[ot], t, side="right")
    fact = e / (n - rt + 1)
    return e - np.cumsum(fact[ot])[rt - 1]


def logrank_scores(time: ArrayLike, is_event: ArrayLike) -> NDArray[np.float64]:
    """Log-rank scores as ``exactRankTests::cscores(Surv(time, event), int = FALSE)``.

    Examples
    --------
    >>> logrank_scores([1, 2, 3], [1, 1, 0]).round(4).tolist()
    [0.6667, 0.1667, -0.8333]
    """
    t, e = as_time_event(time, is_event)
    return _logrank_scores(t, e.astype(np.float64))


def _as_x(x: ArrayLike, n: int, name: str = "x") -> NDArray[np.float64]:
    xv = np.asarray(x, dtype=np.float64)
    if xv.ndim != 1 or xv.size != n:
        raise InputError(f"{name} must be a 1-d array of length {n}, got shape {xv.shape}")
    if not np.all(np.isfinite(xv)):
        raise InputError(
            f"{name} has missing or infinite values",
            fix="drop the rows with a missing value first (report them as n_excluded_missing)",
        )
    return xv


def _candidate_m(xs: NDArray[np.float64], minprop: float, maxprop: float) -> NDArray[np.intp]:
    """R cmaxstat: m = which(!duplicated(sort(x))) - 1, filtered by minprop/maxprop."""
    n = xs.size
    m = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    if minprop == 0 and maxprop == 1:
        # R drops the first and the last entry here (m[2:(length(m) - 1)]); with fewer
        # than three distinct values R's indexing misbehaves, we keep every split instead.
        m = m[1:-1] if m.size >= 3 else m[1:]
    else:
        lo, hi = math.floor(n * minprop), math.floor(n * maxprop)
        if np.all(m < lo):
            raise InputError("minprop too large: no cut leaves that share in the low group")
        if np.all(m > hi):
            raise InputError("maxprop too small: no cut leaves that share in the low group")
        m = m[(m >= max(1, lo)) & (m <= hi)]
    if m.size < 1:
        raise InputError(
            "no candidate cut-off between minprop and maxprop",
            fix="the variable has too few distinct values for this minprop",
        )
    return m


def _standardized(
    cs: NDArray[np.float64], m: NDArray[Any], n: float, ss: Any, s2: Any
) -> NDArray[np.float64]:
    # R: E <- m/N * ss; V <- m * (N - m)/(N^2 * (N - 1)) * (N * sum(y^2) - ss^2)
    e = m / n * ss
    v = m * (n - m) / (n**2 * (n - 1)) * (n * s2 - ss**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.abs((cs - e) / np.sqrt(v)), dtype=np.float64)


def _first_max(stat: NDArray[np.float64]) -> int:
    top = float(np.max(stat))
    return int(np.argmax(stat >= top - _TIE_RTOL * abs(top)))


def p_lausen92(b: float, minprop: float = 0.1, maxprop: float = 0.9) -> float:
    """Lausen & Schumacher (1992) approximation, as R ``maxstat:::pLausen92``.

    Examples
    --------
    >>> round(p_lausen92(3.0), 6)
    0.057844
    """
    if b < 1:
        return 1.0
    db = float(norm.pdf(b))
    if minprop <= 0 or maxprop >= 1:
        return math.inf  # R: log(Inf); the 1992 bound needs both limits inside (0, 1)
    p = 4 * db / b + db * (b - 1 / b) * math.log(
        (maxprop * (1 - minprop)) / ((1 - maxprop) * minprop)
    )
    return max(p, 0.0)


def p_lausen94(b: float, n: int, m: ArrayLike) -> float:
    """Lausen, Sauerbrei & Schumacher (1994) improved Bonferroni bound, as R ``pLausen94``.

    ``m`` are the low-group sizes of the candidate cuts. Reported raw (it can exceed 1).
    The normal tail is computed as R does, ``1 - (pnorm(b) - pnorm(-b))``, so that tiny
    p-values agree with R.
    """
    mv = np.asarray(m, dtype=np.float64)
    if mv.size <= 1:
        d = 0.0
    else:
        m1, m2 = mv[:-1], mv[1:]
        t = np.sqrt(1 - m1 * (n - m2) / ((n - m1) * m2))
        d = float(np.sum(1 / np.pi * np.exp(-(b**2) / 2) * (t - (b**2 / 4 - 1) * (t**3) / 6)))
    return float(1 - (special.ndtr(b) - special.ndtr(-b)) + d)


def _critical(fun: Callable[[float], float], alpha: float) -> float | None:
    # R finds quant with optimize(|p(b) - alpha|, c(0, 10)) (tolerance ~1e-4); the exact root
    try:
        return float(optimize.brentq(lambda b: fun(b) - alpha, 1.0, 50.0, xtol=1e-12))
    except ValueError:
        return None


def _perm_pvalue(
    ys: NDArray[np.float64],
    m: NDArray[np.intp],
    stat: float,
    n_perm: int,
    rng: np.random.Generator,
) -> float:
    """Conditional Monte-Carlo p (R maxstat condMC): share of permutations with M > observed."""
    n = ys.size
    ss, s2 = float(np.sum(ys)), float(np.sum(ys * ys))
    chunk = max(1, min(n_perm, 2_000_000 // max(n, 1)))
    exceed = 0
    done = 0
    while done < n_perm:
        b = min(chunk, n_perm - done)
        perm = rng.permuted(np.broadcast_to(ys, (b, n)), axis=1)
        cs = np.cumsum(perm, axis=1)[:, m - 1]
        mx = _standardized(cs, m, float(n), ss, s2).max(axis=1)
        # strictly greater, as R; the tolerance keeps permutations that reproduce the
        # observed statistic (common with tied scores) from counting by rounding noise
        exceed += int(np.sum(mx > stat * (1 + 1e-10)))
        done += b
    return exceed / n_perm


def _maxstat_core(
    scores: NDArray[np.float64],
    x: NDArray[np.float64],
    *,
    minprop: float,
    maxprop: float,
) -> tuple[NDArray[np.float64], NDArray[np.intp], NDArray[np.float64], NDArray[np.intp]]:
    o = np.argsort(x, kind="stable")
    xs, ys = x[o], scores[o]
    m = _candidate_m(xs, minprop, maxprop)
    n = float(xs.size)
    ss, s2 = float(np.sum(ys)), float(np.sum(ys * ys))
    if not n * s2 - ss**2 > 0:
        raise EstimationError(
            "the outcome scores are constant (no events, or all patients alike): "
            "no cut-off can be chosen"
        )
    stat = _standardized(np.cumsum(ys)[m - 1], m, n, ss, s2)
    return xs, m, stat, o


#: R ``maxstat.test``'s default largest share of the low group, whatever ``minprop``.
MAXPROP_DEFAULT = 0.9


def _check_props(minprop: float, maxprop: float | None) -> float:
    """The largest low-group share: ``maxprop``, or R's default 0.9 when not given.

    R keeps ``maxprop = 0.9`` when only ``minprop`` changes (the search is then not
    symmetric); ``1 - minprop`` would move the upper bound and change the p-value.
    """
    mp = MAXPROP_DEFAULT if maxprop is None else maxprop
    if not (0 <= minprop < 1 and 0 < mp <= 1 and minprop <= mp):
        raise InputError(f"need 0 <= minprop <= maxprop <= 1, got {minprop}, {mp}")
    return mp


def _maxstat_from_scores(
    scores: NDArray[np.float64],
    x: NDArray[np.float64],
    *,
    minprop: float,
    maxprop: float,
    pmethod: PMethod,
    n_perm: int,
    seed: int | None,
    alpha: float,
) -> tuple[dict[str, Any], NDArray[np.bool_]]:
    if pmethod not in ("Lau94", "Lau92", "condMC"):
        raise InputError(f"pmethod must be 'Lau94', 'Lau92' or 'condMC', got {pmethod!r}")
    n = x.size
    xs, m, stat, o = _maxstat_core(scores, x, minprop=minprop, maxprop=maxprop)
    k = _first_max(stat)
    big = float(stat[k])
    cut = float(xs[m[k] - 1])
    p92 = p_lausen92(big, minprop, maxprop)
    p94 = p_lausen94(big, n, m)
    if pmethod == "condMC" and n_perm <= 0:
        n_perm = 10_000  # R's default B for condMC
    p_perm = None
    if n_perm > 0:
        p_perm = _perm_pvalue(scores[o], m, big, n_perm, np.random.default_rng(seed))
    if pmethod == "Lau92":
        crit = _critical(lambda b: p_lausen92(b, minprop, maxprop), alpha)
        p_adj: float | None = p92
    elif pmethod == "Lau94":
        crit = _critical(lambda b: p_lausen94(b, n, m), alpha)
        p_adj = p94
    else:
        crit, p_adj = None, p_perm
    low = x <= cut
    fields = {
        "cutpoint": cut,
        "statistic": big,
        "p_adjusted": p_adj,
        "p_adjusted_method": pmethod,
        "p_lau92": p92,
        "p_lau94": p94,
        "p_permutation": p_perm,
        "n_permutations": int(n_perm),
        "seed": seed,
        "critical_value": crit,
        "alpha": alpha,
        "minprop": minprop,
        "maxprop": maxprop,
        "n": int(n),
        "n_low": int(m[k]),
        "n_high": int(n - m[k]),
        "profile": CutpointProfile(xs[m - 1], stat, m.astype(np.int64)),
    }
    return fields, low


def maxstat_cutpoint(
    time: ArrayLike,
    is_event: ArrayLike,
    x: ArrayLike,
    *,
    minprop: float = 0.1,
    maxprop: float | None = None,
    pmethod: PMethod = "Lau94",
    n_perm: int = 0,
    seed: int | None = None,
    alpha: float = 0.05,
    conf_level: float = 0.95,
    ties: Ties = "efron",
    firth: FirthPolicy = "auto",
) -> MaxstatResult:
    """Choose a cut-off by the maximally selected log-rank statistic, with adjusted p.

    Parameters
    ----------
    time, is_event : array_like, shape (n,)
        Survival endpoint (True = event).
    x : array_like, shape (n,)
        The continuous variable (no missing values).
    minprop, maxprop : float
        Smallest / largest share of patients in the low group (``maxprop`` defaults to
        0.9 whatever ``minprop``, as R).
    pmethod : {"Lau94", "Lau92", "condMC"}
        Which p-value is ``p_adjusted``; Lau92 and Lau94 are always reported.
    n_perm : int
        Conditional Monte-Carlo permutations (0: none unless ``pmethod="condMC"``, which
        then draws R's default 10,000).
    seed : int, optional
        Seed of the numpy Generator used for permutations.
    alpha : float
        Level for the critical value of M.
    conf_level, ties, firth : float, str, str
        For the HR low vs high at the cut-off: Cox with these ties, switched to Firth
        (``"auto"``) when the likelihood is monotone, always (``"always"``) or never.

    Returns
    -------
    MaxstatResult

    Notes
    -----
    Equals R ``maxstat::maxstat.test(Surv(time, event) ~ x, smethod = "LogRank",
    pmethod = ..., minprop = , maxprop = )``: log-rank scores (``exactRankTests::cscores``,
    ties given the maximum rank), statistic standardized with the permutation variance,
    candidates = observed values with the low-group share in [minprop, maxprop] (as
    ``floor(N * prop)``), low = ``x <= cut``, smallest cut on ties of the maximum. O(N log N).

    Examples
    --------
    >>> r = maxstat_cutpoint([1, 2, 3, 4, 5, 6, 7, 8], [1, 1, 1, 0, 1, 0, 1, 0],
    ...                      [1, 2, 3, 4, 5, 6, 7, 8], minprop=0.25)
    >>> r.cutpoint, r.n_low
    (3.0, 3)
    """
    t, e = as_time_event(time, is_event)
    xv = _as_x(x, t.size)
    mp = _check_props(minprop, maxprop)
    scores = _logrank_scores(t, e.astype(np.float64))
    fields, low = _maxstat_from_scores(
        scores,
        xv,
        minprop=minprop,
        maxprop=mp,
        pmethod=pmethod,
        n_perm=n_perm,
        seed=seed,
        alpha=alpha,
    )
    hr = _hr_single(
        t,
        e,
        low.astype(np.float64),
        conf_level=conf_level,
        ties=ties,
        firth=firth,
        contrast="low (x <= cutpoint) vs high",
    )
    notes = (hr.note,) if hr.note else ()
    return MaxstatResult(
        **fields,
        events_low=int(np.sum(e & low)),
        events_high=int(np.sum(e & ~low)),
        score_method="LogRank",
        outcome="survival",
        hr_low_vs_high=hr,
        notes=notes,
    )


def maxstat_cutpoint_binary(
    is_success: ArrayLike,
    x: ArrayLike,
    *,
    smethod: Literal["Data", "Wilcoxon"] = "Data",
    minprop: float = 0.1,
    maxprop: float | None = None,
    pmethod: PMethod = "Lau94",
    n_perm: int = 0,
    seed: int | None = None,
    alpha: float = 0.05,
) -> MaxstatResult:
    """Maximally selected statistic for a binary outcome (a ``[[cutpoint]]`` on a proportion).

    Parameters
    ----------
    is_success : array_like of bool or 0/1, shape (n,)
        The binary outcome (e.g. response).
    x : array_like, shape (n,)
        The continuous variable.
    smethod : {"Data", "Wilcoxon"}
        R ``maxstat.test(y ~ x, smethod = )`` scores: the 0/1 values themselves or their
        mid-ranks. For a 0/1 outcome both give the same statistic (mid-ranks are an affine
        function of y and the standardized statistic is affine-invariant).
    minprop, maxprop, pmethod, n_perm, seed, alpha
        As in :func:`maxstat_cutpoint`.

    Returns
    -------
    MaxstatResult
        With ``outcome="binary"``, ``events_*`` = successes per group, the proportions per
        group, and no hazard ratio.
    """
    y = np.asarray(is_success)
    yv = y.astype(np.float64)
    if yv.ndim != 1 or not np.all(np.isin(yv, (0.0, 1.0))):
        raise InputError("is_success must be a 1-d boolean or 0/1 array")
    xv = _as_x(x, yv.size)
    mp = _check_props(minprop, maxprop)
    if smethod == "Data":
        scores = yv
    elif smethod == "Wilcoxon":
        from scipy.stats import rankdata

        scores = rankdata(yv, method="average").astype(np.float64)
    else:
        raise InputError(f"smethod must be 'Data' or 'Wilcoxon', got {smethod!r}")
    fields, low = _maxstat_from_scores(
        scores,
        xv,
        minprop=minprop,
        maxprop=mp,
        pmethod=pmethod,
        n_perm=n_perm,
        seed=seed,
        alpha=alpha,
    )
    s = yv.astype(bool)
    n_low, n_high = int(low.sum()), int((~low).sum())
    return MaxstatResult(
        **fields,
        events_low=int(np.sum(s & low)),
        events_high=int(np.sum(s & ~low)),
        score_method=smethod,
        outcome="binary",
        proportion_low=float(np.sum(s & low) / n_low) if n_low else None,
        proportion_high=float(np.sum(s & ~low) / n_high) if n_high else None,
    )


#: Short name used by the pipeline (``cli/analyses.py``); same function.
maxstat_binary = maxstat_cutpoint_binary


# ---------------------------------------------------------------------------------------
# Batched one-covariate Cox (Efron / Breslow, optional Firth) over B weight vectors
# ---------------------------------------------------------------------------------------


class _TimeFrame:
    """Rows sorted by time with the distinct-time groups, shared by all batched fits."""

    def __init__(self, t: NDArray[np.float64], e: NDArray[np.bool_]) -> None:
        self.order = np.argsort(t, kind="stable")
        ts = t[self.order]
        self.event = e[self.order].astype(np.float64)
        self.starts = np.flatnonzero(np.r_[True, ts[1:] != ts[:-1]])
        self.n = t.size


def _rsum(a: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.cumsum(a[:, ::-1], axis=1)[:, ::-1]


def _cox_terms(
    tf: _TimeFrame,
    z: NDArray[np.float64],
    w: NDArray[np.float64],
    beta: NDArray[np.float64],
    ties: Ties,
    third: bool,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Row-wise log-likelihood, score, information and dI/dbeta for one covariate.

    ``z`` and ``w`` are (B, n) in time order; integer weights are replication counts, so
    Efron's correction runs over the replicated deaths exactly as R on ``data[idx, ]``.
    """
    eta = beta[:, None] * z
    shift = np.max(np.where(w > 0, eta, -np.inf), axis=1)
    shift = np.where(np.isfinite(shift), shift, 0.0)
    r = w * np.exp(np.minimum(eta - shift[:, None], 700.0))
    ev = tf.event
    st = tf.starts
    rz = r * z
    rzz = rz * z
    s0, s1, s2 = (_rsum(np.add.reduceat(a, st, axis=1)) for a in (r, rz, rzz))
    d0, d1, d2 = (np.add.reduceat(a * ev, st, axis=1) for a in (r, rz, rzz))
    nd = np.add.reduceat(w * ev, st, axis=1)
    zd = np.add.reduceat(w * ev * z, st, axis=1)
    if third:
        rzzz = rzz * z
        s3 = _rsum(np.add.reduceat(rzzz, st, axis=1))
        d3 = np.add.reduceat(rzzz * ev, st, axis=1)
    ll = beta * zd.sum(axis=1)
    u = zd.sum(axis=1)
    info = np.zeros_like(beta)
    dinfo = np.zeros_like(beta)
    n_terms = 1 if ties == "breslow" else round(float(nd.max())) if nd.size else 0
    for k in range(n_terms):  # Efron tie positions: a handful
        if ties == "breslow":
            use = nd > 0
            f = np.zeros_like(nd)
            mult = nd
        else:
            use = nd > k + 0.5
            f = np.where(use, k / np.where(use, nd, 1.0), 0.0)
            mult = use.astype(np.float64)
        a0 = np.where(use, s0 - f * d0, 1.0)
        mu = np.where(use, (s1 - f * d1) / a0, 0.0)
        m2 = np.where(use, (s2 - f * d2) / a0, 0.0)
        ll = ll - np.sum(mult * np.where(use, np.log(a0) + shift[:, None], 0.0), axis=1)
        u = u - np.sum(mult * mu, axis=1)
        info = info + np.sum(mult * (m2 - mu * mu), axis=1)
        if third:
            m3 = np.where(use, (s3 - f * d3) / a0, 0.0)
            dinfo = dinfo + np.sum(mult * (m3 - 3 * mu * m2 + 2 * mu**3), axis=1)
    return ll, u, info, dinfo


def _binary_monotone(
    tf: _TimeFrame, z: NDArray[np.float64], w: NDArray[np.float64]
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Per row: (monotone likelihood, not estimable) for a 0/1 covariate.

    Monotone increasing iff every event time with z=0 deaths has no z=1 patient at risk,
    and some time has a z=1 death with z=0 patients at risk (likewise decreasing). Not
    estimable: no event time with both groups at risk (flat likelihood).
    """
    ev = tf.event
    st = tf.starts
    n1 = _rsum(np.add.reduceat(w * z, st, axis=1))
    n0 = _rsum(np.add.reduceat(w * (1 - z), st, axis=1))
    d1 = np.add.reduceat(w * z * ev, st, axis=1)
    d0 = np.add.reduceat(w * (1 - z) * ev, st, axis=1)
    informative = ((d0 + d1) > 0) & (n1 > 0) & (n0 > 0)
    flat = ~np.any(informative, axis=1)
    inc = np.all((d0 == 0) | (n1 == 0), axis=1)
    dec = np.all((d1 == 0) | (n0 == 0), axis=1)
    return (inc | dec) & ~flat, flat


def _newton_batched(
    tf: _TimeFrame,
    z: NDArray[np.float64],
    w: NDArray[np.float64],
    ties: Ties,
    firth: NDArray[np.bool_],
    *,
    max_iter: int = 60,
    tol: float = 1e-10,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """Newton-Raphson with step-halving, all rows at once; Firth rows use the modified score.

    Returns (beta, information at beta, converged).
    """
    nb = z.shape[0]
    beta = np.zeros(nb)
    ll, u, info, dinfo = _cox_terms(tf, z, w, beta, ties, third=bool(firth.any()))

    def objective(ll_: Any, u_: Any, info_: Any, dinfo_: Any) -> tuple[Any, Any]:
        with np.errstate(divide="ignore", invalid="ignore"):
            obj = np.where(firth, ll_ + 0.5 * np.log(info_), ll_)
            score = np.where(firth, u_ + 0.5 * dinfo_ / info_, u_)
        return obj, score

    obj, score = objective(ll, u, info, dinfo)
    active = np.isfinite(obj) & (info > 0)
    done = ~active
    conv = np.zeros(nb, dtype=bool)
    for _ in range(max_iter):
        rows = np.flatnonzero(~done)
        if rows.size == 0:
            break
        step = np.clip(score[rows] / info[rows], -5.0, 5.0)
        zr, wr, fr = z[rows], w[rows], firth[rows]
        accepted = np.zeros(rows.size, dtype=bool)
        new_b = beta[rows].copy()
        new_vals = [ll[rows].copy(), u[rows].copy(), info[rows].copy(), dinfo[rows].copy()]
        for _h in range(30):
            pend = np.flatnonzero(~accepted)
            if pend.size == 0:
                break
            cand = beta[rows][pend] + step[pend]
            vals = _cox_terms(tf, zr[pend], wr[pend], cand, ties, third=bool(fr[pend].any()))
            with np.errstate(divide="ignore", invalid="ignore"):
                o_c = np.where(fr[pend], vals[0] + 0.5 * np.log(vals[2]), vals[0])
                s_c = np.where(fr[pend], vals[1] + 0.5 * vals[3] / vals[2], vals[1])
            o_old = obj[rows][pend]
            ok = np.isfinite(o_c) & (
                (o_c > o_old)
                | (
                    (o_c >= o_old - 1e-12 * np.maximum(1.0, np.abs(o_old)))
                    & (np.abs(s_c) < np.abs(score[rows][pend]))
                )
            )
            idx = pend[ok]
            new_b[idx] = cand[ok]
            for j in range(4):
                new_vals[j][idx] = vals[j][ok]
            accepted[idx] = True
            step[pend[~ok]] /= 2.0
        # rows where no step was accepted keep their value: nothing better within rounding
        beta[rows] = new_b
        ll[rows], u[rows], info[rows], dinfo[rows] = new_vals
        obj, score = objective(ll, u, info, dinfo)
        small = (np.abs(step) < tol) | ~accepted
        fin = small & (np.abs(score[rows]) < 1e-6 * np.maximum(1.0, info[rows]))
        conv[rows[fin]] = True
        done[rows[small]] = True
    return beta, info, conv


def _fit_binary_batched(
    tf: _TimeFrame,
    z_t: NDArray[np.float64],
    w_t: NDArray[np.float64],
    ties: Ties,
    policy: FirthPolicy,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """Log HR and SE of a 0/1 covariate for every row; rows in time order.

    Returns (beta, se, used_firth); beta is nan where not estimable (or monotone with
    ``policy="never"``).
    """
    mono, flat = _binary_monotone(tf, z_t, w_t)
    use_firth = np.ones_like(mono) if policy == "always" else mono.copy()
    if policy == "never":
        use_firth[:] = False
    use_firth &= ~flat
    beta, info, conv = _newton_batched(tf, z_t, w_t, ties, use_firth)
    bad = flat | ~conv | ((policy == "never") & mono)
    beta = np.where(bad, np.nan, beta)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where(bad, np.nan, 1.0 / np.sqrt(info))
    return beta, se, use_firth & ~bad


def _fit_single_fallback(
    t: NDArray[np.float64], e: NDArray[np.bool_], z: NDArray[np.float64], ties: Ties
) -> tuple[float, float]:
    tf = _TimeFrame(t, e)
    zt = (z - z.mean())[tf.order][None, :]
    wt = np.ones_like(zt)
    beta, info, conv = _newton_batched(tf, zt, wt, ties, np.zeros(1, dtype=bool))
    if not conv[0] or not info[0] > 0:
        raise EstimationError("Cox fit did not converge")
    return float(beta[0]), float(1.0 / math.sqrt(info[0]))


def _hr_single(
    t: NDArray[np.float64],
    e: NDArray[np.bool_],
    z: NDArray[np.float64],
    *,
    conf_level: float,
    ties: Ties,
    firth: FirthPolicy,
    contrast: str,
    scale: float = 1.0,
) -> HazardRatio:
    """One Cox HR (per ``scale`` units of z), switching to Firth on monotone likelihood."""
    if not e.any():
        return HazardRatio(
            None,
            None,
            None,
            None,
            None,
            None,
            "cox",
            ties,
            conf_level,
            contrast,
            "no events: HR not estimable",
        )
    if np.all(z == z[0]):
        return HazardRatio(
            None,
            None,
            None,
            None,
            None,
            None,
            "cox",
            ties,
            conf_level,
            contrast,
            "one group is empty: HR not estimable",
        )
    mono = detect_monotone_likelihood(t, e, z)
    if firth == "always" or (firth == "auto" and mono.detected):
        fr = firth_cox(t, e, z, names=["x"], conf_level=conf_level)
        note = None
        if mono.detected:
            note = (
                "monotone likelihood (an event pattern separates the groups): the ordinary "
                "Cox estimate is infinite, so Firth's penalized likelihood was used "
                "(Heinze & Schemper 2001; profile penalized-likelihood interval)"
            )
        b, se = float(fr.coef[0]) * scale, float(fr.se[0]) * abs(scale)
        lo, hi = np.log(fr.lower[0]) * scale, np.log(fr.upper[0]) * scale
        lo, hi = (lo, hi) if scale > 0 else (hi, lo)
        return HazardRatio(
            math.exp(b),
            none_if_nan(math.exp(lo)),
            none_if_nan(math.exp(hi)),
            b,
            se,
            none_if_nan(fr.p[0]),
            "firth",
            "breslow",
            conf_level,
            contrast,
            note,
        )
    if firth == "never" and mono.detected:
        return HazardRatio(
            None,
            None,
            None,
            None,
            None,
            None,
            "cox",
            ties,
            conf_level,
            contrast,
            "monotone likelihood: the Cox HR is infinite (Firth not requested)",
        )
    coef, se = _cox_fit_1d(t, e, z, ties)
    b, s = coef * scale, se * abs(scale)
    zq = z_value(conf_level)
    from scipy.stats import chi2

    return HazardRatio(
        math.exp(b),
        math.exp(b - zq * s),
        math.exp(b + zq * s),
        b,
        s,
        float(chi2.sf((b / s) ** 2, 1)),
        "cox",
        ties,
        conf_level,
        contrast,
        None,
    )


def _cox_fit_1d(
    t: NDArray[np.float64], e: NDArray[np.bool_], z: NDArray[np.float64], ties: Ties
) -> tuple[float, float]:
    """Coefficient and SE of one covariate: ``mmrwe.stats.cox.cox_fit`` when available."""
    try:
        from mmrwe.stats.cox import cox_fit  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return _fit_single_fallback(t, e, z, ties)
    res = cox_fit(t, e, z[:, None], names=["x"], ties=ties, concordance=False)
    return float(np.asarray(res.coef)[0]), float(np.asarray(res.se)[0])


# ---------------------------------------------------------------------------------------
# ROC / Youden (cutpointr) and DeLong AUC (pROC)
# ---------------------------------------------------------------------------------------


def _delong(
    pos: NDArray[np.float64], neg: NDArray[np.float64], conf_level: float
) -> tuple[float, float | None, float | None]:
    """AUC = P(pos > neg) + P(=)/2 and its DeLong CI as ``pROC:::ci.auc.delong``."""
    m, n = pos.size, neg.size
    sn = np.sort(neg)
    sp = np.sort(pos)
    # placements: for each case, share of controls below (+ half of ties), and vice versa
    v10 = (np.searchsorted(sn, pos, "left") + np.searchsorted(sn, pos, "right")) / (2.0 * n)
    v01 = ((m - np.searchsorted(sp, neg, "right")) + (m - np.searchsorted(sp, neg, "left"))) / (
        2.0 * m
    )
    theta = float(v10.mean())
    if m <= 1 or n <= 1:
        return theta, None, None
    sx = float(np.sum((v10 - theta) ** 2) / (m - 1))
    sy = float(np.sum((v01 - theta) ** 2) / (n - 1))
    sd = math.sqrt(sx / m + sy / n)
    q = 1 - (1 - conf_level) / 2
    lo = float(norm.ppf(1 - q, loc=theta, scale=sd)) if sd > 0 else theta
    hi = float(norm.ppf(q, loc=theta, scale=sd)) if sd > 0 else theta
    return theta, min(max(lo, 0.0), 1.0), min(max(hi, 0.0), 1.0)


def youden_cutpoint(
    x: ArrayLike,
    is_event: ArrayLike,
    *,
    direction: Direction = ">=",
    tie_rule: Literal["median"] = "median",
    tol_metric: float = 1e-6,
    conf_level: float = 0.95,
) -> YoudenResult:
    """Choose the ROC cut-off that maximizes Youden's J = sensitivity + specificity - 1.

    Parameters
    ----------
    x : array_like, shape (n,)
        The continuous variable.
    is_event : array_like of bool, shape (n,)
        The class: True if the event was observed during follow-up.
    direction : {">=", "<="}
        ``">="``: the event is predicted when ``x >= cut``; ``"<="``: when ``x <= cut``.
    tie_rule : {"median"}
        Cuts within ``tol_metric`` of the best J are tied and replaced by their median
        (cutpointr ``break_ties = median``), which need not be an observed value.
    tol_metric : float
        cutpointr's ``tol_metric`` (default 1e-6).
    conf_level : float
        Level of the DeLong AUC interval.

    Returns
    -------
    YoudenResult

    Notes
    -----
    Equals ``cutpointr(data, x, class, direction = , pos_class = 1, method = maximize_metric,
    metric = youden, break_ties = median)``: candidates are the observed values plus
    +-Inf (predict nobody), sensitivity and specificity are those of the rule at the
    returned cut. AUC and its CI equal ``pROC::ci.auc(roc(class, x, direction =), method =
    "delong")`` with the direction fixed (``"<"`` for ``">="``).

    Examples
    --------
    >>> r = youden_cutpoint([1, 2, 3, 4, 5, 6], [0, 0, 1, 0, 1, 1])
    >>> r.cutpoint, r.sensitivity, r.specificity
    (4.0, 0.6666666666666666, 0.6666666666666666)
    """
    if direction not in ("<=", ">="):
        raise InputError(f"direction must be '<=' or '>=', got {direction!r}")
    if tie_rule != "median":
        raise InputError(f"tie_rule must be 'median', got {tie_rule!r}")
    cls = np.asarray(is_event).astype(np.float64)
    if cls.ndim != 1 or not np.all(np.isin(cls, (0.0, 1.0))):
        raise InputError("is_event must be a 1-d boolean or 0/1 array")
    xv = _as_x(x, cls.size)
    pos_mask = cls == 1
    n_pos, n_neg = int(pos_mask.sum()), int((~pos_mask).sum())
    if n_pos == 0 or n_neg == 0:
        raise EstimationError("both classes (event and no event) are needed for a ROC cut-off")
    # work in "predict when s >= cut" with s = x (">=") or -x ("<=")
    s = xv if direction == ">=" else -xv
    o = np.argsort(-s, kind="stable")
    ss = s[o]
    last = np.r_[ss[1:] != ss[:-1], True]  # last row of each distinct value (descending)
    tp = np.cumsum(pos_mask[o])[last].astype(np.float64)
    fp = np.cumsum(~pos_mask[o])[last].astype(np.float64)
    cuts_s = np.r_[np.inf, ss[last]]
    tp = np.r_[0.0, tp]
    fp = np.r_[0.0, fp]
    sens = tp / n_pos
    spec = (n_neg - fp) / n_neg
    j = sens + spec - 1
    best = float(np.max(j))
    tied = (j >= best - tol_metric) & (j <= best + tol_metric)
    tied_cuts = cuts_s[tied] if direction == ">=" else -cuts_s[tied]
    oc = float(np.median(tied_cuts))
    # metrics of the rule at the median cut: the smallest candidate s >= the cut
    oc_s = oc if direction == ">=" else -oc
    idx = int(np.max(np.flatnonzero(cuts_s >= oc_s)))
    auc, lo, hi = _delong(s[pos_mask], s[~pos_mask], conf_level)
    prof_cuts = cuts_s if direction == ">=" else -cuts_s
    srt = np.sort(xv)
    n_low = np.asarray(np.searchsorted(srt, prof_cuts, side="right"), dtype=np.int64)
    order = np.argsort(prof_cuts, kind="stable")
    notes: list[str] = []
    if tied_cuts.size > 1:
        notes.append(
            f"{tied_cuts.size} cut-offs tie for the best Youden index; their median is reported"
        )
    return YoudenResult(
        direction=direction,
        cutpoint=oc if math.isfinite(oc) else None,
        sensitivity=float(sens[idx]),
        specificity=float(spec[idx]),
        youden=float(j[idx]),
        auc=auc,
        auc_lower=lo,
        auc_upper=hi,
        conf_level=conf_level,
        tied_cutpoints=np.sort(tied_cuts),
        n=int(cls.size),
        n_events=n_pos,
        n_no_event=n_neg,
        tol_metric=tol_metric,
        profile=CutpointProfile(prof_cuts[order], j[order], n_low[order]),
        notes=tuple(notes),
    )


# ---------------------------------------------------------------------------------------
# Bootstrap engine: B x N count matrix
# ---------------------------------------------------------------------------------------


def _count_matrix(rng: np.random.Generator, n: int, b: int) -> NDArray[np.float64]:
    idx = rng.integers(0, n, size=(b, n))
    flat = (idx + n * np.arange(b)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)


class _XFrame:
    """Rows sorted by x with the distinct-value groups."""

    def __init__(self, x: NDArray[np.float64]) -> None:
        self.order = np.argsort(x, kind="stable")
        xs = x[self.order]
        self.starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
        self.values = xs[self.starts]


def _maxstat_batched(
    t: NDArray[np.float64],
    e: NDArray[np.float64],
    xf: _XFrame,
    w: NDArray[np.float64],
    minprop: float,
    maxprop: float,
) -> NDArray[np.float64]:
    """Maxstat cut per row of the count matrix ``w`` (as maxstat on ``data[idx, ]``)."""
    n = float(t.size)
    # log-rank scores on the replicated data: per distinct time, d / (N - C(t) + 1) with
    # C(t) the replicated count with time <= t (cscores' maximum-rank denominator)
    ot = np.argsort(t, kind="stable")
    ts = t[ot]
    tst = np.flatnonzero(np.r_[True, ts[1:] != ts[:-1]])
    tgroup = np.empty(t.size, dtype=np.intp)
    tgroup[ot] = np.cumsum(np.r_[True, ts[1:] != ts[:-1]]) - 1
    wt = w[:, ot]
    dead = np.add.reduceat(wt * e[ot], tst, axis=1)
    cnt = np.cumsum(np.add.reduceat(wt, tst, axis=1), axis=1)
    haz = np.cumsum(dead / (n - cnt + 1), axis=1)
    a = e[None, :] - haz[:, tgroup]  # (B, N) score of each original row in each resample
    wa = (w * a)[:, xf.order]
    gs = np.add.reduceat(wa, xf.starts, axis=1)
    gc = np.add.reduceat(w[:, xf.order], xf.starts, axis=1)
    cm = np.cumsum(gc, axis=1)
    cs = np.cumsum(gs, axis=1)
    ss = cs[:, -1:]
    s2 = np.sum(w * a * a, axis=1, keepdims=True)
    present = gc > 0
    valid = present & (cm < n - 0.5)
    if minprop == 0 and maxprop == 1:
        # R drops the last candidate (cut at the second-largest value) in this case
        last = valid.shape[1] - 1 - np.argmax(valid[:, ::-1], axis=1)
        valid[np.arange(valid.shape[0]), last] = False
    else:
        lo, hi = math.floor(n * minprop), math.floor(n * maxprop)
        valid &= (cm >= max(1, lo)) & (cm <= hi)
    stat = _standardized(cs, cm, n, ss, s2)
    stat = np.where(valid & np.isfinite(stat), stat, -np.inf)
    top = stat.max(axis=1, keepdims=True)
    k = np.argmax(stat >= top - _TIE_RTOL * np.abs(top), axis=1)
    cut = xf.values[k]
    return np.where(np.isfinite(top[:, 0]), cut, np.nan)


def _youden_batched(
    x: NDArray[np.float64],
    e: NDArray[np.float64],
    xf: _XFrame,
    w: NDArray[np.float64],
    direction: Direction,
    tol_metric: float,
) -> NDArray[np.float64]:
    """Youden cut (median of ties) per row of the count matrix ``w``."""
    pos = np.add.reduceat((w * e)[:, xf.order], xf.starts, axis=1)
    neg = np.add.reduceat((w * (1 - e))[:, xf.order], xf.starts, axis=1)
    present = (pos + neg) > 0
    n_pos = pos.sum(axis=1, keepdims=True)
    n_neg = neg.sum(axis=1, keepdims=True)
    if direction == ">=":
        tp = _rsum(pos)
        fp = _rsum(neg)
        # candidates in ascending order, then +Inf (predict nobody)
        values = np.r_[xf.values, np.inf]
    else:
        tp = np.cumsum(pos, axis=1)
        fp = np.cumsum(neg, axis=1)
        values = np.r_[-np.inf, xf.values]
    zero = np.zeros((w.shape[0], 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        if direction == ">=":
            tp_all = np.c_[tp, zero]
            fp_all = np.c_[fp, zero]
            pres = np.c_[present, np.ones((w.shape[0], 1), dtype=bool)]
        else:
            tp_all = np.c_[zero, tp]
            fp_all = np.c_[zero, fp]
            pres = np.c_[np.ones((w.shape[0], 1), dtype=bool), present]
        j = tp_all / n_pos + (n_neg - fp_all) / n_neg - 1
    j = np.where(pres & np.isfinite(j), j, -np.inf)
    best = j.max(axis=1, keepdims=True)
    tied = (j >= best - tol_metric) & (j <= best + tol_metric)
    k = tied.sum(axis=1)
    rank = np.cumsum(tied, axis=1)
    lo_r = (k - 1) // 2 + 1
    hi_r = k // 2 + 1
    lo_i = np.argmax(tied & (rank == lo_r[:, None]), axis=1)
    hi_i = np.argmax(tied & (rank == hi_r[:, None]), axis=1)
    with np.errstate(invalid="ignore"):
        cut = (values[lo_i] + values[hi_i]) / 2.0
    # an infinite cut (no cut beats predicting nobody) counts as no admissible cut
    bad = ~np.isfinite(best[:, 0]) | (n_pos[:, 0] == 0) | (n_neg[:, 0] == 0) | ~np.isfinite(cut)
    return np.where(bad, np.nan, cut)


def _group_z(
    x: NDArray[np.float64], cuts: NDArray[np.float64], method: str, direction: Direction
) -> NDArray[np.float64]:
    """0/1 indicator per row: low (x <= cut) for maxstat, predicted event for youden."""
    c = cuts[:, None]
    if method == "maxstat" or direction == "<=":
        return (x[None, :] <= c).astype(np.float64)
    return (x[None, :] >= c).astype(np.float64)


def _percentile(a: NDArray[np.float64], conf_level: float) -> tuple[float | None, float | None]:
    a = a[np.isfinite(a)]
    if a.size == 0:
        return None, None
    q = np.quantile(a, [(1 - conf_level) / 2, 1 - (1 - conf_level) / 2])
    return float(q[0]), float(q[1])


@dataclass(frozen=True, slots=True)
class _BootRun:
    cuts: NDArray[np.float64]
    boot_log_hr: NDArray[np.float64]  # in the resample
    orig_log_hr: NDArray[np.float64]  # same cut on the original data
    oob_log_hr: NDArray[np.float64]
    n_firth: int


def _run_bootstrap(
    t: NDArray[np.float64],
    e: NDArray[np.bool_],
    x: NDArray[np.float64],
    *,
    method: Literal["maxstat", "youden"],
    B: int,
    seed: int | None,
    minprop: float,
    maxprop: float,
    direction: Direction,
    tol_metric: float,
    ties: Ties,
    firth: FirthPolicy,
    need_apparent: bool,
) -> _BootRun:
    rng = np.random.default_rng(seed)
    n = t.size
    ef = e.astype(np.float64)
    xf = _XFrame(x)
    tf = _TimeFrame(t, e)
    chunk = max(1, min(B, 400_000 // max(n, 1)))
    cuts = np.empty(B)
    boot_b = np.full(B, np.nan)
    oob_b = np.full(B, np.nan)
    n_firth = 0
    done = 0
    while done < B:  # chunks bound the memory of the count matrix
        b = min(chunk, B - done)
        w = _count_matrix(rng, n, b)
        if method == "maxstat":
            c = _maxstat_batched(t, ef, xf, w, minprop, maxprop)
        else:
            c = _youden_batched(x, ef, xf, w, direction, tol_metric)
        sl = slice(done, done + b)
        cuts[sl] = c
        ok = np.isfinite(c)
        if ok.any():
            z = _group_z(x, np.where(ok, c, 0.0), method, direction)[:, tf.order]
            if need_apparent:
                bb, _, fb = _fit_binary_batched(tf, z, w[:, tf.order], ties, firth)
                boot_b[sl] = np.where(ok, bb, np.nan)
                n_firth += int(np.sum(fb & ok))
            w_oob = (w == 0).astype(np.float64)[:, tf.order]
            ob, _, fo = _fit_binary_batched(tf, z, w_oob, ties, firth)
            oob_b[sl] = np.where(ok, ob, np.nan)
            n_firth += int(np.sum(fo & ok))
        done += b
    orig_b = np.full(B, np.nan)
    if need_apparent:
        # the resample's cut applied to the original data: one fit per distinct cut
        fin = np.isfinite(cuts)
        uc, inv = np.unique(cuts[fin], return_inverse=True)
        if uc.size:
            z = _group_z(x, uc, method, direction)[:, tf.order]
            ub, _, fu = _fit_binary_batched(tf, z, np.ones_like(z), ties, firth)
            orig_b[fin] = ub[inv]
            n_firth += int(np.sum(fu[inv]))
    return _BootRun(cuts, boot_b, orig_b, oob_b, n_firth)


def _contrast(method: str, direction: Direction) -> str:
    if method == "maxstat":
        return "low (x <= cutpoint) vs high"
    if direction == ">=":
        return "predicted event (x >= cutpoint) vs not"
    return "predicted event (x <= cutpoint) vs not"


def _oob_summary(
    oob: NDArray[np.float64], conf_level: float
) -> tuple[float | None, float | None, float | None, float | None, int]:
    fin = oob[np.isfinite(oob)]
    if fin.size == 0:
        return None, None, None, None, 0
    lo, hi = _percentile(fin, conf_level)
    return (
        math.exp(float(fin.mean())),
        math.exp(float(np.median(fin))),
        None if lo is None else math.exp(lo),
        None if hi is None else math.exp(hi),
        int(fin.size),
    )


def bootstrap_cutpoint(
    time: ArrayLike,
    is_event: ArrayLike,
    x: ArrayLike,
    *,
    method: Literal["maxstat", "youden"] = "maxstat",
    B: int = 1000,
    seed: int | None = 20250101,
    minprop: float = 0.1,
    maxprop: float | None = None,
    conf_level: float = 0.95,
    direction: Direction = ">=",
    tol_metric: float = 1e-6,
    ties: Ties = "efron",
    firth: FirthPolicy = "auto",
) -> CutpointBootstrap:
    """Bootstrap the data-driven cut-off and estimate its HR out of bag.

    Parameters
    ----------
    time, is_event, x : array_like, shape (n,)
        Survival endpoint and the continuous variable.
    method : {"maxstat", "youden"}
        How the cut is chosen (in every resample, with the same settings).
    B : int
        Resamples (rows drawn with replacement, seeded ``numpy.random.Generator``).
    seed : int or None
        Seed; the same seed gives the same resamples.
    minprop, maxprop : float
        maxstat group-share limits.
    conf_level : float
        Level of the percentile intervals.
    direction, tol_metric : str, float
        Youden settings (see :func:`youden_cutpoint`; class = event observed).
    ties, firth : str
        Cox ties for the HRs, and when to use Firth (monotone likelihood).

    Returns
    -------
    CutpointBootstrap

    Notes
    -----
    Each resample is a row of a B x N count matrix; scores, cumulative sums and the
    one-covariate Cox fits (batched Newton) run on all resamples at once. A resample's
    maxstat equals R ``maxstat.test`` on ``data[idx, ]``; its HR equals ``coxph`` on the
    replicated rows (Efron ties over the replicated deaths).
    """
    t, e = as_time_event(time, is_event)
    xv = _as_x(x, t.size)
    mp = _check_props(minprop, maxprop)
    if B < 1:
        raise InputError("B must be at least 1")
    if method == "maxstat":
        cut0: float | None = _maxstat_from_scores(
            _logrank_scores(t, e.astype(np.float64)),
            xv,
            minprop=minprop,
            maxprop=mp,
            pmethod="Lau94",
            n_perm=0,
            seed=None,
            alpha=0.05,
        )[0]["cutpoint"]
    elif method == "youden":
        cut0 = youden_cutpoint(xv, e, direction=direction, tol_metric=tol_metric).cutpoint
    else:
        raise InputError(f"method must be 'maxstat' or 'youden', got {method!r}")
    run = _run_bootstrap(
        t,
        e,
        xv,
        method=method,
        B=B,
        seed=seed,
        minprop=minprop,
        maxprop=mp,
        direction=direction,
        tol_metric=tol_metric,
        ties=ties,
        firth=firth,
        need_apparent=False,
    )
    return _make_boot(run, method, cut0, conf_level, B, seed, minprop, direction, mp)


def _make_boot(
    run: _BootRun,
    method: Literal["maxstat", "youden"],
    cut0: float | None,
    conf_level: float,
    B: int,
    seed: int | None,
    minprop: float,
    direction: Direction,
    maxprop: float | None = None,
) -> CutpointBootstrap:
    lo, hi = _percentile(run.cuts, conf_level)
    oob_hr, oob_med, oob_lo, oob_hi, n_oob = _oob_summary(run.oob_log_hr, conf_level)
    n_failed = int(np.sum(~np.isfinite(run.cuts)))
    notes = []
    if n_failed:
        notes.append(f"{n_failed} of {B} resamples had no admissible cut-off")
    if run.n_firth:
        notes.append(f"{run.n_firth} bootstrap fits had a monotone likelihood and used Firth")
    return CutpointBootstrap(
        method=method,
        cutpoint=cut0,
        cutpoints=run.cuts,
        lower=lo,
        upper=hi,
        conf_level=conf_level,
        oob_log_hr=run.oob_log_hr,
        oob_hr=oob_hr,
        oob_hr_median=oob_med,
        oob_lower=oob_lo,
        oob_upper=oob_hi,
        contrast=_contrast(method, direction),
        B=B,
        seed=seed,
        n_failed=n_failed,
        n_oob_used=n_oob,
        n_firth=run.n_firth,
        minprop=minprop,
        direction=direction if method == "youden" else None,
        notes=tuple(notes),
        maxprop=maxprop,
    )


def _fmt(v: float | None, digits: int = 2) -> str:
    """Round half away from zero for display (design.md: rounding half-up)."""
    if v is None or not math.isfinite(v):
        return "not estimable"
    if v == 0:
        return "0"
    mag = math.floor(math.log10(abs(v)))
    places = max(digits - 1 - mag, 0)
    q = Decimal(1).scaleb(-places)
    return str(Decimal(repr(v)).quantize(q, rounding=ROUND_HALF_UP))


def _fmt_cut(v: float | None) -> str:
    """A cut-off as the data write it: up to 4 significant digits, no padding zeros."""
    if v is None or not math.isfinite(v):
        return "not estimable"
    return f"{v:.4g}"


def _fmt_p(p: float | None) -> str:
    if p is None or not math.isfinite(p):
        return "not available"
    if p < 0.001:
        return "<0.001"
    if p > 1:
        return f"{_fmt(p, 2)} (the Lau94 bound exceeds 1: no evidence)"
    return _fmt(p, 2 if p >= 0.01 else 1)


def optimism_corrected_hr(
    time: ArrayLike,
    is_event: ArrayLike,
    x: ArrayLike,
    *,
    B: int = 1000,
    seed: int | None = 20250101,
    minprop: float = 0.1,
    maxprop: float | None = None,
    conf_level: float = 0.95,
    pmethod: PMethod = "Lau94",
    ties: Ties = "efron",
    firth: FirthPolicy = "auto",
    unit: str | None = None,
) -> OptimismResult:
    """Harrell's bootstrap optimism correction of the HR at a maxstat cut-off.

    Parameters
    ----------
    time, is_event, x : array_like, shape (n,)
        Survival endpoint and the continuous variable.
    B, seed : int, int or None
        Resamples and seed (the same resamples give the cut-off distribution).
    minprop, maxprop, pmethod : float, float, str
        maxstat settings.
    conf_level : float
        Level of the intervals.
    ties, firth : str
        Cox ties, and the Firth policy for monotone likelihoods.
    unit : str, optional
        Unit of x for the plain-language sentence (e.g. ``"g/dL"``).

    Returns
    -------
    OptimismResult

    Notes
    -----
    Apparent log HR ``b_app`` (cut chosen and HR estimated on all patients). In each
    resample the whole procedure is repeated: the cut is chosen in the resample, its log HR
    ``b_boot`` estimated there, and the same cut's log HR ``b_orig`` on the original data.
    Optimism = mean of ``s_b (b_boot - b_orig)`` where ``s_b = sign(b_boot)`` (the search
    maximizes |effect|, so inflation is measured in the direction each resample found);
    corrected log HR = ``sign(b_app) (|b_app| - optimism)``. Resamples whose HR is not
    estimable are left out (counted in ``n_used``). The continuous Cox HR (per unit and
    per SD) is given next to it, so readers see what the dichotomy costs.
    """
    t, e = as_time_event(time, is_event)
    xv = _as_x(x, t.size)
    mp = _check_props(minprop, maxprop)
    ms = maxstat_cutpoint(
        t,
        e,
        xv,
        minprop=minprop,
        maxprop=mp,
        pmethod=pmethod,
        conf_level=conf_level,
        ties=ties,
        firth=firth,
    )
    apparent = ms.hr_low_vs_high
    assert apparent is not None
    run = _run_bootstrap(
        t,
        e,
        xv,
        method="maxstat",
        B=B,
        seed=seed,
        minprop=minprop,
        maxprop=mp,
        direction=">=",
        tol_metric=1e-6,
        ties=ties,
        firth=firth,
        need_apparent=True,
    )
    boot = _make_boot(run, "maxstat", ms.cutpoint, conf_level, B, seed, minprop, ">=", mp)
    diff = np.sign(run.boot_log_hr) * (run.boot_log_hr - run.orig_log_hr)
    use = np.isfinite(diff)
    notes: list[str] = []
    b_app = apparent.log_hr
    if b_app is None or not use.any():
        optimism = corrected = math.nan
        notes.append("optimism correction not available (HR not estimable)")
    else:
        optimism = float(np.mean(diff[use]))
        corrected = math.copysign(abs(b_app) - optimism, b_app)
        if abs(b_app) - optimism < 0:
            notes.append("the optimism exceeds the apparent effect: corrected HR crosses 1")
    sd = float(np.std(xv, ddof=1)) if xv.size > 1 else math.nan
    per_unit = _hr_single(
        t, e, xv, conf_level=conf_level, ties=ties, firth=firth, contrast="per unit increase of x"
    )
    per_sd = _hr_single(
        t,
        e,
        xv,
        conf_level=conf_level,
        ties=ties,
        firth=firth,
        contrast="per SD increase of x",
        scale=sd,
    )
    corr_hr = math.exp(corrected) if math.isfinite(corrected) else math.nan
    u = f" {unit}" if unit else ""
    lvl = _fmt(100 * conf_level, 3).rstrip("0").rstrip(".")
    sentence = (
        f"cut-off {_fmt_cut(ms.cutpoint)}{u} chosen from the data (maximally selected "
        f"log-rank statistic, {ms.n_low} low vs {ms.n_high} high); "
        f"p adjusted for the search {_fmt_p(ms.p_adjusted)} ({ms.p_adjusted_method}); "
        f"{lvl}% bootstrap interval of the cut-off {_fmt_cut(boot.lower)}–{_fmt_cut(boot.upper)}{u}; "
        f"HR low vs high {_fmt(apparent.hr)} as estimated on the same data, "
        f"optimism-corrected HR {_fmt(corr_hr)}, out-of-bag HR {_fmt(boot.oob_hr)}; "
        f"continuous HR per SD ({_fmt(sd, 2)}{u}) {_fmt(per_sd.hr)}"
    )
    if apparent.method == "firth":
        notes.append("the apparent HR uses Firth's penalized likelihood (monotone likelihood)")
    return OptimismResult(
        maxstat=ms,
        apparent=apparent,
        optimism=optimism,
        corrected_log_hr=corrected,
        corrected_hr=corr_hr,
        bootstrap=boot,
        boot_log_hr_apparent=run.boot_log_hr,
        boot_log_hr_original=run.orig_log_hr,
        n_used=int(use.sum()),
        continuous_per_unit=per_unit,
        continuous_per_sd=per_sd,
        sd=sd,
        sentence=sentence,
        firth=firth,
        notes=tuple(notes),
    )


# --- Youden cut-offs done honestly -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class YoudenHonestResult:
    """A Youden cut-off with what the search costs: adjusted p, bootstrap, optimism.

    Attributes
    ----------
    youden : YoudenResult
        The cut-off (cutpointr semantics) on all patients.
    p_adjusted : float or None
        Conditional Monte Carlo permutation p of the *maximal* Youden index: event labels
        permuted ``n_perm`` times, the whole search repeated each time, p = (1 + #{J* >= J})
        / (1 + n_perm). It answers "is a cut-off this good likely by chance?", which the
        unadjusted test at the chosen cut-off does not.
    apparent : HazardRatio
        Cox HR of "predicted event" (x on the event side of the cut) vs not, same data.
    optimism, corrected_hr : float
        Harrell's bootstrap optimism of the log HR, and the corrected HR (as for maxstat).
    bootstrap : CutpointBootstrap
        Cut-off distribution and out-of-bag HR from the same resamples.
    sentence : str
        Plain-language summary for the report.
    """

    youden: YoudenResult
    p_adjusted: float | None
    n_perm: int
    seed: int | None
    apparent: HazardRatio
    optimism: float
    corrected_hr: float
    n_used: int
    bootstrap: CutpointBootstrap
    sentence: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """The Youden ``cutpoints`` entry plus the honesty keys."""
        out = self.youden.to_dict()
        out.update(
            {
                "p_adjusted": none_if_nan(self.p_adjusted),
                "p_adjusted_method": "permutation of the maximal Youden index (conditional Monte Carlo)",
                "n_permutations": int(self.n_perm),
                "seed": self.seed,
                "hr_predicted_event": self.apparent.to_dict(),
                "optimism": {
                    "method": "harrell bootstrap",
                    "optimism_log_hr": none_if_nan(self.optimism),
                    "corrected_hr": none_if_nan(self.corrected_hr),
                    "n_used": int(self.n_used),
                },
                "bootstrap": self.bootstrap.to_dict(),
                "sentence": self.sentence,
                "notes": [*out.get("notes", []), *self.notes],
            }
        )
        return out


def _max_youden(
    xf: _XFrame, labels: NDArray[np.float64], direction: Direction
) -> NDArray[np.float64]:
    """Maximal Youden index per row of a (b, n) 0/1 label matrix (cuts at observed values)."""
    pos = np.add.reduceat(labels[:, xf.order], xf.starts, axis=1)
    neg = np.add.reduceat((1.0 - labels)[:, xf.order], xf.starts, axis=1)
    n_pos = pos.sum(axis=1, keepdims=True)
    n_neg = neg.sum(axis=1, keepdims=True)
    if direction == ">=":
        tp, fp = _rsum(pos), _rsum(neg)
    else:
        tp, fp = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        j = tp / n_pos - fp / n_neg
    return np.max(np.where(np.isfinite(j), j, -np.inf), axis=1)


def youden_permutation_p(
    x: ArrayLike,
    is_event: ArrayLike,
    *,
    direction: Direction = ">=",
    n_perm: int = 2000,
    seed: int | None = 20250101,
) -> float | None:
    """Permutation p of the maximal Youden index, adjusted for the search over cut-offs.

    Examples
    --------
    >>> x = np.arange(20.0)
    >>> round(youden_permutation_p(x, x >= 10, direction=">=", n_perm=999, seed=1), 3)
    0.001
    """
    e = np.asarray(is_event, dtype=bool)
    xv = _as_x(x, e.size)
    if e.all() or not e.any() or n_perm <= 0:
        return None
    xf = _XFrame(xv)
    observed = float(_max_youden(xf, e.astype(np.float64)[None, :], direction)[0])
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_perm, 2_000_000 // max(e.size, 1)))
    hits = 0
    done = 0
    while done < n_perm:
        b = min(chunk, n_perm - done)
        perm = rng.permuted(np.broadcast_to(e.astype(np.float64), (b, e.size)), axis=1)
        hits += int(np.sum(_max_youden(xf, perm, direction) >= observed - 1e-12))
        done += b
    return (1 + hits) / (1 + n_perm)


def youden_honest(
    time: ArrayLike,
    is_event: ArrayLike,
    x: ArrayLike,
    *,
    direction: Direction = ">=",
    B: int = 1000,
    n_perm: int = 2000,
    seed: int | None = 20250101,
    conf_level: float = 0.95,
    ties: Ties = "efron",
    firth: FirthPolicy = "auto",
    unit: str | None = None,
) -> YoudenHonestResult:
    """Youden cut-off for a survival endpoint with a search-adjusted p and optimism-corrected HR.

    The class is "event observed during follow-up" (cutpointr semantics, as
    :func:`youden_cutpoint`); the HR compares patients on the event side of the cut with the
    others. The bootstrap repeats the whole search in each resample (Harrell's optimism, as
    :func:`optimism_corrected_hr`).
    """
    t, e = as_time_event(time, is_event)
    xv = _as_x(x, t.size)
    yd = youden_cutpoint(xv, e, direction=direction, conf_level=conf_level)
    p_adj = youden_permutation_p(xv, e, direction=direction, n_perm=n_perm, seed=seed)
    contrast = _contrast("youden", direction)
    notes: list[str] = []
    if yd.cutpoint is None or not math.isfinite(yd.cutpoint):
        z = np.zeros_like(xv)
        notes.append("no admissible cut-off")
    else:
        z = (xv <= yd.cutpoint if direction == "<=" else xv >= yd.cutpoint).astype(np.float64)
    apparent = _hr_single(t, e, z, conf_level=conf_level, ties=ties, firth=firth, contrast=contrast)
    run = _run_bootstrap(
        t, e, xv, method="youden", B=B, seed=seed, minprop=0.0, maxprop=1.0, direction=direction,
        tol_metric=1e-6, ties=ties, firth=firth, need_apparent=True,
    )  # fmt: skip
    boot = _make_boot(run, "youden", yd.cutpoint, conf_level, B, seed, 0.0, direction)
    diff = np.sign(run.boot_log_hr) * (run.boot_log_hr - run.orig_log_hr)
    use = np.isfinite(diff)
    b_app = apparent.log_hr
    if b_app is None or not use.any():
        optimism = corrected = math.nan
        notes.append("optimism correction not available (HR not estimable)")
    else:
        optimism = float(np.mean(diff[use]))
        corrected = math.copysign(abs(b_app) - optimism, b_app)
    corr_hr = math.exp(corrected) if math.isfinite(corrected) else math.nan
    u = f" {unit}" if unit else ""
    lvl = _fmt(100 * conf_level, 3).rstrip("0").rstrip(".")
    side = "at or below" if direction == "<=" else "at or above"
    sentence = (
        f"cut-off {_fmt_cut(yd.cutpoint)}{u} chosen from the data (Youden index; event predicted "
        f"{side} it: sensitivity {_fmt(yd.sensitivity)}, specificity {_fmt(yd.specificity)}, AUC {_fmt(yd.auc)}); "
        f"p adjusted for the search {_fmt_p(p_adj)} (permutation); "
        f"{lvl}% bootstrap interval of the cut-off {_fmt_cut(boot.lower)}–{_fmt_cut(boot.upper)}{u}; "
        f"HR {_fmt(apparent.hr)} as estimated on the same data, optimism-corrected HR {_fmt(corr_hr)}, "
        f"out-of-bag HR {_fmt(boot.oob_hr)}"
    )
    return YoudenHonestResult(
        youden=yd, p_adjusted=p_adj, n_perm=n_perm, seed=seed, apparent=apparent, optimism=optimism,
        corrected_hr=corr_hr, n_used=int(use.sum()), bootstrap=boot, sentence=sentence, notes=tuple(notes),
    )  # fmt: skip
