"""Generate the SYNTHETIC lab and therapy tables of the demo cohort.

Reads ``src/mmrwe/data/demo/patients.csv`` (51 synthetic patients) and writes
``src/mmrwe/data/demo/labs.csv`` and ``src/mmrwe/data/demo/therapy.csv`` such that the IMWG
derivation (:func:`mmrwe.derive.response.derive_response`, default parameters) reproduces
that file's ``best_response``, ``tcr``, ``prior_lines`` and ``progression_date`` exactly
(so the demo's survival figures do not move) and ``months_from_dara_refractory`` to within
the 0.1-month rounding of the patient file. No real patient is behind any row.

How each patient is built (seeded, deterministic):

* Route and units by center, so the harmonization is exercised: Center A serum M-protein
  in g/dL; Center B serum in g/L and free light chains in mg/L; Center C light-chain
  disease followed by 24-h urine (mg/24h, every other patient in g/24h); Center D
  FLC-only disease (MR is not defined on the FLC route, so its MR patient is followed by
  serum); Center E serum in g/L, two patients measurable in serum and urine. Baseline
  hemoglobin (the patient file's ``hgb``, in each center's unit), calcium and creatinine
  are added as optional tests.
* Assessments every 28 days after day 0 (evenly spaced when progression comes early);
  values follow a trajectory that reaches the patient's best response on two consecutive
  assessments (sCR/CR: M-protein 0, immunofixation negative in serum and urine, normal FLC
  ratio, marrow < 5 %; sCR also a negative marrow clonality result).
* Progression: a PD reading on the recorded progression date, confirmed 14 days later,
  then the next line. SYN-005 (best response PD, no progression, death on day 52): a
  single PD reading, then a new line before it could be confirmed: an unconfirmed PD.
* Therapy: the prior lines (triple-class refractory or not as recorded; planned
  induction-ASCT-maintenance as one line for some), the anti-CD38 line progressing
  ``months_from_dara_refractory`` before day 0, the index regimen (isatuximab,
  pomalidomide, dexamethasone) and, after a progression, the next line. No ``line``
  column: lines are derived by the rules.

The script checks its output by running the derivation and stops if a column differs.
Run from the repository root::

    python scripts/make_demo_labs.py            # writes labs.csv and therapy.csv
    python scripts/make_demo_labs.py --check    # regenerate and compare with the shipped files
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DEMO = Path(__file__).resolve().parents[1] / "src" / "mmrwe" / "data" / "demo"
SEED = 20250606
DPM = 30.4375
LEVEL = {"PD": 0, "SD": 1, "MR": 2, "PR": 3, "VGPR": 4, "CR": 5, "sCR": 6}
INDEX_AGENTS = "isatuximab;pomalidomide;dexamethasone"


def _iso(d: dt.date) -> str:
    return d.isoformat()


def _fmt(v: float) -> str:
    """Compact decimal text (what a lab export shows)."""
    s = f"{v:.4f}".rstrip("0").rstrip(".")
    return s if s not in ("-0", "") else "0"


class Patient:
    """Lab rows of one patient, in the units of its center."""

    def __init__(self, pid: str, center: str, start: dt.date) -> None:
        self.pid, self.center, self.start = pid, center, start
        self.rows: list[tuple[str, str, str, str, str]] = []

    def add(self, day: int, test: str, value: float | str, unit: str) -> None:
        d = _iso(self.start + dt.timedelta(days=int(day)))
        v = value if isinstance(value, str) else _fmt(value)
        self.rows.append((self.pid, d, test, v, unit))

    def serum(self, day: int, g_dl: float) -> None:
        if self.center in ("Center B", "Center E"):
            self.add(day, "serum_m_protein", round(g_dl * 10, 1), "g/L")
        else:
            self.add(day, "serum_m_protein", round(g_dl, 2), "g/dL")

    def urine(self, day: int, mg: float, in_grams: bool) -> None:
        if in_grams:
            self.add(day, "urine_m_protein", round(mg / 1000, 3), "g/24h")
        else:
            self.add(day, "urine_m_protein", round(mg), "mg/24h")

    def flc(self, day: int, kappa: float, lambda_: float) -> None:
        if self.center == "Center B":
            self.add(day, "flc_kappa", round(kappa * 10, 1), "mg/L")
            self.add(day, "flc_lambda", round(lambda_ * 10, 1), "mg/L")
        else:
            self.add(day, "flc_kappa", round(kappa, 2), "mg/dL")
            self.add(day, "flc_lambda", round(lambda_, 2), "mg/dL")

    def ife(self, day: int, serum: str, urine: str | None) -> None:
        self.add(day, "serum_ife", serum, "")
        if urine is not None:
            self.add(day, "urine_ife", urine, "")


def assessment_days(p_day: int | None, end: int, k_min: int, best: str) -> list[int]:
    """Assessment days before progression (or up to the end of follow-up)."""
    if p_day is None:
        days = list(range(28, end + 1, 28))
        if len(days) < k_min:  # short follow-up: evenly spaced
            days = [round((i + 1) * end / (k_min + 1)) for i in range(k_min)]
        return days
    if best == "PD":
        return []
    last = p_day - 7
    days = list(range(28, last + 1, 28))
    if len(days) < k_min:
        days = [round((i + 1) * p_day / (k_min + 1)) for i in range(k_min)]
    return days


def serum_course(best: str, b: float, k: int) -> list[float]:
    """Serum M (g/dL) at the k assessments before progression, reaching `best` twice."""
    if best in ("sCR", "CR"):
        return [0.4 * b, 0.05 * b] + [0.0] * (k - 2)
    frac = {"VGPR": 0.07, "PR": 0.4, "MR": 0.65, "SD": 0.9}[best]
    wiggle = [0.0, -0.01, 0.01, 0.0, -0.005, 0.005]
    out = [(frac + wiggle[i % len(wiggle)]) * b for i in range(k)]
    if best == "VGPR" and k:
        out[0] = 0.4 * b  # first a PR reading, then VGPR from the second on
    return out


def build(patients: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(SEED)
    lab_rows: list[tuple[str, ...]] = []
    th_rows: list[dict[str, Any]] = []
    center_pos: dict[str, int] = {}
    for _, r in patients.iterrows():
        pid, center, best = r.patient_id, r.center, r.best_response
        start = dt.date.fromisoformat(r.start_date)
        lfu = (dt.date.fromisoformat(r.last_followup_date) - start).days
        death = (dt.date.fromisoformat(r.death_date) - start).days if r.death_date else None
        p_day = (
            (dt.date.fromisoformat(r.progression_date) - start).days if r.progression_date else None
        )
        k_pos = center_pos.get(center, 0)
        center_pos[center] = k_pos + 1
        pt = Patient(pid, center, start)

        # route by center (Center D's MR patient on serum: MR is undefined on the FLC route)
        route = {"Center A": "serum", "Center B": "serum", "Center C": "urine",
                 "Center D": "flc", "Center E": "serum"}[center]  # fmt: skip
        if route == "flc" and best == "MR":
            route = "serum"
        both = center == "Center E" and best == "PR"  # serum and urine both measurable
        grams = k_pos % 2 == 1

        # baseline (1-10 days before day 0)
        b0 = -int(rng.integers(1, 11))
        b_serum = float(np.round(rng.uniform(1.6, 4.5), 2))
        b_urine = float(np.round(rng.uniform(700, 2400)))
        b_kappa = float(np.round(rng.uniform(40, 150), 1))
        if route == "serum":
            pt.serum(b0, b_serum)
            if both:
                pt.urine(b0, 600, grams)
            elif center == "Center E":
                pt.urine(b0, 80, True)
        elif route == "urine":
            pt.serum(b0, 0.0)
            pt.urine(b0, b_urine, grams)
        else:
            pt.serum(b0, 0.2)
            pt.urine(b0, 40, False)
            pt.flc(b0, b_kappa, 1.0)
        hgb = float(r.hgb)
        if center == "Center B":
            pt.add(b0, "hemoglobin", round(hgb * 10), "g/L")
        elif center == "Center E":
            pt.add(b0, "hemoglobin", round(hgb * 0.6206, 2), "mmol/L")
            pt.add(b0, "calcium", round(float(rng.uniform(8.8, 10.4)), 1), "mg/dL")
        else:
            pt.add(b0, "hemoglobin", hgb, "g/dL")
        if center == "Center C":
            pt.add(b0, "calcium", round(float(rng.uniform(2.2, 2.6)), 2), "mmol/L")
        if center == "Center D":
            pt.add(b0, "creatinine", round(float(rng.uniform(60, 130))), "umol/L")

        # next line after the index regimen
        next_start = None
        if p_day is not None:
            confirm = p_day + 14
            next_start = confirm + int(rng.integers(3, 15))
            if next_start > lfu:
                next_start = None
        if pid == "SYN-005":
            next_start = 35
        end = lfu if next_start is None else min(lfu, next_start - 1)

        k_min = {"sCR": 4, "CR": 4, "VGPR": 3, "PR": 2, "MR": 2, "SD": 1, "PD": 0}[best]
        days = assessment_days(p_day, end, k_min, best)
        if pid == "SYN-005":
            days = []
        k = len(days)

        # trajectory up to progression
        nadir = {"serum": b_serum, "urine": b_urine, "flc": b_kappa - 1.0}[route]
        marrow_done = False
        for i, d in enumerate(days):
            if route == "serum":
                v = serum_course(best, b_serum, k)[i]
                pt.serum(d, v)
                nadir = min(nadir, round(v, 2))
                if both:
                    pt.urine(d, 150, grams)
            elif route == "urine":
                if best in ("sCR", "CR"):
                    u = [0.3 * b_urine, 50.0][i] if i < 2 else 0.0
                else:
                    u = {"VGPR": 60.0 if i else 0.3 * b_urine, "PR": 150.0,
                         "MR": 0.4 * b_urine, "SD": 0.85 * b_urine}[best]  # fmt: skip
                pt.urine(d, u, grams)
                nadir = min(nadir, round(u))
            else:
                d0 = b_kappa - 1.0
                if best in ("sCR", "CR"):
                    kap = [1 + 0.4 * d0, 1 + 0.05 * d0][i] if i < 2 else 1.2
                else:
                    kap = 1 + {"VGPR": 0.08 if i else 0.4, "PR": 0.4, "SD": 0.8}[best] * d0
                pt.flc(d, kap, 1.0)
                nadir = min(nadir, round(kap, 2) - 1.0)
            cr_visit = best in ("sCR", "CR") and i >= 2
            if cr_visit:
                pt.ife(d, "negative", "negative")
                if route == "serum":
                    pt.flc(d, 1.2, 1.0)
                if route == "urine":
                    pt.serum(d, 0.0)
                    pt.flc(d, 1.1, 1.0)
                if not marrow_done and i + 1 < k:
                    md = (d + days[i + 1]) // 2
                    pt.add(md, "bm_plasma_cells", 2, "%")
                    if best == "sCR":
                        pt.add(md, "bm_clonal_plasma_cells", "negative", "")
                    elif k_pos % 2 == 0:
                        pt.add(md, "bm_clonal_plasma_cells", "positive", "")
                    marrow_done = True
            elif best == "VGPR" and i >= 1:
                pt.ife(d, "positive", None)

        # progression: PD reading on the recorded date, confirmed 14 days later
        if p_day is not None:
            for j, d in enumerate((p_day, p_day + 14)):
                bump = 0.1 * j
                if route == "serum":
                    rise = 1.3 if nadir >= 5 else max(0.5, 0.25 * nadir) + 0.3
                    pt.serum(d, nadir + rise + bump)
                    if best in ("sCR", "CR"):
                        pt.ife(d, "positive", None)
                elif route == "urine":
                    pt.urine(d, nadir + max(200, 0.25 * nadir) + 60 + 30 * j, grams)
                else:
                    dd = nadir + max(10, 0.25 * nadir) + 3 + j
                    pt.flc(d, 1.0 + dd, 1.0)
        if pid == "SYN-005":  # one PD reading, then a new line before confirmation
            pt.serum(28, b_serum + max(0.5, 0.25 * b_serum) + 0.4)
        lab_rows.extend(pt.rows)

        th_rows.extend(_therapy(r, start, rng, p_day, next_start, death, lfu))

    labs = pd.DataFrame(lab_rows, columns=["patient_id", "date", "test", "value", "unit"])
    labs = labs.sort_values(["patient_id", "date", "test"], kind="stable", ignore_index=True)
    therapy = pd.DataFrame(th_rows)
    return labs, therapy


# Regimen pools for the lines before day 0 (generic names; each line follows a progression,
# so it is a new line whatever its agents).
POOL_ANY = [
    ("Kd", "carfilzomib;dexamethasone"),
    ("PCd", "pomalidomide;cyclophosphamide;dexamethasone"),
    ("IRd", "ixazomib;lenalidomide;dexamethasone"),
    ("EPd", "elotuzumab;pomalidomide;dexamethasone"),
    ("SVd", "selinexor;bortezomib;dexamethasone"),
    ("Benda-d", "bendamustine;dexamethasone"),
    ("Belamaf", "belantamab_mafodotin"),
    ("Ven-d", "venetoclax;dexamethasone"),
]
POOL_NO_PI = [
    ("PCd", "pomalidomide;cyclophosphamide;dexamethasone"),
    ("EPd", "elotuzumab;pomalidomide;dexamethasone"),
    ("Sd", "selinexor;dexamethasone"),
    ("Benda-d", "bendamustine;dexamethasone"),
    ("Belamaf", "belantamab_mafodotin"),
    ("Ven-d", "venetoclax;dexamethasone"),
    ("MP", "melphalan;prednisone"),
    ("Cy-d", "cyclophosphamide;dexamethasone"),
]
NEXT_LINES = [
    ("Tec", "teclistamab"), ("KCd", "carfilzomib;cyclophosphamide;dexamethasone"),
    ("Sd", "selinexor;dexamethasone"), ("Talq", "talquetamab"),
]  # fmt: skip


def _therapy(
    r: pd.Series,
    start: dt.date,
    rng: np.random.Generator,
    p_day: int | None,
    next_start: int | None,
    death: int | None,
    lfu: int,
) -> list[dict[str, Any]]:
    n = int(r.prior_lines)
    tcr = r.tcr == "yes"
    gap = round(float(r.months_from_dara_refractory) * DPM)  # anti-CD38 PD before day 0
    rows: list[dict[str, Any]] = []

    def add(regimen: str, agents: str, s: int, e: int | None, reason: str | None,
            prog: int | None, phase: str | None = None) -> None:  # fmt: skip
        rows.append({
            "patient_id": r.patient_id, "regimen": regimen, "agents": agents,
            "start_date": _iso(start + dt.timedelta(days=s)),
            "end_date": None if e is None else _iso(start + dt.timedelta(days=e)),
            "reason_end": reason,
            "progression_date": None if prog is None else _iso(start + dt.timedelta(days=prog)),
            "planned_phase": phase,
        })  # fmt: skip

    # which line is the anti-CD38 line: lines after it must fit in `gap` days
    after = 0 if n == 1 else min(n - 2, max(0, (gap - 20) // 75))
    j = n - after  # 1-based position of the anti-CD38 line
    asct = tcr and j >= 3 and int(rng.integers(0, 2)) == 1
    pool = list(POOL_ANY if tcr else POOL_NO_PI)
    rng.shuffle(pool)
    if tcr:
        dara = ("DVd", "daratumumab;bortezomib;dexamethasone") if asct else (
            "DPd", "daratumumab;pomalidomide;dexamethasone")  # fmt: skip
    else:
        dara = ("DRd", "daratumumab;lenalidomide;dexamethasone")

    # anti-CD38 line: progression on therapy `gap` days before day 0
    r_day = -gap
    dara_start = r_day - int(rng.integers(120, 300))
    # lines after the anti-CD38 line, evenly in (r_day, -3]
    seg = []
    if after:
        step = (gap - 3) / after
        seg = [(round(r_day + k * step) + 5, round(r_day + (k + 1) * step)) for k in range(after)]
    # lines before it, backwards from dara_start
    before: list[tuple[int, int]] = []
    t = dara_start - 10
    for q in range(j - 1):
        # line 1 with induction, ASCT and maintenance needs room for the three phases
        dur = int(rng.integers(150, 320)) + (300 if asct and q == j - 2 else 0)
        before.append((t - dur, t))
        t = t - dur - 10
    before.reverse()

    pi = 0
    for k, (s, e) in enumerate(before):
        if k == 0:  # line 1
            if not tcr:  # fixed-duration VRd; progression 95 days after the last dose
                add("VRd", "bortezomib;lenalidomide;dexamethasone", s, e - 100, "completed",
                    e - 5)  # fmt: skip
                continue
            if asct:  # planned induction, ASCT, maintenance: one line
                add("VRd", "bortezomib;lenalidomide;dexamethasone", s, s + 90, "completed",
                    None, "induction")  # fmt: skip
                add("Mel200-ASCT", "melphalan;asct", s + 110, s + 111, "completed", None, "asct")
                add("R maintenance", "lenalidomide", s + 160, e, "progression", e - 3,
                    "maintenance")  # fmt: skip
                continue
            add("VRd", "bortezomib;lenalidomide;dexamethasone", s, e, "progression", e - 3)
            continue
        reg = pool[pi % len(pool)]
        pi += 1
        add(reg[0], reg[1], s, e, "progression", e - 3)
    add(dara[0], dara[1], dara_start, r_day + 4, "progression", r_day)
    for s, e in seg:
        reg = pool[pi % len(pool)]
        pi += 1
        add(reg[0], reg[1], s, e + 2, "progression", e)

    # the regimen under study and what came after it
    if r.patient_id == "SYN-005":
        add("IsaPd", INDEX_AGENTS, 0, 30, "other", None)
    elif p_day is not None:
        add("IsaPd", INDEX_AGENTS, 0, (next_start - 3) if next_start else p_day + 10,
            "progression", p_day)  # fmt: skip
    elif death is not None:
        add("IsaPd", INDEX_AGENTS, 0, max(1, death - 10), "other", None)
    else:
        add("IsaPd", INDEX_AGENTS, 0, None, None, None)
    if next_start is not None:
        nl = NEXT_LINES[int(rng.integers(0, len(NEXT_LINES)))]
        add(nl[0], nl[1], next_start, None, None, None)
    return rows


def verify(patients_path: Path, labs_path: Path, therapy_path: Path) -> list[str]:
    """Derive from the files and list every difference from the patient file."""
    from mmrwe.derive.response import ResponseParams, derive_response
    from mmrwe.io import read_table

    src = pd.read_csv(patients_path, dtype=str, keep_default_na=False)
    pts = src.copy()
    for c in ("start_date", "progression_date", "death_date", "last_followup_date"):
        pts[c] = pd.to_datetime(pts[c].replace("", None))
    res = derive_response(pts, read_table(labs_path), read_table(therapy_path),
                          ResponseParams())  # fmt: skip
    d = res.per_patient
    problems = [f"{i.code} {i.severity}: {i.what} ({i.where})" for i in res.issues
                if i.severity == "error"]  # fmt: skip
    for col in ("best_response", "tcr"):
        bad = d[col].to_numpy() != src[col].to_numpy()
        problems += [f"{p}: {col} {a} != {b}" for p, a, b in
                     zip(src.patient_id[bad], d[col][bad], src[col][bad], strict=True)]  # fmt: skip
    pl = d["prior_lines"].astype("float").to_numpy() != src["prior_lines"].astype(float).to_numpy()
    problems += [f"{p}: prior_lines differs" for p in src.patient_id[pl]]
    got = d["progression_date"].dt.strftime("%Y-%m-%d").fillna("").to_numpy()
    bad = got != src["progression_date"].to_numpy()
    problems += [f"{p}: progression_date {a!r} != {b!r}" for p, a, b in
                 zip(src.patient_id[bad], got[bad], src.progression_date[bad], strict=True)]  # fmt: skip
    m = d["months_from_dara_refractory"].to_numpy()
    far = np.abs(m - src["months_from_dara_refractory"].astype(float).to_numpy()) > 0.05
    problems += [f"{p}: months_from_dara_refractory {a:.3f}" for p, a in
                 zip(src.patient_id[far], m[far], strict=True)]  # fmt: skip
    return problems


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the shipped files")
    args = ap.parse_args()
    patients = pd.read_csv(DEMO / "patients.csv", dtype=str, keep_default_na=False)
    labs, therapy = build(patients)
    texts = {
        "labs.csv": labs.to_csv(index=False, lineterminator="\n"),
        "therapy.csv": therapy.to_csv(index=False, lineterminator="\n"),
    }
    if args.check:
        same = all((DEMO / n).read_text() == t for n, t in texts.items())
        print("shipped files are identical" if same else "shipped files DIFFER")
        sys.exit(0 if same else 1)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for name, text in texts.items():
            (Path(tmp) / name).write_text(text)
        problems = verify(DEMO / "patients.csv", Path(tmp) / "labs.csv",
                          Path(tmp) / "therapy.csv")  # fmt: skip
    if problems:
        print("the derivation does not reproduce the patient file:", *problems, sep="\n  ")
        sys.exit(1)
    for name, text in texts.items():
        (DEMO / name).write_text(text)
    print(f"wrote {DEMO / 'labs.csv'} ({len(labs)} rows) and {DEMO / 'therapy.csv'} "
          f"({len(therapy)} rows); the derivation reproduces best_response, tcr, prior_lines "
          "and progression_date")  # fmt: skip


if __name__ == "__main__":
    main()
