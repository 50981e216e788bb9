"""Incremental watermarks: the newest cursor value committed per (data source, interface).

They live in the data sources table under keys no data source id can take (``#`` is not allowed in ids),
outside its listing index."""

from __future__ import annotations

from typing import Any

from synchub import aws
from synchub.dal.codec import from_item, to_attr
from synchub.settings import Settings
from synchub.timeutil import now_iso


class WatermarkStore:
    def __init__(self, settings: Settings):
        self.table = settings.data_sources_table

    @staticmethod
    def key(data_source_id: str, interface_id: str) -> dict[str, Any]:
        return {"id": {"S": f"{data_source_id}#watermark#{interface_id}"}}

    def get(self, data_source_id: str, interface_id: str) -> Any:
        response = aws.client("dynamodb").get_item(TableName=self.table, Key=self.key(data_source_id, interface_id),
                                                   ConsistentRead=True)
        item = from_item(response.get("Item"))
        return item.get("watermark") if item else None

    def set_op(self, data_source_id: str, interface_id: str, value: Any, task_id: str) -> dict[str, Any]:
        """A transaction item that moves the watermark (written with the run that committed the rows)."""
        return {
            "Update": {
                "TableName": self.table,
                "Key": self.key(data_source_id, interface_id),
                "UpdateExpression": "SET watermark = :wm, updated_at = :now, set_by = :task",
                "ExpressionAttributeValues": {":wm": to_attr(value), ":now": to_attr(now_iso()),
                                              ":task": to_attr(task_id)},
            }
        }
