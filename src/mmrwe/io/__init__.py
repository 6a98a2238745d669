"""Readers for site exports: CSV, Excel, Parquet, SPSS, SAS."""

from mmrwe.io.readers import SUPPORTED, SourceTable, file_sha256, read_table

__all__ = ["SUPPORTED", "SourceTable", "file_sha256", "read_table"]
