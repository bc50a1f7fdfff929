#!/usr/bin/env bash
# Runs the benchmarks (criterion, release build) and writes BENCHMARKS.md:
# every target of the SDK as a ratio against a baseline measured in the same
# run, then the absolute numbers.
#
#   bash scripts/bench.sh            # full run: 1,000,000 rows, ~10 minutes on 2 cores
#   bash scripts/bench.sh --quick    # smoke run: 100,000 rows, short measurements
#
# Extra arguments go to criterion (e.g. a filter: `bash scripts/bench.sh sqlx_tx`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

if [ "${1:-}" = "--quick" ]; then
    export TENANCY_BENCH_QUICK=1
    shift
fi
cargo bench -p tenancy-bench -- "$@"
cargo bench -p shop -- "$@"
cargo bench -p tenancy-bench-peers
cargo run -q -p tenancy-bench --bin bench-report -- BENCHMARKS.md
