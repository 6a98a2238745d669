"""report.html: self-contained, says SYNTHETIC, deterministic, and its tables are the TableModel."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from report_helpers import load_results

from mmrwe.report import render_html
from mmrwe.report.document import build_document


@pytest.fixture(scope="module")
def html(demo_run):
    return (demo_run / "report.html").read_text(encoding="utf-8")


class _Tables(HTMLParser):
    """Collects each <table>'s rows as lists of cell texts (th and td, colspans once)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None
        self._in_sup = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell = []
        elif tag == "sup":
            self._in_sup = True

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "sup":
            self._in_sup = False

    def handle_data(self, data):
        if self._cell is not None and not self._in_sup:
            self._cell.append(data)


def test_self_contained_no_network_no_script(html):
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    assert "@import" not in html
    # no resource fetched from anywhere: src/href only point inside the page
    for attr, url in re.findall(r'\b(src|href|xlink:href)="([^"]*)"', html):
        assert url.startswith("#"), (attr, url)
    assert not re.search(r"url\((?!#)", html)


def test_synthetic_is_said_prominently(html, demo_run):
    assert load_results(demo_run)["study"]["synthetic"] is True
    assert "<title>[SYNTHETIC]" in html
    head = html[: html.find("<main>")]
    assert "SYNTHETIC DATA." in head and "no real patient data" in head
    # repeated on every printed page, in the page margin (an @page margin box), never over text
    assert re.search(r"@page \{[^}]*@top-right \{ content: \"SYNTHETIC DATA", html)
    assert 'class="print-flag"' not in html  # the old position:fixed flag overlapped text


def test_html_tables_are_the_table_model(html, demo_run):
    doc = build_document(load_results(demo_run))
    parser = _Tables()
    parser.feed(html)
    assert len(parser.tables) == len(doc.tables)
    for got, t in zip(parser.tables, doc.tables, strict=True):
        expected = [[c.text for c in r] for r in t.header] + [
            [c.text for c in r.cells] for r in t.rows
        ]
        assert got == expected, t.id


def test_html_is_deterministic_and_reads_only_results(demo_run, html):
    from mmrwe.results import StudyResults

    r = StudyResults.read(demo_run / "results.json")
    assert render_html(r) == html  # a second render, from the file on disk: same bytes


def test_each_figure_has_numbered_caption_and_unique_ids(html):
    ids = re.findall(r'\bid="([^"]+)"', html)
    dupes = {i for i in ids if ids.count(i) > 1}
    assert not dupes, sorted(dupes)[:5]
    numbers = [
        int(n) for n in re.findall(r'<figcaption><span class="no">Figure (\d+)\.</span>', html)
    ]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 10
    tables = [int(n) for n in re.findall(r'<caption><span class="no">Table (\d+)\.</span>', html)]
    assert tables == list(range(1, len(tables) + 1))
    assert "Baseline characteristics" in html.split('<span class="no">Table 1.</span>')[1][:200]
