"""Truth table (imwg_truth_cases.py): each hand-written history gives its expected calls,
on both engines."""

from __future__ import annotations

import functools
from typing import Any

import pandas as pd
import pytest
from imwg_truth_cases import CASES, DAY0, build

from mmrwe.derive.response import ResponseParams, derive_response

ENGINES = ("duckdb", "pandas")


def _key(params: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(params.items()))


@functools.cache
def _run(key: tuple[tuple[str, Any], ...], engine: str) -> tuple[pd.DataFrame, tuple, list[int]]:
    """Derive every case sharing these parameters in one call (one patient per case)."""
    idx = [i for i, c in enumerate(CASES) if _key(c.get("params", {})) == key]
    patients, labs, therapy = build([CASES[i] for i in idx])
    res = derive_response(patients, labs, therapy, ResponseParams(**dict(key)), engine=engine)
    return res.per_patient, res.issues, idx


def _days(v: Any) -> int | None:
    if v is None or pd.isna(v):
        return None
    return (pd.Timestamp(v) - pd.Timestamp(DAY0)).days


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_truth_table(case: dict[str, Any], engine: str) -> None:
    per, issues, idx = _run(_key(case.get("params", {})), engine)
    pos = idx.index(CASES.index(case))
    row = per.iloc[pos]
    pid = row["patient_id"]
    exp = case["expect"]
    for key, want in exp.items():
        if key == "issues":
            codes = {i.code for i in issues if i.where.patient_id == pid}
            assert set(want) <= codes, f"issues {sorted(codes)} lack {want}"
        elif key.endswith("_date"):
            assert _days(row[key]) == want, f"{key}: {_days(row[key])} != {want}"
        else:
            assert row[key] == want, f"{key}: {row[key]!r} != {want!r}"


def test_truth_table_size() -> None:
    # at least one case per rule and edge case of docs/clinical.md sections 1-2 (see the ids)
    assert len(CASES) >= 50
