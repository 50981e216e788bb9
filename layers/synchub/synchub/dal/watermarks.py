"""Incremental watermarks: the newest cursor value committed per (data source, interface), with the keys of
the rows delivered at exactly that value (so the next run reads the boundary again, less those rows).

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
        return self.boundary(data_source_id, interface_id)[0]

    def boundary(self, data_source_id: str, interface_id: str) -> tuple[Any, tuple[Any, ...] | None]:
        """The watermark and the keys delivered at exactly it (None: not known, so the boundary is read whole)."""
        response = aws.client("dynamodb").get_item(
            TableName=self.table, Key=self.key(data_source_id, interface_id), ConsistentRead=True
        )
        item = from_item(response.get("Item")) or {}
        keys = item.get("boundary_keys")
        return item.get("watermark"), tuple(keys) if isinstance(keys, list) else None

    def set_op(
        self, data_source_id: str, interface_id: str, value: Any, task_id: str, keys: tuple[Any, ...] | None = None
    ) -> dict[str, Any]:
        """A transaction item that moves the watermark (written with the run that committed the rows)."""
        values = {":wm": to_attr(value), ":now": to_attr(now_iso()), ":task": to_attr(task_id)}
        expression = "SET watermark = :wm, updated_at = :now, set_by = :task"
        if keys is None:
            expression += " REMOVE boundary_keys"
        else:
            expression += ", boundary_keys = :keys"
            values[":keys"] = to_attr(list(keys))
        return {
            "Update": {
                "TableName": self.table,
                "Key": self.key(data_source_id, interface_id),
                "UpdateExpression": expression,
                "ExpressionAttributeValues": values,
            }
        }
