"""The key table, the loader, the JSON Schema and `mmrwe explain` agree on every spec key."""

from __future__ import annotations

import json
import math
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mmrwe.cli.main import app
from mmrwe.spec import InvalidSpecError, parse_spec
from mmrwe.spec import keys as K
from mmrwe.spec.loader import trace_reads
from mmrwe.spec.schema import SCHEMA_FILE, explain, json_schema, schema_text

runner = CliRunner()
ROOT = Path(__file__).parents[2]
DEMO_SPEC = ROOT / "src" / "mmrwe" / "data" / "demo" / "study.toml"

# Keys that cannot share one array entry: the maximal spec gets one entry per key of a group.
EXCLUSIVE = {"derive": {"below", "at_least", "above", "in"}, "cutpoint": {"endpoint", "proportion"},
             "sites": {"center", "centers"}, "published": {"quantity", "path"},
             "iptw": {"trim_bounds", "trim_quantile"}, "maic": {"outcome", "endpoint"}}  # fmt: skip
# A REDCap project replaces these keys of its table: the maximal spec has them and no
# `redcap`; the maximal REDCap spec has `redcap` and not them.
REDCAP_REPLACES = {"data": {"patients", "labs", "therapy", "date_format", "sheet", "table", "format"},
                   "sites": {"file", "sheet", "date_format"}}  # fmt: skip


def _map_entries(path: str) -> dict[str, Any]:
    t = K.table(path)
    if path == "maic.target":  # one numeric and one binary target (mean xor proportion)
        item = K.table("maic.target.*")
        num, prop = ("mean", "sd"), ("proportion", "level")
        return {
            "age": {k.name: k.example for k in item.keys if k.name in num},
            "tcr": {k.name: k.example for k in item.keys if k.name in prop},
        }
    if t.suggested:
        return {k.name: k.example for k in t.suggested}
    assert t.value is not None
    name = {"variables": "hgb", "validation.accept": "MMV011", "cox.reference": "sex",
            "sites.units": "hgb", "sites.recode": "sex", "sites.recode.*": "1",
            "data.redcap.checkboxes": "comorbidities",
            "sites.redcap.checkboxes": "comorbidities",
            "finegray.reference": "sex",
            "iptw.reference": "sex",
            "tv_cox.reference": "sex"}[path]  # fmt: skip
    if t.value.type in ("table", "map"):
        return {name: _build(f"{path}.*")}
    return {name: t.value.example}


_REDCAP = [False]  # building the maximal REDCap spec


def _build(path: str) -> Any:
    t = K.table(path)
    if t.kind == "map":
        return _map_entries(path)
    out: dict[str, Any] = {}
    for k in t.keys:
        if path in REDCAP_REPLACES and (
            k.name in REDCAP_REPLACES[path] if _REDCAP[0] else k.name == "redcap"
        ):
            continue
        child = f"{path}.{k.name}" if path else k.name
        if k.type == "array":
            out[k.name] = _entries(child)
        elif k.type in ("table", "map"):
            out[k.name] = _build(child)
        else:
            out[k.name] = k.example
    return out


def _entries(path: str) -> list[dict[str, Any]]:
    full = _build(path)
    group = EXCLUSIVE.get(path, set())
    base = {k: v for k, v in full.items() if k not in group}
    entries = [{**base, g: full[g]} for g in sorted(group)] or [base]
    for i, e in enumerate(entries[1:], 2):
        if path == "derive":  # derived names must be unique
            e["name"] = f"{e['name']}_{i}"
    return entries


def maximal_doc(redcap: bool = False) -> dict[str, Any]:
    """A spec holding every key of the table, each with its documented example.

    ``redcap``: the spec whose [data] and [[sites]] are REDCap projects (holding the
    redcap keys, without the keys a project replaces).
    """
    _REDCAP[0] = redcap
    try:
        return _build("")
    finally:
        _REDCAP[0] = False


def _docs() -> list[dict[str, Any]]:
    return [maximal_doc(), maximal_doc(redcap=True)]


def test_every_key_has_a_doc_and_an_example_and_typed_defaults():
    for path, key in K.all_keys():
        assert key.doc.endswith("."), path
        if key.type not in ("table", "array", "map"):
            assert key.example is not None, f"{path} has no example"
        if key.choices is not None:
            assert key.type in ("string", "string_or_false"), path
            assert key.example in key.choices, path
            if key.default is not K.NO_DEFAULT:
                assert key.default in key.choices, path


def test_the_maximal_spec_loads():
    spec = parse_spec(maximal_doc(), path=Path("study.toml"))
    assert spec.km.conf_type == "log-log" and spec.data.delimiter == ";"
    spec = parse_spec(maximal_doc(redcap=True), path=Path("study.toml"))
    assert spec.data.redcap is not None and spec.data.redcap.labs is not None
    assert spec.sites[0].redcap is not None and spec.data.patients == spec.data.redcap.records


def _norm(v: Any) -> Any:
    if isinstance(v, tuple | list):
        return [_norm(x) for x in v]
    if isinstance(v, int | float) and not isinstance(v, bool):
        return float(v)
    return v


def test_the_loader_reads_every_key_with_the_declared_type_default_choices_and_range():
    with trace_reads() as log:
        for doc in _docs():
            parse_spec(doc, path=Path("study.toml"))
    read: set[tuple[str, str]] = set()
    for rec in log:
        path, name = rec["path"], rec["key"]
        table = K.table(path)
        key = table.value if table.kind == "map" else table.key(name)
        assert key is not None, f"the loader reads {path}.{name}, which the key table lacks"
        where = f"{path}.{name}"
        read.add((path, key.name))
        assert rec["type"] == key.type, where
        if rec["type"] == "string":
            assert rec.get("choices") in (
                key.choices,
                None if key.choices is None else key.choices,
            ), where
            assert tuple(rec.get("choices") or ()) == tuple(key.choices or ()), where
        if rec["type"] in ("number", "integer", "numbers"):
            assert rec.get("lo") == key.minimum, where
            if rec["type"] != "numbers":
                assert rec.get("hi") == key.maximum, where
        if key.default_doc is None and not key.required:
            declared = None if key.default is K.NO_DEFAULT else key.default
            assert _norm(rec["default"]) == _norm(declared), where
        if key.required_doc is None and "required" in rec and table.kind != "map":
            assert rec["required"] == key.required, where
    declared_keys = {
        (t.path, k.name)
        for t in K.TABLES
        for k in (t.keys if t.kind != "map" else (t.value,))
        if k is not None and k.type not in ("table", "array", "map")
    }
    assert declared_keys - read == set(), "declared keys the loader never reads"


@pytest.mark.parametrize("path", [t.path for t in K.TABLES if t.kind != "map"])
def test_the_loader_refuses_a_key_the_table_lacks(tmp_path, path):
    doc = maximal_doc(redcap=".redcap" in path)
    node = doc
    label = "zz_not_a_key"
    for part in path.split(".") if path else []:
        part = next(iter(node)) if part == "*" else part
        node = node[part][0] if isinstance(node[part], list) else node[part]
    node["zz_not_a_key"] = 1
    with pytest.raises(InvalidSpecError) as exc:
        parse_spec(doc, path=tmp_path / "study.toml")
    codes = [(i.code, i.where.spec_key or "") for i in exc.value.issues]
    assert any(c == "MMS001" and key.endswith(label) for c, key in codes), codes


# -- JSON Schema ---------------------------------------------------------------------------


def test_the_shipped_schema_file_is_the_generated_schema():
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text()


def _validate(
    instance: Any, schema: dict[str, Any], root: dict[str, Any], path: str = ""
) -> list[str]:
    """A small draft-07 validator for the keywords the generated schema uses."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _validate(instance, root["definitions"][name], root, path)
    errors: list[str] = []
    if "anyOf" in schema and all(_validate(instance, s, root, path) for s in schema["anyOf"]):
        errors.append(f"{path}: matches no alternative")
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        ok = {
            "object": isinstance(instance, dict),
            "array": isinstance(instance, list),
            "string": isinstance(instance, str),
            "boolean": isinstance(instance, bool),
            "integer": isinstance(instance, int) and not isinstance(instance, bool),
            "number": isinstance(instance, int | float) and not isinstance(instance, bool),
        }
        if not any(ok[t] for t in types):
            return [f"{path}: not {types}"]
    if "enum" in schema and instance not in schema["enum"]:
        errors.append(f"{path}: {instance!r} not in enum")
    if isinstance(instance, int | float) and not isinstance(instance, bool):
        if "minimum" in schema and instance < schema["minimum"]:
            errors.append(f"{path}: below minimum")
        if "maximum" in schema and instance > schema["maximum"]:
            errors.append(f"{path}: above maximum")
    if isinstance(instance, list) and "items" in schema:
        for i, item in enumerate(instance):
            errors += _validate(item, schema["items"], root, f"{path}[{i}]")
    if isinstance(instance, dict):
        props = schema.get("properties", {})
        for req in schema.get("required", []):
            if req not in instance:
                errors.append(f"{path}: missing {req}")
        for k, v in instance.items():
            if k in props:
                errors += _validate(v, props[k], root, f"{path}.{k}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unknown key {k}")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += _validate(v, schema["additionalProperties"], root, f"{path}.{k}")
    return errors


def test_the_schema_accepts_the_demo_spec_and_the_maximal_spec():
    schema = json_schema()
    assert _validate(tomllib.loads(DEMO_SPEC.read_text()), schema, schema) == []
    assert _validate(maximal_doc(), schema, schema) == []
    assert _validate(maximal_doc(redcap=True), schema, schema) == []


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ({"data": {"patients": "p.csv"}, "km": {"conf_typ": "log"}}, "unknown key conf_typ"),
        ({"data": {"patients": "p.csv"}, "km": {"conf_type": "arcsin"}}, "not in enum"),
        ({"data": {"patients": "p.csv"}, "study": {"alpha": 0.9}}, "above maximum"),
        ({"data": {"patients": "p.csv"}, "cox": [{"endpoint": "OS"}]}, "missing terms"),
        ({"km": {}}, "matches no alternative"),
    ],
)
def test_the_schema_refuses_what_the_loader_refuses(tmp_path, doc, problem):
    schema = json_schema()
    errors = _validate(doc, schema, schema)
    assert any(problem in e for e in errors), errors
    with pytest.raises(InvalidSpecError):
        parse_spec(doc, path=tmp_path / "study.toml")


def test_the_schema_is_draft07_json_with_a_definition_per_table():
    data = json.loads(schema_text())
    assert data["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert set(data["properties"]) == K.table("").names
    refs = set(re.findall(r'"#/definitions/([^"]+)"', schema_text()))
    assert refs <= set(data["definitions"])
    assert math.isclose(data["definitions"]["study"]["properties"]["alpha"]["maximum"], 0.5)


def test_the_schema_is_valid_against_the_draft07_metaschema_when_jsonschema_is_installed():
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft7Validator.check_schema(json_schema())
    jsonschema.validate(tomllib.loads(DEMO_SPEC.read_text()), json_schema())


# -- mmrwe schema, mmrwe explain, -h, completion ---------------------------------------------


def test_mmrwe_schema_prints_the_schema(tmp_path):
    res = runner.invoke(app, ["schema"])
    assert res.exit_code == 0 and json.loads(res.stdout) == json_schema()
    res = runner.invoke(app, ["schema", "--out", str(tmp_path / "s.json")])
    assert res.exit_code == 0 and json.loads((tmp_path / "s.json").read_text()) == json_schema()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "km.conf_type",
            [
                "km.conf_type",
                'allowed: "log-log" | "log" | "plain"',
                'default: "log-log"',
                "contract key",
            ],
        ),
        ("[[cox]].ties", ["cox.ties", '"efron" | "breslow"', 'default: "efron"', "[[cox]]"]),
        ("[[cox]] 2 -> reference.sex", ["cox.reference.sex", 'reference = { sex = "F"']),
        ("ties", ["cox.ties"]),
        ("km", ["[km]", 'conf_type (string, default "log-log")', "landmarks"]),
        ("variables.hgb.unit", ["variables.hgb.unit", "[variables.hgb]", 'unit = "g/dL"']),
        ("data.columns.start_date", ["data.columns.start_date", "day 0"]),
        ("cutpoint.minprop", ["range: 0 to 0.49", "default: 0.1"]),
        ("km.conf_level", ["default: 1 - [study] alpha"]),
        ("", ["study.toml (top level)", "cutpoint (array of tables)"]),
    ],
)
def test_explain(query, expected):
    text = explain(query)
    for piece in expected:
        assert piece in text, text
    res = runner.invoke(app, ["explain", query] if query else ["explain"])
    assert res.exit_code == 0 and res.stdout.strip() == text.strip()


@pytest.mark.parametrize(
    ("query", "near"), [("km.conf_typ", "km.conf_type"), ("[[cox]].tie", "cox.ties")]
)
def test_explain_an_unknown_key_suggests_the_nearest(query, near):
    res = runner.invoke(app, ["explain", query])
    assert res.exit_code == 1
    assert repr(query) in res.output  # printed as typed (brackets are not markup)
    assert near in res.output and "Traceback" not in res.output


def test_schema_to_a_folder_that_cannot_be_written_is_a_message():
    res = runner.invoke(app, ["schema", "--out", "/proc/no-such-folder/s.json"])
    assert res.exit_code == 1 and "cannot write" in res.output and "Traceback" not in res.output


def _commands() -> list[str]:
    import typer.main

    group = typer.main.get_command(app)
    return sorted(group.commands)  # type: ignore[attr-defined]


def test_dash_h_works_for_the_tool_and_every_command():
    res = runner.invoke(app, ["-h"])
    assert res.exit_code == 0 and "init" in res.output and "explain" in res.output
    assert "--install-completion" in res.output
    commands = _commands()
    assert {"init", "schema", "explain", "validate", "analyze", "demo"} <= set(commands)
    for name in commands:
        res = runner.invoke(app, [name, "-h"])
        assert res.exit_code == 0, (name, res.output)
        assert "Usage" in res.output, name


def test_every_table_of_the_key_table_is_explained():
    for t in K.TABLES:
        q = t.path.replace("*", "x")
        assert explain(q), t.path
