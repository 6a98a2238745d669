"""Legend placement of the KM figure: the column count found by bisection is the one the
linear search found, and a legend larger than the plot goes below it without trying
every corner."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from mmrwe.figures.km import KMSeries, _most_columns, km_figure


@given(n=st.integers(1, 40), limit=st.integers(0, 45))
def test_bisection_equals_linear_search(n: int, limit: int) -> None:
    def fits(k: int) -> bool:
        return k <= limit

    linear = n
    while linear > 1 and not fits(linear):
        linear -= 1
    assert _most_columns(n, fits) == linear


def _series(k: int) -> list[KMSeries]:
    out = []
    for j in range(k):
        t = np.arange(1.0, 31.0)
        s = np.exp(-t / (10.0 + j))
        curve = {"time": t.tolist(), "surv": s.tolist(), "lower": (s * 0.9).tolist(),
                 "upper": np.minimum(s * 1.1, 1).tolist(), "n_censor": [1] * 30,
                 "n_event": [1] * 30, "n_risk": list(range(60, 30, -1))}  # fmt: skip
        out.append(KMSeries(f"C{j:02d}", curve, ["60", "40", "31"]))
    return out


def test_many_groups_go_below_few_stay_inside() -> None:
    many = km_figure(_series(20), ticks=[0, 12, 24], xlabel="Months", ylabel="%",
                     legend_title="Center", show_ci=False)  # fmt: skip
    assert many._mmrwe_legend_below is True
    few = km_figure(_series(2), ticks=[0, 12, 24], xlabel="Months", ylabel="%",
                    legend_title="Group")  # fmt: skip
    assert few._mmrwe_legend_below is False
