"""The lake-table destination: a run's rows as Parquet data files under the table's location, one per (task,
part number), committed to the Iceberg table once, when the sync ends.

Files are written while the run reads (each part is one PUT, so rewriting it after a crash is harmless) and
become part of the table only by the commit: readers see the table as it was until then. Files a failed run
wrote and never committed are orphans, which table maintenance deletes once older than its safety window."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyarrow as pa

from synchub import aws
from synchub.models.columns import Column
from synchub.settings import Settings
from synchub.tables.arrow import (
    batch_columns,
    conformed,
    driver_rows_table,
    merged_columns,
    parquet_bytes,
    rows_table,
)
from synchub.tables.commit import CommitMode, TableCommit, TableWriter
from synchub.tables.maintenance import MaintenanceDone, TableMaintenance

ROWS_METADATA = "rows"  # each file's row count, in its S3 metadata (as the JSON Lines parts have it)


class ParquetPart:
    """A part being filled: each batch becomes Arrow as it arrives (typed by the source's columns, or inferred
    from the values), and ``close`` writes them as one Parquet file."""

    def __init__(self, bucket: str, key: str):
        self.bucket, self.key = bucket, key
        self.rows = self.size = 0
        self.columns: list[Column] = []
        self._tables: list[pa.Table] = []

    def add(self, rows: list[dict[str, Any]], columns: list[Column] | None = None) -> None:
        if not rows:
            return
        typed = columns or batch_columns(rows, self.columns)
        driver_values = getattr(rows, "values", None)  # a SQL batch keeps its driver's values (DriverRows)
        if columns and driver_values is not None:
            table = driver_rows_table(rows.names, driver_values, rows, typed)  # type: ignore[attr-defined]
        else:
            table = rows_table(rows, typed)
        self.columns = merged_columns(self.columns, typed) if self.columns else typed
        self._tables.append(table)
        self.rows += len(rows)
        self.size += table.nbytes

    def table(self) -> pa.Table:
        """The rows added so far, every batch in the part's final columns."""
        return pa.concat_tables([conformed(table, self.columns) for table in self._tables])

    def close(self) -> dict[str, Any]:
        aws.client("s3").put_object(
            Bucket=self.bucket,
            Key=self.key,
            Body=parquet_bytes(self.table()),
            ContentType="application/vnd.apache.parquet",
            Metadata={ROWS_METADATA: str(self.rows)},
        )
        return {"key": self.key, "rows": self.rows}


class TableDestination:
    """Writes ``tables/{name}/data/synchub/{task_id}/part-{n}.parquet`` in the lake bucket, and commits the
    run's files to the table ``{database}.{name}`` when it finishes."""

    format = "iceberg"

    def __init__(
        self,
        settings: Settings,
        name: str,
        task_id: str,
        *,
        mode: CommitMode = "append",
        primary_key: str | None = None,
        cursor_field: str | None = None,
        holds: dict[str, str] | None = None,
    ):
        self.settings, self.name, self.task_id = settings, name, task_id
        self.holds = holds or {}  # what the table holds: its data source and interface, as table properties
        self.bucket = settings.data_lake_bucket
        self.prefix = f"tables/{name}/data/synchub/{task_id}"
        self.mode, self.primary_key, self.cursor_field = mode, primary_key, cursor_field

    def part_key(self, number: int) -> str:
        return f"{self.prefix}/part-{number:05d}.parquet"

    def open_part(self, number: int) -> ParquetPart:
        return ParquetPart(self.bucket, self.part_key(number))

    def writer(self) -> TableWriter:
        return TableWriter(self.settings, self.name, properties=self.holds)

    def finish(self, parts: list[dict[str, Any]], summary: dict[str, Any]) -> TableCommit:
        """Commit the sync's parts (every part so far, the earliest first) that no earlier commit of it took:
        ``summary`` names the task, its run and the attempts it resumes (``earlier_task_ids``)."""
        return self.writer().commit(
            [f"s3://{self.bucket}/{part['key']}" for part in parts],
            mode=self.mode,
            task_id=summary["task_id"],
            run_id=summary["run_id"],
            earlier_task_ids=tuple(summary.get("earlier_task_ids") or ()),
            primary_key=self.primary_key,
            cursor_field=self.cursor_field,
        )

    def maintain(self) -> MaintenanceDone:
        """Compact the table, expire its old snapshots and delete its orphan files, where due."""
        window = timedelta(hours=self.settings.table_orphan_after_hours)
        return TableMaintenance(self.writer(), window, self.settings.table_optimizer_role_arn).run()
