#!/usr/bin/env bash
# make load URL=<api base url> TOKEN=<bearer token> [USERS=10] [DURATION=60s] [ORGS=3]
# A bounded, mixed load of reads and writes with Locust (headless) on a few organisations it
# creates with TOKEN and deletes at the end (scripts/load.py says what it does and checks).
# Figures against `make dev` are in docs/benchmarks.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
url=${1:?usage: scripts/load.sh URL TOKEN [USERS] [DURATION] [ORGS]}
token=${2:?usage: scripts/load.sh URL TOKEN [USERS] [DURATION] [ORGS]}
users=${3:-10}
duration=${4:-60s}
orgs=${5:-3}
scripts/tools.sh load >/dev/null
LOAD_TOKEN="$token" LOAD_ORGS="$orgs" exec "$root/.cache/venv/bin/locust" -f scripts/load.py \
  --headless --host "$url" --users "$users" --spawn-rate "$users" --run-time "$duration" \
  --stop-timeout 10 --only-summary --loglevel WARNING
