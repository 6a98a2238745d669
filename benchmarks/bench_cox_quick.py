"""Scratch timing of mmrwe cox_fit against R coxph on the peer-benchmark data.

Usage (from the repository root, R with survival installed)::

    python benchmarks/bench_cox_quick.py 1e4 1e5 1e6

The data are generated exactly as ``benchmarks/gen_data.py`` (seeded: 3
covariates, times in months with 2 decimals, ~30 % censored); each size is written to a
temporary CSV that R reads. Times are the median of 3 runs (one run past 20 s); the R time
covers ``coxph(...)`` only, not reading the CSV, as in the peer benchmarks.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mmrwe.stats.cox import cox_fit

LAMBDA0 = np.log(2) / 24.0
LAMBDA_C = 0.0155

R_CODE = r"""
suppressMessages(library(survival))
d <- read.csv(commandArgs(TRUE)[1], colClasses = c("numeric", "integer", "numeric", "integer", "numeric"))
times <- c()
for (i in 1:3) {
  t0 <- proc.time()[["elapsed"]]
  fit <- coxph(Surv(time, event) ~ x1 + x2 + x3, data = d, ties = "efron")
  times <- c(times, proc.time()[["elapsed"]] - t0)
  if (times[1] > 20) break
}
cat(sprintf('{"median_s": %.6f, "coef": [%s], "concordance": %.17g}\n', median(times),
    paste(sprintf("%.17g", coef(fit)), collapse = ", "), fit$concordance[["concordance"]]))
"""


def survival(n: int, seed: int = 20240601) -> pd.DataFrame:
    """Identical to gen_data.survival (copied so the script runs on its own)."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(0.0, 1.0, n)
    x2 = rng.binomial(1, 0.5, n)
    x3 = rng.normal(12.0, 1.5, n)
    hazard = LAMBDA0 * np.exp(0.3 * x1 + 0.5 * x2 - 0.2 * (x3 - 12.0))
    t_event = rng.exponential(1.0 / hazard)
    t_cens = rng.exponential(1.0 / LAMBDA_C, n)
    t = np.minimum(t_event, t_cens)
    t = np.maximum(np.round(t * 100.0), 1.0) / 100.0
    event = (t_event <= t_cens).astype(np.int64)
    return pd.DataFrame({"time": t, "event": event, "x1": x1, "x2": x2, "x3": x3})


def time_python(d: pd.DataFrame) -> tuple[float, list[float], float | None]:
    x = d[["x1", "x2", "x3"]].to_numpy(float)
    runs = []
    fit = None
    for _ in range(3):
        t0 = time.perf_counter()
        fit = cox_fit(d["time"].to_numpy(), d["event"].to_numpy(), x, names=["x1", "x2", "x3"])
        runs.append(time.perf_counter() - t0)
        if runs[0] > 20:
            break
    assert fit is not None
    return float(np.median(runs)), [float(c) for c in fit.coef], fit.concordance


def main(sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            d = survival(n)
            csv = Path(tmp) / f"survival_{n}.csv"
            d.to_csv(csv, index=False)
            py_s, py_coef, py_c = time_python(d)
            r = subprocess.run(
                ["Rscript", "-e", R_CODE, str(csv)], capture_output=True, text=True, check=True
            )
            rres = json.loads(r.stdout.strip().splitlines()[-1])
            dcoef = max(abs(a - b) for a, b in zip(py_coef, rres["coef"], strict=True))
            print(
                json.dumps(
                    {
                        "n": n,
                        "mmrwe_s": round(py_s, 3),
                        "R_s": round(rres["median_s"], 3),
                        "max_abs_dcoef": dcoef,
                        "d_concordance": abs((py_c or 0) - rres["concordance"]),
                    }
                )
            )


if __name__ == "__main__":
    main([int(float(a)) for a in sys.argv[1:]] or [10_000, 100_000, 1_000_000])
