"""Rules AWS enforces when it creates or runs the stack, which neither moto nor the linters check. Each rule
takes the deployed template (:func:`tests.deploy.transformed.deployed`) and returns its violations, one
sentence each: an empty list means the rule holds."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[2]
Template = dict[str, Any]

# Lambda refuses an SQS event source whose queue's visibility timeout is below the function's timeout; AWS
# advises six times it for the queues a function reads, so a message is not received twice while retried.
VISIBILITY_PER_TIMEOUT = 6
# Fewer receives than this and a throttled or briefly failing function sends messages to the dead-letter queue.
MIN_MAX_RECEIVE_COUNT = 5
# Lambda keeps this much of an account's concurrency unreserved: reserving more is refused.
UNRESERVED_MINIMUM = 100
# Worst cases for names built from pseudo parameters (a stack name may have 128 characters).
LONGEST = {
    "AWS::StackName": "s" * 128,
    "AWS::Region": "ap-southeast-5",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws-us-gov",
    "AWS::URLSuffix": "amazonaws.com.cn",
    "AWS::StackId": "arn:aws-us-gov:cloudformation:ap-southeast-5:123456789012:stack/"
    + "s" * 128
    + "/4b2a3c10-cbb1-11ef-9a1f-0affd1a0e1c3",
}
# (resource type, path to its name) → the longest name AWS accepts. Those marked global are unique per
# account, not per region: the same stack in a second region collides unless the name has the region in it.
NAMES: dict[tuple[str, tuple[str, ...]], tuple[int, bool]] = {
    ("AWS::CloudFront::OriginAccessControl", ("OriginAccessControlConfig", "Name")): (64, True),
    ("AWS::CloudFront::CachePolicy", ("CachePolicyConfig", "Name")): (128, True),
    ("AWS::CloudFront::ResponseHeadersPolicy", ("ResponseHeadersPolicyConfig", "Name")): (128, True),
    ("AWS::CloudFront::OriginRequestPolicy", ("OriginRequestPolicyConfig", "Name")): (128, True),
    ("AWS::CloudFront::Function", ("Name",)): (64, True),
    ("AWS::CloudWatch::Dashboard", ("DashboardName",)): (255, True),
    ("AWS::IAM::Role", ("RoleName",)): (64, True),
    ("AWS::IAM::ManagedPolicy", ("ManagedPolicyName",)): (128, True),
    ("AWS::S3::Bucket", ("BucketName",)): (63, True),
    ("AWS::Lambda::LayerVersion", ("LayerName",)): (140, False),
    ("AWS::Lambda::Function", ("FunctionName",)): (64, False),
    ("AWS::Cognito::UserPool", ("UserPoolName",)): (128, False),
    ("AWS::Cognito::UserPoolClient", ("ClientName",)): (128, False),
    ("AWS::Cognito::UserPoolDomain", ("Domain",)): (63, False),
    ("AWS::Logs::LogGroup", ("LogGroupName",)): (512, False),
    ("AWS::Events::EventBus", ("Name",)): (256, False),
    ("AWS::SQS::Queue", ("QueueName",)): (80, False),
    ("AWS::DynamoDB::Table", ("TableName",)): (255, False),
}


def resources(template: Template, kind: str | None = None) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if kind is None or r["Type"] == kind}


def props(resource: dict[str, Any]) -> dict[str, Any]:
    return resource.get("Properties") or {}


def target(value: Any) -> str | None:
    """The logical id a Ref or GetAtt names."""
    if isinstance(value, dict) and len(value) == 1:
        ((name, args),) = value.items()
        if name == "Ref" and isinstance(args, str):
            return args
        if name == "Fn::GetAtt":
            return args[0] if isinstance(args, list) else str(args).split(".")[0]
    return None


def function_timeout(template: Template, function: str) -> int:
    return int(props(template["Resources"][function]).get("Timeout", 3))


def dead_letter_queues(template: Template) -> set[str]:
    return {
        target(props(q).get("RedrivePolicy", {}).get("deadLetterTargetArn"))
        for q in resources(template, "AWS::SQS::Queue").values()
        if props(q).get("RedrivePolicy")
    }


def queue_event_sources(template: Template) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(queue, function, mapping properties) of every SQS event source mapping."""
    queues = resources(template, "AWS::SQS::Queue")
    for mapping in resources(template, "AWS::Lambda::EventSourceMapping").values():
        queue = target(props(mapping).get("EventSourceArn"))
        if queue in queues:
            yield queue, target(props(mapping)["FunctionName"]), props(mapping)


# ---------------------------------------------------------------- queues
def queue_visibility(template: Template) -> list[str]:
    """Each queue a function reads stays invisible ≥ 6 × the function's timeout (≥ the timeout for a
    dead-letter queue's consumer, AWS's own minimum)."""
    found, dead_letters = [], dead_letter_queues(template)
    for queue, function, _ in queue_event_sources(template):
        visibility = int(props(template["Resources"][queue]).get("VisibilityTimeout", 30))
        timeout = function_timeout(template, function)
        needed = timeout if queue in dead_letters else VISIBILITY_PER_TIMEOUT * timeout
        if visibility < needed:
            found.append(
                f"{queue}: visibility timeout {visibility} s is below {needed} s for {function} (timeout {timeout} s)"
            )
    return found


def dead_letter_receives(template: Template) -> list[str]:
    """A message is received at least 5 times before it is dead-lettered."""
    return [
        f"{name}: maxReceiveCount {props(q)['RedrivePolicy'].get('maxReceiveCount')} is below {MIN_MAX_RECEIVE_COUNT}"
        for name, q in resources(template, "AWS::SQS::Queue").items()
        if props(q).get("RedrivePolicy")
        and int(props(q)["RedrivePolicy"].get("maxReceiveCount", 0)) < MIN_MAX_RECEIVE_COUNT
    ]


# ---------------------------------------------------------------- alarms
def _allows_cloudwatch(policy: dict[str, Any]) -> bool:
    needed = {"kms:Decrypt", "kms:GenerateDataKey*"}
    granted: set[str] = set()
    for statement in policy.get("Statement") or []:
        principal = statement.get("Principal") or {}
        services = principal.get("Service") if isinstance(principal, dict) else None
        services = [services] if isinstance(services, str) else services or []
        if statement.get("Effect") == "Allow" and "cloudwatch.amazonaws.com" in services:
            actions = statement.get("Action")
            granted |= set([actions] if isinstance(actions, str) else actions or [])
    return "kms:*" in granted or needed <= granted


def alarm_topic_keys(template: Template) -> list[str]:
    """Every encrypted topic an alarm publishes to uses a key of the stack whose policy lets CloudWatch use it
    (the AWS managed alias/aws/sns cannot: its policy is AWS's)."""
    found = []
    topics = resources(template, "AWS::SNS::Topic")
    for name, alarm in resources(template, "AWS::CloudWatch::Alarm").items():
        actions = [
            a for key in ("AlarmActions", "OKActions", "InsufficientDataActions") for a in props(alarm).get(key, [])
        ]
        for topic in {target(a) for a in actions} & set(topics):
            key = props(topics[topic]).get("KmsMasterKeyId")
            if key is None:
                continue
            key_id = target(key)
            if key_id is None or key_id not in template["Resources"]:
                found.append(f"{name} publishes to {topic}, encrypted with {key!r}, whose policy CloudWatch cannot use")
            elif not _allows_cloudwatch(props(template["Resources"][key_id]).get("KeyPolicy") or {}):
                found.append(
                    f"{name} publishes to {topic}, whose key {key_id} does not let cloudwatch.amazonaws.com "
                    "use it (kms:Decrypt, kms:GenerateDataKey*)"
                )
    return found


def drained_queue_alarms(template: Template) -> list[str]:
    """An alarm on a queue that a function drains cannot watch visible messages: they are gone in seconds."""
    drained = {queue for queue, _, _ in queue_event_sources(template)}
    found = []
    for name, alarm in resources(template, "AWS::CloudWatch::Alarm").items():
        p = props(alarm)
        if p.get("Namespace") == "AWS/SQS" and p.get("MetricName") == "ApproximateNumberOfMessagesVisible":
            queues = {target(d.get("Value")) for d in p.get("Dimensions") or []}
            for queue in queues & drained:
                found.append(f"{name} watches visible messages of {queue}, which a function drains at once")
    return found


# ---------------------------------------------------------------- API
def api_stages(template: Template) -> list[str]:
    """Each REST API has exactly the stage it declares: no deployment makes a stage of its own (SAM's "Stage",
    without the declared stage's throttling, tracing and alarm)."""
    found = [
        f"{name} creates stage {props(d)['StageName']!r}"
        for name, d in resources(template, "AWS::ApiGateway::Deployment").items()
        if props(d).get("StageName")
    ]
    for api in resources(template, "AWS::ApiGateway::RestApi"):
        stages = [
            props(s).get("StageName")
            for s in resources(template, "AWS::ApiGateway::Stage").values()
            if target(props(s).get("RestApiId")) == api
        ]
        if len(stages) != 1:
            found.append(f"{api} has stages {stages}, not exactly one")
    return found


# ---------------------------------------------------------------- names
def _at(mapping: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def render(value: Any, template: Template, longest: dict[str, str] = LONGEST) -> str | None:
    """The longest string ``value`` can become, or None where it depends on something unbounded."""
    if isinstance(value, (str, int)):
        return str(value)
    if not isinstance(value, dict) or len(value) != 1:
        return None
    ((name, args),) = value.items()
    if name == "Ref":
        if args in longest:
            return longest[args]
        spec = (template.get("Parameters") or {}).get(args)
        if spec is not None:
            choices = [str(c) for c in spec.get("AllowedValues") or [spec.get("Default", "")]]
            return max(choices, key=len)
        kind = template["Resources"].get(args, {}).get("Type")
        return "f" * 64 if kind == "AWS::Lambda::Function" else None  # a function's name: at most 64
    if name == "Fn::Sub":
        text, variables = (args, {}) if isinstance(args, str) else args
        pieces = re.split(r"\$\{([^}!]+)\}", text)
        out = []
        for index, piece in enumerate(pieces):
            if index % 2 == 0:
                out.append(piece)
                continue
            part = (
                render(variables[piece], template, longest)
                if piece in variables
                else render(
                    {"Ref": piece} if "." not in piece else {"Fn::GetAtt": piece.split(".", 1)}, template, longest
                )
            )
            if part is None:
                return None
            out.append(part)
        return "".join(out)
    if name == "Fn::Join":
        parts = [render(v, template, longest) for v in args[1]]
        return None if None in parts else args[0].join(parts)  # type: ignore[arg-type]
    if name == "Fn::Select":
        listed = render_list(args[1], template, longest)
        return None if listed is None else listed[int(args[0])]
    return None


def render_list(value: Any, template: Template, longest: dict[str, str]) -> list[str] | None:
    if isinstance(value, list):
        parts = [render(v, template, longest) for v in value]
        return None if None in parts else parts  # type: ignore[return-value]
    if isinstance(value, dict) and "Fn::Split" in value:
        separator, source = value["Fn::Split"]
        text = render(source, template, longest)
        return None if text is None else text.split(separator)
    return None


def named_resources(template: Template) -> Iterator[tuple[str, str, Any, int, bool]]:
    for name, resource in template["Resources"].items():
        for (kind, path), (limit, is_global) in NAMES.items():
            value = _at(props(resource), path) if resource["Type"] == kind else None
            if value is not None:
                yield name, "/".join(path), value, limit, is_global


def global_names(template: Template) -> list[str]:
    """Names unique per account (CloudFront, dashboards, IAM, buckets) include the region."""
    marker = {**LONGEST, "AWS::Region": "REGION-MARKER"}
    found = []
    for name, path, value, _, is_global in named_resources(template):
        rendered = render(value, template, marker)
        if is_global and (rendered is None or "REGION-MARKER" not in rendered):
            found.append(f"{name}: {path} is unique per account but does not include the region")
    return found


def name_lengths(template: Template) -> list[str]:
    """Every name fits AWS's limit for the longest stack name (128 characters) and region."""
    found = []
    for name, path, value, limit, _ in named_resources(template):
        rendered = render(value, template)
        if rendered is None:
            found.append(f"{name}: {path} has no bounded length")
        elif len(rendered) > limit:
            found.append(f"{name}: {path} can be {len(rendered)} characters, over the limit of {limit}")
    return found


# ---------------------------------------------------------------- concurrency
def _schedule_period_seconds(expression: str) -> int | None:
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression.strip())
    if not match:
        return None
    unit = {"minute": 60, "hour": 3600, "day": 86400}[match.group(2).rstrip("s")]
    return int(match.group(1)) * unit


def background_concurrency(template: Template) -> tuple[int, list[str]]:
    """The most invocations the background can hold at once: every SQS event source's maximum concurrency,
    one per stream shard (a new table's stream has one) times its parallelization factor, and for each
    schedule the runs that can overlap. Returns the total and the sources that have no bound."""
    total, unbounded = 0, []
    for queue, function, mapping in queue_event_sources(template):
        maximum = (mapping.get("ScalingConfig") or {}).get("MaximumConcurrency")
        if maximum is None:
            unbounded.append(f"{function} reads {queue} without ScalingConfig.MaximumConcurrency")
        else:
            total += int(maximum)
    queues = set(resources(template, "AWS::SQS::Queue"))
    for mapping in resources(template, "AWS::Lambda::EventSourceMapping").values():
        if target(props(mapping).get("EventSourceArn")) not in queues:
            total += int(props(mapping).get("ParallelizationFactor", 1))
    for rule in resources(template, "AWS::Events::Rule").values():
        period = _schedule_period_seconds(str(props(rule).get("ScheduleExpression", "")))
        for rule_target in props(rule).get("Targets") or [] if period else []:
            function = target(rule_target.get("Arn"))
            if function in template["Resources"]:
                total += math.ceil(function_timeout(template, function) / period)
    return total, unbounded


def concurrency(template: Template) -> list[str]:
    """Within the account concurrency limit the template states (Metadata SyncHub.AccountConcurrency): no
    reserved concurrency Lambda would refuse, and background functions that leave the API its headroom."""
    stated = (template.get("Metadata") or {}).get("SyncHub", {}).get("AccountConcurrency") or {}
    limit, headroom = int(stated.get("Limit", 0)), int(stated.get("ApiHeadroom", 0))
    if not limit:
        return ["the template states no account concurrency limit (Metadata SyncHub.AccountConcurrency.Limit)"]
    found = []
    reserved = {
        name: int(props(f)["ReservedConcurrentExecutions"])
        for name, f in resources(template, "AWS::Lambda::Function").items()
        if "ReservedConcurrentExecutions" in props(f)
    }
    if reserved and limit - sum(reserved.values()) < UNRESERVED_MINIMUM:
        found.append(f"reserved concurrency {reserved} leaves less than {UNRESERVED_MINIMUM} of {limit} unreserved")
    background, unbounded = background_concurrency(template)
    found += unbounded
    if background > limit - headroom:
        found.append(f"background functions can take {background} of {limit}, leaving less than {headroom} for the API")
    return found


# ---------------------------------------------------------------- lifecycle
def log_groups_first(template: Template) -> list[str]:
    """Every function writes to a log group of the stack that exists before it (LoggingConfig): a first run
    (a schedule, a custom resource) cannot make Lambda create the group, which the stack then fails to create."""
    groups = resources(template, "AWS::Logs::LogGroup")
    found = []
    for name, function in resources(template, "AWS::Lambda::Function").items():
        group = target((props(function).get("LoggingConfig") or {}).get("LogGroup"))
        if group not in groups:
            found.append(f"{name} does not write to a log group of the stack (LoggingConfig.LogGroup)")
        elif "RetentionInDays" not in props(groups[group]):
            found.append(f"{group} (of {name}) keeps logs forever")
    return found


def retained_resources(template: Template) -> list[str]:
    """A failed first create leaves nothing behind: data is kept on stack deletion (RetainExceptOnCreate),
    not when the stack never came up. A function's published versions (SAM retains them, so an alias can roll
    back) are the exception: a version cannot outlive its function, and goes with it."""
    return [
        f"{name} has DeletionPolicy Retain; a failed first create would leave it behind"
        for name, r in template["Resources"].items()
        if r.get("DeletionPolicy") == "Retain" and r["Type"] != "AWS::Lambda::Version"
    ]


def custom_resources(template: Template) -> list[str]:
    """Each custom resource has a short ServiceTimeout (not CloudFormation's hour) that its function's
    timeout fits in. (That its handler answers every request, also without its layer, is
    tests/unit/test_custom_resource_answers.py.)"""
    found = []
    for name, resource in template["Resources"].items():
        if not (resource["Type"].startswith("Custom::") or resource["Type"] == "AWS::CloudFormation::CustomResource"):
            continue
        function = target(props(resource).get("ServiceToken"))
        timeout = props(resource).get("ServiceTimeout")
        if function not in template["Resources"]:
            found.append(f"{name}: its ServiceToken is not a function of the stack")
        elif timeout is None or int(timeout) > 900:
            found.append(f"{name}: ServiceTimeout {timeout} lets an unanswered request hold the stack up to an hour")
        elif function_timeout(template, function) > int(timeout):
            found.append(f"{name}: ServiceTimeout {timeout} is shorter than {function}'s timeout")
    return found


PSEUDO = {
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
}


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, list):
        for item in node:
            yield from _references(item)
    elif isinstance(node, dict):
        if len(node) == 1:
            ((name, args),) = node.items()
            if name in ("Ref", "Fn::GetAtt"):
                yield target(node) or ""
                return
            if name == "Fn::Sub":
                text, variables = (args, {}) if isinstance(args, str) else args
                for variable in re.findall(r"\$\{([^}!]+)\}", text):
                    if variable not in variables:
                        yield variable.split(".")[0]
                yield from _references(variables)
                return
        for value in node.values():
            yield from _references(value)


def dangling_references(template: Template) -> list[str]:
    """Every Ref, GetAtt and ${…} names a resource the parameters keep, a parameter or a pseudo parameter."""
    known = set(template["Resources"]) | set(template.get("Parameters") or {}) | PSEUDO
    found = []
    for section in ("Resources", "Outputs"):
        for name, item in (template.get(section) or {}).items():
            for missing in sorted(set(_references(item)) - known):
                found.append(f"{section} {name} refers to {missing}, which this deployment does not create")
    return found


# SnapStart (Python): runtimes from python3.12 on, published versions only, at most 512 MB of ephemeral storage.
SNAPSTART_EPHEMERAL_MB = 512


def snapstart(template: Template) -> list[str]:
    """A function with SnapStart runs a Python SnapStart supports, applies it to published versions, publishes
    one under an alias without provisioned concurrency, keeps at most 512 MB of ephemeral storage, and is called
    by API Gateway through that alias (calls of the unpublished function would never use the snapshot)."""
    found = []
    versions = resources(template, "AWS::Lambda::Version")
    aliases = resources(template, "AWS::Lambda::Alias")
    permissions = resources(template, "AWS::Lambda::Permission")
    for name, function in resources(template, "AWS::Lambda::Function").items():
        snap = props(function).get("SnapStart")
        if not snap:
            continue
        runtime = str(props(function).get("Runtime", ""))
        if not re.fullmatch(r"python3\.(1[2-9]|[2-9]\d)", runtime):
            found.append(f"{name} has SnapStart on {runtime}, which SnapStart does not support")
        if snap.get("ApplyOn") != "PublishedVersions":
            found.append(f"{name} has SnapStart applied to {snap.get('ApplyOn')}, not PublishedVersions")
        if int((props(function).get("EphemeralStorage") or {}).get("Size", 512)) > SNAPSTART_EPHEMERAL_MB:
            found.append(f"{name} has SnapStart and more than {SNAPSTART_EPHEMERAL_MB} MB of ephemeral storage")
        own_aliases = [a for a, r in aliases.items() if target(props(r).get("FunctionName")) == name]
        if not any(target(props(v).get("FunctionName")) == name for v in versions.values()) or not own_aliases:
            found.append(f"{name} has SnapStart but publishes no version under an alias")
        for alias in own_aliases:
            if props(aliases[alias]).get("ProvisionedConcurrencyConfig"):
                found.append(f"{name}'s alias {alias} has provisioned concurrency, which SnapStart refuses")
        invoked = [
            target(props(p).get("FunctionName"))
            for p in permissions.values()
            if props(p).get("Principal") == "apigateway.amazonaws.com"
        ]
        if name in invoked:
            found.append(f"API Gateway calls {name} itself, not its alias: its cold starts never use the snapshot")
    return found


RULES = [
    queue_visibility,
    dead_letter_receives,
    alarm_topic_keys,
    drained_queue_alarms,
    api_stages,
    global_names,
    name_lengths,
    concurrency,
    log_groups_first,
    retained_resources,
    custom_resources,
    dangling_references,
    snapstart,
]
