"""`mmrwe validate` on a spec with [data] engine = "duckdb" runs the rules in the engine."""

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from mmrwe.cli.main import app

LUNG = Path(__file__).parents[1] / "e2e" / "lung" / "patients.csv"
SPEC = '[study]\ntitle = "t"\n[data]\npatients = "patients.csv"\nengine = "duckdb"\n'


def test_validate_in_duckdb_ok_and_error(tmp_path):
    d = pd.read_csv(LUNG, dtype=str, keep_default_na=False)
    d.to_csv(tmp_path / "patients.csv", index=False)
    (tmp_path / "study.toml").write_text(SPEC)
    res = CliRunner().invoke(app, ["validate", str(tmp_path / "study.toml")])
    assert res.exit_code == 0, res.output
    d.loc[5, "patient_id"] = d.loc[4, "patient_id"]
    d.to_csv(tmp_path / "patients.csv", index=False)
    res = CliRunner().invoke(app, ["validate", str(tmp_path / "study.toml")])
    assert res.exit_code == 1
    assert "MMV002" in res.output
    assert d.loc[4, "patient_id"] in res.output
