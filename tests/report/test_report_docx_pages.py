"""report.docx printed by LibreOffice (headless) to PDF: page fields numbered, every word of every
table cell on the page (no text cut), every figure placed.

Needs ``soffice`` (libreoffice-writer-nogui or libreoffice-core) and poppler-utils
(``pdftotext``, ``pdfimages``); skipped with a reason when absent.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from report_helpers import load_results

from mmrwe.report.document import build_document

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
pytestmark = pytest.mark.skipif(
    SOFFICE is None or shutil.which("pdftotext") is None or shutil.which("pdfimages") is None,
    reason="LibreOffice (soffice) or poppler-utils not installed "
    "(apt-get install libreoffice-writer-nogui poppler-utils)",
)
TOKEN = re.compile(r"[^\s\u2013\-/]+")  # lines may break after a dash, a hyphen or a slash


@pytest.fixture(scope="module")
def printed(demo_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("docx-pdf")
    profile = out / "profile"
    subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(out),
            str(demo_run / "report.docx"),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    pdf = out / "report.pdf"
    pages = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout.split("\f")
    images = subprocess.run(
        ["pdfimages", "-list", str(pdf)], check=True, capture_output=True, text=True
    ).stdout.splitlines()[2:]
    return {"pdf": pdf, "pages": [p for p in pages if p.strip()], "images": images}


def test_every_page_is_numbered_by_the_footer_fields(printed):
    pages = printed["pages"]
    assert len(pages) >= 8
    for i, text in enumerate(pages, start=1):
        assert f"Page {i} of {len(pages)}" in text, i


def test_no_table_text_is_cut(printed, demo_run):
    doc = build_document(load_results(demo_run))
    words = set(TOKEN.findall("\n".join(printed["pages"])))
    for t in doc.tables:
        for cells in [*t.header, *(r.cells for r in t.rows)]:
            for c in cells:
                printed_text = c.text + "".join(c.marks)  # marks print as superscripts
                missing = [w for w in TOKEN.findall(printed_text) if w not in words]
                assert not missing, (t.id, c.text, missing)
        assert f"Table {t.number}." in words or f"{t.number}." in words


def test_every_figure_is_placed(printed, demo_run):
    doc = build_document(load_results(demo_run))
    placed = [ln for ln in printed["images"] if " image " in ln]
    assert len(placed) >= len(doc.figure_blocks)
    text = "\n".join(printed["pages"])
    for b in doc.figure_blocks:
        assert f"Figure {b.number}." in text
