#!/usr/bin/env bash
# Installs the project's tools into .cache (ignored by git): a Python venv with aws-sam-cli and
# cfn-lint (for `sam validate --lint`) and, with `dev`, cargo-lambda + zig (for `cargo lambda
# watch`/`build`); and DynamoDB Local. Idempotent.
#
#   scripts/tools.sh          test tools
#   scripts/tools.sh dev      test tools + cargo-lambda
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.cache/venv"

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
want=("aws-sam-cli==1.170.0" "cfn-lint")
[ "${1:-}" = dev ] && want+=("cargo-lambda==1.9.2" "ziglang")
missing=()
for pkg in "${want[@]}"; do
  name=${pkg%%==*}
  "$venv/bin/pip" show -q "$name" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} into .cache/venv" >&2
  "$venv/bin/pip" install -q "${missing[@]}"
fi
"$root/scripts/dynamodb-local.sh" install
