"""Swimmer plot: one bar per patient for the time on the regimen under study, with the response
assessments, progression, death and ongoing treatment (results.json ``swimmer``).

Rows are anonymous and drawn as stored (sorted by time on the regimen, longest on top); the
y axis carries no patient labels. Response categories have a colour and a marker shape each,
so they stay apart in greyscale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from mmrwe.figures.style import (
    GREY,
    INK,
    LIGHT_GREY,
    OKABE_ITO,
    SMALL,
    WIDTH_IN,
    Palette,
    new_figure,
    style,
    wrap_text,
)

#: Colour and marker per response category, IMWG order (best first).
RESPONSE_STYLE: dict[str, tuple[str, str]] = {
    "sCR": ("#0072B2", "*"),
    "CR": ("#56B4E9", "D"),
    "VGPR": ("#009E73", "s"),
    "PR": ("#E69F00", "o"),
    "MR": ("#F0E442", "^"),
    "SD": ("#999999", "v"),
    "PD": ("#D55E00", "P"),
}
#: Tallest plot area (inches): with the legend the figure fits a portrait page.
MAX_PLOT_IN = 7.0
_GREY_RESPONSE = {
    "sCR": "#000000",
    "CR": "#333333",
    "VGPR": "#555555",
    "PR": "#777777",
    "MR": "#999999",
    "SD": "#BBBBBB",
    "PD": "#000000",
}


@dataclass(frozen=True)
class SwimmerRow:
    """One patient: bar lengths and event times in the study's time unit (None: no event)."""

    on_treatment: float
    followup: float
    ongoing: bool = False
    progression: float | None = None
    death: float | None = None
    responses: tuple[tuple[float, str], ...] = ()


def response_color(category: str, palette: Palette) -> str:
    if palette.name == "greyscale":
        return _GREY_RESPONSE.get(category, GREY)
    return RESPONSE_STYLE.get(category, (GREY, "o"))[0]


def swimmer_figure(
    rows: Sequence[SwimmerRow],
    *,
    categories: Sequence[str] = tuple(RESPONSE_STYLE),
    xlabel: str = "Time (months)",
    ylabel: str = "Patients",
    note: str | None = None,
    width: float = WIDTH_IN,
    palette: Palette = OKABE_ITO,
) -> Figure:
    """Bars (thick: on the regimen; thin: follow-up after it), response markers at the first
    assessment and at each change of category, a bar for progression, a cross for death and an
    arrow for treatment ongoing at last contact. ``note`` (e.g. how patients were selected)
    is printed under the legend."""
    n = len(rows)
    row_h = min(0.22, max(0.1, 3.2 / max(n, 1)))
    if n * row_h > MAX_PLOT_IN:  # a page holds it: many rows get thinner, markers smaller
        row_h = MAX_PLOT_IN / n
    plot_h = max(n * row_h, 1.2)
    sc = min(1.0, row_h / 0.1)  # marker scale
    used = [c for c in categories if any(c == r for row in rows for _, r in row.responses)]
    entries = len(used) + 5
    per_line = max(1, int((width - 0.6) // 1.25))
    legend_h = 0.17 * ((entries + per_line - 1) // per_line) + 0.04
    note_text = wrap_text(note, width - 0.7, SMALL) if note else ""
    note_h = 0.14 * (note_text.count("\n") + 1) + 0.06 if note else 0.0
    bottom = 0.5 + legend_h + note_h
    top = 0.1
    height = plot_h + bottom + top
    left = 0.45
    with style():
        fig = new_figure(width, height)
        ax = fig.add_axes(
            (left / width, bottom / height, (width - left - 0.25) / width, plot_h / height)
        )
        xmax = max([r.followup for r in rows] + [1.0])
        bar = palette.accent
        for i, r in enumerate(rows):
            y = n - 1 - i  # first row on top
            ax.plot([r.on_treatment, r.followup], [y, y], color=LIGHT_GREY, lw=1.0 * sc,
                    solid_capstyle="butt", zorder=1)  # fmt: skip
            ax.barh(y, r.on_treatment, height=0.62, left=0.0, color=bar, alpha=0.35, lw=0, zorder=2)
            for t, cat in r.responses:
                color = response_color(cat, palette)
                marker = RESPONSE_STYLE.get(cat, (GREY, "o"))[1]
                ax.plot([t], [y], marker=marker, ms=4.2 * sc, color=color, mec=INK, mew=0.3,
                        ls="none", zorder=4)  # fmt: skip
            if r.progression is not None:
                ax.plot([r.progression], [y], marker="|", ms=7 * sc, mew=1.6 * sc, color=INK, ls="none",
                        zorder=5)  # fmt: skip
            if r.death is not None:
                ax.plot([r.death], [y], marker="X", ms=4.8 * sc, color=INK, mec="white", mew=0.3,
                        ls="none", zorder=6)  # fmt: skip
            if r.ongoing:
                ax.annotate("", xy=(r.followup + xmax * 0.035, y), xytext=(r.followup, y),
                            arrowprops={"arrowstyle": "-|>", "color": INK, "lw": 0.7,
                                        "mutation_scale": 6, "shrinkA": 0, "shrinkB": 0},
                            zorder=5)  # fmt: skip
        ax.set_ylim(-0.7, n - 0.3)
        ax.set_xlim(0, xmax * 1.06)
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        handles = [
            Line2D([], [], color=bar, alpha=0.35, lw=5, label="On the regimen"),
            Line2D([], [], color=LIGHT_GREY, lw=1.0, label="Follow-up after it"),
        ]
        for cat in used:
            handles.append(
                Line2D(
                    [],
                    [],
                    marker=RESPONSE_STYLE.get(cat, (GREY, "o"))[1],
                    ms=4.2,
                    color=response_color(cat, palette),
                    mec=INK,
                    mew=0.3,
                    ls="none",
                    label=cat,
                )
            )
        handles += [
            Line2D([], [], marker="|", ms=7, mew=1.6, color=INK, ls="none", label="Progression"),
            Line2D([], [], marker="X", ms=4.8, color=INK, ls="none", label="Death"),
            Line2D([], [], marker=">", ms=4, color=INK, ls="none", label="Ongoing"),
        ]
        fig.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(left / width, (0.04 + legend_h + note_h) / height),
            ncol=per_line,
            frameon=False,
            fontsize=SMALL,
            handlelength=1.6,
            columnspacing=1.0,
            borderaxespad=0.0,
            borderpad=0.0,
        )
        if note_text:
            fig.text(left / width, 0.05 / height, note_text, fontsize=SMALL, color=GREY,
                     ha="left", va="bottom")  # fmt: skip
    return fig
