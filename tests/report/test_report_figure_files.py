"""Figure files (contract 5.3 ``[report] figure_formats``): stable names, vector PDF and SVG with
text kept as text and fonts embedded, LZW TIFF at the requested dpi, widths in mm."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import pytest
from PIL import Image
from report_helpers import load_results
from results_factory import minimal_results

from mmrwe.core.errors import RenderError
from mmrwe.figures.style import figure_pdf, figure_svg_file, figure_tiff, saved_size_in
from mmrwe.report import write_figures
from mmrwe.report.document import build_document
from mmrwe.report.figures import figure_captions, figure_document, figure_sizes_mm

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def written(demo_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("figs")
    files = write_figures(load_results(demo_run), out, formats=["pdf", "svg", "tiff"], dpi=150)
    return out, files


def _pdf_page_mm(data: bytes) -> tuple[float, float]:
    box = re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)
    assert box
    return float(box.group(1)) * 25.4 / 72, float(box.group(2)) * 25.4 / 72


def test_every_report_figure_is_written_under_a_stable_descriptive_name(written, demo_run):
    out, files = written
    doc = build_document(load_results(demo_run))
    names = {p.rsplit(".", 1)[0] for p in files}
    expected = {
        "flow",
        "best_response",
        "km_pfs",
        "km_os",
        "km_dor",  # the demo also shows DoR and TTNT
        "km_ttnt",
        "km_pfs_by_hgb_lt_11",
        "km_os_by_hgb_lt_11",
        "km_pfs_by_fish_risk",
        "km_os_by_fish_risk",
        "km_pfs_by_tcr",
        "km_pfs_by_sex_strata_center",
        "forest_cox",
        "cutpoint_pfs_hgb_maxstat",
        "cutpoint_pfs_hgb_youden",
        "cutpoint_os_hgb_maxstat",
        "km_pfs_by_center",
        "km_os_by_center",
        "forest_subgroups_pfs_hgb_lt_11",
        "cuminc_progression_by_tcr",
        "forest_finegray",
    } | {f"forest_cox_{i}" for i in range(1, 6)}
    assert names == expected
    assert {b.name for b in doc.figure_blocks} <= names  # the reports' figures, same names
    assert len(files) == 3 * len(expected)
    for name, path in files.items():
        assert path == out / "figures" / name and path.stat().st_size > 1000


def test_km_pdf_and_svg_are_vector_with_fonts_embedded(written):
    out, _ = written
    for name in ("km_pfs", "km_os_by_hgb_lt_11", "forest_cox"):
        pdf = (out / "figures" / f"{name}.pdf").read_bytes()
        assert b"/Subtype /Image" not in pdf  # no raster image (only paths and text)
        assert b"/FontFile2" in pdf  # TrueType embedded (pdf.fonttype 42)
        assert b"/Type3" not in pdf and b"CreationDate" not in pdf
        svg = ET.fromstring((out / "figures" / f"{name}.svg").read_bytes())
        assert not list(svg.iter(f"{SVG}image"))
        texts = [t.text for t in svg.iter(f"{SVG}text")]
        assert "Number at risk" in texts or name.startswith("forest")


def test_tiff_is_lzw_rgb_at_the_requested_dpi(written, demo_run):
    out, _ = written
    with Image.open(out / "figures" / "km_pfs.tiff") as im:
        assert im.info["dpi"] == pytest.approx((150, 150))
        assert im.info["compression"] == "tiff_lzw" and im.mode == "RGB"
        assert abs(im.size[0] - 170 / 25.4 * 150) <= 1  # 170 mm at 150 dpi
    doc = figure_document(load_results(demo_run))
    km = next(b for b in doc.figure_blocks if b.name == "km_pfs")
    with Image.open(io.BytesIO(figure_tiff(doc.figure(km), 600))) as im:
        assert im.info["dpi"] == pytest.approx((600, 600))
        assert abs(im.size[0] - 170 / 25.4 * 600) <= 1


def test_widths_fit_one_or_two_journal_columns(written, demo_run):
    out, _ = written
    assert _pdf_page_mm((out / "figures" / "km_pfs.pdf").read_bytes())[0] == pytest.approx(
        170, abs=0.1
    )
    one = figure_document(load_results(demo_run), width_mm=85)
    blocks = {b.name: b for b in (*one.figure_blocks, *one.exports)}
    for name in ("km_pfs", "km_pfs_by_hgb_lt_11", "km_pfs_by_center", "best_response"):
        assert saved_size_in(one.figure(blocks[name]))[0] * 25.4 == pytest.approx(85, abs=0.05)
    km = one.figure(blocks["km_pfs_by_hgb_lt_11"])
    assert _pdf_page_mm(figure_pdf(km))[0] == pytest.approx(85, abs=0.1)
    # figures with text columns keep a legible minimum instead of being cut or squeezed
    assert 85 <= saved_size_in(one.figure(blocks["forest_cox_5"]))[0] * 25.4 <= 100
    assert figure_sizes_mm  # (sizes of every file: figure_sizes_mm(doc))


def test_files_are_reproducible(written, demo_run):
    out, _ = written
    doc = figure_document(load_results(demo_run))  # a second, independent drawing
    blocks = {b.name: b for b in (*doc.figure_blocks, *doc.exports)}
    for name in ("km_pfs", "forest_cox_5"):
        fig = doc.figure(blocks[name])
        assert figure_pdf(fig) == (out / "figures" / f"{name}.pdf").read_bytes(), name
        assert figure_svg_file(fig) == (out / "figures" / f"{name}.svg").read_bytes(), name


def test_greyscale_and_bad_options(tmp_path):
    r = minimal_results()
    files = write_figures(r, tmp_path, formats=["svg"], palette="greyscale")
    for path in files.values():
        colours = set(re.findall(r"(?:stroke|fill): (#[0-9a-fA-F]{6})", path.read_text()))
        assert all(c[1:3] == c[3:5] == c[5:7] for c in (x.lower() for x in colours)), path
    with pytest.raises(RenderError, match="not supported"):
        write_figures(r, tmp_path, formats=["jpeg"])
    with pytest.raises(RenderError, match="figure_dpi"):
        write_figures(r, tmp_path, formats=["tiff"], dpi=20)
    with pytest.raises(RenderError, match="palette"):
        write_figures(r, tmp_path, formats=["svg"], palette="rainbow")


def test_captions_for_the_submission(demo_run):
    doc = figure_document(load_results(demo_run))
    caps = figure_captions(doc)
    assert caps["km_pfs"].startswith("Figure 3. Kaplan-Meier estimate of progression-free survival")
    assert caps["forest_cox_1"].startswith("Hazard ratios of Cox model 1")
    svg = figure_svg_file(doc.figure(doc.figure_blocks[0]))
    assert svg.startswith(b"<?xml") and b"<metadata>" not in svg
