"""Cut-off figures: the statistic over candidate cut-offs, and where bootstrap samples put it.

Both panels draw stored numbers only (``cutpoints[i].profile`` and
``cutpoints[i].bootstrap.histogram``); texts arrive formatted.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure

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


def _title(ax: Axes, letter: str, text: str) -> None:
    """Panel letter and a left-aligned title above the axes (never over the data)."""
    ax.text(-0.2, 1.04, letter, transform=ax.transAxes, fontweight="bold", fontsize=10, va="bottom")
    ax.text(
        0.0,
        1.04,
        text,
        transform=ax.transAxes,
        fontsize=SMALL,
        va="bottom",
        ha="left",
        linespacing=1.3,
    )


def cutpoint_figure(
    profile_x: Sequence[float | None],
    profile_y: Sequence[float | None],
    *,
    chosen: float,
    x_label: str,
    stat_label: str,
    annotation: str,
    critical: float | None = None,
    hist_x: Sequence[float] | None = None,
    hist_counts: Sequence[int] | None = None,
    interval: tuple[float | None, float | None] | None = None,
    hist_annotation: str | None = None,
    width: float = WIDTH_IN,
    palette: Palette = OKABE_ITO,
) -> Figure:
    """Panel A: statistic vs candidate cut-off, chosen cut and critical value; panel B:
    frequency of the cut-off chosen in each bootstrap sample with its percentile interval."""
    pts = [
        (float(x), float(y))
        for x, y in zip(profile_x, profile_y, strict=True)
        if x is not None and y is not None
    ]
    two = bool(hist_x) and bool(hist_counts)
    width = max(width, 4.8 if two else 3.0)  # two panels side by side need 4.8 inches
    height = 2.6
    with style():
        fig = new_figure(width, height)
        if two:
            ax = fig.add_axes((0.09, 0.17, 0.38, 0.64))
            bx = fig.add_axes((0.6, 0.17, 0.38, 0.64), sharex=ax)
        else:
            ax = fig.add_axes((0.1, 0.17, 0.86, 0.64))
            bx = None
        xs = [p[0] for p in pts]
        ax.plot(
            xs, [p[1] for p in pts], color=palette.color(0), lw=1.1, marker="o", ms=2.6, zorder=3
        )
        ax.axvline(chosen, color=palette.color(1), lw=1.0, ls=(0, (4, 2)), zorder=2)
        if critical is not None:
            ax.axhline(critical, color=GREY, lw=0.7, ls=(0, (1, 1.5)), zorder=1)
        ymax = max([p[1] for p in pts] + [critical or 0.0])
        ax.set_ylim(0, ymax * 1.1 if ymax > 0 else 1)
        ax.set_xlabel(x_label)
        ax.set_ylabel(stat_label)
        _title(ax, "A", annotation)
        if bx is not None and hist_x and hist_counts:
            hx = [float(v) for v in hist_x]
            gaps = [b - a for a, b in zip(sorted(hx), sorted(hx)[1:], strict=False) if b > a]
            w = 0.8 * min(gaps) if gaps else 0.1
            if interval and interval[0] is not None and interval[1] is not None:
                bx.axvspan(
                    float(interval[0]) - w / 2,
                    float(interval[1]) + w / 2,
                    color=LIGHT_GREY,
                    alpha=0.35,
                    lw=0,
                    zorder=0,
                )
            colors = [palette.color(1) if abs(x - chosen) < 1e-12 else palette.color(0) for x in hx]
            bx.bar(hx, [int(c) for c in hist_counts], width=w, color=colors, lw=0, zorder=2)
            bx.set_ylabel("Bootstrap samples, n")
            bx.set_xlabel(x_label)
            top = max(int(c) for c in hist_counts)
            bx.set_ylim(0, top * 1.1 if top > 0 else 1)
            _title(bx, "B", hist_annotation or "")
        lo = min(xs + ([float(v) for v in hist_x] if two and hist_x else []))
        hi = max(xs + ([float(v) for v in hist_x] if two and hist_x else []))
        pad = 0.05 * (hi - lo) if hi > lo else 0.5
        ax.set_xlim(lo - pad, hi + pad)
    return fig
