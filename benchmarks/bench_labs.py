"""Benchmark: IMWG response/progression, lines and refractoriness from 8 million lab rows.

Workload (issue 6): 100,000 patients x 20 visits x 4 tests (serum M-protein, urine
M-protein, kappa and lambda free light chains) = 8,000,000 lab rows, plus 4 therapy rows
per patient; units mixed (a fifth of the patients in g/L and mg/L, some urine in g/24h),
routes mixed (serum, urine, FLC). Rows are shuffled, so every implementation sorts.

Compared, each in a fresh process (so peak memory is its own):

* ``duckdb``: :func:`mmrwe.derive.response.derive_response`, default engine (harmonize,
  therapy, IMWG in DuckDB SQL window functions, lazy audit);
* ``pandas``: the same entry point with ``engine="pandas"``;
* ``apply``: a straightforward ``groupby("pid").apply`` with a Python loop over each
  patient's visits (``naive_patient`` below), on the harmonized rows, run on a subset and
  projected linearly (the time per patient is constant: each is processed on its own).

The per-patient calls of the three are checked for identity (on the subset for ``apply``).
Writing the audit (``response_audit.jsonl``) is timed separately.

Usage (repository root)::

    python benchmarks/bench_labs.py                    # full run, writes benchmarks/results/labs.json
    python benchmarks/bench_labs.py --patients 2000    # quick run
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import platform
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "labs.json"
WORK = ROOT / "benchmarks" / "_work"

# --------------------------------------------------------------------------------------
# The straightforward implementation: one patient at a time, one visit at a time.
# Written directly from docs/clinical.md sections 1-2, independently of the set-based engines,
# so it doubles as a test oracle (tests/properties/test_imwg_properties.py).
# --------------------------------------------------------------------------------------

PD_, SD_, MR_, PR_, VGPR_, CR_, SCR_ = range(7)
NE_ = -1
EPS = 1e-9
SM, UM, KAP, LAM, SIFE, UIFE, BM, SPD, NEWL, CLON = range(10)


def _ge(x: float, t: float) -> bool:
    return x >= t - EPS


def _fmin(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def naive_patient(
    days: np.ndarray,
    tests: np.ndarray,
    values: np.ndarray,
    start: float,
    lfu: float,
    death: float | None,
    next_start: float | None,
    params: Any,
) -> dict[str, Any]:
    """IMWG calls of one patient, the plain way. Days are numbers (days since 1970)."""
    wide: dict[float, dict[int, float]] = {}
    for d, t, v in zip(days.tolist(), tests.tolist(), values.tolist(), strict=True):
        if t > 9:
            continue
        row = wide.setdefault(d, {})
        row[t] = max(row.get(t, -math.inf), v)
    dates = sorted(wide)

    # baseline: last value in [start - W, start]
    W = params.baseline_window_days
    base: dict[int, float | None] = dict.fromkeys(range(10))
    b_flc_day = None
    for d in dates:
        if start - W <= d <= start:
            for t, v in wide[d].items():
                base[t] = v
            if KAP in wide[d] and LAM in wide[d]:
                b_flc_day = d
    b_kap = wide[b_flc_day][KAP] if b_flc_day is not None else None
    b_lam = wide[b_flc_day][LAM] if b_flc_day is not None else None
    b_sm, b_um, b_bm, b_spd = base[SM], base[UM], base[BM], base[SPD]

    is_s = b_sm is not None and _ge(b_sm, params.measurable_serum_g_dl)
    is_u = b_um is not None and _ge(b_um, 200.0)
    route = "none"
    kappa_involved = None
    b_d = None
    if is_s or is_u:
        route = "su"
    elif b_kap is not None and b_lam is not None:
        k_hi = b_kap > 1.65 * b_lam + EPS
        k_lo = b_kap < 0.26 * b_lam - EPS
        inv = b_kap if k_hi else b_lam
        if (k_hi or k_lo) and _ge(inv, 10.0):
            route = "flc"
            kappa_involved = k_hi
            b_d = (b_kap - b_lam) if k_hi else (b_lam - b_kap)
    if route == "none" and b_bm is not None and _ge(b_bm, 30.0):
        route = "marrow"
    if route == "none" and b_spd is not None and b_spd > 0:
        route = "plasmacytoma"

    end_day = lfu if next_start is None else min(lfu, next_start - 1)
    records = []
    bm_cf = spd_cf = clon_cf = None
    run: dict[str, float | None] = {"sm": None, "um": None, "d": None, "bm": None, "spd": None}
    for day in dates:
        if not (start < day <= end_day):
            continue
        v = wide[day]
        sm, um, kap, lam = v.get(SM), v.get(UM), v.get(KAP), v.get(LAM)
        bm, spd = v.get(BM), v.get(SPD)
        if bm is not None:
            bm_cf = bm
        if spd is not None:
            spd_cf = spd
        if v.get(CLON) is not None:
            clon_cf = v[CLON]
        d = None
        if route == "flc" and kap is not None and lam is not None:
            d = (kap - lam) if kappa_involved else (lam - kap)
        for key, val in (("sm", sm), ("um", um), ("d", d), ("bm", bm), ("spd", spd)):
            if val is not None:
                run[key] = _fmin(run[key], val)
        nad_sm = _fmin(b_sm, run["sm"])
        nad_um = _fmin(b_um, run["um"])
        nad_d = _fmin(b_d, run["d"])
        nad_bm = _fmin(b_bm, run["bm"])
        nad_spd = _fmin(b_spd, run["spd"])

        # progression readings (docs/clinical.md section 2)
        pd_bio = False
        pd_now = False
        if is_s and sm is not None:
            rise = sm - nad_sm
            if _ge(nad_sm, 5.0):
                pd_bio |= _ge(rise, 1.0)
            else:
                pd_bio |= _ge(rise, 0.5) and _ge(rise, 0.25 * nad_sm)
        if is_u and um is not None:
            rise = um - nad_um
            pd_bio |= _ge(rise, 200.0) and _ge(rise, 0.25 * nad_um)
        if route == "flc" and d is not None:
            rise = d - nad_d
            pd_bio |= rise > 10.0 + EPS and _ge(rise, 0.25 * nad_d)
        if route == "marrow" and bm is not None:
            rise = bm - nad_bm
            pd_now |= _ge(rise, 10.0) and _ge(rise, 0.25 * nad_bm)
        if v.get(NEWL) == 1:
            pd_now = True
        if spd is not None and nad_spd is not None:
            rise = spd - nad_spd
            pd_now |= rise > EPS and _ge(rise, 0.5 * nad_spd)

        if route == "su":
            is_assess = (is_s and sm is not None) or (is_u and um is not None)
        elif route == "flc":
            is_assess = d is not None
        elif route == "marrow":
            is_assess = bm is not None
        elif route == "plasmacytoma":
            is_assess = spd is not None
        else:
            is_assess = False

        # levels (docs/clinical.md section 1.2): lowest level every assessed parameter satisfies
        B = SCR_
        C = SCR_
        ratio_ok = (
            kap is not None and lam is not None
            and _ge(kap, 0.26 * lam) and kap <= 1.65 * lam + EPS
        )  # fmt: skip
        if route == "su":
            if is_s:
                if sm is None:
                    B = min(B, SD_)
                else:
                    r = (b_sm - sm) / b_sm
                    if not _ge(r, 0.25):
                        B = min(B, SD_)
                    elif not _ge(r, 0.5):
                        B = min(B, MR_)
                    elif sm > 0 and not _ge(r, 0.9):
                        B = min(B, PR_)
                    elif sm > 0:
                        B = min(B, VGPR_)
            if is_u:
                if um is None:
                    B = min(B, SD_)
                else:
                    r = (b_um - um) / b_um
                    if _ge(um, 200.0) and not _ge(r, 0.5):
                        B = min(B, SD_)
                    elif _ge(um, 200.0) and not _ge(r, 0.9):
                        B = min(B, MR_)
                    elif _ge(um, 100.0):
                        B = min(B, PR_)
                    elif um > 0:
                        B = min(B, VGPR_)
            if not is_s and sm is not None and sm > 0:
                B = min(B, VGPR_)
            if not is_u and um is not None:
                if _ge(um, 100.0):
                    B = min(B, PR_)
                elif um > 0:
                    B = min(B, VGPR_)
            if kap is None or lam is None or not ratio_ok:
                B = min(B, CR_)  # sCR needs a normal FLC ratio
        if route == "flc":
            if sm is not None and sm > 0:
                B = min(B, VGPR_)
            if um is not None and um > 0:
                B = min(B, VGPR_)
            if d is not None:
                r = (b_d - d) / b_d
                if not _ge(r, 0.5):
                    B = min(B, SD_)
                elif not _ge(r, 0.9):
                    B = min(B, PR_)
                elif not ratio_ok:
                    B = min(B, VGPR_)
        if route in ("su", "flc"):
            if v.get(SIFE) != 0:  # missing or positive
                B = min(B, VGPR_)
            if v.get(UIFE) != 0:
                B = min(B, VGPR_)
            if bm_cf is None or _ge(bm_cf, 5.0):
                C = min(C, VGPR_)
            if b_spd is not None and b_spd > 0:
                if spd_cf is None:
                    C = min(C, SD_)
                else:
                    r = (b_spd - spd_cf) / b_spd
                    if not _ge(r, 0.25):
                        C = min(C, SD_)
                    elif not _ge(r, 0.5):
                        C = min(C, MR_)
                    elif spd_cf > 0:
                        C = min(C, VGPR_)
            if clon_cf == 1 or (clon_cf is None and params.scr_without_clonality == "CR"):
                C = min(C, CR_)
        if route == "marrow" and bm is not None:
            B = min(B, SD_ if not _ge((b_bm - bm) / b_bm, 0.5) else PR_)
        if route == "plasmacytoma" and spd is not None:
            r = (b_spd - spd) / b_spd
            B = min(B, SD_ if not _ge(r, 0.25) else MR_ if not _ge(r, 0.5) else PR_)
        if pd_bio or pd_now:
            B = PD_
        if is_assess or pd_now:
            records.append(
                {"day": day, "assess": is_assess, "B": B, "C": C, "L": min(B, C),
                 "pd_bio": pd_bio, "pd_now": pd_now}
            )  # fmt: skip

    # progression: confirmation by the next assessment, or death before any further one
    assess = [r for r in records if r["assess"]]
    death_confirms = death is not None and (next_start is None or death < next_start)
    events = [r["day"] for r in records if r["pd_now"]]
    unconf = None
    for i, r in enumerate(assess):
        if not r["pd_bio"]:
            continue
        nxt = assess[i + 1] if i + 1 < len(assess) else None
        if (nxt is not None and nxt["pd_bio"]) or (nxt is None and death_confirms):
            events.append(r["day"])
        elif nxt is None:
            unconf = r["day"]
    pd_day = min(events) if events else None
    if unconf is not None and pd_day is not None and unconf >= pd_day:
        unconf = None
    pd_eff = pd_day
    if params.unconfirmed_pd_is_event and unconf is not None:
        pd_eff = unconf if pd_day is None else min(pd_day, unconf)

    # best response: confirmed categories up to the progression
    confirm_route = route in ("su", "flc")
    best = None
    best_day = None
    first_resp = None
    for i, r in enumerate(assess):
        if pd_eff is not None and r["day"] > pd_eff:
            break
        if confirm_route:
            conf = SD_ if r["L"] >= SD_ else NE_
            nxt = assess[i + 1] if i + 1 < len(assess) else None
            if nxt is not None and (pd_eff is None or nxt["day"] <= pd_eff):
                conf = max(conf, min(r["B"], nxt["B"], nxt["C"]))
        else:
            conf = r["L"] if r["L"] >= SD_ else NE_
        if best is None or conf > best:
            best, best_day = conf, r["day"]
        if conf >= PR_ and first_resp is None:
            first_resp = r["day"]
    un_bor = False
    if best is not None and best >= SD_:
        bor, bor_day = best, best_day
    elif pd_eff is not None:
        bor, bor_day = PD_, pd_eff
    elif unconf is not None and params.unconfirmed_pd_bor == "PD":
        bor, bor_day, un_bor = PD_, unconf, True
    else:
        bor, bor_day = NE_, None
    return {
        "route": route,
        "bor": bor,
        "bor_day": bor_day,
        "first_resp_day": first_resp,
        "pd_day": pd_eff,
        "unconf_day": unconf,
        "bor_pd_unconfirmed": un_bor,
        "n_assess": len(assess),
    }


def naive_apply(labs: pd.DataFrame, pt: pd.DataFrame, params: Any) -> pd.DataFrame:
    """``groupby("pid").apply(naive_patient)`` over harmonized rows (pid, day, test, value)."""
    start = pt["start"].to_numpy()
    lfu = pt["lfu"].to_numpy()
    death = pt["death"].to_numpy()
    nxt = pt["next_start"].to_numpy()

    def one(g: pd.DataFrame) -> pd.Series:
        p = int(g.name)
        res = naive_patient(
            g["day"].to_numpy(), g["test"].to_numpy(), g["value"].to_numpy(),
            float(start[p]), float(lfu[p]),
            None if np.isnan(death[p]) else float(death[p]),
            None if np.isnan(nxt[p]) else float(nxt[p]), params,
        )  # fmt: skip
        return pd.Series(res)

    out = labs.groupby("pid")[["day", "test", "value"]].apply(one)
    full = pd.DataFrame(index=pd.RangeIndex(len(pt), name="pid")).join(out)
    none = full["bor"].isna()
    if none.any():  # patients without lab rows: no route, NE
        full.loc[none, ["route", "bor", "n_assess", "bor_pd_unconfirmed"]] = ["none", NE_, 0, False]
    return full.reset_index()


# --------------------------------------------------------------------------------------
# Synthetic workload
# --------------------------------------------------------------------------------------


def make_workload(n_pat: int, seed: int = 6) -> tuple[pd.DataFrame, Any, Any]:
    """Patients, lab SourceTable (object cells, as a reader returns) and therapy SourceTable."""
    from mmrwe.io.readers import SourceTable

    rng = np.random.default_rng(seed)
    n_vis = 20
    start = np.datetime64("2021-01-01") + rng.integers(0, 730, n_pat).astype("timedelta64[D]")
    died = rng.random(n_pat) < 0.3
    # visits: baseline (day -7..0), then every ~4 weeks
    offs = np.zeros((n_pat, n_vis), dtype=np.int64)
    offs[:, 0] = -rng.integers(0, 8, n_pat)
    offs[:, 1:] = np.cumsum(rng.integers(21, 35, (n_pat, n_vis - 1)), axis=1)
    # last follow-up on or after the last visit
    lfu = start + (offs[:, -1] + rng.integers(0, 60, n_pat)).astype("timedelta64[D]")
    ids = np.array([f"B{i:06d}" for i in range(n_pat)], dtype=object)
    center = np.array(["A", "B", "C", "D", "E"], dtype=object)[rng.integers(0, 5, n_pat)]
    patients = pd.DataFrame(
        {
            "patient_id": ids,
            "center": center,
            "start_date": start.astype("datetime64[ns]"),
            "death_date": np.where(died, lfu, np.datetime64("NaT")).astype("datetime64[ns]"),
            "last_followup_date": lfu.astype("datetime64[ns]"),
        }
    )
    route = rng.choice(3, n_pat, p=[0.7, 0.15, 0.15])  # serum, urine (light chain), FLC
    b_sm = np.where(route == 0, rng.uniform(1.0, 6.0, n_pat), rng.uniform(0.0, 0.4, n_pat))
    b_um = np.where(route == 1, rng.uniform(250, 3000, n_pat), rng.uniform(0, 150, n_pat))
    b_inv = np.where(route == 2, rng.uniform(20, 300, n_pat), rng.uniform(1, 4, n_pat))
    depth = rng.uniform(0.05, 1.0, n_pat)  # fraction left at the nadir
    t_nadir = rng.integers(3, 12, n_pat)
    regrow = rng.uniform(0, 0.25, n_pat)
    k = np.arange(n_vis)[None, :]
    # linear fall to the nadir, then linear regrowth, capped at 1.3 x baseline (plausible)
    decay = np.where(k <= t_nadir[:, None], 1 - (1 - depth[:, None]) * k / t_nadir[:, None],
                     depth[:, None] * (1 + regrow[:, None] * (k - t_nadir[:, None])))  # fmt: skip
    decay = np.minimum(decay, 1.3)
    noise = rng.normal(1, 0.04, (n_pat, n_vis, 4))
    sm = np.round(b_sm[:, None] * decay * noise[..., 0], 2)
    um = np.round(b_um[:, None] * decay * noise[..., 1], 0)
    kap = np.round(
        np.where(rng.random(n_pat) < 0.65, b_inv, 1.2)[:, None] * decay * noise[..., 2], 2
    )
    lam = np.round(np.full(n_pat, 1.5)[:, None] * noise[..., 3], 2)
    # units: a fifth of the patients reported in g/L and mg/L; a tenth of urine in g/24h
    gl = rng.random(n_pat) < 0.2
    g24 = rng.random(n_pat) < 0.1
    vals = np.stack(
        [np.where(gl[:, None], sm * 10, sm), np.where(g24[:, None], um / 1000, um),
         np.where(gl[:, None], kap * 10, kap), np.where(gl[:, None], lam * 10, lam)],
        axis=-1,
    )  # fmt: skip
    units = np.empty((n_pat, n_vis, 4), dtype=object)
    units[..., 0] = np.where(gl, "g/L", "g/dL")[:, None]
    units[..., 1] = np.where(g24, "g/24h", "mg/24h")[:, None]
    units[..., 2] = np.where(gl, "mg/L", "mg/dL")[:, None]
    units[..., 3] = units[..., 2]
    dates = start[:, None] + offs.astype("timedelta64[D]")
    uniq_dates, inv = np.unique(dates, return_inverse=True)
    date_text = np.array([str(d) for d in uniq_dates], dtype=object)[inv.reshape(dates.shape)]
    tests = np.array(["serum_m_protein", "urine_m_protein", "flc_kappa", "flc_lambda"],
                     dtype=object)  # fmt: skip
    n_rows = n_pat * n_vis * 4
    order = rng.permutation(n_rows)
    frame = pd.DataFrame(
        {
            "patient_id": np.repeat(ids, n_vis * 4)[order],
            "date": np.repeat(date_text.reshape(-1), 4)[order],
            "test": np.tile(tests, n_pat * n_vis)[order],
            "value": vals.reshape(-1).astype(object)[order],
            "unit": units.reshape(-1)[order],
        },
        dtype=object,
    )
    labs = SourceTable(pathlib.Path("labs.csv"), "csv", frame, tuple(range(2, n_rows + 2)), "")
    # therapy: 3 prior lines and the index regimen
    regs = [
        "bortezomib;lenalidomide;dexamethasone",
        "daratumumab;lenalidomide;dexamethasone",
        "carfilzomib;pomalidomide;dexamethasone",
        "isatuximab;pomalidomide;dexamethasone",
    ]
    t_start = np.stack([start - 900, start - 500, start - 200, start], axis=1)
    t_end = np.stack([start - 560, start - 230, start - 20], axis=1)
    pd_gap = rng.integers(-30, 90, (n_pat, 3))
    t_pd = t_end + pd_gap.astype("timedelta64[D]")
    rows = []
    for j in range(4):
        rows.append(
            pd.DataFrame(
                {
                    "patient_id": ids,
                    "agents": regs[j],
                    "start_date": t_start[:, j].astype(str).astype(object),
                    "end_date": t_end[:, j].astype(str).astype(object) if j < 3 else None,
                    "reason_end": "progression" if j < 3 else None,
                    "progression_date": t_pd[:, j].astype(str).astype(object) if j < 3 else None,
                }
            )
        )
    tf = pd.concat(rows, ignore_index=True).astype(object)
    tf = tf.where(tf.notna(), None)
    therapy = SourceTable(pathlib.Path("therapy.csv"), "csv", tf, tuple(range(2, len(tf) + 2)), "")
    return patients, labs, therapy


# --------------------------------------------------------------------------------------
# Driver: one process per measurement
# --------------------------------------------------------------------------------------


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _child(kind: str, n_pat: int, subset: int) -> dict[str, Any]:
    from mmrwe.derive import imwg
    from mmrwe.derive.labs import harmonize_labs
    from mmrwe.derive.response import ResponseParams, derive_response

    params = ResponseParams()
    t0 = time.perf_counter()
    patients, labs, therapy = make_workload(n_pat)
    t_gen = time.perf_counter() - t0
    mem_input = _peak_mib()
    out: dict[str, Any] = {"kind": kind, "patients": n_pat, "lab_rows": labs.n_rows,
                           "therapy_rows": therapy.n_rows, "generate_s": t_gen,
                           "peak_mib_after_input": mem_input}  # fmt: skip
    WORK.mkdir(parents=True, exist_ok=True)
    if kind in ("duckdb", "pandas"):
        t0 = time.perf_counter()
        r = derive_response(patients, labs, therapy, params, engine=kind)
        out["derive_s"] = time.perf_counter() - t0
        out["stage_s"] = r.stage_seconds
        out["peak_mib"] = _peak_mib()
        t0 = time.perf_counter()
        path = WORK / f"audit_{kind}.jsonl"
        r.audit.write_jsonl(path)
        out["audit_write_s"] = time.perf_counter() - t0
        out["audit_mib"] = path.stat().st_size / 2**20
        out["peak_mib_with_audit"] = _peak_mib()
        path.unlink()
        r.per_patient.to_parquet(WORK / f"per_patient_{kind}.parquet")
        out["n_issues"] = len(r.issues)
        out["best_response_counts"] = r.per_patient["best_response"].value_counts().to_dict()
        out["n_progressed"] = int(r.per_patient["progression_date"].notna().sum())
    else:  # naive groupby-apply on the first `subset` patients, harmonized rows
        sub_ids = set(patients["patient_id"].iloc[:subset])
        keep = labs.frame["patient_id"].isin(sub_ids).to_numpy()
        from mmrwe.io.readers import SourceTable

        sub_labs = SourceTable(labs.path, labs.kind, labs.frame[keep].reset_index(drop=True),
                               tuple(np.asarray(labs.source_rows)[keep]), "")  # fmt: skip
        sub_pat = patients.iloc[:subset].reset_index(drop=True)
        t0 = time.perf_counter()
        hl = harmonize_labs(sub_labs, sub_pat)
        t_h = time.perf_counter() - t0
        # same window as the engines: next line start from the therapy derivation
        from mmrwe.derive import therapy as th

        sub_th_keep = therapy.frame["patient_id"].isin(sub_ids).to_numpy()
        sub_th = SourceTable(therapy.path, therapy.kind,
                             therapy.frame[sub_th_keep].reset_index(drop=True),
                             tuple(np.asarray(therapy.source_rows)[sub_th_keep]), "")  # fmt: skip
        day0 = sub_pat["start_date"].to_numpy(dtype="datetime64[D]").astype(float)
        tt = th.derive_therapy(th.harmonize_therapy(sub_th, sub_pat, params), day0, params,
                               engine="pandas")  # fmt: skip
        pt = pd.DataFrame({
            "start": day0,
            "lfu": sub_pat["last_followup_date"].to_numpy(dtype="datetime64[D]").astype(float),
            "death": pd.to_datetime(sub_pat["death_date"]).to_numpy(dtype="datetime64[D]")
            .astype("float64"),
            "next_start": tt.patients["next_start"].to_numpy(),
        })  # fmt: skip
        pt.loc[sub_pat["death_date"].isna().to_numpy(), "death"] = np.nan
        t0 = time.perf_counter()
        res = naive_apply(hl.rows, pt, params)
        t_apply = time.perf_counter() - t0
        out.update(subset=subset, harmonize_subset_s=t_h, apply_subset_s=t_apply,
                   peak_mib=_peak_mib())  # fmt: skip
        # identity with the engine on the same subset
        eng = imwg.derive_imwg(hl.rows, pt, params, engine="duckdb").patients
        route_names = {0: "none", 1: "su", 2: "flc", 3: "marrow", 4: "plasmacytoma"}
        same = (
            (res["bor"].astype(int).to_numpy() == eng["bor"].to_numpy()).all()
            and (res["route"].to_numpy() == eng["route"].map(route_names).to_numpy()).all()
            and _same_days(res["pd_day"], eng["pd_day"])
            and _same_days(res["bor_day"], eng["bor_day"])
            and _same_days(res["first_resp_day"], eng["first_resp_day"])
            and _same_days(res["unconf_day"], eng["unconf_day"])
        )
        out["identical_to_engine_on_subset"] = bool(same)
    return out


def _same_days(a: pd.Series, b: pd.Series) -> bool:
    x = pd.to_numeric(a, errors="coerce").to_numpy(dtype=float)
    y = b.to_numpy(dtype=float)
    return bool(
        np.array_equal(np.isnan(x), np.isnan(y)) and np.all(x[~np.isnan(x)] == y[~np.isnan(y)])
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=100_000)
    ap.add_argument("--subset", type=int, default=10_000, help="patients for the apply version")
    ap.add_argument("--child", choices=["duckdb", "pandas", "apply"])
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.patients, args.subset)))
        return
    runs = {}
    load_before = os.getloadavg()
    for kind in ("duckdb", "pandas", "apply"):
        cmd = [sys.executable, __file__, "--child", kind, "--patients", str(args.patients),
               "--subset", str(args.subset)]  # fmt: skip
        res = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
        runs[kind] = json.loads(res.stdout.strip().splitlines()[-1])
        print(kind, json.dumps(runs[kind]), flush=True)
    a = pd.read_parquet(WORK / "per_patient_duckdb.parquet")
    b = pd.read_parquet(WORK / "per_patient_pandas.parquet")
    identical = a.equals(b)
    ap_ = runs["apply"]
    scale = args.patients / ap_["subset"]
    projected_apply = (ap_["harmonize_subset_s"] + ap_["apply_subset_s"]) * scale
    projected_rules = ap_["apply_subset_s"] * scale
    summary = {
        "benchmark": "IMWG response/progression, lines and refractoriness from long lab rows",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            # other jobs share the 2 cores: the load average says how much
            "load_average_1_5_15_min_before": list(load_before),
            "load_average_1_5_15_min_after": list(os.getloadavg()),
        },
        "versions": _versions(),
        "workload": {
            "patients": args.patients,
            "visits": 20,
            "tests_per_visit": 4,
            "lab_rows": runs["duckdb"]["lab_rows"],
            "therapy_rows": runs["duckdb"]["therapy_rows"],
        },
        "targets": {"seconds": 60, "peak_gib": 4},
        "duckdb": runs["duckdb"],
        "pandas": runs["pandas"],
        "apply": ap_
        | {
            "projected_s_for_all_patients": projected_apply,
            "projected_rules_only_s": projected_rules,
            "projection": "linear in patients: (harmonize + apply) x patients / subset",
        },
        "per_patient_identical_duckdb_vs_pandas": bool(identical),
        "ratio_apply_projected_over_duckdb": projected_apply / runs["duckdb"]["derive_s"],
        "ratio_apply_projected_over_pandas": projected_apply / runs["pandas"]["derive_s"],
        # like for like: the IMWG rules on the same harmonized rows (the engines' imwg stage
        # vs the apply loop), without the shared harmonization
        "ratio_rules_only_apply_over_duckdb": projected_rules / runs["duckdb"]["stage_s"]["imwg"],
        "ratio_rules_only_apply_over_pandas": projected_rules / runs["pandas"]["stage_s"]["imwg"],
        "meets_targets": bool(
            runs["duckdb"]["derive_s"] < 60 and runs["duckdb"]["peak_mib"] < 4096
        ),
        "notes": [
            "derive_s = derive_response() on an in-memory SourceTable (object cells, as "
            "mmrwe.io.read_table returns): harmonization, therapy, IMWG, per-patient table, "
            "issues; the audit is formatted lazily and its writing is timed in audit_write_s",
            "peak_mib = maximum resident set size of the measuring process (including the "
            "synthetic input it generated)",
            "apply = groupby('pid').apply with a Python loop over visits, IMWG only (the "
            "therapy derivation and the audit are not included), run on a subset and projected",
        ],
    }
    print(json.dumps(summary, indent=2))
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
        print(f"wrote {RESULTS}")


def _versions() -> dict[str, str]:
    import duckdb

    return {"pandas": pd.__version__, "numpy": np.__version__, "duckdb": duckdb.__version__}


if __name__ == "__main__":
    main()
