"""Data source requests and validation of their connection settings per type."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from synchub.models.storable import StorableDict
from synchub.models.tasks import NotifyUrl, ResourceId

DataSourceType = Literal["http", "postgresql", "mysql", "file", "csv", "json", "jsonl"]
FILE_TYPES = frozenset({"file", "csv", "json", "jsonl"})

Name = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]


def _require(config: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> None:
    value = config.get(key)
    if value is None or value == "":
        raise ValueError(f"connection_config.{key} is required for this type ({what})")
    if not isinstance(value, kind):
        raise ValueError(f"connection_config.{key} must be {what}")


class DataSourceBody(BaseModel):
    """Fields shared by create and replace."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: Name
    type: DataSourceType
    description: Annotated[str, StringConstraints(max_length=1024)] | None = None
    connection_config: StorableDict
    params_config: StorableDict = Field(default_factory=dict)
    notify_url: NotifyUrl | None = Field(
        default=None, description="POSTed a signed webhook when one of the source's tasks finishes")
    notify_secret: Annotated[str, StringConstraints(min_length=16, max_length=256)] | None = Field(
        default=None, description="Write-only key of the webhooks' HMAC-SHA256 signature (answers show "
                                  "notify_secret_set); without one the stack's WebhookSigningSecret signs them")

    @model_validator(mode="after")
    def _check_connection(self) -> "DataSourceBody":
        config = self.connection_config
        if self.type == "http":
            _require(config, "base_url", str, "an http(s) URL")
            parsed = urlparse(config["base_url"])
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ValueError("connection_config.base_url must be an absolute http(s) URL")
            if "headers" in config and not isinstance(config["headers"], dict):
                raise ValueError("connection_config.headers must be an object")
        elif self.type in ("postgresql", "mysql"):
            _require(config, "host", str, "a host name")
            _require(config, "database", str, "a database name")
            port = config.get("port")
            if port is not None and (not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536):
                raise ValueError("connection_config.port must be an integer between 1 and 65535")
            if self.params_config.get("query") and not self.params_config.get("primary_key"):
                raise ValueError("params_config.query needs params_config.primary_key: a unique column of its "
                                 "rows to page by (a table_name alone finds its primary key in the catalog)")
        elif self.type in FILE_TYPES:
            _require(config, "bucket", str, "an S3 bucket name")
            if self.type == "file":
                fmt = config.get("format")
                if fmt not in ("csv", "json", "jsonl"):
                    raise ValueError("connection_config.format must be one of csv, json, jsonl for type 'file'")
        return self


class CreateDataSourceRequest(DataSourceBody):
    id: ResourceId | None = None


class UpdateDataSourceRequest(DataSourceBody):
    """A full replacement; a secret field sent back as the mask keeps its stored value. What GET answered can
    be sent back as it is: its read-only fields are accepted when they still hold the stored values."""

    id: str | None = None
    has_secrets: bool | None = None
    notify_secret_set: bool | None = Field(default=None, description="true without notify_secret: keep the "
                                                                      "stored webhook signing secret")
    created_at: str | None = None
    updated_at: str | None = None
    created_by: str | None = None

    READ_ONLY: ClassVar[tuple[str, ...]] = ("id", "has_secrets", "notify_secret_set", "created_at", "updated_at",
                                            "created_by")


def changed_read_only(request: BaseModel, shown: dict[str, Any]) -> list[str]:
    """The read-only fields a replacement sent with values other than the stored ones (sent back as GET
    answered them, they are accepted and change nothing)."""
    return [name for name in getattr(request, "READ_ONLY", ())
            if getattr(request, name) is not None and getattr(request, name) != shown.get(name)]
