"""Scaled path benchmark: a canonical Parquet cohort of 1e5..1e7 patients through DuckDB.

What is timed (one fresh process per cell, wall seconds and peak resident memory of that
process, DuckDB included): ``run_study`` of a spec with ``[data] engine = "duckdb"`` doing
validation (MMV001-MMV020 in SQL) + PFS/OS derivation + Kaplan-Meier with median CI,
landmarks and reverse-KM follow-up for both endpoints + a 2-group log-rank test (with its
per-group curves); the row-level sections (Table 1) and the per-patient listing
(derived_patients.csv) are switched off. The baseline is lifelines on the same Parquet file at 1e6 patients:
read the columns it needs with pyarrow (dates as datetime64), derive PFS/OS with numpy,
``KaplanMeierFitter`` + ``median_survival_times`` of its
CI for both endpoints, and ``logrank_test`` (no validation, no follow-up, no landmarks).

Two times per cell: ``wall_s``, the process's first run with the library imports
(mmrwe + pandas + Ibis + DuckDB + scipy.special; lifelines + pandas + scipy); and
``compute_s``, the median of three runs in that process after the imports (reading the
Parquet file included), the convention of ``../shared/docs/peer-benchmarks.md``.

Usage (from the repository root)::

    python benchmarks/bench_scale.py            # 1e5, 1e6, 1e7 + lifelines at 1e6 and 1e7
    python benchmarks/bench_scale.py --sizes 100000 --no-lifelines

Data go to ``benchmarks/_data/`` (git-ignored); results to ``benchmarks/results/scale.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "_data"
OUT = ROOT / "results" / "scale.json"

SPEC = """\
[study]
title = "Scaled path benchmark: synthetic canonical cohort of {n} patients"
time_unit = "months"
synthetic = true

[data]
patients = "{parquet}"
engine = "duckdb"

[variables.hgb]
unit = "g/dL"

[km]
landmarks = [12, 24]

[[logrank]]
endpoint = "PFS"
by = "sex"
"""


def make_cohort(n: int, path: Path, seed: int = 20250101) -> None:
    """Write a synthetic canonical patient table (one row group per 1e6 rows)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    base = np.datetime64("2015-01-01", "D")
    writer = None
    step = 1_000_000
    try:
        for a in range(0, n, step):
            m = min(step, n - a)
            start = base + rng.integers(0, 365 * 6, m).astype("timedelta64[D]")
            sex = np.where(rng.random(m) < 0.45, "F", "M")
            hgb = np.round(rng.normal(11.5, 1.6, m).clip(6.5, 16.5), 1)
            rate_pd = np.where(sex == "F", 1 / 330.0, 1 / 300.0)
            t_pd = rng.exponential(1 / rate_pd).astype(np.int64)
            t_death = rng.exponential(900.0, m).astype(np.int64)
            t_cens = rng.integers(30, 365 * 5, m)
            died = t_death <= t_cens
            lfu = np.where(died, t_death, t_cens)
            has_pd = t_pd <= lfu
            prog = np.where(has_pd, t_pd, 0)
            ids = np.char.add("P", np.char.zfill(np.arange(a + 1, a + m + 1).astype(str), 8))
            centers = np.array(["A", "B", "C", "D", "E"])[rng.integers(0, 5, m)]
            day = "timedelta64[D]"
            tbl = pa.table(
                {
                    "patient_id": pa.array(ids),
                    "center": pa.array(centers),
                    "start_date": pa.array(start),
                    "progression_date": pa.array(start + prog.astype(day), mask=~has_pd),
                    "death_date": pa.array(start + lfu.astype(day), mask=~died),
                    "last_followup_date": pa.array(start + lfu.astype(day)),
                    "sex": pa.array(sex),
                    "hgb": pa.array(hgb),
                }
            )
            if writer is None:
                writer = pq.ParquetWriter(path, tbl.schema)
            writer.write_table(tbl)
    finally:
        if writer is not None:
            writer.close()


REPEATS = 3
DATE_COLS = ("start_date", "progression_date", "death_date", "last_followup_date")


def _timed(t0: float, work: Any) -> tuple[dict[str, object], Any]:
    """REPEATS runs of ``work`` after the imports (started at ``t0``): wall and compute times."""
    t_imported = time.perf_counter()
    runs, wall, result = [], 0.0, None
    for _ in range(REPEATS):
        t = time.perf_counter()
        result = work()
        runs.append(time.perf_counter() - t)
        if len(runs) == 1:
            wall = time.perf_counter() - t0  # the first run, imports included
    timing: dict[str, object] = {
        "wall_s": wall,
        "import_s": t_imported - t0,
        "compute_runs_s": runs,
        "compute_s": sorted(runs)[len(runs) // 2],
    }
    return timing, result


def _cell_mmrwe(spec_path: str) -> dict[str, object]:
    import resource

    t0 = time.perf_counter()
    from mmrwe.cli.pipeline import run_study
    from mmrwe.spec import load_spec

    timing, run = _timed(t0, lambda: run_study(load_spec(spec_path)))
    r = (
        run.results.to_dict()
        if hasattr(run.results, "to_dict")
        else json.loads(run.results.to_json())
    )
    pfs = r["endpoints"]["PFS"]
    return {
        **timing,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "timings": {k: round(v, 3) for k, v in run.timings.items()},
        "pfs_median": [pfs["median"]["estimate"], pfs["median"]["lower"], pfs["median"]["upper"]],
        "os_median": [r["endpoints"]["OS"]["median"][k] for k in ("estimate", "lower", "upper")],
        "logrank_chisq": r["logrank"][0]["chisq"],
        "n": r["cohort"]["n"],
    }


def _lifelines_work(parquet: str) -> dict[str, object]:
    import pyarrow.parquet as pq
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import logrank_test
    from lifelines.utils import median_survival_times

    # Arrow DATE columns straight to datetime64[D]: pandas.read_parquet would give Python
    # date objects, whose conversion costs ~2.5 s at 1e6 rows (not lifelines' doing; the
    # benchmark before 2026-11-25 paid it and overstated mmrwe's lead)
    tb = pq.read_table(parquet, columns=[*DATE_COLS, "sex"])

    def col(c: str) -> np.ndarray:
        return tb.column(c).to_numpy(zero_copy_only=False).astype("datetime64[D]")

    start, prog, death, lfu = (col(c) for c in DATE_COLS)
    pfs_end = np.where(~np.isnat(prog), prog, np.where(~np.isnat(death), death, lfu))
    pfs_t = (pfs_end - start).astype(np.int64) / 30.4375
    pfs_e = ~np.isnat(prog) | ~np.isnat(death)
    os_t = ((np.where(~np.isnat(death), death, lfu)) - start).astype(np.int64) / 30.4375
    os_e = ~np.isnat(death)
    out: dict[str, object] = {}
    for name, t, e in (("pfs", pfs_t, pfs_e), ("os", os_t, os_e)):
        km = KaplanMeierFitter().fit(t, e)
        ci = median_survival_times(km.confidence_interval_)
        out[f"{name}_median"] = [float(km.median_survival_time_), *map(float, ci.iloc[0])]
    f = tb.column("sex").to_numpy(zero_copy_only=False) == "F"
    lr = logrank_test(pfs_t[f], pfs_t[~f], pfs_e[f], pfs_e[~f])
    out["logrank_chisq"] = float(lr.test_statistic)
    return out


def _cell_lifelines(parquet: str) -> dict[str, object]:
    import resource

    t0 = time.perf_counter()
    import pyarrow.parquet  # noqa: F401
    from lifelines import KaplanMeierFitter  # noqa: F401

    timing, out = _timed(t0, lambda: _lifelines_work(parquet))
    out.update(timing)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _run_cell(kind: str, arg: str) -> dict[str, object]:
    """One fresh process per cell, so timings and peak memory are its own."""
    env = dict(os.environ)
    # the timed workload is validation + endpoints + KM + log-rank at every size: the
    # row-level sections (Table 1 by default) are switched off so sizes compare
    env["MMRWE_ROW_SECTIONS_MAX_ROWS"] = "0"
    # nor is the per-patient listing (derived_patients.csv) collected into Python
    env["MMRWE_DERIVED_MAX_ROWS"] = "0"
    proc = subprocess.run(
        [sys.executable, __file__, "--cell", kind, arg],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} {arg} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000, 10_000_000])
    ap.add_argument("--no-lifelines", action="store_true")
    ap.add_argument("--lifelines-sizes", type=int, nargs="*", default=[1_000_000, 10_000_000])
    ap.add_argument("--cell", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.cell:
        kind, arg = args.cell
        res = _cell_mmrwe(arg) if kind == "mmrwe" else _cell_lifelines(arg)
        print(json.dumps(res))
        return
    DATA.mkdir(parents=True, exist_ok=True)
    records = []
    for n in args.sizes:
        pq_path = DATA / f"cohort_{n}.parquet"
        if not pq_path.exists():
            t0 = time.perf_counter()
            make_cohort(n, pq_path)
            print(f"generated {pq_path.name} in {time.perf_counter() - t0:.1f} s", flush=True)
        spec = DATA / f"study_{n}.toml"
        spec.write_text(SPEC.format(n=n, parquet=pq_path.name))
        load = os.getloadavg()[0]
        cell = _run_cell("mmrwe", str(spec))
        cell.update({"tool": "mmrwe-duckdb", "n_patients": n, "load_before": load})
        print(json.dumps(cell), flush=True)
        records.append(cell)
        if n in args.lifelines_sizes and not args.no_lifelines:
            load = os.getloadavg()[0]
            ll = _run_cell("lifelines", str(pq_path))
            ll.update({"tool": "lifelines", "n_patients": n, "load_before": load})
            print(json.dumps(ll), flush=True)
            records.append(ll)
    import duckdb
    import ibis

    meta = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "ibis": ibis.__version__,
        "what": (
            "one fresh process per cell: wall_s = its first run, imports included; "
            f"compute_s = median of {REPEATS} runs in that process (input read, validation "
            "and analyses included; library imports excluded, as in peer-benchmarks.md); "
            "peak RSS of the process"
        ),
    }
    try:
        import lifelines

        meta["lifelines"] = lifelines.__version__
    except ImportError:
        pass
    by = {(r["tool"], r["n_patients"]): r for r in records}
    ratios = {
        str(n): {
            k: by[("lifelines", n)][k] / by[("mmrwe-duckdb", n)][k] for k in ("wall_s", "compute_s")
        }
        for (tool, n) in by
        if tool == "lifelines" and ("mmrwe-duckdb", n) in by
    }
    meta["load_average_at_end"] = os.getloadavg()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps({"meta": meta, "records": records, "lifelines_over_mmrwe": ratios}, indent=1)
        + "\n"
    )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
