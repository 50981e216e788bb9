"""The benchmark's DynamoDB capacity arithmetic: item sizes and units by the published rules."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from bench.meter import AwsMeter, attribute_size, item_size


class FakeTable:
    """Stands in for the side client: one table keyed by ``id`` with one GSI of ALL projection."""

    def __init__(self, items: dict[str, dict[str, Any]] | None = None):
        self.items = items or {}

    def describe_table(self, TableName: str) -> dict[str, Any]:  # noqa: N803 (boto3's parameter names)
        return {
            "Table": {
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "GlobalSecondaryIndexes": [
                    {
                        "IndexName": "ByStatus",
                        "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
            }
        }

    def get_item(self, TableName: str, Key: dict[str, Any], ConsistentRead: bool) -> dict[str, Any]:  # noqa: N803
        found = self.items.get(Key["id"]["S"])
        return {"Item": found} if found else {}


def model(name: str) -> Any:
    return SimpleNamespace(name=name, service_model=SimpleNamespace(service_name="dynamodb"))


def padded(identifier: str, status: str | None, size: int) -> dict[str, Any]:
    item = {"id": {"S": identifier}, "pad": {"S": ""}}
    if status:
        item["status"] = {"S": status}
    item["pad"]["S"] = "x" * (size - item_size(item))
    assert item_size(item) == size
    return item


def call(meter: AwsMeter, operation: str, params: dict[str, Any], parsed: dict[str, Any], status: int = 200) -> None:
    meter._before(model=model(operation), params=params)
    meter._after(model=model(operation), parsed=parsed, http_response=SimpleNamespace(status_code=status))


@pytest.mark.parametrize(
    "value, size",
    [
        ({"S": "héllo"}, 6),
        ({"N": "123"}, 3),
        ({"N": "-1.50"}, 2),
        ({"BOOL": True}, 1),
        ({"NULL": True}, 1),
        ({"L": [{"S": "ab"}, {"N": "1"}]}, 3 + (1 + 2) + (1 + 2)),
        ({"M": {"k": {"S": "v"}}}, 3 + 1 + 1 + 1),
        ({"SS": ["a", "bc"]}, 3),
    ],
)
def test_attribute_sizes_follow_dynamodb_rules(value, size):
    assert attribute_size(value) == size


def test_item_size_counts_names_and_values():
    assert item_size({"id": {"S": "abc"}, "n": {"N": "7"}}) == (2 + 3) + (1 + 2)


def test_reads_round_up_per_4kb_and_halve_when_eventually_consistent():
    meter = AwsMeter(FakeTable())
    meter.start()
    call(
        meter,
        "GetItem",
        {"TableName": "t", "Key": {"id": {"S": "a"}}, "ConsistentRead": True},
        {"Item": padded("a", None, 5000)},
    )
    assert meter.usage.read_units == 2  # 5,000 bytes → two 4 KB units, strongly consistent
    call(meter, "GetItem", {"TableName": "t", "Key": {"id": {"S": "b"}}}, {})
    assert meter.usage.read_units == 2.5  # a miss still costs the minimum, eventually consistent
    call(
        meter,
        "Query",
        {"TableName": "t", "IndexName": "ByStatus"},
        {"Items": [padded(str(i), "done", 3000) for i in range(3)], "ScannedCount": 3},
    )
    assert meter.usage.read_units == 2.5 + 1.5  # 9,000 bytes summed → 3 units, halved
    assert meter.stop().requests == {"dynamodb.GetItem": 2, "dynamodb.Query": 1}


def test_writes_cost_1kb_units_double_in_transactions_plus_changed_indexes():
    table = FakeTable()
    meter = AwsMeter(table)
    meter.start()
    new = padded("a", "pending", 1500)

    # the put lands in the table between the meter's before and after hooks
    params = {"TransactItems": [{"Put": {"TableName": "t", "Item": new}}]}
    meter._before(model=model("TransactWriteItems"), params=params)
    table.items["a"] = new
    meter._after(model=model("TransactWriteItems"), parsed={}, http_response=SimpleNamespace(status_code=200))
    assert meter.usage.write_units == 2 * 2 + 2  # transactional 2 × 2 KB, plus the GSI's copy (2 KB)

    changed = padded("a", "running", 1500)
    meter._before(model=model("UpdateItem"), params={"TableName": "t", "Key": {"id": {"S": "a"}}})
    table.items["a"] = changed
    meter._after(model=model("UpdateItem"), parsed={}, http_response=SimpleNamespace(status_code=200))
    assert meter.usage.write_units == 6 + 2 + 2 + 2  # table 2 KB; GSI key changed: delete old + put new

    meter._before(model=model("UpdateItem"), params={"TableName": "t", "Key": {"id": {"S": "a"}}})
    meter._after(model=model("UpdateItem"), parsed={}, http_response=SimpleNamespace(status_code=400))
    assert meter.usage.write_units == 12 + 2  # a failed conditional write still costs the item's size
    assert meter.usage.write_units_by == {("t", "transaction"): 4, ("t", "single"): 2 + 2, ("t", "indexes"): 2 + 4}
    assert sum(meter.usage.write_units_by.values()) == meter.usage.write_units
