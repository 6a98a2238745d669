"""Figures in report.html: numbers at risk equal the KM estimator recomputed from the demo's
derived_patients.csv, sit under their ticks, and the figures use one palette and one font."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from report_helpers import figures_in_html, load_results, risk_numbers, x_ticks

from mmrwe.figures.style import PALETTE
from mmrwe.stats.km import kaplan_meier


@pytest.fixture(scope="module")
def demo(demo_run):
    html = (demo_run / "report.html").read_text(encoding="utf-8")
    derived = pd.read_csv(
        demo_run / "restricted" / "derived_patients.csv", dtype={"patient_id": str}
    )
    raw = pd.read_csv(demo_run / "demo-input" / "patients.csv", dtype=str, keep_default_na=False)
    # group columns: derived ones (hgb_lt_11) from derived_patients.csv, the rest from the input
    extra = raw[["patient_id", *[c for c in raw.columns if c not in derived.columns]]]
    data = derived.merge(extra, on="patient_id", how="left", validate="one_to_one")
    return {
        "html": html,
        "figs": figures_in_html(html),
        "results": load_results(demo_run),
        "data": data,
    }


def _km_n_risk(data: pd.DataFrame, endpoint: str, ticks: list[float]) -> list[int]:
    d = data[data[f"{endpoint}_time"].notna()]  # DoR: responders only
    km = kaplan_meier(
        d[f"{endpoint}_time"].to_numpy(float), d[f"{endpoint}_event"].astype(bool).to_numpy()
    )
    return [int(v) for v in km.n_risk_at(np.asarray(ticks))]


def _check_risk_table(fig_id, svg, expected_rows):
    ticks = x_ticks(svg, fig_id)
    assert ticks, f"{fig_id}: no x tick labels found"
    cells = risk_numbers(svg, fig_id)
    assert len(cells) == len(expected_rows) * len(ticks), f"{fig_id}: one number per tick and row"
    for k, expected in enumerate(expected_rows):
        drawn = [cells[(k, j)][0] for j in range(len(ticks))]
        assert drawn == [str(v) for v in expected(ticks)], f"{fig_id} row {k}"
        for j, (_, tick_x) in enumerate(ticks):
            # same centre (both text-anchor: middle) => the number sits under its tick
            assert cells[(k, j)][1] == pytest.approx(tick_x, abs=0.01), f"{fig_id} row {k} col {j}"


def test_overall_numbers_at_risk_match_the_estimator(demo):
    kms = {fid: (a, svg) for fid, (a, svg) in demo["figs"].items() if a.get("role") == "km"}
    assert {a["endpoint"] for a, _ in kms.values()} == set(demo["results"]["endpoints"])
    assert {"PFS", "OS"} < set(demo["results"]["endpoints"])
    for fid, (attrs, svg) in kms.items():
        ep = attrs["endpoint"]

        def expected(ticks, ep=ep):
            return _km_n_risk(demo["data"], ep, [float(t) for t, _ in ticks])

        _check_risk_table(fid, svg, [expected])


def test_group_numbers_at_risk_match_the_estimator_in_level_order(demo):
    groups = {
        fid: (a, svg) for fid, (a, svg) in demo["figs"].items() if a.get("role") == "km-group"
    }
    assert len(groups) == len(demo["results"]["logrank"])
    data = demo["data"]
    for fid, (attrs, svg) in groups.items():
        lr = demo["results"]["logrank"][int(attrs["logrank"])]
        by, ep = lr["by"], lr["endpoint"]
        col = data[by].astype(str)
        rows = []
        for level in lr["levels"]:  # rows are drawn in the order of `levels`
            sub = data[col == level]
            assert len(sub) == lr["n"][level]

            def expected(ticks, sub=sub, ep=ep):
                return _km_n_risk(sub, ep, [float(t) for t, _ in ticks])

            rows.append(expected)
        _check_risk_table(fid, svg, rows)


def test_group_labels_are_variable_labels_and_levels(demo):
    html = demo["html"]
    # the draft printed "hgb_lt_11=<11"; labels now come from results["variables"]
    assert not re.search(r"\b(hgb_lt_11|fish_risk|sex|tcr)=", html)
    figs = demo["figs"]
    fig = next(
        svg for a, svg in figs.values() if a.get("by") == "hgb_lt_11" and a.get("endpoint") == "PFS"
    )
    texts = [t.text for t in fig.iter("{http://www.w3.org/2000/svg}text")]
    assert demo["results"]["variables"]["hgb_lt_11"]["label"] in texts
    assert "\u226511" in texts and "<11" in texts  # >=11 printed as ≥11


def test_forest_plot_shows_the_cox_table_rows(demo):
    from mmrwe.report.document import build_document

    doc = build_document(demo["results"])
    cox = next(t for t in doc.tables if t.id == "cox")
    svg = demo["figs"]["fig-forest"][1]
    texts = {t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")}
    for row in cox.rows:
        for cell in row.cells[:4]:
            if cell.text:
                assert cell.text in texts, cell.text
    # n per level of categorical terms from term_info
    assert "9" in texts and "19" in texts


def test_cutoff_and_response_figures_present(demo):
    figs = demo["figs"]
    cuts = [a for a, _ in figs.values() if a.get("role") == "cutpoint"]
    assert len(cuts) == len(demo["results"]["cutpoints"])
    resp = demo["figs"]["fig-response"][1]
    texts = [t.text for t in resp.iter("{http://www.w3.org/2000/svg}text")]
    r = demo["results"]["response"]
    assert texts[: len(r["categories"])] == r["categories"] or set(r["categories"]) <= set(texts)
    assert "15 (29.4%)" in texts  # PR: 15 of 51


def test_one_palette_and_one_font(demo):
    allowed = {c.lower() for c in PALETTE} | {
        "#000000",
        "#ffffff",
        "#1a1a1a",
        "#6b6b6b",
        "#bdbdbd",
        "#eaf2f8",
    }
    for fid, (_, svg) in demo["figs"].items():
        text = re.sub(
            r"\s+",
            " ",
            __import__("xml.etree.ElementTree", fromlist=["x"]).tostring(svg, encoding="unicode"),
        )
        colours = {c.lower() for c in re.findall(r"(?:stroke|fill): (#[0-9a-fA-F]{6})", text)}
        assert colours <= allowed, (fid, colours - allowed)
        families = set(re.findall(r"font-family: ([^;\"]+)", text))
        assert len(families) == 1 and next(iter(families)).startswith("'DejaVu Sans'"), (
            fid,
            families,
        )
        sizes = {float(s) for s in re.findall(r"font-size: ([\d.]+)px", text)}
        assert sizes <= {7.5, 8.0, 10.0}, (fid, sizes)
