"""[[cuminc]], [[finegray]] and [[rmst]] inside the failure boundary: what the data do not allow
is "not_estimable" with the reason in words (or a null part with a sibling reason), never a
crash; the reports list each entry that was not computed.

A synthetic cohort built here: arm A has progressions (some followed by death) and censorings,
arm B has no event at all, and nobody dies without a progression first, so death never
competes with progression.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import mmrwe
from mmrwe.cli.main import app

SPEC = """
[study]
title = "competing risks failure boundary (synthetic)"
time_unit = "days"

[data]
patients = "patients.csv"

[variables.arm]
levels = ["A", "B"]

[[cuminc]]                 # 1: ok; the competing event never occurs
event = "progression"
by = "arm"
times = [100, 400]

[[cuminc]]                 # 2: the event never occurs
event = "death"

[[cuminc]]                 # 3: the group column is empty
event = "progression"
by = "empty"

[[finegray]]               # 1: ok, with a warning (no competing event)
event = "progression"
terms = ["age"]

[[finegray]]               # 2: nobody in arm B had the event
event = "progression"
terms = ["age", "arm"]

[[finegray]]               # 3: the event never occurs
event = "death"
terms = ["age"]

[[rmst]]                   # 1: beyond the follow-up of arm B
endpoint = "PFS"
tau = 5000
by = "arm"

[[rmst]]                   # 2: ok; arm B has no event before tau
endpoint = "PFS"
tau = 300
by = "arm"
"""


def _cohort() -> pd.DataFrame:
    start = dt.date(2020, 1, 1)
    rows = []
    for i in range(40):
        arm = "A" if i < 20 else "B"
        prog = death = None
        if arm == "A" and i % 4 != 3:
            prog = start + dt.timedelta(days=20 * (i + 1))
            if i % 2 == 0:  # a death after the progression: PFS ended with the progression
                death = prog + dt.timedelta(days=30)
        last = death or (prog + dt.timedelta(days=10) if prog else None)
        if last is None:  # censored: arm A at 100..., arm B late
            last = start + dt.timedelta(days=(50 + 25 * i if arm == "A" else 400 + 10 * i))
        rows.append(
            {
                "patient_id": f"S{i:03d}",
                "center": "Site 1",
                "start_date": start.isoformat(),
                "progression_date": prog.isoformat() if prog else "",
                "death_date": death.isoformat() if death else "",
                "last_followup_date": last.isoformat(),
                "arm": arm,
                "age": str(50 + (i * 7) % 30),
                "empty": "",
            }
        )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cr-boundary")
    _cohort().to_csv(d / "patients.csv", index=False)
    (d / "study.toml").write_text(SPEC)
    return d


@pytest.fixture(scope="module")
def result(folder: Path) -> mmrwe.StudyResult:
    return mmrwe.Study.from_toml(folder / "study.toml").run()


def _by_key(results: dict) -> dict[str, dict]:
    return {e["spec_key"]: e for k in ("cuminc", "finegray", "rmst") for e in results[k]}


def test_no_competing_event_keeps_the_incidence_and_says_why(result) -> None:
    e = _by_key(result.to_dict())["[[cuminc]] 1"]
    assert e["status"] == "ok"
    # without competing events the incidence is 1 - Kaplan-Meier; the competing parts are null
    assert (
        e["competing_groups"] is None and "no PFS ended with death" in e["competing_groups_reason"]
    )
    assert e["gray_competing"] is None and e["gray_competing_reason"]
    assert any("1 - Kaplan-Meier" in w for w in result.warnings)
    # arm B has no event: its incidence is 0 up to its follow-up; Gray's test is computed
    b = e["groups"]["B"]
    assert b["events"] == 0 and b["curve"]["time"] == [] and b["estimate"] == [0.0, 0.0]
    assert b["lower"] == [None, None]  # log-log limits undefined at 0
    assert e["gray"]["stat"] is not None and e["gray"]["df"] == 1


def test_what_the_data_do_not_allow_is_not_estimable_with_the_reason(result) -> None:
    got = _by_key(result.to_dict())
    reasons = {k: e["reason"] for k, e in got.items() if e["status"] != "ok"}
    assert set(reasons) == {"[[cuminc]] 2", "[[cuminc]] 3", "[[finegray]] 2", "[[finegray]] 3",
                            "[[rmst]] 1"}  # fmt: skip
    assert all(got[k]["status"] == "not_estimable" for k in reasons)
    assert "no PFS ended with death" in reasons["[[cuminc]] 2"]
    assert "every patient is missing empty" in reasons["[[cuminc]] 3"]
    assert "no patient with arm = B had the event" in reasons["[[finegray]] 2"]
    assert "no PFS ended with death" in reasons["[[finegray]] 3"]
    # survRM2's rule: both arms end censored (A on day 50 + 25 * 19 = 525, B on day 790),
    # so tau may not exceed the earlier of the two
    assert "the largest allowed tau is 525" in reasons["[[rmst]] 1"]
    # identity kept on every entry, in spec order, with 1-based keys
    assert [e["spec_key"] for e in result.to_dict()["rmst"]] == ["[[rmst]] 1", "[[rmst]] 2"]
    assert got["[[rmst]] 1"]["tau"] == 5000 and got["[[cuminc]] 2"]["event"] == "death"
    assert result.failed == []  # not estimable is not a failure


def test_a_group_without_events_has_rmst_tau_and_no_rmtl_ratio(result) -> None:
    e = _by_key(result.to_dict())["[[rmst]] 2"]
    assert e["status"] == "ok"
    b = e["groups"]["B"]
    assert (b["rmst"], b["se"], b["events"]) == (300.0, 0.0, 0)
    # B (no event, RMST = tau) minus A (the reference, the first declared level)
    assert (e["reference"], e["comparator"]) == ("A", "B")
    assert e["difference"]["estimate"] > 0 and e["difference"]["p"] is not None
    # B lost no time before tau: the log ratio of restricted mean times lost is undefined
    assert (
        e["rmtl_ratio"]["estimate"] is None
        and "time lost is 0 up to tau = 300 in B" in e["rmtl_ratio_reason"]
    )


def test_finegray_without_competing_events_warns(result) -> None:
    e = _by_key(result.to_dict())["[[finegray]] 1"]
    assert e["status"] == "ok" and e["competing_events"] == 0
    assert any("Breslow" in w for w in e["warnings"])
    assert e["cause_specific"]["age"]["hr"] is not None


def test_reports_list_the_entries_not_computed(folder: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(
        app, ["analyze", str(folder / "study.toml"), "--out", str(tmp_path), "--quiet"]
    )
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output
    html = (tmp_path / "report.html").read_text()
    assert "Analyses not computed" in html
    for key in ("[[cuminc]] 2", "[[finegray]] 2", "[[rmst]] 1"):
        assert key in html
    assert "largest allowed tau" in html and "Cumulative incidence with competing risks" in html
    assert (tmp_path / "report.docx").stat().st_size > 0


def test_an_unknown_reference_group_fails_that_entry_only(folder: Path) -> None:
    spec = (
        folder / "study.toml"
    ).read_text() + '\n[[rmst]]\nendpoint = "OS"\ntau = 300\nby = "arm"\nreference = "C"\n'
    (folder / "bad.toml").write_text(spec)
    # validation names the level first (MMV023); accepted, the entry fails on its own
    errors = mmrwe.Study.from_toml(folder / "bad.toml").validate().errors
    assert [(i.code, i.where.spec_key) for i in errors] == [("MMV023", "[[rmst]] 3 -> reference")]
    (folder / "bad.toml").write_text(
        spec + '\n[validation.accept]\nMMV023 = "the analysis boundary is tested"\n'
    )
    r = mmrwe.Study.from_toml(folder / "bad.toml").run()
    e = r.to_dict()["rmst"][-1]
    assert (e["status"], e["spec_key"]) == ("failed", "[[rmst]] 3")
    assert "'C'" in e["reason"]
    assert [f[0] for f in r.failed] == ["[[rmst]] 3"]
