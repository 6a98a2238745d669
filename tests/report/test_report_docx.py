"""report.docx re-read with python-docx: real tables equal to the TableModel and to results.json,
300 dpi figures, SYNTHETIC notice, reproducible bytes."""

from __future__ import annotations

import io
import struct
import zipfile

import docx
import pytest
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
    assert surv["Events, n"] == [str(pfs["events"]), str(os_["events"])]
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
