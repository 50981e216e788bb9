"""A run's parts in progress: the part being filled, the checkpoint as read and as stored, and when progress
is due. The exactly-once rule lives here: the checkpoint is stored only after the part holding its reads is
written."""

from __future__ import annotations

import os
import time
from typing import Any, Callable

from synchub.connectors.base import Batch
from synchub.engine.checkpoint import Checkpoint, after_batch, after_part
from synchub.observability import logger
from synchub.settings import Settings
from synchub.tasks.lifecycle import TaskLifecycle


def part_size_bytes(settings: Settings) -> int:
    """Uncompressed bytes per part: the setting, capped at a quarter of the engine's memory."""
    memory_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") or 0)
    limit_mb = min(settings.part_size_mb, memory_mb / 4) if memory_mb else settings.part_size_mb
    return max(1, int(limit_mb * 1024 * 1024))


class PartsInProgress:
    """One invocation's share of a run: the part being filled, the checkpoint as read (``reading``) and as
    stored, and the task as last stored. Progress is stored at most every ``progress_interval`` seconds;
    the checkpoint only once the part holding its reads is written."""

    def __init__(
        self,
        lifecycle: TaskLifecycle,
        task: dict[str, Any],
        run_id: str,
        destination: Any,
        checkpoint: Checkpoint,
        *,
        part_bytes: int,
        progress_interval: float,
    ):
        self.lifecycle, self.task, self.run_id, self.destination = lifecycle, task, run_id, destination
        self.seq = int(task.get("checkpoint_seq") or 0)
        self.stored = self.reading = checkpoint
        self.part_bytes, self.progress_interval = part_bytes, progress_interval
        self.part: Any = None
        self.written: dict[int, dict[str, Any]] = {}  # parts this invocation wrote: number → key and rows
        self.changes: dict[str, Any] = {}  # the progress to store next
        self.stored_at = time.monotonic()
        # Told each checkpoint once stored (source state, newest cursor): a broker's messages are acknowledged then.
        self.on_checkpoint: Callable[[Any, Any], None] | None = None

    def add(self, batch: Batch, *, cursor_field: str | None, primary_key: str | None = None) -> None:
        if batch.rows:
            if self.part is None:
                self.part = self.destination.open_part(self.reading.next_part)
            self.part.add(batch.rows, batch.columns)
        self.reading = after_batch(self.reading, batch, cursor_field=cursor_field, primary_key=primary_key)

    def close_part(self) -> None:
        """Write the open part (if any rows are in it)."""
        if self.part is not None:
            self.written[self.reading.next_part] = self.part.close()
            self.reading, self.part = after_part(self.reading), None

    def store(self, *, force: bool = False) -> bool:
        """Store what is due: once the part is full (or with ``force``: now), the part and then the checkpoint,
        else progress alone once ``progress_interval`` has passed. False if the run lost the task."""
        checkpoint = None
        if force or (self.part is not None and self.part.size >= self.part_bytes):
            self.close_part()
            checkpoint = self.reading if self.reading != self.stored else None
        if checkpoint is None and time.monotonic() - self.stored_at < self.progress_interval:
            return True
        changes = {**self.changes, "next_attempt_at": None} if self.task.get("next_attempt_at") else self.changes
        updated = self.lifecycle.record_progress(
            self.task["id"],
            lease_owner=self.run_id,
            seq=self.seq,
            changes=changes,
            checkpoint=checkpoint.stored() if checkpoint else None,
        )
        if updated is None:
            logger.info("lost the task to another run; stopping", extra={"task_id": self.task["id"]})
            return False
        self.task, self.seq, self.stored_at = updated, int(updated.get("checkpoint_seq") or 0), time.monotonic()
        if checkpoint is not None:
            self.stored = checkpoint
            if self.on_checkpoint is not None:
                self.on_checkpoint(checkpoint.state, checkpoint.max_cursor)
        return True
