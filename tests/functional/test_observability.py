"""Logs and metrics as CloudWatch will read them: one correlation id from the API request into the engine's
lines for that task, and metrics in valid embedded metric format (EMF)."""

from __future__ import annotations

import io
import json
import logging
from typing import Any, Callable, Iterator

import jsonschema
import pytest

from local.orders_server import OrdersServer
from synchub.observability import logger
from tests.conftest import FUNCTIONS, load_event
from tests.functional.test_engine import drain, register
from tests.functional.test_live_status import publish, stream_source

# The EMF specification's structure (docs.aws.amazon.com, "Embedded metric format specification").
# The stand-in sources and endpoints listen on 127.0.0.1: make run's outbound policy (tests/functional/conftest.py).
pytestmark = pytest.mark.local_destinations

UNITS = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
]
EMF_SCHEMA = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": {"type": "string", "minLength": 1, "maxLength": 1024},
                            "Dimensions": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "maxItems": 30,
                                    "items": {"type": "string", "minLength": 1, "maxLength": 250},
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "required": ["Name"],
                                    "properties": {
                                        "Name": {"type": "string", "minLength": 1, "maxLength": 1024},
                                        "Unit": {"enum": UNITS},
                                        "StorageResolution": {"enum": [1, 60]},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}


@pytest.fixture
def logged() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Every line the functions log so far, as CloudWatch Logs receives it (the Powertools JSON formatter)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logging.getLogger(logger.name).addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    logging.getLogger(logger.name).removeHandler(handler)


@pytest.fixture
def orders():
    server = OrdersServer(rows=1200)
    yield server
    server.close()


def test_one_correlation_id_follows_a_task_from_the_request_to_the_engine(api, aws, orders, logged):
    register(api, orders)
    response = api.post(
        "/api/sync/tasks",
        {"data_source_id": "ds_orders", "task_type": "full_sync", "parameters": {"batch_size": 500}},
        headers={"X-Correlation-Id": "req-7f3a9c01"},
    )
    assert response.status == 201 and response.headers["x-correlation-id"] == "req-7f3a9c01"
    task_id = response.json["id"]
    drain(aws)
    lines = logged()
    api_lines = [line for line in lines if line.get("function_name") == "CreateTaskFunction"]
    engine_lines = [line for line in lines if line.get("function_name") == "SyncEngineFunction"]
    created = next(line for line in api_lines if line["message"] == "task created")
    assert created["correlation_id"] == "req-7f3a9c01" and created["task_id"] == task_id
    finished = next(line for line in engine_lines if line["message"] == "task finished")
    assert finished["correlation_id"] == "req-7f3a9c01" and finished["task_id"] == task_id
    assert finished["status"] == "success"
    # Every engine line of this run carries the same id and task (a lookup in Logs Insights finds them all).
    assert engine_lines and all(
        line["correlation_id"] == "req-7f3a9c01" and line["task_id"] == task_id for line in engine_lines
    )


def test_without_a_usable_header_the_request_id_is_the_correlation_id(api, aws, data_source, logged):
    for sent in (None, "has spaces and ünïcode", "x" * 200):
        headers = {"X-Correlation-Id": sent} if sent else {}
        response = api.post("/api/sync/tasks", {"data_source_id": "ds_test", "task_type": "full_sync"}, headers=headers)
        assert response.status == 201
        correlation = response.headers["x-correlation-id"]
        assert correlation != sent and 0 < len(correlation) <= 128
        created = [line for line in logged() if line["message"] == "task created"][-1]
        assert created["correlation_id"] == correlation


def emf_documents(output: str) -> list[dict[str, Any]]:
    return [doc for doc in (json.loads(line) for line in output.splitlines() if line.startswith("{")) if "_aws" in doc]


def assert_valid_emf(document: dict[str, Any]) -> None:
    jsonschema.validate(document, EMF_SCHEMA)
    for directive in document["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            for key in dimension_set:
                assert isinstance(document.get(key), str), f"dimension {key} is not a string member"
        for metric in directive["Metrics"]:
            value = document.get(metric["Name"])
            values = value if isinstance(value, list) else [value]
            assert values and len(values) <= 100, metric
            assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values), metric


def test_metrics_are_valid_emf(api, aws, orders, capsys):
    register(api, orders)
    source = stream_source(aws)
    for _ in range(2):
        assert (
            api.post(
                "/api/sync/tasks",
                {"data_source_id": "ds_orders", "task_type": "full_sync", "parameters": {"batch_size": 500}},
            ).status
            == 201
        )
    drain(aws)
    publish(source)
    FUNCTIONS["ReaperFunction"].invoke(load_event("reaper.json"))
    documents = emf_documents(capsys.readouterr().out)
    assert documents
    for document in documents:
        assert_valid_emf(document)
        assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "SyncHub"
        assert document["service"] == "synchub"
    values: dict[str, list[float]] = {}
    for document in documents:
        for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            value = document[metric["Name"]]
            values.setdefault(metric["Name"], []).extend(value if isinstance(value, list) else [value])
    assert sum(values["TasksCreated"]) == 2 and sum(values["TasksSucceeded"]) == 2
    assert sum(values["RowsSynced"]) == 2 * 1200  # 3 batches of each task
    assert len(values["BatchLatency"]) == 6 and all(v >= 0 for v in values["BatchLatency"])
    assert len(values["SyncDuration"]) == 2
    assert values["StuckTasksFound"] == [0]
    assert {m["Unit"] for d in documents for m in d["_aws"]["CloudWatchMetrics"][0]["Metrics"]} <= {
        "Count",
        "Milliseconds",
        "Seconds",
    }


def test_a_broken_document_fails_the_emf_check():
    good = {
        "_aws": {
            "Timestamp": 1,
            "CloudWatchMetrics": [
                {
                    "Namespace": "SyncHub",
                    "Dimensions": [["service"]],
                    "Metrics": [{"Name": "RowsSynced", "Unit": "Count"}],
                }
            ],
        },
        "service": "synchub",
        "RowsSynced": [3],
    }
    assert_valid_emf(good)
    for broken in (
        {**good, "RowsSynced": "3"},
        {k: v for k, v in good.items() if k != "service"},
        {**good, "_aws": {**good["_aws"], "Timestamp": "now"}},
    ):
        with pytest.raises((AssertionError, jsonschema.ValidationError)):
            assert_valid_emf(broken)
