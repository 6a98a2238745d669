"""Report parts of the comparative analyses: every number traces to results.json; the love
plot and the weighted KM figure draw the stored numbers (raw at-risk counts under the curves,
weighted ones in the table); E-values in the Cox table; the TARGET table."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from report_helpers import DIGIT

import mmrwe
from mmrwe.report.document import build_document
from mmrwe.tables.comparative import balance_order, comparative_tables
from mmrwe.tables.format import render_value
from mmrwe.tables.model import Ref, resolve, text_of

ROTTERDAM = Path(__file__).resolve().parents[1] / "e2e" / "rotterdam" / "study.toml"
NUM = re.compile(r"\d+(?:\.\d+)?")
LITERAL_OK = re.compile(r"Model \d+|below 0\.001 print as <0\.001|SHA-256|95% CI |95% interval")


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    return mmrwe.Study.from_toml(ROTTERDAM).run().to_dict()


@pytest.fixture(scope="module")
def doc(results):
    return build_document(results)


def _check(parts, results):
    for p in parts:
        if isinstance(p, Ref):
            value = resolve(results, p.path)
            if p.fmt != "key":
                assert render_value(value, p.fmt, 0) == p.text, p


def test_comparative_tables_trace_every_number(results, doc):
    ids = {t.id for t in doc.tables}
    assert {"iptw", "balance", "iptw_km", "maic", "target"} <= ids
    for t in doc.tables:
        if t.id not in ("iptw", "balance", "iptw_km", "maic", "target"):
            continue
        for f in t.footnotes:
            _check(f.parts, results)
        for row in t.rows:
            for c in row.cells:
                _check(c.parts, results)
                if c.role == "value":
                    literal = "".join(p for p in c.parts if isinstance(p, str))
                    assert not DIGIT.search(literal), (t.id, c.text)


def test_comparative_prose_prints_only_numbers_from_results(results, doc):
    paras = [p for p in doc.paragraphs if any(
        k in text_of(p.parts) for k in ("Weighting for", "Weighted to the published", "inverse probability"))]  # fmt: skip
    assert len(paras) >= 3
    for para in paras:
        _check(para.parts, results)
        for p in para.parts:
            if isinstance(p, str):
                assert not NUM.search(LITERAL_OK.sub("", p)), p


def test_balance_rows_follow_the_spec_and_the_declared_levels(results):
    from mmrwe.tables.build import source_of

    order = balance_order(source_of(results), 0)
    assert order[:2] == ["age", "meno"]
    # size declared as ["<=20", "20-50", ">50"] in [variables.size]
    assert order[2:5] == ["size=<=20", "size=20-50", "size=>50"]


def test_love_plot_and_weighted_km_draw_the_stored_numbers(results, doc):
    love = next(b for b in doc.figure_blocks if b.id == "fig-love-0")
    fig = doc.figure(love)
    ax = fig.axes[0]
    before, after = (c.get_offsets()[:, 0] for c in ax.collections[:2])
    bal = results["iptw"][0]["balance"]
    from mmrwe.tables.build import source_of

    keys = balance_order(source_of(results), 0)
    # top to bottom = table order; absolute values
    assert list(before) == pytest.approx([abs(bal[k]["smd_before"]) for k in keys])
    assert list(after) == pytest.approx([abs(bal[k]["smd_after"]) for k in keys])
    km = next(b for b in doc.figure_blocks if b.id == "fig-km-iptw-0")
    texts = [t.get_text() for ax in doc.figure(km).axes for t in ax.texts]
    raw = results["iptw"][0]["km"]["yes"]["risk_table"]["n_risk"]
    weighted = results["iptw"][0]["km"]["yes"]["risk_table"]["weighted_n_risk"]
    assert [str(v) for v in raw] == [t for t in texts if t in {str(v) for v in raw}][: len(raw)]
    # the weighted numbers at risk are not printed under the curves (they are in the table)
    assert not any(t == f"{weighted[1]:.1f}" for t in texts)
    assert "weighted numbers at risk are in" in text_of(km.caption)


def test_target_table_without_text_says_not_stated(results):
    tables = comparative_tables(results)
    rows = {r.cells[0].text: r for r in tables["target"].rows}
    assert rows["Start of follow-up (time zero)"].cells[1].text == "not stated"
    assert "start_date" in rows["Start of follow-up (time zero)"].cells[2].text
    assert "ATE" in rows["Causal contrast (estimand)"].cells[2].text


def test_demo_cox_table_shows_evalues(demo_run):
    import json

    r = json.loads((demo_run / "results.json").read_text())
    tables = build_document(r).tables
    cox = next(t for t in tables if t.id == "cox")
    assert cox.header[0][-1].text == "E-value (CI)"
    hgb = next(row for row in cox.rows if row.cells[0].text.startswith("Hemoglobin at IsaPd"))
    ev = r["cox"][0]["coefficients"]["hgb"]["evalue"]
    want = f"{render_value(ev['point'], 'num:2')} ({render_value(ev['ci'], 'num:2')})"
    assert hgb.cells[-1].text == want
    assert any("E-value" in f.text for f in cox.footnotes)
    imp = next(t for t in tables if t.id == "imputation")
    assert [r.cells[0].text for r in imp.rows if r.kind == "data"] == [
        "FISH cytogenetic risk: high", "FISH cytogenetic risk: high"]  # fmt: skip
