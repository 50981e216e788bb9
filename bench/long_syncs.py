"""Long syncs: the same HTTP source synced in 10, 1,000 and 10,000 read batches of the same size, on the
in-process stack with the meter on. Per size: the bytes the task stores when it ends (its item and its
checkpoint item), DynamoDB write units per read batch (every write of the run, the task's listing-index
copies included, over the batches), the engine's stores (progress alone, and with a checkpoint), and the
S3 requests of the sync. What should hold: the write units per batch and the stored bytes do not grow with
the number of batches (progress is stored about once a second, whatever the batch count)."""

from __future__ import annotations

import contextlib
import io
import time
from typing import Any

from bench.environment import bench_stack, register_orders_source
from bench.meter import item_size

BATCH_ROWS = 10


def measure(batch_counts: tuple[int, ...] = (10, 1_000, 10_000)) -> list[dict[str, Any]]:
    import boto3

    from local.orders_server import OrdersServer
    from local.stack import QueueEventSource

    source = OrdersServer(rows=BATCH_ROWS)
    rows_out = []
    try:
        with bench_stack(stack_name="synchub-long") as bench:
            from synchub.models.tasks import CreateTaskRequest
            from synchub.tasks.use_cases import task_service

            register_orders_source("ds_long", source.base_url, page_size=BATCH_ROWS)
            engine = bench.functions["SyncEngineFunction"]
            deliveries = QueueEventSource.from_template(
                engine, engine.spec.events_of("SQS")[0], bench.stack, boto3.client("sqs")
            )
            side = boto3.client("dynamodb")
            for batches in batch_counts:
                source.rows = batches * BATCH_ROWS
                bench.meter.start()
                started = time.perf_counter()
                task = task_service().create_task(
                    CreateTaskRequest(
                        data_source_id="ds_long", task_type="full_sync", parameters={"batch_size": BATCH_ROWS}
                    ),
                    "bench",
                )
                with contextlib.redirect_stdout(io.StringIO()):  # the engine's EMF lines, 100 batches each
                    while deliveries.poll_once():
                        pass
                usage = bench.meter.stop()
                seconds = time.perf_counter() - started
                item = side.get_item(
                    TableName=bench.stack.refs["TasksTable"], Key={"id": {"S": task["id"]}}, ConsistentRead=True
                )["Item"]
                assert item["status"]["S"] == "success", item["status"]
                checkpoint = side.get_item(
                    TableName=bench.stack.refs["CheckpointsTable"],
                    Key={"task_id": {"S": task["id"]}},
                    ConsistentRead=True,
                ).get("Item")
                task_writes = sum(
                    1
                    for service, operation, params in bench.meter.calls
                    if service == "dynamodb"
                    and operation == "UpdateItem"
                    and params.get("TableName") == bench.stack.refs["TasksTable"]
                )
                s3_requests = sum(n for op, n in usage.requests.items() if op.startswith("s3."))
                rows_out.append(
                    {
                        "read_batches": batches,
                        "rows": batches * BATCH_ROWS,
                        "seconds": round(seconds, 1),
                        "stored_bytes": item_size(item) + item_size(checkpoint),
                        "parts": int(item["result"]["M"]["parts"]["N"]),
                        "task_updates": task_writes,
                        "write_units": round(usage.write_units, 1),
                        "write_units_per_batch": round(usage.write_units / batches, 2),
                        "s3_requests": s3_requests,
                        "s3_requests_per_batch": round(s3_requests / batches, 2),
                    }
                )
    finally:
        source.close()
    return rows_out
