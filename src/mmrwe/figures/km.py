"""Kaplan-Meier figures with a numbers-at-risk table, drawn from stored results only.

The figure never computes a statistic: curves, bands and at-risk counts come from the
``curve`` and ``risk_table`` entries of results.json, so the plot and the tables agree.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: reports are built on servers and in CI
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")

STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.8,
    "xtick.direction": "out",
    "ytick.direction": "out",
    "svg.fonttype": "none",  # text stays text in SVG: selectable and searchable
    "svg.hashsalt": "mmrwe",  # stable element ids, so reports are reproducible
}


def _steps(curve: Mapping[str, Sequence[Any]], key: str) -> tuple[list[float], list[float]]:
    t = [0.0, *map(float, curve["time"])]
    y = [1.0, *[float("nan") if v is None else float(v) for v in curve[key]]]
    return t, y


def km_figure(
    curves: Mapping[str, Mapping[str, Any]],
    risk_tables: Mapping[str, Mapping[str, Sequence[Any]]],
    *,
    time_unit: str,
    ylabel: str = "Survival probability",
    title: str | None = None,
    annotation: str | None = None,
    medians: Mapping[str, float | None] | None = None,
    show_ci: bool = True,
    width: float = 6.4,
) -> Figure:
    """Draw one or more KM curves with shaded pointwise CIs and a numbers-at-risk table.

    Parameters
    ----------
    curves : mapping
        Label -> curve dict (``time``, ``surv``, ``lower``, ``upper``, ``n_censor``).
    risk_tables : mapping
        Label -> ``{"times": [...], "n_risk": [...]}``; ticks of the x axis are these times,
        so every at-risk number sits under its tick.
    time_unit : str
        Axis label unit.
    medians : mapping, optional
        Label -> median; a dotted guide is drawn at S = 0.5 down to each reached median.
    """
    labels = list(curves)
    n_rows = len(labels)
    with plt.rc_context(STYLE):
        fig = plt.figure(figsize=(width, 3.6 + 0.22 * n_rows))
        top = 0.16 + 0.055 * n_rows
        ax = fig.add_axes((0.13, top + 0.1, 0.82, 0.86 - top - 0.1 - (0.06 if title else 0)))
        ticks = list(next(iter(risk_tables.values()))["times"]) if risk_tables else []
        for k, label in enumerate(labels):
            c = curves[label]
            color = PALETTE[k % len(PALETTE)]
            t, s = _steps(c, "surv")
            ax.step(t, s, where="post", color=color, lw=1.6, label=label)
            if show_ci:
                _, lo = _steps(c, "lower")
                _, hi = _steps(c, "upper")
                ax.fill_between(t, lo, hi, step="post", color=color, alpha=0.15, lw=0)
            cens_t = [float(tt) for tt, nc in zip(c["time"], c["n_censor"], strict=True) if nc]
            cens_s = [float(ss) for ss, nc in zip(c["surv"], c["n_censor"], strict=True) if nc]
            ax.plot(cens_t, cens_s, "|", color=color, ms=6, mew=1.1)
            if medians and medians.get(label) is not None:
                m = float(medians[label])  # type: ignore[arg-type]
                ax.plot([0, m], [0.5, 0.5], ":", color="0.45", lw=0.8)
                ax.plot([m, m], [0, 0.5], ":", color=color, lw=0.9)
        ax.set_ylim(-0.01, 1.02)
        ax.set_ylabel(ylabel)
        ax.set_xlabel(f"Time ({time_unit})")
        if ticks:
            ax.set_xticks(ticks)
            ax.set_xticklabels([f"{x:g}" for x in ticks])
            ax.set_xlim(0, ticks[-1] + (ticks[1] - ticks[0] if len(ticks) > 1 else 1) * 0.25)
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
        ax.set_yticklabels(["0", "25%", "50%", "75%", "100%"])
        ax.grid(axis="y", color="0.92", lw=0.6)
        if n_rows > 1:
            ax.legend(frameon=False, loc="upper right")
        if annotation:
            ax.text(0.02, 0.04, annotation, transform=ax.transAxes, fontsize=8.5, va="bottom")
        if title:
            fig.suptitle(title, x=0.13, ha="left", y=0.985, fontsize=10.5, fontweight="bold")
        # Numbers at risk: one text row per curve, each number under its tick (shared x).
        rax = fig.add_axes((0.13, 0.03, 0.82, top - 0.06), sharex=ax)
        rax.set_ylim(n_rows - 0.5, -1.2)
        rax.axis("off")
        rax.text(
            0,
            -1.0,
            "Number at risk",
            fontsize=8.5,
            fontweight="bold",
            ha="left",
            transform=rax.get_yaxis_transform(),
        )
        for k, label in enumerate(labels):
            rt = risk_tables[label]
            for x, nrisk in zip(rt["times"], rt["n_risk"], strict=True):
                rax.text(
                    float(x),
                    k,
                    str(nrisk),
                    ha="center",
                    va="center",
                    fontsize=8.5,
                    color=PALETTE[k % len(PALETTE)],
                )
            if n_rows > 1:
                rax.text(
                    -0.01,
                    k,
                    label,
                    ha="right",
                    va="center",
                    fontsize=8.5,
                    color=PALETTE[k % len(PALETTE)],
                    transform=rax.get_yaxis_transform(),
                )
    return fig


def figure_svg(fig: Figure) -> str:
    """Serialize a figure to an inline SVG string (no XML header, stable ids)."""
    buf = io.StringIO()
    with plt.rc_context(STYLE):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.find("<svg") :]


def figure_png(fig: Figure, dpi: int = 300) -> bytes:
    """Serialize a figure to PNG bytes (for Word)."""
    buf = io.BytesIO()
    with plt.rc_context(STYLE):
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
