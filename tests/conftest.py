"""Shared fixtures: reference loader for R-generated JSON fixtures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from refdata import REFERENCE, load_data, load_expected  # noqa: F401  (re-exported)


@pytest.fixture
def expected() -> Callable[[str], dict[str, Any]]:
    return load_expected


@pytest.fixture
def reference_data() -> Callable[[str], pd.DataFrame]:
    return load_data


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run `mmrwe demo` once per test session; returns its output folder."""
    from typer.testing import CliRunner

    from mmrwe.cli.main import app

    out = tmp_path_factory.mktemp("demo")
    res = CliRunner().invoke(app, ["demo", "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    return out
