"""Word report (python-docx): real, editable tables and 300 dpi figures.

Rendered from the same :class:`~mmrwe.report.document.Document` as the HTML report, so
both print the same numbers. The file is reproducible: fixed core properties, and the zip
is rewritten with fixed timestamps and a fixed member order.
"""

from __future__ import annotations

import datetime as dt
import io
import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from docx import Document as new_docx
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Emu, Pt, RGBColor

from mmrwe.core.fileio import atomic_write
from mmrwe.figures.style import DPI_PNG, figure_png
from mmrwe.report.document import (
    SYNTHETIC_NOTICE,
    Document,
    FigureBlock,
    Heading,
    Para,
    TableBlock,
    build_document,
)
from mmrwe.results.model import StudyResults
from mmrwe.tables.model import Cell, TableModel, text_of

FONT = "Arial"
BODY_PT = 10
TABLE_PT = 8.5
NOTE_PT = 8
_FIXED_TIME = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # no wall clock in outputs
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_ALIGN = {
    "left": WD_ALIGN_PARAGRAPH.LEFT,
    "right": WD_ALIGN_PARAGRAPH.RIGHT,
    "center": WD_ALIGN_PARAGRAPH.CENTER,
}
_WARN = RGBColor(0xA3, 0x3B, 0x00)


def _set_cell_border(cell: Any, **edges: str) -> None:
    """Set borders of a cell, e.g. ``top="single:12"`` (style:eighths of a point)."""
    tc_pr = cell._tc.get_or_add_tcPr()
    borders = tc_pr.find(qn("w:tcBorders"))
    if borders is None:
        borders = OxmlElement("w:tcBorders")
        tc_pr.append(borders)
    for edge in ("top", "left", "bottom", "right"):
        if edge not in edges:
            continue
        style, size = edges[edge].split(":")
        el = borders.find(qn(f"w:{edge}"))
        if el is None:
            el = OxmlElement(f"w:{edge}")
            borders.append(el)
        el.set(qn("w:val"), style)
        el.set(qn("w:sz"), size)
        el.set(qn("w:space"), "0")
        el.set(qn("w:color"), "1A1A1A")


def _shade(el: Any, fill: str) -> None:
    pr = el.get_or_add_pPr() if hasattr(el, "get_or_add_pPr") else el.get_or_add_tcPr()
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    pr.append(shd)


def _repeat_header(row: Any) -> None:
    tr_pr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    tr_pr.append(el)


def _cant_split(row: Any) -> None:
    tr_pr = row._tr.get_or_add_trPr()
    tr_pr.append(OxmlElement("w:cantSplit"))


def _fill_cell(cell: Any, c: Cell, *, bold: bool = False) -> None:
    p = cell.paragraphs[0]
    p.alignment = _ALIGN[c.align]
    pf = p.paragraph_format
    pf.space_before = Pt(1)
    pf.space_after = Pt(1)
    if c.indent:
        pf.left_indent = Cm(0.35 * c.indent)
    run = p.add_run(c.text)
    run.font.size = Pt(TABLE_PT)
    run.bold = bold or c.bold or c.role == "header"
    for m in c.marks:
        sup = p.add_run(m)
        sup.font.size = Pt(TABLE_PT)
        sup.font.superscript = True


def _column_widths(n_cols: int, total_cm: float) -> list[Any]:
    """Labels get the room (a wide first column); statistics share the rest evenly."""
    if n_cols == 1:
        return [Cm(total_cm)]
    first = {2: 0.6, 3: 0.5, 4: 0.4, 5: 0.36}.get(n_cols, 0.3) * total_cm
    rest = (total_cm - first) / (n_cols - 1)
    return [Cm(first)] + [Cm(rest)] * (n_cols - 1)


def _add_table(doc: Any, t: TableModel, content_cm: float = 17.0) -> None:
    cap = doc.add_paragraph()
    cap.paragraph_format.keep_with_next = True
    cap.paragraph_format.space_before = Pt(10)
    cap.paragraph_format.space_after = Pt(3)
    r = cap.add_run(f"Table {t.number}. ")
    r.bold = True
    cap.add_run(text_of(t.title))
    n_cols = t.n_cols
    all_rows = [*t.header, *(row.cells for row in t.rows)]
    table = doc.add_table(rows=len(all_rows), cols=n_cols)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    widths = _column_widths(n_cols, content_cm)
    for column, w in zip(table.columns, widths, strict=True):
        column.width = w  # the grid (LibreOffice and Word layout read it)
    n_head = len(t.header)
    first_cells: list[Any] = []
    head_cells: list[Any] = []
    last_cells: list[Any] = []
    # table.cell(r, c) rescans the whole table: take each row's cells once (before merging)
    for ri, (row, cells) in enumerate(zip(table.rows, all_rows, strict=True)):
        _cant_split(row)
        if ri < n_head:
            _repeat_header(row)
        row_cells = list(row.cells)
        if ri == 0:
            first_cells = row_cells
        if ri == n_head - 1:
            head_cells = row_cells
        if ri == len(all_rows) - 1:
            last_cells = row_cells
        for cell, w in zip(row_cells, widths, strict=True):
            cell.width = w  # Word reads widths per cell
        col = 0
        kind = t.rows[ri - n_head].kind if ri >= n_head else "header"
        for c in cells:
            cell = row_cells[col]
            if c.colspan > 1:
                cell = cell.merge(row_cells[col + c.colspan - 1])
            _fill_cell(cell, c, bold=kind == "section")
            if kind == "section":
                _shade(cell._tc, "F2F4F7")
            col += c.colspan
        while col < n_cols:  # short rows: pad
            col += 1
    # three-line table: rule above and below the header, rule under the body
    for cell in first_cells:
        _set_cell_border(cell, top="single:12")
    for cell in head_cells if n_head else []:
        _set_cell_border(cell, bottom="single:8")
    for cell in last_cells:
        _set_cell_border(cell, bottom="single:12")
    for f in t.footnotes:
        p = doc.add_paragraph()
        p.paragraph_format.space_after = Pt(0)
        p.paragraph_format.space_before = Pt(1)
        if f.mark:
            m = p.add_run(f.mark)
            m.font.superscript = True
            m.font.size = Pt(NOTE_PT)
            p.add_run(" ").font.size = Pt(NOTE_PT)
        run = p.add_run(f.text)
        run.font.size = Pt(NOTE_PT)
    doc.add_paragraph().paragraph_format.space_after = Pt(2)


def _png_size_in(png: bytes) -> tuple[float, float]:
    w, h = struct.unpack(">II", png[16:24])
    return w / DPI_PNG, h / DPI_PNG


def _add_figure(doc: Any, d: Document, b: FigureBlock, max_width_in: float) -> None:
    png = figure_png(d.figure(b))
    w_in, _ = _png_size_in(png)
    p = doc.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p.paragraph_format.keep_with_next = True
    p.paragraph_format.space_before = Pt(8)
    p.add_run().add_picture(io.BytesIO(png), width=Emu(int(min(w_in, max_width_in) * 914400)))
    cap = doc.add_paragraph()
    cap.paragraph_format.space_after = Pt(10)
    r = cap.add_run(f"{b.label}. ")
    r.bold = True
    r.font.size = Pt(9)
    cap.add_run(text_of(b.caption)).font.size = Pt(9)


def build_docx(d: Document) -> bytes:
    """Render the document to .docx bytes (deterministic)."""
    doc = new_docx()
    sec = doc.sections[0]
    sec.orientation = WD_ORIENT.PORTRAIT
    sec.page_width, sec.page_height = Cm(21.0), Cm(29.7)
    for side in ("left_margin", "right_margin"):
        setattr(sec, side, Cm(2.0))
    sec.top_margin = sec.bottom_margin = Cm(2.0)
    max_width_in = (21.0 - 4.0) / 2.54
    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(BODY_PT)
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)
    for name in ("Title", "Heading 1", "Heading 2", "Heading 3"):
        st = doc.styles[name]
        st.font.name = FONT
        st.font.color.rgb = RGBColor(0x1A, 0x1A, 0x1A)
    doc.styles["Title"].font.size = Pt(20)

    cp = doc.core_properties
    cp.title = ("[SYNTHETIC] " if d.synthetic else "") + d.title
    cp.author = "mmrwe"
    cp.last_modified_by = "mmrwe"
    cp.comments = "Generated by mmrwe from results.json"
    cp.created = cp.modified = _FIXED_TIME
    cp.revision = 1

    if d.synthetic:
        hp = sec.header.paragraphs[0]
        hp.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        hr = hp.add_run("SYNTHETIC DATA \u2014 NOT PATIENT DATA")
        hr.bold = True
        hr.font.size = Pt(8)
        hr.font.color.rgb = _WARN

    doc.add_paragraph(d.title, style="Title")
    sub = doc.add_paragraph(d.subtitle)
    sub.runs[0].font.size = Pt(9)
    sub.runs[0].font.color.rgb = RGBColor(0x55, 0x55, 0x55)
    if d.synthetic:
        p = doc.add_paragraph()
        _shade(p._p, "FFF1E6")
        r = p.add_run("SYNTHETIC DATA. ")
        r.bold = True
        r.font.color.rgb = _WARN
        r.font.size = Pt(11)
        r2 = p.add_run(SYNTHETIC_NOTICE)
        r2.font.color.rgb = _WARN

    for b in d.blocks:
        if isinstance(b, Heading):
            doc.add_heading(b.text, level=b.level - 1)
        elif isinstance(b, Para):
            p = doc.add_paragraph()
            p.paragraph_format.space_after = Pt(6)
            if b.title:
                p.add_run(b.title + ". ").bold = True
            p.add_run(text_of(b.parts))
        elif isinstance(b, TableBlock):
            _add_table(doc, b.table)
        elif isinstance(b, FigureBlock):
            _add_figure(doc, d, b, max_width_in)
    end = doc.add_paragraph()
    r = end.add_run(
        "Generated by mmrwe from results.json only; numbers rounded for display (half away from zero)."
        + (" Synthetic data: not patient data." if d.synthetic else "")
    )
    r.font.size = Pt(NOTE_PT)
    buf = io.BytesIO()
    doc.save(buf)
    return _normalize_zip(buf.getvalue())


def _normalize_zip(data: bytes) -> bytes:
    """Same content -> same bytes: fixed timestamps and permissions, original member order."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            zi.create_system = 0
            dst.writestr(zi, src.read(info.filename))
    return out.getvalue()


def render_docx(results: StudyResults | Mapping[str, Any], *, doc: Document | None = None) -> bytes:
    """The Word report as bytes, built from ``results`` (or an already built document)."""
    r = results.to_dict() if isinstance(results, StudyResults) else results
    return build_docx(doc or build_document(r))


def write_docx(results: StudyResults, path: Path, *, doc: Document | None = None) -> Path:
    """Write ``report.docx`` atomically."""
    atomic_write(path, render_docx(results, doc=doc))
    return path
