"""Competing risks and RMST at scale: mmrwe against lifelines and R (cmprsk, survival).

Issue #18 asks for "benchmarks at 1e6 patients" of the competing-risks and RMST analyses.
Three steps on the same seeded data (``data`` below) at N = 1e5 and 1e6 (``--sizes``):

``cuminc``
    Aalen-Johansen cumulative incidence of both causes by group, Gray's test per cause, CIF
    at 12 and 24 months (365.25 and 730.5 days). mmrwe: ``cuminc(time, cause, group,
    event=k, times=...)`` for k = 1 and 2 (one call per cause; cmprsk computes every cause in
    one call). R: ``cmprsk::cuminc(time, cause, group)`` + ``timepoints``. lifelines:
    ``AalenJohansenFitter`` per group and cause (it has no Gray test, and jitters tied times
    by 1e-4, so its numbers are only close); ``lifelines`` without its variance
    (``calculate_variance=False``), ``lifelines_var`` with it (default; a row loop over the
    event times that is quadratic in their number).
``rmst``
    RMST of event-free survival (progression or death) to tau = 24 months by group.
    mmrwe: ``rmst_compare(time, cause != 0, group, tau=730.5)`` (also computes the survRM2
    difference and ratios). R: ``summary(survfit(Surv(time, cause != 0) ~ group),
    rmean = 730.5)$table``. lifelines: ``KaplanMeierFitter`` per group +
    ``restricted_mean_survival_time(return_variance=True)``.
``crr``
    Fine-Gray subdistribution hazards of progression on x1, x2, x3. mmrwe: ``finegray``.
    R: ``cmprsk::crr`` (defaults: maxiter 10, gtol 1e-6).

Data: N patients, group ~ Bernoulli(0.5), x1 ~ N(0, 1), x2 ~ Bernoulli(0.4), x3 ~ N(0, 1);
latent exponential times, in days, for progression (hazard ln2/548 * exp(0.4 x1 + 0.3 x2 -
0.2 x3 - 0.35 group): median 18 months at baseline) and for death without progression (ln2/
1826 * exp(0.2 x1 + 0.5 x3 + 0.1 group): 60 months), censoring uniform on 90-2190 days
(accrual); time = the first of the three, rounded up to whole days (ties, as mmrwe's
day-based times); cause 0 censored, 1 progression, 2 death without progression.

Method (as ``bench_survival.py`` and the peer baselines described in benchmarks/README.md): every cell (step,
tool, N) is a fresh process that imports only the tool measured, loads the data (parquet
for Python, the CSV of the same values for R) and times only the computation: median of 3
wall-clock repeats, or a single run (``*``) when the first takes more than 20 s. BLAS/OpenMP
threads = 1; cells run one at a time, ordered step -> N -> tool. A cell is killed after
``--timeout`` seconds (default 600) and recorded as "did not finish in X s"; a cell that
timed out at a smaller N is not run again. Peak memory: ``VmHWM`` of the cell process. The
machine is shared (other sessions run tests on the same 2 cores): the 1-minute load average
is recorded before every cell.

Usage (from the repository root)::

    python benchmarks/bench_competing.py run --sizes 1e5 1e6   # data + cells -> results/competing.json
    python benchmarks/bench_competing.py report                 # markdown tables from the JSON
    python benchmarks/bench_competing.py cell crr mmrwe 1e5     # one cell, JSON on stdout
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = Path(os.environ.get("BENCH_DATA", HERE / "_data"))
RESULTS = HERE / "results" / "competing.json"
R_SCRIPT = HERE / "bench_competing.R"

STEPS = ("cuminc", "rmst", "crr")
TOOLS = {
    "cuminc": ("mmrwe", "R", "lifelines", "lifelines_var"),
    "rmst": ("mmrwe", "R", "lifelines"),
    "crr": ("mmrwe", "R"),
}
TIMES = (365.25, 730.5)  # 12 and 24 months, in days
TAU = 730.5
NAMES = ["x1", "x2", "x3"]
REPEATS = 3
LONG_RUN_S = 20.0
TIMEOUT_S = 600.0
# lifelines' AalenJohansenFitter variance loops over every (jittered) event time and, for
# each, over all earlier ones: quadratic, it did not finish in 60 s at N = 1e4
TOOL_TIMEOUT_S = {"lifelines_var": 120.0}
# R's crr grows ~N^2.5 (0.28 / 1.5 / 8.2 s at N = 1e3 / 2e3 / 4e3): the crr agreement is
# checked at this N as well (mmrwe and R), where R finishes
CRR_CHECK_SIZES = (10_000,)
REL_TOL = 1e-6
SEED = 20261207
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
MMRWE_FILES = (
    "src/mmrwe/stats/cuminc.py",
    "src/mmrwe/stats/finegray.py",
    "src/mmrwe/stats/rmst.py",
    "src/mmrwe/stats/km.py",
)


# ======================================================================================
# data
# ======================================================================================


def make_data(n: int, seed: int = SEED) -> Any:
    """The seeded competing-risks data set of N patients (see the module docstring)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    group = rng.binomial(1, 0.5, n)
    x1 = rng.normal(0.0, 1.0, n)
    x2 = rng.binomial(1, 0.4, n)
    x3 = rng.normal(0.0, 1.0, n)
    h1 = math.log(2) / 548.0 * np.exp(0.4 * x1 + 0.3 * x2 - 0.2 * x3 - 0.35 * group)
    h2 = math.log(2) / 1826.0 * np.exp(0.2 * x1 + 0.5 * x3 + 0.1 * group)
    t1 = rng.exponential(1.0 / h1)
    t2 = rng.exponential(1.0 / h2)
    tc = rng.uniform(90.0, 2190.0, n)
    t = np.minimum(np.minimum(t1, t2), tc)
    cause = np.where(t == tc, 0, np.where(t1 < t2, 1, 2))
    days = np.maximum(np.ceil(t), 1.0)
    return pd.DataFrame(
        {"time": days, "cause": cause, "group": group, "x1": x1, "x2": x2, "x3": x3}
    )


def ensure_data(sizes: list[int]) -> dict[str, Any]:
    """Write ``_data/competing_N.{parquet,csv}`` if missing; return a manifest per N."""
    import numpy as np
    import pandas as pd

    DATA.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {}
    for n in sizes:
        pq, csv = DATA / f"competing_{n}.parquet", DATA / f"competing_{n}.csv"
        if not (pq.exists() and csv.exists()):
            d = make_data(n)
            d.to_parquet(pq, index=False)
            d.to_csv(csv, index=False, float_format="%.17g")
            back = pd.read_csv(csv)
            if not all(np.array_equal(back[c].to_numpy(), d[c].to_numpy()) for c in d.columns):
                raise SystemExit(f"{csv} does not round-trip exactly")
        d = pd.read_parquet(pq)
        manifest[str(n)] = {
            "n": n,
            "seed": SEED,
            "censored": float((d["cause"] == 0).mean()),
            "progression": float((d["cause"] == 1).mean()),
            "death_without_progression": float((d["cause"] == 2).mean()),
            "distinct_times": int(d["time"].nunique()),
            "max_time": float(d["time"].max()),
        }
    return manifest


# ======================================================================================
# one Python cell (fresh process)
# ======================================================================================


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _num(x: Any) -> float | None:
    if x is None:
        return None
    v = float(x)
    return v if math.isfinite(v) else None


def _cell_function(step: str, tool: str, n: int) -> tuple[Callable[[], dict[str, Any]], list]:
    import numpy as np
    import pandas as pd

    if tool == "mmrwe":
        from mmrwe.stats.cuminc import cuminc
        from mmrwe.stats.finegray import finegray
        from mmrwe.stats.rmst import rmst_compare
    elif tool in ("lifelines", "lifelines_var"):
        from lifelines import AalenJohansenFitter, KaplanMeierFitter
        from lifelines.utils import restricted_mean_survival_time
    else:
        raise SystemExit(f"unknown Python tool {tool!r}")

    df = pd.read_parquet(DATA / f"competing_{n}.parquet")
    T = df["time"].to_numpy(np.float64)
    C = df["cause"].to_numpy(np.int64)
    grp = df["group"].to_numpy(np.int64)
    X = df[NAMES].to_numpy(np.float64)
    data_check = [
        float(len(df)),
        float((C == 1).sum()),
        float((C == 2).sum()),
        float(T.sum()),
        float(grp.sum()),
        math.fsum(df["x1"]),
        math.fsum(df["x3"]),
    ]
    levels = [0, 1]

    def step_cuminc() -> dict[str, Any]:
        # rows "group cause" as cmprsk's timepoints(): est/var [row][time]
        est: dict[str, list[float | None]] = {}
        var: dict[str, list[float | None]] = {}
        gray: dict[str, float | None] = {}
        if tool == "mmrwe":
            for k in (1, 2):
                r = cuminc(T, C, grp, event=k, times=TIMES)
                for g in levels:
                    at = r.at[str(g)]
                    est[f"{g} {k}"] = [_num(v) for v in at.estimate]
                    var[f"{g} {k}"] = [_num(v) for v in at.variance]
                gray[str(k)] = _num(r.gray.stat) if r.gray is not None else None
            return {"est": est, "var": var, "gray_stat": gray}
        for g in levels:
            m = grp == g
            for k in (1, 2):
                ajf = AalenJohansenFitter(calculate_variance=tool == "lifelines_var", seed=1)
                ajf.fit(T[m], C[m], event_of_interest=k)
                cd = ajf.cumulative_density_.iloc[:, 0]
                idx = cd.index.to_numpy()
                vals = []
                for t in TIMES:
                    j = np.searchsorted(idx, t, side="right") - 1
                    vals.append(_num(cd.iloc[j]) if j >= 0 else 0.0)
                est[f"{g} {k}"] = vals
        return {"est": est}

    def step_rmst() -> dict[str, Any]:
        ev = C != 0
        if tool == "mmrwe":
            r = rmst_compare(T, ev, grp, tau=TAU)
            return {
                "rmst": [r.groups[str(g)].rmst for g in levels],
                "se": [r.groups[str(g)].se for g in levels],
                "difference": r.difference.estimate if r.difference else None,
            }
        rm, se = [], []
        for g in levels:
            m = grp == g
            kmf = KaplanMeierFitter().fit(T[m], ev[m])
            mu, v = restricted_mean_survival_time(kmf, t=TAU, return_variance=True)
            rm.append(float(mu))
            se.append(math.sqrt(float(v)))
        # lifelines' "variance" is that of min(T, tau) under the fitted curve, not the
        # estimator's variance: recorded, not compared
        return {"rmst": rm, "sd_min_t_tau": se}

    def step_crr() -> dict[str, Any]:
        fit = finegray(T, C, X, names=NAMES)
        return {
            "coef": fit.coef.tolist(),
            "se": fit.se.tolist(),
            "loglik": fit.loglik,
            "converged": bool(fit.converged),
            "iterations": int(fit.iterations),
        }

    fns = {"cuminc": step_cuminc, "rmst": step_rmst, "crr": step_crr}
    if step == "crr" and tool != "mmrwe":
        raise SystemExit("lifelines has no Fine-Gray model")
    return fns[step], data_check


def run_cell(step: str, tool: str, n: int, repeats: int, long_run_s: float) -> dict[str, Any]:
    import warnings

    import numpy as np

    warnings.filterwarnings("ignore")  # lifelines' tie/jitter chatter is not timed output
    t0 = time.perf_counter()
    fn, data_check = _cell_function(step, tool, n)
    load_s = time.perf_counter() - t0
    load_peak = _status_mb("VmHWM")
    reset_ok = _reset_hwm()
    times: list[float] = []
    out: dict[str, Any] = {}
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
        if times[0] > long_run_s:
            break
    compute_peak = _status_mb("VmHWM")
    return {
        "step": step,
        "tool": tool,
        "n": n,
        "status": "ok",
        "median_s": float(np.median(times)),
        "times": times,
        "single_run": len(times) < repeats,
        "result": out,
        "data_check": data_check,
        "load_s": load_s,
        "peak_rss_mb": round(max(load_peak, compute_peak), 1),
        "compute_peak_mb": round(compute_peak, 1) if reset_ok else None,
    }


# ======================================================================================
# driver
# ======================================================================================


def _pkg_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=30
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _r_versions() -> dict[str, str]:
    code = (
        'cat(R.version.string, format(packageVersion("cmprsk")), '
        'format(packageVersion("survival")), format(packageVersion("jsonlite")), '
        'extSoftVersion()[["BLAS"]], sep = "\\n")'
    )
    try:
        out = subprocess.run(
            ["Rscript", "-e", code], capture_output=True, text=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    lines = out.strip().splitlines()
    if len(lines) < 5:
        return {}
    return dict(zip(("R", "cmprsk", "survival", "jsonlite", "blas"), lines, strict=True))


def _machine() -> dict[str, Any]:
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = next(int(ln.split()[1]) for ln in f if ln.startswith("MemTotal:"))
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "mem_gib": round(mem_kb / 1024**2, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def _command(step: str, tool: str, n: int, args: argparse.Namespace) -> list[str]:
    if tool == "R":
        return [
            "Rscript",
            str(R_SCRIPT),
            step,
            str(n),
            str(DATA),
            str(args.repeats),
            str(args.long_run),
        ]
    return [
        sys.executable,
        str(Path(__file__).resolve()),
        "cell",
        step,
        tool,
        str(n),
        "--repeats",
        str(args.repeats),
        "--long-run",
        str(args.long_run),
    ]


def _run_one(
    step: str, tool: str, n: int, args: argparse.Namespace, env: dict[str, str]
) -> dict[str, Any]:
    base = {"step": step, "tool": tool, "n": n}
    timeout = min(args.timeout, TOOL_TIMEOUT_S.get(tool, math.inf))
    load = list(os.getloadavg())
    t0 = time.perf_counter()
    # own process group, so that a timeout kills the cell and anything it started
    proc = subprocess.Popen(
        _command(step, tool, n, args),
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {
            **base,
            "status": "timeout",
            "median_s": None,
            "loadavg_before": load,
            "wall_s": time.perf_counter() - t0,
            "timeout_s": timeout,
            "note": f"did not finish in {timeout:.0f} s (killed; includes loading)",
        }
    wall = time.perf_counter() - t0
    lines = [ln for ln in stdout.splitlines() if ln.strip().startswith("{")]
    if proc.returncode != 0 or not lines:
        return {
            **base,
            "status": "failed",
            "median_s": None,
            "loadavg_before": load,
            "wall_s": wall,
            "note": (stderr.strip().splitlines() or ["no output"])[-1][:300],
        }
    rec = json.loads(lines[-1])
    rec.update(base)
    rec["loadavg_before"] = load
    rec["wall_s"] = wall
    for key in ("peak_rss_mb", "compute_peak_mb"):
        if rec.get(key) is not None:
            rec[key] = round(float(rec[key]), 1)
    return rec


def _rel(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    return abs(a - b) / max(abs(b), 1e-300)


def _max_rel(pairs: list[tuple[float | None, float | None]]) -> float | None:
    vals = [_rel(a, b) for a, b in pairs]
    if not vals or any(v is None for v in vals):
        return None
    return max(v for v in vals if v is not None)


def _agreement(step: str, recs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Compare every tool that finished with R (max relative difference per quantity)."""
    r = recs.get("R")
    out: dict[str, Any] = {}
    if r is None or r.get("status") != "ok":
        return {"note": "R did not finish: no reference"}
    ref = r["result"]
    for tool, rec in recs.items():
        if tool == "R" or rec.get("status") != "ok":
            continue
        res = rec["result"]
        same_data = rec["data_check"] == r["data_check"] or all(
            _rel(a, b) is not None and _rel(a, b) < 1e-12  # type: ignore[operator]
            for a, b in zip(rec["data_check"], r["data_check"], strict=True)
        )
        a: dict[str, Any] = {"same_input": same_data}
        if step == "cuminc":
            rows = ref["rows"]
            a["cif_12_24m"] = _max_rel(
                [
                    (res["est"][row][j], ref["est"][i][j])
                    for i, row in enumerate(rows)
                    for j in range(len(TIMES))
                ]
            )
            if "var" in res:
                a["cif_variance"] = _max_rel(
                    [
                        (res["var"][row][j], ref["var"][i][j])
                        for i, row in enumerate(rows)
                        for j in range(len(TIMES))
                    ]
                )
            if "gray_stat" in res:
                a["gray_chisq"] = _max_rel(
                    [
                        (res["gray_stat"][k], ref["gray_stat"][i])
                        for i, k in enumerate(ref["gray_rows"])
                    ]
                )
        elif step == "rmst":
            a["rmst"] = _max_rel(list(zip(res["rmst"], ref["rmst"], strict=True)))
            if "se" in res:
                a["se"] = _max_rel(list(zip(res["se"], ref["se"], strict=True)))
        else:
            a["coef"] = _max_rel(list(zip(res["coef"], ref["coef"], strict=True)))
            a["se"] = _max_rel(list(zip(res["se"], ref["se"], strict=True)))
            ll = ref["loglik"]
            a["loglik"] = _rel(res["loglik"], ll[-1] if isinstance(ll, list) else ll)
        nums = [v for k, v in a.items() if k != "same_input" and v is not None]
        a["max_rel"] = max(nums) if nums else None
        a["within_1e-6"] = bool(nums) and max(nums) <= REL_TOL
        out[tool] = a
    return out


def run_all(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    env.update(dict.fromkeys(THREAD_VARS, "1"))
    env["BENCH_DATA"] = str(DATA)
    src = str(ROOT / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    t_run = time.perf_counter()
    crr_sizes = sorted(set(args.sizes) | set(args.crr_check_sizes)) if "crr" in args.steps else []
    manifest = ensure_data(sorted(set(args.sizes) | set(crr_sizes)))
    dirty = _git("status", "--porcelain", "--", *MMRWE_FILES)
    meta = {
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "shared_machine_note": (
            "2 cores shared with other sessions running test suites at the same time; "
            "loadavg_before = 1/5/15-minute load average just before each cell"
        ),
        "versions": {
            p: _pkg_version(p)
            for p in ("mmrwe", "numpy", "scipy", "pandas", "pyarrow", "lifelines")
        },
        "r": _r_versions(),
        "mmrwe_git": {
            "head": _git("rev-parse", "HEAD"),
            "files": {f: _git("hash-object", f) for f in MMRWE_FILES},
            "uncommitted": dirty.splitlines(),
        },
        "settings": {
            "sizes": args.sizes,
            "crr_sizes": crr_sizes,
            "steps": args.steps,
            "repeats": args.repeats,
            "long_run_s": args.long_run,
            "timeout_s": args.timeout,
            "tool_timeout_s": TOOL_TIMEOUT_S,
            "threads": 1,
            "cif_times_days": list(TIMES),
            "rmst_tau_days": TAU,
            "rel_tol": REL_TOL,
        },
        "data": manifest,
        "loadavg_start": list(os.getloadavg()),
    }
    cells: list[dict[str, Any]] = []
    agreement: dict[str, Any] = {}
    for step in args.steps:
        timed_out: set[str] = set()
        for n in crr_sizes if step == "crr" else args.sizes:
            recs: dict[str, dict[str, Any]] = {}
            for tool in TOOLS[step]:
                if args.tools and tool not in args.tools:
                    continue
                if tool in timed_out:
                    rec = {
                        "step": step,
                        "tool": tool,
                        "n": n,
                        "status": "skipped",
                        "median_s": None,
                        "note": "timed out at a smaller N",
                    }
                else:
                    rec = _run_one(step, tool, n, args, env)
                    if rec["status"] == "timeout":
                        timed_out.add(tool)
                recs[tool] = rec
                cells.append(rec)
                ms = rec.get("median_s")
                shown = f"{ms:.4g} s{'*' if rec.get('single_run') else ''}" if ms else rec["status"]
                print(
                    f"{step:7s} N={n:>9,} {tool:14s} {shown:>12s} peak "
                    f"{rec.get('peak_rss_mb', '-')} MB load {rec.get('loadavg_before', ['-'])[0]}",
                    flush=True,
                )
            agreement[f"{step} {n}"] = _agreement(step, recs)
            print(f"  agreement: {json.dumps(agreement[f'{step} {n}'])}", flush=True)
            _write(args.out, meta, cells, agreement, None)
    end = {
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "total_wall_s": time.perf_counter() - t_run,
        "loadavg_end": list(os.getloadavg()),
    }
    _write(args.out, meta, cells, agreement, end)
    print(f"wrote {args.out}")
    return 0


def _write(out: str, meta: dict, cells: list, agreement: dict, end: dict[str, Any] | None) -> None:
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"meta": meta, "cells": cells, "agreement": agreement, "end": end}
    path.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")


# ======================================================================================
# report
# ======================================================================================


def _fmt_s(s: float | None) -> str:
    if s is None:
        return "-"
    if s >= 100:
        return f"{s:.0f}"
    decimals = max(0, 2 - math.floor(math.log10(s))) if s > 0 else 3
    return f"{s:.{decimals}f}"


def report(path: Path) -> str:
    doc = json.loads(path.read_text())
    cells = {(c["step"], c["tool"], c["n"]): c for c in doc["cells"]}
    sizes = sorted({c["n"] for c in doc["cells"]})
    L = [
        "| step | N | tool | wall s (median of 3) | peak RSS MiB | load avg before | max rel. diff vs R |",
        "|---|---:|---|---:|---:|---:|---|",
    ]
    for step in STEPS:
        for n in sizes:
            agr = doc["agreement"].get(f"{step} {n}", {})
            for tool in TOOLS[step]:
                c = cells.get((step, tool, n))
                if c is None:
                    continue
                if c["status"] == "ok":
                    t = _fmt_s(c["median_s"]) + ("*" if c.get("single_run") else "")
                else:
                    t = c.get("note", c["status"])
                a = agr.get(tool, {})
                diff = "reference" if tool == "R" and c["status"] == "ok" else "-"
                if a.get("max_rel") is not None:
                    parts = [
                        f"{k} {v:.1e}"
                        for k, v in a.items()
                        if k not in ("same_input", "max_rel", "within_1e-6") and v is not None
                    ]
                    diff = ", ".join(parts)
                load = c.get("loadavg_before")
                L.append(
                    f"| {step} | {n:,} | {tool} | {t} | "
                    f"{c.get('peak_rss_mb', '-')} | {load[0]:.2f} | {diff} |"
                    if load
                    else f"| {step} | {n:,} | {tool} | {t} | - | - | {diff} |"
                )
    return "\n".join(L)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    def sizes(s: str) -> int:
        return int(float(s))

    c = sub.add_parser("cell", help="one timed cell in this process (JSON on stdout)")
    c.add_argument("step", choices=STEPS)
    c.add_argument("tool")
    c.add_argument("n", type=sizes)
    c.add_argument("--repeats", type=int, default=REPEATS)
    c.add_argument("--long-run", type=float, default=LONG_RUN_S)

    r = sub.add_parser("run", help="every cell in a fresh process -> results/competing.json")
    r.add_argument("--sizes", type=sizes, nargs="+", default=[100_000, 1_000_000])
    r.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    r.add_argument("--tools", nargs="+", default=None, help="subset of tools (default all)")
    r.add_argument("--repeats", type=int, default=REPEATS)
    r.add_argument("--long-run", type=float, default=LONG_RUN_S)
    r.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds per cell")
    r.add_argument(
        "--crr-check-sizes",
        type=sizes,
        nargs="*",
        default=list(CRR_CHECK_SIZES),
        help="extra N for crr (mmrwe and R), where R finishes",
    )
    r.add_argument("--out", default=str(RESULTS))

    d = sub.add_parser("data", help="write the data files only")
    d.add_argument("--sizes", type=sizes, nargs="+", default=[100_000, 1_000_000])

    rep = sub.add_parser("report", help="markdown table from results/competing.json")
    rep.add_argument("--src", default=str(RESULTS))

    a = p.parse_args(argv)
    if a.cmd == "cell":
        print(json.dumps(run_cell(a.step, a.tool, a.n, a.repeats, a.long_run), allow_nan=False))
        return 0
    if a.cmd == "run":
        return run_all(a)
    if a.cmd == "data":
        print(json.dumps(ensure_data(a.sizes), indent=1))
        return 0
    print(report(Path(a.src)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
