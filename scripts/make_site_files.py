"""Write three differently formatted SYNTHETIC site exports of the demo cohort, and a spec.

The embedded demo cohort (51 synthetic patients, centers A-E; no real data) is split into:

* ``north.csv``  Center A: ``;``-separated, decimal commas, dates ``dd.mm.yyyy``, Italian
  column names, latin-1 text (``età``), sex written ``maschio``/``femmina`` and tcr
  ``si``/``no`` (recoded in the spec), no center column (the spec names the center).
* ``centro.xlsx`` Centers B and C: a ``pazienti`` sheet next to a ``leggimi`` sheet and a
  hidden scratch sheet, dates as ``dd/mm/yyyy`` text, hemoglobin in g/L (converted to the
  spec's g/dL), a ``Centro`` column restricted to the two declared centers.
* ``south.sav``  Centers D and E: SPSS with date-typed columns and value labels
  (sex 1 = F, 2 = M), upper-case variable names.

``study.toml`` is the demo spec plus ``[[sites]]`` entries; its ``[data] patients`` is the
demo's clean table (``patients.csv``, rows in site order; ``patients_by_id.csv`` is the
demo's own file in id order), so ``mmrwe analyze study.toml`` and
``mmrwe pool --spec study.toml`` run the same spec on the single clean file and on the
three site files. Deterministic: no randomness is involved.

Usage::

    python scripts/make_site_files.py OUT_DIR
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from fractions import Fraction
from importlib import resources
from pathlib import Path

import pandas as pd

DATES = ["start_date", "progression_date", "death_date", "last_followup_date"]

SITES_TOML = """
# --- pooling: three site exports of the same cohort (scripts/make_site_files.py) ---

[[sites]]
file = "north.csv"
center = "Center A"
delimiter = ";"
decimal = ","
encoding = "latin-1"
date_format = "%d.%m.%Y"
recode.sex = { femmina = "F", maschio = "M" }
recode.tcr = { si = "yes", no = "no" }

[sites.columns]
patient_id = "id_paziente"
start_date = "data_inizio"
progression_date = "data_progressione"
death_date = "data_decesso"
last_followup_date = "ultimo_followup"
age = "età"
sex = "sesso"
prior_lines = "linee_precedenti"
tcr = "tcr"
months_from_dara_refractory = "mesi_da_dara"
hgb = "emoglobina"
fish_risk = "rischio_fish"
best_response = "risposta"

[[sites]]
file = "centro.xlsx"
sheet = "pazienti"
centers = ["Center B", "Center C"]
date_format = "%d/%m/%Y"
units = { hgb = "g/L" }

[sites.columns]
center = "Centro"
hgb = "Hb_gL"

[[sites]]
file = "south.sav"

[sites.columns]
patient_id = "PT_ID"
center = "CENTER"
start_date = "START_DT"
progression_date = "PD_DT"
death_date = "DEATH_DT"
last_followup_date = "LFU_DT"
age = "AGE"
sex = "SEX"
prior_lines = "PRIOR_LINES"
tcr = "TCR"
months_from_dara_refractory = "DARA_GAP"
hgb = "HGB"
fish_risk = "FISH"
best_response = "BEST_RESP"
"""


def _without_lab_tables(spec: str) -> str:
    """The demo spec on the patient table alone: site exports carry recorded response columns.

    The demo derives response from its lab and therapy tables; the site files here are the
    patient table split by center, so the spec drops ``labs``/``therapy`` and ``[response]``,
    and the endpoints and landmark analysis that need the derived response and next-line
    dates (``[km] endpoints``, ``landmark_from``).
    """
    out, skip = [], False
    for line in spec.splitlines(keepends=True):
        head = line.strip()
        if head.startswith("["):
            skip = head == "[response]"
        if skip or head.startswith(("labs =", "therapy =", "endpoints =", "landmark_from =")):
            continue
        out.append(line)
    return "".join(out)


def demo_dir() -> Path:
    """Folder of the embedded demo cohort."""
    return Path(str(resources.files("mmrwe") / "data" / "demo"))


def clean_frame() -> pd.DataFrame:
    """The demo patient table as text, exactly as in its CSV."""
    return pd.read_csv(demo_dir() / "patients.csv", dtype=str, keep_default_na=False)


def _date(s: str) -> dt.date | None:
    return dt.date.fromisoformat(s) if s else None


def _fmt(s: str, fmt: str) -> str:
    return dt.date.fromisoformat(s).strftime(fmt) if s else ""


def write_north(d: pd.DataFrame, path: Path) -> None:
    """Center A: ';' CSV, decimal commas, dd.mm.yyyy, Italian headers, latin-1."""
    x = d[d["center"] == "Center A"].drop(columns=["center"]).copy()
    for c in DATES:
        x[c] = [_fmt(v, "%d.%m.%Y") for v in x[c]]
    for c in ("hgb", "months_from_dara_refractory"):
        x[c] = x[c].str.replace(".", ",", regex=False)
    x["sex"] = x["sex"].map({"F": "femmina", "M": "maschio"})
    x["tcr"] = x["tcr"].map({"yes": "si", "no": "no"})
    x = x.rename(
        columns={
            "patient_id": "id_paziente",
            "start_date": "data_inizio",
            "progression_date": "data_progressione",
            "death_date": "data_decesso",
            "last_followup_date": "ultimo_followup",
            "age": "età",
            "sex": "sesso",
            "prior_lines": "linee_precedenti",
            "months_from_dara_refractory": "mesi_da_dara",
            "hgb": "emoglobina",
            "fish_risk": "rischio_fish",
            "best_response": "risposta",
        }
    )
    path.write_bytes(x.to_csv(index=False, sep=";", lineterminator="\r\n").encode("latin-1"))


def write_centro(d: pd.DataFrame, path: Path) -> None:
    """Centers B and C: workbook with several sheets, dd/mm/yyyy text dates, Hb in g/L."""
    import openpyxl

    x = d[d["center"].isin(["Center B", "Center C"])].copy()
    wb = openpyxl.Workbook()
    readme = wb.active
    readme.title = "leggimi"
    readme.append(["Esportazione sintetica (dati non reali)"])
    ws = wb.create_sheet("pazienti")
    header = [
        "patient_id", "Centro", *DATES, "age", "sex", "prior_lines", "tcr",
        "months_from_dara_refractory", "Hb_gL", "fish_risk", "best_response",
    ]  # fmt: skip
    ws.append(header)
    for _, r in x.iterrows():
        ws.append(
            [
                r["patient_id"],
                r["center"],
                *(_fmt(r[c], "%d/%m/%Y") or None for c in DATES),
                int(r["age"]),
                r["sex"],
                int(r["prior_lines"]),
                r["tcr"],
                float(r["months_from_dara_refractory"]),
                # g/L as the lab reports it: 13.2 g/dL -> 132 g/L (exact decimal arithmetic)
                float(Fraction(r["hgb"]) * 10),
                r["fish_risk"] or None,
                r["best_response"].lower(),
            ]
        )
    scratch = wb.create_sheet("appunti")
    scratch.append(["bozza"])
    scratch.sheet_state = "hidden"
    wb.save(path)


def write_south(d: pd.DataFrame, path: Path) -> None:
    """Centers D and E: SPSS, date-typed columns, value labels for sex."""
    import pyreadstat

    x = d[d["center"].isin(["Center D", "Center E"])].copy()
    out = pd.DataFrame(
        {
            "PT_ID": x["patient_id"],
            "CENTER": x["center"],
            "START_DT": [_date(v) for v in x["start_date"]],
            "PD_DT": [_date(v) for v in x["progression_date"]],
            "DEATH_DT": [_date(v) for v in x["death_date"]],
            "LFU_DT": [_date(v) for v in x["last_followup_date"]],
            "AGE": x["age"].astype(float),
            "SEX": x["sex"].map({"F": 1.0, "M": 2.0}),
            "PRIOR_LINES": x["prior_lines"].astype(float),
            "TCR": x["tcr"],
            "DARA_GAP": x["months_from_dara_refractory"].astype(float),
            "HGB": x["hgb"].astype(float),
            "FISH": x["fish_risk"],
            "BEST_RESP": x["best_response"],
        }
    ).reset_index(drop=True)
    for c in ("START_DT", "PD_DT", "DEATH_DT", "LFU_DT"):
        out[c] = pd.Series(out[c].tolist(), dtype=object)
    pyreadstat.write_sav(out, str(path), variable_value_labels={"SEX": {1.0: "F", 2.0: "M"}})


def make_sites(out: Path) -> dict[str, Path]:
    """Write the clean file, the three site files and study.toml into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    d = clean_frame()
    # The clean file holds the rows in site order (A; B and C; D and E), as the sites are
    # pooled: results are then bit-identical (floating-point sums depend on row order in
    # their last bits). The demo's own file, in id order, is written as patients_by_id.csv.
    shutil.copy(demo_dir() / "patients.csv", out / "patients_by_id.csv")
    groups = (["Center A"], ["Center B", "Center C"], ["Center D", "Center E"])
    order = pd.concat([d[d["center"].isin(g)] for g in groups])
    order.to_csv(out / "patients.csv", index=False, lineterminator="\n")
    files = {
        "north": out / "north.csv",
        "centro": out / "centro.xlsx",
        "south": out / "south.sav",
    }
    write_north(d, files["north"])
    write_centro(d, files["centro"])
    write_south(d, files["south"])
    spec = _without_lab_tables((demo_dir() / "study.toml").read_text(encoding="utf-8")) + SITES_TOML
    (out / "study.toml").write_text(spec, encoding="utf-8")
    files["spec"] = out / "study.toml"
    files["clean"] = out / "patients.csv"
    files["clean_by_id"] = out / "patients_by_id.csv"
    return files


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/make_site_files.py OUT_DIR")
    for name, p in make_sites(Path(sys.argv[1])).items():
        print(f"{name}: {p}")
