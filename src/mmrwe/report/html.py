"""Self-contained HTML report: inline CSS and SVG, no script, no network request.

Rendered from the same :class:`~mmrwe.report.document.Document` as the Word report.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from mmrwe.core.fileio import atomic_write
from mmrwe.figures.style import figure_svg
from mmrwe.report.document import SYNTHETIC_NOTICE, Document, build_document
from mmrwe.results.model import StudyResults
from mmrwe.tables.model import Cell, Part, XRef

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("mmrwe", "report/templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def _parts(parts: tuple[Part, ...]) -> Markup:
    """Escaped text; a reference to a table or figure becomes a link to its caption."""
    out = Markup("")
    for p in parts:
        if isinstance(p, XRef) and p.anchor:
            out += Markup('<a class="xref" href="#{}">{}</a>').format(p.anchor, p.text)
        else:
            out += escape(p if isinstance(p, str) else p.text)
    return out


def _cls(c: Cell) -> str:
    cls = {"left": "l", "right": "r", "center": "c"}[c.align]
    if c.indent:
        cls += f" i{min(c.indent, 2)}"
    if c.bold:
        cls += " b"
    if c.role in ("value", "header") and not any(ch.isdigit() for ch in c.text):
        cls += " w"  # words may wrap; numbers never break inside "5.8 (3.6–10.2)"
    return cls


_ENV.filters.update({"parts": _parts, "cls": _cls})


def _as_mapping(results: StudyResults | Mapping[str, Any]) -> Mapping[str, Any]:
    return results.to_dict() if isinstance(results, StudyResults) else results


def render_document_html(doc: Document, version: str) -> str:
    """Render a built document to one HTML string."""
    svgs = {b.id: figure_svg(doc.figure(b), b.id) for b in doc.figure_blocks}
    template = _ENV.get_template("report.html.j2")
    return template.render(doc=doc, svgs=svgs, version=version, synthetic_notice=SYNTHETIC_NOTICE)


def render_html(results: StudyResults | Mapping[str, Any], *, doc: Document | None = None) -> str:
    """Render the report; every number is read from ``results``.

    Parameters
    ----------
    results : StudyResults or mapping
        The results tree (in memory or re-read from results.json: both render the same).
    doc : Document, optional
        A document already built from ``results`` (shares drawn figures with the Word writer).

    Returns
    -------
    str
        A complete HTML document with no external references.
    """
    r = _as_mapping(results)
    doc = doc or build_document(r)
    return render_document_html(doc, str((r.get("software") or {}).get("mmrwe", "")))


def write_html(results: StudyResults, path: Path, *, doc: Document | None = None) -> Path:
    """Write ``report.html`` atomically."""
    atomic_write(path, render_html(results, doc=doc))
    return path
