"""Love plot: absolute standardized mean differences per covariate, before and after weighting.

Drawn from stored numbers only (results.json ``iptw[].balance``): one row per covariate (or
level), an open circle before weighting and a filled one after, a dashed line at the
imbalance threshold. Absolute values, as cobalt's ``love.plot(abs = TRUE)``, so the
threshold is one line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from mmrwe.figures.style import (
    FONT_SIZE,
    GREY,
    OKABE_ITO,
    WIDTH_IN,
    Palette,
    new_figure,
    style,
    text_width_in,
    wrap_text,
)


@dataclass(frozen=True)
class BalanceRow:
    """One covariate row: its label and the SMDs (None: not estimable, not drawn)."""

    label: str
    before: float | None
    after: float | None


def love_plot(
    rows: Sequence[BalanceRow],
    *,
    threshold: float,
    threshold_text: str,
    width: float = WIDTH_IN,
    palette: Palette = OKABE_ITO,
) -> Figure:
    """Dot plot of |SMD| before (open) and after (filled) weighting, threshold dashed.

    Parameters
    ----------
    rows : sequence of BalanceRow
        Top to bottom, in the balance table's order.
    threshold : float
        Imbalance threshold (drawn as a dashed vertical line).
    threshold_text : str
        The threshold as the report prints it (already formatted).
    width : float
        Printed width in inches.
    """
    label_w = min(max((text_width_in(r.label) for r in rows), default=1.0), 0.4 * width)
    labels = [wrap_text(r.label, label_w) for r in rows]
    line_h = FONT_SIZE / 72 * 1.35
    height = 0.9 + max(len(rows), 1) * max(line_h, 0.22)
    with style():
        fig = new_figure(width, height)
        left = (label_w + 0.15) / width
        ax = fig.add_axes((left, 0.55 / height, 1 - left - 0.05, 1 - 0.75 / height))
        y = np.arange(len(rows))[::-1].astype(float)
        before = np.array([np.nan if r.before is None else abs(r.before) for r in rows])
        after = np.array([np.nan if r.after is None else abs(r.after) for r in rows])
        for yi, b, a in zip(y, before, after, strict=True):
            if np.isfinite(b) and np.isfinite(a):
                ax.plot([b, a], [yi, yi], color=GREY, lw=0.6, zorder=1)
        color = palette.color(0)
        ax.scatter(
            before,
            y,
            s=22,
            facecolors="white",
            edgecolors=color,
            linewidths=1.0,
            zorder=2,
            label="Before weighting",
        )
        ax.scatter(after, y, s=22, color=color, zorder=3, label="After weighting")
        ax.axvline(threshold, color=GREY, lw=0.8, ls=(0, (4, 2)), zorder=0)
        ax.set_yticks(y)
        ax.set_yticklabels(labels)
        top = np.nanmax(np.concatenate([before, after, [threshold]]))
        ax.set_xlim(0, max(top * 1.08, threshold * 1.5))
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.set_xlabel("Absolute standardized mean difference")
        handles = [
            Line2D([], [], ls="", marker="o", mfc="white", mec=color, label="Before weighting"),
            Line2D([], [], ls="", marker="o", color=color, label="After weighting"),
            Line2D([], [], color=GREY, ls=(0, (4, 2)), label=f"Threshold {threshold_text}"),
        ]
        ax.legend(handles=handles, loc="lower right", frameon=False)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    return fig
