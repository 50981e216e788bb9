"""A run's checkpoint as a small typed value - where the source stands, what has been written, the cursor
seen - and the pure functions that advance it and turn it into the task's progress. The runner advances it
with each read, and stores it (in the task's checkpoint item) once the part holding those reads is written;
nothing here talks to AWS or a source."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from synchub.connectors.base import Batch, newer_than, newest


@dataclass(frozen=True)
class Checkpoint:
    """Constant in size however many batches, polls and retries a task runs: this run's parts are numbered
    1 to ``next_part - 1``, and an earlier attempt's parts are named by a pointer to that attempt (whose own
    checkpoint points further back), never listed."""

    state: Any = None  # the source's position after the last written batch (None: the start)
    next_part: int = 1  # the number of the next part to write
    rows: int = 0  # rows written so far, the earlier attempts' included
    since: Any = None  # incremental syncs: read rows past this cursor value
    max_cursor: Any = None  # the newest cursor value written
    polls: int = 0  # realtime syncs: polls completed
    earlier: dict[str, Any] | None = None  # the attempt this one resumes: {task_id, parts}
    inherited: tuple[dict[str, Any], ...] = ()  # parts listed by checkpoints stored before 2026-12 (read only)

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> "Checkpoint":
        return cls(state=stored.get("state"), next_part=int(stored.get("next_part") or 1),
                   rows=int(stored.get("rows") or 0), since=stored.get("since"),
                   max_cursor=stored.get("max_cursor"), polls=int(stored.get("polls") or 0),
                   earlier=stored.get("earlier"), inherited=tuple(stored.get("inherited") or ()))

    def stored(self) -> dict[str, Any]:
        stored = {"state": self.state, "next_part": self.next_part, "rows": self.rows, "since": self.since,
                  "max_cursor": self.max_cursor, "polls": self.polls, "earlier": self.earlier}
        if self.inherited:
            stored["inherited"] = list(self.inherited)
        return stored

    @property
    def own_parts(self) -> range:
        """The numbers of the parts this run wrote."""
        return range(1, self.next_part)


def first(*, since: Any = None) -> Checkpoint:
    """A run from the start (an incremental one past the committed watermark ``since``)."""
    return Checkpoint(since=since, max_cursor=since)


def resumed(earlier: Checkpoint, earlier_task_id: str, *, incremental: bool, since: Any = None) -> Checkpoint:
    """A retry's start: the failed attempt's source position and rows, and a pointer to its parts."""
    return Checkpoint(state=earlier.state, rows=earlier.rows, inherited=earlier.inherited,
                      earlier={"task_id": earlier_task_id, "parts": len(earlier.own_parts)},
                      since=earlier.since if incremental else since, max_cursor=earlier.max_cursor)


def after_batch(checkpoint: Checkpoint, batch: Batch, *, cursor_field: str | None) -> Checkpoint:
    """The checkpoint once ``batch``'s rows are in part ``checkpoint.next_part`` (still open), with the newest
    cursor value seen (any task type: a successful full sync commits it as the watermark too)."""
    max_cursor = checkpoint.max_cursor
    if batch.cursor is not None:
        max_cursor = newest(max_cursor, batch.cursor)
    elif cursor_field:
        for row in batch.rows:
            value = row.get(cursor_field)
            if value is not None and newer_than(value, max_cursor):
                max_cursor = value
    return replace(checkpoint, state=batch.state, rows=checkpoint.rows + len(batch.rows), max_cursor=max_cursor)


def after_part(checkpoint: Checkpoint) -> Checkpoint:
    """Part ``checkpoint.next_part`` is written: later rows go to the next one."""
    return replace(checkpoint, next_part=checkpoint.next_part + 1)


def after_poll(checkpoint: Checkpoint) -> Checkpoint:
    """A realtime sync's poll is over: the next one reads only rows past the newest seen."""
    return replace(checkpoint, since=checkpoint.max_cursor, polls=checkpoint.polls + 1)


def progress(rows: int, total: int | None, *, done: bool, elapsed_seconds: float, shown: int) -> dict[str, Any]:
    """The task's live progress: rows, percentage (``shown`` stays when the total is unknown), speed (rows/s)
    and the estimated seconds left."""
    speed = round(rows / max(0.001, elapsed_seconds), 2)
    if total:
        percent = 100 if done else min(99, int(rows * 100 / max(total, 1)))
        estimated = round(max(0, total - rows) / speed, 1) if speed > 0 else None
    else:
        percent, estimated = (100 if done else shown), None
    return {"processed_rows": rows, "total_rows": total, "progress": percent, "speed": speed,
            "estimated_time": 0 if done else estimated, "current_phase": "finalizing" if done else "syncing"}
