"""Write the demo's m imputed FISH columns for tests/reference/r/mi_demo.R (which runs this).

The imputation draws come from numpy's generator, not R's, so R cannot redo them; R checks
what follows: the Cox fit on every completed data set and Rubin's rules (mice::pool).
tests/reference/test_mi_demo.py re-runs the demo and checks the completions still equal
this file, so the fixture stays valid.

Run from the repository root (mi_demo.R does): python tests/reference/r/mi_demo_export.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import mmrwe  # noqa: E402
import mmrwe.stats.imputation as mi  # noqa: E402
from mmrwe.study.demo import demo_dir  # noqa: E402

OUT = ROOT / "tests" / "reference" / "data" / "mi_demo_completed.csv"


def completed_demo() -> tuple[pd.DataFrame, Any]:
    """(long table of the m completed data sets with the endpoints, the demo's results)."""
    captured: dict[str, Any] = {}
    original = mi.mice

    def spy(*args: Any, **kwargs: Any) -> Any:
        captured["res"] = original(*args, **kwargs)
        return captured["res"]

    mi.mice = spy
    try:
        result = mmrwe.Study.from_toml(demo_dir() / "study.toml").run()
    finally:
        mi.mice = original
    res = captured["res"]
    d = result.derived_patients
    parts = []
    for k in range(res.m):
        c = res.complete(k)
        parts.append(
            pd.DataFrame(
                {
                    "imp": k + 1,
                    "patient_id": d["patient_id"].to_numpy(),
                    "pfs_days": d["PFS_time_days"].to_numpy(np.int64),
                    "pfs_event": d["PFS_event"].to_numpy(bool).astype(int),
                    "os_days": d["OS_time_days"].to_numpy(np.int64),
                    "os_event": d["OS_event"].to_numpy(bool).astype(int),
                    "fish_risk": c["fish_risk"],
                }
            )
        )
    return pd.concat(parts, ignore_index=True), result


if __name__ == "__main__":
    table, _ = completed_demo()
    table.to_csv(OUT, index=False)
    print(f"wrote {OUT} ({len(table)} rows)")
