"""Cumulative incidence and Gray's test: small examples derived by hand, edge cases, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import numpy.testing as npt
import pytest

from mmrwe.core.errors import EstimationError, InputError
from mmrwe.stats.cuminc import cif_confint, cuminc
from mmrwe.stats.km import kaplan_meier

Z = 1.959963984540054


def test_four_patients_estimate_and_aalen_variance_by_hand() -> None:
    # times 1 (cause), 2 (competing), 3 (cause), 4 (censored); cmprsk's cinc by hand:
    # t=1: n=4, S(t-)=1, F = 1/4; v1 = v2 = v3 = 1/9 (t6 = 1/16, t3 = 4/3, t4 = 4/3)
    #      var = v1 + F^2 v3 - 2 F v2 = (1/9)(1 + 1/16 - 1/2) = 1/16
    # t=2: competing, n=3, S(t-)=3/4, S(t)=1/2: t6 = 1/16, t3 = 2, t4 = F/S = 1/2
    #      v1 += 1/64, v2 += 1/16, v3 += 1/4
    # t=3: n=2, S(t-)=1/2, F = 1/4 + (1/2)(1/2) = 1/2; t6 = 1/16, t3 = 4, t4 = 3:
    #      v1 += 9/16, v2 += 3/4, v3 += 1; var = v1 + v3/4 - v2 = 5/64 + 1/36 = 61/576
    # (R: cuminc(c(1,2,3,4), c(1,2,1,0)) gives var 0.0625 and 0.1059028)
    res = cuminc([1, 2, 3, 4], [1, 2, 1, 0])
    curve = res.groups["all"]
    npt.assert_allclose(curve.time, [1, 3])
    npt.assert_allclose(curve.estimate, [0.25, 0.5], rtol=1e-15)
    npt.assert_allclose(curve.variance, [1 / 16, 61 / 576], rtol=1e-14)
    assert (curve.n, curve.events, curve.competing_events, curve.censored) == (4, 2, 1, 1)
    assert curve.max_time == 4
    x, f, v = curve.corners()
    npt.assert_allclose(x, [0, 1, 1, 3, 3, 4])
    npt.assert_allclose(f, [0, 0, 0.25, 0.25, 0.5, 0.5])
    npt.assert_allclose(v, [0, 0, 1 / 16, 1 / 16, 61 / 576, 61 / 576], rtol=1e-14)


def test_tied_events_use_cincs_tie_factor_by_hand() -> None:
    # times 1,1,1 (two of the cause, one competing), 2 (cause), 3 (censored); n = 5.
    # t=1: F = 2/5, S = 2/5. competing: t6 = 1/25, t3 = 5/2, t4 = 1 -> v1 1/25, v2 1/10, v3 1/4
    #      cause (d = 2): t5 = 1 - 1/4 = 3/4, t6 = (3/4)(2/25) = 3/50, t4 = 2
    #      -> v1 += 6/25, v2 += 3/10, v3 += 3/8; var = 7/25 + (4/25)(5/8) - (4/5)(2/5) = 3/50
    # t=2: F = 3/5; t6 = 1/25, t3 = 5, t4 = 4 -> v1 23/25, v2 6/5, v3 13/8
    #      var = 23/25 + (9/25)(13/8) - (6/5)^2 = 13/200   (R: 0.060, 0.065)
    curve = cuminc([1, 1, 1, 2, 3], [1, 1, 2, 1, 0]).groups["all"]
    npt.assert_allclose(curve.estimate, [0.4, 0.6], rtol=1e-15)
    npt.assert_allclose(curve.variance, [3 / 50, 13 / 200], rtol=1e-13)


def test_no_competing_events_cif_is_one_minus_km() -> None:
    time = np.array([2, 3, 3, 5, 7, 8, 8, 11, 12, 15], dtype=float)
    cause = np.array([1, 0, 1, 1, 0, 1, 1, 0, 1, 0])
    curve = cuminc(time, cause).groups["all"]
    km = kaplan_meier(time, cause == 1)
    at_events = np.isin(km.time, curve.time)
    npt.assert_allclose(curve.estimate, 1 - km.surv[at_events], rtol=1e-14)


def test_times_follow_timepoints_rules() -> None:
    res = cuminc([1, 2, 3, 4], [1, 2, 1, 0], times=[-1, 0, 0.5, 1, 2.5, 3, 4, 4.5])
    at = res.at["all"]
    # NA before 0 and beyond the largest observed time (4); right-continuous steps between
    assert at.estimate == (None, 0.0, 0.0, 0.25, 0.25, 0.5, 0.5, None)
    assert at.variance[3] == pytest.approx(1 / 16)
    assert at.n_risk == (4, 4, 4, 4, 2, 2, 1, 0)
    # log(-log) limits are undefined where the estimate is 0
    assert at.lower[1] is None and at.upper[1] is None


def test_loglog_and_plain_limits_by_formula() -> None:
    est, var = 0.25, 1 / 16
    se = 0.25
    lo, hi = cif_confint([est], [var], "log-log", 0.95)
    # est^exp(-+ z se / (est log est)): log(0.25) = -1.386294, est log est = -0.3465736
    assert lo[0] == pytest.approx(est ** math.exp(-Z * se / (est * math.log(est))), rel=1e-15)
    assert hi[0] == pytest.approx(est ** math.exp(Z * se / (est * math.log(est))), rel=1e-15)
    # z se / (est log est) = 1.959964 * 0.25 / -0.3465736 = -1.413815, so
    # lower = 0.25^exp(1.413815) = 0.25^4.111729 = 0.003345, upper = 0.25^0.243206 = 0.71379
    assert lo[0] == pytest.approx(0.003345, rel=1e-3)
    assert hi[0] == pytest.approx(0.71379, rel=1e-4)
    plo, phi = cif_confint([est, 0.5, 0.99], [var, 0.01, 0.01], "plain", 0.95)
    assert phi[0] == pytest.approx(0.25 + Z * 0.25)
    assert (plo[1], phi[1]) == pytest.approx((0.5 - Z * 0.1, 0.5 + Z * 0.1))
    assert plo[0] == 0.0 and phi[2] == 1.0  # clipped to [0, 1]


def test_labels_and_censoring_code() -> None:
    a = cuminc([1, 2, 3, 4], ["progression", "death", "progression", "alive"],
               event="progression", censored="alive")  # fmt: skip
    b = cuminc([1, 2, 3, 4], [1, 2, 1, 0])
    npt.assert_array_equal(a.groups["all"].estimate, b.groups["all"].estimate)
    assert a.event == "progression"
    assert a.competing == ("death",)


def test_several_competing_causes_are_pooled() -> None:
    a = cuminc([1, 2, 3, 4, 5], [1, 2, 3, 1, 0])
    b = cuminc([1, 2, 3, 4, 5], [1, 2, 2, 1, 0])
    npt.assert_array_equal(a.groups["all"].estimate, b.groups["all"].estimate)
    npt.assert_array_equal(a.groups["all"].variance, b.groups["all"].variance)
    assert a.competing == ("2", "3")


def test_missing_group_rows_are_dropped_and_counted() -> None:
    time = [1, 2, 3, 4, 5, 6, 7, 8]
    cause = [1, 2, 1, 0, 1, 1, 2, 0]
    group = ["a", "b", None, "a", "b", np.nan, "a", "b"]
    res = cuminc(time, cause, group)
    assert res.n == 6 and res.n_excluded_missing == 2
    assert list(res.groups) == ["a", "b"]
    keep = [0, 1, 3, 4, 6, 7]
    ref = cuminc(np.array(time)[keep], np.array(cause)[keep], np.array(group, dtype=object)[keep])
    assert res.gray is not None and ref.gray is not None
    assert res.gray.stat == ref.gray.stat


def test_gray_test_single_group_and_singular_variance() -> None:
    one = cuminc([1, 2, 3], [1, 0, 1], ["a", "a", "a"])
    assert one.gray is None and one.gray_reason
    # group b never has the event and nobody of b is at risk at a's event time: the score
    # variance is 0, cuminc reports -1; here the statistic is None with the reason
    res = cuminc([5, 6, 1, 2], [1, 0, 0, 0], ["a", "a", "b", "b"])
    assert res.gray is not None
    assert res.gray.stat is None and res.gray.p is None
    assert "singular" in (res.gray.reason or "")


def test_to_dict_keys_and_json_ready() -> None:
    res = cuminc([1, 2, 3, 4, 5, 6], [1, 2, 1, 0, 1, 0], ["a", "b", "a", "b", "b", "a"],
                 times=[2, 10])  # fmt: skip
    d = res.to_dict(event="progression", competing="death", by="grp")
    assert {"event", "competing", "by", "groups", "gray"} <= set(d)
    assert (d["event"], d["competing"], d["by"]) == ("progression", "death", "grp")
    for entry in d["groups"].values():
        assert {"times", "estimate", "variance", "lower", "upper"} <= set(entry)
        assert entry["times"] == [2.0, 10.0]
        assert entry["estimate"][1] is None  # 10 is beyond every group's follow-up
    assert {"stat", "df", "p"} <= set(d["gray"])
    assert d["conventions"]["conf_type"] == "log-log"
    json.dumps(d, allow_nan=False)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"time": [1, np.nan], "cause": [1, 0]}, InputError, "finite"),
        ({"time": [1, -2], "cause": [1, 0]}, InputError, ">= 0"),
        ({"time": [1, 2], "cause": [1, None]}, InputError, "missing"),
        ({"time": [1, 2], "cause": [1, 0], "event": 0}, InputError, "censoring code"),
        ({"time": [1, 2], "cause": [2, 0]}, EstimationError, "never occurs"),
        ({"time": [1, 2, 3], "cause": [1, 0]}, InputError, "one length"),
        ({"time": [1, 2], "cause": [1, 0], "conf_type": "log"}, InputError, "conf_type"),
        ({"time": [1, 2], "cause": [1, 0], "group": [None, None]}, EstimationError, "no patients"),
    ],
    ids=["nan time", "negative time", "missing cause", "event is censoring",
         "no event of interest", "length mismatch", "unknown conf_type", "all groups missing"],
)  # fmt: skip
def test_bad_input_raises_clear_errors(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        cuminc(**kwargs)
