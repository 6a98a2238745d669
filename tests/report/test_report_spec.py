"""Spec keys of the report: ``[report]`` figure options and ``[[published]]`` entries."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmrwe.core.errors import SpecError
from mmrwe.spec.loader import parse_spec
from mmrwe.spec.model import PublishedSpec, ReportSection
from mmrwe.tables.published import published_comparison, quantity_error

SPEC = Path("/nonexistent/study.toml")


def _parse(**sections):
    return parse_spec({"data": {"patients": "p.csv"}, **sections}, path=SPEC)


def test_report_defaults():
    r = _parse().report
    assert r == ReportSection()
    assert (r.figure_formats, r.figure_dpi, r.figure_width_mm) == ((), 600, 170.0)
    assert (r.palette, r.km_annotations) == ("okabe-ito", True)


def test_report_figure_keys():
    r = _parse(
        report={
            "figure_formats": ["pdf", "svg", "tiff", "pdf"],
            "figure_dpi": 1200,
            "figure_width_mm": 85,
            "palette": "greyscale",
            "km_annotations": False,
        }
    ).report
    assert r.figure_formats == ("pdf", "svg", "tiff")  # duplicates dropped, order kept
    assert (r.figure_dpi, r.figure_width_mm, r.palette, r.km_annotations) == (
        1200,
        85.0,
        "greyscale",
        False,
    )


@pytest.mark.parametrize(
    ("report", "match"),
    [
        ({"figure_formats": ["jpg"]}, "'jpg' is not one of"),
        ({"figure_dpi": 20}, "figure_dpi = 20 is outside"),
        ({"figure_dpi": 300.5}, "figure_dpi must be an integer"),
        ({"figure_width_mm": 400}, "figure_width_mm = 400"),
        ({"palette": "rainbow"}, "palette = 'rainbow' is not one of"),
        ({"km_annotation": True}, "did you mean 'km_annotations'"),
    ],
)
def test_report_bad_values_say_what_and_where(report, match):
    with pytest.raises(SpecError, match=match) as err:
        _parse(report=report)
    assert err.value.where is not None and str(err.value.where.spec_key).startswith("report.")


def test_published_entries():
    spec = _parse(
        published=[
            {
                "name": "Median PFS",
                "value": 5.8,
                "lower": 3.9,
                "upper": 7.7,
                "quantity": "median:PFS",
                "source": "Martino 2025",
            },
            {"name": "ORR", "value": 0.569, "path": "proportions.0.estimate", "scale": 1},
            {"name": "n", "value": 51, "path": ["cohort", "n"]},
        ]
    )
    a, b, c = spec.published
    assert a == PublishedSpec("Median PFS", 5.8, 3.9, 7.7, "Martino 2025", "median:PFS")
    assert b.path == ("proportions", "0", "estimate") and c.path == ("cohort", "n")
    # the comparison reads spec entries as they are
    out = published_comparison(
        spec.published, {"cohort": {"n": 51}, "proportions": [{"estimate": 0.5686}]}
    )
    assert out[1]["reproduced"]["value"] == 0.5686 and out[2]["difference"] == 0
    assert out[0]["status"] == "failed"  # no endpoints in these results


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        ({"name": "x", "value": 1}, "exactly one of quantity and path"),
        ({"name": "x", "value": 1, "quantity": "n", "path": "cohort.n"}, "exactly one"),
        ({"name": "x", "quantity": "n"}, "value is missing"),
        ({"value": 1, "quantity": "n"}, "name is missing"),
        ({"name": "x", "value": "5.8", "quantity": "n"}, "value must be a number"),
        ({"name": "x", "value": 1, "path": "cohort..n"}, "empty step"),
        ({"name": "x", "value": 1, "quantity": "n", "digits": 2}, "unknown key 'digits'"),
    ],
)
def test_published_bad_entries(entry, match):
    with pytest.raises(SpecError, match=match):
        _parse(published=[entry])


def test_quantity_ids():
    for ok in ("n", "median:PFS", "landmark:OS:12", "hr:cox:2:hgb_lt_11=<11", "p:logrank:1"):
        assert quantity_error(ok) is None, ok
    assert "1-based" in str(quantity_error("hr:cox:0:age"))
    assert "unknown quantity id" in str(quantity_error("median"))
