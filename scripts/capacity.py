#!/usr/bin/env python3
"""Where the design stops, computed from the item sizes the code really writes (docs/capacity.md).

    scripts/capacity.py                      the ceilings, from docs/capacity-items.json
    scripts/capacity.py --vies-ms 800 --txn-ms 20 ...   the same with other assumptions (--help)
    .cache/venv/bin/python scripts/capacity.py measure --api http://127.0.0.1:9000 \\
        --dynamodb http://127.0.0.1:8000 --table organisations-local
                                             runs a real flow through a running `make dev`
                                             (LOCAL_JWT_SECRET of that API in the environment),
                                             then reads every item of the table and writes their
                                             DynamoDB sizes per entity to docs/capacity-items.json

Sizes follow DynamoDB's published rules (attribute names + values; numbers: 1 byte per 2
significant digits + 1; lists and maps: 3 bytes + 1 per element):
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ITEMS = os.path.join(ROOT, "docs", "capacity-items.json")
KB = 1024

# Published limits (docs/capacity.md lists them with their pages).
PARTITION_WCU = 1000  # write units per second per partition
PARTITION_RCU = 3000  # read units per second per partition
QUERY_PAGE = 1024 * KB  # a Query returns at most 1 MB per call
ITEM_MAX = 400 * KB
TRANSACTION_ITEMS = 100
BATCH_WRITE_ITEMS = 25
LAMBDA_TIMEOUT_S = 900
API_ACCOUNT_RPS = 10_000


# ---------------------------------------------------------------------------------------------
# Item sizes


def number_size(text):
    digits = text.lstrip("-").replace(".", "").lstrip("0").rstrip("0") or "0"
    return (len(digits) + 1) // 2 + 1


def value_size(value):
    """Size of one AttributeValue (low-level form: {"S": ...}, {"N": ...}, ...)."""
    (kind, v), = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        return number_size(str(v))
    if kind == "B":
        return len(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in v)
    if kind == "NS":
        return sum(number_size(str(n)) for n in v)
    if kind == "BS":
        return sum(len(b) for b in v)
    if kind == "L":
        return 3 + sum(value_size(e) + 1 for e in v)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(e) + 1 for k, e in v.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item):
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


# ---------------------------------------------------------------------------------------------
# Measuring: a real flow through `make dev`, then every item of the table


def token(sub, email, username):
    out = subprocess.run(
        ["cargo", "run", "-q", "-p", "devtools", "--bin", "dev-token", "--", "--sub", sub,
         "--email", email, "--username", username, "--ttl", "3600"],
        cwd=ROOT, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def call(api, bearer, method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(api + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {bearer}")
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        return error.code, error.read()[:300]


def flow(api, port):
    """Every kind of item, with realistic field lengths: organisations with company details
    and a VAT number, members, invitations, platform events, a registration, a deletion."""
    alice_sub = "00000000-0000-4000-8000-00000000a11c"  # the caller of tests/events
    alice = token(alice_sub, "alice.anderson@acme-cloud.example", "alice.anderson")
    body = {
        "organisationName": "Acme Cloud",  # slug acme-cloud: the one tests/events name
        "organisationType": "BUSINESS",
        "contactEmail": {"email": "operations@acme-cloud.example"},
        "companyName": "Acme Cloud Infrastructure GmbH",
        "companyAddress": "Friedrichstrasse 123, 10117 Berlin, Germany",
        "vatNumber": "DE136695976",
        "acceptedAgreements": [{"agreementSlug": "terms-of-service"},
                               {"agreementSlug": "privacy-policy"}],
    }
    status, answer = call(api, alice, "POST", "/api/v1/organisations", body,
                          {"Idempotency-Key": str(uuid.uuid4())})
    print(f"create acme-cloud: {status}")
    status, answer = call(api, alice, "GET", "/api/v1/organisations/acme-cloud")
    if status != 200:
        raise SystemExit(f"acme-cloud: {status} {answer!r}")
    identity = answer["identity"]
    call(api, alice, "PATCH", "/api/v1/organisations/acme-cloud",
         {"billingEmail": "accounts.payable@acme-cloud.example"})
    for i in range(30):
        call(api, alice, "POST", "/api/v1/organisations/acme-cloud/members",
             {"email": f"firstname.lastname{i:02d}@acme-cloud.example",
              "role": ["developer", "viewer", "billing-admin", "admin"][i % 4],
              "kubernetesRole": ["EDIT", "VIEW", "NONE", "CLUSTER_ADMIN"][i % 4],
              "username": f"firstname.lastname{i:02d}"})
    # Invitations claimed: members with a subject.
    for i in range(3):
        member = token(str(uuid.uuid4()), f"firstname.lastname{i:02d}@acme-cloud.example",
                       f"firstname.lastname{i:02d}")
        call(api, member, "GET", "/api/v1/organisations/acme-cloud/me")
    env = dict(os.environ, PATH=f"{ROOT}/.cache/venv/bin:{os.environ['PATH']}")
    events = sorted(f for f in os.listdir(os.path.join(ROOT, "tests", "events"))
                    if f.endswith(".json") and not f.startswith("vat-"))
    with tempfile.TemporaryDirectory() as tmp:
        for name in events:
            # The fixtures carry a placeholder identity (docs/platform-events.md).
            with open(os.path.join(ROOT, "tests", "events", name)) as f:
                text = f.read().replace("6f1c2d3e-0000-4000-8000-000000000001", identity)
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)
            subprocess.run(["cargo", "lambda", "invoke", "-A", "127.0.0.1", "-P", str(port),
                            "platform-events", "--data-file", os.path.join(tmp, name)],
                           cwd=ROOT, env=env, check=False, capture_output=True)
    print(f"platform events: {len(events)} fixtures invoked")
    bob = token(str(uuid.uuid4()), "bob.builder@builders.example", "bob.builder")
    status, answer = call(api, bob, "POST", "/api/v1/registration", {
        "organisationName": "Builders United", "organisationType": "BUSINESS",
        "contactEmail": {"email": "office@builders.example"},
        "acceptedAgreements": [{"agreementSlug": "terms-of-service"},
                               {"agreementSlug": "privacy-policy"}]})
    print(f"registration: {status}")
    carol = token(str(uuid.uuid4()), "carol.chen@shortlived.example", "carol.chen")
    status, answer = call(api, carol, "POST", "/api/v1/organisations", {
        "organisationName": "Short Lived Trial", "organisationType": "TRIAL",
        "contactEmail": {"email": "carol.chen@shortlived.example"},
        "acceptedAgreements": [{"agreementSlug": "terms-of-service"},
                               {"agreementSlug": "privacy-policy"}]})
    if status == 200:
        status, _ = call(api, carol, "DELETE", f"/api/v1/organisations/{answer['identity']}")
    print(f"create and delete an organisation: {status}")


def measure(args):
    import boto3  # in .cache/venv (aws-sam-cli depends on it)

    flow(args.api.rstrip("/"), args.api.rstrip("/").rsplit(":", 1)[1])
    client = boto3.client("dynamodb", endpoint_url=args.dynamodb, region_name="eu-west-1",
                          aws_access_key_id="local", aws_secret_access_key="local")
    sizes = {}
    for page in client.get_paginator("scan").paginate(TableName=args.table):
        for item in page["Items"]:
            entity = item.get("entity", {}).get("S", "(none)")
            if entity == "activity":
                entity = f"activity {item.get('type', {}).get('S', '?')}"
            elif entity == "resource":
                entity = f"resource {item['sk']['S'].split('#')[0]}"
            elif entity == "member":
                joined = item.get("subject", {"NULL": True}) != {"NULL": True}
                entity = "member (joined)" if joined else "member (invited)"
            sizes.setdefault(entity, []).append(item_size(item))
    measured = {
        "source": (f"scripts/capacity.py measure against {args.api} (table {args.table}): "
                   "the flow in capacity.py, then a scan of every item"),
        "entities": {
            name: {"count": len(v), "median": int(statistics.median(v)),
                   "p95": sorted(v)[max(0, math.ceil(len(v) * 0.95) - 1)], "max": max(v)}
            for name, v in sorted(sizes.items())
        },
    }
    with open(args.out, "w") as f:
        json.dump(measured, f, indent=2)
        f.write("\n")
    print(f"wrote {args.out}: {sum(len(v) for v in sizes.values())} items, "
          f"{len(sizes)} kinds")


# ---------------------------------------------------------------------------------------------
# The ceilings


def units(size, unit):
    return max(1, math.ceil(size / unit))


def ceilings(args):
    with open(args.items) as f:
        measured = json.load(f)["entities"]

    def size(*names):
        """The largest measured size among the named kinds (prefix match)."""
        found = [v["max"] for k, v in measured.items() if any(k.startswith(n) for n in names)]
        if not found:
            raise SystemExit(f"no measured item of kind {names} in {args.items}")
        return max(found)

    profile = size("organisation")
    activity = size("activity")
    member = size("member (")
    by_subject = size("member_by_subject")
    by_email = size("member_by_email")
    ledger = size("ledger")
    resource = size("resource")

    def txn_wcu(*items):
        return 2 * sum(units(s, KB) for s in items)

    groups = []  # (title, what breaks first, design change, [(case, cost, ceiling)])

    # 1. Changes per organisation: all in one partition (ORG#<slug>).
    serial = 1000 / (args.read_ms + args.txn_ms)
    cases = []
    for name, items in (
        ("rename (PATCH)", (profile, activity, by_subject)),
        ("add a member", (profile, activity, member, by_email, by_subject)),
        ("remove a member", (profile, activity, member, by_email, by_subject, by_subject)),
    ):
        wcu = txn_wcu(*items)
        cases.append((name, f"{wcu} WCU ({len(items)} items)",
                      f"{PARTITION_WCU / wcu:.0f}/s by WCU, ~{serial:.0f}/s serialised"))
    groups.append((
        "Changes per second of one organisation (one partition)",
        f"the revision guard: each change reads and rewrites PROFILE, so one organisation's "
        f"changes commit one after another (~{args.read_ms + args.txn_ms:.0f} ms each, "
        f"--read-ms + --txn-ms); concurrent ones retry",
        "per-aspect items with their own guard instead of one PROFILE revision for everything",
        cases))
    # 2. The member list: one strongly consistent Query of every MEMBER# item, sorted in memory.
    one_page = QUERY_PAGE // member
    cases = []
    for n in (1000, one_page, 10_000, 100_000):
        rcu = units(n * member, 4 * KB)
        cases.append((f"{n:,} members", f"{rcu:,} RCU, {math.ceil(n * member / QUERY_PAGE)} "
                      "Query page(s)", f"{PARTITION_RCU / rcu:.1f} lists/s"))
    groups.append((
        "Listing the members of one organisation (any page size)",
        f"every list reads every member item: past {one_page:,} members one list takes several "
        "Query round trips, and the partition's read units cap lists per second",
        "index items per sort order, read a page at a time with a cursor",
        cases))
    # 3. Activity: append-only, constant-cost pages; no LSI, so no 10 GB item-collection cap.
    sweep_rate = PARTITION_WCU / units(activity, KB)
    cases = []
    for n in (100_000, 1_000_000, 10_000_000):
        cases.append((f"{n:,} events", f"{n * activity / 1024**3:.2f} GiB",
                      f"deleting them: {n / sweep_rate / 60:.0f} min at {sweep_rate:.0f} deletes/s"))
    groups.append((
        "Activity items per organisation",
        f"nothing while it grows (constant-cost pages, no LSI so no 10 GB cap); deleting the "
        f"organisation: one {LAMBDA_TIMEOUT_S} s Lambda run sweeps at most "
        f"{int(sweep_rate * LAMBDA_TIMEOUT_S):,} items",
        "a chunked, resumable sweeper (the deletion sweep); TTL or archiving of old events",
        cases))
    # 4. Platform events of one large tenant: one transaction each, all ADDing to one LEDGER.
    event_wcu = txn_wcu(resource, ledger, profile)
    groups.append((
        "Platform events per second of one tenant",
        "every event of a tenant ADDs to its one LEDGER item: concurrent batches of one tenant "
        "conflict there and retry",
        "one transaction per tenant per batch (its resources + one LEDGER ADD of the sum, up to "
        "100 items), SQS FIFO grouped by tenant, or a sharded LEDGER",
        [("one event", f"{event_wcu} WCU (resource, LEDGER, PROFILE check)",
          f"{PARTITION_WCU / event_wcu:.0f}/s by WCU, ~{1000 / args.txn_ms:.0f}/s serialised")]))
    # 5. The VAT job: due organisations from gsi1, VIES at bounded concurrency, one run a day.
    due_per_day = args.organisations * args.vat_share / args.recheck_days
    run_s = due_per_day * args.vies_ms / 1000 / args.vies_concurrency
    budget = (args.vat_timeout_s - 8) * args.vies_concurrency * 1000 / args.vies_ms
    groups.append((
        f"The VAT job at {args.organisations:,} organisations",
        f"the {args.vat_timeout_s} s timeout with one run a day: "
        f"{budget:,.0f} checks a run, so the backlog grows past "
        f"{budget * args.recheck_days / args.vat_share:,.0f} organisations with a VAT number",
        "run hourly, or fan due organisations out to a queue; VIES's per-state concurrency is "
        "then the limit",
        [(f"{due_per_day:,.0f} due a day",
          f"{run_s / 60:.0f} min of VIES ({args.vies_concurrency} at a time, {args.vies_ms:.0f} ms)",
          f"{budget:,.0f} checks per run")]))
    # The whole API.
    groups.append((
        "Requests per second, the whole API",
        "the stage throttle (ApiThrottlingRateLimit) long before DynamoDB or Lambda",
        "raise ApiThrottlingRateLimit (and ask for the account quota)",
        [("all routes", "-", f"{args.stage_rps}/s stage limit, {API_ACCOUNT_RPS:,}/s account")]))

    print(f"Largest measured items (bytes): profile {profile}, activity event {activity}, "
          f"member {member}, member_by_subject {by_subject}, member_by_email {by_email}, "
          f"ledger {ledger}, resource {resource}; largest of all "
          f"{max(v['max'] for v in measured.values())} (limit {ITEM_MAX // KB} KB).")
    print(f"One 1 MB Query page holds {one_page:,} member items.")
    for title, breaks, change, cases in groups:
        print()
        print(f"## {title}")
        print(f"first to break: {breaks}")
        print(f"design change:  {change}")
        for case in cases:
            print(f"  {case[0]:28} {case[1]:44} {case[2]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    m = sub.add_parser("measure", help="run the flow against make dev and measure the items")
    m.add_argument("--api", required=True)
    m.add_argument("--dynamodb", required=True)
    m.add_argument("--table", required=True)
    m.add_argument("--out", default=ITEMS)
    parser.add_argument("--items", default=ITEMS)
    parser.add_argument("--read-ms", type=float, default=5.0,
                        help="BatchGetItem latency in AWS (assumption)")
    parser.add_argument("--txn-ms", type=float, default=15.0,
                        help="TransactWriteItems latency in AWS (assumption)")
    parser.add_argument("--organisations", type=int, default=1_000_000)
    parser.add_argument("--vat-share", type=float, default=1.0,
                        help="share of organisations with a VAT number")
    parser.add_argument("--recheck-days", type=float, default=30.0,
                        help="days between two checks of a valid number (docs/verification.md)")
    parser.add_argument("--vies-ms", type=float, default=500.0, help="VIES answer time")
    parser.add_argument("--vies-concurrency", type=int, default=10,
                        help="MAX_CONCURRENT in shared/src/vat_revalidation.rs")
    parser.add_argument("--vat-timeout-s", type=int, default=300,
                        help="the function's Timeout in template.yaml")
    parser.add_argument("--stage-rps", type=int, default=50,
                        help="ApiThrottlingRateLimit in template.yaml")
    args = parser.parse_args()
    if args.command == "measure":
        measure(args)
    else:
        ceilings(args)


if __name__ == "__main__":
    sys.exit(main())
