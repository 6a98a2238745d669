"""Readers for the R-generated reference fixtures (importable as ``refdata`` from tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

REFERENCE = Path(__file__).parent / "reference"


def load_expected(name: str) -> dict[str, Any]:
    """Read ``tests/reference/expected/<name>.json`` written by ``tests/reference/r/<name>.R``."""
    with (REFERENCE / "expected" / f"{name}.json").open(encoding="utf-8") as fh:
        return json.load(fh)  # type: ignore[no-any-return]


def load_data(name: str) -> pd.DataFrame:
    """Read ``tests/reference/data/<name>.csv`` (public data sets exported by the R scripts)."""
    # pandas 2's default float parser can be ~100 ulp off on R-written numbers; pandas 3
    # parses exactly by default and deprecates the option.
    if int(pd.__version__.split(".")[0]) < 3:
        return pd.read_csv(REFERENCE / "data" / f"{name}.csv", float_precision="round_trip")
    return pd.read_csv(REFERENCE / "data" / f"{name}.csv")
