"""Renderers: self-contained HTML (and Word) reports built from StudyResults only."""

from __future__ import annotations

from pathlib import Path

from mmrwe.report.html import render_html, write_html
from mmrwe.results.model import StudyResults


def write_reports(results: StudyResults, out_dir: Path) -> dict[str, Path]:
    """Write every report format into ``out_dir``; returns name -> path."""
    return {"report_html": write_html(results, out_dir / "report.html")}


__all__ = ["render_html", "write_html", "write_reports"]
