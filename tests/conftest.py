"""Shared fixtures: reference loader for R-generated JSON fixtures."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, settings

from refdata import REFERENCE, load_data, load_expected  # noqa: F401  (re-exported)

# Property tests draw the same examples on every run (CI must not turn red by chance) and
# carry no per-example deadline (shared, loaded machines); MMRWE_HYPOTHESIS=explore draws anew.
settings.register_profile(
    "repeatable", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("explore", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("MMRWE_HYPOTHESIS", "repeatable"))


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
