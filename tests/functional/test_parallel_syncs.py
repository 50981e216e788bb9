"""Parallel syncs (``parameters.parallelism``): a full sync split into ranges, each an engine message of its
own, committed once by the last range. The engine's messages are delivered here one at a time, in whatever
order the queue gives them, so the ranges interleave as concurrent invocations would; the crash tests kill a
range mid-way, deliver the last range twice and cancel during the fan-out, and the table holds exactly the
source's rows after each."""

from __future__ import annotations

import json

import boto3
import pytest

from local.orders_server import PAGINATIONS, OrdersServer
from synchub.dal.ranges import RangeStore
from synchub.settings import get_settings
from tests.conftest import FUNCTIONS
from tests.functional.test_engine import OneBatchContext, drain, engine_source
from tests.lake import commit_ids, crash_once, lake_api, lake_aws, moto_server, no_backoff, read_table  # noqa: F401

pytestmark = pytest.mark.local_destinations
ROWS = 2345


@pytest.fixture(autouse=True)
def small_parts(monkeypatch):
    """Parts of about 10 KB: each batch closes a part, so a range stores its checkpoint many times."""
    monkeypatch.setenv("PART_SIZE_MB", "0.01")
    get_settings.cache_clear()


@pytest.fixture
def orders():
    server = OrdersServer(rows=ROWS)
    yield server
    server.close()


def register(api, orders, ds="ds_orders", **extra):
    body = {
        "id": ds,
        "name": "orders",
        "type": "http",
        "connection_config": {"base_url": orders.base_url},
        "params_config": {
            "records_path": "items",
            "total_path": "meta.total",
            "primary_key": "id",
            "cursor_field": "updated_at",
            "destination": {"format": "iceberg"},
            **PAGINATIONS["page"],
            **extra,
        },
    }
    assert api.post("/api/sync/data-sources", body).status == 201


def create(api, parallelism, ds="ds_orders", **parameters):
    created = api.post(
        "/api/sync/tasks",
        {
            "data_source_id": ds,
            "task_type": "full_sync",
            "parameters": {"batch_size": 200, "parallelism": parallelism, **parameters},
        },
    )
    assert created.status == 201, created.text
    return created.json


def table_ids(name="ds_orders"):
    return sorted(read_table(name)["id"].to_pylist())


def assert_exactly_the_source(api, task_id, name="ds_orders"):
    done = api.get(f"/api/sync/tasks/{task_id}").json
    assert done["status"] == "success", done
    assert table_ids(name) == list(range(1, ROWS + 1))
    assert done["processed_rows"] == ROWS and done["result"]["rows_written"] == ROWS
    assert len({commit for commit, _ in commit_ids(name, task_id)}) == 1, commit_ids(name, task_id)
    return done


def queued_messages(aws):
    """The engine messages waiting in the queue (left there: made visible again at once)."""
    sqs = boto3.client("sqs")
    url = aws.attributes["SyncQueue"]["QueueUrl"] if "QueueUrl" in aws.attributes.get("SyncQueue", {}) else None
    url = url or next(a["QueueUrl"] for a in aws.attributes.values() if a.get("QueueUrl", "").endswith("sync"))
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
    return [json.loads(message["Body"]) for message in received]


def test_a_parallel_full_sync_reads_every_range_and_commits_once(lake_api, lake_aws, orders):
    register(lake_api, orders)
    task = create(lake_api, 4)
    assert engine_source(lake_aws).poll_once() == 1  # the run's own message: plan, fan out
    planned = lake_api.get(f"/api/sync/tasks/{task['id']}").json
    assert planned["status"] == "running" and planned["ranges"] == {"count": 4, "finished": 0, "rows": [0, 0, 0, 0]}
    assert planned["total_rows"] == ROWS
    drain(lake_aws)
    done = assert_exactly_the_source(lake_api, task["id"])
    assert done["progress"] == 100 and done["result"]["ranges"] == 4
    assert done["ranges"]["finished"] == 4 and sum(done["ranges"]["rows"]) == ROWS
    assert min(done["ranges"]["rows"]) > 0  # every range read its share
    keys = [key for key in _object_keys(lake_aws) if "/data/synchub/" in key]
    assert {key.split("/")[5] for key in keys} == {f"r{n}" for n in range(4)}  # tables/t/data/synchub/task/rN


def _object_keys(aws):
    s3 = boto3.client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=aws.refs["DataLakeBucket"], Prefix="tables/")
    return [item["Key"] for page in pages for item in page.get("Contents", [])]
