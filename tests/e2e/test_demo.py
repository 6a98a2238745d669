"""The embedded synthetic demo reproduces the published counts exactly and lands near the
published survival figures (issue acceptance windows)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from mmrwe.study.demo import demo_dir


@pytest.fixture(scope="module")
def results(demo_run):
    return json.loads((demo_run / "results.json").read_text())


def test_demo_counts_exact():
    d = pd.read_csv(demo_dir() / "patients.csv", dtype=str, keep_default_na=False)
    assert len(d) == 51
    assert (d.age.astype(int) < 70).sum() == 31
    assert (d.sex == "F").sum() == 29
    assert (d.tcr == "yes").sum() == 38
    assert (d.fish_risk != "").sum() == 28
    assert (d.fish_risk == "high").sum() == 9
    counts = d.best_response.value_counts()
    assert [counts.get(k, 0) for k in ("sCR", "CR", "VGPR", "PR")] == [3, 4, 7, 15]
    assert d.center.nunique() >= 3


def test_demo_counts_in_results(results):
    assert results["cohort"]["n"] == 51
    orr = next(p for p in results["proportions"] if p["name"] == "ORR")
    assert (orr["successes"], orr["n"]) == (29, 51)


def test_demo_survival_near_published(results):
    pfs, os_ = results["endpoints"]["PFS"], results["endpoints"]["OS"]
    assert abs(pfs["median"]["estimate"] - 5.8) <= 0.5
    assert abs(pfs["landmarks"]["12"]["surv"] - 0.306) <= 0.05
    assert abs(os_["median"]["estimate"] - 21.0) <= 1.5
    assert abs(os_["landmarks"]["12"]["surv"] - 0.634) <= 0.05


def test_demo_hemoglobin_cutoff(results):
    cut = next(
        c
        for c in results["cutpoints"]
        if c["variable"] == "hgb" and c["endpoint"] == "PFS" and c["method"] == "maxstat"
    )
    assert 11.0 <= cut["cutpoint"] <= 12.5
    assert 2.5 <= cut["hr_low_vs_high"]["hr"] <= 5


def test_demo_says_synthetic(demo_run, results):
    assert results["study"]["synthetic"] is True
    assert "synthetic data" in (demo_run / "report.html").read_text().lower()


def test_demo_inputs_are_copied_and_rerunnable(demo_run):
    assert (demo_run / "demo-input" / "study.toml").is_file()
    assert (demo_run / "demo-input" / "patients.csv").read_bytes() == (
        demo_dir() / "patients.csv"
    ).read_bytes()


def test_every_data_driven_cutoff_reports_its_cost(results):
    # issue 5 acceptance: adjusted p, bootstrap interval of the cut-off, optimism-corrected HR
    for c in results["cutpoints"]:
        assert c["p_adjusted"] is not None, c["method"]
        assert c["bootstrap"]["lower"] <= c["cutpoint"] <= c["bootstrap"]["upper"]
        assert c["optimism"]["corrected_hr"] is not None
        assert "optimism-corrected HR" in c["summary"]


def test_demo_response_and_refractoriness_are_derived_from_labs(demo_run, results):
    # issue 6 acceptance: best_response, tcr and prior_lines come from the lab and therapy
    # tables by IMWG rules, and still match the published counts (the recorded columns)
    deriv = results["response_derivation"]
    assert deriv["used_by_analyses"] is True
    assert {"best_response", "tcr", "prior_lines", "progression_date"} <= set(deriv["columns"])
    assert results["inputs"]["labs"]["n_rows"] > 1000
    derived = pd.read_csv(
        demo_run / "restricted" / "derived_patients.csv", dtype=str, keep_default_na=False
    )
    recorded = pd.read_csv(demo_dir() / "patients.csv", dtype=str, keep_default_na=False)
    m = recorded.merge(derived, on="patient_id", suffixes=("_rec", "_der"))
    assert len(m) == 51
    assert (m.best_response_rec == m.best_response_der).all()
    assert (m.tcr_rec == m.tcr_der).all()
    assert (m.prior_lines_rec.astype(float) == m.prior_lines_der.astype(float)).all()
    assert (m.progression_date_rec == m.progression_date_der.str[:10]).all()
    audit = (demo_run / "restricted" / "response_audit.jsonl").read_text().splitlines()
    assert len(audit) == 51


def test_python_dash_m_runs_the_command(tmp_path):
    """``python -m mmrwe`` is the ``mmrwe`` command (no script on PATH needed)."""
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "mmrwe", "validate", "--help"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "validate" in res.stdout.lower()
