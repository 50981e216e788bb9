"""Chooses a task's source connector, its stream definition and its destination.

Each connector is imported when it is chosen: a function that syncs from HTTP never loads a database driver."""

from __future__ import annotations

from typing import Any

from synchub.connectors.base import Destination, PermanentSourceError, Source, StreamSpec
from synchub.connectors.lake import LakeDestination
from synchub.models.data_sources import FILE_TYPES
from synchub.settings import Settings



def stream_for(data_source: dict[str, Any], task: dict[str, Any],
               interface: dict[str, Any] | None = None) -> StreamSpec:
    """The data source's default stream (``params_config``), the task's interface over it, and the task's
    parameters over both."""
    spec: dict[str, Any] = dict(data_source.get("params_config") or {})
    for key, value in (interface or {}).items():
        if key in StreamSpec.model_fields and value is not None and key != "interface_id":
            spec[key] = value
    config = task.get("config") or {}
    for key in StreamSpec.model_fields:
        if key in config and key != "interface_id":
            spec[key] = config[key]
    spec["interface_id"] = task.get("interface_id") or spec.get("interface_id") or "default"
    if data_source["type"] in ("csv", "json", "jsonl"):
        spec.setdefault("format", data_source["type"])
    try:
        return StreamSpec.model_validate(spec)
    except ValueError as error:
        raise PermanentSourceError(f"invalid stream configuration: {error}") from error


def open_source(data_source: dict[str, Any], connection: dict[str, Any], stream: StreamSpec, *,
                incremental: bool = False) -> Source:
    kind = data_source["type"]
    if kind == "http":
        from synchub.connectors.http import HttpSource  # each connector loads only when chosen

        return HttpSource(connection, stream)
    if kind == "postgresql":
        from synchub.connectors.sql import PostgresSource  # psycopg: only for PostgreSQL sources

        return PostgresSource(connection, stream, incremental=incremental)
    if kind == "mysql":
        from synchub.connectors.sql import MySqlSource  # PyMySQL: only for MySQL sources

        return MySqlSource(connection, stream, incremental=incremental)
    if kind in FILE_TYPES:
        from synchub.connectors.files import S3FileSource  # csv and S3 reading: only for file sources

        return S3FileSource(connection, stream, stream.format or connection.get("format") or kind)
    raise PermanentSourceError(f"data sources of type '{kind}' cannot be synced yet")


def open_destination(stream: StreamSpec, settings: Settings, *, data_source_id: str, task_id: str) -> Destination:
    """The data lake (default) or the DynamoDB destination table, as the stream says."""
    if stream.destination == "dynamodb":
        from synchub.connectors.dynamodb_table import DynamoDbDestination  # only for that destination

        return DynamoDbDestination(settings.destination_table, data_source_id, stream.interface_id, task_id,
                                   stream.primary_key)
    return LakeDestination(settings.data_lake_bucket, data_source_id, stream.interface_id, task_id)
