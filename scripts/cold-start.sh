#!/usr/bin/env bash
# Cold start of every function's release bootstrap against a local Lambda runtime API
# (tests/benches/cold_start.rs), with the floor measured in the same run: hello-lambda, a
# hello-world lambda_runtime binary built with the same release profile. Figures are recorded in
# docs/benchmarks.md.
#
# Honours CARGO_TARGET_DIR (the binaries are read from its release/ directory). To compare builds
# in one run, copy each build's release binaries (functions and hello-lambda) into a directory and
# name them: COLD_START_SETS=before=/tmp/before,after=/tmp/after scripts/cold-start.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bins=()
for dir in functions/*/; do bins+=(-p "$(basename "$dir")"); done
# One build: the floor (tests/floor) shares the functions' dependencies and profile.
cargo build --release "${bins[@]}" -p hello-lambda
cargo bench -p api-tests --bench cold_start
