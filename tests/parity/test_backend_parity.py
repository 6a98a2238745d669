"""One study, four engines: in-memory pandas, DuckDB, PostgreSQL and Spark give one results.json.

Numbers agree to 1e-9 relative (the scaled path sums in another order: differences seen are
~1e-13); counts, labels, levels and keys are identical. The engine-specific ``inputs`` and
``software`` entries are the only keys not compared.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from parity_util import diff_results, results_dict

pytest.importorskip("ibis", reason="the scaled path needs ibis-framework")

from mmrwe.study.pipeline import run as run_study
from mmrwe.cli.pipeline_scaled import run_study_scaled
from mmrwe.spec import load_spec

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
    """The spec with recorded responses: the scaled path does not derive IMWG from labs."""
    text = re.sub(r"(?m)^(labs|therapy) = .*$", "", text)
    return re.sub(r'(?m)^source = "labs".*$', 'source = "recorded"', text)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> object:
    d = tmp_path_factory.mktemp("demo_pandas")
    return run_study(load_spec(_copy_study(DEMO, d, "")))


@pytest.fixture(scope="module")
def demo_reference(demo_run: object) -> dict:
    return results_dict(demo_run)


@pytest.fixture(scope="module")
def lung_reference(tmp_path_factory: pytest.TempPathFactory) -> dict:
    d = tmp_path_factory.mktemp("lung_pandas")
    spec = _copy_study(LUNG, d, "")
    return results_dict(run_study(load_spec(spec)))


def _text_frame(csv: Path) -> pd.DataFrame:
    """The CSV's cells as text (empty cells missing), as a site's database would hold them."""
    df = pd.read_csv(csv, dtype=str, keep_default_na=False)
    return df.where(df != "", None)


def test_duckdb_csv_equals_pandas(demo_run: object, demo_reference: dict, tmp_path: Path) -> None:
    spec = _copy_study(DEMO, tmp_path, 'engine = "duckdb"')
    run = run_study(load_spec(spec))  # dispatched by [data] engine
    assert run.results["inputs"]["patients"]["engine"] == "duckdb"
    assert diff_results(demo_reference, results_dict(run)) == []
    # derived_patients.csv content: the same per-patient endpoints
    ref = demo_run.analysis  # type: ignore[attr-defined]
    cols = ["patient_id", "PFS_time_days", "PFS_event", "PFS_end_source", "OS_time_days"]
    pd.testing.assert_frame_equal(
        ref[cols].reset_index(drop=True), run.analysis[cols].reset_index(drop=True),
        check_dtype=False,
    )  # fmt: skip


def _typed_parquet(csv: Path, dest: Path) -> None:
    """The CSV as Parquet with DATE columns (and numbers as numbers), as a registry exports."""
    df = pd.read_csv(csv)
    for c in ("start_date", "progression_date", "death_date", "last_followup_date"):
        df[c] = pd.to_datetime(df[c]).dt.date
    df.to_parquet(dest, index=False)


def test_duckdb_typed_parquet_equals_pandas(tmp_path: Path) -> None:
    # Parquet with DATE and DOUBLE columns: the engine reads the types, pandas reads cells
    _typed_parquet(LUNG / "patients.csv", tmp_path / "patients.parquet")
    base = _copy_study(LUNG, tmp_path / "pandas", "", patients="../patients.parquet")
    scaled = _copy_study(LUNG, tmp_path / "duck", 'engine = "duckdb"', "../patients.parquet")
    a = results_dict(run_study(load_spec(base)))
    b = results_dict(run_study(load_spec(scaled)))
    assert a["inputs"]["patients"]["format"] == "parquet"
    assert diff_results(a, b) == []


def test_duckdb_database_file_equals_pandas(lung_reference: dict, tmp_path: Path) -> None:
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


def test_postgres_equals_pandas(demo_reference: dict, pg_url: str, tmp_path: Path) -> None:
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
    assert entry["engine"] == "postgres"
    assert entry["format"] == "database"
    assert "password" not in entry["url"]
    assert diff_results(demo_reference, results_dict(run)) == []
    assert ibis.__version__


def test_spark_equals_pandas(lung_reference: dict, spark_backend: object, tmp_path: Path) -> None:
    # Spark local mode on the lung study (few queries: Spark jobs are slow to start)
    spec = _copy_study(LUNG, tmp_path, 'engine = "spark"')
    run = run_study_scaled(load_spec(spec), backend=spark_backend)  # the shared session
    assert run.results["inputs"]["patients"]["engine"] == "spark"
    assert diff_results(lung_reference, results_dict(run)) == []


@pytest.mark.parametrize(
    "parquet_copy", [True, False], ids=["parquet-in-memory", "parquet-in-place"]
)
def test_duckdb_large_input_paths_equal_pandas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parquet_copy: bool
) -> None:
    """The paths taken above the in-memory thresholds (views, analysis columns copied once,
    Parquet read in place) give the small-input results: thresholds set to 0 here."""
    import mmrwe.backends.sources as sources
    import mmrwe.backends.validation as validation
    import mmrwe.cli.pipeline_scaled as scaled

    monkeypatch.setattr(scaled, "MATERIALIZE_MAX_ROWS", 0)
    monkeypatch.setattr(validation, "CHECKS_IN_MEMORY_MAX_ROWS", 0)
    if not parquet_copy:
        monkeypatch.setattr(sources, "PARQUET_IN_MEMORY_MAX_ROWS", 0)
    _typed_parquet(DEMO / "patients.csv", tmp_path / "patients.parquet")
    base = _copy_study(DEMO, tmp_path / "pandas", "", patients="../patients.parquet")
    scaled_spec = _copy_study(DEMO, tmp_path / "duck", 'engine = "duckdb"', "../patients.parquet")
    ref = run_study(load_spec(base))
    run = run_study(load_spec(scaled_spec))
    assert diff_results(results_dict(ref), results_dict(run)) == []
    assert run.results["cox"]  # the chunked Cox read the analysis columns too
    cols = ["patient_id", "PFS_time_days", "PFS_event", "PFS_end_source", "OS_time_days"]
    pd.testing.assert_frame_equal(
        ref.analysis[cols].reset_index(drop=True), run.analysis[cols].reset_index(drop=True),
        check_dtype=False,
    )  # fmt: skip


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


def test_duckdb_labs_spec_unchanged_equals_pandas(
    demo_labs_reference: dict, tmp_path: Path
) -> None:
    """[response] source = "labs" on an engine's input: validated in the engine, derived
    and analysed in memory; the spec needs no change and the numbers are the pandas run's."""
    run = run_study(load_spec(_demo_unchanged(tmp_path, 'engine = "duckdb"')))
    entry = run.results["inputs"]["patients"]
    assert (entry["engine"], entry["analysed_in"]) == ("duckdb", "memory")
    assert run.results["response_derivation"]["used_by_analyses"] is True
    assert diff_results(demo_labs_reference, results_dict(run)) == []
    assert (
        run.results["inputs"]["labs"]["sha256"] == demo_labs_reference["inputs"]["labs"]["sha256"]
    )


def test_postgres_labs_spec_unchanged_equals_pandas(
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
    assert run.results["inputs"]["patients"]["engine"] == "postgres"
    assert diff_results(demo_labs_reference, results_dict(run)) == []


def test_labs_spec_above_the_cap_is_refused_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mmrwe.cli.pipeline_scaled as scaled
    from mmrwe.core.errors import SpecError

    monkeypatch.setattr(scaled, "LABS_MAX_PATIENTS", 50)
    with pytest.raises(SpecError, match="51") as exc:
        run_study(load_spec(_demo_unchanged(tmp_path, 'engine = "duckdb"')))
    assert exc.value.where.spec_key == "response.source"
    assert "MMRWE_LABS_MAX_PATIENTS" in (exc.value.fix or "")


def test_validate_command_checks_labs_on_an_engine(tmp_path: Path) -> None:
    """`mmrwe validate` on an engine's spec finds the pandas run's lab issues (and no others)."""
    import json

    from typer.testing import CliRunner

    from mmrwe.cli.main import app

    pandas_spec = _demo_unchanged(tmp_path / "p", "")
    duck_spec = _demo_unchanged(tmp_path / "d", 'engine = "duckdb"')
    found = []
    for spec in (pandas_spec, duck_spec):
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


def test_spark_labs_spec_unchanged_equals_pandas(
    demo_labs_reference: dict, spark_backend: object, tmp_path: Path
) -> None:
    spec = _demo_unchanged(tmp_path, 'engine = "spark"')
    run = run_study_scaled(load_spec(spec), backend=spark_backend)  # the shared session
    assert run.results["inputs"]["patients"]["engine"] == "spark"
    assert diff_results(demo_labs_reference, results_dict(run)) == []
