"""SyncRunner: executes one engine message: start or continue a task, batch by batch.

Batches read from the source fill a part (``part_size_mb`` of rows); the part is written to the destination
under a name fixed by (task, part number), and only then does the checkpoint move: the task's conditional
update (progress, heartbeat, the lease's fencing counter), then the checkpoint's own item. While a part
fills, progress alone is stored about once a second. A message redelivered after a crash resumes from the
last checkpoint and rewrites the same part, so each row lands exactly once. When the invocation runs short of time the runner hands over to a
fresh invocation through a continuation message.

Size: over 300 lines because the run loop and every way a run ends (finish, pause, fail, continue, retry
later) share the run's state and together make the exactly-once protocol, which should read in one place;
the part-filling and checkpoint arithmetic are in ``engine.parts`` and ``engine.checkpoint``.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import Any, Callable, cast

from aws_lambda_powertools.metrics import MetricUnit

from synchub.aws import SQS_MAX_DELAY_SECONDS
from synchub.backoff import delay_redelivery
from synchub.connectors.base import Batch, ChangeSource, PermanentSourceError, TransientSourceError, newer_than
from synchub.connectors.lake import LakeDestination
from synchub.connectors.registry import incremental_problem, open_destination, open_source, stream_for
from synchub.dal.interfaces import InterfaceStore
from synchub.dal.watermarks import WatermarkStore
from synchub.engine.checkpoint import Checkpoint, after_poll, first, progress, read_from, resumed
from synchub.engine.parts import PartsInProgress, part_size_bytes
from synchub.engine.ranges import ParallelSync, is_parallel
from synchub.errors import NotFound
from synchub.models.schedules import ACTIVE_STATUSES
from synchub.models.tasks import INCREMENTAL_TYPES
from synchub.observability import logger, metrics
from synchub.settings import Settings, get_settings
from synchub.sources.data_sources import DataSourceService, data_source_service
from synchub.tables.catalog import DATA_SOURCE_PROPERTY, INTERFACE_PROPERTY
from synchub.tables.naming import table_name
from synchub.tasks.lifecycle import TaskLifecycle, task_lifecycle
from synchub.timeutil import iso, parse_iso, utcnow


def run_of(message: dict[str, Any], message_id: str) -> str:
    """The run a message belongs to (its lease holder): a continuation names it; a first message starts it."""
    return message.get("run_id") or message_id


class TableSchemaConflict(PermanentSourceError):
    """A column's type changed in a way the table cannot take (the table is left as it was)."""

    code = "SCHEMA_CONFLICT"


class RetryLater(Exception):
    """A transient failure: the message goes back to the queue (with backoff) and is retried."""


QUEUED_RECHECK_SECONDS = 30

# What a task shows when the engine itself failed unexpectedly (the details are in its log, not the API).
UNEXPECTED_CAUSE = "The engine hit an unexpected error (see its log under this task's correlation id)."


class SyncRunner:
    def __init__(self, settings: Settings, lifecycle: TaskLifecycle, data_sources: DataSourceService):
        self.settings = settings
        self.lifecycle = lifecycle
        self.data_sources = data_sources
        self.watermarks = WatermarkStore(settings)
        self.interfaces = InterfaceStore(settings)
        self.parallel = ParallelSync(self)

    # ---- entry point ----------------------------------------------------------------------------
    def handle(self, message: dict[str, Any], message_id: str, remaining_ms: Callable[[], int]) -> str:
        """Process one engine message; returns what happened (for logs and tests)."""
        task_id = message.get("task_id")
        if not isinstance(task_id, str):
            logger.warning("engine message without a task id dropped")
            return "dropped"
        if isinstance(message.get("release_capture"), dict):
            return self._release_capture(task_id, message["release_capture"])
        run_id = run_of(message, message_id)
        task = self.lifecycle.find(task_id)
        if task is None:
            return "unknown-task"
        if task["status"] == "pending":
            if message.get("run_id"):
                return "stale"
            if self._waits_behind(task):
                return "queued"
            task = self.lifecycle.start_task(
                task_id, lease_owner=run_id, lease_seconds=self.settings.heartbeat_timeout_seconds
            )
            if task is None:
                return "not-started"
        elif task["status"] != "running" or task.get("lease_owner") != run_id:
            return "stale"
        hop = int(message.get("hop") or 0)
        not_before = message.get("not_before")
        stopping = task.get("cancel_requested") or task.get("pause_requested")
        if isinstance(not_before, str) and parse_iso(not_before) > utcnow() and not stopping:
            wait = (parse_iso(not_before) - utcnow()).total_seconds()
            self.lifecycle.continue_run(
                task,
                hop=hop,
                run_id=run_id,
                delay_seconds=int(min(SQS_MAX_DELAY_SECONDS, wait)),
                extra={"not_before": not_before},
            )
            return "waiting"
        if hop > self.settings.engine_max_hops:
            self._fail(task, run_id, f"The task exceeded {self.settings.engine_max_hops} continuations.", "HOP_LIMIT")
            return "failed"
        try:
            if is_parallel(task):
                return self.parallel.handle(task, run_id, message, hop, remaining_ms)
            if message.get("range") is not None:
                return "stale"
            return self._run(task, run_id, hop, remaining_ms)
        except PermanentSourceError as error:
            self._fail(task, run_id, str(error), error.code)
            return "failed"
        except TransientSourceError as error:
            logger.warning(
                "transient source failure; retrying through the queue", extra={"task_id": task_id, "error": str(error)}
            )
            raise RetryLater(str(error)) from error

    def _release_capture(self, task_id: str, release: dict[str, Any]) -> str:
        """Drop the replication slot of a CDC task that ended for good while no run held it (cancelled while
        pending or paused, or deleted). A source that cannot be reached now is tried again through the queue."""
        try:
            data_source, connection = self.data_sources.resolved_connection(release["data_source_id"])
        except NotFound:
            logger.warning("the data source is gone; its replication slot cannot be dropped here", extra=release)
            return "not-released"
        interface = None
        if release.get("interface_id"):
            interface = self.interfaces.get(release["data_source_id"], release["interface_id"])
        try:
            stream = stream_for(data_source, {"config": release.get("config") or {}, **release}, interface)
            source = cast(ChangeSource, open_source(data_source, connection, stream, capture=True))
            try:
                dropped = source.release()
            finally:
                source.close()
        except PermanentSourceError as error:
            logger.warning("could not drop the replication slot", extra={**release, "error": str(error)})
            return "not-released"
        except TransientSourceError as error:
            raise RetryLater(str(error)) from error
        logger.info("replication slot dropped" if dropped else "no replication slot to drop", extra=release)
        return "released"

    def _waits_behind(self, task: dict[str, Any]) -> bool:
        """A schedule's run queued behind its previous run (overlap ``queue``) waits while that one is active:
        its message comes back in ``QUEUED_RECHECK_SECONDS``."""
        behind = task.get("queued_behind")
        previous = self.lifecycle.find(behind) if behind else None
        if previous is None or previous["status"] not in ACTIVE_STATUSES:
            return False
        self.lifecycle.queue.submit(task, delay_seconds=QUEUED_RECHECK_SECONDS)
        logger.info("queued behind the schedule's previous run", extra={"task_id": task["id"], "behind": behind})
        return True

    def note_retry(self, message: Any, message_id: str, cause: str, delay_seconds: int) -> None:
        """Show on the task that its run failed for ``cause`` and is tried again in ``delay_seconds``:
        ``error_count`` + 1, ``error_message``, ``current_phase: retrying``, ``next_attempt_at``. Never raises
        (the message is retried either way)."""
        task_id = message.get("task_id") if isinstance(message, dict) else None
        if not isinstance(task_id, str):
            return
        try:
            self.lifecycle.record_retry(
                task_id,
                lease_owner=run_of(message, message_id),
                cause=cause,
                next_attempt_at=iso(utcnow() + timedelta(seconds=delay_seconds)),
            )
        except Exception:  # noqa: BLE001 - the retry itself matters more than showing it
            logger.warning("could not record the retry on the task", extra={"task_id": task_id}, exc_info=True)

    # ---- the batch loop -------------------------------------------------------------------------
    def stream_of(self, task: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], Any]:
        """The task's data source, its connection settings and the stream it reads; permanently failing when
        the data source or interface is gone."""
        try:
            data_source, connection = self.data_sources.resolved_connection(task["data_source_id"])
        except NotFound as error:
            raise PermanentSourceError(f"data source '{task['data_source_id']}' no longer exists") from error
        interface = None
        if task.get("interface_id"):
            interface = self.interfaces.get(task["data_source_id"], task["interface_id"])
            if interface is None:
                raise PermanentSourceError(f"interface '{task['interface_id']}' no longer exists")
        return data_source, connection, stream_for(data_source, task, interface)

    def _run(self, task: dict[str, Any], run_id: str, hop: int, remaining_ms: Callable[[], int]) -> str:
        data_source, connection, stream = self.stream_of(task)
        config = task.get("config") or {}
        batch_size = int(config.get("batch_size") or self.settings.default_batch_size)
        timeout = config.get("timeout")
        incremental = task["task_type"] in INCREMENTAL_TYPES
        realtime = task["task_type"] == "realtime_sync"
        lookback = stream.lookback_seconds if incremental else 0
        capturing = realtime and stream.capture == "cdc"  # changes from the database's log, not by cursor
        problem = incremental_problem(data_source["type"], stream, task["task_type"]) if incremental else None
        if problem:
            raise PermanentSourceError(problem)
        stored = self.lifecycle.checkpoint_of(task) if task.get("checkpoint_seq") else None  # 0: nothing stored yet
        checkpoint = Checkpoint.from_stored(stored) if stored else self._initial_checkpoint(task, stream, incremental)
        source = open_source(data_source, connection, stream, incremental=incremental, capture=capturing)
        changes = cast(ChangeSource, source)  # what a CDC sync also asks of its source
        if capturing and not stream.primary_key:  # changes apply by key: the table's own, from its catalog
            stream = stream.model_copy(update={"primary_key": changes.primary_key()})
        run = PartsInProgress(
            self.lifecycle,
            task,
            run_id,
            self.destination_of(task, stream),
            checkpoint,
            part_bytes=part_size_bytes(self.settings),
            progress_interval=self.settings.progress_interval_seconds,
        )
        started = parse_iso(task["start_time"])
        run.on_checkpoint = getattr(source, "acknowledge", None)  # brokers that hold messages until acknowledged
        cursor_field = None if capturing else stream.cursor_field  # captured changes follow the log's order
        # a CDC sync's progress: its slot, changes applied, replication lag (as the task showed it, at first)
        captured: dict[str, Any] = dict(task.get("capture") or {}) if capturing else {}
        if capturing:
            from synchub.connectors.capture import capture_name  # noqa: PLC0415 - only for CDC

            if data_source["type"] == "postgresql":  # a replication slot, which holds WAL until dropped
                captured.setdefault("slot", capture_name(task["data_source_id"], stream.interface_id))
            captured.setdefault("phase", "copy")
        # The next batch is read while this one is written and checkpointed: reading has no side effects,
        # so a read ahead that is never used (cancel, continuation, failure) is simply dropped.
        reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead")
        ahead: Future | None = None
        try:
            while True:
                if run.task.get("cancel_requested"):
                    if not run.store(force=True):
                        return "lost-lease"
                    if capturing and _released(changes, captured):
                        run.changes["capture"] = captured
                    self._finish(run, "cancelled", stream)
                    return "cancelled"
                if run.task.get("pause_requested") and (outcome := self._pause(run, stream)):
                    return outcome
                if timeout and not realtime and (utcnow() - started).total_seconds() > float(timeout):
                    if not run.store(force=True):
                        return "lost-lease"
                    self._fail(
                        run.task,
                        run_id,
                        f"The task ran longer than its timeout of {timeout} s.",
                        "TIMEOUT",
                        run.reading,
                    )
                    return "failed"
                if remaining_ms() < self.settings.engine_time_margin_seconds * 1000:
                    if not run.store(force=True):
                        return "lost-lease"
                    self._continue(run.task, run_id, hop + 1)
                    return "continued"
                read_started = time.monotonic()
                try:
                    if ahead is not None:
                        batch: Batch = ahead.result()
                        ahead = None
                    else:
                        batch = source.read(run.reading.state, batch_size, *read_from(run.reading, lookback))
                except (PermanentSourceError, TransientSourceError):
                    run.store(force=True)  # what was read before the failure is kept: a retry goes on from there
                    raise
                if batch.state is not None and not batch.commit and not batch.caught_up:  # a CDC source reads on
                    # only after its commit, and a caught-up one at the next poll
                    ahead = reader.submit(source.read, batch.state, batch_size, *read_from(run.reading, lookback))
                run.add(batch, cursor_field=cursor_field, primary_key=stream.primary_key)
                cycle_done = batch.state is None or batch.caught_up
                total = (
                    batch.total_rows
                    if batch.total_rows is not None
                    else run.changes.get("total_rows", run.task.get("total_rows"))
                )  # a source may count only once
                run.changes = {
                    **progress(
                        run.reading.rows,
                        total,
                        done=cycle_done and not realtime,
                        elapsed_seconds=(utcnow() - started).total_seconds(),
                        shown=int(run.task.get("progress") or 0),
                    ),
                    "last_batch_seconds": round(time.monotonic() - read_started, 3),
                    **({"capture": captured} if captured else {}),
                }
                _count_batch(len(batch.rows), time.monotonic() - read_started)
                if batch.commit:  # a change-capture source's copy or changes: into the table before it reads on
                    if not run.store(force=True):
                        return "lost-lease"
                    self._commit_table(run, self._parts(run, stream))
                    captured = run.changes["capture"] = _captured(run.task, changes.committed(run.reading.state))
                    if not cycle_done:
                        continue
                if cycle_done and not realtime:
                    run.close_part()
                    self._finish(run, "success", stream)
                    return "success"
                if cycle_done:
                    # End of a poll: wait, then read again from the start, only rows past the newest seen.
                    wait = int(config.get("poll_interval") or 60)
                    next_poll = utcnow() + timedelta(seconds=wait)
                    run.reading = after_poll(run.reading)
                    if capturing and not batch.commit:  # an idle poll still reports the slot's lag
                        captured = run.changes["capture"] = _captured(run.task, changes.committed(run.reading.state))
                    run.changes.update(
                        current_phase="waiting", next_poll_at=iso(next_poll), total_rows=None, estimated_time=None
                    )
                    if not run.store(force=True):
                        return "lost-lease"
                    if getattr(run.destination, "format", None) == "iceberg" and not batch.commit:
                        # once per poll (a CDC sync's commit of files a run wrote before it stopped)
                        self._commit_table(run, self._parts(run, stream))
                    if run.task.get("cancel_requested"):
                        if capturing and _released(changes, captured):
                            run.changes["capture"] = captured
                        self._finish(run, "cancelled", stream)
                        return "cancelled"
                    if run.task.get("pause_requested") and (outcome := self._pause(run, stream)):
                        return outcome
                    self.lifecycle.continue_run(
                        run.task,
                        hop=hop + 1,
                        run_id=run_id,
                        delay_seconds=min(SQS_MAX_DELAY_SECONDS, wait),
                        extra={"not_before": iso(next_poll)},
                    )
                    return "waiting"
                if not run.store():
                    return "lost-lease"
        finally:
            reader.shutdown(wait=True, cancel_futures=True)  # the source is closed only once no read is running
            source.close()

    def destination_of(self, task: dict[str, Any], stream: Any, task_id: str | None = None) -> Any:
        """Where the task's rows go (``task_id``: where an earlier attempt's went): a lake table, JSON Lines
        files, or the DynamoDB destination table."""
        target = stream.table_target
        if target is None:
            return open_destination(
                stream, self.settings, data_source_id=task["data_source_id"], task_id=task_id or task["id"]
            )
        from synchub.tables.destination import TableDestination  # pyarrow and pyiceberg: only for tables

        keyed = task["task_type"] in INCREMENTAL_TYPES and stream.primary_key
        capturing = task["task_type"] == "realtime_sync" and stream.capture == "cdc"
        return TableDestination(
            self.settings,
            table_name(task["data_source_id"], stream.interface_id, target.table),
            task_id or task["id"],
            mode="changes"
            if capturing
            else "replace"
            if task["task_type"] == "full_sync"
            else "merge"
            if keyed
            else "append",
            primary_key=stream.primary_key,
            cursor_field=stream.cursor_field,
            holds={DATA_SOURCE_PROPERTY: task["data_source_id"], INTERFACE_PROPERTY: stream.interface_id},
        )

    def _initial_checkpoint(self, task: dict[str, Any], stream: Any, incremental: bool) -> Checkpoint:
        """Where a run starts: a failed attempt's checkpoint (for a retry), else the beginning, past the
        committed watermark for incremental syncs."""
        since, since_keys = (
            self.watermarks.boundary(task["data_source_id"], stream.interface_id) if incremental else (None, ())
        )
        previous = self.lifecycle.find(task["resume_from"]) if task.get("resume_from") else None
        stored = self.lifecycle.checkpoint_of(previous) if previous else None
        if stored and previous:
            return resumed(
                Checkpoint.from_stored(stored),
                previous["id"],
                incremental=incremental,
                since=since,
                since_keys=since_keys,
            )
        return first(since=since, since_keys=since_keys)

    def _attempts(self, run: PartsInProgress) -> list[tuple[str, int]]:
        """The failed attempts this run resumes, the earliest first: (task id, parts it wrote). One read each,
        following each checkpoint's pointer back."""
        chain: list[tuple[str, int]] = []
        pointer, seen = run.reading.earlier, set()
        while pointer and pointer["task_id"] not in seen:
            seen.add(pointer["task_id"])
            chain.append((pointer["task_id"], int(pointer["parts"])))
            earlier_task = self.lifecycle.find(pointer["task_id"])
            stored = self.lifecycle.checkpoint_of(earlier_task) if earlier_task else None
            pointer = Checkpoint.from_stored(stored).earlier if stored else None
        return list(reversed(chain))

    def _parts(self, run: PartsInProgress, stream: Any) -> list[dict]:
        """Every part of the task's result, the earliest attempt's first: the attempts this run resumes, then
        this run's own, numbered 1 to n (with their rows where this invocation wrote them)."""
        task, checkpoint = run.task, run.reading
        earlier = [
            {"key": self.destination_of(task, stream, attempt).part_key(n)}
            for attempt, parts in self._attempts(run)
            for n in range(1, parts + 1)
        ]
        own = [run.written.get(n) or {"key": run.destination.part_key(n)} for n in checkpoint.own_parts]
        return [*checkpoint.inherited, *earlier, *own]

    # ---- endings --------------------------------------------------------------------------------
    def _result(self, run: PartsInProgress, stream: Any) -> tuple[dict[str, Any], list]:
        written, destination, rows = self._parts(run, stream), run.destination, run.reading.rows
        if getattr(destination, "format", None) == "iceberg":
            return {
                "destination": "iceberg",
                "table": f"{self.settings.lake_database}.{destination.name}",
                "rows_written": rows,
                "parts": len(written),
            }, written
        if isinstance(destination, LakeDestination):
            return {
                "destination": "s3",
                "bucket": destination.bucket,
                "prefix": destination.prefix,
                "rows_written": rows,
                "parts": len(written),
            }, written
        return {
            "destination": "dynamodb",
            "table": destination.table,
            "partition": destination.partition,
            "rows_written": rows,
            "batches": len(written),
        }, written

    def _finish(self, run: PartsInProgress, status: str, stream: Any) -> None:
        task, checkpoint, destination = run.task, run.reading, run.destination
        result, parts = self._result(run, stream)
        committed = status == "success" or (status == "cancelled" and task["task_type"] == "realtime_sync")
        if status == "success" and isinstance(destination, LakeDestination):
            result["manifest"] = destination.finish(
                parts,
                {"task_id": task["id"], "data_source_id": task["data_source_id"], "interface_id": stream.interface_id},
            )
        if committed and getattr(destination, "format", None) == "iceberg":
            result.update(self._commit_table(run, parts))
        extra_ops = self.watermark_ops(task, stream, checkpoint) if committed else []
        if extra_ops:
            result["watermark"] = checkpoint.max_cursor
        last: dict[str, Any] = {
            name: run.changes[name]
            for name in ("total_rows", "speed", "last_batch_seconds", "capture")
            if name in run.changes
        }
        self.lifecycle.finish_task(
            task["id"],
            lease_owner=run.run_id,
            status=status,
            extra_ops=extra_ops,
            changes={
                "speed": task.get("speed"),
                **last,  # the last read's figures, stored or not
                "processed_rows": checkpoint.rows,
                "result": result,
                "progress": 100 if status == "success" else task.get("progress", 0),
                "estimated_time": 0 if status == "success" else None,
                "next_poll_at": None,
                "next_attempt_at": None,
            },
        )
        if run.on_checkpoint is not None and status == "success":
            run.on_checkpoint(checkpoint.state, checkpoint.max_cursor)  # the last part is written: acknowledge it
        logger.info("task finished", extra={"task_id": task["id"], "status": status, "rows": checkpoint.rows})

    def _commit_table(self, run: PartsInProgress, parts: list[dict]) -> dict[str, Any]:
        """Commit the sync's files no earlier commit of it took to its table (a redelivered or resumed run finds
        its commit made); what the commit did, for the task's result. A type change no widening reconciles
        fails the task, permanently, with the table as it was."""
        summary = {
            "task_id": run.task["id"],
            "run_id": run.run_id,
            "earlier_task_ids": [attempt for attempt, _ in self._attempts(run)],
        }
        return self.commit_files(run.destination, parts, summary)

    def commit_files(self, destination: Any, parts: list[dict], summary: dict[str, Any]) -> dict[str, Any]:
        """Commit ``parts`` to the destination's table as ``summary`` (task, run, earlier attempts) names them;
        what the commit did."""
        from pyiceberg.exceptions import CommitFailedException  # noqa: PLC0415 - only for tables

        from synchub.models.columns import SchemaConflict  # noqa: PLC0415

        try:
            commit = destination.finish(parts, summary)
        except SchemaConflict as error:
            raise TableSchemaConflict(f"The table {destination.name} cannot take this sync's rows: {error}") from error
        except CommitFailedException as error:
            raise TransientSourceError(f"the table commit kept losing to concurrent ones: {error}") from error
        if not commit.repeated and commit.snapshot_id is not None:
            try:
                destination.maintain()
            except Exception:  # noqa: BLE001 - the sync is committed; upkeep is retried after the next commit
                logger.warning("table maintenance failed", extra={"table": destination.name}, exc_info=True)
        return {key: value for key, value in commit.as_result().items() if key != "table"}

    def _pause(self, run: PartsInProgress, stream: Any) -> str | None:
        """Write what was read and store the checkpoint, then park the task (``paused``) until it is resumed;
        None when the pause was withdrawn meanwhile (the run goes on). A realtime sync commits what it wrote
        (as its cancel does), so a paused one that is then cancelled leaves the watermark where it stopped."""
        if not run.store(force=True):
            return "lost-lease"
        task, checkpoint = run.task, run.reading
        extra_ops = self.watermark_ops(task, stream, checkpoint) if task["task_type"] == "realtime_sync" else []
        paused = self.lifecycle.pause_task(
            run.task["id"],
            lease_owner=run.run_id,
            extra_ops=extra_ops,
            changes={"processed_rows": run.reading.rows, "speed": run.task.get("speed")},
        )
        if paused is None:
            return "lost-lease"
        if paused["status"] != "paused":
            run.task = paused
            return None
        logger.info("task paused", extra={"task_id": run.task["id"], "rows": run.reading.rows})
        return "paused"

    def watermark_ops(self, task: dict[str, Any], stream: Any, checkpoint: Checkpoint) -> list[dict[str, Any]]:
        """The transaction item committing the newest cursor the run wrote as the watermark, if it moves it."""
        if checkpoint.max_cursor is None or not self._moves_watermark(task, stream, checkpoint):
            return []
        return [
            self.watermarks.set_op(
                task["data_source_id"],
                stream.interface_id,
                checkpoint.max_cursor,
                task["id"],
                checkpoint.max_cursor_keys,
            )
        ]

    def _moves_watermark(self, task: dict[str, Any], stream: Any, checkpoint: Checkpoint) -> bool:
        """Incremental and realtime runs commit the newest cursor they copied; a full sync copied everything up
        to its newest cursor too, so it commits that, unless a later run has already gone further."""
        if task["task_type"] in INCREMENTAL_TYPES:
            return True
        current = self.watermarks.get(task["data_source_id"], stream.interface_id)
        return current is None or newer_than(checkpoint.max_cursor, current)

    def _fail(
        self, task: dict[str, Any], run_id: str, message: str, code: str, checkpoint: Checkpoint | None = None
    ) -> None:
        changes: dict[str, Any] = {
            "error_message": message,
            "error_code": code,
            "error_count": int(task.get("error_count") or 0) + 1,
        }
        if checkpoint is not None:
            changes["processed_rows"] = checkpoint.rows
        self.lifecycle.finish_task(task["id"], lease_owner=run_id, status="failed", changes=changes)
        logger.warning("task failed", extra={"task_id": task["id"], "code": code, "error": message})

    def _continue(self, task: dict[str, Any], run_id: str, hop: int) -> None:
        self.lifecycle.continue_run(task, hop=hop, run_id=run_id)
        logger.info("continuing in a fresh invocation", extra={"task_id": task["id"], "hop": hop})


def _captured(task: dict[str, Any], committed: dict[str, Any]) -> dict[str, Any]:
    """The task's ``capture`` progress after a commit or an idle poll: the changes applied so far by operation
    (those of the commit just made added to what the task showed), and the replication lag, also published as
    EMF metrics (the template's alarm watches the WAL a slot keeps on the source)."""
    shown = (task.get("capture") or {}).get("changes_applied") or {}
    applied = committed.pop("applied", {})
    total = {operation: int(shown.get(operation) or 0) + int(applied.get(operation) or 0) for operation in applied}
    if committed.get("lag_bytes") is not None:
        metrics.add_metric(name="ReplicationSlotRetainedBytes", unit=MetricUnit.Bytes, value=committed["lag_bytes"])
    if committed.get("lag_seconds") is not None:
        metrics.add_metric(name="ReplicationLag", unit=MetricUnit.Seconds, value=committed["lag_seconds"])
    return {**committed, "changes_applied": total}


def _released(source: ChangeSource, captured: dict[str, Any]) -> bool:
    """A cancelled CDC task lets go of its replication slot, so the database keeps no WAL for it: True once
    dropped (``captured`` then says so); a failure is logged, and deleting the task tries again."""
    try:
        source.release()
    except (PermanentSourceError, TransientSourceError):
        logger.warning("could not drop the replication slot", extra={"slot": captured.get("slot")}, exc_info=True)
        return False
    captured["released"] = True
    return True


def _count_batch(rows: int, seconds: float) -> None:
    """EMF metrics of one committed batch: rows synced and the batch's read-write-checkpoint latency."""
    metrics.add_metric(name="RowsSynced", unit=MetricUnit.Count, value=rows)
    metrics.add_metric(name="BatchLatency", unit=MetricUnit.Milliseconds, value=round(seconds * 1000, 1))


def retry_later_backoff(receipt_handle: str, receive_count: int, settings: Settings | None = None) -> int:
    """Make a failed message visible again after an exponential backoff (5 s, 10 s, 20 s … up to 15 min);
    returns the delay in seconds."""
    settings = settings or get_settings()
    return delay_redelivery(settings.sync_queue_url, receipt_handle, receive_count, settings.engine_retry_base_seconds)


_runner: SyncRunner | None = None


def engine_runner() -> SyncRunner:
    global _runner
    if _runner is None:
        _runner = SyncRunner(get_settings(), task_lifecycle(), data_source_service())
    return _runner


def reset_runner() -> None:
    global _runner
    _runner = None
