"""The lake tables as people look at them: the list (rows, files, bytes, last commit), one table's schema and
snapshots with the tasks that made them, and its first rows.

Listing and describing read the Glue catalog and each table's Iceberg metadata file (JSON) with boto3 alone;
only the preview reads data files, through pyiceberg (the lake layer)."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any

from synchub import aws
from synchub.errors import NotFound
from synchub.settings import Settings, get_settings
from synchub.tables.naming import TABLE_NAME

# Iceberg table properties naming what a table holds (set when the engine creates it).
DATA_SOURCE_PROPERTY = "synchub.data-source-id"
INTERFACE_PROPERTY = "synchub.interface-id"
SNAPSHOTS_SHOWN = 50  # the latest snapshots GET /tables/{name} lists


class TableNotFound(NotFound):
    code, title = "TABLE_NOT_FOUND", "Table not found"


def _instant(milliseconds: Any) -> str | None:
    if milliseconds is None:
        return None
    moment = datetime.fromtimestamp(int(milliseconds) / 1000, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _type_name(kind: Any) -> str:
    """An Iceberg type as its JSON metadata writes it, nested types as their kind."""
    return kind.replace(", ", ",") if isinstance(kind, str) else str(kind.get("type", "nested"))


def snapshot_entry(snapshot: dict[str, Any]) -> dict[str, Any]:
    summary = snapshot.get("summary") or {}
    return {
        "snapshot_id": snapshot["snapshot-id"],
        "committed_at": _instant(snapshot.get("timestamp-ms")),
        "operation": summary.get("operation"),
        "task_id": summary.get("synchub.task-id"),
        "run_id": summary.get("synchub.run-id"),
        "rows_added": int(summary.get("added-records") or 0),
        "rows_removed": int(summary.get("deleted-records") or 0),
        "rows": int(summary["total-records"]) if "total-records" in summary else None,
    }


class TableCatalog:
    """Reads the tables of the stack's Glue database (``lake_database``)."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.database = self.settings.lake_database

    def list(self) -> list[dict[str, Any]]:
        """Every Iceberg table of the database, by name, with its size and last commit."""
        tables = []
        for page in aws.client("glue").get_paginator("get_tables").paginate(DatabaseName=self.database):
            for table in page["TableList"]:
                if (table.get("Parameters") or {}).get("table_type", "").upper() == "ICEBERG":
                    tables.append(self._summary(table["Name"], self._metadata(table)))
        return sorted(tables, key=lambda table: table["name"])

    def get(self, name: str) -> dict[str, Any]:
        """One table: its summary, schema (columns with their types) and latest snapshots, newest first."""
        metadata = self._metadata(self._glue_table(name))
        schemas = {schema.get("schema-id"): schema for schema in metadata.get("schemas") or []}
        schema = schemas.get(metadata.get("current-schema-id")) or {"fields": []}
        snapshots = sorted(metadata.get("snapshots") or [], key=lambda s: s.get("timestamp-ms", 0), reverse=True)
        return {
            **self._summary(name, metadata),
            "location": metadata.get("location"),
            "columns": [
                {"name": field["name"], "type": _type_name(field["type"]), "required": bool(field.get("required"))}
                for field in schema["fields"]
            ],
            "snapshots": [snapshot_entry(snapshot) for snapshot in snapshots[:SNAPSHOTS_SHOWN]],
            "snapshot_count": len(snapshots),
        }

    def preview(self, name: str, limit: int) -> dict[str, Any]:
        """The table's first ``limit`` rows as it stands (its current snapshot), read with pyiceberg."""
        metadata = self._metadata(self._glue_table(name))  # 404 before pyiceberg loads
        if metadata.get("current-snapshot-id") in (None, -1):  # no commit yet: no rows, and no pyarrow to load
            return {"name": name, "snapshot_id": None, "rows": []}
        from synchub.tables.commit import lake_catalog  # noqa: PLC0415 - pyarrow and pyiceberg: the lake layer

        table = lake_catalog(self.settings).load_table((self.database, name))
        rows = table.scan(limit=limit).to_arrow().slice(0, limit).to_pylist()
        snapshot = table.current_snapshot()
        return {
            "name": name,
            "snapshot_id": snapshot.snapshot_id if snapshot else None,
            "rows": [{key: _jsonable(value) for key, value in row.items()} for row in rows],
        }

    # ---- reading --------------------------------------------------------------------------------
    def _glue_table(self, name: str) -> dict[str, Any]:
        if not TABLE_NAME.match(name):
            raise TableNotFound(f"No table '{name}': table names are lowercase letters, digits and _.")
        glue = aws.client("glue")
        try:
            table = glue.get_table(DatabaseName=self.database, Name=name)["Table"]
        except glue.exceptions.EntityNotFoundException:
            raise TableNotFound(f"No table '{name}' in the lake database '{self.database}'.") from None
        if (table.get("Parameters") or {}).get("table_type", "").upper() != "ICEBERG":
            raise TableNotFound(f"'{name}' in '{self.database}' is not a lake table.")
        return table

    def _metadata(self, table: dict[str, Any]) -> dict[str, Any]:
        """The table's current Iceberg metadata file (its location is in the Glue table's parameters)."""
        location = table["Parameters"]["metadata_location"]
        bucket, key = location.removeprefix("s3://").removeprefix("s3a://").split("/", 1)
        return json.loads(aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())

    def _summary(self, name: str, metadata: dict[str, Any]) -> dict[str, Any]:
        properties = metadata.get("properties") or {}
        current = metadata.get("current-snapshot-id")
        snapshot = next((s for s in metadata.get("snapshots") or [] if s.get("snapshot-id") == current), None)
        summary = (snapshot or {}).get("summary") or {}
        return {
            "name": name,
            "table": f"{self.database}.{name}",
            "format": "iceberg",
            "data_source_id": properties.get(DATA_SOURCE_PROPERTY),
            "interface_id": properties.get(INTERFACE_PROPERTY),
            "rows": int(summary.get("total-records") or 0),
            "data_files": int(summary.get("total-data-files") or 0),
            "bytes": int(summary.get("total-files-size") or 0),
            "last_commit": snapshot_entry(snapshot) if snapshot else None,
        }


def _jsonable(value: Any) -> Any:
    """A table value for a JSON answer: decimals as exact text, times in ISO 8601, bytes in hex."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


@lru_cache(maxsize=1)
def table_catalog() -> TableCatalog:
    return TableCatalog()
