"""Tables: levels in the declared order (IMWG order for best response, never alphabetical),
labels as written, one overall p for a factor of three or more levels, landmark rates by
group, the subgroup table and forest plot, the published-vs-reproduced table."""

from __future__ import annotations

import copy

from report_helpers import load_results
from results_factory import minimal_results, subgroup_entry

from mmrwe.report import render_docx, render_html
from mmrwe.report.document import build_document, forest_rows
from mmrwe.tables import build_tables
from mmrwe.tables.format import fmt_p
from mmrwe.tables.published import published_comparison

IMWG = ["sCR", "CR", "VGPR", "PR", "MR", "SD", "PD", "NE"]


def _labels(t):
    return [r.cells[0].text for r in t.rows]


def test_best_response_in_imwg_order_even_when_results_list_it_alphabetically(demo_run):
    r = load_results(demo_run)
    # a pipeline without declared levels sorts them: CR, MR, NE, PD, PR, SD, VGPR, sCR
    row = next(x for x in r["table1"]["rows"] if x["variable"] == "best_response")
    row["levels"] = sorted(row["levels"])
    r["response"]["categories"] = sorted(r["response"]["categories"])
    tables = build_tables(r)
    t1 = _labels(tables["table1"])
    start = t1.index("Best response (IMWG)")
    shown = t1[start + 1 : start + 1 + len(row["levels"])]
    assert shown == [c for c in IMWG if c in row["levels"]]
    resp = _labels(tables["response"])
    assert resp[1 : 1 + len(IMWG)] == IMWG
    # the counts follow their level (PR 15 of 51 in the demo)
    pr = next(x for x in tables["response"].rows if x.cells[0].text == "PR")
    assert pr.cells[1].text.startswith(str(r["response"]["counts"]["PR"]) + " (")


def test_declared_levels_order_every_table_and_labels_keep_their_case():
    r = minimal_results()
    r["variables"]["grp"]["levels"] = ["c", "a", "b"]  # declared order, not sorted
    r["variables"]["ISS"]["levels"] = ["II", "I"]
    tables = build_tables(r)
    lr = _labels(tables["logrank"])
    assert lr[1:4] == ["c", "a", "b"]
    cox = _labels(tables["cox"])
    i = cox.index("Risk group")
    assert cox[i + 1 : i + 4] == ["c", "a", "b"]
    # a variable without a label prints its name as written: ISS, never "Iss"
    assert "ISS" in cox and "Iss" not in " ".join(cox)
    j = cox.index("ISS")
    assert cox[j + 1 : j + 3] == ["II", "I"]
    lm = _labels(tables["landmarks_by_group"])
    assert lm[1:4] == ["c", "a", "b"]
    html = render_html(r)
    assert "Iss" not in html and ">ISS<" in html


def test_factor_with_three_levels_gets_one_overall_p_from_term_tests():
    r = minimal_results()
    t = build_tables(r)["cox"]
    head = next(row for row in t.rows if row.cells[0].text == "Risk group")
    p_cell = head.cells[3]
    assert p_cell.text == fmt_p(0.0334) == "0.033"
    note = next(f for f in t.footnotes if f.mark == p_cell.marks[0])
    assert "Wald" in note.text and "Overall p" in note.text
    # a two-level factor keeps its p on the level row and gets no overall p
    iss = next(row for row in t.rows if row.cells[0].text == "ISS")
    assert iss.cells[3].text == ""
    # and the forest plot shows the overall p on the factor's line
    rows = forest_rows(t)
    assert next(fr for fr in rows if fr.label == "Risk group").texts[2] == "0.033"


def test_landmark_rates_by_group_table():
    t = build_tables(minimal_results())["landmarks_by_group"]
    rows = {r.cells[0].text: [c.text for c in r.cells[1:]] for r in t.rows}
    # curves a, b, c at 12 months: S = 0.5 (4 at risk), 0.3 (2), null (0)
    assert rows["a"] == ["50.0 (4)"] and rows["b"] == ["30.0 (2)"]
    assert rows["c"] == ["\u2014 (0)"]
    assert any("not estimable" in f.text for f in t.footnotes)
    assert [c.text for c in t.header[0]] == ["Endpoint, factor and group", "12 months"]


def test_subgroup_table_and_forest_in_both_reports():
    r = minimal_results()
    r["variables"]["ISS"]["levels"] = ["I", "II"]
    r["variables"]["grp2"] = {"label": "Hemoglobin < 11 g/dL", "type": "categorical"}
    r["subgroups"] = [subgroup_entry()]
    t = build_tables(r)["subgroups"]
    labels = _labels(t)
    assert labels[0].startswith("PFS: effect of Hemoglobin < 11 g/dL (high vs low)")
    # by in spec order (ISS, sex); ISS levels in declared order I, II; sex as given (M, F)
    assert labels[1:] == ["ISS", "I", "II", "Sex", "M", "F"]  # "sex" has no label: "Sex"
    rows = {r.cells[0].text: [c.text for c in r.cells[1:]] for r in t.rows}
    assert rows["ISS"][-1] == "0.729" and rows["Sex"][-1] == "0.138"  # interaction p
    assert rows["I"][:4] == ["14", "9", "2.00 (0.50\u20138.00)", "0.330"]
    assert rows["F"][2] == "not estimable"
    doc = build_document(r)
    fig = next(b for b in doc.figure_blocks if b.role == "forest-subgroups")
    assert fig.name == "forest_subgroups_pfs_grp2"
    plotted = [fr for fr in forest_rows(replace_rows(t, 1)) if fr.hr is not None]
    assert [fr.hr for fr in plotted] == [2.0, 1.75, 2.5]
    html = render_html(r)
    assert 'data-role="forest-subgroups"' in html and "Subgroup analyses" in html
    import io

    import docx as pydocx

    word = pydocx.Document(io.BytesIO(render_docx(r)))
    caps = [p.text for p in word.paragraphs if p.style.name == "Caption"]
    assert any("Subgroup analyses" in c for c in caps)
    assert any("within subgroups" in c for c in caps)


def replace_rows(t, start):
    from dataclasses import replace

    return replace(t, rows=t.rows[start:])


def test_published_comparison_hand_checked():
    r = minimal_results()
    r["proportions"] = [{"name": "ORR", "estimate": 0.5686, "lower": 0.4225, "upper": 0.7065}]
    specs = [
        {
            "name": "Median PFS",
            "value": 5.8,
            "lower": 3.9,
            "upper": 7.7,
            "quantity": "median:PFS",
            "source": "Paper, abstract",
        },
        {"name": "ORR", "value": 56.9, "quantity": "proportion:ORR"},
        {"name": "12-month PFS", "value": 30.6, "quantity": "landmark:PFS:12"},
        {"name": "24-month PFS", "value": 20.0, "quantity": "landmark:PFS:24"},
        {"name": "HR c vs a", "value": 3.5, "quantity": "hr:cox:1:grp=c"},
        {"name": "by path", "value": 30, "path": "cohort.n"},
        {"name": "typo", "value": 1, "quantity": "median:EFS"},
    ]
    out = published_comparison(specs, r)
    assert [e["spec_key"] for e in out] == [f"[[published]] {i}" for i in range(1, 8)]
    med, orr, lm12, lm24, hr, n, typo = out
    # median PFS: reproduced 6.0 (3.0 to not reached); 6.0 - 5.8 = 0.2; 0.2 / 5.8 = 0.03448
    assert med["reproduced"] == {"value": 6.0, "lower": 3.0, "upper": None}
    assert (
        abs(med["difference"] - 0.2) < 1e-12 and abs(med["relative_difference"] - 0.2 / 5.8) < 1e-12
    )
    assert med["published_in_reproduced_ci"] is None and med["kind"] == "time"
    # ORR as a percentage: 0.5686 -> 56.86; 56.86 - 56.9 = -0.04; 56.9 inside 42.25-70.65
    assert abs(orr["reproduced"]["value"] - 56.86) < 1e-9 and orr["kind"] == "percent"
    assert abs(orr["difference"] + 0.04) < 1e-9 and orr["published_in_reproduced_ci"] is True
    # 12-month S = 0.3 -> 30.0 %, CI 15-47 %
    assert abs(lm12["reproduced"]["value"] - 30.0) < 1e-9 and lm12["published_in_reproduced_ci"]
    assert lm24["status"] == "not_estimable" and lm24["difference"] is None
    assert hr["reproduced"] == {"value": 3.25, "lower": 1.1, "upper": 9.6} and hr["kind"] == "ratio"
    assert n["reproduced"]["value"] == 30 and n["difference"] == 0 and n["path"] == ["cohort", "n"]
    assert typo["status"] == "failed" and "fix" in typo["reason"]
    assert all(e["status"] == "ok" for e in (med, orr, lm12, hr, n))


def test_published_table_in_both_reports():
    r = minimal_results()
    r["published"] = published_comparison(
        [
            {
                "name": "Median PFS",
                "value": 5.8,
                "lower": 3.9,
                "upper": 7.7,
                "quantity": "median:PFS",
                "source": "Paper 2025",
            },
            {"name": "24-month PFS", "value": 20.0, "quantity": "landmark:PFS:24"},
        ],
        r,
    )
    t = build_tables(r)["published"]
    rows = {x.cells[0].text: [c.text for c in x.cells[1:]] for x in t.rows}
    assert rows["Median PFS, months"] == [
        "5.8 (3.9\u20137.7)",
        "6.0 (3.0\u2013NR)",
        "0.2",
        "Paper 2025",
    ]
    assert rows["24-month PFS, %"][1] == "not estimable"
    assert "Published and reproduced estimates" in render_html(r)
    import io

    import docx as pydocx

    word = pydocx.Document(io.BytesIO(render_docx(r)))
    assert any("Published and reproduced" in p.text for p in word.paragraphs)


def test_demo_tables_unchanged_in_content_when_levels_already_declared(demo_run):
    r = load_results(demo_run)
    before = {k: v.to_dict() for k, v in build_tables(r).items()}
    r2 = copy.deepcopy(r)
    for name, v in r2["variables"].items():
        row = next((x for x in r2["table1"]["rows"] if x["variable"] == name), None)
        if row and row.get("levels"):
            v["levels"] = list(row["levels"])  # declared = the order results already use
    after = {k: v.to_dict() for k, v in build_tables(r2).items()}
    assert before == after
