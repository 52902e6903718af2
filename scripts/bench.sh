#!/usr/bin/env bash
# Benchmarks against DynamoDB Local (figures are recorded in docs/benchmarks.md).
#
#   scripts/bench.sh                 every section; the routes table (through the delay proxy,
#                                    DDB_DELAY_MS, default 5) on a DynamoDB Local of its own
#   scripts/bench.sh <filter>        the sections whose name contains <filter>;
#                                    `routes` or `routes:<part of a route's name>` for the table
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/dynamodb-local.sh install

# One fresh DynamoDB Local per run: one that has held the other sections' 100,000 events and
# thousands of tables answers the routes table's requests hundreds of milliseconds late.
run() {
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  scripts/dynamodb-local.sh start "$port"
  # Expanded now: at exit, after a failure, this function's `port` is out of scope.
  trap "scripts/dynamodb-local.sh stop $port" EXIT
  DYNAMODB_ENDPOINT="http://127.0.0.1:$port" cargo bench -p api-tests --bench api -- "$@"
  scripts/dynamodb-local.sh stop "$port"
  trap - EXIT
}

if [ $# -eq 0 ]; then
  run --without-routes
  run routes
else
  run "$@"
fi
