"""Glue's optimistic version check in the emulator, as AWS enforces it.

``UpdateTable`` with a ``VersionId`` succeeds only while that is still the table's current version; otherwise
Glue answers ``ConcurrentModificationException``. moto ignores ``VersionId`` and applies every update, so two
Iceberg commits that read the same metadata both "succeed" and the first one's snapshot is lost. This
replacement checks the version and applies the update under one lock (the check and the write are one step
in AWS too).
"""

from __future__ import annotations

import threading
from typing import Any

_installed = False
_lock = threading.Lock()


def install() -> None:
    """Make moto's Glue enforce ``UpdateTable``'s ``VersionId`` (idempotent; call before requests are served)."""
    global _installed
    if _installed:
        return
    from moto.core.exceptions import JsonRESTError
    from moto.glue.responses import GlueResponse

    class ConcurrentModificationException(JsonRESTError):
        def __init__(self, message: str):
            super().__init__("ConcurrentModificationException", message)

    unchecked = GlueResponse.update_table

    def checked_update_table(self: Any) -> Any:
        database_name = self.parameters.get("DatabaseName")
        table_name = (self.parameters.get("TableInput") or {}).get("Name")
        expected = self.parameters.get("VersionId")
        with _lock:
            if expected is not None:
                current = self.glue_backend.get_table(database_name, table_name).as_dict().get("VersionId")
                if str(expected) != str(current):
                    raise ConcurrentModificationException(
                        f"Table {database_name}.{table_name} is at version {current}, not {expected}"
                    )
            return unchecked(self)

    GlueResponse.update_table = checked_update_table  # type: ignore[method-assign]
    _installed = True
