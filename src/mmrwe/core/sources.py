"""Input tables as the stages share them: a table read into memory, and what results.json
records about any input, whatever read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmrwe.core.errors import Location

if TYPE_CHECKING:
    import pandas as pd


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


@dataclass(frozen=True, slots=True)
class SourceTable:
    """A table as read from one file, before any type conversion.

    Attributes
    ----------
    path : Path
        The file.
    kind : str
        "csv", "excel", "parquet", "spss" or "sas".
    frame : pandas.DataFrame
        Object dtype; each cell is ``None`` (missing), ``str``, ``int``, ``float``,
        ``datetime.date`` or ``datetime.datetime``, as stored in the file.
    source_rows : tuple of int
        Row number of each frame row as the user sees it: for CSV and Excel the header is
        row 1, so the first patient is row 2; for SPSS, SAS and Parquet the first case is 1.
    sha256 : str
        SHA-256 of the file's bytes.
    sheet : str or None
        Excel sheet read.
    notes : tuple of str
        What the reader decided that a reader of the results should know.
    """

    path: Path
    kind: str
    frame: pd.DataFrame
    source_rows: tuple[int, ...]
    sha256: str
    sheet: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def n_rows(self) -> int:
        """Number of data rows read."""
        return len(self.frame)

    def location(
        self, i: int, column: str | None = None, patient_id: str | None = None
    ) -> Location:
        """Location of frame row ``i`` (and a column) in the user's terms."""
        return Location(
            file=self.path.name,
            sheet=self.sheet,
            row=self.source_rows[i],
            column=column,
            patient_id=patient_id,
        )
