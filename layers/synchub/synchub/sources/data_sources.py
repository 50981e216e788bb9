"""DataSourceService: the registry of data sources that tasks read from.

Size: over 300 lines because create, replace, patch and delete each keep the same secret rules (credentials in
Secrets Manager, the mask kept only while the connection goes where it went, nothing half-written when a step
fails), which should read in one place; the connection test is the one read of a source outside the engine."""

from __future__ import annotations

import logging
import time
from functools import lru_cache
from typing import Any

from botocore.exceptions import ClientError

from synchub.connectors.base import PermanentSourceError, TransientSourceError
from synchub.connectors.registry import destinations, open_source, stream_for
from synchub.dal.data_sources import DataSourceStore
from synchub.dal.interfaces import InterfaceStore
from synchub.dal.paging import MAX_PAGE_OFFSET, PageState
from synchub.dal.schedules import ScheduleStore
from synchub.dal.statistics import StatisticsStore
from synchub.dal.transactions import Transaction, TransactionFailed
from synchub.errors import (
    DataSourceExists,
    DataSourceInUse,
    DataSourceNotFound,
    UnknownInterface,
    ValidationFailed,
    read_only_changed,
)
from synchub.ids import NAME_ID_PATTERN, new_data_source_id
from synchub.models.aggregate import scope_of_data_source
from synchub.models.data_sources import (
    CreateDataSourceRequest,
    DataSourceBody,
    UpdateDataSourceRequest,
    changed_read_only,
)
from synchub.models.merge_patch import patched
from synchub.models.secrets import MASK, masked_url, merge_secrets, split_secrets, unmasked_url
from synchub.outbound import refuse_named, url_origin
from synchub.settings import Settings, get_settings
from synchub.sources.capture import CaptureSlots, cdc_slots
from synchub.sources.secrets import SecretVault
from synchub.timeutil import now_iso

logger = logging.getLogger(__name__)

PUBLIC_FIELDS = (
    "id",
    "name",
    "type",
    "description",
    "connection_config",
    "params_config",
    "notify_url",
    "created_at",
    "updated_at",
    "created_by",
)


def public_data_source(record: dict[str, Any]) -> dict[str, Any]:
    view = {name: record.get(name) for name in PUBLIC_FIELDS}
    view["params_config"] = view["params_config"] or {}
    view["notify_url"] = masked_url(view["notify_url"])  # its path may be the credential (Slack-style)
    view["has_secrets"] = bool(record.get("secret_arn"))
    view["notify_secret_set"] = bool(record.get("notify_secret_arn"))
    return view


class DataSourceService:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.store = DataSourceStore(self.settings)
        self.stats = StatisticsStore(self.settings)
        self.vault = SecretVault(self.settings.secrets_prefix)
        self.capture = CaptureSlots(self.settings)

    def get_record(self, data_source_id: str) -> dict[str, Any]:
        record = self.store.get(data_source_id) if NAME_ID_PATTERN.match(data_source_id) else None
        if record is None:
            raise DataSourceNotFound(f"Data source '{data_source_id}' does not exist.")
        return record

    def get(self, data_source_id: str) -> dict[str, Any]:
        return public_data_source(self.get_record(data_source_id))

    def _check_destinations(self, request: DataSourceBody) -> None:
        """422 for a host or notify_url the outbound policy can never connect to."""
        field = {"http": "base_url", "kafka": "bootstrap_servers"}.get(request.type, "host")
        named: dict[tuple[str, ...], str | None] = {
            ("connection_config", field, *([str(n)] if request.type == "kafka" else [])): host
            for n, (host, _port) in enumerate(destinations(request.type, request.connection_config or {}))
        }
        named[("notify_url",)] = request.notify_url
        refuse_named(self.settings, named)

    def create(self, request: CreateDataSourceRequest, created_by: str) -> dict[str, Any]:
        self._check_destinations(request)
        data_source_id = request.id or new_data_source_id()
        masked, secrets = split_secrets(request.connection_config)
        # The conditional put below refuses an existing id; with secrets, look first so a taken id
        # never costs a secret created only to be deleted again.
        if secrets and self.store.get(data_source_id) is not None:
            raise DataSourceExists(f"Data source '{data_source_id}' already exists.")
        unresolved = [path for path, value in secrets.items() if value == MASK]
        if unresolved:
            raise ValidationFailed(
                "A secret field holds the mask instead of a value.",
                errors=[
                    {
                        "loc": ["body", "connection_config", *p.split("/")],
                        "msg": "mask given as a secret value",
                        "type": "value_error",
                    }
                    for p in unresolved
                ],
            )
        now = now_iso()
        record = {
            "id": data_source_id,
            **_described(request, masked),
            "created_at": now,
            "updated_at": now,
            "created_by": created_by,
        }
        if "destination" not in record["params_config"] and self.settings.default_destination == "iceberg":
            # New data sources land in tables; one stored without a destination (before tables) keeps JSON Lines.
            record["params_config"] = {**record["params_config"], "destination": {"format": "iceberg"}}
        if request.notify_secret == MASK:
            raise ValidationFailed(
                "notify_secret holds the mask instead of a value.",
                errors=[
                    {"loc": ["body", "notify_secret"], "msg": "mask given as a secret value", "type": "value_error"}
                ],
            )
        if secrets:
            record["secret_arn"] = self.vault.create(data_source_id, secrets)
        if request.notify_secret:
            record["notify_secret_arn"] = self.vault.create(data_source_id, {"signing_secret": request.notify_secret})
        try:
            self.store.put(record, must_exist=False)
        except ClientError as error:
            for arn in (record.get("secret_arn"), record.get("notify_secret_arn")):
                if arn:
                    self.vault.delete(arn)
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise DataSourceExists(f"Data source '{data_source_id}' already exists.") from error
            raise
        return public_data_source(record)

    def patch(self, data_source_id: str, patch: dict[str, Any], *, keep_slots: bool = False) -> dict[str, Any]:
        """A JSON Merge Patch of the data source as GET shows it (masked secrets keep their stored values)."""
        shown = public_data_source(self.get_record(data_source_id))
        return self.replace(data_source_id, patched(UpdateDataSourceRequest, shown, patch), keep_slots=keep_slots)

    def replace(self, data_source_id: str, request: DataSourceBody, *, keep_slots: bool = False) -> dict[str, Any]:
        """Replace the data source; turning CDC off drops the replication slots it made (``keep_slots``: not)."""
        current = self.get_record(data_source_id)
        self._check_destinations(request)
        changed = changed_read_only(request, public_data_source(current))
        if changed:
            raise read_only_changed(changed)
        stored = self.vault.read(current["secret_arn"]) if current.get("secret_arn") else {}
        masked, secrets = split_secrets(request.connection_config)
        kept = sorted(path for path, value in secrets.items() if value == MASK and path in stored)
        moved = _where_it_goes_changed(current, request.type, masked)
        if kept and moved:
            raise ValidationFailed(
                f"The connection's {moved} changed, so its stored secrets are not sent there: send "
                f"{', '.join('connection_config.' + p.replace('/', '.') for p in kept)} again.",
                errors=[
                    {
                        "loc": ["body", "connection_config", *p.split("/")],
                        "msg": f"send the secret again ({moved} changed)",
                        "type": "secret_bound_to_connection",
                    }
                    for p in kept
                ],
            )
        missing = []
        for path, value in list(secrets.items()):
            if value == MASK:
                if path in stored:
                    secrets[path] = stored[path]
                else:
                    missing.append(path)
        if missing:
            raise ValidationFailed(
                "A secret field holds the mask but no value is stored for it; send the real value.",
                errors=[
                    {
                        "loc": ["body", "connection_config", *p.split("/")],
                        "msg": "no stored secret",
                        "type": "value_error",
                    }
                    for p in missing
                ],
            )
        record = {
            **current,
            **_described(request, masked),
            "updated_at": now_iso(),
            "notify_url": unmasked_url(request.notify_url, current.get("notify_url")),
        }
        old_notify_arn = current.get("notify_secret_arn")
        if request.notify_secret == MASK:
            if not old_notify_arn:
                raise ValidationFailed(
                    "notify_secret holds the mask but none is stored; send the real value.",
                    errors=[{"loc": ["body", "notify_secret"], "msg": "no stored secret", "type": "value_error"}],
                )
        elif request.notify_secret and old_notify_arn:
            self.vault.replace(old_notify_arn, {"signing_secret": request.notify_secret})
        elif request.notify_secret:
            record["notify_secret_arn"] = self.vault.create(data_source_id, {"signing_secret": request.notify_secret})
        elif not getattr(request, "notify_secret_set", None):  # sent back as GET showed it: keep the secret
            record.pop("notify_secret_arn", None)
        old_arn = current.get("secret_arn")
        if secrets and old_arn:
            if secrets != stored:
                self.vault.replace(old_arn, secrets)
        elif secrets:
            record["secret_arn"] = self.vault.create(data_source_id, secrets)
        else:
            record.pop("secret_arn", None)
        capture_before = (current.get("params_config") or {}).get("capture")
        if not keep_slots and current.get("type") == "postgresql" and capture_before == "cdc":
            interfaces = self.capture.interfaces_of(data_source_id)  # those without capture of their own follow
            off = cdc_slots(current, interfaces) - cdc_slots(record, interfaces)
            if off:
                self.capture.drop(current, self.resolved_connection(data_source_id)[1], off, why="CDC is turned off")
        try:
            self.store.put(record, must_exist=True)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise DataSourceNotFound(f"Data source '{data_source_id}' does not exist.") from error
            raise
        if old_arn and not secrets:
            self.vault.delete(old_arn)
        if old_notify_arn and record.get("notify_secret_arn") != old_notify_arn:  # kept only while still named
            self.vault.delete(old_notify_arn)
        return public_data_source(record)

    def delete(self, data_source_id: str, *, keep_slots: bool = False) -> None:
        """Delete a data source that has no pending, running or paused task (atomically checked) and no schedule;
        the replication slots its CDC streams made go first (``keep_slots``: not)."""
        current = self.get_record(data_source_id)
        schedules = ScheduleStore(self.settings).of_data_source(data_source_id)
        if schedules:
            raise DataSourceInUse(
                f"Data source '{data_source_id}' has schedules ({', '.join(schedules)}); delete them first.",
                schedules=schedules,
            )
        if not keep_slots and current.get("type") == "postgresql":
            slots = cdc_slots(current, self.capture.interfaces_of(data_source_id))
            if slots:
                connection = self.resolved_connection(data_source_id)[1]
                self.capture.drop(current, connection, slots, why="the data source is deleted")
        deletion = (
            Transaction()
            .add("data source", self.store.delete_op(data_source_id))
            .add("no active tasks", *self.stats.no_active_tasks_checks(scope_of_data_source(data_source_id)))
        )
        try:
            deletion.run()
        except TransactionFailed as failure:
            if failure.failed("data source"):
                raise DataSourceNotFound(f"Data source '{data_source_id}' does not exist.") from failure
            raise DataSourceInUse(
                f"Data source '{data_source_id}' has pending, running or paused tasks; cancel them first."
            ) from failure
        for arn in (current.get("secret_arn"), current.get("notify_secret_arn")):
            if not arn:
                continue
            try:
                self.vault.delete(arn)
            except ClientError:
                logger.warning("could not schedule deletion of a data source secret", exc_info=True)

    def list(self, *, page: int, size: int) -> dict[str, Any]:
        offset = (page - 1) * size
        if offset > MAX_PAGE_OFFSET:
            raise ValidationFailed(
                f"page * size may reach at most {MAX_PAGE_OFFSET + size}.",
                errors=[{"loc": ["query", "page"], "msg": "too deep", "type": "too_deep"}],
            )
        state = PageState(cursors=[None], page=1)
        if offset:
            state = PageState(cursors=self.store.page(state, offset).state.cursors, page=page)
        result = self.store.page(state, size)
        return {
            "data_sources": [public_data_source(item) for item in result.items],
            "pagination": {"page": page, "size": size, "has_more": result.has_more},
        }

    def test_connection(
        self, data_source_id: str, interface_id: str | None = None, sample_size: int = 5
    ) -> dict[str, Any]:
        """Open the source and read the first rows of its stream (or of an interface's) as a sync would:
        whether it answers, how fast, and what comes back. A source that fails is an answer, not an error."""
        record, connection = self.resolved_connection(data_source_id)
        interface = None
        if interface_id:
            interface = InterfaceStore(self.settings).get(data_source_id, interface_id)
            if interface is None:
                raise UnknownInterface(f"Data source '{data_source_id}' has no interface '{interface_id}'.")
        result: dict[str, Any] = {"data_source_id": data_source_id, "interface_id": interface_id}
        started = time.monotonic()
        try:
            stream = stream_for(record, {"interface_id": interface_id}, interface)
            capturing = stream.capture == "cdc" and record["type"] in ("postgresql", "mysql")
            if capturing:  # what CDC needs (no slot is made): the sample below is read as a copy would
                checked = open_source(record, connection, stream, capture=True)
                try:
                    checked.check()  # type: ignore[attr-defined]
                finally:
                    checked.close()
            source = open_source(record, connection, stream)
            try:
                check = getattr(source, "check", None)
                if check is not None:
                    check()  # the table, the cursor and key columns: each problem in its own words
                batch = source.read(None, sample_size)
            finally:
                source.close()
        except (PermanentSourceError, TransientSourceError) as error:
            result.update(
                ok=False,
                error_kind="permanent" if isinstance(error, PermanentSourceError) else "transient",
                error_code=getattr(error, "code", None),
                error_message=str(error)[:1000],
            )
        except Exception as error:  # noqa: BLE001 - a driver's own failure is still the source's answer
            result.update(ok=False, error_kind="unexpected", error_message=f"{type(error).__name__}: {error}"[:1000])
        else:
            result.update(
                ok=True,
                rows_read=len(batch.rows),
                sample=batch.rows[:sample_size],
                total_rows=batch.total_rows,
                more=batch.state is not None,
            )
        result["latency_ms"] = round((time.monotonic() - started) * 1000, 1)
        return result

    def resolved_connection(self, data_source_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(record, connection config with its secrets filled in) for the engine's use only."""
        record = self.get_record(data_source_id)
        config = record.get("connection_config") or {}
        if record.get("secret_arn"):
            config = merge_secrets(config, self.vault.read(record["secret_arn"]))
        return record, config


def _where_it_goes_changed(current: dict[str, Any], kind: str, masked: dict[str, Any]) -> str | None:
    """What of the connection changed such that a stored secret would go somewhere new (the type, a non-secret
    connection field, or the base_url's origin; its path may change), or None."""
    if kind != current.get("type"):
        return "type"

    def where(config: dict[str, Any]) -> dict[str, Any]:
        shown = _without_secrets(config)
        if isinstance(shown.get("base_url"), str):
            shown["base_url"] = url_origin(shown["base_url"])
        return shown

    before, after = where(current.get("connection_config") or {}), where(masked)
    changed = sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))
    if not changed:
        return None
    return "base_url's origin" if changed == ["base_url"] else ", ".join(changed)


def _without_secrets(config: dict[str, Any]) -> dict[str, Any]:
    """A masked connection config without its (masked) secret fields."""
    return {
        key: _without_secrets(value) if isinstance(value, dict) else value
        for key, value in config.items()
        if value != MASK
    }


def _described(request: DataSourceBody, masked_connection: dict[str, Any]) -> dict[str, Any]:
    """The fields a create or a replace takes from the request (the connection with its secrets masked)."""
    return {
        "name": request.name,
        "type": request.type,
        "description": request.description,
        "connection_config": masked_connection,
        "params_config": request.params_config,
        "notify_url": request.notify_url,
    }


@lru_cache(maxsize=1)
def data_source_service() -> DataSourceService:
    return DataSourceService()
