"""Format-neutral tables (TableModel) built from StudyResults; rendered by mmrwe.report."""

from mmrwe.tables.build import build_tables, source_of
from mmrwe.tables.model import Cell, Ref, Row, Source, TableModel, resolve, text_of

__all__ = [
    "Cell",
    "Ref",
    "Row",
    "Source",
    "TableModel",
    "build_tables",
    "resolve",
    "source_of",
    "text_of",
]
