"""InterfaceService: the streams of each data source."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ulid import ULID

from synchub.connectors.capture import capture_name
from synchub.dal.data_sources import DataSourceStore
from synchub.dal.interfaces import InterfaceStore
from synchub.dal.transactions import ConditionFailed, Transaction, TransactionFailed
from synchub.errors import Conflict, DataSourceNotFound, NotFound, read_only_changed
from synchub.ids import NAME_ID_PATTERN
from synchub.models.data_sources import changed_read_only
from synchub.models.interfaces import CreateInterfaceRequest, InterfaceBody, UpdateInterfaceRequest
from synchub.models.merge_patch import patched
from synchub.settings import Settings, get_settings
from synchub.sources.capture import cdc_slots
from synchub.sources.data_sources import data_source_service
from synchub.timeutil import now_iso

# What an answer shows: the ids, every field a request can set (one list: the model's), the times.
PUBLIC_FIELDS = ("id", "data_source_id", *InterfaceBody.model_fields, "created_at", "updated_at")


class InterfaceNotFound(NotFound):
    code, title = "INTERFACE_NOT_FOUND", "Interface not found"


class InterfaceExists(Conflict):
    code, title = "INTERFACE_EXISTS", "Interface exists"


def public_interface(record: dict[str, Any]) -> dict[str, Any]:
    return {
        name: record.get(name)
        for name in PUBLIC_FIELDS
        if record.get(name) is not None or name in ("id", "data_source_id", "name")
    }


class InterfaceService:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.store = InterfaceStore(self.settings)
        self.data_sources = DataSourceStore(self.settings)

    def get_record(self, data_source_id: str, interface_id: str) -> dict[str, Any]:
        return self._records(data_source_id, interface_id)[1]

    def _records(self, data_source_id: str, interface_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The data source (its id, type and capture setting) and the interface, read together."""
        if not NAME_ID_PATTERN.match(data_source_id):
            raise DataSourceNotFound(f"Data source '{data_source_id}' does not exist.")
        if NAME_ID_PATTERN.match(interface_id):
            source, record = self.store.get_with_source(data_source_id, interface_id)
        else:
            source, record = self.data_sources.get(data_source_id), None
        if source is None:
            raise DataSourceNotFound(f"Data source '{data_source_id}' does not exist.")
        if record is None:
            raise InterfaceNotFound(f"Interface '{interface_id}' of data source '{data_source_id}' does not exist.")
        return source, record

    def get(self, data_source_id: str, interface_id: str) -> dict[str, Any]:
        return public_interface(self.get_record(data_source_id, interface_id))

    def create(self, data_source_id: str, request: CreateInterfaceRequest) -> dict[str, Any]:
        if not NAME_ID_PATTERN.match(data_source_id):
            raise DataSourceNotFound(f"Data source '{data_source_id}' does not exist.")
        now = now_iso()
        record = {
            "id": request.id or f"if_{str(ULID()).lower()}",
            "data_source_id": data_source_id,
            "name": request.name,
            "description": request.description,
            **request.stream_fields(),
            "created_at": now,
            "updated_at": now,
        }
        try:  # the data source's existence is a condition of the same transaction, not a separate read
            (
                Transaction()
                .add("new interface", self.store.put_op(record, must_exist=False))
                .add("data source exists", self.data_sources.exists_check(data_source_id))
                .run()
            )
        except TransactionFailed as failure:
            if failure.failed("data source exists"):
                raise DataSourceNotFound(f"Data source '{data_source_id}' does not exist.") from failure
            raise InterfaceExists(f"Interface '{record['id']}' already exists on '{data_source_id}'.") from failure
        return public_interface(record)

    def patch(
        self, data_source_id: str, interface_id: str, patch: dict[str, Any], *, keep_slots: bool = False
    ) -> dict[str, Any]:
        """A JSON Merge Patch of the interface as GET shows it."""
        shown = public_interface(self.get_record(data_source_id, interface_id))
        request = patched(UpdateInterfaceRequest, shown, patch)
        return self.replace(data_source_id, interface_id, request, keep_slots=keep_slots)

    def replace(
        self, data_source_id: str, interface_id: str, request: InterfaceBody, *, keep_slots: bool = False
    ) -> dict[str, Any]:
        """Replace the interface; turning its CDC off drops its replication slot (``keep_slots``: not)."""
        source, current = self._records(data_source_id, interface_id)
        changed = changed_read_only(request, public_interface(current))
        if changed:
            raise read_only_changed(changed)
        record = {
            "id": interface_id,
            "data_source_id": data_source_id,
            "name": request.name,
            "description": request.description,
            **request.stream_fields(),
            "created_at": current["created_at"],
            "updated_at": now_iso(),
        }
        if not keep_slots:
            self._drop_slot(source, current, record, why="CDC is turned off on the interface")
        try:
            self.store.put(record, must_exist=True)
        except ConditionFailed as failure:
            raise InterfaceNotFound(f"Interface '{interface_id}' does not exist.") from failure
        return public_interface(record)

    def _drop_slot(
        self, source: dict[str, Any], before: dict[str, Any], after: dict[str, Any] | None, *, why: str
    ) -> None:
        """Drop the interface's replication slot if its CDC stream goes (deleted, or capture no longer cdc).
        ``source``: the data source's id, type and capture setting, as read with the interface."""
        off = cdc_slots(source, [before]) - cdc_slots(source, [after] if after else [])
        off.discard(capture_name(source["id"], "default"))  # the data source's own stream stays
        if off:
            service = data_source_service()
            data_source = service.get_record(source["id"])
            service.capture.drop(data_source, service.resolved_connection(source["id"])[1], off, why=why)

    def delete(self, data_source_id: str, interface_id: str, *, keep_slots: bool = False) -> None:
        """Delete the interface; the replication slot its CDC stream made goes first (``keep_slots``: not)."""
        source, current = self._records(data_source_id, interface_id)
        if not keep_slots:
            self._drop_slot(source, current, None, why="the interface is deleted")
        try:
            self.store.delete(data_source_id, interface_id)
        except ConditionFailed as failure:
            raise InterfaceNotFound(f"Interface '{interface_id}' does not exist.") from failure

    def list(self, data_source_id: str, *, size: int, after: str | None) -> dict[str, Any]:
        if not NAME_ID_PATTERN.match(data_source_id) or self.data_sources.get(data_source_id) is None:
            raise DataSourceNotFound(f"Data source '{data_source_id}' does not exist.")
        items, last = self.store.page(data_source_id, after=after, size=size)
        pagination: dict[str, Any] = {"size": size}
        if last:
            pagination["next_token"] = last
        return {"interfaces": [public_interface(item) for item in items], "pagination": pagination}


@lru_cache(maxsize=1)
def interface_service() -> InterfaceService:
    return InterfaceService()
