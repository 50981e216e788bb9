"""An unknown key in a task's parameters or a data source's connection_config or params_config is a 422 that
names the key, with the key it was probably meant to be, and stores nothing."""

from __future__ import annotations

import pytest

POSTGRES = {
    "name": "shop",
    "type": "postgresql",
    "connection_config": {"host": "db.example.com", "database": "shop", "user": "sync"},
    "params_config": {"table_name": "orders", "cursor_field": "updated_at"},
}


def unknown_keys(response) -> dict[tuple, str]:
    assert response.status == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json
    assert problem["code"] == "VALIDATION_FAILED"
    assert "Unknown key" in problem["detail"], problem
    return {tuple(error["loc"]): error["msg"] for error in problem["errors"] if error["type"] == "unknown_key"}


@pytest.mark.parametrize(
    "where, key, meant",
    [
        ("connection_config", "sslmod", "sslmode"),
        ("connection_config", "pasword", "password"),
        ("params_config", "cursorfield", "cursor_field"),
        ("params_config", "tablename", "table_name"),
    ],
)
def test_a_data_source_with_an_unknown_key_is_refused_with_a_suggestion(api, where, key, meant):
    body = {**POSTGRES, "id": "ds_strict", where: {**POSTGRES[where], key: "x"}}
    errors = unknown_keys(api.post("/api/sync/data-sources", body))
    assert errors == {("body", where, key): f"Unknown key '{key}': did you mean '{meant}'?"}
    assert api.get("/api/sync/data-sources/ds_strict").status == 404  # nothing stored


def test_a_key_of_another_source_type_says_which_types_take_it(api):
    body = {**POSTGRES, "params_config": {"table_name": "orders", "topic": "clicks"}}
    assert unknown_keys(api.post("/api/sync/data-sources", body)) == {
        ("body", "params_config", "topic"): "Unknown key 'topic': only kafka sources take it"
    }


def test_replacing_a_data_source_with_an_unknown_key_changes_nothing(api):
    assert api.post("/api/sync/data-sources", {**POSTGRES, "id": "ds_keep"}).status == 201
    body = {**POSTGRES, "connection_config": {**POSTGRES["connection_config"], "databse": "other"}}
    assert unknown_keys(api.put("/api/sync/data-sources/ds_keep", body)) == {
        ("body", "connection_config", "databse"): "Unknown key 'databse': did you mean 'database'?"
    }
    assert api.get("/api/sync/data-sources/ds_keep").json["connection_config"] == POSTGRES["connection_config"]


def test_task_parameters_with_an_unknown_key_are_refused_with_a_suggestion(api):
    assert api.post("/api/sync/data-sources", {**POSTGRES, "id": "ds_tasks"}).status == 201
    body = {"data_source_id": "ds_tasks", "task_type": "full_sync", "parameters": {"batchsize": 100}}
    assert unknown_keys(api.post("/api/sync/tasks", body)) == {
        ("body", "parameters", "batchsize"): "Unknown key 'batchsize': did you mean 'batch_size'?"
    }
    assert api.get("/api/sync/tasks?data_source_id=ds_tasks").json["tasks"] == []
    task = api.post(
        "/api/sync/tasks",
        {
            "data_source_id": "ds_tasks",
            "task_type": "full_sync",
            "parameters": {"batch_size": 100, "lookback_seconds": 60},
        },
    )
    assert task.status == 201, task.text
    update = api.put(f"/api/sync/tasks/{task.json['id']}", {"config": {"pol_interval": 5}})
    assert unknown_keys(update) == {
        ("body", "config", "pol_interval"): "Unknown key 'pol_interval': did you mean 'poll_interval'?"
    }


def test_a_misplaced_value_is_located_at_its_field(api):
    body = {**POSTGRES, "connection_config": {**POSTGRES["connection_config"], "port": 70000}}
    response = api.post("/api/sync/data-sources", body)
    assert response.status == 422
    assert [error["loc"] for error in response.json["errors"]] == [["body", "connection_config", "port"]]
