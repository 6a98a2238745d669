"""`mmrwe init DATAFILE`: the spec it writes validates on the file it came from.

Every data file here is synthetic (a seeded generator below), written in the ways site
exports arrive: a European CSV (";" separator, decimal commas, dd/mm/yyyy, Latin-1,
Italian headers), an Excel workbook with two sheets (Spanish headers, hemoglobin in g/L),
an SPSS .sav file (German names, value labels, typed dates) and a Parquet file (French).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import tomllib
from pathlib import Path

import openpyxl
import pandas as pd
import pyreadstat
import pytest
from typer.testing import CliRunner

from mmrwe.cli.main import app
from mmrwe.spec import load_spec

runner = CliRunner()
RESPONSES = ["sCR", "CR", "VGPR", "PR", "MR", "SD", "PD"]


def _date_after(rng: random.Random, d0: dt.date, lo: int, hi: int, small_day: bool) -> dt.date:
    while True:
        d = d0 + dt.timedelta(days=rng.randint(lo, hi))
        if not small_day or d.day <= 12:
            return d


def cohort(n: int = 30, seed: int = 7, *, small_days: bool = False) -> list[dict]:
    """Synthetic patients obeying the table's date rules (start <= progression <= last
    follow-up; death = last follow-up). ``small_days``: every day of month <= 12."""
    rng = random.Random(seed)
    rows = []
    for i in range(1, n + 1):
        start = _date_after(rng, dt.date(2020, 1, 1), 0, 500, small_days)
        lfu = _date_after(rng, start, 60, 900, small_days)
        prog = (
            _date_after(rng, start, 0, (lfu - start).days, small_days)
            if rng.random() < 0.6
            else None
        )
        if prog is not None and prog > lfu:
            prog = lfu
        died = rng.random() < 0.4
        rows.append({
            "id": f"PZ-{i:03d}", "center": rng.choice(["Bologna", "Napoli", "Torino"]),
            "start": start, "prog": prog, "death": lfu if died else None, "lfu": lfu,
            "age": rng.randint(45, 85), "sex": rng.choice(["F", "M"]),
            "hgb": round(rng.uniform(8.0, 15.0), 1), "resp": rng.choice(RESPONSES),
            "risk": rng.choice(["standard", "alto", None]), "tcr": rng.choice(["sì", "no"]),
        })  # fmt: skip
    return rows


def european_csv(path: Path, rows: list[dict]) -> Path:
    header = ["Codice paziente", "Centro", "Data inizio terapia", "Data progressione",
              "Data decesso", "Data ultimo follow-up", "Età", "Sesso", "Emoglobina",
              "Risposta migliore", "Rischio FISH", "Triplo refrattario"]  # fmt: skip

    def d(x: dt.date | None) -> str:
        return x.strftime("%d/%m/%Y") if x else ""

    lines = [";".join(header)]
    for r in rows:
        cells = [r["id"], r["center"], d(r["start"]), d(r["prog"]), d(r["death"]), d(r["lfu"]),
                 str(r["age"]), r["sex"], str(r["hgb"]).replace(".", ","), r["resp"],
                 r["risk"] or "", r["tcr"]]  # fmt: skip
        lines.append(";".join(cells))
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("latin-1"))
    return path


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def init(*args: str):
    return runner.invoke(app, ["init", *args])


def validate(spec: Path):
    return runner.invoke(app, ["validate", str(spec)])


def test_european_csv_gives_a_spec_that_validates(tmp_path):
    data = european_csv(tmp_path / "pazienti.csv", cohort())
    before = sha(data)
    spec = tmp_path / "study.toml"
    res = init(str(data), "--out", str(spec))
    assert res.exit_code == 0, res.output
    text = spec.read_text(encoding="utf-8")
    doc = tomllib.loads(text)
    assert text.startswith("#:schema file://") and text.splitlines()[0].endswith(
        "study.schema.json"
    )
    assert doc["data"] | {"missing_values": None} == {
        "patients": "pazienti.csv", "encoding": "latin-1", "delimiter": ";", "decimal": ",",
        "date_format": "%d/%m/%Y", "missing_values": None,
        "columns": {
            "patient_id": "Codice paziente", "center": "Centro",
            "start_date": "Data inizio terapia", "progression_date": "Data progressione",
            "death_date": "Data decesso", "last_followup_date": "Data ultimo follow-up",
            "best_response": "Risposta migliore",
        },
    }  # fmt: skip
    v = doc["variables"]
    assert v["best_response"]["levels"] == [
        c for c in RESPONSES if c in v["best_response"]["levels"]
    ]
    assert v["Emoglobina"] == {"type": "numeric", "unit": "g/dL", "analyte": "hemoglobin"}
    assert v["Età"]["unit"] == "years"
    assert v["Triplo refrattario"]["levels"] == ["no", "sì"]  # negative level first
    assert v["Rischio FISH"]["levels"] == ["standard", "alto"]  # lowest risk first
    # Every choice is explained in a comment above its key.
    comments = " ".join(ln.lstrip("# ") for ln in text.splitlines() if ln.startswith("#"))
    assert "Detected: not UTF-8" in comments and "decimal comma (e.g." in comments
    assert "cannot be month/day/year" in comments
    res = validate(spec)
    assert res.exit_code == 0, res.output
    assert "valid: 30 rows read from pazienti.csv; 0 error(s), 0 other issue(s)" in res.output
    assert sha(data) == before  # the data file is only read


def test_dates_that_read_both_ways_are_left_for_the_user_to_choose(tmp_path):
    data = european_csv(tmp_path / "pazienti.csv", cohort(small_days=True))
    spec = tmp_path / "study.toml"
    res = init(str(data), "--out", str(spec))
    assert res.exit_code == 0, res.output
    assert "choose data.date_format" in res.output
    text = spec.read_text(encoding="utf-8")
    assert 'date_format = ["%d/%m/%Y", "%m/%d/%Y"]' in text
    assert "UNDECIDED: every one of the" in text and "has day and month <= 12" in text
    res = validate(spec)
    assert res.exit_code == 1
    assert "MMS008" in res.output and "data.date_format" in res.output
    assert "Traceback" not in res.output
    spec.write_text(
        text.replace('date_format = ["%d/%m/%Y", "%m/%d/%Y"]', 'date_format = "%d/%m/%Y"')
    )
    assert validate(spec).exit_code == 0


def spanish_workbook(path: Path, rows: list[dict]) -> Path:
    wb = openpyxl.Workbook()
    notes = wb.active
    notes.title = "Notas"
    notes.append(["Exportación del registro; datos sintéticos"])
    ws = wb.create_sheet("Pacientes")
    ws.append(["ID paciente", "Hospital", "Fecha inicio", "Fecha progresión", "Fecha muerte",
               "Fecha último seguimiento", "Edad", "Sexo", "Hemoglobina (g/L)", "Mejor respuesta"])  # fmt: skip
    for r in rows:
        ws.append([r["id"], r["center"], r["start"], r["prog"], r["death"], r["lfu"], r["age"],
                   r["sex"], round(r["hgb"] * 10), r["resp"]])  # fmt: skip
    for col in "CDEF":
        for cell in ws[col][1:]:
            cell.number_format = "dd/mm/yyyy"
    wb.save(path)
    return path


def test_workbook_with_two_sheets_lists_them_and_uses_the_chosen_one(tmp_path):
    data = spanish_workbook(tmp_path / "registro.xlsx", cohort(seed=11))
    spec = tmp_path / "study.toml"
    res = init(str(data), "--out", str(spec))
    assert res.exit_code == 1
    assert (
        "2 visible sheets" in res.output and "'Notas'" in res.output and "'Pacientes'" in res.output
    )
    assert "--sheet" in res.output and not spec.exists()
    res = init(str(data), "--out", str(spec), "--sheet", "Pacientes")
    assert res.exit_code == 0, res.output
    doc = tomllib.loads(spec.read_text())
    assert doc["data"]["sheet"] == "Pacientes"
    assert "date_format" not in doc["data"]  # typed dates need no format
    assert doc["data"]["columns"]["last_followup_date"] == "Fecha último seguimiento"
    assert doc["data"]["columns"]["center"] == "Hospital"
    # Values around 80-150 with "(g/L)" in the header: hemoglobin in g/L.
    assert doc["variables"]["Hemoglobina (g/L)"]["unit"] == "g/L"
    res = validate(spec)
    assert res.exit_code == 0, res.output


def german_sav(path: Path, rows: list[dict]) -> Path:
    df = pd.DataFrame({
        "PatID": [r["id"] for r in rows],
        "Zentrum": [r["center"] for r in rows],
        "Therapiebeginn": [r["start"] for r in rows],
        "Progressionsdatum": [r["prog"] for r in rows],
        "Todesdatum": [r["death"] for r in rows],
        "LetzterKontakt": [r["lfu"] for r in rows],
        "Alter": [float(r["age"]) for r in rows],
        "Geschlecht": [1.0 if r["sex"] == "F" else 2.0 for r in rows],
        "Kreatinin": [round(random.Random(i).uniform(60, 180), 0) for i in range(len(rows))],
        "Ansprechen": [r["resp"] for r in rows],
    })  # fmt: skip
    pyreadstat.write_sav(df, str(path), variable_value_labels={"Geschlecht": {1.0: "F", 2.0: "M"}})
    return path


def test_spss_file_gives_a_spec_that_validates(tmp_path):
    data = german_sav(tmp_path / "kohorte.sav", cohort(seed=5))
    spec = tmp_path / "study.toml"
    res = init(str(data), "--out", str(spec))
    assert res.exit_code == 0, res.output
    doc = tomllib.loads(spec.read_text())
    assert "delimiter" not in doc["data"] and "encoding" not in doc["data"]
    assert doc["data"]["columns"] == {
        "patient_id": "PatID", "center": "Zentrum", "start_date": "Therapiebeginn",
        "progression_date": "Progressionsdatum", "death_date": "Todesdatum",
        "last_followup_date": "LetzterKontakt", "best_response": "Ansprechen",
    }  # fmt: skip
    assert doc["variables"]["Geschlecht"]["levels"] == ["F", "M"]  # SPSS value labels
    assert doc["variables"]["Kreatinin"]["unit"] == "umol/L"  # 60-180: micromol/L, not mg/dL
    res = validate(spec)
    assert res.exit_code == 0, res.output


def test_parquet_with_french_headers(tmp_path):
    rows = cohort(seed=3)
    df = pd.DataFrame({
        "Identifiant": [r["id"] for r in rows], "Centre": [r["center"] for r in rows],
        "Date début traitement": [r["start"] for r in rows],
        "Date de progression": [r["prog"] for r in rows],
        "Date décès": [r["death"] for r in rows],
        "Date dernières nouvelles": [r["lfu"] for r in rows],
        "Meilleure réponse": [r["resp"] for r in rows],
    })  # fmt: skip
    data = tmp_path / "cohorte.parquet"
    df.to_parquet(data)
    spec = tmp_path / "study.toml"
    assert init(str(data), "--out", str(spec)).exit_code == 0
    cols = tomllib.loads(spec.read_text())["data"]["columns"]
    assert cols["start_date"] == "Date début traitement"
    assert cols["last_followup_date"] == "Date dernières nouvelles"
    assert cols["death_date"] == "Date décès"
    assert validate(spec).exit_code == 0


def test_dates_mapped_by_content_when_the_names_say_nothing(tmp_path):
    rows = cohort(seed=9)
    df = pd.DataFrame({
        "patient_id": [r["id"] for r in rows],
        "d1": [r["start"].isoformat() for r in rows],
        "d2": [r["lfu"].isoformat() for r in rows],
        "d3": [r["prog"].isoformat() if r["prog"] else "" for r in rows],
    })  # fmt: skip
    data = tmp_path / "t.csv"
    df.to_csv(data, index=False)
    spec = tmp_path / "study.toml"
    res = init(str(data), "--out", str(spec))
    assert res.exit_code == 0
    assert "map death_date under [data.columns]" in res.output  # markup kept as text
    cols = tomllib.loads(spec.read_text())["data"]["columns"]
    assert cols["start_date"] == "d1" and cols["last_followup_date"] == "d2"
    assert "death_date" not in cols and "# death_date = " in spec.read_text()


def test_an_existing_spec_is_never_overwritten_without_force(tmp_path):
    data = european_csv(tmp_path / "pazienti.csv", cohort())
    spec = tmp_path / "study.toml"
    spec.write_text("# my spec\n")
    res = init(str(data), "--out", str(spec))
    assert res.exit_code == 1 and "already exists" in res.output and "--force" in res.output
    assert spec.read_text() == "# my spec\n"
    assert init(str(data), "--out", str(spec), "--force").exit_code == 0
    assert load_spec(spec).data.delimiter == ";"
    res = init(str(data), "--out", str(data), "--force")
    assert res.exit_code == 1 and "data file itself" in res.output


def test_the_spec_path_to_the_data_is_relative_to_the_spec(tmp_path):
    (tmp_path / "exports").mkdir()
    data = european_csv(tmp_path / "exports" / "pazienti.csv", cohort())
    spec = tmp_path / "specs" / "study.toml"
    spec.parent.mkdir()
    assert init(str(data), "--out", str(spec)).exit_code == 0
    assert tomllib.loads(spec.read_text())["data"]["patients"] == "../exports/pazienti.csv"
    assert validate(spec).exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope.csv"], "not found"),
        (["x.docx"], "unsupported file type"),
        (["pazienti.csv", "--out", "/proc/no-such-folder/study.toml"], "cannot write"),
    ],
)
def test_bad_input_is_a_message_not_a_traceback(tmp_path, args, message):
    (tmp_path / "x.docx").write_text("x")
    european_csv(tmp_path / "pazienti.csv", cohort(n=5))
    argv = [a if a.startswith(("-", "/")) else str(tmp_path / a) for a in args]
    if "--out" not in args:
        argv += ["--out", str(tmp_path / "s.toml")]
    res = runner.invoke(app, ["init", *argv])
    assert res.exit_code == 1 and message in res.output and "Traceback" not in res.output


def test_utf8_with_byte_order_mark_and_iso_dates(tmp_path):
    rows = cohort(seed=2)
    lines = ["patient_id,center,start_date,progression_date,death_date,last_followup_date,hgb"]
    for r in rows:
        cells = [r["id"], r["center"], *(d.isoformat() if d else "" for d in
                 (r["start"], r["prog"], r["death"], r["lfu"])), str(r["hgb"])]  # fmt: skip
        lines.append(",".join(cells))
    data = tmp_path / "export.csv"
    data.write_bytes(("\n".join(lines) + "\n").encode("utf-8-sig"))
    spec = tmp_path / "study.toml"
    assert init(str(data), "--out", str(spec)).exit_code == 0
    doc = tomllib.loads(spec.read_text())
    assert doc["data"]["encoding"] == "utf-8-sig" and doc["data"]["date_format"] == "%Y-%m-%d"
    assert doc["data"]["delimiter"] == "," and doc["data"]["decimal"] == "."
    assert doc["variables"]["hgb"] == {"type": "numeric", "unit": "g/dL"}  # hgb: analyte known
    assert validate(spec).exit_code == 0


def test_a_column_named_like_a_canonical_column_is_that_column(tmp_path):
    # patient_id repeats (an error of the data): it is still mapped, so that validation
    # reports the duplicate instead of a clash with another id-like column.
    rows = cohort(n=6, seed=4)
    df = pd.DataFrame({
        "Codice": [f"C{i}" for i in range(6)],
        "patient_id": ["A", "A", "B", "C", "D", "E"],
        "start_date": [r["start"].isoformat() for r in rows],
        "progression_date": [r["prog"].isoformat() if r["prog"] else "" for r in rows],
        "death_date": [r["death"].isoformat() if r["death"] else "" for r in rows],
        "last_followup_date": [r["lfu"].isoformat() for r in rows],
    })  # fmt: skip
    data = tmp_path / "t.csv"
    df.to_csv(data, index=False)
    spec = tmp_path / "study.toml"
    assert init(str(data), "--out", str(spec)).exit_code == 0
    assert tomllib.loads(spec.read_text())["data"]["columns"]["patient_id"] == "patient_id"
    res = validate(spec)
    assert res.exit_code == 1 and "MMV002" in res.output and "MMV001" not in res.output


def test_workbook_mixing_real_dates_and_dates_typed_as_text(tmp_path):
    rows = cohort(n=12, seed=8)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "patients"
    ws.append(["patient_id", "start_date", "progression_date", "death_date", "last_followup_date"])
    for k, r in enumerate(rows):
        # Every third start date was typed as text (day/month/year) by the data manager.
        start = r["start"].strftime("%d/%m/%Y") if k % 3 == 0 else r["start"]
        ws.append([r["id"], start, r["prog"], r["death"], r["lfu"]])
    data = tmp_path / "mixed.xlsx"
    wb.save(data)
    spec = tmp_path / "study.toml"
    assert init(str(data), "--out", str(spec)).exit_code == 0
    doc = tomllib.loads(spec.read_text())
    assert doc["data"]["columns"]["start_date"] == "start_date"
    assert doc["data"]["sheet"] == "patients"
    assert doc["data"]["date_format"] == "%d/%m/%Y"  # from the dates typed as text
    assert validate(spec).exit_code == 0
