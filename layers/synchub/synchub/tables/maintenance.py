"""Keeping a lake table healthy: few data files, few snapshots, no orphan files.

A realtime sync polling every 30 s commits up to 2,880 times a day, each commit a snapshot, a metadata file and
at least one data file. After each commit the engine checks the table and, where due:

- **compacts** it: once the current snapshot holds more than ``FILES_MAX`` data files, they are rewritten as
  one (an overwrite of the table with its own rows, committed only if no sync committed meanwhile);
- **expires snapshots**: all but the newest ``SNAPSHOTS_KEPT``, keeping each task's newest snapshot younger
  than ``TASK_SNAPSHOT_DAYS`` (a redelivered or retried sync finds its commit there, see ``commit``);
- **deletes orphan files**: after each compaction and every ``ORPHAN_SWEEP_EVERY`` commits, the objects under the table's location that
  no kept snapshot references, once older than the safety window (``table_orphan_after_hours``: a sync's files
  are orphans until it commits, so the window must outlast the longest sync).

Old metadata files go with each commit (the table's ``write.metadata.delete-after-commit.enabled``).

Deployed (``table_optimizer_role_arn`` set), Glue's table optimizers compact the table and delete its orphan
files off the engine's clock (``GlueOptimizers``); the engine then only expires snapshots, which keeps the
metadata each commit rewrites small (Glue's own retention keeps at least a day of them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from synchub import aws
from synchub.observability import logger

FILES_MAX = 16
SNAPSHOTS_KEPT = 20
TASK_SNAPSHOT_DAYS = 7
ORPHAN_SWEEP_EVERY = 20  # commits (table sequence numbers) between orphan sweeps
MAINTENANCE = "synchub.maintenance"  # the snapshot summary property of a compaction


OPTIMIZER_RUN_HOURS = 24
_optimized: set[tuple[str, str]] = set()  # the tables this process has seen optimizers on


def optimizer_configurations(role_arn: str, location: str, orphan_after: timedelta) -> dict[str, dict[str, Any]]:
    """Each Glue table optimizer's configuration, by type, doing what the local maintenance path does."""
    orphan_days = max(1, -(-int(orphan_after.total_seconds()) // 86_400))  # whole days, at least one
    return {
        "compaction": {"roleArn": role_arn, "enabled": True},
        "retention": {
            "roleArn": role_arn,
            "enabled": True,
            "retentionConfiguration": {
                "icebergConfiguration": {
                    "snapshotRetentionPeriodInDays": 1,
                    "numberOfSnapshotsToRetain": SNAPSHOTS_KEPT,
                    "cleanExpiredFiles": True,
                    "runRateInHours": OPTIMIZER_RUN_HOURS,
                }
            },
        },
        "orphan_file_deletion": {
            "roleArn": role_arn,
            "enabled": True,
            "orphanFileDeletionConfiguration": {
                "icebergConfiguration": {
                    "orphanFileRetentionPeriodInDays": orphan_days,
                    "location": location,
                    "runRateInHours": OPTIMIZER_RUN_HOURS,
                }
            },
        },
    }


class GlueOptimizers:
    """Glue's table optimizers for one table, turned on once (a warm engine remembers the tables it saw)."""

    def __init__(self, database: str, table: str, location: str, role_arn: str, orphan_after: timedelta):
        self.database, self.table, self.location = database, table, location
        self.role_arn, self.orphan_after = role_arn, orphan_after

    def ensure(self) -> list[str]:
        """Create the optimizers the table lacks; the types created."""
        if (self.database, self.table) in _optimized:
            return []
        glue = aws.client("glue")
        created = []
        configurations = optimizer_configurations(self.role_arn, self.location, self.orphan_after)
        for kind, configuration in configurations.items():
            try:
                glue.create_table_optimizer(
                    CatalogId=self.role_arn.split(":")[4],  # the stack's account, the role's and the catalog's
                    DatabaseName=self.database,
                    TableName=self.table,
                    Type=kind,
                    TableOptimizerConfiguration=configuration,
                )
                created.append(kind)
            except glue.exceptions.AlreadyExistsException:
                pass
        _optimized.add((self.database, self.table))
        if created:
            logger.info(
                "table optimizers turned on", extra={"table": f"{self.database}.{self.table}", "types": created}
            )
        return created


@dataclass
class MaintenanceDone:
    compacted_files: int = 0
    expired_snapshots: int = 0
    orphans_deleted: int = 0


def snapshots_to_expire(snapshots: list[Any], current_id: int | None, now: datetime) -> list[int]:
    """The snapshots to expire: all but the current one, the newest ``SNAPSHOTS_KEPT`` and each task's newest
    one younger than ``TASK_SNAPSHOT_DAYS``."""
    ordered = sorted(snapshots, key=lambda snapshot: snapshot.timestamp_ms, reverse=True)
    kept = {snapshot.snapshot_id for snapshot in ordered[:SNAPSHOTS_KEPT]}
    if current_id is not None:
        kept.add(current_id)
    recent = (now - timedelta(days=TASK_SNAPSHOT_DAYS)).timestamp() * 1000
    seen_tasks: set[str] = set()
    for snapshot in ordered:
        task = (snapshot.summary.additional_properties if snapshot.summary else {}).get("synchub.task-id")
        if task and task not in seen_tasks and snapshot.timestamp_ms >= recent:
            kept.add(snapshot.snapshot_id)
        if task:
            seen_tasks.add(task)
    return [snapshot.snapshot_id for snapshot in ordered if snapshot.snapshot_id not in kept]


def referenced_files(table: Any) -> set[str]:
    """Every file the table's metadata references: its metadata files, and each snapshot's manifest list,
    manifests and data files."""
    io, metadata = table.io, table.metadata
    found = {table.metadata_location, *(entry.metadata_file for entry in metadata.metadata_log)}
    for snapshot in metadata.snapshots:
        found.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(io):
            found.add(manifest.manifest_path)
            found.update(entry.data_file.file_path for entry in manifest.fetch_manifest_entry(io))
    return found


class TableMaintenance:
    """The upkeep of one table (a ``TableWriter``'s)."""

    def __init__(self, writer: Any, orphan_after: timedelta, optimizer_role_arn: str = ""):
        self.writer, self.orphan_after = writer, orphan_after
        self.optimizer_role_arn = optimizer_role_arn

    def run(self, now: datetime | None = None) -> MaintenanceDone:
        """Do what is due; a step that loses to a concurrent commit is left to the next run. Deployed (an
        optimizer role), Glue's optimizers compact and delete orphans, and this only expires snapshots."""
        from pyiceberg.exceptions import CommitFailedException  # noqa: PLC0415

        now = now or datetime.now(timezone.utc)
        by_glue = bool(self.optimizer_role_arn)
        if by_glue:
            database, name = self.writer.identifier
            GlueOptimizers(database, name, self.writer.location, self.optimizer_role_arn, self.orphan_after).ensure()
        done = MaintenanceDone()
        table = self.writer.load()
        if table is None or table.current_snapshot() is None:
            return done
        try:
            if not by_glue:
                done.compacted_files = self.compact(table)
                table = table.refresh()
            done.expired_snapshots = self.expire(table, now)
        except CommitFailedException:
            logger.info("table maintenance lost to a concurrent commit", extra={"table": self.writer.qualified_name})
            return done
        if by_glue:
            return done
        if done.expired_snapshots:
            table = table.refresh()
        if done.compacted_files or table.metadata.last_sequence_number % ORPHAN_SWEEP_EVERY == 0:
            done.orphans_deleted = self.delete_orphans(table, now)
        return done

    def expire(self, table: Any, now: datetime) -> int:
        """Expire the snapshots ``snapshots_to_expire`` names; how many."""
        expired = snapshots_to_expire(table.snapshots(), table.current_snapshot().snapshot_id, now)
        if expired:
            table.maintenance.expire_snapshots().by_ids(expired).commit()
        return len(expired)

    def compact(self, table: Any) -> int:
        """Rewrite the current data files as one once there are more than ``FILES_MAX``; how many were."""
        summary = table.current_snapshot().summary
        files = int((summary.additional_properties if summary else {}).get("total-data-files") or 0)
        if files <= FILES_MAX:
            return 0
        rows = table.scan().to_arrow()
        table.overwrite(rows, snapshot_properties={MAINTENANCE: "compaction"})
        logger.info("table compacted", extra={"table": self.writer.qualified_name, "files": files})
        return files

    def delete_orphans(self, table: Any, now: datetime) -> int:
        """Delete the objects under the table's location no snapshot references, once older than the window."""
        referenced = referenced_files(table)
        bucket, prefix = table.location().removeprefix("s3://").split("/", 1)
        s3 = aws.client("s3")
        orphans = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/"):
            for item in page.get("Contents", []):
                if f"s3://{bucket}/{item['Key']}" not in referenced and now - item["LastModified"] > self.orphan_after:
                    orphans.append({"Key": item["Key"]})
        for start in range(0, len(orphans), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": orphans[start : start + 1000], "Quiet": True})
        if orphans:
            logger.info("orphan files deleted", extra={"table": self.writer.qualified_name, "files": len(orphans)})
        return len(orphans)
