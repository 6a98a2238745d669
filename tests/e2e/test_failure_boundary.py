"""One broken analysis never sinks the study: each entry has its own failure boundary.

Fault injection on the demo: the study's analyses plus broken ones (a term missing in every
row, a factor missing in every row, a constant variable, a text column): every other result
equals the run without the broken ones; each broken one is present, in spec order, with its
status and reason; the reports are written; an internal error gives exit status 3 and an
error log, never a traceback on the console.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import mmrwe
from mmrwe.cli.main import app
from mmrwe.study.demo import demo_dir

BROKEN = """
[variables.allmissing]
type = "numeric"

[[cox]]
endpoint = "OS"
terms = ["allmissing"]

[[compare_proportion]]
outcome = "ORR"
by = "allmissing"

[[cutpoint]]
endpoint = "PFS"
variable = "constant"
method = "maxstat"

[[cutpoint]]
endpoint = "PFS"
variable = "constant"
method = "youden"
direction = "<="

[[cutpoint]]
endpoint = "PFS"
variable = "note"
method = "maxstat"

[[cox]]
endpoint = "PFS"
terms = ["constant"]
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("fault")
    for f in demo_dir().iterdir():
        shutil.copy(f, d / f.name)
    p = pd.read_csv(d / "patients.csv", dtype=str, keep_default_na=False)
    p["allmissing"] = ""
    p["constant"] = "5"
    p["note"] = [f"text {i}" for i in range(len(p))]
    p.to_csv(d / "patients.csv", index=False)
    base = (d / "study.toml").read_text()
    (d / "clean.toml").write_text(base)
    (d / "broken.toml").write_text(base + BROKEN)
    return d


@pytest.fixture(scope="module")
def runs(folder: Path) -> tuple[dict, dict, mmrwe.StudyResult]:
    clean = mmrwe.Study.from_toml(folder / "clean.toml").run()
    broken = mmrwe.Study.from_toml(folder / "broken.toml").run()
    return clean.to_dict(), broken.to_dict(), broken


def test_every_other_result_is_unchanged(runs) -> None:
    clean, broken, _ = runs
    for key in ("endpoints", "response", "proportions", "logrank", "table1"):
        assert broken[key] == clean[key], key
    for key in ("cox", "cutpoints", "proportion_comparisons"):
        n = len(clean[key])
        assert broken[key][:n] == clean[key], key


def test_the_broken_ones_say_why(runs) -> None:
    _, broken, result = runs
    got = {
        e["spec_key"]: (e["status"], e["reason"])
        for key in ("cox", "cutpoints", "proportion_comparisons")
        for e in broken[key]
        if e["status"] != "ok"
    }
    assert set(got) == {"[[cox]] 6", "[[cox]] 7", "[[compare_proportion]] 5", "[[cutpoint]] 4",
                        "[[cutpoint]] 5", "[[cutpoint]] 6"}  # fmt: skip
    assert all(status == "not_estimable" for status, _ in got.values())
    assert "no patient has every term" in got["[[cox]] 6"][1]
    assert "same value (5) for every patient" in got["[[cutpoint]] 4"][1]
    assert "holds text" in got["[[cutpoint]] 6"][1]
    assert "singular" in got["[[cox]] 7"][1]
    # spec keys are 1-based and in spec order; every entry has them
    for key, name in (("cox", "cox"), ("cutpoints", "cutpoint")):
        assert [e["spec_key"] for e in broken[key]] == [
            f"[[{name}]] {k}" for k in range(1, len(broken[key]) + 1)
        ]
    assert result.failed == []  # not estimable is not a failure: exit status 0


def test_reports_are_written_with_the_reasons(folder: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(
        app, ["analyze", str(folder / "broken.toml"), "--out", str(tmp_path), "--quiet"]
    )
    assert res.exit_code == 0, res.output
    html = (tmp_path / "report.html").read_text()
    assert "Analyses not computed" in html and "holds text" in html
    assert (tmp_path / "report.docx").stat().st_size > 0
    assert "Traceback" not in res.output


def test_an_internal_error_fails_one_analysis_exit_3(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mmrwe.study.analyses.compare as compare

    def crash(ctx, c):  # a bug in one analysis
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(compare, "compare_one", crash)
    res = CliRunner().invoke(
        app, ["analyze", str(folder / "clean.toml"), "--out", str(tmp_path), "--quiet"]
    )
    assert res.exit_code == 3, res.output
    assert "Traceback" not in res.output and "ZeroDivisionError" in res.output
    results = json.loads((tmp_path / "results.json").read_text())
    assert all(e["status"] == "failed" for e in results["proportion_comparisons"])
    assert results["cox"] and all(e["status"] == "ok" for e in results["cox"])
    log = (tmp_path / "mmrwe-errors.log").read_text()
    assert "[[compare_proportion]] 1" in log and "Traceback" in log
    run = json.loads((tmp_path / "run.json").read_text())
    assert [f["spec_key"] for f in run["failed"]][:1] == ["[[compare_proportion]] 1"]
    assert (tmp_path / "report.html").exists()
