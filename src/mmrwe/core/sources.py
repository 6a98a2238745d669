"""What results.json records about an input table, whatever read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What results.json records about one input table.

    Attributes
    ----------
    path : Path or None
        The file (None for a database table or a frame handed to the API).
    kind : str
        "csv", "excel", "parquet", "spss", "sas", "duckdb", "database", "omop" or "frame".
    name : str
        File name, or ``schema.table`` in a database; used in issue locations.
    sha256 : str or None
        SHA-256 of the file's bytes.
    sheet : str or None
        Excel sheet read.
    notes : tuple of str
        What the reader decided that a reader of the results should know.
    url : str or None
        Database URL without password.
    """

    path: Path | None
    kind: str
    name: str
    sha256: str | None = None
    sheet: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    url: str | None = None

    def input_entry(self, n_rows: int) -> dict[str, Any]:
        """The ``inputs.<table>`` entry of results.json."""
        entry: dict[str, Any] = {"file": self.name, "format": self.kind, "n_rows": int(n_rows)}
        if self.sha256 is not None:
            entry["sha256"] = self.sha256
        if self.sheet:
            entry["sheet"] = self.sheet
        if self.url is not None:
            entry["url"] = self.url
        if self.notes:
            entry["notes"] = list(self.notes)
        return entry
