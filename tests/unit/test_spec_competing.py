"""Spec keys of [[cuminc]], [[finegray]] and [[rmst]]: defaults, and every mistake reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmrwe.spec import InvalidSpecError, load_spec

HEAD = """\
[study]
alpha = 0.1

[data]
patients = "patients.csv"

[km]
landmarks = [6, 18]
"""


def _load(tmp_path: Path, text: str):
    f = tmp_path / "study.toml"
    f.write_text(HEAD + text)
    return load_spec(f)


def _issues(tmp_path: Path, text: str) -> dict[str | None, tuple[str, str, str]]:
    with pytest.raises(InvalidSpecError) as exc:
        _load(tmp_path, text)
    return {i.where.spec_key: (i.code, i.what, i.fix or "") for i in exc.value.issues}


def test_defaults(tmp_path: Path) -> None:
    spec = _load(
        tmp_path,
        """
[[cuminc]]
event = "death"

[[finegray]]
event = "progression"
terms = ["age", "sex"]
reference = { sex = "F" }

[[rmst]]
endpoint = "OS"
tau = 24
""",
    )
    [ci] = spec.cuminc
    # the competing event is the other one; times default to the [km] landmarks; the
    # confidence level to 1 - alpha
    assert (ci.event, ci.competing, ci.times, ci.conf_level) == (
        "death",
        "progression",
        (6.0, 18.0),
        0.9,
    )
    assert (ci.conf_type, ci.rho, ci.by, ci.strata) == ("log-log", 0.0, None, None)
    [fg] = spec.finegray
    assert (fg.competing, fg.terms, fg.reference) == ("death", ("age", "sex"), (("sex", "F"),))
    assert fg.cause_specific is True and fg.cengroup is None and fg.conf_level == 0.9
    [rm] = spec.rmst
    assert (rm.endpoint, rm.tau, rm.by, rm.reference, rm.conf_level) == (
        "OS",
        24.0,
        None,
        None,
        0.9,
    )


def test_every_mistake_is_named_with_a_fix(tmp_path: Path) -> None:
    got = _issues(
        tmp_path,
        """
[[cuminc]]
event = "progression"
competing = "progression"
conf_type = "log"
times = [-1]

[[cuminc]]
event = "relapse"

[[finegray]]
event = "death"
terms = ["age"]
reference = { sex = "F" }

[[rmst]]
endpoint = "OS"
reference = "F"

[[rmst]]
endpoint = "EFS"
tau = 0
""",
    )
    assert got["[[cuminc]] 1 -> competing"][0] == "MMS003"
    assert "the event of interest itself" in got["[[cuminc]] 1 -> competing"][1]
    assert 'competing = "death"' in got["[[cuminc]] 1 -> competing"][2]
    assert got["[[cuminc]] 1 -> conf_type"][0] == "MMS003"
    assert got["[[cuminc]] 1 -> times"][0] == "MMS004"
    assert got["[[cuminc]] 2 -> event"][0] == "MMS003"
    assert got["[[finegray]] 1 -> reference.sex"][0] == "MMS006"
    assert got["[[rmst]] 1 -> tau"][0] == "MMS005"
    assert got["[[rmst]] 1 -> reference"][0] == "MMS007"  # a reference group needs `by`
    assert got["[[rmst]] 2 -> endpoint"][0] == "MMS003"
    assert got["[[rmst]] 2 -> tau"][0] == "MMS004"


def test_a_numeric_reference_group_is_read_as_its_label(tmp_path: Path) -> None:
    spec = _load(tmp_path, '[[rmst]]\nendpoint = "OS"\ntau = 12\nby = "trt"\nreference = 1\n')
    assert spec.rmst[0].reference == "1"


def test_the_validator_names_a_missing_column_of_these_sections() -> None:
    import pandas as pd

    import mmrwe

    patients = pd.DataFrame(
        {
            "patient_id": ["a", "b"],
            "center": ["c1", "c1"],
            "start_date": ["2020-01-01", "2020-01-01"],
            "progression_date": ["2020-03-01", ""],
            "death_date": ["", ""],
            "last_followup_date": ["2020-04-01", "2020-05-01"],
            "age": ["60", "70"],
        }
    )
    spec = {
        "data": {"patients": "patients.csv"},
        "cuminc": [{"event": "progression", "by": "arm", "strata": "site"}],
        "finegray": [{"event": "progression", "terms": ["age", "sexx"], "cengroup": "centre"}],
        "rmst": [{"endpoint": "OS", "tau": 2, "by": "grp"}],
    }
    report = mmrwe.Study(spec, patients=patients).validate()
    named = {i.where.spec_key for i in report.issues if i.code == "MMV014"}
    assert named == {"cuminc[0].by", "cuminc[0].strata", "finegray[0].terms",
                     "finegray[0].cengroup", "rmst[0].by"}  # fmt: skip
