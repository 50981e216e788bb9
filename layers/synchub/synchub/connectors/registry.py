"""Chooses a task's source connector, its stream definition and its destination.

Each connector is imported when it is chosen: a function that syncs from HTTP never loads a database driver."""

from __future__ import annotations

from typing import Any, Callable, Collection

from synchub.connectors.base import Destination, DestinationRefused, PermanentSourceError, Source, StreamSpec
from synchub.connectors.lake import LakeDestination
from synchub.models.data_sources import FILE_TYPES, MESSAGE_TYPES, bootstrap_servers
from synchub.outbound import DestinationNotAllowed, OutboundGuard, guard_for, url_origin
from synchub.settings import Settings, get_settings

DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mqtt": 1883, "redis": 6379}


def incremental_problem(kind: str, stream: StreamSpec, task_type: str) -> str | None:
    """Why ``task_type`` (incremental or realtime) cannot run on this stream, or None: rows need a cursor field
    to tell new from old, unless the source keeps its own position (files' times, message offsets and ids) or a
    realtime sync reads the database's change log (``capture: cdc``)."""
    if task_type == "realtime_sync" and stream.capture == "cdc":
        return capture_problem(kind, stream)
    if kind == "redis" and stream.key_pattern and not stream.stream_key:
        return (
            f"A Redis key_pattern has no position to continue from, so {task_type} cannot tell new keys from "
            "old: run a full_sync, or sync a stream (stream_key)."
        )
    if stream.cursor_field or kind in FILE_TYPES or kind in MESSAGE_TYPES:
        return None
    return (
        f"This stream has no cursor_field, so {task_type} cannot tell new rows from old: set "
        "params_config.cursor_field on the data source (or cursor_field on its interface, or in parameters), "
        "or run a full_sync."
    )


def parallel_problem(kind: str, stream: StreamSpec, task_type: str, parallelism: int) -> str | None:
    """Why a sync cannot be split into ``parallelism`` ranges read at once, or None: a full sync of a SQL table
    (ranges of its primary key) or of an HTTP API paged by page number or offset that says its total (ranges
    of pages), landing in the lake (one commit of every range's files)."""
    if parallelism <= 1:
        return None
    if task_type != "full_sync":
        return (
            f"parallelism splits a full_sync into ranges copied at once; a {task_type} reads its changes in order "
            "(leave parallelism out, or 1)."
        )
    if stream.lands_in_dynamodb:
        return (
            "parallelism commits every range's files at once, which needs a lake destination: set destination "
            '{"format": "iceberg"} or {"format": "jsonl"}.'
        )
    if kind in ("postgresql", "mysql"):
        if not stream.table_name:
            return "parallelism splits a table by its primary key: set table_name (a query cannot be split)."
        return None
    if kind == "http":
        if stream.pagination.style not in ("page", "offset"):
            return (
                f"parallelism splits an HTTP API into ranges of pages, which needs page or offset pagination; "
                f"this stream pages by {stream.pagination.style}, where each page names the next."
            )
        if not stream.total_path:
            return "parallelism splits an HTTP API into ranges of pages, which needs its total: set total_path."
        return None
    return f"parallelism splits SQL tables and paged HTTP APIs; {kind} sources are read by one invocation."


def capture_problem(kind: str, stream: StreamSpec) -> str | None:
    """Why a CDC realtime sync cannot run on this stream, or None."""
    if kind not in ("postgresql", "mysql"):
        return f"capture cdc reads a database's change log (PostgreSQL, MySQL); {kind} sources cannot."
    if stream.table_target is None:
        return (
            'capture cdc applies updates and deletes to a lake table: set destination {"format": "iceberg"} '
            "(JSON Lines files cannot delete a row)."
        )
    if not stream.table_name:
        return "capture cdc reads a table's change log: set table_name (a query has none)."
    return None


# Fields that name what to read in two exclusive ways: a layer that sets one replaces the other.
ALTERNATIVES = {"table_name": "query", "query": "table_name", "stream_key": "key_pattern", "key_pattern": "stream_key"}


def stream_for(
    data_source: dict[str, Any], task: dict[str, Any], interface: dict[str, Any] | None = None
) -> StreamSpec:
    """The data source's default stream (``params_config``), the task's interface over it, and the task's
    parameters over both."""
    spec: dict[str, Any] = dict(data_source.get("params_config") or {})

    def override(key: str, value: Any) -> None:
        spec.pop(ALTERNATIVES.get(key, ""), None)  # a layer naming a table drops the query below it, and so on
        spec[key] = value

    for key, value in (interface or {}).items():
        if key in StreamSpec.model_fields and value is not None and key != "interface_id":
            override(key, value)
    config = task.get("config") or {}
    for key in StreamSpec.model_fields:
        if key in config and key != "interface_id":
            override(key, config[key])
    spec["interface_id"] = task.get("interface_id") or spec.get("interface_id") or "default"
    if data_source["type"] in ("csv", "json", "jsonl"):
        spec.setdefault("format", data_source["type"])
    try:
        return StreamSpec.model_validate(spec)
    except ValueError as error:
        raise PermanentSourceError(f"invalid stream configuration: {error}") from error


def destinations(kind: str, connection: dict[str, Any]) -> list[tuple[str, int | None]]:
    """The (host, port) pairs a connection names: where a source of this type connects first (a Kafka broker
    or an HTTP source may lead on to others, which the outbound guard checks as they are reached)."""
    if kind == "http":
        _scheme, host, port = url_origin(str(connection.get("base_url") or ""))
        return [(host, port if isinstance(port, int) else None)] if host else []
    if kind == "kafka":
        found: list[tuple[str, int | None]] = []
        for server in (str(s) for s in bootstrap_servers(connection)):
            host, _, port = server.rpartition(":")
            found.append((host.strip("[]"), int(port)) if host and port.isdigit() else (server, None))
        return found
    named = connection.get("host")
    if kind in DEFAULT_PORTS and isinstance(named, str) and named:
        given = connection.get("port")
        return [(named, int(given) if isinstance(given, int) else DEFAULT_PORTS[kind])]
    return []


class GuardedSource:
    """A source whose every call runs under an outbound guard: the names it resolves, in its own threads too,
    go through the policy; a refused address fails it as ``DestinationRefused`` (permanent), whatever error the
    driver made of the refused lookup."""

    def __init__(self, open_it: Callable[[], Source], guard: OutboundGuard, first: list[tuple[str, int | None]]):
        self.guard = guard
        self.source: Source = self._guarded(lambda: self._open(open_it, first))
        # what some also do
        for name in ("acknowledge", "committed", "release", "primary_key", "drop_slots", "split", "limit_to"):
            method = getattr(self.source, name, None)
            if method is not None:
                setattr(self, name, self._guarding(method))

    def _open(self, open_it: Callable[[], Source], first: list[tuple[str, int | None]]) -> Source:
        for host, port in first:
            if not host.startswith("/"):  # a Unix socket path (PostgreSQL) is checked where it is opened
                self.guard.check_host(host, port)
        return open_it()

    def _guarding(self, method: Callable[..., Any]) -> Callable[..., Any]:
        return lambda *args: self._guarded(lambda: method(*args))

    def _guarded(self, call: Callable[[], Any]) -> Any:
        earlier = len(self.guard.refused)
        try:
            with self.guard.active():
                return call()
        except DestinationNotAllowed as error:
            raise DestinationRefused(f"Not allowed to connect: {error}.") from error
        except Exception as error:
            refused = self.guard.refused[earlier:]
            if refused:
                raise DestinationRefused(f"Not allowed to connect: {refused[0]}.") from error
            raise

    def read(
        self,
        state: dict[str, Any] | None,
        batch_size: int,
        watermark: Any = None,
        delivered: Collection[Any] | None = (),
    ) -> Any:
        return self._guarded(lambda: self.source.read(state, batch_size, watermark, delivered))

    def check(self) -> None:
        """The source's own check of what a sync will need, where it has one."""
        check = getattr(self.source, "check", None)
        if check is not None:
            self._guarded(check)

    def close(self) -> None:
        self._guarded(self.source.close)


def open_source(
    data_source: dict[str, Any],
    connection: dict[str, Any],
    stream: StreamSpec,
    *,
    incremental: bool = False,
    capture: bool = False,
    settings: Settings | None = None,
) -> Source:
    """The source a data source names (``capture``: a PostgreSQL table's change log, after a first copy).
    Sources on the network connect only where the outbound policy allows (``synchub.outbound``); file sources
    read S3 through the function's own role."""
    kind = data_source["type"]
    if kind in FILE_TYPES:
        return _open_source(data_source, connection, stream, incremental)
    if capture:
        from synchub.connectors.capture import capture_name  # only for CDC

        name = capture_name(data_source["id"], stream.interface_id)
        return GuardedSource(
            lambda: _open_capture(kind, connection, stream, name),
            guard_for(settings or get_settings()),
            destinations(kind, connection),
        )
    return GuardedSource(
        lambda: _open_source(data_source, connection, stream, incremental),
        guard_for(settings or get_settings()),
        destinations(kind, connection),
    )


def open_slot_admin(data_source: dict[str, Any], connection: dict[str, Any], settings: Settings | None = None) -> Any:
    """What drops a PostgreSQL data source's replication slots (``drop_slots``), under the outbound policy."""

    def admin() -> Source:
        from synchub.connectors.postgres_cdc import SlotAdmin  # only where slots are dropped

        return SlotAdmin(connection)

    return GuardedSource(admin, guard_for(settings or get_settings()), destinations(data_source["type"], connection))


def _open_capture(kind: str, connection: dict[str, Any], stream: StreamSpec, name: str) -> Source:
    if kind == "mysql":
        from synchub.connectors.mysql_cdc import MySqlChangeSource  # mysql-replication: only for MySQL CDC

        return MySqlChangeSource(connection, stream, name=name)
    from synchub.connectors.postgres_cdc import PostgresChangeSource  # only for PostgreSQL CDC

    return PostgresChangeSource(connection, stream, name=name)


def _open_source(
    data_source: dict[str, Any], connection: dict[str, Any], stream: StreamSpec, incremental: bool
) -> Source:
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
    if kind == "kafka":
        from synchub.connectors.kafka_source import KafkaSource  # kafka-python: only for Kafka sources

        return KafkaSource(connection, stream, incremental=incremental)
    if kind == "mqtt":
        from synchub.connectors.mqtt_source import MqttSource  # paho-mqtt: only for MQTT sources

        return MqttSource(
            connection, stream, incremental=incremental, session_id=f"synchub-{data_source['id']}-{stream.interface_id}"
        )
    if kind == "redis":
        from synchub.connectors.redis_source import RedisSource  # redis-py: only for Redis sources

        return RedisSource(connection, stream, incremental=incremental)
    raise PermanentSourceError(f"data sources of type '{kind}' cannot be synced yet")


def open_destination(stream: StreamSpec, settings: Settings, *, data_source_id: str, task_id: str) -> Destination:
    """The data lake (default) or the DynamoDB destination table, as the stream says."""
    if stream.destination == "dynamodb":
        from synchub.connectors.dynamodb_table import DynamoDbDestination  # only for that destination

        return DynamoDbDestination(
            settings.destination_table, data_source_id, stream.interface_id, task_id, stream.primary_key
        )
    return LakeDestination(settings.data_lake_bucket, data_source_id, stream.interface_id, task_id)
