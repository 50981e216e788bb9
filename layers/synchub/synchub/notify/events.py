"""``SyncTask State Change`` events on the stack's EventBridge bus, for users' own rules.

Match them with ``{"source": ["synchub"], "detail-type": ["SyncTask State Change"]}`` and narrow by
``detail.new_status``, ``detail.data_source_id`` or ``detail.task_type``.
"""

from __future__ import annotations

import json
from typing import Any

from synchub import aws
from synchub.notify.feed import TaskChange
from synchub.settings import Settings

SOURCE = "synchub"
DETAIL_TYPE = "SyncTask State Change"


class EventsNotPublished(Exception):
    """EventBridge refused some entries; the stream batch is retried from the first of them."""


def state_change_detail(change: TaskChange) -> dict[str, Any]:
    task = change.task
    return {
        "task_id": task["id"],
        "data_source_id": task["data_source_id"],
        "interface_id": task.get("interface_id"),
        "task_type": task["task_type"],
        "old_status": change.old_status,
        "new_status": change.new_status,
        "processed_rows": task.get("processed_rows"),
        "total_rows": task.get("total_rows"),
        "error_code": task.get("error_code"),
        "error_message": task.get("error_message"),
        "attempt": task.get("attempt"),
        "retry_of": task.get("retry_of"),
        "created_by": task.get("created_by"),
        "start_time": task.get("start_time"),
        "end_time": task.get("end_time"),
        "updated_at": task.get("updated_at"),
    }


class StateChangePublisher:
    def __init__(self, settings: Settings):
        self.settings = settings

    def entry(self, change: TaskChange) -> dict[str, Any]:
        return {
            "Source": SOURCE,
            "DetailType": DETAIL_TYPE,
            "EventBusName": self.settings.event_bus_name,
            "Resources": [],
            "Detail": json.dumps(state_change_detail(change), separators=(",", ":")),
        }

    def publish(self, changes: list[TaskChange]) -> int:
        """Put one event per status change (10 per request); raises if EventBridge refused any."""
        entries = [self.entry(c) for c in changes if c.kind == "status"]
        for start in range(0, len(entries), 10):
            response = aws.client("events").put_events(Entries=entries[start : start + 10])
            if response.get("FailedEntryCount"):
                failures = [e for e in response.get("Entries", []) if e.get("ErrorCode")]
                raise EventsNotPublished(f"{len(failures)} events refused: {failures[:3]}")
        return len(entries)
