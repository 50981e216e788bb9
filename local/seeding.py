"""Putting tasks into known states directly, as the engine would: for tests and benchmarks."""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3

from synchub.dal.codec import to_item
from synchub.dal.tasks import index_keys
from synchub.models import aggregate
from synchub.tasks.lifecycle import task_lifecycle

SEEDING_LEASE_OWNER = "seeding"


def run_task(task_id: str, *, outcome: str = "success", rows: int = 10) -> dict[str, Any]:
    """Start a pending task as the engine does and finish it with ``outcome``."""
    service = task_lifecycle()
    started = service.start_task(task_id, lease_owner=SEEDING_LEASE_OWNER, lease_seconds=60)
    assert started is not None, f"{task_id} did not start"
    if outcome == "running":
        return started
    finished = service.finish_task(
        task_id,
        lease_owner=SEEDING_LEASE_OWNER,
        status=outcome,
        changes={
            "processed_rows": rows,
            "progress": 100 if outcome == "success" else 50,
            "error_message": "boom" if outcome == "failed" else None,
        },
    )
    assert finished is not None
    return finished


def bulk_load_tasks(count: int, *, data_source_id: str, statuses: tuple[str, ...] = ("pending",)) -> None:
    """Store ``count`` tasks directly (batch writes) with a matching aggregate, for scale tests."""
    service = task_lifecycle()
    client = boto3.client("dynamodb")
    bucket_totals: dict[tuple[str, str], Counter] = {}
    gauge_totals: dict[str, Counter] = {}
    batch: list[dict[str, Any]] = []
    for number in range(count):
        record = service.new_record(
            data_source_id=data_source_id,
            interface_id=None,
            task_type="full_sync",
            config={},
            created_by="bulk",
        )
        record["status"] = statuses[number % len(statuses)]
        record.pop("resubmit")
        record["submitted"] = True
        record.update(index_keys(record, service.settings.list_shards))
        day, bucket, gauge = aggregate.deltas(None, record)
        for scope in aggregate.scopes(record):
            partition = f"{scope}#{record['stats_shard']}"
            bucket_totals.setdefault((partition, f"D#{day}"), Counter()).update(bucket)
            gauge_totals.setdefault(partition, Counter()).update(gauge)
        batch.append({"PutRequest": {"Item": to_item(record)}})
        if len(batch) == 25:
            client.batch_write_item(RequestItems={service.settings.tasks_table: batch})
            batch = []
    if batch:
        client.batch_write_item(RequestItems={service.settings.tasks_table: batch})
    for (partition, sort), counters in list(bucket_totals.items()) + [
        ((p, "GAUGE"), c) for p, c in gauge_totals.items()
    ]:
        names = {f"#c{i}": name for i, name in enumerate(counters)}
        values = {f":c{i}": {"N": str(value)} for i, value in enumerate(counters.values())}
        client.update_item(
            TableName=service.settings.statistics_table,
            Key={"pk": {"S": partition}, "sk": {"S": sort}},
            UpdateExpression="ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(counters))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
