"""The small-cell rule beyond "<k" (finding 7): with ``[report] small_cell_k = 5`` a free-text
column in Table 1 printed every patient's text, a one-patient group got its own median and
Kaplan-Meier curve, and "<5 excluded ... 50 analysed" beside the records received gave the
number away. On today's main each of these is printed."""

from __future__ import annotations

import csv
import json
import shutil
import zipfile

import pytest
from typer.testing import CliRunner

from mmrwe.cli.main import app
from mmrwe.study.demo import demo_dir
from mmrwe.tables.model import Source, hidden_paths


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("small")
    folder = base / "in"
    shutil.copytree(demo_dir(), folder)
    rows = list(csv.DictReader((folder / "patients.csv").open(encoding="utf-8")))
    for i, r in enumerate(rows):
        r["note"] = f"seen by Dr Rossi at visit {i} about the knee"  # free text, one per patient
        r["rare"] = "yes" if i == 0 else "no"  # a one-patient group
    rows[3]["start_date"] = ""  # one excluded row: <5 excluded
    with (folder / "patients.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    spec = folder / "study.toml"
    text = spec.read_text().replace('"best_response"]', '"best_response", "note"]', 1)
    text += (
        '\n[variables.note]\ntype = "categorical"\n'
        '\n[variables.rare]\ntype = "categorical"\n'
        '\n[[logrank]]\nendpoint = "PFS"\nby = "rare"\n'
        "\n[validation]\nexclude_invalid_rows = true\n"
        '\n[report]\nsmall_cell_k = 5\nfigure_formats = ["svg"]\n'
    )
    spec.write_text(text)
    out = base / "out"
    res = CliRunner().invoke(app, ["analyze", str(spec), "--out", str(out)])
    assert res.exit_code in (0, 3), res.output
    return {"out": out, "output": res.output, "rows": rows}


def _report_texts(out):
    texts = [(out / "report.html").read_text(), (out / "results.json").read_text()]
    with zipfile.ZipFile(out / "report.docx") as z:
        texts += [z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith(".xml")]
    texts += [p.read_text() for p in (out / "figures").glob("*.svg")]
    return texts


def test_free_text_is_refused_in_table1(small_run):
    results = json.loads((small_run["out"] / "results.json").read_text())
    (row,) = [r for r in results["table1"]["rows"] if r["variable"] == "note"]
    assert row["status"] == "not_estimable" and row["levels"] == []
    assert "small_cell_k" in row["reason"]
    assert "note" in " ".join(small_run["output"].split())  # the run warns
    for text in _report_texts(small_run["out"]):
        assert "Dr Rossi" not in text


def test_a_group_under_k_gets_no_median_and_no_curve(small_run):
    results = json.loads((small_run["out"] / "results.json").read_text())
    i = next(j for j, lr in enumerate(results["logrank"]) if lr["by"] == "rare")
    src = Source(results, 5, hidden_paths(results, 5))
    assert src.is_hidden("logrank", i, "curves", "yes", "median", "estimate")
    assert not src.has("logrank", i, "curves", "yes", "median")
    assert src.has("logrank", i, "curves", "no", "median")
    from matplotlib.text import Text

    from mmrwe.report import build_document

    doc = build_document(results)
    (fig,) = [b for b in doc.figure_blocks if dict(b.meta).get("logrank") == str(i)]
    drawn = fig.draw()
    texts = " ".join(" ".join(t.get_text().split()) for t in drawn.findobj(Text))
    assert "not drawn (small-cell rule)" in texts
    legend = [t.get_text() for t in drawn.axes[0].get_legend().get_texts()]
    assert not any(t.startswith("yes") for t in legend), legend


def test_complementary_suppression_of_the_flow(small_run):
    results = json.loads((small_run["out"] / "results.json").read_text())
    assert results["cohort"]["n_excluded"] == 1
    src = Source(results, 5, hidden_paths(results, 5))
    # received - analysed would give the excluded count away: received is withheld
    assert src.is_hidden("cohort", "n_input_rows")
    from matplotlib.text import Text

    from mmrwe.report import build_document

    (flow,) = [b for b in build_document(results).figure_blocks if b.role == "flow"]
    texts = " ".join(" ".join(t.get_text().split()) for t in flow.draw().findobj(Text))
    assert f"n = {results['cohort']['n_input_rows']}" not in texts, texts
    assert "n <5" in texts, texts  # excluded <5; received withheld (not printed)


def test_complementary_suppression_in_a_table1_column():
    results = {
        "report_options": {"small_cell_k": 5},
        "table1": {
            "rows": [
                {
                    "variable": "x",
                    "type": "categorical",
                    "levels": ["a", "b", "c"],
                    "overall": {"n": 30, "missing": 0, "counts": {"a": 2, "b": 8, "c": 20}},
                }
            ]
        },
    }
    hidden = hidden_paths(results, 5)
    # "a" prints as <5; "b" is withheld too, else 30 - 8 - 20 = 2
    assert ("table1", "rows", 0, "overall", "counts", "b") in hidden
    assert ("table1", "rows", 0, "overall", "counts", "c") not in hidden
    assert hidden_paths(results, 0) == frozenset()
