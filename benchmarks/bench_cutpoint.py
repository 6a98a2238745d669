"""Benchmark: data-driven cut-offs (maxstat, bootstrap/optimism, Firth).

Run from the repository root:  python benchmarks/bench_cutpoint.py [--max-n 100000] [--with-r]

* maxstat at N = 1e3, 1e4, 1e5 on the peer-benchmark data recipe (docs/peer-benchmarks.md,
  benchmark 4: exponential times rounded to 2 decimals, cut on x3, minprop 0.1): mmrwe's
  O(N log N) search, the same with the Cox HR at the cut, and a lifelines loop of
  ``logrank_test`` per candidate cut, timed on 100 evenly spaced cuts and projected to all
  cuts (as the peer script does). Optionally R ``maxstat.test`` (``--with-r``).
* ``optimism_corrected_hr`` with B = 1000 on a 51-patient cohort (target < 5 s) and
  ``bootstrap_cutpoint`` with B = 1000 at N = 1000.
* ``firth_cox`` with profile CIs on 28 patients.

Writes benchmarks/results/cutpoint.json (median of 3 wall-clock repeats, seconds).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from mmrwe.stats import cutpoint as C
from mmrwe.stats.firth import firth_cox

OUT = Path(__file__).parent / "results" / "cutpoint.json"


def survival_data(n: int, seed: int = 20240601) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The peer benchmarks' survival recipe (as benchmarks/gen_data.py)."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(0.0, 1.0, n)
    x2 = rng.binomial(1, 0.5, n)
    x3 = rng.normal(12.0, 1.5, n)
    hazard = np.log(2) / 24.0 * np.exp(0.3 * x1 + 0.5 * x2 - 0.2 * (x3 - 12.0))
    t_event = rng.exponential(1.0 / hazard)
    t_cens = rng.exponential(1.0 / 0.0155, n)
    t = np.maximum(np.round(np.minimum(t_event, t_cens) * 100.0), 1.0) / 100.0
    return t, t_event <= t_cens, x3


def timeit(fn: Any, repeats: int = 3) -> tuple[float, list[float], Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), times, out


def maxstat_core(t: np.ndarray, e: np.ndarray, x: np.ndarray) -> tuple[float, float, float]:
    """The search alone (scores, cumulative sums, statistic, Lau94), no HR."""
    fields, _ = C._maxstat_from_scores(
        C._logrank_scores(t, e.astype(float)),
        x,
        minprop=0.1,
        maxprop=0.9,
        pmethod="Lau94",
        n_perm=0,
        seed=None,
        alpha=0.05,
    )
    return fields["cutpoint"], fields["statistic"], fields["p_lau94"]


def lifelines_loop(t: np.ndarray, e: np.ndarray, x: np.ndarray, cuts: np.ndarray) -> float:
    from lifelines.statistics import logrank_test

    best = -1.0
    for c in cuts:  # the per-cut loop a user writes by hand
        g = x <= c
        r = logrank_test(t[g], t[~g], e[g], e[~g])
        best = max(best, float(r.test_statistic))
    return best


def r_maxstat(t: np.ndarray, e: np.ndarray, x: np.ndarray) -> dict[str, Any] | None:
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "d.csv"
        np.savetxt(
            csv, np.c_[t, e, x], delimiter=",", header="time,event,x", comments="", fmt="%.17g"
        )
        code = (
            "suppressMessages({library(survival); library(maxstat)});"
            f"d <- read.csv('{csv}');"
            "f <- function() maxstat.test(Surv(time, event) ~ x, data = d, smethod = 'LogRank',"
            " pmethod = 'Lau94', minprop = 0.1, maxprop = 0.9);"
            "ts <- replicate(3, system.time(f())[['elapsed']]); r <- f();"
            "cat(median(ts), r$estimate, r$statistic, r$p.value, sep = ',')"
        )
        try:
            out = subprocess.run(
                ["Rscript", "-e", code], capture_output=True, text=True, check=True
            )
        except (OSError, subprocess.CalledProcessError):
            return None
        med, cut, stat, p = (float(v) for v in out.stdout.strip().split(","))
        return {"median_s": med, "cutpoint": cut, "statistic": stat, "p_lau94": p}


def demo51(seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(11.5, 1.6, 51), 1)
    t_ev = rng.exponential(np.where(x <= 11.8, 4.5, 14.0))
    t_c = rng.uniform(6, 30, 51)
    return np.round(np.minimum(t_ev, t_c), 2), t_ev <= t_c, x


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-n", type=int, default=100_000)
    ap.add_argument("--with-r", action="store_true")
    args = ap.parse_args()
    import lifelines

    res: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "lifelines": lifelines.__version__,
            "platform": platform.platform(),
        },
        "maxstat": [],
    }
    for n in (1_000, 10_000, 100_000, 1_000_000):
        if n > args.max_n:
            continue
        t, e, x = survival_data(n)
        med, times, (cut, stat, p) = timeit(lambda t=t, e=e, x=x: maxstat_core(t, e, x))
        med_full, times_full, full = timeit(lambda t=t, e=e, x=x: C.maxstat_cutpoint(t, e, x))
        xs = np.sort(x)
        m = C._candidate_m(xs, 0.1, 0.9)
        cuts = xs[m - 1]
        probe = cuts[np.linspace(0, cuts.size - 1, min(100, cuts.size)).astype(int)]
        lifelines_loop(t, e, x, probe[:2])  # import and warm-up outside the timing
        t0 = time.perf_counter()
        lifelines_loop(t, e, x, probe)
        per_cut = (time.perf_counter() - t0) / probe.size
        projected = per_cut * cuts.size
        row = {
            "n": n,
            "n_cuts": int(cuts.size),
            "mmrwe_search_s": med,
            "mmrwe_search_times": times,
            "mmrwe_with_hr_s": med_full,
            "mmrwe_with_hr_times": times_full,
            "lifelines_per_cut_s": per_cut,
            "lifelines_projected_s": projected,
            "speedup_vs_lifelines": projected / med,
            "speedup_with_hr_vs_lifelines": projected / med_full,
            "cutpoint": cut,
            "statistic": stat,
            "p_lau94": p,
            "hr_low_vs_high": full.hr_low_vs_high.hr if full.hr_low_vs_high else None,
        }
        if args.with_r:
            row["r_maxstat"] = r_maxstat(t, e, x)
        res["maxstat"].append(row)
        print(json.dumps(row), file=sys.stderr)

    t, e, x = demo51()
    med, times, r = timeit(lambda: C.optimism_corrected_hr(t, e, x, B=1000, seed=1, unit="g/dL"))
    res["optimism_b1000_n51"] = {
        "median_s": med,
        "times": times,
        "sentence": r.sentence,
        "n_firth": r.bootstrap.n_firth,
    }
    t, e, x = survival_data(1000)
    med, times, b = timeit(lambda: C.bootstrap_cutpoint(t, e, x, B=1000, seed=1))
    res["bootstrap_b1000_n1000"] = {
        "median_s": med,
        "times": times,
        "interval": [b.lower, b.upper],
        "oob_hr": b.oob_hr,
    }
    rng = np.random.default_rng(5)
    hi = np.r_[np.ones(9), np.zeros(19)]
    tt = np.round(np.where(hi == 1, rng.exponential(4, 28), rng.exponential(40, 28)), 1) + 0.1
    ee = tt < 30
    med, times, f = timeit(lambda: firth_cox(np.minimum(tt, 30), ee, hi, names=["high_risk"]))
    res["firth_n28_profile"] = {"median_s": med, "times": times, "hr": float(f.hr[0])}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(res, indent=2, default=float) + "\n", encoding="utf-8")
    print(f"wrote {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
