"""The payload test (issue acceptance): hostile strings in every text field of the patient, lab
and therapy tables and of the spec. No internal error, no formula cell in any .xlsx, no
unneutralised cell in any CSV, nothing unescaped in HTML, no raw escape on the console."""

from __future__ import annotations

import csv
import io
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from _security_helpers import private_key
from typer.testing import CliRunner

from mmrwe.cli.main import app
from mmrwe.study.demo import demo_dir

PAYLOADS = [
    "<script>alert(1)</script>",
    '=HYPERLINK("http://evil.example","Center B")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "-2+3",
    "\x1b[2J\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\",
    "[link=http://evil.example]click[/link] [bold red]x[/]",
    "A $\\frac{1}{$ center",
    "../../../etc/passwd",
    "\tstarts with a tab",
    "L" + "o" * 3000 + "ng",
]
_FORMULA = re.compile(r"^[=+\-@\t\r]")
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?$")


def _rewrite(path: Path, change) -> None:
    rows = list(csv.DictReader(path.open(encoding="utf-8", newline="")))
    fields = list(rows[0])
    rows = [change(i, r) for i, r in enumerate(rows)]
    fields += [k for k in rows[0] if k not in fields]
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def _hostile_demo(folder: Path) -> dict[str, str]:
    """The demo with a payload in every text field that the analysis accepts as data."""
    shutil.copytree(demo_dir(), folder)
    ids: dict[str, str] = {}
    pats = list(csv.DictReader((folder / "patients.csv").open(encoding="utf-8")))
    for i, r in enumerate(pats):
        if i < len(PAYLOADS):
            ids[r["patient_id"]] = f"{PAYLOADS[i]}#{i}"

    def patient(i: int, r: dict[str, str]) -> dict[str, str]:
        r["patient_id"] = ids.get(r["patient_id"], r["patient_id"])
        r["comment"] = PAYLOADS[i % len(PAYLOADS)]
        if i % 17 == 3:
            r["center"] = PAYLOADS[(i // 17) % len(PAYLOADS)]
        return r

    def linked(i: int, r: dict[str, str]) -> dict[str, str]:
        r["patient_id"] = ids.get(r["patient_id"], r["patient_id"])
        if "regimen" in r and i % 5 == 0:
            r["regimen"] = PAYLOADS[i % len(PAYLOADS)]
        return r

    _rewrite(folder / "patients.csv", patient)
    _rewrite(folder / "labs.csv", linked)
    _rewrite(folder / "therapy.csv", linked)
    spec = folder / "study.toml"
    text = spec.read_text(encoding="utf-8")
    toml_title = PAYLOADS[0] + " " + PAYLOADS[6] + " " + PAYLOADS[7]
    title, description = _toml(toml_title), _toml(PAYLOADS[5] + PAYLOADS[1])
    text = re.sub(r'(?m)^title = ".*"$', lambda _: f"title = {title}", text, count=1)
    text = re.sub(r'(?m)^description = ".*"$', lambda _: f"description = {description}", text)
    text = text.replace('label = "Sex"', f"label = {_toml(PAYLOADS[6] + ' ' + PAYLOADS[0])}", 1)
    text = text.replace('"best_response"]', '"best_response", "comment"]', 1)
    text += (
        f'\n[variables.comment]\ntype = "categorical"\nlabel = {_toml(PAYLOADS[7])}\n'
        '\n[report]\nfigure_formats = ["svg"]\n'
    )
    spec.write_text(text, encoding="utf-8")
    return ids


def _toml(s: str) -> str:
    out = s.replace("\\", "\\\\").replace('"', '\\"')
    out = out.replace("\x1b", "\\u001b").replace("\t", "\\t").replace("\r", "\\r")
    return f'"{out}"'


def _assert_console_clean(output: str) -> None:
    assert "\x1b" not in output, "raw escape on the console"
    assert "internal error" not in output.lower(), output[-2000:]
    assert "Traceback" not in output, output[-2000:]


def _assert_csv_neutral(path: Path) -> None:
    for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8"))):
        for cell in row:
            if _FORMULA.match(cell) and not _NUMBER.match(cell):
                pytest.fail(f"{path.name}: unneutralised cell {cell[:60]!r}")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    base = tmp_path_factory.mktemp("payload")
    ids = _hostile_demo(base / "in")
    out = base / "out"
    res = CliRunner().invoke(app, ["analyze", str(base / "in" / "study.toml"), "--out", str(out)])
    return {"base": base, "ids": ids, "out": out, "res": res}


def test_hostile_values_end_in_results_not_in_an_internal_error(hostile):
    res = hostile["res"]
    assert res.exit_code in (0, 3), res.output[-3000:]
    _assert_console_clean(res.output)
    assert (hostile["out"] / "results.json").is_file()


def test_html_escapes_every_payload(hostile):
    html = (hostile["out"] / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html
    assert "\x1b" not in html
    assert not re.search(r"<a [^>]*evil\.example", html)
    assert not re.search(r"<script(?![^>]*application/json)", html.replace("<script>", "<s>"))


def test_every_csv_written_is_neutralised(hostile):
    csvs = list(hostile["out"].rglob("*.csv"))
    assert any(p.name == "derived_patients.csv" for p in csvs)
    for p in csvs:
        _assert_csv_neutral(p)


def test_no_input_id_in_the_publishable_outputs(hostile):
    out = hostile["out"]
    texts = [(out / n).read_text(encoding="utf-8") for n in ("results.json", "report.html")]
    with zipfile.ZipFile(out / "report.docx") as z:
        texts += [z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith(".xml")]
    for pid in hostile["ids"].values():
        tail = pid.split("#")[-1]
        probe = pid[:40] + "#" + tail if len(pid) > 40 else pid
        for t in texts:
            assert probe not in t, probe[:60]


def test_pseudonymize_xlsx_of_hostile_values_has_no_formula_cell(hostile, tmp_path):
    key = private_key(tmp_path / "keys")
    out = tmp_path / "outgoing" / "site.xlsx"
    res = CliRunner().invoke(
        app,
        ["pseudonymize", str(hostile["base"] / "in" / "patients.csv"), "--key", str(key),
         "--out", str(out), "--keep-only", "center,start_date,progression_date,death_date,"
         "last_followup_date,sex,comment"],
    )  # fmt: skip
    _assert_console_clean(res.output)
    if res.exit_code != 0:
        # the content scan may stop on the payload column: a clear refusal, nothing written
        assert res.exit_code in (1, 2) and not out.exists(), res.output[-2000:]
        return
    with zipfile.ZipFile(out) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert "<f>" not in z.read(name).decode("utf-8") and "<f " not in z.read(
                    name
                ).decode("utf-8")


def test_hostile_lab_and_therapy_text_is_refused_cleanly(tmp_path):
    folder = tmp_path / "in"
    _hostile_demo(folder)

    def lab(i: int, r: dict[str, str]) -> dict[str, str]:
        if i % 50 == 0:
            r["test"] = PAYLOADS[(i // 50) % len(PAYLOADS)]
            r["unit"] = PAYLOADS[(i // 50 + 3) % len(PAYLOADS)]
        return r

    def therapy(i: int, r: dict[str, str]) -> dict[str, str]:
        if i % 7 == 0:
            r["agents"] = PAYLOADS[i % len(PAYLOADS)]
            r["reason_end"] = PAYLOADS[(i + 2) % len(PAYLOADS)]
        return r

    _rewrite(folder / "labs.csv", lab)
    _rewrite(folder / "therapy.csv", therapy)
    for cmd in ("validate", "analyze"):
        args = [cmd, str(folder / "study.toml")]
        if cmd == "analyze":
            args += ["--out", str(tmp_path / "out")]
        res = CliRunner().invoke(app, args)
        assert res.exit_code in (0, 1, 3), res.output[-3000:]
        _assert_console_clean(res.output)
