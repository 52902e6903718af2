#!/usr/bin/env bash
# Serves every function with `cargo lambda watch` on 127.0.0.1:$PORT, routed by real path (the
# router in Cargo.toml), passing the functions the configuration of the calling script's
# environment. Extra arguments go to `cargo lambda watch` (e.g. --ignore-changes).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
env_args=()
for name in TABLE_NAME AWS_ENDPOINT_URL_DYNAMODB AWS_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY \
            LOCAL_JWT_SECRET RUST_LOG MAIL_OUTBOX_DIR PUBLIC_API_URL VIES_BASE_URL VIES_TIMEOUT_MS; do
  [ -n "${!name:-}" ] && env_args+=(--env-var "$name=${!name}")
done
PATH="$root/.cache/venv/bin:$PATH" exec cargo lambda watch --invoke-address 127.0.0.1 \
  --invoke-port "${PORT:?PORT}" "${env_args[@]}" "$@"
