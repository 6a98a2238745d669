"""Patients seen at two sites: flagged with both rows, kept by the documented rule when confirmed."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from _sites import add_to_spec, copy_sites, diff_paths, make_sites

from mmrwe.core.errors import ValidationError
from mmrwe.spec import load_spec
from mmrwe.study.pipeline import run as run_study
from mmrwe.study.pooling import pool, prepare_pool

# SYN-002 of the clean file (north.csv, Center A, row 2):
# 2022-04-04 start, progression 2022-08-28, alive at 2024-06-30, 70 y, F, 4 lines, tcr no.
SYN002 = ["04/04/2022", "28/08/2022", None, None, 70, "F", 4, "no", 3.8, 114, None, "pr"]


@pytest.fixture(scope="module")
def sites(tmp_path_factory) -> dict[str, Path]:
    return make_sites(tmp_path_factory.mktemp("dup_sites"))


@pytest.fixture(scope="module")
def clean(sites) -> dict:
    return json.loads(run_study(load_spec(sites["spec"])).results.to_json())


def _with_copy(
    sites, tmp_path, pid: str, last_followup: str = "31/12/2023", center: str = "Center B"
) -> Path:
    """A site folder where centro.xlsx also holds SYN-002 (as ``pid``), as a referral would."""
    folder = copy_sites(sites["spec"].parent, tmp_path / "s")
    wb = openpyxl.load_workbook(folder / "centro.xlsx")
    row = list(SYN002)
    row[3] = last_followup
    wb["pazienti"].append([pid, center, *row])
    wb.save(folder / "centro.xlsx")
    return folder


def _decide(
    folder: Path, *rows: str, same: bool = True, keep: str | None = None, rule: str | None = None
) -> None:
    text = ""
    if rule:
        text += f'[pooling]\nkeep = "{rule}"\n'
    text += f"[[pooling.duplicates]]\nrows = {json.dumps(list(rows))}\nsame_patient = {'true' if same else 'false'}\n"
    if keep:
        text += f'keep = "{keep}"\n'
    add_to_spec(folder / "study.toml", text)


def test_same_id_at_two_sites_is_flagged_with_both_rows(sites, tmp_path):
    folder = _with_copy(sites, tmp_path, "SYN-002")
    with pytest.raises(ValidationError) as exc:
        pool(load_spec(folder / "study.toml"), [], tmp_path / "o", report=False)
    errors = [i for i in exc.value.issues if i.severity == "error"]
    assert [i.code for i in errors] == ["MMP006"]
    assert "Center A/SYN-002" in errors[0].what and "centro.xlsx row 24" in errors[0].what
    doc = json.loads((tmp_path / "o" / "pooling.json").read_text())
    (pair,) = doc["duplicates"]
    assert pair["rows"] == ["Center A/SYN-002", "Center B/SYN-002"]
    assert pair["reasons"] == ["same_key", "same_person_dates"]
    assert pair["decision"] == "unconfirmed"
    assert [(r["file"], r["row"]) for r in pair["records"]] == [
        ("north.csv", 2),
        ("centro.xlsx", 24),
    ]
    assert pair["differences"] == ["center", "last_followup_date"]
    assert pair["records"][0]["last_followup_date"] == "2024-06-30"


def test_confirmed_duplicate_keeps_the_longest_followup(sites, clean, tmp_path):
    folder = _with_copy(sites, tmp_path, "SYN-002")
    _decide(folder, "Center A/SYN-002", "Center B/SYN-002")
    run = pool(load_spec(folder / "study.toml"), [], tmp_path / "o", report=False)
    kept = run.pooled.validated.frame.set_index("patient_id").loc["SYN-002"]
    assert kept["center"] == "Center A"  # follow-up to 2024-06-30 beats 2023-12-31
    centro = next(s for s in run.pooled.sites if s.file == "centro.xlsx")
    assert (centro.rows_in, centro.rows_analysed, len(centro.exclusions)) == (23, 22, 1)
    reason = centro.exclusions[0].reason
    assert (
        "duplicate of Center A/SYN-002 (north.csv row 2)" in reason and "longest_followup" in reason
    )
    # The cohort is the clean one plus an accounted exclusion.
    got = json.loads(run.run.results.to_json())
    assert got["cohort"]["n"] == 51 and got["cohort"]["n_input_rows"] == 52
    # Differences: the spec (a decision was added), inputs, and the cohort's exclusion list.
    assert [p for p in diff_paths(clean, got) if not p.startswith((".inputs", ".cohort"))] == [
        ".study.spec_sha256"
    ]


def test_longest_followup_can_pick_the_second_site(sites, tmp_path):
    folder = _with_copy(sites, tmp_path, "SYN-002", last_followup="15/07/2024")
    _decide(folder, "Center A/SYN-002", "Center B/SYN-002")
    run = pool(load_spec(folder / "study.toml"), [], tmp_path / "o", report=False)
    kept = run.pooled.validated.frame.set_index("patient_id").loc["SYN-002"]
    assert kept["center"] == "Center B"
    assert str(kept["last_followup_date"].date()) == "2024-07-15"
    north = run.pooled.sites[0]
    assert "kept by rule longest_followup" in north.exclusions[0].reason


def test_first_site_rule_and_keep_override(sites, tmp_path):
    folder = _with_copy(sites, tmp_path, "SYN-002", last_followup="15/07/2024")
    _decide(folder, "Center A/SYN-002", "Center B/SYN-002", rule="first_site")
    run = pool(load_spec(folder / "study.toml"), [], tmp_path / "o", report=False)
    assert run.pooled.validated.frame.set_index("patient_id").loc["SYN-002", "center"] == "Center A"

    folder2 = _with_copy(sites, tmp_path / "k", "SYN-002")
    _decide(folder2, "Center B/SYN-002", "Center A/SYN-002", keep="Center B/SYN-002")
    run = pool(load_spec(folder2 / "study.toml"), [], tmp_path / "o2", report=False)
    assert run.pooled.validated.frame.set_index("patient_id").loc["SYN-002", "center"] == "Center B"
    assert "keep named in [[pooling.duplicates]]" in run.pooled.sites[0].exclusions[0].reason


def test_same_person_with_another_id_is_flagged_by_dates(sites, tmp_path):
    folder = _with_copy(sites, tmp_path, "B-999")
    pooled = prepare_pool(load_spec(folder / "study.toml"))
    (pair,) = pooled.duplicates
    assert pair.refs == ("Center A/SYN-002", "Center B/B-999")
    assert pair.reasons == ("same_person_dates",)
    assert "age within 1 year" in pair.criteria


def test_different_patients_are_both_kept_when_the_user_says_so(sites, tmp_path):
    folder = _with_copy(sites, tmp_path, "B-999")
    _decide(folder, "Center A/SYN-002", "Center B/B-999", same=False)
    run = pool(load_spec(folder / "study.toml"), [], tmp_path / "o", report=False)
    assert run.run.results["cohort"]["n"] == 52
    doc = json.loads((tmp_path / "o" / "pooling.json").read_text())
    assert doc["duplicates"][0]["decision"] == "different"


def test_same_id_declared_different_patients_is_refused(sites, tmp_path):
    folder = _with_copy(sites, tmp_path, "SYN-002")
    _decide(folder, "Center A/SYN-002", "Center B/SYN-002", same=False)
    pooled = prepare_pool(load_spec(folder / "study.toml"))
    assert [i.code for i in pooled.errors] == ["MMP007"]
    assert "id_prefix" in pooled.errors[0].fix


def test_decision_on_a_pair_that_is_not_flagged(sites, tmp_path):
    folder = copy_sites(sites["spec"].parent, tmp_path / "s")
    _decide(folder, "Center A/SYN-002", "Center B/SYN-001")
    pooled = prepare_pool(load_spec(folder / "study.toml"))
    assert [i.code for i in pooled.errors] == ["MMP009"]
    assert pooled.errors[0].where.spec_key == "pooling.duplicates[0]"


def test_age_two_years_apart_is_not_a_match(sites, tmp_path):
    folder = _with_copy(sites, tmp_path, "B-999")
    wb = openpyxl.load_workbook(folder / "centro.xlsx")
    wb["pazienti"].cell(row=24, column=7, value=72)  # age
    wb.save(folder / "centro.xlsx")
    assert prepare_pool(load_spec(folder / "study.toml")).duplicates == ()


def test_conflicting_progression_dates_are_not_a_match(sites, tmp_path):
    folder = _with_copy(sites, tmp_path, "B-999")
    wb = openpyxl.load_workbook(folder / "centro.xlsx")
    wb["pazienti"].cell(row=24, column=4, value="29/08/2022")
    wb.save(folder / "centro.xlsx")
    assert prepare_pool(load_spec(folder / "study.toml")).duplicates == ()


def test_a_patient_at_three_sites_keeps_one_row(sites, tmp_path):
    import datetime as dt

    import pandas as pd
    import pyreadstat

    folder = _with_copy(sites, tmp_path, "SYN-002")
    south, meta = pyreadstat.read_sav(folder / "south.sav", dates_as_pandas_datetime=False)
    extra = {"PT_ID": "SYN-002", "CENTER": "Center D", "START_DT": dt.date(2022, 4, 4),
             "PD_DT": dt.date(2022, 8, 28), "DEATH_DT": None, "LFU_DT": dt.date(2024, 1, 1),
             "AGE": 70.0, "SEX": 1.0, "PRIOR_LINES": 4.0, "TCR": "no", "DARA_GAP": 3.8,
             "HGB": 11.4, "FISH": "", "BEST_RESP": "PR"}  # fmt: skip
    south = pd.concat([south, pd.DataFrame([extra])], ignore_index=True)
    for c in ("START_DT", "PD_DT", "DEATH_DT", "LFU_DT"):
        south[c] = pd.Series([None if pd.isna(v) else v for v in south[c]], dtype=object)
    pyreadstat.write_sav(
        south, folder / "south.sav", variable_value_labels=meta.variable_value_labels
    )
    pooled = prepare_pool(load_spec(folder / "study.toml"))
    assert [p.refs for p in pooled.duplicates] == [
        ("Center A/SYN-002", "Center B/SYN-002"),
        ("Center A/SYN-002", "Center D/SYN-002"),
        ("Center B/SYN-002", "Center D/SYN-002"),
    ]
    for a, b in (("A", "B"), ("B", "D")):  # two decisions chain all three rows
        _decide(folder, f"Center {a}/SYN-002", f"Center {b}/SYN-002")
    pooled = prepare_pool(load_spec(folder / "study.toml"))
    # The third pair (A-D) is still undecided: every flagged pair needs a decision.
    assert [i.code for i in pooled.errors] == ["MMP006"]
    _decide(folder, "Center A/SYN-002", "Center D/SYN-002")
    run = pool(load_spec(folder / "study.toml"), [], tmp_path / "o", report=False)
    assert run.pooled.validated.frame.set_index("patient_id").loc["SYN-002", "center"] == "Center A"
    assert sum(len(s.exclusions) for s in run.pooled.sites) == 2
    for s in run.pooled.sites:
        assert s.rows_in == s.rows_analysed + len(s.exclusions)
