"""The fast paths of Kaplan-Meier and the log-rank test on cases small enough to check by
hand (arithmetic in the comments), and their edge cases: inputs they hand back to the
general code, empty (stratum, group) cells, labels, read-only results."""

from __future__ import annotations

import math

import numpy as np
import numpy.testing as npt
import pytest
from scipy.stats import chi2

from mmrwe.core.errors import EstimationError, InputError
from mmrwe.stats._common import as_time_event
from mmrwe.stats.km import (
    _TOL,
    _findq,
    _findq3,
    _km_from_fresh_arrays,
    _tabulate,
    _time_event_bits,
    factorize_groups,
    kaplan_meier,
)
from mmrwe.stats.logrank import (
    _chi2_sf,
    _factorize_rows,
    _prepare,
    _prepare_blocks,
    _survdiff,
    _survdiff_counts,
    logrank_test,
)


def same_bits(a: object, b: object) -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype
    assert a.tobytes() == b.tobytes()


# --------------------------------------------------------------------------------------
# Kaplan-Meier
# --------------------------------------------------------------------------------------


def test_tabulate_by_hand() -> None:
    # times 0, 0, 1, 1, 1, 3 with events 1, 0, 1, 1, 0, 0:
    # t = 0: 6 at risk, 1 event, 1 censored; t = 1: 4 at risk, 2 events, 1 censored;
    # t = 3: 1 at risk, 0 events, 1 censored. -0.0 is time 0.
    t = np.array([1.0, 0.0, 3.0, 1.0, -0.0, 1.0])
    e = np.array([True, True, False, True, False, False])
    times, n_risk, n_event, n_censor = _tabulate(t, e.view(np.uint8))
    same_bits(times, [0.0, 1.0, 3.0])
    same_bits(n_risk, np.array([6, 4, 1]))
    same_bits(n_event, np.array([1, 2, 0]))
    same_bits(n_censor, np.array([1, 1, 1]))


@pytest.mark.parametrize("dtype", [bool, np.int64, np.int32, np.uint8, np.int8])
def test_event_arrays_are_used_without_copy(dtype: type) -> None:
    t = np.array([2.0, 1.0, 0.0])
    e = np.array([1, 0, 1], dtype=dtype)
    tt, ee = _time_event_bits(t, e)
    assert tt is t
    assert np.shares_memory(ee, e)
    assert ee.dtype.kind == "u"
    npt.assert_array_equal(ee, [1, 0, 1])


@pytest.mark.parametrize(
    ("time", "event"),
    [
        ([1.0, np.nan], [1, 0]),
        ([1.0, np.inf], [1, 0]),
        ([1.0, -np.inf], [1, 0]),
        ([1.0, -2.0], [1, 0]),
        ([1.0, 2.0], [1, 2]),
        ([1.0, 2.0], [1, -1]),
        ([1.0, 2.0], [0.5, 1.0]),
        ([1.0, 2.0], [1]),
    ],
)
def test_bad_inputs_raise_what_as_time_event_raises(time: list, event: list) -> None:
    with pytest.raises(InputError) as want:
        as_time_event(time, event)
    with pytest.raises(InputError) as got:
        _time_event_bits(time, event)
    assert str(got.value) == str(want.value)


def test_negative_zero_and_float_events_take_the_general_checks() -> None:
    # -0.0 fails the one-reduction check (its sign bit is set) but is a valid time 0
    tt, ee = _time_event_bits([-0.0, 1.0], [1.0, 0.0])
    npt.assert_array_equal(tt, [0.0, 1.0])
    npt.assert_array_equal(ee, [1, 0])


def test_findq3_exact_half_plateau_and_curve_ending_on_it() -> None:
    # S = 3/4, 1/2, 1/4, 0 at 1..4: S = 0.5 on [2, 3): R's midpoint (2 + 3) / 2 = 2.5
    time = np.array([1.0, 2.0, 3.0, 4.0])
    s = np.array([0.75, 0.5, 0.25, 0.0])
    assert _findq3(time, (s, s, s), 0.5) == (2.5, 2.5, 2.5)
    # S = 3/4, 1/2, 1/2, 1/2: ends on the flat: (start of flat 2 + last time 4) / 2 = 3
    s = np.array([0.75, 0.5, 0.5, 0.5])
    assert _findq3(time, (s, s, s), 0.5)[0] == 3.0


def test_findq3_band_that_rises_again() -> None:
    # a band need not be monotone: y = 1 - band = 0.2, 0.7, 0.6 at times 1, 2, 3; the
    # smallest y >= 0.5 is 0.6 at time 3 (R's approx sorts by y), not the first, 0.7 at 2
    time = np.array([1.0, 2.0, 3.0])
    s = np.array([0.75, 0.5, 0.25])
    band = np.array([0.8, 0.3, 0.4])
    got = _findq3(time, (s, band, band), 0.5)
    x = np.concatenate(([0.0], time))
    assert got[1] == _findq(x, np.concatenate(([0.0], 1.0 - band)), 0.5) == 3.0


def test_findq3_general_cases() -> None:
    time = np.array([1.0, 2.0, 3.0])
    x = np.concatenate(([0.0], time))
    cases = [
        np.array([np.nan, np.nan, np.nan]),  # no value: NA
        np.array([0.9, 0.8, 0.7]),  # never reaches 0.5: NA
        np.array([0.9, -np.inf, 0.4]),  # y = inf: the minimum search cannot place it
        np.array([0.9, 0.5 + _TOL / 2, 0.4]),  # within tol of 1 - p
        np.array([0.9, np.nan, 0.4]),
    ]
    for s in cases:
        for p in (0.5, 0.0, 0.1, 1e-12):
            want = _findq(x, np.concatenate(([0.0], 1.0 - s)), p)
            same_bits(_findq3(time, (s, s, s), p)[0], want)


def test_results_are_read_only_and_own_their_arrays() -> None:
    t = np.array([1.0, 2.0, 2.0, 5.0])
    e = np.array([1, 1, 0, 1])
    km = kaplan_meier(t, e)
    for name in ("time", "n_risk", "surv", "lower", "upper", "std_err_log"):
        a = getattr(km, name)
        assert not a.flags.writeable
        assert not np.shares_memory(a, t)
    # a view (here of a writable array) is copied, not frozen in place
    base = np.arange(6.0)
    km2 = _km_from_fresh_arrays(**{**{f: getattr(km, f) for f in km.__slots__}, "surv": base[::2]})
    assert base.flags.writeable
    assert not np.shares_memory(km2.surv, base)
    npt.assert_array_equal(km2.surv, [0.0, 2.0, 4.0])


# --------------------------------------------------------------------------------------
# log-rank
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        np.array([True, False, True]),
        np.array([True, True]),
        np.array([3, 1, 3, 2]),
        np.array([-80, 40, 0, -80], dtype=np.int8),
        np.array([7, 9, 9], dtype=np.uint16),
        np.array([5, 6, 5]),
        np.array([2.0, -0.0, 0.0, 2.0]),
        np.array([1.5, 0.5, 1.5]),
        np.array([1e300, 1.0]),
        np.array([0, 10**9]),
        np.array(["b", "a", "b"], dtype=object),
    ],
)
def test_counting_factorization_equals_factorize_groups(values: np.ndarray) -> None:
    codes, labels, counts = _factorize_rows(values)
    want_codes, want_labels, _ = factorize_groups(values, values.size)
    assert labels == want_labels
    npt.assert_array_equal(np.asarray(codes, dtype=np.int64), want_codes)
    npt.assert_array_equal(counts, np.bincount(want_codes, minlength=len(want_labels)))


def test_logrank_fast_path_by_hand() -> None:
    # deaths at 1 (a), 2 (b), 3 (a), 4 (b); at risk 4, 3, 2, 1 with 2, 2, 1, 1 in a:
    # E(a) = 2/4 + 1/3 + 1/2 + 0 = 4/3, O(a) = 2;
    # V = 2*2/16 + 1*2/9 + 1*1/4 + 0 = 1/4 + 2/9 + 1/4 = 13/18; chisq = (2/3)^2 / (13/18) = 8/13
    r = logrank_test([1, 2, 3, 4], [1, 1, 1, 1], np.array([0, 1, 0, 1]))
    assert r.chisq == pytest.approx(8 / 13, rel=1e-14)
    assert r.expected["0"] == pytest.approx(4 / 3, rel=1e-14)
    assert r.variance[0, 0] == pytest.approx(13 / 18, rel=1e-14)


def test_group_missing_from_a_stratum_and_one_row_cells() -> None:
    # strata 0, 1; group 1 has no row in stratum 1, so the last (stratum, group) cell is
    # empty; the one-row cell (stratum 0, group 1) at time 2 shares its key with rows of
    # the neighbouring cells
    t = np.array([1.0, 2.0, 2.0, 3.0, 2.0, 2.0])
    e = np.array([1, 1, 1, 0, 1, 0])
    g = np.array([0, 0, 1, 0, 0, 0])
    s = np.array([0, 0, 0, 1, 1, 1])
    for rho in (0.0, 1.0):
        blocks, n_excluded = _prepare_blocks(t, e, g, s)
        for a, b in zip(
            _survdiff_counts(blocks, rho), _survdiff(_prepare(t, e, g, s), rho), strict=True
        ):
            same_bits(a, b)
        assert n_excluded == 0
    r = logrank_test(t, e, g, strata=s)
    assert r.n == {"0": 5, "1": 1}
    assert r.n_strata == 2


def test_fast_path_declines_what_the_general_path_rejects() -> None:
    assert _prepare_blocks([1.0, 2.0], [1, 1], [1, 1], None) is None  # one group
    assert _prepare_blocks([1.0, 2.0], [1, 1], [np.nan, np.nan], None) is None  # none left
    assert _prepare_blocks([1.0, 2.0], [1, 1], [0], None) is None  # wrong length
    with pytest.raises(EstimationError, match="only 1 group"):
        logrank_test([1.0, 2.0], [1, 1], [1, 1])
    with pytest.raises(InputError):
        logrank_test([1.0, 2.0], [1, 1], [0])
    with pytest.raises(InputError):
        logrank_test([1.0, np.nan], [1, 1], [0, 1])


def test_missing_rows_are_dropped_and_counted() -> None:
    t = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    e = np.array([1, 1, 1, 0, 1])
    g = np.array([0.0, 1.0, np.nan, 0.0, 1.0])
    s = np.array(["x", "x", "y", None, "y"], dtype=object)
    blocks, n_excluded = _prepare_blocks(t, e, g, s)
    assert n_excluded == 2  # row 3 (no group) and row 4 (no stratum)
    assert blocks.labels == ("0", "1")
    npt.assert_array_equal(blocks.n_per_group, [1, 2])


@pytest.mark.parametrize("x", [0.0, 1e-300, 0.004, 0.5, 3.84, 37.2, 1e3, 1e6, np.inf, -1e-15])
@pytest.mark.parametrize("df", [1, 2, 5])
def test_chi2_sf_is_scipy_chi2_sf(x: float, df: int) -> None:
    want = float(chi2.sf(x, df))
    got = _chi2_sf(x, df)
    assert got == want or (math.isnan(got) and math.isnan(want))
