"""Seeded synthetic survival data for the survival benchmark suite.

The recipe is that of the peer baselines (benchmarks/README.md), written out here in full:
exponential event times with hazard
``(ln 2 / 24) * exp(0.3 x1 + 0.5 x2 - 0.2 (x3 - 12))``, x1 ~ N(0, 1), x2 ~ Bernoulli(0.5),
x3 ~ N(12, 1.5), exponential censoring (rate 0.0155, about 30 % censored), times in months
rounded to 2 decimals (so there are ties) and at least 0.01. Same seed for every N.

Writes, for each N, ``survival_N.parquet`` (read by the Python cells) and ``survival_N.csv``
(the same values, read by R) plus ``manifest.json`` (censored fraction, distinct times,
file hashes) to ``benchmarks/_data/`` (git-ignored; override with ``BENCH_DATA``).

Usage (from anywhere)::

    python benchmarks/gen_data.py 1e3 1e4 1e5 1e6
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(os.environ.get("BENCH_DATA", Path(__file__).resolve().parent / "_data"))
SEED = 20240601
LAMBDA0 = np.log(2) / 24.0  # baseline median 24 months
LAMBDA_C = 0.0155  # exponential censoring rate -> ~30 % censored


def survival(n: int, seed: int = SEED) -> pd.DataFrame:
    """Return the peer recipe's data set of ``n`` rows (identical draws, identical rounding)."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(0.0, 1.0, n)
    x2 = rng.binomial(1, 0.5, n)
    x3 = rng.normal(12.0, 1.5, n)
    hazard = LAMBDA0 * np.exp(0.3 * x1 + 0.5 * x2 - 0.2 * (x3 - 12.0))
    t_event = rng.exponential(1.0 / hazard)
    t_cens = rng.exponential(1.0 / LAMBDA_C, n)
    time = np.minimum(t_event, t_cens)
    time = np.maximum(np.round(time * 100.0), 1.0) / 100.0  # 2 decimals, > 0
    event = (t_event <= t_cens).astype(np.int64)
    return pd.DataFrame({"time": time, "event": event, "x1": x1, "x2": x2, "x3": x3})


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main(argv: list[str]) -> int:
    sizes = [int(float(a)) for a in argv] or [1000, 10_000, 100_000, 1_000_000]
    DATA.mkdir(parents=True, exist_ok=True)
    manifest_path = DATA / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    for n in sizes:
        d = survival(n)
        pq, csv = DATA / f"survival_{n}.parquet", DATA / f"survival_{n}.csv"
        d.to_parquet(pq)
        # pandas writes the shortest repr that round-trips, so R parses the same doubles
        d.to_csv(csv, index=False)
        back = pd.read_csv(csv, float_precision="round_trip")
        if not back.equals(d):
            raise SystemExit(f"CSV for N={n} does not round-trip exactly")
        info = {
            "n": n,
            "seed": SEED,
            "censored": float(1.0 - d.event.mean()),
            "events": int(d.event.sum()),
            "unique_times": int(d.time.nunique()),
            "sha256_parquet": _sha256(pq),
            "sha256_csv": _sha256(csv),
        }
        manifest[str(n)] = info
        print(f"N={n:>9,}  censored={info['censored']:.3f}  unique times={info['unique_times']:,}")
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
