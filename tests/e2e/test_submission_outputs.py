"""Submission-ready output from the pipeline: figure files in every requested format (the
issue's acceptance: every figure in pdf, svg and tiff; KM PDF and SVG without a raster image;
TIFF at 600 dpi), listed in run.json; figure options recorded in results.json so the reports
follow them; declared levels in results.json; published-vs-reproduced on the demo; subgroup
entries that the data do not allow."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from typer.testing import CliRunner

import mmrwe
from mmrwe.cli.main import app
from mmrwe.report import build_document, write_figures
from mmrwe.spec import InvalidSpecError, parse_spec
from mmrwe.study.demo import copy_demo_inputs, published_vs_reproduced
from mmrwe.tables import build_tables
from refdata import REFERENCE

SVG = "{http://www.w3.org/2000/svg}"
FIGURE_KEYS = """
[report]
figure_formats = ["pdf", "svg", "tiff"]
figure_dpi = 600
figure_width_mm = 85
palette = "greyscale"
km_annotations = false
"""


@pytest.fixture(scope="module")
def figure_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo study with [report] figure keys, run by `mmrwe analyze`."""
    src = tmp_path_factory.mktemp("in")
    spec = copy_demo_inputs(src)
    spec.write_text(spec.read_text() + FIGURE_KEYS)
    out = tmp_path_factory.mktemp("out")
    res = CliRunner().invoke(app, ["analyze", str(spec), "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    return out


def _results(out: Path) -> dict[str, Any]:
    return json.loads((out / "results.json").read_text())


def test_every_figure_in_every_format_listed_in_run_json(figure_run: Path) -> None:
    results = _results(figure_run)
    doc = build_document(results)
    names = {b.name for b in (*doc.figure_blocks, *doc.exports)}
    assert {"km_pfs", "km_os", "forest_cox", "forest_subgroups_pfs_hgb_lt_11", "flow"} <= names
    files = json.loads((figure_run / "run.json").read_text())["files"]
    listed = {v for k, v in files.items() if k.startswith("figure:")}
    expected = {f"figures/{n}.{ext}" for n in names for ext in ("pdf", "svg", "tiff")}
    assert listed == expected
    on_disk = {p.relative_to(figure_run).as_posix() for p in (figure_run / "figures").iterdir()}
    assert on_disk == expected
    assert files["results"] == "results.json" and files["report_html"] == "report.html"


def test_km_pdf_and_svg_are_vector_and_tiff_is_600_dpi(figure_run: Path) -> None:
    figs = figure_run / "figures"
    for name in ("km_pfs", "km_os", "km_pfs_by_hgb_lt_11", "km_os_by_fish_risk"):
        pdf = (figs / f"{name}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF") and b"/Subtype /Image" not in pdf  # no raster image
        svg = ET.fromstring((figs / f"{name}.svg").read_bytes())
        assert not list(svg.iter(f"{SVG}image"))
        assert "Number at risk" in [t.text for t in svg.iter(f"{SVG}text")]  # text as text
    for tiff in figs.glob("*.tiff"):
        with Image.open(tiff) as im:
            assert im.info["dpi"] == pytest.approx((600, 600)), tiff.name
            assert im.info["compression"] == "tiff_lzw"
    with Image.open(figs / "km_pfs.tiff") as im:
        assert abs(im.size[0] - 85 / 25.4 * 600) <= 1  # figure_width_mm = 85 at 600 dpi


def test_figure_options_are_in_results_and_the_figures_follow_them(figure_run: Path) -> None:
    results = _results(figure_run)
    assert results["report_options"] == {
        "small_cell_k": 0,
        "table1_by": "tcr",
        "figure_width_mm": 85.0,
        "palette": "greyscale",
        "km_annotations": False,
        "figure_formats": ["pdf", "svg", "tiff"],
        "figure_dpi": 600,
    }
    doc = build_document(results)  # what report.html and report.docx draw
    assert doc.options.width_mm == 85.0 and doc.options.km_annotations is False
    svg = (figure_run / "figures" / "km_pfs_by_hgb_lt_11.svg").read_text()
    colours = {c.lower() for c in re.findall(r"(?:stroke|fill): (#[0-9a-fA-F]{6})", svg)}
    assert colours and all(c[1:3] == c[3:5] == c[5:7] for c in colours)  # greyscale
    assert "Log-rank p" not in svg and "HR " not in svg  # km_annotations = false


def test_figure_files_are_drawn_from_results_json_alone(figure_run: Path, tmp_path: Path) -> None:
    # the files the run wrote equal the ones drawn again from the re-read results.json
    results = _results(figure_run)
    opts = results["report_options"]
    again = write_figures(
        results, tmp_path, formats=["pdf", "svg"], dpi=opts["figure_dpi"],
        width_mm=opts["figure_width_mm"], palette=opts["palette"],
        km_annotations=opts["km_annotations"],
    )  # fmt: skip
    for name in ("km_pfs.pdf", "forest_subgroups_pfs_hgb_lt_11.svg", "forest_cox_5.pdf"):
        assert again[name].read_bytes() == (figure_run / "figures" / name).read_bytes(), name


def test_no_figure_files_without_figure_formats(demo_run: Path) -> None:
    assert not (demo_run / "figures").exists()
    files = json.loads((demo_run / "run.json").read_text())["files"]
    assert not any(k.startswith("figure:") for k in files)


def test_declared_levels_are_in_results(demo_run: Path) -> None:
    v = _results(demo_run)["variables"]
    assert v["best_response"]["levels"] == ["sCR", "CR", "VGPR", "PR", "MR", "SD", "PD", "NE"]
    assert v["hgb_lt_11"]["levels"] == [">=11", "<11"]
    assert v["center"]["levels"] is None  # not declared: the tables keep the analysis order


# --- published versus reproduced on the demo --------------------------------------------------


def test_demo_published_entries_are_reproduced(demo_run: Path) -> None:
    r = _results(demo_run)
    pub = {e["name"]: e for e in r["published"]}
    assert all(e["status"] == "ok" for e in r["published"]), [
        (e["name"], e["reason"]) for e in r["published"] if e["status"] != "ok"
    ]
    # the counts the synthetic cohort was built to match: exact
    for name, value in (("Patients", 51), ("Age < 70 years", 31), ("Female", 29),
                        ("Triple-class refractory", 38), ("High-risk FISH", 9),
                        ("Stringent complete response", 3), ("Complete response", 4),
                        ("Very good partial response", 7), ("Partial response", 15)):  # fmt: skip
        assert pub[name]["reproduced"]["value"] == value and pub[name]["difference"] == 0, name
    med = pub["Median PFS"]
    assert med["published"] == {"value": 5.8, "lower": 3.9, "upper": 7.7}
    assert med["reproduced"]["value"] == r["endpoints"]["PFS"]["median"]["estimate"]
    sym = pub["Median PFS, symmetric CI (median +- 1.96 SE, as published)"]
    assert sym["reproduced"]["lower"] == r["endpoints"]["PFS"]["median_symmetric"]["lower"]
    # percentages: 100 x the proportion / survival
    orr = next(p for p in r["proportions"] if p["name"] == "ORR")
    assert pub["Overall response rate"]["reproduced"]["value"] == pytest.approx(
        100 * orr["estimate"], rel=1e-15
    )
    os12 = r["endpoints"]["OS"]["landmarks"]["12"]["surv"]
    assert pub["12-month OS"]["reproduced"]["value"] == pytest.approx(100 * os12, rel=1e-15)
    youden = r["cutpoints"][1]
    assert youden["method"] == "youden"
    assert (
        pub["Hemoglobin cut-off for PFS (ROC), g/dL"]["reproduced"]["value"] == youden["cutpoint"]
    )
    assert "Published and reproduced estimates" in (demo_run / "report.html").read_text()


def test_cli_demo_table_is_built_from_results_json(demo_run: Path) -> None:
    r = _results(demo_run)
    rows = published_vs_reproduced(r)
    assert [row[0] for row in rows] == [e["name"] for e in r["published"]]
    table = {q: (p, rep) for q, p, rep in rows}
    assert table["Patients"] == ("51", "51")
    # 5.8 (3.9-7.7) published; reproduced median with its band CI, 1 decimal
    m = r["endpoints"]["PFS"]["median"]
    assert table["Median PFS"] == (
        "5.8 (3.9-7.7)",
        f"{m['estimate']:.1f} ({m['lower']:.1f}-{m['upper']:.1f})",
    )
    assert table["Overall response rate"][0] == "56.9 %"


# --- subgroups the data do not allow, and spec checks -------------------------------------------


def _veteran(accept: dict[str, str] | None = None, **entry: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "study": {"title": "veteran"},
        "data": {"patients": "e2e_veteran_patients.csv"},
        "subgroup": [{"endpoint": "OS", **entry}],
    }
    if accept:
        spec["validation"] = {"accept": accept}
    return mmrwe.Study(spec, base_dir=REFERENCE / "data").run().to_dict()


def test_subgroup_effect_with_four_levels_is_not_estimable() -> None:
    r = _veteran(effect="celltype", by=["prior"])
    e = r["subgroups"][0]
    assert e["status"] == "not_estimable" and "4 level(s)" in e["reason"]
    assert e["spec_key"] == "[[subgroup]] 1" and e["effect"] == "celltype"
    t = build_tables(r)
    assert "not_computed" in t and "subgroups" in t  # listed, and the section says why


def test_subgroup_reference_that_is_not_a_level_fails_with_the_fix() -> None:
    entry: dict[str, Any] = {
        "endpoint": "OS",
        "effect": "arm",
        "by": ["prior"],
        "reference": "placebo",
    }
    spec = {"data": {"patients": "e2e_veteran_patients.csv"}, "subgroup": [entry]}
    errors = mmrwe.Study(spec, base_dir=REFERENCE / "data").validate().errors
    # validation names the level first (MMV023); accepted, the entry fails on its own
    assert [(i.code, i.where.spec_key) for i in errors] == [
        ("MMV023", "[[subgroup]] 1 -> reference")
    ]
    e = _veteran(
        accept={"MMV023": "the analysis boundary is tested"},
        effect="arm",
        by=["prior"],
        reference="placebo",
    )["subgroups"][0]
    assert e["status"] == "failed" and "'placebo'" in e["reason"]


def test_continuous_by_is_refused_for_that_by_only() -> None:
    e = _veteran(effect="arm", by=["center", "age"])["subgroups"][0]
    assert e["status"] == "ok"
    center, age = e["interaction"]
    assert center["status"] == "ok" and center["df"] == 3  # four centers
    assert age["status"] == "not_estimable" and "distinct values" in age["reason"]
    assert {lv["by"] for lv in e["levels"]} == {"center"}
    only = _veteran(effect="arm", by=["age"])["subgroups"][0]
    assert only["status"] == "not_estimable" and only["reason"].startswith("age:")


def test_subgroup_spec_is_checked_when_loaded(tmp_path: Path) -> None:
    base = {"data": {"patients": "p.csv"}}
    with pytest.raises(InvalidSpecError) as exc:
        parse_spec(
            {**base, "subgroup": [{"endpoint": "PFS", "effect": "arm", "by": ["arm", "sex"]},
                                  {"endpoint": "EFS", "effect": "arm"}]},
            path=tmp_path / "study.toml",
        )  # fmt: skip
    found = {(i.code, i.where.spec_key) for i in exc.value.issues}
    assert ("MMS006", "[[subgroup]] 1 -> by") in found  # the effect among its own subgroups
    assert ("MMS003", "[[subgroup]] 2 -> endpoint") in found
    assert ("MMS005", "[[subgroup]] 2 -> by") in found


@pytest.mark.parametrize(
    ("value", "expected", "code"),
    [("II", "II", None), ("sequential", "sequential", None), (False, None, None),
     ("III", None, "MMS003"), ("ii", None, "MMS003"), (True, None, "MMS002")],
)  # fmt: skip
def test_term_tests_key(tmp_path: Path, value: Any, expected: Any, code: str | None) -> None:
    doc = {"data": {"patients": "p.csv"},
           "cox": [{"endpoint": "OS", "terms": ["age"], "term_tests": value}]}  # fmt: skip
    if code is None:
        assert parse_spec(doc, path=tmp_path / "s.toml").cox[0].term_tests == expected
        return
    with pytest.raises(InvalidSpecError) as exc:
        parse_spec(doc, path=tmp_path / "s.toml")
    issue = exc.value.issues[0]
    assert issue.code == code and issue.where.spec_key == "[[cox]] 1 -> term_tests"
    assert 'term_tests = "II"' in issue.fix  # a close choice, or every allowed value
    assert code == "MMS003" or "false" in issue.fix
