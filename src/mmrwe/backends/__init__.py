"""Engines for large cohorts, through Ibis: DuckDB (embedded, default), PostgreSQL, Spark.

``connect()`` opens an engine; :mod:`~mmrwe.backends.sources` opens the patient table in
place (Parquet, CSV, a DuckDB file or a database table); :mod:`~mmrwe.backends.validation`
runs the patient-table rules in the engine; :mod:`~mmrwe.backends.pushdown` derives the
endpoints and returns the per-time counts that Kaplan-Meier curves and log-rank tests need.
Only small aggregated tables come back into Python.
"""

from mmrwe.backends.connection import Backend, connect, redact_url, start_spark_session
from mmrwe.backends.sources import TableSource, open_database_table, open_file, open_patients

__all__ = [
    "Backend",
    "TableSource",
    "connect",
    "open_database_table",
    "open_file",
    "open_patients",
    "redact_url",
    "start_spark_session",
]
