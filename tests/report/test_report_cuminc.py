"""The cumulative incidence figure and the competing-risks tables in the reports: numbers at risk
recomputed from the demo's per-patient listing and drawn under the ticks of both panels; both
events shown; a single curve, a missing competing event and the small-cell rule."""

from __future__ import annotations

import copy
import html
import re

import numpy as np
import pandas as pd
import pytest
from report_helpers import figures_in_html, load_results, x_ticks

from mmrwe.figures.cuminc import CIFSeries, cif_figure
from mmrwe.figures.style import figure_svg
from mmrwe.report.document import build_document
from mmrwe.tables import build_tables

SVG_TEXT = "{http://www.w3.org/2000/svg}text"


@pytest.fixture(scope="module")
def demo(demo_run):
    html = (demo_run / "report.html").read_text(encoding="utf-8")
    derived = pd.read_csv(
        demo_run / "restricted" / "derived_patients.csv", dtype={"patient_id": str}
    )
    return {"figs": figures_in_html(html), "results": load_results(demo_run), "data": derived}


def _panel_cells(svg, fid: str) -> dict[tuple[int, int, int], tuple[str, float]]:
    """(panel, row, col) -> (text, x) of the at-risk numbers of a two-panel figure."""
    out = {}
    for g in svg.iter("{http://www.w3.org/2000/svg}g"):
        m = re.fullmatch(re.escape(fid) + r"-risk-(\d)-(\d+)-(\d+)", g.get("id", ""))
        if m:
            t = next(g.iter(SVG_TEXT))
            out[tuple(map(int, m.groups()))] = (t.text or "", float(t.get("x", "nan")))
    return out


def test_numbers_at_risk_are_recomputed_and_sit_under_the_ticks_of_both_panels(demo) -> None:
    figs = {k: v for k, v in demo["figs"].items() if v[0].get("role") == "cuminc"}
    assert len(figs) == len(demo["results"]["cuminc"]) >= 1
    data = demo["data"]
    for fid, (attrs, svg) in figs.items():
        entry = demo["results"]["cuminc"][int(attrs["cuminc"])]
        ticks = x_ticks(svg, fid)
        n = len(ticks) // 2  # panel 0's ticks, then panel 1's (the same times)
        assert n and [t for t, _ in ticks[:n]] == [t for t, _ in ticks[n:]]
        cells = _panel_cells(svg, fid)
        assert len(cells) == 2 * n * len(entry["levels"])
        times = np.array([float(t) for t, _ in ticks[:n]])
        for k, level in enumerate(entry["levels"]):  # rows in the order of `levels`
            pfs = data.loc[data[entry["by"]].astype(str) == level, "PFS_time"].to_numpy(float)
            expected = [str(int((pfs >= t).sum())) for t in times]
            for panel in (0, 1):
                drawn = [cells[(panel, k, j)][0] for j in range(n)]
                assert drawn == expected, (fid, panel, level)
                for j in range(n):
                    tick_x = ticks[panel * n + j][1]
                    assert cells[(panel, k, j)][1] == pytest.approx(tick_x, abs=0.01)
        texts = [t.text for t in svg.iter(SVG_TEXT)]
        assert "Progression" in texts and "Death without progression" in texts
        assert any(t and t.startswith("Gray's test p") for t in texts)


def _one_group_entry() -> dict:
    curve = {"time": [2.0, 5.0], "estimate": [0.1, 0.3], "lower": [0.02, 0.12],
             "upper": [0.3, 0.5], "variance": [0.01, 0.02]}  # fmt: skip
    return {
        "event": "death",
        "competing": "progression",
        "by": None,
        "levels": ["all"],
        "status": "ok",
        "n": 12,
        "n_excluded_missing": 0,
        "times": [3.0, 9.0],
        "conventions": {"conf_level": 0.95, "conf_type": "log-log"},
        "groups": {
            "all": {
                "n": 12,
                "events": 3,
                "competing_events": 0,
                "censored": 9,
                "max_time": 10.0,
                "times": [3.0, 9.0],
                "estimate": [0.1, 0.3],
                "variance": [0.01, 0.02],
                "lower": [0.02, 0.12],
                "upper": [0.3, 0.5],
                "n_risk": [9, 3],
                "risk_table": {"times": [0.0, 5.0, 10.0], "n_risk": [12, 4, 1]},
                "curve": curve,
            }
        },
        "gray": None,
        "gray_reason": "one group: Gray's test needs at least two",
        "competing_groups": None,
        "competing_groups_reason": "no PFS ended with progression",
        "gray_competing": None,
    }


def test_one_curve_no_competing_event_and_the_small_cell_rule() -> None:
    results = {
        "conventions": {"time_unit": "months"},
        "report_options": {"small_cell_k": 5},
        "cuminc": [_one_group_entry()],
    }
    doc = build_document(results)
    [block] = [b for b in doc.figure_blocks if b.role == "cuminc"]
    assert block.name == "cuminc_death"
    svg = figure_svg(doc.figure(block), "f")
    texts = [html.unescape(t) for t in re.findall(r">([^<>]+)</text>", svg)]
    assert "<5" in " ".join(texts)  # 4 and 1 at risk are small cells
    assert re.search(r"\b4\b", " ".join(t for t in texts if "Number" not in t)) is None
    assert "no competing events" in texts
    # one risk row per panel, no group labels, no legend
    assert set(re.findall(r'id="f-risk-(\d)-(\d)-\d"', svg)) == {("0", "0"), ("1", "0")}
    assert 'id="f-legend' not in svg
    table = build_tables(results)["cuminc"]
    rows = [[c.text for c in r.cells] for r in table.rows]
    assert rows[1][0].startswith("All patients (12 patients, <5 events")
    assert rows[2] == ["3 months", "9", "10.0 (2.0\u201330.0)", ""]
    assert any("no PFS ended with progression" in f.text for f in table.footnotes)


def test_an_estimate_of_zero_prints_without_limits() -> None:
    e = _one_group_entry()
    g = e["groups"]["all"]
    g["estimate"][0], g["lower"][0], g["upper"][0] = 0.0, None, None
    table = build_tables({"conventions": {"time_unit": "months"}, "cuminc": [e]})["cuminc"]
    assert [c.text for c in table.rows[2].cells][2] == "0.0"


def test_the_figure_draws_the_stored_steps() -> None:
    e = _one_group_entry()["groups"]["all"]
    fig = cif_figure(
        [CIFSeries("", e["curve"], None, 10.0, ["12", "4", "1"])],
        ticks=[0.0, 5.0, 10.0],
        titles=("Death without progression", "Progression"),
        xlabel="Time (months)",
    )
    line = next(ln for ln in fig.axes[0].lines if ln.get_gid() == "cif-0-0")
    x, y = line.get_data()
    # from (0, 0) up at 2 and 5, flat to the last time 10: the stored values, in percent
    assert list(x) == [0.0, 2.0, 2.0, 5.0, 5.0, 10.0, 10.0]
    assert list(y) == [0.0, 0.0, 10.0, 10.0, 30.0, 30.0, 30.0]
    assert not any(ln.get_gid() == "cif-1-0" for ln in fig.axes[2].lines)


def test_finegray_and_rmst_tables_follow_declared_levels(demo) -> None:
    r = copy.deepcopy(demo["results"])
    tables = build_tables(r)
    fg = [[c.text for c in row.cells] for row in tables["finegray"].rows]
    labels = [row[0] for row in fg]
    assert labels.index("no") < labels.index("yes")  # [variables.tcr] levels = no, yes
    no = fg[labels.index("no")]
    assert no[2] == "reference" and no[4] == "reference"
    rm = [[c.text for c in row.cells] for row in tables["rmst"].rows]
    # [variables.hgb_lt_11] levels = [">=11", "<11"]: the first declared level is the reference
    assert any(row[0].startswith("Difference, <11 vs \u226511") for row in rm)
