"""Random study specs on the demo's columns never end in an internal error (issue #21).

Hypothesis writes specs, valid and invalid, from the demo cohort's columns (plus a column
missing in every row, a constant, free text and a one-level factor): Cox models, log-rank
tests, proportions and their comparisons, cut-offs (maxstat and Youden, any minprop and
maxprop), subgroups, cumulative incidence and RMST, with any term, reference level, landmark
or tau, and now and then an unknown key or a value of the wrong type. Whatever the spec:

* the run either stops before analysis with a user error that says where (a spec key, a
  file, a row) or writes its results (exit status 0, or 3 when an analysis failed on a user
  error found at analysis time, such as a reference level that does not occur);
* in the results no analysis failed with an internal error: an entry that cannot be
  computed is "not_estimable" or "failed" with a reason in words and its spec key.

Through the command line (fewer examples: reports are slow) the same holds, and results.json
is there whenever the exit status is not 1 (spec or data refused, nothing analysed), and
nothing reads "This is a bug".
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mmrwe.cli.main import app
from mmrwe.core.errors import MmrweError, ValidationError
from mmrwe.spec import load_spec
from mmrwe.spec.errors import InvalidSpecError
from mmrwe.study import Study
from mmrwe.study.demo import demo_dir

NUMERIC = ["age", "prior_lines", "months_from_dara_refractory", "hgb", "allmissing", "constant"]
CATEGORICAL = ["sex", "tcr", "fish_risk", "best_response", "center", "onelevel", "note"]
DATES = ["start_date", "progression_date", "death_date", "last_followup_date"]
# mostly usable columns: a spec that is refused at once tests little
COLUMNS = (NUMERIC + CATEGORICAL) * 6 + DATES + ["patient_id", "no_such_column"]
LEVELS = ["M", "F", "yes", "no", "high", "standard", "PR", "VGPR", "CR", "Center A", "x", "?"]
ENDPOINTS = ["PFS", "OS"] * 6 + ["TTP", "DoR", "TTNT"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("random_specs")
    shutil.copy(demo_dir() / "patients.csv", d / "patients.csv")
    p = pd.read_csv(d / "patients.csv", dtype=str, keep_default_na=False)
    p["allmissing"] = ""
    p["constant"] = "5"
    p["note"] = [f"text {i}" for i in range(len(p))]
    p["onelevel"] = "x"
    p.to_csv(d / "patients.csv", index=False)
    return d


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def _table(name: str, keys: dict[str, Any], array: bool = True) -> str:
    head = f"[[{name}]]" if array else f"[{name}]"
    return "\n".join([head, *(f"{k} = {_toml(v)}" for k, v in keys.items())]) + "\n"


col = st.sampled_from(COLUMNS)
num_col = st.sampled_from([*NUMERIC, "sex", "note"])
level = st.sampled_from(LEVELS)
time = st.floats(0, 60, allow_nan=False).map(lambda x: round(x, 1))
# now and then a negative time (one draw in ten)
small = st.integers(0, 9).flatmap(lambda k: st.just(-6.0) if k == 0 else time)


@st.composite
def entries(draw: st.DrawFn, k: int) -> str:
    """The k-th analysis entry (or a broken one) as TOML."""
    kinds = ["cox", "logrank", "proportion", "cutpoint", "subgroup", "cuminc", "rmst"]
    kind = draw(st.sampled_from(kinds * 3 + ["bad"]))
    ep = draw(st.sampled_from(ENDPOINTS))
    if kind == "cox":
        terms = draw(st.lists(col, min_size=1, max_size=3, unique=True))
        keys: dict[str, Any] = {"endpoint": ep, "terms": terms}
        if draw(st.booleans()):
            keys["reference"] = {terms[0]: draw(level)}
        if draw(st.booleans()):
            keys["strata"] = draw(col)
        keys["ph_test"] = draw(st.booleans())
        keys["firth"] = draw(st.sampled_from(["auto", "never", "always"]))
        return _table("cox", keys)
    if kind == "logrank":
        keys = {"endpoint": ep, "by": draw(col)}
        if draw(st.booleans()):
            keys["strata"] = draw(col)
        if draw(st.booleans()):
            keys["trend"] = True
        if draw(st.booleans()):
            keys["rho"] = draw(st.sampled_from([0, 1, 0.5]))
        return _table("logrank", keys)
    if kind == "proportion":
        name = f"P{k}"
        success = draw(st.lists(level, min_size=1, max_size=2))
        out = _table("proportion", {"name": name, "variable": draw(col), "success": success})
        return out + _table("compare_proportion", {"outcome": name, "by": draw(col)})
    if kind == "cutpoint":
        keys = {"variable": draw(num_col), "method": draw(st.sampled_from(["maxstat", "youden"]))}
        keys["endpoint"] = ep
        keys["minprop"] = draw(st.sampled_from([0.0, 0.05, 0.1, 0.2, 0.3, 0.49] * 3 + [0.6]))
        if draw(st.booleans()):
            keys["maxprop"] = draw(st.sampled_from([0.5, 0.6, 0.9, 1.0] * 3 + [0.4, 1.2]))
        keys["bootstrap"] = draw(st.sampled_from([0, 20]))
        keys["direction"] = draw(st.sampled_from(["<=", ">="]))
        return _table("cutpoint", keys)
    if kind == "subgroup":
        effect = draw(col)
        by = draw(st.lists(col.filter(lambda c: c != effect), min_size=1, max_size=2, unique=True))
        return _table("subgroup", {"endpoint": ep, "effect": effect, "by": by})
    if kind == "cuminc":
        keys = {"event": draw(st.sampled_from(["progression", "death"]))}
        if draw(st.booleans()):
            keys["by"] = draw(col)
        if draw(st.booleans()):
            keys["times"] = draw(st.lists(small, min_size=1, max_size=3))
        return _table("cuminc", keys)
    if kind == "rmst":
        keys = {
            "endpoint": ep,
            "tau": draw(small.map(lambda x: x or 12.0)),
            "by": draw(col),
        }
        return _table("rmst", keys)
    # a broken entry: an unknown key, a value of the wrong type, a missing required key
    return draw(
        st.sampled_from(
            [
                _table("cox", {"endpoint": ep, "terms": "age"}),
                _table("cox", {"endpoint": ep, "terms": ["age"], "colour": "red"}),
                _table("logrank", {"by": "sex"}),
                _table("cutpoint", {"endpoint": ep, "variable": "hgb", "minprop": "0.1"}),
                _table("rmst", {"endpoint": ep, "by": "sex"}),
            ]
        )
    )


@st.composite
def specs(draw: st.DrawFn) -> str:
    unit = draw(st.sampled_from(["months", "days", "years"]))
    out = f'[study]\ntitle = "random"\ntime_unit = "{unit}"\n\n[data]\npatients = "patients.csv"\n'
    for name in draw(st.lists(col, max_size=2, unique=True)):
        keys: dict[str, Any] = {}
        if draw(st.booleans()):
            keys["type"] = draw(st.sampled_from(["numeric", "categorical"]))
        if draw(st.integers(0, 3)) == 0:
            keys["levels"] = draw(st.lists(level, min_size=1, max_size=3, unique=True))
        out += _table(f"variables.{name}", keys, array=False)
    if draw(st.booleans()):
        out += _table("km", {"landmarks": draw(st.lists(small, max_size=3))}, array=False)
    for k in range(draw(st.integers(1, 4))):
        out += "\n" + draw(entries(k))
    return out


def _internal_errors(results: dict[str, Any]) -> list[str]:
    """Entries or sections that failed by a bug in mmrwe (their reason says so)."""
    bad: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if node.get("status") == "failed" and "internal error" in str(node.get("reason")):
                bad.append(f"{path}: {node.get('reason')}")
            for k, v in node.items():
                walk(v, f"{path}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")

    walk(results, "")
    return bad


def _check_located(exc: MmrweError) -> None:
    """A user error names where it is: the spec's issues, the validation issues, or a place."""
    if isinstance(exc, InvalidSpecError | ValidationError):
        assert "\n  at " in str(exc), str(exc)
    else:
        assert exc.where is not None or "[[" in exc.what or "spec" in exc.what, str(exc)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(text=specs())
def test_random_specs_never_end_in_an_internal_error(folder: Path, text: str) -> None:
    path = folder / "study.toml"
    path.write_text(text)
    try:
        result = Study(load_spec(path)).run()
    except MmrweError as exc:  # refused before analysis, with its place
        _check_located(exc)
        event(f"refused: {type(exc).__name__}")
        return
    results = result.to_dict()
    event("analysed")
    assert _internal_errors(results) == [], text
    # a failed entry is a user error found at analysis time, listed with its reason
    assert not [r for _, r in result.failed if "internal error" in (r or "")], text
    for key in ("cox", "logrank", "cutpoints", "proportion_comparisons", "subgroups", "rmst"):
        for e in results.get(key) or []:
            assert e["status"] in ("ok", "not_estimable", "failed") and e["spec_key"]
            assert (e["status"] == "ok") == (e["reason"] is None), e


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(text=specs())
def test_analyze_writes_results_unless_the_spec_or_data_are_refused(
    folder: Path, tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    (folder / "cli.toml").write_text(text)
    out = tmp_path_factory.mktemp("out")
    res = CliRunner().invoke(app, ["analyze", str(folder / "cli.toml"), "--out", str(out), "-q"])
    assert "This is a bug" not in res.output and "Traceback" not in res.output, res.output
    if res.exit_code in (0, 3):  # 3: an analysis failed (a user error), the rest written
        results = json.loads((out / "results.json").read_text())
        assert _internal_errors(results) == []
        assert (out / "report.html").exists() and (out / "run.json").exists()
    else:
        assert res.exit_code == 1, (res.exit_code, res.output)  # refused, nothing analysed
        assert not (out / "results.json").exists()
        assert "\n  at " in res.output or " at " in res.output, res.output  # says where
