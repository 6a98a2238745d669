"""report.docx re-read with python-docx: real tables equal to the TableModel and to results.json,
SEQ captions and REF cross-references, PAGE fields, SVG figures with 300 dpi PNG fallbacks, table
styles, landscape sections, SYNTHETIC notice, reproducible bytes."""

from __future__ import annotations

import io
import struct
import zipfile

import docx
import pytest
from docx.oxml.ns import qn
from report_helpers import load_results, unique_docx_row_texts

from mmrwe.report import render_docx
from mmrwe.report.document import build_document
from mmrwe.tables.format import fmt_num, fmt_p


@pytest.fixture(scope="module")
def results(demo_run):
    return load_results(demo_run)


@pytest.fixture(scope="module")
def word(demo_run):
    return docx.Document(str(demo_run / "report.docx"))


def _tables_by_caption(word):
    """Caption text -> python-docx table (the caption paragraph precedes each table)."""
    body = word.element.body
    out, last_caption = {}, None
    tables = iter(word.tables)
    for el in body.iterchildren():
        tag = el.tag.rsplit("}", 1)[1]
        if tag == "p":
            text = "".join(
                t.text or ""
                for t in el.iter("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}t")
            )
            if text.startswith("Table "):
                last_caption = text
        elif tag == "tbl":
            out[last_caption] = next(tables)
    return out


def test_docx_tables_equal_the_table_model(word, results):
    doc = build_document(results)
    by_caption = _tables_by_caption(word)
    assert len(word.tables) == len(doc.tables)
    for t in doc.tables:
        table = by_caption[t.caption]
        got = [unique_docx_row_texts(r) for r in table.rows]
        expected = [[c.text + "".join(c.marks) for c in r] for r in t.header]
        expected += [[c.text + "".join(c.marks) for c in r.cells] for r in t.rows]
        assert got == expected, t.id


def test_docx_numbers_equal_results_json(word, results):
    tabs = {cap.split(". ", 1)[1]: tab for cap, tab in _tables_by_caption(word).items()}

    def rows(name):
        return {unique_docx_row_texts(r)[0]: unique_docx_row_texts(r)[1:] for r in tabs[name].rows}

    surv = rows("Survival summary")
    pfs, os_ = results["endpoints"]["PFS"], results["endpoints"]["OS"]
    med = surv["Median, months (95% CI)"]
    assert (
        med[0]
        == f"{fmt_num(pfs['median']['estimate'])} ({fmt_num(pfs['median']['lower'])}\u2013{fmt_num(pfs['median']['upper'])})"
    )
    assert med[1].startswith(fmt_num(os_["median"]["estimate"]))
    # one column per endpoint, in display order (the demo adds DoR and TTNT)
    eps = [e for e in ("PFS", "OS", "TTP", "DoR", "TTNT", "PFS2") if e in results["endpoints"]]
    assert surv["Events, n"] == [str(results["endpoints"][e]["events"]) for e in eps]
    assert surv["12-month rate, % (95% CI)"][0].startswith(
        fmt_num(100 * pfs["landmarks"]["12"]["surv"])
    )

    resp = rows("Best response and response rates")
    orr = next(p for p in results["proportions"] if p["name"] == "ORR")
    orr_row = next(v for k, v in resp.items() if k.startswith("ORR"))
    assert orr_row[0] == f"{orr['successes']}/{orr['n']} ({fmt_num(100 * orr['estimate'])}%)"
    assert resp["PR"][0].startswith(str(results["response"]["counts"]["PR"]) + " (")

    cox = [unique_docx_row_texts(r) for r in tabs["Cox proportional-hazards models"].rows]
    start = next(i for i, r in enumerate(cox) if r[0].startswith("Model 3:"))
    high = next(r for r in cox[start:] if r[0] == "high")
    c = results["cox"][2]["coefficients"]["fish_risk=high"]
    assert high[1] == str(results["cox"][2]["term_info"]["fish_risk"]["n_per_level"]["high"])
    assert high[2:4] == [
        f"{fmt_num(c['hr'], 2)} ({fmt_num(c['lower'], 2)}\u2013{fmt_num(c['upper'], 2)})",
        fmt_p(c["p"]),
    ]

    t1 = rows(next(k for k in tabs if k.startswith("Baseline characteristics")))
    sex = next(r for r in results["table1"]["rows"] if r["variable"] == "sex")
    assert (
        t1["F"][0]
        == f"{sex['overall']['counts']['F']} ({fmt_num(sex['overall']['percent']['F'])}%)"
    )


def test_docx_figures_are_300_dpi_pngs(demo_run, results):
    doc = build_document(results)
    z = zipfile.ZipFile(demo_run / "report.docx")
    pngs = [n for n in z.namelist() if n.startswith("word/media/") and n.endswith(".png")]
    assert len(pngs) == len(doc.figure_blocks)
    for name in pngs:
        data = z.read(name)
        w, _h = struct.unpack(">II", data[16:24])
        i = data.find(b"pHYs")
        ppm_x = struct.unpack(">I", data[i + 4 : i + 8])[0]
        assert round(ppm_x * 0.0254) == 300, name
        assert w >= 1500, name  # about 6 inches at 300 dpi


def test_docx_says_synthetic(word):
    body = "\n".join(p.text for p in word.paragraphs)
    assert "SYNTHETIC DATA." in body
    header = "\n".join(p.text for p in word.sections[0].header.paragraphs)
    assert "SYNTHETIC DATA" in header
    assert word.core_properties.title.startswith("[SYNTHETIC]")


def test_docx_is_reproducible(demo_run, results):
    a = (demo_run / "report.docx").read_bytes()
    b = render_docx(results)
    za, zb = zipfile.ZipFile(io.BytesIO(a)), zipfile.ZipFile(io.BytesIO(b))
    assert za.read("word/document.xml") == zb.read("word/document.xml")
    assert {i.date_time for i in za.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert a == b


W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _instr(el):
    return [t.text.strip() for t in el.iter(f"{W}instrText")]


def test_captions_are_numbered_seq_fields_with_bookmarks(word, results):
    doc = build_document(results)
    body = word.element.body
    instr = _instr(body)
    assert instr.count("SEQ Table \\* ARABIC") == len(doc.tables)
    assert instr.count("SEQ Figure \\* ARABIC") == len(doc.figure_blocks)
    caps = [p for p in word.paragraphs if p.style.name == "Caption"]
    assert len(caps) == len(doc.tables) + len(doc.figure_blocks)  # one caption each
    expected = [f"Table {t.number}. " for t in doc.tables] + [
        f"{b.label}. " for b in doc.figure_blocks
    ]
    assert sorted(c.text[: c.text.index(". ") + 2] for c in caps) == sorted(expected)
    names = {b.get(f"{W}name") for b in body.iter(f"{W}bookmarkStart")}
    for ref in (i for i in instr if i.startswith("REF ")):
        assert ref.split()[1] in names, ref  # every cross-reference has its caption bookmark


def test_footer_has_page_fields(word):
    for section in word.sections:
        instr = _instr(section.footer._element)
        assert "PAGE" in instr and "NUMPAGES" in instr


def test_figures_are_svg_with_png_fallback(demo_run, word, results):
    doc = build_document(results)
    z = zipfile.ZipFile(demo_run / "report.docx")
    svgs = [n for n in z.namelist() if n.startswith("word/media/") and n.endswith(".svg")]
    assert len(svgs) == len(doc.figure_blocks)
    assert "image/svg+xml" in z.read("[Content_Types].xml").decode()
    blips = list(
        word.element.body.iter("{http://schemas.openxmlformats.org/drawingml/2006/main}blip")
    )
    assert len(blips) == len(doc.figure_blocks)
    rels = word.part.rels
    for blip in blips:
        png = rels[blip.get(qn("r:embed"))].target_part
        svg_el = next(
            blip.iter("{http://schemas.microsoft.com/office/drawing/2016/SVG/main}svgBlip")
        )
        svg = rels[svg_el.get(qn("r:embed"))].target_part
        assert png.content_type == "image/png" and svg.content_type == "image/svg+xml"
        text = svg.blob.decode()
        assert "<image" not in text and "<text" in text  # vector, text kept as text


def test_tables_use_the_table_style(word):
    style = word.styles["mmrwe Table"]
    assert style.element.find(f"{W}tblPr/{W}tblBorders") is not None
    assert all(t.style.name == "mmrwe Table" for t in word.tables)
    cells = [c for t in word.tables for r in t.rows for c in r.cells]
    assert {p.style.name for c in cells for p in c.paragraphs} == {"mmrwe Table Text"}


def test_wide_table_gets_a_landscape_section():
    from mmrwe.report.document import Document, Heading, TableBlock
    from mmrwe.report.docx import build_docx, needs_landscape
    from mmrwe.tables.build import head, label, value
    from mmrwe.tables.model import TableModel

    long = "a long explanatory cell text that needs several lines of room"
    t = TableModel("wide", ("Wide table",)).with_header([head(f"Column {i}") for i in range(7)])
    for _ in range(3):
        t = t.with_row([label(long), *(value(long) for _ in range(6))])
    t = t.numbered(1)
    narrow = TableModel("narrow", ("Narrow",)).with_header([head("a"), head("b")]).numbered(2)
    narrow = narrow.with_row([label("x"), value("y")])
    assert needs_landscape(t) and not needs_landscape(narrow)
    d = Document("T", "", False, (Heading("H", 2, "h"), TableBlock(t), TableBlock(narrow)))
    w = docx.Document(io.BytesIO(build_docx(d)))
    orient = [s.orientation for s in w.sections]
    assert [int(o) for o in orient] == [0, 1, 0]  # portrait, landscape for the wide table, back
    assert w.sections[1].page_width > w.sections[1].page_height
    widths = [c.width for c in w.tables[0].rows[1].cells]
    assert (
        sum(widths)
        <= w.sections[1].page_width - w.sections[1].left_margin - w.sections[1].right_margin + 10
    )


def test_column_widths_hold_the_longest_word():
    from mmrwe.report.docx import _text_cm, column_widths
    from mmrwe.tables.build import head, label, value
    from mmrwe.tables.model import TableModel

    t = TableModel("v", ("V",)).with_header([head("Code"), head("Finding")])
    t = t.with_row([label("MML014"), value("PD reading on 2022-05-29 at the last assessment " * 3)])
    w = column_widths(t, 17.0)
    assert w is not None and abs(sum(w) - 17.0) < 1e-9
    assert w[0] >= _text_cm("MML014") + 0.3  # the code never breaks inside the word
