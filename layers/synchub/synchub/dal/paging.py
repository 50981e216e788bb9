"""Newest-first paging over a sharded index: one Query per shard, merged by sort key.

An index whose partition key is ``<value>#<shard>`` spreads writes over ``shards`` partitions. A page of
``size`` items needs at most ``size`` items from each shard, so the cost of a page depends on ``size`` and
the shard count only, never on how many items the index holds. The continuation token records, per shard,
the key of the last item handed out (or that the shard is exhausted).
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
from dataclasses import dataclass
from typing import Any, Callable

from synchub.dal.codec import from_item

DONE = "~"


class InvalidToken(ValueError):
    """The continuation token is not one this index handed out for this filter."""


@dataclass
class ShardedIndex:
    """Where to look: a table, an index, its partition key attribute and the values per shard."""

    table: str
    index: str
    partition_attr: str
    partition_value: str
    shards: int
    sort_attr: str = "id"
    # Narrowings that stay bounded: a sort-key range (a key condition) and an equality on another attribute
    # (a filter over that range: the Query reads the range's items, returns those that match).
    sort_range: tuple[str, str] | None = None
    equals: tuple[str, str] | None = None

    @property
    def fingerprint(self) -> str:
        """What a continuation token must have been issued for: the partition and every narrowing."""
        parts = [self.partition_value]
        if self.sort_range:
            parts.append("..".join(self.sort_range))
        if self.equals:
            parts.append("=".join(self.equals))
        return "|".join(parts)

    def partition(self, shard: int) -> str:
        return self.partition_value if self.shards == 1 else f"{self.partition_value}#{shard}"

    def start_key(self, shard: int, cursor: str) -> dict[str, Any]:
        """The ``ExclusiveStartKey`` after ``cursor``: index keys plus the table key ``id``.

        A sort key other than ``id`` has the form ``<value>#<id>``.
        """
        key = {self.partition_attr: {"S": self.partition(shard)}, self.sort_attr: {"S": cursor}}
        if self.sort_attr != "id":
            key["id"] = {"S": cursor.split("#", 1)[-1]}
        return key


@dataclass
class PageState:
    """Per-shard cursors: ``None`` = from the start, a sort-key value = after it, ``DONE`` = exhausted."""

    cursors: list[str | None]
    page: int = 1

    def exhausted(self) -> bool:
        return all(cursor == DONE for cursor in self.cursors)


# Deepest offset a listing reaches with ``page`` alone; beyond it clients follow ``next_token``.
MAX_PAGE_OFFSET = 10_000


@dataclass
class Page:
    items: list[dict[str, Any]]
    state: PageState
    has_more: bool


def _pack(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unpack(token: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise InvalidToken("next_token is not a token this API issued") from error


def encode_cleanup_token(binding: str, position: dict[str, Any]) -> str:
    """A cleanup continuation: which (status, shard) partition and the last id handled, bound to the request."""
    return _pack({"b": binding, "i": position["i"], "a": position["a"]})


def decode_cleanup_token(token: str, binding: str) -> dict[str, Any]:
    payload = _unpack(token)
    if not isinstance(payload, dict) or payload.get("b") != binding:
        raise InvalidToken("next_token belongs to a different cleanup (before_date and statuses must stay the same)")
    index, after = payload.get("i"), payload.get("a")
    if not isinstance(index, int) or index < 0 or not (after is None or isinstance(after, str)):
        raise InvalidToken("next_token is not a token this API issued")
    return {"i": index, "a": after}


def encode_token(index: ShardedIndex, state: PageState) -> str:
    return _pack({"i": index.index, "f": index.fingerprint, "c": state.cursors, "p": state.page})


def decode_token(index: ShardedIndex, token: str) -> PageState:
    payload = _unpack(token)
    if not isinstance(payload, dict) or payload.get("i") != index.index or payload.get("f") != index.fingerprint:
        raise InvalidToken("next_token belongs to a different listing (filters must stay the same)")
    cursors = payload.get("c")
    page = payload.get("p")
    if (
        not isinstance(cursors, list)
        or len(cursors) != index.shards
        or not all(c is None or (isinstance(c, str) and 0 < len(c) <= 256) for c in cursors)
        or not isinstance(page, int)
        or page < 1
    ):
        raise InvalidToken("next_token is not a token this API issued")
    return PageState(cursors=cursors, page=page)


def _query_shard(
    query: Callable[..., dict[str, Any]], index: ShardedIndex, shard: int, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """Up to ``limit`` items of one shard after ``cursor``; returns (items, more_in_shard)."""
    items: list[dict[str, Any]] = []
    partition = index.partition(shard)
    start_key = index.start_key(shard, cursor) if cursor is not None else None
    while True:
        params: dict[str, Any] = {
            "TableName": index.table,
            "IndexName": index.index,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": index.partition_attr},
            "ExpressionAttributeValues": {":pk": {"S": partition}},
            "ScanIndexForward": False,
            "Limit": limit - len(items),
        }
        if index.sort_range:
            params["KeyConditionExpression"] += " AND #sk BETWEEN :low AND :high"
            params["ExpressionAttributeNames"]["#sk"] = index.sort_attr
            params["ExpressionAttributeValues"].update(
                {":low": {"S": index.sort_range[0]}, ":high": {"S": index.sort_range[1]}}
            )
        if index.equals:
            params["FilterExpression"] = "#eq = :eq"
            params["ExpressionAttributeNames"]["#eq"] = index.equals[0]
            params["ExpressionAttributeValues"][":eq"] = {"S": index.equals[1]}
        if start_key:
            params["ExclusiveStartKey"] = start_key
        response = query(**params)
        items.extend(item for raw in response.get("Items", []) if (item := from_item(raw)) is not None)
        start_key = response.get("LastEvaluatedKey")
        if not start_key or len(items) >= limit:
            return items, bool(start_key)


def read_page(query: Callable[..., dict[str, Any]], index: ShardedIndex, state: PageState, size: int) -> Page:
    """The next ``size`` items, newest first, and the state after them."""
    buffers: dict[int, list[dict[str, Any]]] = {}
    more: dict[int, bool] = {}
    for shard, cursor in enumerate(state.cursors):
        if cursor == DONE:
            continue
        buffers[shard], more[shard] = _query_shard(query, index, shard, cursor, size)
    streams = [[(item[index.sort_attr], shard, item) for item in items] for shard, items in buffers.items()]
    merged = heapq.merge(*streams, key=lambda entry: entry[0], reverse=True)
    taken: list[dict[str, Any]] = []
    consumed: dict[int, int] = {shard: 0 for shard in buffers}
    cursors = list(state.cursors)
    for sort_value, shard, item in merged:
        if len(taken) == size:
            break
        taken.append(item)
        consumed[shard] += 1
        cursors[shard] = sort_value
    for shard, items in buffers.items():
        if consumed[shard] == len(items) and not more[shard]:
            cursors[shard] = DONE
    next_state = PageState(cursors=cursors, page=state.page + 1)
    return Page(items=taken, state=next_state, has_more=not next_state.exhausted())
