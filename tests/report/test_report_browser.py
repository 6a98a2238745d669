"""report.html in headless Chromium: no console error, no network request, at-risk numbers
centred under their ticks as rendered, nothing clipped, prints to PDF; screenshot kept.

Needs Debian's ``chromium`` (installed by .ci/run); skipped with a reason when absent.
"""

from __future__ import annotations

import json

import pytest
from report_browser import Browser, find_chromium

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium not installed (apt-get install chromium; .ci/run does)",
)

# Rendered geometry of every KM figure: tick labels, at-risk numbers, x-axis label, header.
MEASURE = r"""
(() => {
  const box = el => { const r = el.getBoundingClientRect();
    return {l: r.left, r: r.right, t: r.top, b: r.bottom, cx: r.left + r.width / 2}; };
  const out = {};
  for (const fig of document.querySelectorAll('figure')) {
    const svg = fig.querySelector('svg');
    const texts = [...svg.querySelectorAll('text')].map(t => ({s: t.textContent, ...box(t)}));
    const entry = {svg: box(svg), role: fig.dataset.role, texts};
    if (fig.dataset.role && fig.dataset.role.startsWith('km')) {
      entry.ticks = [...svg.querySelectorAll('g[id*="-xtick_"] text')].map(t => ({s: t.textContent, ...box(t)}));
      entry.risk = [...svg.querySelectorAll('g[id*="-risk-"]')].map(g => ({id: g.id, s: g.textContent.trim(), ...box(g.querySelector('text'))}));
    }
    out[fig.id] = entry;
  }
  return JSON.stringify(out);
})()
"""


@pytest.fixture(scope="module")
def page(demo_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("report-browser")
    browser = Browser(CHROMIUM, out)
    try:
        url = (demo_run / "report.html").resolve().as_uri()
        browser.open(url, width=1000)
        geometry = json.loads(browser.evaluate(MEASURE))
        shot = out / "report-screenshot.png"
        size = browser.screenshot(shot, width=1000)
        pdf = browser.pdf(out / "report.pdf")
        pdf_path = out / "report.pdf"
        yield {
            "url": url,
            "errors": browser.console_errors(),
            "requests": browser.requests(),
            "geometry": geometry,
            "screenshot": shot,
            "size": size,
            "pdf": pdf,
            "pdf_path": pdf_path,
        }
    finally:
        browser.close()


def test_no_console_errors(page):
    assert page["errors"] == []


def test_no_external_requests(page):
    others = [u for u in page["requests"] if u != page["url"] and not u.startswith("data:")]
    assert others == []


def test_screenshot_written(page):
    data = page["screenshot"].read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = page["size"]
    assert width == 1000 and height > 5000
    print(f"\nscreenshot: {page['screenshot']}")


def test_at_risk_numbers_centred_under_ticks_as_rendered(page):
    kms = {k: v for k, v in page["geometry"].items() if v["role"] in ("km", "km-group")}
    assert len(kms) >= 2
    for fid, g in kms.items():
        ticks = g["ticks"]
        assert ticks and g["risk"]
        for cell in g["risk"]:
            j = int(cell["id"].rsplit("-", 1)[1])
            assert abs(cell["cx"] - ticks[j]["cx"]) < 1.0, (fid, cell, ticks[j])
            # below the axis, not overlapping the tick labels
            assert cell["t"] > ticks[j]["b"], (fid, cell)


def test_risk_table_is_close_to_the_axis(page):
    for fid, g in page["geometry"].items():
        if g["role"] not in ("km", "km-group"):
            continue
        xlabel = next(t for t in g["texts"] if t["s"].startswith("Time ("))
        header = next(t for t in g["texts"] if t["s"] == "Number at risk")
        fig_h = g["svg"]["b"] - g["svg"]["t"]
        # a legend placed below the plot (no room inside without covering a curve) sits
        # between the axis label and the table: measure from its last line
        between = [t["b"] for t in g["texts"] if xlabel["b"] <= t["t"] and t["b"] <= header["t"]]
        gap = header["t"] - max([xlabel["b"], *between])
        assert 0 < gap < 0.06 * fig_h, (fid, gap, fig_h)


def test_no_text_clipped_or_outside_its_figure(page):
    for fid, g in page["geometry"].items():
        svg = g["svg"]
        for t in g["texts"]:
            if not t["s"].strip():
                continue
            assert svg["l"] - 0.5 <= t["l"] and t["r"] <= svg["r"] + 0.5, (fid, t["s"])
            assert svg["t"] - 0.5 <= t["t"] and t["b"] <= svg["b"] + 0.5, (fid, t["s"])


def test_group_labels_do_not_touch_the_first_number(page):
    for fid, g in page["geometry"].items():
        if g["role"] != "km-group":
            continue
        firsts = [c for c in g["risk"] if c["id"].endswith("-0")]
        for c in firsts:
            row_labels = [
                t
                for t in g["texts"]
                if abs((t["t"] + t["b"]) / 2 - (c["t"] + c["b"]) / 2) < 2
                and t["r"] <= c["cx"]
                and t["s"] != c["s"]
            ]
            assert row_labels, (fid, c)
            assert max(t["r"] for t in row_labels) < c["l"] - 2, (fid, c)


def test_prints_to_pdf(page):
    pdf = page["pdf"]
    assert pdf[:5] == b"%PDF-"
    pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    assert 5 <= pages <= 40


def _words_per_page(pdf_path):
    """(page width, height, [(xMin, yMin, xMax, yMax, text)]) per page, from pdftotext -bbox."""
    import html
    import re
    import subprocess

    out = subprocess.run(
        ["pdftotext", "-bbox", str(pdf_path), "-"], check=True, capture_output=True, text=True
    ).stdout
    pages = []
    for m in re.finditer(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', out, re.S):
        words = [
            (float(a), float(b), float(c), float(d), html.unescape(t))
            for a, b, c, d, t in re.findall(
                r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
                m.group(3),
            )
        ]
        pages.append((float(m.group(1)), float(m.group(2)), words))
    return pages


@pytest.mark.skipif(
    __import__("shutil").which("pdftotext") is None,
    reason="poppler-utils (pdftotext) not installed",
)
def test_printed_synthetic_flag_is_on_every_page_and_overlaps_no_text(page):
    pages = _words_per_page(page["pdf_path"])
    assert len(pages) >= 5
    for k, (_w, _h, words) in enumerate(pages, start=1):
        top = min(w[1] for w in words)
        flag = [w for w in words if abs(w[1] - top) < 0.5]
        assert " ".join(w[4] for w in sorted(flag)) == "SYNTHETIC DATA \u2014 NOT PATIENT DATA", k
        x0, y0 = min(w[0] for w in flag), min(w[1] for w in flag)
        x1, y1 = max(w[2] for w in flag), max(w[3] for w in flag)
        for w in words:
            if w in flag:
                continue
            overlaps = w[0] < x1 and w[2] > x0 and w[1] < y1 and w[3] > y0
            assert not overlaps and w[1] >= y1, (k, w)  # every other word is below the flag
