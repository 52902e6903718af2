"""Schemathesis hooks for the local API run (scripts/schemathesis.sh).

API Gateway delivers a body that is not valid UTF-8 base64-encoded (`isBase64Encoded: true`), and
the functions answer it with 400 (tests/it/organisations.rs, `binary_bodies_are_400`). The local
emulator (`cargo lambda watch`) cannot represent such a body in an event and fails with its own
500 before any function runs, so those bodies are not sent to it.
"""

import json

import schemathesis


def _utf8(body):
    if isinstance(body, (bytes, bytearray)):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True
    if isinstance(body, str):
        try:
            body.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError):
        return False
    return True


@schemathesis.hook
def filter_body(ctx, body):
    return _utf8(body)
