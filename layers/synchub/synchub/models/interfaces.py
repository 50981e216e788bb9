"""Interfaces: the streams a data source offers (what to read, how to parse it, which keys)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, model_validator

from synchub.models.secrets import secret_paths
from synchub.models.storable import StorableDict, check_size, storable
from synchub.models.streams import DestinationChoice, Pagination
from synchub.models.tasks import ResourceId

Column = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_$.]{0,127}$")]


class InterfaceBody(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]
    description: Annotated[str, StringConstraints(max_length=1024)] | None = None
    # databases
    table_name: Column | None = None
    query: Annotated[str, StringConstraints(min_length=1, max_length=20_000)] | None = None
    capture: Literal["poll", "cdc"] | None = None
    # http
    url_suffix: Annotated[str, StringConstraints(max_length=2048)] | None = None
    method: Literal["GET", "POST"] | None = None
    headers: Annotated[dict[str, str], AfterValidator(storable)] | None = None
    query_params: StorableDict | None = None
    body: StorableDict | None = None
    records_path: Annotated[str, StringConstraints(max_length=256)] | None = None
    total_path: Annotated[str, StringConstraints(max_length=256)] | None = None
    pagination: Pagination | None = None
    # files in S3
    prefix: Annotated[str, StringConstraints(max_length=1024)] | None = None
    format: Literal["csv", "json", "jsonl"] | None = None
    # message systems (Kafka topic, MQTT topic filter, Redis stream or key pattern)
    topic: Annotated[str, StringConstraints(min_length=1, max_length=249)] | None = None
    value_format: Literal["json", "text"] | None = None
    key_field: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    consumer_group: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    topic_filter: Annotated[str, StringConstraints(min_length=1, max_length=1024)] | None = None
    qos: Literal[0, 1] | None = None
    stream_key: Annotated[str, StringConstraints(min_length=1, max_length=1024)] | None = None
    key_pattern: Annotated[str, StringConstraints(min_length=1, max_length=1024)] | None = None
    # keys and destination
    cursor_field: Column | None = None
    primary_key: Column | None = None
    destination: DestinationChoice | None = None

    @model_validator(mode="after")
    def _no_credentials(self) -> "InterfaceBody":
        check_size("the interface", self.model_dump(exclude_none=True))
        secrets = [
            *secret_paths(self.headers or {}, "headers"),
            *secret_paths(self.query_params or {}, "query_params"),
            *secret_paths(self.body or {}, "body"),
            *secret_paths(self.url_suffix or "", "url_suffix"),
        ]
        if secrets:
            raise ValueError(f"credentials belong on the data source (write-only there), not in {', '.join(secrets)}")
        if self.table_name and self.query:
            raise ValueError("give table_name or query, not both")
        return self

    def stream_fields(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, exclude={"name", "description", *getattr(self, "READ_ONLY", ())})


class CreateInterfaceRequest(InterfaceBody):
    id: ResourceId | None = None


class UpdateInterfaceRequest(InterfaceBody):
    """A full replacement. What GET answered can be sent back as it is: its read-only fields are accepted when
    they still hold the stored values."""

    id: str | None = None
    data_source_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None

    READ_ONLY: ClassVar[tuple[str, ...]] = ("id", "data_source_id", "created_at", "updated_at")
