"""Creates the template's stateful resources (DynamoDB tables, SQS queues, S3 buckets, event buses, secrets) in
the emulator.

Names follow ``<stack>-<LogicalId>``; the returned :class:`Stack` resolves ``Ref``/``GetAtt``/``Sub``
the way CloudFormation would, so each function's environment comes straight from the template.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import boto3

from local.template import parameter_defaults

LOCAL_USER_POOL_ID = "us-east-1_synchublocal"

ACCOUNT_ID = "123456789012"
TABLE_PROPERTIES = (
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "BillingMode",
    "StreamSpecification",
    "ProvisionedThroughput",
)


@dataclass
class Stack:
    name: str
    region: str
    parameters: dict[str, Any]
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)

    def record_queue(self, logical_id: str, name: str, url: str, arn: str) -> None:
        self.refs[logical_id] = url
        self.attributes[logical_id] = {"Arn": arn, "QueueName": name, "QueueUrl": url}

    def record_table(self, logical_id: str, name: str, description: dict[str, Any]) -> None:
        """Record a table from its CreateTable/DescribeTable description."""
        self.refs[logical_id] = name
        self.attributes[logical_id] = {"Arn": description["TableArn"]}
        if description.get("LatestStreamArn"):
            self.attributes[logical_id]["StreamArn"] = description["LatestStreamArn"]

    def record_event_bus(self, logical_id: str, name: str, arn: str) -> None:
        self.refs[logical_id] = name
        self.attributes[logical_id] = {"Arn": arn, "Name": name}

    def record_secret(self, logical_id: str, arn: str) -> None:
        self.refs[logical_id] = arn
        self.attributes[logical_id] = {"Id": arn}

    def record_bucket(self, logical_id: str, name: str) -> None:
        self.refs[logical_id] = name
        self.attributes[logical_id] = {
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{self.region}.amazonaws.com",
        }

    def pseudo(self, name: str) -> str | None:
        return {
            "AWS::StackName": self.name,
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }.get(name)

    def resolve(self, value: Any) -> Any:
        """Evaluate intrinsic functions in ``value`` (those the local stack needs)."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return self.attributes.get(logical, {}).get(attribute, f"{logical}.{attribute}")
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
                return re.sub(
                    r"\$\{([^}]+)\}", lambda m: str(variables.get(m.group(1)) or self._sub_var(m.group(1))), text
                )
            if key == "Fn::Join":
                return str(arg[0]).join(str(self.resolve(v)) for v in arg[1])
        return {k: self.resolve(v) for k, v in value.items()}

    def _ref(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        pseudo = self.pseudo(name)
        if pseudo is not None:
            return pseudo
        return self.refs.get(name, name)

    def _sub_var(self, name: str) -> Any:
        if "." in name:
            logical, attribute = name.split(".", 1)
            return self.attributes.get(logical, {}).get(attribute, name)
        return self._ref(name)


NAME_PROPERTY = {
    "AWS::SQS::Queue": "QueueName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::Events::EventBus": "Name",
    "AWS::SecretsManager::Secret": "Name",
}


def physical_name(stack_name: str, logical_id: str, resource: dict[str, Any]) -> str:
    """The name a resource gets locally: its explicit name, else ``<stack>-<LogicalId>`` (lower case for buckets)."""
    name = (resource.get("Properties") or {}).get(NAME_PROPERTY[resource["Type"]])
    name = name if isinstance(name, str) else f"{stack_name}-{logical_id}"
    return name.lower() if resource["Type"] == "AWS::S3::Bucket" else name


def create_resources(
    template: dict[str, Any],
    *,
    stack_name: str = "synchub-local",
    region: str = "us-east-1",
    session: boto3.session.Session | None = None,
    parameters: dict[str, Any] | None = None,
) -> Stack:
    """Create every DynamoDB table, SQS queue, S3 bucket and Glue database of the template; return the resolved
    stack.
    ``parameters`` override the template's parameter defaults."""
    session = session or boto3.session.Session(region_name=region)
    stack = Stack(stack_name, region, {**parameter_defaults(template), **(parameters or {})})
    resources = template["Resources"]
    # Queues first without redrive (a dead-letter queue must exist before it is referenced).
    sqs = session.client("sqs", region_name=region)
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::SQS::Queue":
            continue
        props = resource.get("Properties") or {}
        name = physical_name(stack_name, logical_id, resource)
        attributes = {"FifoQueue": "true"} if props.get("FifoQueue") else {}
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        stack.record_queue(logical_id, name, url, arn)
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::SQS::Queue":
            continue
        props = stack.resolve(resource.get("Properties") or {})
        attributes = {
            key: str(props[key])
            for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds")
            if key in props
        }
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        if attributes:
            sqs.set_queue_attributes(QueueUrl=stack.refs[logical_id], Attributes=attributes)

    dynamodb = session.client("dynamodb", region_name=region)
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::DynamoDB::Table":
            continue
        props = stack.resolve(resource.get("Properties") or {})
        name = physical_name(stack_name, logical_id, resource)
        params = {key: props[key] for key in TABLE_PROPERTIES if key in props}
        if "StreamSpecification" in params:  # CloudFormation's form names only the view type
            params["StreamSpecification"] = {"StreamEnabled": True, **params["StreamSpecification"]}
        description = dynamodb.create_table(TableName=name, **params)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        stack.record_table(logical_id, name, description)

    s3 = session.client("s3", region_name=region)
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::S3::Bucket":
            continue
        name = physical_name(stack_name, logical_id, resource)
        s3.create_bucket(Bucket=name)
        versioning = (resource.get("Properties") or {}).get("VersioningConfiguration")
        if versioning:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=versioning)
        stack.record_bucket(logical_id, name)

    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Cognito::UserPool":
            # The local user pool (local.auth) stands in for it; its id names the tokens' issuer.
            stack.refs[logical_id] = LOCAL_USER_POOL_ID
    record_names_of_code_and_roles(stack, resources)
    scheduler = session.client("scheduler", region_name=region)
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Scheduler::ScheduleGroup":
            name = str(stack.resolve((resource.get("Properties") or {}).get("Name")) or f"{stack_name}-{logical_id}")
            arn = scheduler.create_schedule_group(Name=name)["ScheduleGroupArn"]
            stack.refs[logical_id] = name
            stack.attributes[logical_id] = {"Arn": arn}
    glue = session.client("glue", region_name=region)
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Glue::Database":
            database = stack.resolve((resource.get("Properties") or {}).get("DatabaseInput") or {})
            glue.create_database(DatabaseInput=database)
            stack.refs[logical_id] = database["Name"]
    events = session.client("events", region_name=region)
    secrets = session.client("secretsmanager", region_name=region)
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Events::EventBus":
            name = physical_name(stack_name, logical_id, resource)
            stack.record_event_bus(logical_id, name, events.create_event_bus(Name=name)["EventBusArn"])
        elif resource["Type"] == "AWS::SecretsManager::Secret":
            props = resource.get("Properties") or {}
            stack.record_secret(
                logical_id,
                secrets.create_secret(
                    Name=physical_name(stack_name, logical_id, resource),
                    SecretString=_generated_secret(props.get("GenerateSecretString") or {})
                    or props.get("SecretString", ""),
                )["ARN"],
            )
    return stack


def record_names_of_code_and_roles(stack: Stack, resources: dict[str, Any]) -> None:
    """The ARNs functions and roles would have (the local stack runs the code in-process; these only name it,
    as where EventBridge Scheduler's targets point)."""
    for logical_id, resource in resources.items():
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            stack.attributes[logical_id] = {
                "Arn": f"arn:aws:lambda:{stack.region}:{ACCOUNT_ID}:function:{stack.name}-{logical_id}"
            }
        elif resource["Type"] == "AWS::IAM::Role":
            stack.attributes[logical_id] = {"Arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{stack.name}-{logical_id}"}


def _generated_secret(spec: dict[str, Any]) -> str | None:
    """What ``GenerateSecretString`` makes: a random string, inside the template JSON under its key."""
    if not spec:
        return None
    import secrets

    length = int(spec.get("PasswordLength", 32))
    value = secrets.token_urlsafe(length)[:length]
    if spec.get("GenerateStringKey"):
        return json.dumps({**json.loads(spec.get("SecretStringTemplate") or "{}"), spec["GenerateStringKey"]: value})
    return value


# What the emulator cannot do, turned off: moto has no Glue table optimizers, so the engine maintains tables itself.
NOT_EMULATED = {"TABLE_OPTIMIZER_ROLE_ARN": ""}


def function_environment(stack: Stack, environment: dict[str, Any]) -> dict[str, str]:
    """A function's environment variables with every intrinsic resolved to the local resources."""
    return {key: NOT_EMULATED.get(key, str(stack.resolve(value))) for key, value in environment.items()}


def attach_resources(
    template: dict[str, Any],
    *,
    stack_name: str = "synchub-local",
    region: str = "us-east-1",
    session: boto3.session.Session | None = None,
    parameters: dict[str, Any] | None = None,
) -> Stack:
    """The stack as already created by :func:`create_resources` in a running emulator (looked up, not made)."""
    session = session or boto3.session.Session(region_name=region)
    stack = Stack(stack_name, region, {**parameter_defaults(template), **(parameters or {})})
    sqs = session.client("sqs", region_name=region)
    dynamodb = session.client("dynamodb", region_name=region)
    record_names_of_code_and_roles(stack, template["Resources"])
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Scheduler::ScheduleGroup":
            stack.refs[logical_id] = str(stack.resolve((resource.get("Properties") or {}).get("Name")))
            continue
        if resource["Type"] not in NAME_PROPERTY:
            continue
        name = physical_name(stack_name, logical_id, resource)
        if resource["Type"] == "AWS::SQS::Queue":
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            stack.record_queue(logical_id, name, url, arn)
        elif resource["Type"] == "AWS::DynamoDB::Table":
            stack.record_table(logical_id, name, dynamodb.describe_table(TableName=name)["Table"])
        elif resource["Type"] == "AWS::Events::EventBus":
            bus = session.client("events", region_name=region).describe_event_bus(Name=name)
            stack.record_event_bus(logical_id, name, bus["Arn"])
        elif resource["Type"] == "AWS::SecretsManager::Secret":
            secret = session.client("secretsmanager", region_name=region).describe_secret(SecretId=name)
            stack.record_secret(logical_id, secret["ARN"])
        else:
            stack.record_bucket(logical_id, name)
    return stack
