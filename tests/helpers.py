"""Test helpers: recounting what is stored (tasks are put into states by local.seeding)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3

from synchub.dal.codec import from_item


def all_tasks(table: str) -> list[dict[str, Any]]:
    """Every stored task (a Scan: test-only, to recount)."""
    client = boto3.client("dynamodb")
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        response = client.scan(**kwargs)
        items.extend(from_item(item) for item in response["Items"])
        if "LastEvaluatedKey" not in response:
            return items
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def gauges_recount(tasks: list[dict[str, Any]]) -> Counter:
    counts: Counter = Counter()
    for task in tasks:
        counts[f"st_{task['status']}"] += 1
    return counts
