"""`mmrwe pseudonymize`: keyed ids, per-patient date shifts, dropped identifiers, same results."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import shutil
import stat
from pathlib import Path

import pandas as pd
import pytest
from _sites import copy_sites, diff_paths, folder_hashes, make_sites
from typer.testing import CliRunner

from mmrwe.cli.main import app
from mmrwe.core.errors import InputError
from mmrwe.io import read_table
from mmrwe.io.pseudonymize import date_shift_days, load_key, pseudonym, pseudonymize_table
from mmrwe.spec import load_spec
from mmrwe.study.pipeline import run as run_study
from mmrwe.study.pooling import pool
from mmrwe.study.pseudonymize import pseudonymize_command

runner = CliRunner()
KEY = b"a-test-key-used-only-in-tests-0123456789"
DATES = ["start_date", "progression_date", "death_date", "last_followup_date"]
PERIOD = [
    ".cohort.period.first_start_date",
    ".cohort.period.last_start_date",
    ".cohort.period.latest_followup_date",
]


@pytest.fixture(scope="module")
def sites(tmp_path_factory) -> dict[str, Path]:
    return make_sites(tmp_path_factory.mktemp("ps_sites"))


@pytest.fixture
def key(tmp_path) -> Path:
    k = tmp_path / "site.key"
    k.write_bytes(KEY + b"\n")
    k.chmod(0o600)  # a key readable by others is refused
    return k


def _results(spec: Path) -> dict:
    return json.loads(run_study(load_spec(spec)).results.to_json())


def test_pseudonymized_file_gives_identical_results(sites, key, tmp_path):
    # Ids hashed, every date of a patient shifted by its own offset: the results are the
    # same numbers; only the input's SHA-256 differs (same file name, same spec bytes).
    out = tmp_path / "pseudo"
    out.mkdir()
    shutil.copy(sites["spec"], out / "study.toml")
    before = folder_hashes(sites["spec"].parent)
    summary = pseudonymize_command(sites["clean"], key, out / "patients.csv", shift_dates=True)
    assert folder_hashes(sites["spec"].parent) == before
    assert summary["date_shift"]["columns"] == DATES and summary["rows"] == 51
    clean, pseudo = _results(sites["spec"]), _results(out / "study.toml")
    # Every number is the same; results.json's calendar facts (the study period) move
    # with the dates, by design, and the input's SHA-256 differs.
    assert diff_paths(clean, pseudo) == [*PERIOD, ".inputs.patients.sha256"]

    a = pd.read_csv(sites["clean"], dtype=str, keep_default_na=False)
    b = pd.read_csv(out / "patients.csv", dtype=str, keep_default_na=False)
    assert not set(a["patient_id"]) & set(b["patient_id"])
    assert b["patient_id"].tolist() == [pseudonym(KEY, x) for x in a["patient_id"]]
    for c in DATES:
        moved = [
            (dt.date.fromisoformat(y) - dt.date.fromisoformat(x)).days
            for x, y in zip(a[c], b[c], strict=True)
            if x
        ]
        assert all(m != 0 for m in moved)
    # One offset per patient: every interval is unchanged.
    for c in DATES[1:]:
        for (_, ra), (_, rb) in zip(a.iterrows(), b.iterrows(), strict=True):
            if ra[c]:
                da = dt.date.fromisoformat(ra[c]) - dt.date.fromisoformat(ra["start_date"])
                db = dt.date.fromisoformat(rb[c]) - dt.date.fromisoformat(rb["start_date"])
                assert da == db
    pd.testing.assert_frame_equal(
        a.drop(columns=["patient_id", *DATES]), b.drop(columns=["patient_id", *DATES])
    )


def test_pseudonymized_ids_without_date_shift_give_identical_results(sites, key, tmp_path):
    out = tmp_path / "pseudo"
    out.mkdir()
    shutil.copy(sites["spec"], out / "study.toml")
    pseudonymize_command(sites["clean"], key, out / "patients.csv")
    assert diff_paths(_results(sites["spec"]), _results(out / "study.toml")) == [
        ".inputs.patients.sha256"
    ]


def test_pseudonymized_sites_pool_to_identical_results(sites, key, tmp_path):
    # Each site pseudonymizes its own export (same format out as in), the coordinator
    # pools them with the unchanged spec: same results as the clean single file.
    folder = tmp_path / "sent"
    folder.mkdir()
    shutil.copy(sites["spec"], folder / "study.toml")
    shutil.copy(sites["clean"], folder / "patients.csv")
    for name in ("north.csv", "centro.xlsx", "south.sav"):
        pseudonymize_command(
            sites[name.split(".")[0]], key, folder / name, spec_path=sites["spec"], shift_dates=True
        )
    run = pool(load_spec(folder / "study.toml"), [], tmp_path / "o", report=False)
    clean = _results(sites["spec"])
    got = json.loads(run.run.results.to_json())
    assert diff_paths(clean, got) == [
        *PERIOD,
        ".inputs.patients.file",
        ".inputs.patients.notes",
        ".inputs.patients.sha256",
        ".inputs.sites",
    ]
    assert not set(run.run.derived["patient_id"]) & set(pd.read_csv(sites["clean"])["patient_id"])


def test_cli_creates_a_private_key_and_never_overwrites_it(sites, tmp_path):
    key = tmp_path / "k" / "site.key"
    key.parent.mkdir()
    out = tmp_path / "outgoing" / "o.csv"  # the key may not sit in the folder that is sent
    args = ["pseudonymize", str(sites["clean"]), "--key", str(key), "--out", str(out)]
    res = runner.invoke(app, [*args, "--new-key"])
    assert res.exit_code == 0, res.output
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert len(load_key(key)) == 64
    summary = json.loads(res.output)
    assert summary["rows"] == 51 and summary["date_shift"]["applied"] is False
    assert "SYN-001" not in out.read_text()
    res = runner.invoke(app, [*args, "--new-key"])
    assert (
        res.exit_code == 1 and "never overwritten" in res.output and "Traceback" not in res.output
    )
    first = out.read_bytes()
    res = runner.invoke(app, args)  # an existing output is never replaced silently
    assert res.exit_code == 1 and "--force" in res.output and out.read_bytes() == first
    res = runner.invoke(app, [*args, "--force"])  # same key, same input: same output
    assert res.exit_code == 0 and out.read_bytes() == first


def test_pseudonym_is_plain_hmac_sha256():
    want = hmac.new(KEY, b"SYN-001", hashlib.sha256).hexdigest()[:20]
    assert pseudonym(KEY, "SYN-001") == want
    assert pseudonym(KEY + b"x", "SYN-001") != want


def test_shift_is_bounded_and_never_zero():
    shifts = [date_shift_days(KEY, f"P{i}", 30) for i in range(2000)]
    assert min(shifts) == -30 and max(shifts) == 30 and 0 not in shifts


def _table(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "site.csv"
    f.write_text(text)
    return f


def test_listed_identifiers_are_dropped(tmp_path):
    f = _table(
        tmp_path, "patient_id,name,birth_date,start_date\nA,Ada Rossi,1950-02-03,2021-01-01\n"
    )
    res = pseudonymize_table(read_table(f), key=KEY, identifiers=["name", "birth_date", "tax_code"])
    assert list(res.frame.columns) == ["patient_id", "start_date"]
    assert res.summary()["identifiers_not_in_file"] == ["tax_code"]


def test_identifying_column_not_dealt_with_stops_the_command(tmp_path):
    f = _table(tmp_path, "patient_id,Cognome,e-mail,start_date\nA,Rossi,a@b.it,2021-01-01\n")
    with pytest.raises(InputError, match="'Cognome', 'e-mail' look like direct identifiers"):
        pseudonymize_table(read_table(f), key=KEY)
    res = pseudonymize_table(read_table(f), key=KEY, identifiers=["e-mail"], keep=["Cognome"])
    assert list(res.frame.columns) == ["patient_id", "Cognome", "start_date"]


def test_empty_id_in_a_filled_row_is_refused(tmp_path):
    f = _table(tmp_path, "patient_id,start_date\nA,2021-01-01\n,2021-02-01\n\n")
    with pytest.raises(InputError, match="id is empty") as exc:
        pseudonymize_table(read_table(f), key=KEY)
    assert exc.value.where.row == 3


def test_column_mixing_dates_and_text_is_not_half_shifted(tmp_path):
    f = _table(
        tmp_path, "patient_id,start_date,note\nA,2021-01-01,2021-03-04\nB,2021-02-01,see chart\n"
    )
    with pytest.raises(InputError, match="mixes dates"):
        pseudonymize_table(read_table(f), key=KEY, shift_dates=True, date_columns=["start_date"])
    res = pseudonymize_table(read_table(f), key=KEY, shift_dates=False)
    assert res.frame["note"].tolist() == ["2021-03-04", "see chart"]


def test_unreadable_date_in_a_date_column_is_refused(tmp_path):
    f = _table(tmp_path, "patient_id,start_date\nA,2021-01-01\nB,01/02/2021\n")
    with pytest.raises(InputError, match="cannot be shifted") as exc:
        pseudonymize_table(read_table(f), key=KEY, shift_dates=True, date_columns=["start_date"])
    assert exc.value.where.row == 3


def test_short_key_and_missing_key_are_refused(tmp_path):
    k = tmp_path / "k"
    k.write_text("short\n")
    with pytest.raises(InputError, match="too short"):
        load_key(k)
    with pytest.raises(InputError, match="not found"):
        load_key(tmp_path / "none")


def test_output_may_not_be_the_input(sites, key, tmp_path):
    f = tmp_path / "p.csv"
    shutil.copy(sites["clean"], f)
    with pytest.raises(InputError, match="--out is the input"):
        pseudonymize_command(f, key, f)


def test_same_key_links_a_patient_across_sites(sites, key, tmp_path):
    # Two sites pseudonymize the same source id with a shared key: the pseudonyms match
    # and pooling flags the pair (same_key) for review.
    import openpyxl

    folder = copy_sites(sites["spec"].parent, tmp_path / "s")
    wb = openpyxl.load_workbook(folder / "centro.xlsx")
    wb["pazienti"].append(["SYN-002", "Center B", "04/04/2022", "28/08/2022", None, "31/12/2023",
                           70, "F", 4, "no", 3.8, 114, None, "pr"])  # fmt: skip
    wb.save(folder / "centro.xlsx")
    sent = tmp_path / "sent"
    sent.mkdir()
    shutil.copy(folder / "study.toml", sent / "study.toml")
    for name in ("north.csv", "centro.xlsx", "south.sav"):
        pseudonymize_command(
            folder / name, key, sent / name, spec_path=folder / "study.toml", shift_dates=True
        )
    from mmrwe.study.pooling import prepare_pool

    pooled = prepare_pool(load_spec(sent / "study.toml"))
    (pair,) = pooled.duplicates
    p = pseudonym(KEY, "SYN-002")
    assert pair.refs == (f"Center A/{p}", f"Center B/{p}")
    assert pair.reasons == ("same_key", "same_person_dates")  # same key: same shift too
