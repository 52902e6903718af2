#!/usr/bin/env bash
# Every test: unit and integration tests against one DynamoDB Local, then the template lint.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/tools.sh

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
scripts/dynamodb-local.sh start "$port"
trap 'scripts/dynamodb-local.sh stop "$port"' EXIT

export DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
cargo test --workspace --locked "$@"

echo "schemathesis: openapi.yaml against the local API" >&2
scripts/schemathesis.sh

echo "sam validate --lint template.yaml" >&2
SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=eu-west-1 .cache/venv/bin/sam validate --lint -t template.yaml
