#!/usr/bin/env bash
# The whole API locally: DynamoDB Local, the table, and every function behind
# `cargo lambda watch` on http://127.0.0.1:${PORT:-9000}, routed by real path (Cargo.toml).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/tools.sh

export PORT=${PORT:-9000}
export DYNAMODB_PORT=${DYNAMODB_PORT:-8000}
export AWS_REGION=${AWS_REGION:-eu-west-1}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-local}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-local}
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT"
export TABLE_NAME=${TABLE_NAME:-organisations-local}
# Development default; documented in the README. Never set LOCAL_JWT_SECRET in AWS.
export LOCAL_JWT_SECRET=${LOCAL_JWT_SECRET:-local-development-secret-change-me}
export RUST_LOG=${RUST_LOG:-info}
# Verification mails land here, one file each (README: "E-mail verification locally").
export MAIL_OUTBOX_DIR=${MAIL_OUTBOX_DIR:-$root/.local/outbox}
export PUBLIC_API_URL=${PUBLIC_API_URL:-http://127.0.0.1:$PORT}
# The console invitation mails link to (docs/members.md).
export CONSOLE_URL=${CONSOLE_URL:-http://127.0.0.1:3000}
# The Commission's VIES; point VIES_BASE_URL at a stand-in when offline (a timeout is "UNAVAILABLE").
export VIES_BASE_URL=${VIES_BASE_URL:-https://ec.europa.eu/taxation_customs/vies/rest-api}
export VIES_TIMEOUT_MS=${VIES_TIMEOUT_MS:-3000}

if ! (exec 3<>"/dev/tcp/127.0.0.1/$DYNAMODB_PORT") 2>/dev/null; then
  scripts/dynamodb-local.sh start "$DYNAMODB_PORT"
  trap 'scripts/dynamodb-local.sh stop "$DYNAMODB_PORT"' EXIT
fi
cargo run -q -p devtools --bin create-table

# Outbound events (docs/events.md): the stream pump hands the table's stream to the event
# publisher, which writes each event to $EVENTS_OUTBOX_DIR as <eventId>.json; it stops with
# this script.
export EVENTS_OUTBOX_DIR=${EVENTS_OUTBOX_DIR:-$root/.local/events}
cargo build -q -p devtools --bin stream-pump
"$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/stream-pump" \
  --parent $$ &

# The purge sweeper's schedule (EventBridge Scheduler in AWS): every PURGE_SWEEP_INTERVAL seconds
# it finishes the partition sweeps that a DELETE left unfinished (shared/src/storage/sweep.rs).
# The loop ends with this script.
export PURGE_SWEEP_INTERVAL=${PURGE_SWEEP_INTERVAL:-300}
(
  while sleep "$PURGE_SWEEP_INTERVAL" && kill -0 $$ 2>/dev/null; do
    PATH="$root/.cache/venv/bin:$PATH" cargo lambda invoke -A 127.0.0.1 -P "$PORT" purge-sweeper \
      --data-file tests/events/purge-sweeper-schedule.json >/dev/null 2>&1 || true
  done
) &

echo "API on http://127.0.0.1:$PORT (token: LOCAL_JWT_SECRET=$LOCAL_JWT_SECRET cargo run -q -p devtools --bin dev-token)" >&2
scripts/watch.sh
