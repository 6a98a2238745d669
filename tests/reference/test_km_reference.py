"""Kaplan-Meier against R survival 3.5 (fixtures from tests/reference/r/km_*.R)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.testing as npt
import pandas as pd
import pytest
from tests.conftest import load_data, load_expected

from mmrwe.core.conventions import SurvivalConventions
from mmrwe.stats.km import KaplanMeier, kaplan_meier, kaplan_meier_by, reverse_km_followup

pytestmark = pytest.mark.reference

RTOL = 1e-9  # the JSON holds 15 significant digits
DATASETS = load_expected("km_datasets")
ADVERSARIAL = load_expected("km_adversarial")
ADV_DATA = load_data("km_adversarial")
CASES = DATASETS["cases"] + ADVERSARIAL["cases"]


def _data(case: dict[str, Any]) -> pd.DataFrame:
    if case["dataset"].startswith("km_"):
        return load_data(case["dataset"])
    return ADV_DATA[ADV_DATA["case"] == case["dataset"]]


def _fit(case: dict[str, Any]) -> tuple[KaplanMeier, pd.DataFrame]:
    d = _data(case)
    conv = SurvivalConventions(conf_type=case["conf_type"], conf_level=case["conf_level"])
    return kaplan_meier(d["time"], d["status"] == 1, conventions=conv), d


def _arr(values: Any) -> np.ndarray:
    """R's NA (JSON null) -> NaN; length-1 vectors may come unboxed."""
    return np.array([np.nan if v is None else v for v in np.atleast_1d(values)], dtype=float)


def assert_same_or_none(ours: dict[str, Any], ref: dict[str, Any]) -> None:
    """Dicts of optional floats: None exactly where R has NA, else equal within RTOL."""
    assert set(ours) == set(ref)
    for key, r in ref.items():
        if r is None:
            assert ours[key] is None, f"{key}: R NA, we {ours[key]}"
        else:
            assert ours[key] == pytest.approx(r, rel=RTOL), key


def assert_close_na(ours: Any, ref: Any, rtol: float = RTOL) -> None:
    """Equal within rtol where R has a value; not finite (NaN/inf/None) where R has NA/Inf."""
    a = np.array([np.nan if v is None else v for v in np.atleast_1d(ours)], dtype=float)
    b = _arr(ref)
    assert a.shape == b.shape
    na = np.isnan(b)
    assert not np.isfinite(a[na]).any(), f"R has NA at {np.flatnonzero(na)}, we have {a[na]}"
    npt.assert_allclose(a[~na], b[~na], rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_curve_matches_survfit(case: dict[str, Any]) -> None:
    km, _ = _fit(case)
    ref = case["curve"]
    npt.assert_allclose(km.time, _arr(ref["time"]), rtol=1e-12)
    npt.assert_array_equal(km.n_risk, _arr(ref["n_risk"]))
    npt.assert_array_equal(km.n_event, _arr(ref["n_event"]))
    npt.assert_array_equal(km.n_censor, _arr(ref["n_censor"]))
    assert km.n == case["n"]
    assert km.events == case["events"]
    assert_close_na(km.surv, ref["surv"])
    assert_close_na(km.std_err_log, ref["std_err_log"])  # inf where R has Inf (JSON null)
    assert_close_na(km.std_err, ref["std_err"])
    assert_close_na(km.lower, ref["lower"])
    assert_close_na(km.upper, ref["upper"])


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_quantiles_match_quantile_survfit(case: dict[str, Any]) -> None:
    km, _ = _fit(case)
    for q in case["quantiles"]:
        est = km.quantile(q["p"])
        for ours, ref in (
            (est.value, q["value"]),
            (est.lower, q["lower"]),
            (est.upper, q["upper"]),
        ):
            if ref is None:
                assert ours is None, f"p={q['p']}: R NA, we {ours}"
            else:
                assert ours == pytest.approx(ref, rel=RTOL), f"p={q['p']}"
    median = next(q for q in case["quantiles"] if q["p"] == 0.5)
    assert km.median == km.quantile(0.5)
    assert_same_or_none(
        km.median.to_dict(),
        {"estimate": median["value"], "lower": median["lower"], "upper": median["upper"]},
    )


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_landmarks_match_summary_times(case: dict[str, Any]) -> None:
    km, _ = _fit(case)
    for lm in case["landmarks"]:
        got = km.survival_at(lm["time"])
        assert got.n_risk == lm["n_risk"], f"t={lm['time']}"
        for key in ("surv", "std_err", "lower", "upper"):
            ours, ref = getattr(got, key), lm[key]
            if ref is None:
                assert ours is None, f"t={lm['time']} {key}: R NA, we {ours}"
            else:
                assert ours == pytest.approx(ref, rel=RTOL, abs=1e-14), f"t={lm['time']} {key}"
    times = [lm["time"] for lm in case["landmarks"]]
    npt.assert_array_equal(km.n_risk_at(times), [lm["n_risk"] for lm in case["landmarks"]])


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_rmean_matches_summary_table(case: dict[str, Any]) -> None:
    km, _ = _fit(case)
    for rm in case["rmean"]:
        got = km.rmst(rm["tau"])
        assert got.estimate == pytest.approx(rm["estimate"], rel=RTOL)
        assert got.std_err == pytest.approx(rm["std_err"], rel=RTOL, abs=1e-14)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_reverse_km_followup(case: dict[str, Any]) -> None:
    d = _data(case)
    conv = SurvivalConventions(conf_type=case["conf_type"], conf_level=case["conf_level"])
    fu = reverse_km_followup(d["time"], d["status"] == 1, conventions=conv)
    ref = case["followup"]
    got = fu.to_dict()
    assert set(got) == {"estimate", "lower", "upper", "method"}
    assert got["method"] == "reverse Kaplan-Meier"
    for key in ("estimate", "lower", "upper"):
        if ref[key] is None:
            assert got[key] is None, key
        else:
            assert got[key] == pytest.approx(ref[key], rel=RTOL), key


BY = DATASETS["by_group"]


@pytest.mark.parametrize("case", BY, ids=[c["name"] for c in BY])
def test_by_group_matches_stratified_survfit(case: dict[str, Any]) -> None:
    d = load_data(case["dataset"])
    conv = SurvivalConventions(conf_type=case["conf_type"])
    curves = kaplan_meier_by(d["time"], d["status"] == 1, d[case["variable"]], conventions=conv)
    assert list(curves) == [g["label"] for g in case["groups"]]
    assert sum(c.n for c in curves.values()) == len(d) - case["n_missing"]
    for g in case["groups"]:
        km = curves[g["label"]]
        assert km.n == g["n"]
        npt.assert_allclose(km.time, _arr(g["time"]), rtol=1e-12)
        npt.assert_array_equal(km.n_risk, _arr(g["n_risk"]))
        assert_close_na(km.surv, g["surv"])
        assert_close_na(km.lower, g["lower"])
        assert_close_na(km.upper, g["upper"])
        assert_same_or_none(km.median.to_dict(), g["median"])


def test_fixture_records_versions() -> None:
    for ref in (DATASETS, ADVERSARIAL):
        assert ref["meta"]["survival"] == "3.5.3"
        assert ref["meta"]["r"].startswith("R version 4.2.2")
