#!/usr/bin/env bash
# Cargo runner of the functions that `cargo lambda watch` starts (scripts/watch.sh sets it): points
# the function's Lambda Runtime API at scripts/watch.sh's relay (devtools runtime-api-relay),
# http://<relay>/.rt/<function> instead of http://<emulator>/.rt/<function>, then runs it.
set -euo pipefail
if [ -n "${RUNTIME_API_RELAY:-}" ] && [ -n "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
  path=${AWS_LAMBDA_RUNTIME_API#http://}
  path=${path#*/}
  export AWS_LAMBDA_RUNTIME_API="http://$RUNTIME_API_RELAY/$path"
fi
exec "$@"
