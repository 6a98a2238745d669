"""Weighted Kaplan-Meier against R survfit(..., weights = w) (tests/reference/r/km_weights.R).

R's default variance with case weights is matched in both forms: Greenwood on the weighted
counts (whole-number weights, or ``robust = FALSE``) and the infinitesimal-jackknife
("robust") variance survfit uses for weights that are not whole numbers (``robust=True``).
Measured: surv, std.err, band, quantiles, landmarks and rmean within 1e-14 of R.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.conftest import load_data, load_expected
from tests.reference.test_km_reference import assert_close_na

from mmrwe.core.conventions import SurvivalConventions
from mmrwe.stats.km import KaplanMeier, kaplan_meier

pytestmark = pytest.mark.reference

RTOL = 1e-9  # the JSON holds 15 significant digits
REF = load_expected("km_weights")
CASES = REF["cases"]


def _fit(case: dict[str, Any]) -> KaplanMeier:
    d = load_data(case["dataset"])
    conv = SurvivalConventions(conf_type=case["conf_type"])
    return kaplan_meier(
        d["time"], d["status"] == 1, conventions=conv, weights=d["w"], robust=case["robust_arg"]
    )


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_weighted_curve_matches_survfit(case: dict[str, Any]) -> None:
    km = _fit(case)
    c = case["curve"]
    assert km.variance == case["variance"]
    assert km.n == case["n"]
    assert_close_na(km.time, c["time"], RTOL)
    assert km.weighted_n_risk is not None
    assert_close_na(km.weighted_n_risk, c["n_risk"], RTOL)
    assert_close_na(km.weighted_n_event, c["n_event"], RTOL)
    assert_close_na(km.weighted_n_censor, c["n_censor"], RTOL)
    assert_close_na(km.surv, c["surv"], RTOL)
    assert_close_na(km.std_err, c["std_err"], RTOL)
    assert_close_na(km.lower, c["lower"], RTOL)
    assert_close_na(km.upper, c["upper"], RTOL)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_weighted_quantiles_landmarks_rmean_match_survfit(case: dict[str, Any]) -> None:
    km = _fit(case)
    for q in case["quantiles"]:
        est = km.quantile(q["p"])
        assert_close_na([est.value, est.lower, est.upper], [q["value"], q["lower"], q["upper"]])
    for lm in case["landmarks"]:
        at = km.survival_at(lm["time"])
        assert_close_na(
            [at.surv, at.std_err, at.lower, at.upper],
            [lm["surv"], lm["std_err"], lm["lower"], lm["upper"]],
            RTOL,
        )
    for rm in case["rmean"]:
        r = km.rmst(rm["tau"])
        assert r.estimate == pytest.approx(rm["estimate"], rel=RTOL)
        assert r.std_err == pytest.approx(rm["std_err"], rel=RTOL)


@pytest.mark.parametrize(
    "grp", REF["groups"], ids=[f"{g['dataset']}:{g['group']}" for g in REF["groups"]]
)
def test_weighted_curve_per_group_matches_survfit(grp: dict[str, Any]) -> None:
    d = load_data(grp["dataset"])
    m = (d["group"] == grp["group"]).to_numpy()
    km = kaplan_meier(d["time"][m], d["status"][m] == 1, weights=d["w"][m])
    assert_close_na(km.time, grp["time"], RTOL)
    assert_close_na(km.surv, grp["surv"], RTOL)
    assert_close_na(km.std_err, grp["std_err"], RTOL)  # robust: R's std.err is the SE of S
    assert_close_na(km.lower, grp["lower"], RTOL)
    assert_close_na(km.upper, grp["upper"], RTOL)
    assert_close_na(
        [km.median.value, km.median.lower, km.median.upper],
        [grp["median"], grp["median_lower"], grp["median_upper"]],
    )


def test_to_dict_marks_a_weighted_curve() -> None:
    km = _fit(CASES[0])
    out = km.to_dict()
    assert out["weighted"] is True
    assert out["variance"] == km.variance
    assert len(out["curve"]["weighted_n_risk"]) == len(out["curve"]["time"])
    d = load_data(CASES[0]["dataset"])
    plain = kaplan_meier(d["time"], d["status"] == 1).to_dict()
    assert "weighted" not in plain
    assert "weighted_n_risk" not in plain["curve"]
