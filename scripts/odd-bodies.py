#!/usr/bin/env python3
"""Bodies that are not UTF-8, and routes that do not exist, through the local API: answered as
API Gateway would, never with the emulator's 500.

    scripts/odd-bodies.py URL TOKEN     (scripts/schemathesis.sh runs it on make test's API)

Creates an organisation, then sends every route that takes a body (and a few that do not) a body
that is not UTF-8, under `application/json`, `text/plain` and no content type, and expects each
answer to be the function's own 4xx with a `message` (API Gateway hands such a body to the
function base64-encoded; `cargo lambda watch` alone answers 500 without calling it: devtools
api-front, in front of it, builds the event the way API Gateway does). Then an unknown route must
be API Gateway's `404 {"message": "Not Found"}`. Deletes the organisation. Exits 1 on any other
answer. Python 3 standard library only.
"""

import http.client
import json
import sys
import urllib.parse
import uuid

ODD = b'{"organisationName": "\xff\xfe Acme", "x": "\xc3\x28"}'
CONTENT_TYPES = ["application/json", "text/plain; charset=utf-8", None]
IDENTITY = "6f1c2d3e-0000-4000-8000-000000000001"


def call(base, token, method, path, body=None, content_type="application/json"):
    url = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    headers = {"Authorization": f"Bearer {token}"}
    if content_type is not None and body is not None:
        headers["Content-Type"] = content_type
    # http.client sends bytes as they are: no encoding, no content type of its own.
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    text = response.read()
    connection.close()
    try:
        return response.status, json.loads(text)
    except ValueError:
        return response.status, text


def main():
    base, token = sys.argv[1].rstrip("/"), sys.argv[2]
    name = f"Odd Bodies {uuid.uuid4().hex[:8]}"
    status, body = call(base, token, "POST", "/api/v1/organisations", json.dumps({
        "organisationName": name, "organisationType": "BUSINESS", "contactEmail": "odd@example.com",
        "acceptedAgreements": [{"agreementSlug": "terms-of-service"}, {"agreementSlug": "privacy-policy"}],
    }).encode())
    if status != 200:
        sys.exit(f"could not create the organisation: {status} {body}")
    slug = body["slug"]["slugValue"]
    org = f"/api/v1/organisations/{slug}"
    routes = [
        ("POST", "/api/v1/registration"),
        ("POST", "/api/v1/organisations"),
        ("PATCH", org),
        ("POST", f"{org}/members"),
        ("PATCH", f"{org}/members/{IDENTITY}"),
        ("POST", f"{org}/validation-status/vat"),
        ("POST", f"{org}/validation-status/email/resend"),
        ("POST", "/api/v1/validations/verify-email/not-a-code"),
        ("POST", f"/api/v1/memberships/{IDENTITY}/accept"),
        ("PATCH", f"/admin/v1/orgs/{IDENTITY}"),
    ]
    failures = []
    for method, path in routes:
        for content_type in CONTENT_TYPES:
            status, answer = call(base, token, method, path, ODD, content_type)
            ok = 400 <= status < 500 and isinstance(answer, dict) and answer.get("message")
            if not ok:
                failures.append(f"{method} {path} ({content_type}): {status} {answer!r:.200}")
    status, answer = call(base, token, "GET", "/api/v1/no/such/route")
    if (status, answer) != (404, {"message": "Not Found"}):
        failures.append(f"GET /api/v1/no/such/route: {status} {answer!r:.200}")
    status, answer = call(base, token, "POST", "/api/v1/no/such/route", ODD)
    if (status, answer) != (404, {"message": "Not Found"}):
        failures.append(f"POST /api/v1/no/such/route (odd body): {status} {answer!r:.200}")
    call(base, token, "DELETE", org)
    checked = len(routes) * len(CONTENT_TYPES) + 2
    if failures:
        print(f"odd bodies: {len(failures)} of {checked} answers not as API Gateway's:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure}", file=sys.stderr)
        sys.exit(1)
    print(f"odd bodies: {checked} answers, each a 4xx with a message", file=sys.stderr)


if __name__ == "__main__":
    main()
