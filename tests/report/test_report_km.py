"""Kaplan-Meier figures: the legend covers no curve (or goes below the plot), at-risk labels
wrap and are never cut, HR (95% CI) and log-rank p come from results, user text is literal."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from results_factory import A_STEPS, B_STEPS, curve, minimal_results

from mmrwe.figures.forest import ForestRow, forest_figure
from mmrwe.figures.km import KMSeries, km_figure
from mmrwe.figures.style import (
    GREYSCALE,
    FigureOptions,
    content_fits,
    figure_svg,
    saved_size_in,
)
from mmrwe.report.document import build_document, km_group_texts
from mmrwe.tables import source_of

TICKS = [0.0, 6.0, 12.0, 18.0]


def _flat(level: float, t_end: float = 20.0) -> dict:
    """A curve that stays at ``level`` from t = 0.5 to ``t_end`` (one early event)."""
    return curve([(0.5, level, 1, 0), (t_end, level, 0, 1)], 20, band=0.0)


def _legend_and_curves(fig):
    ax = fig.axes[0]
    renderer = FigureCanvasAgg(fig).get_renderer()
    leg = ax.get_legend()
    box = leg.get_window_extent(renderer)
    curves = [ln for ln in ax.get_lines() if (ln.get_gid() or "").startswith("curve-")]
    return ax, box, curves


def _dense_points(line, ax, n=4000):
    """Points along the drawn polyline, densely (an independent check of the overlap test)."""
    xy = np.column_stack(line.get_data()).astype(float)
    seg = []
    for (x0, y0), (x1, y1) in itertools.pairwise(xy):
        t = np.linspace(0, 1, 50)
        seg.append(np.column_stack([x0 + (x1 - x0) * t, y0 + (y1 - y0) * t]))
    pts = np.concatenate(seg)
    return ax.transData.transform(pts)


def _covered(box, pts) -> int:
    inside = (
        (pts[:, 0] >= box.x0)
        & (pts[:, 0] <= box.x1)
        & (pts[:, 1] >= box.y0)
        & (pts[:, 1] <= box.y1)
    )
    return int(inside.sum())


def test_legend_moves_off_curves_that_fill_the_upper_right():
    # two curves flat at 96% and 88% until month 20: "upper right" (the usual spot) covers them
    series = [
        KMSeries("a", _flat(0.96), ["20", "19", "19", "19"]),
        KMSeries("b", _flat(0.88), ["20", "19", "19", "19"]),
    ]
    fig = km_figure(
        series,
        ticks=TICKS,
        xlabel="Time (months)",
        ylabel="PFS (%)",
        legend_title="Group",
        annotation="Log-rank p = 0.500",
    )
    ax, box, curves = _legend_and_curves(fig)
    assert len(curves) == 2
    for line in curves:
        assert _covered(box, _dense_points(line, ax)) == 0
    assert box.y1 < ax.transData.transform((0, 80))[1]  # not in the top band of the plot
    assert fig._mmrwe_legend_below is False


def test_legend_goes_below_the_plot_when_every_corner_is_covered():
    levels = [0.97, 0.84, 0.72, 0.6, 0.48, 0.36, 0.24, 0.12, 0.03]
    series = [KMSeries(f"g{k}", _flat(v), ["20", "19", "19", "19"]) for k, v in enumerate(levels)]
    fig = km_figure(
        series,
        ticks=TICKS,
        xlabel="Time (months)",
        ylabel="PFS (%)",
        legend_title="Group",
        show_ci=False,
    )
    ax, box, curves = _legend_and_curves(fig)
    assert fig._mmrwe_legend_below is True
    axis_box = ax.get_window_extent(FigureCanvasAgg(fig).get_renderer())
    assert box.y1 < axis_box.y0  # under the plot (and its x-axis label)
    for line in curves:
        assert _covered(box, _dense_points(line, ax)) == 0
    assert content_fits(fig)


@pytest.mark.parametrize("width_mm", [85.0, 170.0])
def test_long_at_risk_labels_wrap_and_stay_on_the_canvas(width_mm):
    long = "Center with a rather long descriptive name, Lyon Sud"
    series = [
        KMSeries(long, curve(A_STEPS, 10), ["10", "8", "4", "2"]),
        KMSeries("B", curve(B_STEPS, 10), ["10", "5", "2", "0"]),
    ]
    fig = km_figure(
        series,
        ticks=TICKS,
        xlabel="Time (months)",
        ylabel="PFS (%)",
        legend_title="Center",
        width=width_mm / 25.4,
    )
    label = next(t for t in fig.axes[1].texts if t.get_gid() == "atrisk-label-0")
    assert "\n" in label.get_text()
    assert label.get_text().replace("\n", " ") == long  # wrapped at spaces, nothing dropped
    renderer = FigureCanvasAgg(fig).get_renderer()
    ext = label.get_window_extent(renderer)
    first = next(t for t in fig.axes[1].texts if t.get_gid() == "risk-0-0").get_window_extent(
        renderer
    )
    assert ext.x0 >= 0 and ext.x1 < first.x0  # on the canvas, clear of the first number
    assert content_fits(fig)
    assert saved_size_in(fig)[0] * 25.4 == pytest.approx(width_mm, abs=0.05)


def test_user_text_is_never_math_text():
    weird = r"A $\frac{1}{$"
    km = km_figure(
        [
            KMSeries(weird, curve(A_STEPS, 10), ["10", "8", "4", "2"], legend=weird),
            KMSeries("B", curve(B_STEPS, 10), ["10", "5", "2", "0"]),
        ],
        ticks=TICKS,
        xlabel="Time",
        ylabel="PFS (%)",
        legend_title=weird,
    )
    forest = forest_figure(
        [ForestRow(weird, ("10", "1.50 (0.80–2.81)", "0.207"), 1.5, 0.8, 2.81)],
        columns=("n", "HR (95% CI)", "p"),
    )
    for fig in (km, forest):
        svg = figure_svg(fig, "t")  # raised ValueError ("unbalanced $") when parsed as math
        assert r"A $\frac{1}{$" in svg


def test_group_plot_shows_hr_from_the_matching_cox_model_and_logrank_p():
    r = minimal_results()
    legend, ann = km_group_texts(source_of(r), ("logrank", 0), True)
    # cox[0]: grp=b HR 1.5 (0.8-2.8125 -> 2.81), grp=c HR 3.25 (1.1-9.6); reference a
    assert legend == {
        "a": "a (reference)",
        "b": "b: HR 1.50 (95% CI 0.80\u20132.81)",
        "c": "c: HR 3.25 (95% CI 1.10\u20139.60)",
    }
    # log-rank p 0.0117 -> 0.012; three levels: the Cox overall p (term_tests) 0.0334 -> 0.033
    assert ann.splitlines() == ["Log-rank p = 0.012", "Cox overall p = 0.033"]
    doc = build_document(r)
    fig = doc.figure(next(b for b in doc.figure_blocks if b.role == "km-group"))
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(t.replace("\n", " ") == legend["c"] for t in texts)
    assert "Log-rank p = 0.012" in texts


def test_no_hr_without_a_matching_cox_model_and_none_when_turned_off():
    r = minimal_results()
    r["cox"][0]["strata"] = "center"  # a stratified model does not match an unstratified test
    legend, ann = km_group_texts(source_of(r), ("logrank", 0), True)
    assert legend == {"a": "a", "b": "b", "c": "c"} and ann == "Log-rank p = 0.012"
    legend, ann = km_group_texts(source_of(minimal_results()), ("logrank", 0), False)
    assert legend == {"a": "a", "b": "b", "c": "c"} and ann == ""
    r = minimal_results()
    r["report_options"]["km_annotations"] = False  # [report] km_annotations = false
    doc = build_document(r)
    fig = doc.figure(next(b for b in doc.figure_blocks if b.role == "km-group"))
    texts = " ".join(t.get_text() for t in fig.axes[0].get_legend().get_texts())
    assert "HR" not in texts and "Log-rank" not in texts


def test_greyscale_palette_draws_only_greys_and_tells_curves_apart_by_line_style():
    r = minimal_results()
    doc = build_document(r, FigureOptions(palette=GREYSCALE))
    block = next(b for b in doc.figure_blocks if b.role == "km-group")
    fig = doc.figure(block)
    svg = figure_svg(fig, "g")
    colours = {c.lower() for c in re.findall(r"(?:stroke|fill): (#[0-9a-fA-F]{6})", svg)}
    assert colours and all(c[1:3] == c[3:5] == c[5:7] for c in colours), colours
    curves = [ln for ln in fig.axes[0].get_lines() if (ln.get_gid() or "").startswith("curve-")]
    looks = {(ln.get_color(), str(ln._unscaled_dash_pattern)) for ln in curves}
    assert len(curves) == 3 and len(looks) == 3, looks


def test_a_center_named_like_math_text_renders_literally_in_every_figure(demo_run):
    import json

    from report_helpers import load_results

    from mmrwe.report import render_html

    weird = r"A $\frac{1}{$"
    text = json.dumps(load_results(demo_run)).replace('"Center A"', json.dumps(weird))
    r = json.loads(text)
    assert weird in r["cohort"]["centers"]
    html = render_html(r)  # draws every figure: flow, center KM plots, ...
    assert html.count(r"A $\frac{1}{$") >= 3  # flow box, risk-table label, legend
