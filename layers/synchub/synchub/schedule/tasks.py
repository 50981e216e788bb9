"""ScheduleService owns task records: create, read, list, update, cancel, retry, and every status move.

Every status change is one DynamoDB transaction: the task's update, conditional on the status and the
version it was read at, plus the statistics deltas of the change. A lost race surfaces as a failed
condition and is re-read, never overwritten.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import lru_cache
from typing import Any, Callable, Iterable

from botocore.exceptions import ClientError

from synchub.dal.data_sources import DataSourceStore
from synchub.dal.paging import (InvalidToken, PageState, decode_cleanup_token, decode_token,
                                encode_cleanup_token, encode_token)
from synchub.dal.statistics import StatisticsStore
from synchub.dal.tasks import TaskStore, index_keys
from synchub.dal.transactions import ConditionFailed, TransactionFailed
from synchub.engine.submit import SyncEngine
from synchub.errors import (InvalidState, SyncHubError, TaskNotFound, UnknownDataSource, UnknownInterface,
                            ValidationFailed)
from synchub.ids import is_task_id, new_task_id, shard_of, task_id_floor
from synchub.models.tasks import TERMINAL_STATUSES, CleanupRequest, CreateTaskRequest, public_task
from synchub.observability import correlation_id
from synchub.settings import Settings, get_settings
from synchub.stats.aggregate import SCOPE_ALL, scope_of_data_source
from synchub.timeutil import iso, now_iso, parse_iso, utcnow

logger = logging.getLogger(__name__)


# Deepest offset reachable with ``page`` alone; beyond it clients follow ``next_token``.
MAX_PAGE_OFFSET = 10_000
# Statuses each action may start from.
CANCELLABLE_NOW = "pending"
CANCELLABLE_LATER = "running"


class ScheduleService:
    def __init__(self, settings: Settings | None = None, engine: SyncEngine | None = None):
        self.settings = settings or get_settings()
        self.tasks = TaskStore(self.settings)
        self.stats = StatisticsStore(self.settings)
        self.data_sources = DataSourceStore(self.settings)
        self.engine = engine or SyncEngine(self.settings)

    # ---- records ------------------------------------------------------------------------------
    def _new_record(
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
    ) -> dict[str, Any]:
        created = utcnow()
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

    def get_task(self, task_id: str) -> dict[str, Any]:
        return public_task(self.get_record(task_id))

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
        after["updated_at"] = changes.get("updated_at") or now_iso()
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

    def transition(self, before: dict[str, Any], changes: dict[str, Any], *,
                   extra_ops: Iterable[dict[str, Any]] = (), **kwargs: Any) -> dict[str, Any]:
        """Apply a change to a task read as ``before``; raises ``TransactionFailed`` if it moved meanwhile."""
        ops, after = self.transition_ops(before, changes, **kwargs)
        self.tasks.transact([*ops, *extra_ops])
        return after

    # ---- create -------------------------------------------------------------------------------
    def create_task(self, request: CreateTaskRequest, created_by: str) -> dict[str, Any]:
        """Store a new pending task, then submit it to the engine (the reaper retries a failed submit)."""
        record = self._new_record(
            data_source_id=request.data_source_id,
            interface_id=request.interface_id,
            task_type=request.task_type,
            config=request.config(),
            created_by=created_by,
            notify_url=request.notify_url,
        )
        ops = [self.tasks.put_op(record), self.data_sources.exists_check(request.data_source_id)]
        if request.interface_id:
            from synchub.dal.interfaces import InterfaceStore

            ops.append(InterfaceStore(self.settings).exists_check(request.data_source_id, request.interface_id))
        ops.extend(self.stats.change_ops(None, record))
        try:
            self.tasks.transact(ops)
        except TransactionFailed as failure:
            if failure.failed_at(1):
                raise UnknownDataSource(
                    f"Data source '{request.data_source_id}' does not exist.",
                    errors=[{"loc": ["body", "data_source_id"], "msg": "unknown data source", "type": "not_found"}],
                ) from failure
            if request.interface_id and failure.failed_at(2):
                raise UnknownInterface(
                    f"Data source '{request.data_source_id}' has no interface '{request.interface_id}'.",
                    errors=[{"loc": ["body", "interface_id"], "msg": "unknown interface", "type": "not_found"}],
                ) from failure
            raise
        return public_task(self.submit(record))

    def submit(self, record: dict[str, Any]) -> dict[str, Any]:
        """Send a stored task to the engine and clear its unsubmitted mark; on failure leave the mark."""
        try:
            self.engine.submit(record)
        except Exception:  # any SQS failure: the record stays marked and the reaper submits it later
            logger.warning("submission to the engine failed; the reaper will retry", extra={"task_id": record["id"]},
                           exc_info=True)
            return record
        try:
            return self.tasks.update(
                self.tasks.update_op(record["id"], {"submitted": True}, remove=["resubmit"])
            )
        except Exception:
            logger.warning("task submitted but not marked so; a duplicate message may follow",
                           extra={"task_id": record["id"]}, exc_info=True)
            return {**record, "submitted": True}

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

    # ---- update -------------------------------------------------------------------------------
    def update_task(self, task_id: str, config: dict[str, Any]) -> dict[str, Any]:
        """Replace the config of a pending task."""
        if not is_task_id(task_id):
            raise TaskNotFound(f"Task '{task_id}' does not exist.")
        op = self.tasks.update_op(task_id, {"config": config, "updated_at": now_iso()}, expect_status=["pending"],
                                  bump_version=True)
        try:
            return public_task(self.tasks.update(op))
        except ConditionFailed as failure:
            if failure.old is None:
                raise TaskNotFound(f"Task '{task_id}' does not exist.") from failure
            raise InvalidState(
                f"Task '{task_id}' is {failure.old['status']}; only pending tasks can be updated.",
                current_status=failure.old["status"],
            ) from failure

    # ---- cancel -------------------------------------------------------------------------------
    def cancel_task(self, task_id: str) -> tuple[dict[str, Any], int]:
        """Cancel now (pending → cancelled, 200) or ask the engine to stop (running, 202)."""
        for _ in range(5):
            before = self.get_record(task_id)
            status = before["status"]
            try:
                if status == CANCELLABLE_NOW:
                    now = now_iso()
                    after = self.transition(
                        before,
                        {"status": "cancelled", "end_time": now, "updated_at": now, "current_phase": "cancelled"},
                        remove=["resubmit"],
                    )
                    return public_task(after), 200
                if status == CANCELLABLE_LATER:
                    if before.get("cancel_requested"):
                        return public_task(before), 202
                    now = now_iso()
                    after = self.transition(before, {"cancel_requested": True, "cancel_requested_at": now,
                                                     "updated_at": now})
                    return public_task(after), 202
            except TransactionFailed:
                continue  # it moved under us: look again
            raise InvalidState(
                f"Task '{task_id}' is {status}; only pending or running tasks can be cancelled.",
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
            except ClientError as error:  # the service refused this one (throttling): the caller may retry it
                logger.warning("batch item %s failed: %s", task_id, error.response.get("Error", {}).get("Code"))
                failed.append({"task_id": task_id, "status": 503, "code": "SERVICE_UNAVAILABLE",
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
            before = self.get_record(task_id)
            if before["status"] not in TERMINAL_STATUSES:
                raise InvalidState(
                    f"Task '{task_id}' is {before['status']}; only finished tasks (success, failed, cancelled) "
                    "can be deleted.",
                    current_status=before["status"],
                )
            if self._delete_as_read(before):
                return
            # deleted or changed meanwhile: look again (a second delete finds nothing: 404)
        raise InvalidState(f"Task '{task_id}' keeps changing; try again.")

    def _delete_as_read(self, record: dict[str, Any]) -> bool:
        """Delete ``record`` and take back its statistics, in one transaction conditional on the status and
        version it was read with; False if it changed or went meanwhile."""
        try:
            self.tasks.transact([
                self.tasks.delete_op(record["id"], expect_status=record["status"],
                                     expect_version=int(record.get("version", 1))),
                *self.stats.change_ops(record, None),
            ])
            return True
        except TransactionFailed:
            return False

    def cleanup(self, request: CleanupRequest) -> dict[str, Any]:
        """Delete up to ``request.limit`` finished tasks created before ``request.before()`` with one of
        ``request.statuses``, oldest first per status and shard, through the ByStatus index (never a scan).
        A task that changed since the index saw it is skipped. Returns the count and, while more may
        match, a ``next_token`` bound to this request."""
        below = task_id_floor(request.before())
        statuses = sorted(set(request.statuses))
        shards = self.settings.list_shards
        binding = f"{below}|{','.join(statuses)}"
        position = self._cleanup_position(request.next_token, binding)
        deleted, skipped = [], 0
        while position["i"] < len(statuses) * shards and len(deleted) < request.limit:
            status, shard = statuses[position["i"] // shards], position["i"] % shards
            items, last = self.tasks.oldest_in_status(status, shard, below=below, after=position["a"],
                                                      limit=request.limit - len(deleted))
            for item in items:
                if self._delete_as_read(item):
                    deleted.append(item["id"])
                else:
                    skipped += 1  # changed or gone since the index copy was written
            position = {"i": position["i"], "a": last} if last else {"i": position["i"] + 1, "a": None}
        done = position["i"] >= len(statuses) * shards
        result: dict[str, Any] = {"deleted": len(deleted), "skipped": skipped, "deleted_ids": deleted, "done": done,
                                  "before": iso(request.before()), "statuses": statuses}
        if not done:
            result["next_token"] = encode_cleanup_token(binding, position)
        return result

    @staticmethod
    def _cleanup_position(token: str | None, binding: str) -> dict[str, Any]:
        if not token:
            return {"i": 0, "a": None}
        try:
            return decode_cleanup_token(token, binding)
        except InvalidToken as error:
            raise ValidationFailed(str(error), errors=[{"loc": ["body", "next_token"], "msg": str(error),
                                                        "type": "value_error"}]) from error

    # ---- retry --------------------------------------------------------------------------------
    def retry_task(self, task_id: str, *, restart: bool, created_by: str) -> dict[str, Any]:
        """A new pending task repeating a failed one (resuming from its checkpoint unless ``restart``)."""
        before = self.get_record(task_id)
        if before["status"] != "failed":
            raise InvalidState(
                f"Task '{task_id}' is {before['status']}; only failed tasks can be retried.",
                current_status=before["status"],
            )
        if before.get("retried_by"):
            raise InvalidState(
                f"Task '{task_id}' was already retried as '{before['retried_by']}'; retry that task instead.",
                current_status=before["status"],
                retried_by=before["retried_by"],
            )
        record = self._new_record(
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
        mark_op, _ = self.transition_ops(
            before, {"retried_by": record["id"]}, condition="attribute_not_exists(retried_by)"
        )
        ops = [
            self.tasks.put_op(record),
            *mark_op,
            self.data_sources.exists_check(record["data_source_id"]),
            *self.stats.change_ops(None, record),
        ]
        try:
            self.tasks.transact(ops)
        except TransactionFailed as failure:
            if failure.failed_at(2):
                raise UnknownDataSource(
                    f"Data source '{record['data_source_id']}' of task '{task_id}' no longer exists."
                ) from failure
            if failure.failed_at(1):
                current = self.get_record(task_id)
                if current.get("retried_by"):
                    raise InvalidState(
                        f"Task '{task_id}' was already retried as '{current['retried_by']}'.",
                        current_status=current["status"],
                        retried_by=current["retried_by"],
                    ) from failure
                raise InvalidState(f"Task '{task_id}' changed while retrying; try again.") from failure
            raise
        return public_task(self.submit(record))

    # ---- engine-side moves --------------------------------------------------------------------
    def start_task(self, task_id: str, *, lease_owner: str, lease_seconds: int) -> dict[str, Any] | None:
        """pending → running under a lease; ``None`` if the task is not pending (duplicate or stale message)."""
        for _ in range(5):
            before = self.tasks.get(task_id)
            if before is None or before["status"] != "pending":
                return None
            now = utcnow()
            try:
                return self.transition(
                    before,
                    {
                        "status": "running",
                        "start_time": now_iso(),
                        "current_phase": "starting",
                        "lease_owner": lease_owner,
                        "lease_expires_at": iso(now + timedelta(seconds=lease_seconds)),
                        "heartbeat_at": iso(now),
                        "checkpoint_seq": 0,
                        "submitted": True,
                    },
                    remove=["resubmit"],
                )
            except TransactionFailed:
                continue
        return None

    def finish_task(self, task_id: str, *, lease_owner: str | None, status: str, changes: dict[str, Any],
                    extra_ops: Iterable[dict[str, Any]] = (), from_statuses: Iterable[str] = ("running",),
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
            now = now_iso()
            try:
                return self.transition(
                    before,
                    {"status": status, "end_time": now, "updated_at": now, "current_phase": status, **changes},
                    remove=["lease_owner", "lease_expires_at", "resubmit"],
                    extra_ops=extra_ops,
                )
            except TransactionFailed as failure:
                if failure.failed_at(0):
                    continue
                raise
        return None

    def record_progress(self, task_id: str, *, lease_owner: str, seq: int, changes: dict[str, Any]) -> dict[str, Any] | None:
        """One conditional update per batch: progress, heartbeat and the checkpoint, only by the lease
        holder and only from checkpoint ``seq`` (so a duplicate delivery cannot move it twice)."""
        now = utcnow()
        fields = {**changes, "checkpoint_seq": seq + 1, "heartbeat_at": iso(now), "progress_updated_at": iso(now),
                  "updated_at": iso(now),
                  "lease_expires_at": iso(now + timedelta(seconds=self.settings.heartbeat_timeout_seconds))}
        op = self.tasks.update_op(
            task_id, fields, expect_status=["running"],
            condition="lease_owner = :run AND checkpoint_seq = :seq",  # start_task sets checkpoint_seq 0
            condition_values={":run": lease_owner, ":seq": seq},
            bump_version=True,
        )
        try:
            return self.tasks.update(op)
        except ConditionFailed:
            return None

    # ---- reaper -------------------------------------------------------------------------------
    def resume_stale_running(self, limit: int = 100) -> dict[str, int]:
        """Running tasks whose heartbeat stopped (the engine died): resume each from its checkpoint under
        a new lease, or fail it once it has been resumed ``engine_max_resumptions`` times."""
        cutoff = iso(utcnow() - timedelta(seconds=self.settings.heartbeat_timeout_seconds))
        resumed = failed = 0
        for stale in self.tasks.running(limit=limit, stale_before=cutoff):
            before = self.tasks.get(stale["id"])
            if before is None or before["status"] != "running" or before.get("heartbeat_at", "") >= cutoff \
                    or before.get("next_poll_at", "") >= cutoff:
                continue
            resumptions = int(before.get("resumptions") or 0)
            if resumptions >= self.settings.engine_max_resumptions:
                if self.finish_task(before["id"], lease_owner=before.get("lease_owner"), status="failed", changes={
                    "error_code": "HEARTBEAT_LOST",
                    "error_message": f"The engine stopped reporting progress {resumptions + 1} times; "
                                     "the task was given up.",
                }):
                    failed += 1
                continue
            run_id = f"resume-{before['id']}-{resumptions + 1}"
            now = utcnow()
            try:
                after = self.transition(before, {
                    "lease_owner": run_id, "resumptions": resumptions + 1, "heartbeat_at": iso(now),
                    "lease_expires_at": iso(now + timedelta(seconds=self.settings.heartbeat_timeout_seconds)),
                })
            except TransactionFailed:
                continue
            self.engine.submit(after, run_id=run_id, hop=0)
            resumed += 1
        return {"resumed": resumed, "failed": failed}

    def resubmit_unsubmitted(self, limit: int = 100) -> dict[str, int]:
        """Submit pending tasks whose submission failed (oldest first); clear marks of non-pending ones."""
        cutoff = utcnow() - timedelta(seconds=self.settings.resubmit_after_seconds)
        submitted = cleared = 0
        for item in self.tasks.unsubmitted(limit):
            if parse_iso(item["created_at"]) > cutoff:
                continue
            record = self.tasks.get(item["id"])
            if record is None or "resubmit" not in record:
                continue
            if record["status"] != "pending":
                self.tasks.update(self.tasks.update_op(record["id"], {}, remove=["resubmit"]))
                cleared += 1
                continue
            after = self.submit(record)
            submitted += 1 if after.get("submitted") else 0
        return {"submitted": submitted, "cleared": cleared}


@lru_cache(maxsize=1)
def schedule_service() -> ScheduleService:
    """The process-wide service (built on first use, after the environment is in place)."""
    return ScheduleService()
