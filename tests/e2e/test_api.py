"""The Python API: mmrwe.Study gives what `mmrwe analyze` gives, byte for byte."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import mmrwe
from mmrwe.cli.main import app
from mmrwe.study.demo import demo_dir

LUNG = Path(__file__).resolve().parent / "lung"


@pytest.fixture(scope="module")
def demo_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("api_demo")
    for f in demo_dir().iterdir():
        shutil.copy(f, d / f.name)
    return d / "study.toml"


@pytest.fixture(scope="module")
def cli_out(demo_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli_out")
    res = CliRunner().invoke(app, ["analyze", str(demo_copy), "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def result(demo_copy: Path) -> mmrwe.StudyResult:
    return mmrwe.Study.from_toml(demo_copy).run()


def test_to_dict_equals_the_cli_results_json(result: mmrwe.StudyResult, cli_out: Path) -> None:
    assert result.to_dict() == json.loads((cli_out / "results.json").read_text())


def test_write_gives_the_same_bytes(
    result: mmrwe.StudyResult, cli_out: Path, tmp_path: Path
) -> None:
    written = result.write(tmp_path)
    top = {p.relative_to(tmp_path).parts[0] for p in written.values()}
    assert top == {
        p.name for p in cli_out.iterdir() if p.name != "run.json" and not p.name.startswith(".")
    } - {"demo-input"}
    for name in (
        "results.json",
        "restricted/derived_patients.csv",
        "restricted/response_audit.jsonl",
        "restricted/README.txt",
        "validation.json",
    ):
        assert (tmp_path / name).read_bytes() == (cli_out / name).read_bytes(), name
    assert (tmp_path / "report.html").read_bytes() == (cli_out / "report.html").read_bytes()


def test_validation_report(result: mmrwe.StudyResult) -> None:
    v = result.validation
    assert v.ok and v.n_input_rows == 51 and v.n_analysed == 51
    assert [i.code for i in v.issues] == ["MML014"]  # the demo's one unconfirmed PD
    assert v.to_dict()["issues"][0]["where"]["patient_id"] == "SYN-005"
    assert "n = 51" in repr(result)


def test_bad_data_raises_a_validation_error_with_every_issue(tmp_path: Path) -> None:
    df = pd.read_csv(LUNG / "patients.csv", dtype=str, keep_default_na=False)
    df.loc[0, "start_date"] = "31/12/2020"
    df.loc[1, "patient_id"] = df.loc[2, "patient_id"]
    shutil.copy(LUNG / "study.toml", tmp_path / "study.toml")
    df.to_csv(tmp_path / "patients.csv", index=False)
    study = mmrwe.Study.from_toml(tmp_path / "study.toml")
    report = study.validate()
    assert {i.code for i in report.errors} == {"MMV002", "MMV004"}
    with pytest.raises(mmrwe.ValidationError) as exc:
        study.run()
    assert isinstance(exc.value, mmrwe.MmrweError)
    assert {i.code for i in exc.value.issues if i.severity == "error"} == {"MMV002", "MMV004"}
    rows = {i.code: i.where.row for i in exc.value.issues if i.severity == "error"}
    assert rows == {"MMV004": 2, "MMV002": 4}


def test_spec_as_dict_and_frame(tmp_path: Path) -> None:
    base = mmrwe.Study.from_toml(LUNG / "study.toml").run().to_dict()
    import tomllib

    doc = tomllib.loads((LUNG / "study.toml").read_text())
    from_dict = mmrwe.Study(doc, base_dir=LUNG).run().to_dict()
    frame = pd.read_csv(LUNG / "patients.csv", dtype=str, keep_default_na=False)
    from_frame = mmrwe.Study(doc, base_dir=LUNG, patients=frame).run().to_dict()
    for other in (from_dict, from_frame):
        for key in ("endpoints", "logrank", "cox", "proportions", "cutpoints", "table1"):
            assert other[key] == base[key], key
    assert from_frame["inputs"]["patients"]["format"] == "frame"
    assert from_frame["cohort"]["n"] == base["cohort"]["n"]


def test_bad_spec_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(mmrwe.SpecError):
        mmrwe.Study({"data": {"patients": "p.csv"}, "km": {"conf_typ": "log"}})


def test_load_results_reads_back(cli_out: Path) -> None:
    r = mmrwe.load_results(cli_out)
    assert r == mmrwe.load_results(cli_out / "results.json")
    assert r["cohort"]["n"] == 51


def test_import_is_light() -> None:
    # `import mmrwe` loads neither the engine nor the statistics until they are used
    code = (
        "import sys, mmrwe; "
        "heavy = [m for m in ('ibis', 'duckdb', 'scipy', 'pandas', 'matplotlib') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
