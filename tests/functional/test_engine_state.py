"""Engine state at scale: what a task stores (its item plus its checkpoint item) stays the same size however
many reads its sync takes, however many polls a realtime task runs, however many times a task is retried.
The checkpoint numbers its parts instead of listing them, and an earlier attempt is a pointer."""

from __future__ import annotations

import json

import boto3
import pytest

from bench.meter import item_size
from local.orders_server import PAGINATIONS, OrdersServer
from synchub.engine.runner import engine_runner
from tests.databases import PostgresTable, postgres  # noqa: F401 - fixture
from tests.functional.test_engine import drain, immediate_retries  # noqa: F401 - fixture
from tests.functional.test_sources import failing_after
from tests.helpers import statistics_match_the_stored_tasks

# The stand-in sources and endpoints listen on 127.0.0.1: make run's outbound policy (tests/functional/conftest.py).
pytestmark = pytest.mark.local_destinations

ROWS = 20_000


def stored_bytes(aws, task_id: str) -> int:
    """The task item's and its checkpoint item's sizes as DynamoDB counts them (the rules the benchmarks
    price writes by)."""
    dynamodb = boto3.client("dynamodb")
    task = dynamodb.get_item(TableName=aws.refs["TasksTable"], Key={"id": {"S": task_id}}, ConsistentRead=True)["Item"]
    checkpoint = dynamodb.get_item(
        TableName=aws.refs["CheckpointsTable"], Key={"task_id": {"S": task_id}}, ConsistentRead=True
    ).get("Item")
    assert "checkpoint" not in task  # the task item holds what the API shows, and checkpoint_seq
    return item_size(task) + item_size(checkpoint)


def orders_source(api, request, rows: int) -> OrdersServer:
    server = OrdersServer(rows=rows)
    request.addfinalizer(server.close)
    response = api.post(
        "/api/sync/data-sources",
        {
            "id": "ds_state",
            "name": "orders",
            "type": "http",
            "connection_config": {"base_url": server.base_url},
            "params_config": {
                "records_path": "items",
                "total_path": "meta.total",
                "primary_key": "id",
                "cursor_field": "updated_at",
                **PAGINATIONS["page"],
            },
        },
    )
    assert response.status == 201, response.text
    return server


def test_a_sync_in_2000_reads_stores_no_more_than_one_in_10_reads(api, aws, postgres, request):  # noqa: F811
    table = PostgresTable(postgres, "orders_engine_state")
    request.addfinalizer(table.close)
    table.insert(1, ROWS)
    response = api.post(
        "/api/sync/data-sources",
        {
            "id": "ds_pg_state",
            "name": "orders",
            "type": "postgresql",
            "connection_config": dict(postgres),
            "params_config": {"table_name": table.name, "primary_key": "id"},
        },
    )
    assert response.status == 201, response.text
    sizes, s3 = {}, boto3.client("s3")
    for batch_size in (2000, 10):
        task = api.post(
            "/api/sync/tasks",
            {"data_source_id": "ds_pg_state", "task_type": "full_sync", "parameters": {"batch_size": batch_size}},
        ).json
        drain(aws)
        done = api.get(f"/api/sync/tasks/{task['id']}").json
        assert done["status"] == "success" and done["processed_rows"] == ROWS, done
        assert done["result"]["parts"] == 1  # 20,000 rows of ~60 bytes: far below one part's 32 MB
        manifest = json.loads(
            s3.get_object(Bucket=aws.refs["DataLakeBucket"], Key=done["result"]["manifest"])["Body"].read()
        )
        assert manifest["rows"] == ROWS and sum(part["rows"] for part in manifest["parts"]) == ROWS
        sizes[batch_size] = stored_bytes(aws, task["id"])
    print(f"stored bytes: {sizes[2000]} after 10 reads, {sizes[10]} after 2,000")
    assert sizes[10] <= 1.5 * sizes[2000], sizes
    statistics_match_the_stored_tasks(api, aws)


def test_a_realtime_task_stores_as_much_after_200_polls_as_after_5(api, aws, request):
    """Each poll is one engine message (delivered here at once, not after its poll interval)."""
    server = orders_source(api, request, rows=50)
    task = api.post(
        "/api/sync/tasks",
        {
            "data_source_id": "ds_state",
            "task_type": "realtime_sync",
            "parameters": {"batch_size": 20, "poll_interval": 1},
        },
    ).json
    sqs, queue = boto3.client("sqs"), aws.refs["SyncQueue"]
    runner = engine_runner()
    assert runner.handle({"task_id": task["id"]}, "first", lambda: 900_000) == "waiting"
    sizes = {}
    for poll in range(2, 201):
        server.rows += 3  # new rows for each poll: a part each, so both the counts and the parts grow
        lease = api.get(f"/api/sync/tasks/{task['id']}").json
        running = boto3.client("dynamodb").get_item(
            TableName=aws.refs["TasksTable"], Key={"id": {"S": task["id"]}}, ConsistentRead=True
        )["Item"]
        assert lease["status"] == "running"
        outcome = runner.handle(
            {"task_id": task["id"], "run_id": running["lease_owner"]["S"], "hop": poll}, f"poll-{poll}", lambda: 900_000
        )
        assert outcome == "waiting", outcome
        if poll in (5, 200):
            sizes[poll] = stored_bytes(aws, task["id"])
    sqs.purge_queue(QueueUrl=queue)
    checkpoint = boto3.client("dynamodb").get_item(
        TableName=aws.refs["CheckpointsTable"], Key={"task_id": {"S": task["id"]}}
    )["Item"]
    assert checkpoint["polls"]["N"] == "200" and checkpoint["next_part"]["N"] == "201"
    assert api.get(f"/api/sync/tasks/{task['id']}").json["processed_rows"] == 50 + 199 * 3
    print(f"stored bytes: {sizes[5]} after 5 polls, {sizes[200]} after 200")
    assert sizes[200] <= 1.05 * sizes[5], sizes


def test_a_task_retried_20_times_stores_as_much_as_its_first_retry(api, aws, request, monkeypatch):
    orders_source(api, request, rows=2_000)
    failing_after(monkeypatch, good_reads=1)  # each attempt reads one batch, keeps it, then the source breaks
    task = api.post(
        "/api/sync/tasks", {"data_source_id": "ds_state", "task_type": "full_sync", "parameters": {"batch_size": 50}}
    ).json
    drain(aws)
    sizes, attempt = {}, api.get(f"/api/sync/tasks/{task['id']}").json
    for number in range(2, 22):
        assert attempt["status"] == "failed" and attempt["processed_rows"] == 50 * (number - 1), attempt
        attempt = api.post(f"/api/sync/tasks/{attempt['id']}/retry").json
        drain(aws)
        attempt = api.get(f"/api/sync/tasks/{attempt['id']}").json
        sizes[number] = stored_bytes(aws, attempt["id"])
    assert attempt["attempt"] == 21 and attempt["processed_rows"] == 50 * 21
    print(f"stored bytes: {sizes[2]} for the first retry, {sizes[21]} for the 20th")
    assert sizes[21] <= 1.05 * sizes[2], sizes
    statistics_match_the_stored_tasks(api, aws)
