"""Competing risks and RMST through the whole study agree with R (cmprsk, survival, survRM2).

Two public data sets in the canonical layout (survival::mgus2 in months, survival::pbc in
days), written by tests/reference/r/e2e_competing.R, which also analyses the same tables in R
(reading the dates back, deriving PFS and how it ended on its own) and writes the fixture
tests/reference/expected/e2e_competing.json. Every number of results.json ``cuminc``,
``finegray`` and ``rmst`` is compared within 1e-6 relative; counts exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import mmrwe
from refdata import load_expected

HERE = Path(__file__).parent
REL = 1e-6
# the largest relative difference seen, per section (for reports: run with -s and print it)
WORST: dict[str, float] = {}


@pytest.fixture(scope="module")
def ref() -> dict[str, Any]:
    return load_expected("e2e_competing")


@pytest.fixture(scope="module")
def results() -> dict[str, dict[str, Any]]:
    return {
        name: mmrwe.Study.from_toml(HERE / name / "study.toml").run().to_dict()
        for name in ("mgus2", "pbc")
    }


def close(got: Any, want: Any, what: str) -> None:
    """Numbers within REL (None where R has NA), lists element by element."""
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), what
        for k, (g, w) in enumerate(zip(got, want, strict=True)):
            close(g, w, f"{what}[{k}]")
        return
    if want is None:
        assert got is None, what
        return
    assert got is not None, what
    assert got == pytest.approx(want, rel=REL, abs=1e-300), what
    if want != 0:
        section = what.split(".")[0]
        WORST[section] = max(WORST.get(section, 0.0), abs(got - want) / abs(want))


def _cif_part(got: dict[str, Any], want: dict[str, Any], what: str) -> None:
    for k in ("times", "estimate", "variance", "lower", "upper"):
        close(got[k], want[k], f"{what}.{k}")
    assert got["n_risk"] == want["n_risk"], what
    assert got["events"] == want["events"], what
    for k in ("time", "estimate", "variance"):
        close(got["curve"][k], want["curve"][k], f"{what}.curve.{k}")


@pytest.mark.reference
@pytest.mark.parametrize("data", ["mgus2", "pbc"])
def test_cumulative_incidence_matches_cmprsk(results, ref, data) -> None:
    entries = results[data]["cuminc"]
    assert len(entries) == len(ref[data]["cuminc"])
    for i, want in enumerate(ref[data]["cuminc"]):
        got = entries[i]
        what = f"cuminc.{data}[{i}]"
        assert got["status"] == "ok", got["reason"]
        assert (got["n"], got["n_excluded_missing"]) == (want["n"], want["n_excluded_missing"])
        assert sorted(got["groups"]) == sorted(want["groups"])
        for g, wg in want["groups"].items():
            gg = got["groups"][g]
            assert (gg["n"], gg["censored"]) == (wg["n"], wg["censored"]), (what, g)
            assert gg["competing_events"] == wg["competing"]["events"], (what, g)
            close(gg["max_time"], wg["max_time"], f"{what}.{g}.max_time")
            assert gg["risk_table"]["n_risk"] == wg["risk_table"]["n_risk"], (what, g)
            close(gg["risk_table"]["times"], wg["risk_table"]["times"], f"{what}.{g}.ticks")
            _cif_part(gg, wg["event"], f"{what}.{g}.event")
            _cif_part(got["competing_groups"][g], wg["competing"], f"{what}.{g}.competing")
        for key in ("gray", "gray_competing"):
            assert got[key]["df"] == want[key]["df"]
            close(got[key]["stat"], want[key]["stat"], f"{what}.{key}.stat")
            close(got[key]["p"], want[key]["p"], f"{what}.{key}.p")


@pytest.mark.reference
@pytest.mark.parametrize("data", ["mgus2", "pbc"])
def test_fine_gray_and_cause_specific_cox_match_crr_and_coxph(results, ref, data) -> None:
    for i, want in enumerate(ref[data]["finegray"]):
        got = results[data]["finegray"][i]
        what = f"finegray.{data}[{i}]"
        assert got["status"] == "ok", got["reason"]
        for k in ("n", "n_excluded_missing", "events", "competing_events"):
            assert got[k] == want[k], (what, k)
        assert got["converged"] is want["converged"] is True
        close(got["loglik"], want["loglik"], f"{what}.loglik")
        close(got["loglik_null"], want["loglik_null"], f"{what}.loglik_null")
        assert sorted(got["coefficients"]) == sorted(want["coefficients"])
        for name, wc in want["coefficients"].items():
            for k, w in wc.items():
                close(got["coefficients"][name][k], w, f"{what}.{name}.{k}")
        assert got["cause_specific_model"]["events"] == want["cs_events"]
        for name, wc in want["cause_specific"].items():
            for k, w in wc.items():
                close(got["cause_specific"][name][k], w, f"{what}.cs.{name}.{k}")


@pytest.mark.reference
@pytest.mark.parametrize("data", ["mgus2", "pbc"])
def test_rmst_matches_survfit_and_survrm2(results, ref, data) -> None:
    for i, want in enumerate(ref[data]["rmst"]):
        got = results[data]["rmst"][i]
        what = f"rmst.{data}[{i}]"
        if want["tau"] > want["tau_max"]:
            # survRM2 refuses such a tau; the reason names the largest allowed one
            assert got["status"] == "not_estimable"
            assert f"largest allowed tau is {want['tau_max']:g}" in got["reason"]
            continue
        assert got["status"] == "ok", got["reason"]
        assert (got["n"], got["n_excluded_missing"]) == (want["n"], want["n_excluded_missing"])
        close(got["tau_max"], want["tau_max"], f"{what}.tau_max")
        for g, wg in want["groups"].items():
            gg = got["groups"][g]
            assert (gg["n"], gg["events"]) == (wg["n"], wg["events"]), (what, g)
            for k in ("rmst", "se", "variance", "lower", "upper", "rmtl"):
                close(gg[k], wg[k], f"{what}.{g}.{k}")
        for c in ("difference", "ratio", "rmtl_ratio"):
            if c not in want:
                assert got[c] is None and got[f"{c}_reason"]
                continue
            for k, w in want[c].items():
                close(got[c][k], w, f"{what}.{c}.{k}")


@pytest.mark.reference
def test_the_data_decide_what_is_not_estimable(results) -> None:
    pbc = results["pbc"]
    # nobody with edema = 1 had a transplant: its incidence is 0 throughout, Gray's test runs
    transplant = pbc["cuminc"][0]["competing_groups"]["1"]
    assert transplant["events"] == 0 and transplant["curve"]["time"] == []
    assert transplant["estimate"][:3] == [0.0, 0.0, 0.0]
    # ... and the Fine-Gray model of transplant on edema has no finite estimate
    fg = pbc["finegray"][1]
    assert fg["status"] == "not_estimable" and fg["spec_key"] == "[[finegray]] 2"
    assert "edema = 1" in fg["reason"] and "infinite" in fg["reason"]


def test_the_demo_shows_competing_risks_and_rmst(demo_run: Path) -> None:
    import json

    results = json.loads((demo_run / "results.json").read_text())
    for key in ("cuminc", "finegray", "rmst"):
        assert results[key] and all(e["status"] == "ok" for e in results[key]), key
    # the two incidences and the PFS curve add up to 1 at every time (Aalen-Johansen with the
    # all-cause Kaplan-Meier): check against the log-rank entry's Kaplan-Meier curves of PFS
    ci = results["cuminc"][0]
    lr = next(e for e in results["logrank"] if e["endpoint"] == "PFS" and e["by"] == ci["by"])
    checked = 0
    for g, block in ci["groups"].items():
        curve = lr["curves"][g]["curve"]
        for t, est, other in zip(
            block["times"], block["estimate"], ci["competing_groups"][g]["estimate"], strict=True
        ):
            assert (est is None) == (other is None)
            if est is None:
                continue
            surv = [s for u, s in zip(curve["time"], curve["surv"], strict=True) if u <= t]
            assert est + other == pytest.approx(1.0 - (surv[-1] if surv else 1.0), rel=1e-12)
            checked += 1
    assert checked >= 4
    html = (demo_run / "report.html").read_text(encoding="utf-8")
    for caption in ("Cumulative incidence with competing risks", "Competing-risks regression",
                    "Restricted mean survival time"):  # fmt: skip
        assert caption in html
    assert 'data-role="cuminc"' in html and 'data-name="forest_finegray"' in html
