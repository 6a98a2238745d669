"""The ways a large cohort takes (named views instead of tables, no up-front column fetch,
the chunked Cox, Parquet read in place, Table 1 from engine aggregates) give the small
cohort's numbers: the size thresholds are set to 0 here, on the demo."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

import mmrwe.engine.sources as sources
import mmrwe.study.analyses.cox as cox
import mmrwe.study.analyses.table1 as table1
import mmrwe.study.pipeline as pipeline
import mmrwe.validate.patients as patients
from mmrwe.spec import load_spec
from mmrwe.study.pipeline import run

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "parity"))
from parity_util import diff_results, results_dict

DEMO = Path(__file__).resolve().parents[2] / "src" / "mmrwe" / "data" / "demo"


def _study(tmp: Path, *, parquet: bool) -> Path:
    for f in DEMO.glob("*.csv"):
        shutil.copy(f, tmp / f.name)
    text = (DEMO / "study.toml").read_text()
    if parquet:
        df = pd.read_csv(DEMO / "patients.csv")
        for c in ("start_date", "progression_date", "death_date", "last_followup_date"):
            df[c] = pd.to_datetime(df[c]).dt.date
        df.to_parquet(tmp / "patients.parquet", index=False)
        text = text.replace('patients = "patients.csv"', 'patients = "patients.parquet"')
        # the Parquet copy has the recorded responses only (so no response or next-line
        # dates: DoR, TTNT and the landmark analysis would be refused)
        text = re.sub(r"(?m)^(labs|therapy|endpoints|landmark_from) = .*$", "", text)
        text = re.sub(r'(?m)^source = "labs".*$', 'source = "recorded"', text)
    (tmp / "study.toml").write_text(text)
    return tmp / "study.toml"


@pytest.mark.parametrize("parquet", [False, True], ids=["csv+labs", "parquet"])
def test_large_cohort_paths_give_the_same_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parquet: bool
) -> None:
    spec = load_spec(_study(tmp_path, parquet=parquet))
    ref = run(spec)
    monkeypatch.setattr(patients, "CHECKS_IN_MEMORY_MAX_ROWS", 0)
    monkeypatch.setattr(pipeline, "PREFETCH_MAX_ROWS", 0)
    monkeypatch.setattr(cox, "COX_IN_MEMORY_MAX_ROWS", 0)
    monkeypatch.setattr(sources, "PARQUET_IN_MEMORY_MAX_ROWS", 0)
    monkeypatch.setattr(table1, "TABLE1_IN_MEMORY_MAX_ROWS", 0)  # engine aggregates
    big = run(spec)
    assert [c["computation"]["method"] for c in big.results["cox"]] == ["chunked"] * 5
    a, b = results_dict(ref), results_dict(big)
    # term tests: likelihood-ratio refits in memory, type II Wald from the fitted variance
    # when chunked (a one-column term's Wald chi-square is its z squared)
    for c in b["cox"]:
        assert {t["test"] for t in c["term_tests"].values()} == {"wald"}
        assert "fitted in chunks" in c["term_tests_method"]
        for term, t in c["term_tests"].items():
            if t["df"] == 1:
                col = next(k for k in c["coefficients"] if k == term or k.startswith(f"{term}="))
                z = c["coefficients"][col]["z"]
                assert t["chisq"] == pytest.approx(z * z, rel=1e-9)
    assert all(t["test"] == "lr" for c in a["cox"] for t in c["term_tests"].values())
    for c in (*a["cox"], *b["cox"]):
        for key in ("computation", "term_tests", "term_tests_method"):
            c.pop(key)
    # center effects of a large study: stratified and per-center fits from the spilled
    # design (equal to the in-memory ones, compared below); the interaction test is the
    # sum of the per-center fits, which equals the joint fit only where every center's
    # fit converges (tests/parity/test_center_effects_chunked.py), not on the demo's
    # small centers with monotone likelihoods
    assert {c.pop("computation") for c in b["center_effects"]["cox"]} == {"chunked"}
    for c in (*a["center_effects"]["cox"], *b["center_effects"]["cox"]):
        c.pop("interaction")
    a["center_effects"].pop("statement")
    b["center_effects"].pop("statement")
    assert diff_results(a, b, rtol=1e-9) == []
    pd.testing.assert_frame_equal(ref.derived, big.derived)


def test_table1_from_engine_aggregates_keeps_the_small_cell_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # with [report] small_cell_k the engine path refuses the same variables, with the same
    # reasons and warnings, and describes the others with the same numbers
    path = _study(tmp_path, parquet=False)
    text = path.read_text() + "\n[report]\nsmall_cell_k = 3\n"
    text = text.replace('variables = ["age",', 'variables = ["patient_id", "age",', 1)
    path.write_text(text)
    spec = load_spec(path)
    ref = run(spec)
    monkeypatch.setattr(table1, "TABLE1_IN_MEMORY_MAX_ROWS", 0)
    big = run(spec)
    a, b = results_dict(ref)["table1"], results_dict(big)["table1"]
    refused = [r["variable"] for r in a["rows"] if r.get("status") == "not_estimable"]
    assert refused == ["patient_id"]
    assert diff_results(a, b, rtol=1e-9) == []
    assert [w for w in ref.warnings if w.startswith("table1")] == [
        w for w in big.warnings if w.startswith("table1")
    ]
