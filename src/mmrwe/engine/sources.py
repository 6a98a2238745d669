"""Tables on the engine: files read in place, database tables, and Arrow tables handed over.

Every table a study validates carries two columns besides its own: ``_src_row``, the row
number the user sees in the source (null where the source has none, e.g. a database table),
and ``_ord``, the input order. Files are hashed (SHA-256) for results.json; a database table
is named by its URL (password removed) and table name instead.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from mmrwe.core.errors import InputError, Location
from mmrwe.core.fileio import file_sha256
from mmrwe.core.sources import SourceInfo
from mmrwe.engine.connection import Backend

#: Largest Parquet input (rows) that DuckDB copies into memory once before validation.
PARQUET_IN_MEMORY_MAX_ROWS = 2_000_000
_SEQ = itertools.count(1)


def _name(stem: str) -> str:
    return f"_mmrwe_{stem}_{next(_SEQ)}"


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def open_parquet(backend: Backend, path: Path) -> tuple[Any, SourceInfo, bool]:
    """A Parquet file on the engine with row numbers (first case = row 1).

    DuckDB copies a file of up to :data:`PARQUET_IN_MEMORY_MAX_ROWS` rows into memory once:
    a run reads the table in several passes, and each pass over the file would decode its
    pages again. Larger files are read in place (memory bounded by DuckDB).
    """
    sha = file_sha256(path)
    info = SourceInfo(path, "parquet", path.name, sha)
    con = backend.con
    if backend.engine == "duckdb":
        q = _quote(path)
        try:
            n = con.con.execute(
                f"SELECT SUM(num_rows) FROM parquet_file_metadata('{q}')"
            ).fetchone()
        except Exception as exc:  # the engines raise their own exception types
            raise _unreadable(path, exc) from None
        select = (
            f"SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS _src_row, "
            f"file_row_number AS _ord FROM read_parquet('{q}', file_row_number = true)"
        )
        name = _name("src")
        small = n is not None and n[0] is not None and int(n[0]) <= PARQUET_IN_MEMORY_MAX_ROWS
        kind = "TABLE" if small else "VIEW"
        try:
            con.con.execute(f'CREATE OR REPLACE TEMP {kind} "{name}" AS {select}')
        except Exception as exc:
            raise _unreadable(path, exc) from None
        return con.table(name), info, True
    if backend.engine == "spark":
        try:
            t = con.read_parquet(str(path))
        except Exception as exc:
            raise _unreadable(path, exc) from None
        return with_order(backend, t), info, False
    raise InputError(
        f"engine {backend.engine!r} reads tables of the database, not files",
        where=Location(file=path.name, spec_key="data.engine"),
        fix="load the file into the database, or leave engine unset to read it in place",
    )


def _unreadable(path: Path, exc: Exception) -> InputError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return InputError(
        f"{path.name} cannot be read as a Parquet file: {first}",
        where=Location(file=path.name),
        fix="check that the file is a complete Parquet file (export it again)",
    )


def open_duckdb_file_table(
    backend: Backend, path: Path, table: str | None
) -> tuple[Any, SourceInfo, bool]:
    """A table of the DuckDB database file the backend has open (read-only)."""
    if backend.engine != "duckdb":
        raise InputError(
            f"a DuckDB file can only be read with engine 'duckdb' (engine is {backend.engine!r})",
            where=Location(file=path.name),
        )
    if not table:
        raise InputError(
            "a DuckDB database file needs the table to read",
            where=Location(file=path.name, spec_key="data.table"),
            fix='add table = "patients" under [data]',
        )
    _require_base_table(backend, path, table)
    info = SourceInfo(path, "duckdb", f"{path.name}:{table}", file_sha256(path))
    return with_order(backend, _table(backend.con, table)), info, False


def _require_base_table(backend: Backend, path: Path, table: str) -> None:
    """Refuse a view of a DuckDB input file: a view runs a query when read, and the query may
    read any file the machine holds (``read_csv('/elsewhere/other_study.csv')``), so another
    study's rows would reach the outputs. Base tables hold their own rows."""
    schema, _, name = table.rpartition(".")
    sql = (
        "SELECT 1 FROM duckdb_views() WHERE NOT internal AND NOT temporary "
        "AND view_name = ? AND (? = '' OR schema_name = ?)"
    )
    try:
        hit = backend.con.con.execute(sql, [name, schema, schema]).fetchone()
    except Exception:  # an engine without the catalogue function: nothing to check
        return
    if hit:
        raise InputError(
            f"{table!r} in {path.name} is a view, not a table; mmrwe reads base tables only "
            "(a view's query could read other files)",
            where=Location(file=path.name, spec_key="data.table"),
            fix=f"materialise it in the database (CREATE TABLE {name}_t AS SELECT * FROM "
            f"{name}) and name that table under [data] table",
        )


def open_database_table(backend: Backend, table: str) -> tuple[Any, SourceInfo, bool]:
    """A table (``name`` or ``schema.name``) of the database the backend is connected to."""
    info = SourceInfo(None, "database", table, None, url=backend.url)
    return with_order(backend, _table(backend.con, table)), info, False


def open_spark_csv(backend: Backend, path: Path, delimiter: str) -> tuple[Any, SourceInfo, bool]:
    """A CSV file read by Spark itself (every column as text), for files on cluster storage."""
    t = backend.con.read_csv(str(path), header=True, sep=delimiter, inferSchema=False)
    info = SourceInfo(path, "csv", path.name, file_sha256(path))
    return with_order(backend, t), info, False


def open_arrow(backend: Backend, table: Any, stem: str = "src") -> Any:
    """Put an Arrow table on the engine and return it as an Ibis table.

    DuckDB scans the Arrow buffers in place (no copy: the validation's cleaning level is
    the one stored copy, and copying 1e6 rows first cost 0.4 s); the table stays registered,
    and referenced, until the backend closes. PostgreSQL and Spark receive the rows.
    """
    name = _name(stem)
    con = backend.con
    if backend.engine == "duckdb":
        raw = con.con
        raw.register(name, table)

        def release(raw: Any = raw, name: str = name) -> None:
            raw.unregister(name)

        backend._closers.append(release)
        return con.table(name)
    if backend.engine == "spark":
        session = con._session
        df = session.createDataFrame(table.to_pandas(types_mapper=None))
        df.createOrReplaceTempView(name)
        return con.table(name)
    return con.create_table(name, table, temp=True)


def with_order(backend: Backend, table: Any) -> Any:
    """Add ``_ord`` (scan order) and a null ``_src_row`` to a table that has no row numbers."""
    import ibis

    if "_ord" in table.columns:
        return table
    if backend.engine == "spark":
        # Spark numbers rows only inside an ordered window; its own id follows the scan order
        view = _name("ord_src")
        backend.con.create_view(view, table, overwrite=True)
        t = backend.con.sql(f"SELECT *, monotonically_increasing_id() AS _ord FROM `{view}`")
    else:
        t = table.mutate(_ord=ibis.row_number().cast("int64"))
    return t.mutate(_src_row=ibis.null().cast("int64"))


def _table(con: Any, name: str) -> Any:
    schema, _, tname = name.rpartition(".")
    try:
        return con.table(tname, database=schema) if schema else con.table(tname)
    except Exception as exc:
        raise InputError(
            f"table {name!r} not found in the database: {exc}",
            where=Location(spec_key="data.table"),
            fix="check [data] table (write schema.table for a table outside the default schema)",
        ) from None


FILE_KINDS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv",
              ".txt": "csv", ".duckdb": "duckdb", ".ddb": "duckdb"}  # fmt: skip


__all__ = [
    "FILE_KINDS",
    "PARQUET_IN_MEMORY_MAX_ROWS",
    "open_arrow",
    "open_database_table",
    "open_duckdb_file_table",
    "open_parquet",
    "open_spark_csv",
    "with_order",
]
