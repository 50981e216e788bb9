"""Engine state at scale: what a task stores stays the same size however many reads its sync takes (the
checkpoint numbers its parts instead of listing them)."""

from __future__ import annotations

import json

import boto3

from bench.meter import item_size
from tests.databases import PostgresTable, postgres  # noqa: F401 - fixture
from tests.functional.test_engine import drain, immediate_retries  # noqa: F401 - fixture
from tests.helpers import statistics_match_the_stored_tasks

ROWS = 20_000


def stored_bytes(aws, task_id: str) -> int:
    """The task item's size as DynamoDB counts it (the same rules the benchmarks price writes by)."""
    item = boto3.client("dynamodb").get_item(TableName=aws.refs["TasksTable"], Key={"id": {"S": task_id}},
                                             ConsistentRead=True)["Item"]
    return item_size(item)


def test_a_sync_in_2000_reads_stores_no_more_than_one_in_10_reads(api, aws, postgres, request):  # noqa: F811
    table = PostgresTable(postgres, "orders_engine_state")
    request.addfinalizer(table.close)
    table.insert(1, ROWS)
    response = api.post("/api/sync/data-sources", {
        "id": "ds_pg_state", "name": "orders", "type": "postgresql", "connection_config": dict(postgres),
        "params_config": {"table_name": table.name, "primary_key": "id"}})
    assert response.status == 201, response.text
    sizes, s3 = {}, boto3.client("s3")
    for batch_size in (2000, 10):
        task = api.post("/api/sync/tasks", {"data_source_id": "ds_pg_state", "task_type": "full_sync",
                                            "parameters": {"batch_size": batch_size}}).json
        drain(aws)
        done = api.get(f"/api/sync/tasks/{task['id']}").json
        assert done["status"] == "success" and done["processed_rows"] == ROWS, done
        assert done["result"]["parts"] == ROWS // batch_size
        manifest = json.loads(s3.get_object(Bucket=aws.refs["DataLakeBucket"],
                                            Key=done["result"]["manifest"])["Body"].read())
        assert manifest["rows"] == ROWS and sum(part["rows"] for part in manifest["parts"]) == ROWS
        sizes[batch_size] = stored_bytes(aws, task["id"])
    print(f"task item bytes: {sizes[2000]} after 10 reads, {sizes[10]} after 2,000")
    assert sizes[10] <= 1.5 * sizes[2000], sizes
    statistics_match_the_stored_tasks(api, aws)
