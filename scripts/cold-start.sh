#!/usr/bin/env bash
# Cold start of every function's release bootstrap against a local Lambda runtime API
# (tests/benches/cold_start.rs), with the floor measured in the same run: hello-lambda, a
# hello-world lambda_runtime binary built with the same release profile. Figures are recorded in
# docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bins=()
for dir in functions/*/; do bins+=(-p "$(basename "$dir")"); done
cargo build --release "${bins[@]}"
cargo build --release -p devtools --bin hello-lambda
cargo bench -p api-tests --bench cold_start
