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


def _extra(name: str) -> list[str]:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return cfg["project"]["optional-dependencies"][name]


def test_the_readme_test_command_runs_the_suite_on_pandas_3():
    # The suite must run on the pandas users get (`pip install .` resolves pandas 3); the
    # [test] extra once pulled pandas 2 in through lifelines.
    import re

    readme = (ROOT / "README.md").read_text()
    command = 'pip install -e ".[test]" && python -m pytest -q'
    assert command in readme
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1].endswith(command)  # CI runs exactly the README's command
    pandas = [r for r in _extra("test") if re.match(r"pandas\b(?![-\[])", r)]
    assert pandas, "the [test] extra must require pandas >= 3"
    assert all(re.search(r">=\s*3", r) and not re.search(r"<\s*3", r) for r in pandas)
    assert not [r for r in _extra("test") if re.search(r"pandas\s*(<|==\s*2|~=\s*2)", r)]
