"""RMST comparison: a hand example, survRM2's tau rule case by case, errors."""

from __future__ import annotations

import json
import math

import pytest

from mmrwe.core.errors import EstimationError, InputError
from mmrwe.stats.rmst import rmst_compare, rmst_tau_max

Z = 1.959963984540054


def test_two_groups_by_hand() -> None:
    # A: deaths at 1 and 3 (n = 2), B: deaths at 2 and 4 (n = 2); tau = 2.
    # RMST_A = 1 * 1 + 1 * 0.5 = 1.5; var_A = (area from 1 to 2)^2 * 1/(2 * 1) = 0.5^2 / 2
    # = 0.125 (the death at 1: n = 2, d = 1). RMST_B = 2 * 1 = 2, var_B = 0 (the death at 2
    # has zero area after it). Difference 0.5, se sqrt(0.125); ratio 2 / 1.5.
    r = rmst_compare([1, 3, 2, 4], [1, 1, 1, 1], ["A", "A", "B", "B"], tau=2)
    a, b = r.groups["A"], r.groups["B"]
    assert (a.rmst, a.variance) == pytest.approx((1.5, 0.125))
    assert (b.rmst, b.variance) == pytest.approx((2.0, 0.0))
    assert (a.rmtl, b.rmtl) == pytest.approx((0.5, 0.0))
    assert r.reference == "A" and r.comparator == "B"
    d = r.difference
    assert d is not None
    assert d.estimate == pytest.approx(0.5)
    assert d.se == pytest.approx(math.sqrt(0.125))
    assert d.lower == pytest.approx(0.5 - Z * math.sqrt(0.125))
    assert d.p == pytest.approx(2 * 0.5 * math.erfc(0.5 / math.sqrt(0.125) / math.sqrt(2)))
    assert r.ratio is not None
    assert r.ratio.estimate == pytest.approx(2 / 1.5)
    # se of log ratio = sqrt(var_B / 4 + var_A / 2.25)
    assert r.ratio.se == pytest.approx(math.sqrt(0.125 / 2.25))
    # B has lost no time up to tau: the RMTL ratio has no log
    assert r.rmtl_ratio is not None and r.rmtl_ratio.estimate is None


def test_reference_can_be_chosen() -> None:
    r = rmst_compare([1, 3, 2, 4], [1, 1, 1, 1], ["A", "A", "B", "B"], tau=2, reference="B")
    assert r.comparator == "A"
    assert r.difference is not None and r.difference.estimate == pytest.approx(-0.5)


TAU_RULE = [
    # (times, events, groups, allowed maximum, why)
    ([5, 9, 4, 7], [1, 0, 1, 0], "aabb", 7, "both groups end censored: the smaller last time"),
    ([5, 9, 4, 7], [1, 1, 1, 1], "aabb", 9, "both end with a death: the larger last time"),
    ([5, 9, 4, 7], [1, 0, 0, 1], "aabb", 9, "the shorter group ends with a death: the larger"),
    ([5, 9, 4, 7], [0, 1, 1, 0], "aabb", 7, "the shorter group ends censored: the shorter"),
    ([5, 7, 7, 4, 9], [1, 1, 0, 1, 1], "aaabb", 7, "a censoring tied with a death at the last time counts as censored"),
    ([5, 9, 4, 7, 3, 6], [1, 0, 1, 1, 1, 0], "aabbcc", 6, "three groups: the smallest censored last time"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("time", "event", "groups", "allowed", "why"), TAU_RULE, ids=[r[-1] for r in TAU_RULE]
)
def test_tau_rule_of_survrm2(time, event, groups, allowed, why) -> None:
    group = list(groups)
    assert rmst_tau_max(time, event, group) == allowed
    rmst_compare(time, event, group, tau=allowed)
    with pytest.raises(EstimationError, match=f"largest allowed tau is {allowed:g}"):
        rmst_compare(time, event, group, tau=allowed + 0.5)


def test_single_group_and_many_groups() -> None:
    one = rmst_compare([1, 2, 3], [1, 0, 1], tau=2)
    assert list(one.groups) == ["all"] and one.difference is None and one.contrast_reason
    three = rmst_compare([1, 2, 3, 4, 5, 6], [1, 0, 1, 0, 1, 0], list("aabbcc"), tau=2)
    assert len(three.groups) == 3 and three.difference is None
    assert "two" in (three.contrast_reason or "")


def test_missing_group_rows_dropped_and_to_dict() -> None:
    r = rmst_compare([1, 3, 2, 4, 5], [1, 1, 1, 1, 0], ["A", "A", "B", "B", None], tau=2)
    assert r.n == 4 and r.n_excluded_missing == 1
    d = r.to_dict(endpoint="OS", by="grp")
    assert {"endpoint", "tau", "groups", "difference", "ratio"} <= set(d)
    assert {"rmst", "se", "lower", "upper"} <= set(d["groups"]["A"])
    assert {"estimate", "se", "lower", "upper", "p"} <= set(d["difference"])
    assert {"estimate", "lower", "upper", "p"} <= set(d["ratio"])
    assert "survRM2" in d["conventions"]["contrasts"]
    json.dumps(d, allow_nan=False)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"tau": 0}, InputError, "positive"),
        ({"tau": float("nan")}, InputError, "positive"),
        ({"tau": 2, "reference": "C"}, InputError, "reference"),
        ({"tau": 2, "conf_level": 1.0}, InputError, "conf_level"),
    ],
    ids=["tau zero", "tau nan", "unknown reference", "bad level"],
)
def test_bad_input(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        rmst_compare([1, 3, 2, 4], [1, 1, 1, 1], ["A", "A", "B", "B"], **kwargs)
