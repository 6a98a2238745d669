"""Queries that run in the engine and return small tables: the heart of the scaled path.

Everything here builds Ibis expressions over the (typed) patient table and brings back
only aggregates, as Arrow tables:

* :func:`derive_time_to_event` adds ``{EP}_time_days``, ``{EP}_event`` and
  ``{EP}_end_source`` columns (contract section 2, the same rule objects as the in-memory
  :mod:`mmrwe.derive.endpoints`; passed in as data because stages sit above backends);
* :func:`survival_counts` gives, per distinct time (and per group and stratum), the events
  and censorings: the sufficient statistics of Kaplan-Meier curves and log-rank tests;
* :func:`value_counts` and :func:`crosstab` give category counts.

Times stay whole days in the engine; the conversion to the study's unit happens in Python
on the distinct times, with the same arithmetic as the in-memory path (days / 30.4375).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import pyarrow as pa


class _DateSource(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def date_column(self) -> str: ...


class _Rule(Protocol):
    @property
    def endpoint(self) -> str: ...
    @property
    def origin_column(self) -> str: ...
    @property
    def events(self) -> Sequence[_DateSource]: ...
    @property
    def censor(self) -> _DateSource: ...
    @property
    def censor_first(self) -> Sequence[_DateSource]: ...
    @property
    def restricted(self) -> bool: ...


def _ibis() -> Any:
    import ibis

    return ibis


def derive_time_to_event(table: Any, rule: _Rule, *, prefix: str | None = None) -> Any:
    """Add ``{prefix}_time_days``, ``{prefix}_event`` and ``{prefix}_end_source`` columns.

    Parameters
    ----------
    table : ibis.Table
        Typed canonical table (dates as ``date``).
    rule : TimeToEventRule
        As :data:`mmrwe.derive.endpoints.PFS_RULE`: event sources in priority order (the
        first listed wins on the same date) and the censoring source.
    prefix : str, optional
        Column prefix; the rule's endpoint name by default.

    Returns
    -------
    ibis.Table
        ``table`` with the three columns added. ``time_days`` is an integer number of days
        from ``rule.origin_column`` to the first event date, or to the censoring date when
        no event date is filled (an event on the censoring date is an event). The
        ``censor_first`` sources name the censoring when filled (TTP: a death without
        progression). For a ``restricted`` rule, a patient whose origin is empty is outside
        the endpoint's population: ``time_days`` and ``end_source`` are null and
        ``event`` is false.
    """
    ibis = _ibis()
    p = prefix or rule.endpoint
    best: Any = None
    source: Any = ibis.literal(rule.censor.name)
    for src in reversed(tuple(getattr(rule, "censor_first", ()))):
        source = table[src.date_column].notnull().ifelse(ibis.literal(src.name), source)
    has_event: Any = ibis.literal(False)
    # Walk events in reverse priority so that, on equal dates, the first-listed one wins
    # (as derive_time_to_event of the in-memory path).
    for src in reversed(tuple(rule.events)):
        d = table[src.date_column]
        better = d.notnull() & (best.isnull() | (d <= best)) if best is not None else d.notnull()
        best = better.ifelse(d, best) if best is not None else d
        source = better.ifelse(ibis.literal(src.name), source)
        has_event = has_event | d.notnull()
    censor: Any = table[rule.censor.date_column]
    for src in reversed(tuple(getattr(rule, "censor_first", ()))):
        censor = table[src.date_column].notnull().ifelse(table[src.date_column], censor)
    end = has_event.ifelse(best, censor)
    origin = table[rule.origin_column]
    time_days = end.delta(origin, unit="day").cast("int64")
    if getattr(rule, "restricted", False):
        inside = origin.notnull()
        time_days = inside.ifelse(time_days, ibis.null().cast("int64"))
        has_event = inside & has_event
        source = inside.ifelse(source, ibis.null().cast("string"))
    return table.mutate(
        **{
            f"{p}_time_days": time_days,
            f"{p}_event": has_event,
            f"{p}_end_source": source,
        }
    )


def survival_counts(
    table: Any,
    time_days: str,
    event: str,
    keys: Sequence[str] = (),
) -> pa.Table:
    """Events and censorings per distinct time (and per key), computed in the engine.

    Parameters
    ----------
    table : ibis.Table
        Table with an integer time column and a boolean event column.
    time_days, event : str
        Column names.
    keys : sequence of str
        Grouping columns (group, stratum); their nulls form a group of their own, so the
        caller can both drop them (log-rank) and keep them (the overall curve).

    Returns
    -------
    pyarrow.Table
        Columns ``*keys``, ``time_days`` (int64), ``n_event`` (int64), ``n_censor``
        (int64), sorted by keys then time. One row per distinct (keys, time): its size
        depends on the number of distinct times, not on the number of patients.
    """
    ibis = _ibis()
    t = table
    ev = t[event]
    agg = t.group_by([*keys, t[time_days].name(time_days)]).aggregate(
        n_event=ev.ifelse(1, 0).sum(),
        n_total=ibis._.count(),
    )
    res = agg.to_pyarrow()
    res = res.sort_by([(k, "ascending") for k in (*keys, time_days)])
    n_event = np.asarray(res["n_event"].to_numpy(zero_copy_only=False), dtype=np.int64)
    n_total = np.asarray(res["n_total"].to_numpy(zero_copy_only=False), dtype=np.int64)
    cols = {k: res[k] for k in keys}
    cols[time_days] = pa.array(
        np.asarray(res[time_days].to_numpy(zero_copy_only=False), dtype=np.int64)
    )
    cols["n_event"] = pa.array(n_event)
    cols["n_censor"] = pa.array(n_total - n_event)
    out = pa.table(cols)
    return out.rename_columns([*keys, "time_days", "n_event", "n_censor"])


def value_counts(table: Any, column: str) -> dict[Any, int]:
    """Rows per value of one column (``None`` for missing), computed in the engine."""
    ibis = _ibis()
    res = table.group_by(column).aggregate(n=ibis._.count()).to_pyarrow()
    return {v: int(n) for v, n in zip(res[column].to_pylist(), res["n"].to_pylist(), strict=True)}


def crosstab(table: Any, columns: Sequence[str]) -> list[tuple[tuple[Any, ...], int]]:
    """Rows per combination of values of ``columns`` (missing as ``None``)."""
    ibis = _ibis()
    res = table.group_by(list(columns)).aggregate(n=ibis._.count()).to_pyarrow()
    keys = list(zip(*(res[c].to_pylist() for c in columns), strict=True))
    return list(zip(keys, (int(n) for n in res["n"].to_pylist()), strict=True))


def label_expr(column: Any, numeric: bool) -> Any:
    """A column as category labels: text as is, whole numbers without ".0" (R's as.character).

    Mirrors ``analyses._label`` of the in-memory path, so groups get the same names.
    """
    if not numeric:
        return column.cast("string")
    whole = column == column.floor()
    return whole.ifelse(column.cast("int64").cast("string"), column.cast("string"))


def iter_batches(backend: Any, expr: Any, chunk_size: int = 1_000_000) -> Any:
    """Stream a query's result as Arrow record batches (one chunk in memory at a time).

    DuckDB is read through its own cursor: DuckDB 2 renamed the batch reader that Ibis 12
    calls (``fetch_record_batch`` became ``to_arrow_reader``).
    """
    if backend.engine == "duckdb":
        # the connection itself, not a cursor: temporary views (read_csv) live on it
        rel = backend.con.con.sql(backend.con.compile(expr))
        reader = (
            rel.to_arrow_reader(chunk_size)
            if hasattr(rel, "to_arrow_reader")
            else rel.record_batch(chunk_size)
        )
        yield from reader
        return
    yield from expr.to_pyarrow_batches(chunk_size=chunk_size)


_VIEW_SEQ = [0]


def as_temp_view(backend: Any, expr: Any, stem: str, *, materialize: bool = False) -> Any:
    """Name ``expr`` as a temporary view and return it as a plain table expression.

    Later queries then compile against a short ``SELECT ... FROM view`` instead of the whole
    validation and derivation tree (Ibis/sqlglot compile time grows with the tree), while
    the engine still evaluates the view lazily. Temporary: nothing is written to the user's
    database, and the view disappears with the connection.
    """
    _VIEW_SEQ[0] += 1
    name = f"_mmrwe_{stem}_{_VIEW_SEQ[0]}"
    con = backend.con
    if backend.engine == "spark":
        if not materialize:
            return con.create_view(name, expr, overwrite=True)
        # persist (memory, spilling to disk) so later jobs do not re-read and re-validate
        # the source: each Spark job has a fixed cost, and the analyses run a dozen of them
        from pyspark import StorageLevel

        df = con._session.sql(con.compile(expr)).persist(StorageLevel.MEMORY_AND_DISK)
        df.count()
        df.createOrReplaceTempView(name)
        backend._closers.append(df.unpersist)
        return con.table(name)
    sql = con.compile(expr)
    kind = "TABLE" if materialize else "VIEW"
    if backend.engine == "duckdb":
        con.con.execute(f'CREATE OR REPLACE TEMP {kind} "{name}" AS {sql}')
    else:
        with con.begin() as cur:
            cur.execute(f'DROP {kind} IF EXISTS "{name}"')
            cur.execute(f'CREATE TEMP {kind} "{name}" AS {sql}')
    return con.table(name)


def apply_derive(
    table: Any, rules: Sequence[Any], types: dict[str, str]
) -> tuple[Any, dict[str, str]]:
    """Add the spec's ``[[derive]]`` columns; missing stays missing.

    ``below = c``: 1 where x < c, 0 where x >= c. ``at_least = c``: 1 where x >= c.
    ``above = c``: 1 where x > c. ``in = [...]``: 1 where the category is listed.
    With ``labels = [one, zero]`` the column holds those labels instead of 1/0.

    Returns the table with the columns added and the column types updated (a new dict).
    """
    from mmrwe.core.errors import DerivationError, Location

    ibis = _ibis()
    types = dict(types)
    for k, r in enumerate(rules):
        src = table[r.from_]
        if r.in_ is not None:
            miss = src.isnull()
            val = src.cast("string").isin(list(r.in_))
        else:
            if types.get(r.from_) != "numeric":
                raise DerivationError(
                    f"[[derive]] {r.name!r}: column {r.from_!r} is not numeric",
                    where=Location(spec_key=f"derive[{k}].from"),
                    fix="use in = [...] for a categorical column",
                )
            miss = src.isnull() | src.isnan()
            if r.below is not None:
                val = src < r.below
            elif r.at_least is not None:
                val = src >= r.at_least
            else:
                val = src > r.above
        if r.labels is not None:
            col = miss.ifelse(ibis.null().cast("string"), val.ifelse(r.labels[0], r.labels[1]))
            types[r.name] = "categorical"
        else:
            col = miss.ifelse(ibis.null().cast("float64"), val.ifelse(1, 0).cast("float64"))
            types[r.name] = "numeric"
        table = table.mutate(**{r.name: col})
    return table, types
