"""One settings model, read from the environment the template gives each function."""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field, field_validator


def parse_networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Comma-separated CIDRs (``10.0.0.0/16,fd00::/8``); raises ValueError naming a bad one."""
    networks = []
    for part in (piece.strip() for piece in text.split(",")):
        if part:
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError as error:
                raise ValueError(f"'{part}' is not a network in CIDR notation (10.0.0.0/16)") from error
    return tuple(networks)


class Settings(BaseModel):
    """Names and knobs of the deployed stack; every field maps to an upper-case env var."""

    tasks_table: str = "synchub-tasks"
    data_sources_table: str = "synchub-data-sources"
    statistics_table: str = "synchub-statistics"
    interfaces_table: str = "synchub-interfaces"
    idempotency_table: str = "synchub-idempotency"
    # One item per task run: the engine's checkpoint, kept apart from the task the API shows.
    checkpoints_table: str = "synchub-checkpoints"
    schedules_table: str = "synchub-schedules"
    # EventBridge Scheduler: the stack's schedule group, the function a schedule invokes and the role it uses
    schedule_group: str = "default"
    schedule_target_arn: str = ""
    scheduler_role_arn: str = ""
    # How long an Idempotency-Key's first response is kept and replayed.
    idempotency_ttl_seconds: int = Field(default=86_400, ge=60)
    sync_queue_url: str = ""
    secrets_prefix: str = "synchub"
    engine_max_concurrency: int = Field(default=10, ge=1)
    # Shards of the statistics aggregate; a task's counters always live on the shard its id hashes to.
    statistics_shards: int = Field(default=4, ge=1, le=32)
    # Shards of the task listing indexes that have one partition per status (or one for everything).
    list_shards: int = Field(default=4, ge=1, le=32)
    # A pending task still marked unsubmitted after this many seconds is submitted by the reaper.
    resubmit_after_seconds: int = Field(default=60, ge=0)
    # How API Gateway authenticates callers (template parameter AuthMode); see synchub.auth.callers.
    # Unset means cognito: a function deployed without it refuses callers rather than letting them in.
    auth_mode: Literal["cognito", "iam", "none"] = "cognito"
    # The user pool's OAuth2 token endpoint, shown in the served OpenAPI document.
    token_url: str = ""
    max_body_bytes: int = Field(default=262_144, ge=1024)
    # ---- live status and notifications
    connections_table: str = "synchub-connections"
    # The WebSocket API's management endpoint (https://{api}.execute-api.{region}.amazonaws.com/{stage}).
    websocket_endpoint: str = ""
    # A WebSocket connection lasts at most 2 hours (API Gateway's limit); its records expire after that.
    connection_ttl_seconds: int = Field(default=7_500, ge=60)
    # The user pool whose access tokens open a WebSocket (AuthMode cognito), and where its keys are.
    user_pool_id: str = ""
    jwks_url: str = ""
    event_bus_name: str = "default"
    webhook_queue_url: str = ""
    # The stack's signing secret, for webhooks of data sources without a notify_secret of their own.
    webhook_secret_arn: str = ""
    # First retry delay of a failed webhook delivery; it doubles with each attempt (capped at 15 minutes).
    webhook_retry_base_seconds: int = Field(default=10, ge=0, le=900)
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    # A delivery's whole time - name resolution, connecting, the answer - after which it is retried; the
    # delivery function's timeout (60 s) leaves room for it, since a batch's deliveries run in parallel.
    webhook_deadline_seconds: float = Field(default=15.0, gt=0, le=50)
    # ---- outbound connections (sources, the connection test, webhooks): see synchub.outbound
    # Private networks (comma-separated CIDRs) sources and webhooks may reach: template AllowedPrivateNetworks.
    allowed_private_networks: str = ""
    # The local stack's policy: loopback and private addresses allowed too, for servers on your machine.
    allow_local_destinations: bool = False
    # How long the download URLs of GET /tasks/{id}/output work.
    output_url_seconds: int = Field(default=300, ge=30, le=3600)
    # ---- engine
    data_lake_bucket: str = ""
    destination_table: str = ""
    # Lake tables: the Glue database they are registered in (their files lie under the lake bucket's tables/).
    lake_database: str = "synchub"
    # Where a data source created without a destination lands (written into it when it is created):
    # a lake table, or JSON Lines files. One stored without a destination lands as JSON Lines.
    default_destination: Literal["iceberg", "jsonl"] = "iceberg"
    # Files under a table's location that no snapshot references are deleted once this old (a sync's files are
    # unreferenced until it commits: the window must outlast the longest sync).
    table_orphan_after_hours: float = Field(default=72.0, ge=0)
    # Deployed: the role Glue's table optimizers (compaction, snapshot retention, orphan-file deletion) run as,
    # turned on for each table the engine commits to. Empty (the local stack): the engine does that work itself.
    table_optimizer_role_arn: str = ""
    # Continue in a fresh invocation when less than this many seconds of the current one remain.
    engine_time_margin_seconds: float = Field(default=60.0, ge=0)
    # SQS→Lambda→SQS hops one task may take (continuations and realtime polls) before it is failed.
    engine_max_hops: int = Field(default=10_000, ge=1)
    default_batch_size: int = Field(default=1000, ge=1)
    # Rows (uncompressed JSON) gathered into one data-lake part before it is written and the checkpoint
    # moves; capped at a quarter of the engine's memory.
    part_size_mb: float = Field(default=32.0, gt=0, le=1024)
    # Live progress is stored at most this often while a part fills (and at each part).
    progress_interval_seconds: float = Field(default=1.0, ge=0, le=60)
    # A running task whose heartbeat is older than this is resumed by the reaper (then failed after
    # ``engine_max_resumptions``).
    heartbeat_timeout_seconds: int = Field(default=900, ge=10)
    engine_max_resumptions: int = Field(default=3, ge=0)
    # Deliveries of one engine message before SQS moves it to the dead-letter queue (the queue's redrive
    # policy; the template sets both from one value).
    engine_max_deliveries: int = Field(default=5, ge=1)
    # First retry delay of a failed engine message; it doubles with each delivery (capped at 15 minutes).
    engine_retry_base_seconds: int = Field(default=5, ge=0, le=900)

    @field_validator("allowed_private_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    @property
    def private_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return parse_networks(self.allowed_private_networks)

    @classmethod
    def from_env(cls) -> "Settings":
        values = {}
        for name in cls.model_fields:
            raw = os.environ.get(name.upper())
            if raw not in (None, ""):
                values[name] = raw
        return cls.model_validate(values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests call ``get_settings.cache_clear()``)."""
    return Settings.from_env()
