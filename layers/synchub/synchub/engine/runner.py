"""SyncRunner: executes one engine message: start or continue a task, batch by batch.

A batch is read from the source, written to the destination under a name fixed by (task, batch number),
and only then is the checkpoint moved, in one conditional update that also carries progress and the
heartbeat. A message redelivered after a crash resumes from the last checkpoint and rewrites the same
part, so each row lands exactly once. When the invocation runs short of time the runner hands over to a
fresh invocation through a continuation message.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from synchub import aws
from synchub.connectors.base import Batch, PermanentSourceError, TransientSourceError
from synchub.connectors.lake import LakeDestination
from synchub.engine.sources import open_source, stream_for
from synchub.errors import NotFound
from synchub.observability import logger
from synchub.schedule.data_sources import DataSourceService
from synchub.schedule.tasks import ScheduleService
from synchub.settings import Settings
from synchub.timeutil import parse_iso, utcnow


class RetryLater(Exception):
    """A transient failure: the message goes back to the queue (with backoff) and is retried."""


class SyncRunner:
    def __init__(self, settings: Settings, schedule: ScheduleService, data_sources: DataSourceService):
        self.settings = settings
        self.schedule = schedule
        self.data_sources = data_sources

    # ---- entry point ----------------------------------------------------------------------------
    def handle(self, message: dict[str, Any], message_id: str, remaining_ms: Callable[[], int]) -> str:
        """Process one engine message; returns what happened (for logs and tests)."""
        task_id = message.get("task_id")
        if not isinstance(task_id, str):
            logger.warning("engine message without a task id dropped")
            return "dropped"
        run_id = message.get("run_id") or message_id
        task = self.schedule.tasks.get(task_id)
        if task is None:
            return "unknown-task"
        if task["status"] == "pending":
            if message.get("run_id"):
                return "stale"
            task = self.schedule.start_task(task_id, lease_owner=run_id,
                                            lease_seconds=self.settings.heartbeat_timeout_seconds)
            if task is None:
                return "not-started"
        elif task["status"] != "running" or task.get("lease_owner") != run_id:
            return "stale"
        hop = int(message.get("hop") or 0)
        if hop > self.settings.engine_max_hops:
            self._fail(task, run_id, f"The task exceeded {self.settings.engine_max_hops} continuations.", "HOP_LIMIT")
            return "failed"
        try:
            return self._run(task, run_id, hop, remaining_ms)
        except PermanentSourceError as error:
            self._fail(task, run_id, str(error), "SOURCE_ERROR")
            return "failed"
        except TransientSourceError as error:
            logger.warning("transient source failure; retrying through the queue",
                           extra={"task_id": task_id, "error": str(error)})
            raise RetryLater(str(error)) from error

    # ---- the batch loop -------------------------------------------------------------------------
    def _run(self, task: dict[str, Any], run_id: str, hop: int, remaining_ms: Callable[[], int]) -> str:
        try:
            data_source, connection = self.data_sources.resolved_connection(task["data_source_id"])
        except NotFound as error:
            raise PermanentSourceError(f"data source '{task['data_source_id']}' no longer exists") from error
        stream = stream_for(data_source, task)
        config = task.get("config") or {}
        batch_size = int(config.get("batch_size") or self.settings.default_batch_size)
        timeout = config.get("timeout")
        destination = LakeDestination(self.settings.data_lake_bucket, task["data_source_id"], stream.interface_id,
                                      task["id"])
        checkpoint = task.get("checkpoint") or {"state": None, "next_part": 1, "rows": 0, "part_rows": []}
        seq = int(task.get("checkpoint_seq") or 0)
        started = parse_iso(task["start_time"])
        source = open_source(data_source, connection, stream)
        try:
            while True:
                if task.get("cancel_requested"):
                    self._finish(task, run_id, "cancelled", checkpoint, destination, stream)
                    return "cancelled"
                if timeout and (utcnow() - started).total_seconds() > float(timeout):
                    self._fail(task, run_id, f"The task ran longer than its timeout of {timeout} s.", "TIMEOUT",
                               checkpoint)
                    return "failed"
                if remaining_ms() < self.settings.engine_time_margin_seconds * 1000:
                    self._continue(task, run_id, hop + 1)
                    return "continued"
                read_started = time.monotonic()
                batch: Batch = source.read(checkpoint["state"], batch_size)
                part_rows = list(checkpoint["part_rows"])
                next_part = int(checkpoint["next_part"])
                if batch.rows:
                    destination.write(next_part, batch.rows)
                    part_rows.append(len(batch.rows))
                    next_part += 1
                rows = int(checkpoint["rows"]) + len(batch.rows)
                checkpoint = {"state": batch.state, "next_part": next_part, "rows": rows, "part_rows": part_rows}
                total = batch.total_rows if batch.total_rows is not None else task.get("total_rows")
                updated = self.schedule.record_progress(
                    task["id"], lease_owner=run_id, seq=seq,
                    changes=self._progress(task, started, rows, total, batch.state is None, checkpoint,
                                           time.monotonic() - read_started),
                )
                if updated is None:
                    logger.info("lost the task to another run; stopping", extra={"task_id": task["id"]})
                    return "lost-lease"
                task, seq = updated, seq + 1
                if batch.state is None:
                    self._finish(task, run_id, "success", checkpoint, destination, stream)
                    return "success"
        finally:
            source.close()

    def _progress(self, task: dict[str, Any], started: Any, rows: int, total: int | None, done: bool,
                  checkpoint: dict[str, Any], batch_seconds: float) -> dict[str, Any]:
        elapsed = max(0.001, (utcnow() - started).total_seconds())
        speed = round(rows / elapsed, 2)
        if total:
            progress = 100 if done else min(99, int(rows * 100 / max(total, 1)))
            remaining = max(0, total - rows)
            estimated = round(remaining / speed, 1) if speed > 0 else None
        else:
            progress, estimated = (100 if done else int(task.get("progress") or 0)), None
        return {"processed_rows": rows, "total_rows": total, "progress": progress, "speed": speed,
                "estimated_time": 0 if done else estimated, "current_phase": "finalizing" if done else "syncing",
                "checkpoint": checkpoint, "last_batch_seconds": round(batch_seconds, 3)}

    # ---- endings --------------------------------------------------------------------------------
    def _result(self, checkpoint: dict[str, Any], destination: LakeDestination) -> dict[str, Any]:
        parts = [{"key": destination.part_key(n + 1), "rows": count} for n, count in enumerate(checkpoint["part_rows"])]
        return {"destination": "s3", "bucket": destination.bucket, "prefix": destination.prefix,
                "rows_written": int(checkpoint["rows"]), "parts": len(parts)}, parts

    def _finish(self, task: dict[str, Any], run_id: str, status: str, checkpoint: dict[str, Any],
                destination: LakeDestination, stream: Any) -> None:
        result, parts = self._result(checkpoint, destination)
        if status == "success":
            result["manifest"] = destination.finish(parts, {"task_id": task["id"], "data_source_id":
                                                            task["data_source_id"], "interface_id": stream.interface_id})
        self.schedule.finish_task(task["id"], lease_owner=run_id, status=status, changes={
            "processed_rows": int(checkpoint["rows"]), "result": result,
            "progress": 100 if status == "success" else task.get("progress", 0),
            "estimated_time": 0 if status == "success" else None, "speed": task.get("speed"),
        })
        logger.info("task finished", extra={"task_id": task["id"], "status": status, "rows": checkpoint["rows"]})

    def _fail(self, task: dict[str, Any], run_id: str, message: str, code: str,
              checkpoint: dict[str, Any] | None = None) -> None:
        changes: dict[str, Any] = {"error_message": message, "error_code": code,
                                   "error_count": int(task.get("error_count") or 0) + 1}
        if checkpoint is not None:
            changes["processed_rows"] = int(checkpoint["rows"])
        self.schedule.finish_task(task["id"], lease_owner=run_id, status="failed", changes=changes)
        logger.warning("task failed", extra={"task_id": task["id"], "code": code, "error": message})

    def _continue(self, task: dict[str, Any], run_id: str, hop: int) -> None:
        self.schedule.engine.submit(task, hop=hop, run_id=run_id)
        logger.info("continuing in a fresh invocation", extra={"task_id": task["id"], "hop": hop})


def retry_later_backoff(receipt_handle: str, receive_count: int, settings: Settings | None = None) -> None:
    """Make a failed message visible again after an exponential backoff (5 s, 10 s, 20 s … up to 15 min)."""
    from synchub.settings import get_settings

    settings = settings or get_settings()
    delay = min(900, settings.engine_retry_base_seconds * 2 ** max(0, receive_count - 1))
    try:
        aws.client("sqs").change_message_visibility(QueueUrl=settings.sync_queue_url, ReceiptHandle=receipt_handle,
                                                    VisibilityTimeout=delay)
    except Exception:  # the message simply returns after the queue's visibility timeout instead
        logger.warning("could not set the retry backoff", exc_info=True)


_runner: SyncRunner | None = None


def engine_runner() -> SyncRunner:
    global _runner
    if _runner is None:
        from synchub.schedule.data_sources import data_source_service
        from synchub.schedule.tasks import schedule_service
        from synchub.settings import get_settings

        _runner = SyncRunner(get_settings(), schedule_service(), data_source_service())
    return _runner


def reset_runner() -> None:
    global _runner
    _runner = None
