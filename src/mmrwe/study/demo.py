"""The embedded SYNTHETIC demo cohort and its published-vs-reproduced comparison."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

DEMO_FILES = ("study.toml", "patients.csv", "labs.csv", "therapy.csv")


def demo_dir() -> Path:
    """Folder of the demo files inside the installed package."""
    return Path(str(resources.files("mmrwe") / "data" / "demo"))


def copy_demo_inputs(dest: Path) -> Path:
    """Copy the demo spec and data to ``dest`` and return the spec path."""
    dest.mkdir(parents=True, exist_ok=True)
    src = demo_dir()
    for name in DEMO_FILES:
        shutil.copyfile(src / name, dest / name)
    return dest / "study.toml"


#: Decimals per kind of quantity (tables.published): counts whole, times and percentages 1.
_DIGITS = {"count": 0, "time": 1, "percent": 1, "ratio": 2, "value": 1}


def _fmt(node: Mapping[str, Any], kind: str | None) -> str:
    value = node.get("value")
    if value is None:
        return "not estimable"
    d = _DIGITS.get(kind or "", 2)
    unit = " %" if kind == "percent" else ""

    def num(x: float | None) -> str:
        return "NR" if x is None else f"{x:.{d}f}"

    out = num(value) + unit
    if node.get("lower") is not None or node.get("upper") is not None:
        out += f" ({num(node.get('lower'))}-{num(node.get('upper'))})"
    return out


def published_vs_reproduced(results: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Rows of (quantity, published, reproduced) for the demo's terminal table.

    Read from results.json ``published[]`` (the demo spec's ``[[published]]`` entries), the
    same numbers as the reports' comparison table.
    """
    rows: list[tuple[str, str, str]] = []
    for e in results.get("published") or []:
        kind = e.get("kind")
        if e.get("status") == "failed":
            reproduced = f"failed: {e.get('reason')}"
        else:
            reproduced = _fmt(e.get("reproduced") or {}, kind)
        rows.append((str(e.get("name")), _fmt(e.get("published") or {}, kind), reproduced))
    return rows
