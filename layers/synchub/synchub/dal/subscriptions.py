"""The WebSocket connections table: who is connected, and which topics each connection follows.

Two kinds of item, both expiring (TTL ``expires_at``) shortly after API Gateway's 2-hour connection limit,
and both carrying ``token_expires_at`` when the connection was opened with a token (the publisher closes a
connection whose token has expired):

- ``pk = conn#<connection id>``, ``sk = meta``: the caller and the set of ``topics`` it follows;
- ``pk = topic#<topic>``, ``sk = <connection id>``: one per subscription, so the publisher finds a
  task's subscribers with one ``Query`` per topic (the task, its data source, ``all``), never a Scan.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterable

from synchub import aws
from synchub.dal.transactions import Transaction, TransactionFailed
from synchub.settings import Settings

META = "meta"


def _conn_key(connection_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"conn#{connection_id}"}, "sk": {"S": META}}


def _sub_key(topic: str, connection_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"topic#{topic}"}, "sk": {"S": connection_id}}


@dataclass(frozen=True)
class OpenConnection:
    topics: set[str]
    token_expires_at: int | None  # Unix seconds; None for a connection opened without a token


class ConnectionGone(Exception):
    """The connection closed (or expired) before the change."""


class SubscriptionStore:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.table = settings.connections_table

    def expiry(self) -> int:
        return int(time.time()) + self.settings.connection_ttl_seconds

    def open(self, connection_id: str, caller: str, token_expires_at: int | None = None) -> None:
        item = {
            **_conn_key(connection_id),
            "caller": {"S": caller},
            "connected_at": {"N": str(int(time.time()))},
            "expires_at": {"N": str(self.expiry())},
        }
        if token_expires_at is not None:
            item["token_expires_at"] = {"N": str(int(token_expires_at))}
        aws.client("dynamodb").put_item(TableName=self.table, Item=item)

    def connection(self, connection_id: str) -> OpenConnection | None:
        """What an open connection follows and when its token expires (None when it is not open)."""
        item = (
            aws.client("dynamodb")
            .get_item(TableName=self.table, Key=_conn_key(connection_id), ConsistentRead=True)
            .get("Item")
        )
        if item is None:
            return None
        expires = item.get("token_expires_at")
        return OpenConnection(set((item.get("topics") or {}).get("SS") or []), int(expires["N"]) if expires else None)

    def topics(self, connection_id: str) -> set[str] | None:
        """The topics a connection follows (None when it is not open)."""
        found = self.connection(connection_id)
        return found.topics if found else None

    def subscribe(self, connection_id: str, topics: Iterable[str], token_expires_at: int | None = None) -> None:
        """Follow ``topics`` (one transaction: the connection must still be open); each subscription carries the
        connection's token expiry, for the publisher."""
        topics = sorted(set(topics))
        if not topics:
            return
        expires: dict[str, Any] = {"expires_at": {"N": str(self.expiry())}}
        if token_expires_at is not None:
            expires["token_expires_at"] = {"N": str(int(token_expires_at))}
        ops: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": _conn_key(connection_id),
                    "UpdateExpression": "ADD topics :topics",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": {":topics": {"SS": topics}},
                }
            }
        ]
        ops += [{"Put": {"TableName": self.table, "Item": {**_sub_key(t, connection_id), **expires}}} for t in topics]
        self._while_open(connection_id, ops)

    def unsubscribe(self, connection_id: str, topics: Iterable[str]) -> None:
        topics = sorted(set(topics))
        if not topics:
            return
        ops: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": _conn_key(connection_id),
                    "UpdateExpression": "DELETE topics :topics",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": {":topics": {"SS": topics}},
                }
            }
        ]
        ops += [{"Delete": {"TableName": self.table, "Key": _sub_key(t, connection_id)}} for t in topics]
        self._while_open(connection_id, ops)

    @staticmethod
    def _while_open(connection_id: str, ops: list[dict[str, Any]]) -> None:
        """Run a transaction whose first item is conditional on the connection's record."""
        connection, *subscriptions = ops
        try:
            Transaction().add("connection open", connection).add("subscriptions", *subscriptions).run()
        except TransactionFailed as failure:
            if failure.failed("connection open"):
                raise ConnectionGone(connection_id) from failure
            raise

    def close(self, connection_id: str) -> int:
        """Forget a connection and its subscriptions (idempotent); returns how many items went."""
        topics = self.topics(connection_id)
        if topics is None:
            return 0
        keys = [_conn_key(connection_id)] + [_sub_key(t, connection_id) for t in sorted(topics)]
        client = aws.client("dynamodb")
        for start in range(0, len(keys), 25):
            pending: dict[str, Any] = {self.table: [{"DeleteRequest": {"Key": k}} for k in keys[start : start + 25]]}
            for _ in range(5):
                pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
                if not pending:
                    break
                time.sleep(0.05)
        return len(keys)

    def subscribers(self, topics: Iterable[str]) -> set[str]:
        """Connection ids following any of ``topics`` whose token is still valid (expired records left out)."""
        return self.followers(topics)[0]

    def followers(self, topics: Iterable[str]) -> tuple[set[str], set[str]]:
        """(connections following any of ``topics``, those of them whose token has expired)."""
        now = int(time.time())
        found: set[str] = set()
        token_expired: set[str] = set()
        client = aws.client("dynamodb")
        for topic in topics:
            params: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": f"topic#{topic}"}},
                "ProjectionExpression": "sk, expires_at, token_expires_at",
            }
            while True:
                page = client.query(**params)
                for item in page.get("Items", []):
                    if int(item.get("expires_at", {}).get("N", now + 1)) <= now:
                        continue
                    if int(item.get("token_expires_at", {}).get("N", now + 1)) <= now:
                        token_expired.add(item["sk"]["S"])
                    else:
                        found.add(item["sk"]["S"])
                if not page.get("LastEvaluatedKey"):
                    break
                params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found, token_expired
