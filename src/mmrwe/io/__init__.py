"""Readers for site exports: CSV, Excel, Parquet, SPSS, SAS."""

from mmrwe.core.fileio import file_sha256
from mmrwe.io.readers import SUPPORTED, SourceTable, read_table

__all__ = ["SUPPORTED", "SourceTable", "file_sha256", "read_table"]
