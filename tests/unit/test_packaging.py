"""Non-editable installs must carry every data file the package reads (demo, templates)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_package_data_patterns_cover_data_files():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = cfg["tool"]["setuptools"]["package-data"]["mmrwe"]
    pkg = ROOT / "src" / "mmrwe"
    covered = {p for pat in patterns for p in pkg.glob(pat) if p.is_file()}
    needed = [
        p
        for sub in ("data", "report/templates")
        for p in (pkg / sub).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    assert needed, "no data files found"
    missing = [str(p.relative_to(pkg)) for p in needed if p not in covered]
    assert not missing, f"not packaged by [tool.setuptools.package-data]: {missing}"
