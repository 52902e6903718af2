#!/usr/bin/env python3
"""The `make dev` 500 on large responses, reproduced without the functions, and its fix checked.

    scripts/runtime-api-check.py [N]        (scripts/test.sh runs it; needs .cache/venv's cargo-lambda)

Starts `cargo lambda watch --only-lambda-apis` (no function processes) and devtools'
runtime-api-relay in front of it, and plays a Lambda function with a fake runtime client that
behaves as lambda_runtime's client sometimes does: it posts a 22 KB API Gateway response in one
write, reads the emulator's 200 and closes that connection, then asks for the next event on a
new one. Then N HTTP requests are sent through the emulator, first with the fake client talking
to the emulator directly, then through the relay (scripts/watch.sh's set-up).

Directly, many of them end in the emulator's own 500 (it answers the POST before reading its
body, and the close cuts the body short: docs/benchmarks.md, "make dev: the emulator's 500");
that count is printed as evidence and not checked, in case a later cargo-lambda fixes it.
Through the relay every request must answer 200, or this exits 1.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 60
BODY_SIZE = 22_000  # a page of 100 members is about 23 KB


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port} after {seconds} s")


def read_response(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode()] = value.strip().decode()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        rest += chunk
    return lines[0].decode(), headers


def fake_function(port, function):
    """A runtime client: GET next; POST the response in one write; read the 200; close."""
    base = f"/.rt/{function}/2018-06-01/runtime/invocation"
    page = json.dumps({"content": "x" * BODY_SIZE})
    body = json.dumps({"statusCode": 200, "headers": {"content-type": "application/json"},
                       "multiValueHeaders": {}, "cookies": [], "body": page,
                       "isBase64Encoded": False}).encode()
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(f"GET {base}/next HTTP/1.1\r\nhost: runtime\r\n\r\n".encode())
                status, headers = read_response(sock)
            if " 200 " not in status + " ":
                continue
            request_id = headers["lambda-runtime-aws-request-id"]
            with socket.create_connection(("127.0.0.1", port)) as sock:
                head = (f"POST {base}/{request_id}/response HTTP/1.1\r\nhost: runtime\r\n"
                        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n")
                sock.sendall(head.encode() + body)
                read_response(sock)
        except (OSError, EOFError, KeyError):
            time.sleep(0.05)


def run(api_port, runtime_port, function):
    threading.Thread(target=fake_function, args=(runtime_port, function), daemon=True).start()
    statuses = {}
    for _ in range(N):
        url = f"http://127.0.0.1:{api_port}/api/v1/organisations/check/{function}"
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except (OSError, TimeoutError):
            status = "no answer"
        statuses[status] = statuses.get(status, 0) + 1
    return statuses


def main():
    subprocess.run(["cargo", "build", "-q", "-p", "devtools", "--bin", "runtime-api-relay"],
                   cwd=ROOT, check=True)
    target = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=ROOT, check=True,
        capture_output=True).stdout)["target_directory"]
    emulator_port, relay_port = free_port(), free_port()
    env = dict(os.environ, PATH=f"{ROOT}/.cache/venv/bin:{os.environ['PATH']}", RUST_LOG="warn")
    emulator = subprocess.Popen(
        ["cargo", "lambda", "watch", "--only-lambda-apis", "--ignore-changes",
         "--invoke-address", "127.0.0.1", "--invoke-port", str(emulator_port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    relay = subprocess.Popen(
        [f"{target}/debug/runtime-api-relay", str(relay_port), f"127.0.0.1:{emulator_port}",
         str(os.getpid())])
    try:
        wait_listening(emulator_port)
        wait_listening(relay_port)
        # The router (Cargo.toml) sends .../members to "members" and .../activity to "activity":
        # one fake function each, so that the first's leftover long poll does not matter.
        direct = run(emulator_port, emulator_port, "members")
        relayed = run(emulator_port, relay_port, "activity")
    finally:
        relay.terminate()
        emulator.terminate()
        emulator.wait(timeout=30)
    print(f"runtime API check, {N} requests with {BODY_SIZE // 1000} KB responses:")
    print(f"  function -> emulator:          {direct}")
    print(f"  function -> relay -> emulator: {relayed}")
    if relayed != {200: N}:
        print("the relay did not keep every response (scripts/watch.sh, devtools runtime-api-relay)")
        sys.exit(1)


if __name__ == "__main__":
    main()
