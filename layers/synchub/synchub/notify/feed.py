"""The task change feed: DynamoDB stream records of the tasks table turned into task changes.

Every write to a task reaches the stream, so a change is published even if its writer crashed right
after writing. A record becomes a ``status`` change (created, or another status), a ``progress`` change
(the live progress fields moved while the status stayed), or nothing (bookkeeping: leases, heartbeats).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from synchub.dal.codec import from_item
from synchub.models.tasks import TERMINAL_STATUSES, public_task

PROGRESS_FIELDS = (
    "progress",
    "processed_rows",
    "total_rows",
    "speed",
    "current_phase",
    "estimated_time",
    "error_count",
    "cancel_requested",
)


@dataclass(frozen=True)
class TaskChange:
    """One published change of a task: ``kind`` is ``status`` or ``progress``."""

    kind: str
    task: dict[str, Any]  # the task's public fields after the change
    old_status: str | None
    sequence: str  # the stream record's sequence number (ordered per task)
    notify_url: str | None = None  # the stored one (the public view shows it masked)

    @property
    def new_status(self) -> str:
        return self.task["status"]

    @property
    def terminal(self) -> bool:
        return self.kind == "status" and self.new_status in TERMINAL_STATUSES

    def message(self) -> dict[str, Any]:
        """The WebSocket message: ``task.status`` or ``task.progress`` with the task's public fields."""
        body: dict[str, Any] = {
            "type": f"task.{self.kind}",
            "task_id": self.task["id"],
            "task": self.task,
            "sequence": self.sequence,
        }
        if self.kind == "status":
            body.update(old_status=self.old_status, new_status=self.new_status)
        return body

    def topics(self) -> tuple[str, ...]:
        """What a subscriber may follow to receive this change."""
        return (f"task:{self.task['id']}", f"data_source:{self.task['data_source_id']}", "all")


def change_of(record: dict[str, Any]) -> TaskChange | None:
    """The change a stream record carries, or None (a removal, or a write that moved nothing public)."""
    data = record.get("dynamodb") or {}
    new = from_item(data.get("NewImage") or None)
    old = from_item(data.get("OldImage") or None)
    sequence = str(data.get("SequenceNumber") or "")
    if new is None or "status" not in new:
        return None
    url = new.get("notify_url")
    if old is None:
        return TaskChange("status", public_task(new), None, sequence, url)
    if old.get("status") != new.get("status"):
        return TaskChange("status", public_task(new), old.get("status"), sequence, url)
    if any(old.get(name) != new.get(name) for name in PROGRESS_FIELDS):
        return TaskChange("progress", public_task(new), new.get("status"), sequence, url)
    return None
