"""Inputs the schemathesis run against the OpenAPI document turned up: each once answered 500 (or stored
something unreadable); each must be a clear 4xx that changes nothing."""

from __future__ import annotations

import pytest

from tests.helpers import all_tasks

CREATE = {"data_source_id": "ds_test", "task_type": "full_sync"}


@pytest.mark.parametrize("path", ["/api/sync/tasks", "/api/sync/data-sources", "/api/sync/tasks/batch-delete"])
def test_a_body_that_is_not_utf8_is_a_400(api, aws, data_source, path):
    response = api.post(path, body=b"\x8d\x13&\xff}")
    assert response.status == 400 and response.json["code"] == "MALFORMED_REQUEST", response.text
    assert all_tasks(aws.refs["TasksTable"]) == []


@pytest.mark.parametrize("path", ["/api/sync/tasks", "/api/sync/data-sources", "/api/sync/tasks/batch-cancel"])
def test_no_body_with_a_text_content_type_is_a_422_not_a_500(api, aws, data_source, path):
    """Powertools' validation layer refused the content type of a body that was not there with an error
    nothing mapped (500)."""
    response = api.request("POST", path, body=b"", headers={"Content-Type": "text/plain"})
    assert response.status == 422 and response.json["errors"] == [
        {"loc": ["body"], "msg": "Field required", "type": "missing"}], response.text
    assert all_tasks(aws.refs["TasksTable"]) == []


def test_an_unpaired_surrogate_is_a_400(api, aws, data_source):
    response = api.post("/api/sync/tasks", body='{"data_source_id": "ds_test", "task_type": "full_sync", '
                                                '"parameters": {"note": "\\ud800"}}')
    assert response.status == 400 and response.json["code"] == "MALFORMED_REQUEST"
    assert all_tasks(aws.refs["TasksTable"]) == []


@pytest.mark.parametrize("parameters, where", [
    ({"": [True]}, "empty key"),
    ({"limit": 1.7976931348623157e308}, "limit"),
    ({"tiny": 1e-200}, "tiny"),
    ({"deep": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {
        "a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": {"a": 1}}}}}}}}}}}}}}}}
    }}}}}}}}}}}}}}}}}, "deeper than 32"),
])
def test_free_form_json_that_dynamodb_cannot_store_is_a_422(api, aws, data_source, parameters, where):
    task = api.post("/api/sync/tasks", {**CREATE, "parameters": parameters})
    assert task.status == 422 and where in task.text, task.text
    source = api.put("/api/sync/data-sources/ds_test", {
        "name": "Test source", "type": "http",
        "connection_config": {"base_url": "http://api.example.invalid/api", "extra": parameters}})
    assert source.status == 422 and where in source.text
    assert api.get("/api/sync/data-sources/ds_test").json["connection_config"] == {"base_url": "http://api.example.invalid/api"}
    assert all_tasks(aws.refs["TasksTable"]) == []


def test_cleanup_before_1970_deletes_nothing(api, aws, data_source):
    api.post("/api/sync/tasks", CREATE)
    response = api.post("/api/sync/tasks/cleanup", {"before_date": "0807-07-18"})
    assert response.status == 200 and response.json["deleted"] == 0 and response.json["done"] is True
    assert len(all_tasks(aws.refs["TasksTable"])) == 1


@pytest.mark.parametrize("path", ["/api/sync/tasks", "/api/sync/data-sources", "/api/sync/tasks/batch-delete"])
def test_json_nested_thousands_deep_is_a_400_not_a_500(api, aws, data_source, path):
    response = api.post(path, body='{"parameters": ' + "[" * 5000 + "]" * 5000 + "}")
    assert response.status == 400 and response.json["code"] == "MALFORMED_REQUEST", response.text
    assert "nested too deeply" in response.json["detail"]
    assert all_tasks(aws.refs["TasksTable"]) == []

