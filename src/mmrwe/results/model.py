"""StudyResults: the one results structure every renderer reads (results.json v1).

The tree mirrors ``results.json`` (contract section 4). It is immutable once built:
``StudyResults.data`` is a read-only mapping view, and :meth:`to_json` is deterministic
(sorted keys, full double precision via ``repr``, no timestamps), so the same inputs give
byte-identical files. ``from_json(to_json(r)) == r``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

SCHEMA_VERSION = 1


_SCALARS = (float, int, str, bool, type(None))


def _freeze(x: Any) -> Any:
    if isinstance(x, Mapping):
        return MappingProxyType({str(k): _freeze(v) for k, v in x.items()})
    if isinstance(x, list | tuple):
        # curves are long lists of numbers: copy those in one step
        if all(type(v) in _SCALARS for v in x):
            return tuple(x)
        return tuple(_freeze(v) for v in x)
    return x


def _thaw(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {k: _thaw(v) for k, v in x.items()}
    if isinstance(x, tuple | list):
        # curves: long tuples of numbers, copied in one step (as _freeze does)
        if all(type(v) in _SCALARS for v in x):
            return list(x)
        return [_thaw(v) for v in x]
    return x


def clean_json(x: Any, path: str = "$") -> Any:
    """Convert to JSON-ready Python types; NaN and infinity become ``null``.

    numpy scalars become Python numbers, tuples become lists. R's NA maps to ``null``
    (contract: null = not estimable or not reached).
    """
    if x is None or isinstance(x, bool | str):
        return x
    if isinstance(x, int):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, Mapping):
        # keys sorted as json.dumps(sort_keys=True) writes them: the canonical order
        items = sorted(((str(k), v) for k, v in x.items()), key=lambda kv: kv[0])
        return {k: clean_json(v, f"{path}.{k}") for k, v in items}
    if isinstance(x, list | tuple):
        out = []
        for i, v in enumerate(x):
            t = type(v)
            # the common cases inline (curves hold thousands of numbers); the item's path
            # is built only when the item needs the general conversion
            if t is float:
                out.append(v if math.isfinite(v) else None)
            elif t is int or t is str or v is None:
                out.append(v)
            else:
                out.append(clean_json(v, f"{path}[{i}]"))
        return out
    if hasattr(x, "tolist"):  # numpy scalars and arrays
        return clean_json(x.tolist(), path)
    if hasattr(x, "to_dict"):
        return clean_json(x.to_dict(), path)
    raise TypeError(f"cannot write {type(x).__name__} at {path} to results.json")


@dataclass(frozen=True, slots=True)
class ArdRow:
    """One statistic in cards-style long form (analysis results data)."""

    analysis: str
    group: tuple[tuple[str, str], ...]
    variable: str | None
    stat_name: str
    value: float | int | str | None
    unit: str | None
    method: str


class StudyResults(Mapping[str, Any]):
    """Immutable results tree; behaves as a read-only mapping of the results.json keys."""

    __slots__ = ("_data",)
    _data: Mapping[str, Any]

    def __init__(self, data: Mapping[str, Any]):
        data = dict(data)
        data.setdefault("schema_version", SCHEMA_VERSION)
        # Canonical key order (as written to disk; clean_json sorts), so results built in
        # memory and results re-read from results.json are indistinguishable to every renderer.
        canonical = clean_json(data)
        object.__setattr__(self, "_data", _freeze(canonical))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("StudyResults is immutable")

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StudyResults):
            return self.to_dict() == other.to_dict()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.to_json())

    def to_dict(self) -> dict[str, Any]:
        """A mutable deep copy as plain dicts and lists."""
        out: dict[str, Any] = _thaw(self._data)
        return out

    def to_json(self) -> str:
        """Deterministic JSON text: sorted keys, full precision, newline at the end."""
        return (
            json.dumps(
                self.to_dict(), sort_keys=True, indent=1, ensure_ascii=False, allow_nan=False
            )
            + "\n"
        )

    @classmethod
    def from_json(cls, text: str) -> StudyResults:
        """Read results back from :meth:`to_json` output."""
        return cls(json.loads(text))

    @classmethod
    def read(cls, path: str | Path) -> StudyResults:
        """Read a results.json file."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"))

    def to_ard(self) -> list[ArdRow]:
        """Flatten the main statistics into long rows (for tables, QC diffs, cross-checks)."""
        rows: list[ArdRow] = []
        unit = self._data.get("conventions", {}).get("time_unit")
        for ep, res in self._data.get("endpoints", {}).items():
            a = f"endpoints.{ep}"
            for k in ("n", "events", "censored"):
                rows.append(ArdRow(a, (), None, k, res.get(k), None, "kaplan-meier"))
            med = res.get("median", {})
            for k in ("estimate", "lower", "upper"):
                rows.append(
                    ArdRow(
                        a,
                        (),
                        None,
                        "median" if k == "estimate" else f"median_{k}",
                        med.get(k),
                        unit,
                        "kaplan-meier",
                    )
                )
            for t, lm in res.get("landmarks", {}).items():
                for k in ("surv", "lower", "upper", "std_err", "n_risk"):
                    rows.append(
                        ArdRow(
                            a,
                            (("time", t),),
                            None,
                            f"landmark_{k}",
                            lm.get(k),
                            None,
                            "kaplan-meier",
                        )
                    )
        for p in self._data.get("proportions", ()):
            for k in ("successes", "n", "estimate", "lower", "upper"):
                rows.append(
                    ArdRow(
                        f"proportions.{p['name']}",
                        (),
                        p.get("variable"),
                        k,
                        p.get(k),
                        None,
                        p.get("method", ""),
                    )
                )
        for i, lr in enumerate(self._data.get("logrank", ())):
            for k in ("chisq", "df", "p"):
                rows.append(
                    ArdRow(f"logrank[{i}]", (), lr.get("by"), k, lr.get(k), None, "log-rank")
                )
        for i, cx in enumerate(self._data.get("cox", ())):
            for term, c in cx.get("coefficients", {}).items():
                for k in ("coef", "se", "hr", "lower", "upper", "z", "p"):
                    rows.append(
                        ArdRow(
                            f"cox[{i}]",
                            (),
                            term,
                            k,
                            c.get(k) if c else None,
                            None,
                            f"cox-ph {cx.get('ties', '')}",
                        )
                    )
        for i, cp in enumerate(self._data.get("cutpoints", ())):
            for k in ("cutpoint", "statistic", "p_adjusted", "auc", "youden"):
                if k in cp:
                    rows.append(
                        ArdRow(
                            f"cutpoints[{i}]",
                            (),
                            cp.get("variable"),
                            k,
                            cp.get(k),
                            None,
                            cp.get("method", ""),
                        )
                    )
        return rows
