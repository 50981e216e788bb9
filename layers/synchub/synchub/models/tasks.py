"""Task requests, query parameters and the public task shape."""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    model_validator,
)

from synchub.ids import NAME_ID_PATTERN
from synchub.models.config_keys import ANY_STREAM_KEY, field_errors, unknown_key_errors
from synchub.models.secrets import masked_url
from synchub.models.storable import check_size, storable
from synchub.models.streams import DestinationChoice

TaskType = Literal["full_sync", "incremental_sync", "realtime_sync"]
TaskStatus = Literal["pending", "running", "success", "failed", "cancelled", "paused"]
TASK_TYPES: tuple[str, ...] = ("full_sync", "incremental_sync", "realtime_sync")
# Task types that copy only rows past a cursor (and so need a cursor field).
INCREMENTAL_TYPES: tuple[str, ...] = ("incremental_sync", "realtime_sync")
TASK_STATUSES: tuple[str, ...] = ("pending", "running", "success", "failed", "cancelled", "paused")
TERMINAL_STATUSES = frozenset({"success", "failed", "cancelled"})

ResourceId = Annotated[str, StringConstraints(pattern=NAME_ID_PATTERN.pattern)]


def _check_notify_url(value: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.username or parsed.password:
        raise ValueError("must be an absolute http(s) URL without credentials")
    return value


NotifyUrl = Annotated[
    str,
    StringConstraints(max_length=2048),
    AfterValidator(_check_notify_url),
    Field(description="POSTed a signed webhook when the task finishes (see the README)"),
]


class TaskParameters(BaseModel):
    """Run parameters of a task (stored as its ``config``): these, and the stream's keys, which override the
    data source's and interface's (``models.config_keys``). Any other key is a 422 naming it."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, given: Any) -> Any:
        unknown = unknown_key_errors(given, {*cls.model_fields, *ANY_STREAM_KEY}, ())
        if unknown:
            raise field_errors(cls.__name__, unknown)
        return given

    batch_size: Annotated[StrictInt, Field(ge=1, le=100_000)] | None = None
    timeout: Annotated[StrictInt, Field(ge=1, le=7 * 86_400, description="seconds")] | None = None
    poll_interval: Annotated[StrictInt, Field(ge=1, le=86_400, description="seconds (realtime_sync)")] | None = None
    destination: DestinationChoice | None = None
    parallelism: (
        Annotated[
            StrictInt,
            Field(
                ge=1,
                le=32,
                description="full_sync: key or page ranges read by this many engine invocations at once, "
                "committed as one",
            ),
        ]
        | None
    ) = None

    @model_validator(mode="after")
    def _storable(self) -> "TaskParameters":
        storable(self.model_extra or {})
        check_size("parameters", self.model_extra or {})
        return self


class CreateTaskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    data_source_id: ResourceId
    interface_id: ResourceId | None = None
    task_type: TaskType
    parameters: TaskParameters | None = None
    notify_url: NotifyUrl | None = None

    def config(self) -> dict[str, Any]:
        """The parameters as stored in the task's ``config`` (unset known keys left out)."""
        return self.parameters.model_dump(exclude_none=True) if self.parameters else {}


class UpdateTaskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    config: TaskParameters


class RetryTaskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    restart: StrictBool = False  # true or false: "yes" is a mistake to point out, not a truthy string


class BatchRequest(BaseModel):
    """Up to 100 task ids to act on one by one (duplicates are acted on once)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    task_ids: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=64)]], Field(min_length=1, max_length=100)
    ]


class BatchRetryRequest(BatchRequest):
    restart: bool = False


class CleanupRequest(BaseModel):
    """Delete finished tasks created before ``before_date`` (a day, or an RFC 3339 time), a bounded number
    per call; send ``next_token`` back to go on."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    before_date: date | AwareDatetime
    statuses: Annotated[list[Literal["success", "failed", "cancelled"]], Field(min_length=1, max_length=3)] = [
        "success",
        "failed",
        "cancelled",
    ]
    limit: Annotated[int, Field(ge=1, le=100)] = 100
    next_token: Annotated[str, Field(max_length=2048)] | None = None

    def before(self) -> datetime:
        """The moment before which tasks go (a day means its start, UTC)."""
        if isinstance(self.before_date, datetime):
            return self.before_date.astimezone(timezone.utc)
        return datetime.combine(self.before_date, time.min, tzinfo=timezone.utc)


PUBLIC_TASK_FIELDS: tuple[str, ...] = (
    "id",
    "data_source_id",
    "interface_id",
    "task_type",
    "status",
    "config",
    "progress",
    "processed_rows",
    "total_rows",
    "error_count",
    "error_message",
    "error_code",
    "result",
    "start_time",
    "end_time",
    "created_at",
    "updated_at",
    "created_by",
    "attempt",
    "retry_of",
    "cancel_requested",
    "pause_requested",
    "paused_at",
    "schedule_id",
    "submitted",
    "speed",
    "current_phase",
    "estimated_time",
    "progress_updated_at",
    "next_attempt_at",
    "capture",
    "notify_url",
)

_STATUS_IN_WORDS = {
    "pending": "is pending",
    "running": "is running",
    "paused": "is paused",
    "success": "has succeeded",
    "failed": "has failed",
    "cancelled": "was cancelled",
}


def in_words(status: str) -> str:
    """A task status as the rest of a sentence about the task: "has succeeded", "is running"."""
    return _STATUS_IN_WORDS.get(status, f"is {status}")


LIVE_PROGRESS_FIELDS = ("speed", "current_phase", "estimated_time", "progress_updated_at", "next_attempt_at")


def ranged_progress(record: dict[str, Any]) -> dict[str, Any]:
    """A running parallel sync's percentage, speed (rows/s) and estimated seconds left, from the rows its ranges
    have added up (``processed_rows``, only ever raised) by their last report: ranges in several invocations
    add to one counter, so what follows from it is worked out where it is shown."""
    rows, total = int(record.get("processed_rows") or 0), record.get("total_rows")
    started, reported = record.get("start_time"), record.get("progress_updated_at")
    if not total or not started or not reported:
        return {}
    elapsed = (_moment(reported) - _moment(started)).total_seconds()
    speed = round(rows / elapsed, 2) if elapsed > 0 else None
    return {
        "progress": min(99, rows * 100 // max(int(total), 1)),
        "speed": speed,
        "estimated_time": round(max(0, int(total) - rows) / speed, 1) if speed else None,
    }


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def public_task(record: dict[str, Any]) -> dict[str, Any]:
    """The contract's view of a stored task: internal bookkeeping (leases, index keys) left out."""
    view = {name: record.get(name) for name in PUBLIC_TASK_FIELDS}
    view["notify_url"] = masked_url(view.get("notify_url"))
    ranges = (record.get("fanout") or {}).get("ranges")
    if ranges:  # a parallel sync: its ranges, how many have finished, and each one's rows so far
        shown = record.get("range_rows") or {}
        view["ranges"] = {
            "count": len(ranges),
            "finished": int(record.get("ranges_done") or 0),
            "rows": [int(shown.get(str(spec["index"])) or 0) for spec in ranges],
        }
        if record.get("status") == "running":
            view.update(ranged_progress(record))
    if record.get("status") != "running":
        for name in LIVE_PROGRESS_FIELDS:
            if view[name] is None:
                view.pop(name)
    return view
