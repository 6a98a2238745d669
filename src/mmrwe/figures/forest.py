"""Forest plot of Cox hazard ratios, drawn row by row from the Cox table.

The report builds the rows from the same TableModel as the Cox table (texts from its cells,
positions from the stored HR and CI), so the plot and the table cannot disagree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from mmrwe.figures.style import GREY, INK, PALETTE, new_figure, style


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


def forest_figure(
    rows: Sequence[ForestRow],
    *,
    columns: Sequence[str],
    label_header: str = "Variable",
    xlabel: str = "Hazard ratio (95% CI), log scale",
    width: float = 6.5,
) -> Figure:
    """Draw a forest plot with text columns.

    Parameters
    ----------
    rows : sequence of ForestRow
        Top to bottom.
    columns : sequence of str
        Headers of the text columns, in the order of ``ForestRow.texts`` (n, HR, p).
    """
    row_h, head_h, axis_h = 0.2, 0.26, 0.42
    n = len(rows)
    height = head_h + n * row_h + axis_h
    # columns in inches from the left edge
    x_label, x_n, x_plot0, x_plot1, x_hr, x_p = 0.02, 2.72, 2.9, 4.75, 4.87, width - 0.05
    with style():
        fig = new_figure(width, height)
        ax = fig.add_axes(
            (x_plot0 / width, axis_h / height, (x_plot1 - x_plot0) / width, n * row_h / height)
        )
        ax.set_xscale("log")
        lo, hi = _limits(rows)
        ax.set_xlim(lo, hi)
        ax.set_ylim(n - 0.5, -0.5)
        ticks = [t for t in _NICE if lo <= t <= hi]
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t:g}" for t in ticks])
        ax.minorticks_off()
        ax.set_yticks([])
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
        ax.set_xlabel(xlabel)
        tr = blended_transform_factory(fig.dpi_scale_trans, ax.transData)
        head_y = -0.5 - (head_h * 0.55) / row_h
        fig_head: dict[str, Any] = {
            "transform": tr,
            "va": "center",
            "fontweight": "bold",
            "clip_on": False,
        }
        ax.text(x_label, head_y, label_header, ha="left", **fig_head)
        col_x = [(x_n, "right"), (x_hr, "left"), (x_p, "right")]
        for (x, ha), title in zip(col_x, columns, strict=False):
            ax.text(x, head_y, title, ha=ha, **fig_head)
        ax.plot(
            [0, 1],
            [head_y + 0.45] * 2,
            transform=blended_transform_factory(fig.transFigure, ax.transData),
            color=INK,
            lw=0.6,
            clip_on=False,
        )
        block_start: int | None = None
        for i, r in enumerate(rows):
            ax.text(
                x_label + 0.12 * r.indent,
                i,
                r.label,
                transform=tr,
                ha="left",
                va="center",
                fontweight="bold" if r.kind == "section" else "normal",
                clip_on=False,
            )
            for (x, ha), txt in zip(col_x, r.texts, strict=False):
                if txt:
                    ax.text(
                        x,
                        i,
                        txt,
                        transform=tr,
                        ha=ha,
                        va="center",
                        clip_on=False,
                        color=GREY if txt == "reference" else INK,
                    )
            if r.kind == "section":
                if block_start is not None:
                    ax.plot([1, 1], [block_start - 0.4, i - 0.6], color=GREY, lw=0.6, zorder=1)
                block_start = i + 1
                continue
            if r.hr is None or r.lower is None or r.upper is None:
                continue
            x0, x1 = max(r.lower, lo), min(r.upper, hi)
            ax.plot([x0, x1], [i, i], color=PALETTE[0], lw=1.2, solid_capstyle="butt", zorder=3)
            if r.lower < lo:
                ax.annotate(
                    "",
                    xy=(lo, i),
                    xytext=(lo * 1.35, i),
                    arrowprops={
                        "arrowstyle": "-|>",
                        "color": PALETTE[0],
                        "lw": 1.0,
                        "mutation_scale": 6,
                    },
                )
            if r.upper > hi:
                ax.annotate(
                    "",
                    xy=(hi, i),
                    xytext=(hi / 1.35, i),
                    arrowprops={
                        "arrowstyle": "-|>",
                        "color": PALETTE[0],
                        "lw": 1.0,
                        "mutation_scale": 6,
                    },
                )
            if lo <= r.hr <= hi:
                ax.plot([r.hr], [i], ls="none", marker="s", ms=4.5, color=PALETTE[0], zorder=4)
        if block_start is not None:
            ax.plot([1, 1], [block_start - 0.4, n - 0.5], color=GREY, lw=0.6, zorder=1)
    return fig
