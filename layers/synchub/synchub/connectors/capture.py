"""What change data capture shares across databases: the operations a change carries, the names of a (data
source, interface)'s place in the log, the first copy's pages, the age of the newest change applied, and the
failures that are CDC's own."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any, Callable

from synchub.connectors.base import Batch, PermanentSourceError
from synchub.timeutil import utcnow

OPERATIONS = ("insert", "update", "delete", "truncate")


class CaptureError(PermanentSourceError):
    """CDC cannot run as configured (the server's settings, privileges, the table's keys)."""

    code = "CDC_NOT_READY"


class NoKey(PermanentSourceError):
    """The table has no key to apply changes by (no primary key, or PostgreSQL's REPLICA IDENTITY NOTHING)."""

    code = "CDC_NO_KEY"


def keyed(find_key: Callable[[], str]) -> str:
    """The key ``find_key`` gives, its failure (a table without one) raised as CDC's own ``NoKey``."""
    try:
        return find_key()
    except NoKey:
        raise
    except PermanentSourceError as error:
        if "primary key" not in str(error):
            raise
        raise NoKey(
            f"{error} CDC applies updates and deletes by key: give the table a primary key, or name a unique "
            "column in primary_key."
        ) from error


class SlotLost(PermanentSourceError):
    """PostgreSQL's replication slot is gone: its position, and the changes since, cannot be read again."""

    code = "CDC_SLOT_LOST"


class PositionLost(PermanentSourceError):
    """The MySQL binlog no longer holds the position the sync stopped at (purged by the server's retention)."""

    code = "CDC_POSITION_LOST"


def capture_name(data_source_id: str, interface_id: str) -> str:
    """The name of a (data source, interface)'s place in the change log (PostgreSQL's slot and publication):
    lowercase letters, digits and underscores, within PostgreSQL's 63 characters."""
    plain = re.sub(r"[^a-z0-9_]", "_", f"synchub_{data_source_id}_{interface_id}".lower())
    if len(plain) <= 63:
        return plain
    digest = hashlib.blake2b(plain.encode(), digest_size=5).hexdigest()
    return f"{plain[:52]}_{digest}"


def copy_page(read: Callable[..., Batch], state: dict[str, Any], batch_size: int, position: dict[str, Any]) -> Batch:
    """The first copy's next page, read by the SQL source's own keyset ``read``; the last one asks to be committed
    and hands over to the changes from ``position``, where the log stood before the copy began."""
    page = read(state.get("copy"), batch_size)
    if page.state is not None:
        return Batch(page.rows, {**state, "copy": page.state}, page.total_rows, columns=page.columns)
    return Batch(page.rows, {"phase": "changes", **position}, page.total_rows, columns=page.columns, commit=True)


def newest_change(state: dict[str, Any] | None) -> dict[str, Any]:
    """When the newest change applied was committed at the source, and how long ago (nothing before one)."""
    last = (state or {}).get("last_change_at")
    if not last:
        return {}
    return {"last_change_at": last, "lag_seconds": round((utcnow() - datetime.fromisoformat(last)).total_seconds(), 3)}
