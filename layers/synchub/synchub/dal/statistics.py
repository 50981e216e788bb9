"""The statistics aggregate table: sharded day buckets and gauges (see ``synchub.models.aggregate``)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from synchub import aws
from synchub.dal.codec import UpdateBuilder, from_item
from synchub.models import aggregate
from synchub.settings import Settings

GAUGE = "GAUGE"


def _partition(scope: str, shard: int) -> str:
    return f"{scope}#{shard}"


def _day_key(day: str) -> str:
    return f"D#{day}"


class StatisticsStore:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.table = settings.statistics_table

    def _update(self, partition: str, sort: str, counters: dict[str, int]) -> dict[str, Any]:
        update = UpdateBuilder()
        for name, amount in counters.items():
            update.add(name, amount)
        return {
            "Update": {
                "TableName": self.table,
                "Key": {"pk": {"S": partition}, "sk": {"S": sort}},
                "UpdateExpression": update.expression,
                "ExpressionAttributeNames": update.names,
                "ExpressionAttributeValues": update.values,
            }
        }

    def change_ops(self, before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[dict[str, Any]]:
        """Transaction items that move the aggregate from ``before`` to ``after`` of one task."""
        reference = after or before
        assert reference is not None
        shard = int(reference["stats_shard"])
        day, bucket_delta, gauge_delta = aggregate.deltas(before, after)
        ops: list[dict[str, Any]] = []
        for scope in aggregate.scopes(reference):
            if bucket_delta:
                ops.append(self._update(_partition(scope, shard), _day_key(day), bucket_delta))
            if gauge_delta:
                ops.append(self._update(_partition(scope, shard), GAUGE, gauge_delta))
        return ops

    def no_active_tasks_checks(self, scope: str) -> list[dict[str, Any]]:
        """ConditionChecks that hold only while no task of ``scope`` is pending, running or paused."""
        return [
            {
                "ConditionCheck": {
                    "TableName": self.table,
                    "Key": {"pk": {"S": _partition(scope, shard)}, "sk": {"S": GAUGE}},
                    "ConditionExpression": "(attribute_not_exists(st_pending) OR st_pending = :zero) AND "
                    "(attribute_not_exists(st_running) OR st_running = :zero) AND "
                    "(attribute_not_exists(st_paused) OR st_paused = :zero)",
                    "ExpressionAttributeValues": {":zero": {"N": "0"}},
                }
            }
            for shard in range(self.settings.statistics_shards)
        ]

    def window(self, scope: str, start_day: str, end_day: str) -> dict[str, Counter]:
        """Counters per day (``YYYY-MM-DD``) of the buckets ``start_day..end_day``, shards summed (one Query per
        shard); days without tasks are absent."""
        dynamodb = aws.client("dynamodb")
        days: dict[str, Counter] = {}
        for shard in range(self.settings.statistics_shards):
            params: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi",
                "ExpressionAttributeValues": {
                    ":pk": {"S": _partition(scope, shard)},
                    ":lo": {"S": _day_key(start_day)},
                    ":hi": {"S": _day_key(end_day)},
                },
            }
            while True:
                response = dynamodb.query(**params)
                for raw in response.get("Items", []):
                    item = from_item(raw) or {}
                    day = str(item.get("sk", ""))[len(_day_key("")) :]
                    days.setdefault(day, Counter()).update({k: v for k, v in item.items() if k not in ("pk", "sk")})
                if "LastEvaluatedKey" not in response:
                    break
                params["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return days

    def gauges(self, scope: str) -> Counter:
        """Current per-status task counts of ``scope`` (one BatchGetItem over the shards)."""
        dynamodb = aws.client("dynamodb")
        keys = [
            {"pk": {"S": _partition(scope, shard)}, "sk": {"S": GAUGE}}
            for shard in range(self.settings.statistics_shards)
        ]
        total: Counter = Counter()
        request: dict[str, Any] = {self.table: {"Keys": keys, "ConsistentRead": True}}
        while request:
            response = dynamodb.batch_get_item(RequestItems=request)
            for raw in response.get("Responses", {}).get(self.table, []):
                item = from_item(raw) or {}
                total.update({k: v for k, v in item.items() if k not in ("pk", "sk")})
            request = response.get("UnprocessedKeys") or {}
        return total
