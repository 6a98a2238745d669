"""Shared helpers of the pooling and fuzz tests: the synthetic site files and their specs."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def generator() -> Any:
    """scripts/make_site_files.py as a module."""
    name = "make_site_files"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


def without_cutpoints(text: str) -> str:
    """The spec without [[cutpoint]] blocks (their bootstraps dominate the run time)."""
    out: list[str] = []
    skip = False
    for line in text.splitlines():
        if re.match(r"^\s*\[", line):
            skip = line.strip() == "[[cutpoint]]"
        if not skip:
            out.append(line)
    return "\n".join(out) + "\n"


def make_sites(folder: Path, *, light: bool = True) -> dict[str, Path]:
    """Write the clean file, three site files and study.toml (light: no cut-offs)."""
    files = generator().make_sites(folder)
    if light:
        spec = files["spec"]
        spec.write_text(without_cutpoints(spec.read_text(encoding="utf-8")), encoding="utf-8")
    return files


def copy_sites(src: Path, dst: Path) -> Path:
    """A private copy of a site folder, to modify."""
    shutil.copytree(src, dst)
    return dst


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def folder_hashes(folder: Path) -> dict[str, str]:
    return {p.name: sha(p) for p in sorted(folder.iterdir()) if p.is_file()}


def results(out: Path) -> dict[str, Any]:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def diff_paths(a: Any, b: Any, path: str = "") -> list[str]:
    """Every key path where two JSON documents differ."""
    if type(a) is not type(b):
        return [path]
    if isinstance(a, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{path}.{k}")
            else:
                out += diff_paths(a[k], b[k], f"{path}.{k}")
        return out
    if isinstance(a, list):
        if len(a) != len(b):
            return [path]
        return [
            p
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for p in diff_paths(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [path]


def add_to_spec(spec: Path, text: str) -> None:
    spec.write_text(spec.read_text(encoding="utf-8") + "\n" + text + "\n", encoding="utf-8")


def replace_in_spec(spec: Path, old: str, new: str) -> None:
    s = spec.read_text(encoding="utf-8")
    assert old in s, old
    spec.write_text(s.replace(old, new, 1), encoding="utf-8")


def max_rel_diff(a: Any, b: Any, path: str = "") -> float:
    """Largest relative difference between the numbers of two JSON documents.

    Everything that is not a float must be equal (keys, counts, strings, None); raises
    AssertionError naming the path otherwise.
    """
    if isinstance(a, float) and isinstance(b, float | int) and not isinstance(b, bool):
        scale = max(abs(a), abs(float(b)), 1e-300)
        return abs(a - float(b)) / scale
    if isinstance(a, int) and isinstance(b, float) and not isinstance(a, bool):
        return max_rel_diff(float(a), b, path)
    assert type(a) is type(b), f"{path}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, dict):
        assert set(a) == set(b), f"{path}: keys {sorted(set(a) ^ set(b))}"
        return max((max_rel_diff(a[k], b[k], f"{path}.{k}") for k in a), default=0.0)
    if isinstance(a, list):
        assert len(a) == len(b), f"{path}: length {len(a)} vs {len(b)}"
        return max(
            (max_rel_diff(x, y, f"{path}[{i}]") for i, (x, y) in enumerate(zip(a, b, strict=True))),
            default=0.0,
        )
    assert a == b, f"{path}: {a!r} vs {b!r}"
    return 0.0
