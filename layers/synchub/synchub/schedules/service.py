"""ScheduleService: schedules as a resource, kept in step with one EventBridge Scheduler schedule each, and the
firing that turns a scheduled time into a task.

The item in the schedules table is the truth the API answers from; the Scheduler schedule (same name, in the
stack's group, invoking the fire function with ``{schedule_id, scheduled_time}``) is what makes it run. A
firing is recorded under its scheduled time in the same transaction as the task it creates, so a retried or
duplicate delivery of one firing creates one task.

Size: about 300 lines because the stored schedule and its Scheduler twin are changed together in every
use case, and each change's lost-race handling is next to it.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from botocore.exceptions import ClientError

from synchub import aws
from synchub.dal.paging import InvalidToken, PageState, decode_token, encode_token
from synchub.dal.schedules import FIRING_DAYS, ScheduleStore, firing_key
from synchub.dal.transactions import Transaction, TransactionFailed
from synchub.errors import Conflict, NotFound, UnknownDataSource, ValidationFailed
from synchub.ids import new_schedule_id
from synchub.models.data_sources import changed_read_only
from synchub.models.schedule_expressions import Expression, zone
from synchub.models.schedules import ACTIVE_STATUSES, CreateScheduleRequest, ScheduleBody, utc_text
from synchub.models.secrets import masked_url, unmasked_url
from synchub.models.tasks import CreateTaskRequest
from synchub.observability import logger
from synchub.outbound import refuse_named
from synchub.settings import Settings, get_settings
from synchub.tasks.use_cases import ScheduledRun, ScheduledRunExists, TaskService, task_service
from synchub.timeutil import iso, parse_iso, utcnow

SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"  # Scheduler puts the firing's time here in the target input


class ScheduleNotFound(NotFound):
    code, title = "SCHEDULE_NOT_FOUND", "Schedule not found"


class ScheduleExists(Conflict):
    code, title = "SCHEDULE_EXISTS", "Schedule exists"


class ScheduleBusy(Conflict):
    code, title = "SCHEDULE_BUSY", "Previous run still active"


PUBLIC_FIELDS = (
    "id",
    "name",
    "data_source_id",
    "interface_id",
    "task_type",
    "parameters",
    "notify_url",
    "expression",
    "timezone",
    "start_date",
    "end_date",
    "overlap",
    "state",
    "next_run_at",
    "last_run_at",
    "last_task_id",
    "last_outcome",
    "runs",
    "skipped_runs",
    "created_at",
    "updated_at",
    "created_by",
)


def public_schedule(record: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """What the API shows: the stored fields and the next run, computed as Scheduler computes it."""
    view = {name: record.get(name) for name in PUBLIC_FIELDS}
    view["notify_url"] = masked_url(view["notify_url"])
    view["runs"], view["skipped_runs"] = int(record.get("runs") or 0), int(record.get("skipped_runs") or 0)
    view["next_run_at"] = next_run(record, now or utcnow()) if record.get("state") == "enabled" else None
    return view


def next_run(record: dict[str, Any], now: datetime) -> str | None:
    start = parse_iso(record["start_date"]) if record.get("start_date") else parse_iso(record["created_at"])
    end = parse_iso(record["end_date"]) if record.get("end_date") else None
    after = max(now, parse_iso(record["last_run_at"])) if record.get("last_run_at") else now
    moment = Expression.parse(record["expression"]).next_run(
        after, tz=zone(record.get("timezone")), start=start, end=end
    )
    return utc_text(moment)


class ScheduleService:
    def __init__(self, settings: Settings | None = None, tasks: TaskService | None = None):
        self.settings = settings or get_settings()
        self.store = ScheduleStore(self.settings)
        self._tasks = tasks

    @property
    def tasks(self) -> TaskService:
        return self._tasks or task_service()

    # ---- the resource -----------------------------------------------------------------------------
    def get_record(self, schedule_id: str) -> dict[str, Any]:
        record = self.store.get(schedule_id) if "#" not in schedule_id else None
        if record is None:
            raise ScheduleNotFound(f"Schedule '{schedule_id}' does not exist.")
        return record

    def get(self, schedule_id: str) -> dict[str, Any]:
        return public_schedule(self.get_record(schedule_id))

    def create(self, request: CreateScheduleRequest, created_by: str) -> dict[str, Any]:
        """Store the schedule (its data source must exist), then create its Scheduler schedule; if Scheduler
        refuses, the stored schedule is taken back and the refusal answered."""
        refuse_named(self.settings, {("notify_url",): request.notify_url})
        now = utcnow()
        record = {
            "id": request.id or new_schedule_id(),
            **_described(request),
            "runs": 0,
            "skipped_runs": 0,
            "version": 1,
            "created_at": iso(now),
            "updated_at": iso(now),
            "created_by": created_by,
        }
        creation = Transaction().add("schedule", self.store.put_op(record))
        creation.add("data source", self.tasks.lifecycle.data_sources.exists_check(request.data_source_id))
        try:
            creation.run()
        except TransactionFailed as failure:
            if failure.failed("schedule"):
                raise ScheduleExists(f"Schedule '{record['id']}' already exists.") from failure
            raise UnknownDataSource(
                f"Data source '{request.data_source_id}' does not exist.",
                errors=[{"loc": ["body", "data_source_id"], "msg": "unknown data source", "type": "not_found"}],
            ) from failure
        try:
            self.put_in_scheduler(record, new=True)
        except Exception:
            self.store.delete(record["id"])
            raise
        logger.info("schedule created", extra={"schedule_id": record["id"]})
        return public_schedule(record)

    def replace(self, schedule_id: str, request: ScheduleBody) -> dict[str, Any]:
        current = self.get_record(schedule_id)
        refuse_named(self.settings, {("notify_url",): request.notify_url})
        changed = changed_read_only(request, public_schedule(current))
        if changed:
            raise ValidationFailed(
                f"Read-only fields cannot change: {', '.join(changed)}.",
                errors=[{"loc": ["body", name], "msg": "read-only", "type": "read_only_changed"} for name in changed],
            )
        if (
            request.data_source_id != current["data_source_id"]
            and self.tasks.lifecycle.data_sources.get(request.data_source_id) is None
        ):
            raise UnknownDataSource(
                f"Data source '{request.data_source_id}' does not exist.",
                errors=[{"loc": ["body", "data_source_id"], "msg": "unknown data source", "type": "not_found"}],
            )
        return public_schedule(
            self._save(
                current,
                {**_described(request), "notify_url": unmasked_url(request.notify_url, current.get("notify_url"))},
            )
        )

    def set_state(self, schedule_id: str, state: str) -> dict[str, Any]:
        """Pause (``paused``: it fires nothing) or resume (``enabled``) a schedule."""
        current = self.get_record(schedule_id)
        if current.get("state") == state:
            return public_schedule(current)
        record = self._save(current, {"state": state})
        logger.info("schedule %s", "paused" if state == "paused" else "resumed", extra={"schedule_id": schedule_id})
        return public_schedule(record)

    def _save(self, current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
        """``current`` with ``changes``: its Scheduler schedule updated, then the item, on condition that it is
        still the version read."""
        version = int(current.get("version") or 1)
        record = {**current, **changes, "version": version + 1, "updated_at": iso(utcnow())}
        self.put_in_scheduler(record, new=False)
        try:
            self.store.put(record, must_exist=True, expect_version=version)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            # Another request changed (or deleted) the schedule meanwhile: Scheduler follows the change that won.
            latest = self.get_record(record["id"])
            self.put_in_scheduler(latest, new=False)
            raise Conflict(
                f"Schedule '{record['id']}' changed while this request ran: read it again and send the change anew."
            ) from error
        return record

    def delete(self, schedule_id: str) -> None:
        self.get_record(schedule_id)
        try:
            aws.client("scheduler").delete_schedule(Name=schedule_id, GroupName=self.settings.schedule_group)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
        self.store.delete(schedule_id)

    def list(self, *, size: int, next_token: str | None) -> dict[str, Any]:
        index = self.store.listing_index()
        try:
            state = decode_token(index, next_token) if next_token else PageState(cursors=[None], page=1)
        except InvalidToken as error:
            raise ValidationFailed(
                str(error), errors=[{"loc": ["query", "next_token"], "msg": str(error), "type": "value_error"}]
            ) from error
        page = self.store.page(state, size)
        pagination: dict[str, Any] = {"size": size}
        if page.has_more and page.items:
            pagination["next_token"] = encode_token(index, page.state)
        now = utcnow()
        return {"schedules": [public_schedule(item, now) for item in page.items], "pagination": pagination}

    def put_in_scheduler(self, record: dict[str, Any], *, new: bool) -> None:
        """Create (``new``) or update the schedule's EventBridge Scheduler schedule to match ``record``."""
        params: dict[str, Any] = {
            "Name": record["id"],
            "GroupName": self.settings.schedule_group,
            "ScheduleExpression": record["expression"],
            "ScheduleExpressionTimezone": record.get("timezone") or "UTC",
            "State": "ENABLED" if record.get("state") == "enabled" else "DISABLED",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Description": f"SyncHub schedule {record['name']}"[:512],
            "Target": {
                "Arn": self.settings.schedule_target_arn,
                "RoleArn": self.settings.scheduler_role_arn,
                "Input": json.dumps({"schedule_id": record["id"], "scheduled_time": SCHEDULED_TIME}),
                "RetryPolicy": {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 3600},
            },
        }
        for name, key in (("start_date", "StartDate"), ("end_date", "EndDate")):
            if record.get(name):
                params[key] = parse_iso(record[name])
        scheduler = aws.client("scheduler")
        (scheduler.create_schedule if new else scheduler.update_schedule)(**params)

    # ---- firing -----------------------------------------------------------------------------------
    def trigger(self, schedule_id: str, created_by: str) -> tuple[dict[str, Any], int]:
        """Run the schedule once now (paused or not), by its overlap rule; 409 ``SCHEDULE_BUSY`` when ``skip``
        finds the previous run still active."""
        outcome = self.fire(schedule_id, iso(utcnow()), manual=True, created_by=created_by)
        if outcome["outcome"] == "skipped":
            raise ScheduleBusy(
                f"Schedule '{schedule_id}' skips runs while its previous one is active (overlap "
                f"skip): task '{outcome['active_task_id']}' is still "
                f"{outcome['active_status']}.",
                active_task_id=outcome["active_task_id"],
            )
        return outcome, 201

    def fire(
        self, schedule_id: str, scheduled_time: str, *, manual: bool = False, created_by: str | None = None
    ) -> dict[str, Any]:
        """One firing of a schedule at ``scheduled_time``: a task (or a recorded skip), once per time."""
        schedule = self.store.get(schedule_id)
        if schedule is None:
            return {"outcome": "gone", "schedule_id": schedule_id}
        if schedule.get("state") != "enabled" and not manual:
            return {"outcome": "paused", "schedule_id": schedule_id}
        earlier = self.store.get(firing_key(schedule_id, scheduled_time))
        if earlier is not None:
            return {"outcome": "duplicate", "schedule_id": schedule_id, "task_id": earlier.get("task_id")}
        previous = self.tasks.lifecycle.find(schedule["last_task_id"]) if schedule.get("last_task_id") else None
        active = previous if previous and previous["status"] in ACTIVE_STATUSES else None
        expires = int((utcnow() + timedelta(days=FIRING_DAYS)).timestamp())
        if active and schedule.get("overlap", "skip") == "skip":
            return self._skip(schedule, scheduled_time, active, expires)
        request = CreateTaskRequest.model_validate(
            {
                "data_source_id": schedule["data_source_id"],
                "interface_id": schedule.get("interface_id"),
                "task_type": schedule["task_type"],
                "parameters": schedule.get("parameters"),
                "notify_url": schedule.get("notify_url"),
            }
        )

        def ops(task_id: str) -> list[dict[str, Any]]:
            return [
                self.store.firing_op(schedule_id, scheduled_time, {"outcome": "created", "task_id": task_id}, expires),
                self.store.update_op(
                    schedule_id,
                    {
                        "last_task_id": task_id,
                        "last_run_at": scheduled_time,
                        "last_outcome": "created",
                        "updated_at": iso(utcnow()),
                    },
                    add={"runs": 1},
                ),
            ]

        queued_behind = active["id"] if active and schedule.get("overlap") == "queue" else None
        try:
            task = self.tasks.create_task(
                request,
                created_by or f"schedule:{schedule_id}",
                scheduled=ScheduledRun(schedule_id, ops, queued_behind),
            )
        except ScheduledRunExists:
            earlier = self.store.get(firing_key(schedule_id, scheduled_time)) or {}
            return {"outcome": "duplicate", "schedule_id": schedule_id, "task_id": earlier.get("task_id")}
        except UnknownDataSource as error:
            self._record_failure(schedule_id, scheduled_time, error.detail)
            raise
        logger.info(
            "schedule fired",
            extra={
                "schedule_id": schedule_id,
                "scheduled_time": scheduled_time,
                "task_id": task["id"],
                "queued_behind": queued_behind,
            },
        )
        return {
            "outcome": "queued" if queued_behind else "created",
            "schedule_id": schedule_id,
            "scheduled_time": scheduled_time,
            "task": task,
        }

    def _skip(
        self, schedule: dict[str, Any], scheduled_time: str, active: dict[str, Any], expires: int
    ) -> dict[str, Any]:
        try:
            (
                Transaction()
                .add(
                    "firing",
                    self.store.firing_op(
                        schedule["id"], scheduled_time, {"outcome": "skipped", "active_task_id": active["id"]}, expires
                    ),
                )
                .add(
                    "schedule",
                    self.store.update_op(
                        schedule["id"],
                        {
                            "last_run_at": scheduled_time,
                            "last_outcome": "skipped",
                            "last_skipped_at": scheduled_time,
                            "updated_at": iso(utcnow()),
                        },
                        add={"skipped_runs": 1},
                    ),
                )
                .run()
            )
        except TransactionFailed as failure:
            if failure.failed("firing"):
                return {"outcome": "duplicate", "schedule_id": schedule["id"]}
            raise
        logger.info(
            "schedule run skipped: the previous run is still active",
            extra={"schedule_id": schedule["id"], "scheduled_time": scheduled_time, "active_task_id": active["id"]},
        )
        return {
            "outcome": "skipped",
            "schedule_id": schedule["id"],
            "scheduled_time": scheduled_time,
            "active_task_id": active["id"],
            "active_status": active["status"],
        }

    def _record_failure(self, schedule_id: str, scheduled_time: str, reason: str) -> None:
        try:
            Transaction().add(
                "schedule",
                self.store.update_op(
                    schedule_id,
                    {
                        "last_run_at": scheduled_time,
                        "last_outcome": f"failed: {reason}"[:500],
                        "updated_at": iso(utcnow()),
                    },
                ),
            ).run()
        except TransactionFailed:
            pass


def _described(request: ScheduleBody) -> dict[str, Any]:
    return {
        "name": request.name,
        "data_source_id": request.data_source_id,
        "interface_id": request.interface_id,
        "task_type": request.task_type,
        "parameters": request.config() or None,
        "notify_url": request.notify_url,
        "expression": request.expression,
        "timezone": request.timezone,
        "start_date": utc_text(request.start_date),
        "end_date": utc_text(request.end_date),
        "overlap": request.overlap,
        "state": request.state,
    }


@lru_cache(maxsize=1)
def schedule_service() -> ScheduleService:
    return ScheduleService()


def scheduled_time_of(event: dict[str, Any]) -> str:
    """The scheduled time a firing names (Scheduler fills it in), as stored: UTC, seconds, Z."""
    moment = parse_iso(str(event["scheduled_time"]))
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
