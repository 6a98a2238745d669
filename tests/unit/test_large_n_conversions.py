"""Numbers the engine computes reach numpy as float64, never as Python decimals.

DuckDB (like PostgreSQL and Spark) reads the SQL literal ``1.0`` as a DECIMAL, and Ibis
drops a cast to float64 of an ``ifelse(1.0, 0.0)``: dummy and derived 0/1 columns then came
back as decimal128, which numpy takes as objects (seconds per 1e7 rows).
"""

from __future__ import annotations

from decimal import Decimal

import ibis
import numpy as np
import pyarrow as pa

from mmrwe.study.analyses.cox import _float_column


def test_float_column_converts_decimals_and_integers() -> None:
    dec = pa.array([Decimal("1.0"), Decimal("0.0"), None], type=pa.decimal128(2, 1))
    out = _float_column(dec)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out[:2], [1.0, 0.0])
    assert np.isnan(out[2])
    ints = _float_column(pa.array([3, None, 5], type=pa.int64()))
    assert ints.dtype == np.float64 and ints[0] == 3.0 and np.isnan(ints[1])
    assert _float_column(pa.array([0.5, 1.5])).tolist() == [0.5, 1.5]


def test_zero_one_columns_are_doubles_on_duckdb() -> None:
    con = ibis.duckdb.connect()
    t = con.create_table("t", pa.table({"s": ["M", "F", None], "x": [1.0, 2.0, 3.0]}))
    from mmrwe.engine.pushdown import apply_derive
    from mmrwe.spec.model import DeriveSpec

    rule = DeriveSpec(name="x_low", from_="x", below=2.5)
    derived, _ = apply_derive(t, [rule], {"x": "numeric"})
    dummy = (t.s == "M").ifelse(1, 0).cast("float64")
    got = derived.mutate(d=dummy).to_pyarrow()
    assert got.schema.field("x_low").type == pa.float64()
    assert got.schema.field("d").type == pa.float64()
    assert got.column("x_low").to_pylist() == [1.0, 1.0, 0.0]


def test_describe_categorical_counts_like_comparisons() -> None:
    """Counting by hashing gives the counts of one comparison per level."""
    from mmrwe.stats.descriptive import describe_categorical

    rng = np.random.default_rng(3)
    pool = np.array(["I", "II", "III", None, "x"], dtype=object)
    lab = pool[rng.integers(0, 5, 5000)]
    levels = ["I", "II", "III", "IV"]
    d = describe_categorical(lab, levels)
    present = np.array([v is not None for v in lab])
    assert d["n"] == int(present.sum()) and d["missing"] == int((~present).sum())
    assert d["counts"] == {lv: int(np.sum(lab[present] == lv)) for lv in levels}
    assert describe_categorical(np.array([], dtype=object), ["a"])["counts"] == {"a": 0}
