"""STROBE/RECORD patient-flow diagram: received -> excluded (with reasons) -> analysed -> centers."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from mmrwe.figures.style import INK, OKABE_ITO, WIDTH_IN, Palette, new_figure, style

FLOW_MIN_WIDTH_IN = 5.7


def _box(
    ax: Axes,
    x: float,
    y: float,
    w: float,
    h: float,
    text: str,
    *,
    bold: bool = False,
    fill: str = "white",
) -> None:
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0,rounding_size=0.04",
            fc=fill,
            ec=INK,
            lw=0.7,
        )
    )
    ax.text(
        x,
        y,
        text,
        ha="center",
        va="center",
        fontweight="bold" if bold else "normal",
        linespacing=1.35,
    )


def _arrow(ax, xy0: tuple[float, float], xy1: tuple[float, float]) -> None:
    ax.add_patch(
        FancyArrowPatch(
            xy0, xy1, arrowstyle="-|>", mutation_scale=8, color=INK, lw=0.7, shrinkA=0, shrinkB=0
        )
    )


def flow_figure(
    received: str,
    excluded: str,
    analysed: str,
    centers: Sequence[str] = (),
    *,
    width: float = WIDTH_IN,
    palette: Palette = OKABE_ITO,
) -> Figure:
    """Boxes with pre-formatted texts (counts already through the small-cell rule).

    Coordinates are in inches: a vertical main flow on the left, the exclusion box to the
    right of the first arrow, one box per center in a row at the bottom.
    """
    # the boxes need 5.7 inches side by side: narrower requests get this minimum width
    width = max(width, FLOW_MIN_WIDTH_IN)
    n_ex_lines = excluded.count("\n") + 1
    ex_h = 0.2 + 0.15 * n_ex_lines
    centers = list(centers)
    per_row = 6
    c_rows = (len(centers) + per_row - 1) // per_row
    height = (
        0.55 + 0.35 + max(ex_h, 0.45) + 0.3 + 0.5 + (0.35 + c_rows * 0.52 if centers else 0) + 0.05
    )
    with style():
        fig = new_figure(width, height)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, width)
        ax.set_ylim(height, 0)
        ax.axis("off")
        main_x, box_w = 1.75, 2.6
        y = 0.05 + 0.275
        _box(ax, main_x, y, box_w, 0.55, received)
        y_ex = y + 0.275 + 0.35 + max(ex_h, 0.45) / 2
        ex_x = main_x + box_w / 2 + 0.35 + 1.25
        _box(ax, ex_x, y_ex, 2.5, ex_h, excluded)
        y_an = y_ex + max(ex_h, 0.45) / 2 + 0.3 + 0.25
        _arrow(ax, (main_x, y + 0.275), (main_x, y_an - 0.25))
        _arrow(ax, (main_x, y_ex), (ex_x - 1.25, y_ex))
        _box(ax, main_x, y_an, box_w, 0.5, analysed, bold=True, fill=palette.fill)
        if centers:
            cy = y_an + 0.25 + 0.35 + 0.24
            n_cols = min(per_row, len(centers))
            cw = min(0.95, (width - 0.2) / n_cols - 0.08)
            span = n_cols * (cw + 0.08) - 0.08
            x0 = (width - span) / 2 + cw / 2
            x_last = x0 + (n_cols - 1) * (cw + 0.08)
            ax.plot([min(x0, main_x), max(x_last, main_x)], [cy - 0.38] * 2, color=INK, lw=0.7)
            ax.plot([main_x, main_x], [y_an + 0.25, cy - 0.38], color=INK, lw=0.7)
            for i, text in enumerate(centers):
                r, c = divmod(i, per_row)
                cx = x0 + c * (cw + 0.08)
                yy = cy + r * 0.52
                if r == 0:
                    _arrow(ax, (cx, cy - 0.38), (cx, yy - 0.22))
                _box(ax, cx, yy, cw, 0.44, text)
    return fig
