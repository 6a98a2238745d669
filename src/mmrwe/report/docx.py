"""Word manuscript draft (python-docx): editable tables, numbered captions, vector figures.

Rendered from the same :class:`~mmrwe.report.document.Document` as the HTML report, so both
print the same numbers. What makes it a draft an author can keep editing in Word:

* captions in Word's ``Caption`` style, numbered by ``SEQ Table`` / ``SEQ Figure`` fields and
  bookmarked, so "Insert > Cross-reference" lists them; references in the text are ``REF``
  fields to those bookmarks (their cached text is the number the caption shows);
* ``PAGE`` and ``NUMPAGES`` fields in the footer;
* figures as SVG with a PNG fallback (the ``asvg:svgBlip`` extension Word 2016+ reads; older
  readers show the PNG);
* tables in a table style (``mmrwe Table``: rules above and below the table and under the
  header) and a paragraph style (``mmrwe Table Text``), so rows added later look the same;
  column widths from the cell texts (a cell wraps at spaces, never cuts a word); a table too
  wide for a portrait page gets a landscape section of its own.

The file is reproducible: fixed core properties, and the zip is rewritten with fixed
timestamps and the original member order.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import struct
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from docx import Document as new_docx
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.part import Part
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Cm, Emu, Pt, RGBColor

from mmrwe.core.fileio import atomic_write
from mmrwe.figures.style import DPI_PNG, figure_png, figure_svg_file, text_width_in
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
from mmrwe.tables.model import Cell, TableModel, XRef, text_of
from mmrwe.tables.model import Part as TextPart

FONT = "Arial"
BODY_PT = 10
TABLE_PT = 8.5
NOTE_PT = 8
TABLE_STYLE = "mmrwe Table"
TABLE_TEXT_STYLE = "mmrwe Table Text"
PAGE_W_CM, PAGE_H_CM, MARGIN_CM = 21.0, 29.7, 2.0
PORTRAIT_CM = PAGE_W_CM - 2 * MARGIN_CM  # 17 cm of text width
LANDSCAPE_CM = PAGE_H_CM - 2 * MARGIN_CM
_CELL_PAD_CM = 0.35  # cell margins plus a little air
# Tables are kept together on one page when they are shorter than this many rows.
_KEEP_TOGETHER_ROWS = 40
_SVG_EXT_URI = "{96DAC541-7B7A-43D3-8B79-37D633B846F1}"
_FIXED_TIME = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # no wall clock in outputs
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_ALIGN = {
    "left": WD_ALIGN_PARAGRAPH.LEFT,
    "right": WD_ALIGN_PARAGRAPH.RIGHT,
    "center": WD_ALIGN_PARAGRAPH.CENTER,
}
_WARN = RGBColor(0xA3, 0x3B, 0x00)


# --- fields and bookmarks -----------------------------------------------------------------------


def _run(p: Any, text: str = "", *, size: float | None = None, bold: bool | None = None) -> Any:
    r = p.add_run(text)
    if size is not None:
        r.font.size = Pt(size)
    if bold is not None:
        r.bold = bold
    return r


def _fld_char(p: Any, kind: str, *, size: float | None, bold: bool | None) -> None:
    r = _run(p, size=size, bold=bold)
    el = OxmlElement("w:fldChar")
    el.set(qn("w:fldCharType"), kind)
    r._r.append(el)


def add_field(
    p: Any, instr: str, result: str, *, size: float | None = None, bold: bool | None = None
) -> None:
    """A complex field (``PAGE``, ``SEQ Table \\* ARABIC``, ``REF _Ref1 \\h``) whose cached
    result is ``result``: readers that do not update fields still show the right text."""
    _fld_char(p, "begin", size=size, bold=bold)
    r = _run(p, size=size, bold=bold)
    it = OxmlElement("w:instrText")
    it.set(qn("xml:space"), "preserve")
    it.text = f" {instr} "
    r._r.append(it)
    _fld_char(p, "separate", size=size, bold=bold)
    _run(p, result, size=size, bold=bold)
    _fld_char(p, "end", size=size, bold=bold)


def bookmark_name(target: str) -> str:
    """Word bookmark of a caption: ``_Ref`` + letters and digits (hidden, at most 40 chars)."""
    return ("_Ref_" + re.sub(r"[^A-Za-z0-9]", "_", target))[:40]


class _Bookmarks:
    def __init__(self) -> None:
        self.next_id = 1

    def wrap(self, p: Any, name: str, start_index: int) -> None:
        """Bookmark the runs of ``p`` from child ``start_index`` to its end."""
        start = OxmlElement("w:bookmarkStart")
        start.set(qn("w:id"), str(self.next_id))
        start.set(qn("w:name"), name)
        end = OxmlElement("w:bookmarkEnd")
        end.set(qn("w:id"), str(self.next_id))
        self.next_id += 1
        children = list(p._p)
        anchor = children[start_index] if start_index < len(children) else None
        if anchor is None:
            p._p.append(start)
        else:
            anchor.addprevious(start)
        p._p.append(end)


def _caption(
    doc: Any, kind: str, number: int | None, title: str, target: str, marks: _Bookmarks
) -> Any:
    """``Table 3. Title`` in the Caption style: bookmarked "Table 3" with a SEQ field."""
    p = doc.add_paragraph(style="Caption")
    start = len(p._p)
    _run(p, f"{kind} ", bold=True)
    add_field(p, f"SEQ {kind} \\* ARABIC", str(number or ""), bold=True)
    marks.wrap(p, bookmark_name(target), start)
    _run(p, ". ", bold=True)
    _run(p, title)
    return p


def _add_parts(p: Any, parts: Sequence[TextPart], *, size: float | None = None) -> None:
    """Text runs; a reference to a table or figure becomes a REF field to its caption."""
    buf = ""
    for part in parts:
        if isinstance(part, XRef) and part.text:
            if buf:
                _run(p, buf, size=size)
                buf = ""
            add_field(p, f"REF {bookmark_name(part.target)} \\h", part.text, size=size)
        else:
            buf += part if isinstance(part, str) else part.text
    if buf:
        _run(p, buf, size=size)


# --- styles --------------------------------------------------------------------------------------


def _add_styles(doc: Any) -> None:
    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(BODY_PT)
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)
    for name in ("Title", "Heading 1", "Heading 2", "Heading 3"):
        st = doc.styles[name]
        st.font.name = FONT
        st.font.color.rgb = RGBColor(0x1A, 0x1A, 0x1A)
    doc.styles["Title"].font.size = Pt(20)
    cap = doc.styles["Caption"]
    cap.font.name = FONT
    cap.font.size = Pt(9)
    cap.font.italic = False
    cap.font.bold = False
    cap.font.color.rgb = RGBColor(0x1A, 0x1A, 0x1A)
    cap.paragraph_format.space_before = Pt(6)
    cap.paragraph_format.space_after = Pt(4)

    text = doc.styles.add_style(TABLE_TEXT_STYLE, WD_STYLE_TYPE.PARAGRAPH)
    text.base_style = normal
    text.font.size = Pt(TABLE_PT)
    pf = text.paragraph_format
    pf.space_before = Pt(1)
    pf.space_after = Pt(1)
    pf.line_spacing = 1.0

    # A three-line table as a style: what Word keeps when rows are added or moved.
    style = doc.styles.add_style(TABLE_STYLE, WD_STYLE_TYPE.TABLE)
    style.element.append(
        parse_xml(
            f"<w:tblPr {nsdecls('w')}>"
            '<w:tblBorders><w:top w:val="single" w:sz="12" w:space="0" w:color="1A1A1A"/>'
            '<w:left w:val="nil"/><w:bottom w:val="single" w:sz="12" w:space="0" w:color="1A1A1A"/>'
            '<w:right w:val="nil"/><w:insideH w:val="nil"/><w:insideV w:val="nil"/></w:tblBorders>'
            '<w:tblCellMar><w:left w:w="85" w:type="dxa"/><w:right w:w="85" w:type="dxa"/>'
            "</w:tblCellMar></w:tblPr>"
        )
    )
    style.element.append(
        parse_xml(
            f'<w:tblStylePr {nsdecls("w")} w:type="firstRow"><w:rPr><w:b/></w:rPr>'
            '<w:tcPr><w:tcBorders><w:bottom w:val="single" w:sz="8" w:space="0" w:color="1A1A1A"/>'
            "</w:tcBorders></w:tcPr></w:tblStylePr>"
        )
    )


def _set_cell_border(cell: Any, **edges: str) -> None:
    """Borders of a cell, e.g. ``bottom="single:8"`` (style:eighths of a point)."""
    tc_pr = cell._tc.get_or_add_tcPr()
    borders = tc_pr.find(qn("w:tcBorders"))
    if borders is None:
        borders = OxmlElement("w:tcBorders")
        tc_pr.append(borders)
    for edge in ("top", "left", "bottom", "right"):
        if edge not in edges:
            continue
        style, size = edges[edge].split(":")
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), style)
        el.set(qn("w:sz"), size)
        el.set(qn("w:space"), "0")
        el.set(qn("w:color"), "1A1A1A")
        borders.append(el)


def _shade(el: Any, fill: str) -> None:
    pr = el.get_or_add_pPr() if hasattr(el, "get_or_add_pPr") else el.get_or_add_tcPr()
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    pr.append(shd)


def _row_flag(row: Any, tag: str) -> None:
    tr_pr = row._tr.get_or_add_trPr()
    el = OxmlElement(tag)
    if tag == "w:tblHeader":
        el.set(qn("w:val"), "true")
    tr_pr.append(el)


# --- tables --------------------------------------------------------------------------------------


def _cell_text(c: Cell) -> str:
    return c.text + "".join(c.marks)


def _wants(t: TableModel) -> tuple[list[float], list[float]]:
    """Per column: the width (cm) of its longest text on one line, and of its longest word."""
    n = t.n_cols
    want = [1.0] * n
    word = [0.8] * n
    for cells in [*t.header, *(r.cells for r in t.rows)]:
        for j, c in _positions(cells):
            if c.colspan != 1 or j >= n:
                continue
            text = _cell_text(c)
            bold = c.bold or c.role == "header"
            pad = _CELL_PAD_CM + 0.35 * c.indent
            want[j] = max(want[j], _text_cm(text, bold) + pad)
            word[j] = max(word[j], max((_text_cm(w, bold) for w in text.split()), default=0) + pad)
    return want, word


def column_widths(t: TableModel, total_cm: float) -> list[float] | None:
    """Column widths (cm) from the texts: every column at least as wide as its longest word,
    the rest shared by need. None when even the words do not fit ``total_cm``."""
    want, word = _wants(t)
    n = len(want)
    if sum(word) > total_cm:
        return None
    if sum(want) <= total_cm:
        extra = total_cm - sum(want)
        # labels first: the first column takes the spare room, up to half of the table
        first = min(extra, max(0.0, 0.5 * total_cm - want[0]))
        out = [want[0] + first, *want[1:]]
        rest = total_cm - sum(out)
        return [w + rest / n for w in out]
    # shrink towards the longest word, in proportion to how much each column can give
    give = [w - m for w, m in zip(want, word, strict=True)]
    f = (sum(want) - total_cm) / sum(give) if sum(give) > 0 else 0.0
    return [w - f * g for w, g in zip(want, give, strict=True)]


def needs_landscape(t: TableModel) -> bool:
    """A table whose words do not fit the portrait width, or with five or more columns whose
    texts want far more than it (cells of many lines), is set on a landscape page."""
    if column_widths(t, PORTRAIT_CM) is None:
        return True
    want, _ = _wants(t)
    return t.n_cols >= 5 and sum(want) > 1.6 * PORTRAIT_CM


def _text_cm(text: str, bold: bool = False) -> float:
    """Printed width in cm of ``text`` at the table font size, measured in DejaVu Sans: wider
    than Arial and Liberation Sans, so a column sized by it holds the text in Word too."""
    return text_width_in(text, TABLE_PT, bold) * 2.54


def _positions(cells: Sequence[Cell]) -> list[tuple[int, Cell]]:
    out, j = [], 0
    for c in cells:
        out.append((j, c))
        j += c.colspan
    return out


def _set_style(p: Any, name: str) -> None:
    """``p.style = name``, with the style id looked up once per document: python-docx
    scans every style of the document at each assignment (0.4 s for a report's tables)."""
    part = p.part
    ids: dict[str, str | None] | None = getattr(part, "_mmrwe_style_ids", None)
    if ids is None:
        ids = {}
        part._mmrwe_style_ids = ids
    if name not in ids:
        ids[name] = part.get_style_id(part.styles[name], WD_STYLE_TYPE.PARAGRAPH)
    style_id = ids[name]
    if style_id is None:  # the default style: no pStyle element, as python-docx writes it
        p.style = None
    else:
        p._p.get_or_add_pPr().style = style_id


def _fill_cell(cell: Any, c: Cell, *, bold: bool = False) -> None:
    p = cell.paragraphs[0]
    _set_style(p, TABLE_TEXT_STYLE)
    p.alignment = _ALIGN[c.align]
    if c.indent:
        p.paragraph_format.left_indent = Cm(0.35 * c.indent)
    run = p.add_run(c.text)
    if bold or c.bold or c.role == "header":
        run.bold = True
    for m in c.marks:
        p.add_run(m).font.superscript = True


def _add_table(doc: Any, t: TableModel, width_cm: float, marks: _Bookmarks) -> None:
    cap = _caption(doc, "Table", t.number, text_of(t.title), t.id, marks)
    cap.paragraph_format.keep_with_next = True
    n_cols = t.n_cols
    all_rows = [*t.header, *(row.cells for row in t.rows)]
    table = doc.add_table(rows=len(all_rows), cols=n_cols)
    table.style = doc.styles[TABLE_STYLE]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    widths = [Cm(w) for w in (column_widths(t, width_cm) or [width_cm / n_cols] * n_cols)]
    for column, w in zip(table.columns, widths, strict=True):
        column.width = w  # the grid (LibreOffice and Word layout read it)
    n_head = len(t.header)
    head_cells: list[Any] = []
    # table.cell(r, c) rescans the whole table: take each row's cells once (before merging)
    keep = len(all_rows) <= _KEEP_TOGETHER_ROWS
    for ri, (row, cells) in enumerate(zip(table.rows, all_rows, strict=True)):
        _row_flag(row, "w:cantSplit")
        if ri < n_head:
            _row_flag(row, "w:tblHeader")  # repeated on every page the table runs over
        row_cells = list(row.cells)
        if ri == n_head - 1:
            head_cells = row_cells
        for cell, w in zip(row_cells, widths, strict=True):
            cell.width = w  # Word reads widths per cell
        kind = t.rows[ri - n_head].kind if ri >= n_head else "header"
        for col, c in _positions(cells):
            cell = row_cells[col]
            if c.colspan > 1:
                cell = cell.merge(row_cells[col + c.colspan - 1])
            _fill_cell(cell, c, bold=kind == "section")
            # "keep with next" on every row but the last keeps a short table on one page
            # (and a long one's header with its first rows)
            if (keep and ri < len(all_rows) - 1) or ri < n_head + 2:
                for par in cell.paragraphs:
                    par.paragraph_format.keep_with_next = True
            if kind == "section":
                _shade(cell._tc, "F2F4F7")
    # the style rules the first row; a second header row (a spanner above) gets its own rule
    if n_head > 1:
        for cell in head_cells:
            _set_cell_border(cell, bottom="single:8")
    for f in t.footnotes:
        p = doc.add_paragraph()
        _set_style(p, TABLE_TEXT_STYLE)
        if f.mark:
            m = p.add_run(f.mark + " ")
            m.font.superscript = True
        _add_parts(p, f.parts, size=NOTE_PT)
    doc.add_paragraph().paragraph_format.space_after = Pt(2)


# --- figures -------------------------------------------------------------------------------------


def _png_size_in(png: bytes, dpi: int) -> tuple[float, float]:
    w, h = struct.unpack(">II", png[16:24])
    return w / dpi, h / dpi


def _attach_svg(doc: Any, run: Any, svg: bytes) -> None:
    """Add the SVG beside the PNG of ``run``'s picture (Word 2016+ draws the SVG)."""
    partname = doc.part.package.next_partname("/word/media/image%d.svg")
    part = Part(partname, "image/svg+xml", svg, doc.part.package)
    rid = doc.part.relate_to(part, RT.IMAGE)
    blip = run._r.find(".//" + qn("a:blip"))
    ext_lst = parse_xml(
        f'<a:extLst {nsdecls("a", "r")}><a:ext uri="{_SVG_EXT_URI}">'
        '<asvg:svgBlip xmlns:asvg="http://schemas.microsoft.com/office/drawing/2016/SVG/main" '
        f'r:embed="{rid}"/></a:ext></a:extLst>'
    )
    blip.append(ext_lst)


def _add_figure(
    doc: Any, d: Document, b: FigureBlock, max_width_in: float, marks: _Bookmarks, dpi: int
) -> None:
    fig = d.figure(b)
    png = figure_png(fig, dpi)
    w_in, _ = _png_size_in(png, dpi)
    p = doc.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p.paragraph_format.keep_with_next = True
    p.paragraph_format.space_before = Pt(8)
    run = p.add_run()
    run.add_picture(io.BytesIO(png), width=Emu(int(min(w_in, max_width_in) * 914400)))
    _attach_svg(doc, run, figure_svg_file(fig))
    cap = _caption(doc, "Figure", b.number, "", b.id, marks)
    _add_parts(cap, b.caption)
    cap.paragraph_format.space_after = Pt(10)


# --- sections ------------------------------------------------------------------------------------


def _page(section: Any, landscape: bool) -> None:
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    w, h = (PAGE_H_CM, PAGE_W_CM) if landscape else (PAGE_W_CM, PAGE_H_CM)
    section.page_width, section.page_height = Cm(w), Cm(h)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(MARGIN_CM))


def _footer(section: Any) -> None:
    p = section.footer.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(p, "Page ", size=NOTE_PT)
    add_field(p, "PAGE", "1", size=NOTE_PT)
    _run(p, " of ", size=NOTE_PT)
    add_field(p, "NUMPAGES", "1", size=NOTE_PT)


def build_docx(d: Document, *, png_dpi: int = DPI_PNG) -> bytes:
    """Render the document to .docx bytes (deterministic)."""
    doc = new_docx()
    sec = doc.sections[0]
    _page(sec, landscape=False)
    max_width_in = PORTRAIT_CM / 2.54
    _add_styles(doc)
    marks = _Bookmarks()

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
    _footer(sec)

    doc.add_paragraph(d.title, style="Title")
    if d.subtitle:
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
            _add_parts(p, b.parts)
        elif isinstance(b, TableBlock):
            if needs_landscape(b.table):
                # a section of its own, landscape, then back to portrait (headers and
                # footers follow: new sections link to the previous ones)
                _page(doc.add_section(WD_SECTION.NEW_PAGE), landscape=True)
                _add_table(doc, b.table, LANDSCAPE_CM, marks)
                _page(doc.add_section(WD_SECTION.NEW_PAGE), landscape=False)
            else:
                _add_table(doc, b.table, PORTRAIT_CM, marks)
        elif isinstance(b, FigureBlock):
            _add_figure(doc, d, b, max_width_in, marks, png_dpi)
    end = doc.add_paragraph()
    r = end.add_run(
        "Generated by mmrwe from results.json only; numbers rounded for display (half away from zero)."
    )
    r.font.size = Pt(NOTE_PT)
    buf = io.BytesIO()
    doc.save(buf)
    return _normalize_zip(buf.getvalue())


def _normalize_zip(data: bytes) -> bytes:
    """Same content -> same bytes: fixed timestamps and permissions, original member order.

    PNG images are stored as they are: they are compressed already, and deflating them
    again gains about 1% for a quarter of the time of writing the file.
    """
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            png = info.filename.lower().endswith(".png")
            zi.compress_type = zipfile.ZIP_STORED if png else zipfile.ZIP_DEFLATED
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
