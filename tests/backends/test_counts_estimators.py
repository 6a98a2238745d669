"""Estimators of the scaled path equal the row versions on the rows the counts summarise.

KM and log-rank from per-time counts are bit-identical (the same arrays feed the same
arithmetic); the chunked Cox fit and PH test agree with cox_fit / cox_zph to ~1e-12.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmrwe.core.conventions import SurvivalConventions
from mmrwe.stats.cox import cox_fit
from mmrwe.stats.cox_scaled import chunks_from_arrays, cox_fit_chunked, cox_zph_chunked
from mmrwe.stats.coxzph import cox_zph
from mmrwe.stats.km import (
    kaplan_meier,
    kaplan_meier_from_counts,
    reverse_km_followup,
    reverse_km_followup_from_counts,
)
from mmrwe.stats.logrank import (
    logrank_from_counts,
    logrank_test,
    logrank_trend_from_counts,
    logrank_trend_test,
)


def _counts(days: np.ndarray, event: np.ndarray, *keys: np.ndarray):
    """GROUP BY keys, day: (keys..., day, n_event, n_censor), as a database returns them."""
    rows: dict[tuple, list[int]] = {}
    for i in range(days.size):
        k = (*(kk[i] for kk in keys), int(days[i]))
        c = rows.setdefault(k, [0, 0])
        c[0 if event[i] else 1] += 1
    ks = list(rows)
    cols = [np.array([k[j] for k in ks], dtype=object) for j in range(len(keys))]
    d = np.array([k[-1] for k in ks])
    return (*cols, d, np.array([rows[k][0] for k in ks]), np.array([rows[k][1] for k in ks]))


samples = st.integers(1, 400).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 60), min_size=n, max_size=n),
        st.lists(st.booleans(), min_size=n, max_size=n),
        st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n),
        st.lists(st.sampled_from(["s1", "s2"]), min_size=n, max_size=n),
    )
)


@settings(max_examples=40, deadline=None)
@given(sample=samples, conf=st.sampled_from(["log-log", "log", "plain"]))
def test_km_from_counts_bit_identical(sample, conf) -> None:
    days, ev, _, _ = (np.array(x) for x in sample)
    conv = SurvivalConventions(conf_type=conf)
    t = days / 30.4375
    a = kaplan_meier(t, ev, conventions=conv)
    d, ne, nc = _counts(days, ev)
    b = kaplan_meier_from_counts(d / 30.4375, ne, nc, conventions=conv)
    for f in ("time", "n_risk", "n_event", "n_censor", "surv", "std_err", "lower", "upper"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert a.median == b.median
    assert a.median_symmetric() == b.median_symmetric()
    fa = reverse_km_followup(t, ev, conventions=conv)
    fb = reverse_km_followup_from_counts(d / 30.4375, ne, nc, conventions=conv)
    assert fa.to_dict() == fb.to_dict()


@settings(max_examples=40, deadline=None)
@given(sample=samples, rho=st.sampled_from([0.0, 1.0]), stratified=st.booleans())
def test_logrank_from_counts_bit_identical(sample, rho, stratified) -> None:
    days, ev, g, s = (np.array(x, dtype=object if i >= 2 else None) for i, x in enumerate(sample))
    days = days.astype(np.int64)
    ev = ev.astype(bool)
    t = days / 30.4375
    strata = s if stratified else None
    gg, ss, d, ne, nc = _counts(days, ev, g, s)
    try:
        a = logrank_test(t, ev, g, strata=strata, rho=rho).to_dict()
    except Exception as exc:  # one group only, or a singular variance: both must refuse
        with pytest.raises(type(exc)):
            logrank_from_counts(d / 30.4375, gg, ne, nc, strata=ss if stratified else None, rho=rho)
        return
    b = logrank_from_counts(d / 30.4375, gg, ne, nc, strata=ss if stratified else None, rho=rho)
    assert a == b.to_dict()
    if rho == 0.0:
        ta = logrank_trend_test(t, ev, g, strata=strata).to_dict()
        tb = logrank_trend_from_counts(d / 30.4375, gg, ne, nc, strata=ss if stratified else None)
        assert ta == tb.to_dict()


def _close(a, b, path="") -> None:
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-300), (path, a, b)
    else:
        assert a == b, (path, a, b)


@pytest.mark.parametrize("seed", range(6))
def test_chunked_cox_equals_cox_fit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, p = int(rng.integers(40, 3000)), int(rng.integers(1, 4))
    x = rng.normal(size=(n, p))
    x[:, 0] = rng.integers(0, 2, n)  # a 0/1 column: R leaves it uncentred
    t = rng.integers(0, 300, n) / 30.4375
    e = rng.random(n) < 0.7
    strata = rng.integers(0, 3, n) if seed % 2 else None
    ties = "breslow" if seed % 3 == 2 else "efron"
    names = [f"x{j}" for j in range(p)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = cox_fit(t, e, x, names=names, ties=ties, strata=strata)
        src = chunks_from_arrays(t, e, x, strata, chunk_size=int(rng.integers(5, 700)))
        fit = cox_fit_chunked(src, names=names, ties=ties, n_strata=3 if seed % 2 else None)
    _close(ref.to_dict(), fit.result.to_dict())
    for transform in ("km", "rank", "identity"):
        _close(
            cox_zph(ref, transform=transform).to_dict(),
            cox_zph_chunked(fit, src, transform=transform).to_dict(),
        )


def test_chunked_cox_skips_concordance_beyond_limit() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 1))
    t = rng.integers(1, 50, 200).astype(float)
    e = rng.random(200) < 0.8
    fit = cox_fit_chunked(chunks_from_arrays(t, e, x), names=["x"], concordance_max_rows=100)
    assert fit.result.concordance is None
    assert any("concordance not computed" in w for w in fit.result.warnings)
    full = cox_fit(t, e, x, names=["x"])
    assert math.isclose(fit.result.coef[0], full.coef[0], rel_tol=1e-10)


@pytest.mark.parametrize("seed", range(4))
def test_chunked_cox_per_row_mode_equals_cox_fit(seed: int) -> None:
    # many columns: the two-pass per-row information (mode "auto" from 11 columns) gives
    # the fit and PH test of cox_fit / cox_zph, and so does the one-pass per-time mode
    rng = np.random.default_rng(100 + seed)
    n, p = int(rng.integers(300, 2000)), int(rng.integers(11, 16))
    x = rng.normal(size=(n, p))
    x[:, 0] = rng.integers(0, 2, n)
    t = rng.integers(0, 200, n) / 30.4375
    e = rng.random(n) < 0.7
    strata = rng.integers(0, 3, n) if seed % 2 else None
    ties = "breslow" if seed == 2 else "efron"
    names = [f"x{j}" for j in range(p)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = cox_fit(t, e, x, names=names, ties=ties, strata=strata)
        src = chunks_from_arrays(t, e, x, strata, chunk_size=int(rng.integers(50, 700)))
        fits = {
            mode: cox_fit_chunked(
                src, names=names, ties=ties, n_strata=3 if seed % 2 else None, mode=mode
            )
            for mode in ("auto", "per_row", "per_time")
        }
    assert fits["auto"]._per_row and fits["per_row"]._per_row and not fits["per_time"]._per_row
    for fit in fits.values():
        _close(ref.to_dict(), fit.result.to_dict())
        for transform in ("km", "rank", "identity"):
            _close(
                cox_zph(ref, transform=transform).to_dict(),
                cox_zph_chunked(fit, src, transform=transform).to_dict(),
            )


@pytest.mark.parametrize("limit", [0, 700, 10**9])
def test_chunked_cox_kept_group_index_changes_nothing(limit: int, monkeypatch: Any) -> None:
    # the group index kept between passes (none, part of the chunks, all) gives the same
    # fit and PH test, bit for bit, in both information modes
    import mmrwe.stats.cox_scaled as cs

    rng = np.random.default_rng(7)
    n = 2500
    x = np.column_stack([rng.normal(size=n), rng.integers(0, 2, n)]).astype(float)
    t = rng.integers(0, 300, n) / 30.4375
    e = rng.random(n) < 0.6
    strata = rng.integers(0, 3, n)
    src = chunks_from_arrays(t, e, x, strata, chunk_size=400)

    def run() -> list[dict[str, Any]]:
        out = []
        for mode in ("per_row", "per_time"):
            fit = cox_fit_chunked(src, names=["a", "b"], n_strata=3, mode=mode)
            out += [fit.result.to_dict(), cox_zph_chunked(fit, src).to_dict()]
        return out

    monkeypatch.setattr(cs, "GROUP_INDEX_CACHE_MAX_ROWS", 0)
    plain = run()
    monkeypatch.setattr(cs, "GROUP_INDEX_CACHE_MAX_ROWS", limit)
    assert run() == plain


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    times=st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.25, 7.0, 30.0]), min_size=1, max_size=60),
    n_strata=st.integers(1, 4),
    seed=st.integers(0, 10),
)
def test_chunk_pairs_count_every_stratum_time_pair(
    times: list[float], n_strata: int, seed: int
) -> None:
    from mmrwe.stats.cox_scaled import _chunk_pairs

    t = np.asarray(times)
    ss = np.random.default_rng(seed).integers(0, n_strata, t.size)
    for strata in (n_strata, 10**6):  # the table of pairs, and the sort for a large one
        uk, ut, local = _chunk_pairs(t, ss, strata)
        pair_s, pair_t = uk // ut.size, ut[uk % ut.size]
        got = sorted(zip(pair_s.tolist(), pair_t.tolist(), strict=True))
        assert got == sorted(set(zip(ss.tolist(), times, strict=True)))
        np.testing.assert_array_equal(pair_s[local], ss)
        np.testing.assert_array_equal(pair_t[local], t)


def test_chunked_cox_with_column_sums_saves_a_pass_and_equals() -> None:
    from mmrwe.core.errors import InputError
    from mmrwe.stats.cox_scaled import ColumnSums

    rng = np.random.default_rng(5)
    n = 3000
    x = np.column_stack([rng.normal(60, 9, n).round(), rng.integers(0, 2, n)]).astype(float)
    t = rng.integers(1, 500, n) / 30.4375
    e = rng.random(n) < 0.6
    strata = rng.integers(0, 4, n)
    calls = [0]
    base = chunks_from_arrays(t, e, x, strata, chunk_size=700)

    def src():  # counts the passes
        calls[0] += 1
        return base()

    plain = cox_fit_chunked(src, names=["age", "m"], n_strata=4)
    passes_plain, calls[0] = calls[0], 0
    sums = ColumnSums(n, x.sum(axis=0), np.array([False, True]))
    fast = cox_fit_chunked(src, names=["age", "m"], n_strata=4, column_sums=sums)
    assert calls[0] == passes_plain - 1
    a, b = plain.result.to_dict(), fast.result.to_dict()
    _close(a, b)
    with pytest.raises(InputError, match="not those of the source"):
        cox_fit_chunked(src, names=["age", "m"], n_strata=4,
                        column_sums=ColumnSums(n - 1, x.sum(axis=0), np.array([False, True])))  # fmt: skip
