"""Schemathesis hooks for the local API run (scripts/schemathesis.sh).

API Gateway delivers a body that is not valid UTF-8 base64-encoded (`isBase64Encoded: true`), and
the functions answer it with 400 (tests/it/organisations.rs, `binary_bodies_are_400`). The local
emulator (`cargo lambda watch`) cannot represent such a body in an event and fails with its own
500 before any function runs, so those bodies are not sent to it. The same holds for a header value
that is not UTF-8 (schemathesis sends `Idempotency-Key: caf\xe9` as Latin-1 when it tries values
outside the documented printable-ASCII pattern; the functions answer a key that is not printable
ASCII with 400, `shared::api::idempotency`), so those headers are not sent either.
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



def _utf8_headers(headers):
    """Every header value is UTF-8 on the wire (requests sends text as Latin-1)."""
    for value in (headers or {}).values():
        if isinstance(value, str):
            try:
                value = value.encode("latin-1")
            except UnicodeEncodeError:
                continue
        if isinstance(value, (bytes, bytearray)):
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                return False
    return True


@schemathesis.hook
def filter_headers(ctx, headers):
    return _utf8_headers(headers)


# The coverage phase applies case filters only.
@schemathesis.hook
def filter_case(ctx, case):
    return _utf8_headers(case.headers)
