"""Kaplan-Meier figures with a numbers-at-risk table, drawn from stored results only.

Curves, bands, censoring marks and at-risk counts come from the ``curve`` and ``risk_table``
entries of results.json (at-risk counts arrive already formatted, small-cell rule applied), so
the figure, the tables and R agree. Each at-risk number is drawn at the x position of its tick
(the risk-table axes share the x axis of the plot), centred like the tick label above it.

Layout is computed in inches for the printed width: the left margin grows to the widest
(wrapped) group label of the risk table, so a label is never cut; the legend goes to the first
corner of the plot where it covers no curve, else below the plot.

SVG ids: the at-risk numbers are ``risk-<row>-<col>``, the tick labels stay matplotlib's
``xtick_<n>`` groups, so tests can read both back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.path import Path as MplPath
from matplotlib.transforms import Bbox

from mmrwe.figures.style import (
    GREY,
    OKABE_ITO,
    SMALL,
    WIDTH_IN,
    Palette,
    n_lines,
    new_figure,
    style,
    text_width_in,
    wrap_text,
)

# Where the legend may go, in order of preference: KM curves fall from the upper left, so the
# upper right and the lower left are usually free.
LegendLoc = Literal["upper right", "lower left", "lower right", "center right", "upper center"]
LEGEND_LOCATIONS: tuple[LegendLoc, ...] = (
    "upper right",
    "lower left",
    "lower right",
    "center right",
    "upper center",
)


@dataclass(frozen=True)
class KMSeries:
    """One curve: its label, stored curve, formatted at-risk numbers (one per tick), median."""

    label: str
    curve: Mapping[str, Sequence[Any]]
    risk: Sequence[str]
    median: float | None = None
    legend: str | None = None  # legend text (defaults to label)


def _steps(curve: Mapping[str, Sequence[Any]], key: str) -> tuple[list[float], list[float]]:
    """Step coordinates starting at (0, 1); a null (band not estimable) breaks the line."""
    t = [0.0, *map(float, curve["time"])]
    y = [1.0, *[float("nan") if v is None else float(v) for v in curve[key]]]
    return t, y


#: Censor marks drawn per curve at most: a registry curve censors at thousands of distinct
#: times, whose marks merge into a bar anyway (and cost seconds as vector elements).
MAX_CENSOR_MARKS = 150


def _thin_marks(cens: np.ndarray, t_max: float) -> np.ndarray:
    """At most MAX_CENSOR_MARKS marks, one per equal slice of the time axis (the first)."""
    if len(cens) <= MAX_CENSOR_MARKS or t_max <= 0:
        return cens
    slot = np.floor(cens[:, 0] / t_max * MAX_CENSOR_MARKS).astype(np.int64)
    _, first = np.unique(slot, return_index=True)
    return cens[np.sort(first)]


def _post_steps(t: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of a right-continuous step function, so the drawn path is the path tested
    for overlap with the legend (``drawstyle='steps-post'`` would hide the steps)."""
    ta, ya = np.asarray(t, float), np.asarray(y, float)
    if len(ta) < 2:
        return ta, ya
    xs = np.empty(2 * len(ta) - 1)
    ys = np.empty_like(xs)
    xs[0::2], ys[0::2] = ta, ya
    xs[1::2], ys[1::2] = ta[1:], ya[:-1]
    return xs, ys


@dataclass
class _Drawn:
    curves: list[np.ndarray]  # (n, 2) data coordinates of every step path
    marks: list[np.ndarray]  # censor marks
    bands: list[np.ndarray]  # polygons of the confidence bands
    guides: list[np.ndarray]  # median guide lines


def _legend_hits(ax: Axes, leg: Legend, drawn: _Drawn, renderer: Any, bands: bool) -> bool:
    box = leg.get_window_extent(renderer)
    # a little air around the box: a curve touching the frame-less legend text reads as covered
    pad = 2.0 * ax.figure.dpi / 72.0
    box = Bbox.from_extents(box.x0 - pad, box.y0 - pad, box.x1 + pad, box.y1 + pad)
    to_disp = ax.transData.transform
    for xy in drawn.curves:
        ok = ~np.isnan(xy).any(axis=1)
        if ok.sum() >= 2 and MplPath(to_disp(xy[ok])).intersects_bbox(box, filled=False):
            return True
    for xy in drawn.marks:
        if len(xy) and box.count_contains(to_disp(xy)):
            return True
    for xy in drawn.guides:  # a median guide through the legend text reads as strike-through
        if MplPath(to_disp(xy)).intersects_bbox(box, filled=False):
            return True
    if bands:
        for poly in drawn.bands:
            ok = ~np.isnan(poly).any(axis=1)
            if ok.sum() >= 3 and MplPath(to_disp(poly[ok])).intersects_bbox(box, filled=True):
                return True
    return False


def _fits_inside(ax: Axes, entries: list[Any], common: dict[str, Any], renderer: Any) -> bool:
    """Whether the legend is smaller than the plot: a legend taller or wider than the axes
    covers curves wherever it goes, and trying every corner (each a text layout of every
    entry) costs a second for a 20-center figure."""
    leg = ax.legend(handles=entries, loc="upper right", borderaxespad=0.3, **common)
    box = leg.get_window_extent(renderer)
    leg.remove()
    frame = ax.get_window_extent(renderer)
    return bool(box.width <= frame.width and box.height <= frame.height)


def _most_columns(n: int, fits: Callable[[int], bool]) -> int:
    """The largest column count in 1..n for which ``fits`` holds (1 if none): the width of a
    legend grows with its columns, so a bisection finds it in log2(n) layouts, not n."""
    if n <= 1 or fits(n):
        return max(n, 1)
    lo, hi = 1, n  # fits(lo) is assumed (one column is the fallback), fits(hi) is False
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo


def km_figure(
    series: Sequence[KMSeries],
    *,
    ticks: Sequence[float],
    xlabel: str,
    ylabel: str,
    legend_title: str | None = None,
    annotation: str | None = None,
    show_ci: bool = True,
    width: float = WIDTH_IN,
    palette: Palette = OKABE_ITO,
) -> Figure:
    """Draw KM curves with shaded pointwise CIs, censor marks, median guides and an at-risk table.

    Parameters
    ----------
    series : sequence of KMSeries
        Curves in legend order (for groups: the order of the log-rank entry's ``levels``).
    ticks : sequence of float
        x ticks; ``series[i].risk[j]`` is printed under ``ticks[j]``.
    xlabel, ylabel : str
        Axis labels (the y axis is in percent).
    legend_title : str, optional
        Title of the legend (the grouping variable's label).
    annotation : str, optional
        Lines added under the legend entries (single curve: median and events; groups:
        log-rank p), placed with the legend where it covers no curve.
    show_ci : bool
        Shade the pointwise confidence band of every curve.
    width : float
        Printed width in inches (85 mm for one journal column, 170 mm for two).
    palette : Palette
        Colours and line styles of the curves.
    """
    n_rows = len(series)
    grouped = n_rows > 1 or bool(series and series[0].label)
    # Risk-table labels: wrapped to at most a quarter of the width, never cut.
    max_label = min(1.5, 0.25 * width)
    labels = [wrap_text(s.label, max_label, SMALL) if s.label else "" for s in series]
    label_w = max((text_width_in(lb, SMALL) for lb in labels), default=0.0)
    first_w = max((text_width_in(s.risk[0], SMALL) for s in series if s.risk), default=0.0)
    label_gap = 0.08 + first_w / 2  # the first number is centred on x = 0
    left = max(0.62, label_w + label_gap + 0.04) if grouped else 0.62
    last_w = max((text_width_in(s.risk[-1], SMALL) for s in series if s.risk), default=0.0)
    right = max(0.14, last_w / 2 + 0.06)
    # Heights in inches, so the gap from axis to risk table is the same in every figure.
    top_pad, axis_block, risk_head, bottom_pad = 0.08, 0.42, 0.2, 0.04
    line_h = SMALL / 72 * 1.3
    row_hs = [max(0.19, n_lines(lb) * line_h + 0.05) for lb in labels] or [0.19]
    risk_h = risk_head + sum(row_hs)
    plot_h = min(2.75, max(1.7, 0.5 * width))

    def layout(fig: Figure, below: float) -> None:
        h = top_pad + plot_h + axis_block + below + risk_h + bottom_pad
        fig.set_size_inches(width, h)
        ax.set_position(
            (
                left / width,
                (bottom_pad + risk_h + below + axis_block) / h,
                (width - left - right) / width,
                plot_h / h,
            )
        )
        rax.set_position((left / width, bottom_pad / h, (width - left - right) / width, risk_h / h))

    with style():
        fig = new_figure(width, 1.0)
        ax = fig.add_axes((0, 0, 1, 1))
        rax = fig.add_axes((0, 0, 1, 1), sharex=ax)
        layout(fig, 0.0)
        t_max = max(
            [float(ticks[-1]) if ticks else 0.0]
            + [float(s.curve["time"][-1]) for s in series if s.curve["time"]]
        )
        handles: list[Any] = []
        drawn = _Drawn([], [], [], [])
        for k, s in enumerate(series):
            color, dash = palette.color(k), palette.dash(k)
            t, y = _steps(s.curve, "surv")
            xs, ys = _post_steps(t, [100 * v for v in y])
            (line,) = ax.plot(
                xs, ys, color=color, ls=dash, lw=1.3, label=s.legend or s.label, zorder=3
            )
            line.set_gid(f"curve-{k}")
            handles.append(line)
            drawn.curves.append(np.column_stack([xs, ys]))
            if show_ci:
                _, lo = _steps(s.curve, "lower")
                _, hi = _steps(s.curve, "upper")
                lo100, hi100 = [100 * v for v in lo], [100 * v for v in hi]
                ax.fill_between(
                    t,
                    lo100,
                    hi100,
                    step="post",
                    color=color,
                    alpha=palette.band_alpha,
                    lw=0,
                    zorder=1,
                )
                bx, blo = _post_steps(t, lo100)
                _, bhi = _post_steps(t, hi100)
                drawn.bands.append(
                    np.column_stack(
                        [np.concatenate([bx, bx[::-1]]), np.concatenate([blo, bhi[::-1]])]
                    )
                )
            cens = np.array(
                [
                    (float(tt), 100 * float(ss))
                    for tt, ss, nc in zip(
                        s.curve["time"], s.curve["surv"], s.curve["n_censor"], strict=True
                    )
                    if nc
                ],
                dtype=float,
            ).reshape(-1, 2)
            cens = _thin_marks(cens, t_max)
            if len(cens):
                ax.plot(
                    cens[:, 0],
                    cens[:, 1],
                    ls="none",
                    marker="|",
                    color=color,
                    ms=5,
                    mew=0.9,
                    zorder=4,
                )
            drawn.marks.append(cens)
            if s.median is not None:
                m = float(s.median)
                ax.plot([0, m, m], [50, 50, 0], color=GREY, lw=0.6, ls=(0, (2.5, 2)), zorder=2)
                drawn.guides.append(np.array([[0.0, 50.0], [m, 50.0], [m, 0.0]]))
        ax.set_ylim(0, 101)
        ax.set_yticks([0, 25, 50, 75, 100])
        ax.set_yticklabels(["0", "25", "50", "75", "100"])
        ax.set_ylabel(ylabel)
        ax.set_xlabel(xlabel)
        ax.set_xlim(0, t_max * 1.01 if t_max > 0 else 1)
        if ticks:
            ax.set_xticks(list(ticks))
            ax.set_xticklabels([f"{x:g}" for x in ticks])
        ax.tick_params(axis="x", pad=2)

        legend_max = 0.45 * width
        censor_handle = Line2D(
            [], [], ls="none", marker="|", color=GREY, ms=5, mew=0.9, label="Censored"
        )
        for line in handles:
            line.set_label(wrap_text(str(line.get_label()), legend_max))
        extra = [
            Line2D([], [], ls="none", label=wrap_text(text, legend_max))
            for text in (annotation or "").splitlines()
        ]
        entries = [*(handles if grouped else []), censor_handle, *extra]
        title = wrap_text(legend_title, legend_max) if (grouped and legend_title) else None
        common: dict[str, Any] = {
            "title": title,
            "frameon": False,
            "handlelength": 1.8,
            "handletextpad": 0.5,
            "alignment": "left",
        }
        renderer = FigureCanvasAgg(fig).get_renderer()
        placed = None
        if _fits_inside(ax, entries, common, renderer):
            for avoid_bands in (True, False):
                for loc in LEGEND_LOCATIONS:
                    leg = ax.legend(handles=entries, loc=loc, borderaxespad=0.3, **common)
                    if not _legend_hits(ax, leg, drawn, renderer, avoid_bands):
                        placed = leg
                        break
                    leg.remove()
                if placed is not None:
                    break
        if placed is None:
            # Below the plot, under the x-axis label, in as many columns as fit the width.
            plot_w = width - left - right

            def fits(ncol: int) -> bool:
                leg = ax.legend(handles=entries, ncol=ncol, loc="upper left", **common)
                ok = bool(leg.get_window_extent(renderer).width / fig.dpi <= plot_w)
                leg.remove()
                return ok

            ncol = _most_columns(len(entries), fits)
            leg = ax.legend(handles=entries, ncol=ncol, loc="upper left", **common)
            below = leg.get_window_extent(renderer).height / fig.dpi + 0.06
            leg.remove()
            layout(fig, below)
            h = fig.get_size_inches()[1]
            ax.legend(
                handles=entries,
                ncol=ncol,
                loc="upper left",
                bbox_to_anchor=(left / width, (bottom_pad + risk_h + below) / h),
                bbox_transform=fig.transFigure,
                borderaxespad=0.0,
                **common,
            )
        fig._mmrwe_legend_below = placed is None  # type: ignore[attr-defined]

        # Numbers at risk: rows top-down (y in inches from the top), each number under its tick.
        rax.set_ylim(risk_h, 0)
        rax.axis("off")
        rax.text(
            0,
            risk_head / 2,
            "Number at risk",
            ha="left",
            va="center",
            fontweight="bold",
            fontsize=SMALL,
            transform=rax.get_yaxis_transform(),
        )
        y_row = risk_head
        for k, (s, lab, row_h) in enumerate(zip(series, labels, row_hs, strict=True)):
            yc = y_row + row_h / 2
            y_row += row_h
            color = palette.color(k) if grouped else "black"
            for j, (x, txt) in enumerate(zip(ticks, s.risk, strict=True)):
                rax.text(
                    float(x), yc, txt, ha="center", va="center", fontsize=SMALL, color=color
                ).set_gid(f"risk-{k}-{j}")
            if lab:
                # right edge clear of the first number, which is centred on x = 0
                rax.text(
                    -label_gap / (width - left - right),
                    yc,
                    lab,
                    ha="right",
                    va="center",
                    fontsize=SMALL,
                    color=color,
                    linespacing=1.15,
                    transform=rax.get_yaxis_transform(),
                ).set_gid(f"atrisk-label-{k}")
    return fig
