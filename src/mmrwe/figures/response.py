"""Best-response bar chart (sCR ... PD, NE) from ``results["response"]``."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from mmrwe.figures.style import (
    GREY,
    LIGHT_GREY,
    OKABE_ITO,
    SMALL,
    WIDTH_IN,
    Palette,
    new_figure,
    style,
)


def response_figure(
    categories: Sequence[str],
    heights: Sequence[float],
    labels: Sequence[str],
    *,
    responder: Sequence[bool],
    suppressed: Sequence[bool] | None = None,
    ylabel: str = "Patients, n",
    bracket: str | None = None,
    width: float = WIDTH_IN,
    palette: Palette = OKABE_ITO,
) -> Figure:
    """Bars per response category with ``n (%)`` labels; responders in the palette's accent.

    ``suppressed[i]`` draws a hatched outline instead of a solid bar (small-cell rule: the
    height is then the threshold, not the count, and the label reads ``<k``).
    """
    sup = list(suppressed or [False] * len(categories))
    with style():
        height = 2.5
        fig = new_figure(width, height)
        # margins in inches: the y label needs the same room at one or two columns
        ax = fig.add_axes((0.55 / width, 0.35 / height, (width - 0.65) / width, 0.74))
        xs = list(range(len(categories)))
        for x, h, r, s in zip(xs, heights, responder, sup, strict=True):
            color = palette.accent if r else (LIGHT_GREY if categories[x] in ("NE",) else GREY)
            if s:
                ax.add_patch(
                    Rectangle(
                        (x - 0.35, 0), 0.7, h, fill=False, hatch="////", edgecolor=color, lw=0.8
                    )
                )
            else:
                ax.bar([x], [h], width=0.7, color=color, lw=0, zorder=2)
        top = max([float(h) for h in heights] + [1.0])
        if width / max(len(categories), 1) < 0.75:
            # narrow bars: "15 (29.4%)" on two lines instead of over its neighbours
            labels = [t.replace(" (", "\n(") for t in labels]
        for x, h, txt in zip(xs, heights, labels, strict=True):
            ax.text(x, float(h) + top * 0.02, txt, ha="center", va="bottom", fontsize=SMALL)
        ax.set_xticks(xs)
        ax.set_xticklabels(list(categories))
        ax.set_xlim(-0.6, len(categories) - 0.4)
        ax.set_ylim(0, top * (1.42 if bracket else 1.18))
        ax.set_ylabel(ylabel)
        ax.tick_params(axis="x", length=0)
        resp = [x for x, r in zip(xs, responder, strict=True) if r]
        if bracket and resp:
            y = top * 1.2
            x0, x1 = min(resp) - 0.35, max(resp) + 0.35
            ax.plot(
                [x0, x0, x1, x1],
                [y - top * 0.04, y, y, y - top * 0.04],
                color=palette.accent,
                lw=0.8,
            )
            ax.text(
                (x0 + x1) / 2,
                y + top * 0.02,
                bracket,
                ha="center",
                va="bottom",
                fontsize=SMALL,
                color=palette.accent,
            )
    return fig
