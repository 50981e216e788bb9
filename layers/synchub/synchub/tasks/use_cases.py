"""The API's task use cases: create, read, list, update, cancel, retry, delete, and their batch forms.
Every status move goes through :class:`~synchub.tasks.lifecycle.TaskLifecycle`.

Size: over 300 lines because it holds one short method per task use case (create, get, list, update, cancel,
pause, resume, retry, delete and the batch forms) on one service, so a route's rule is found under its own
name next to the helpers they share.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any, Callable, Iterable

from botocore.exceptions import ClientError

from synchub.connectors.base import PermanentSourceError
from synchub.connectors.registry import incremental_problem, parallel_problem, stream_for
from synchub.dal.interfaces import InterfaceStore
from synchub.dal.paging import MAX_PAGE_OFFSET, InvalidToken, PageState, decode_token, encode_token
from synchub.dal.transactions import ConditionFailed, Transaction, TransactionFailed
from synchub.errors import (
    CaptureInUse,
    Conflict,
    InvalidState,
    SyncHubError,
    TaskNotFound,
    UnknownDataSource,
    UnknownInterface,
    ValidationFailed,
    busy,
)
from synchub.ids import is_task_id, task_id_floor
from synchub.models.aggregate import scope_of
from synchub.models.merge_patch import patched
from synchub.models.schedules import ACTIVE_STATUSES
from synchub.models.tasks import (
    INCREMENTAL_TYPES,
    TERMINAL_STATUSES,
    CreateTaskRequest,
    UpdateTaskRequest,
    in_words,
    public_task,
)
from synchub.outbound import refuse_named
from synchub.tasks.lifecycle import THE_TASK, TaskLifecycle, task_lifecycle
from synchub.timeutil import Clock, as_utc

logger = logging.getLogger(__name__)


# Statuses each action may start from.
@dataclass(frozen=True)
class ScheduledRun:
    """A task a schedule creates: its schedule, the run it waits behind (overlap ``queue``), and the transaction
    items that record the firing with it (given the new task's id)."""

    schedule_id: str
    ops_for: Callable[[str], list[dict[str, Any]]]
    queued_behind: str | None = None


class ScheduledRunExists(Conflict):
    code, title = "SCHEDULED_RUN_EXISTS", "Scheduled run exists"


CANCELLABLE_NOW = frozenset({"pending", "paused"})  # no run holds them: cancelled at once
CANCELLABLE_LATER = "running"


class TaskService:
    def __init__(self, lifecycle: TaskLifecycle | None = None):
        self.lifecycle = lifecycle or task_lifecycle()
        self.tasks = self.lifecycle.tasks
        self.stats = self.lifecycle.stats

    @property
    def clock(self) -> Clock:
        return self.lifecycle.clock

    def get_task(self, task_id: str) -> dict[str, Any]:
        return public_task(self.lifecycle.get_record(task_id))

    # ---- create -------------------------------------------------------------------------------
    def create_task(
        self, request: CreateTaskRequest, created_by: str, *, scheduled: ScheduledRun | None = None
    ) -> dict[str, Any]:
        """Store a new pending task, then submit it to the engine (the reaper retries a failed submit). A
        schedule's run carries its schedule, may wait behind the previous run, and is stored in one transaction
        with the schedule's own records of it (``scheduled.ops``: one firing makes one task)."""
        if request.task_type in INCREMENTAL_TYPES or int(request.config().get("parallelism") or 1) > 1:
            self._check_stream(request)
        refuse_named(self.lifecycle.settings, {("notify_url",): request.notify_url})
        record = self.lifecycle.new_record(
            data_source_id=request.data_source_id,
            interface_id=request.interface_id,
            task_type=request.task_type,
            config=request.config(),
            created_by=created_by,
            notify_url=request.notify_url,
            schedule_id=scheduled.schedule_id if scheduled else None,
            queued_behind=scheduled.queued_behind if scheduled else None,
        )
        creation = (
            Transaction()
            .add("new task", self.tasks.put_op(record))
            .add("data source exists", self.lifecycle.data_sources.exists_check(request.data_source_id))
        )
        if request.interface_id:
            interfaces = InterfaceStore(self.lifecycle.settings)
            creation.add("interface exists", interfaces.exists_check(request.data_source_id, request.interface_id))
        creation.add("statistics", *self.stats.change_ops(None, record))
        if scheduled:
            creation.add("schedule", *scheduled.ops_for(record["id"]))
        try:
            creation.run()
        except TransactionFailed as failure:
            if scheduled and failure.failed("schedule"):
                raise ScheduledRunExists(
                    f"This firing of schedule '{scheduled.schedule_id}' made its task already."
                ) from failure
            if failure.failed("data source exists"):
                raise UnknownDataSource(
                    f"Data source '{request.data_source_id}' does not exist.",
                    errors=[{"loc": ["body", "data_source_id"], "msg": "unknown data source", "type": "not_found"}],
                ) from failure
            if failure.failed("interface exists"):
                raise UnknownInterface(
                    f"Data source '{request.data_source_id}' has no interface '{request.interface_id}'.",
                    errors=[{"loc": ["body", "interface_id"], "msg": "unknown interface", "type": "not_found"}],
                ) from failure
            raise
        return public_task(self.lifecycle.submit(record))

    # ---- list ---------------------------------------------------------------------------------
    def list_tasks(
        self,
        *,
        page: int,
        size: int,
        data_source_id: str | None,
        status: str | None,
        next_token: str | None,
        schedule_id: str | None = None,
        task_type: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> dict[str, Any]:
        """A page of tasks, newest first. Filters by data source, status or schedule choose an index; a creation
        window narrows its key range (task ids are creation-ordered) and a task type filters that range, so
        no listing scans the table. The counters give ``total`` for the first three only (else null)."""
        if schedule_id and (data_source_id or status):
            message = "schedule_id lists a schedule's runs, newest first; it takes no data_source_id or status."
            raise ValidationFailed(
                message, errors=[{"loc": ["query", "schedule_id"], "msg": message, "type": "value_error"}]
            )
        created_after = as_utc(created_after) if created_after else None
        created_before = as_utc(created_before) if created_before else None
        if created_after and created_before and created_after >= created_before:
            message = "created_after must come before created_before."
            raise ValidationFailed(
                message, errors=[{"loc": ["query", "created_after"], "msg": message, "type": "value_error"}]
            )
        index = self.tasks.listing_index(data_source_id=data_source_id, status=status, schedule_id=schedule_id)
        narrowed = bool(task_type or created_after or created_before)
        if created_after or created_before:
            index = replace(
                index,
                sort_range=(
                    task_id_floor(created_after) if created_after else "task_",
                    task_id_floor(created_before) if created_before else "task_~",
                ),
            )
        if task_type:
            index = replace(index, equals=("task_type", task_type))
        if next_token:
            try:
                state = decode_token(index, next_token)
            except InvalidToken as error:
                raise ValidationFailed(
                    str(error), errors=[{"loc": ["query", "next_token"], "msg": str(error), "type": "value_error"}]
                ) from error
        else:
            offset = (page - 1) * size
            if offset > MAX_PAGE_OFFSET:
                message = (
                    f"page walks at most {MAX_PAGE_OFFSET:,} tasks from the start (page * size up to "
                    f"{MAX_PAGE_OFFSET + size:,} here); follow pagination.next_token to go deeper"
                )
                raise ValidationFailed(message, errors=[{"loc": ["query", "page"], "msg": message, "type": "too_deep"}])
            state = PageState(cursors=[None] * index.shards, page=1)
            if offset:
                skipped = self.tasks.page(index, state, offset)
                state = PageState(cursors=skipped.state.cursors, page=page)
        result = self.tasks.page(index, state, size)
        total: int | None = None
        if not narrowed:
            gauges = self.stats.gauges(scope_of(data_source_id, schedule_id))
            total = int(gauges.get(f"st_{status}", 0)) if status else int(sum(gauges.values()))
        pagination: dict[str, Any] = {
            "page": state.page,
            "size": size,
            "total": total,
            "total_pages": (total + size - 1) // size if total is not None else None,
        }
        if result.has_more and result.items:
            pagination["next_token"] = encode_token(index, result.state)
        return {"tasks": [public_task(item) for item in result.items], "pagination": pagination}

    def _check_stream(self, request: CreateTaskRequest) -> None:
        """An incremental or realtime sync needs a way to tell new rows from old, and a parallel one a stream it
        can split: refuse one without it now, rather than fail it when it runs."""
        data_source = self.lifecycle.data_sources.get(request.data_source_id)
        interface = (
            InterfaceStore(self.lifecycle.settings).get(request.data_source_id, request.interface_id)
            if request.interface_id
            else None
        )
        if data_source is None or (request.interface_id and interface is None):
            return  # the creation's transaction names what is missing
        try:
            stream = stream_for(
                data_source, {"config": request.config(), "interface_id": request.interface_id}, interface
            )
        except PermanentSourceError as error:
            raise ValidationFailed(
                str(error), errors=[{"loc": ["body", "parameters"], "msg": str(error), "type": "value_error"}]
            ) from error
        problem = (
            incremental_problem(data_source["type"], stream, request.task_type)
            if request.task_type in INCREMENTAL_TYPES
            else None
        )
        if problem:
            raise ValidationFailed(
                problem, errors=[{"loc": ["body", "task_type"], "msg": problem, "type": "value_error"}]
            )
        parallel = parallel_problem(
            data_source["type"], stream, request.task_type, int(request.config().get("parallelism") or 1)
        )
        if parallel:
            raise ValidationFailed(
                parallel,
                errors=[{"loc": ["body", "parameters", "parallelism"], "msg": parallel, "type": "value_error"}],
            )
        if request.task_type == "realtime_sync" and stream.capture == "cdc":
            self._one_capture_per_stream(data_source, interface, stream.interface_id)

    def _one_capture_per_stream(
        self, data_source: dict[str, Any], interface: dict[str, Any] | None, interface_id: str
    ) -> None:
        """A stream's change log has one reader (its slot): refuse a second CDC task while one is active."""
        for status in sorted(ACTIVE_STATUSES):
            index = replace(
                self.tasks.listing_index(data_source_id=data_source["id"], status=status),
                equals=("task_type", "realtime_sync"),
            )
            for task in self.tasks.page(index, PageState(cursors=[None], page=1), 100).items:
                if (task.get("interface_id") or "default") != interface_id:
                    continue
                if stream_for(data_source, task, interface).capture == "cdc":
                    raise CaptureInUse(
                        f"Task '{task['id']}' ({status}) already reads this stream's change log; a second CDC task "
                        "would take its place in the log from it. Cancel it first (its slot is dropped).",
                        task_id=task["id"],
                    )

    # ---- update -------------------------------------------------------------------------------
    def patch_task(self, task_id: str, patch: dict[str, Any]) -> dict[str, Any]:
        """A JSON Merge Patch of a pending task's ``{"config": …}`` (the only part a task lets change)."""
        shown = {"config": self.lifecycle.get_record(task_id).get("config") or {}}
        request = patched(UpdateTaskRequest, shown, patch)
        return self.update_task(task_id, request.config.model_dump(exclude_none=True))

    def update_task(self, task_id: str, config: dict[str, Any]) -> dict[str, Any]:
        """Replace the config of a pending task."""
        if not is_task_id(task_id):
            raise TaskNotFound(f"Task '{task_id}' does not exist.")
        op = self.tasks.update_op(
            task_id,
            {"config": config, "updated_at": self.clock.now_iso()},
            expect_status=["pending"],
            bump_version=True,
        )
        try:
            return public_task(self.tasks.update(op))
        except ConditionFailed as failure:
            if failure.old is None:
                raise TaskNotFound(f"Task '{task_id}' does not exist.") from failure
            raise InvalidState(
                f"Task '{task_id}' {in_words(failure.old['status'])}; only pending tasks can be updated.",
                current_status=failure.old["status"],
            ) from failure

    # ---- cancel -------------------------------------------------------------------------------
    def cancel_task(self, task_id: str) -> tuple[dict[str, Any], int]:
        """Cancel now (pending or paused → cancelled, 200) or ask the engine to stop (running, 202; a realtime
        task waiting between polls is woken to stop at once)."""

        def cancel(before: dict[str, Any], now: str) -> tuple[dict[str, Any], int]:
            status = before["status"]
            if status in CANCELLABLE_NOW:
                after = self.lifecycle.transition(
                    before,
                    {"status": "cancelled", "end_time": now, "updated_at": now, "current_phase": "cancelled"},
                    remove=["resubmit", "pause_requested", "pause_requested_at"],
                )
                self.lifecycle.release_capture(after)
                return public_task(after), 200
            if status == CANCELLABLE_LATER:
                after = (
                    before
                    if before.get("cancel_requested")
                    else self.lifecycle.transition(
                        before, {"cancel_requested": True, "cancel_requested_at": now, "updated_at": now}
                    )
                )
                self._wake_if_waiting(after)
                return public_task(after), 202
            raise InvalidState(
                f"Task '{task_id}' {in_words(status)}; only pending, running or paused tasks can be cancelled.",
                current_status=status,
            )

        return self._on_fresh_read(task_id, cancel)

    def pause_task(self, task_id: str) -> tuple[dict[str, Any], int]:
        """Pause now (pending → paused, 200; already paused: 200) or ask the engine to pause at its next batch
        boundary with the checkpoint kept (running, 202; a realtime task waiting between polls at once)."""

        def pause(before: dict[str, Any], now: str) -> tuple[dict[str, Any], int]:
            status = before["status"]
            if status == "paused":
                return public_task(before), 200
            if status == "pending":
                after = self.lifecycle.transition(
                    before,
                    {"status": "paused", "current_phase": "paused", "paused_at": now, "updated_at": now},
                    remove=["resubmit"],
                )
                return public_task(after), 200
            if status == "running" and not before.get("cancel_requested"):
                after = (
                    before
                    if before.get("pause_requested")
                    else self.lifecycle.transition(
                        before, {"pause_requested": True, "pause_requested_at": now, "updated_at": now}
                    )
                )
                self._wake_if_waiting(after)
                return public_task(after), 202
            reason = "is being cancelled" if status == "running" else in_words(status)
            raise InvalidState(
                f"Task '{task_id}' {reason}; only pending or running tasks can be paused.", current_status=status
            )

        return self._on_fresh_read(task_id, pause)

    def resume_task(self, task_id: str) -> tuple[dict[str, Any], int]:
        """A paused task goes back on the queue to continue from its checkpoint (202); a running task asked to
        pause keeps running (200)."""

        def resume(before: dict[str, Any], now: str) -> tuple[dict[str, Any], int]:
            status = before["status"]
            if status == "paused":
                after = self.lifecycle.transition(
                    before,
                    {
                        "status": "pending",
                        "current_phase": "resuming",
                        "updated_at": now,
                        "submitted": False,
                        "resubmit": "1",
                    },
                    remove=["paused_at"],
                )
                return public_task(self.lifecycle.submit(after)), 202
            if status == "running" and before.get("pause_requested"):
                after = self.lifecycle.transition(
                    before, {"updated_at": now}, remove=["pause_requested", "pause_requested_at"]
                )
                return public_task(after), 200
            raise InvalidState(
                f"Task '{task_id}' {in_words(status)}; only paused tasks (or running ones asked to "
                "pause) can be resumed.",
                current_status=status,
            )

        return self._on_fresh_read(task_id, resume)

    def _on_fresh_read(self, task_id: str, act: Callable[[dict[str, Any], str], Any]) -> Any:
        """``act(task as stored, now)``, read again and retried while a concurrent change makes it fail."""
        for _ in range(5):
            try:
                return act(self.lifecycle.get_record(task_id), self.clock.now_iso())
            except TransactionFailed:
                continue  # it moved under us: look again
        raise InvalidState(f"Task '{task_id}' keeps changing; try again.")

    def _wake_if_waiting(self, task: dict[str, Any]) -> None:
        """A realtime task waiting between polls sleeps in a delayed engine message: send its run one now, so a
        cancel or pause takes effect at once (the delayed one then finds the run over and is dropped)."""
        if task.get("current_phase") != "waiting" or not task.get("lease_owner"):
            return
        try:
            self.lifecycle.continue_run(task, run_id=task["lease_owner"], hop=0)
        except Exception:  # noqa: BLE001 - the delayed message still comes: later, but it comes
            logger.warning(
                "could not wake the waiting task; it acts at its next poll",
                extra={"task_id": task["id"]},
                exc_info=True,
            )

    # ---- batches ------------------------------------------------------------------------------
    @staticmethod
    def run_batch(task_ids: Iterable[str], action: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
        """``action`` on each id in turn; one id's failure is reported for that id and never stops the rest."""
        succeeded, failed = [], []
        for task_id in dict.fromkeys(task_ids):
            try:
                succeeded.append({"task_id": task_id, **action(task_id)})
            except SyncHubError as error:
                failed.append({"task_id": task_id, "status": error.status, "code": error.code, "detail": error.detail})
            except ClientError as error:
                unavailable = busy(error)
                if unavailable is None:
                    raise
                logger.warning("batch item %s failed: %s", task_id, unavailable.extra.get("aws_error"))
                failed.append(
                    {
                        "task_id": task_id,
                        "status": unavailable.status,
                        "code": unavailable.code,
                        "detail": "The service is busy; retry this task.",
                    }
                )
        return {"succeeded": succeeded, "failed": failed}

    def batch_cancel(self, task_ids: Iterable[str]) -> dict[str, Any]:
        def cancel(task_id: str) -> dict[str, Any]:
            task, status = self.cancel_task(task_id)
            return {"status": status, "task": task}

        return self.run_batch(task_ids, cancel)

    def batch_retry(self, task_ids: Iterable[str], *, restart: bool, created_by: str) -> dict[str, Any]:
        return self.run_batch(
            task_ids,
            lambda task_id: {"status": 201, "task": self.retry_task(task_id, restart=restart, created_by=created_by)},
        )

    def batch_delete(self, task_ids: Iterable[str]) -> dict[str, Any]:
        def delete(task_id: str) -> dict[str, Any]:
            self.delete_task(task_id)
            return {"status": 204}

        return self.run_batch(task_ids, delete)

    # ---- delete -------------------------------------------------------------------------------
    def delete_task(self, task_id: str) -> None:
        """Remove a finished task, and its contribution to the statistics, in one transaction."""
        for _ in range(5):
            before = self.lifecycle.get_record(task_id)
            if before["status"] not in TERMINAL_STATUSES:
                raise InvalidState(
                    f"Task '{task_id}' {in_words(before['status'])}; only finished tasks (success, failed, cancelled) "
                    "can be deleted.",
                    current_status=before["status"],
                )
            if self.lifecycle.delete_as_read(before):
                return
            # deleted or changed meanwhile: look again (a second delete finds nothing: 404)
        raise InvalidState(f"Task '{task_id}' keeps changing; try again.")

    # ---- retry --------------------------------------------------------------------------------
    def retry_task(self, task_id: str, *, restart: bool, created_by: str) -> dict[str, Any]:
        """A new pending task repeating a failed one (resuming from its checkpoint unless ``restart``)."""
        before = self.lifecycle.get_record(task_id)
        if before["status"] != "failed":
            raise InvalidState(
                f"Task '{task_id}' {in_words(before['status'])}; only failed tasks can be retried.",
                current_status=before["status"],
            )
        if before.get("retried_by"):
            raise InvalidState(
                f"Task '{task_id}' was already retried as '{before['retried_by']}'; retry that task instead.",
                current_status=before["status"],
                retried_by=before["retried_by"],
            )
        record = self.lifecycle.new_record(
            data_source_id=before["data_source_id"],
            interface_id=before.get("interface_id"),
            task_type=before["task_type"],
            config=before.get("config") or {},
            created_by=created_by,
            attempt=int(before.get("attempt") or 1) + 1,
            retry_of=before["id"],
            resume_from=None if restart else before["id"],
            notify_url=before.get("notify_url"),
        )
        mark_ops, _ = self.lifecycle.transition_ops(
            before, {"retried_by": record["id"]}, condition="attribute_not_exists(retried_by)"
        )
        retry = (
            Transaction()
            .add("new task", self.tasks.put_op(record))
            .add(THE_TASK, *mark_ops)
            .add("data source exists", self.lifecycle.data_sources.exists_check(record["data_source_id"]))
            .add("statistics", *self.stats.change_ops(None, record))
        )
        try:
            retry.run()
        except TransactionFailed as failure:
            if failure.failed("data source exists"):
                raise UnknownDataSource(
                    f"Data source '{record['data_source_id']}' of task '{task_id}' no longer exists."
                ) from failure
            if failure.failed(THE_TASK):
                current = self.lifecycle.get_record(task_id)
                if current.get("retried_by"):
                    raise InvalidState(
                        f"Task '{task_id}' was already retried as '{current['retried_by']}'.",
                        current_status=current["status"],
                        retried_by=current["retried_by"],
                    ) from failure
                raise InvalidState(f"Task '{task_id}' changed while retrying; try again.") from failure
            raise
        return public_task(self.lifecycle.submit(record))


@lru_cache(maxsize=1)
def task_service() -> TaskService:
    """The process-wide service (built on first use, after the environment is in place)."""
    return TaskService()
