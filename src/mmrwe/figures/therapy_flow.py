"""Lines-of-therapy flow (Sankey): regimens per line as stacked nodes, patients moving between
consecutive lines as ribbons, ending in a terminal state (results.json ``therapy_flow``).

Node heights are proportional to patients; each node keeps at least the height of its label,
so labels never overlap (a column with many small nodes is taller, not cramped). A regimen has
the same colour in every line; pooled regimens ("Other") and the terminal states are grey or
black. Labels are user text (regimen names), printed verbatim.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.figure import Figure
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path

from mmrwe.figures.style import (
    GREY,
    INK,
    LIGHT_GREY,
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

FLOW_MIN_WIDTH_IN = 4.5
_NODE_W = 0.09  # inches
_GAP = 0.05
_LINE_H = SMALL * 1.25 / 72.0  # one label line, inches
_TERMINAL_COLORS = {"death": INK, "later": "#FFFFFF", "ongoing": GREY, "stopped": LIGHT_GREY}


@dataclass(frozen=True)
class FlowNode:
    name: str
    kind: str  # "regimen" | "other" | "later" | "ongoing" | "stopped" | "death"
    n: int
    text: str  # label as printed ("VRd\n48")


@dataclass(frozen=True)
class FlowColumn:
    label: str
    nodes: tuple[FlowNode, ...]


def _colors(columns: Sequence[FlowColumn], palette: Palette) -> dict[tuple[str, str], str]:
    """One colour per regimen name (first seen, first colour), kept across lines."""
    out: dict[tuple[str, str], str] = {}
    k = 0
    for c in columns:
        for nd in c.nodes:
            key = (nd.kind, nd.name)
            if key in out:
                continue
            if nd.kind == "regimen":
                out[key] = palette.color(k)
                k += 1
            elif nd.kind == "other":
                out[key] = LIGHT_GREY
            else:
                out[key] = _TERMINAL_COLORS.get(nd.kind, GREY)
    return out


def therapy_flow_figure(
    columns: Sequence[FlowColumn],
    flows: Sequence[tuple[int, int, int, int]],
    *,
    width: float = WIDTH_IN,
    palette: Palette = OKABE_ITO,
) -> Figure:
    """Draw the flow. ``flows``: (column, source node, target node in column + 1, patients)."""
    width = max(width, FLOW_MIN_WIDTH_IN)
    ncol = len(columns)
    total = max((sum(nd.n for nd in c.nodes) for c in columns), default=1) or 1
    left, right = 0.08, 0.08
    label_room = (width - left - right) / max(ncol, 1) - _NODE_W - 0.08
    texts = [[wrap_text(nd.text, max(label_room, 0.5), SMALL) for nd in c.nodes] for c in columns]
    scale = 2.6 / total  # inches per patient
    slots = [
        [max(nd.n * scale, n_lines(t) * _LINE_H) for nd, t in zip(c.nodes, tx, strict=True)]
        for c, tx in zip(columns, texts, strict=True)
    ]
    plot_h = max((sum(s) + _GAP * (len(s) - 1) for s in slots), default=0.5)
    head = 0.3
    height = plot_h + head + 0.08
    col_w = (width - left - right) / max(ncol, 1)
    xs = [left + c * col_w for c in range(ncol)]
    colors = _colors(columns, palette)
    with style():
        fig = new_figure(width, height)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, width)
        ax.set_ylim(height, 0)  # inches from the top
        ax.axis("off")
        # node boxes: (top, height) per node
        boxes: list[list[tuple[float, float]]] = []
        for c, col in enumerate(columns):
            y = head
            col_boxes = []
            for nd, slot in zip(col.nodes, slots[c], strict=True):
                h = nd.n * scale
                top = y + (slot - h) / 2
                col_boxes.append((top, h))
                y += slot + _GAP
            boxes.append(col_boxes)
            ax.text(xs[c], 0.16, col.label, ha="left", va="center", fontweight="bold",
                    fontsize=SMALL)  # fmt: skip
        # ribbons, stacked in node order at both ends
        out_off = [[0.0] * len(c.nodes) for c in columns]
        in_off = [[0.0] * len(c.nodes) for c in columns]
        for c, s, t, k in sorted(flows, key=lambda f: (f[0], f[1], f[2])):
            if c + 1 >= ncol:
                continue
            h = k * scale
            y0 = boxes[c][s][0] + out_off[c][s]
            y1 = boxes[c + 1][t][0] + in_off[c + 1][t]
            out_off[c][s] += h
            in_off[c + 1][t] += h
            x0, x1 = xs[c] + _NODE_W, xs[c + 1]
            xm = (x0 + x1) / 2
            verts = [
                (x0, y0), (xm, y0), (xm, y1), (x1, y1),
                (x1, y1 + h), (xm, y1 + h), (xm, y0 + h), (x0, y0 + h), (x0, y0),
            ]  # fmt: skip
            codes = [Path.MOVETO, Path.CURVE4, Path.CURVE4, Path.CURVE4, Path.LINETO,
                     Path.CURVE4, Path.CURVE4, Path.CURVE4, Path.CLOSEPOLY]  # fmt: skip
            src = columns[c].nodes[s]
            color = colors[(src.kind, src.name)]
            ax.add_patch(PathPatch(Path(verts, codes), fc=color, ec="none", alpha=0.28, zorder=1))
        for c, col in enumerate(columns):
            for nd, (top, h), text in zip(col.nodes, boxes[c], texts[c], strict=True):
                color = colors[(nd.kind, nd.name)]
                ax.add_patch(Rectangle((xs[c], top), _NODE_W, max(h, 0.01), fc=color, ec=INK,
                                       lw=0.4, zorder=2))  # fmt: skip
                ax.text(xs[c] + _NODE_W + 0.04, top + h / 2, text, ha="left", va="center",
                        fontsize=SMALL, linespacing=1.1, zorder=3,
                        bbox={"fc": "white", "ec": "none", "alpha": 0.75, "pad": 0.4})  # fmt: skip
    return fig


def flow_label_width(text: str) -> float:
    """Printed width (inches) of a node label, for tests and layout checks."""
    return text_width_in(text, SMALL)
