"""Shared helpers for the report tests: read the demo outputs, walk TableModels, parse SVG."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SVG_NS = "{http://www.w3.org/2000/svg}"
DIGIT = re.compile(r"\d")


def load_results(out_dir: Path) -> dict[str, Any]:
    return json.loads((out_dir / "results.json").read_text(encoding="utf-8"))


def figures_in_html(html: str) -> dict[str, tuple[dict[str, str], ET.Element]]:
    """figure id -> (data-* attributes, parsed <svg> element) for every inline figure."""
    out = {}
    for m in re.finditer(r'<figure id="([^"]+)"([^>]*)>\s*(<svg.*?</svg>)', html, flags=re.S):
        attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', m.group(2)))
        out[m.group(1)] = (attrs, ET.fromstring(m.group(3)))
    return out


def texts_in_group(svg: ET.Element, id_pattern: str) -> dict[str, ET.Element]:
    """<text> elements inside <g> whose id matches ``id_pattern`` (regex, full match)."""
    rx = re.compile(id_pattern)
    out = {}
    for g in svg.iter(f"{SVG_NS}g"):
        gid = g.get("id", "")
        if rx.fullmatch(gid):
            t = next(g.iter(f"{SVG_NS}text"), None)
            if t is not None:
                out[gid] = t
    return out


def x_ticks(svg: ET.Element, prefix: str) -> list[tuple[str, float]]:
    """(label, x) of the x tick labels of the main axes, in order."""
    groups = []
    for g in svg.iter(f"{SVG_NS}g"):
        gid = g.get("id", "")
        if re.fullmatch(re.escape(prefix) + r"-xtick_\d+", gid):
            t = next(g.iter(f"{SVG_NS}text"), None)
            if t is not None:
                groups.append((int(gid.rsplit("_", 1)[1]), t.text or "", float(t.get("x", "nan"))))
    return [(label, x) for _, label, x in sorted(groups)]


def risk_numbers(svg: ET.Element, prefix: str) -> dict[tuple[int, int], tuple[str, float]]:
    """(row, col) -> (text, x) of the numbers-at-risk cells."""
    out = {}
    for gid, t in texts_in_group(svg, re.escape(prefix) + r"-risk-\d+-\d+").items():
        k, j = map(int, gid.rsplit("-", 2)[1:])
        out[(k, j)] = (t.text or "", float(t.get("x", "nan")))
    return out


def iter_cells(table: Any) -> Iterator[Any]:
    for row in table.rows:
        yield from row.cells


def unique_docx_row_texts(row: Any) -> list[str]:
    """Texts of a python-docx row with merged cells counted once."""
    seen, out = set(), []
    for c in row.cells:
        if id(c._tc) in seen:
            continue
        seen.add(id(c._tc))
        out.append(c.text)
    return out
