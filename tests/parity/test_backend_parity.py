"""One study, every engine and input container: one results.json.

The default engine (in-process DuckDB over the file) is the reference; ``engine = "duckdb"``
over a typed Parquet file or a DuckDB database file, PostgreSQL and Spark give the same
results. Numbers agree to 1e-9 relative (an engine may sum in another order: differences
seen are ~1e-13); counts, labels, levels and keys are identical. The engine-specific
``inputs`` and ``software`` entries are the only keys not compared.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from parity_util import diff_results, results_dict

from mmrwe.spec import load_spec
from mmrwe.study.pipeline import run as run_study

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "src" / "mmrwe" / "data" / "demo"
LUNG = REPO / "tests" / "e2e" / "lung"


def _copy_study(src: Path, dest: Path, data_lines: str, patients: str | None = None) -> Path:
    """The study spec of ``src`` with extra [data] lines (and another patients value)."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in src.glob("*.csv"):
        shutil.copy(f, dest / f.name)
    text = _recorded_response((src / "study.toml").read_text())
    old = 'patients = "patients.csv"'
    assert old in text
    new = f'patients = "{patients}"' if patients else old
    (dest / "study.toml").write_text(text.replace(old, new + "\n" + data_lines))
    return dest / "study.toml"


def _recorded_response(text: str) -> str:
    """The spec with recorded responses (as a registry export holds them): without response
    and next-line dates, so without DoR, TTNT and the landmark analysis."""
    text = re.sub(r"(?m)^(labs|therapy|endpoints|landmark_from) = .*$", "", text)
    return re.sub(r'(?m)^source = "labs".*$', 'source = "recorded"', text)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> object:
    d = tmp_path_factory.mktemp("demo_default")
    return run_study(load_spec(_copy_study(DEMO, d, "")))


@pytest.fixture(scope="module")
def demo_reference(demo_run: object) -> dict:
    return results_dict(demo_run)


@pytest.fixture(scope="module")
def lung_reference(tmp_path_factory: pytest.TempPathFactory) -> dict:
    d = tmp_path_factory.mktemp("lung_default")
    spec = _copy_study(LUNG, d, "")
    return results_dict(run_study(load_spec(spec)))


def _text_frame(csv: Path) -> pd.DataFrame:
    """The CSV's cells as text (empty cells missing), as a site's database would hold them."""
    df = pd.read_csv(csv, dtype=str, keep_default_na=False)
    return df.where(df != "", None)


def test_duckdb_csv_equals_default(demo_run: object, demo_reference: dict, tmp_path: Path) -> None:
    spec = _copy_study(DEMO, tmp_path, 'engine = "duckdb"')
    run = run_study(load_spec(spec))
    assert run.results["software"]["engine"] == "duckdb"
    assert diff_results(demo_reference, results_dict(run)) == []
    # derived_patients.csv content: the same per-patient endpoints
    pd.testing.assert_frame_equal(demo_run.derived, run.derived)  # type: ignore[attr-defined]


def _typed_parquet(csv: Path, dest: Path) -> None:
    """The CSV as Parquet with DATE columns (and numbers as numbers), as a registry exports."""
    df = pd.read_csv(csv)
    for c in ("start_date", "progression_date", "death_date", "last_followup_date"):
        df[c] = pd.to_datetime(df[c]).dt.date
    df.to_parquet(dest, index=False)


def test_duckdb_typed_parquet_equals_csv(tmp_path: Path) -> None:
    # Parquet with DATE and DOUBLE columns: the engine reads the types, not text cells
    _typed_parquet(LUNG / "patients.csv", tmp_path / "patients.parquet")
    base = _copy_study(LUNG, tmp_path / "csv", "")
    scaled = _copy_study(LUNG, tmp_path / "duck", 'engine = "duckdb"', "../patients.parquet")
    a = results_dict(run_study(load_spec(base)))
    b = results_dict(run_study(load_spec(scaled)))
    assert b["inputs"]["patients"]["format"] == "parquet"
    assert diff_results(a, b) == []


def test_duckdb_database_file_equals_default(lung_reference: dict, tmp_path: Path) -> None:
    import duckdb

    db = tmp_path / "registry.duckdb"
    con = duckdb.connect(str(db))
    frame = _text_frame(LUNG / "patients.csv")
    con.register("frame", frame)
    con.execute("CREATE TABLE patients AS SELECT * FROM frame")
    con.close()
    spec = _copy_study(LUNG, tmp_path, 'engine = "duckdb"\ntable = "patients"', "registry.duckdb")
    run = run_study(load_spec(spec))
    assert run.results["inputs"]["patients"]["format"] == "duckdb"
    assert diff_results(lung_reference, results_dict(run)) == []


def test_postgres_equals_default(demo_reference: dict, pg_url: str, tmp_path: Path) -> None:
    import ibis

    from mmrwe.engine import connect

    be = connect("postgres", url=pg_url)
    try:
        be.con.create_table("demo_patients", _text_frame(DEMO / "patients.csv"), overwrite=True)
    finally:
        be.close()
    spec = _copy_study(DEMO, tmp_path, 'engine = "postgres"\ntable = "demo_patients"', pg_url)
    run = run_study(load_spec(spec))
    entry = run.results["inputs"]["patients"]
    assert run.results["software"]["engine"] == "postgres"
    assert entry["format"] == "database"
    assert "password" not in entry["url"]
    assert diff_results(demo_reference, results_dict(run)) == []
    assert ibis.__version__


def test_spark_equals_default(lung_reference: dict, spark_backend: object, tmp_path: Path) -> None:
    # Spark local mode on the lung study (few queries: Spark jobs are slow to start)
    spec = _copy_study(LUNG, tmp_path, 'engine = "spark"')
    run = run_study(load_spec(spec), backend=spark_backend)  # the shared session
    assert run.results["software"]["engine"] == "spark"
    assert diff_results(lung_reference, results_dict(run)) == []


def _demo_unchanged(dest: Path, data_lines: str, patients: str | None = None) -> Path:
    """The demo study as shipped (responses derived from labs), with extra [data] lines."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in DEMO.glob("*.csv"):
        shutil.copy(f, dest / f.name)
    text = (DEMO / "study.toml").read_text()
    assert 'source = "labs"' in text
    old = 'patients = "patients.csv"'
    new = f'patients = "{patients}"' if patients else old
    (dest / "study.toml").write_text(text.replace(old, new + "\n" + data_lines))
    return dest / "study.toml"


@pytest.fixture(scope="module")
def demo_labs_reference(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return results_dict(run_study(load_spec(_demo_unchanged(tmp_path_factory.mktemp("p"), ""))))


def test_duckdb_labs_spec_unchanged_equals_default(
    demo_labs_reference: dict, tmp_path: Path
) -> None:
    """[response] source = "labs" with engine named: the spec needs no other change and the
    numbers are the default run's."""
    run = run_study(load_spec(_demo_unchanged(tmp_path, 'engine = "duckdb"')))
    assert run.results["software"]["engine"] == "duckdb"
    assert run.results["response_derivation"]["used_by_analyses"] is True
    assert diff_results(demo_labs_reference, results_dict(run)) == []
    assert (
        run.results["inputs"]["labs"]["sha256"] == demo_labs_reference["inputs"]["labs"]["sha256"]
    )


def test_postgres_labs_spec_unchanged_equals_default(
    demo_labs_reference: dict, pg_url: str, tmp_path: Path
) -> None:
    from mmrwe.engine import connect

    be = connect("postgres", url=pg_url)
    try:
        be.con.create_table(
            "demo_labs_patients", _text_frame(DEMO / "patients.csv"), overwrite=True
        )
    finally:
        be.close()
    lines = 'engine = "postgres"\ntable = "demo_labs_patients"'
    run = run_study(load_spec(_demo_unchanged(tmp_path, lines, pg_url)))
    assert run.results["software"]["engine"] == "postgres"
    assert diff_results(demo_labs_reference, results_dict(run)) == []


def test_labs_spec_above_the_cap_is_refused_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mmrwe.study.pipeline as pipeline
    from mmrwe.core.errors import SpecError

    monkeypatch.setattr(pipeline, "LABS_MAX_PATIENTS", 50)
    with pytest.raises(SpecError, match="51") as exc:
        run_study(load_spec(_demo_unchanged(tmp_path, 'engine = "duckdb"')))
    assert exc.value.where.spec_key == "data.labs"
    assert "MMRWE_LABS_MAX_PATIENTS" in (exc.value.fix or "")


def test_validate_command_checks_labs_on_an_engine(tmp_path: Path) -> None:
    """`mmrwe validate` on an engine's spec finds the default run's lab issues (and no others)."""
    import json

    from typer.testing import CliRunner

    from mmrwe.cli.main import app

    default_spec = _demo_unchanged(tmp_path / "p", "")
    duck_spec = _demo_unchanged(tmp_path / "d", 'engine = "duckdb"')
    found = []
    for spec in (default_spec, duck_spec):
        out = spec.parent / "issues.json"
        res = CliRunner().invoke(app, ["validate", str(spec), "--json", str(out)])
        assert res.exit_code == 0, res.output
        found.append(
            sorted(
                (i["code"], i["where"].get("patient_id"))
                for i in json.loads(out.read_text())["issues"]
            )
        )
    assert found[0] == found[1]
    assert any(code.startswith("MML") for code, _ in found[1])


def test_spark_labs_spec_unchanged_equals_default(
    demo_labs_reference: dict, spark_backend: object, tmp_path: Path
) -> None:
    spec = _demo_unchanged(tmp_path, 'engine = "spark"')
    run = run_study(load_spec(spec), backend=spark_backend)  # the shared session
    assert run.results["software"]["engine"] == "spark"
    assert diff_results(demo_labs_reference, results_dict(run)) == []
