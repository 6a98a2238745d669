from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmrwe.cli.main import app


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """Run `mmrwe demo` once per test session; returns its output folder."""
    out = tmp_path_factory.mktemp("demo")
    res = CliRunner().invoke(app, ["demo", "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    return out
