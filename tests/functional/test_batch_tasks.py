"""Batch cancel / retry / delete: per-id results, one bad id never fails the rest, statistics follow."""

from __future__ import annotations

import pytest

from local.seeding import run_task
from tests.functional.test_tasks_api import assert_problem, create
from tests.helpers import statistics_match_the_stored_tasks


@pytest.fixture
def mixed(api, data_source):
    """pending, running, failed, succeeded tasks, plus an unknown and a malformed id."""
    pending, running, failed, done = (create(api) for _ in range(4))
    run_task(running["id"], outcome="running")
    run_task(failed["id"], outcome="failed", rows=5)
    run_task(done["id"], outcome="success", rows=9)
    return {
        "pending": pending["id"],
        "running": running["id"],
        "failed": failed["id"],
        "success": done["id"],
        "unknown": "task_01J0000000000000000000000",
        "malformed": "nope",
    }


def by_id(result):
    return (
        {item["task_id"]: item for item in result["succeeded"]},
        {item["task_id"]: item for item in result["failed"]},
    )


def test_batch_cancel(api, aws, mixed):
    response = api.post("/api/sync/tasks/batch-cancel", {"task_ids": list(mixed.values())})
    assert response.status == 200, response.text
    ok, failed = by_id(response.json)
    assert ok[mixed["pending"]]["status"] == 200 and ok[mixed["pending"]]["task"]["status"] == "cancelled"
    assert ok[mixed["running"]]["status"] == 202 and ok[mixed["running"]]["task"]["cancel_requested"] is True
    assert {k: (v["status"], v["code"]) for k, v in failed.items()} == {
        mixed["failed"]: (409, "INVALID_STATE"),
        mixed["success"]: (409, "INVALID_STATE"),
        mixed["unknown"]: (404, "TASK_NOT_FOUND"),
        mixed["malformed"]: (404, "TASK_NOT_FOUND"),
    }
    assert all(item["detail"] for item in failed.values())
    statistics_match_the_stored_tasks(api, aws)


def test_batch_retry(api, aws, mixed):
    ids = [mixed["failed"], mixed["failed"], mixed["pending"], mixed["unknown"]]  # a duplicate is retried once
    result = api.post("/api/sync/tasks/batch-retry", {"task_ids": ids, "restart": True}).json
    ok, failed = by_id(result)
    assert list(ok) == [mixed["failed"]] and ok[mixed["failed"]]["status"] == 201
    retry = ok[mixed["failed"]]["task"]
    assert retry["retry_of"] == mixed["failed"] and retry["status"] == "pending" and retry["attempt"] == 2
    assert api.get(f"/api/sync/tasks/{retry['id']}").json["status"] == "pending"
    assert {k: v["code"] for k, v in failed.items()} == {
        mixed["pending"]: "INVALID_STATE",
        mixed["unknown"]: "TASK_NOT_FOUND",
    }
    again = by_id(api.post("/api/sync/tasks/batch-retry", {"task_ids": [mixed["failed"]]}).json)[1]
    assert again[mixed["failed"]]["code"] == "INVALID_STATE"  # already retried
    statistics_match_the_stored_tasks(api, aws)


def test_batch_delete(api, aws, mixed):
    result = api.post("/api/sync/tasks/batch-delete", {"task_ids": list(mixed.values())}).json
    ok, failed = by_id(result)
    assert set(ok) == {mixed["failed"], mixed["success"]} and all(v["status"] == 204 for v in ok.values())
    assert {k: v["code"] for k, v in failed.items()} == {
        mixed["pending"]: "INVALID_STATE",
        mixed["running"]: "INVALID_STATE",
        mixed["unknown"]: "TASK_NOT_FOUND",
        mixed["malformed"]: "TASK_NOT_FOUND",
    }
    assert api.get(f"/api/sync/tasks/{mixed['success']}").status == 404
    assert api.get(f"/api/sync/tasks/{mixed['pending']}").json["status"] == "pending"
    statistics_match_the_stored_tasks(api, aws)


@pytest.mark.parametrize("route", ["batch-cancel", "batch-retry", "batch-delete"])
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"task_ids": []},
        {"task_ids": [f"task_{i}" for i in range(101)]},
        {"task_ids": "task_1"},
        {"task_ids": [1]},
        {"task_ids": ["x"], "extra": 1},
    ],
)
def test_bad_batches_are_422(api, data_source, route, body):
    assert_problem(api.post(f"/api/sync/tasks/{route}", body), 422, "VALIDATION_FAILED")


class ThrottlingDynamoDb:
    """The real client, except that DynamoDB throttles the transactions that touch one task."""

    def __init__(self, real, task_id):
        self.real, self.task_id = real, task_id

    def transact_write_items(self, **kwargs):
        from botocore.exceptions import ClientError

        if self.task_id in str(kwargs):
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "TransactWriteItems"
            )
        return self.real.transact_write_items(**kwargs)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_a_throttled_item_is_a_503_for_that_task_and_the_rest_go_on(api, aws, data_source):
    from synchub import aws as synchub_aws

    first, throttled, last = (create(api)["id"] for _ in range(3))
    real = synchub_aws.client("dynamodb")
    synchub_aws.set_client("dynamodb", ThrottlingDynamoDb(real, throttled))
    try:
        response = api.post("/api/sync/tasks/batch-cancel", {"task_ids": [first, throttled, last]})
    finally:
        synchub_aws.set_client("dynamodb", real)
    assert response.status == 200, response.text
    ok, failed = by_id(response.json)
    assert set(ok) == {first, last}
    assert (failed[throttled]["status"], failed[throttled]["code"]) == (503, "SERVICE_UNAVAILABLE")
    statistics_match_the_stored_tasks(api, aws)
