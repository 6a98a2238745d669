"""Whole-study benchmark: `mmrwe analyze` on the spec a registry user would write.

The study: a synthetic multicenter cohort (20 centers; age, sex, hemoglobin, ISS stage),
with Kaplan-Meier for PFS and OS (median with CI, landmarks at 12 and 24 months, reverse-KM
follow-up), a log-rank test of PFS by sex, a 3-term Cox model of OS (age, sex, hgb), the
cumulative incidence of progression and death without progression by sex (Gray's test), the
RMST of OS at 24 months by sex, Table 1, the center effects, and both reports (HTML and Word):
every section on, exactly what `mmrwe analyze` does for a user. (``[[finegray]]`` is left out:
at 1e6 patients it takes ~11 s plus ~6 s for its cause-specific Cox model, measured with the
machine loaded; see docs/architecture.md for its size limit.) Inputs as a registry exports them: CSV (text cells) and
Parquet (typed columns, DATE dates).

Each cell is a fresh process (`python -m mmrwe.cli.main analyze ...`, as the `mmrwe` command
runs it), timed from start to exit, with its peak resident memory (DuckDB included). The
baseline is lifelines on the same file in the same run, in its own fresh process:

* ``lifelines-csv``: pandas.read_csv (dates parsed), PFS/OS derived with numpy,
  KaplanMeierFitter + median CI for both endpoints, logrank_test by sex, CoxPHFitter with
  the same 3 terms (no validation, no reports);
* ``lifelines-parquet``: pyarrow (DATE columns as datetime64), KM + median CI for both
  endpoints and the log-rank test (no Cox: at 1e7 patients it does not finish in reasonable
  time on this machine).

``--baseline-src DIR`` also runs an older mmrwe source tree (e.g. a checkout of an earlier
commit) on the same files, so a change can be measured before and after.

Usage (from the repository root)::

    python benchmarks/bench_study.py --sizes 100000                # the 1e5 CSV study
    python benchmarks/bench_study.py --sizes 1000000 --formats csv
    python benchmarks/bench_study.py --sizes 10000000 --formats parquet

Data go to ``benchmarks/_data/`` (git-ignored); results to ``benchmarks/results/study.json``
(one record per cell, appended per (tool, format, size) so runs of several sizes combine).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "_data"
WORK = ROOT / "_work"
OUT = ROOT / "results" / "study.json"
DATE_COLS = ("start_date", "progression_date", "death_date", "last_followup_date")

SPEC = """\
[study]
title = "Registry study: synthetic cohort of {n} patients"
time_unit = "months"
synthetic = true

[data]
patients = "{file}"

[variables.age]
unit = "years"
label = "Age"

[variables.sex]
label = "Sex"
levels = ["F", "M"]

[variables.hgb]
unit = "g/dL"
label = "Hemoglobin"

[variables.iss]
label = "ISS stage"
levels = ["I", "II", "III"]

[km]
landmarks = [12, 24]

[[logrank]]
endpoint = "PFS"
by = "sex"

[[cox]]
endpoint = "OS"
terms = ["age", "sex", "hgb"]
reference = {{ sex = "F" }}

[[cuminc]]
event = "progression"
competing = "death"
by = "sex"
times = [12, 24]

[[rmst]]
endpoint = "OS"
tau = 24
by = "sex"
"""


def make_cohort(n: int, stem: Path, seed: int = 20251207) -> None:
    """Write ``stem.csv`` and ``stem.parquet``: the same synthetic cohort, in chunks."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    base = np.datetime64("2015-01-01", "D")
    step = 1_000_000
    pq_writer = None
    csv_writer = None
    try:
        for a in range(0, n, step):
            m = min(step, n - a)
            start = base + rng.integers(0, 365 * 6, m).astype("timedelta64[D]")
            age = np.round(rng.normal(68, 9, m).clip(30, 95)).astype(np.int64)
            sex = np.where(rng.random(m) < 0.45, "F", "M")
            hgb = np.round(rng.normal(11.5, 1.6, m).clip(6.5, 16.5), 1)
            iss = np.array(["I", "II", "III"])[rng.choice(3, m, p=[0.35, 0.4, 0.25])]
            center = np.char.add("C", np.char.zfill(rng.integers(1, 21, m).astype(str), 2))
            lp = 0.02 * (age - 68) + 0.2 * (sex == "M") - 0.15 * (hgb - 11.5)
            t_pd = rng.exponential(330 / np.exp(lp)).astype(np.int64) + 1
            t_death = rng.exponential(900 / np.exp(lp)).astype(np.int64) + 1
            t_cens = rng.integers(30, 365 * 5, m)
            died = t_death <= t_cens
            lfu = np.where(died, t_death, t_cens)
            has_pd = t_pd <= lfu
            day = "timedelta64[D]"
            ids = np.char.add("P", np.char.zfill(np.arange(a + 1, a + m + 1).astype(str), 8))
            tbl = pa.table(
                {
                    "patient_id": pa.array(ids),
                    "center": pa.array(center),
                    "start_date": pa.array(start),
                    "progression_date": pa.array(start + t_pd.astype(day), mask=~has_pd),
                    "death_date": pa.array(start + lfu.astype(day), mask=~died),
                    "last_followup_date": pa.array(start + lfu.astype(day)),
                    "age": pa.array(age),
                    "sex": pa.array(sex),
                    "hgb": pa.array(hgb),
                    "iss": pa.array(iss),
                }
            )
            if pq_writer is None:
                pq_writer = pq.ParquetWriter(stem.with_suffix(".parquet"), tbl.schema)
                csv_writer = pacsv.CSVWriter(
                    stem.with_suffix(".csv"),
                    tbl.schema,
                    write_options=pacsv.WriteOptions(quoting_style="none"),
                )
            pq_writer.write_table(tbl)
            assert csv_writer is not None
            csv_writer.write_table(tbl)
    finally:
        for w in (pq_writer, csv_writer):
            if w is not None:
                w.close()


# ------------------------------------------------------------------------------ cells


def _cell_mmrwe(spec: str, out: str, src: str | None) -> dict[str, Any]:
    """`mmrwe analyze` in a child process; its wall time and peak RSS (this process is fresh)."""
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    cmd = [sys.executable, "-m", "mmrwe.cli.main", "analyze", spec, "--out", out, "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"mmrwe analyze failed:\n{proc.stderr[-3000:]}")
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    run = json.loads((Path(out) / "run.json").read_text())
    res = json.loads((Path(out) / "results.json").read_text())
    sizes = {p.name: p.stat().st_size for p in Path(out).iterdir() if p.is_file()}
    return {
        "wall_s": wall,
        "peak_rss_mib": rss,
        "steps_s": run.get("timings_s", {}),
        "output_bytes": sizes,
        "n": res["cohort"]["n"],
        "pfs_median": [
            res["endpoints"]["PFS"]["median"][k] for k in ("estimate", "lower", "upper")
        ],
        "os_median": [res["endpoints"]["OS"]["median"][k] for k in ("estimate", "lower", "upper")],
        "logrank_chisq": res["logrank"][0]["chisq"],
        "cox_hr": {k: v["hr"] for k, v in res["cox"][0]["coefficients"].items()},
        "sections_null": sorted(k for k, v in res.items() if v is None),
        "warnings": run.get("warnings", []),
    }


def _survival(start: Any, prog: Any, death: Any, lfu: Any) -> tuple[Any, ...]:
    pfs_end = np.where(~np.isnat(prog), prog, np.where(~np.isnat(death), death, lfu))
    pfs_t = (pfs_end - start).astype(np.int64) / 30.4375
    pfs_e = ~np.isnat(prog) | ~np.isnat(death)
    os_t = (np.where(~np.isnat(death), death, lfu) - start).astype(np.int64) / 30.4375
    os_e = ~np.isnat(death)
    return pfs_t, pfs_e, os_t, os_e


def _km_lr(pfs_t: Any, pfs_e: Any, os_t: Any, os_e: Any, female: Any) -> dict[str, Any]:
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import logrank_test
    from lifelines.utils import median_survival_times

    out: dict[str, Any] = {}
    for name, t, e in (("pfs", pfs_t, pfs_e), ("os", os_t, os_e)):
        km = KaplanMeierFitter().fit(t, e)
        ci = median_survival_times(km.confidence_interval_)
        out[f"{name}_median"] = [float(km.median_survival_time_), *map(float, ci.iloc[0])]
    lr = logrank_test(pfs_t[female], pfs_t[~female], pfs_e[female], pfs_e[~female])
    out["logrank_chisq"] = float(lr.test_statistic)
    return out


def _cell_lifelines_csv(csv: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    import pandas as pd
    from lifelines import CoxPHFitter

    df = pd.read_csv(csv, parse_dates=list(DATE_COLS))

    def col(c: str) -> Any:
        return df[c].to_numpy().astype("datetime64[D]")

    pfs_t, pfs_e, os_t, os_e = _survival(*(col(c) for c in DATE_COLS))
    female = (df["sex"] == "F").to_numpy()
    out = _km_lr(pfs_t, pfs_e, os_t, os_e, female)
    d = pd.DataFrame(
        {"t": os_t, "e": os_e, "age": df["age"], "sex_M": (~female).astype(float), "hgb": df["hgb"]}
    )
    cph = CoxPHFitter().fit(d, "t", "e")
    out["cox_hr"] = {k: float(v) for k, v in cph.hazard_ratios_.items()}
    out["wall_s"] = time.perf_counter() - t0
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _cell_lifelines_parquet(parquet: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    import pyarrow.parquet as pq

    tb = pq.read_table(parquet, columns=[*DATE_COLS, "sex"])

    def col(c: str) -> Any:
        return tb.column(c).to_numpy(zero_copy_only=False).astype("datetime64[D]")

    pfs_t, pfs_e, os_t, os_e = _survival(*(col(c) for c in DATE_COLS))
    female = tb.column("sex").to_numpy(zero_copy_only=False) == "F"
    out = _km_lr(pfs_t, pfs_e, os_t, os_e, female)
    out["wall_s"] = time.perf_counter() - t0
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _run_cell(*args: str) -> dict[str, Any]:
    """One fresh process per cell, so its wall time and peak memory are its own."""
    proc = subprocess.run(
        [sys.executable, __file__, "--cell", *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"cell {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="*", default=[100_000])
    ap.add_argument("--formats", nargs="*", default=["csv", "parquet"], choices=["csv", "parquet"])
    ap.add_argument("--no-lifelines", action="store_true")
    ap.add_argument("--baseline-src", help="also run an older mmrwe source tree (its src/)")
    ap.add_argument("--cell", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.cell:
        kind, *rest = args.cell
        if kind == "mmrwe":
            res = _cell_mmrwe(rest[0], rest[1], rest[2] if len(rest) > 2 else None)
        elif kind == "lifelines-csv":
            res = _cell_lifelines_csv(rest[0])
        else:
            res = _cell_lifelines_parquet(rest[0])
        print(json.dumps(res))
        return
    DATA.mkdir(parents=True, exist_ok=True)
    old = json.loads(OUT.read_text()) if OUT.exists() else {"records": []}
    records: dict[tuple[str, str, int], dict[str, Any]] = {
        (r["tool"], r["format"], r["n_patients"]): r for r in old.get("records", [])
    }
    for n in args.sizes:
        stem = DATA / f"registry_{n}"
        if not stem.with_suffix(".parquet").exists() or not stem.with_suffix(".csv").exists():
            t0 = time.perf_counter()
            make_cohort(n, stem)
            print(
                f"generated {stem.name}.csv/.parquet in {time.perf_counter() - t0:.1f} s",
                flush=True,
            )
        for fmt in args.formats:
            data = stem.with_suffix(f".{fmt}")
            spec = DATA / f"registry_{n}_{fmt}.toml"
            spec.write_text(SPEC.format(n=n, file=data.name))
            tools = [("mmrwe", None)] + (
                [("mmrwe-baseline", args.baseline_src)] if args.baseline_src else []
            )
            for tool, src in tools:
                out = WORK / f"{tool}_{fmt}_{n}"
                shutil.rmtree(out, ignore_errors=True)
                load = os.getloadavg()[0]
                cell = _run_cell("mmrwe", str(spec), str(out), *([src] if src else []))
                cell.update({"tool": tool, "format": fmt, "n_patients": n, "load_before": load})
                print(
                    json.dumps({k: v for k, v in cell.items() if k != "output_bytes"}), flush=True
                )
                records[(tool, fmt, n)] = cell
            if not args.no_lifelines:
                load = os.getloadavg()[0]
                kind = "lifelines-csv" if fmt == "csv" else "lifelines-parquet"
                ll = _run_cell(kind, str(data))
                ll.update({"tool": kind, "format": fmt, "n_patients": n, "load_before": load})
                print(json.dumps(ll), flush=True)
                records[(kind, fmt, n)] = ll
    meta = _meta()
    ratios = {}
    for (tool, fmt, n), r in records.items():
        if tool.startswith("lifelines") and ("mmrwe", fmt, n) in records:
            m = records[("mmrwe", fmt, n)]
            ratios[f"{fmt} {n}"] = {
                "mmrwe_wall_over_lifelines": m["wall_s"] / r["wall_s"],
                "mmrwe_rss_over_lifelines": m["peak_rss_mib"] / r["peak_rss_mib"],
            }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # other entries of the file (a before/after comparison recorded by hand) are kept
    previous = json.loads(OUT.read_text()) if OUT.exists() else {}
    kept = {k: v for k, v in previous.items() if k not in ("meta", "records", "ratios")}
    OUT.write_text(
        json.dumps(
            {"meta": meta, "records": sorted(records.values(), key=lambda r: (r["n_patients"], r["format"], r["tool"])),
             "ratios": ratios, **kept},
            indent=1,
        )
        + "\n"
    )  # fmt: skip
    print(f"wrote {OUT}")


def _meta() -> dict[str, Any]:
    meta: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "what": (
            "one fresh process per cell, timed from start to exit (imports, reading, "
            "validation, every analysis and both reports included); peak RSS of that process"
        ),
        "load_average_at_end": os.getloadavg(),
    }
    for mod in ("numpy", "pandas", "duckdb", "ibis", "lifelines"):
        with contextlib.suppress(ImportError):
            meta[mod] = __import__(mod).__version__
    return meta


if __name__ == "__main__":
    main()
