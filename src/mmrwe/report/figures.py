"""Figure files for submission: every report figure as ``<out>/figures/<name>.<ext>``.

Names are stable and say what the figure shows (``km_pfs``, ``km_os_by_hgb_lt_11``,
``forest_cox``, ``forest_cox_1``, ``cutpoint_pfs_hgb_maxstat``, ``km_pfs_by_center``,
``forest_subgroups_pfs_hgb_lt_11``, ``best_response``, ``flow``; with ``[report] swimmer`` /
``therapy_flow``: ``swimmer``, ``therapy_flow``). Formats (contract 5.3
``[report] figure_formats``):

* ``pdf``: vector, TrueType font embedded (``pdf.fonttype`` 42), no timestamp;
* ``svg``: vector, text kept as text (``svg.fonttype`` "none"), no metadata;
* ``tiff``: RGB, LZW-compressed, the requested dpi in its resolution tags;
* ``png``: at the requested dpi.

Widths are printed widths in mm (85-90 one journal column, 170-180 two); a figure that cannot
be laid out legibly that narrow (forest plots, the flow diagram, two-panel cut-off plots) is
written at its minimum width, and nothing drawn is ever cut (:func:`figure_sizes_mm` reports
the sizes written). The figures are drawn from results.json only, like the reports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from mmrwe.core.errors import RenderError
from mmrwe.core.fileio import atomic_write
from mmrwe.figures.style import (
    MM_PER_INCH,
    FigureOptions,
    Palette,
    figure_pdf,
    figure_png,
    figure_svg_file,
    figure_tiff,
    palette_named,
    saved_size_in,
)
from mmrwe.report.document import Document, FigureBlock, build_document, figure_options
from mmrwe.results.model import StudyResults
from mmrwe.tables.model import text_of

FIGURE_FORMATS = ("pdf", "svg", "tiff", "png")


def _writers(dpi: int) -> dict[str, Callable[[Figure], bytes]]:
    return {
        "pdf": figure_pdf,
        "svg": figure_svg_file,
        "tiff": lambda fig: figure_tiff(fig, dpi),
        "png": lambda fig: figure_png(fig, dpi),
    }


def figure_document(
    results: StudyResults | Mapping[str, Any],
    *,
    width_mm: float | None = None,
    palette: str | Palette | None = None,
    km_annotations: bool | None = None,
) -> Document:
    """The report document with figures drawn for the given print width and palette (options
    left out come from ``results["report_options"]``)."""
    r = results.to_dict() if isinstance(results, StudyResults) else results
    base = figure_options(r)
    opt = FigureOptions(
        width_mm=base.width_mm if width_mm is None else float(width_mm),
        palette=base.palette if palette is None else palette_named(palette),
        km_annotations=base.km_annotations if km_annotations is None else km_annotations,
    )
    return build_document(r, opt)


def _check(formats: Sequence[str], dpi: int, width_mm: float) -> list[str]:
    out = []
    for f in formats:
        fmt = str(f).lower().lstrip(".")
        fmt = "tiff" if fmt == "tif" else fmt
        if fmt not in FIGURE_FORMATS:
            raise RenderError(
                f"figure format {f!r} is not supported",
                fix=f"use any of {', '.join(FIGURE_FORMATS)} in [report] figure_formats",
            )
        if fmt not in out:
            out.append(fmt)
    if not isinstance(dpi, int) or isinstance(dpi, bool) or not 72 <= dpi <= 2400:
        raise RenderError(
            f"figure_dpi = {dpi!r} is not a resolution between 72 and 2400",
            fix="set [report] figure_dpi = 600 (journals ask for 300 to 1200)",
        )
    if not 50 <= float(width_mm) <= 260:
        raise RenderError(
            f"figure_width_mm = {width_mm!r} is outside 50-260 mm",
            fix="use 85 (one journal column) or 170 (two columns)",
        )
    return out


def write_figures(
    results: StudyResults | Mapping[str, Any],
    out_dir: Path,
    formats: Sequence[str] = ("pdf", "svg", "tiff"),
    dpi: int = 600,
    width_mm: float = 170.0,
    palette: str | Palette = "okabe-ito",
    *,
    km_annotations: bool | None = None,
    doc: Document | None = None,
) -> dict[str, Path]:
    """Write every figure of the report (and one forest plot per Cox model) as files.

    Parameters
    ----------
    results : StudyResults or mapping
        results.json (in memory or re-read): the only input.
    out_dir : Path
        The run's output folder; files go to ``out_dir / "figures"``.
    formats : sequence of str
        Any of ``pdf``, ``svg``, ``tiff``, ``png`` (``[report] figure_formats``).
    dpi : int
        Resolution of ``tiff`` and ``png`` (``[report] figure_dpi``).
    width_mm : float
        Printed width (``[report] figure_width_mm``): 85-90 for one column, 170-180 for two.
    palette : str or Palette
        ``"okabe-ito"`` (colour-blind safe, the default) or ``"greyscale"`` (``[report] palette``).
    km_annotations : bool, optional
        HR (95% CI) and log-rank p on group KM plots; default from ``report_options``.
    doc : Document, optional
        A document already built with these options (shares drawn figures).

    Returns
    -------
    dict
        File name (``"km_pfs.pdf"``) -> path written, in report order.

    Raises
    ------
    RenderError
        An unknown format, a resolution or width out of range, an unknown palette.
    """
    fmts = _check(formats, dpi, width_mm)
    if doc is None:
        doc = figure_document(
            results, width_mm=width_mm, palette=palette, km_annotations=km_annotations
        )
    folder = Path(out_dir) / "figures"
    writers = _writers(dpi)
    written: dict[str, Path] = {}
    for block in (*doc.figure_blocks, *doc.exports):
        fig = doc.figure(block)
        for fmt in fmts:
            path = folder / f"{block.name}.{fmt}"
            atomic_write(path, writers[fmt](fig))
            written[path.name] = path
    return written


def figure_sizes_mm(doc: Document) -> dict[str, tuple[float, float]]:
    """Printed width and height (mm) of every figure file of ``doc``, by name."""
    out = {}
    for block in (*doc.figure_blocks, *doc.exports):
        w, h = saved_size_in(doc.figure(block))
        out[block.name] = (w * MM_PER_INCH, h * MM_PER_INCH)
    return out


def figure_captions(doc: Document) -> dict[str, str]:
    """Caption of every report figure by file name ("Figure 3. Kaplan-Meier ...")."""
    blocks: list[FigureBlock] = [*doc.figure_blocks, *doc.exports]
    return {
        b.name: (f"{b.label}. " if b.number is not None else "") + text_of(b.caption)
        for b in blocks
    }


__all__ = [
    "FIGURE_FORMATS",
    "figure_captions",
    "figure_document",
    "figure_sizes_mm",
    "write_figures",
]
