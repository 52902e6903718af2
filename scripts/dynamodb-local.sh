#!/usr/bin/env bash
# AWS DynamoDB Local for tests and the local API.
#
#   scripts/dynamodb-local.sh install            fetch it once into .cache/dynamodb-local
#   scripts/dynamodb-local.sh start PORT         start it in the background (pid in .cache/dynamodb-local/PORT.pid)
#   scripts/dynamodb-local.sh stop PORT          stop an instance started with `start`
#   scripts/dynamodb-local.sh serve PORT [PID]   run it in the foreground; with PID, exit when PID exits
#
# AWS's download site is not reachable from our machines, so DynamoDB Local comes from the npm
# package that ships it (amplify-dynamodb-simulator bundles the official DynamoDBLocal.jar).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/.cache/dynamodb-local"
package="amplify-dynamodb-simulator@2.9.30"
emulator="$cache/package/emulator"

install() {
  [ -f "$emulator/DynamoDBLocal.jar" ] && return 0
  command -v java >/dev/null || { echo "dynamodb-local: java (17+) is required" >&2; exit 1; }
  mkdir -p "$cache"
  local tarball
  tarball=$(cd "$cache" && npm pack --silent "$package" | tail -n 1)
  tar -xzf "$cache/$tarball" -C "$cache"
  rm -f "$cache/$tarball"
  [ -f "$emulator/DynamoDBLocal.jar" ] || { echo "dynamodb-local: $package has no DynamoDBLocal.jar" >&2; exit 1; }
}

# A JVM on a busy 2-core machine can take well over 15 s to start listening.
wait_ready() {
  local port=$1
  for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "dynamodb-local: nothing listens on port $port after 60 s" >&2
  return 1
}

java_cmd() {
  local port=$1
  echo java -Xms64m -Xmx1g -Djava.library.path="$emulator/DynamoDBLocal_lib" \
    -jar "$emulator/DynamoDBLocal.jar" -inMemory -disableTelemetry -port "$port"
}

cmd=${1:-}
case "$cmd" in
  install) install ;;
  start)
    port=${2:?port}
    install
    $(java_cmd "$port") >"$cache/$port.log" 2>&1 &
    echo $! >"$cache/$port.pid"
    wait_ready "$port"
    ;;
  stop)
    port=${2:?port}
    if [ -f "$cache/$port.pid" ]; then kill "$(cat "$cache/$port.pid")" 2>/dev/null || true; rm -f "$cache/$port.pid"; fi
    ;;
  serve)
    port=${2:?port}; parent=${3:-}
    install
    if [ -z "$parent" ]; then exec $(java_cmd "$port"); fi
    $(java_cmd "$port") >"$cache/$port.log" 2>&1 &
    java_pid=$!
    trap 'kill $java_pid 2>/dev/null' EXIT
    wait_ready "$port"
    echo "ready $port"
    # Tests start us with their own pid: when the test process is gone, so are we.
    while kill -0 "$parent" 2>/dev/null && kill -0 "$java_pid" 2>/dev/null; do sleep 0.5; done
    ;;
  *) echo "usage: $0 install | start PORT | stop PORT | serve PORT [PID]" >&2; exit 2 ;;
esac
