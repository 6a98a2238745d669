"""Survival benchmark suite: mmrwe against lifelines, statsmodels, scikit-survival and R.

Three workloads on the same seeded data (``benchmarks/gen_data.py``) at N = 1e3 ... 1e6:

``km``
    Kaplan-Meier fit + median with 95 % log-log CI. mmrwe ``kaplan_meier(time, event)``
    then ``.median``; lifelines ``KaplanMeierFitter`` + ``median_survival_times`` of the
    band; sksurv ``kaplan_meier_estimator(conf_type="log-log")`` + first crossing of 0.5;
    statsmodels ``SurvfuncRight`` + ``quantile_ci(0.5, method="cloglog")``; R
    ``survfit(conf.type = "log-log")`` + ``summary()$table``.
``logrank``
    Two-group log-rank test (groups = x2). mmrwe ``logrank_test``; lifelines
    ``logrank_test``; sksurv ``compare_survival``; statsmodels ``survdiff``; R ``survdiff``.
``cox``
    Cox model on x1, x2, x3 with Efron ties. mmrwe ``cox_fit(..., ties="efron")``;
    lifelines ``CoxPHFitter``; sksurv ``CoxPHSurvivalAnalysis(ties="efron")``; statsmodels
    ``PHReg(ties="efron")``; R ``coxph(ties = "efron")``.

Methodology (as the peer baselines, benchmarks/README.md): every cell
(workload, tool, N) is a fresh process that imports only the tool measured, loads the data
(parquet for Python, the CSV of the same values for R) and then times only the computation;
the cell's time is the median of 3 wall-clock repeats, or a single run (marked ``*``) when
the first repeat exceeds 20 s. BLAS/OpenMP threads are pinned to 1. Cells run one at a time
(no two cells compete for the 2 cores), ordered workload -> N -> tool so that all tools of
one (workload, N) run back to back under the same machine conditions. A cell gets a
300 s computation budget (hard limit 330 s including start-up); a cell whose linear
projection from the previous N exceeds the budget is skipped and marked. Peak memory is the
kernel's RSS high-water mark of the cell process (``VmHWM``; also the part during the
computation, after a reset through ``/proc/self/clear_refs``).

Usage (from the repository root; ``benchmarks/run_survival.sh`` does all three steps)::

    python benchmarks/gen_data.py 1e3 1e4 1e5 1e6
    python benchmarks/bench_survival.py run        # -> benchmarks/results/survival.jsonl
    python benchmarks/bench_survival.py report     # -> benchmarks/RESULTS.md
    python benchmarks/bench_survival.py cell cox mmrwe 1e5   # one cell, JSON on stdout
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = Path(os.environ.get("BENCH_DATA", HERE / "_data"))
RESULTS = HERE / "results" / "survival.jsonl"
REPORT = HERE / "RESULTS.md"
R_SCRIPT = HERE / "bench_survival.R"

WORKLOADS = ("km", "logrank", "cox")
TOOLS = ("mmrwe", "lifelines", "sksurv", "statsmodels", "R")
PY_PEERS = ("lifelines", "sksurv", "statsmodels")
SIZES = (1_000, 10_000, 100_000, 1_000_000)
REPEATS = 3
LONG_RUN_S = 20.0  # first repeat longer than this: report that single run (marked *)
# Supplementary robustness check (not the headline): a cell whose median of 3 is under
# FAST_S keeps repeating, up to EXTRA_REPEATS calls in all or EXTRA_BUDGET_S more seconds,
# because a median of 3 sub-millisecond calls moves by tens of percent on a shared machine.
EXTRA_REPEATS = 21
EXTRA_BUDGET_S = 3.0
FAST_S = 0.5
BUDGET_S = 300.0  # computation budget per cell
STARTUP_MARGIN_S = 30.0  # imports + loading on top of the budget (hard limit 330 s)
MEM_TARGET_MB = 2048.0
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
MMRWE_FILES = (
    "src/mmrwe/stats/km.py",
    "src/mmrwe/stats/logrank.py",
    "src/mmrwe/stats/cox.py",
    "src/mmrwe/stats/_common.py",
)
COX_NAMES = ["x1", "x2", "x3"]


# ======================================================================================
# one cell (runs in a fresh process)
# ======================================================================================


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _reset_hwm() -> bool:
    """Reset the RSS high-water mark (Linux >= 4.0), so the next VmHWM covers what follows."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _finite(values: Iterable[Any]) -> list[float | None]:
    out: list[float | None] = []
    for v in values:
        x = None if v is None else float(v)
        out.append(x if x is not None and math.isfinite(x) else None)
    return out


def _cell_functions(
    workload: str, tool: str, n: int
) -> tuple[Callable[[], dict[str, Any]], list[float]]:
    """Import the measured tool only, load the data, return (computation, data check)."""
    import numpy as np
    import pandas as pd

    if tool == "mmrwe":
        from mmrwe.stats.cox import cox_fit
        from mmrwe.stats.km import kaplan_meier
        from mmrwe.stats.logrank import logrank_test as mm_logrank
    elif tool == "lifelines":
        from lifelines import CoxPHFitter, KaplanMeierFitter
        from lifelines.statistics import logrank_test as ll_logrank
        from lifelines.utils import median_survival_times
    elif tool == "sksurv":
        from sksurv.compare import compare_survival
        from sksurv.linear_model import CoxPHSurvivalAnalysis
        from sksurv.nonparametric import kaplan_meier_estimator
        from sksurv.util import Surv
    elif tool == "statsmodels":
        from statsmodels.duration.hazard_regression import PHReg
        from statsmodels.duration.survfunc import SurvfuncRight, survdiff
    else:
        raise SystemExit(f"unknown Python tool {tool!r}")

    df = pd.read_parquet(DATA / f"survival_{n}.parquet")
    T = df["time"].to_numpy()
    E = df["event"].to_numpy()
    G = df["x2"].to_numpy()
    X = df[COX_NAMES].to_numpy(float)
    data_check = [
        float(len(df)),
        float(E.sum()),
        float(np.round(T * 100.0).sum()),
        math.fsum(df["x1"]),
        math.fsum(df["x3"]),
    ]

    def first_le(t: Any, s: Any, q: float = 0.5) -> float:
        i = np.flatnonzero(s <= q)
        return float(t[i[0]]) if len(i) else math.inf

    def km() -> dict[str, Any]:
        if tool == "mmrwe":
            m = kaplan_meier(T, E).median
            return {"result": [m.value, m.lower, m.upper]}
        if tool == "lifelines":
            kmf = KaplanMeierFitter().fit(T, E)
            ci = median_survival_times(kmf.confidence_interval_)
            return {"result": [kmf.median_survival_time_, ci.iloc[0, 0], ci.iloc[0, 1]]}
        if tool == "sksurv":
            t, s, band = kaplan_meier_estimator(E.astype(bool), T, conf_type="log-log")
            return {"result": [first_le(t, s), first_le(t, band[0]), first_le(t, band[1])]}
        sf = SurvfuncRight(T, E)
        lo, hi = sf.quantile_ci(0.5, method="cloglog")
        return {"result": [sf.quantile(0.5), lo, hi]}

    def logrank() -> dict[str, Any]:
        if tool == "mmrwe":
            r = mm_logrank(T, E, G)
            return {"result": [r.chisq, r.p]}
        if tool == "lifelines":
            g = G == 1
            r = ll_logrank(T[~g], T[g], E[~g], E[g])
            return {"result": [r.test_statistic, r.p_value]}
        if tool == "sksurv":
            chisq, p = compare_survival(Surv.from_arrays(E.astype(bool), T), G)
            return {"result": [chisq, p]}
        chisq, p = survdiff(T, E, G)
        return {"result": [chisq, p]}

    def cox() -> dict[str, Any]:
        if tool == "mmrwe":
            fit = cox_fit(T, E, X, names=COX_NAMES, ties="efron")
            return {
                "result": fit.coef.tolist(),
                "se": fit.se.tolist(),
                "loglik": list(fit.loglik),
                "iterations": fit.iterations,
                "concordance": fit.concordance,
            }
        if tool == "lifelines":
            cph = CoxPHFitter().fit(df, duration_col="time", event_col="event")
            return {"result": cph.params_[COX_NAMES].tolist()}
        if tool == "sksurv":
            m = CoxPHSurvivalAnalysis(ties="efron").fit(X, Surv.from_arrays(E.astype(bool), T))
            return {"result": list(m.coef_)}
        return {"result": list(PHReg(T, X, status=E, ties="efron").fit().params)}

    return {"km": km, "logrank": logrank, "cox": cox}[workload], data_check


def run_cell(
    workload: str, tool: str, n: int, repeats: int, long_run_s: float, extra_repeats: int
) -> dict[str, Any]:
    """Time one (workload, Python tool, N) cell in this process and return its record."""
    import warnings

    warnings.filterwarnings("ignore")  # convergence chatter of the peers is not timed output
    t0 = time.perf_counter()
    fn, data_check = _cell_functions(workload, tool, n)
    setup_s = time.perf_counter() - t0
    load_peak = _status_mb("VmHWM")
    rss_loaded = _status_mb("VmRSS")
    reset_ok = _reset_hwm()
    times: list[float] = []
    out: dict[str, Any] = {}
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
        if times[0] > long_run_s:
            break
    import numpy as np

    more = list(times)
    if len(times) == repeats and float(np.median(times)) < FAST_S:
        stop = time.perf_counter() + EXTRA_BUDGET_S
        while len(more) < extra_repeats and time.perf_counter() < stop:
            t = time.perf_counter()
            fn()
            more.append(time.perf_counter() - t)
    compute_peak = _status_mb("VmHWM")

    try:
        from threadpoolctl import threadpool_info

        pools = [f"{p.get('internal_api')}:{p.get('num_threads')}" for p in threadpool_info()]
    except ImportError:
        pools = []
    result = out.pop("result")
    extra = {k: (_finite(v) if isinstance(v, list) else v) for k, v in out.items()}
    return {
        "workload": workload,
        "tool": tool,
        "n": n,
        "status": "ok",
        "median_s": float(np.median(times)),
        "times": times,
        "single_run": len(times) < repeats,
        "median_more_s": float(np.median(more)),
        "times_more": more,
        "result": _finite(result),
        "extra": extra,
        "data_check": data_check,
        "peak_rss_mb": round(max(load_peak, compute_peak), 1),
        "compute_peak_mb": round(compute_peak, 1) if reset_ok else None,
        "rss_loaded_mb": round(rss_loaded, 1),
        "hwm_reset": reset_ok,
        "setup_s": setup_s,
        "threadpools": pools,
        "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
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


def _machine() -> dict[str, Any]:
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    os_name = ""
    if Path("/etc/os-release").exists():
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    virt = ""
    if shutil.which("systemd-detect-virt"):
        virt = subprocess.run(
            ["systemd-detect-virt"], capture_output=True, text=True
        ).stdout.strip()
    if not virt and shutil.which("lscpu"):
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Hypervisor vendor:"):
                virt = line.split(":", 1)[1].strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "mem_gib": round(mem_kb / 1024**2, 1),
        "os": os_name,
        "kernel": platform.release(),
        "virtualization": virt,
        "python": platform.python_version(),
    }


def _r_versions() -> dict[str, str]:
    code = (
        'cat(R.version.string, format(packageVersion("survival")), '
        'format(packageVersion("jsonlite")), extSoftVersion()[["BLAS"]], sep = "\\n")'
    )
    try:
        out = subprocess.run(
            ["Rscript", "-e", code], capture_output=True, text=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    lines = out.strip().splitlines()
    if len(lines) < 4:
        return {}
    return {"R": lines[0], "survival": lines[1], "jsonlite": lines[2], "blas": lines[3]}


def _meta(args: argparse.Namespace) -> dict[str, Any]:
    pkgs = [
        "numpy",
        "scipy",
        "pandas",
        "pyarrow",
        "lifelines",
        "scikit-survival",
        "statsmodels",
        "mmrwe",
    ]
    dirty = _git("status", "--porcelain", "--", *MMRWE_FILES)
    manifest = DATA / "manifest.json"
    return {
        "kind": "meta",
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "versions": {p: _pkg_version(p) for p in pkgs},
        "r": _r_versions(),
        "mmrwe_git": {
            "head": _git("rev-parse", "HEAD"),
            "files": {f: _git("hash-object", f) for f in MMRWE_FILES},
            "uncommitted": dirty.splitlines(),
        },
        "thread_env": dict.fromkeys(THREAD_VARS, "1"),
        "settings": {
            "repeats": args.repeats,
            "long_run_s": args.long_run,
            "extra_repeats": args.extra_repeats,
            "extra_budget_s": EXTRA_BUDGET_S,
            "fast_s": FAST_S,
            "budget_s": args.budget,
            "sizes": args.sizes,
            "tools": args.tools,
            "workloads": args.workloads,
        },
        "data": json.loads(manifest.read_text()) if manifest.exists() else {},
        "loadavg_start": os.getloadavg(),
    }


def _cell_command(workload: str, tool: str, n: int, args: argparse.Namespace) -> list[str]:
    if tool == "R":
        return [
            "Rscript",
            str(R_SCRIPT),
            workload,
            str(n),
            str(DATA),
            str(args.repeats),
            str(args.long_run),
            str(args.extra_repeats),
            str(EXTRA_BUDGET_S),
            str(FAST_S),
        ]
    return [
        sys.executable,
        str(Path(__file__).resolve()),
        "cell",
        workload,
        tool,
        str(n),
        "--repeats",
        str(args.repeats),
        "--long-run",
        str(args.long_run),
        "--extra-repeats",
        str(args.extra_repeats),
    ]


def _skip_reason(
    done: dict[tuple[str, str, int], dict[str, Any]],
    workload: str,
    tool: str,
    n: int,
    budget: float,
) -> tuple[str, float | None] | None:
    """Skip a cell whose tool failed at a smaller N or whose linear projection exceeds the budget."""
    smaller = sorted(m for (w, t, m) in done if w == workload and t == tool and m < n)
    if not smaller:
        return None
    prev = done[(workload, tool, smaller[-1])]
    if prev["status"] in ("timeout", "skipped"):
        return f"{prev['status']} at N={smaller[-1]:,}", None
    if prev["status"] != "ok":
        return None
    projected = prev["median_s"] * n / smaller[-1]
    if projected > budget:
        return (
            f"projected {projected:,.0f} s from N={smaller[-1]:,} (budget {budget:.0f} s)",
            projected,
        )
    return None


def run_all(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    env.update(dict.fromkeys(THREAD_VARS, "1"))
    env["BENCH_DATA"] = str(DATA)
    missing = [n for n in args.sizes if not (DATA / f"survival_{n}.parquet").exists()]
    if missing:
        raise SystemExit(f"no data for N={missing}: run python benchmarks/gen_data.py first")
    if "R" in args.tools and shutil.which("Rscript") is None:
        print("Rscript not found: R cells are skipped", file=sys.stderr)
        args.tools = [t for t in args.tools if t != "R"]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    t_run = time.perf_counter()
    done: dict[tuple[str, str, int], dict[str, Any]] = {}
    with out.open("w") as f:

        def emit(rec: dict[str, Any]) -> None:
            f.write(json.dumps(rec, allow_nan=False) + "\n")
            f.flush()

        emit(_meta(args))
        for workload in args.workloads:
            for n in args.sizes:
                for tool in args.tools:
                    base = {"kind": "cell", "workload": workload, "tool": tool, "n": n}
                    skip = _skip_reason(done, workload, tool, n, args.budget)
                    if skip is not None:
                        rec = {
                            **base,
                            "status": "skipped",
                            "median_s": None,
                            "note": skip[0],
                            "projected_s": skip[1],
                        }
                    else:
                        rec = _run_one(workload, tool, n, args, env, base)
                    done[(workload, tool, n)] = rec
                    emit(rec)
                    ms = rec.get("median_s")
                    shown = (
                        f"{ms:.4g} s{'*' if rec.get('single_run') else ''}"
                        if ms is not None
                        else rec["status"]
                    )
                    print(
                        f"{workload:8s} N={n:>9,} {tool:12s} {shown:>12s}   "
                        f"peak {rec.get('peak_rss_mb', '-')} MB  (cell {rec.get('wall_s', 0):.1f} s)",
                        flush=True,
                    )
        emit(
            {
                "kind": "end",
                "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "total_wall_s": time.perf_counter() - t_run,
                "loadavg_end": os.getloadavg(),
            }
        )
    print(f"wrote {out} in {time.perf_counter() - t_run:.0f} s")
    return 0


def _run_one(
    workload: str,
    tool: str,
    n: int,
    args: argparse.Namespace,
    env: dict[str, str],
    base: dict[str, Any],
) -> dict[str, Any]:
    cmd = _cell_command(workload, tool, n, args)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd,
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=args.budget + STARTUP_MARGIN_S,
        )
    except subprocess.TimeoutExpired:
        return {
            **base,
            "status": "timeout",
            "median_s": None,
            "loadavg_1m": load,
            "wall_s": time.perf_counter() - t0,
            "note": f"killed after {args.budget + STARTUP_MARGIN_S:.0f} s",
        }
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("{")]
    if proc.returncode != 0 or not lines:
        return {
            **base,
            "status": "failed",
            "median_s": None,
            "loadavg_1m": load,
            "wall_s": wall,
            "note": (proc.stderr.strip().splitlines() or ["no output"])[-1][:300],
        }
    rec = json.loads(lines[-1])
    rec.update(base)
    rec["loadavg_1m"] = load
    rec["wall_s"] = wall
    if rec.get("compute_peak_mb") is not None:
        rec["compute_peak_mb"] = round(float(rec["compute_peak_mb"]), 1)
    rec["peak_rss_mb"] = round(float(rec["peak_rss_mb"]), 1)
    return rec


# ======================================================================================
# report
# ======================================================================================


def _fmt_s(s: float | None) -> str:
    """Seconds with 3 significant digits, never in exponent notation."""
    if s is None:
        return "-"
    if s >= 100:
        return f"{s:.0f}"
    decimals = max(0, 2 - math.floor(math.log10(s))) if s > 0 else 3
    return f"{s:.{decimals}f}"


def _fmt_ratio(r: float) -> str:
    return f"{r:.0f}x" if r >= 100 else f"{r:.3g}x"


def _cell_text(rec: dict[str, Any] | None) -> str:
    if rec is None:
        return "-"
    if rec["status"] == "ok":
        return _fmt_s(rec["median_s"]) + ("*" if rec.get("single_run") else "")
    if rec["status"] == "skipped":
        p = rec.get("projected_s")
        return f"skipped (~{p:,.0f} s projected)" if p else f"skipped ({rec.get('note', '')})"
    return rec["status"]


def _load(
    path: Path,
) -> tuple[dict[str, Any], dict[str, Any], dict[tuple[str, str, int], dict[str, Any]]]:
    meta: dict[str, Any] = {}
    end: dict[str, Any] = {}
    cells: dict[tuple[str, str, int], dict[str, Any]] = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        if r.get("kind") == "meta":
            meta = r
        elif r.get("kind") == "end":
            end = r
        else:
            cells[(r["workload"], r["tool"], r["n"])] = r
    return meta, end, cells


def _ok(rec: Any) -> bool:
    return rec is not None and rec.get("status") == "ok" and rec.get("median_s") is not None


def write_report(src: Path, dst: Path) -> str:
    meta, end, cells = _load(src)
    sizes = sorted({k[2] for k in cells})
    tools = [t for t in TOOLS if any(k[1] == t for k in cells)]
    workloads = [w for w in WORKLOADS if any(k[0] == w for k in cells)]
    peers = [t for t in tools if t != "mmrwe"]
    L: list[str] = []
    add = L.append

    def get(w: str, t: str, n: int) -> Any:
        return cells.get((w, t, n))

    def ratio(w: str, t: str, n: int, key: str = "median_s") -> float | None:
        a, b = get(w, t, n), get(w, "mmrwe", n)
        if _ok(a) and _ok(b):
            ta, tb = a.get(key, a["median_s"]), b.get(key, b["median_s"])
            return float(ta) / float(tb) if tb > 0 else None
        return None

    def faster_than_python_peers(w: str, key: str) -> tuple[bool | None, str]:
        worst: tuple[float, str, int] | None = None
        missing: list[str] = []
        losses: list[str] = []
        for n in sizes:
            if n < 10_000:
                continue
            for t in PY_PEERS:
                if t not in tools:
                    continue
                r = ratio(w, t, n, key)
                peer = get(w, t, n)
                if r is None:
                    # a peer that timed out or was skipped for time is slower by definition
                    if (
                        peer is not None
                        and peer["status"] in ("timeout", "skipped")
                        and _ok(get(w, "mmrwe", n))
                    ):
                        continue
                    missing.append(f"{t} N={n:,}")
                    continue
                if r <= 1.0:
                    losses.append(f"{t} N={n:,} {_fmt_ratio(r)}")
                if worst is None or r < worst[0]:
                    worst = (r, t, n)
        if worst is None:
            return None, "no data"
        detail = f"smallest ratio {_fmt_ratio(worst[0])} ({worst[1]}, N={worst[2]:,})"
        if losses:
            detail += "; slower than: " + ", ".join(losses)
        if missing:
            detail += "; missing: " + ", ".join(missing)
        return (not losses and not missing), detail

    # ------------------------------------------------------------------ targets
    verdicts: list[tuple[str, bool | None, str]] = []
    for w in workloads:
        ok, detail = faster_than_python_peers(w, "median_s")
        ok_more, detail_more = faster_than_python_peers(w, "median_more_s")
        yn = "yes" if ok_more else "NO" if ok_more is False else "n/a"
        detail += f". Median of up to {EXTRA_REPEATS} calls: {yn}, {detail_more}"
        verdicts.append((f"mmrwe faster than every Python peer at every N >= 1e4: {w}", ok, detail))
    big = max(sizes) if sizes else 0
    m_cox, r_cox = get("cox", "mmrwe", big), get("cox", "R", big)
    if _ok(m_cox) and _ok(r_cox):
        a, b = float(m_cox["median_s"]), float(r_cox["median_s"])
        verdicts.append(
            (
                f"mmrwe Cox at N={big:,} no slower than R coxph (same run)",
                a <= b,
                f"mmrwe {_fmt_s(a)} s vs R {_fmt_s(b)} s: R / mmrwe = {_fmt_ratio(b / a)}",
            )
        )
    else:
        verdicts.append(
            (f"mmrwe Cox at N={big:,} no slower than R coxph (same run)", None, "missing cell")
        )
    peaks = [(w, get(w, "mmrwe", big)) for w in workloads]
    if all(_ok(r) for _, r in peaks) and peaks:
        worst_w, worst_r = max(peaks, key=lambda x: float(x[1]["peak_rss_mb"]))
        pk = float(worst_r["peak_rss_mb"])
        verdicts.append(
            (
                f"mmrwe peak memory at N={big:,} under 2 GiB",
                pk < MEM_TARGET_MB,
                f"highest whole-process peak RSS {pk:,.0f} MiB ({worst_w}); "
                + ", ".join(f"{w} {float(r['peak_rss_mb']):,.0f}" for w, r in peaks),
            )
        )
    total = end.get("total_wall_s")
    if total is not None:
        verdicts.append(
            ("full run well under an hour", total < 3600, f"{total / 60:.1f} min for all cells")
        )

    # ------------------------------------------------------------------ header
    mach = meta.get("machine", {})
    add("# Survival benchmarks: mmrwe vs lifelines, scikit-survival, statsmodels and R")
    add("")
    add(
        f"Generated by `benchmarks/run_survival.sh` (`bench_survival.py report` over "
        f"`benchmarks/results/survival.jsonl`). Run started {meta.get('started_at', '?')}, "
        f"finished {end.get('finished_at', '?')}"
        + (f", {total / 60:.1f} min in all." if total is not None else ".")
    )
    add("")
    add("## Targets")
    add("")
    add("| target | holds | measured |")
    add("|---|---|---|")
    for name, holds, detail in verdicts:
        verdict = "**yes**" if holds else "**NO**" if holds is False else "n/a"
        add(f"| {name} | {verdict} | {detail} |")
    add("")
    add("## Method")
    add("")
    st = meta.get("settings", {})
    add(
        f"- Every cell (workload, tool, N) is a fresh process: it imports only the tool measured, "
        f"loads the data (Python: parquet via pandas; R: `read.csv` of the same values) and then times "
        f"only the computation. Time = median of {st.get('repeats', REPEATS)} wall-clock repeats in that "
        f"process; `*` = a single run because the first took more than {st.get('long_run_s', LONG_RUN_S):g} s."
    )
    add(
        f"- BLAS/OpenMP threads = 1 ({', '.join(THREAD_VARS)}). Cells run one at a time, ordered "
        f"workload -> N -> tool, so all tools of one (workload, N) run back to back. Budget "
        f"{st.get('budget_s', BUDGET_S):g} s of computation per cell (process killed at "
        f"{st.get('budget_s', BUDGET_S) + STARTUP_MARGIN_S:g} s); a cell whose linear projection from "
        f"the previous N exceeds the budget is skipped."
    )
    add(
        "- Peak memory: the kernel's RSS high-water mark (`VmHWM`) of the cell process, i.e. "
        "interpreter + imports + data + computation. `compute peak` is the high-water mark during "
        "the timed repeats only (reset via `/proc/self/clear_refs` after loading; the data and "
        "imports stay resident, so it includes them)."
    )
    add(
        "- The calls timed are listed in `benchmarks/README.md`; mmrwe: "
        "`kaplan_meier(time, event).median`, `logrank_test(time, event, x2)`, "
        '`cox_fit(time, event, X, names=[x1, x2, x3], ties="efron")` (which also computes '
        "concordance, as `coxph` does)."
    )
    loads = [float(r["loadavg_1m"]) for r in cells.values() if r.get("loadavg_1m") is not None]
    if loads:
        add(
            f"- The machine is shared with other work: the 1-minute load average before each cell "
            f"ranged {min(loads):.2f}-{max(loads):.2f} (2 cores). Sub-millisecond times are noisy to "
            f"~±20 %."
        )
    add("")
    add("## Machine and versions")
    add("")
    add(
        f"- CPU: {mach.get('cpu', '?')}, {mach.get('cores', '?')} cores"
        + (f" ({mach['virtualization']} VM)" if mach.get("virtualization") else "")
        + f"; RAM {mach.get('mem_gib', '?')} GiB; {mach.get('os', '?')}, Linux {mach.get('kernel', '?')}"
    )
    vers = meta.get("versions", {})
    add(
        f"- Python {mach.get('python', '?')}; "
        + ", ".join(f"{k} {v}" for k, v in vers.items() if v)
    )
    r = meta.get("r", {})
    if r:
        add(
            f"- {r.get('R', '?')}; survival {r.get('survival', '?')}; jsonlite {r.get('jsonlite', '?')}; "
            f"BLAS `{r.get('blas', '?')}`"
        )
    g = meta.get("mmrwe_git", {})
    if g:
        unc = g.get("uncommitted") or []
        add(
            f"- mmrwe at commit `{g.get('head', '?')[:12]}`; measured files "
            + ", ".join(f"`{Path(f).name}` {h[:10]}" for f, h in g.get("files", {}).items())
            + (" (git blob hashes)" if not unc else f" (UNCOMMITTED changes: {unc})")
        )
    pools = sorted({p for rec in cells.values() for p in rec.get("threadpools", [])})
    if pools:
        add(f"- Thread pools seen in the Python cells (threadpoolctl): {', '.join(pools)}")
    data = meta.get("data", {})
    if data:
        add(
            "- Data (`benchmarks/gen_data.py`, seed 20240601): "
            + "; ".join(
                f"N={int(k):,}: {v['censored'] * 100:.1f} % censored, {v['unique_times']:,} distinct times"
                for k, v in sorted(data.items(), key=lambda kv: int(kv[0]))
            )
        )
    add("")

    # ------------------------------------------------------------------ time tables
    titles = {
        "km": "Kaplan-Meier fit + median with 95 % log-log CI",
        "logrank": "Log-rank test, 2 groups",
        "cox": "Cox model, 3 covariates, Efron ties",
    }
    add("## Wall seconds (median of 3)")
    for w in workloads:
        add("")
        add(f"### {titles[w]}")
        add("")
        add("| N | " + " | ".join(tools) + " |")
        add("|---:|" + "---:|" * len(tools))
        for n in sizes:
            add(f"| {n:,} | " + " | ".join(_cell_text(get(w, t, n)) for t in tools) + " |")
    add("")
    add("## Ratios: peer time / mmrwe time (> 1: mmrwe faster)")
    add("")
    add("| workload | N | " + " | ".join(peers) + " | slowest-to-beat Python peer |")
    add("|---|---:|" + "---:|" * (len(peers) + 1))
    for w in workloads:
        for n in sizes:
            cols = []
            py = []
            for t in peers:
                rr = ratio(w, t, n)
                cols.append(_fmt_ratio(rr) if rr is not None else _cell_text(get(w, t, n)))
                if rr is not None and t in PY_PEERS:
                    py.append(rr)
            cols.append(_fmt_ratio(min(py)) if py else "-")
            add(f"| {w} | {n:,} | " + " | ".join(cols) + " |")
    add("")

    st_fast = meta.get("settings", {}).get("fast_s", FAST_S)
    add(
        f"### Supplementary: ratios at the median of up to {EXTRA_REPEATS} calls "
        f"(cells whose median of 3 is under {st_fast:g} s; others as above)"
    )
    add("")
    add(
        "The first calls in a fresh process are slower for every tool (cold caches, first-touch "
        "page faults, lazy imports), and a median of 3 sub-millisecond calls moves by tens of "
        "percent on a shared machine; this table uses the same processes' further calls."
    )
    add("")
    add("| workload | N | mmrwe s | " + " | ".join(peers) + " | slowest-to-beat Python peer |")
    add("|---|---:|---:|" + "---:|" * (len(peers) + 1))
    for w in workloads:
        for n in sizes:
            m = get(w, "mmrwe", n)
            ms = _fmt_s(float(m.get("median_more_s", m["median_s"]))) if _ok(m) else "-"
            cols = []
            py = []
            for t in peers:
                rr = ratio(w, t, n, "median_more_s")
                cols.append(_fmt_ratio(rr) if rr is not None else _cell_text(get(w, t, n)))
                if rr is not None and t in PY_PEERS:
                    py.append(rr)
            cols.append(_fmt_ratio(min(py)) if py else "-")
            add(f"| {w} | {n:,} | {ms} | " + " | ".join(cols) + " |")
    add("")

    # ------------------------------------------------------------------ memory
    add("## Peak memory (MiB, RSS high-water of the whole cell process)")
    add("")
    add("| workload | N | " + " | ".join(tools) + " | mmrwe compute peak | mmrwe RSS after load |")
    add("|---|---:|" + "---:|" * (len(tools) + 2))
    for w in workloads:
        for n in sizes:
            cols = []
            for t in tools:
                rec = get(w, t, n)
                cols.append(f"{float(rec['peak_rss_mb']):,.0f}" if _ok(rec) else "-")
            m = get(w, "mmrwe", n)
            cp = (
                f"{float(m['compute_peak_mb']):,.0f}"
                if _ok(m) and m.get("compute_peak_mb") is not None
                else "-"
            )
            rl = f"{float(m['rss_loaded_mb']):,.0f}" if _ok(m) else "-"
            add(f"| {w} | {n:,} | " + " | ".join(cols) + f" | {cp} | {rl} |")
    add("")

    # ------------------------------------------------------------------ first call
    add("## First call in a fresh process (seconds; not used above)")
    add("")
    add(
        "The first of the repeats, which pays lazy imports and cold caches; shown for a user "
        "who calls a function once per process."
    )
    add("")
    add("| workload | N | " + " | ".join(tools) + " |")
    add("|---|---:|" + "---:|" * len(tools))
    for w in workloads:
        for n in sizes:
            cols = [
                _fmt_s(float(get(w, t, n)["times"][0])) if _ok(get(w, t, n)) else "-" for t in tools
            ]
            add(f"| {w} | {n:,} | " + " | ".join(cols) + " |")
    add("")

    # ------------------------------------------------------------------ cross-checks
    add("## Correctness cross-checks (same run)")
    add("")
    checks = _cross_checks(cells, sizes, tools, workloads)
    L.extend(checks)
    text = "\n".join(L).rstrip() + "\n"
    dst.write_text(text)
    return text


def _cross_checks(
    cells: dict[tuple[str, str, int], Any],
    sizes: list[int],
    tools: list[str],
    workloads: list[str],
) -> list[str]:
    L: list[str] = []
    others = [t for t in tools if t != "R"]

    def res(w: str, t: str, n: int) -> Any:
        rec: Any = cells.get((w, t, n))
        return rec.get("result") if _ok(rec) else None

    # data identity
    bad = []
    for (w, t, n), rec in sorted(cells.items()):
        ref: Any = cells.get((w, "R", n))
        if not _ok(rec) or not _ok(ref) or t == "R":
            continue
        a, b = rec.get("data_check"), ref.get("data_check")
        if a and b and any(abs(x - y) > 1e-9 * max(1.0, abs(y)) for x, y in zip(a, b, strict=True)):
            bad.append(f"{w}/{t}/N={n}")
    L.append(
        "- Input identity (row count, events, sum of times, sums of x1 and x3 read by each cell, "
        "compared with R's): "
        + ("identical in every cell." if not bad else "DIFFERS in " + ", ".join(bad))
    )
    if "km" in workloads:
        L.append(
            "- KM median and 95 % log-log CI [median, lower, upper]; `=R` means every value "
            "equals R's to 1e-9:"
        )
        L.append("")
        L.append("| N | R | " + " | ".join(others) + " |")
        L.append("|---:|---|" + "---|" * len(others))
        for n in sizes:
            ref = res("km", "R", n)
            cols = []
            for t in others:
                x = res("km", t, n)
                if x is None:
                    cols.append("-")
                elif ref is not None and _same(x, ref, 1e-9):
                    cols.append("=R")
                else:
                    cols.append(_vec(x))
            L.append(f"| {n:,} | {_vec(ref) if ref else '-'} | " + " | ".join(cols) + " |")
        L.append("")
    if "logrank" in workloads:
        L.append("- Log-rank: |chisq - R chisq| (R's chisq in the first column):")
        L.append("")
        L.append("| N | R chisq | " + " | ".join(others) + " |")
        L.append("|---:|---:|" + "---:|" * len(others))
        for n in sizes:
            ref = res("logrank", "R", n)
            cols = []
            for t in others:
                x = res("logrank", t, n)
                cols.append(
                    f"{abs(x[0] - ref[0]):.1e}"
                    if x and ref and x[0] is not None and ref[0] is not None
                    else "-"
                )
            L.append(
                f"| {n:,} | {ref[0]:.6f} | " if ref and ref[0] is not None else f"| {n:,} | - | "
            )
            L[-1] += " | ".join(cols) + " |"
        L.append("")
    if "cox" in workloads:
        L.append(
            "- Cox: max |coef - R coef| over x1, x2, x3; for mmrwe also the largest relative "
            "difference in SE, |loglik - R|, |concordance - R| and Newton iterations (R's in brackets):"
        )
        L.append("")
        L.append(
            "| N | R coef | "
            + " | ".join(others)
            + " | mmrwe max rel SE diff | mmrwe abs loglik diff | "
            "mmrwe abs C diff | iterations |"
        )
        L.append("|---:|---|" + "---:|" * (len(others) + 4))
        for n in sizes:
            ref = res("cox", "R", n)
            cols = []
            for t in others:
                x = res("cox", t, n)
                if x and ref and None not in x and None not in ref:
                    cols.append(f"{max(abs(a - b) for a, b in zip(x, ref, strict=True)):.1e}")
                else:
                    cols.append("-")
            m: Any = cells.get(("cox", "mmrwe", n))
            rr: Any = cells.get(("cox", "R", n))
            if _ok(m) and _ok(rr):
                me, re_ = m["extra"], rr["extra"]
                se = max(abs(a - b) / abs(b) for a, b in zip(me["se"], re_["se"], strict=True))
                ll = abs(me["loglik"][1] - re_["loglik"][1])
                cc = (
                    abs(me["concordance"] - re_["concordance"])
                    if me.get("concordance") is not None and re_.get("concordance") is not None
                    else float("nan")
                )
                extra = [
                    f"{se:.1e}",
                    f"{ll:.1e}",
                    f"{cc:.1e}",
                    f"{me['iterations']} [{re_['iterations']}]",
                ]
            else:
                extra = ["-"] * 4
            L.append(f"| {n:,} | {_vec(ref) if ref else '-'} | " + " | ".join(cols + extra) + " |")
        L.append("")
    return L


def _same(x: list[float | None], y: list[float | None], tol: float) -> bool:
    if len(x) != len(y):
        return False
    for a, b in zip(x, y, strict=True):
        if (a is None) != (b is None):
            return False
        if a is not None and b is not None and abs(a - b) > tol * max(1.0, abs(b)):
            return False
    return True


def _vec(x: list[float | None]) -> str:
    return "[" + ", ".join("NA" if v is None else f"{v:.6g}" for v in x) + "]"


# ======================================================================================
# command line
# ======================================================================================


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cell", help="time one Python cell in this process, JSON on stdout")
    c.add_argument("workload", choices=WORKLOADS)
    c.add_argument("tool", choices=[t for t in TOOLS if t != "R"])
    c.add_argument("n", type=lambda s: int(float(s)))
    c.add_argument("--repeats", type=int, default=REPEATS)
    c.add_argument("--long-run", type=float, default=LONG_RUN_S)
    c.add_argument("--extra-repeats", type=int, default=EXTRA_REPEATS)
    r = sub.add_parser(
        "run", help="run every cell (fresh process each) and write the JSONL records"
    )
    r.add_argument("--sizes", nargs="+", type=lambda s: int(float(s)), default=list(SIZES))
    r.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS))
    r.add_argument("--workloads", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    r.add_argument("--repeats", type=int, default=REPEATS)
    r.add_argument("--long-run", type=float, default=LONG_RUN_S)
    r.add_argument(
        "--extra-repeats",
        type=int,
        default=EXTRA_REPEATS,
        help="supplementary repeats of fast cells (total calls; 0 = none)",
    )
    r.add_argument("--budget", type=float, default=BUDGET_S)
    r.add_argument("--out", default=str(RESULTS))
    r.add_argument("--no-report", action="store_true", help="do not regenerate RESULTS.md")
    p = sub.add_parser("report", help="write RESULTS.md from the JSONL records")
    p.add_argument("--results", default=str(RESULTS))
    p.add_argument("--out", default=str(REPORT))
    a = ap.parse_args(argv)
    if a.cmd == "cell":
        for v in THREAD_VARS:  # before numpy is imported, in case the driver was bypassed
            os.environ.setdefault(v, "1")
        rec = run_cell(a.workload, a.tool, a.n, a.repeats, a.long_run, a.extra_repeats)
        print(json.dumps(rec, allow_nan=False))
        return 0
    if a.cmd == "run":
        rc = run_all(a)
        if not a.no_report and Path(a.out).resolve() == RESULTS.resolve():
            write_report(RESULTS, REPORT)
            print(f"wrote {REPORT}")
        return rc
    write_report(Path(a.results), Path(a.out))
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
