#!/usr/bin/env bash
# Peak memory of the VAT re-validation job against the number of due organisations
# (tests/benches/vat_memory.rs): builds the release vat-revalidation bootstrap, starts a DynamoDB
# Local of its own and runs one scheduled invocation per count over a fresh table (default counts:
# 0 1000 10000). Figures are recorded in docs/benchmarks.md.
# Usage: scripts/vat-memory.sh [N ...]   (CARGO_TARGET_DIR is honoured; VAT_BOOTSTRAP=<path>
# measures another build of the bootstrap)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ -z "${VAT_BOOTSTRAP:-}" ]; then
  cargo build --release -p vat-revalidation
fi
scripts/dynamodb-local.sh install
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
scripts/dynamodb-local.sh start "$port"
trap 'scripts/dynamodb-local.sh stop "$port"' EXIT
# The harness only seeds the table and plays Lambda and VIES: built with the test profile (the
# integration tests' build), while the process measured is the release bootstrap.
DYNAMODB_ENDPOINT="http://127.0.0.1:$port" cargo bench --profile dev -p api-tests --bench vat_memory -- "$@"
