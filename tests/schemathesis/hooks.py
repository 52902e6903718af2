"""Schemathesis hooks for the local API run (scripts/schemathesis.sh).

Bodies are sent as generated, UTF-8 or not: API Gateway delivers a body that is not valid UTF-8
base64-encoded (`isBase64Encoded: true`) and the functions answer it with 400
(tests/it/organisations.rs, `binary_bodies_are_400`); locally, devtools api-front builds that
event in front of `cargo lambda watch`, which would fail with its own 500 (scripts/watch.sh).

A header value that is not UTF-8 is not sent (schemathesis sends `Idempotency-Key: caf\xe9` as
Latin-1 when it tries values outside the documented printable-ASCII pattern): the emulator cannot
put it in an event, and what API Gateway does with one is not documented. The functions answer a
key that is not printable ASCII with 400 (`shared::api::idempotency`).
"""

import os
import uuid

import schemathesis


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


# The stateful run (scripts/schemathesis.sh sets SCHEMATHESIS_STATEFUL=1) follows a link only from
# a 2xx, so its creates must succeed: a name already taken answers 409, and the schema cannot say
# that both agreements must be accepted (OpenAPI 3.0 has no `contains`), so most generated bodies
# answer 400. In that run each create gets a name of its own and accepts both agreements; the
# single-request phases send the bodies as generated.
AGREEMENTS = [{"agreementSlug": "terms-of-service"}, {"agreementSlug": "privacy-policy"}]


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if os.environ.get("SCHEMATHESIS_STATEFUL") != "1":
        return
    if case.operation.method.upper() == "POST" and case.operation.path in (
        "/api/v1/organisations",
        "/api/v1/registration",
    ):
        body = case.body
        if isinstance(body, dict):
            if isinstance(body.get("organisationName"), str):
                body["organisationName"] = f"{body['organisationName']} {uuid.uuid4().hex[:8]}"
            body["acceptedAgreements"] = AGREEMENTS
