"""TableModel: a format-neutral, immutable table whose every number knows where it came from.

A cell is a sequence of *parts*: literal text, or a :class:`Ref` (a path into results.json, a
format code and the text it rendered to). HTML and Word render the same cells, so the two
reports cannot disagree, and a test can re-read every referenced value from results.json,
re-format it and compare (design.md 2.9: "for each cell the ARD row it came from").

Builder methods return copies (as in great_tables), so a table can be extended without
mutating a shared one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from mmrwe.tables.format import is_suppressed, render_value

PathKey = str | int
Path = tuple[PathKey, ...]


@dataclass(frozen=True, slots=True)
class Ref:
    """A value read from results.json at ``path`` and shown as ``text`` (format ``fmt``)."""

    path: Path
    fmt: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": list(self.path), "fmt": self.fmt, "text": self.text}


@dataclass(frozen=True, slots=True)
class XRef:
    """A cross-reference to a numbered table or figure of the report.

    ``target`` is the table id (``"cox"``) or the figure id (``"fig-flow"``); ``text``
    ("Table 6") and ``anchor`` (the HTML id) are filled in when the document is numbered, so
    a reference always reads like the caption it points to (Word renders it as a REF field
    to the caption's bookmark).
    """

    target: str
    text: str = ""
    anchor: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"xref": self.target, "text": self.text}


Part = str | Ref | XRef
Text = tuple[Part, ...]


def text_of(parts: Iterable[Part]) -> str:
    """The display string of a sequence of parts."""
    return "".join(p if isinstance(p, str) else p.text for p in parts)


def parts_to_list(parts: Iterable[Part]) -> list[Any]:
    return [p if isinstance(p, str) else p.to_dict() for p in parts]


Role = Literal["label", "value", "header"]
Align = Literal["left", "right", "center"]


@dataclass(frozen=True, slots=True)
class Cell:
    """One table cell.

    ``role``: ``"label"`` (row labels: may hold literal numbers such as "12-month"),
    ``"value"`` (statistics: every digit comes from a :class:`Ref`), ``"header"``.
    ``marks`` are footnote markers printed as superscripts after the text.
    """

    parts: Text = ()
    role: Role = "value"
    colspan: int = 1
    indent: int = 0
    bold: bool = False
    align: Align = "right"
    marks: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return text_of(self.parts)

    @property
    def refs(self) -> tuple[Ref, ...]:
        return tuple(p for p in self.parts if isinstance(p, Ref))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "text": self.text,
            "role": self.role,
            "parts": parts_to_list(self.parts),
        }
        if self.colspan != 1:
            d["colspan"] = self.colspan
        if self.indent:
            d["indent"] = self.indent
        if self.bold:
            d["bold"] = True
        if self.marks:
            d["marks"] = list(self.marks)
        return d


RowKind = Literal["data", "section", "subhead"]


@dataclass(frozen=True, slots=True)
class Row:
    """A table row. ``plot`` carries numbers a figure draws for this row (forest plot)."""

    cells: tuple[Cell, ...]
    kind: RowKind = "data"
    plot: tuple[tuple[str, float | None], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "cells": [c.to_dict() for c in self.cells]}
        if self.plot:
            d["plot"] = dict(self.plot)
        return d


@dataclass(frozen=True, slots=True)
class Footnote:
    """A note under a table; ``mark`` is the superscript letter used in the cells, if any."""

    parts: Text
    mark: str | None = None

    @property
    def text(self) -> str:
        return text_of(self.parts)

    def to_dict(self) -> dict[str, Any]:
        return {"mark": self.mark, "text": self.text, "parts": parts_to_list(self.parts)}


@dataclass(frozen=True, slots=True)
class TableModel:
    """A finished table: caption, header rows, body rows, footnotes."""

    id: str
    title: Text
    header: tuple[tuple[Cell, ...], ...] = ()
    rows: tuple[Row, ...] = ()
    footnotes: tuple[Footnote, ...] = ()
    number: int | None = None

    @property
    def n_cols(self) -> int:
        rows = [*self.header, *(r.cells for r in self.rows)]
        return max((sum(c.colspan for c in r) for r in rows), default=0)

    @property
    def caption(self) -> str:
        prefix = f"Table {self.number}. " if self.number is not None else ""
        return prefix + text_of(self.title)

    # builder methods: each returns a new TableModel -----------------------------------

    def with_header(self, *rows: Sequence[Cell]) -> TableModel:
        return replace(self, header=self.header + tuple(tuple(r) for r in rows))

    def with_rows(self, rows: Iterable[Row]) -> TableModel:
        return replace(self, rows=self.rows + tuple(rows))

    def with_row(
        self,
        cells: Sequence[Cell],
        kind: RowKind = "data",
        plot: Mapping[str, float | None] | None = None,
    ) -> TableModel:
        return self.with_rows([Row(tuple(cells), kind, tuple((plot or {}).items()))])

    def with_footnote(self, *parts: Part, mark: str | None = None) -> TableModel:
        return replace(self, footnotes=(*self.footnotes, Footnote(tuple(parts), mark)))

    def numbered(self, number: int) -> TableModel:
        return replace(self, number=number)

    def cells(self) -> Iterable[Cell]:
        """Every body cell (header cells excluded)."""
        for r in self.rows:
            yield from r.cells

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "caption": self.caption,
            "title": parts_to_list(self.title),
            "header": [[c.to_dict() for c in r] for r in self.header],
            "rows": [r.to_dict() for r in self.rows],
            "footnotes": [f.to_dict() for f in self.footnotes],
        }


_MISSING = object()

#: How a value withheld by the small-cell rule prints (complementary suppression, a group
#: under k); the methods text says why.
WITHHELD = "*"


def hidden_paths(results: Mapping[str, Any], k: int) -> frozenset[tuple[PathKey, ...]]:
    """The results paths the reports withhold under the small-cell rule (``k > 0``).

    * A group of fewer than ``k`` patients gets no median, landmark rates or curve of its
      own (``logrank[i].curves[group]``): a Kaplan-Meier step of one patient is that
      patient's event time.
    * Complementary suppression: where exactly one count of a set that adds up to a shown
      total is printed as ``<k`` (a Table 1 column's levels and missing, the exclusion
      reasons, the centers), the next smallest count of the set is withheld too, so the
      small one cannot be worked out by subtraction; where the number excluded is ``<k``,
      the number of records received is withheld (received - analysed = excluded).
    """
    if k <= 0:
        return frozenset()
    hidden: set[tuple[PathKey, ...]] = set()

    def small(n: Any) -> bool:
        return isinstance(n, (int, float)) and 1 <= n < k

    def complement(base: tuple[PathKey, ...], counts: Mapping[Any, Any]) -> None:
        # keys are tuples of path parts below ``base``
        cells = [(key, n) for key, n in counts.items() if isinstance(n, (int, float)) and n > 0]
        if sum(1 for _, n in cells if small(n)) != 1:
            return  # none, or two or more that already hide each other
        rest = sorted((n, str(key), key) for key, n in cells if not small(n))
        if rest:
            hidden.add((*base, *rest[0][2]))

    entries: list[tuple[tuple[PathKey, ...], Any]] = [
        (("logrank", i), lr) for i, lr in enumerate(results.get("logrank") or [])
    ]
    per_center = (results.get("center_effects") or {}).get("endpoints") or {}
    if isinstance(per_center, Mapping):
        entries += [(("center_effects", "endpoints", ep), e) for ep, e in per_center.items()]
    for base, lr in entries:
        if not isinstance(lr, Mapping) or not isinstance(lr.get("n"), Mapping):
            continue
        for g, n in lr["n"].items():
            if isinstance(n, (int, float)) and n < k:
                hidden.add((*base, "curves", g))
    for i, row in enumerate((results.get("table1") or {}).get("rows") or []):
        if not isinstance(row, Mapping) or row.get("type") != "categorical":
            continue
        columns: list[tuple[tuple[PathKey, ...], Any]] = [(("overall",), row.get("overall"))]
        columns += [(("by", g), d) for g, d in (row.get("by") or {}).items()]
        for where, d in columns:
            if not isinstance(d, Mapping):
                continue
            cells: dict[tuple[PathKey, ...], Any] = {
                ("counts", lv): n for lv, n in (d.get("counts") or {}).items()
            }
            cells[("missing",)] = d.get("missing")
            complement(("table1", "rows", i, *where), cells)
    cohort = results.get("cohort") or {}
    if small(cohort.get("n_excluded")):
        hidden.add(("cohort", "n_input_rows"))
    for key in ("exclusion_counts", "centers"):
        if isinstance(cohort.get(key), Mapping):
            complement(("cohort", key), {(name,): n for name, n in cohort[key].items()})
    return frozenset(hidden)


def resolve(results: Mapping[str, Any], path: Path) -> Any:
    """The value at ``path`` in a results tree (KeyError/IndexError if absent)."""
    node: Any = results
    for key in path:
        node = node[key]
    return node


@dataclass(frozen=True)
class Source:
    """Reads values from a results tree and makes :class:`Ref` parts (one per number shown).

    ``k`` is the small-cell threshold (``report_options.small_cell_k``; 0 = off).
    """

    results: Mapping[str, Any]
    k: int = 0
    # small-cell rule: results paths withheld from the reports (a group under k, whose own
    # median, rates and curve would describe a few patients; a count shown elsewhere would
    # give a suppressed one away: complementary suppression). See :func:`hidden_paths`.
    hidden: frozenset[tuple[PathKey, ...]] = frozenset()

    def is_hidden(self, *path: PathKey) -> bool:
        """True when ``path`` or a folder above it is withheld by the small-cell rule."""
        if not self.hidden:
            return False
        return any(tuple(path[:n]) in self.hidden for n in range(1, len(path) + 1))

    def get(self, *path: PathKey, default: Any = None) -> Any:
        if self.hidden and self.is_hidden(*path):
            return default
        try:
            return resolve(self.results, path)
        except (KeyError, IndexError, TypeError):
            return default

    def has(self, *path: PathKey) -> bool:
        return self.get(*path, default=_MISSING) is not _MISSING

    def ok(self, key: str) -> list[int]:
        """Indices of the entries of a results list whose analysis was computed.

        An entry that is not estimable or failed (``status``) has no numbers: tables and
        figures skip it, and the "Analyses not computed" table lists it with its reason.
        """
        return [
            i
            for i, e in enumerate(self.get(key) or [])
            if not isinstance(e, Mapping) or e.get("status") in (None, "ok")
        ]

    def ref(self, fmt: str, *path: PathKey) -> Ref:
        """A reference to the value at ``path`` (must exist; ``null`` values are fine)."""
        value = resolve(self.results, path)
        if self.hidden and self.is_hidden(*path):
            return Ref(tuple(path), fmt, WITHHELD)
        return Ref(tuple(path), fmt, render_value(value, fmt, self.k))

    def key_ref(self, *path: PathKey) -> Ref:
        """A reference printing the last key of ``path`` (e.g. the landmark time ``"12"`` of
        ``endpoints.PFS.landmarks.12``); the entry must exist."""
        resolve(self.results, path)
        return Ref(tuple(path), "key", str(path[-1]))

    def suppressed(self, *path: PathKey) -> bool:
        """True when the count at ``path`` is hidden by the small-cell rule."""
        if self.hidden and self.is_hidden(*path):
            return True
        return is_suppressed(self.get(*path), self.k)
