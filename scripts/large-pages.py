#!/usr/bin/env python3
"""Large pages through the local API: every answer of 18-27 KB must arrive.

    scripts/large-pages.py URL TOKEN [REQUESTS]     (scripts/schemathesis.sh runs it on make test's API)

Creates an organisation, adds 150 members, then asks REQUESTS times (default 300) for a page of
100 members (about 23 KB) and 100 times for a page of 100 activity events (about 27 KB), one at a
time, and deletes the organisation. Before scripts/watch.sh put a relay between the functions
and `cargo lambda watch`, about 1 in 100-1,000 of these answered the emulator's own 500
(docs/benchmarks.md, "make dev: the emulator's 500"). Exits 1 on any answer but 200.
Python 3 standard library only.
"""

import json
import sys
import urllib.error
import urllib.request
import uuid

MEMBERS = 150


def call(base, token, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read()
            return response.status, text
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def main():
    base, token = sys.argv[1].rstrip("/"), sys.argv[2]
    requests = int(sys.argv[3]) if len(sys.argv) > 3 else 300
    status, text = call(base, token, "POST", "/api/v1/organisations", {
        "organisationName": f"Large Pages {uuid.uuid4().hex[:8]}",
        "organisationType": "BUSINESS",
        "contactEmail": "ops@large-pages.example",
        "acceptedAgreements": [{"agreementSlug": "terms-of-service"},
                               {"agreementSlug": "privacy-policy"}]})
    if status != 200:
        sys.exit(f"large pages: could not create the organisation: {status} {text[:300]!r}")
    organisation = json.loads(text)
    slug = organisation["slug"]
    slug = slug.get("slugValue") if isinstance(slug, dict) else slug
    failed = False
    try:
        for i in range(MEMBERS):
            status, text = call(base, token, "POST", f"/api/v1/organisations/{slug}/members",
                                {"email": f"member-{i:04d}@large-pages.example", "role": "developer",
                                 "username": f"member-{i:04d}"})
            if status != 200:
                sys.exit(f"large pages: adding member {i}: {status} {text[:300]!r}")
        for path, count in ((f"/api/v1/organisations/{slug}/members?size=100", requests),
                            (f"/api/v1/organisations/{slug}/activity?size=100", 100)):
            statuses, sizes, example = {}, set(), None
            for _ in range(count):
                status, text = call(base, token, "GET", path)
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    sizes.add(len(text))
                else:
                    example = example or f"{status} {text[:200]!r}"
            print(f"large pages: GET {path} x {count}: {statuses}, "
                  f"answers of {sorted(sizes)} bytes")
            if example:
                print(f"large pages: for example {example}")
                failed = True
    finally:
        call(base, token, "DELETE", f"/api/v1/organisations/{slug}")
    if failed:
        sys.exit(1)

if __name__ == "__main__":
    main()
