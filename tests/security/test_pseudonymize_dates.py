"""Finding 1: shifted dates must not give away exact birth dates through the data cut-off.

The attack of the issue: alive patients share the data cut-off (last_followup_date =
2024-06-30), so shifted_last_followup - cut-off is each patient's shift, and shifted
birth date - shift is the exact birth date (29 of 30 recovered by
``pseudonymize --shift-dates --keep birth_date``).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pandas as pd
import pytest
from _security_helpers import CUTOFF, cutoff_site, private_key, write_csv
from typer.testing import CliRunner

from mmrwe.cli.main import app
from mmrwe.study.pseudonymize import pseudonymize_command

SYNTHETIC = "synthetic site: random dates made by _security_helpers.cutoff_site"


def recover_birth_dates(out: pd.DataFrame) -> dict[str, dt.date]:
    """The attacker's side: every exact birth date readable from the output and the cut-off."""
    got: dict[str, dt.date] = {}
    births = [c for c in out.columns if "birth" in c and "year" not in c and "age" not in c]
    for _, r in out.iterrows():
        if r["death_date"] or not births:
            continue  # the attack needs a patient followed up to the cut-off
        for c in births:
            try:
                lfu, birth = dt.date.fromisoformat(r["last_followup_date"]), r[c]
                shift = lfu - CUTOFF
                got[r["patient_id"]] = dt.date.fromisoformat(birth) - shift
            except (TypeError, ValueError):
                # relative days: lfu is a day count; index date = cut-off - lfu days
                days_lfu, days_birth = int(r["last_followup_date"]), int(r[c])
                index = CUTOFF - dt.timedelta(days=days_lfu)
                got[r["patient_id"]] = index + dt.timedelta(days=days_birth)
    return got


@pytest.fixture
def site(tmp_path):
    rows = cutoff_site()
    f = write_csv(tmp_path / "site.csv", rows)
    truth = {r["patient_id"]: dt.date.fromisoformat(r["birth_date"]) for r in rows}
    key = private_key(tmp_path / "keys")
    (tmp_path / "outgoing").mkdir()
    return f, key, truth, tmp_path / "outgoing"


def _exact(out_file, truth: dict[str, dt.date], id_of) -> int:
    out = pd.read_csv(out_file, dtype=str, keep_default_na=False)
    recovered = recover_birth_dates(out)
    return sum(recovered.get(id_of(pid)) == b for pid, b in truth.items())


def test_shifted_dates_with_kept_birth_date_recover_no_birth_date(site):
    # The command, unchanged: --shift-dates --keep birth_date.
    f, key, truth, outgoing = site
    out = outgoing / "site_pseudo.csv"
    summary = pseudonymize_command(f, key, out, shift_dates=True, keep=["birth_date"])
    from mmrwe.io.pseudonymize import load_key, pseudonym

    k = load_key(key)
    assert _exact(out, truth, lambda p: pseudonym(k, p)) == 0
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert "birth_date" not in frame.columns and "birth_year" in frame.columns
    # The year is kept (Safe Harbor allows it; pooling matches duplicates on it).
    assert sorted(frame["birth_year"].astype(int)) == sorted(b.year for b in truth.values())
    assert summary["birth_dates"] == [
        {"column": "birth_date", "output_column": "birth_year", "mode": "year"}
    ]
    # The shift itself stays readable for patients at the cut-off: the summary says so.
    assert any("share one date" in w for w in summary["warnings"])


def test_relative_dates_recover_no_birth_date_and_keep_every_interval(site):
    f, key, truth, outgoing = site
    out = outgoing / "rel.csv"
    summary = pseudonymize_command(f, key, out, dates="relative", keep=["birth_date"])
    from mmrwe.io.pseudonymize import load_key, pseudonym

    k = load_key(key)
    assert _exact(out, truth, lambda p: pseudonym(k, p)) == 0
    a = pd.read_csv(f, dtype=str, keep_default_na=False)
    b = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert (
        summary["dates"]["mode"] == "relative" and summary["dates"]["index_column"] == "start_date"
    )
    assert set(b["start_date"]) == {"0"}  # day 0 of every patient: no calendar date is left
    for c in ("progression_date", "death_date", "last_followup_date"):
        for x, s, y in zip(a[c], a["start_date"], b[c], strict=True):
            want = "" if not x else str((dt.date.fromisoformat(x) - dt.date.fromisoformat(s)).days)
            assert y == want
    for col in b.columns:  # no calendar date anywhere in the output
        assert not b[col].str.fullmatch(r"\d{4}-\d{2}-\d{2}").any(), col


def test_age_at_index_counts_completed_years(tmp_path):
    # Hand-made: born 1950-06-30, index 2021-06-29 -> 70 (birthday not reached),
    # index 2021-06-30 -> 71 (birthday on the index date), born 1960-02-29, index
    # 2021-02-28 -> 60 (29 Feb not reached in a common year).
    from mmrwe.io import read_table
    from mmrwe.io.pseudonymize import pseudonymize_table

    f = tmp_path / "s.csv"
    f.write_text(
        "patient_id,dob,start_date\nA,1950-06-30,2021-06-29\nB,1950-06-30,2021-06-30\n"
        "C,1960-02-29,2021-02-28\n"
    )
    res = pseudonymize_table(
        read_table(f), key=b"0123456789abcdefFEDCBA9876543210xyz!", keep=["dob"], birth_dates="age"
    )
    assert res.frame["age_at_index"].tolist() == [70, 71, 60]
    assert res.frame["start_date"].tolist() == ["2021-06-29", "2021-06-30", "2021-02-28"]


def test_keeping_exact_birth_dates_is_knowing_and_warned(site):
    # --birth-dates keep: the attack works again, and the warning says why.
    f, key, truth, outgoing = site
    out = outgoing / "exact.csv"
    summary = pseudonymize_command(
        f, key, out, shift_dates=True, keep=["birth_date"], birth_dates="keep"
    )
    from mmrwe.io.pseudonymize import load_key, pseudonym

    k = load_key(key)
    assert _exact(out, truth, lambda p: pseudonym(k, p)) == 29  # the number
    (warning,) = [w for w in summary["warnings"] if "birth" in w]
    assert (
        "cut-off" in warning and "exact birth date" in warning and "--birth-dates year" in warning
    )


def test_cli_dates_relative_prints_the_warning_without_traceback(site):
    f, key, _, outgoing = site
    res = CliRunner().invoke(
        app,
        ["pseudonymize", str(f), "--key", str(key), "--out", str(outgoing / "o.csv"),
         "--dates", "relative", "--keep", "birth_date"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "warning:" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(
        app,
        ["pseudonymize", str(f), "--key", str(key), "--out", str(outgoing / "p.csv"),
         "--dates", "sideways"],
    )  # fmt: skip
    assert res.exit_code == 1 and "keep, shift or relative" in res.output
    assert "Traceback" not in res.output


def test_relative_dates_give_the_same_results_once_anchored(tmp_path):
    # Relative days keep every interval: anchoring them anywhere in the calendar gives a
    # table whose analysis has the same numbers as the original (only the study period,
    # a calendar fact, and the input's hash differ).
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "pooling"))
    from _sites import diff_paths, make_sites

    from mmrwe.spec import load_spec
    from mmrwe.study.pipeline import run as run_study

    sites = make_sites(tmp_path / "s")
    key = private_key(tmp_path / "keys")
    rel = tmp_path / "out" / "rel.csv"
    pseudonymize_command(sites["clean"], key, rel, dates="relative")
    frame = pd.read_csv(rel, dtype=str, keep_default_na=False)
    anchor = dt.date(2000, 1, 1)
    for c in ("start_date", "progression_date", "death_date", "last_followup_date"):
        frame[c] = [(anchor + dt.timedelta(days=int(v))).isoformat() if v else "" for v in frame[c]]
    folder = tmp_path / "anchored"
    folder.mkdir()
    shutil.copy(sites["spec"], folder / "study.toml")
    frame.to_csv(folder / "patients.csv", index=False)
    a = json.loads(run_study(load_spec(sites["spec"])).results.to_json())
    b = json.loads(run_study(load_spec(folder / "study.toml")).results.to_json())
    assert diff_paths(a, b) == [
        ".cohort.period.first_start_date",
        ".cohort.period.last_start_date",
        ".cohort.period.latest_followup_date",
        ".inputs.patients.sha256",
    ]


def test_birth_dates_are_coarsened_without_date_handling_too(site):
    # --keep birth_date alone (dates kept): the exact birth date still does not leave.
    f, key, truth, outgoing = site
    out = outgoing / "kept.csv"
    summary = pseudonymize_command(f, key, out, keep=["birth_date"])
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert "birth_date" not in frame.columns
    assert sorted(frame["birth_year"].astype(int)) == sorted(b.year for b in truth.values())
    assert summary["dates"]["mode"] == "keep" and summary["warnings"] == []
