"""The interfaces table: one item per (data source, interface), listed by data source."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from synchub import aws
from synchub.dal.codec import from_item, to_item
from synchub.dal.transactions import ConditionFailed
from synchub.settings import Settings


class InterfaceStore:
    def __init__(self, settings: Settings):
        self.table = settings.interfaces_table
        self.data_sources_table = settings.data_sources_table

    @staticmethod
    def key(data_source_id: str, interface_id: str) -> dict[str, Any]:
        return {"data_source_id": {"S": data_source_id}, "id": {"S": interface_id}}

    def get(self, data_source_id: str, interface_id: str) -> dict[str, Any] | None:
        response = aws.client("dynamodb").get_item(
            TableName=self.table, Key=self.key(data_source_id, interface_id), ConsistentRead=True
        )
        return from_item(response.get("Item"))

    def put_op(self, record: dict[str, Any], *, must_exist: bool) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": to_item(record),
                "ConditionExpression": "attribute_exists(id)" if must_exist else "attribute_not_exists(id)",
            }
        }

    def get_with_source(
        self, data_source_id: str, interface_id: str
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(the data source's id, type and capture setting, or None; the interface or None) in one consistent
        BatchGetItem."""
        request = {
            self.table: {"Keys": [self.key(data_source_id, interface_id)], "ConsistentRead": True},
            self.data_sources_table: {
                "Keys": [{"id": {"S": data_source_id}}],
                "ConsistentRead": True,
                "ProjectionExpression": "id, #type, params_config.capture",
                "ExpressionAttributeNames": {"#type": "type"},
            },
        }
        found: dict[str, list[dict[str, Any]]] = {}
        while request:
            response = aws.client("dynamodb").batch_get_item(RequestItems=request)
            for table, items in response.get("Responses", {}).items():
                found.setdefault(table, []).extend(items)
            request = response.get("UnprocessedKeys") or {}
        interfaces = found.get(self.table) or []
        sources = found.get(self.data_sources_table) or []
        return (from_item(sources[0]) if sources else None), (from_item(interfaces[0]) if interfaces else None)

    def put(self, record: dict[str, Any], *, must_exist: bool) -> None:
        try:
            aws.client("dynamodb").put_item(**self.put_op(record, must_exist=must_exist)["Put"])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise ConditionFailed(None) from error
            raise

    def exists_check(self, data_source_id: str, interface_id: str) -> dict[str, Any]:
        return {
            "ConditionCheck": {
                "TableName": self.table,
                "Key": self.key(data_source_id, interface_id),
                "ConditionExpression": "attribute_exists(id)",
            }
        }

    def delete(self, data_source_id: str, interface_id: str) -> None:
        try:
            aws.client("dynamodb").delete_item(
                TableName=self.table,
                Key=self.key(data_source_id, interface_id),
                ConditionExpression="attribute_exists(id)",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise ConditionFailed(None) from error
            raise

    def page(self, data_source_id: str, *, after: str | None, size: int) -> tuple[list[dict[str, Any]], str | None]:
        """Interfaces of a data source in id order, ``size`` at a time after ``after``."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "data_source_id = :ds",
            "ExpressionAttributeValues": {":ds": {"S": data_source_id}},
            "Limit": size,
        }
        if after:
            params["ExclusiveStartKey"] = self.key(data_source_id, after)
        response = aws.client("dynamodb").query(**params)
        items = [from_item(item) or {} for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return items, (last["id"]["S"] if last else None)
