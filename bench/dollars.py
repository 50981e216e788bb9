"""Dollars: what one task lifecycle costs on AWS, priced per million lifecycles.

A lifecycle is: create over the API, run a full_sync of 10,000 rows from the HTTP source into the data lake,
finish with success, one GET of the task and one statistics read, and the change feed's work for it (the
publisher's invocations over the tasks table's stream and its EventBridge events; no WebSocket subscriber,
no webhook). Everything is counted while it runs on
the in-process stack: API requests, Lambda invocations and their measured durations (GB-seconds at each
function's configured memory), the AWS requests the functions make, DynamoDB capacity units (computed as
in :mod:`bench.meter`), and the SQS requests of the Lambda event source that delivers the engine's
messages (one receive and one delete per delivery). Prices come from the dated table in
``bench/prices-us-east-1.json``.

The same run prices the listing indexes three ways (``what_if`` in :mod:`bench.meter`): projection ALL (the
template's), INCLUDE of the fields a listing answer shows, and KEYS_ONLY with a BatchGetItem of the tasks a
page shows: the lifecycle's writes under each, and one list page of 20 tasks read under each.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import time
from pathlib import Path
from typing import Any

from bench.environment import bench_stack, register_orders_source

PRICES = Path(__file__).with_name("prices-us-east-1.json")
LIFECYCLE_ROWS = 10_000
PER = 1_000_000
LISTING_INDEXES = ["ByAll", "ByStatus", "ByDataSource", "ByDataSourceStatus"]
LIST_PAGE = 20


def _time_invocations(function: Any, invocations: list[tuple[str, float, int]]) -> None:
    """Record (function, seconds, memory MB) of each of ``function``'s invocations from now on."""
    plain_invoke = function.invoke

    def timed_invoke(event: dict[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            return plain_invoke(event)
        finally:
            invocations.append((function.spec.logical_id, time.perf_counter() - started, function.spec.memory))

    function.invoke = timed_invoke


def measure(rows: int = LIFECYCLE_ROWS) -> dict[str, Any]:
    """Counts of one lifecycle and their price, scaled to one million lifecycles."""
    import boto3

    from local.orders_server import OrdersServer
    from local.stack import QueueEventSource
    from local.streams import StreamEventSource

    table = json.loads(PRICES.read_text())
    price = table["prices_usd"]
    source = OrdersServer(rows)
    try:
        with bench_stack(stack_name="synchub-dollars") as bench:
            register_orders_source("ds_orders", source.base_url, page_size=1000)
            engine = bench.functions["SyncEngineFunction"]
            invocations: list[tuple[str, float, int]] = []  # (function, seconds, memory MB)
            _time_invocations(engine, invocations)
            deliveries = QueueEventSource.from_template(
                engine, engine.spec.events_of("SQS")[0], bench.stack, boto3.client("sqs")
            )
            publisher = bench.functions["TaskPublisherFunction"]
            changes = StreamEventSource.from_template(
                publisher, publisher.spec.events_of("DynamoDB")[0], bench.stack, boto3.client("dynamodbstreams")
            )
            _time_invocations(publisher, invocations)

            def api(function: str, method: str, resource: str, path: str) -> Any:
                status, body, seconds = bench.api(
                    function,
                    method,
                    resource,
                    path,
                    body={"data_source_id": "ds_orders", "task_type": "full_sync"} if method == "POST" else None,
                )
                assert status in (200, 201), (path, status, body)
                invocations.append((function, seconds, bench.functions[function].spec.memory))
                return body

            # warm every function once (cold starts are measured in their own section)
            warm = api("CreateTaskFunction", "POST", "/api/sync/tasks", "/api/sync/tasks")
            while deliveries.poll_once():
                pass
            api("GetTaskFunction", "GET", "/api/sync/tasks/{id}", f"/api/sync/tasks/{warm['id']}")
            api("TaskStatisticsFunction", "GET", "/api/sync/tasks/statistics", "/api/sync/tasks/statistics")
            while changes.poll_once():  # the warm-up's changes (and the stream position from here on)
                pass
            invocations.clear()

            from synchub.models.tasks import PUBLIC_TASK_FIELDS

            tasks_table = bench.stack.refs["TasksTable"]
            bench.meter.what_if("KEYS_ONLY", tasks_table, LISTING_INDEXES, "KEYS_ONLY")
            # what a listing shows, plus what the reaper (heartbeat, next poll) and cleanup (version) read
            bench.meter.what_if(
                "INCLUDE",
                tasks_table,
                LISTING_INDEXES,
                "INCLUDE",
                [*PUBLIC_TASK_FIELDS, "version", "heartbeat_at", "next_poll_at"],
            )
            bench.meter.start()
            task = api("CreateTaskFunction", "POST", "/api/sync/tasks", "/api/sync/tasks")
            polls = 0
            while deliveries.poll_once():
                polls += 1
            done = api("GetTaskFunction", "GET", "/api/sync/tasks/{id}", f"/api/sync/tasks/{task['id']}")
            api("TaskStatisticsFunction", "GET", "/api/sync/tasks/statistics", "/api/sync/tasks/statistics")
            # One record per invocation: the engine's checkpoints land a few hundred ms apart and Lambda polls the
            # stream four times a second, so each change may well get an invocation of its own (an upper bound).
            changes.batch_size = 1
            stream_batches = 0
            while changes.poll_once():
                stream_batches += 1
            usage = bench.meter.stop()
            assert done["status"] == "success" and done["processed_rows"] == rows, done
            invocations_of_lifecycle = list(invocations)
            for _ in range(LIST_PAGE):  # finished tasks to fill a list page (not metered)
                api("CreateTaskFunction", "POST", "/api/sync/tasks", "/api/sync/tasks")
            with contextlib.redirect_stdout(io.StringIO()):
                while deliveries.poll_once():
                    pass
            bench.meter.start()
            page = bench.api(
                "ListTasksFunction", "GET", "/api/sync/tasks", "/api/sync/tasks", query={"size": LIST_PAGE}
            )[1]
            list_usage = bench.meter.stop()
            assert len(page["tasks"]) == LIST_PAGE, page
            invocations[:] = invocations_of_lifecycle
            table_names = {
                bench.stack.refs[logical]: logical for logical in bench.stack.refs if logical.endswith("Table")
            }
            s3 = boto3.client("s3")
            stored = sum(
                o["Size"]
                for o in s3.list_objects_v2(Bucket=bench.stack.refs["DataLakeBucket"], Prefix="ds_orders/").get(
                    "Contents", []
                )
                if task["id"] in o["Key"]
            )
    finally:
        source.close()

    requests = usage.requests
    api_requests = sum(1 for name, _, _ in invocations if name not in ("SyncEngineFunction", "TaskPublisherFunction"))
    events = sum(n for op, n in requests.items() if op == "events.PutEvents")
    gb_seconds = sum(math.ceil(seconds * 1000) / 1000 * memory / 1024 for _, seconds, memory in invocations)
    sqs_requests = sum(n for op, n in requests.items() if op.startswith("sqs.")) + 2 * polls
    s3_puts = sum(
        n
        for op, n in requests.items()
        if op
        in (
            "s3.PutObject",
            "s3.CopyObject",
            "s3.ListObjectsV2",
            "s3.CreateMultipartUpload",
            "s3.UploadPart",
            "s3.CompleteMultipartUpload",
        )
    )
    s3_gets = sum(n for op, n in requests.items() if op in ("s3.GetObject", "s3.HeadObject"))
    secrets_calls = sum(n for op, n in requests.items() if op.startswith("secretsmanager."))
    lines = [
        ("API Gateway REST requests", api_requests, price["api_gateway_rest_request"]),
        ("Lambda requests", len(invocations), price["lambda_request"]),
        ("Lambda GB-seconds (arm64)", round(gb_seconds, 4), price["lambda_gb_second_arm64"]),
        ("DynamoDB read request units", round(usage.read_units, 2), price["dynamodb_read_request_unit"]),
        ("DynamoDB write request units", round(usage.write_units, 2), price["dynamodb_write_request_unit"]),
        ("SQS requests (service + event source polling)", sqs_requests, price["sqs_standard_request"]),
        ("S3 PUT/LIST requests", s3_puts, price["s3_put_request"]),
        ("S3 GET/HEAD requests", s3_gets, price["s3_get_request"]),
        ("Secrets Manager API calls", secrets_calls, price["secretsmanager_api_call"]),
        ("EventBridge custom events", events, price["eventbridge_custom_event"]),
    ]
    items = [
        {
            "item": name,
            "per_lifecycle": quantity,
            "unit_usd": unit,
            "usd_per_million_lifecycles": round(quantity * unit * PER, 2),
        }
        for name, quantity, unit in lines
    ]
    return {
        "lifecycle": f"create, full_sync of {rows:,} rows (HTTP → data lake), success, one GET, one statistics read",
        "prices": {"table": PRICES.name, "recorded": table["recorded"], "region": table["region"]},
        "aws_requests": dict(sorted(requests.items())),
        "change_feed": {
            "publisher_invocations": stream_batches,
            "events": events,
            "note": "one publisher invocation per task write (an upper bound); Lambda reads the DynamoDB "
            "stream it is triggered by at no charge",
        },
        "write_units_by_table": _writes_by_table(usage, table_names),
        "listing_indexes": _listing_comparison(usage, list_usage, price),
        "invocations": [
            {"function": name, "ms": round(seconds * 1000, 1), "memory_mb": memory}
            for name, seconds, memory in invocations
        ],
        "line_items": items,
        "usd_per_million_lifecycles": round(sum(i["usd_per_million_lifecycles"] for i in items), 2),
        "not_included": {
            "s3_storage_gb_month_per_million": round(stored * PER / 2**30, 1),
            "s3_storage_usd_per_month_per_million": round(stored * PER / 2**30 * price["s3_standard_gb_month"], 2),
            "also": "CloudWatch Logs ingestion, data transfer, the reaper's schedule (one invocation a minute, "
            "whatever the load), idle polling of the engine queue by the event source mapping, WebSocket "
            "connection minutes and messages, webhook deliveries",
        },
        "note": "durations are measured here against the in-process emulator, whose latency stands in for "
        "AWS's; the engine's time is dominated by fetching and writing the rows",
    }


def _writes_by_table(usage: Any, table_names: dict[str, str]) -> list[dict[str, Any]]:
    """The lifecycle's write units per table and kind: items written alone, items written in transactions
    (which DynamoDB bills double), and the copies the table's indexes take."""
    return [
        {"table": table_names.get(table, table), "kind": kind, "write_units": units}
        for (table, kind), units in sorted(usage.write_units_by.items())
        if units
    ]


def _listing_comparison(usage: Any, list_usage: Any, price: dict[str, float]) -> dict[str, Any]:
    """The lifecycle's writes and one list page's reads under each projection of the listing indexes, and
    how many list pages per lifecycle make KEYS_ONLY (fewest writes, most reads) cost what ALL costs."""
    write, read = price["dynamodb_write_request_unit"], price["dynamodb_read_request_unit"]
    designs = {"ALL": (usage.write_units, list_usage.read_units)}
    designs.update({label: (usage.what_if[label][0], list_usage.what_if[label][1]) for label in usage.what_if})
    # KEYS_ONLY: the page's tasks are then read by BatchGetItem (eventually consistent, each under 4 KB)
    designs["KEYS_ONLY"] = (designs["KEYS_ONLY"][0], designs["KEYS_ONLY"][1] + LIST_PAGE * 0.5)
    report: dict[str, Any] = {
        label: {
            "lifecycle_write_units": round(w, 2),
            "lifecycle_usd_per_million": round(w * write * PER, 2),
            f"list_page_of_{LIST_PAGE}_read_units": round(r, 2),
            "list_page_usd_per_million": round(r * read * PER, 2),
        }
        for label, (w, r) in designs.items()
    }
    saved = (designs["ALL"][0] - designs["KEYS_ONLY"][0]) * write
    extra = (designs["KEYS_ONLY"][1] - designs["ALL"][1]) * read
    report["keys_only_break_even_list_pages_per_lifecycle"] = round(saved / extra, 1) if extra > 0 else None
    report["chosen"] = "ALL"
    return report
