"""Agreement between two ratings of the same patients: Cohen's kappa with its large-sample CI.

Used to compare the response derived from labs by rule with the response the site recorded
(docs/clinical.md section 1.5). R equivalent: ``psych::cohen.kappa`` (kappa, weighted kappa and
their confidence bounds from the large-sample variance of Fleiss, Cohen and Everitt, Psychol
Bull 1969;72:323-327).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mmrwe.core.errors import EstimationError, InputError
from mmrwe.stats._common import none_if_nan, read_only, z_value

KappaWeights = Literal["none", "quadratic"]


@dataclass(frozen=True, slots=True)
class Kappa:
    """Cohen's kappa of two ratings over ``categories``.

    Attributes
    ----------
    categories : tuple of str
        Row/column order of ``table``.
    table : ndarray of int, shape (k, k)
        Counts: rows = first rating, columns = second rating.
    n : int
        Pairs rated by both (pairs with a missing rating are left out; see
        ``n_excluded_missing``).
    observed_agreement, expected_agreement : float
        p_o and p_e (weighted with the weights when ``weights`` is not "none").
    kappa, se, lower, upper : float or None
        (p_o - p_e) / (1 - p_e), the square root of its large-sample variance, and
        kappa -+ z * se clipped to [-1, 1] (as psych). None when p_e = 1 (one category).
    weights : {"none", "quadratic"}
        Agreement weights: none (unweighted kappa) or quadratic, 1 - (i - j)^2 / (k - 1)^2 on
        the full ordered scale.
    conf_level : float
    n_excluded_missing : int
    """

    categories: tuple[str, ...]
    table: NDArray[np.int64]
    n: int
    observed_agreement: float
    expected_agreement: float
    kappa: float | None
    se: float | None
    lower: float | None
    upper: float | None
    weights: KappaWeights
    conf_level: float
    n_excluded_missing: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the table as {first rating: {second rating: count}}."""
        return {
            "categories": list(self.categories),
            "table": {
                a: {b: int(self.table[i, j]) for j, b in enumerate(self.categories)}
                for i, a in enumerate(self.categories)
            },
            "n": self.n,
            "n_excluded_missing": self.n_excluded_missing,
            "observed_agreement": none_if_nan(self.observed_agreement),
            "expected_agreement": none_if_nan(self.expected_agreement),
            "kappa": none_if_nan(self.kappa),
            "se": none_if_nan(self.se),
            "lower": none_if_nan(self.lower),
            "upper": none_if_nan(self.upper),
            "weights": self.weights,
            "conf_level": self.conf_level,
            "method": "Cohen's kappa, large-sample variance of Fleiss, Cohen and Everitt (1969)",
        }


def cohen_kappa(
    first: ArrayLike,
    second: ArrayLike,
    categories: Sequence[str],
    *,
    weights: KappaWeights = "none",
    conf_level: float = 0.95,
) -> Kappa:
    """Cohen's kappa of two ratings, with a Wald interval from its large-sample variance.

    Parameters
    ----------
    first, second : array_like of str or None, shape (n,)
        The two ratings of each subject; None (or NaN) = not rated: the pair is left out.
    categories : sequence of str
        Every category, in order (the order matters for quadratic weights). A rating outside
        it raises ``InputError``.
    weights : {"none", "quadratic"}
        Unweighted kappa, or weighted with agreement weights 1 - (i - j)^2 / (k - 1)^2.
    conf_level : float
        Two-sided level of the interval kappa -+ z * se.

    Returns
    -------
    Kappa

    Raises
    ------
    EstimationError
        No pair is rated by both.

    Notes
    -----
    Equals R ``psych::cohen.kappa(cbind(first, second), levels = categories)`` (its
    ``kappa``, ``var.kappa`` and ``confid``) for the unweighted kappa. The weighted kappa is
    psych's ``weighted.kappa`` with ``w`` the same weight matrix; its variance is the formula
    of Fleiss, Cohen and Everitt (1969) with the weighted marginal means
    w_i. = sum_j p_.j w_ij and w_.j = sum_i p_i. w_ij.

    Examples
    --------
    >>> k = cohen_kappa(["a", "a", "b", "b"], ["a", "b", "b", "b"], ["a", "b"])
    >>> round(k.kappa, 4)  # p_o = 3/4, p_e = (2*1 + 2*3)/16 = 1/2
    0.5
    """
    cats = tuple(str(c) for c in categories)
    if len(set(cats)) != len(cats) or len(cats) < 2:
        raise InputError("categories must be at least two distinct names")
    a, miss_a = _codes(first, cats)
    b, miss_b = _codes(second, cats)
    if a.shape != b.shape:
        raise InputError(f"the two ratings have different lengths ({a.size} and {b.size})")
    rated = ~miss_a & ~miss_b
    n = int(rated.sum())
    if n == 0:
        raise EstimationError("no patient has both ratings: agreement cannot be computed")
    k = len(cats)
    ia, ib = a[rated], b[rated]
    table = np.bincount(ia * k + ib, minlength=k * k).reshape(k, k).astype(np.int64)
    p = table / n
    r = p.sum(axis=1)  # first rating's marginals, p_i.
    c = p.sum(axis=0)  # second rating's marginals, p_.j
    i_, j_ = np.indices((k, k))
    w = 1.0 - (i_ - j_) ** 2 / (k - 1) ** 2 if weights == "quadratic" else (i_ == j_) * 1.0
    po = float(np.sum(w * p))
    pe = float(np.sum(w * np.outer(r, c)))
    z = z_value(conf_level)
    if np.isclose(pe, 1.0, rtol=0.0, atol=1e-15):
        kap = se = lo = hi = None
    else:
        kap = (po - pe) / (1.0 - pe)
        # Fleiss, Cohen & Everitt (1969): with w_i. = sum_j p_.j w_ij, w_.j = sum_i p_i. w_ij,
        # var = [sum_ij p_ij (w_ij (1 - pe) - (w_i. + w_.j)(1 - po))^2
        #        - (po pe - 2 pe + po)^2] / (n (1 - pe)^4); for w = I it is psych's var.kappa
        wi = w @ c
        wj = r @ w
        inner = w * (1.0 - pe) - (wi[:, None] + wj[None, :]) * (1.0 - po)
        var = (np.sum(p * inner**2) - (po * pe - 2.0 * pe + po) ** 2) / (n * (1.0 - pe) ** 4)
        var = max(float(var), 0.0)  # rounding can give -0 on perfect agreement
        se = float(np.sqrt(var))
        lo = max(-1.0, kap - z * se)
        hi = min(1.0, kap + z * se)
    return Kappa(
        categories=cats,
        table=read_only(table),
        n=n,
        observed_agreement=po,
        expected_agreement=pe,
        kappa=kap,
        se=se,
        lower=lo,
        upper=hi,
        weights=weights,
        conf_level=conf_level,
        n_excluded_missing=int((~rated).sum()),
    )


def _codes(x: ArrayLike, cats: tuple[str, ...]) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Category index of each rating, and the mask of missing ones (None, NaN, "")."""
    arr = np.asarray(x, dtype=object).ravel()
    codes = np.full(arr.size, -1, dtype=np.int64)
    for i, cat in enumerate(cats):  # one vectorized comparison per category
        codes[arr == cat] = i
    missing = (arr == None) | (arr != arr) | (arr == "")  # noqa: E711 (elementwise)
    bad = (codes < 0) & ~missing
    if bad.any():
        raise InputError(
            f"rating {arr[bad][0]!r} is not one of the categories ({', '.join(cats)})",
            fix="map the ratings onto the categories first",
        )
    return codes, missing


__all__ = ["Kappa", "KappaWeights", "cohen_kappa"]
