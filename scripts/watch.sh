#!/usr/bin/env bash
# Serves every function with `cargo lambda watch` on 127.0.0.1:$PORT, routed by real path (the
# router in Cargo.toml), passing the functions the configuration of the calling script's
# environment. Extra arguments go to `cargo lambda watch` (e.g. --ignore-changes).
#
# The functions reach the emulator's Lambda Runtime API through a relay (devtools
# runtime-api-relay, set up by scripts/lambda-runner.sh as the functions' cargo runner): without
# it, now and then a response larger than about 16 KB ends in a 500 written by the emulator
# (docs/benchmarks.md, "make dev: the emulator's 500").
#
# In front of it, on $PORT, devtools api-front: it hands every request to the emulator as it came,
# except a body that is not UTF-8 under a text content type, which the emulator answers with a
# 500 of its own and API Gateway passes to the function base64-encoded; the front builds that
# event and invokes the function itself (devtools/src/api_front.rs). The emulator listens on a
# port of its own (free, chosen here).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
env_args=()
for name in TABLE_NAME AWS_ENDPOINT_URL_DYNAMODB AWS_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY \
            LOCAL_JWT_SECRET RUST_LOG MAIL_OUTBOX_DIR PUBLIC_API_URL VIES_BASE_URL VIES_TIMEOUT_MS; do
  [ -n "${!name:-}" ] && env_args+=(--env-var "$name=${!name}")
done

if (exec 3<>"/dev/tcp/127.0.0.1/${PORT:?PORT}") 2>/dev/null; then
  echo "port $PORT is in use: stop what listens there or choose another PORT" >&2
  exit 1
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
relay_port=$(free_port)
emulator_port=$(free_port)
cargo build -q -p devtools --bin runtime-api-relay --bin api-front
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
# $$ stays this process's id after the exec below: relay and front exit with `cargo lambda watch`.
"$target/debug/runtime-api-relay" "$relay_port" "127.0.0.1:$emulator_port" $$ &
"$target/debug/api-front" "${PORT:?PORT}" "127.0.0.1:$emulator_port" $$ &
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$relay_port") 2>/dev/null && break
  sleep 0.1
done
export RUNTIME_API_RELAY="127.0.0.1:$relay_port"
host=$(rustc -vV | sed -n 's/^host: //p')
runner="CARGO_TARGET_$(echo "$host" | tr 'a-z.-' 'A-Z__')_RUNNER"
export "$runner=$root/scripts/lambda-runner.sh"

PATH="$root/.cache/venv/bin:$PATH" exec cargo lambda watch --invoke-address 127.0.0.1 \
  --invoke-port "$emulator_port" "${env_args[@]}" "$@"
