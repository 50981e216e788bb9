"""The replication slots a PostgreSQL data source's CDC streams hold, and dropping them when the data source or
an interface is deleted, or CDC is turned off: a slot nobody reads keeps WAL on the database until its disk
fills. A task's own slot goes with the task (``TaskLifecycle.release_capture``); these are the rest."""

from __future__ import annotations

from typing import Any, Iterable

from synchub.connectors.base import PermanentSourceError, TransientSourceError
from synchub.connectors.capture import capture_name
from synchub.connectors.registry import open_slot_admin
from synchub.dal.interfaces import InterfaceStore
from synchub.dal.statistics import StatisticsStore
from synchub.dal.transactions import Transaction, TransactionFailed
from synchub.errors import Conflict, DataSourceInUse
from synchub.models.aggregate import scope_of_data_source
from synchub.settings import Settings


class SlotsNotDropped(Conflict):
    code, title = "CDC_SLOT_NOT_DROPPED", "Replication slot not dropped"


def cdc_slots(record: dict[str, Any], interfaces: Iterable[dict[str, Any]]) -> set[str]:
    """The slot names of a data source's CDC streams: its own (``default``) and each interface's whose capture,
    its own or the data source's, is cdc. Only PostgreSQL keeps slots."""
    if record.get("type") != "postgresql":
        return set()
    own = (record.get("params_config") or {}).get("capture") == "cdc"
    names = {capture_name(record["id"], "default")} if own else set()
    for interface in interfaces:
        if (interface.get("capture") or ("cdc" if own else "poll")) == "cdc":
            names.add(capture_name(record["id"], interface["id"]))
    return names


class CaptureSlots:
    """Drops slots of a data source through its own connection, refusing (409) while a task of it is active."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.interfaces = InterfaceStore(settings)
        self.stats = StatisticsStore(settings)

    def interfaces_of(self, data_source_id: str) -> list[dict[str, Any]]:
        found, after = [], None
        while True:
            page, after = self.interfaces.page(data_source_id, after=after, size=100)
            found.extend(page)
            if not after:
                return found

    def drop(self, record: dict[str, Any], connection: dict[str, Any], names: set[str], *, why: str) -> None:
        """Drop ``names`` on the data source's database. A data source with a pending, running or paused task
        keeps them (409 ``DATA_SOURCE_IN_USE``); one that cannot be reached or refuses answers 409
        ``CDC_SLOT_NOT_DROPPED``, saying how to go on without (``keep_slots=true``)."""
        if not names:
            return
        try:
            Transaction().add(
                "no active tasks", *self.stats.no_active_tasks_checks(scope_of_data_source(record["id"]))
            ).run()
        except TransactionFailed as failure:
            raise DataSourceInUse(
                f"Data source '{record['id']}' has pending, running or paused tasks, which read its change log; "
                f"cancel them before {why}."
            ) from failure
        admin = open_slot_admin(record, connection)
        try:
            admin.drop_slots(sorted(names))
        except (PermanentSourceError, TransientSourceError) as error:
            listed = ", ".join(sorted(names))
            raise SlotsNotDropped(
                f"Before {why}, SyncHub drops the replication slots it made ({listed}), which otherwise keep WAL "
                f"on the database, but could not: {error}. Retry once the database answers, or drop them yourself "
                f"(SELECT pg_drop_replication_slot('<name>')) and send the request again with ?keep_slots=true.",
                slots=sorted(names),
            ) from error
        finally:
            admin.close()
