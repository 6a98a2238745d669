"""TableModel: every number in the report tables traces to results.json; display rounding;
small-cell rule; Table 1, log-rank order and labels."""

from __future__ import annotations

import copy
import re

import pytest
from report_helpers import DIGIT, load_results

from mmrwe.report.document import build_document
from mmrwe.tables import build_tables, resolve
from mmrwe.tables.format import fmt_count, fmt_num, fmt_p, fmt_sig, render_value
from mmrwe.tables.model import Cell, Ref, TableModel
from mmrwe.tables.text import methods_text, results_text


@pytest.fixture(scope="module")
def results(demo_run):
    return load_results(demo_run)


@pytest.fixture(scope="module")
def doc(results):
    return build_document(results)


def _check_refs(parts, results, k, where):
    for p in parts:
        if isinstance(p, Ref):
            value = resolve(results, p.path)  # KeyError = a number that is not in results.json
            if p.fmt == "key":  # the name of an entry (a landmark time such as "12")
                assert p.text == str(p.path[-1]), (where, p)
                continue
            assert render_value(value, p.fmt, k) == p.text, (where, p)


def test_every_number_in_the_tables_traces_to_results_json(results, doc):
    k = results["report_options"]["small_cell_k"]
    n_refs = 0
    for t in doc.tables:
        _check_refs(t.title, results, k, t.id)
        for hrow in t.header:
            for c in hrow:
                _check_refs(c.parts, results, k, (t.id, "header"))
        for f in t.footnotes:
            _check_refs(f.parts, results, k, (t.id, "footnote"))
        for row in t.rows:
            for c in row.cells:
                _check_refs(c.parts, results, k, (t.id, c.text))
                n_refs += len(c.refs)
                if c.role == "value":
                    literal = "".join(p for p in c.parts if isinstance(p, str))
                    # a digit in a statistic cell must come from results.json, not from code
                    assert not DIGIT.search(literal), (t.id, c.text)
    assert n_refs > 300


def test_every_number_in_the_text_traces_to_results_json(results, doc):
    from mmrwe.tables import source_of

    src = source_of(results)
    for title, parts in methods_text(src) + results_text(src):
        _check_refs(parts, results, src.k, title)
    for b in doc.figure_blocks:
        _check_refs(b.caption, results, src.k, b.id)


def test_display_rounding_is_half_away_from_zero():
    # Python's round() is half-even: round(0.125, 2) == 0.12, round(2.5) == 2
    assert fmt_num(0.125, 2) == "0.13"
    assert fmt_num(2.5, 0) == "3"
    assert fmt_num(-2.25, 1) == "-2.3"
    assert fmt_num(2.675, 2) == "2.68"  # as written, not as its binary value 2.67499...
    assert fmt_num(-0.04, 1) == "0.0"  # no negative zero
    assert fmt_num(None) == "NR"
    assert fmt_sig(11.6) == "11.6" and fmt_sig(118) == "118"
    assert fmt_p(0.00099) == "<0.001" and fmt_p(0.0005) == "<0.001" and fmt_p(0.0015) == "0.002"
    assert fmt_p(1.02) == ">0.999"  # Lau94 can exceed 1 in results.json
    assert render_value(0.5686274509803921, "pct:1") == "56.9"


def test_small_cell_rule_formatting():
    assert [fmt_count(n, 5) for n in (0, 1, 4, 5, 12)] == ["0", "<5", "<5", "5", "12"]
    assert [fmt_count(n, 0) for n in (0, 1, 4)] == ["0", "1", "4"]


def test_small_cell_rule_in_tables_text_and_figures(results):
    r = copy.deepcopy(results)
    r["report_options"]["small_cell_k"] = 5
    doc = build_document(r)
    shown = []
    for t in doc.tables:
        for c in (c for row in t.rows for c in row.cells):
            for p in c.refs:
                if p.fmt == "count":
                    v = resolve(r, p.path)
                    if 1 <= v < 5:
                        assert p.text == "<5", (t.id, c.text)
                        # no percentage next to a hidden count (it would reveal it)
                        assert "%" not in c.text, (t.id, c.text)
                        shown.append(c.text)
    assert shown, "the demo has counts below 5"
    t1 = next(t for t in doc.tables if t.id == "table1")
    assert any("<5" in c.text for row in t1.rows for c in row.cells)
    assert any(f.text.startswith("Counts from 1 to 4 are shown as <5") for f in t1.footnotes)
    # risk tables in the figures follow the same rule
    fig = next(b for b in doc.figure_blocks if b.role == "km-group")
    texts = [t.get_text() for ax in doc.figure(fig).axes for t in ax.texts]
    assert "<5" in texts and "1" not in texts and "2" not in texts


def test_table1_rows_missing_counts_and_tests(results):
    t = build_tables(results)["table1"]
    labels = [row.cells[0].text for row in t.rows]
    by = results["table1"]["by"]
    assert results["variables"][by]["label"] not in labels  # the column variable is not a row
    fish = labels.index("FISH cytogenetic risk")
    assert labels[fish + 1 : fish + 4] == ["standard", "high", "Missing"]
    missing = t.rows[fish + 3].cells
    assert [c.text for c in missing[1:4]] == ["23", "5", "18"]
    # each p value carries a mark explained in a footnote that names the test
    marks = {m for row in t.rows for c in row.cells for m in c.marks}
    notes = {f.mark: f.text for f in t.footnotes if f.mark}
    assert marks == set(notes)
    assert any("Wilcoxon" in v for v in notes.values()) and any(
        "Fisher" in v for v in notes.values()
    )
    # header: overall n and the group sizes
    assert [c.text for c in t.header[1]][1:4] == ["n = 51", "no (n = 13)", "yes (n = 38)"]


def test_logrank_rows_follow_levels_order(results):
    t = build_tables(results)["logrank"]
    sections = [i for i, r in enumerate(t.rows) if r.kind == "subhead"]
    for lr, start in zip(results["logrank"], sections, strict=True):
        shown = [t.rows[start + 1 + j].cells[0].text for j in range(len(lr["levels"]))]
        assert shown == [lv.replace(">=", "\u2265").replace("<=", "\u2264") for lv in lr["levels"]]


def test_cutpoint_table_reports_adjusted_p_bootstrap_and_corrected_hr(results):
    t = build_tables(results)["cutpoints"]
    rows = {r.cells[0].text: [c.text for c in r.cells[1:]] for r in t.rows}
    c0 = results["cutpoints"][0]
    p_row = next(r for r in t.rows if r.cells[0].text == "p adjusted for the search")
    assert p_row.cells[1].text == fmt_p(c0["p_adjusted"])
    note = next(f for f in t.footnotes if f.mark == p_row.cells[1].marks[0])
    assert c0["p_adjusted_method"] in note.text
    assert rows["HR, optimism-corrected"][0] == fmt_num(c0["optimism"]["corrected_hr"], 2)
    assert rows["Bootstrap 95% interval of the cut-off"][0].startswith(
        f"{fmt_sig(c0['bootstrap']['lower'])}\u2013"
    )
    assert any(c0["summary"] in f.text for f in t.footnotes)


def test_table_model_builders_return_copies():
    t = TableModel("x", ("X",))
    t2 = t.with_row([Cell(("a",), role="label")])
    t3 = t2.with_footnote("note")
    assert (len(t.rows), len(t2.rows), len(t3.footnotes), len(t2.footnotes)) == (0, 1, 1, 0)
    with pytest.raises(AttributeError):
        t.id = "y"  # type: ignore[misc]


def test_missing_sections_give_no_table(results):
    r = {k: v for k, v in results.items() if k not in ("cox", "cutpoints", "logrank")}
    ids = set(build_tables(r))
    assert not ids & {"cox", "cutpoints", "logrank"} and {"table1", "survival"} <= ids
    assert re.search("Table", build_document(r).tables[0].caption)
