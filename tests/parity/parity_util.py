"""Compare two results.json trees: numbers to a relative tolerance, everything else exactly."""

from __future__ import annotations

import json
import math
from typing import Any

# keys that name the engine or the input container, not a result
IGNORED = {
    ("software",),
    ("study", "spec_sha256"),
    ("inputs",),
}


def results_dict(run: Any) -> dict[str, Any]:
    return json.loads(run.results.to_json())


def diff_results(a: Any, b: Any, *, rtol: float = 1e-9, path: tuple[str, ...] = ()) -> list[str]:
    """Differences between two results trees (empty when they agree)."""
    if path in IGNORED:
        return []
    out: list[str] = []
    where = ".".join(path)
    if path and path[-1] == "where" and isinstance(a, dict) and isinstance(b, dict):
        # an issue's file name and row number depend on the container (a CSV row, a
        # database table has none); the column, patient and spec key must agree
        a = {k: v for k, v in a.items() if k not in ("file", "row")}
        b = {k: v for k, v in b.items() if k not in ("file", "row")}
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            out.append(f"{where}: keys differ {sorted(set(a) ^ set(b))}")
        for k in sorted(set(a) & set(b)):
            out += diff_results(a[k], b[k], rtol=rtol, path=(*path, k))
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: lengths {len(a)} != {len(b)}"]
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out += diff_results(x, y, rtol=rtol, path=(*path, str(i)))
    elif isinstance(a, float) and isinstance(b, int | float) and not isinstance(b, bool):
        if not math.isclose(a, b, rel_tol=rtol, abs_tol=1e-300):
            out.append(f"{where}: {a!r} != {b!r}")
    elif a != b:
        out.append(f"{where}: {a!r} != {b!r}")
    return out
