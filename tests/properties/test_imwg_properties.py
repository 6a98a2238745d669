"""Properties of the response derivation on random histories.

* the DuckDB and pandas engines give identical per-patient calls and per-assessment tables,
  and both equal the straightforward per-visit implementation (benchmarks/bench_labs.py);
* the order of the lab rows does not change any call;
* the unit a value is written in (g/L or g/dL, mg/L or mg/dL, g/24h or mg/24h) does not
  change any call.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import pathlib
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmrwe.derive.imwg import ResponseParams, derive_imwg
from mmrwe.derive.labs import harmonize_labs
from mmrwe.derive.response import derive_response
from mmrwe.io.readers import SourceTable

ROOT = pathlib.Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_labs", ROOT / "benchmarks" / "bench_labs.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

DAY0 = dt.date(2022, 1, 1)
NAMES = ["serum_m_protein", "urine_m_protein", "flc_kappa", "flc_lambda", "serum_ife",
         "urine_ife", "bm_plasma_cells", "plasmacytoma_spd", "new_lesion",
         "bm_clonal_plasma_cells"]  # fmt: skip
CANON_UNIT = ["g/dL", "mg/24h", "mg/dL", "mg/dL", "", "", "%", "cm2", "", ""]

PARAMS = st.builds(
    ResponseParams,
    baseline_window_days=st.sampled_from([30, 60]),
    measurable_serum_g_dl=st.sampled_from([1.0, 0.5]),
    unconfirmed_pd_is_event=st.booleans(),
    unconfirmed_pd_bor=st.sampled_from(["PD", "NE"]),
    scr_without_clonality=st.sampled_from(["CR", "flc_ratio"]),
)


def histories(n_pat: int, seed: int) -> tuple[pd.DataFrame, list[list[Any]]]:
    """Patients and canonical lab rows [pid, day, test index, value] exercising every rule."""
    rng = np.random.default_rng(seed)
    start = 18993  # 2022-01-01
    rows: list[list[Any]] = []
    pats = []
    for p in range(n_pat):
        lfu = start + int(rng.integers(30, 500))
        died = rng.random() < 0.3
        pats.append({"patient_id": f"R{p:03d}", "center": "ABC"[p % 3],
                     "start_date": np.datetime64(start, "D"),
                     "death_date": np.datetime64(lfu, "D") if died else np.datetime64("NaT"),
                     "last_followup_date": np.datetime64(lfu, "D")})  # fmt: skip
        kind = int(rng.integers(0, 6))
        n_vis = int(rng.integers(0, 10))
        days = np.unique(np.r_[start - int(rng.integers(0, 40)),
                               start + np.cumsum(rng.integers(5, 50, n_vis))])  # fmt: skip
        days = days[days <= lfu]
        base = [
            float(rng.choice([0.0, 0.3, 0.5, 1.0, 2.0, 5.0, 6.0])) if kind in (0, 1)
            else float(rng.choice([0.0, 0.2])),
            float(rng.choice([0, 150, 200, 400, 1200])) if kind in (0, 2) else 90.0,
            float(rng.choice([1.0, 12.0, 80.0])) if kind == 3 else 1.5,
            float(rng.choice([1.0, 1.4])),
            float(rng.choice([10, 35, 60])) if kind == 4 else 20.0,
            float(rng.choice([0.0, 4.0, 10.0])) if kind == 5 else 2.0,
        ]  # fmt: skip
        level = 1.0
        for j, d in enumerate(days):
            level = level * float(rng.choice([0.3, 0.6, 0.9, 1.0, 1.3, 2.0])) if j else 1.0
            if rng.random() < 0.85:
                rows.append([p, d, 0, round(base[0] * level, 2)])
            if rng.random() < 0.6:
                rows.append([p, d, 1, float(round(base[1] * level))])
            if rng.random() < 0.6:
                rows.append([p, d, 2, round(base[2] * level, 2)])
                rows.append([p, d, 3, base[3]])
            for t in (4, 5):
                if rng.random() < 0.4:
                    rows.append([p, d, t, float(rng.random() < 0.5)])
            if rng.random() < 0.2:
                rows.append([p, d, 6, round(min(base[4] * level, 100.0), 1)])
            if (kind == 5 or rng.random() < 0.05) and rng.random() < 0.5:
                rows.append([p, d, 7, round(base[5] * level, 1)])
            if rng.random() < 0.03:
                rows.append([p, d, 8, 1.0])
            if rng.random() < 0.15:
                rows.append([p, d, 9, float(rng.random() < 0.5)])
    return pd.DataFrame(pats), rows


def to_source(rows: list[list[Any]], units: np.ndarray | None = None,
              order: np.ndarray | None = None) -> SourceTable:  # fmt: skip
    """Lab table as a reader returns it. ``units[i]`` = 1 writes row i in the other unit."""
    out = []
    for i, (p, d, t, v) in enumerate(rows):
        date = (DAY0 + dt.timedelta(days=int(d) - 18993)).isoformat()
        alt = units is not None and units[i] == 1
        if t in (4, 5, 9):
            text, unit = ("positive" if v == 1 else "negative"), ""
        elif t == 8:
            text, unit = "yes", ""
        elif t == 0 and alt:
            text, unit = f"{v * 10:.1f}", "g/L"
        elif t == 1 and alt:
            text, unit = f"{v / 1000:.3f}", "g/24h"
        elif t in (2, 3) and alt:
            text, unit = f"{v * 10:.1f}", "mg/L"
        else:
            text, unit = repr(v), CANON_UNIT[t]
        out.append([f"R{p:03d}", date, NAMES[t], text, unit or None])
    f = pd.DataFrame(out, columns=["patient_id", "date", "test", "value", "unit"], dtype=object)
    rownums = tuple(range(2, len(f) + 2))
    if order is not None:
        f = f.iloc[order].reset_index(drop=True)
        rownums = tuple(int(r) for r in np.asarray(rownums)[order])
    return SourceTable(pathlib.Path("labs.csv"), "csv", f, rownums, "")


def _pt(patients: pd.DataFrame) -> pd.DataFrame:
    def days(c: str) -> np.ndarray:
        return patients[c].to_numpy(dtype="datetime64[D]").astype("float64")

    death = days("death_date")
    death[pd.isna(patients["death_date"]).to_numpy()] = np.nan
    return pd.DataFrame({"start": days("start_date"), "lfu": days("last_followup_date"),
                         "death": death, "next_start": np.nan})  # fmt: skip


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), params=PARAMS)
def test_engines_equal_each_other_and_the_per_visit_implementation(seed, params):
    patients, rows = histories(50, seed)
    h = harmonize_labs(to_source(rows), patients)
    pt = _pt(patients)
    rng = np.random.default_rng(seed)
    pt["next_start"] = np.where(
        rng.random(len(pt)) < 0.3, pt["start"] + rng.integers(10, 300, len(pt)), np.nan
    )
    a = derive_imwg(h.rows, pt, params, engine="duckdb")
    b = derive_imwg(h.rows, pt, params, engine="pandas")
    pd.testing.assert_frame_equal(a.patients, b.patients)
    pd.testing.assert_frame_equal(a.assessments, b.assessments)
    naive = bench.naive_apply(h.rows, pt, params)
    routes = {0: "none", 1: "su", 2: "flc", 3: "marrow", 4: "plasmacytoma"}
    assert naive["route"].tolist() == a.patients["route"].map(routes).tolist()
    assert naive["bor"].astype(int).tolist() == a.patients["bor"].tolist()
    assert naive["n_assess"].astype(int).tolist() == a.patients["n_assess"].tolist()
    for c in ("bor_day", "first_resp_day", "pd_day", "unconf_day"):
        x = pd.to_numeric(naive[c]).to_numpy(dtype=float)
        np.testing.assert_array_equal(x, a.patients[c].to_numpy(), err_msg=c)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), data=st.data())
def test_row_order_does_not_change_any_call(seed, data):
    engine = "pandas"
    patients, rows = histories(40, seed)
    ref = derive_response(patients, to_source(rows), None, ResponseParams(), engine=engine)
    # a drawn seed, not a drawn permutation: drawing hundreds of elements is slow
    perm = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).permutation(len(rows))
    shuffled = derive_response(patients, to_source(rows, order=perm), None, ResponseParams(),
                               engine=engine)  # fmt: skip
    pd.testing.assert_frame_equal(ref.per_patient, shuffled.per_patient)
    pd.testing.assert_frame_equal(ref.assessments, shuffled.assessments)
    assert sorted(i.to_dict().__repr__() for i in ref.issues) == sorted(
        i.to_dict().__repr__() for i in shuffled.issues
    )


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), data=st.data())
def test_unit_choice_does_not_change_any_call(seed, data):
    engine = "pandas"
    patients, rows = histories(40, seed)
    ref = derive_response(patients, to_source(rows), None, ResponseParams(), engine=engine)
    share = data.draw(st.sampled_from([0.1, 0.5, 0.9]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    units = (rng.random(len(rows)) < share).astype(np.int64)
    other = derive_response(patients, to_source(rows, units=units), None, ResponseParams(),
                            engine=engine)  # fmt: skip
    pd.testing.assert_frame_equal(ref.per_patient, other.per_patient)
    pd.testing.assert_frame_equal(ref.assessments, other.assessments)


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_all_values_in_the_other_unit_and_shuffled(engine):
    # the hypothesis tests above use the pandas engine (fast); the engines are proven
    # identical, and this fixed example runs both
    patients, rows = histories(80, 7)
    a = derive_response(patients, to_source(rows), None, ResponseParams(), engine=engine)
    perm = np.random.default_rng(3).permutation(len(rows))
    b = derive_response(patients, to_source(rows, units=np.ones(len(rows), dtype=np.int64),
                                            order=perm), None, ResponseParams(), engine=engine)  # fmt: skip
    pd.testing.assert_frame_equal(a.per_patient, b.per_patient)
    pd.testing.assert_frame_equal(a.assessments, b.assessments)
    assert set(b.parameters["units_seen"]["serum_m_protein"]) == {"g/L"}
