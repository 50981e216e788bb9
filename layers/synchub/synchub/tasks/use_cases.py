"""The API's task use cases: create, read, list, update, cancel, retry, delete, and their batch forms.
Every status move goes through :class:`~synchub.tasks.lifecycle.TaskLifecycle`."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any, Callable, Iterable

from botocore.exceptions import ClientError

from synchub.connectors.base import PermanentSourceError
from synchub.connectors.registry import incremental_problem, stream_for
from synchub.dal.interfaces import InterfaceStore
from synchub.dal.paging import MAX_PAGE_OFFSET, InvalidToken, PageState, decode_token, encode_token
from synchub.dal.transactions import ConditionFailed, Transaction, TransactionFailed
from synchub.errors import (InvalidState, SyncHubError, TaskNotFound, UnknownDataSource, UnknownInterface,
                            ValidationFailed, busy)
from synchub.ids import is_task_id
from synchub.models.aggregate import SCOPE_ALL, scope_of_data_source
from synchub.models.merge_patch import patched
from synchub.models.tasks import (INCREMENTAL_TYPES, TERMINAL_STATUSES, CreateTaskRequest, UpdateTaskRequest, in_words,
                                  public_task)
from synchub.timeutil import Clock
from synchub.tasks.lifecycle import THE_TASK, TaskLifecycle, task_lifecycle

logger = logging.getLogger(__name__)

# Statuses each action may start from.
CANCELLABLE_NOW = "pending"
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
    def create_task(self, request: CreateTaskRequest, created_by: str) -> dict[str, Any]:
        """Store a new pending task, then submit it to the engine (the reaper retries a failed submit)."""
        if request.task_type in INCREMENTAL_TYPES:
            self._check_incremental(request)
        record = self.lifecycle.new_record(
            data_source_id=request.data_source_id,
            interface_id=request.interface_id,
            task_type=request.task_type,
            config=request.config(),
            created_by=created_by,
            notify_url=request.notify_url,
        )
        creation = (Transaction().add("new task", self.tasks.put_op(record))
                    .add("data source exists", self.lifecycle.data_sources.exists_check(request.data_source_id)))
        if request.interface_id:
            interfaces = InterfaceStore(self.lifecycle.settings)
            creation.add("interface exists", interfaces.exists_check(request.data_source_id, request.interface_id))
        creation.add("statistics", *self.stats.change_ops(None, record))
        try:
            creation.run()
        except TransactionFailed as failure:
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
        self, *, page: int, size: int, data_source_id: str | None, status: str | None, next_token: str | None
    ) -> dict[str, Any]:
        index = self.tasks.listing_index(data_source_id=data_source_id, status=status)
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
                message = f"page * size may reach at most {MAX_PAGE_OFFSET + size}; follow next_token to go deeper"
                raise ValidationFailed(message, errors=[{"loc": ["query", "page"], "msg": message, "type": "too_deep"}])
            state = PageState(cursors=[None] * index.shards, page=1)
            if offset:
                skipped = self.tasks.page(index, state, offset)
                state = PageState(cursors=skipped.state.cursors, page=page)
        result = self.tasks.page(index, state, size)
        gauges = self.stats.gauges(scope_of_data_source(data_source_id) if data_source_id else SCOPE_ALL)
        total = int(gauges.get(f"st_{status}", 0)) if status else int(sum(gauges.values()))
        pagination: dict[str, Any] = {
            "page": state.page,
            "size": size,
            "total": total,
            "total_pages": (total + size - 1) // size,
        }
        if result.has_more and result.items:
            pagination["next_token"] = encode_token(index, result.state)
        return {"tasks": [public_task(item) for item in result.items], "pagination": pagination}

    def _check_incremental(self, request: CreateTaskRequest) -> None:
        """An incremental or realtime sync needs a way to tell new rows from old: refuse one without it now,
        rather than fail it when it runs."""
        data_source = self.lifecycle.data_sources.get(request.data_source_id)
        interface = (InterfaceStore(self.lifecycle.settings).get(request.data_source_id, request.interface_id)
                     if request.interface_id else None)
        if data_source is None or (request.interface_id and interface is None):
            return  # the creation's transaction names what is missing
        try:
            stream = stream_for(data_source, {"config": request.config(), "interface_id": request.interface_id},
                                interface)
        except PermanentSourceError as error:
            raise ValidationFailed(str(error), errors=[{"loc": ["body", "parameters"], "msg": str(error),
                                                        "type": "value_error"}]) from error
        problem = incremental_problem(data_source["type"], stream, request.task_type)
        if problem:
            raise ValidationFailed(problem, errors=[{"loc": ["body", "task_type"], "msg": problem,
                                                     "type": "value_error"}])

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
        op = self.tasks.update_op(task_id, {"config": config, "updated_at": self.clock.now_iso()}, expect_status=["pending"],
                                  bump_version=True)
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
        """Cancel now (pending → cancelled, 200) or ask the engine to stop (running, 202)."""
        for _ in range(5):
            before = self.lifecycle.get_record(task_id)
            status = before["status"]
            try:
                if status == CANCELLABLE_NOW:
                    now = self.clock.now_iso()
                    after = self.lifecycle.transition(
                        before,
                        {"status": "cancelled", "end_time": now, "updated_at": now, "current_phase": "cancelled"},
                        remove=["resubmit"],
                    )
                    return public_task(after), 200
                if status == CANCELLABLE_LATER:
                    if before.get("cancel_requested"):
                        return public_task(before), 202
                    now = self.clock.now_iso()
                    after = self.lifecycle.transition(before, {"cancel_requested": True, "cancel_requested_at": now,
                                                     "updated_at": now})
                    return public_task(after), 202
            except TransactionFailed:
                continue  # it moved under us: look again
            raise InvalidState(
                f"Task '{task_id}' {in_words(status)}; only pending or running tasks can be cancelled.",
                current_status=status,
            )
        raise InvalidState(f"Task '{task_id}' keeps changing; try again.")

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
                failed.append({"task_id": task_id, "status": unavailable.status, "code": unavailable.code,
                               "detail": "The service is busy; retry this task."})
        return {"succeeded": succeeded, "failed": failed}

    def batch_cancel(self, task_ids: Iterable[str]) -> dict[str, Any]:
        def cancel(task_id: str) -> dict[str, Any]:
            task, status = self.cancel_task(task_id)
            return {"status": status, "task": task}

        return self.run_batch(task_ids, cancel)

    def batch_retry(self, task_ids: Iterable[str], *, restart: bool, created_by: str) -> dict[str, Any]:
        return self.run_batch(task_ids, lambda task_id: {
            "status": 201, "task": self.retry_task(task_id, restart=restart, created_by=created_by)})

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
        retry = (Transaction().add("new task", self.tasks.put_op(record))
                 .add(THE_TASK, *mark_ops)
                 .add("data source exists", self.lifecycle.data_sources.exists_check(record["data_source_id"]))
                 .add("statistics", *self.stats.change_ops(None, record)))
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
