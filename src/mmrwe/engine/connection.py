"""Connections to the engines the scaled path runs on, all through Ibis.

* ``duckdb`` (default): embedded, in-process; reads Parquet and CSV files in place, or a
  ``.duckdb`` database file opened read-only.
* ``postgres``: a server named by a URL ``postgresql://user@host:port/database``.
* ``spark``: a PySpark session. Local mode (``local[2]``) by default; the same code runs on
  a cluster when ``MMRWE_SPARK_MASTER`` names one (``spark://host:7077``, ``yarn``) and the
  input path is readable by every executor (HDFS, S3, a shared file system).

Ibis compiles the same expressions to each engine's SQL; only small aggregated tables come
back into Python (as Arrow).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from mmrwe.core.errors import InputError, MmrweError
from mmrwe.core.safety import DUCKDB_SAFE_CONFIG

ENGINES = ("duckdb", "postgres", "spark")


@dataclass
class Backend:
    """An open Ibis connection and what is needed to close it.

    Attributes
    ----------
    engine : {"duckdb", "postgres", "spark"}
    con : ibis backend
        The Ibis connection (``ibis.duckdb.connect()`` etc.).
    url : str or None
        The database URL with any password removed (for results.json).
    """

    engine: str
    con: Any
    url: str | None = None
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)
    _spill: list[str] = field(default_factory=list, repr=False)

    def lock_down(self, allowed: Sequence[Path | str] = ()) -> None:
        """Lock a DuckDB connection: no file, network or extension access from here on.

        The database reads only what mmrwe opened itself (the ``allowed`` files, e.g. a
        Parquet input read in place, and its spill folder): a view or a spec that calls
        ``read_csv('/elsewhere/other_study.csv')``, ``COPY ... TO``, ``ATTACH``, an HTTP
        URL or ``INSTALL`` is refused with a permission error, and the configuration cannot
        be changed back (``lock_configuration``). Other engines are left as they are (their
        access is the server's or the cluster's business).
        """
        if self.engine != "duckdb":
            return
        raw = self.con.con
        dirs = [d for d in self._spill if d]
        if dirs:
            raw.execute("SET allowed_directories = ?", [dirs])
        # as given (the path DuckDB is handed) and resolved (links, "..")
        files = sorted({str(v) for p in allowed for v in (Path(p).absolute(), Path(p).resolve())})
        if files:
            raw.execute("SET allowed_paths = ?", [files])
        raw.execute("SET enable_external_access = false")
        raw.execute("SET lock_configuration = true")

    def close(self) -> None:
        """Close the connection (and stop a Spark session this object started)."""
        while self._closers:
            # closing is best effort; nothing to report to the user
            with contextlib.suppress(Exception):
                self._closers.pop()()

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _require_ibis() -> Any:
    try:
        import ibis
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise MmrweError(
            "the scaled path needs Ibis, which is not installed",
            fix='pip install "ibis-framework[duckdb]" (add ",postgres" or ",pyspark" as needed)',
        ) from exc
    return ibis


def redact_url(url: str) -> str:
    """Drop the password from a database URL (it must never reach results.json)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


def connect(
    engine: str = "duckdb",
    *,
    url: str | None = None,
    database: str | Path | None = None,
    spark_session: Any = None,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> Backend:
    """Open an Ibis connection to one engine.

    Parameters
    ----------
    engine : {"duckdb", "postgres", "spark"}
        The engine; DuckDB (in process) by default.
    url : str, optional
        ``postgresql://user[:password]@host[:port]/database`` for PostgreSQL (a ``host``
        query parameter may name a Unix-socket folder); ``duckdb:///path/file.duckdb``
        for a DuckDB file.
    database : str or Path, optional
        A DuckDB database file, opened read-only (inputs are never modified).
    spark_session : pyspark.sql.SparkSession, optional
        Use this session instead of starting one (see :func:`spark_session`).
    memory_limit, threads : optional
        DuckDB settings (e.g. ``"3GB"``, 2); defaults from ``MMRWE_DUCKDB_MEMORY`` and
        DuckDB's own defaults.

    Returns
    -------
    Backend
    """
    ibis = _require_ibis()
    if engine == "duckdb":
        config: dict[str, Any] = {}
        limit = memory_limit or os.environ.get("MMRWE_DUCKDB_MEMORY")
        if limit:
            config["memory_limit"] = limit
        if threads:
            config["threads"] = int(threads)
        path: str | None = None
        if url is not None:
            if not url.startswith("duckdb://"):
                raise InputError(
                    f"engine 'duckdb' cannot open the URL {redact_url(url)}",
                    fix='use engine = "postgres" for a PostgreSQL URL',
                )
            path = url[len("duckdb://") :].lstrip("/")
            path = "/" + path if url.startswith("duckdb:///") else path
        elif database is not None:
            path = str(database)
        # Work that exceeds the memory limit spills to a private folder, removed on close
        # (DuckDB's default for an in-memory database is a ".tmp" folder in the cwd).
        spill = tempfile.mkdtemp(prefix="mmrwe-duckdb-")
        config["temp_directory"] = spill
        # never fetch code from the network: an extension a query names is not installed
        # (or loaded) on the fly, community extensions are off (docs/security.md)
        config.update(DUCKDB_SAFE_CONFIG)
        if path is not None:
            if not Path(path).exists():
                raise InputError(f"DuckDB database file not found: {path}")
            con = ibis.duckdb.connect(path, read_only=True, **config)
        else:
            con = ibis.duckdb.connect(**config)
        return Backend(
            "duckdb",
            con,
            None,
            [lambda: shutil.rmtree(spill, ignore_errors=True), con.disconnect],
            [spill],
        )
    if engine == "postgres":
        if url is None:
            raise InputError(
                "engine 'postgres' needs a database URL",
                fix='write patients = "postgresql://user@host:5432/database" and table = "..."',
            )
        con = _connect_postgres(ibis, url)
        return Backend("postgres", con, redact_url(url), [con.disconnect])
    if engine == "spark":
        closers: list[Callable[[], None]] = []
        session = spark_session
        if session is None:
            session = start_spark_session()
            closers.append(session.stop)
        con = ibis.pyspark.connect(session)
        return Backend("spark", con, None, closers)
    raise InputError(f"unknown engine {engine!r}", fix=f"use one of {', '.join(ENGINES)}")


def _connect_postgres(ibis: Any, url: str) -> Any:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise InputError(
            f"not a PostgreSQL URL: {redact_url(url)}",
            fix="write postgresql://user@host:5432/database",
        )
    kwargs: dict[str, Any] = {
        "user": parts.username,
        "password": parts.password,
        "host": parts.hostname,
        "port": parts.port or 5432,
        "database": parts.path.lstrip("/") or None,
    }
    for item in filter(None, parts.query.split("&")):
        key, _, value = item.partition("=")
        if key == "host":  # a Unix-socket folder, as libpq's ?host=/path
            kwargs["host"] = value
    try:
        return ibis.postgres.connect(**{k: v for k, v in kwargs.items() if v is not None})
    except Exception as exc:
        raise InputError(
            f"cannot connect to PostgreSQL at {redact_url(url)}: {exc}",
            fix="check that the server runs and the URL (user, host, port, database) is right",
        ) from None


def start_spark_session(master: str | None = None, *, app_name: str = "mmrwe") -> Any:
    """Start (or reuse) a PySpark session.

    ``master`` defaults to ``MMRWE_SPARK_MASTER`` or ``local[2]``. Local mode needs Java 17;
    on a cluster, pass its master URL (``spark://host:7077``, ``yarn``) and keep the input
    on storage every executor can read.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise MmrweError(
            "engine 'spark' needs PySpark, which is not installed",
            fix='pip install "ibis-framework[pyspark]"',
        ) from exc
    master = master or os.environ.get("MMRWE_SPARK_MASTER", "local[2]")
    builder = SparkSession.builder.master(master).appName(app_name)
    if master.startswith("local"):
        # a local session: loopback only, no UI, a private warehouse folder, few partitions
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = (
            builder.config("spark.driver.host", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.warehouse.dir", tempfile.mkdtemp(prefix="mmrwe-spark-"))
            .config("spark.sql.session.timeZone", "UTC")
        )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    # Spark logs a Java stack trace when a generated class exceeds the JVM's method size
    # and then runs the same plan interpreted: the result is the same, the trace is noise
    with contextlib.suppress(Exception):
        jvm: Any = session.sparkContext._jvm
        jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(
            "org.apache.spark.sql.catalyst.expressions.codegen.CodeGenerator",
            jvm.org.apache.logging.log4j.Level.OFF,
        )
    return session
