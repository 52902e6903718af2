#!/usr/bin/env python3
"""What `make deploy` checks before it builds or deploys anything (docs/deploy.md).

    deploy-check.py [--config samconfig.toml] [--template template.yaml] ENV

Reads the ENV environment of samconfig.toml and refuses, naming each problem:

- a parameter of template.yaml without a default that `parameter_overrides` does not set;
- a value still at its documentation example: anything with CHANGE-ME / CHANGEME, the
  documentation account 111122223333 (and the other example accounts of AWS's documentation),
  or a host under example.com/.org/.net or .example (RFC 2606);
- a parameter that `parameter_overrides` sets but the template does not declare;
- a stack name longer than the longest physical name built from ${AWS::StackName} allows (each
  such name's limit is in LIMITS below), or not a valid CloudFormation stack name.

Exit status 0 when the environment deploys as configured, 1 otherwise. No AWS call.
Runs with the project's venv Python (scripts/tools.sh package), which has PyYAML via SAM CLI.
"""

import argparse
import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Maximum length of each kind of physical name the template builds from ${AWS::StackName}:
# (resource type, property) -> limit, with the service documentation that sets it.
LIMITS = {
    # Lambda API reference, CreateFunction: FunctionName, "Length Constraints: ... 64" (name only)
    ("AWS::Serverless::Function", "FunctionName"): 64,
    ("AWS::Lambda::Function", "FunctionName"): 64,
    # EventBridge Scheduler API reference, CreateSchedule: Name, "Maximum length of 64"
    ("ScheduleV2", "Name"): 64,
    ("AWS::Scheduler::Schedule", "Name"): 64,
    # EventBridge API reference, CreateEventBus: Name, "Maximum length of 256"
    ("AWS::Events::EventBus", "Name"): 256,
    # EventBridge API reference, CreateArchive: ArchiveName, "Maximum length of 48"
    ("AWS::Events::Archive", "ArchiveName"): 48,
    # EventBridge API reference, PutRule: Name, "Maximum length of 64"
    ("AWS::Events::Rule", "Name"): 64,
    # CloudWatch Logs API reference, CreateLogGroup: logGroupName, "Maximum length of 512"
    ("AWS::Logs::LogGroup", "LogGroupName"): 512,
    # SQS API reference, CreateQueue: QueueName, "up to 80 characters"
    ("AWS::SQS::Queue", "QueueName"): 80,
    # DynamoDB API reference, CreateTable: TableName, "Maximum length of 255"
    ("AWS::DynamoDB::Table", "TableName"): 255,
    # CloudWatch API reference, PutMetricAlarm: AlarmName, "Maximum length of 255"
    ("AWS::CloudWatch::Alarm", "AlarmName"): 255,
}
# CloudFormation API reference, CreateStack: StackName, "[a-zA-Z][-a-zA-Z0-9]*", at most 128.
STACK_NAME = re.compile(r"[a-zA-Z][-a-zA-Z0-9]{0,127}")

PLACEHOLDERS = [
    (re.compile(r"CHANGE-?ME", re.IGNORECASE), "a CHANGE-ME placeholder"),
    # The account ids of AWS's documentation examples.
    (re.compile(r"\b(111122223333|123456789012|444455556666|777788889999)\b"),
     "a documentation example account"),
    (re.compile(r"(^|[./@])example(\.(com|org|net))?($|[/:,.])", re.IGNORECASE),
     "a documentation example domain (RFC 2606)"),
]


def load_toml(path):
    text = path.read_text()
    try:
        import tomllib  # Python 3.11+
        return tomllib.loads(text)
    except ImportError:
        import tomlkit  # a dependency of aws-sam-cli
        return tomlkit.parse(text).unwrap()


def load_template(path):
    from samtranslator.yaml_helper import yaml_parse  # aws-sam-cli's YAML loader (short tags)
    return yaml_parse(path.read_text())


def overrides(value):
    """parameter_overrides as SAM CLI reads it: a list of Key=Value, or one string of them."""
    items = value if isinstance(value, list) else shlex.split(value or "")
    found = {}
    for item in items:
        key, _, val = str(item).partition("=")
        found[key.strip()] = val
    return found


def stack_name_budget(template):
    """The names built from ${AWS::StackName}: (room left for the stack name, description)."""
    budgets = []

    def consider(kind, prop, value, where):
        limit = LIMITS.get((kind, prop))
        if limit is None or not isinstance(value, dict):
            return
        text = value.get("Fn::Sub")
        if isinstance(text, list):
            text = text[0]
        if not isinstance(text, str) or "${AWS::StackName}" not in text:
            return
        rest = text.replace("${AWS::StackName}", "")
        if "${" in rest:
            others = re.findall(r"\$\{[^}]+\}", rest)
            raise SystemExit(f"deploy-check: {where}: cannot size {others} in {text}")
        budgets.append((limit - len(rest), f"{where} = {text} (at most {limit} characters)"))

    for name, resource in template.get("Resources", {}).items():
        kind = resource.get("Type")
        properties = resource.get("Properties", {}) or {}
        for prop, value in properties.items():
            consider(kind, prop, value, f"{name}.{prop}")
        for event_name, event in (properties.get("Events") or {}).items():
            event_props = event.get("Properties", {}) or {}
            consider(event.get("Type"), "Name", event_props.get("Name"),
                     f"{name}.Events.{event_name}.Name")
    return sorted(budgets)


def problems_of(config, template, env):
    problems = []
    section = config.get(env)
    if not isinstance(section, dict):
        return [f"samconfig has no [{env}] environment"]
    stack = (section.get("global", {}).get("parameters", {}).get("stack_name")
             or section.get("deploy", {}).get("parameters", {}).get("stack_name"))
    if not stack:
        problems.append(f"[{env}]: no stack_name")
    else:
        if not STACK_NAME.fullmatch(stack):
            problems.append(f"stack name {stack!r} is not a CloudFormation stack name "
                            "(a letter, then letters, digits and hyphens, at most 128)")
        budgets = stack_name_budget(template)
        if budgets:
            maximum, longest = budgets[0]
            if len(stack) > maximum:
                problems.append(f"stack name {stack!r} has {len(stack)} characters; the maximum is "
                                f"{maximum}, for {longest}")

    given = overrides(section.get("deploy", {}).get("parameters", {}).get("parameter_overrides"))
    declared = template.get("Parameters", {})
    for name in sorted(given):
        if name not in declared:
            problems.append(f"parameter {name} is set but template.yaml has no such parameter")
    for name, parameter in declared.items():
        if "Default" not in parameter and name not in given:
            problems.append(f"parameter {name} is required (no default) and not set in "
                            f"[{env}.deploy.parameters] parameter_overrides")
    for name, value in given.items():
        for pattern, what in PLACEHOLDERS:
            if pattern.search(value):
                problems.append(f"parameter {name}={value} is {what}: set the real value")
                break
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("env", nargs="?", default="default")
    parser.add_argument("--config", type=Path, default=ROOT / "samconfig.toml")
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    args = parser.parse_args(argv)

    problems = problems_of(load_toml(args.config), load_template(args.template), args.env)
    for problem in problems:
        print(f"deploy-check: {problem}", file=sys.stderr)
    if problems:
        print(f"deploy-check: {len(problems)} problem(s) in {args.config.name} [{args.env}]; "
              "nothing was built or deployed (docs/deploy.md)", file=sys.stderr)
        return 1
    print(f"deploy-check: [{args.env}] of {args.config.name} is ready to deploy", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
