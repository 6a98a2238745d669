"""One look for every figure: palette, fonts, sizes; SVG and PNG serialization.

Figures are drawn from stored numbers and pre-formatted strings only (the report layer formats
every number with :mod:`mmrwe.tables.format`); nothing here computes a statistic.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: reports are built on servers and in CI
import matplotlib.pyplot as plt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

# Okabe-Ito: distinguishable with the common colour-vision deficiencies (and in greyscale the
# first two differ in lightness).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
GREY = "#6B6B6B"
LIGHT_GREY = "#BDBDBD"
INK = "#1A1A1A"

FONT_FAMILY = "DejaVu Sans"  # ships with matplotlib: identical metrics everywhere
FONT_SIZE = 8.0  # pt at the printed size (figures are drawn at their print width)
SMALL = 7.5
WIDTH_IN = 6.0  # fits a portrait A4/Letter text column (16 cm)
DPI_PNG = 300

STYLE: dict[str, Any] = {
    "font.family": FONT_FAMILY,
    "font.size": FONT_SIZE,
    "axes.labelsize": FONT_SIZE,
    "axes.titlesize": FONT_SIZE,
    "xtick.labelsize": FONT_SIZE,
    "ytick.labelsize": FONT_SIZE,
    "legend.fontsize": FONT_SIZE,
    "legend.title_fontsize": FONT_SIZE,
    "axes.edgecolor": INK,
    "axes.labelcolor": INK,
    "text.color": INK,
    "xtick.color": INK,
    "ytick.color": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.7,
    "xtick.major.width": 0.7,
    "ytick.major.width": 0.7,
    "xtick.major.size": 3.0,
    "ytick.major.size": 3.0,
    "xtick.direction": "out",
    "ytick.direction": "out",
    "axes.labelpad": 3.0,
    "lines.solid_capstyle": "butt",
    "svg.fonttype": "none",  # text stays text in SVG: selectable, searchable, testable
    "svg.hashsalt": "mmrwe",  # stable element ids, so reports are byte-reproducible
    "path.simplify": False,  # keep every step of a survival curve
}


@contextmanager
def style() -> Iterator[None]:
    """Apply the report style while drawing."""
    with plt.rc_context(STYLE):  # type: ignore[arg-type]
        yield


def new_figure(width: float, height: float) -> Figure:
    """A figure of the given size in inches, outside pyplot's global state."""
    return Figure(figsize=(width, height))


_ID = re.compile(r'\bid="([^"]+)"')
_HREF = re.compile(r'xlink:href="#([^"]+)"')
_URL = re.compile(r"url\(#([^)]+)\)")
_FONT = "font-family: 'DejaVu Sans'"
_FONT_STACK = "font-family: 'DejaVu Sans', 'Liberation Sans', Arial, Helvetica, sans-serif"


def _bbox(fig: Figure) -> Bbox:
    """Tight bounding box (inches) of everything drawn, padded; computed once per figure so
    the SVG and the PNG share it and matplotlib does not draw twice per format."""
    cached = getattr(fig, "_mmrwe_bbox", None)
    if cached is None:
        with style():
            renderer = FigureCanvasAgg(fig).get_renderer()
            cached = fig.get_tightbbox(renderer).padded(0.04)
        fig._mmrwe_bbox = cached  # type: ignore[attr-defined]
    return cached


def figure_svg(fig: Figure, prefix: str) -> str:
    """Serialize to an inline ``<svg>`` element: no XML header, no metadata, ids prefixed by
    ``prefix`` (several SVGs share one HTML page), fonts with fallbacks."""
    buf = io.StringIO()
    with style():
        fig.savefig(
            buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches=_bbox(fig)
        )
    text = buf.getvalue()
    text = text[text.find("<svg") :]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)
    text = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', text)
    text = _HREF.sub(lambda m: f'xlink:href="#{prefix}-{m.group(1)}"', text)
    text = _URL.sub(lambda m: f"url(#{prefix}-{m.group(1)})", text)
    text = text.replace(_FONT, _FONT_STACK)
    return text.rstrip() + "\n"


def figure_png(fig: Figure, dpi: int = DPI_PNG) -> bytes:
    """Serialize to PNG bytes at ``dpi`` (for Word); no timestamp or software metadata."""
    buf = io.BytesIO()
    with style():
        fig.savefig(
            buf,
            format="png",
            dpi=dpi,
            metadata={"Software": None},
            bbox_inches=_bbox(fig),
            pil_kwargs={"compress_level": 3},
        )
    return buf.getvalue()
