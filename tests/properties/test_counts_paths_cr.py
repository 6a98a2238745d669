"""The engine-aggregate paths of the competing-risks and RMST estimators equal the row paths.

The study computes the cumulative incidence and the RMST from per-(group, time, cause) patient
counts (a GROUP BY in the engine, bounded memory at any N); these properties check that the
counts give the same numbers, bit for bit, as the patient rows they summarise.
"""

from __future__ import annotations

import numpy as np
import numpy.testing as npt
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmrwe.core.errors import EstimationError, InputError
from mmrwe.stats.cuminc import cuminc, cuminc_from_counts
from mmrwe.stats.rmst import rmst_compare, rmst_compare_from_counts


@st.composite
def cohorts(draw: st.DrawFn, max_n: int = 40) -> pd.DataFrame:
    n = draw(st.integers(2, max_n))
    time = draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))
    cause = draw(st.lists(st.sampled_from(["cens", "prog", "death"]), min_size=n, max_size=n))
    group = draw(st.lists(st.sampled_from(["a", "b", "c", None]), min_size=n, max_size=n))
    stratum = draw(st.lists(st.sampled_from(["s1", "s2"]), min_size=n, max_size=n))
    return pd.DataFrame(
        {"time": np.asarray(time, float) / 3.0, "cause": cause, "group": group, "stratum": stratum}
    )


def _cells(d: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return d.groupby(keys, dropna=False).size().rename("n").reset_index()


@given(cohorts())
def test_cuminc_from_counts_equals_rows(d: pd.DataFrame) -> None:
    d = d.copy()
    d.loc[0, ["cause", "group"]] = ["prog", "a"]  # the event occurs in a kept row
    kw = {"event": "prog", "censored": "cens", "times": [0.5, 2, 3.5], "rho": 0.5}
    rows = cuminc(d["time"], d["cause"], d["group"].to_numpy(object), strata=d["stratum"], **kw)
    c = _cells(d, ["time", "cause", "group", "stratum"])
    # shuffled cells and an empty one: order and zero counts do not matter
    c = pd.concat([c, c.iloc[:1].assign(n=0)]).sample(frac=1, random_state=1)
    counts = cuminc_from_counts(
        c["time"], c["cause"], c["n"], c["group"].to_numpy(object), strata=c["stratum"], **kw
    )
    assert counts.n == rows.n and counts.n_excluded_missing == rows.n_excluded_missing
    assert counts.competing == rows.competing and list(counts.groups) == list(rows.groups)
    for g, curve in rows.groups.items():
        other = counts.groups[g]
        for name in ("time", "estimate", "variance", "lower", "upper", "risk_time", "risk_n"):
            npt.assert_array_equal(getattr(other, name), getattr(curve, name), err_msg=name)
        assert other.max_time == curve.max_time
        assert (other.n, other.events, other.competing_events, other.censored) == (
            curve.n, curve.events, curve.competing_events, curve.censored
        )  # fmt: skip
        assert counts.at[g] == rows.at[g]
    assert counts.gray == rows.gray and counts.gray_reason == rows.gray_reason


def test_cuminc_from_counts_checks_its_counts() -> None:
    with pytest.raises(InputError, match="whole numbers"):
        cuminc_from_counts([1, 2], [1, 0], [1.5, 1])
    with pytest.raises(InputError, match="one count per row"):
        cuminc_from_counts([1, 2], [1, 0], [1])
    with pytest.raises(EstimationError, match="never occurs"):
        cuminc_from_counts([1, 2], [1, 0], [0, 3])  # the only event cell is empty


@given(cohorts(), st.sampled_from([0.5, 1.0, 2.0, 3.0]))
def test_rmst_from_counts_equals_rows(d: pd.DataFrame, tau: float) -> None:
    d = d[d["group"].isin(["a", "b"]) | d["group"].isna()].copy()
    if d["group"].nunique() < 1:
        return
    event = (d["cause"] != "cens").to_numpy()
    g = d["group"].to_numpy(object)
    c = (
        d.assign(ev=event.astype(int), ce=(~event).astype(int))
        .groupby(["group", "time"], dropna=False)[["ev", "ce"]]
        .sum()
        .reset_index()
    )

    def run(f, *args):  # the estimate, or the message of the refusal (tau too large)
        try:
            return f(*args, tau=tau)
        except EstimationError as exc:
            return exc.what

    rows = run(rmst_compare, d["time"], event, g)
    counts = run(rmst_compare_from_counts, c["time"], c["ev"], c["ce"], c["group"].to_numpy(object))
    assert counts == rows


def test_rmst_from_counts_reads_survrm2s_rule_from_the_last_cell() -> None:
    # group A ends censored at 3 (one event and one censoring at 3): tau <= 3;
    # group B ends with events only at 5: no other limit
    r = rmst_compare_from_counts(
        [1, 3, 2, 5], [1, 1, 1, 2], [0, 1, 0, 0], ["A", "A", "B", "B"], tau=3
    )
    assert r.tau_max == 3
    with pytest.raises(EstimationError, match="largest allowed tau is 3"):
        rmst_compare_from_counts(
            [1, 3, 2, 5], [1, 1, 1, 2], [0, 1, 0, 0], ["A", "A", "B", "B"], tau=4
        )
