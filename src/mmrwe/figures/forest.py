"""Forest plots of hazard ratios (Cox models, subgroups), drawn row by row from a table.

The report builds the rows from the same TableModel as the table it illustrates (texts from
its cells, positions from the stored HR and CI), so the plot and the table cannot disagree.
Column widths are measured from the texts, labels wrap to the room left, and the plot keeps
at least ``MIN_PLOT_IN``: a forest plot narrower than its text needs grows (its minimum
width) rather than cutting a label.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from mmrwe.figures.style import (
    FONT_SIZE,
    GREY,
    INK,
    OKABE_ITO,
    WIDTH_IN,
    Palette,
    n_lines,
    new_figure,
    style,
    text_width_in,
    wrap_text,
)

MIN_PLOT_IN = 0.9
_GAP = 0.1
_INDENT_IN = 0.12


@dataclass(frozen=True)
class ForestRow:
    """One line of the plot: a section title, a variable heading, a reference level or an HR."""

    label: str
    texts: tuple[str, ...] = ()  # right-hand columns (n, HR (95% CI), p), already formatted
    hr: float | None = None
    lower: float | None = None
    upper: float | None = None
    indent: int = 0
    kind: str = "data"  # "section" | "subhead" | "data" | "reference"


_NICE = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)


def _limits(rows: Sequence[ForestRow]) -> tuple[float, float]:
    lows = [r.lower for r in rows if r.lower is not None and r.lower > 0]
    highs = [r.upper for r in rows if r.upper is not None and math.isfinite(r.upper)]
    lo = min([0.5, *lows])
    hi = max([2.0, *highs])
    lo = max(0.01, max(t for t in _NICE if t <= lo) if lo >= 0.01 else 0.01)
    hi = min(100.0, min((t for t in _NICE if t >= hi), default=100.0))
    return lo, hi


def forest_min_width(rows: Sequence[ForestRow], columns: Sequence[str]) -> float:
    """Narrowest printed width (inches) at which every text column and the plot fit."""
    widths = _text_columns(rows, columns)
    label_min = max(
        [
            max((text_width_in(w, FONT_SIZE) for w in r.label.split()), default=0.0)
            + _INDENT_IN * r.indent
            for r in rows
            if r.kind != "section"  # section titles span the width and may wrap anywhere
        ]
        + [0.6]
    )
    return 0.04 + label_min + sum(widths) + _GAP * (len(widths) + 1) + MIN_PLOT_IN + 0.04


def _text_columns(rows: Sequence[ForestRow], columns: Sequence[str]) -> list[float]:
    out = []
    for j, title in enumerate(columns):
        cells = [r.texts[j] for r in rows if len(r.texts) > j and r.texts[j]]
        out.append(
            max([text_width_in(title, FONT_SIZE, bold=True)] + [text_width_in(c) for c in cells])
        )
    return out


def forest_figure(
    rows: Sequence[ForestRow],
    *,
    columns: Sequence[str],
    label_header: str = "Variable",
    xlabel: str = "Hazard ratio (95% CI), log scale",
    width: float = WIDTH_IN,
    palette: Palette = OKABE_ITO,
) -> Figure:
    """Draw a forest plot with text columns.

    Parameters
    ----------
    rows : sequence of ForestRow
        Top to bottom.
    columns : sequence of str
        Headers of the text columns, in the order of ``ForestRow.texts`` (n, HR, p); the first
        column sits left of the plot, the others right of it.
    width : float
        Printed width in inches; widened to :func:`forest_min_width` when narrower.
    """
    width = max(width, forest_min_width(rows, columns))
    col_w = _text_columns(rows, columns)
    left_cols, right_cols = col_w[:1], col_w[1:]
    fixed = 0.04 + sum(col_w) + _GAP * (len(col_w) + 1) + 0.04
    # labels take what the plot does not need, up to 40 % of the width
    widest_label = max(
        [text_width_in(r.label) + _INDENT_IN * r.indent for r in rows if r.kind != "section"]
        + [text_width_in(label_header, FONT_SIZE, bold=True)]
    )
    label_w = min(widest_label, max(0.4 * width, width - fixed - 2.2), width - fixed - MIN_PLOT_IN)
    # section titles have no plot or numbers on their line: they may span the width
    labels = [
        wrap_text(
            r.label,
            (width - 0.08 if r.kind == "section" else label_w) - _INDENT_IN * r.indent,
            FONT_SIZE,
            bold=r.kind == "section",
        )
        for r in rows
    ]
    line_h = FONT_SIZE / 72 * 1.25
    row_hs = [max(0.2, n_lines(lb) * line_h + 0.06) for lb in labels]
    head_h, axis_h = 0.26, 0.42
    body_h = sum(row_hs)
    height = head_h + body_h + axis_h
    x_label = 0.04
    x_n1 = x_label + label_w + _GAP + (left_cols[0] if left_cols else 0.0)  # right edge of n
    x_plot0 = x_n1 + _GAP
    x_plot1 = width - 0.04 - sum(right_cols) - _GAP * len(right_cols)
    col_x = [(x_n1, "right")] if left_cols else []
    x = x_plot1
    for w in right_cols[:-1]:
        col_x.append((x + _GAP, "left"))
        x += _GAP + w
    if right_cols:
        col_x.append((width - 0.04, "right"))
    centers = []
    y = 0.0
    for h in row_hs:
        centers.append(y + h / 2)
        y += h
    color = palette.accent
    with style():
        fig = new_figure(width, height)
        ax = fig.add_axes(
            (x_plot0 / width, axis_h / height, (x_plot1 - x_plot0) / width, body_h / height)
        )
        ax.set_xscale("log")
        lo, hi = _limits(rows)
        ax.set_xlim(lo, hi)
        ax.set_ylim(body_h, 0)
        ticks = [t for t in _NICE if lo <= t <= hi]
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set_yticks([])
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
        ax.set_xlabel(xlabel)
        tr = blended_transform_factory(fig.dpi_scale_trans, ax.transData)
        head_y = -head_h * 0.55
        head_kw: dict[str, Any] = {
            "transform": tr,
            "va": "center",
            "fontweight": "bold",
            "clip_on": False,
        }
        ax.text(x_label, head_y, label_header, ha="left", **head_kw)
        for (xx, ha), title in zip(col_x, columns, strict=False):
            ax.text(xx, head_y, title, ha=ha, **head_kw)
        ax.plot(
            [0, 1],
            [-head_h * 0.08] * 2,
            transform=blended_transform_factory(fig.transFigure, ax.transData),
            color=INK,
            lw=0.6,
            clip_on=False,
        )
        block_start: float | None = 0.0
        for i, (r, lab, yc) in enumerate(zip(rows, labels, centers, strict=True)):
            ax.text(
                x_label + _INDENT_IN * r.indent,
                yc,
                lab,
                transform=tr,
                ha="left",
                va="center",
                fontweight="bold" if r.kind == "section" else "normal",
                linespacing=1.15,
                clip_on=False,
            ).set_gid(f"forest-label-{i}")
            for (xx, ha), txt in zip(col_x, r.texts, strict=False):
                if txt:
                    ax.text(
                        xx,
                        yc,
                        txt,
                        transform=tr,
                        ha=ha,
                        va="center",
                        clip_on=False,
                        color=GREY if txt == "reference" else INK,
                    )
            if r.kind == "section":
                if block_start is not None and i > 0:
                    ax.plot([1, 1], [block_start, yc - row_hs[i] / 2], color=GREY, lw=0.6, zorder=1)
                block_start = yc + row_hs[i] / 2
                continue
            if r.hr is None or r.lower is None or r.upper is None:
                continue
            x0, x1 = max(r.lower, lo), min(r.upper, hi)
            ax.plot([x0, x1], [yc, yc], color=color, lw=1.2, solid_capstyle="butt", zorder=3)
            arrow = {"arrowstyle": "-|>", "color": color, "lw": 1.0, "mutation_scale": 6}
            if r.lower < lo:
                ax.annotate("", xy=(lo, yc), xytext=(lo * 1.35, yc), arrowprops=arrow)
            if r.upper > hi:
                ax.annotate("", xy=(hi, yc), xytext=(hi / 1.35, yc), arrowprops=arrow)
            if lo <= r.hr <= hi:
                ax.plot([r.hr], [yc], ls="none", marker="s", ms=4.5, color=color, zorder=4)
        if block_start is not None:
            ax.plot([1, 1], [block_start, body_h], color=GREY, lw=0.6, zorder=1)
    return fig
