"""Test of proportional hazards, as R ``cox.zph`` of survival >= 3.0 (score test).

Since survival 3.0, ``cox.zph`` no longer regresses scaled Schoenfeld residuals on g(t)
(the Grambsch-Therneau approximation). It computes, at the fitted coefficients, the score
test for adding the time-varying covariates ``x * g(t)`` to the model (``zph1.c``, and
``zph2.c`` for (start, stop] data): with ``g`` the transformed event time centred on its
mean over the events, the 2p-vector of scores ``u = (0, sum_deaths w g(t) (x - xbar(t)))``
and the full 2p x 2p information of (x, x g(t)) at (beta_hat, 0), the statistic of a term
is ``u' I^-1 u`` restricted to the rows of all p covariates plus the term's time-varying
columns; the global statistic uses them all. Ties are handled as in the fit (Efron or
Breslow), within strata, with the fit's case weights and risk sets. The "km" transform is
the unweighted Kaplan-Meier of the fit's (start, stop] or right-censored data, as R.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.stats import chi2, rankdata

from mmrwe.core.errors import EstimationError, InputError
from mmrwe.stats._common import none_if_nan
from mmrwe.stats.cox import (
    CoxResult,
    _efron_terms,
    _layout,
    _risk_sets,
    _risk_values,
    _term_mean_parts,
    _term_weights,
    _weighted_cross,
)

FloatArray = NDArray[np.float64]
Transform = Literal["km", "rank", "identity"]


@dataclass(frozen=True, slots=True)
class PHTest:
    """Score test of proportional hazards per term and globally (R ``cox.zph``).

    Attributes
    ----------
    transform : {"km", "rank", "identity"}
        Time transform g(t): "km" is 1 - KM(t-) of the pooled data (R's default), "rank"
        the average rank of the time among all rows, "identity" the time itself.
    terms : Mapping of str to (chisq, df, p)
        One entry per model term (a categorical term's dummies are tested jointly when
        ``terms=True``, else one entry per column).
    global_ : tuple of (chisq, df, p)
        Global test over all estimated coefficients.
    ties : {"efron", "breslow"}
        Tie handling inherited from the fit.
    """

    transform: Transform
    terms: Mapping[str, tuple[float, int, float]]
    global_: tuple[float, int, float]
    ties: str = "efron"

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"transform", "terms": {name: {"chisq", "df", "p"}}, "global"}``."""

        def one(v: tuple[float, int, float]) -> dict[str, float | int | None]:
            return {"chisq": none_if_nan(v[0]), "df": int(v[1]), "p": none_if_nan(v[2])}

        return {
            "transform": self.transform,
            "terms": {k: one(v) for k, v in self.terms.items()},
            "global": one(self.global_),
        }


def _km_transform(
    time: FloatArray, status: NDArray[np.bool_], start: FloatArray | None = None
) -> FloatArray:
    """1 - S(t-) of the pooled Kaplan-Meier curve at each row's time (cox.zph "km").

    R: ``survfitKM(factor(rep(1, n)), y, se.fit = FALSE)`` without the case weights; for
    (start, stop] data the number at risk at t counts the rows with start < t <= stop.
    """
    ut, inv = np.unique(time, return_inverse=True)
    inv = inv.ravel()
    n_event = np.bincount(inv, weights=status.astype(np.float64), minlength=ut.size)
    n_at = np.bincount(inv, minlength=ut.size).astype(np.float64)
    n_risk = np.cumsum(n_at[::-1])[::-1]
    if start is not None:
        # rows whose start is at or after t are not yet at risk at t
        n_risk = n_risk - (start.size - np.searchsorted(np.sort(start), ut, side="left"))
    surv = np.cumprod(1.0 - n_event / n_risk)
    # findInterval(times, km$time, left.open = TRUE): S at the last KM time < t
    s_before = np.concatenate(([1.0], surv[:-1]))
    return 1.0 - s_before[inv]


def cox_zph(fit: CoxResult, *, transform: Transform = "km", terms: bool = True) -> PHTest:
    """Test proportional hazards of a Cox fit, as R ``cox.zph(fit, transform, terms)``.

    Parameters
    ----------
    fit : CoxResult
        Result of :func:`mmrwe.stats.cox.cox_fit` (with or without case weights, right
        censored or (start, stop]).
    transform : {"km", "rank", "identity"}
        Time transform; "km" is R's default and the contract's.
    terms : bool
        Test the columns of a multi-column term (a categorical variable's dummies)
        jointly, as R's default ``terms = TRUE``; False tests each column.

    Returns
    -------
    PHTest
        Chi-square, df and p per term and global.

    Notes
    -----
    Equals ``cox.zph(coxph(...), transform = transform)$table`` of survival 3.5 (score
    test of the time-varying coefficients ``x * g(t)`` at the fitted coefficients), with
    g of the stop time for (start, stop] data (``zph2.c``). Case weights enter the risk
    sets and scores as in the fit; the "km" and "rank" transforms ignore them, as R.
    Coefficients that R sets to NA are left out, as R does.

    Examples
    --------
    >>> from mmrwe.stats.cox import cox_fit
    >>> fit = cox_fit([1, 2, 3, 4, 5, 6, 7, 8], [1, 1, 1, 0, 1, 1, 0, 1],
    ...               [[0], [1], [0], [1], [1], [0], [1], [0]], names=["x"])
    >>> cox_zph(fit).global_[1]
    1
    """
    if transform not in ("km", "rank", "identity"):
        raise InputError(f"transform must be 'km', 'rank' or 'identity', got {transform!r}")
    z = fit._zph
    if z is None:
        raise EstimationError("this Cox result does not keep the data cox.zph needs")
    q = z.x.shape[1]
    if q == 0:
        raise EstimationError("cox.zph: the model has no estimated coefficient to test")
    time, status, stratum = z.time, z.status, z.stratum
    if transform == "identity":
        ttimes = time.astype(np.float64)
    elif transform == "rank":
        ttimes = rankdata(time, method="average").astype(np.float64)
    else:
        ttimes = _km_transform(time, status, z.start)
    gtime = ttimes - float(np.mean(ttimes[status]))

    n_strata = int(stratum.max()) + 1 if stratum.size else 1
    lay = _layout(time, status, stratum, n_strata)
    # the fit's arrays are already sorted by (stratum, time, status): order is identity
    x = z.x[lay.order]
    eta = z.eta[lay.order]
    w = None if z.weights is None else z.weights[lay.order]
    start = None if z.start is None else z.start[lay.order]
    g_row = gtime[lay.order]
    # zph1.c / zph2.c recentre X on its plain mean for a stable variance computation
    x = x - x.mean(axis=0)
    rs = _risk_sets(lay, start)
    risk = np.exp(eta - float(np.max(eta)))
    if w is not None:
        risk = risk * w
    base, dead = rs.sums(_risk_values(x, risk))
    gi, frac, tw = _efron_terms(lay, "breslow" if fit.ties == "breslow" else "efron")
    if w is not None:
        tw2 = _term_weights(
            gi, rs.nd, np.asarray(rs.to_dead @ w), "breslow" if fit.ties == "breslow" else "efron"
        )
        assert tw2 is not None
        tw = tw2
    denom = base[gi, 0] + frac * dead[gi, 0]
    ba, da = base[:, 1:], dead[:, 1:]
    # g(t) of each death time (all rows of a (stratum, time) group share it)
    g_dg = np.zeros(rs.ndg)
    g_dg[rs.last[rs.event]] = g_row[rs.event]
    gt = g_dg[gi]
    is_dead = lay.status
    wd = np.ones(int(is_dead.sum())) if w is None else w[is_dead]
    info = np.zeros((2 * q, 2 * q))
    u2 = np.zeros(q)
    for power, (r0, c0) in ((0, (0, 0)), (1, (0, q)), (2, (q, q))):
        s0, s1, mm = _term_mean_parts(ba, da, gi, frac, tw * gt**power, denom)
        a = rs.per_row(s0, s1)
        info[r0 : r0 + q, c0 : c0 + q] = _weighted_cross(x, np.where(a != 0, risk * a, 0.0)) - mm
        if power == 1:
            smean = s0 @ ba + s1 @ da
            u2 = ((wd * g_row[is_dead])[:, None] * x[is_dead]).sum(axis=0) - smean
    info[q:, :q] = info[:q, q:].T

    # term groups, in order of first appearance (R's fit$assign)
    labels = z.names if not terms else z.terms
    order_terms: list[str] = []
    for lab in labels:
        if lab not in order_terms:
            order_terms.append(lab)
    out: dict[str, tuple[float, int, float]] = {}
    try:
        for term in order_terms:
            jj = [j for j, lab in enumerate(labels) if lab == term]
            kk = list(range(q)) + [q + j for j in jj]
            uvec = np.concatenate((np.zeros(q), u2[jj]))
            stat = float(np.linalg.solve(info[np.ix_(kk, kk)], uvec) @ uvec)
            out[term] = (stat, len(jj), float(chi2.sf(stat, len(jj))))
        uall = np.concatenate((np.zeros(q), u2))
        gstat = float(np.linalg.solve(info, uall) @ uall)
    except np.linalg.LinAlgError as exc:
        # R's solve() stops too ("system is exactly singular")
        raise EstimationError(
            "cox.zph: the information matrix of the time-varying terms is singular "
            "(e.g. all events at one time in each stratum, so g(t) does not vary)",
            fix="the PH test cannot be computed for these data; report it as not estimable",
        ) from exc
    return PHTest(
        transform=transform,
        terms=MappingProxyType(out),
        global_=(gstat, q, float(chi2.sf(gstat, q))),
        ties=fit.ties,
    )
