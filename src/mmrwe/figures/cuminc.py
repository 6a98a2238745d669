"""Cumulative incidence figures (competing risks) with numbers at risk, from stored results.

Two panels side by side on one y scale: the cumulative incidence of the event of interest and
that of the competing event, one curve per group, each with its pointwise confidence band. The
numbers at risk (the same patients for both events) are printed under the ticks of each panel,
as in the Kaplan-Meier figures; they arrive formatted (small-cell rule applied). Nothing here
computes a statistic: curves are the stored jump times and values of results.json ``cuminc``.

SVG ids: curves ``cif-<panel>-<group>``, at-risk numbers ``risk-<panel>-<row>-<col>``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mmrwe.figures.km import _Drawn, _legend_hits, _post_steps
from mmrwe.figures.style import (
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

# CIF curves rise from the lower left: the upper left is usually free for the legend
_Loc = Literal["upper left", "center left", "upper center", "lower right"]
_LEGEND_LOCATIONS: tuple[_Loc, ...] = ("upper left", "center left", "upper center", "lower right")


@dataclass(frozen=True)
class CIFSeries:
    """One group: its label, the stored curves of both events, and the at-risk texts.

    ``event`` and ``competing`` are results.json curves (``time``, ``estimate``, ``lower``,
    ``upper``: values just after each jump) or None (nothing to draw); ``max_time`` ends the
    last step (the group's largest observed time).
    """

    label: str
    event: Mapping[str, Sequence[Any]] | None
    competing: Mapping[str, Sequence[Any]] | None
    max_time: float
    risk: Sequence[str]
    legend: str | None = None


def _steps(
    curve: Mapping[str, Sequence[Any]], key: str, end: float
) -> tuple[list[float], list[float]]:
    """A right-continuous step from (0, 0) through every jump to the group's last time."""
    t = [0.0, *map(float, curve["time"])]
    y = [0.0, *[math.nan if v is None else float(v) for v in curve[key]]]
    if end > t[-1]:
        t.append(end)
        y.append(y[-1])
    return t, y


def _top(series: Sequence[CIFSeries], show_ci: bool) -> float:
    """Upper limit of the y axis (%): the highest value drawn, rounded up to 10, at most 100."""
    hi = 0.0
    for s in series:
        for c in (s.event, s.competing):
            if not c:
                continue
            keys = ("estimate", "upper") if show_ci else ("estimate",)
            for k in keys:
                vals = [float(v) for v in c.get(k, []) if v is not None]
                hi = max([hi, *vals])
    # ticks every 10 up to 50, every 25 above: the top is a multiple of the step
    step = 10.0 if 100.0 * hi <= 50.0 else 25.0
    return float(min(100.0, max(step, step * math.ceil(100.0 * hi / step - 1e-9))))


def cif_figure(
    series: Sequence[CIFSeries],
    *,
    ticks: Sequence[float],
    titles: tuple[str, str],
    xlabel: str,
    ylabel: str = "Cumulative incidence (%)",
    legend_title: str | None = None,
    annotations: tuple[str, str] = ("", ""),
    show_ci: bool = True,
    width: float = WIDTH_IN,
    palette: Palette = OKABE_ITO,
) -> Figure:
    """Draw the cumulative incidence of two competing events, per group, with an at-risk table.

    Parameters
    ----------
    series : sequence of CIFSeries
        Groups in legend order (the order of the entry's ``levels``).
    ticks : sequence of float
        x ticks; ``series[i].risk[j]`` is printed under ``ticks[j]`` in both panels.
    titles : (str, str)
        Panel titles: the event of interest, the competing event.
    xlabel, ylabel : str
        Axis labels (the y axis is in percent).
    legend_title : str, optional
        The grouping variable's label.
    annotations : (str, str)
        A line under each panel's title (Gray's test p), empty for none.
    show_ci : bool
        Shade the pointwise confidence bands.
    width : float
        Printed width in inches.
    palette : Palette
        Colours and line styles of the groups.
    """
    grouped = len(series) > 1 or bool(series and series[0].label)
    max_label = min(1.3, 0.2 * width)
    labels = [wrap_text(s.label, max_label, SMALL) if s.label else "" for s in series]
    label_w = max((text_width_in(lb, SMALL) for lb in labels), default=0.0)
    first_w = max((text_width_in(s.risk[0], SMALL) for s in series if s.risk), default=0.0)
    label_gap = 0.08 + first_w / 2
    left = max(0.55, label_w + label_gap + 0.04) if grouped else 0.55
    last_w = max((text_width_in(s.risk[-1], SMALL) for s in series if s.risk), default=0.0)
    right = max(0.14, last_w / 2 + 0.06)
    gap = max(0.45, first_w / 2 + last_w / 2 + 0.3)
    panel_w = (width - left - right - gap) / 2
    line_h = SMALL / 72 * 1.3
    title_lines = max(
        n_lines(t + ("\n" + a if a else "")) for t, a in zip(titles, annotations, strict=True)
    )
    top_pad = 0.1 + title_lines * line_h
    axis_block, risk_head, bottom_pad = 0.42, 0.2, 0.04
    row_hs = [max(0.19, n_lines(lb) * line_h + 0.05) for lb in labels] or [0.19]
    risk_h = risk_head + sum(row_hs)
    plot_h = min(2.4, max(1.5, 0.32 * width))
    height = top_pad + plot_h + axis_block + risk_h + bottom_pad

    with style():
        fig = new_figure(width, height)
        t_max = max([float(ticks[-1]) if ticks else 0.0] + [float(s.max_time) for s in series])
        y_top = _top(series, show_ci)
        axes: list[Axes] = []
        for p in range(2):
            x0 = (left + p * (panel_w + gap)) / width
            ax = fig.add_axes(
                (x0, (bottom_pad + risk_h + axis_block) / height, panel_w / width, plot_h / height)
            )
            rax = fig.add_axes(
                (x0, bottom_pad / height, panel_w / width, risk_h / height), sharex=ax
            )
            axes.append(ax)
            drawn = _Drawn([], [], [], [])
            handles: list[Any] = []
            for k, s in enumerate(series):
                curve = s.event if p == 0 else s.competing
                color, dash = palette.color(k), palette.dash(k)
                if curve is None:
                    continue
                t, y = _steps(curve, "estimate", float(s.max_time))
                xs, ys = _post_steps(t, [100 * v for v in y])
                (line,) = ax.plot(xs, ys, color=color, ls=dash, lw=1.3, zorder=3,
                                  label=s.legend or s.label)  # fmt: skip
                line.set_gid(f"cif-{p}-{k}")
                handles.append(line)
                drawn.curves.append(np.column_stack([xs, ys]))
                if show_ci and curve.get("lower") is not None:
                    _, lo = _steps(curve, "lower", float(s.max_time))
                    _, hi = _steps(curve, "upper", float(s.max_time))
                    # before the first jump the incidence is 0 with no uncertainty
                    lo[0], hi[0] = 0.0, 0.0
                    lo100, hi100 = [100 * v for v in lo], [100 * v for v in hi]
                    ax.fill_between(t, lo100, hi100, step="post", color=color,
                                    alpha=palette.band_alpha, lw=0, zorder=1)  # fmt: skip
                    bx, blo = _post_steps(t, lo100)
                    _, bhi = _post_steps(t, hi100)
                    drawn.bands.append(
                        np.column_stack(
                            [np.concatenate([bx, bx[::-1]]), np.concatenate([blo, bhi[::-1]])]
                        )
                    )
            ax.set_ylim(0, y_top * 1.01)
            step = 10 if y_top <= 50 else 25
            yt = list(range(0, int(y_top) + 1, step))
            ax.set_yticks(yt)
            ax.set_yticklabels([str(v) for v in yt])
            ax.set_xlim(0, t_max * 1.01 if t_max > 0 else 1)
            if ticks:
                ax.set_xticks(list(ticks))
                ax.set_xticklabels([f"{x:g}" for x in ticks])
            ax.tick_params(axis="x", pad=2)
            ax.set_xlabel(xlabel)
            if p == 0:
                ax.set_ylabel(ylabel)
            title = titles[p] + (f"\n{annotations[p]}" if annotations[p] else "")
            ax.set_title(title, loc="left", fontsize=SMALL + 0.5, pad=4)
            if p == 0 and grouped and handles:
                _legend(ax, handles, legend_title, drawn, width, panel_w)
            # numbers at risk, one row per group, under each tick
            rax.set_ylim(risk_h, 0)
            rax.axis("off")
            rax.text(0, risk_head / 2, "Number at risk", ha="left", va="center",
                     fontweight="bold", fontsize=SMALL, transform=rax.get_yaxis_transform())  # fmt: skip
            y_row = risk_head
            for k, (s, lab, row_h) in enumerate(zip(series, labels, row_hs, strict=True)):
                yc = y_row + row_h / 2
                y_row += row_h
                color = palette.color(k) if grouped else "black"
                for j, (x, txt) in enumerate(zip(ticks, s.risk, strict=True)):
                    rax.text(float(x), yc, txt, ha="center", va="center", fontsize=SMALL,
                             color=color).set_gid(f"risk-{p}-{k}-{j}")  # fmt: skip
                if lab and p == 0:
                    rax.text(-label_gap / panel_w, yc, lab, ha="right", va="center",
                             fontsize=SMALL, color=color, linespacing=1.15,
                             transform=rax.get_yaxis_transform()).set_gid(f"atrisk-label-{k}")  # fmt: skip
        axes[1].sharey(axes[0])
    return fig


def _legend(
    ax: Axes, handles: list[Any], title: str | None, drawn: _Drawn, width: float, panel_w: float
) -> None:
    """The legend where it covers no curve (else no band), in the event's panel."""
    legend_max = 0.9 * panel_w
    for line in handles:
        line.set_label(wrap_text(str(line.get_label()), legend_max))
    common: dict[str, Any] = {
        "title": wrap_text(title, legend_max) if title else None,
        "frameon": False,
        "handlelength": 1.8,
        "handletextpad": 0.5,
        "alignment": "left",
        "borderaxespad": 0.3,
    }
    renderer = FigureCanvasAgg(ax.figure).get_renderer()  # type: ignore[arg-type]
    for avoid_bands in (True, False):
        for loc in _LEGEND_LOCATIONS:
            leg = ax.legend(handles=handles, loc=loc, **common)
            if not _legend_hits(ax, leg, drawn, renderer, avoid_bands):
                return
            leg.remove()
    ax.legend(handles=handles, loc="upper left", **common)


__all__ = ["CIFSeries", "cif_figure"]
