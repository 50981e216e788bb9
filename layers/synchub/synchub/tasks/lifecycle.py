"""A task's record and its moves: the record factory, conditional transitions, submission to the engine, and
the engine's lease operations (start, progress, checkpoint, finish). This is all the engine needs.

Every status change is one DynamoDB transaction: the task's update, conditional on the status and the
version it was read at, plus the statistics deltas of the change. A lost race surfaces as a failed
condition and is re-read, never overwritten.

Size: over 300 lines because it is, on purpose, everything the engine needs of a task in one class: the
transitions and the lease operations share the transaction building and its failure mapping.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import lru_cache
from typing import Any, Iterable

from synchub.dal.checkpoints import CheckpointStore
from synchub.dal.data_sources import DataSourceStore
from synchub.dal.engine_queue import EngineQueue
from synchub.dal.ranges import RangeStore
from synchub.dal.statistics import StatisticsStore
from synchub.dal.tasks import TaskStore, index_keys
from synchub.dal.transactions import ConditionFailed, Transaction, TransactionFailed
from synchub.errors import TaskNotFound
from synchub.ids import is_task_id, new_task_id, shard_of
from synchub.models.tasks import TERMINAL_STATUSES
from synchub.observability import correlation_id
from synchub.settings import Settings, get_settings
from synchub.timeutil import SYSTEM_CLOCK, Clock, iso

logger = logging.getLogger(__name__)

# The name of a transition's own item in its transaction (its condition: the status and version it was read at).
THE_TASK = "task as read"


class TaskLifecycle:
    def __init__(self, settings: Settings | None = None, queue: EngineQueue | None = None, clock: Clock = SYSTEM_CLOCK):
        self.settings = settings or get_settings()
        self.tasks = TaskStore(self.settings)
        self.stats = StatisticsStore(self.settings)
        self.data_sources = DataSourceStore(self.settings)
        self.checkpoints = CheckpointStore(self.settings)
        self.ranges = RangeStore(self.settings)
        self.queue = queue or EngineQueue(self.settings)
        self.clock = clock

    # ---- records ------------------------------------------------------------------------------
    def new_record(
        self,
        *,
        data_source_id: str,
        interface_id: str | None,
        task_type: str,
        config: dict[str, Any],
        created_by: str,
        attempt: int = 1,
        retry_of: str | None = None,
        resume_from: str | None = None,
        notify_url: str | None = None,
        schedule_id: str | None = None,
        queued_behind: str | None = None,
    ) -> dict[str, Any]:
        created = self.clock.now()
        now = iso(created)
        task_id = new_task_id(created)
        record: dict[str, Any] = {
            "id": task_id,
            "data_source_id": data_source_id,
            "interface_id": interface_id,
            "task_type": task_type,
            "status": "pending",
            "config": config,
            "progress": 0,
            "processed_rows": 0,
            "error_count": 0,
            "created_at": now,
            "updated_at": now,
            "created_by": created_by,
            "attempt": attempt,
            "retry_of": retry_of,
            "resume_from": resume_from,
            "cancel_requested": False,
            "submitted": False,
            "resubmit": "1",
            "version": 1,
            "correlation_id": correlation_id(),
            "notify_url": notify_url,
            **({"schedule_id": schedule_id} if schedule_id else {}),
            **({"queued_behind": queued_behind} if queued_behind else {}),
            "stats_shard": shard_of(task_id, self.settings.statistics_shards),
            "list_shard": shard_of(task_id, self.settings.list_shards),
        }
        record.update(index_keys(record, self.settings.list_shards))
        return record

    def get_record(self, task_id: str) -> dict[str, Any]:
        record = self.tasks.get(task_id) if is_task_id(task_id) else None
        if record is None:
            raise TaskNotFound(f"Task '{task_id}' does not exist.")
        return record

    def continue_run(
        self,
        task: dict[str, Any],
        *,
        run_id: str,
        hop: int,
        delay_seconds: int = 0,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """Hand a running task to a fresh engine invocation (its lease's run continues there)."""
        return self.queue.submit(task, run_id=run_id, hop=hop, delay_seconds=delay_seconds, extra=extra)

    def find(self, task_id: str) -> dict[str, Any] | None:
        """The stored record, or None."""
        return self.tasks.get(task_id)

    # ---- transitions --------------------------------------------------------------------------
    def transition_ops(
        self,
        before: dict[str, Any],
        changes: dict[str, Any],
        *,
        remove: Iterable[str] = (),
        condition: str | None = None,
        condition_values: dict[str, Any] | None = None,
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Transaction items moving ``before`` by ``changes`` (conditional on its status and version)."""
        after = {**before, **changes, "version": int(before.get("version", 1)) + 1}
        for name in remove:
            after.pop(name, None)
        after["updated_at"] = changes.get("updated_at") or self.clock.now_iso()
        fields = {**changes, "version": after["version"], "updated_at": after["updated_at"]}
        if after["status"] != before["status"]:
            fields.update(index_keys(after, self.settings.list_shards))
            # The aggregate's delta was computed from these values; write exactly them.
            for name in ("processed_rows", "start_time", "end_time"):
                fields.setdefault(name, after.get(name))
        op = self.tasks.update_op(
            before["id"],
            fields,
            expect_status=[before["status"]],
            expect_version=int(before.get("version", 1)),
            condition=condition,
            condition_values=condition_values,
            remove=remove,
        )
        ops = [op]
        if after["status"] != before["status"]:
            ops.extend(self.stats.change_ops(before, after))
        return ops, after

    def transition(
        self,
        before: dict[str, Any],
        changes: dict[str, Any],
        *,
        extra_ops: Iterable[dict[str, Any]] = (),
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Apply a change to a task read as ``before``; raises ``TransactionFailed`` if it moved meanwhile."""
        ops, after = self.transition_ops(before, changes, **kwargs)
        Transaction().add(THE_TASK, *ops).add("with it", *extra_ops).run()
        return after

    def submit(self, record: dict[str, Any]) -> dict[str, Any]:
        """Send a stored task to the engine and clear its unsubmitted mark; on failure leave the mark."""
        try:
            self.queue.submit(record)
        except Exception:  # any SQS failure: the record stays marked and the reaper submits it later
            logger.warning(
                "submission to the engine failed; the reaper will retry", extra={"task_id": record["id"]}, exc_info=True
            )
            return record
        try:
            return self.tasks.update(self.tasks.update_op(record["id"], {"submitted": True}, remove=["resubmit"]))
        except Exception:
            logger.warning(
                "task submitted but not marked so; a duplicate message may follow",
                extra={"task_id": record["id"]},
                exc_info=True,
            )
            return {**record, "submitted": True}

    def release_capture(self, task: dict[str, Any]) -> None:
        """A CDC task that ends for good while no run holds it (cancelled while pending or paused, deleted) has
        the engine drop its replication slot, unless a retry goes on from it: the slot would otherwise keep WAL
        on the user's database."""
        capture = task.get("capture") or {}
        if not capture.get("slot") or capture.get("released") or task.get("retried_by"):
            return
        release = {
            "data_source_id": task["data_source_id"],
            "interface_id": task.get("interface_id"),
            "config": task.get("config") or {},
            "slot": capture["slot"],
        }
        try:
            self.queue.submit(task, extra={"release_capture": release})
        except Exception:  # noqa: BLE001 - the task's change stands; the slot's metric and alarm show what is left
            logger.warning("could not ask the engine to drop the replication slot", extra=release, exc_info=True)

    def delete_as_read(self, record: dict[str, Any]) -> bool:
        """Delete ``record`` and take back its statistics, in one transaction conditional on the status and
        version it was read with (a CDC task's replication slot is dropped after); False if it changed or went
        meanwhile."""
        try:
            (
                Transaction()
                .add(
                    THE_TASK,
                    self.tasks.delete_op(
                        record["id"], expect_status=record["status"], expect_version=int(record.get("version", 1))
                    ),
                )
                .add("statistics", *self.stats.change_ops(record, None))
                .add("checkpoint", self.checkpoints.delete_op(record["id"]), *self.ranges.delete_ops(record))
                .run()
            )
        except TransactionFailed:
            return False
        self.release_capture(record)
        return True

    # ---- engine-side moves --------------------------------------------------------------------
    def start_task(self, task_id: str, *, lease_owner: str, lease_seconds: int) -> dict[str, Any] | None:
        """pending → running under a lease; ``None`` if the task is not pending (duplicate or stale message)."""
        for _ in range(5):
            before = self.tasks.get(task_id)
            if before is None or before["status"] != "pending":
                return None
            now = self.clock.now()
            try:
                return self.transition(
                    before,
                    {
                        "status": "running",
                        "start_time": self.clock.now_iso(),
                        "current_phase": "starting",
                        "lease_owner": lease_owner,
                        "lease_expires_at": iso(now + timedelta(seconds=lease_seconds)),
                        "heartbeat_at": iso(now),
                        # a resumed task goes on from its checkpoint (a new task has none: 0)
                        "checkpoint_seq": int(before.get("checkpoint_seq") or 0),
                        "submitted": True,
                    },
                    remove=["resubmit"],
                )
            except TransactionFailed:
                continue
        return None

    def finish_task(
        self,
        task_id: str,
        *,
        lease_owner: str | None,
        status: str,
        changes: dict[str, Any],
        extra_ops: Iterable[dict[str, Any]] = (),
        from_statuses: Iterable[str] = ("running",),
    ) -> dict[str, Any] | None:
        """running → a terminal status, only by the lease holder (``None`` holder: whoever holds it, as the
        dead-letter handler and the reaper do); returns ``None`` if the task is no longer ours to finish."""
        if status not in TERMINAL_STATUSES:
            raise ValueError(f"not a terminal status: {status}")
        allowed = set(from_statuses)
        for _ in range(5):
            before = self.tasks.get(task_id)
            if before is None or before["status"] not in allowed:
                return None
            if lease_owner is not None and before.get("lease_owner") != lease_owner:
                return None
            now = self.clock.now_iso()
            try:
                return self.transition(
                    before,
                    {"status": status, "end_time": now, "updated_at": now, "current_phase": status, **changes},
                    remove=["lease_owner", "lease_expires_at", "resubmit"],
                    extra_ops=extra_ops,
                )
            except TransactionFailed as failure:
                if failure.failed(THE_TASK):
                    continue
                raise
        return None

    def pause_task(
        self, task_id: str, *, lease_owner: str, changes: dict[str, Any], extra_ops: Iterable[dict[str, Any]] = ()
    ) -> dict[str, Any] | None:
        """running → paused by the lease holder at a batch boundary (its checkpoint stored): the checkpoint stays
        for the resume. ``None`` if the task is no longer this run's; the task unchanged (still running) if the
        pause was withdrawn meanwhile (a resume came first)."""
        for _ in range(5):
            before = self.tasks.get(task_id)
            if before is None or before["status"] != "running" or before.get("lease_owner") != lease_owner:
                return None
            if not before.get("pause_requested"):
                return before
            now = self.clock.now_iso()
            try:
                return self.transition(
                    before,
                    {
                        "status": "paused",
                        "current_phase": "paused",
                        "paused_at": now,
                        "updated_at": now,
                        "next_poll_at": None,
                        "estimated_time": None,
                        **changes,
                    },
                    remove=["lease_owner", "lease_expires_at", "resubmit", "pause_requested", "pause_requested_at"],
                    extra_ops=extra_ops,
                )
            except TransactionFailed as failure:
                if failure.failed(THE_TASK):
                    continue
                raise
        return None

    def record_progress(
        self,
        task_id: str,
        *,
        lease_owner: str,
        seq: int,
        changes: dict[str, Any],
        checkpoint: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Store progress and the heartbeat, only by the lease holder and only while the checkpoint is still
        number ``seq``; with ``checkpoint``, also move it to ``seq + 1``: the task's counter first (the fence
        a stale run cannot pass), then the checkpoint item. Returns the task as stored, or None if the run
        lost the task."""
        now = self.clock.now()
        fields = {
            **changes,
            "heartbeat_at": iso(now),
            "progress_updated_at": iso(now),
            "updated_at": iso(now),
            "lease_expires_at": iso(now + timedelta(seconds=self.settings.heartbeat_timeout_seconds)),
        }
        if checkpoint is not None:
            fields["checkpoint_seq"] = seq + 1
        op = self.tasks.update_op(
            task_id,
            fields,
            expect_status=["running"],
            condition="lease_owner = :run AND checkpoint_seq = :seq",  # start_task sets checkpoint_seq 0
            condition_values={":run": lease_owner, ":seq": seq},
            remove=["checkpoint"] if checkpoint is not None else (),  # where checkpoints were kept before 2026-12
            bump_version=True,
        )
        try:
            task = self.tasks.update(op)
        except ConditionFailed:
            return None
        if checkpoint is not None and not self.checkpoints.put(task_id, seq + 1, checkpoint):
            return None
        return task

    def give_up(self, task_id: str) -> dict[str, Any] | None:
        """The engine's attempts at a task ran out (its message reached the dead-letter queue): fail it with
        ``ENGINE_GAVE_UP``, naming how many attempts failed (its ``error_count``, restarts included) and what the
        last one failed with. None if it had finished already."""
        task = self.find(task_id) or {}
        cause = task.get("error_message")
        attempts = int(task.get("error_count") or 0) or self.settings.engine_max_deliveries
        message = f"The engine gave up after {attempts} failed attempt{'' if attempts == 1 else 's'}."
        return self.finish_task(
            task_id,
            lease_owner=None,
            status="failed",
            from_statuses=("pending", "running"),
            changes={
                "error_code": "ENGINE_GAVE_UP",
                "next_attempt_at": None,
                "error_message": f"{message} The last one failed with: {cause}" if cause else message,
            },
        )

    def record_retry(self, task_id: str, *, lease_owner: str, cause: str, next_attempt_at: str) -> bool:
        """A run failed transiently and will be tried again: count it, say why and when, on the running task
        (only by its lease holder). False if the task is not that run's any more."""
        now = self.clock.now_iso()
        op = self.tasks.update_op(
            task_id,
            {
                "error_message": cause,
                "current_phase": "retrying",
                "next_attempt_at": next_attempt_at,
                "updated_at": now,
            },
            expect_status=["running"],
            condition="lease_owner = :run",
            condition_values={":run": lease_owner},
            add={"error_count": 1},
            bump_version=True,
        )
        try:
            self.tasks.update(op)
            return True
        except ConditionFailed:
            return False

    def checkpoint_of(self, task: dict[str, Any]) -> dict[str, Any] | None:
        """The task's last stored checkpoint: its own item, else (a task checkpointed before 2026-12) the
        copy inside the task item."""
        stored = self.checkpoints.get(task["id"])
        return stored if stored is not None else task.get("checkpoint")


@lru_cache(maxsize=1)
def task_lifecycle() -> TaskLifecycle:
    """The process-wide lifecycle (built on first use, after the environment is in place)."""
    return TaskLifecycle()
