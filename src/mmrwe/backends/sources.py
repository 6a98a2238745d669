"""Table sources for the scaled path: Parquet, CSV, a DuckDB file, or a database table.

A source is read in place by the engine (never copied into Python). Files are hashed
(SHA-256) for results.json, as the in-memory readers do; a database table is named by its
URL (password removed) and table name instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmrwe.backends.connection import Backend, redact_url
from mmrwe.core.errors import InputError, Location

FILE_KINDS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv",
              ".txt": "csv", ".duckdb": "duckdb", ".ddb": "duckdb"}  # fmt: skip


@dataclass(frozen=True)
class TableSource:
    """A table as the engine sees it, plus what results.json records about it.

    Attributes
    ----------
    table : ibis.Table
        The lazy table expression.
    kind : str
        "parquet", "csv", "duckdb" (a table in a DuckDB file) or "database".
    name : str
        File name, or ``schema.table`` in a database.
    sha256 : str or None
        SHA-256 of the file; None for a database table.
    url : str or None
        Database URL without password.
    notes : tuple of str
        What a reader of the results should know about how the source was read.
    """

    table: Any
    kind: str
    name: str
    sha256: str | None = None
    url: str | None = None
    path: Path | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def input_entry(self, n_rows: int) -> dict[str, Any]:
        """The ``inputs.patients`` entry of results.json."""
        entry: dict[str, Any] = {"file": self.name, "format": self.kind, "n_rows": int(n_rows)}
        if self.sha256 is not None:
            entry["sha256"] = self.sha256
        if self.url is not None:
            entry["url"] = self.url
        if self.notes:
            entry["notes"] = list(self.notes)
        return entry


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_kind(path: Path) -> str | None:
    """ "parquet", "csv" or "duckdb" from the file suffix (None if unsupported)."""
    return FILE_KINDS.get(path.suffix.lower())


def open_file(
    backend: Backend,
    path: Path,
    *,
    table: str | None = None,
    delimiter: str | None = None,
    missing_values: Sequence[str] = ("", "NA"),
    hash_file: bool = True,
) -> TableSource:
    """Open a Parquet or CSV file (or a table of a DuckDB file) on the backend, in place.

    CSV columns are read as text, so the validator sees each cell as written (dates in the
    declared format, decimal commas, typos) exactly as the in-memory readers give it.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(
            f"input file not found: {p}",
            where=Location(file=str(p)),
            fix="check the path in [data]; paths are relative to the study spec's folder",
        )
    kind = file_kind(p)
    if kind is None:
        raise InputError(
            f"the scaled path reads .parquet, .csv and .duckdb files, not {p.suffix!r}",
            where=Location(file=p.name),
            fix='convert the table to Parquet, or use engine = "pandas" for this format',
        )
    con = backend.con
    sha = file_sha256(p) if hash_file else None
    if kind == "duckdb":
        if backend.engine != "duckdb":
            raise InputError(
                f"a DuckDB file can only be read with engine 'duckdb' (engine is {backend.engine!r})",
                where=Location(file=p.name),
            )
        if not table:
            raise InputError(
                "a DuckDB database file needs the table to read",
                where=Location(file=p.name, spec_key="data.table"),
                fix='add table = "patients" under [data]',
            )
        return TableSource(_table(con, table), "duckdb", f"{p.name}:{table}", sha, None, p)
    if backend.engine == "postgres":
        raise InputError(
            "engine 'postgres' reads tables of the database, not files",
            where=Location(file=p.name, spec_key="data.engine"),
            fix='load the file into the database, or use engine = "duckdb" to read it in place',
        )
    if kind == "parquet":
        try:
            t = _duckdb_parquet(con, p) if backend.engine == "duckdb" else con.read_parquet(str(p))
        except Exception as exc:  # the engines raise their own exception types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(
                f"{p.name} cannot be read as a Parquet file: {first}",
                where=Location(file=p.name),
                fix="check that the file is a complete Parquet file (export it again)",
            ) from None
        return TableSource(t, "parquet", p.name, sha, None, p)
    sep = delimiter if delimiter is not None else ("\t" if p.suffix.lower() == ".tsv" else ",")
    if backend.engine == "duckdb":
        t = con.read_csv(
            str(p),
            all_varchar=True,
            header=True,
            delim=sep,
            nullstr=list(missing_values),
            quote='"',
        )
    else:
        t = con.read_csv(str(p), header=True, sep=sep, inferSchema=False)
    return TableSource(t, "csv", p.name, sha, None, p)


#: Largest Parquet input (rows) that DuckDB copies into memory once before validation.
PARQUET_IN_MEMORY_MAX_ROWS = 2_000_000
_SRC_SEQ = [0]


def _duckdb_parquet(con: Any, p: Path) -> Any:
    """A Parquet file as a DuckDB table: copied into memory when small enough.

    A run reads the table in several passes (profile, rule counts, analysis columns); each
    pass over the file decodes its pages again, while a copy is decoded once (up to
    PARQUET_IN_MEMORY_MAX_ROWS rows, a few hundred MB; larger files are read in place).
    The copy is a temporary table: it goes with the connection.
    """
    path = str(p).replace("'", "''")
    n = con.con.execute(f"SELECT SUM(num_rows) FROM parquet_file_metadata('{path}')").fetchone()
    if n is None or n[0] is None or int(n[0]) > PARQUET_IN_MEMORY_MAX_ROWS:
        return con.read_parquet(str(p))
    _SRC_SEQ[0] += 1
    name = f"_mmrwe_src_{_SRC_SEQ[0]}"
    con.con.execute(
        f"CREATE OR REPLACE TEMP TABLE \"{name}\" AS SELECT * FROM read_parquet('{path}')"
    )
    return con.table(name)


def open_database_table(backend: Backend, table: str) -> TableSource:
    """A table (``name`` or ``schema.name``) of the database the backend is connected to."""
    return TableSource(_table(backend.con, table), "database", table, None, backend.url)


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


def open_patients(backend: Backend, data: Any) -> TableSource:
    """Open the patient table named by a spec's ``[data]`` section on ``backend``."""
    if data.url is not None:
        if not data.table:
            raise InputError(
                f"the database {redact_url(data.url)} needs the table to read",
                where=Location(spec_key="data.table"),
                fix='add table = "patients" under [data]',
            )
        return open_database_table(backend, data.table)
    return open_file(
        backend,
        data.patients,
        table=data.table,
        delimiter=data.delimiter,
        missing_values=data.missing_values,
    )
