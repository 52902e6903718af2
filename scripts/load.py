"""Locust file of `make load` (scripts/load.sh): a bounded, mixed load on organisations it creates.

Setup (not counted in the load's figures): LOAD_ORGS organisations (default 3, at most 5: the
per-user limit is 10 creates a day) created with LOAD_TOKEN, each with 20 invited members, and
one request to each function (a local API starts them on first use). Then
every simulated user picks one of them at random for each task:

  reads  (about 4 in 5): GET the organisation, its members (a page of 50), its activity (a page
          of 20), /me, validation status, quotas, compute information
  writes (about 1 in 5): PATCH the organisation's name (a new name every time, so that every 200
          is one change and one activity event, and no mail or VIES call is involved); add an
          invited member; remove one it added

At the end: requests per second, p50/p95/p99 per route, the count of every non-2xx status per
route; then the lost-update check: for each organisation, the activity events and members it has
now must equal those after setup plus the writes that answered 2xx (each is exactly one event);
writes without an answer (none within 60 s, still in flight at the end, or a 5xx, which may
have committed) widen the expected range by one each and are reported as of unknown outcome;
then every organisation it created is deleted (DELETE /api/v1/organisations/{identity}).
Exit status 1 on any 5xx, request without an answer, lost update or failed setup.
"""

import itertools
import os
import random
import threading
import time
import uuid

import requests
from locust import HttpUser, between, events, task

TOKEN = os.environ.get("LOAD_TOKEN", "")
ORGS = max(1, min(int(os.environ.get("LOAD_ORGS", "3")), 5))
SETUP_MEMBERS = 20
PREFIX = "/api/v1/organisations"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}
RUN = uuid.uuid4().hex[:6]

lock = threading.Lock()
organisations = []  # {"slug", "identity", "events0", "members0"}
writes = {}  # slug -> {"events": n, "added": n, "removed": n}: writes answered 2xx
unknown = {}  # slug -> the same, for writes whose outcome is unknown (no answer, or a 5xx)
statuses = {}  # (route, status) -> count, for every non-2xx answer
counter = itertools.count(1)
setup_failed = []


def count(table, slug, kind, n):
    with lock:
        counts = table.setdefault(slug, {"events": 0, "added": 0, "removed": 0})
        counts["events"] += n
        if kind:
            counts[kind] += n


def begin_write(slug, kind):
    """A write in flight counts as of unknown outcome until its answer: one that is still
    waiting when the run stops may or may not be committed."""
    count(unknown, slug, kind, 1)


def note_write(slug, kind, answer, ok):
    """Settles a write: done if its answer is `ok`; of unknown outcome if there was none or a
    5xx (the change may have been committed); not done otherwise (4xx)."""
    count(unknown, slug, kind, -1)
    status = answer.status_code if answer is not None else 0
    if status == ok:
        count(writes, slug, kind, 1)
    elif not status or status >= 500:
        count(unknown, slug, kind, 1)


def totals(session, base, slug):
    activity = session.get(f"{base}{PREFIX}/{slug}/activity?size=1", headers=HEADERS, timeout=900)
    members = session.get(f"{base}{PREFIX}/{slug}/members?size=1", headers=HEADERS, timeout=900)
    activity.raise_for_status()
    members.raise_for_status()
    return activity.json()["totalElements"], members.json()["totalElements"]


@events.request.add_listener
def count_status(request_type, name, response, exception, **_):
    status = getattr(response, "status_code", None) or type(exception).__name__
    if not (isinstance(status, int) and 200 <= status < 300):
        key = (f"{request_type} {name}", status)
        with lock:
            statuses[key] = statuses.get(key, 0) + 1


@events.init.add_listener
def create_organisations(environment, **_):
    base = environment.host.rstrip("/")
    session = requests.Session()
    for n in range(ORGS):
        body = {
            "organisationName": f"Load {RUN} {n}",
            "organisationType": "BUSINESS",
            "contactEmail": {"email": f"ops-{RUN}-{n}@load.example"},
            "acceptedAgreements": [{"agreementSlug": "terms-of-service"},
                                   {"agreementSlug": "privacy-policy"}],
        }
        answer = session.post(base + PREFIX, json=body, headers=HEADERS, timeout=900)
        if answer.status_code != 200:
            setup_failed.append(f"POST {PREFIX} -> {answer.status_code} {answer.text[:300]}")
            break
        organisation = answer.json()
        slug = organisation["slug"]
        slug = slug.get("slugValue") if isinstance(slug, dict) else slug
        for m in range(SETUP_MEMBERS):
            added = session.post(f"{base}{PREFIX}/{slug}/members", headers=HEADERS, timeout=60,
                                 json={"email": f"setup-{m}-{RUN}@load.example", "role": "viewer"})
            if added.status_code != 200:
                setup_failed.append(f"POST members -> {added.status_code} {added.text[:300]}")
        events0, members0 = totals(session, base, slug)
        organisations.append({"slug": slug, "identity": organisation["identity"],
                              "events0": events0, "members0": members0})
    # One request per function first (`cargo lambda watch` builds and starts each on its first
    # request), so that the clock does not measure that.
    for organisation in organisations[:1]:
        slug = organisation["slug"]
        for path in ("", "/me", "/activity", "/validation-status", "/quotas"):
            session.get(f"{base}{PREFIX}/{slug}{path}", headers=HEADERS, timeout=900)
    print(f"load: set up {len(organisations)} organisations: "
          f"{', '.join(o['slug'] for o in organisations)}", flush=True)
    if setup_failed:
        for failure in setup_failed:
            print(f"load: setup failed: {failure}")
        delete_organisations(base)
        raise SystemExit(1)


class Member(HttpUser):
    wait_time = between(0.05, 0.3)
    # A request that gets no answer (e.g. `make dev` restarting a function whose sources
    # changed) ends as an error instead of hanging until the end.
    network_timeout = 60.0
    connection_timeout = 10.0

    def on_start(self):
        self.added = {}  # slug -> [email]

    def organisation(self):
        return random.choice(organisations)["slug"] if organisations else None

    def get(self, path, name):
        self.client.get(path, headers=HEADERS, name=name)

    @task(10)
    def read_organisation(self):
        if slug := self.organisation():
            self.get(f"{PREFIX}/{slug}", f"{PREFIX}/{{slug}}")

    @task(6)
    def read_members(self):
        if slug := self.organisation():
            self.get(f"{PREFIX}/{slug}/members?size=50", f"{PREFIX}/{{slug}}/members")

    @task(4)
    def read_activity(self):
        if slug := self.organisation():
            self.get(f"{PREFIX}/{slug}/activity?size=20", f"{PREFIX}/{{slug}}/activity")

    @task(3)
    def read_me(self):
        if slug := self.organisation():
            self.get(f"{PREFIX}/{slug}/me", f"{PREFIX}/{{slug}}/me")

    @task(2)
    def read_validation(self):
        if slug := self.organisation():
            self.get(f"{PREFIX}/{slug}/validation-status",
                     f"{PREFIX}/{{slug}}/validation-status")

    @task(2)
    def read_quotas(self):
        if slug := self.organisation():
            self.get(f"{PREFIX}/{slug}/quotas", f"{PREFIX}/{{slug}}/quotas")

    @task(1)
    def read_compute(self):
        if slug := self.organisation():
            self.get(f"/api/v1/compute-information/organisation/{slug}",
                     "/api/v1/compute-information/organisation/{slug}")

    @task(4)
    def rename(self):
        if not (slug := self.organisation()):
            return
        name = f"Load {RUN} {next(counter):07d}"
        begin_write(slug, None)
        with self.client.patch(f"{PREFIX}/{slug}", json={"organisationName": name},
                               headers=HEADERS, name=f"{PREFIX}/{{slug}}",
                               catch_response=True) as answer:
            note_write(slug, None, answer, 200)

    @task(2)
    def add_member(self):
        if not (slug := self.organisation()):
            return
        email = f"load-{next(counter)}-{RUN}@load.example"
        begin_write(slug, "added")
        with self.client.post(f"{PREFIX}/{slug}/members", json={"email": email, "role": "viewer"},
                              headers=HEADERS, name=f"{PREFIX}/{{slug}}/members",
                              catch_response=True) as answer:
            note_write(slug, "added", answer, 200)
            if answer.status_code == 200:
                self.added.setdefault(slug, []).append(email)

    @task(1)
    def remove_member(self):
        mine = [(slug, emails) for slug, emails in self.added.items() if emails]
        if not mine:
            return
        slug, emails = random.choice(mine)
        email = emails.pop()
        page = self.client.get(f"{PREFIX}/{slug}/members?size=100&sort=joinedAt,desc",
                               headers=HEADERS, name=f"{PREFIX}/{{slug}}/members")
        if page.status_code != 200:
            return
        identity = next((m["identity"] for m in page.json()["content"]
                         if m["email"]["email"] == email), None)
        if identity is None:
            return
        begin_write(slug, "removed")
        with self.client.delete(f"{PREFIX}/{slug}/members/{identity}", headers=HEADERS,
                                name=f"{PREFIX}/{{slug}}/members/{{identity}}",
                                catch_response=True) as answer:
            note_write(slug, "removed", answer, 204)


def delete_organisations(base):
    session = requests.Session()
    for organisation in organisations:
        answer = session.delete(f"{base}{PREFIX}/{organisation['identity']}", headers=HEADERS,
                                timeout=900)
        if answer.status_code != 204:
            print(f"load: DELETE {organisation['slug']} -> {answer.status_code} {answer.text[:200]}")
    print(f"load: deleted {len(organisations)} organisations")


def report(environment):
    stats = environment.stats
    # From the first request to the last answer: the run's length, without setup and clean-up.
    elapsed = max((stats.total.last_request_timestamp or time.time()) - stats.total.start_time, 1e-9)
    stopped = time.time() - stats.total.start_time
    print()
    print(f"load: {stats.total.num_requests} requests in {elapsed:.0f} s, "
          f"{stats.total.num_requests / elapsed:.1f} requests/s")
    if stopped - elapsed > 15:
        print(f"load: no answer arrived in the last {stopped - elapsed:.0f} s of the run "
              "(with `make dev`: a function rebuilt because its sources changed?)")
    print(f"{'route':66} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
    for entry in sorted(stats.entries.values(), key=lambda e: (e.name, e.method)):
        print(f"{entry.method + ' ' + entry.name:66} {entry.num_requests:8d} {entry.num_requests / elapsed:7.1f} "
              f"{entry.get_response_time_percentile(0.5):7.0f} "
              f"{entry.get_response_time_percentile(0.95):7.0f} "
              f"{entry.get_response_time_percentile(0.99):7.0f}")
    total = stats.total
    print(f"{'all':66} {total.num_requests:8d} {total.num_requests / elapsed:7.1f} "
          f"{total.get_response_time_percentile(0.5):7.0f} "
          f"{total.get_response_time_percentile(0.95):7.0f} "
          f"{total.get_response_time_percentile(0.99):7.0f}")
    print("non-2xx answers:", "none" if not statuses else "")
    for (name, status), count in sorted(statuses.items(), key=lambda kv: str(kv[0])):
        print(f"  {status} {name}: {count}")


@events.quitting.add_listener
def check_and_clean_up(environment, **_):
    report(environment)
    base = environment.host.rstrip("/")
    session = requests.Session()
    lost = []
    for organisation in organisations:
        slug = organisation["slug"]
        done = writes.get(slug, {"events": 0, "added": 0, "removed": 0})
        try:
            events_now, members_now = totals(session, base, slug)
        except requests.RequestException as error:
            lost.append(f"{slug}: could not read its totals ({error})")
            continue
        maybe = unknown.get(slug, {"events": 0, "added": 0, "removed": 0})
        want_events = organisation["events0"] + done["events"]
        want_members = organisation["members0"] + done["added"] - done["removed"]
        print(f"load: {slug}: {done['events']} writes answered 2xx "
              f"({done['added']} members added, {done['removed']} removed), "
              f"{maybe['events']} of unknown outcome; activity events {events_now} "
              f"(expected {want_events}), members {members_now} (expected {want_members})")
        # A write of unknown outcome may or may not be there; anything else is a lost update.
        events_ok = want_events <= events_now <= want_events + maybe["events"]
        members_ok = (want_members - maybe["removed"] <= members_now
                      <= want_members + maybe["added"])
        if not (events_ok and members_ok):
            lost.append(slug)
    delete_organisations(base)
    server_errors = sum(c for (_, s), c in statuses.items() if isinstance(s, int) and s >= 500)
    no_answer = sum(c for (_, s), c in statuses.items() if not isinstance(s, int))
    if lost:
        print(f"load: LOST UPDATES in {lost}")
    if server_errors:
        print(f"load: {server_errors} answers were 5xx")
    if no_answer:
        print(f"load: {no_answer} requests got no answer")
    environment.process_exit_code = 1 if (lost or server_errors or no_answer) else 0
