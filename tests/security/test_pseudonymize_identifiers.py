"""Finding 4: identifiers under innocent names, an allow-list, weak or exposed keys, overwrites."""

from __future__ import annotations

import hashlib
import os
import random
import stat

import pandas as pd
import pytest
from _security_helpers import FIRST, LAST, STREETS, private_key
from typer.testing import CliRunner

from mmrwe.cli.main import app
from mmrwe.core.errors import InputError, MmrweError
from mmrwe.study.pseudonymize import pseudonymize_command

runner = CliRunner()


def leaky_site(n: int = 30, seed: int = 3) -> pd.DataFrame:
    """SYNTHETIC: random names, streets and codes under names that do not look identifying."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        rows.append(
            {
                "patient_id": f"P{i:03d}",
                "center": rng.choice(["Center A", "Center B"]),
                "start_date": f"2022-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                "sex": rng.choice("MF"),
                "hgb": f"{rng.uniform(7, 15):.1f}",
                "best_response": rng.choice(["CR", "VGPR", "PR", "SD", "PD"]),
                "comment": f"{first} {last}, {rng.choice(STREETS)} {rng.randint(1, 99)}, lives with daughter",
                "hospital_id": f"H-{rng.randrange(10**6):06d}",
                "initials": f"{first[0]}{last[0]}{rng.choice('ABCDEFGHIJKLMNOPQRSTUVWXYZ')}",
            }
        )
    return pd.DataFrame(rows)


@pytest.fixture
def site(tmp_path):
    f = tmp_path / "site.csv"
    frame = leaky_site()
    frame.to_csv(f, index=False)
    return f, frame, private_key(tmp_path / "keys"), tmp_path / "outgoing"


def test_identifiers_under_innocent_names_stop_the_command(site):
    f, frame, key, outgoing = site
    with pytest.raises(InputError) as exc:
        pseudonymize_command(f, key, outgoing / "o.csv")
    msg = str(exc.value)
    assert "'comment' (street addresses, free text" in msg
    assert "'hospital_id' (id-like codes" in msg
    assert "'initials' (high-cardinality text" in msg
    for col in ("center", "sex", "hgb", "best_response", "start_date"):
        assert f"'{col}'" not in msg
    # The examples are redacted: no name, street or code of the table is in the message.
    for value in (*FIRST, *LAST, *frame["hospital_id"], *frame["initials"]):
        assert value not in msg
    assert "--keep-only" in msg and not (outgoing / "o.csv").exists()


def test_allow_list_sends_only_the_listed_columns(site):
    f, _, key, outgoing = site
    out = outgoing / "o.csv"
    summary = pseudonymize_command(f, key, out, keep_only=["center", "start_date", "sex", "hgb"])
    got = pd.read_csv(out, dtype=str)
    assert list(got.columns) == ["patient_id", "center", "start_date", "sex", "hgb"]
    assert summary["dropped_not_in_allow_list"] == [
        "best_response", "comment", "hospital_id", "initials"
    ]  # fmt: skip
    with pytest.raises(InputError, match=r"no column 'hgbb'(.|\n)*did you mean 'hgb'"):
        pseudonymize_command(f, key, outgoing / "p.csv", keep_only=["hgbb"])


def test_dropping_or_keeping_knowingly_lets_the_rest_through(site):
    f, _, key, outgoing = site
    summary = pseudonymize_command(
        f, key, outgoing / "o.csv", drop=["comment", "hospital_id"], keep=["initials"]
    )
    assert summary["dropped_identifiers"] == ["comment", "hospital_id"]
    assert summary["kept_knowingly"] == ["initials"]


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["ada.rossi@example.org", "", ""], "e-mail addresses"),
        (["+39 06 1234 5678", "", ""], "phone numbers"),
        (["0612345678", "", ""], "phone numbers"),
        (["Via Roma 12, Milano", "", ""], "street addresses"),
        (["The patient was seen by her GP and complained of back pain", "", ""], "free text"),
        (["Ada Rossi", "Bruno Verdi", "Carla Gallo"], "personal names"),
    ],
)
def test_each_kind_of_identifying_value_is_found(values, kind):
    from mmrwe.io.pseudonymize import scan_content

    frame = pd.DataFrame({"note": [v or None for v in values]})
    (finding,) = scan_content(frame, ["note"])
    assert kind in finding.kinds


def test_clinical_columns_are_not_flagged():
    # The demo cohort (51 synthetic patients): categories, numbers, dates, centers.
    from importlib import resources

    from mmrwe.io import read_table
    from mmrwe.io.pseudonymize import scan_content

    path = resources.files("mmrwe") / "data" / "demo" / "patients.csv"
    t = read_table(str(path))
    cols = [c for c in t.frame.columns if c != "patient_id"]
    assert scan_content(t.frame, cols) == ()
    cats = pd.DataFrame({"r": ["Very Good Partial Response", "Partial Response", "Stable Disease"] * 5,
                         "c": ["Ospedale Maggiore", "Policlinico Umberto Primo"] * 7 + [None]})  # fmt: skip
    assert scan_content(cats, ["r", "c"]) == ()


# --- keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (b"aaaaaaaaaaaaaaaa", "too short"),  # the weak key
        (b"a" * 40, "repeats a 1-character pattern"),
        (b"0123456789abcdef" * 3, "repeats a 16-character pattern"),
        (b"abababababababababababababababab12", "bits"),
        (b"0123456789:;<=>?@ABCDEFGHIJKLMNOP", "consecutive"),
    ],
)
def test_weak_keys_are_refused(site, text, match):
    f, _, _, outgoing = site
    key = private_key(outgoing.parent / "weak", text)
    with pytest.raises(InputError, match=match):
        pseudonymize_command(f, key, outgoing / "o.csv", keep_only=["sex"])


def test_a_key_others_can_read_is_refused(site):
    f, _, key, outgoing = site
    key.chmod(0o666)
    with pytest.raises(InputError, match=r"other users \(mode 0666\)(.|\n)*chmod 600"):
        pseudonymize_command(f, key, outgoing / "o.csv", keep_only=["sex"])
    key.chmod(0o600)
    pseudonymize_command(f, key, outgoing / "o.csv", keep_only=["sex"])


def test_a_key_inside_the_outgoing_folder_is_refused(site):
    f, _, _, outgoing = site
    for where in (outgoing, outgoing / "keys"):
        key = private_key(where)
        with pytest.raises(InputError, match="inside the output's folder"):
            pseudonymize_command(f, key, outgoing / "o.csv", keep_only=["sex"])
    assert not (outgoing / "o.csv").exists()


def test_new_keys_are_random_and_private(tmp_path):
    from mmrwe.io.pseudonymize import create_key, key_weakness, load_key

    create_key(tmp_path / "k")
    assert stat.S_IMODE(os.stat(tmp_path / "k").st_mode) == 0o600
    key = load_key(tmp_path / "k")
    assert len(key) == 64 and key_weakness(key) is None


def test_an_existing_output_is_replaced_only_with_force(site):
    f, _, key, outgoing = site
    out = outgoing / "o.csv"
    outgoing.mkdir()
    out.write_text("keep me\n")
    with pytest.raises(InputError, match="--force"):
        pseudonymize_command(f, key, out, keep_only=["sex"])
    assert out.read_text() == "keep me\n"
    pseudonymize_command(f, key, out, keep_only=["sex"], force=True)
    assert out.read_text().startswith("patient_id,sex\n")


def test_cli_refusals_say_what_and_never_trace_back(site):
    f, _, key, outgoing = site
    before = hashlib.sha256(f.read_bytes()).hexdigest()
    base = ["pseudonymize", str(f), "--key", str(key), "--out", str(outgoing / "o.csv")]
    res = runner.invoke(app, base)
    assert res.exit_code == 1 and "look identifying" in res.output
    res = runner.invoke(app, [*base, "--keep-only", "sex", "--keep-only", "hgb,center"])
    assert res.exit_code == 0, res.output
    assert (outgoing / "o.csv").read_text().startswith("patient_id,center,sex,hgb\n")
    res = runner.invoke(app, [*base, "--keep-only", "sex"])
    assert res.exit_code == 1 and "--force" in res.output
    key.chmod(0o644)
    res = runner.invoke(app, [*base, "--keep-only", "sex", "--force"])
    assert res.exit_code == 1 and "chmod 600" in res.output
    for r in (res,):
        assert "Traceback" not in r.output
    assert hashlib.sha256(f.read_bytes()).hexdigest() == before  # the input is only read
    assert issubclass(InputError, MmrweError)
