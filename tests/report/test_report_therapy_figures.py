"""The optional therapy figures (``[report] swimmer``, ``[report] therapy_flow``): computed into
results.json only when switched on and the tables exist, drawn in report.html, report.docx and
the figure files from results.json alone, with user labels printed verbatim and escaped."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from report_helpers import figures_in_html
from results_factory import minimal_results

import mmrwe
from mmrwe.figures.style import figure_svg, figure_svg_file
from mmrwe.report import render_docx, render_html, write_figures
from mmrwe.report.document import build_document
from mmrwe.study.therapy_figures import swimmer_data, therapy_flow_data

DEMO = Path(mmrwe.__file__).parent / "data" / "demo"
SVG = "{http://www.w3.org/2000/svg}"
D = 30.4375
HOSTILE = ("$\\frac{1}{$ Pd", "<script>alert(1)</script>", "K&d \"x\" 'y'")


def _hand_made() -> tuple[dict, dict]:
    """A swimmer and a flow entry from a small cohort whose regimens have hostile names."""
    n = 4
    day0 = np.zeros(n)
    th = pd.DataFrame(
        [
            (0, 1, HOSTILE[0], "bortezomib", -400.0, -100.0),
            (0, 2, HOSTILE[1], "isatuximab", 0.0, np.nan),
            (1, 1, HOSTILE[0], "bortezomib", -300.0, -50.0),
            (1, 2, HOSTILE[1], "isatuximab", 0.0, 4 * D),
            (1, 3, HOSTILE[2], "carfilzomib", 5 * D, 7 * D),
            (2, 1, HOSTILE[1], "isatuximab", 0.0, 2 * D),
            (3, 1, HOSTILE[1], "isatuximab", 0.0, 1 * D),
        ],
        columns=["pid", "line_eff", "regimen", "agents", "start", "end"],
    )
    death = np.array([np.nan, np.nan, 3 * D, np.nan])
    lfu = np.array([12 * D, 9 * D, 3 * D, 2 * D])
    prog = np.array([np.nan, 4 * D, 2 * D, np.nan])
    asm = pd.DataFrame(
        {"pid": [0, 0, 1, 2], "day": [D, 2 * D, D, D], "is_assess": True, "level": [3, 5, 4, 1]}
    )
    sw = swimmer_data(day0=day0, death=death, last_followup=lfu, progression=prog, therapy=th,
                      assessments=asm, best_response=["CR", "VGPR", "SD", "NE"])  # fmt: skip
    fl = therapy_flow_data(therapy=th, day0=day0, death=death)
    return sw, fl


@pytest.fixture(scope="module")
def results() -> dict:
    r = minimal_results()
    r["swimmer"], r["therapy_flow"] = _hand_made()
    return r


@pytest.fixture(scope="module")
def doc(results):
    return build_document(results)


def _svg_texts(svg: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in svg.iter(f"{SVG}text")]


def test_both_figures_are_numbered_blocks_with_captions_and_file_names(doc):
    blocks = {b.role: b for b in doc.figure_blocks}
    assert blocks["swimmer"].name == "swimmer" and blocks["swimmer"].number is not None
    assert blocks["therapy-flow"].name == "therapy_flow"
    cap = "".join(getattr(p, "text", p) for p in blocks["swimmer"].caption)
    assert "4 of 4 patients" in cap and "progression" in cap
    cap = "".join(getattr(p, "text", p) for p in blocks["therapy-flow"].caption)
    assert "Lines of therapy of 4 patients" in cap and "at most 5 lines" in cap


def test_swimmer_draws_one_bar_per_patient_and_its_markers(doc, results):
    block = next(b for b in doc.figure_blocks if b.role == "swimmer")
    fig = doc.figure(block)
    ax = fig.axes[0]
    bars = [p for p in ax.patches if p.get_height() == pytest.approx(0.62)]
    assert len(bars) == 4
    widths = sorted(round(b.get_width(), 6) for b in bars)
    assert widths == sorted(
        round(p["time_on_treatment"], 6) for p in results["swimmer"]["patients"]
    )
    texts = _svg_texts(ET.fromstring(figure_svg_file(fig)))
    for word in ("On the regimen", "PR", "CR", "VGPR", "SD", "Progression", "Death", "Ongoing"):
        assert word in texts, word
    assert any(t.startswith("Time from start of the regimen (months)") for t in texts)


def test_flow_svg_has_every_node_label_as_text_verbatim(doc, results):
    block = next(b for b in doc.figure_blocks if b.role == "therapy-flow")
    svg = figure_svg_file(doc.figure(block)).decode("utf-8")
    root = ET.fromstring(svg)  # well-formed: hostile names are escaped
    texts = " ".join(_svg_texts(root)).replace("\n", " ")
    for c in results["therapy_flow"]["columns"]:
        assert c["label"] in texts
        for nd in c["nodes"]:
            assert nd["name"] in texts
    assert HOSTILE[0] in texts  # no math text: the $ is printed as written
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "<path" in svg  # ribbons are vector paths


def test_html_report_escapes_hostile_regimen_names(results):
    html = render_html(results)
    figs = figures_in_html(html)
    assert {"fig-swimmer", "fig-therapy-flow"} <= set(figs)
    assert figs["fig-therapy-flow"][0]["role"] == "therapy-flow"
    assert "<script>alert(1)</script>" not in html
    texts = " ".join(_svg_texts(figs["fig-therapy-flow"][1]))
    assert HOSTILE[1] in texts


def test_docx_has_both_figures_with_seq_captions(results, doc):
    data = render_docx(results)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        xml = z.read("word/document.xml").decode("utf-8")
    assert xml.count("SEQ Figure \\* ARABIC") == len(doc.figure_blocks)
    assert "Swimmer plot of the regimen under study" in xml
    assert "Lines of therapy of " in xml
    assert "<script>" not in xml


def test_figure_files_are_written(results, tmp_path):
    files = write_figures(results, tmp_path, formats=["svg", "pdf"], dpi=150)
    for name in ("swimmer.svg", "swimmer.pdf", "therapy_flow.svg", "therapy_flow.pdf"):
        assert name in files and files[name].stat().st_size > 1000


def test_greyscale_palette_draws_both(results):
    r = dict(results, report_options={"palette": "greyscale"})
    d = build_document(r)
    for b in d.figure_blocks:
        if b.role in ("swimmer", "therapy-flow"):
            assert "<svg" in figure_svg(d.figure(b), b.id)


def test_not_ok_entries_draw_nothing_and_are_listed_with_the_reason():
    r = minimal_results()
    reason = "no therapy table ([data] therapy): lines of therapy are not known"
    r["swimmer"] = {"status": "not_estimable", "reason": reason, "spec_key": "[report] swimmer"}
    r["therapy_flow"] = {"status": "not_estimable", "reason": reason,
                         "spec_key": "[report] therapy_flow"}  # fmt: skip
    d = build_document(r)
    assert not [b for b in d.figure_blocks if b.role in ("swimmer", "therapy-flow")]
    html = render_html(r)
    assert "[report] swimmer" in html and "[report] therapy_flow" in html
    assert "lines of therapy are not known" in html


def test_without_the_keys_the_document_is_unchanged():
    r = minimal_results()
    d = build_document(r)
    assert not [b for b in d.figure_blocks if b.role in ("swimmer", "therapy-flow")]
    assert "Treatment course" not in render_html(r)


# --- from a run: switched on, off, without the therapy table, with small-cell suppression ----


def _spec(**report) -> dict:
    spec = {
        "study": {"title": "therapy figures", "time_unit": "months"},
        "data": {"patients": "patients.csv", "labs": "labs.csv", "therapy": "therapy.csv"},
        "response": {"source": "labs"},
        "proportion": [
            {"name": "ORR", "variable": "best_response", "success": ["sCR", "CR", "VGPR", "PR"]}
        ],
    }
    if report:
        spec["report"] = report
    return spec


def _run(spec: dict) -> dict:
    return mmrwe.Study(spec, base_dir=DEMO).run().to_dict()


@pytest.fixture(scope="module")
def on() -> dict:
    return _run(_spec(swimmer=True, therapy_flow=True, swimmer_max_patients=20))


def test_switched_off_by_default_no_keys():
    r = _run(_spec())
    assert "swimmer" not in r and "therapy_flow" not in r


def test_switched_on_results_hold_anonymous_rows_and_flow_counts(on):
    sw, fl = on["swimmer"], on["therapy_flow"]
    assert sw["status"] == "ok" and sw["n_patients"] == 51 and sw["n_shown"] == 20
    assert len(sw["patients"]) == 20 and sw["patients"][0]["row"] == 1
    on_t = [p["time_on_treatment"] for p in sw["patients"]]
    assert on_t == sorted(on_t, reverse=True)
    text = json.dumps({"swimmer": sw, "therapy_flow": fl})
    assert "SYN-" not in text  # no input patient id
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text)  # no date
    assert fl["status"] == "ok" and fl["n_patients"] == 51
    assert sum(nd["n"] for nd in fl["columns"][0]["nodes"]) == 51
    # each flow column conserves patients: what enters column c + 1 left column c
    for c in range(len(fl["columns"]) - 1):
        into = sum(f["n"] for f in fl["flows"] if f["column"] == c)
        assert into == sum(nd["n"] for nd in fl["columns"][c + 1]["nodes"])


def test_switched_on_report_shows_both(on):
    d = build_document(on)
    roles = [b.role for b in d.figure_blocks]
    assert "swimmer" in roles and "therapy-flow" in roles
    fig = d.figure(next(b for b in d.figure_blocks if b.role == "swimmer"))
    texts = _svg_texts(ET.fromstring(figure_svg_file(fig)))
    assert any("20 of 51 patients" in t for t in texts)  # the cap is noted on the figure


def test_without_therapy_table_the_figures_are_absent_with_a_reason():
    spec = _spec(swimmer=True, therapy_flow=True)
    del spec["data"]["therapy"]
    r = _run(spec)
    for key in ("swimmer", "therapy_flow"):
        assert r[key]["status"] == "not_estimable"
        assert "no therapy table" in r[key]["reason"]
    d = build_document(r)
    assert not [b for b in d.figure_blocks if b.role in ("swimmer", "therapy-flow")]
    assert "not_computed" in {t.id for t in d.tables}


def test_small_cell_suppression_turns_both_off():
    r = _run(_spec(swimmer=True, therapy_flow=True, small_cell_k=5))
    for key in ("swimmer", "therapy_flow"):
        assert r[key]["status"] == "not_estimable" and "small_cell_k = 5" in r[key]["reason"]
        assert "patients" not in r[key] and "flows" not in r[key]


def test_spec_rejects_bad_values():
    with pytest.raises(mmrwe.MmrweError):
        mmrwe.Study(_spec(therapy_flow_by="drug"), base_dir=DEMO)
    with pytest.raises(mmrwe.MmrweError):
        mmrwe.Study(_spec(swimmer_max_patients=0), base_dir=DEMO)


def test_methods_describe_both_figures_once_with_references(doc):
    methods = [p for p in doc.paragraphs if p.title == "Treatment course"]
    assert len(methods) == 1
    text = "".join(getattr(x, "text", x) for x in methods[0].parts)
    assert "swimmer plot (Figure" in text and "Sankey" in text and "at most 60 patients" in text


def test_swimmer_of_the_largest_cap_fits_a_portrait_page():
    from mmrwe.figures.style import saved_size_in
    from mmrwe.figures.swimmer import SwimmerRow, swimmer_figure

    rows = [SwimmerRow(float(200 - i) / 10, float(210 - i) / 10, i % 2 == 0, None, None,
                       ((0.5, "PR"), (1.5, "CR"))) for i in range(200)]  # fmt: skip
    fig = swimmer_figure(rows, note="200 of 5,000 patients")
    w, h = saved_size_in(fig)
    assert h <= 9.0 and w == pytest.approx(170 / 25.4, abs=0.01)


def test_an_error_fails_the_figure_only(monkeypatch):
    import mmrwe.study.therapy_figures as tf
    from mmrwe.study.analyses import failed_analyses

    def boom(**_kw):
        raise RuntimeError("drawing data broke")

    monkeypatch.setattr(tf, "swimmer_data", boom)
    r = _run(_spec(swimmer=True, therapy_flow=True))
    assert r["swimmer"]["status"] == "failed" and "RuntimeError" in r["swimmer"]["reason"]
    assert r["therapy_flow"]["status"] == "ok"
    assert r["proportions"][0]["status"] == "ok"
    assert ("[report] swimmer", r["swimmer"]["reason"]) in failed_analyses(r)
    d = build_document(r)
    assert [b.role for b in d.figure_blocks].count("therapy-flow") == 1
    assert "swimmer" not in [b.role for b in d.figure_blocks]
