"""End to end: a public data set in the canonical layout agrees with R; contract keys; determinism."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmrwe.cli.main import app
from refdata import load_expected

HERE = Path(__file__).parent
runner = CliRunner()


@pytest.fixture(scope="module")
def lung_results(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("lung")
    res = runner.invoke(
        app, ["analyze", str(HERE / "lung" / "study.toml"), "--out", str(out), "--quiet"]
    )
    assert res.exit_code == 0, res.output
    return json.loads((out / "results.json").read_text())


@pytest.mark.reference
def test_public_dataset_in_canonical_layout_matches_r(lung_results):
    ref = load_expected("e2e_lung")
    r = lung_results
    rel = 1e-6
    assert r["cohort"]["n"] == ref["n"]
    os_ = r["endpoints"]["OS"]
    assert os_["events"] == ref["events"]
    assert os_["median"]["estimate"] == pytest.approx(ref["median"], rel=rel)
    assert os_["median"]["lower"] == pytest.approx(ref["median_lower"], rel=rel)
    assert os_["median"]["upper"] == pytest.approx(ref["median_upper"], rel=rel)
    lm = os_["landmarks"]["12"]
    assert lm["surv"] == pytest.approx(ref["surv12"], rel=rel)
    assert lm["lower"] == pytest.approx(ref["surv12_lower"], rel=rel)
    assert lm["upper"] == pytest.approx(ref["surv12_upper"], rel=rel)
    assert lm["std_err"] == pytest.approx(ref["surv12_se"], rel=rel)
    assert lm["n_risk"] == ref["n_risk12"]
    fu = os_["followup"]
    assert fu["estimate"] == pytest.approx(ref["followup"], rel=rel)
    assert fu["lower"] == pytest.approx(ref["followup_lower"], rel=rel)
    assert fu["upper"] == pytest.approx(ref["followup_upper"], rel=rel)
    [lr] = r["logrank"]
    assert lr["chisq"] == pytest.approx(ref["logrank_chisq"], rel=rel)
    for g in ("F", "M"):
        assert lr["observed"][g] == ref["logrank_obs"][g]
        assert lr["expected"][g] == pytest.approx(ref["logrank_exp"][g], rel=rel)
    [cx] = r["cox"]
    for term in ("age", "sex=M"):
        assert cx["coefficients"][term]["coef"] == pytest.approx(ref["cox_coef"][term], rel=rel)
        assert cx["coefficients"][term]["se"] == pytest.approx(ref["cox_se"][term], rel=rel)
    assert cx["tests"]["lr"]["chisq"] == pytest.approx(ref["cox_lr"], rel=rel)
    assert cx["tests"]["wald"]["chisq"] == pytest.approx(ref["cox_wald"], rel=rel)
    assert cx["tests"]["score"]["chisq"] == pytest.approx(ref["cox_score"], rel=rel)
    assert cx["concordance"] == pytest.approx(ref["concordance"], rel=rel)
    assert cx["ph_test"]["global"]["chisq"] == pytest.approx(ref["zph_global"], rel=rel)
    assert cx["ph_test"]["terms"]["age"]["chisq"] == pytest.approx(ref["zph_age"], rel=rel)
    [p] = r["proportions"]
    assert (p["successes"], p["n"]) == (ref["ecog2_x"], ref["ecog2_n"])
    assert p["lower"] == pytest.approx(ref["ecog2_lower"], rel=rel)
    assert p["upper"] == pytest.approx(ref["ecog2_upper"], rel=rel)


def test_missing_center_is_counted_not_dropped(lung_results):
    centers = lung_results["cohort"]["centers"]
    assert sum(centers.values()) == lung_results["cohort"]["n"]
    assert "(missing)" in centers


CONTRACT_KEYS = {
    "": [
        "schema_version",
        "study",
        "software",
        "inputs",
        "conventions",
        "cohort",
        "endpoints",
        "proportions",
        "proportion_comparisons",
        "logrank",
        "cox",
        "cutpoints",
    ],
    "study": ["title", "spec_sha256"],
    "software": ["mmrwe", "python", "numpy", "scipy"],
    "inputs.patients": ["file", "sha256", "n_rows"],
    "conventions": ["time_unit", "days_per_month", "km_conf_type", "cox_ties", "alpha"],
    "cohort": ["n", "n_excluded", "exclusions"],
    "endpoints.PFS": ["n", "events", "censored", "median", "landmarks", "followup"],
    "endpoints.PFS.median": ["estimate", "lower", "upper"],
    "endpoints.PFS.landmarks.12": ["surv", "lower", "upper", "std_err", "n_risk"],
    "endpoints.PFS.followup": ["estimate", "lower", "upper", "method"],
    "endpoints.OS": ["n", "events", "censored", "median", "landmarks", "followup"],
    "proportions[0]": ["name", "successes", "n", "estimate", "lower", "upper", "method"],
    "proportion_comparisons[0]": [
        "outcome",
        "by",
        "n",
        "n_excluded_missing",
        "table",
        "fisher",
        "logistic",
    ],
    "proportion_comparisons[0].fisher": ["p", "odds_ratio", "lower", "upper", "method"],
    "proportion_comparisons[0].logistic": ["odds_ratio", "lower", "upper", "p"],
    "logrank[0]": [
        "endpoint",
        "by",
        "groups",
        "n",
        "observed",
        "expected",
        "chisq",
        "df",
        "p",
        "n_excluded_missing",
    ],
    "cox[0]": [
        "endpoint",
        "terms",
        "ties",
        "n",
        "events",
        "n_excluded_missing",
        "coefficients",
        "tests",
        "concordance",
        "ph_test",
    ],
    "cox[0].tests": ["lr", "wald", "score"],
    "cox[0].tests.lr": ["chisq", "df", "p"],
    "cox[0].ph_test": ["transform", "terms", "global"],
    "cutpoints[0]": [
        "endpoint",
        "variable",
        "method",
        "cutpoint",
        "groups",
        "n",
        "n_low",
        "n_high",
        "n_excluded_missing",
        "statistic",
        "p_adjusted",
        "p_adjusted_method",
        "hr_low_vs_high",
    ],
    "cutpoints[0].hr_low_vs_high": ["hr", "lower", "upper"],
    "cutpoints[1]": [
        "endpoint",
        "variable",
        "method",
        "direction",
        "cutpoint",
        "sensitivity",
        "specificity",
        "youden",
        "auc",
    ],
}


def _get(tree, path):
    node = tree
    for part in path.replace("[", ".[").split("."):
        if not part:
            continue
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    return node


def test_every_contract_key_is_present(demo_run):
    results = json.loads((demo_run / "results.json").read_text())
    missing = [
        f"{path}.{k}"
        for path, keys in CONTRACT_KEYS.items()
        for k in keys
        if k not in _get(results, path)
    ]
    assert not missing, missing
    coef = results["cox"][0]["coefficients"]["hgb"]
    assert set(coef) >= {"coef", "se", "hr", "lower", "upper", "z", "p"}
    assert results["schema_version"] == 1


def test_two_runs_give_byte_identical_results(demo_run, tmp_path):
    res = runner.invoke(
        app,
        ["analyze", str(demo_run / "demo-input" / "study.toml"), "--out", str(tmp_path), "--quiet"],
    )
    assert res.exit_code == 0, res.output
    a = (demo_run / "results.json").read_bytes()
    b = (tmp_path / "results.json").read_bytes()
    assert hashlib.sha256(a).hexdigest() == hashlib.sha256(b).hexdigest()
    assert (demo_run / "report.html").read_bytes() == (tmp_path / "report.html").read_bytes()


def test_results_round_trip(demo_run):
    from mmrwe.results import StudyResults

    text = (demo_run / "results.json").read_text()
    r = StudyResults.from_json(text)
    assert r.to_json() == text
    assert StudyResults.from_json(r.to_json()) == r
    assert any(row.stat_name == "median" for row in r.to_ard())


def test_report_renders_the_same_from_reloaded_results(demo_run):
    from mmrwe.report import render_html
    from mmrwe.results import StudyResults

    r = StudyResults.read(demo_run / "results.json")
    assert render_html(r) == (demo_run / "report.html").read_text()


def test_user_error_has_no_traceback(tmp_path):
    import subprocess

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mmrwe.cli.main",
            "analyze",
            str(tmp_path / "missing.toml"),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "not found" in proc.stderr


def test_out_dir_holding_inputs_is_refused(demo_run):
    spec = demo_run / "demo-input" / "study.toml"
    res = runner.invoke(app, ["analyze", str(spec), "--out", str(demo_run / "demo-input")])
    assert res.exit_code == 1 and "never writes where its inputs are" in res.output
