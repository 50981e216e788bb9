"""Parallel syncs: one full sync split into ranges (of a table's primary key, of an API's pages), each read by
an engine invocation of its own, committed once.

The task's first message plans the ranges (``split`` on the source), stores them on the task and sends one
message per range, under the task's lease. A range runs like a sync of its own: batches fill parts, written
under ``{task}/r{n}/``, and its checkpoint (its own item, fenced by its own counter) moves only once a part
is written; its rows reach the task's sum with an ``ADD`` (``dal.ranges``). The last range to finish (a
conditional counter on the task) commits every range's files as one snapshot or one manifest and finishes
the task. Cancel and pause reach each range at its next report; a permanent failure of one fails the task
and stops the others, a transient one retries that range alone from its checkpoint; ``retry`` of a failed
parallel sync resumes the ranges that had not finished, keeping those that had.

Size: over 300 lines because planning, a range's run and the commit share the task's ranges and their
checkpoints, and together are the parallel sync's exactly-once protocol, which should read in one place.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Callable

from synchub.connectors.base import (
    BOUNDARY_KEYS_MAX,
    PermanentSourceError,
    TransientSourceError,
    newer_than,
    same_position,
)
from synchub.connectors.lake import LakeDestination
from synchub.connectors.registry import open_source, parallel_problem
from synchub.dal.ranges import RangeStore, range_rows
from synchub.engine.checkpoint import Checkpoint, resumed
from synchub.engine.parts import PartsInProgress, part_size_bytes
from synchub.observability import logger
from synchub.timeutil import iso, parse_iso, utcnow

if TYPE_CHECKING:
    from synchub.engine.runner import SyncRunner


def parallelism_of(task: dict[str, Any]) -> int:
    """How many ranges the task asks for (1: not split)."""
    return int((task.get("config") or {}).get("parallelism") or 1)


def is_parallel(task: dict[str, Any]) -> bool:
    """Whether the task runs as ranges: planned already, or a full sync asking for more than one."""
    return bool(task.get("fanout")) or (task.get("task_type") == "full_sync" and parallelism_of(task) > 1)


class RangeLedger:
    """What a range's ``PartsInProgress`` stores through, in place of the task's lifecycle: the range's
    checkpoint in its own item (fenced by its ``seq``), then its rows added to the task's sum with the
    heartbeat (the task's percentage, speed and estimate follow from that sum: ``models.tasks.public_task``)."""

    def __init__(self, store: RangeStore, index: int, shown: int, heartbeat_seconds: int):
        self.store, self.index, self.shown, self.heartbeat_seconds = store, index, shown, heartbeat_seconds

    def record_progress(
        self,
        task_id: str,
        *,
        lease_owner: str,
        seq: int,
        changes: dict[str, Any],
        checkpoint: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        if checkpoint is not None:
            if not self.store.put_checkpoint(task_id, self.index, seq + 1, checkpoint):
                logger.info("another run of the range stored its checkpoint first", extra={"range": self.index})
                return None
            seq += 1
        now = utcnow()
        fields: dict[str, Any] = {
            "heartbeat_at": iso(now),
            "progress_updated_at": iso(now),
            "updated_at": iso(now),
            "lease_expires_at": iso(now + timedelta(seconds=self.heartbeat_seconds)),
        }
        if "next_attempt_at" in changes:
            fields["next_attempt_at"] = None
        rows = int(changes.get("processed_rows") or 0)
        task = self.store.report(
            task_id, self.index, lease_owner=lease_owner, shown=self.shown, rows=rows, fields=fields
        )
        if task is None:
            return None
        self.shown = range_rows(task, self.index)
        return {**task, "checkpoint_seq": seq}


class ParallelSync:
    """Plans a parallel sync's ranges, runs one range per message, and commits them all once."""

    def __init__(self, runner: SyncRunner):
        self.runner = runner
        self.settings = runner.settings
        self.lifecycle = runner.lifecycle
        self.store = RangeStore(runner.settings)

    def handle(
        self, task: dict[str, Any], run_id: str, message: dict[str, Any], hop: int, remaining_ms: Callable[[], int]
    ) -> str:
        """A parallel task's message: a range's (``range``: its number), else the run's own (plan and send)."""
        index = message.get("range")
        if index is None:
            return self.fan_out(task, run_id)
        if not task.get("fanout") or not isinstance(index, int) or not 0 <= index < len(task["fanout"]["ranges"]):
            logger.warning("a range message of a task without that range", extra={"range": index})
            return "stale"
        return self.run_range(task, run_id, index, hop, remaining_ms)

    # ---- planning -----------------------------------------------------------------------------
    def fan_out(self, task: dict[str, Any], run_id: str) -> str:
        """Plan the ranges once (a redelivered or resumed run finds them), then send a message for each range
        not finished; with every range finished, commit."""
        if not task.get("fanout"):
            planned = self._plan(task, run_id)
            if planned is None:
                return "lost-lease"
            task = planned
        ranges = task["fanout"]["ranges"]
        finished = set(task.get("ranges_finished") or ())
        if len(finished) >= len(ranges):
            return self.commit(task, run_id)
        waiting = [{"range": spec["index"]} for spec in ranges if spec["index"] not in finished]
        self.lifecycle.queue.submit_many(task, run_id=run_id, extras=waiting)
        logger.info(
            "sync fanned out over ranges", extra={"task_id": task["id"], "ranges": len(ranges), "sent": len(waiting)}
        )
        return "fanned-out"

    def _plan(self, task: dict[str, Any], run_id: str) -> dict[str, Any] | None:
        data_source, connection, stream = self.runner.stream_of(task)
        problem = parallel_problem(data_source["type"], stream, task["task_type"], parallelism_of(task))
        if problem:
            raise PermanentSourceError(problem)
        previous = self.lifecycle.find(task["resume_from"]) if task.get("resume_from") else None
        if previous and previous.get("fanout"):  # a retry: the same ranges, each from where it stopped
            ranges, total = previous["fanout"]["ranges"], previous.get("total_rows")
        else:
            previous = None
            source = open_source(data_source, connection, stream)
            try:
                # no more ranges than engine invocations may run at once: the others would only queue
                parts = min(parallelism_of(task), self.settings.engine_max_concurrency)
                ranges, total = source.split(parts)  # type: ignore[attr-defined]
            finally:
                source.close()
        rows, finished = {}, []
        for spec in ranges:
            index = spec["index"]
            earlier = self.store.checkpoint(previous["id"], index) if previous else None
            rows[str(index)] = 0
            if previous and earlier:
                checkpoint = resumed(Checkpoint.from_stored(earlier), previous["id"], incremental=False)
                self.store.put_checkpoint(task["id"], index, 1, checkpoint.stored())  # kept if stored already
                rows[str(index)] = checkpoint.rows
                if index in (previous.get("ranges_finished") or ()):
                    finished.append(index)
        now = utcnow()
        return self.store.plan(
            task["id"],
            lease_owner=run_id,
            ranges=ranges,
            total=total,
            rows=rows,
            finished=finished,
            changes={
                "current_phase": "syncing",
                "heartbeat_at": iso(now),
                "updated_at": iso(now),
                "lease_expires_at": iso(now + timedelta(seconds=self.settings.heartbeat_timeout_seconds)),
            },
        )

    # ---- one range ----------------------------------------------------------------------------
    def run_range(
        self, task: dict[str, Any], run_id: str, index: int, hop: int, remaining_ms: Callable[[], int]
    ) -> str:
        """Read range ``index`` from its checkpoint to its end, or until the task stops or time runs short."""
        began = time.monotonic()
        ranges = task["fanout"]["ranges"]
        if index in (task.get("ranges_finished") or ()):
            if int(task.get("ranges_done") or 0) >= len(ranges):  # the last range's commit did not finish
                return self.commit(task, run_id)
            return "duplicate"
        data_source, connection, stream = self.runner.stream_of(task)
        config = task.get("config") or {}
        batch_size = int(config.get("batch_size") or self.settings.default_batch_size)
        timeout = config.get("timeout")
        stored = self.store.checkpoint(task["id"], index)
        checkpoint = Checkpoint.from_stored(stored) if stored else Checkpoint()
        source = open_source(data_source, connection, stream)
        source.limit_to(ranges[index])  # type: ignore[attr-defined]
        ledger = RangeLedger(self.store, index, range_rows(task, index), self.settings.heartbeat_timeout_seconds)
        run = PartsInProgress(
            ledger,  # type: ignore[arg-type]
            task,
            run_id,
            self.runner.destination_of(task, stream, range_task_id(task["id"], index)),
            checkpoint,
            part_bytes=part_size_bytes(self.settings),
            # the ranges together write the task about as often as one sync does, however many there are
            progress_interval=self.settings.progress_interval_seconds * len(ranges),
        )
        run.seq = int(stored.get("seq") or 0) if stored else 0
        started = parse_iso(task["start_time"])
        try:
            while True:
                if run.task.get("cancel_requested"):
                    self.lifecycle.finish_task(
                        task["id"],
                        lease_owner=run_id,
                        status="cancelled",
                        changes={"next_attempt_at": None, "estimated_time": None},
                    )
                    logger.info("parallel sync cancelled", extra={"task_id": task["id"], "range": index})
                    return "cancelled"
                if run.task.get("pause_requested"):
                    if not run.store(force=True):
                        return "lost-lease"
                    paused = self.lifecycle.pause_task(task["id"], lease_owner=run_id, changes={})
                    if paused is None:
                        return "lost-lease"
                    if paused["status"] == "paused":
                        return "paused"
                    run.task = {**paused, "checkpoint_seq": run.seq}
                if timeout and (utcnow() - started).total_seconds() > float(timeout):
                    run.store(force=True)
                    raise PermanentSourceError(f"The task ran longer than its timeout of {timeout} s.")
                if remaining_ms() < self.settings.engine_time_margin_seconds * 1000:
                    if not run.store(force=True):
                        return "lost-lease"
                    self.lifecycle.queue.submit(run.task, run_id=run_id, hop=hop + 1, extra={"range": index})
                    return "continued"
                try:
                    batch = source.read(run.reading.state, batch_size)
                except (PermanentSourceError, TransientSourceError):
                    run.store(force=True)  # what was read before the failure is kept: a retry goes on from there
                    raise
                run.add(batch, cursor_field=stream.cursor_field, primary_key=stream.primary_key)
                run.changes = {"processed_rows": run.reading.rows}
                if batch.state is None:  # the range's last part and checkpoint, then its count with its rows
                    run.close_part()
                    if run.reading != run.stored and not self.store.put_checkpoint(
                        task["id"], index, run.seq + 1, run.reading.stored()
                    ):
                        return "lost-lease"
                    return self._finished(run.task, run_id, index, began, ledger.shown, run.reading.rows)
                reported = run.stored_at
                if not run.store():
                    return "lost-lease"
                if run.stored_at == reported:  # nothing stored: still, a cancel or pause reaches it at each batch
                    run.task = {**run.task, **self.store.stops(task["id"])}
        finally:
            source.close()

    def _finished(self, task: dict[str, Any], run_id: str, index: int, began: float, shown: int, rows: int) -> str:
        after = self.store.finish(task["id"], index, lease_owner=run_id, shown=shown, rows=rows)
        if after is None:
            return "lost-lease"
        done, count = int(after.get("ranges_done") or 0), len(after["fanout"]["ranges"])
        logger.info(
            "range finished",
            extra={
                "task_id": task["id"],
                "range": index,
                "finished": done,
                "of": count,
                "seconds": round(time.monotonic() - began, 3),  # this invocation's share of the range
            },
        )
        if done < count:
            return "range-finished"
        return self.commit(after, run_id)

    # ---- the one commit -----------------------------------------------------------------------
    def commit(self, task: dict[str, Any], run_id: str) -> str:
        """Every range is finished: commit all their files as one (a table snapshot replacing the table, or one
        manifest) and finish the task. A repeated commit (a redelivered last range) finds it made."""
        began = time.monotonic()
        _, _, stream = self.runner.stream_of(task)
        parts: list[dict[str, Any]] = []
        attempts: list[str] = []
        rows, newest, newest_keys = 0, None, ()
        ranges = task["fanout"]["ranges"]
        stored_checkpoints = self.store.checkpoints_of(task["id"], len(ranges))
        for spec in ranges:
            index = spec["index"]
            stored = stored_checkpoints.get(index)
            checkpoint = Checkpoint.from_stored(stored) if stored else Checkpoint()
            rows += checkpoint.rows
            for attempt, count in self._attempts(task["id"], index, checkpoint):
                if attempt != task["id"] and attempt not in attempts:
                    attempts.append(attempt)
                destination = self.runner.destination_of(task, stream, range_task_id(attempt, index))
                parts.extend({"key": destination.part_key(number)} for number in range(1, count + 1))
            newest, newest_keys = _newest(newest, newest_keys, checkpoint)
        destination = self.runner.destination_of(task, stream)
        result: dict[str, Any] = {"rows_written": rows, "parts": len(parts), "ranges": len(task["fanout"]["ranges"])}
        if getattr(destination, "format", None) == "iceberg":
            summary = {"task_id": task["id"], "run_id": run_id, "earlier_task_ids": attempts}
            result = {
                "destination": "iceberg",
                "table": f"{self.settings.lake_database}.{destination.name}",
                **result,
                **self.runner.commit_files(destination, parts, summary),
            }
        elif isinstance(destination, LakeDestination):
            manifest = destination.finish(
                parts,
                {"task_id": task["id"], "data_source_id": task["data_source_id"], "interface_id": stream.interface_id},
            )
            result = {"destination": "s3", "bucket": destination.bucket, "prefix": destination.prefix, **result}
            result["manifest"] = manifest
        top = Checkpoint(max_cursor=newest, max_cursor_keys=newest_keys)
        elapsed = (utcnow() - parse_iso(task["start_time"])).total_seconds()
        finished = self.lifecycle.finish_task(
            task["id"],
            lease_owner=run_id,
            status="success",
            extra_ops=self.runner.watermark_ops(task, stream, top),
            changes={
                "processed_rows": rows,
                "result": result,
                "progress": 100,
                "speed": round(rows / max(0.001, elapsed), 2),
                "estimated_time": 0,
                "next_attempt_at": None,
            },
        )
        if finished is None:
            return "lost-lease"
        logger.info(
            "parallel sync committed",
            extra={
                "task_id": task["id"],
                "rows": rows,
                "parts": len(parts),
                "seconds": round(time.monotonic() - began, 3),
            },
        )
        return "success"

    def _attempts(self, task_id: str, index: int, checkpoint: Checkpoint) -> list[tuple[str, int]]:
        """The attempts whose parts make range ``index``'s result, the earliest first: (task id, parts), this
        task's own last, following each range checkpoint's pointer back to the attempt it resumed."""
        chain = [(task_id, len(checkpoint.own_parts))]
        pointer, seen = checkpoint.earlier, {task_id}
        while pointer and pointer["task_id"] not in seen:
            seen.add(pointer["task_id"])
            chain.append((pointer["task_id"], int(pointer["parts"])))
            stored = self.store.checkpoint(pointer["task_id"], index)
            pointer = Checkpoint.from_stored(stored).earlier if stored else None
        return list(reversed(chain))


def range_task_id(task_id: str, index: int) -> str:
    """Where a range's parts go, beside the task's: ``{task}/r{n}``."""
    return f"{task_id}/r{index}"


def _newest(newest: Any, keys: Any, checkpoint: Checkpoint) -> tuple[Any, Any]:
    """The newest cursor value over the ranges, with the keys written at it (None: too many to keep)."""
    if checkpoint.max_cursor is None:
        return newest, keys
    if newest is None or newer_than(checkpoint.max_cursor, newest):
        return checkpoint.max_cursor, checkpoint.max_cursor_keys
    if same_position(checkpoint.max_cursor, newest) and keys is not None and checkpoint.max_cursor_keys is not None:
        joined = tuple(dict.fromkeys((*keys, *checkpoint.max_cursor_keys)))
        return newest, joined if len(joined) <= BOUNDARY_KEYS_MAX else None
    return newest, None if same_position(checkpoint.max_cursor, newest) else keys
