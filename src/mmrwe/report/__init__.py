"""Renderers: self-contained HTML, a Word manuscript draft and figure files, from StudyResults only.

Both formats render one :class:`~mmrwe.report.document.Document` (tables from
:mod:`mmrwe.tables`, figures from :mod:`mmrwe.figures`), so they cannot disagree.
"""

from __future__ import annotations

from pathlib import Path

from mmrwe.report.document import Document, build_document
from mmrwe.report.docx import render_docx, write_docx
from mmrwe.report.figures import figure_document, write_figures
from mmrwe.report.html import render_html, write_html
from mmrwe.results.model import StudyResults


def write_reports(
    results: StudyResults, out_dir: Path, *, doc: Document | None = None
) -> dict[str, Path]:
    """Write ``report.html`` and ``report.docx`` into ``out_dir``; returns name -> path.

    ``doc``: the document already built from ``results`` (its drawn figures are shared, e.g.
    with :func:`write_figures`).
    """
    if doc is None:
        doc = build_document(results.to_dict())
    return {
        "report_html": write_html(results, out_dir / "report.html", doc=doc),
        "report_docx": write_docx(results, out_dir / "report.docx", doc=doc),
    }


__all__ = [
    "Document",
    "build_document",
    "figure_document",
    "render_docx",
    "render_html",
    "write_docx",
    "write_figures",
    "write_html",
    "write_reports",
]
