"""A parallel sync's ranges in DynamoDB: each range's checkpoint item (``{task_id}#r{n}`` in the checkpoints
table, fenced by its own ``seq`` as a task's is), and the counters on the task item the ranges share.

On the task item: ``fanout`` (the ranges as planned), ``range_rows`` (rows each range has reported, a map by
range number), ``processed_rows`` (their sum, moved with ``ADD`` in the same update that raises a range's
figure, so concurrent ranges never overwrite each other's rows and a range re-reading after a crash counts
nothing twice), ``ranges_finished`` (the numbers of the finished ranges) and ``ranges_done`` (how many, the
conditional counter that tells the last range it is the last).
"""

from __future__ import annotations

from typing import Any, Callable

from synchub import aws
from synchub.dal.checkpoints import CheckpointStore
from synchub.dal.codec import from_item, to_attr
from synchub.dal.tasks import TaskStore
from synchub.dal.transactions import ConditionFailed
from synchub.settings import Settings

RANGE_MARK = "#r"  # a range's checkpoint item: the task id, this mark, the range number


def range_key(task_id: str, index: int) -> str:
    return f"{task_id}{RANGE_MARK}{index}"


class RangeStore:
    def __init__(self, settings: Settings):
        self.tasks = TaskStore(settings)
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
            TableName=self.tasks.table,
            Key={"id": {"S": task_id}},
            ProjectionExpression="cancel_requested, pause_requested",
        )
        found = from_item(response.get("Item")) or {}
        return {name: found.get(name) for name in ("cancel_requested", "pause_requested")}

    def _update(self, task_id: str, expression: str, condition: str, values: dict[str, Any], names: dict[str, str]):
        """One update of the task item through the tasks' store: the task as stored, or ``ConditionFailed``."""
        return self.tasks.update(
            {
                "Update": {
                    "TableName": self.tasks.table,
                    "Key": {"id": {"S": task_id}},
                    "UpdateExpression": expression,
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": {key: to_attr(value) for key, value in values.items()},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
        )

    def _raising_rows(
        self,
        task_id: str,
        index: int,
        *,
        lease_owner: str,
        shown: int,
        rows: int,
        sets: list[str],
        adds: list[str],
        condition: str,
        names: dict[str, str],
        values: dict[str, Any],
        done: Callable[[dict[str, Any]], bool] = lambda task: False,
    ) -> dict[str, Any] | None:
        """Update the task while it runs under ``lease_owner`` (``sets``, ``adds``, ``condition``), raising range
        ``index``'s figure from ``shown`` to ``rows`` and the task's sum by the difference (nothing when
        ``rows`` is not above). Another run of the range that raised the figure meanwhile makes it try again
        from there. The task as stored; the task as it is when ``done(task)`` says the update is not needed;
        None if the task is not this run's."""
        for _ in range(5):
            all_names = {"#status": "status", "#owner": "lease_owner", "#version": "version", **names}
            all_values = {":running": "running", ":run": lease_owner, ":one": 1, **values}
            all_sets, all_adds = list(sets), [*adds, "#version :one"]
            full = "#status = :running AND #owner = :run" + (f" AND {condition}" if condition else "")
            if rows > shown:
                all_names.update({"#processed": "processed_rows", "#rows": "range_rows", "#range": str(index)})
                all_values.update({":rows": rows, ":shown": shown, ":delta": rows - shown})
                all_sets.append("#rows.#range = :rows")
                all_adds.append("#processed :delta")
                full += " AND #rows.#range = :shown"
            try:
                return self._update(
                    task_id, f"SET {', '.join(all_sets)} ADD {', '.join(all_adds)}", full, all_values, all_names
                )
            except ConditionFailed as failure:
                task = failure.old
                if task is None or task.get("status") != "running" or task.get("lease_owner") != lease_owner:
                    return None
                if done(task):
                    return task
                shown = range_rows(task, index)  # a duplicate run of the range reported
        return None

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
    ) -> dict[str, Any] | None:
        """Range ``index`` has read ``rows`` rows (``shown``: what the task shows for it): raise its figure and
        the task's sum by the difference, and set ``fields`` (heartbeat, lease), while the task runs under
        ``lease_owner``. The task as stored, or None if it is not this run's."""
        return self._raising_rows(
            task_id,
            index,
            lease_owner=lease_owner,
            shown=shown,
            rows=rows,
            sets=[f"#f{n} = :f{n}" for n in range(len(fields))],
            adds=[],
            condition="",
            names={f"#f{n}": name for n, name in enumerate(fields)},
            values={f":f{n}": value for n, value in enumerate(fields.values())},
        )

    def finish(self, task_id: str, index: int, *, lease_owner: str, shown: int, rows: int) -> dict[str, Any] | None:
        """Count range ``index`` finished, once, with its last rows (``rows``; ``shown``: what the task shows for
        it) added as ``report`` adds them: the task as stored (its ``ranges_done`` says whether this was the
        last), the task as it is if the range was counted already, or None if the task is not this run's."""
        return self._raising_rows(
            task_id,
            index,
            lease_owner=lease_owner,
            shown=shown,
            rows=rows,
            sets=["#finished = list_append(#finished, :range)"],
            adds=["#done :one"],
            condition="NOT contains(#finished, :index)",
            names={"#finished": "ranges_finished", "#done": "ranges_done"},
            values={":range": [index], ":index": index},
            done=lambda task: index in (task.get("ranges_finished") or ()),
        )


def range_rows(task: dict[str, Any], index: int) -> int:
    """The rows the task shows for range ``index``."""
    return int((task.get("range_rows") or {}).get(str(index)) or 0)
