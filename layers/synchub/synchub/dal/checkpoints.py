"""The checkpoints table: one item per task, where the engine keeps its run's state apart from the task.

The task item holds what the API shows and ``checkpoint_seq``, the fencing counter of the run's lease; the
checkpoint item (the source's position, the parts written, counts, cursor) is written after the task's
update that bumped that counter, so it is only ever moved by the lease holder. Neither grows with the
number of batches, polls or retries.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from synchub import aws
from synchub.dal.codec import from_item, to_item
from synchub.settings import Settings


class CheckpointStore:
    def __init__(self, settings: Settings):
        self.table = settings.checkpoints_table

    def get(self, task_id: str) -> dict[str, Any] | None:
        """The task's stored checkpoint (with its ``seq``), or None."""
        response = aws.client("dynamodb").get_item(
            TableName=self.table, Key={"task_id": {"S": task_id}}, ConsistentRead=True
        )
        return from_item(response.get("Item"))

    def get_many(self, task_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The stored checkpoints of ``task_ids`` (those that have one), by id, in consistent BatchGetItems of
        up to 100 keys."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(task_ids), 100):
            keys = [{"task_id": {"S": task_id}} for task_id in task_ids[start : start + 100]]
            request: dict[str, Any] = {self.table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                response = aws.client("dynamodb").batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table, []):
                    stored = from_item(item) or {}
                    found[stored["task_id"]] = stored
                request = response.get("UnprocessedKeys") or {}
        return found

    def put(self, task_id: str, seq: int, checkpoint: dict[str, Any]) -> bool:
        """Store checkpoint number ``seq`` unless a later one is stored already; False if it is."""
        try:
            aws.client("dynamodb").put_item(
                TableName=self.table,
                Item=to_item({**checkpoint, "task_id": task_id, "seq": seq}),
                ConditionExpression="attribute_not_exists(task_id) OR seq < :seq",
                ExpressionAttributeValues={":seq": {"N": str(seq)}},
            )
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise

    def delete_op(self, task_id: str) -> dict[str, Any]:
        """A Delete item for a transaction that deletes the task."""
        return {"Delete": {"TableName": self.table, "Key": {"task_id": {"S": task_id}}}}
