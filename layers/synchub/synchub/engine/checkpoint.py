"""A run's checkpoint as a small typed value - where the source stands, what has been written, the cursor
seen - and the pure functions that advance it and turn it into the task's progress. The runner advances it
with each read, and stores it (in the task's checkpoint item) once the part holding those reads is written;
nothing here talks to AWS or a source."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from synchub.connectors.base import (
    BOUNDARY_KEYS_MAX,
    Batch,
    PermanentSourceError,
    boundary_key,
    cursor_boundary,
    newer_than,
    newest,
    same_position,
)

Keys = tuple[Any, ...] | None  # what was delivered at one cursor value; None: more than BOUNDARY_KEYS_MAX


@dataclass(frozen=True)
class Checkpoint:
    """Constant in size however many batches, polls and retries a task runs: this run's parts are numbered
    1 to ``next_part - 1``, and an earlier attempt's parts are named by a pointer to that attempt (whose own
    checkpoint points further back), never listed."""

    state: Any = None  # the source's position after the last written batch (None: the start)
    next_part: int = 1  # the number of the next part to write
    rows: int = 0  # rows written so far, the earlier attempts' included
    since: Any = None  # incremental syncs: read rows at or past this cursor value…
    since_keys: Keys = ()  # …less these, delivered at exactly ``since`` by earlier runs
    max_cursor: Any = None  # the newest cursor value written
    max_cursor_keys: Keys = ()  # the keys of what was written at exactly ``max_cursor``
    polls: int = 0  # realtime syncs: polls completed
    earlier: dict[str, Any] | None = None  # the attempt this one resumes: {task_id, parts}
    inherited: tuple[dict[str, Any], ...] = ()  # parts listed by checkpoints stored before 2026-12 (read only)

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> "Checkpoint":
        return cls(
            state=stored.get("state"),
            next_part=int(stored.get("next_part") or 1),
            rows=int(stored.get("rows") or 0),
            since=stored.get("since"),
            since_keys=_keys(stored.get("since_keys")),
            max_cursor=stored.get("max_cursor"),
            max_cursor_keys=_keys(stored.get("max_cursor_keys")),
            polls=int(stored.get("polls") or 0),
            earlier=stored.get("earlier"),
            inherited=tuple(stored.get("inherited") or ()),
        )

    def stored(self) -> dict[str, Any]:
        stored = {
            "state": self.state,
            "next_part": self.next_part,
            "rows": self.rows,
            "since": self.since,
            "since_keys": _listed(self.since_keys),
            "max_cursor": self.max_cursor,
            "max_cursor_keys": _listed(self.max_cursor_keys),
            "polls": self.polls,
            "earlier": self.earlier,
        }
        if self.inherited:
            stored["inherited"] = list(self.inherited)
        return stored

    @property
    def own_parts(self) -> range:
        """The numbers of the parts this run wrote."""
        return range(1, self.next_part)


def _keys(stored: Any) -> Keys:
    """Stored keys: a list, or None (too many to keep; also a watermark from before keys were kept)."""
    return tuple(stored) if isinstance(stored, (list, tuple)) else None


def _listed(keys: Keys) -> list[Any] | None:
    return list(keys) if keys is not None else None


def first(*, since: Any = None, since_keys: Keys = ()) -> Checkpoint:
    """A run from the start (an incremental one from the committed watermark ``since``, less ``since_keys``)."""
    return Checkpoint(since=since, since_keys=since_keys, max_cursor=since, max_cursor_keys=since_keys)


def resumed(
    earlier: Checkpoint, earlier_task_id: str, *, incremental: bool, since: Any = None, since_keys: Keys = ()
) -> Checkpoint:
    """A retry's start: the failed attempt's source position and rows, and a pointer to its parts."""
    return Checkpoint(
        state=earlier.state,
        rows=earlier.rows,
        inherited=earlier.inherited,
        earlier={"task_id": earlier_task_id, "parts": len(earlier.own_parts)},
        since=earlier.since if incremental else since,
        since_keys=earlier.since_keys if incremental else since_keys,
        max_cursor=earlier.max_cursor,
        max_cursor_keys=earlier.max_cursor_keys,
    )


def _joined(keys: Keys, more: Any) -> Keys:
    if keys is None:
        return None
    joined = tuple(dict.fromkeys((*keys, *more)))
    return joined if len(joined) <= BOUNDARY_KEYS_MAX else None


def after_batch(
    checkpoint: Checkpoint, batch: Batch, *, cursor_field: str | None, primary_key: str | None = None
) -> Checkpoint:
    """The checkpoint once ``batch``'s rows are in part ``checkpoint.next_part`` (still open), with the newest
    cursor value seen (any task type: a successful full sync commits it as the watermark too) and the keys of
    what was written at exactly that value."""
    max_cursor, keys = checkpoint.max_cursor, checkpoint.max_cursor_keys
    if batch.cursor is not None:
        cursor, at_cursor = batch.cursor, batch.cursor_keys
    elif cursor_field:
        cursor, at_cursor = cursor_boundary(batch.rows, cursor_field, lambda row: boundary_key(row, primary_key))
    else:
        cursor, at_cursor = None, ()
    if cursor is not None:
        if newer_than(cursor, max_cursor):
            keys = _joined((), at_cursor)
        elif same_position(cursor, max_cursor):
            keys = _joined(keys, at_cursor)
        max_cursor = newest(max_cursor, cursor)
    return replace(
        checkpoint,
        state=batch.state,
        rows=checkpoint.rows + len(batch.rows),
        max_cursor=max_cursor,
        max_cursor_keys=keys,
    )


def after_part(checkpoint: Checkpoint) -> Checkpoint:
    """Part ``checkpoint.next_part`` is written: later rows go to the next one."""
    return replace(checkpoint, next_part=checkpoint.next_part + 1)


def after_poll(checkpoint: Checkpoint) -> Checkpoint:
    """A realtime sync's poll is over: the next one reads only rows past the newest seen."""
    return replace(
        checkpoint, since=checkpoint.max_cursor, since_keys=checkpoint.max_cursor_keys, polls=checkpoint.polls + 1
    )


def read_from(checkpoint: Checkpoint, lookback_seconds: float = 0) -> tuple[Any, Keys]:
    """Where an incremental read starts: the watermark less what was delivered at it, or with a lookback the
    watermark moved back that many seconds, read whole (rows already copied in that window come again)."""
    if not lookback_seconds or checkpoint.since is None:
        return checkpoint.since, checkpoint.since_keys
    return looked_back(checkpoint.since, lookback_seconds), ()


def looked_back(cursor: Any, seconds: float) -> str:
    """A date or timestamp cursor value (ISO 8601 text) ``seconds`` earlier, written the same way."""
    text = str(cursor)
    try:
        if not isinstance(cursor, str) or len(text) < 10:
            raise ValueError(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise PermanentSourceError(
            f"lookback_seconds needs a date or timestamp cursor; the watermark is {cursor!r}"
        ) from None
    earlier = moment - timedelta(seconds=seconds)
    if len(text) == 10:  # a date
        return earlier.date().isoformat()
    return earlier.isoformat(sep=" " if text[10] == " " else "T")


def progress(rows: int, total: int | None, *, done: bool, elapsed_seconds: float, shown: int) -> dict[str, Any]:
    """The task's live progress: rows, percentage (``shown`` stays when the total is unknown), speed (rows/s)
    and the estimated seconds left."""
    speed = round(rows / max(0.001, elapsed_seconds), 2)
    if total:
        percent = 100 if done else min(99, int(rows * 100 / max(total, 1)))
        estimated = round(max(0, total - rows) / speed, 1) if speed > 0 else None
    else:
        percent, estimated = (100 if done else shown), None
    return {
        "processed_rows": rows,
        "total_rows": total,
        "progress": percent,
        "speed": speed,
        "estimated_time": 0 if done else estimated,
        "current_phase": "finalizing" if done else "syncing",
    }
