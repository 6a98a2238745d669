"""One test per Cox model term, and hazard ratios within subgroups, as R.

:func:`cox_term_tests` gives one overall test per model term (a factor's dummy columns are
tested jointly): the type II likelihood-ratio test of ``car::Anova(fit)`` (each term against
the model without it, an interaction's lower-order terms kept; refits of the reduced models)
and the type II Wald test of ``car::Anova(fit, test.statistic = "Wald")``; or the sequential
LR tests of R's ``anova(fit)`` (terms added in order). Type II is the default: for a model
without interactions it is exactly ``drop1(fit, test = "Chisq")``, and unlike the sequential
table it does not depend on the order of the terms (with ``terms = ["age", "sex", "hgb"]``
the sequential test of ``age`` is age alone against the null model, of ``hgb`` the one
adjusted for the others).

:func:`subgroup_hrs` gives the hazard ratio of a binary effect within each level of a
factor (one ``coxph(Surv ~ effect)`` per level) and the effect x factor interaction test
(``anova(coxph(~ effect + by), coxph(~ effect * by))``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import chi2

from mmrwe.core.errors import InputError, MmrweError, SeparationWarning
from mmrwe.stats._common import as_time_event, none_if_nan
from mmrwe.stats.cox import (
    DEFAULT_EPS,
    DEFAULT_MAX_ITER,
    CoxResult,
    Ties,
    cox_fit,
    shared_layout,
)
from mmrwe.stats.km import factorize_groups, missing_mask

FloatArray = NDArray[np.float64]
TestName = Literal["lr", "wald"]
TermTestType = Literal["II", "sequential"]

# R's qr() default tolerance, which decides the rank in car's ConjComp
_QR_TOL = 1e-7


# ----------------------------------------------------------------------------------------
# Term tests
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TermTest:
    """One chi-square test of a model term (all its columns jointly)."""

    term: str
    test: TestName
    chisq: float | None
    df: int
    p: float | None
    columns: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"test", "chisq", "df", "p"}`` (contract ``cox[].term_tests``)."""
        return {
            "test": self.test,
            "chisq": none_if_nan(self.chisq),
            "df": int(self.df),
            "p": none_if_nan(self.p),
        }


@dataclass(frozen=True, slots=True)
class CoxTermTests:
    """Term tests of a Cox model: likelihood-ratio and Wald, and which one is reported.

    Attributes
    ----------
    kind : {"II", "sequential"}
        ``"II"``: ``car::Anova`` type II (``drop1`` without interactions); ``"sequential"``:
        R's ``anova(fit)`` (LR only; ``wald`` is then empty).
    lr, wald : Mapping of term to TermTest
        In the order of the terms' first columns.
    reported : {"lr", "wald"}
        The test :meth:`to_dict` reports: the likelihood ratio, except for a robust
        (sandwich) variance, where the likelihood ratio does not apply and the Wald test
        with the robust variance is reported (as ``car::Anova``).
    reason : str
        Why that test is reported, in words for the report's methods section.
    """

    kind: TermTestType
    lr: Mapping[str, TermTest]
    wald: Mapping[str, TermTest]
    reported: TestName
    reason: str
    full: CoxResult | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Return ``{term: {"test", "chisq", "df", "p", "type"}}`` for the reported test."""
        chosen = self.lr if self.reported == "lr" else self.wald
        return {term: {**t.to_dict(), "type": self.kind} for term, t in chosen.items()}


def _term_order(terms: Sequence[str]) -> list[str]:
    out: list[str] = []
    for t in terms:
        if t not in out:
            out.append(t)
    return out


def _variables(term: str) -> frozenset[str]:
    # an interaction term "a:b" involves the variables a and b
    return frozenset(term.split(":"))


def _relatives(term: str, order: Sequence[str]) -> list[str]:
    """car's relatives(): the other terms that contain every variable of ``term``."""
    v = _variables(term)
    return [u for u in order if u != term and v <= _variables(u)]


def _columns(labels: Sequence[str], wanted: Sequence[str]) -> list[int]:
    w = set(wanted)
    return [j for j, lab in enumerate(labels) if lab in w]


def _chisq_p(stat: float, df: int) -> float | None:
    if df <= 0 or not math.isfinite(stat):
        return None
    return float(chi2.sf(stat, df))


def cox_term_tests(
    time: ArrayLike,
    is_event: ArrayLike,
    X: ArrayLike,
    names: Sequence[str],
    terms: Sequence[str],
    *,
    kind: TermTestType = "II",
    full: CoxResult | None = None,
    ties: Ties = "efron",
    strata: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    start: ArrayLike | None = None,
    cluster: ArrayLike | None = None,
    robust: bool | None = None,
    max_iter: int = DEFAULT_MAX_ITER,
    eps: float = DEFAULT_EPS,
    timefix: bool = True,
) -> CoxTermTests:
    """One overall test per term of a Cox model, as R ``car::Anova`` / ``drop1`` / ``anova``.

    Parameters
    ----------
    time, is_event, X, names :
        As for :func:`~mmrwe.stats.cox.cox_fit`.
    terms : sequence of str, length p
        The term of each column: a categorical variable's dummies share one label, an
        interaction's columns are labelled ``"a:b"`` (its lower-order terms ``"a"``,
        ``"b"``).
    kind : {"II", "sequential"}
        ``"II"`` (default): ``car::Anova(fit)`` type II tests; ``"sequential"``: R's
        ``anova(fit)``, each term added in the order given.
    full : CoxResult, optional
        The full model already fitted on the same data with the same options (saves one
        fit); otherwise fitted here.
    ties, strata, weights, start, cluster, robust, max_iter, eps, timefix :
        As for :func:`~mmrwe.stats.cox.cox_fit`; the reduced models are refitted with the
        same strata, weights, (start, stop] data and ties.

    Returns
    -------
    CoxTermTests
        ``lr`` and ``wald`` per term, and the test reported by ``to_dict()``.

    Notes
    -----
    Type II LR of term T (``car`` ``Anova.II.LR.coxph``): 2 (loglik of the model without
    T's relatives - loglik of the model without T and its relatives), where the relatives
    are the interactions containing T; df = the difference in estimated coefficients. For a
    model without interactions this is ``drop1(fit, test = "Chisq")``. car refits without
    the strata and so refuses LR tests for stratified models (it substitutes Wald); here
    the refits keep the strata, which is ``drop1``'s answer. Type II Wald
    (``Anova.II.default``): the Wald test of T's coefficients, projected off its relatives
    in the metric of the variance (car's ``ConjComp``), with the robust variance when the
    fit is robust. Sequential LR (``anova.coxph``): the change in log-likelihood as each
    term is added; R refuses it for robust fits, here it is computed but the Wald test
    is reported. A term whose columns are all redundant (NA) has df 0 and chisq/p None.

    Examples
    --------
    >>> t = [1, 2, 3, 4, 5, 6, 7, 8]; e = [1, 1, 1, 0, 1, 1, 0, 1]
    >>> X = [[0, 0, 1.0], [1, 0, 2.0], [0, 1, 0.5], [0, 0, 1.5],
    ...      [1, 0, 3.0], [0, 1, 2.5], [1, 0, 1.0], [0, 1, 0.0]]
    >>> tt = cox_term_tests(t, e, X, ["g=b", "g=c", "x"], ["g", "g", "x"])
    >>> tt.lr["g"].df, tt.reported
    (2, 'lr')
    """
    names_t = tuple(str(n) for n in names)
    labels = tuple(str(t) for t in terms)
    xmat = np.asarray(X, dtype=np.float64)
    if xmat.ndim == 1:
        xmat = xmat.reshape(-1, 1)
    if len(labels) != xmat.shape[1] or len(names_t) != xmat.shape[1]:
        raise InputError(
            f"names and terms must have one entry per column of X ({xmat.shape[1]}), "
            f"got {len(names_t)} and {len(labels)}"
        )
    if kind not in ("II", "sequential"):
        raise InputError(f"kind must be 'II' or 'sequential', got {kind!r}")
    common: dict[str, Any] = {
        "ties": ties,
        "strata": strata,
        "weights": weights,
        "start": start,
        "max_iter": max_iter,
        "eps": eps,
        "timefix": timefix,
    }
    with shared_layout():  # the reduced models sort the rows once between them
        return _term_tests(
            time, is_event, xmat, names_t, labels, kind, full, cluster, robust, common
        )


def _term_tests(
    time: ArrayLike,
    is_event: ArrayLike,
    xmat: NDArray[np.float64],
    names_t: tuple[str, ...],
    labels: tuple[str, ...],
    kind: TermTestType,
    full: CoxResult | None,
    cluster: ArrayLike | None,
    robust: bool | None,
    common: dict[str, Any],
) -> CoxTermTests:
    if full is None:
        full = cox_fit(
            time, is_event, xmat, names=names_t, terms=labels, cluster=cluster, robust=robust,
            **common,
        )  # fmt: skip
    elif tuple(full.names) != names_t:
        raise InputError("the given full fit has other columns than X")
    order = _term_order(labels)
    null_loglik = float(full.loglik[0])  # loglik at beta = 0: the model without covariates

    def refit(cols: list[int]) -> tuple[float, int]:
        """Log-likelihood and number of estimated coefficients of the model on ``cols``."""
        if not cols:
            return null_loglik, 0
        if len(cols) == xmat.shape[1]:
            return float(full.loglik[1]), full.df
        with warnings.catch_warnings():
            # a reduced model's separation is not the user's model; its loglik still counts
            warnings.simplefilter("ignore", SeparationWarning)
            fit = cox_fit(
                time, is_event, xmat[:, cols], names=[names_t[j] for j in cols],
                robust=False, concordance=False, **common,
            )  # fmt: skip
        return float(fit.loglik[1]), fit.df

    lr: dict[str, TermTest] = {}
    wald: dict[str, TermTest] = {}
    all_cols = list(range(xmat.shape[1]))
    if kind == "II":
        for term in order:
            rels = _relatives(term, order)
            drop_2 = set(_columns(labels, rels))
            drop_1 = drop_2 | set(_columns(labels, [term]))
            ll_1, df_1 = refit([j for j in all_cols if j not in drop_1])
            ll_2, df_2 = refit([j for j in all_cols if j not in drop_2])
            df = df_2 - df_1
            stat = 2.0 * (ll_2 - ll_1) if df > 0 else math.nan
            cols = tuple(names_t[j] for j in _columns(labels, [term]))
            lr[term] = TermTest(term, "lr", stat, df, _chisq_p(stat, df), cols)
            wstat, wdf = _type2_wald(full, labels, term, rels)
            wald[term] = TermTest(term, "wald", wstat, wdf, _chisq_p(wstat, wdf), cols)
    else:
        prev_ll, prev_df = null_loglik, 0
        included: list[int] = []
        for term in order:
            included = included + _columns(labels, [term])
            ll, dfk = refit(sorted(included))
            df = dfk - prev_df
            stat = 2.0 * (ll - prev_ll) if df > 0 else math.nan
            cols = tuple(names_t[j] for j in _columns(labels, [term]))
            lr[term] = TermTest(term, "lr", stat, df, _chisq_p(stat, df), cols)
            prev_ll, prev_df = ll, dfk
    if full.variance == "robust":
        reported: TestName = "wald"
        reason = (
            "Wald test with the robust variance: likelihood-ratio tests do not apply to a "
            "robust (sandwich) variance (R car::Anova substitutes Wald, anova refuses)"
        )
        if kind == "sequential":
            raise InputError(
                "sequential (anova) term tests are likelihood-ratio tests, which do not apply "
                "to a robust variance (R: 'Can't do anova tables with robust variances')",
                fix="use kind='II', which reports the Wald test with the robust variance",
            )
    else:
        reported = "lr"
        reason = (
            "likelihood-ratio test, type II (R car::Anova; drop1 without interactions)"
            if kind == "II"
            else "likelihood-ratio test, sequential (R anova: terms added in order)"
        )
    return CoxTermTests(
        kind=kind,
        lr=MappingProxyType(lr),
        wald=MappingProxyType(wald),
        reported=reported,
        reason=reason,
        full=full,
    )


def cox_wald_term_tests(fit: CoxResult, terms: Sequence[str] | None = None) -> CoxTermTests:
    """Type II Wald test of each term from a fitted model's variance, without refits.

    Parameters
    ----------
    fit : CoxResult
        A fitted model (:func:`~mmrwe.stats.cox.cox_fit`, or the ``result`` of
        :func:`~mmrwe.stats.cox_scaled.cox_fit_chunked`).
    terms : sequence of str, optional
        The term of each column, as for :func:`cox_term_tests`; default ``fit.terms``.

    Returns
    -------
    CoxTermTests
        ``kind = "II"``, ``wald`` per term (``lr`` empty), ``reported = "wald"``.

    Notes
    -----
    R ``car::Anova(fit, test.statistic = "Wald")`` (type II: a term's coefficients tested
    jointly, projected off the interactions that contain it), with ``fit$var``: the robust
    variance for a robust fit, else the inverse information. It needs only the fit, so it
    serves where refitting reduced models for likelihood-ratio tests would cost a pass over
    the data per term (a model fitted in chunks).

    Examples
    --------
    >>> from mmrwe.stats.cox import cox_fit
    >>> t = [1, 2, 3, 4, 5, 6, 7, 8]; e = [1, 1, 1, 0, 1, 1, 0, 1]
    >>> X = [[0, 0, 1.0], [1, 0, 2.0], [0, 1, 0.5], [0, 0, 1.5],
    ...      [1, 0, 3.0], [0, 1, 2.5], [1, 0, 1.0], [0, 1, 0.0]]
    >>> fit = cox_fit(t, e, X, names=["g=b", "g=c", "x"], terms=["g", "g", "x"])
    >>> tt = cox_wald_term_tests(fit)
    >>> tt.wald["g"].df, tt.reported
    (2, 'wald')
    """
    labels = tuple(str(t) for t in (terms if terms is not None else fit.terms))
    if len(labels) != len(fit.names):
        raise InputError(
            f"terms must have one entry per coefficient ({len(fit.names)}), got {len(labels)}"
        )
    order = _term_order(labels)
    wald: dict[str, TermTest] = {}
    for term in order:
        stat, df = _type2_wald(fit, labels, term, _relatives(term, order))
        cols = tuple(fit.names[j] for j in _columns(labels, [term]))
        wald[term] = TermTest(term, "wald", stat, df, _chisq_p(stat, df), cols)
    which = "robust (sandwich)" if fit.variance == "robust" else "model-based"
    return CoxTermTests(
        kind="II",
        lr=MappingProxyType({}),
        wald=MappingProxyType(wald),
        reported="wald",
        reason=f"Wald test, type II, with the fitted {which} variance (R car::Anova with "
        'test.statistic = "Wald"); no reduced models were refitted',
        full=fit,
    )


def _type2_wald(
    fit: CoxResult, labels: Sequence[str], term: str, rels: Sequence[str]
) -> tuple[float, int]:
    """car's type II Wald statistic of ``term`` (Anova.II.default with linearHypothesis)."""
    keep = np.isfinite(fit.coef)  # not.aliased
    b = np.asarray(fit.coef)[keep]
    v = np.asarray(fit.var)[np.ix_(keep, keep)]
    kept = [j for j in range(len(labels)) if keep[j]]
    pos = {j: i for i, j in enumerate(kept)}
    q = b.size
    eye = np.eye(q)
    rel_rows = [pos[j] for j in _columns(labels, rels) if j in pos]
    term_rows = [pos[j] for j in _columns(labels, [term]) if j in pos]
    h2 = eye[rel_rows + term_rows]
    if not rel_rows:
        hyp = h2
    else:
        # ConjComp(t(H1), t(H2), V): the part of span(H2) V-orthogonal to span(H1)
        h1 = eye[rel_rows]
        m = h2 @ v @ h1.T
        u, s, _ = np.linalg.svd(m, full_matrices=True)
        rank = int(np.sum(s > _QR_TOL * (s[0] if s.size else 0.0)))
        hyp = (h2.T @ u[:, rank:]).T
    hyp = hyp[~np.all(hyp == 0, axis=1)]
    if hyp.shape[0] == 0:
        return math.nan, 0
    lb = hyp @ b
    lvl = hyp @ v @ hyp.T
    try:
        stat = float(lb @ np.linalg.solve(lvl, lb))
    except np.linalg.LinAlgError:
        return math.nan, int(hyp.shape[0])
    return stat, int(hyp.shape[0])


# ----------------------------------------------------------------------------------------
# Subgroups
# ----------------------------------------------------------------------------------------

Status = Literal["ok", "not_estimable"]


@dataclass(frozen=True, slots=True)
class SubgroupLevel:
    """The effect's hazard ratio within one level of the subgroup factor."""

    by: str
    level: str
    n: int
    events: int
    hr: float | None
    lower: float | None
    upper: float | None
    p: float | None
    coef: float | None
    se: float | None
    n_by_effect: tuple[int, int]
    events_by_effect: tuple[int, int]
    status: Status
    reason: str | None

    def to_dict(self, effect_levels: tuple[str, str]) -> dict[str, Any]:
        """Return the contract's ``levels[]`` entry, plus status, reason, coef, se and the
        numbers and events per effect level."""
        return {
            "by": self.by,
            "level": self.level,
            "n": int(self.n),
            "events": int(self.events),
            "hr": none_if_nan(self.hr),
            "lower": none_if_nan(self.lower),
            "upper": none_if_nan(self.upper),
            "p": none_if_nan(self.p),
            "coef": none_if_nan(self.coef),
            "se": none_if_nan(self.se),
            "n_by_effect": dict(zip(effect_levels, map(int, self.n_by_effect), strict=True)),
            "events_by_effect": dict(
                zip(effect_levels, map(int, self.events_by_effect), strict=True)
            ),
            "status": self.status,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class SubgroupInteraction:
    """Test of the effect x subgroup interaction."""

    by: str
    test: TestName
    chisq: float | None
    df: int
    p: float | None
    status: Status
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"by", "test", "chisq", "df", "p", "status", "reason"}``."""
        return {
            "by": self.by,
            "test": self.test,
            "chisq": none_if_nan(self.chisq),
            "df": int(self.df),
            "p": none_if_nan(self.p),
            "status": self.status,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class SubgroupResult:
    """Hazard ratios of a binary effect within the levels of one factor, and the
    interaction test (contract ``subgroups[]``)."""

    effect: str
    by: str
    effect_levels: tuple[str, str]
    levels: tuple[SubgroupLevel, ...]
    interaction: SubgroupInteraction
    ties: Ties
    conf_level: float
    n_excluded_missing: int
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return ``effect``, ``by``, ``effect_levels`` (reference first), ``levels[]``,
        ``interaction``, ``ties``, ``conf_level``, ``n_excluded_missing``, ``warnings``."""
        return {
            "effect": self.effect,
            "by": self.by,
            "effect_levels": list(self.effect_levels),
            "levels": [lv.to_dict(self.effect_levels) for lv in self.levels],
            "interaction": self.interaction.to_dict(),
            "ties": self.ties,
            "conf_level": float(self.conf_level),
            "n_excluded_missing": int(self.n_excluded_missing),
            "warnings": list(self.warnings),
        }


def _fit_quiet(*args: Any, **kw: Any) -> tuple[CoxResult, list[str]]:
    """A fit whose warnings are returned, not raised; no concordance (nothing reports it)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = cox_fit(*args, concordance=False, **kw)
    return fit, [str(w.message) for w in caught]


def _diverged(fit: CoxResult) -> bool:
    return (not fit.converged) or any("infinite" in w for w in fit.warnings)


def subgroup_hrs(
    time: ArrayLike,
    is_event: ArrayLike,
    effect: ArrayLike,
    by: ArrayLike,
    *,
    effect_name: str = "effect",
    by_name: str = "by",
    effect_levels: Sequence[Any] | None = None,
    by_levels: Sequence[Any] | None = None,
    X: ArrayLike | None = None,
    names: Sequence[str] | None = None,
    ties: Ties = "efron",
    strata: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    conf_level: float = 0.95,
    max_iter: int = DEFAULT_MAX_ITER,
    eps: float = DEFAULT_EPS,
    timefix: bool = True,
) -> SubgroupResult:
    """Hazard ratio of a binary effect within each level of a factor, and the interaction.

    Parameters
    ----------
    time, is_event : array_like, shape (n,)
        As for :func:`~mmrwe.stats.cox.cox_fit`.
    effect : array_like, shape (n,)
        A binary variable; the hazard ratio is its second level vs its first (sorted, or
        ``effect_levels``). Rows with a missing effect or ``by`` are dropped (R na.omit).
    by : array_like, shape (n,)
        The subgroup factor; levels in sorted order (numbers numerically).
    effect_name, by_name : str
        Names for the output (the spec's variable names).
    effect_levels : (reference, compared), optional
        The two effect levels, reference first.
    by_levels : sequence, optional
        Order of the subgroup levels in the output (R's factor level order); the first is
        the reference of the interaction model (which does not change the test). Default:
        sorted.
    X, names : optional
        Adjustment covariates (n, q) and their names: each subgroup model is
        ``effect + X`` and the interaction models ``effect + by + X`` vs
        ``effect * by + X``.
    ties, strata, weights, conf_level, max_iter, eps, timefix :
        As for :func:`~mmrwe.stats.cox.cox_fit` (strata and weights are subset with the
        rows). With weights that are not whole numbers the variance is robust (R's
        default), and the interaction is then tested by Wald.

    Returns
    -------
    SubgroupResult
        ``to_dict()`` gives the contract's ``subgroups[]`` entry (``levels[]`` and
        ``interaction``), with ``status`` / ``reason`` per level.

    Notes
    -----
    Per level: ``coxph(Surv(time, status) ~ effect, subset = by == level)``, Wald CI
    exp(coef -+ z se) and Wald p, as ``summary.coxph``. A level without events, with only
    one effect level, or whose fit does not give a finite hazard ratio (no events in one
    effect group: monotone likelihood, where R prints a huge coefficient with a warning)
    is marked ``not_estimable`` with the reason; n and events are still given. Interaction:
    ``anova(coxph(~ effect + by), coxph(~ effect * by))``: LR chi-square with df = the
    number of estimated interaction coefficients (R's difference in non-NA coefficients);
    with a robust variance (R's anova refuses) the Wald test of the interaction
    coefficients (``car::Anova(fit, test.statistic = "Wald")``).

    Examples
    --------
    >>> t = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    >>> e = [1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1]
    >>> arm = [0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0]
    >>> sex = ["F", "F", "F", "F", "F", "F", "M", "M", "M", "M", "M", "M"]
    >>> res = subgroup_hrs(t, e, arm, sex, effect_name="arm", by_name="sex")
    >>> [lv.level for lv in res.levels], res.interaction.df
    (['F', 'M'], 1)
    """
    t_all, ev_all = as_time_event(time, is_event)
    n_all = t_all.size
    eff_missing = missing_mask(effect, n_all)
    by_codes, by_labels, by_missing = factorize_groups(by, n_all)
    if by_levels is not None:
        wanted = [str(v) for v in by_levels]
        if sorted(wanted) != sorted(by_labels):
            raise InputError(
                f"by_levels {wanted} are not the levels of {by_name}: {list(by_labels)}"
            )
        remap = np.array([wanted.index(lab) for lab in by_labels], dtype=np.int64)
        by_codes = np.where(by_codes >= 0, remap[np.maximum(by_codes, 0)], -1)
        by_labels = tuple(wanted)
    drop = eff_missing | by_missing
    keep = ~drop
    t = t_all[keep]
    ev = ev_b = ev_all[keep]
    eff_codes, eff_labels, _ = factorize_groups(np.asarray(effect)[keep], int(keep.sum()))
    if effect_levels is not None:
        lv = tuple(str(v) for v in effect_levels)
        if len(lv) != 2 or not set(eff_labels) <= set(lv):
            raise InputError(
                f"effect_levels must be the two levels of {effect_name}, got {lv} for "
                f"values {list(eff_labels)}"
            )
        ref_label, cmp_label = lv
        x_eff = np.array([eff_labels[c] == cmp_label for c in range(len(eff_labels))])[eff_codes]
    else:
        if len(eff_labels) != 2:
            raise InputError(
                f"{effect_name} must have exactly two levels, got {len(eff_labels)}: "
                f"{list(eff_labels)}",
                fix="subgroup analyses need a binary effect",
            )
        ref_label, cmp_label = eff_labels
        x_eff = eff_codes == 1
    x_eff_f = x_eff.astype(np.float64)
    codes = by_codes[keep]
    xadj = None
    adj_names: list[str] = []
    if X is not None:
        xadj = np.asarray(X, dtype=np.float64)
        if xadj.ndim == 1:
            xadj = xadj.reshape(-1, 1)
        if xadj.shape[0] != n_all:
            raise InputError(f"X must have {n_all} rows, got {xadj.shape[0]}")
        xadj = xadj[keep]
        adj_names = [str(nm) for nm in names] if names else [f"x{j}" for j in range(xadj.shape[1])]
    sub = np.asarray(strata)[keep] if strata is not None else None
    w = np.asarray(weights, dtype=np.float64)[keep] if weights is not None else None
    robust = w is not None and bool(np.any(w != np.floor(w)))
    common: dict[str, Any] = {"ties": ties, "max_iter": max_iter, "eps": eps, "timefix": timefix}
    effect_col = f"{effect_name}={cmp_label}"
    msgs: list[str] = []

    levels: list[SubgroupLevel] = []
    for k, label in enumerate(by_labels):
        m = codes == k
        nk, dk = int(m.sum()), int(ev_b[m].sum())
        n_by = (int((m & ~x_eff).sum()), int((m & x_eff).sum()))
        d_by = (int((m & ~x_eff & ev_b).sum()), int((m & x_eff & ev_b).sum()))
        reason: str | None = None
        fit: CoxResult | None = None
        if nk == 0:
            continue  # a level that only missing rows had
        if dk == 0:
            reason = "no events in this subgroup"
        elif min(n_by) == 0:
            only = ref_label if n_by[1] == 0 else cmp_label
            reason = f"only one level of {effect_name} ({only}) in this subgroup"
        else:
            cols = [x_eff_f[m]] + ([] if xadj is None else [xadj[m]])
            try:
                fit, _ = _fit_quiet(
                    t[m], ev[m], np.column_stack(cols), names=[effect_col, *adj_names],
                    strata=None if sub is None else sub[m],
                    weights=None if w is None else w[m],
                    conf_level=conf_level, **common,
                )  # fmt: skip
            except MmrweError as exc:
                reason = f"the Cox model could not be fitted: {exc.what}"
            if fit is not None and (_diverged(fit) or not np.isfinite(fit.coef[0])):
                reason = (
                    f"no finite hazard ratio: monotone likelihood (events in one {effect_name} "
                    f"group only: {d_by[0]} vs {d_by[1]})"
                    if min(d_by) == 0
                    else "no finite hazard ratio: the model did not converge"
                )
                fit = None
        if fit is None:
            levels.append(
                SubgroupLevel(
                    by_name,
                    label,
                    nk,
                    dk,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    n_by,
                    d_by,
                    "not_estimable",
                    reason,
                )
            )
            continue
        se = fit.robust_se[0] if fit.robust_se is not None else fit.se[0]
        levels.append(
            SubgroupLevel(
                by_name,
                label,
                nk,
                dk,
                float(fit.hr[0]),
                float(fit.lower[0]),
                float(fit.upper[0]),
                float(fit.p[0]),
                float(fit.coef[0]),
                float(se),
                n_by,
                d_by,
                "ok",
                None,
            )
        )

    inter = _interaction(
        t, ev, x_eff_f, codes, by_labels, by_name, effect_col, xadj, adj_names, sub, w,
        robust, common, msgs,
    )  # fmt: skip
    return SubgroupResult(
        effect=effect_name,
        by=by_name,
        effect_levels=(ref_label, cmp_label),
        levels=tuple(levels),
        interaction=inter,
        ties=ties,
        conf_level=float(conf_level),
        n_excluded_missing=int(drop.sum()),
        warnings=tuple(dict.fromkeys(msgs)),
    )


def _interaction(
    t: FloatArray,
    ev: NDArray[np.bool_],
    x_eff: FloatArray,
    codes: NDArray[np.int64],
    by_labels: tuple[str, ...],
    by_name: str,
    effect_col: str,
    xadj: FloatArray | None,
    adj_names: list[str],
    strata: Any,
    w: FloatArray | None,
    robust: bool,
    common: dict[str, Any],
    msgs: list[str],
) -> SubgroupInteraction:
    present = sorted(set(codes.tolist()))
    test: TestName = "wald" if robust else "lr"
    if len(present) < 2:
        return SubgroupInteraction(
            by_name, test, None, 0, None, "not_estimable", f"{by_name} has a single level"
        )
    # treatment contrasts against the first level present, as R's factor(by)
    dums = [(codes == k).astype(np.float64) for k in present[1:]]
    dnames = [f"{by_name}={by_labels[k]}" for k in present[1:]]
    inter = [x_eff * d for d in dums]
    inames = [f"{effect_col}:{nm}" for nm in dnames]
    adj = [] if xadj is None else [xadj]
    main_x = np.column_stack([x_eff, *dums, *adj])
    full_x = np.column_stack([x_eff, *dums, *adj, *inter])
    main_names = [effect_col, *dnames, *adj_names]
    full_names = [*main_names, *inames]
    try:
        full, m2 = _fit_quiet(
            t, ev, full_x, names=full_names, strata=strata, weights=w, robust=robust, **common
        )
        msgs.extend(m2)
        if robust:
            # anova() refuses robust fits: Wald test of the interaction coefficients
            labels = ["main"] * len(main_names) + ["inter"] * len(inames)
            stat, df = _type2_wald(full, labels, "inter", [])
        else:
            main, m1 = _fit_quiet(
                t, ev, main_x, names=main_names, strata=strata, weights=w, robust=False,
                **common,
            )  # fmt: skip
            msgs.extend(m1)
            df = abs(full.df - main.df)
            stat = abs(2.0 * (full.loglik[1] - main.loglik[1])) if df > 0 else math.nan
    except MmrweError as exc:
        return SubgroupInteraction(
            by_name, test, None, 0, None, "not_estimable",
            f"the interaction model could not be fitted: {exc.what}",
        )  # fmt: skip
    if df == 0:
        return SubgroupInteraction(
            by_name, test, None, 0, None, "not_estimable",
            f"no {effect_col} x {by_name} interaction is estimable (the effect does not vary "
            "within the subgroups)",
        )  # fmt: skip
    return SubgroupInteraction(by_name, test, stat, int(df), _chisq_p(stat, df), "ok", None)
