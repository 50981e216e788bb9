"""The DynamoDB destination: rows upserted by primary key, so re-writing a batch changes nothing."""

from __future__ import annotations

import time
from typing import Any

from synchub import aws
from synchub.connectors.base import PermanentSourceError, TransientSourceError
from synchub.connectors.lake import encoded_rows
from synchub.dal.codec import from_item, to_item
from synchub.timeutil import now_iso


class DynamoDbDestination:
    """Items ``{pk: "<data source>#<interface>", sk: "<primary key value>", data: <row>, task_id, synced_at}``."""

    def __init__(self, table: str, data_source_id: str, interface_id: str, task_id: str, primary_key: str | None):
        if not table:
            raise PermanentSourceError("no DynamoDB destination table is configured")
        if not primary_key:
            raise PermanentSourceError("the DynamoDB destination needs the stream's primary_key")
        self.table = table
        self.partition = f"{data_source_id}#{interface_id}"
        self.task_id = task_id
        self.primary_key = primary_key
        self.bucket = table
        self.prefix = self.partition

    def part_key(self, number: int) -> str:
        return f"{self.partition}/batch-{number:05d}"

    def open_part(self, number: int) -> "DynamoDbPart":
        return DynamoDbPart(self, number)

    def write(self, number: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
        synced_at = now_iso()
        items: dict[str, dict[str, Any]] = {}
        for row in rows:
            key = row.get(self.primary_key)
            if key is None:
                raise PermanentSourceError(f"a row has no '{self.primary_key}' (the primary key)")
            # the last row with a key wins within a batch, as it would across batches
            items[str(key)] = to_item(
                {"pk": self.partition, "sk": str(key), "data": row, "task_id": self.task_id, "synced_at": synced_at}
            )
        requests = [{"PutRequest": {"Item": item}} for item in items.values()]
        client = aws.client("dynamodb")
        for start in range(0, len(requests), 25):
            pending = {self.table: requests[start : start + 25]}
            for attempt in range(8):
                response = client.batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(min(1.0, 0.05 * 2**attempt))
            if pending:
                raise TransientSourceError("DynamoDB kept throttling the destination writes")
        return {"key": self.part_key(number), "rows": len(rows)}

    def finish(self, parts: list[dict[str, Any]], summary: dict[str, Any]) -> str | None:
        return None


class DynamoDbPart:
    """A part of the DynamoDB destination: its rows are upserted as they are added (upserts repeat harmlessly
    if a crash makes the run read them again), so closing it writes nothing more."""

    def __init__(self, destination: DynamoDbDestination, number: int):
        self.destination, self.number = destination, number
        self.rows = self.size = 0

    def add(self, rows: list[dict[str, Any]], columns: Any = None) -> None:
        self.destination.write(self.number, rows)
        self.rows += len(rows)
        self.size += len(encoded_rows(rows))

    def close(self) -> dict[str, Any]:
        return {"key": self.destination.part_key(self.number), "rows": self.rows}


def first_rows(table: str, partition: str, count: int) -> list[Any]:
    """The first ``count`` rows a stream holds in the destination table (by primary key)."""
    items = aws.client("dynamodb").query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": partition}},
        Limit=count,
    )["Items"]
    return [(from_item(item) or {}).get("data") for item in items]
