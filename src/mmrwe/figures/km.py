"""Kaplan-Meier figures with a numbers-at-risk table, drawn from stored results only.

Curves, bands, censoring marks and at-risk counts come from the ``curve`` and ``risk_table``
entries of results.json (at-risk counts arrive already formatted, small-cell rule applied), so
the figure, the tables and R agree. Each at-risk number is drawn at the x position of its tick
(the risk-table axes share the x axis of the plot), centred like the tick label above it.

SVG ids: the at-risk numbers are ``risk-<row>-<col>``, the tick labels stay matplotlib's
``xtick_<n>`` groups, so tests can read both back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import ScaledTranslation

from mmrwe.figures.style import GREY, PALETTE, SMALL, WIDTH_IN, new_figure, style


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
        Text in the upper right (single curve: median and events; groups: log-rank p).
    show_ci : bool
        Shade the pointwise confidence band of every curve.
    """
    n_rows = len(series)
    grouped = n_rows > 1 or bool(series and series[0].label)
    # Layout in inches, so the distance from axis to risk table is the same in every figure.
    top_pad, plot_h, axis_block, risk_head, row_h, bottom_pad = 0.08, 2.75, 0.42, 0.2, 0.19, 0.04
    risk_h = risk_head + row_h * n_rows
    height = top_pad + plot_h + axis_block + risk_h + bottom_pad
    left, right = 0.62, 0.12
    with style():
        fig = new_figure(width, height)
        fx = lambda inch: inch / width  # noqa: E731
        fy = lambda inch: inch / height  # noqa: E731
        ax = fig.add_axes(
            (fx(left), fy(bottom_pad + risk_h + axis_block), fx(width - left - right), fy(plot_h))
        )
        rax = fig.add_axes(
            (fx(left), fy(bottom_pad), fx(width - left - right), fy(risk_h)), sharex=ax
        )
        t_max = max(
            [float(ticks[-1]) if ticks else 0.0]
            + [float(s.curve["time"][-1]) for s in series if s.curve["time"]]
        )
        handles: list[Any] = []
        for k, s in enumerate(series):
            color = PALETTE[k % len(PALETTE)]
            t, y = _steps(s.curve, "surv")
            y = [100 * v for v in y]
            (line,) = ax.step(
                t, y, where="post", color=color, lw=1.3, label=s.legend or s.label, zorder=3
            )
            handles.append(line)
            if show_ci:
                _, lo = _steps(s.curve, "lower")
                _, hi = _steps(s.curve, "upper")
                ax.fill_between(
                    t,
                    [100 * v for v in lo],
                    [100 * v for v in hi],
                    step="post",
                    color=color,
                    alpha=0.14,
                    lw=0,
                    zorder=1,
                )
            cens = [
                (float(tt), 100 * float(ss))
                for tt, ss, nc in zip(
                    s.curve["time"], s.curve["surv"], s.curve["n_censor"], strict=True
                )
                if nc
            ]
            if cens:
                ax.plot(
                    [c[0] for c in cens],
                    [c[1] for c in cens],
                    ls="none",
                    marker="|",
                    color=color,
                    ms=5,
                    mew=0.9,
                    zorder=4,
                )
            if s.median is not None:
                m = float(s.median)
                ax.plot([0, m, m], [50, 50, 0], color=GREY, lw=0.6, ls=(0, (2.5, 2)), zorder=2)
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
        censor_handle = Line2D(
            [], [], ls="none", marker="|", color=GREY, ms=5, mew=0.9, label="Censored"
        )
        extra = [Line2D([], [], ls="none", label=line) for line in (annotation or "").splitlines()]
        ax.legend(
            handles=[*(handles if grouped else []), censor_handle, *extra],
            title=legend_title if grouped else None,
            loc="upper right",
            frameon=False,
            handlelength=1.6,
            handletextpad=0.5,
            borderaxespad=0.2,
            alignment="left",
        )

        # Numbers at risk: rows top-down, each number centred under its tick.
        rax.set_ylim(n_rows - 0.5, -1.45)
        rax.axis("off")
        rax.text(
            0,
            -1.0,
            "Number at risk",
            ha="left",
            va="center",
            fontweight="bold",
            fontsize=SMALL,
            transform=rax.get_yaxis_transform(),
        )
        widest_first = max((len(s.risk[0]) for s in series if s.risk), default=1)
        label_gap = 0.1 + 0.032 * widest_first  # inches: half the first number + a gap
        for k, s in enumerate(series):
            color = PALETTE[k % len(PALETTE)] if grouped else "black"
            for j, (x, txt) in enumerate(zip(ticks, s.risk, strict=True)):
                rax.text(
                    float(x), k, txt, ha="center", va="center", fontsize=SMALL, color=color
                ).set_gid(f"risk-{k}-{j}")
            if s.label:
                # right edge clear of the first number, which is centred on x = 0
                shift = ScaledTranslation(-label_gap, 0, fig.dpi_scale_trans)
                rax.text(
                    0,
                    k,
                    s.label,
                    ha="right",
                    va="center",
                    fontsize=SMALL,
                    color=color,
                    transform=rax.get_yaxis_transform() + shift,
                )
    return fig
