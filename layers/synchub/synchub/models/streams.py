"""What a sync reads and how: a data source's ``params_config``, an interface over it, or a task's parameters."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Pagination(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    style: Literal["page", "offset", "cursor", "next_link", "none"] = "none"
    page_param: str = "page"
    size_param: str | None = "page_size"
    page_size: int = Field(default=100, ge=1, le=10_000)
    first_page: int = 1
    offset_param: str = "offset"
    cursor_param: str = "cursor"
    cursor_path: str | None = None
    next_link_path: str | None = None
    has_more_path: str | None = None


# Lake table names: what Glue accepts (lowercase letters, digits and underscores).
TABLE_NAME_PATTERN = r"^[a-z0-9_]{1,255}$"


class LakeTarget(BaseModel):
    """Where in the lake a stream lands: an Iceberg table (``iceberg``: named after the data source and
    interface unless ``table`` names it) or raw gzip JSON Lines files (``jsonl``)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    format: Literal["iceberg", "jsonl"] = "iceberg"
    table: str | None = Field(default=None, pattern=TABLE_NAME_PATTERN)


# Where a stream lands: a lake table or JSON Lines files ({format, table?}); "s3" (JSON Lines) and "dynamodb"
# (the stack's destination table) are the older forms.
DestinationChoice = Literal["s3", "dynamodb"] | LakeTarget


class StreamSpec(BaseModel):
    """What to read and how: from the data source's ``params_config``, an interface, or the task."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    interface_id: str = "default"
    # http
    url_suffix: str = ""
    method: Literal["GET", "POST"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    query_params: dict[str, Any] = Field(default_factory=dict)
    body: dict[str, Any] | None = None
    records_path: str | None = None
    total_path: str | None = None
    pagination: Pagination = Field(default_factory=Pagination)
    # databases
    table_name: str | None = None
    query: str | None = None
    # how a realtime_sync learns of changes: polling by cursor_field, or the database's change log (cdc)
    capture: Literal["poll", "cdc"] = "poll"
    # files
    prefix: str | None = None
    format: Literal["csv", "json", "jsonl"] | None = None
    # message systems: a Kafka topic, MQTT topic filter, Redis stream or key pattern
    topic: str | None = None
    value_format: Literal["json", "text"] = "json"
    key_field: str | None = None
    consumer_group: str | None = None
    topic_filter: str | None = None
    qos: Literal[0, 1] = 1
    stream_key: str | None = None
    key_pattern: str | None = None
    idle_seconds: float = Field(default=1.0, gt=0, le=30)
    # keys
    cursor_field: str | None = None
    primary_key: str | None = None
    # incremental reads also take rows up to this many seconds older than the watermark (late commits)
    lookback_seconds: int = Field(default=0, ge=0, le=30 * 86400)
    destination: DestinationChoice = "s3"

    @property
    def table_target(self) -> LakeTarget | None:
        """The lake table the stream lands in, or None when it lands as files or in DynamoDB."""
        target = self.destination
        return target if isinstance(target, LakeTarget) and target.format == "iceberg" else None

    @property
    def lands_in_dynamodb(self) -> bool:
        return self.destination == "dynamodb"
