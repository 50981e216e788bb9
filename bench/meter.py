"""Counting what the service asks of AWS: requests by operation, and DynamoDB capacity units.

Every request passes the meter's hooks on the service's shared clients. DynamoDB is asked for
``ReturnConsumedCapacity``, but the emulator answers with a fixed placeholder, so the meter also computes
the units DynamoDB charges from the sizes of the items involved, by the published rules:

- reads: 4 KB units, rounded up per item (GetItem, BatchGetItem) or over the whole response (Query);
  eventually consistent reads cost half; transactional reads cost double;
- writes: 1 KB units of the larger of the old and new item, rounded up per item; transactional writes
  (and the ConditionChecks of a transaction) cost double; each global secondary index whose projection
  changes costs a write of the projected item (two when its key changes).

Items a Query's filter drops are not returned; they are costed at the mean size of the ones returned.

``what_if`` prices the same work under other projections of a table's indexes (the writes they would
take, and what Queries of them would read), so two designs are compared on one run.
"""

from __future__ import annotations

import copy
import math
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

READ_UNIT = 4096
WRITE_UNIT = 1024
WRITE_OPERATIONS = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
CAPACITY_OPERATIONS = WRITE_OPERATIONS | {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}


def _number_size(text: str) -> int:
    digits = len(str(Decimal(text).normalize()).lstrip("-").replace(".", "").lstrip("0")) or 1
    return (digits + 1) // 2 + 1


def attribute_size(value: dict[str, Any]) -> int:
    """Bytes DynamoDB counts for one attribute value."""
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "N":
        return _number_size(inner)
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(v.encode("utf-8")) for v in inner)
    if kind == "NS":
        return sum(_number_size(v) for v in inner)
    if kind == "BS":
        return sum(len(v) for v in inner)
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + attribute_size(v) for k, v in inner.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict[str, Any] | None) -> int:
    """Bytes DynamoDB counts for an item: names plus values."""
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + attribute_size(value) for name, value in item.items())


@dataclass
class TableShape:
    keys: list[str]
    indexes: dict[str, tuple[list[str], str, list[str]]]  # name → (key attributes, projection type, non-key attrs)

    def projected(self, index: str, item: dict[str, Any]) -> dict[str, Any] | None:
        index_keys, kind, extra = self.indexes[index]
        if any(name not in item for name in index_keys):
            return None
        if kind == "ALL":
            return item
        keep = set(self.keys) | set(index_keys) | (set(extra) if kind == "INCLUDE" else set())
        return {k: v for k, v in item.items() if k in keep}


@dataclass
class Usage:
    """What one stretch of work asked of AWS."""

    requests: Counter = field(default_factory=Counter)
    read_units: float = 0.0
    write_units: float = 0.0
    reported_read_units: float = 0.0
    reported_write_units: float = 0.0
    # under each ``what_if`` projection: [write units, read units] of the whole stretch
    what_if: dict[str, list[float]] = field(default_factory=dict)
    # write units by (table, kind): "transaction" or "single" item writes, and "indexes" (their GSI copies)
    write_units_by: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": dict(sorted(self.requests.items())),
            "total_requests": sum(self.requests.values()),
            "read_units": round(self.read_units, 2),
            "write_units": round(self.write_units, 2),
        }


class AwsMeter:
    """Hooks on the service's clients: counts requests, records their parameters, computes capacity."""

    def __init__(self, side_dynamodb: Any):
        self.side = side_dynamodb  # an unhooked client, to read item sizes before and after writes
        self.usage = Usage()
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.active = False
        self.capacity = True
        self._shapes: dict[str, TableShape] = {}
        self._before_items: list[tuple[str, dict[str, Any], dict[str, Any] | None, bool]] = []
        self._what_if: dict[str, tuple[str, list[str], tuple[str, list[str]]]] = {}

    def what_if(
        self, label: str, table: str, indexes: list[str], projection: str, attributes: list[str] | None = None
    ) -> None:
        """Also price every stretch as if ``indexes`` of ``table`` had ``projection`` (KEYS_ONLY, INCLUDE
        with ``attributes``, ALL)."""
        self._what_if[label] = (table, indexes, (projection, attributes or []))

    def _shape_if(self, label: str, table: str) -> TableShape:
        shape = self._shape(table)
        target, names, (kind, extra) = self._what_if[label]
        if table != target:
            return shape
        return TableShape(
            shape.keys,
            {
                name: (keys, kind, extra) if name in names else (keys, k, e)
                for name, (keys, k, e) in shape.indexes.items()
            },
        )

    def attach(self, client: Any) -> None:
        service = client.meta.service_model.service_name
        client.meta.events.register(f"before-parameter-build.{service}", self._before)
        client.meta.events.register(f"after-call.{service}", self._after)

    def start(self, capacity: bool = True) -> None:
        self.usage, self.calls, self.active, self.capacity = Usage(), [], True, capacity
        self.usage.what_if = {label: [0.0, 0.0] for label in self._what_if}

    def stop(self) -> Usage:
        self.active = False
        for totals in self.usage.what_if.values():
            totals[1] += self.usage.read_units  # the Query differences, on top of what every read cost
        return self.usage

    # ---- hooks
    def _before(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if not self.active:
            return
        service = model.service_model.service_name
        self.usage.requests[f"{service}.{model.name}"] += 1
        self.calls.append((service, model.name, copy.deepcopy(params)))
        if service == "dynamodb" and model.name in CAPACITY_OPERATIONS:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")
        if service == "dynamodb" and model.name in WRITE_OPERATIONS and self.capacity:
            self._before_items = [
                (table, key, self._get(table, key), transactional)
                for table, key, transactional in self._written_keys(model.name, params)
            ]

    def _after(self, model: Any, parsed: dict[str, Any], http_response: Any, **_: Any) -> None:
        if not self.active or model.service_model.service_name != "dynamodb":
            return
        reported = parsed.get("ConsumedCapacity")
        for entry in reported if isinstance(reported, list) else [reported] if reported else []:
            units = float(entry.get("CapacityUnits") or 0)
            if model.name in WRITE_OPERATIONS:
                self.usage.reported_write_units += units
            else:
                self.usage.reported_read_units += units
        if not self.capacity:
            return
        params = self.calls[-1][2]
        failed = http_response.status_code >= 400
        if model.name in WRITE_OPERATIONS:
            self._charge_writes(failed)
        elif model.name == "GetItem":
            self.usage.read_units += self._read_units([item_size(parsed.get("Item"))], params.get("ConsistentRead"))
        elif model.name == "BatchGetItem":
            for table, request in params["RequestItems"].items():
                sizes = [item_size(i) for i in parsed.get("Responses", {}).get(table, [])]
                sizes += [0] * (len(request["Keys"]) - len(sizes))
                self.usage.read_units += self._read_units(sizes, request.get("ConsistentRead"))
        elif model.name == "TransactGetItems":
            sizes = [item_size(r.get("Item")) for r in parsed.get("Responses", [])]
            self.usage.read_units += 2 * self._read_units(sizes, True)
        elif model.name in ("Query", "Scan") and not failed:
            self.usage.read_units += self._query_units(params, parsed)
            for label, totals in self.usage.what_if.items():
                totals[1] += self._query_units(params, parsed, label) - self._query_units(params, parsed)

    # ---- capacity arithmetic
    @staticmethod
    def _read_units(sizes: list[int], consistent: bool | None) -> float:
        units = sum(max(1, math.ceil(size / READ_UNIT)) for size in sizes)
        return units if consistent else units / 2

    def _query_units(self, params: dict[str, Any], parsed: dict[str, Any], label: str | None = None) -> float:
        shape = self._shape_if(label, params["TableName"]) if label else self._shape(params["TableName"])
        index = params.get("IndexName")
        items = parsed.get("Items", [])
        if "ProjectionExpression" in params or params.get("Select") == "COUNT":
            items = [self._get(params["TableName"], {k: i[k] for k in shape.keys}) or i for i in items]
        sizes = [item_size(shape.projected(index, i) if index else i) for i in items]
        scanned = int(parsed.get("ScannedCount", len(items)))
        total = sum(sizes) + (scanned - len(items)) * (sum(sizes) / len(sizes) if sizes else 1024)
        units = max(1, math.ceil(total / READ_UNIT))
        units = units if params.get("ConsistentRead") else units / 2
        return units

    def _charge_writes(self, failed: bool) -> None:
        for table, key, old, transactional in self._before_items:
            factor = 2 if transactional else 1
            new = old if failed else self._get(table, key)
            base = factor * max(1, math.ceil(max(item_size(old), item_size(new)) / WRITE_UNIT))
            self.usage.write_units += base
            self.usage.write_units_by[(table, "transaction" if transactional else "single")] += base
            changed = not failed and old != new
            indexed = self._index_units(self._shape(table), old, new) if changed else 0
            self.usage.write_units += indexed
            self.usage.write_units_by[(table, "indexes")] += indexed
            for label, totals in self.usage.what_if.items():
                totals[0] += base + (self._index_units(self._shape_if(label, table), old, new) if changed else 0)
        self._before_items = []

    @staticmethod
    def _index_units(shape: TableShape, old: dict[str, Any] | None, new: dict[str, Any] | None) -> float:
        """Write units the table's indexes take for one item going from ``old`` to ``new``."""
        units = 0
        for index in shape.indexes:
            before, after = (shape.projected(index, i) if i else None for i in (old, new))
            if before == after:
                continue
            index_keys = shape.indexes[index][0]
            same_key = before is not None and after is not None and all(before[k] == after[k] for k in index_keys)
            if same_key:
                units += math.ceil(max(item_size(before), item_size(after)) / WRITE_UNIT)
            else:
                units += sum(math.ceil(item_size(p) / WRITE_UNIT) for p in (before, after) if p)
        return units

    def _written_keys(self, operation: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any], bool]]:
        found: list[tuple[str, dict[str, Any], bool]] = []
        if operation == "TransactWriteItems":
            for action in params["TransactItems"]:
                kind, body = next(iter(action.items()))
                found.append((body["TableName"], self._key_of(body), True))
        elif operation == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    body = request.get("PutRequest") or request.get("DeleteRequest")
                    found.append((table, self._key_of({"TableName": table, **body}), False))
        else:
            found.append((params["TableName"], self._key_of(params), False))
        return found

    def _key_of(self, body: dict[str, Any]) -> dict[str, Any]:
        if "Key" in body:
            return body["Key"]
        return {k: body["Item"][k] for k in self._shape(body["TableName"]).keys}

    def _get(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        return self.side.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")

    def _shape(self, table: str) -> TableShape:
        if table not in self._shapes:
            description = self.side.describe_table(TableName=table)["Table"]
            indexes = {
                index["IndexName"]: (
                    [k["AttributeName"] for k in index["KeySchema"]],
                    index["Projection"]["ProjectionType"],
                    index["Projection"].get("NonKeyAttributes", []),
                )
                for index in description.get("GlobalSecondaryIndexes", [])
            }
            self._shapes[table] = TableShape([k["AttributeName"] for k in description["KeySchema"]], indexes)
        return self._shapes[table]
