"""The shapes the API answers with, for the OpenAPI document (the services build these views as dicts).

Size: over 300 lines because every answer's shape is here, one short class each, so the document's schemas
are read from one place.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from synchub.models.streams import DestinationChoice
from synchub.models.tasks import TaskStatus, TaskType

_SHAPE = ConfigDict(defer_build=True)


class FieldProblem(BaseModel):
    model_config = _SHAPE

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details; ``code`` is the stable machine-readable name."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldProblem] | None = None


class Task(BaseModel):
    model_config = _SHAPE

    id: str
    data_source_id: str
    interface_id: str | None
    task_type: TaskType
    status: TaskStatus
    config: dict[str, Any]
    progress: float
    processed_rows: int
    total_rows: int | None
    error_count: int | None
    error_message: str | None
    error_code: str | None
    result: dict[str, Any] | None
    start_time: str | None
    end_time: str | None
    created_at: str
    updated_at: str
    created_by: str | None
    attempt: int
    retry_of: str | None
    cancel_requested: bool | None
    pause_requested: bool | None = Field(
        default=None, description="The engine pauses this running task at its next batch boundary"
    )
    paused_at: str | None = None
    schedule_id: str | None = Field(default=None, description="The schedule that created this task")
    submitted: bool | None
    speed: float | None = Field(default=None, description="rows/s (running tasks)")
    current_phase: str | None = None
    estimated_time: float | None = Field(default=None, description="seconds remaining (running tasks)")
    progress_updated_at: str | None = None
    next_attempt_at: str | None = Field(
        default=None,
        description="when a run that failed transiently "
        "(current_phase retrying, cause in error_message) is tried again",
    )
    capture: dict[str, Any] | None = Field(
        default=None,
        description="CDC realtime syncs: phase (copy, changes), changes_applied by operation, lag_bytes (WAL the "
        "slot still holds), lag_seconds (source commit to table commit of the newest change), last_change_at",
    )
    ranges: dict[str, Any] | None = Field(
        default=None,
        description="parallel syncs (parameters.parallelism): count of ranges, how many finished, rows per range",
    )
    notify_url: str | None = Field(default=None, description="gets a signed webhook when the task finishes")


class OutputFile(BaseModel):
    model_config = _SHAPE

    key: str
    rows: int | None = None
    bytes: int | None = None
    url: str = Field(description="a pre-signed GET, valid urls_expire_in seconds")


class TaskOutput(BaseModel):
    """What a task wrote: the lake table and the snapshot it committed, data-lake parts (gzip JSON Lines) and
    manifest, or its rows' place in the DynamoDB destination."""

    model_config = _SHAPE

    task_id: str
    status: TaskStatus
    destination: Literal["iceberg", "s3", "dynamodb"]
    rows: int
    parts: list[OutputFile]
    bucket: str | None = None
    prefix: str | None = None
    manifest: OutputFile | None = None
    table: str | None = Field(default=None, description="the lake table (database.name) or DynamoDB table")
    snapshot_id: int | None = Field(default=None, description="the table snapshot the task committed (iceberg)")
    rows_added: int | None = Field(default=None, description="rows the commit added to the table (iceberg)")
    rows_removed: int | None = Field(
        default=None, description="rows the commit removed: replaced by key, or the old contents of a full sync"
    )
    partition: str | None = None
    urls_expire_in: int | None = None
    preview: list[dict[str, Any]] | None = Field(default=None, description="the first rows (with ?preview=N)")


class TaskPagination(BaseModel):
    model_config = _SHAPE

    page: int
    size: int
    total: int | None = Field(
        description="null when filtered by task_type or creation time (the counters keep "
        "totals per data source, status and schedule only)"
    )
    total_pages: int | None
    next_token: str | None = None


class TaskPage(BaseModel):
    model_config = _SHAPE

    tasks: list[Task]
    pagination: TaskPagination


class StatusCount(BaseModel):
    model_config = _SHAPE

    status: TaskStatus
    count: int


class TypeCount(BaseModel):
    model_config = _SHAPE

    task_type: TaskType
    count: int


class Period(BaseModel):
    model_config = _SHAPE

    start_time: str
    end_time: str


class EngineStatistics(BaseModel):
    model_config = _SHAPE

    running_tasks: int
    pending_tasks: int
    queue_length: int
    in_flight: int
    max_concurrent: int
    speed: float


class DayStatistics(BaseModel):
    model_config = _SHAPE

    date: str
    total_tasks: int
    successful_tasks: int
    failed_tasks: int
    cancelled_tasks: int
    processed_rows: int


class Statistics(BaseModel):
    model_config = _SHAPE

    total_tasks: int
    successful_tasks: int
    failed_tasks: int
    cancelled_tasks: int
    success_rate: float | None = Field(
        description="percent of finished tasks (success or failed) that succeeded; null while none has finished"
    )
    avg_duration_sec: float
    processed_rows: int
    status_breakdown: list[StatusCount]
    task_type_breakdown: list[TypeCount]
    period: Period
    daily: list[DayStatistics] = Field(description="one entry per UTC day of the window, oldest first")
    engine_statistics: EngineStatistics
    data_source_id: str | None = None
    schedule_id: str | None = Field(default=None, description="Set when filtered to one schedule's runs")


class BatchSucceeded(BaseModel):
    model_config = _SHAPE

    task_id: str
    status: int
    task: Task | None = None


class BatchFailed(BaseModel):
    model_config = _SHAPE

    task_id: str
    status: int
    code: str
    detail: str


class BatchResult(BaseModel):
    model_config = _SHAPE

    succeeded: list[BatchSucceeded]
    failed: list[BatchFailed]


class CleanupResult(BaseModel):
    model_config = _SHAPE

    deleted: int
    skipped: int
    deleted_ids: list[str]
    done: bool
    before: str
    statuses: list[Literal["success", "failed", "cancelled"]]
    next_token: str | None = None


class DataSource(BaseModel):
    model_config = _SHAPE

    id: str
    name: str
    type: str
    description: str | None
    connection_config: dict[str, Any] = Field(description="credential fields shown as ********")
    params_config: dict[str, Any]
    notify_url: str | None = Field(
        default=None, description="gets a signed webhook when a task of this source finishes"
    )
    has_secrets: bool
    notify_secret_set: bool = Field(description="whether the source has its own webhook signing secret (write-only)")
    created_at: str
    updated_at: str
    created_by: str | None


class ConnectionTest(BaseModel):
    """What reading the first rows of a data source's stream gave."""

    model_config = _SHAPE

    data_source_id: str
    interface_id: str | None
    ok: bool
    latency_ms: float
    rows_read: int | None = Field(
        default=None, description="rows the first read returned (a page may hold more than the sample)"
    )
    sample: list[dict[str, Any]] | None = Field(default=None, description="up to 5 rows, as a sync would read them")
    total_rows: int | None = None
    more: bool | None = Field(default=None, description="whether the stream has more rows than the sample")
    error_kind: Literal["permanent", "transient", "unexpected"] | None = None
    error_code: str | None = Field(
        default=None,
        description="SOURCE_ERROR, or DESTINATION_NOT_ALLOWED when the outbound policy refused where the source leads",
    )
    error_message: str | None = None


class DataSourcePagination(BaseModel):
    model_config = _SHAPE

    page: int
    size: int
    has_more: bool


class DataSourcePage(BaseModel):
    model_config = _SHAPE

    data_sources: list[DataSource]
    pagination: DataSourcePagination


class Interface(BaseModel):
    """An interface; fields that are not set are left out."""

    model_config = _SHAPE

    id: str
    data_source_id: str
    name: str
    description: str | None = None
    table_name: str | None = None
    query: str | None = None
    capture: Literal["poll", "cdc"] | None = None
    url_suffix: str | None = None
    method: Literal["GET", "POST"] | None = None
    headers: dict[str, str] | None = None
    query_params: dict[str, Any] | None = None
    body: dict[str, Any] | None = None
    records_path: str | None = None
    total_path: str | None = None
    pagination: dict[str, Any] | None = None
    prefix: str | None = None
    format: Literal["csv", "json", "jsonl"] | None = None
    topic: str | None = None
    value_format: Literal["json", "text"] | None = None
    key_field: str | None = None
    consumer_group: str | None = None
    topic_filter: str | None = None
    qos: Literal[0, 1] | None = None
    stream_key: str | None = None
    key_pattern: str | None = None
    cursor_field: str | None = None
    primary_key: str | None = None
    destination: DestinationChoice | None = None
    created_at: str | None = None
    updated_at: str | None = None


class InterfacePagination(BaseModel):
    model_config = _SHAPE

    size: int
    next_token: str | None = None


class InterfacePage(BaseModel):
    model_config = _SHAPE

    interfaces: list[Interface]
    pagination: InterfacePagination


class Schedule(BaseModel):
    """A schedule: what it creates, when (the expression in its time zone), and how its runs went."""

    model_config = _SHAPE

    id: str
    name: str
    data_source_id: str
    interface_id: str | None = None
    task_type: str
    parameters: dict[str, Any] | None = None
    notify_url: str | None = None
    expression: str
    timezone: str
    start_date: str | None = None
    end_date: str | None = None
    overlap: Literal["skip", "queue", "allow"]
    state: Literal["enabled", "paused"]
    next_run_at: str | None = Field(default=None, description="Null when paused or when it will not run again")
    last_run_at: str | None = None
    last_task_id: str | None = None
    last_outcome: str | None = Field(
        default=None, description="created, skipped (the previous run was still active), or failed: the reason"
    )
    runs: int
    skipped_runs: int
    created_at: str
    updated_at: str
    created_by: str | None = None


class SchedulePagination(BaseModel):
    model_config = _SHAPE

    size: int
    next_token: str | None = None


class SchedulePage(BaseModel):
    model_config = _SHAPE

    schedules: list[Schedule]
    pagination: SchedulePagination


class ScheduleRun(BaseModel):
    """What one firing of a schedule did."""

    model_config = _SHAPE

    outcome: Literal["created", "queued", "skipped", "duplicate", "paused", "gone"]
    schedule_id: str
    scheduled_time: str | None = None
    task: Task | None = None
    task_id: str | None = None
    active_task_id: str | None = None
    active_status: str | None = None


class TableCommitEntry(BaseModel):
    """One snapshot of a lake table: when, by which task, and what it changed."""

    model_config = _SHAPE

    snapshot_id: int
    committed_at: str | None
    operation: str | None = Field(description="append, delete or overwrite (Iceberg's operation)")
    task_id: str | None = Field(description="the sync task that committed it")
    run_id: str | None = None
    rows_added: int
    rows_removed: int
    rows: int | None = Field(default=None, description="the table's rows after this snapshot")


class TableSummary(BaseModel):
    """A lake table: an Apache Iceberg table in the stack's Glue database."""

    model_config = _SHAPE

    name: str
    table: str = Field(description="database.name, as Athena, Spark and pyiceberg name it")
    format: Literal["iceberg"]
    data_source_id: str | None
    interface_id: str | None
    rows: int
    data_files: int
    bytes: int
    last_commit: TableCommitEntry | None


class TableList(BaseModel):
    model_config = _SHAPE

    items: list[TableSummary]


class TableColumn(BaseModel):
    model_config = _SHAPE

    name: str
    type: str = Field(description="the Iceberg type: int, long, decimal(10,2), timestamptz, string, …")
    required: bool


class TableDetail(TableSummary):
    location: str | None
    columns: list[TableColumn]
    snapshots: list[TableCommitEntry] = Field(description="the latest snapshots, newest first (at most 50)")
    snapshot_count: int


class TablePreview(BaseModel):
    model_config = _SHAPE

    name: str
    snapshot_id: int | None
    rows: list[dict[str, Any]] = Field(description="decimals as exact text, times in ISO 8601, binary as hex")
