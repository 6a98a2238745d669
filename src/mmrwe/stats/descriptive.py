"""Descriptive statistics and group tests for Table 1 (baseline characteristics).

Quantiles are R's type 7 (numpy "linear"); the two-group test of a numeric variable is R's
``wilcox.test`` default (exact when both groups have fewer than 50 values and there are no
ties, else the normal approximation with continuity correction); more groups use
``kruskal.test``. Categorical variables use ``chisq.test(correct = FALSE)`` unless an expected
count is below 5, then ``fisher.test`` (gtsummary's rule).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats as sst

from mmrwe.stats._common import none_if_nan


def describe_numeric(x: np.ndarray) -> dict[str, Any]:
    """n, missing, mean, SD, median, quartiles (type 7), min, max of a numeric column.

    Examples
    --------
    >>> d = describe_numeric(np.array([1.0, 2.0, 3.0, 4.0, np.nan]))
    >>> d["n"], d["missing"], d["median"], d["q1"], d["q3"]
    (4, 1, 2.5, 1.75, 3.25)
    """
    x = np.asarray(x, dtype=np.float64)
    ok = x[~np.isnan(x)]
    out: dict[str, Any] = {"n": int(ok.size), "missing": int(x.size - ok.size)}
    if ok.size == 0:
        out.update(dict.fromkeys(("mean", "sd", "median", "q1", "q3", "min", "max")))
        return out
    q1, med, q3 = np.quantile(ok, [0.25, 0.5, 0.75], method="linear")
    out.update(
        {
            "mean": float(ok.mean()),
            "sd": none_if_nan(float(ok.std(ddof=1))) if ok.size > 1 else None,
            "median": float(med),
            "q1": float(q1),
            "q3": float(q3),
            "min": float(ok.min()),
            "max": float(ok.max()),
        }
    )
    return out


def describe_categorical(labels: np.ndarray, levels: Sequence[str]) -> dict[str, Any]:
    """Counts and percentages per level (percent of non-missing), plus the missing count.

    Missing is ``None`` (or NaN); a value that is no level counts in ``n`` but in no level.
    Counted by hashing (one pass), not one comparison of every cell per level: 1e7 labels
    in 0.2 s rather than 0.8 s.

    Examples
    --------
    >>> d = describe_categorical(np.array(["a", "b", None, "a", "c"], dtype=object), ["a", "b"])
    >>> d["n"], d["missing"], d["counts"]
    (4, 1, {'a': 2, 'b': 1})
    """
    import pandas as pd

    lab = np.asarray(labels, dtype=object)
    codes, uniques = pd.factorize(lab, use_na_sentinel=True)
    per_value = np.bincount(codes[codes >= 0], minlength=len(uniques))
    n = int(per_value.sum())
    found = dict(zip(uniques.tolist(), per_value.tolist(), strict=True))
    counts = {lv: int(found.get(lv, 0)) for lv in levels}
    return {
        "n": n,
        "missing": int(lab.size - n),
        "counts": counts,
        "percent": {lv: (100.0 * k / n if n else None) for lv, k in counts.items()},
    }


def wilcoxon_rank_sum(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Two-sided Wilcoxon rank-sum test as R ``wilcox.test(x, y)`` with its defaults.

    The statistic W is R's: the rank sum of ``x`` minus ``n_x (n_x + 1) / 2``.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    nx, ny = x.size, y.size
    if nx == 0 or ny == 0:
        return {"method": "Wilcoxon rank-sum", "statistic": None, "p": None}
    r = sst.rankdata(np.concatenate([x, y]))
    w = float(r[:nx].sum() - nx * (nx + 1) / 2)
    ties = np.unique(r).size != r.size
    if nx < 50 and ny < 50 and not ties:
        # R: p = 2 * min(P(W <= w), P(W >= w)), capped at 1; scipy's exact null is the same.
        res = sst.mannwhitneyu(x, y, alternative="two-sided", method="exact")
        return {
            "method": "Wilcoxon rank-sum (exact)",
            "statistic": w,
            "p": float(min(1.0, res.pvalue)),
        }
    _, counts = np.unique(r, return_counts=True)
    n = nx + ny
    z = w - nx * ny / 2
    sigma = np.sqrt(nx * ny / 12 * ((n + 1) - np.sum(counts**3 - counts) / (n * (n - 1))))
    if sigma == 0:
        return {"method": "Wilcoxon rank-sum (normal approximation)", "statistic": w, "p": None}
    correction = 0.5 * np.sign(z)
    zc = (z - correction) / sigma
    p = 2 * min(sst.norm.cdf(zc), sst.norm.sf(zc))
    return {
        "method": "Wilcoxon rank-sum (normal approximation, continuity correction)",
        "statistic": w,
        "p": float(min(1.0, p)),
    }


def kruskal_wallis(values: np.ndarray, groups: np.ndarray, levels: Sequence[str]) -> dict[str, Any]:
    """Kruskal-Wallis test as R ``kruskal.test`` (tie-corrected chi-square, df = k - 1)."""
    samples = [values[groups == lv] for lv in levels]
    samples = [s for s in samples if s.size]
    if len(samples) < 2:
        return {"method": "Kruskal-Wallis", "statistic": None, "df": None, "p": None}
    try:
        h, p = sst.kruskal(*samples)
    except ValueError:  # all values identical
        return {"method": "Kruskal-Wallis", "statistic": None, "df": len(samples) - 1, "p": None}
    return {
        "method": "Kruskal-Wallis",
        "statistic": none_if_nan(float(h)),
        "df": len(samples) - 1,
        "p": none_if_nan(float(p)),
    }


def compare_numeric(x: np.ndarray, groups: np.ndarray, levels: Sequence[str]) -> dict[str, Any]:
    """Wilcoxon rank-sum for two groups, Kruskal-Wallis for more; missing values dropped."""
    x = np.asarray(x, dtype=np.float64)
    g = np.asarray(groups, dtype=object)
    ok = ~np.isnan(x)
    x, g = x[ok], g[ok]
    if len(levels) == 2:
        return wilcoxon_rank_sum(x[g == levels[0]], x[g == levels[1]])
    return kruskal_wallis(x, g, levels)


def compare_categorical(
    labels: np.ndarray, groups: np.ndarray, levels_by: Sequence[str]
) -> dict[str, Any]:
    """Chi-square without continuity correction, or Fisher exact when an expected count < 5."""
    from mmrwe.core.errors import MmrweError
    from mmrwe.stats.contingency import chisq_test, fisher_exact

    lab = np.asarray(labels, dtype=object)
    g = np.asarray(groups, dtype=object)
    ok = np.array([v is not None for v in lab]) & np.array([v is not None for v in g])
    lab, g = lab[ok], g[ok]
    cats = sorted(set(lab))
    table = np.array([[int(np.sum((lab == c) & (g == lv))) for lv in levels_by] for c in cats])
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return {"method": None, "p": None}
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    if np.all(expected >= 5):
        res = chisq_test(table, correct=False).to_dict()
        return {
            "method": "Pearson chi-square",
            "statistic": res.get("statistic"),
            "df": res.get("df"),
            "p": res.get("p"),
        }
    try:
        res = fisher_exact(table).to_dict()
        return {"method": "Fisher exact", "p": res.get("p")}
    except MmrweError:
        res = chisq_test(table, correct=False).to_dict()
        return {
            "method": "Pearson chi-square (expected counts < 5)",
            "statistic": res.get("statistic"),
            "df": res.get("df"),
            "p": res.get("p"),
        }
