#!/usr/bin/env python3
"""A stand-in for the AWS CLI in the dry run of scripts/smoke-aws.py (scripts/schemathesis.sh).

Answers the calls smoke-aws.py makes, as the AWS CLI prints them (JSON), keeping state in
FAKE_AWS_STATE (a JSON file): the queue and the rule it creates, their policy and target. The
queue receives an `OrganisationCreated` of the organisation name the rule asks for only when
the queue's policy admits EventBridge on that queue, the rule targets the queue and its
pattern matches the event: the plumbing is checked here, the publisher in
tests/it/event_publisher.rs. A rule deleted with targets left is refused, as by EventBridge. `lambda invoke` runs `cargo lambda invoke` of the local function
(FAKE_AWS_LAMBDA_PORT), so the scheduled functions really run. Every call is appended to
FAKE_AWS_LOG. Fails (exit 254, as the CLI does) on a call it does not know.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

STATE = Path(os.environ["FAKE_AWS_STATE"])
LOG = Path(os.environ["FAKE_AWS_LOG"])
ROOT = Path(__file__).resolve().parent.parent.parent


def load():
    return json.loads(STATE.read_text()) if STATE.exists() else {"queues": {}, "rules": {}}


def save(state):
    STATE.write_text(json.dumps(state))


def option(args, name):
    return args[args.index(name) + 1] if name in args else None


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(254)


def matches(pattern, event):
    for key, wanted in pattern.items():
        value = event.get(key)
        if isinstance(wanted, dict):
            if not isinstance(value, dict) or not matches(wanted, value):
                return False
        elif value not in wanted:
            return False
    return True


def main():
    args = [a for a in sys.argv[1:]]
    if "--output" in args:
        i = args.index("--output")
        del args[i:i + 2]
    with LOG.open("a") as log:
        log.write(json.dumps(args) + "\n")
    service, command = args[0], args[1]
    state = load()
    stack = os.environ.get("FAKE_AWS_STACK", "local-dry-run")

    if (service, command) == ("cloudformation", "describe-stacks"):
        if option(args, "--stack-name") != stack:
            fail(f"Stack with id {option(args, '--stack-name')} does not exist")
        print(json.dumps({"Stacks": [{"Outputs": [
            {"OutputKey": "OrganisationsEventBusName", "OutputValue": f"{stack}-organisations-events"}]}]}))
    elif (service, command) == ("sqs", "create-queue"):
        name = option(args, "--queue-name")
        url = f"https://sqs.eu-west-1.amazonaws.com/210987654321/{name}"
        state["queues"][url] = {"name": name, "messages": [], "policy": None}
        print(json.dumps({"QueueUrl": url}))
    elif (service, command) == ("sqs", "get-queue-attributes"):
        name = state["queues"][option(args, "--queue-url")]["name"]
        print(json.dumps({"Attributes": {"QueueArn": f"arn:aws:sqs:eu-west-1:210987654321:{name}"}}))
    elif (service, command) == ("sqs", "set-queue-attributes"):
        attributes = json.loads(option(args, "--attributes"))
        state["queues"][option(args, "--queue-url")]["policy"] = json.loads(attributes["Policy"])
    elif (service, command) == ("events", "put-rule"):
        name, bus = option(args, "--name"), option(args, "--event-bus-name")
        if bus != f"{stack}-organisations-events":
            fail(f"Event bus {bus} does not exist.")
        state["rules"][name] = {"pattern": json.loads(option(args, "--event-pattern")), "targets": []}
        print(json.dumps({"RuleArn": f"arn:aws:events:eu-west-1:210987654321:rule/{bus}/{name}"}))
    elif (service, command) == ("events", "put-targets"):
        state["rules"][option(args, "--rule")]["targets"] = json.loads(option(args, "--targets"))
        print(json.dumps({"FailedEntryCount": 0, "FailedEntries": []}))
    elif (service, command) == ("sqs", "receive-message"):
        url = option(args, "--queue-url")
        queue = state["queues"][url]
        arn = f"arn:aws:sqs:eu-west-1:210987654321:{queue['name']}"
        admitted = queue["policy"] and any(
            s["Principal"] == {"Service": "events.amazonaws.com"} and s["Resource"] == arn
            for s in queue["policy"]["Statement"])
        messages = []
        for rule in state["rules"].values():
            if not admitted or not any(t["Arn"] == arn for t in rule["targets"]):
                continue
            # The publisher's event of the smoke check's create (tests/it/event_publisher.rs
            # checks the publisher; here the plumbing: policy, target, pattern).
            names = rule["pattern"].get("detail", {}).get("organisationName", [""])
            event = {"version": "0", "source": "platform.organisations",
                     "detail-type": "OrganisationCreated",
                     "detail": {"eventId": "00000000-0000-4000-8000-000000000000",
                                "organisationName": names[0], "organisationSlug": "smoke"}}
            if matches(rule["pattern"], event):
                messages.append({"MessageId": str(len(messages)), "Body": json.dumps(event)})
        print(json.dumps({"Messages": messages} if messages else {}))
    elif (service, command) == ("events", "remove-targets"):
        state["rules"][option(args, "--rule")]["targets"] = []
    elif (service, command) == ("events", "delete-rule"):
        rule = state["rules"].pop(option(args, "--name"))
        if rule["targets"]:
            fail("Rule can't be deleted since it has targets.")
    elif (service, command) == ("sqs", "delete-queue"):
        state["queues"].pop(option(args, "--queue-url"))
    elif (service, command) == ("lambda", "invoke"):
        function = option(args, "--function-name").removeprefix(f"{stack}-")
        payload = option(args, "--payload").removeprefix("file://")
        out = Path(args[-1])
        done = subprocess.run(
            ["cargo", "lambda", "invoke", "-A", "127.0.0.1", "-P", os.environ["FAKE_AWS_LAMBDA_PORT"],
             function, "--data-file", payload], capture_output=True, text=True, cwd=ROOT, check=False)
        out.write_text(done.stdout)
        answer = {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
        if done.returncode != 0:
            answer["FunctionError"] = "Unhandled"
            out.write_text(done.stdout + done.stderr)
        print(json.dumps(answer))
    else:
        fail(f"fake aws: unknown call {service} {command}")
    save(state)


if __name__ == "__main__":
    main()
