"""labels_of (vectorized) gives label_of of every cell."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mmrwe.study.context import label_of, labels_of

FIXED = [
    np.array([1.0, 2.5, np.nan, -3.0, 1e20, 0.1, -0.0, 2.0**53]),
    np.array([1, 2, -3]),
    np.array([True, False]),
    np.array(["a", None, "b", float("nan")], dtype=object),
    np.array([1.0, "a", None, 7], dtype=object),
    np.array([], dtype=object),
]


def _same(arr: np.ndarray) -> None:
    assert list(labels_of(arr)) == [label_of(v) for v in arr.tolist()]


def test_fixed_cases() -> None:
    for arr in FIXED:
        _same(arr)


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float64, st.integers(0, 30), elements=st.floats(allow_infinity=False)))
def test_floats(arr: np.ndarray) -> None:
    _same(arr)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=4), st.integers(-5, 5))))
def test_objects(values: list[object]) -> None:
    _same(np.array(values, dtype=object))
