#!/usr/bin/env python3
"""The template as CloudFormation deploys it, checked before any deploy.

Runs the SAM transform (samtranslator, the library that aws-sam-cli and CloudFormation's
AWS::Serverless-2016-10-31 transform use) on template.yaml without calling AWS, writes the
result to target/template-check/transformed.json, lints it with cfn-lint (fails on any error or
warning), and checks what only the transformed template shows:

- the HTTP API's routes give each path position one variable name (API Gateway refuses the API
  otherwise: "conflicting variable on the same hierarchical level"), and every route setting
  names a route;
- every resource name, SAM's generated ones included, derives from AWS::StackName;
- no IAM statement grants an action that does not exist (dynamodb:Transact*);
- every alarm reads its metrics through FILL(m, 0).

tests/it/contract.rs checks template.yaml itself. Run by scripts/template-check.sh.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent
# Properties ending in "Name" that do not name their resource in the account.
# DomainName: the operator's own DNS name of the optional custom domain (one per stack by nature).
NOT_OWN_NAMES = {"MetricName", "StageName", "EventBusName", "DomainName"}


class NoManagedPolicies:
    """The template's policies are inline statements: no IAM lookup of managed policy names."""

    def load(self):
        return {}


def sam_transform(template_path):
    template = yaml_parse(template_path.read_text())
    # What `sam package` does: code from S3.
    for name, resource in template["Resources"].items():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = f"s3://artifacts-bucket/{name}.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    return transform(template, {}, NoManagedPolicies())


def path_variable_conflicts(paths):
    names = {}
    for path in paths:
        segments = path.split("/")
        for i, segment in enumerate(segments):
            if segment.startswith("{"):
                level = "/".join("{}" if s.startswith("{") else s for s in segments[:i]) + "/{}"
                names.setdefault(level, set()).add(segment)
    return {level: sorted(n) for level, n in names.items() if len(n) > 1}


def derives_from_stack_name(value):
    if not isinstance(value, dict) or len(value) != 1:
        return False
    (function, argument), = value.items()
    if function == "Fn::Sub":
        text = argument[0] if isinstance(argument, list) else argument
        return isinstance(text, str) and "${AWS::StackName}" in text
    if function == "Fn::Join":
        return {"Ref": "AWS::StackName"} in argument[1]
    return False


def is_reference(value, resources):
    if not isinstance(value, dict) or len(value) != 1:
        return False
    (function, argument), = value.items()
    return function == "Fn::GetAtt" or (function == "Ref" and argument in resources)


def statements(policy_document):
    found = policy_document.get("Statement", []) if isinstance(policy_document, dict) else []
    return found if isinstance(found, list) else [found]


def checks(cfn):
    problems = []
    resources = cfn["Resources"]

    for name, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::ApiGatewayV2::Api":
            paths = list(properties.get("Body", {}).get("paths", {}))
            for level, names in path_variable_conflicts(paths).items():
                problems.append(f"{name}: {level} is called {' and '.join(names)}")
            routes = {
                f"{method.upper()} {path}"
                for path, item in properties.get("Body", {}).get("paths", {}).items()
                for method in item
            }
            for stage_name, stage in resources.items():
                if stage["Type"] == "AWS::ApiGatewayV2::Stage" and stage["Properties"].get("ApiId") == {"Ref": name}:
                    for key in stage["Properties"].get("RouteSettings", {}):
                        if key not in routes:
                            problems.append(f"{stage_name}: route settings for no route: {key}")

        for key, value in properties.items():
            if key.endswith("Name") and key not in NOT_OWN_NAMES:
                if not (derives_from_stack_name(value) or is_reference(value, resources)):
                    problems.append(f"{name}.{key} = {json.dumps(value)} does not derive from AWS::StackName")

        documents = [p.get("PolicyDocument") for p in properties.get("Policies", [])]
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append(properties.get("PolicyDocument"))
        for document in documents:
            for statement in statements(document):
                actions = statement.get("Action", [])
                for action in [actions] if isinstance(actions, str) else actions:
                    if isinstance(action, str) and action.lower().startswith("dynamodb:transact"):
                        problems.append(f"{name}: {action} is not an IAM action")

        if resource["Type"] == "AWS::CloudWatch::Alarm":
            metrics = properties.get("Metrics")
            if not metrics:
                problems.append(f"{name}: a single-metric alarm; use metric math with FILL(m, 0)")
                continue
            expressions = " ".join(m.get("Expression", "") for m in metrics)
            for metric in metrics:
                if "MetricStat" not in metric:
                    continue
                metric_id = metric["Id"]
                filled = re.compile(r"FILL\(\s*" + re.escape(metric_id) + r"\s*,\s*0\s*\)")
                bare = re.compile(r"\b" + re.escape(metric_id) + r"\b")
                if not filled.search(expressions) or bare.search(filled.sub("", expressions)):
                    problems.append(f"{name}: {metric_id} is not read only through FILL({metric_id}, 0)")
    return problems


def main():
    template_path = ROOT / "template.yaml"
    cfn = sam_transform(template_path)
    out_dir = ROOT / "target" / "template-check"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / "transformed.json"
    out.write_text(json.dumps(cfn, indent=1, sort_keys=True))
    print(f"template-check: SAM transform of template.yaml -> {out.relative_to(ROOT)} "
          f"({len(cfn['Resources'])} resources)", file=sys.stderr)

    problems = checks(cfn)
    for problem in problems:
        print(f"template-check: {problem}", file=sys.stderr)

    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    lint = subprocess.run(
        [str(cfn_lint), "--non-zero-exit-code", "warning", "--", str(out)], check=False
    )
    if lint.returncode != 0:
        print("template-check: cfn-lint found errors or warnings in the transformed template", file=sys.stderr)
    if problems or lint.returncode != 0:
        sys.exit(1)
    print("template-check: cfn-lint 0 errors, 0 warnings; path variables, names, IAM actions, alarms ok",
          file=sys.stderr)


if __name__ == "__main__":
    main()
