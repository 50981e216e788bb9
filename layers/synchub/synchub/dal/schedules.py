"""The schedules table: one item per schedule (listed newest first through an index, found per data source
through another), and one item per firing (keyed by the scheduled time, so a firing delivered twice creates
one task), expiring after a week."""

from __future__ import annotations

from typing import Any

from synchub import aws
from synchub.dal.codec import UpdateBuilder, from_item, to_attr, to_item
from synchub.dal.paging import Page, PageState, ShardedIndex, read_page
from synchub.settings import Settings

INDEX_ALL = "ByAll"
INDEX_DATA_SOURCE = "ByDataSource"
LIST_PARTITION = "SCHEDULE"
FIRING_DAYS = 7


def firing_key(schedule_id: str, scheduled_time: str) -> str:
    return f"{schedule_id}#fire#{scheduled_time}"


class ScheduleStore:
    def __init__(self, settings: Settings):
        self.table = settings.schedules_table

    def get(self, item_id: str) -> dict[str, Any] | None:
        response = aws.client("dynamodb").get_item(
            TableName=self.table, Key={"id": {"S": item_id}}, ConsistentRead=True
        )
        return from_item(response.get("Item"))

    def put_op(self, record: dict[str, Any]) -> dict[str, Any]:
        """A transaction item storing a new schedule."""
        return {
            "Put": {
                "TableName": self.table,
                "Item": to_item({**record, "lk": LIST_PARTITION}),
                "ConditionExpression": "attribute_not_exists(id)",
            }
        }

    def put(self, record: dict[str, Any], *, must_exist: bool, expect_version: int | None = None) -> None:
        record = {**record, "lk": LIST_PARTITION}
        condition, values = ("attribute_exists(id)" if must_exist else "attribute_not_exists(id)"), {}
        if expect_version is not None:
            condition += " AND version = :version"
            values[":version"] = to_attr(expect_version)
        params: dict[str, Any] = {"TableName": self.table, "Item": to_item(record), "ConditionExpression": condition}
        if values:
            params["ExpressionAttributeValues"] = values
        aws.client("dynamodb").put_item(**params)

    def delete(self, schedule_id: str) -> None:
        aws.client("dynamodb").delete_item(
            TableName=self.table, Key={"id": {"S": schedule_id}}, ConditionExpression="attribute_exists(id)"
        )

    def update_op(
        self, schedule_id: str, fields: dict[str, Any], *, add: dict[str, int] | None = None
    ) -> dict[str, Any]:
        """A transaction item setting ``fields`` (and adding ``add``) on an existing schedule."""
        builder = UpdateBuilder()
        for name, value in fields.items():
            builder.set(name, value)
        for name, amount in (add or {}).items():
            builder.add(name, amount)
        return {
            "Update": {
                "TableName": self.table,
                "Key": {"id": {"S": schedule_id}},
                "ConditionExpression": "attribute_exists(id)",
                "UpdateExpression": builder.expression,
                "ExpressionAttributeNames": builder.names,
                "ExpressionAttributeValues": builder.values,
            }
        }

    def firing_op(
        self, schedule_id: str, scheduled_time: str, record: dict[str, Any], expires_at: int
    ) -> dict[str, Any]:
        """A transaction item recording one firing; it fails if that firing was recorded before."""
        item = {
            "id": firing_key(schedule_id, scheduled_time),
            "schedule_id": schedule_id,
            "scheduled_time": scheduled_time,
            "expires_at": expires_at,
            **record,
        }
        return {
            "Put": {"TableName": self.table, "Item": to_item(item), "ConditionExpression": "attribute_not_exists(id)"}
        }

    def listing_index(self) -> ShardedIndex:
        return ShardedIndex(self.table, INDEX_ALL, "lk", LIST_PARTITION, 1)

    def page(self, state: PageState, size: int) -> Page:
        return read_page(aws.client("dynamodb").query, self.listing_index(), state, size)

    def of_data_source(self, data_source_id: str, limit: int = 10) -> list[str]:
        """Ids of schedules that create tasks of this data source (up to ``limit``)."""
        response = aws.client("dynamodb").query(
            TableName=self.table,
            IndexName=INDEX_DATA_SOURCE,
            Limit=limit,
            KeyConditionExpression="data_source_id = :ds",
            ExpressionAttributeValues={":ds": {"S": data_source_id}},
        )
        return [item["id"]["S"] for item in response.get("Items", [])]
