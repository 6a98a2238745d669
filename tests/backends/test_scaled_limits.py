"""Above the row limit the scaled path still computes every count-based section exactly."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

pytest.importorskip("ibis", reason="the scaled path needs ibis-framework")

import mmrwe.cli.pipeline_scaled as scaled
from mmrwe.study.pipeline import run as run_study
from mmrwe.spec import load_spec

DEMO = Path(__file__).resolve().parents[2] / "src" / "mmrwe" / "data" / "demo"


def test_row_sections_off_keep_count_sections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "parity"))
    from parity_util import diff_results, results_dict

    for f in DEMO.glob("*.csv"):
        shutil.copy(f, tmp_path / f.name)
    # recorded responses: the scaled path does not derive IMWG responses from labs
    text = re.sub(r"(?m)^(labs|therapy) = .*$", "", (DEMO / "study.toml").read_text())
    text = re.sub(r'(?m)^source = "labs".*$', 'source = "recorded"', text)
    (tmp_path / "pandas.toml").write_text(text)
    (tmp_path / "duck.toml").write_text(
        text.replace('patients = "patients.csv"', 'patients = "patients.csv"\nengine = "duckdb"')
    )
    ref = results_dict(run_study(load_spec(tmp_path / "pandas.toml")))
    monkeypatch.setattr(scaled, "ROW_SECTIONS_MAX_ROWS", 0)
    monkeypatch.setattr(scaled, "DERIVED_MAX_ROWS", 0)
    run = run_study(load_spec(tmp_path / "duck.toml"))
    got = results_dict(run)
    for key in ("cohort", "endpoints", "response", "proportions", "logrank", "cox"):
        assert diff_results(ref[key], got[key]) == [], key
    assert got["table1"] is None
    assert got["cutpoints"] == []
    assert got["proportion_comparisons"] == []
    ce = got["center_effects"]
    assert ce["counts"] == ref["center_effects"]["counts"]
    for ep in ("PFS", "OS"):
        assert diff_results(ref["center_effects"]["endpoints"][ep], ce["endpoints"][ep]) == []
    assert len(run.analysis) == 0
    assert any("table1: not computed" in w for w in run.warnings)
