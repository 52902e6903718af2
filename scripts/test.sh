#!/usr/bin/env bash
# Every test: the template checks, unit and integration tests against one DynamoDB Local, then
# the smoke check and schemathesis against the local API.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/tools.sh

# sam validate --lint, then the SAM-transformed template through cfn-lint (0 errors, 0 warnings)
# and the checks only it allows (scripts/template-check.py). Quick, so first.
scripts/template-check.sh

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
sweep_port=$(free_port)
while [ "$sweep_port" = "$port" ]; do sweep_port=$(free_port); done
trap 'scripts/dynamodb-local.sh stop "$port"; scripts/dynamodb-local.sh stop "$sweep_port"' EXIT
scripts/dynamodb-local.sh start "$port"

# The schemathesis stage below uses this DynamoDB Local too.
export DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
cargo test --workspace --locked "$@"

# The sweeps held to their runs' deadlines, of 8,000 and of 100,000 items
# (tests/it/deletion_sweep.rs, `#[ignore]`d in a plain
# `cargo test`) on a DynamoDB Local of its own: about a minute alone, while beside the other
# tests on one emulator it slowed every one of them down (docs/benchmarks.md).
scripts/dynamodb-local.sh start "$sweep_port"
DYNAMODB_ENDPOINT="http://127.0.0.1:$sweep_port" \
  cargo test -p api-tests --test it --locked -- --ignored deletion_sweep::a_partition --nocapture
scripts/dynamodb-local.sh stop "$sweep_port"

.cache/venv/bin/python scripts/vat-differential.py   # VAT verdicts vs python-stdnum (docs/verification.md)

# make dev's emulator and the relay scripts/watch.sh puts in front of it (docs/benchmarks.md).
scripts/runtime-api-check.py

echo "smoke check and schemathesis against the local API" >&2
scripts/schemathesis.sh
