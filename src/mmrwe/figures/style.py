"""One look for every figure: palette, fonts, sizes; SVG, PNG, PDF and TIFF serialization.

Figures are drawn from stored numbers and pre-formatted strings only (the report layer formats
every number with :mod:`mmrwe.tables.format`); nothing here computes a statistic.

User text (variable labels, levels, center names) reaches figures verbatim: ``text.parse_math``
is off, so a center called ``A $\\frac{1}{$`` is printed as written instead of being parsed as
math text (which would crash on the unbalanced ``$``).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: reports are built on servers and in CI
import matplotlib.pyplot as plt
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.transforms import Bbox

from mmrwe.core.errors import RenderError

# Okabe-Ito: distinguishable with the common colour-vision deficiencies (and in greyscale the
# first two differ in lightness).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
GREY = "#6B6B6B"
LIGHT_GREY = "#BDBDBD"
INK = "#1A1A1A"

FONT_FAMILY = "DejaVu Sans"  # ships with matplotlib: identical metrics everywhere
FONT_SIZE = 8.0  # pt at the printed size (figures are drawn at their print width)
SMALL = 7.5
MM_PER_INCH = 25.4
WIDTH_MM = 170.0  # two journal columns (170-180 mm); also the Word report's text width
WIDTH_IN = WIDTH_MM / MM_PER_INCH
DPI_PNG = 300


@dataclass(frozen=True, slots=True)
class Palette:
    """Colours and line styles of the series of a figure (curve k uses ``color(k)``, ``dash(k)``).

    ``accent`` marks the responders and hazard ratios; ``fill`` shades boxes. A greyscale
    palette tells series apart by line style as well as by lightness, because greys alone are
    hard to match between a curve and its legend entry.
    """

    name: str
    colors: tuple[str, ...]
    dashes: tuple[Any, ...]
    accent: str
    fill: str
    band_alpha: float = 0.14

    def color(self, k: int) -> str:
        return self.colors[k % len(self.colors)]

    def dash(self, k: int) -> Any:
        return self.dashes[k % len(self.dashes)]


OKABE_ITO = Palette("okabe-ito", PALETTE, ("-",), PALETTE[0], "#EAF2F8")
GREYSCALE = Palette(
    "greyscale",
    ("#000000", "#6B6B6B", "#000000", "#6B6B6B", "#000000", "#6B6B6B"),
    ("-", (0, (4.0, 2.0)), (0, (1.0, 1.5)), (0, (6.0, 2.0, 1.0, 2.0)), (0, (2.0, 1.0)), "-"),
    "#000000",
    "#EEEEEE",
    band_alpha=0.10,
)
PALETTES = {p.name: p for p in (OKABE_ITO, GREYSCALE)}


def palette_named(name: str | Palette | None) -> Palette:
    """The palette called ``name`` ("okabe-ito", the default, or "greyscale")."""
    if isinstance(name, Palette):
        return name
    if name is None or name in ("", "default"):
        return OKABE_ITO
    if name in ("grayscale", "grey", "gray"):
        name = "greyscale"
    if name not in PALETTES:
        raise RenderError(
            f"unknown figure palette {name!r}",
            fix=f"use one of: {', '.join(PALETTES)} ([report] palette)",
        )
    return PALETTES[name]


@dataclass(frozen=True, slots=True)
class FigureOptions:
    """How figures are drawn: print width, palette and whether KM plots carry HR and p.

    ``width_mm`` is the printed width: 85-90 mm fits one journal column, 170-180 mm two.
    Figures whose content cannot be laid out legibly that narrow (forest plots with their text
    columns, the flow diagram) use their own minimum width instead (``min_width_in``).
    """

    width_mm: float = WIDTH_MM
    palette: Palette = OKABE_ITO
    km_annotations: bool = True

    @property
    def width_in(self) -> float:
        return self.width_mm / MM_PER_INCH


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
    "text.parse_math": False,  # user labels are printed verbatim, never parsed as math text
    "pdf.fonttype": 42,  # TrueType fonts embedded in PDF (journals reject Type 3)
    "ps.fonttype": 42,
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


@lru_cache(maxsize=1)
def _measurer() -> RendererAgg:
    return RendererAgg(10, 10, 72)  # 72 dpi: one pixel is one point


@lru_cache(maxsize=8192)
def text_width_in(text: str, size: float = FONT_SIZE, bold: bool = False) -> float:
    """Printed width in inches of ``text`` (its widest line) in the figure font."""
    fp = FontProperties(family=FONT_FAMILY, size=size, weight="bold" if bold else "normal")
    widths = [
        _measurer().get_text_width_height_descent(line, fp, ismath=False)[0]
        for line in text.split("\n")
    ]
    return max(widths, default=0.0) / 72.0


def wrap_text(text: str, max_in: float, size: float = FONT_SIZE, bold: bool = False) -> str:
    """Break ``text`` at spaces so that each line is at most ``max_in`` inches wide.

    A single word wider than ``max_in`` stays whole (the layout makes room for it): a label is
    never cut, and a word broken in the middle reads as two words.
    """
    out: list[str] = []
    for para in text.split("\n"):
        line = ""
        for word in para.split(" "):
            trial = f"{line} {word}" if line else word
            if line and text_width_in(trial, size, bold) > max_in:
                out.append(line)
                line = word
            else:
                line = trial
        out.append(line)
    return "\n".join(out)


def n_lines(text: str) -> int:
    return text.count("\n") + 1


def _tight(fig: Figure) -> Bbox:
    cached = getattr(fig, "_mmrwe_tight", None)
    if cached is None:
        with style():
            renderer = FigureCanvasAgg(fig).get_renderer()
            cached = fig.get_tightbbox(renderer)
        fig._mmrwe_tight = cached  # type: ignore[attr-defined]
    return cached


def content_fits(fig: Figure, tol_in: float = 0.01) -> bool:
    """True when everything drawn lies on the canvas (nothing would be cut at its size)."""
    tight = _tight(fig)
    w, h = fig.get_size_inches()
    return bool(
        tight.x0 >= -tol_in
        and tight.y0 >= -tol_in
        and tight.x1 <= w + tol_in
        and tight.y1 <= h + tol_in
    )


def _bbox(fig: Figure) -> Bbox:
    """The area saved, in inches: the canvas (so the printed width is the width asked for),
    grown to the drawn content if anything lies outside it (so nothing is ever cut).
    Computed once per figure, so every format shares it."""
    cached = getattr(fig, "_mmrwe_bbox", None)
    if cached is None:
        w, h = fig.get_size_inches()
        canvas = Bbox.from_bounds(0, 0, float(w), float(h))
        cached = canvas if content_fits(fig) else Bbox.union([canvas, _tight(fig).padded(0.02)])
        fig._mmrwe_bbox = cached  # type: ignore[attr-defined]
    return cached


def saved_size_in(fig: Figure) -> tuple[float, float]:
    """Width and height (inches) of the figure as saved."""
    b = _bbox(fig)
    return float(b.width), float(b.height)


def _saved(fig: Figure, fmt: str, **kwargs: Any) -> bytes | str:
    """``fig.savefig`` into memory, once per figure, format and options: the HTML page, the
    Word file and the figure files share one rendering (rendering is most of their time)."""
    cache: dict[tuple[Any, ...], bytes | str] | None = getattr(fig, "_mmrwe_saved", None)
    if cache is None:
        cache = {}
        fig._mmrwe_saved = cache  # type: ignore[attr-defined]
    key = (fmt, *sorted((k, repr(v)) for k, v in kwargs.items()))
    if key not in cache:
        buf: io.StringIO | io.BytesIO = io.StringIO() if fmt == "svg" else io.BytesIO()
        with style():
            fig.savefig(buf, format=fmt, bbox_inches=_bbox(fig), **kwargs)
        cache[key] = buf.getvalue()
    return cache[key]


def _svg_text(fig: Figure) -> str:
    """The figure as SVG text, without the date, creator and metadata block."""
    text = str(_saved(fig, "svg", metadata={"Date": None, "Creator": None}))
    return re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)


def figure_svg(fig: Figure, prefix: str) -> str:
    """Serialize to an inline ``<svg>`` element: no XML header, no metadata, ids prefixed by
    ``prefix`` (several SVGs share one HTML page), fonts with fallbacks."""
    text = _svg_text(fig)
    text = text[text.find("<svg") :]
    text = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', text)
    text = _HREF.sub(lambda m: f'xlink:href="#{prefix}-{m.group(1)}"', text)
    text = _URL.sub(lambda m: f"url(#{prefix}-{m.group(1)})", text)
    text = text.replace(_FONT, _FONT_STACK)
    return text.rstrip() + "\n"


def figure_png(fig: Figure, dpi: int = DPI_PNG) -> bytes:
    """Serialize to PNG bytes at ``dpi`` (for Word); no timestamp or software metadata."""
    png = _saved(fig, "png", dpi=dpi, metadata={"Software": None},
                 pil_kwargs={"compress_level": 1})  # fmt: skip
    assert isinstance(png, bytes)
    return png


def figure_svg_file(fig: Figure) -> bytes:
    """A standalone SVG file (XML header, text kept as text, no date or creator metadata)."""
    return _svg_text(fig).replace(_FONT, _FONT_STACK).encode("utf-8")


def figure_pdf(fig: Figure) -> bytes:
    """A vector PDF with the TrueType font embedded (``pdf.fonttype`` 42) and no timestamp."""
    buf = io.BytesIO()
    with style():
        fig.savefig(
            buf,
            format="pdf",
            metadata={"CreationDate": None, "Creator": None, "Producer": None},
            bbox_inches=_bbox(fig),
        )
    return buf.getvalue()


def figure_tiff(fig: Figure, dpi: int) -> bytes:
    """An RGB TIFF, LZW-compressed, with ``dpi`` in its resolution tags (journal upload)."""
    from PIL import Image

    with Image.open(io.BytesIO(figure_png(fig, dpi))) as png:
        rgb = png.convert("RGB")  # no alpha channel: several submission systems reject it
    out = io.BytesIO()
    rgb.save(out, format="TIFF", compression="tiff_lzw", dpi=(dpi, dpi))
    return out.getvalue()
