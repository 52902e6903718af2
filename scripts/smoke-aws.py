#!/usr/bin/env python3
"""The parts of a deployed stack that are not plain HTTP, checked after `make deploy`.

    scripts/smoke-aws.py STACK URL TOKEN      (make smoke URL=... TOKEN=... STACK=<stack name>)

1. An outbound event of the smoke check's own create arrives: a temporary SQS queue and a
   temporary rule on the stack's organisations event bus (output OrganisationsEventBusName)
   matching `OrganisationCreated` of this run's organisation name are created, scripts/smoke.py
   runs its flow (create, read, rename, activity, members, delete), and the queue must receive
   the event within SMOKE_EVENT_TIMEOUT seconds (default 120). The rule and the queue are removed
   afterwards, also when something failed.
2. Each scheduled function (<stack>-vat-revalidation, <stack>-purge-sweeper) is invoked with its
   schedule event (tests/events/*-schedule.json) and must answer without a FunctionError.

Uses the AWS CLI (`aws`, or the program in AWS_CLI) with the caller's credentials and region.
Exit status 0 when all passed, 1 otherwise. `make test` runs it against the local API with a
fake AWS CLI (tests/smoke/fake_aws.py) that keeps the requests' state and invokes the local
functions with `cargo lambda invoke`: a dry run of everything but AWS itself.
"""

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AWS = shlex.split(os.environ.get("AWS_CLI", "aws"))
EVENT_TIMEOUT = float(os.environ.get("SMOKE_EVENT_TIMEOUT", "120"))
SCHEDULED = {
    "vat-revalidation": "tests/events/vat-revalidation-schedule.json",
    "purge-sweeper": "tests/events/purge-sweeper-schedule.json",
}


class Failed(Exception):
    pass


def aws(*args, parse=True):
    command = AWS + [str(a) for a in args] + ["--output", "json"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise Failed(f"{' '.join(args[:2])}: {done.stderr.strip()[:500]}")
    if not parse or not done.stdout.strip():
        return {}
    return json.loads(done.stdout)


def outputs(stack):
    stacks = aws("cloudformation", "describe-stacks", "--stack-name", stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


class TemporarySubscriber:
    """A queue and a rule on the bus that forwards `OrganisationCreated` of `name` to it."""

    def __init__(self, stack, bus, name):
        suffix = time.strftime("%H%M%S", time.gmtime())
        self.bus, self.name = bus, name
        self.rule = f"{stack}-smoke-{suffix}"[:64]
        self.queue_url = None
        self.rule_made = False
        self.queue_name = f"{stack}-smoke-{suffix}"[:80]

    def __enter__(self):
        self.queue_url = aws("sqs", "create-queue", "--queue-name", self.queue_name)["QueueUrl"]
        queue_arn = aws("sqs", "get-queue-attributes", "--queue-url", self.queue_url,
                        "--attribute-names", "QueueArn")["Attributes"]["QueueArn"]
        pattern = {"source": ["platform.organisations"], "detail-type": ["OrganisationCreated"],
                   "detail": {"organisationName": [self.name]}}
        rule_arn = aws("events", "put-rule", "--name", self.rule, "--event-bus-name", self.bus,
                       "--event-pattern", json.dumps(pattern))["RuleArn"]
        self.rule_made = True
        policy = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}}]}
        aws("sqs", "set-queue-attributes", "--queue-url", self.queue_url,
            "--attributes", json.dumps({"Policy": json.dumps(policy)}), parse=False)
        aws("events", "put-targets", "--rule", self.rule, "--event-bus-name", self.bus,
            "--targets", json.dumps([{"Id": "smoke", "Arn": queue_arn}]))
        print(f"temporary rule {self.rule} -> queue {self.queue_name}")
        return self

    def wait_for_event(self):
        deadline = time.monotonic() + EVENT_TIMEOUT
        while time.monotonic() < deadline:
            answer = aws("sqs", "receive-message", "--queue-url", self.queue_url,
                         "--wait-time-seconds", "10", "--max-number-of-messages", "10")
            for message in answer.get("Messages", []):
                event = json.loads(message["Body"])
                detail = event.get("detail", {})
                if (event.get("detail-type") == "OrganisationCreated"
                        and detail.get("organisationName") == self.name):
                    return event
        raise Failed(f"no OrganisationCreated of '{self.name}' within {EVENT_TIMEOUT:.0f} s")

    def __exit__(self, *_):
        steps = []
        if self.rule_made:
            steps.append(("events", "remove-targets", "--rule", self.rule,
                          "--event-bus-name", self.bus, "--ids", "smoke"))
            steps.append(("events", "delete-rule", "--name", self.rule,
                          "--event-bus-name", self.bus))
        if self.queue_url:
            steps.append(("sqs", "delete-queue", "--queue-url", self.queue_url))
        for step in steps:
            try:
                aws(*step, parse=False)
            except Failed as error:
                print(f"cleaning up: {error}; remove it by hand")
        print(f"removed the temporary rule and queue")


def invoke_scheduled(stack):
    for function, event in SCHEDULED.items():
        with tempfile.TemporaryDirectory() as work:
            out = Path(work) / "answer.json"
            answer = aws("lambda", "invoke", "--function-name", f"{stack}-{function}",
                         "--cli-binary-format", "raw-in-base64-out",
                         "--payload", f"file://{ROOT / event}", str(out))
            body = out.read_text() if out.exists() else ""
        if answer.get("FunctionError") or answer.get("StatusCode") != 200:
            raise Failed(f"{stack}-{function}: {answer} {body[:500]}")
        print(f"invoked {stack}-{function}: {body[:200]}")


def main():
    if len(sys.argv) != 4 or not all(sys.argv[1:]):
        print("usage: smoke-aws.py STACK URL TOKEN", file=sys.stderr)
        return 2
    stack, url, token = sys.argv[1:]
    name = f"Smoke Event {time.strftime('%y%m%d%H%M%S', time.gmtime())}"
    try:
        bus = outputs(stack)["OrganisationsEventBusName"]
        with TemporarySubscriber(stack, bus, name) as subscriber:
            flow = subprocess.run([sys.executable, str(ROOT / "scripts/smoke.py"), url, token],
                                  env={**os.environ, "SMOKE_NAME": name}, check=False)
            if flow.returncode != 0:
                raise Failed("the HTTP smoke check failed")
            event = subscriber.wait_for_event()
            print(f"received {event['detail-type']} {event['detail'].get('eventId')} "
                  f"of {event['detail'].get('organisationSlug')}")
        invoke_scheduled(stack)
    except (Failed, KeyError, ValueError) as error:
        print(f"smoke check (AWS) FAILED: {error}")
        return 1
    print("smoke check (AWS) passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
