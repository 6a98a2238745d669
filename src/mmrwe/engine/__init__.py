"""The one relational engine every study runs on, through Ibis.

In-process DuckDB by default (over the input files, or over Arrow tables read from
Excel, SPSS or SAS exports); PostgreSQL and Spark through the same expressions.
``connect()`` opens an engine; :mod:`~mmrwe.engine.sources` puts the patient table on it
(Parquet, CSV, a DuckDB file, a database table, an Arrow table);
:mod:`~mmrwe.engine.pushdown` derives columns and endpoints and returns the sufficient
statistics (per-time counts, category counts) the estimators need. Only small aggregated
tables, or the few columns an estimator needs, come back into Python.
"""

from mmrwe.engine.connection import Backend, connect, redact_url, start_spark_session
from mmrwe.engine.sources import (
    open_arrow,
    open_database_table,
    open_duckdb_file_table,
    open_parquet,
    open_spark_csv,
    with_order,
)

__all__ = [
    "Backend",
    "connect",
    "open_arrow",
    "open_database_table",
    "open_duckdb_file_table",
    "open_parquet",
    "open_spark_csv",
    "redact_url",
    "start_spark_session",
    "with_order",
]
