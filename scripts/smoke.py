#!/usr/bin/env python3
"""Post-deploy smoke check: a short real flow against a deployed (or local) API.

    scripts/smoke.py URL TOKEN            (make smoke URL=... TOKEN=...)

URL is the API's base URL (the stack's ApiUrl output, or http://127.0.0.1:9000 for `make dev`),
TOKEN a bearer token of the identity provider the stack trusts (locally: dev-token). Creates an
organisation, reads it, renames it, lists its activity and members, deletes it and checks that
it is gone. Prints each step; exits 1 on the first unexpected answer (after trying to delete
what it created). Python 3 standard library only.

SMOKE_NAME sets the organisation's name (scripts/smoke-aws.py waits for its event).
SMOKE_CONTACT_EMAIL sets the organisation's contact address, which is sent a verification mail;
the default is the SES mailbox simulator's success address, which SES accepts even in the
sandbox and which does not count against the account's reputation.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

CONTACT_EMAIL = os.environ.get("SMOKE_CONTACT_EMAIL", "success@simulator.amazonses.com")
TIMEOUT = float(os.environ.get("SMOKE_TIMEOUT", "30"))


class Unexpected(Exception):
    pass


class Api:
    def __init__(self, base, token):
        self.base = base.rstrip("/")
        self.token = token
        self.step = 0

    def call(self, method, path, expected, body=None, what=""):
        self.step += 1
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode(errors="replace")
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as error:
            print(f"{self.step}. {method} {path}: no answer ({error})")
            raise Unexpected from error
        elapsed = (time.monotonic() - started) * 1000
        line = f"{self.step}. {method} {path} -> {status} ({elapsed:.0f} ms)"
        if status != expected:
            print(f"{line}: expected {expected}")
            print(f"   {text[:2000]}")
            raise Unexpected
        answer = None
        if text:
            try:
                answer = json.loads(text)
            except ValueError:
                print(f"{line}: the body is not JSON: {text[:500]}")
                raise Unexpected
        print(f"{line}{': ' + what(answer) if callable(what) else ''}")
        return answer


def slug_of(organisation):
    """The slug of an organisation answer: `{"slugValue": "..."}` in the contract."""
    slug = organisation.get("slug") if isinstance(organisation, dict) else None
    slug = slug.get("slugValue") if isinstance(slug, dict) else slug
    return slug if isinstance(slug, str) and slug.replace("-", "").isalnum() else None


def check(condition, message):
    if not condition:
        print(f"   unexpected: {message}")
        raise Unexpected


def main():
    if len(sys.argv) != 3 or not sys.argv[1] or not sys.argv[2]:
        print("usage: smoke.py URL TOKEN   (make smoke URL=<api base url> TOKEN=<bearer token>)", file=sys.stderr)
        sys.exit(2)
    api = Api(sys.argv[1], sys.argv[2])
    stamp = time.strftime("%y%m%d%H%M%S", time.gmtime())
    name = os.environ.get("SMOKE_NAME") or f"Smoke Check {stamp}"
    print(f"smoke check of {api.base} (organisation '{name}', contact {CONTACT_EMAIL})")

    identity = None
    try:
        created = api.call(
            "POST",
            "/api/v1/organisations",
            200,
            {
                "organisationName": name,
                "organisationType": "TRIAL",
                "contactEmail": {"email": CONTACT_EMAIL},
                "acceptedAgreements": [
                    {"agreementSlug": "terms-of-service"},
                    {"agreementSlug": "privacy-policy"},
                ],
            },
            what=lambda o: f"created {slug_of(o)} ({o.get('identity')})",
        )
        check(isinstance(created, dict) and created.get("name") == name, f"the name of {created}")
        identity, slug = created.get("identity"), slug_of(created)
        check(identity and slug, "the answer has identity and slug")

        read = api.call("GET", f"/api/v1/organisations/{slug}", 200, what=lambda o: f"read {slug_of(o)}")
        check(read.get("identity") == identity, f"GET answers the created organisation: {read}")

        renamed = f"Smoke Renamed {stamp}"
        patched = api.call(
            "PATCH",
            f"/api/v1/organisations/{slug}",
            200,
            {"organisationName": renamed},
            what=lambda o: f"renamed to '{o.get('name')}'",
        )
        check(patched.get("name") == renamed and slug_of(patched) == slug, f"PATCH applied: {patched}")

        activity = api.call(
            "GET",
            f"/api/v1/organisations/{slug}/activity",
            200,
            what=lambda p: "events " + ", ".join(e.get("type", "?") for e in p.get("content", [])),
        )
        types = [e.get("type") for e in activity.get("content", [])]
        check(
            "ORGANISATION_CREATED" in types and "ORGANISATION_UPDATED" in types,
            f"the activity log records the create and the PATCH: {types}",
        )

        members = api.call(
            "GET",
            f"/api/v1/organisations/{slug}/members",
            200,
            what=lambda p: "members " + ", ".join(f"{m.get('username')} ({m.get('role')})" for m in p.get("content", [])),
        )
        roles = [m.get("role") for m in members.get("content", [])]
        check(roles == ["admin"], f"the creator is the only member, an admin: {roles}")

        api.call("DELETE", f"/api/v1/organisations/{identity}", 204, what=lambda _: "deleted")
        identity = None
        api.call("GET", f"/api/v1/organisations/{slug}", 404, what=lambda _: "gone")
    except Unexpected:
        if identity:
            print(f"cleaning up: DELETE /api/v1/organisations/{identity}")
            try:
                api.call("DELETE", f"/api/v1/organisations/{identity}", 204, what=lambda _: "deleted")
            except Unexpected:
                print(f"could not delete organisation {identity}; delete it by hand")
        print("smoke check FAILED")
        sys.exit(1)
    print("smoke check passed")


if __name__ == "__main__":
    main()
