"""Least privilege in template.yaml: every grant spelled out, nothing wildcarded that a name could replace,
read-only routes unable to write. (That the grants suffice is checked on every AWS request the functional
tests make: tests/conftest.py holds each function to its own statements.)"""

from __future__ import annotations

import re

import pytest

from local.iam import function_statements
from local.resources import Stack
from local.template import functions, load_template, parameter_defaults

TEMPLATE = load_template()
SPECS = functions(TEMPLATE)
READ_VERBS = ("Get", "Query", "BatchGet", "Describe", "List")
# FileSourceBuckets may be a pattern by the user's choice; with one bucket named, no wildcard may remain.
STACK = Stack(
    "synchub-test",
    "us-east-1",
    {**parameter_defaults(TEMPLATE), "FileSourceBuckets": "my-exports"},
    refs={k: k for k in TEMPLATE["Resources"]},
    attributes={k: {"Arn": f"arn:aws:test:::{k}", "QueueName": k} for k in TEMPLATE["Resources"]},
)


def routes_of(logical_id: str) -> list[str]:
    return [str(p["Method"]).upper() for p in SPECS[logical_id].events_of("Api")]


@pytest.mark.parametrize("logical_id", sorted(SPECS))
def test_grants_are_named(logical_id):
    for statement in function_statements(TEMPLATE, STACK, logical_id):
        for action in statement.actions:
            assert "*" not in action, f"{logical_id}: wildcard action {action}"
        for resource in statement.resources:
            assert resource != "*", f"{logical_id}: grants {statement.actions} on every resource"
            # a wildcard may only stand for names the function makes at run time (secrets, objects, indexes), or
            # for the versions of one named layer (each deploy makes one)
            if "*" in resource:
                named_layer = re.fullmatch(r"arn:aws:lambda:[a-z0-9-]+:\d{12}:layer:[\w-]+:\*", resource)
                assert named_layer or (resource.endswith(("/data-sources/*", "/*")) and "table/*" not in resource), (
                    logical_id,
                    resource,
                )


@pytest.mark.parametrize("logical_id", sorted(f for f in SPECS if routes_of(f) and set(routes_of(f)) <= {"GET"}))
def test_read_only_routes_cannot_write(logical_id):
    for statement in function_statements(TEMPLATE, STACK, logical_id):
        for action in statement.actions:
            verb = action.split(":", 1)[1]
            assert verb.startswith(READ_VERBS), f"{logical_id} (a read route) may {action}"


def test_iam_mode_policies_split_read_from_write():
    read = TEMPLATE["Resources"]["SyncHubReadAccess"]["Properties"]["PolicyDocument"]["Statement"]
    write = TEMPLATE["Resources"]["SyncHubWriteAccess"]["Properties"]["PolicyDocument"]["Statement"]
    # Read: GET routes of the REST API, and opening a WebSocket to watch tasks (no other route of either API).
    assert all(
        "${SyncApi}/v1/GET/" in r["Fn::Sub"] or r["Fn::Sub"].endswith("${WebSocketApi}/v1/$connect")
        for s in read
        for r in s["Resource"]
    )
    assert not any("/GET/" in r["Fn::Sub"] or "WebSocketApi" in r["Fn::Sub"] for s in write for r in s["Resource"])
