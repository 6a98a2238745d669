"""Time-varying Cox, landmark analysis and DoR through the pipeline against R survival 3.5.

tests/reference/r/tv_landmark.R runs tmerge + coxph(Surv(tstart, tstop, death) ~ ...,
cluster = id), survfit/survdiff from a 30-day landmark, and survfit/survdiff/coxph of the
time from transplant, on the Stanford heart transplant data (survival::jasa) with the
transplant as the response; the test runs the same study through ``mmrwe.Study``.

Measured agreement (R writes 15 significant digits): coefficients, SEs, robust SEs, z, p and
the tests within 8e-14 relative; landmark curves, medians and log-rank within 2e-14; DoR
curve, median, log-rank and Cox model within 4e-15; the maxstat cut-off of age on DoR
(responders only) within 1e-15 of maxstat.test.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tests.conftest import REFERENCE, load_expected

import mmrwe

REF = load_expected("tv_landmark")
RTOL = 1e-9

SPEC: dict[str, Any] = {
    "study": {"title": "Stanford heart transplant (survival::jasa)", "time_unit": "days"},
    "data": {"patients": "jasa_patients.csv"},
    "km": {"endpoints": ["OS", "DoR"], "landmark_from": 30, "landmarks": [100]},
    "tv_cox": [
        {"endpoint": "OS", "time_varying": ["response"], "terms": ["age", "surgery"]},
        {"endpoint": "OS", "ties": "breslow"},
    ],
    "logrank": [{"endpoint": "DoR", "by": "surgery"}],
    "cox": [{"endpoint": "DoR", "terms": ["age"], "ph_test": False}],
    "cutpoint": [{"endpoint": "DoR", "variable": "age", "bootstrap": 0}],
}


@pytest.fixture(scope="module")
def res() -> dict[str, Any]:
    return mmrwe.Study(SPEC, base_dir=REFERENCE / "data").run().to_dict()


def _close(a: Any, b: Any, rtol: float = RTOL) -> None:
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=rtol)


@pytest.mark.reference
@pytest.mark.parametrize(("k", "case"), [(0, "response_age_surgery"), (1, "response_breslow")])
def test_time_varying_cox_matches_coxph_on_tmerge_split(res: dict[str, Any], k: int, case: str):
    ref = REF["tv_cox"][case]
    e = res["tv_cox"][k]
    assert e["status"] == "ok" and e["spec_key"] == f"[[tv_cox]] {k + 1}"
    assert set(e["coefficients"]) == set(ref["coefficients"])  # results.json sorts keys
    for name, rc in ref["coefficients"].items():
        c = e["coefficients"][name]
        for key in ("coef", "se", "robust_se", "z", "p"):
            _close(c[key], rc[key])
    t = ref["tests"]
    _close(e["tests"]["lr"]["chisq"], t["lr"])
    _close(e["tests"]["wald"]["chisq"], t["wald"])
    _close(e["tests"]["robust_score"]["chisq"], t["robust_score"])
    assert e["tests"]["wald"]["df"] == t["df"]
    _close(e["loglik"], t["loglik"])
    assert (e["n_intervals"], e["events"]) == (t["n"], t["nevent"])
    if case == "response_age_surgery":
        assert e["n_patients"] == ref["n_patients"] == 102  # the futime-0 patient is left out
        assert e["n_zero_followup"] == 1
        assert e["n_switched"]["response"] == ref["n_switched"]
        assert e["variance"] == "robust"


@pytest.mark.reference
def test_landmark_analysis_matches_survfit_from_the_landmark(res: dict[str, Any]):
    ref = REF["landmark"]
    [e] = [x for x in res["landmark_analysis"] if x["endpoint"] == "OS"]
    assert e["status"] == "ok" and e["spec_key"] == "[km] landmark_from"
    assert e["n_at_landmark"] == ref["n_at_landmark"]
    assert e["n_excluded"] == {
        "event_before_landmark": ref["event_before"],
        "censored_before_landmark": ref["censored_before"],
    }
    assert e["n_per_group"] == ref["n"]
    lr = e["logrank"]
    _close(lr["chisq"], ref["chisq"])
    _close(lr["p"], ref["p"])
    for g in ("responder", "non-responder"):
        _close(lr["observed"][g], ref["observed"][g])
        _close(lr["expected"][g], ref["expected"][g])
        rc, c = ref["curves"][g], e["curves"][g]["curve"]
        # survfit lists every distinct time; the stored curve has the same steps
        _close(c["time"], rc["time"])
        _close(c["surv"], rc["surv"])
        _close(c["n_risk"], rc["n_risk"])
        m = e["curves"][g]["median"]
        _close(m["estimate"], rc["median"])
        assert (m["lower"] is None) == (rc["median_lower"] is None)


@pytest.mark.reference
def test_duration_of_response_matches_survfit_in_responders(res: dict[str, Any]):
    ref = REF["dor"]
    dor = res["endpoints"]["DoR"]
    assert (dor["n"], dor["events"], dor["n_outside_population"]) == (
        ref["n"], ref["events"], ref["n_outside"])  # fmt: skip
    _close(dor["curve"]["time"], ref["time"])
    _close(dor["curve"]["surv"], ref["surv"])
    _close(dor["curve"]["lower"], ref["lower"])
    _close(dor["median"]["estimate"], ref["median"])
    _close(dor["median"]["lower"], ref["median_lower"])
    [lr] = res["logrank"]
    _close(lr["chisq"], ref["logrank_surgery"]["chisq"])
    _close(lr["p"], ref["logrank_surgery"]["p"])
    [cx] = res["cox"]
    assert (cx["n"], cx["events"], cx["n_outside_population"]) == (
        ref["cox_age"]["n"], ref["cox_age"]["nevent"], 34)  # fmt: skip
    for key in ("coef", "se", "z", "p"):
        _close(cx["coefficients"]["age"][key], ref["cox_age"][key])


@pytest.mark.reference
def test_maxstat_cut_off_on_dor_uses_the_responders_only(res: dict[str, Any]):
    ref = REF["dor"]["maxstat_age"]
    [cp] = res["cutpoints"]
    assert cp["status"] == "ok"
    assert (cp["n_outside_population"], cp["n_excluded_missing"]) == (34, 0)
    _close(cp["cutpoint"], ref["cutpoint"])
    _close(cp["statistic"], ref["statistic"])
    _close(cp["p_adjusted"], ref["p"])


@pytest.mark.reference
def test_dor_definition_and_sources_are_recorded(res: dict[str, Any]):
    conv = res["conventions"]
    assert conv["dor_definition"].startswith("responders only")
    assert conv["endpoint_dates"] == {"first_response_date": "patient table"}
