"""Acceptance: the demo cohort as a REDCap project gives the canonical demo's numbers.

``scripts/make_demo_redcap.py`` wrote the SYNTHETIC demo cohort as a REDCap project
(tests/data/redcap/demo: dictionary, raw and labels exports, data access groups). For each
export, ``mmrwe init --redcap`` writes the spec and ``mmrwe analyze`` runs it with no edit.
Then

* every number of its results.json equals the one at the same place in the canonical demo's
  results.json (``mmrwe demo``: patients.csv, labs.csv, therapy.csv and the demo's own spec),
  relative difference <= 1e-12, the inputs section aside (file names and hashes differ);
  analysis entries are matched by what they are (endpoint, variable, name, ...), since the
  written spec asks for fewer analyses than the demo's;
* the written spec run on the canonical CSV tables gives exactly the same results.json
  numbers, in both directions (nothing more, nothing less);
* the identifiers of the project reach no output, and no input changes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import mmrwe
from mmrwe.cli.main import app
from mmrwe.study.demo import demo_dir

ROOT = Path(__file__).parents[2]
DATA = ROOT / "tests" / "data" / "redcap" / "demo"
runner = CliRunner()
REL_TOL = 1e-12

# What an entry of an analysis list is, whatever its position.
IDENTITY = ("name", "variable", "endpoint", "outcome", "by", "terms", "strata", "method",
            "direction", "proportion", "event", "competing", "effect", "code", "what")  # fmt: skip


def numbers(tree: Any, path: str = "") -> Iterator[tuple[str, float]]:
    """Every number of a results tree with a path that names list entries by identity."""
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from numbers(v, f"{path}.{k}")
    elif isinstance(tree, list):
        seen: dict[str, int] = {}
        for i, v in enumerate(tree):
            ident = {k: v[k] for k in IDENTITY if isinstance(v, dict) and _names(v.get(k))}
            if ident:
                key = json.dumps(ident, sort_keys=True)
                seen[key] = seen.get(key, 0) + 1
                yield from numbers(v, f"{path}[{key}#{seen[key]}]")
            else:
                yield from numbers(v, f"{path}[{i}]")
    elif isinstance(tree, int | float) and not isinstance(tree, bool):
        yield path, float(tree)


def _names(x: Any) -> bool:
    """A name (text) or a list of names: what identifies an entry (not a table of numbers)."""
    return isinstance(x, str) or (
        isinstance(x, list) and bool(x) and all(isinstance(y, str) for y in x)
    )


def flat(results: dict[str, Any]) -> dict[str, float]:
    return dict(numbers({k: v for k, v in results.items() if k != "inputs"}))


def rel_diff(a: float, b: float) -> float:
    return 0.0 if a == b else abs(a - b) / max(abs(a), abs(b))


def _hashes(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()
    }


@pytest.fixture(scope="module")
def canonical() -> dict[str, Any]:
    return mmrwe.Study.from_toml(demo_dir() / "study.toml").run().to_dict()


@pytest.fixture(scope="module", params=["raw", "labels"])
def redcap_run(request, tmp_path_factory) -> dict[str, Any]:
    kind = request.param
    work = tmp_path_factory.mktemp(f"redcap_{kind}")
    for name in (f"records_{kind}.csv", "dictionary.csv", "dags.csv"):
        shutil.copyfile(DATA / name, work / name)
    before = _hashes(work)
    spec = work / "study.toml"
    res = runner.invoke(app, ["init", "--redcap", str(work / f"records_{kind}.csv"),
                              str(work / "dictionary.csv"), "--groups", str(work / "dags.csv"),
                              "--out", str(spec)])  # fmt: skip
    assert res.exit_code == 0, res.output
    inputs = _hashes(work)
    out = tmp_path_factory.mktemp(f"out_{kind}")
    res = runner.invoke(app, ["analyze", str(spec), "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    assert _hashes(work) == inputs and {k: v for k, v in inputs.items() if k in before} == before
    results = json.loads((out / "results.json").read_text())
    return {"kind": kind, "spec": spec, "out": out, "results": results, "work": work}


def test_every_number_equals_the_canonical_demos(redcap_run, canonical):
    b, a = flat(redcap_run["results"]), flat(canonical)
    missing = sorted(k for k in b if k not in a)
    assert missing == [], missing[:20]
    worst = max(((rel_diff(v, a[k]), k) for k, v in b.items()), default=(0.0, ""))
    assert worst[0] <= REL_TOL, worst
    # the written spec reproduces the core of the study, not a sliver of it
    assert len(b) > 1500
    r = redcap_run["results"]
    assert r["cohort"]["n"] == 51 and r["response_derivation"]["used_by_analyses"] is True
    assert set(r["cohort"]["centers"]) == {f"Center {c}" for c in "ABCDE"}
    for ep in ("PFS", "OS"):
        assert r["endpoints"][ep]["median"] == canonical["endpoints"][ep]["median"]
    assert [p["name"] for p in r["proportions"]] == ["ORR"]
    assert r["inputs"]["patients"]["format"] == "redcap"
    assert r["inputs"]["labs"]["n_rows"] == canonical["inputs"]["labs"]["n_rows"]
    assert r["inputs"]["therapy"]["n_rows"] == canonical["inputs"]["therapy"]["n_rows"]


_on_csv: dict[str, dict[str, Any]] = {}


def test_the_written_spec_on_the_canonical_tables_gives_the_same_numbers(redcap_run):
    doc = tomllib.loads(redcap_run["spec"].read_text())
    demo = demo_dir()
    doc["data"] = {"patients": str(demo / "patients.csv"), "labs": str(demo / "labs.csv"),
                   "therapy": str(demo / "therapy.csv")}  # fmt: skip
    key = json.dumps({k: v for k, v in doc.items() if k != "study"}, sort_keys=True, default=str)
    if key not in _on_csv:  # the raw and labels specs differ in [data] only
        _on_csv[key] = mmrwe.Study(doc, base_dir=demo).run().to_dict()
    b, c = flat(redcap_run["results"]), flat(_on_csv[key])
    assert set(b) == set(c)
    assert [k for k in b if rel_diff(b[k], c[k]) > REL_TOL] == []


def test_identifiers_reach_no_output(redcap_run):
    kind = redcap_run["kind"]
    header, *rows = (DATA / f"records_{kind}.csv").read_text().splitlines()
    col = header.split(",").index("birth_date")
    births = {r.split(",")[col] for r in rows if r.split(",")[col]}
    assert len(births) == 51
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace")
                     for p in redcap_run["out"].rglob("*") if p.suffix in (".json", ".csv", ".html", ".jsonl"))  # fmt: skip
    assert [b for b in births if b in text] == []
    assert "birth_date" not in text and "initials" not in text
    spec = redcap_run["spec"].read_text()
    assert "[variables.birth_date]" not in spec and "initials, birth_date" in spec


def test_the_written_spec_states_every_choice(redcap_run):
    text = redcap_run["spec"].read_text()
    r = redcap_run["results"]
    expected = {"raw": ('export = "raw"', 'baseline_event = "baseline_arm_1"'),
                "labels": ('export = "labels"', 'baseline_event = "Baseline"')}[redcap_run["kind"]]  # fmt: skip
    for piece in (*expected, 'forms = ["baseline", "outcome"]', 'instrument = "labs"',
                  'agents = "ther_agents"', 'ther_agents = "set"', 'source = "labs"',
                  'levels = ["sCR", "CR", "VGPR", "PR", "MR", "SD", "PD", "NE"]', 'unit = "g/dL"'):  # fmt: skip
        assert piece in text, piece
    # every key of [data] and [data.redcap...] is preceded by the comment that says why
    lines = text.splitlines()
    table = ""
    for k, line in enumerate(lines):
        if line.startswith("["):
            table = line
        elif table.startswith("[data") and "=" in line and not line.startswith("#"):
            assert lines[k - 1].startswith("#"), f"{table} {line}: no comment says why"
    assert r["variables"]["hgb"]["unit"] == "g/dL"


def test_the_committed_project_is_what_the_generator_writes():
    spec = importlib.util.spec_from_file_location(
        "make_demo_redcap", ROOT / "scripts" / "make_demo_redcap.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    files = mod.files()
    assert sorted(files) == sorted(p.name for p in DATA.iterdir())
    for name, text in files.items():
        assert (DATA / name).read_text(encoding="utf-8") == text, name
