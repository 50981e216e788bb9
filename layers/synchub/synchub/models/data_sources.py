"""Data source requests and validation of their connection settings per type."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlparse

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from synchub.models.config_keys import (
    CONNECTION_KEYS,
    FILE_TYPES,
    STREAM_KEYS,
    field_errors,
    located,
    unknown_key_errors,
)
from synchub.models.secrets import secret_paths
from synchub.models.storable import StorableDict, check_size
from synchub.models.streams import DestinationChoice
from synchub.models.tasks import NotifyUrl, ResourceId

DataSourceType = Literal["http", "postgresql", "mysql", "file", "csv", "json", "jsonl", "kafka", "mqtt", "redis"]
# Message systems: their position (offsets, entry ids, the broker's session) is the cursor, so incremental and
# realtime syncs need no cursor_field.
MESSAGE_TYPES = frozenset({"kafka", "mqtt", "redis"})

Name = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]


def _require(config: dict[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> None:
    value = config.get(key)
    if value is None or value == "":
        raise ValueError(f"connection_config.{key} is required for this type ({what})")
    if not isinstance(value, kind):
        raise ValueError(f"connection_config.{key} must be {what}")


def _check_port(config: dict[str, Any]) -> None:
    port = config.get("port")
    if port is not None and (not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536):
        raise ValueError("connection_config.port must be an integer between 1 and 65535")


KAFKA_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
KAFKA_SASL = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def bootstrap_servers(config: dict[str, Any]) -> list[Any]:
    """A Kafka connection's ``host:port`` bootstrap servers, given as a list or a comma-separated string."""
    servers = config.get("bootstrap_servers")
    if isinstance(servers, str):
        return [part.strip() for part in servers.split(",") if part.strip()]
    return list(servers) if isinstance(servers, list) else []


def _check_message_system(kind: str, config: dict[str, Any], params: dict[str, Any]) -> None:
    """Kafka, MQTT and Redis connections, and the stream each data source reads by default (if it names one)."""
    if kind == "kafka":
        servers = bootstrap_servers(config)
        if not servers or not all(
            isinstance(s, str) and re.fullmatch(r"[A-Za-z0-9_.\-\[\]:]+:\d{1,5}", s) for s in servers
        ):
            raise ValueError(
                "connection_config.bootstrap_servers must be host:port, or a list (or comma-separated string) of them"
            )
        protocol = config.get("security_protocol", "PLAINTEXT")
        if protocol not in KAFKA_PROTOCOLS:
            raise ValueError(f"connection_config.security_protocol must be one of {', '.join(KAFKA_PROTOCOLS)}")
        if protocol.startswith("SASL"):
            if config.get("sasl_mechanism", "PLAIN") not in KAFKA_SASL:
                raise ValueError(f"connection_config.sasl_mechanism must be one of {', '.join(KAFKA_SASL)}")
            if not config.get("username") or not config.get("password"):
                raise ValueError(f"security_protocol {protocol} needs connection_config.username and password")
        if params.get("topic") is not None and not isinstance(params["topic"], str):
            raise ValueError("params_config.topic must be a topic name")
    else:
        _require(config, "host", str, "a host name")
        _check_port(config)
        if config.get("tls") is not None and not isinstance(config["tls"], bool):
            raise ValueError("connection_config.tls must be true or false")
        if kind == "redis":
            db = config.get("db")
            if db is not None and (not isinstance(db, int) or isinstance(db, bool) or db < 0):
                raise ValueError("connection_config.db must be a database number (0 or more)")
            if params.get("stream_key") and params.get("key_pattern"):
                raise ValueError("give params_config.stream_key or key_pattern, not both")
    for name, value in params.items():
        if name in ("topic", "topic_filter", "stream_key", "key_pattern") and not (
            isinstance(value, str) and 0 < len(value) <= 1024
        ):
            raise ValueError(f"params_config.{name} must be a non-empty string")


DESTINATIONS: TypeAdapter[DestinationChoice] = TypeAdapter(DestinationChoice)

CONNECTION_FIELDS = (
    "Where and how to connect, by type (fields named like credentials - password, token, secret, api_key … - are "
    "write-only: kept in Secrets Manager and answered masked). http: {base_url, headers?, token?}; postgresql, "
    "mysql: {host, port?, database, user, password?, sslmode?}; file, csv, json, jsonl: {bucket, prefix?, format? "
    '(type file)}; kafka: {bootstrap_servers ("host:port,…" or a list), security_protocol? (PLAINTEXT, SSL, '
    "SASL_PLAINTEXT, SASL_SSL), sasl_mechanism? (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), username?, password?}; "
    "mqtt: {host, port? (1883), username?, password?, tls?}; redis: {host, port? (6379), username?, password?, db?, "
    "tls?}. Any type: connect_timeout? (seconds)."
)
STREAM_FIELDS = (
    "The stream a task reads unless its interface or parameters say otherwise, by type. http: {url_suffix?, "
    "records_path?, total_path?, pagination?, …}; postgresql, mysql: {table_name or query, primary_key?, capture? (poll, or cdc: "
    "realtime_sync reads the table's change log)}; files: "
    "{prefix?, format?}; kafka: {topic, value_format? (json, text), key_field?, consumer_group?}; mqtt: "
    "{topic_filter, qos? (0, 1), value_format?, idle_seconds?}; redis: {stream_key} or {key_pattern} (full_sync "
    "only). Any type: cursor_field?, primary_key?, destination? ({format: iceberg | jsonl, table?}: a lake table or "
    'JSON Lines files; "s3" (JSON Lines) and "dynamodb" as before).'
)

EXAMPLES: list[JsonValue] = [
    {
        "id": "clicks",
        "name": "Click stream",
        "type": "kafka",
        "connection_config": {
            "bootstrap_servers": "broker-1:9092,broker-2:9092",
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "username": "synchub",
            "password": "example-password",
        },
        "params_config": {"topic": "clicks", "value_format": "json", "consumer_group": "synchub-clicks"},
    },
    {
        "id": "sensors",
        "name": "Plant sensors",
        "type": "mqtt",
        "connection_config": {
            "host": "mqtt.internal",
            "port": 8883,
            "tls": True,
            "username": "synchub",
            "password": "example-password",
        },
        "params_config": {"topic_filter": "plant/+/temperature", "qos": 1},
    },
    {
        "id": "events",
        "name": "App events",
        "type": "redis",
        "connection_config": {"host": "cache.internal", "port": 6379, "password": "example-password"},
        "params_config": {"stream_key": "events"},
    },
    {
        "id": "shop",
        "name": "Shop database",
        "type": "postgresql",
        "connection_config": {
            "host": "db.internal",
            "database": "shop",
            "user": "sync",
            "password": "example-password",
        },
        "params_config": {"table_name": "orders", "cursor_field": "updated_at"},
    },
]


class DataSourceBody(BaseModel):
    """Fields shared by create and replace."""

    model_config = ConfigDict(extra="forbid", defer_build=True, json_schema_extra={"examples": EXAMPLES})

    name: Name
    type: DataSourceType
    description: Annotated[str, StringConstraints(max_length=1024)] | None = None
    connection_config: StorableDict = Field(description=CONNECTION_FIELDS)
    params_config: StorableDict = Field(default_factory=dict, description=STREAM_FIELDS)
    notify_url: NotifyUrl | None = Field(
        default=None, description="POSTed a signed webhook when one of the source's tasks finishes"
    )
    notify_secret: Annotated[str, StringConstraints(min_length=16, max_length=256)] | None = Field(
        default=None,
        description="Write-only key of the webhooks' HMAC-SHA256 signature (answers show "
        "notify_secret_set); without one the stack's WebhookSigningSecret signs them",
    )

    @model_validator(mode="after")
    def _check_connection(self) -> "DataSourceBody":
        unknown = [
            *unknown_key_errors(
                self.connection_config, CONNECTION_KEYS[self.type], ("connection_config",), elsewhere=CONNECTION_KEYS
            ),
            *unknown_key_errors(self.params_config, STREAM_KEYS[self.type], ("params_config",), elsewhere=STREAM_KEYS),
        ]
        if unknown:
            raise field_errors(type(self).__name__, unknown)
        try:
            return self._check_values()
        except ValueError as problem:
            raise located(type(self).__name__, str(problem)) from None

    def _check_values(self) -> "DataSourceBody":
        check_size("connection_config and params_config", self.connection_config, self.params_config)
        config = self.connection_config
        in_urls = secret_paths(config, "connection_config", named=False)  # named fields go to Secrets Manager
        if in_urls:
            raise ValueError(
                f"{', '.join(in_urls)} carries a password in the URL (user:password@): put it in a "
                "credential field (password, token, headers.Authorization), which is kept write-only"
            )
        if "destination" in self.params_config:
            try:
                DESTINATIONS.validate_python(self.params_config["destination"])
            except ValidationError:
                raise ValueError(
                    'params_config.destination must be {"format": "iceberg" | "jsonl", "table"?: a name of lowercase '
                    'letters, digits and _}, "s3" or "dynamodb"'
                ) from None
        if secret_paths(self.params_config):
            raise ValueError(
                "credentials belong in connection_config (kept write-only), not in params_config."
                + ", params_config.".join(secret_paths(self.params_config))
            )
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
            _check_port(config)
            capture = self.params_config.get("capture", "poll")
            if capture not in ("poll", "cdc"):
                raise ValueError('params_config.capture must be "poll" or "cdc"')
            if capture == "cdc" and not self.params_config.get("table_name"):
                raise ValueError("params_config.capture cdc reads a table's change log: it needs table_name")
            if self.params_config.get("query") and not self.params_config.get("primary_key"):
                raise ValueError(
                    "params_config.query needs params_config.primary_key: a unique column of its "
                    "rows to page by (a table_name alone finds its primary key in the catalog)"
                )
        elif self.type in MESSAGE_TYPES:
            _check_message_system(self.type, config, self.params_config)
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
    notify_secret_set: bool | None = Field(
        default=None, description="true without notify_secret: keep the stored webhook signing secret"
    )
    created_at: str | None = None
    updated_at: str | None = None
    created_by: str | None = None

    READ_ONLY: ClassVar[tuple[str, ...]] = (
        "id",
        "has_secrets",
        "notify_secret_set",
        "created_at",
        "updated_at",
        "created_by",
    )


def changed_read_only(request: BaseModel, shown: dict[str, Any]) -> list[str]:
    """The read-only fields a replacement sent with values other than the stored ones (sent back as GET
    answered them, they are accepted and change nothing)."""
    return [
        name
        for name in getattr(request, "READ_ONLY", ())
        if getattr(request, name) is not None and getattr(request, name) != shown.get(name)
    ]
