"""The Word writer's cached style assignment writes the XML python-docx writes, and PNG
images are stored (not deflated twice) with fixed member metadata."""

from __future__ import annotations

import io
import zipfile

import docx
import pytest
from docx.enum.style import WD_STYLE_TYPE

from mmrwe.report.docx import TABLE_TEXT_STYLE, _normalize_zip, _set_style


@pytest.mark.parametrize("name", ["Normal", "Caption", "Title", TABLE_TEXT_STYLE])
def test_set_style_writes_what_python_docx_writes(name: str) -> None:
    d = docx.Document()
    d.styles.add_style(TABLE_TEXT_STYLE, WD_STYLE_TYPE.PARAGRAPH)
    a, b = d.add_paragraph("x"), d.add_paragraph("x")
    a.style = name
    _set_style(b, name)
    _set_style(b, name)  # the cached id a second time
    assert a._p.xml == b._p.xml


def test_png_members_stored_others_deflated() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", "<w/>" * 100)
        z.writestr("word/media/image1.png", b"\x89PNG" + bytes(200))
    out = zipfile.ZipFile(io.BytesIO(_normalize_zip(buf.getvalue())))
    kinds = {i.filename: i.compress_type for i in out.infolist()}
    assert kinds == {"word/document.xml": zipfile.ZIP_DEFLATED,
                     "word/media/image1.png": zipfile.ZIP_STORED}  # fmt: skip
    assert _normalize_zip(buf.getvalue()) == _normalize_zip(buf.getvalue())
