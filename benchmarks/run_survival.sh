#!/usr/bin/env bash
# Survival benchmark suite, end to end: data, every cell, raw records, RESULTS.md.
#
#   benchmarks/run_survival.sh                 # N = 1e3 1e4 1e5 1e6 (about 10-15 min on 2 cores)
#   SIZES="1e3 1e4" benchmarks/run_survival.sh # a quick partial run
#
# Writes benchmarks/_data/ (git-ignored), benchmarks/results/survival.jsonl and
# benchmarks/RESULTS.md. Python: $PY, else /work/venv/bin/python if present, else python3.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/.."
if [[ -z "${PY:-}" ]]; then
  if [[ -x /work/venv/bin/python ]]; then PY=/work/venv/bin/python; else PY=python3; fi
fi
SIZES=${SIZES:-"1e3 1e4 1e5 1e6"}
# one BLAS/OpenMP thread everywhere (the driver sets these for every cell as well)
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 VECLIB_MAXIMUM_THREADS=1 NUMEXPR_NUM_THREADS=1

# shellcheck disable=SC2086
"$PY" benchmarks/gen_data.py $SIZES
# shellcheck disable=SC2086
"$PY" benchmarks/bench_survival.py run --sizes $SIZES "$@"
