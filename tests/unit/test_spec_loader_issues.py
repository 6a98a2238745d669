"""The spec loader reports every problem of a spec in one run, each naming the key, the value
and a fix, in the user's terms ("[[cox]] 2 -> ties", 1-based, with the TOML line)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmrwe.cli.main import app
from mmrwe.core.errors import SpecError
from mmrwe.spec import InvalidSpecError, load_spec, parse_spec, spec_key_label
from mmrwe.spec import keys as K

runner = CliRunner()
DEMO_SPEC = Path(__file__).parents[2] / "src" / "mmrwe" / "data" / "demo" / "study.toml"

FIVE_MISTAKES = """\
[study]
title = "five mistakes"
time_unit = "weeks"

[data]
patients = "patients.csv"

[km]
conf_typ = "log"

[[proportion]]
name = "ORR"
variable = "best_response"
success = ["sCR", "CR", "VGPR", "PR"]

[[compare_proportion]]
outcome = "ORRR"
by = "tcr"

[[cox]]
endpoint = "OS"
terms = ["age"]

[[cox]]
endpoint = "PFS"
terms = ["age", "hgb"]
reference = { sex = "F" }
ties = "exact"
"""


def _issues(tmp_path: Path, text: str) -> tuple[InvalidSpecError, list[tuple[str, str | None]]]:
    f = tmp_path / "study.toml"
    f.write_text(text)
    with pytest.raises(InvalidSpecError) as exc:
        load_spec(f)
    return exc.value, [(i.code, i.where.spec_key) for i in exc.value.issues]


def test_five_mistakes_are_all_listed_in_one_load(tmp_path):
    err, found = _issues(tmp_path, FIVE_MISTAKES)
    assert found == [
        ("MMS003", "study.time_unit"),
        ("MMS001", "km.conf_typ"),
        ("MMS006", "[[compare_proportion]] 1 -> outcome"),
        ("MMS006", "[[cox]] 2 -> reference.sex"),
        ("MMS003", "[[cox]] 2 -> ties"),
    ]
    # The line of each problem in the TOML file (1-based), for editors and humans.
    assert [i.where.row for i in err.issues] == [3, 9, 17, 27, 28]
    assert all(i.where.file == str(tmp_path / "study.toml") for i in err.issues)
    # Each message names the key, the value and a correct fix.
    by_key = {i.where.spec_key: i for i in err.issues}
    assert "'weeks'" in by_key["study.time_unit"].what
    assert '"days" | "months" | "years"' in by_key["study.time_unit"].fix
    assert "did you mean 'conf_type'?" in by_key["km.conf_typ"].fix
    assert "'ORRR'" in by_key["[[compare_proportion]] 1 -> outcome"].what
    assert 'outcome = "ORR"' in by_key["[[compare_proportion]] 1 -> outcome"].fix
    assert "(age, hgb)" in by_key["[[cox]] 2 -> reference.sex"].what
    assert "'exact'" in by_key["[[cox]] 2 -> ties"].what
    assert "'efron', 'breslow'" in by_key["[[cox]] 2 -> ties"].what


def test_the_error_is_one_spec_error_whose_what_where_fix_are_the_first_issue(tmp_path):
    err, _ = _issues(tmp_path, FIVE_MISTAKES)
    assert isinstance(err, SpecError)
    first = err.issues[0]
    assert (err.what, err.where, err.fix) == (first.what, first.where, first.fix)
    text = str(err)
    assert text.startswith("the study spec has 5 problems")
    assert all(i.what in text for i in err.issues)


def test_cli_validate_prints_every_problem_without_a_traceback(tmp_path):
    f = tmp_path / "study.toml"
    f.write_text(FIVE_MISTAKES)
    res = runner.invoke(app, ["validate", str(f)])
    assert res.exit_code == 1
    assert "Traceback" not in res.output
    assert "5 problems" in res.output
    for code in ("MMS003", "MMS001", "MMS006"):
        assert code in res.output
    assert "[[cox]] 2 -> reference.sex" in res.output


@pytest.mark.parametrize(
    ("segments", "label"),
    [
        (("km", "conf_type"), "km.conf_type"),
        ((("cox", 2), "reference", "sex"), "[[cox]] 2 -> reference.sex"),
        ((("cox", 1),), "[[cox]] 1"),
        (("pooling", ("duplicates", 3), "rows"), "[[pooling.duplicates]] 3 -> rows"),
        (("variables", "Hb (g/dL)", "unit"), 'variables."Hb (g/dL)".unit'),
    ],
)
def test_spec_key_labels(segments, label):
    assert spec_key_label(segments) == label


def _wrong_value(key: K.Key):
    # A value of the wrong type for each key type.
    return {"string": 12, "number": "twelve", "integer": 1.5, "boolean": "yes",
            "strings": {"a": 1}, "numbers": ["a"], "scalar": [1, 2],
            "string_or_false": 12}[key.type]  # fmt: skip


def _base_doc() -> dict:
    return {"data": {"patients": "patients.csv"}}


def _place(doc: dict, path: str, key: str, value) -> tuple[dict, str]:
    """Put key = value in the table at ``path`` (arrays get one entry); return doc and label."""
    parts = path.split(".") if path else []
    node = doc
    label_parts: list = []
    for i, part in enumerate(parts):
        sub_path = ".".join(parts[: i + 1])
        kind = K.table(sub_path).kind if K.has_table(sub_path) else "table"
        name = "hgb" if part == "*" else part
        if kind == "array":
            node.setdefault(name, [{}])
            node = node[name][0]
            label_parts.append((name, 1))
        else:
            node = node.setdefault(name, {})
            label_parts.append(name)
    node[key] = value
    return doc, spec_key_label((*label_parts, key))


TYPED_KEYS = [
    (t.path, k)
    for t in K.TABLES
    for k in (t.keys if t.kind != "map" else (t.value,))
    if k is not None and k.type not in ("table", "array", "map")
]


@pytest.mark.parametrize(("path", "key"), TYPED_KEYS, ids=[f"{p}.{k.name}" for p, k in TYPED_KEYS])
def test_every_key_reports_a_wrong_type_by_its_name(tmp_path, path, key):
    name = "hgb" if key.name == "*" else key.name
    doc, label = _place(_base_doc(), path, name, _wrong_value(key))
    with pytest.raises(InvalidSpecError) as exc:
        parse_spec(doc, path=tmp_path / "study.toml")
    mine = [i for i in exc.value.issues if i.where.spec_key == label]
    assert [i.code for i in mine] == ["MMS002"], [i.format() for i in exc.value.issues]
    assert mine[0].fix


def test_unknown_key_in_the_wrong_table_says_where_it_belongs(tmp_path):
    _, found = _issues(tmp_path, '[study]\nlandmarks = [6, 12]\n[data]\npatients = "p.csv"\n')
    err, _ = _issues(tmp_path, '[study]\nlandmarks = [6, 12]\n[data]\npatients = "p.csv"\n')
    assert found == [("MMS001", "study.landmarks")]
    assert "[km]" in err.issues[0].fix


def test_references_and_combinations(tmp_path):
    text = """\
[data]
patients = "p.csv"
[[derive]]
name = "hgb_low"
from = "hgb"
below = 11
above = 13
[[derive]]
name = "hgb_low"
from = "hgb"
below = 10
[[proportion]]
name = "ORR"
variable = "best_response"
success = []
[[cutpoint]]
variable = "hgb"
endpoint = "PFS"
proportion = "ORR"
[[cutpoint]]
variable = "hgb"
proportion = "CBR"
[[cox]]
endpoint = "pfs"
terms = ["age"]
[response]
source = "labs"
[validation.accept]
MMV11 = "typo in the code"
"""
    err, found = _issues(tmp_path, text)
    assert found == [
        ("MMS007", "response.source"),
        ("MMS007", "[[derive]] 1 -> above"),
        ("MMS007", "[[derive]] 2 -> name"),
        ("MMS003", "[[proportion]] 1 -> success"),
        ("MMS003", "[[cox]] 1 -> endpoint"),
        ("MMS007", "[[cutpoint]] 1 -> proportion"),
        ("MMS006", "[[cutpoint]] 2 -> proportion"),
        ("MMS003", "validation.accept.MMV11"),
    ]
    by_key = {i.where.spec_key: i for i in err.issues}
    assert "did you mean 'PFS'?" in by_key["[[cox]] 1 -> endpoint"].fix
    assert "ORR" in by_key["[[cutpoint]] 2 -> proportion"].fix


def test_missing_required_keys_and_missing_data_table(tmp_path):
    err, found = _issues(tmp_path, '[[logrank]]\nby = "sex"\n[[cox]]\nendpoint = "OS"\n')
    assert found == [
        ("MMS005", "data"),
        ("MMS005", "[[logrank]] 1 -> endpoint"),
        ("MMS005", "[[cox]] 1 -> terms"),
    ]
    assert 'endpoint = "PFS"' in err.issues[1].fix


def test_a_choice_left_open_by_init_stops_the_load_at_its_key(tmp_path):
    text = '[data]\npatients = "p.csv"\ndate_format = ["%d/%m/%Y", "%m/%d/%Y"]\n'
    err, found = _issues(tmp_path, text)
    assert found == [("MMS008", "data.date_format")]
    assert '"%d/%m/%Y"' in err.issues[0].fix


def test_values_that_cannot_be_used(tmp_path):
    text = '[data]\npatients = "p.csv"\ndate_format = "dd/mm/yyyy"\nencoding = "latin-9x"\ndelimiter = ""\n'
    _, found = _issues(tmp_path, text)
    assert found == [
        ("MMS009", "data.date_format"),
        ("MMS009", "data.delimiter"),
        ("MMS009", "data.encoding"),
    ]


def test_shapes(tmp_path):
    text = '[data]\npatients = "p.csv"\ncolumns = "start"\n[km]\nlandmarks = [-1, 12]\ncox = 3\n'
    _, found = _issues(tmp_path, text)
    assert ("MMS010", "data.columns") in found
    assert ("MMS004", "km.landmarks") in found
    assert ("MMS001", "km.cox") in found


def test_the_demo_spec_loads_unchanged():
    spec = load_spec(DEMO_SPEC)
    assert spec.study.synthetic and len(spec.cox) == 5
    assert spec.cox[4].reference == (("sex", "F"), ("tcr", "no"))


def test_not_toml_is_an_input_error_naming_the_file(tmp_path):
    f = tmp_path / "study.toml"
    f.write_text("[data\npatients = 1\n")
    res = runner.invoke(app, ["validate", str(f)])
    assert res.exit_code == 1 and "not valid TOML" in res.output and "Traceback" not in res.output


def test_loading_never_modifies_the_spec(tmp_path):
    f = tmp_path / "study.toml"
    f.write_text(FIVE_MISTAKES)
    before = f.read_bytes()
    with pytest.raises(InvalidSpecError):
        load_spec(f)
    assert f.read_bytes() == before
    assert tomllib.loads(before.decode())  # still the same TOML


def test_validate_json_lists_the_spec_problems(tmp_path):
    import json

    f = tmp_path / "study.toml"
    f.write_text(FIVE_MISTAKES)
    out = tmp_path / "issues.json"
    res = runner.invoke(app, ["validate", str(f), "--json", str(out)])
    assert res.exit_code == 1
    issues = json.loads(out.read_text())["issues"]
    assert [i["code"] for i in issues] == ["MMS003", "MMS001", "MMS006", "MMS006", "MMS003"]
    assert issues[3]["where"]["spec_key"] == "[[cox]] 2 -> reference.sex"
