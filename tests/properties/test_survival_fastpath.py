"""The fast paths of Kaplan-Meier and the log-rank test give the general path's numbers, bit
for bit, on random data: ties, events at time 0 (and -0.0), missing groups and strata,
groups absent from a stratum, rho != 0, every group and event dtype the fast paths treat
specially.

Kaplan-Meier: ``kaplan_meier`` is compared with the row path it replaced (kept below as
``reference_kaplan_meier``: sort key tabulation, masked product-limit, band with two logs,
``_findq`` once per curve with its sort). Log-rank: ``_prepare_blocks`` +
``_survdiff_counts`` (the fast path) against ``_prepare`` + ``_survdiff`` (the general
row path, still used when the fast path declines).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.testing as npt
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.stats import chi2

from mmrwe.core.conventions import SurvivalConventions
from mmrwe.core.errors import EstimationError, InputError
from mmrwe.stats._common import as_time_event, z_value
from mmrwe.stats.km import (
    _TOL,
    _findq,
    _findq3,
    _first_crossing,
    kaplan_meier,
    kaplan_meier_from_counts,
)
from mmrwe.stats.logrank import (
    _prepare,
    _prepare_blocks,
    _survdiff,
    _survdiff_counts,
    logrank_from_counts,
    logrank_test,
    logrank_trend_test,
)

FLOAT_FIELDS = ("time", "surv", "std_err", "std_err_log", "lower", "upper")
INT_FIELDS = ("n_risk", "n_event", "n_censor")


def same_bits(a: Any, b: Any) -> None:
    """Equal to the last bit (NaN payload and sign included), same dtype and shape."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype
    assert a.shape == b.shape
    assert a.tobytes() == b.tobytes()


# --------------------------------------------------------------------------------------
# Kaplan-Meier: the row path before the fast path, kept as the reference
# --------------------------------------------------------------------------------------


def reference_kaplan_meier(time: Any, event: Any, conv: SurvivalConventions) -> dict[str, Any]:
    t, e = as_time_event(time, event)
    n = t.size
    bits = np.ascontiguousarray(t + 0.0).view(np.uint64)
    key = np.sort((bits << np.uint64(1)) | e.astype(np.uint64))
    ts = (key >> np.uint64(1)).view(np.float64)
    ev = (key & np.uint64(1)).astype(np.int64)
    first = np.empty(n, dtype=bool)
    first[0] = True
    np.not_equal(ts[1:], ts[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], n)
    cum_ev = np.concatenate(([0], np.cumsum(ev)))
    n_event = (cum_ev[ends] - cum_ev[starts]).astype(np.int64)
    n_censor = ((ends - starts) - n_event).astype(np.int64)
    n_risk = (n - starts).astype(np.int64)
    times = ts[starts].copy()
    nf, d = n_risk.astype(np.float64), n_event.astype(np.float64)
    has_event = d > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(has_event, (nf - d) / nf, 1.0)
        greenwood = np.where(has_event, d / (nf * (nf - d)), 0.0)
    surv = np.cumprod(factor, dtype=np.float64)
    se_log = np.sqrt(np.cumsum(greenwood, dtype=np.float64))
    with np.errstate(invalid="ignore"):
        std_err = surv * se_log
    z = z_value(conv.conf_level)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conv.conf_type == "plain":
            half = se_log * surv * z
            lower, upper = np.maximum(surv - half, 0.0), np.minimum(surv + half, 1.0)
        elif conv.conf_type == "log":
            xx = np.where(surv == 0, np.nan, surv)
            half = z * se_log
            lower = np.exp(np.log(xx) - half)
            upper = np.minimum(np.exp(np.log(xx) + half), 1.0)
        else:
            xx = np.where((surv == 0) | (surv == 1), np.nan, surv)
            half = z * se_log / np.log(xx)
            loglog = np.log(-np.log(xx))
            lower = np.exp(-np.exp(loglog - half))
            upper = np.exp(-np.exp(loglog + half))
    medians = [reference_quantile(times, c, 0.5, conv) for c in (surv, lower, upper)]
    return {
        "time": times,
        "n_risk": n_risk,
        "n_event": n_event,
        "n_censor": n_censor,
        "surv": surv,
        "std_err": std_err,
        "std_err_log": se_log,
        "lower": lower,
        "upper": upper,
        "median": medians,
        "events": int(np.count_nonzero(e)),
    }


def reference_quantile(time: Any, s: Any, p: float, conv: SurvivalConventions) -> float:
    if conv.median_rule == "midpoint":
        return _findq(np.concatenate(([0.0], time)), np.concatenate(([0.0], 1.0 - s)), p)
    return _first_crossing(time, s, 1.0 - p, strict=conv.median_rule == "first-below")


def none_or_nan(x: float | None) -> float:
    return math.nan if x is None else x


@st.composite
def km_samples(draw: st.DrawFn, max_n: int = 50) -> tuple[np.ndarray, Any]:
    n = draw(st.integers(1, max_n))
    # few distinct values: ties of events and censorings, events at 0 (and -0.0)
    time = np.array(
        draw(
            st.lists(
                st.sampled_from([0.0, -0.0, 0.5, 1.0, 2.0, 3.0, 7.25, 10.0]), min_size=n, max_size=n
            )
        )
    )
    event = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    dtype = draw(st.sampled_from([bool, np.int64, np.int8, np.uint16, float, "list"]))
    ev: Any = event.tolist() if dtype == "list" else event.astype(dtype)
    return time, ev


CONVENTIONS = st.builds(
    SurvivalConventions,
    conf_type=st.sampled_from(["log-log", "log", "plain"]),
    conf_level=st.sampled_from([0.95, 0.9, 0.8]),
    median_rule=st.sampled_from(["midpoint", "first-at-or-below", "first-below"]),
)


@settings(max_examples=150, deadline=None)
@given(sample=km_samples(), conv=CONVENTIONS)
def test_kaplan_meier_equals_the_row_path_bit_for_bit(sample, conv) -> None:
    time, event = sample
    km = kaplan_meier(time, event, conventions=conv)
    ref = reference_kaplan_meier(time, event, conv)
    for name in FLOAT_FIELDS + INT_FIELDS:
        same_bits(getattr(km, name), ref[name])
    got = [none_or_nan(v) for v in (km.median.value, km.median.lower, km.median.upper)]
    same_bits(got, ref["median"])
    assert km.events == ref["events"]
    assert km.n == len(time)
    # and from per-time counts, as the scaled path computes them
    counts = kaplan_meier_from_counts(km.time, km.n_event, km.n_censor, conventions=conv)
    for name in FLOAT_FIELDS + INT_FIELDS:
        same_bits(getattr(counts, name), getattr(km, name))
    assert counts.median == km.median


@st.composite
def curves(draw: st.DrawFn) -> tuple[np.ndarray, tuple[np.ndarray, ...], float]:
    """Curves (any order, not monotone) with values within a few tol of p, NaN and inf."""
    p = draw(st.sampled_from([0.5, 0.25, 0.75, 1.0, 0.0, 1e-7, 4 * _TOL, 3 * _TOL, 0.9999]))
    m = draw(st.integers(1, 8))
    time = np.cumsum(np.array(draw(st.lists(st.integers(1, 3), min_size=m, max_size=m)), float))
    near = st.builds(
        lambda c, u: float(1.0 - (p + c * _TOL) + u * 2.0**-53),
        st.integers(-4, 4),
        st.integers(-3, 3),
    )
    value = st.one_of(near, st.floats(0, 1), st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1.0]))
    three = tuple(np.array(draw(st.lists(value, min_size=m, max_size=m))) for _ in range(3))
    return time, three, p


@settings(max_examples=200, deadline=None)
@given(case=curves())
def test_findq3_equals_findq(case) -> None:
    time, three, p = case
    x = np.concatenate(([0.0], time))
    want = [_findq(x, np.concatenate(([0.0], 1.0 - s)), p) for s in three]
    same_bits(list(_findq3(time, three, p)), want)


# --------------------------------------------------------------------------------------
# log-rank: fast path (per-cell sorts, block counts) against the general row path
# --------------------------------------------------------------------------------------

GROUP_KINDS = ["int", "int8_negative", "bool", "float_nan", "float_nonint", "object_none", "uint16"]
STRATA_KINDS = ["none", "int", "float_nan", "object", "constant"]


def make_groups(kind: str, codes: np.ndarray, missing: np.ndarray) -> Any:
    if kind == "int":
        return codes.astype(np.int64)
    if kind == "int8_negative":
        return (codes.astype(np.int8) - 2) * 40  # -80, -40, 0, 40: not 0..k-1
    if kind == "bool":
        return codes % 2 == 1
    if kind == "float_nan":
        g = codes.astype(float)
        g[missing] = np.nan
        return g
    if kind == "float_nonint":
        return codes * 0.5 + 0.25
    if kind == "uint16":
        return (codes + 7).astype(np.uint16)
    g = np.array([["a", "b", "c", "d"][c] for c in codes], dtype=object)
    g[missing] = None
    return g


def make_strata(kind: str, codes: np.ndarray, missing: np.ndarray) -> Any:
    if kind == "none":
        return None
    if kind == "int":
        return codes.astype(np.int64)
    if kind == "float_nan":
        s = codes.astype(float)
        s[missing] = np.nan
        return s
    if kind == "constant":
        return np.zeros(codes.size)
    return np.array([["x", "y", "z"][c] for c in codes], dtype=object)


@st.composite
def logrank_samples(draw: st.DrawFn, max_n: int = 50) -> dict[str, Any]:
    n = draw(st.integers(1, max_n))
    k = draw(st.integers(1, 4))
    time = np.array(
        draw(
            st.lists(st.sampled_from([0.0, -0.0, 1.0, 2.0, 3.5, 4.0, 9.0]), min_size=n, max_size=n)
        )
    )
    event = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    g_codes = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    s_codes = np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))
    g_miss = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n))) & draw(st.booleans())
    s_miss = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n))) & draw(st.booleans())
    g_kind = draw(st.sampled_from(GROUP_KINDS))
    s_kind = draw(st.sampled_from(STRATA_KINDS))
    ev_dtype = draw(st.sampled_from([bool, np.int64, np.uint8, float]))
    return {
        "time": time,
        "event": event.astype(ev_dtype),
        "group": make_groups(g_kind, g_codes, g_miss),
        "strata": make_strata(s_kind, s_codes, s_miss),
        "rho": draw(st.sampled_from([0.0, 1.0, 0.5, -0.5, 2.0])),
    }


def outcome(f: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return f(*args, **kwargs)
    except (EstimationError, InputError) as err:
        return (type(err).__name__, str(err))


@settings(max_examples=150, deadline=None)
@given(sample=logrank_samples())
def test_logrank_fast_path_equals_row_path_bit_for_bit(sample) -> None:
    t, e, g, s, rho = (sample[k] for k in ("time", "event", "group", "strata", "rho"))
    general = outcome(_prepare, t, e, g, s)
    fast = outcome(_prepare_blocks, t, e, g, s)
    if isinstance(general, tuple):  # the general path raises: the fast path declines
        assert fast is None
        return
    # the fast path covers every input the general path accepts
    assert fast is not None
    blocks, n_excluded = fast
    assert blocks.labels == general.labels
    same_bits(blocks.n_per_group, general.n_per_group)
    assert blocks.n_strata == general.n_strata
    assert n_excluded == general.n_excluded
    want = _survdiff(general, rho)
    got = _survdiff_counts(blocks, rho)
    for a, b in zip(got, want, strict=True):
        same_bits(a, b)


@settings(max_examples=80, deadline=None)
@given(sample=logrank_samples())
def test_public_tests_unchanged(sample) -> None:
    t, e, g, s, rho = (sample[k] for k in ("time", "event", "group", "strata", "rho"))
    r = outcome(logrank_test, t, e, g, strata=s, rho=rho, strata_name="s")
    general = outcome(_prepare, t, e, g, s)
    if isinstance(general, tuple):
        assert r == general  # same error, same message
        return
    if isinstance(r, tuple):  # singular variance: raised after either path
        assert r[0] == "EstimationError"
        return
    obs, exp, var = _survdiff(general, rho)
    same_bits(list(r.observed.values()), obs)
    same_bits(list(r.expected.values()), exp)
    same_bits(r.variance, var)
    assert r.groups == general.labels
    assert list(r.n.values()) == general.n_per_group.tolist()
    assert (r.n_strata, r.n_excluded_missing, r.stratified) == (
        general.n_strata,
        general.n_excluded,
        s is not None,
    )
    if r.df >= 1:
        assert r.p == chi2.sf(r.chisq, r.df)
    trend = outcome(logrank_trend_test, t, e, g, strata=s)
    if not isinstance(trend, tuple):
        o0, e0, v0 = _survdiff(general, 0.0)
        assert trend.statistic == float(np.arange(1.0, len(o0) + 1) @ (o0 - e0))
        assert trend.variance == float(
            np.arange(1.0, len(o0) + 1) @ v0 @ np.arange(1.0, len(o0) + 1)
        )


@settings(max_examples=50, deadline=None)
@given(sample=logrank_samples())
def test_rows_and_counts_give_the_same_test(sample) -> None:
    t, e, g, s, rho = (sample[k] for k in ("time", "event", "group", "strata", "rho"))
    r = outcome(logrank_test, t, e, g, strata=s, rho=rho)
    assume(not isinstance(r, tuple))
    tt, ee = as_time_event(t, e)
    ga = np.asarray(g)
    keep = np.array(
        [not (v is None or (isinstance(v, float) and math.isnan(v))) for v in ga.tolist()]
    )
    sa = None if s is None else np.asarray(s)
    if sa is not None:
        keep &= np.array(
            [not (v is None or (isinstance(v, float) and math.isnan(v))) for v in sa.tolist()]
        )
    # per (stratum, group, time) counts, as a GROUP BY would give them
    rows = {}
    for i in np.flatnonzero(keep):
        key = (None if sa is None else sa[i], ga[i], tt[i] + 0.0)
        ev, ce = rows.get(key, (0, 0))
        rows[key] = (ev + int(ee[i]), ce + int(not ee[i]))
    keys = list(rows)
    c = logrank_from_counts(
        [k[2] for k in keys],
        np.array([k[1] for k in keys], dtype=ga.dtype),
        [rows[k][0] for k in keys],
        [rows[k][1] for k in keys],
        strata=None if sa is None else np.array([k[0] for k in keys], dtype=sa.dtype),
        rho=rho,
        n_excluded_missing=int(np.count_nonzero(~keep)),
    )
    same_bits(list(c.observed.values()), list(r.observed.values()))
    same_bits(list(c.expected.values()), list(r.expected.values()))
    same_bits(c.variance, r.variance)
    assert c.chisq == r.chisq or (math.isnan(c.chisq) and math.isnan(r.chisq))


@pytest.mark.parametrize("rho", [0.0, 1.0])
def test_benchmark_shaped_data_bit_for_bit(rho: float) -> None:
    # the benchmark's shape (2 int groups, continuous times to 2 decimals), larger than
    # hypothesis draws: many distinct times per group, most shared
    rng = np.random.default_rng(20240601)
    n = 20_000
    t = np.round(rng.exponential(20, n), 2)
    e = (rng.random(n) < 0.7).astype(np.int64)
    g = rng.integers(0, 2, n)
    s = rng.integers(0, 3, n)
    for strata in (None, s):
        blocks, _ = _prepare_blocks(t, e, g, strata)
        want = _survdiff(_prepare(t, e, g, strata), rho)
        for a, b in zip(_survdiff_counts(blocks, rho), want, strict=True):
            same_bits(a, b)
    km = kaplan_meier(t, e)
    ref = reference_kaplan_meier(t, e, SurvivalConventions())
    for name in FLOAT_FIELDS + INT_FIELDS:
        same_bits(getattr(km, name), ref[name])
    npt.assert_equal(
        [none_or_nan(v) for v in (km.median.value, km.median.lower, km.median.upper)], ref["median"]
    )
