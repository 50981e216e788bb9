"""The data sources table: one item per source, listed through a creation-ordered index."""

from __future__ import annotations

from typing import Any

from synchub import aws
from synchub.dal.codec import from_item, to_item
from synchub.dal.paging import Page, PageState, ShardedIndex, read_page
from synchub.settings import Settings

INDEX_BY_CREATED = "ByCreated"
LIST_PARTITION = "DS"


class DataSourceStore:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.table = settings.data_sources_table

    def get(self, data_source_id: str) -> dict[str, Any] | None:
        response = aws.client("dynamodb").get_item(
            TableName=self.table, Key={"id": {"S": data_source_id}}, ConsistentRead=True
        )
        return from_item(response.get("Item"))

    def put(self, record: dict[str, Any], *, must_exist: bool) -> None:
        record = {**record, "lk": LIST_PARTITION, "created_key": f"{record['created_at']}#{record['id']}"}
        aws.client("dynamodb").put_item(
            TableName=self.table,
            Item=to_item(record),
            ConditionExpression="attribute_exists(id)" if must_exist else "attribute_not_exists(id)",
        )

    def exists_check(self, data_source_id: str) -> dict[str, Any]:
        """A ConditionCheck transaction item: the data source exists."""
        return {
            "ConditionCheck": {
                "TableName": self.table,
                "Key": {"id": {"S": data_source_id}},
                "ConditionExpression": "attribute_exists(id)",
            }
        }

    def delete_op(self, data_source_id: str) -> dict[str, Any]:
        return {
            "Delete": {
                "TableName": self.table,
                "Key": {"id": {"S": data_source_id}},
                "ConditionExpression": "attribute_exists(id)",
            }
        }

    def listing_index(self) -> ShardedIndex:
        return ShardedIndex(self.table, INDEX_BY_CREATED, "lk", LIST_PARTITION, 1, sort_attr="created_key")

    def page(self, state: PageState, size: int) -> Page:
        return read_page(aws.client("dynamodb").query, self.listing_index(), state, size)
