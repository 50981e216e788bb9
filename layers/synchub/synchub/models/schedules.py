"""Schedules: a sync task created by itself at the times an EventBridge Scheduler expression gives."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from synchub.models.schedule_expressions import Expression, InvalidExpression, zone
from synchub.models.tasks import NotifyUrl, ResourceId, TaskParameters, TaskType

Overlap = Literal["skip", "queue", "allow"]
ScheduleState = Literal["enabled", "paused"]
# Tasks a schedule's next run waits for (queue) or is skipped for (skip): they still hold the schedule's data.
ACTIVE_STATUSES = frozenset({"pending", "running", "paused"})


def utc_text(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


class ScheduleBody(BaseModel):
    """Fields shared by create and replace."""

    model_config = ConfigDict(
        extra="forbid",
        defer_build=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "Nightly orders",
                    "data_source_id": "ds_shop",
                    "task_type": "incremental_sync",
                    "expression": "cron(0 2 * * ? *)",
                    "timezone": "Europe/Paris",
                    "overlap": "skip",
                },
                {
                    "name": "Every 15 minutes",
                    "data_source_id": "ds_123",
                    "task_type": "full_sync",
                    "parameters": {"batch_size": 500},
                    "expression": "rate(15 minutes)",
                },
            ]
        },
    )

    name: Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]
    data_source_id: ResourceId
    interface_id: ResourceId | None = None
    task_type: TaskType
    parameters: TaskParameters | None = None
    notify_url: NotifyUrl | None = None
    expression: Annotated[str, StringConstraints(min_length=1, max_length=256, strip_whitespace=True)] = Field(
        description="EventBridge Scheduler's syntax: rate(15 minutes), cron(0 2 * * ? *) (minutes hours "
        "day-of-month month day-of-week year), at(2026-12-24T18:00:00)"
    )
    timezone: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        default="UTC", description="IANA time zone the expression is read in (daylight-saving changes included)"
    )
    start_date: AwareDatetime | None = Field(default=None, description="No run before (RFC 3339 with offset)")
    end_date: AwareDatetime | None = Field(default=None, description="No run after (RFC 3339 with offset)")
    overlap: Overlap = Field(
        default="skip",
        description="While the previous run is pending, running or paused: "
        "skip this one (recorded), queue it behind, or allow both",
    )
    state: ScheduleState = "enabled"

    @model_validator(mode="after")
    def _check(self) -> "ScheduleBody":
        try:
            expression = Expression.parse(self.expression)
            zone(self.timezone)
        except InvalidExpression as error:
            raise ValueError(str(error)) from error
        if self.start_date and self.end_date and self.end_date <= self.start_date:
            raise ValueError("end_date must come after start_date")
        if expression.kind == "at" and self.end_date is not None:
            raise ValueError("an at() schedule runs once: it takes no end_date")
        return self

    def expression_parsed(self) -> Expression:
        return Expression.parse(self.expression)

    def config(self) -> dict[str, Any]:
        return self.parameters.model_dump(exclude_none=True) if self.parameters else {}


class CreateScheduleRequest(ScheduleBody):
    id: ResourceId | None = None


class UpdateScheduleRequest(ScheduleBody):
    """A full replacement; what GET answered can be sent back as it is (its read-only fields are ignored when
    they hold the stored values)."""

    id: str | None = None
    next_run_at: str | None = None
    last_run_at: str | None = None
    last_task_id: str | None = None
    last_outcome: str | None = None
    runs: int | None = None
    skipped_runs: int | None = None
    created_at: str | None = None
    updated_at: str | None = None
    created_by: str | None = None

    READ_ONLY: ClassVar[tuple[str, ...]] = ("id", "created_at", "created_by")
    SHOWN: ClassVar[tuple[str, ...]] = (
        "next_run_at",
        "last_run_at",
        "last_task_id",
        "last_outcome",
        "runs",
        "skipped_runs",
        "updated_at",
    )


class ScheduleListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    size: Annotated[int, Field(ge=1, le=100)] = 20
    next_token: Annotated[str, Field(max_length=2048)] | None = None
    data_source_id: ResourceId | None = None
