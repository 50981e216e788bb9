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
        {"loc": ["body"], "msg": "Field required", "type": "missing"}
    ], response.text
    assert all_tasks(aws.refs["TasksTable"]) == []


def test_an_unpaired_surrogate_is_a_400(api, aws, data_source):
    response = api.post(
        "/api/sync/tasks",
        body='{"data_source_id": "ds_test", "task_type": "full_sync", "parameters": {"note": "\\ud800"}}',
    )
    assert response.status == 400 and response.json["code"] == "MALFORMED_REQUEST"
    assert all_tasks(aws.refs["TasksTable"]) == []


@pytest.mark.parametrize(
    "parameters, where",
    [
        ({"": [True]}, "empty key"),
        ({"limit": 1.7976931348623157e308}, "limit"),
        ({"tiny": 1e-200}, "tiny"),
        (
            {
                "deep": {
                    "a": {
                        "a": {
                            "a": {
                                "a": {
                                    "a": {
                                        "a": {
                                            "a": {
                                                "a": {
                                                    "a": {
                                                        "a": {
                                                            "a": {
                                                                "a": {
                                                                    "a": {
                                                                        "a": {
                                                                            "a": {
                                                                                "a": {
                                                                                    "a": {
                                                                                        "a": {
                                                                                            "a": {
                                                                                                "a": {
                                                                                                    "a": {
                                                                                                        "a": {
                                                                                                            "a": {
                                                                                                                "a": {
                                                                                                                    "a": {
                                                                                                                        "a": {
                                                                                                                            "a": {
                                                                                                                                "a": {
                                                                                                                                    "a": {
                                                                                                                                        "a": {
                                                                                                                                            "a": {
                                                                                                                                                "a": 1
                                                                                                                                            }
                                                                                                                                        }
                                                                                                                                    }
                                                                                                                                }
                                                                                                                            }
                                                                                                                        }
                                                                                                                    }
                                                                                                                }
                                                                                                            }
                                                                                                        }
                                                                                                    }
                                                                                                }
                                                                                            }
                                                                                        }
                                                                                    }
                                                                                }
                                                                            }
                                                                        }
                                                                    }
                                                                }
                                                            }
                                                        }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            },
            "deeper than 32",
        ),
    ],
)
def test_free_form_json_that_dynamodb_cannot_store_is_a_422(api, aws, data_source, parameters, where):
    task = api.post("/api/sync/tasks", {**CREATE, "parameters": {"query_params": parameters}})
    assert task.status == 422 and where in task.text, task.text
    source = api.put(
        "/api/sync/data-sources/ds_test",
        {
            "name": "Test source",
            "type": "http",
            "connection_config": {"base_url": "http://api.example.invalid/api", "query_params": parameters},
        },
    )
    assert source.status == 422 and where in source.text
    assert api.get("/api/sync/data-sources/ds_test").json["connection_config"] == {
        "base_url": "http://api.example.invalid/api"
    }
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


LIMIT = 32 * 1024  # bytes of a configuration as compact JSON (README: Limits)
LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024
WEBSOCKET_MESSAGE_LIMIT = 128 * 1024


def padded(size: int, **fields) -> dict:
    """A configuration of exactly ``size`` bytes as compact JSON (padded in its free-form query_params)."""
    import json

    base = {**fields, "query_params": {"pad": ""}}
    base["query_params"]["pad"] = "x" * (size - len(json.dumps(base, separators=(",", ":")).encode()))
    return base


def test_a_configuration_over_32_kb_is_a_422_and_one_at_the_limit_is_stored(api, aws, data_source):
    too_big = {
        "name": "big",
        "type": "http",
        "connection_config": {"base_url": "http://api.example.invalid/"},
        "params_config": padded(LIMIT, records_path="items"),
    }
    refused = api.put("/api/sync/data-sources/ds_test", too_big)
    assert refused.status == 422 and "32 KB" in refused.text, refused.text
    assert api.get("/api/sync/data-sources/ds_test").json["name"] == "Test source"  # unchanged
    task = api.post("/api/sync/tasks", {**CREATE, "parameters": padded(LIMIT + 1)})
    assert task.status == 422 and "32 KB" in task.text
    interface = api.post(
        "/api/sync/data-sources/ds_test/interfaces", {"id": "big", "name": "big", "body": padded(LIMIT + 1)}
    )
    assert interface.status == 422 and "32 KB" in interface.text
    assert all_tasks(aws.refs["TasksTable"]) == []
    at_limit = api.post("/api/sync/tasks", {**CREATE, "parameters": padded(LIMIT - 200)})
    assert at_limit.status == 201, at_limit.text


def test_a_full_page_of_the_largest_data_sources_and_tasks_fits_lambdas_response_limit(api, aws, data_source):
    for number in range(100):
        body = {
            "id": f"ds_{number:03}",
            "name": "n" * 128,
            "type": "http",
            "description": "d" * 1024,
            "connection_config": padded(LIMIT // 2, base_url="http://api.example.invalid/"),
            "params_config": padded(LIMIT // 2 - 200, records_path="items"),
        }
        created = api.post("/api/sync/data-sources", body)
        assert created.status == 201, created.text[:300]
    page = api.get("/api/sync/data-sources?size=100")
    assert page.status == 200 and len(page.json["data_sources"]) == 100
    assert 3_000_000 < len(page.text.encode()) < LAMBDA_RESPONSE_LIMIT
    for _ in range(100):
        assert api.post("/api/sync/tasks", {**CREATE, "parameters": padded(LIMIT - 200)}).status == 201
    tasks = api.get("/api/sync/tasks?size=100")
    assert len(tasks.json["tasks"]) == 100 and len(tasks.text.encode()) < LAMBDA_RESPONSE_LIMIT
    # A task's live-status push carries the task: the largest one still fits a WebSocket message.
    import json

    from synchub.notify.feed import TaskChange

    message = TaskChange("status", tasks.json["tasks"][0], None, "1" * 40).message()
    assert len(json.dumps(message, separators=(",", ":")).encode()) < WEBSOCKET_MESSAGE_LIMIT


def test_nesting_is_judged_before_parsing_and_brackets_in_strings_do_not_count(api, aws, data_source):
    # 65 levels parse fine in Python, so only the check before parsing makes this a 400 (not a 422 later)
    response = api.post("/api/sync/tasks", body='{"parameters": {"a": ' + "[" * 63 + "]" * 63 + "}}")
    assert response.status == 400 and "more than 64 levels" in response.json["detail"], response.text
    stored_limit = api.post(
        "/api/sync/tasks",
        body='{"data_source_id": "ds_test", "task_type": "full_sync", '
        '"parameters": {"body": {"a": ' + "[" * 40 + "]" * 40 + "}}}",
    )
    assert stored_limit.status == 422 and "deeper than 32" in stored_limit.text
    assert all_tasks(aws.refs["TasksTable"]) == []
    text = "[" * 500 + "{" * 500
    fine = api.post(
        "/api/sync/tasks", {**CREATE, "parameters": {"query_params": {"pattern": text, "list": [[1], [2], [3]] * 30}}}
    )
    assert fine.status == 201, fine.text
