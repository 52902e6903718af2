#!/usr/bin/env bash
# Benchmarks against one DynamoDB Local (figures are recorded in docs/benchmarks.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/dynamodb-local.sh install
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
scripts/dynamodb-local.sh start "$port"
trap 'scripts/dynamodb-local.sh stop "$port"' EXIT
DYNAMODB_ENDPOINT="http://127.0.0.1:$port" cargo bench -p api-tests --bench api -- "$@"
