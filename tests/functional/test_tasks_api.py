"""The seven task routes under moto: every status code of the contract."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import boto3
import pytest

from local.seeding import run_task
from tests.conftest import TESTER

CREATE = {"data_source_id": "ds_test", "task_type": "full_sync", "parameters": {"batch_size": 1000, "timeout": 300}}


def create(api, **overrides):
    response = api.post("/api/sync/tasks", {**CREATE, **overrides})
    assert response.status == 201, response.text
    return response.json


def assert_problem(response, status, code):
    assert response.status == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json
    assert body["status"] == status and body["code"] == code
    assert body["title"] and body["detail"] and body["type"]
    return body


# ---- create ---------------------------------------------------------------------------------
def test_create_stores_the_task_and_queues_its_message(api, aws, data_source):
    response = api.post("/api/sync/tasks", CREATE)
    assert response.status == 201
    task = response.json
    assert response.headers["location"] == f"/api/sync/tasks/{task['id']}"
    assert task["id"].startswith("task_")
    assert task["status"] == "pending" and task["submitted"] is True
    assert task["config"] == {"batch_size": 1000, "timeout": 300}
    assert task["data_source_id"] == "ds_test" and task["task_type"] == "full_sync"
    assert task["attempt"] == 1 and task["retry_of"] is None and task["cancel_requested"] is False
    assert task["progress"] == 0 and task["processed_rows"] == 0 and task["created_by"] == TESTER
    for field in (
        "interface_id",
        "total_rows",
        "error_count",
        "error_message",
        "result",
        "start_time",
        "end_time",
        "created_at",
        "updated_at",
    ):
        assert field in task
    messages = boto3.client("sqs").receive_message(QueueUrl=aws.refs["SyncQueue"], MaxNumberOfMessages=10)
    bodies = [json.loads(m["Body"]) for m in messages["Messages"]]
    assert bodies == [{"task_id": task["id"], "attempt": 1, "hop": 0}]
    assert api.get(f"/api/sync/tasks/{task['id']}").json == task


def test_create_takes_the_caller_from_the_authorizer(api, data_source):
    route_event_headers = {"Content-Type": "application/json"}
    response = api.post("/api/sync/tasks", CREATE, headers=route_event_headers)
    assert response.json["created_by"] == TESTER


def test_create_for_unknown_data_source_is_422_and_stores_nothing(api):
    body = assert_problem(
        api.post("/api/sync/tasks", {**CREATE, "data_source_id": "ds_missing"}), 422, "DATA_SOURCE_NOT_FOUND"
    )
    assert body["errors"][0]["loc"] == ["body", "data_source_id"]
    listing = api.get("/api/sync/tasks").json
    assert listing["tasks"] == [] and listing["pagination"]["total"] == 0
    assert api.get("/api/sync/tasks/statistics").json["total_tasks"] == 0


@pytest.mark.parametrize(
    "body, field",
    [
        ({"task_type": "full_sync"}, "data_source_id"),
        ({"data_source_id": "ds_test"}, "task_type"),
        ({**CREATE, "task_type": "sometimes_sync"}, "task_type"),
        ({**CREATE, "task_type": 7}, "task_type"),
        ({**CREATE, "data_source_id": 123}, "data_source_id"),
        ({**CREATE, "data_source_id": "ds'; DROP TABLE tasks;--"}, "data_source_id"),
        ({**CREATE, "parameters": {"batch_size": "lots"}}, "batch_size"),
        ({**CREATE, "parameters": {"batch_size": "1000"}}, "batch_size"),
        ({**CREATE, "parameters": {"batch_size": 0}}, "batch_size"),
        ({**CREATE, "parameters": {"timeout": -1}}, "timeout"),
        ({**CREATE, "parameters": []}, "parameters"),
        ({**CREATE, "surprise": True}, "surprise"),
    ],
)
def test_create_schema_violations_are_422_with_the_field(api, data_source, body, field):
    problem = assert_problem(api.post("/api/sync/tasks", body), 422, "VALIDATION_FAILED")
    assert any(field in [str(part) for part in error["loc"]] for error in problem["errors"]), problem
    assert api.get("/api/sync/tasks").json["pagination"]["total"] == 0


@pytest.mark.parametrize("raw", ['{"data_source_id": ', "not json", "{'single': 'quotes'}", "[1, 2"])
def test_create_malformed_json_is_400(api, data_source, raw):
    assert_problem(api.post("/api/sync/tasks", body=raw), 400, "MALFORMED_REQUEST")


def test_create_body_that_is_not_an_object_is_422(api, data_source):
    assert_problem(api.post("/api/sync/tasks", body="[]"), 422, "VALIDATION_FAILED")
    assert_problem(api.post("/api/sync/tasks", body='"text"'), 422, "VALIDATION_FAILED")


def test_create_oversize_body_is_413(api, data_source):
    huge = {**CREATE, "parameters": {"blob": "x" * 300_000}}
    assert_problem(api.post("/api/sync/tasks", huge), 413, "PAYLOAD_TOO_LARGE")
    assert api.get("/api/sync/tasks").json["pagination"]["total"] == 0


def test_create_with_a_non_json_content_type_is_415(api, data_source):
    response = api.post("/api/sync/tasks", CREATE, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_problem(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_a_body_without_a_json_content_type_is_415_and_stores_nothing(api, data_source):
    """What a cross-site form post or a no-cors fetch sends: a body with no (or no JSON) Content-Type."""
    response = api.post("/api/sync/tasks", CREATE, headers={"Content-Type": ""})
    assert_problem(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert "none was sent" in response.json["detail"]
    assert api.get("/api/sync/tasks").json["pagination"]["total"] == 0


def test_create_keeps_the_stream_keys_a_task_overrides(api, data_source):
    task = create(api, parameters={"batch_size": 10, "table_name": "orders", "query_params": {"region": "eu"}})
    assert task["config"] == {"batch_size": 10, "table_name": "orders", "query_params": {"region": "eu"}}


# ---- get ------------------------------------------------------------------------------------
@pytest.mark.parametrize("task_id", ["task_123", "task_01M8F5WN6MGNT4KP4MPE6TDYBH", "%27%20OR%201%3D1", "x" * 3000])
def test_get_unknown_task_is_404(api, task_id):
    assert_problem(api.get(f"/api/sync/tasks/{task_id}"), 404, "TASK_NOT_FOUND")


def test_get_running_task_shows_live_progress_fields(api, data_source):
    task = create(api)
    run_task(task["id"], outcome="running")
    got = api.get(f"/api/sync/tasks/{task['id']}").json
    assert got["status"] == "running" and got["start_time"]
    for field in ("speed", "current_phase", "estimated_time", "progress_updated_at"):
        assert field in got


# ---- update ---------------------------------------------------------------------------------
def test_update_pending_task_replaces_its_config(api, data_source):
    task = create(api)
    response = api.put(f"/api/sync/tasks/{task['id']}", {"config": {"batch_size": 50, "method": "POST"}})
    assert response.status == 200, response.text
    assert response.json["config"] == {"batch_size": 50, "method": "POST"}
    assert response.json["updated_at"] >= task["updated_at"]
    assert api.get(f"/api/sync/tasks/{task['id']}").json["config"] == {"batch_size": 50, "method": "POST"}


@pytest.mark.parametrize("outcome", ["running", "success", "failed", "cancelled"])
def test_update_is_409_unless_pending(api, data_source, outcome):
    task = create(api)
    if outcome == "cancelled":
        api.post(f"/api/sync/tasks/{task['id']}/cancel")
    else:
        run_task(task["id"], outcome=outcome)
    body = assert_problem(api.put(f"/api/sync/tasks/{task['id']}", {"config": {"batch_size": 5}}), 409, "INVALID_STATE")
    assert body["current_status"] == outcome
    assert api.get(f"/api/sync/tasks/{task['id']}").json["config"] == CREATE["parameters"]


def test_update_errors(api, data_source):
    task = create(api)
    assert_problem(api.put("/api/sync/tasks/task_123", {"config": {}}), 404, "TASK_NOT_FOUND")
    assert_problem(api.put(f"/api/sync/tasks/{task['id']}", {"parameters": {}}), 422, "VALIDATION_FAILED")
    assert_problem(api.put(f"/api/sync/tasks/{task['id']}", {"config": {"batch_size": "x"}}), 422, "VALIDATION_FAILED")
    assert_problem(api.put(f"/api/sync/tasks/{task['id']}", body="{"), 400, "MALFORMED_REQUEST")


# ---- cancel ---------------------------------------------------------------------------------
def test_cancel_pending_is_200_and_final(api, data_source):
    task = create(api)
    response = api.post(f"/api/sync/tasks/{task['id']}/cancel")
    assert response.status == 200
    assert response.json["status"] == "cancelled" and response.json["end_time"]
    assert_problem(api.post(f"/api/sync/tasks/{task['id']}/cancel"), 409, "INVALID_STATE")


def test_cancel_running_is_202_with_cancel_requested(api, data_source):
    task = create(api)
    run_task(task["id"], outcome="running")
    response = api.post(f"/api/sync/tasks/{task['id']}/cancel")
    assert response.status == 202
    assert response.json["status"] == "running" and response.json["cancel_requested"] is True
    again = api.post(f"/api/sync/tasks/{task['id']}/cancel")
    assert again.status == 202 and again.json["cancel_requested"] is True


@pytest.mark.parametrize("outcome", ["success", "failed"])
def test_cancel_terminal_is_409(api, data_source, outcome):
    task = create(api)
    run_task(task["id"], outcome=outcome)
    assert_problem(api.post(f"/api/sync/tasks/{task['id']}/cancel"), 409, "INVALID_STATE")
    assert api.get(f"/api/sync/tasks/{task['id']}").json["status"] == outcome


def test_cancel_unknown_is_404(api):
    assert_problem(api.post("/api/sync/tasks/task_123/cancel"), 404, "TASK_NOT_FOUND")


# ---- retry ----------------------------------------------------------------------------------
def test_retry_failed_task_creates_a_linked_task(api, aws, data_source):
    task = create(api)
    run_task(task["id"], outcome="failed")
    response = api.post(f"/api/sync/tasks/{task['id']}/retry")
    assert response.status == 201, response.text
    retry = response.json
    assert response.headers["location"] == f"/api/sync/tasks/{retry['id']}"
    assert retry["id"] != task["id"] and retry["status"] == "pending"
    assert retry["retry_of"] == task["id"] and retry["attempt"] == 2
    assert retry["config"] == task["config"] and retry["data_source_id"] == task["data_source_id"]
    assert api.get(f"/api/sync/tasks/{task['id']}").json["status"] == "failed"
    body = assert_problem(api.post(f"/api/sync/tasks/{task['id']}/retry"), 409, "INVALID_STATE")
    assert body["retried_by"] == retry["id"]
    run_task(retry["id"], outcome="failed")
    third = api.post(f"/api/sync/tasks/{retry['id']}/retry", {"restart": True}).json
    assert third["attempt"] == 3 and third["retry_of"] == retry["id"]


@pytest.mark.parametrize("outcome", ["pending", "running", "success", "cancelled"])
def test_retry_is_409_unless_failed(api, data_source, outcome):
    task = create(api)
    if outcome == "cancelled":
        api.post(f"/api/sync/tasks/{task['id']}/cancel")
    elif outcome != "pending":
        run_task(task["id"], outcome=outcome)
    response = api.post(f"/api/sync/tasks/{task['id']}/retry")
    assert_problem(response, 409, "INVALID_STATE")
    in_words = {
        "pending": "is pending",
        "running": "is running",
        "success": "has succeeded",
        "cancelled": "was cancelled",
    }[outcome]  # plain English, not "is success"
    assert response.json["detail"] == f"Task '{task['id']}' {in_words}; only failed tasks can be retried."
    # the body is checked before the state: "yes" is not a boolean, whatever the task's status
    assert_problem(api.post(f"/api/sync/tasks/{task['id']}/retry", {"restart": "yes"}), 422, "VALIDATION_FAILED")
    assert api.get("/api/sync/tasks").json["pagination"]["total"] == 1


def test_retry_errors(api, data_source):
    assert_problem(api.post("/api/sync/tasks/task_123/retry"), 404, "TASK_NOT_FOUND")
    task = create(api)
    run_task(task["id"], outcome="failed")
    assert_problem(api.post(f"/api/sync/tasks/{task['id']}/retry", {"restart": "yes please"}), 422, "VALIDATION_FAILED")


def test_create_without_or_with_null_parameters_has_an_empty_config(api, data_source):
    assert create(api, parameters=None)["config"] == {}
    body = {"data_source_id": "ds_test", "task_type": "full_sync"}
    assert api.post("/api/sync/tasks", body).json["config"] == {}


def test_patch_merges_into_a_pending_tasks_config(api, data_source):
    task = create(api, parameters={"batch_size": 100, "timeout": 60})
    patched = api.patch(f"/api/sync/tasks/{task['id']}", {"config": {"timeout": None, "batch_size": 250}})
    assert patched.status == 200, patched.text
    assert patched.json["config"] == {"batch_size": 250}
    assert_problem(api.patch(f"/api/sync/tasks/{task['id']}", {"config": {"batch_size": 0}}), 422, "VALIDATION_FAILED")
    assert_problem(api.patch(f"/api/sync/tasks/{task['id']}", {"status": "success"}), 422, "VALIDATION_FAILED")
    run_task(task["id"], outcome="success")
    assert_problem(api.patch(f"/api/sync/tasks/{task['id']}", {"config": {"batch_size": 10}}), 409, "INVALID_STATE")


def test_an_incremental_task_on_a_stream_without_a_cursor_field_is_refused_when_created(api, data_source):
    response = api.post("/api/sync/tasks", {**CREATE, "task_type": "incremental_sync"})
    assert_problem(response, 422, "VALIDATION_FAILED")
    assert response.json["errors"][0]["loc"] == ["body", "task_type"]
    assert response.json["detail"].startswith(
        "This stream has no cursor_field, so incremental_sync cannot tell new rows from old"
    )
    assert api.get("/api/sync/tasks").json["pagination"]["total"] == 0  # nothing stored
    given = api.post(
        "/api/sync/tasks", {**CREATE, "task_type": "realtime_sync", "parameters": {"cursor_field": "updated_at"}}
    )
    assert given.status == 201, given.text


def test_list_by_task_type_and_creation_window_reads_index_ranges(api, aws, monkeypatch):
    """task_type and created_after/created_before narrow an index's range (task ids are creation-ordered) and
    filter it: never a Scan; total is null (the counters do not keep these)."""
    api.post(
        "/api/sync/data-sources",
        {"id": "ds_123", "name": "demo", "type": "http", "connection_config": {"base_url": "https://example.com"}},
    )
    from synchub.tasks.use_cases import task_service

    clock = task_service().lifecycle.clock
    made = []
    for hour, task_type in enumerate(["full_sync", "incremental_sync", "full_sync", "realtime_sync", "full_sync"]):
        monkeypatch.setattr(
            clock, "now", lambda h=hour: datetime(2026, 11, 1, 10 + h, tzinfo=timezone.utc), raising=False
        )
        body = {"data_source_id": "ds_123", "task_type": task_type}
        if task_type != "full_sync":
            body["parameters"] = {"cursor_field": "updated_at"}
        response = api.post("/api/sync/tasks", body)
        assert response.status == 201, response.text
        made.append(response.json["id"])
    monkeypatch.delattr(clock, "now")  # the instance's own clock again
    scans = []
    from synchub import aws as shared

    shared.client("dynamodb").meta.events.register("before-call.dynamodb.Scan", lambda **kw: scans.append(kw))
    shared.client("dynamodb").meta.events.register("before-call.dynamodb.Query", lambda **kw: scans.append("q"))

    full = api.get("/api/sync/tasks?task_type=full_sync&size=2").json
    assert [t["id"] for t in full["tasks"]] == [made[4], made[2]] and full["pagination"]["total"] is None
    rest = api.get(f"/api/sync/tasks?task_type=full_sync&size=2&next_token={full['pagination']['next_token']}").json
    assert [t["id"] for t in rest["tasks"]] == [made[0]] and "next_token" not in rest["pagination"]
    window = api.get("/api/sync/tasks?created_after=2026-11-01T11:00:00Z&created_before=2026-11-01T13:30:00Z").json
    assert [t["id"] for t in window["tasks"]] == [made[3], made[2], made[1]]
    both = api.get("/api/sync/tasks?task_type=full_sync&created_after=2026-11-01T11:00:00&status=pending").json
    assert [t["id"] for t in both["tasks"]] == [made[4], made[2]]
    assert_problem(api.get("/api/sync/tasks?task_type=weekly"), 422, "VALIDATION_FAILED")
    assert_problem(
        api.get("/api/sync/tasks?created_after=2026-11-02T00:00:00Z&created_before=2026-11-01T00:00:00Z"),
        422,
        "VALIDATION_FAILED",
    )
    assert_problem(
        api.get(f"/api/sync/tasks?task_type=realtime_sync&next_token={full['pagination']['next_token']}"),
        422,
        "VALIDATION_FAILED",
    )  # a token of another filter
    assert "q" in scans and not [call for call in scans if call != "q"]  # queries, and no Scan
