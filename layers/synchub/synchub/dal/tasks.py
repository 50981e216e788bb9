"""The tasks table: records, conditional status changes and the listing indexes."""

from __future__ import annotations

from typing import Any, Iterable

from botocore.exceptions import ClientError

from synchub import aws
from synchub.dal.codec import UpdateBuilder, from_item, to_attr, to_item
from synchub.dal.paging import Page, PageState, ShardedIndex, read_page
from synchub.dal.transactions import ConditionFailed, transact_write
from synchub.ids import shard_of
from synchub.settings import Settings

INDEX_ALL = "ByAll"
INDEX_STATUS = "ByStatus"
INDEX_DATA_SOURCE = "ByDataSource"
INDEX_DATA_SOURCE_STATUS = "ByDataSourceStatus"
INDEX_UNSUBMITTED = "Unsubmitted"
INDEX_SCHEDULE = "BySchedule"


def index_keys(task: dict[str, Any], list_shards: int) -> dict[str, str]:
    """The listing-index attributes of a task in its current status."""
    shard = int(task.get("list_shard", shard_of(task["id"], list_shards)))
    status, data_source = task["status"], task["data_source_id"]
    keys = {
        "lk_all": f"ALL#{shard}",
        "lk_status": f"{status}#{shard}",
        "lk_ds": data_source,
        "lk_ds_status": f"{data_source}#{status}",
    }
    if task.get("schedule_id"):  # a schedule's runs, newest first (only scheduled tasks are in that index)
        keys["lk_schedule"] = task["schedule_id"]
    return keys


class TaskStore:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.table = settings.tasks_table

    # ---- single items -------------------------------------------------------------------------
    def get(self, task_id: str) -> dict[str, Any] | None:
        response = aws.client("dynamodb").get_item(
            TableName=self.table, Key={"id": {"S": task_id}}, ConsistentRead=True
        )
        return from_item(response.get("Item"))

    def put_op(self, task: dict[str, Any]) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": to_item(task),
                "ConditionExpression": "attribute_not_exists(id)",
            }
        }

    def update_op(
        self,
        task_id: str,
        fields: dict[str, Any],
        *,
        expect_status: Iterable[str] | None = None,
        expect_version: int | None = None,
        condition: str | None = None,
        condition_values: dict[str, Any] | None = None,
        remove: Iterable[str] = (),
        bump_version: bool = False,
        add: dict[str, int] | None = None,
    ) -> dict[str, Any]:
        """An Update item: set ``fields`` (None removes) and add ``add``'s amounts, only if the status is one
        of ``expect_status`` and the version is ``expect_version``; ``bump_version`` adds one to the version."""
        update = UpdateBuilder()
        for name, value in fields.items():
            update.set(name, value)
        for name, amount in (add or {}).items():
            update.add(name, amount)
        for name in remove:
            update.remove(name)
        if bump_version:
            update.add("version", 1)
        conditions = ["attribute_exists(id)"]
        if expect_status is not None:
            statuses = list(expect_status)
            placeholders = [update.value(status) for status in statuses]
            conditions.append(f"{update.name('status')} IN ({', '.join(placeholders)})")
        if expect_version is not None:
            conditions.append(f"{update.name('version')} = {update.value(expect_version)}")
        if condition:
            conditions.append(condition)
        values = dict(update.values)
        for key, value in (condition_values or {}).items():
            values[key] = to_attr(value)
        op: dict[str, Any] = {
            "TableName": self.table,
            "Key": {"id": {"S": task_id}},
            "UpdateExpression": update.expression,
            "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeNames": update.names,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if values:
            op["ExpressionAttributeValues"] = values
        return {"Update": op}

    def oldest_in_status(
        self, status: str, shard: int, *, below: str, after: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Tasks of one ByStatus shard with ids below ``below``, oldest first, at most ``limit``, after ``after``;
        and the id to continue after (None when the shard has no more)."""
        partition = f"{status}#{shard}"
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": INDEX_STATUS,
            "KeyConditionExpression": "lk_status = :p AND id < :below",
            "ExpressionAttributeValues": {":p": {"S": partition}, ":below": {"S": below}},
            "Limit": limit,
        }
        if after:
            params["ExclusiveStartKey"] = {"lk_status": {"S": partition}, "id": {"S": after}}
        response = aws.client("dynamodb").query(**params)
        items = [from_item(item) or {} for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return items, (last["id"]["S"] if last else None)

    def delete_op(self, task_id: str, *, expect_status: str, expect_version: int) -> dict[str, Any]:
        """A Delete item: only while the task still has this status and version."""
        return {
            "Delete": {
                "TableName": self.table,
                "Key": {"id": {"S": task_id}},
                "ConditionExpression": "#status = :status AND #version = :version",
                "ExpressionAttributeNames": {"#status": "status", "#version": "version"},
                "ExpressionAttributeValues": {":status": {"S": expect_status}, ":version": {"N": str(expect_version)}},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def transact(self, ops: list[dict[str, Any]]) -> None:
        transact_write(ops)

    def update(self, op: dict[str, Any]) -> dict[str, Any]:
        """Run one Update item on its own, returning the new record."""
        params = dict(op["Update"])
        params["ReturnValues"] = "ALL_NEW"
        try:
            response = aws.client("dynamodb").update_item(**params)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise ConditionFailed(from_item(error.response.get("Item"))) from error
            raise
        return from_item(response.get("Attributes")) or {}

    # ---- listing ------------------------------------------------------------------------------
    def listing_index(
        self, *, data_source_id: str | None, status: str | None, schedule_id: str | None = None
    ) -> ShardedIndex:
        shards = self.settings.list_shards
        if schedule_id:
            return ShardedIndex(self.table, INDEX_SCHEDULE, "lk_schedule", schedule_id, 1)
        if data_source_id and status:
            return ShardedIndex(self.table, INDEX_DATA_SOURCE_STATUS, "lk_ds_status", f"{data_source_id}#{status}", 1)
        if data_source_id:
            return ShardedIndex(self.table, INDEX_DATA_SOURCE, "lk_ds", data_source_id, 1)
        if status:
            return ShardedIndex(self.table, INDEX_STATUS, "lk_status", status, shards)
        return ShardedIndex(self.table, INDEX_ALL, "lk_all", "ALL", shards)

    def page(self, index: ShardedIndex, state: PageState, size: int) -> Page:
        return read_page(aws.client("dynamodb").query, index, state, size)

    def running(
        self,
        *,
        limit: int,
        stale_before: str | None = None,
        projection: str | None = None,
        data_source_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Running tasks (of one data source, if given), up to ``limit`` per listing shard; with
        ``stale_before``, only those whose heartbeat (and next realtime poll, if any) is older than that time."""
        items: list[dict[str, Any]] = []
        if data_source_id:
            partitions = [(INDEX_DATA_SOURCE_STATUS, "lk_ds_status", f"{data_source_id}#running")]
        else:
            partitions = [(INDEX_STATUS, "lk_status", f"running#{shard}") for shard in range(self.settings.list_shards)]
        for index, key, partition in partitions:
            params: dict[str, Any] = {
                "TableName": self.table,
                "IndexName": index,
                "KeyConditionExpression": f"{key} = :pk",
                "ExpressionAttributeValues": {":pk": {"S": partition}},
                "Limit": limit,
            }
            if stale_before is not None:
                params["FilterExpression"] = (
                    "heartbeat_at < :cutoff AND (attribute_not_exists(next_poll_at) OR next_poll_at < :cutoff)"
                )
                params["ExpressionAttributeValues"][":cutoff"] = {"S": stale_before}
            if projection:
                params["ProjectionExpression"] = projection
            response = aws.client("dynamodb").query(**params)
            items.extend(from_item(raw) or {} for raw in response.get("Items", []))
        return items

    def unsubmitted(self, limit: int) -> list[dict[str, Any]]:
        """Oldest pending tasks whose submission to the engine has not been confirmed (sparse index)."""
        response = aws.client("dynamodb").query(
            TableName=self.table,
            IndexName=INDEX_UNSUBMITTED,
            KeyConditionExpression="resubmit = :flag",
            ExpressionAttributeValues={":flag": {"S": "1"}},
            ScanIndexForward=True,
            Limit=limit,
        )
        return [from_item(item) for item in response.get("Items", [])]  # type: ignore[misc]
