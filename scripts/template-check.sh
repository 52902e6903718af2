#!/usr/bin/env bash
# The deployable template: `sam validate --lint` of template.yaml, then the SAM transform of it
# linted by cfn-lint (0 errors, 0 warnings) and checked for what only the transformed template
# shows (scripts/template-check.py). No AWS call, no credentials.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
venv="$root/.cache/venv"
export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-eu-west-1}

echo "sam validate --lint template.yaml" >&2
"$venv/bin/sam" validate --lint -t template.yaml

echo "SAM transform + cfn-lint of the transformed template" >&2
"$venv/bin/python" scripts/template-check.py
