"""Each function's IAM policy from template.yaml, and the check that an AWS request it makes is allowed.

The tests run every function against moto, which does not enforce IAM; :class:`PolicyGuard` does: a hook on
the service's boto3 clients maps each request to the IAM actions and resource ARNs AWS would authorise
(a DynamoDB transaction item by item, a Query on its index, S3 objects under their bucket, …) and fails
when the function's own statements do not allow them. So a function whose policy is too narrow fails its
tests here instead of in AWS.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from typing import Any, Iterator

from local.lambda_runtime import invoking
from local.resources import ACCOUNT_ID, Stack
from local.template import evaluate


@dataclass(frozen=True)
class Statement:
    actions: tuple[str, ...]
    resources: tuple[str, ...]

    def allows(self, action: str, resource: str) -> bool:
        return any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in self.actions) and any(
            fnmatch.fnmatchcase(resource, r) for r in self.resources
        )


def _as_tuple(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in (value if isinstance(value, list) else [value]))


def function_statements(template: dict[str, Any], stack: Stack, logical_id: str) -> list[Statement]:
    """The Allow statements of a function's ``Policies`` (inline statements; policy templates are refused so
    every grant is spelled out in the template)."""
    props = template["Resources"][logical_id]["Properties"]
    statements = []
    for policy in props.get("Policies") or []:
        if not isinstance(policy, dict) or set(policy) != {"Statement"}:
            raise AssertionError(f"{logical_id}: write its grants as Statement blocks, not {policy!r}")
        for statement in evaluate(policy["Statement"], template, stack.parameters):
            assert statement.get("Effect") == "Allow", statement
            resolved = stack.resolve(statement["Resource"])
            statements.append(Statement(_as_tuple(statement["Action"]), _as_tuple(resolved)))
    return statements


def _table_arn(stack: Stack, name: str) -> str:
    return f"arn:aws:dynamodb:{stack.region}:{ACCOUNT_ID}:table/{name}"


def requested(stack: Stack, service: str, operation: str, params: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs AWS authorises for one API request."""
    if service == "dynamodb":
        if operation == "TransactWriteItems":
            kinds = {
                "Put": "PutItem",
                "Update": "UpdateItem",
                "Delete": "DeleteItem",
                "ConditionCheck": "ConditionCheckItem",
            }
            for item in params["TransactItems"]:
                ((kind, body),) = item.items()
                yield f"dynamodb:{kinds[kind]}", _table_arn(stack, body["TableName"])
        elif operation == "TransactGetItems":
            for item in params["TransactItems"]:
                yield "dynamodb:GetItem", _table_arn(stack, item["Get"]["TableName"])
        elif operation in ("BatchGetItem", "BatchWriteItem"):
            for table in params["RequestItems"]:
                yield f"dynamodb:{operation}", _table_arn(stack, table)
        else:
            arn = _table_arn(stack, params["TableName"])
            if params.get("IndexName"):
                arn = f"{arn}/index/{params['IndexName']}"
            yield f"dynamodb:{operation}", arn
    elif service == "sqs":
        name = str(params["QueueUrl"]).rstrip("/").rsplit("/", 1)[-1]
        # SQS authorises a batch request as its single action (SendMessageBatch needs sqs:SendMessage)
        yield f"sqs:{operation.removesuffix('Batch')}", f"arn:aws:sqs:{stack.region}:{ACCOUNT_ID}:{name}"
    elif service == "s3" and operation == "DeleteObjects":
        for entry in params["Delete"]["Objects"]:
            action = "s3:DeleteObjectVersion" if entry.get("VersionId") else "s3:DeleteObject"
            yield action, f"arn:aws:s3:::{params['Bucket']}/{entry['Key']}"
    elif service == "s3":
        bucket, key = params.get("Bucket", ""), params.get("Key")
        if operation == "DeleteObject" and params.get("VersionId"):
            operation = "DeleteObjectVersion"
        action = {
            "ListObjectsV2": "ListBucket",
            "ListObjects": "ListBucket",
            "HeadObject": "GetObject",
            "HeadBucket": "ListBucket",
            "ListObjectVersions": "ListBucketVersions",
        }.get(operation, operation)
        yield f"s3:{action}", f"arn:aws:s3:::{bucket}/{key}" if key is not None else f"arn:aws:s3:::{bucket}"
    elif service == "secretsmanager":
        secret = str(params.get("Name") or params.get("SecretId"))
        name = secret.split(":secret:", 1)[1] if ":secret:" in secret else secret
        yield f"secretsmanager:{operation}", f"arn:aws:secretsmanager:{stack.region}:{ACCOUNT_ID}:secret:{name}"
        if operation == "CreateSecret" and params.get("Tags"):
            yield "secretsmanager:TagResource", f"arn:aws:secretsmanager:{stack.region}:{ACCOUNT_ID}:secret:{name}"
    elif service == "events" and operation == "PutEvents":
        for entry in params["Entries"]:
            bus = str(entry.get("EventBusName") or "default")
            arn = bus if bus.startswith("arn:") else f"arn:aws:events:{stack.region}:{ACCOUNT_ID}:event-bus/{bus}"
            yield "events:PutEvents", arn
    elif service == "lambda" and operation == "GetLayerVersion":
        layer = str(params["LayerName"])
        layer = layer if layer.startswith("arn:") else f"arn:aws:lambda:{stack.region}:{ACCOUNT_ID}:layer:{layer}"
        yield "lambda:GetLayerVersion", f"{layer}:{params['VersionNumber']}"
    elif service == "cloudfront" and operation == "CreateInvalidation":
        yield (
            "cloudfront:CreateInvalidation",
            f"arn:aws:cloudfront::{ACCOUNT_ID}:distribution/{params['DistributionId']}",
        )
    elif service == "scheduler" and operation.endswith("Schedule"):
        group = str(params.get("GroupName") or "default")
        yield (
            f"scheduler:{operation}",
            (f"arn:aws:scheduler:{stack.region}:{ACCOUNT_ID}:schedule/{group}/{params['Name']}"),
        )
        if operation in ("CreateSchedule", "UpdateSchedule") and params.get("Target", {}).get("RoleArn"):
            yield "iam:PassRole", str(params["Target"]["RoleArn"])  # the role Scheduler invokes the target with
    elif service == "glue":
        # Glue authorises a table request on the catalog, the database and the table, a database one on two.
        catalog = f"arn:aws:glue:{stack.region}:{ACCOUNT_ID}:catalog"
        database = str(
            params.get("DatabaseName") or params.get("Name") or (params.get("DatabaseInput") or {}).get("Name")
        )
        yield f"glue:{operation}", catalog
        yield f"glue:{operation}", f"arn:aws:glue:{stack.region}:{ACCOUNT_ID}:database/{database}"
        table = params.get("Name") if "DatabaseName" in params else (params.get("TableInput") or {}).get("Name")
        if table or operation.endswith("Tables"):
            yield f"glue:{operation}", f"arn:aws:glue:{stack.region}:{ACCOUNT_ID}:table/{database}/{table or '*'}"
    elif service == "execute-api":  # the WebSocket API's management endpoint
        method = {"PostToConnection": "POST", "GetConnection": "GET", "DeleteConnection": "DELETE"}[operation]
        api = stack.refs.get("WebSocketApi", "WebSocketApi")
        yield (
            "execute-api:ManageConnections",
            (
                f"arn:aws:execute-api:{stack.region}:{ACCOUNT_ID}:{api}/v1/{method}/@connections/{params['ConnectionId']}"
            ),
        )
    else:
        yield f"{service}:{operation}", "*"


class PolicyGuard:
    """Checks every request a function makes against that function's statements."""

    def __init__(self, template: dict[str, Any], stack: Stack) -> None:
        self.template, self.stack = template, stack
        self.statements: dict[str, list[Statement]] = {}
        self.denied: list[str] = []

    def check(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        """A ``before-parameter-build`` hook on the service's boto3 clients."""
        function = invoking()
        if function is None:
            return  # a test's own request, not a function's
        service = model.service_model.endpoint_prefix
        if os.environ.get("SYNCHUB_IAM_LEARN"):  # list what the functions do instead (to write policies)
            with open(os.environ["SYNCHUB_IAM_LEARN"], "a") as out:
                for action, resource in requested(self.stack, service, model.name, params):
                    out.write(f"{function}\t{action}\t{resource}\n")
            return
        if function not in self.statements:
            self.statements[function] = function_statements(self.template, self.stack, function)
        for action, resource in requested(self.stack, service, model.name, params):
            if not any(s.allows(action, resource) for s in self.statements[function]):
                message = f"{function} is not allowed {action} on {resource}"
                self.denied.append(message)
                raise PermissionError(message)
