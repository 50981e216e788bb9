"""Maintenance of the task table: deleting old finished tasks on request (cleanup), and the reaper's rounds
(submitting tasks whose submission failed; resuming or failing running tasks whose engine went silent)."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import Any

from synchub.dal.paging import InvalidToken, decode_cleanup_token, encode_cleanup_token
from synchub.dal.transactions import TransactionFailed
from synchub.errors import ValidationFailed
from synchub.ids import task_id_floor
from synchub.models.tasks import CleanupRequest
from synchub.tasks.lifecycle import TaskLifecycle, task_lifecycle
from synchub.timeutil import Clock, iso, parse_iso


class TaskMaintenance:
    def __init__(self, lifecycle: TaskLifecycle | None = None):
        self.lifecycle = lifecycle or task_lifecycle()
        self.settings = self.lifecycle.settings
        self.tasks = self.lifecycle.tasks

    @property
    def clock(self) -> Clock:
        return self.lifecycle.clock

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
        deleted: list[str] = []
        skipped = 0
        while position["i"] < len(statuses) * shards and len(deleted) < request.limit:
            status, shard = statuses[position["i"] // shards], position["i"] % shards
            items, last = self.tasks.oldest_in_status(
                status, shard, below=below, after=position["a"], limit=request.limit - len(deleted)
            )
            for item in items:
                if self.lifecycle.delete_as_read(item):
                    deleted.append(item["id"])
                else:
                    skipped += 1  # changed or gone since the index copy was written
            position = {"i": position["i"], "a": last} if last else {"i": position["i"] + 1, "a": None}
        done = position["i"] >= len(statuses) * shards
        result: dict[str, Any] = {
            "deleted": len(deleted),
            "skipped": skipped,
            "deleted_ids": deleted,
            "done": done,
            "before": iso(request.before()),
            "statuses": statuses,
        }
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
            raise ValidationFailed(
                str(error), errors=[{"loc": ["body", "next_token"], "msg": str(error), "type": "value_error"}]
            ) from error

    # ---- reaper -------------------------------------------------------------------------------
    def resume_stale_running(self, limit: int = 100) -> dict[str, int]:
        """Running tasks whose heartbeat stopped (the engine died): resume each from its checkpoint under
        a new lease, or fail it once it has been resumed ``engine_max_resumptions`` times."""
        cutoff = iso(self.clock.now() - timedelta(seconds=self.settings.heartbeat_timeout_seconds))
        resumed = failed = 0
        for stale in self.tasks.running(limit=limit, stale_before=cutoff):
            before = self.tasks.get(stale["id"])
            if (
                before is None
                or before["status"] != "running"
                or before.get("heartbeat_at", "") >= cutoff
                or before.get("next_poll_at", "") >= cutoff
            ):
                continue
            resumptions = int(before.get("resumptions") or 0)
            if resumptions >= self.settings.engine_max_resumptions:
                if self.lifecycle.finish_task(
                    before["id"],
                    lease_owner=before.get("lease_owner"),
                    status="failed",
                    changes={
                        "error_code": "HEARTBEAT_LOST",
                        "error_message": f"The engine stopped reporting progress {resumptions + 1} times; "
                        "the task was given up.",
                    },
                ):
                    failed += 1
                continue
            run_id = f"resume-{before['id']}-{resumptions + 1}"
            now = self.clock.now()
            try:
                after = self.lifecycle.transition(
                    before,
                    {
                        "lease_owner": run_id,
                        "resumptions": resumptions + 1,
                        "heartbeat_at": iso(now),
                        "lease_expires_at": iso(now + timedelta(seconds=self.settings.heartbeat_timeout_seconds)),
                    },
                )
            except TransactionFailed:
                continue
            self.lifecycle.queue.submit(after, run_id=run_id, hop=0)
            resumed += 1
        return {"resumed": resumed, "failed": failed}

    def resubmit_unsubmitted(self, limit: int = 100) -> dict[str, int]:
        """Submit pending tasks whose submission failed (oldest first); clear marks of non-pending ones."""
        cutoff = self.clock.now() - timedelta(seconds=self.settings.resubmit_after_seconds)
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
            after = self.lifecycle.submit(record)
            submitted += 1 if after.get("submitted") else 0
        return {"submitted": submitted, "cleared": cleared}


@lru_cache(maxsize=1)
def task_maintenance() -> TaskMaintenance:
    """The process-wide maintenance (built on first use, after the environment is in place)."""
    return TaskMaintenance()
