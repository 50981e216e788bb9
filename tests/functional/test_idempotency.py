"""Idempotency-Key on create and retry: one task per key, the first response replayed, a reused key with
another body refused, concurrent duplicates still one task."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from local import api_gateway
from local.lambda_runtime import LocalFunction
from local.seeding import run_task
from local.template import functions
from tests.conftest import ROUTES, TEMPLATE, USER_POOL, ApiClient
from tests.helpers import all_tasks, statistics_match_the_stored_tasks

CREATE = {"data_source_id": "ds_test", "task_type": "full_sync", "parameters": {"batch_size": 500}}


def stored_tasks(aws) -> list[dict]:
    return all_tasks(aws.refs["TasksTable"])


def test_repeated_create_returns_the_first_response_and_stores_one_task(api, aws, data_source):
    key = {"Idempotency-Key": "nightly-2026-11-28"}
    first = api.post("/api/sync/tasks", CREATE, headers=key)
    assert first.status == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = api.post(
        "/api/sync/tasks",
        {"task_type": "full_sync", "parameters": {"batch_size": 500}, "data_source_id": "ds_test"},
        headers=key,
    )  # same body, other key order
    assert again.status == 201 and again.json == first.json
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert [t["id"] for t in stored_tasks(aws)] == [first.json["id"]]
    messages = boto3.client("sqs").receive_message(QueueUrl=aws.refs["SyncQueue"], MaxNumberOfMessages=10)
    assert len(messages.get("Messages", [])) == 1
    statistics_match_the_stored_tasks(api, aws)


def test_same_key_with_another_body_is_a_conflict_and_changes_nothing(api, aws, data_source):
    key = {"Idempotency-Key": "k-1"}
    first = api.post("/api/sync/tasks", CREATE, headers=key)
    other = api.post("/api/sync/tasks", {**CREATE, "task_type": "incremental_sync"}, headers=key)
    assert other.status == 409, other.text
    assert other.json["code"] == "IDEMPOTENCY_KEY_REUSED" and "k-1" in other.json["detail"]
    assert [t["id"] for t in stored_tasks(aws)] == [first.json["id"]]


def test_keys_are_per_caller_and_without_a_key_every_request_creates(api, aws, data_source):
    key = {"Idempotency-Key": "shared-name"}
    mine = api.post("/api/sync/tasks", CREATE, headers=key).json
    theirs = ApiClient(token=USER_POOL.issue("someone-else")).post("/api/sync/tasks", CREATE, headers=key).json
    assert mine["id"] != theirs["id"]
    plain = [api.post("/api/sync/tasks", CREATE).json["id"] for _ in range(2)]
    assert len(set(plain)) == 2 and len(stored_tasks(aws)) == 4


def test_a_failed_request_is_not_kept(api, aws, data_source):
    key = {"Idempotency-Key": "before-the-source-exists"}
    missing = api.post("/api/sync/tasks", {**CREATE, "data_source_id": "ds_later"}, headers=key)
    assert missing.status == 422 and missing.json["code"] == "DATA_SOURCE_NOT_FOUND"
    api.post(
        "/api/sync/data-sources",
        {
            "id": "ds_later",
            "name": "Later",
            "type": "http",
            "connection_config": {"base_url": "http://api.example.invalid/api"},
        },
    )
    created = api.post("/api/sync/tasks", {**CREATE, "data_source_id": "ds_later"}, headers=key)
    assert created.status == 201 and "idempotent-replayed" not in created.headers


@pytest.mark.parametrize("value", ["", "x" * 256, "tab\there"])
def test_a_malformed_key_is_refused(api, aws, data_source, value):
    response = api.post("/api/sync/tasks", CREATE, headers={"Idempotency-Key": value})
    assert response.status == 422 and response.json["errors"][0]["loc"] == ["header", "idempotency-key"]
    assert stored_tasks(aws) == []


def test_retry_with_a_key_makes_one_retry(api, aws, data_source):
    failed = api.post("/api/sync/tasks", CREATE).json["id"]
    run_task(failed, outcome="failed")
    key = {"Idempotency-Key": "retry-once"}
    first = api.post(f"/api/sync/tasks/{failed}/retry", headers=key)
    again = api.post(f"/api/sync/tasks/{failed}/retry", headers=key)
    assert first.status == again.status == 201 and again.json["id"] == first.json["id"]
    assert again.headers["idempotent-replayed"] == "true"
    restart = api.post(f"/api/sync/tasks/{failed}/retry", {"restart": True}, headers=key)
    assert restart.status == 409 and restart.json["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(stored_tasks(aws)) == 2
    statistics_match_the_stored_tasks(api, aws)


def test_concurrent_duplicates_create_one_task(api, aws, data_source):
    """Eight execution environments of the create function get the same keyed request at once."""
    route, params, _ = api_gateway.match(ROUTES, "POST", "/api/sync/tasks")
    environments = [LocalFunction(functions(TEMPLATE)[route.function]) for _ in range(8)]
    token = USER_POOL.issue("racer")
    claims = {"claims": {k: str(v) for k, v in USER_POOL.verify(token).items()}}
    headers = [("Content-Type", "application/json"), ("Idempotency-Key", "race-1")]
    event = api_gateway.proxy_event(
        route,
        "POST",
        "/api/sync/tasks",
        "",
        headers,
        b'{"data_source_id":"ds_test","task_type":"full_sync"}',
        params,
        authorizer=claims,
    )
    for environment in environments:  # load the handlers first, so the requests really overlap
        environment.handler()
    start = threading.Barrier(len(environments))

    def send(environment: LocalFunction) -> dict:
        start.wait()
        return environment.invoke(event)

    with ThreadPoolExecutor(len(environments)) as pool:
        results = list(pool.map(send, environments))
    created = {json.loads(r["body"])["id"] for r in results if r["statusCode"] == 201}
    in_use = [r for r in results if r["statusCode"] == 409]
    assert len(created) == 1, results
    assert all(json.loads(r["body"])["code"] == "IDEMPOTENCY_KEY_IN_USE" for r in in_use)
    assert all((r.get("multiValueHeaders") or {}).get("Retry-After") == ["1"] for r in in_use)
    assert len(in_use) + sum(r["statusCode"] == 201 for r in results) == len(results)
    assert [t["id"] for t in stored_tasks(aws)] == list(created)
