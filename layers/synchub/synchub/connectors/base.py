"""What every source and destination provides, and the two kinds of failure the engine tells apart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field


class TransientSourceError(Exception):
    """Worth retrying later: throttling, timeouts, connection resets, HTTP 429/5xx."""


class PermanentSourceError(Exception):
    """Retrying will not help: bad credentials, not found, bad configuration."""


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
    # files
    prefix: str | None = None
    format: Literal["csv", "json", "jsonl"] | None = None
    # keys
    cursor_field: str | None = None
    primary_key: str | None = None
    destination: Literal["s3", "dynamodb"] = "s3"


@dataclass
class Batch:
    rows: list[dict[str, Any]]
    state: dict[str, Any] | None  # where the next batch starts; None when the source is exhausted
    total_rows: int | None = None
    # The newest cursor value the batch covers, for sources whose cursor is not a row field (file times).
    cursor: Any = None


class Source(Protocol):
    def read(self, state: dict[str, Any] | None, batch_size: int, watermark: Any = None) -> Batch: ...

    def close(self) -> None: ...


def dig(document: Any, path: str | None) -> Any:
    """The value at a dotted ``path`` of a JSON document (``None`` path: the document itself)."""
    if not path:
        return document
    node = document
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def newer_than(value: Any, watermark: Any) -> bool:
    """Whether a cursor value lies past the watermark (numbers numerically, everything else as text)."""
    if watermark is None:
        return True
    if value is None:
        return False
    if isinstance(value, (int, float)) and isinstance(watermark, (int, float)):
        return value > watermark
    return str(value) > str(watermark)
