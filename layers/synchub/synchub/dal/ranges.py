"""A parallel sync's ranges in DynamoDB: each range's checkpoint item (``{task_id}#r{n}`` in the checkpoints
table, fenced by its own ``seq`` as a task's is), and the counters on the task item the ranges share.

On the task item: ``fanout`` (the ranges as planned), ``range_rows`` (rows each range has reported, a map by
range number), ``processed_rows`` (their sum, moved with ``ADD`` in the same update that raises a range's
figure, so concurrent ranges never overwrite each other's rows and a range re-reading after a crash counts
nothing twice), ``ranges_finished`` (the numbers of the finished ranges) and ``ranges_done`` (how many, the
conditional counter that tells the last range it is the last).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from synchub import aws
from synchub.dal.checkpoints import CheckpointStore
from synchub.dal.codec import from_item, to_attr
from synchub.dal.transactions import ConditionFailed
from synchub.settings import Settings

RANGE_MARK = "#r"  # a range's checkpoint item: the task id, this mark, the range number


def range_key(task_id: str, index: int) -> str:
    return f"{task_id}{RANGE_MARK}{index}"


class RangeStore:
    def __init__(self, settings: Settings):
        self.tasks_table = settings.tasks_table
        self.checkpoints = CheckpointStore(settings)

    # ---- each range's checkpoint --------------------------------------------------------------
    def checkpoint(self, task_id: str, index: int) -> dict[str, Any] | None:
        """Range ``index``'s stored checkpoint (with its ``seq``), or None."""
        return self.checkpoints.get(range_key(task_id, index))

    def checkpoints_of(self, task_id: str, count: int) -> dict[int, dict[str, Any]]:
        """The stored checkpoints of ranges 0 … ``count - 1`` (those that have one), by range number."""
        found = self.checkpoints.get_many([range_key(task_id, index) for index in range(count)])
        return {int(key.rpartition(RANGE_MARK)[2]): stored for key, stored in found.items()}

    def put_checkpoint(self, task_id: str, index: int, seq: int, checkpoint: dict[str, Any]) -> bool:
        """Store the range's checkpoint number ``seq`` unless one as late is stored (another run of the range
        got there first); False then."""
        return self.checkpoints.put(range_key(task_id, index), seq, checkpoint)

    def delete_ops(self, task: dict[str, Any]) -> list[dict[str, Any]]:
        """Delete items of a parallel task's range checkpoints (none for other tasks)."""
        ranges = (task.get("fanout") or {}).get("ranges") or []
        return [self.checkpoints.delete_op(range_key(task["id"], index)) for index in range(len(ranges))]

    # ---- the task's counters ------------------------------------------------------------------
    def stops(self, task_id: str) -> dict[str, Any]:
        """What a range between its reports checks after each batch: whether the task is to stop (cancel or
        pause asked), in one eventually consistent read of those fields (half a read unit)."""
        response = aws.client("dynamodb").get_item(
            TableName=self.tasks_table,
            Key={"id": {"S": task_id}},
            ProjectionExpression="cancel_requested, pause_requested",
        )
        found = from_item(response.get("Item")) or {}
        return {name: found.get(name) for name in ("cancel_requested", "pause_requested")}

    def _update(self, task_id: str, expression: str, condition: str, values: dict[str, Any], names: dict[str, str]):
        try:
            response = aws.client("dynamodb").update_item(
                TableName=self.tasks_table,
                Key={"id": {"S": task_id}},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={key: to_attr(value) for key, value in values.items()},
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise ConditionFailed(from_item(error.response.get("Item"))) from error
            raise
        return from_item(response.get("Attributes")) or {}

    def plan(
        self,
        task_id: str,
        *,
        lease_owner: str,
        ranges: list[dict[str, Any]],
        total: int | None,
        rows: dict[str, int],
        finished: list[int],
        changes: dict[str, Any],
    ) -> dict[str, Any] | None:
        """Store the task's ranges, once, by its lease holder: each range's rows so far (a retry's are its
        earlier attempt's) and the ranges already finished. The task as stored, or None if it is not this
        run's or was planned meanwhile."""
        fields = {
            "fanout": {"ranges": ranges},
            "range_rows": rows,
            "processed_rows": sum(rows.values()),
            "ranges_finished": finished,
            "ranges_done": len(finished),
            "total_rows": total,
            **changes,
        }
        fields = {name: value for name, value in fields.items() if value is not None}
        names = {f"#f{n}": name for n, name in enumerate(fields)}
        values = {f":f{n}": value for n, value in enumerate(fields.values())}
        try:
            return self._update(
                task_id,
                "SET " + ", ".join(f"#f{n} = :f{n}" for n in range(len(fields))) + " ADD #version :one",
                "#status = :running AND #owner = :run AND attribute_not_exists(#fanout)",
                {**values, ":running": "running", ":run": lease_owner, ":one": 1},
                {**names, "#status": "status", "#owner": "lease_owner", "#fanout": "fanout", "#version": "version"},
            )
        except ConditionFailed:
            return None

    def report(
        self,
        task_id: str,
        index: int,
        *,
        lease_owner: str,
        shown: int,
        rows: int,
        fields: dict[str, Any],
    ) -> dict[str, Any]:
        """Range ``index`` has read ``rows`` rows (``shown``: what the task shows for it): raise its figure and
        the task's sum by the difference (nothing when it is not above), set ``fields`` (heartbeat, lease),
        only while the task runs under ``lease_owner`` and shows ``shown`` for the range. Raises
        ``ConditionFailed`` (with the task as it is) otherwise."""
        names = {"#status": "status", "#owner": "lease_owner"}
        names.update({f"#f{n}": name for n, name in enumerate(fields)})
        values: dict[str, Any] = {":running": "running", ":run": lease_owner, ":one": 1}
        values.update({f":f{n}": value for n, value in enumerate(fields.values())})
        sets = [f"#f{n} = :f{n}" for n in range(len(fields))]
        adds = ["#version :one"]
        names["#version"] = "version"
        condition = "#status = :running AND #owner = :run"
        if rows > shown:
            names.update({"#processed": "processed_rows", "#rows": "range_rows", "#range": str(index)})
            values.update({":rows": rows, ":shown": shown, ":delta": rows - shown})
            sets.append("#rows.#range = :rows")
            adds.append("#processed :delta")
            condition += " AND #rows.#range = :shown"
        return self._update(task_id, f"SET {', '.join(sets)} ADD {', '.join(adds)}", condition, values, names)

    def finish(self, task_id: str, index: int, *, lease_owner: str, shown: int, rows: int) -> dict[str, Any] | None:
        """Count range ``index`` finished, once, with its last rows (``rows``; ``shown``: what the task shows for
        it) added as ``report`` adds them: the task as stored (its ``ranges_done`` says whether this was the
        last), the task as it is if the range was counted already, or None if the task is not this run's."""
        for _ in range(5):
            names = {
                "#status": "status",
                "#owner": "lease_owner",
                "#finished": "ranges_finished",
                "#done": "ranges_done",
                "#version": "version",
            }
            values: dict[str, Any] = {
                ":running": "running",
                ":run": lease_owner,
                ":range": [index],
                ":index": index,
                ":one": 1,
            }
            sets, adds = ["#finished = list_append(#finished, :range)"], ["#done :one", "#version :one"]
            condition = "#status = :running AND #owner = :run AND NOT contains(#finished, :index)"
            if rows > shown:
                names.update({"#processed": "processed_rows", "#rows": "range_rows", "#range": str(index)})
                values.update({":rows": rows, ":shown": shown, ":delta": rows - shown})
                sets.append("#rows.#range = :rows")
                adds.append("#processed :delta")
                condition += " AND #rows.#range = :shown"
            try:
                return self._update(task_id, f"SET {', '.join(sets)} ADD {', '.join(adds)}", condition, values, names)
            except ConditionFailed as failure:
                task = failure.old
                if task is None or task.get("status") != "running" or task.get("lease_owner") != lease_owner:
                    return None
                if index in (task.get("ranges_finished") or ()):
                    return task
                shown = int((task.get("range_rows") or {}).get(str(index)) or 0)  # a duplicate run reported
        return None
