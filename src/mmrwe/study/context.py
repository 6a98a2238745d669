"""What every analysis reads: the analysed patients on the engine, and the study spec.

An analysis asks for what its estimator needs, in the cheapest form:

* per-time event and censoring counts (:meth:`AnalysisContext.counts`): the sufficient
  statistics of Kaplan-Meier curves and log-rank tests, computed by the engine with a
  ``GROUP BY``, so their size depends on the number of distinct times, not on patients;
* category counts (:meth:`AnalysisContext.value_counts`);
* the few columns a row-level estimator needs (:meth:`AnalysisContext.column`,
  :meth:`AnalysisContext.survival`), collected once, in input order, and cached.

Values collected into memory have one representation whatever the engine: dates as
``datetime64[ns]``, numbers as ``float64``, categories as Python ``str`` with ``None`` for
missing, endpoint times in the study's unit (whole days divided by the days per unit).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mmrwe.core.conventions import SurvivalConventions, days_per_unit
from mmrwe.spec.model import StudySpec

#: Endpoints every analysis table has (the others are derived when the spec names them).
ENDPOINTS = ("PFS", "OS")


@dataclass
class AnalysisContext:
    """The analysed cohort on the engine, and helpers every analysis shares.

    Attributes
    ----------
    spec : StudySpec
    backend : Backend
        The open engine.
    table : ibis.Table
        One row per analysed patient: the typed columns, ``[[derive]]`` columns, and per
        endpoint ``{EP}_time_days`` (int), ``{EP}_event`` (bool), ``{EP}_end_source``; and
        ``_ord``, the input order.
    types : dict
        "date", "numeric" or "categorical" per column.
    units : dict
        Declared unit per numeric column.
    n : int
        Number of analysed patients.
    endpoints : tuple of str
        Endpoints of the analysis table (PFS, OS and those the spec names).
    restricted : frozenset of str
        Endpoints with a population (DoR: responders); outside it a patient's time is null.
    warnings : list of str
        Warnings for run.json and the reports; analyses append to it.
    """

    spec: StudySpec
    backend: Any
    table: Any
    types: dict[str, str]
    units: dict[str, str]
    n: int
    endpoints: tuple[str, ...] = ENDPOINTS
    restricted: frozenset[str] = frozenset()
    warnings: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (spec key, traceback)
    _columns: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _counts: dict[tuple[str, tuple[str, ...]], pd.DataFrame] = field(
        default_factory=dict, repr=False
    )

    # ------------------------------------------------------------------ conventions
    @property
    def conventions(self) -> SurvivalConventions:
        """Kaplan-Meier conventions of the study."""
        return self.spec.survival_conventions

    @property
    def days_per_unit(self) -> float:
        """Days per unit of the study's time unit (30.4375 for months)."""
        return days_per_unit(self.spec.study.time_unit)

    def times(self, days: Any) -> np.ndarray:
        """Whole days -> the study's unit (days / days per unit, in float64)."""
        return np.asarray(days, dtype=np.float64) / self.days_per_unit

    def is_numeric(self, column: str) -> bool:
        """Whether a column is analysed as a number (declared type first, else its type)."""
        v = self.spec.variable(column)
        if v is not None and v.type is not None:
            return v.type == "numeric"
        return self.types.get(column) == "numeric"

    def levels(self, column: str, present: Iterable[Any]) -> list[str]:
        """Ordered levels: the spec's declared order, else sorted; only levels present."""
        v = self.spec.variable(column)
        if isinstance(present, pd.Series | np.ndarray):
            present = pd.unique(np.asarray(present, dtype=object))  # a column: its values once
        seen = {x for x in present if x is not None and not _is_nan(x)}
        if v is not None and v.levels:
            return [lv for lv in v.levels if lv in seen] + sorted(seen - set(v.levels))
        return sorted(seen, key=natural_key)

    # ----------------------------------------------------------- engine aggregates
    def label(self, column: str) -> Any:
        """A column as category labels in the engine (whole numbers without ".0")."""
        from mmrwe.engine.pushdown import label_expr

        return label_expr(self.table[column], self.types.get(column) == "numeric")

    def value_counts(self, column: str) -> dict[Any, int]:
        """Patients per label of a column (``None`` for missing), counted in the engine."""
        import ibis

        t = self.table.select(_v=self.label(column))
        res = t.group_by("_v").aggregate(n=ibis._.count()).to_pyarrow()
        return {v: int(k) for v, k in zip(res["_v"].to_pylist(), res["n"].to_pylist(), strict=True)}

    def counts(self, endpoint: str, keys: Sequence[str] = ()) -> pd.DataFrame:
        """Events and censorings per distinct time (days) of an endpoint, by label columns.

        Columns ``_k0``, ``_k1``, ... (labels of ``keys``, None for missing), ``time_days``,
        ``n_event``, ``n_censor``; sorted by keys, then time.
        """
        key = (endpoint, tuple(keys))
        if key not in self._counts:
            from mmrwe.engine.pushdown import survival_counts

            labels = {f"_k{j}": self.label(c) for j, c in enumerate(keys)}
            t = self.table
            if endpoint in self.restricted:  # only the endpoint's population (DoR: responders)
                t = t.filter(t[f"{endpoint}_time_days"].notnull())
            t = t.mutate(**labels) if labels else t
            res = survival_counts(t, f"{endpoint}_time_days", f"{endpoint}_event", list(labels))
            self._counts[key] = res.to_pandas()
        return self._counts[key]

    # ------------------------------------------------------------------ collected rows
    def prefetch(self, columns: Iterable[str]) -> None:
        """Collect several columns in one query (input order), for the analyses to come."""
        wanted = [
            c for c in dict.fromkeys(columns) if c not in self._columns and c in self.table.columns
        ]
        if not wanted:
            return
        # through Arrow: DuckDB's own pandas conversion builds Python strings row by row
        res = self.table.order_by("_ord").select(*wanted).to_pyarrow()
        for c in wanted:
            self._columns[c] = _to_memory(res[c], self.types.get(c), c)

    def column(self, name: str) -> np.ndarray:
        """One column of every analysed patient, in input order (cached)."""
        if name not in self._columns:
            self.prefetch([name])
        return self._columns[name]

    def survival(self, endpoint: str) -> tuple[np.ndarray, np.ndarray]:
        """(time in the study's unit, is_event) of every analysed patient.

        Outside the endpoint's population (DoR: non-responders) the time is NaN and the event
        False: row-level analyses keep ``population(endpoint)`` only.
        """
        days = self.column(f"{endpoint}_time_days")
        return self.times(days), self.column(f"{endpoint}_event")

    def population(self, endpoint: str) -> np.ndarray:
        """Mask of the patients in the endpoint's population (everyone but for DoR)."""
        return ~np.isnan(np.asarray(self.column(f"{endpoint}_time_days"), dtype=np.float64))

    def values(self, column: str) -> np.ndarray:
        """A numeric column as float64 (NaN for missing)."""
        return np.asarray(self.column(column), dtype=np.float64)

    def labels(self, column: str) -> pd.Series:
        """A column as category labels (str), missing as None."""
        # object dtype so that missing stays None (pandas 3 turns None into NaN in str-dtype
        # columns, and NaN would sort as a level)
        return pd.Series(labels_of(self.column(column)), dtype=object)


def _is_nan(x: Any) -> bool:
    return isinstance(x, float) and math.isnan(x)


def label_of(v: Any) -> str | None:
    """A cell as a category label: whole numbers without ".0" (as R's as.character)."""
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if pd.isna(v):  # NaN, pd.NA, NaT
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def labels_of(values: np.ndarray) -> np.ndarray:
    """:func:`label_of` of every cell, vectorized where the column allows (1e6 cells: 0.1 s,
    not 3 s)."""
    arr = np.asarray(values)
    out = np.full(arr.shape, None, dtype=object)
    if arr.dtype.kind in "iub":
        out[:] = arr.astype(np.int64).astype(str) if arr.dtype.kind != "b" else arr.astype(str)
        return out
    if arr.dtype.kind == "f":
        ok = ~np.isnan(arr)
        whole = ok & (np.floor(arr) == arr) & (np.abs(arr) < 2.0**53)
        out[whole] = arr[whole].astype(np.int64).astype(str)
        rest = ok & ~whole
        out[rest] = [label_of(v) for v in arr[rest].tolist()]  # fractions, huge numbers
        return out
    if arr.dtype == object and pd.api.types.infer_dtype(arr, skipna=True) in ("string", "empty"):
        present = ~pd.isna(arr)
        out[present] = arr[present]
        return out
    return np.array([label_of(v) for v in arr.tolist()], dtype=object)


def natural_key(s: str) -> tuple[int, float, str]:
    """Sort key: numbers by value before text."""
    try:
        return (0, float(s), s)
    except ValueError:
        return (1, 0.0, s)


def _to_memory(col: Any, kind: str | None, name: str) -> np.ndarray:
    """An Arrow column as the in-memory representation (see the module notes)."""
    import pyarrow as pa

    t = col.type
    if name.endswith("_event"):
        return np.asarray(col.to_numpy(zero_copy_only=False), dtype=bool)
    if name.endswith("_time_days"):
        if col.null_count:  # an endpoint with a population (DoR): NaN outside it
            return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)
        return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.int64)
    if kind == "date" or pa.types.is_date(t) or pa.types.is_timestamp(t):
        return pd.to_datetime(col.to_pandas()).astype("datetime64[ns]").to_numpy()
    if kind == "numeric" or pa.types.is_floating(t) or pa.types.is_integer(t):
        return np.asarray(col.to_numpy(zero_copy_only=False), dtype=np.float64)
    return object_values(col)


def object_values(col: Any) -> np.ndarray:
    """An Arrow column as an object array, one Python object per distinct value.

    ``to_pylist`` makes a new ``str`` for every cell: at 10 million rows a center or stage
    column is ~600 MB of copies of twenty strings. Through a dictionary encoding the array
    holds references to one object per distinct value (8 bytes a row); values and missing
    cells (``None``) are the same as ``to_pylist`` gives.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return np.array(arr.to_pylist(), dtype=object)
    enc = arr.dictionary_encode()
    uniq = np.empty(len(enc.dictionary) + 1, dtype=object)
    uniq[:-1] = enc.dictionary.to_pylist()
    uniq[-1] = None
    idx = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False)
    return uniq[idx]


__all__ = ["ENDPOINTS", "AnalysisContext", "label_of", "labels_of", "natural_key"]
