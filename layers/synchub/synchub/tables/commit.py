"""Committing a sync's data files to its Iceberg table, once and atomically.

``replace`` (a full sync) swaps the table's contents for the files; ``merge`` (a keyed incremental or
realtime sync) deduplicates the files by key (the newest cursor, else the last row read, wins), removes the
table's rows with those keys and adds the files; ``append`` adds them; ``changes`` (CDC) applies captured
changes in log order: per key the last one wins, a delete removes the key, a truncate empties the table (files
of a first copy, which carry no operation column, replace the table as a commit of their own). Each is one catalog commit: readers
see the old table until it lands. A commit carries its id in the snapshot's summary, so a redelivered or
resumed run finds it there instead of committing twice; a commit that loses Glue's optimistic version check
to a concurrent one is redone from the refreshed table.

Size: over 300 lines because the four modes share one commit protocol (find the commit made, take the files
not yet committed, evolve the schema, commit, retry on a lost version check), which should read in one place."""

from __future__ import annotations

import os
import random
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from synchub import aws
from synchub.models.columns import CHANGE_OP, Column, evolved
from synchub.observability import logger
from synchub.settings import Settings
from synchub.tables.arrow import arrow_schema, column_of, conformed, merged_columns, parquet_bytes

CommitMode = Literal["replace", "merge", "append", "changes"]

# Snapshot summary properties: the commit's id (task and files reached), its task and run, and how many of the
# sync's files the commit reaches.
COMMIT_ID = "synchub.commit-id"
TASK_ID = "synchub.task-id"
RUN_ID = "synchub.run-id"
FILES_REACHED = "synchub.files"
COMMIT_ATTEMPTS = 8  # a commit that keeps losing to concurrent ones fails after this many tries


@dataclass
class TableCommit:
    """What a commit did: the table, its new snapshot, and the rows it added and removed."""

    table: str
    snapshot_id: int | None = None
    rows_added: int = 0
    rows_removed: int = 0
    data_files: int = 0
    repeated: bool = False  # the commit had been made before (a redelivered or resumed run)
    summary: dict[str, Any] = field(default_factory=dict)

    def as_result(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "snapshot_id": self.snapshot_id,
            "rows_added": self.rows_added,
            "rows_removed": self.rows_removed,
            "data_files": self.data_files,
        }


def catalog_properties(settings: Settings) -> dict[str, str]:
    """pyiceberg's S3 settings: the region, and the emulator's endpoint where one is set (credentials come
    from the environment, as for boto3)."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    properties = {"s3.region": region}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        properties["s3.endpoint"] = endpoint
    return properties


def lake_catalog(settings: Settings) -> Any:
    """The Glue Data Catalog as pyiceberg sees it, through the service's own Glue client."""
    from pyiceberg.catalog.glue import GlueCatalog  # noqa: PLC0415 - heavy: only where tables are touched

    return GlueCatalog("synchub", client=aws.client("glue"), **catalog_properties(settings))


def table_columns(table: Any) -> list[Column]:
    """A table's current columns (the Iceberg schema read as columns)."""
    return [column_of(field) for field in table.schema().as_arrow()]


class TableWriter:
    """Commits to the table ``{lake_database}.{name}``, whose files lie under ``tables/{name}/``."""

    def __init__(self, settings: Settings, name: str, catalog: Any = None, properties: dict[str, str] | None = None):
        self.settings, self.name = settings, name
        self.properties = properties or {}  # the table's own properties, set when it is created
        self.identifier = (settings.lake_database, name)
        self.location = f"s3://{settings.data_lake_bucket}/tables/{name}"
        self.catalog = catalog or lake_catalog(settings)

    @property
    def qualified_name(self) -> str:
        return ".".join(self.identifier)

    def load(self) -> Any:
        """The table, or None when no sync has created it yet."""
        from pyiceberg.exceptions import NoSuchTableError  # noqa: PLC0415

        try:
            return self.catalog.load_table(self.identifier)
        except NoSuchTableError:
            return None

    def commit(
        self,
        files: list[str],
        *,
        mode: CommitMode,
        task_id: str,
        run_id: str,
        earlier_task_ids: tuple[str, ...] = (),
        primary_key: str | None = None,
        cursor_field: str | None = None,
    ) -> TableCommit:
        """Commit the files of a sync (full ``s3://`` paths of Parquet files, the earliest first) that no
        earlier commit of it took, as ``mode`` says. A realtime sync commits after every poll that read rows, so
        its files are committed in several steps: each commit records how many of the sync's files it reaches
        (``synchub.files``), the next one takes those after, and a commit found made under its id (task and
        file count) is returned as it was. ``earlier_task_ids``: the failed attempts a retry resumes, whose files
        come first. Raises ``SchemaConflict`` (the table untouched) when a column's type changed in a way no
        widening reconciles."""
        from pyiceberg.exceptions import CommitFailedException  # noqa: PLC0415

        commit_id = f"{task_id}:{len(files)}"
        properties = {TASK_ID: task_id, RUN_ID: run_id, FILES_REACHED: str(len(files))}
        io = self._file_io()
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            table = self.load()
            if table is not None and (done := committed(table, commit_id)) is not None:
                return done
            already = files_committed(table, (task_id, *earlier_task_ids)) if table is not None else 0
            new_files = files[already:]
            if not new_files and (mode != "replace" or table is None):
                return TableCommit(self.qualified_name)
            schemas = footer_schemas(io, new_files)  # each footer once
            step = mode
            if mode == "changes":
                copies = copy_count(schemas)
                if copies and copies < len(new_files):  # a copy not committed yet goes first, on its own
                    self.commit(
                        files[: already + copies],
                        mode=mode,
                        task_id=task_id,
                        run_id=run_id,
                        earlier_task_ids=earlier_task_ids,
                        primary_key=primary_key,
                    )
                    continue
                step = "replace" if copies else "changes"
            columns = [column for column in merged_file_columns(schemas) if column.name != CHANGE_OP]
            if table is None:
                table = self._create(columns)
            else:
                evolved(table_columns(table), columns)  # raises SchemaConflict before anything changes
            if step == "changes":
                prepared, keys, truncated = self._applied(io, new_files, columns, primary_key, len(files))
            else:
                prepared = self._prepared(io, new_files, columns, step, primary_key, cursor_field, len(files))
                keys, truncated = None, False
            try:
                return self._commit(
                    table,
                    prepared,
                    step,
                    primary_key,
                    {COMMIT_ID: commit_id, **properties},
                    keys,
                    truncated,
                    schemas if prepared == new_files else None,
                )
            except CommitFailedException:
                if attempt == COMMIT_ATTEMPTS:
                    raise
                logger.info("table commit lost to a concurrent one; retrying", extra={"table": self.qualified_name})
                time.sleep(random.uniform(0.05, 0.2) * attempt)
        raise AssertionError("unreachable")

    # ---- steps ----------------------------------------------------------------------------------
    def _file_io(self) -> Any:
        from pyiceberg.io import load_file_io  # noqa: PLC0415

        return load_file_io({**self.catalog.properties}, self.location)

    def _create(self, columns: list[Column]) -> Any:
        return self.catalog.create_table_if_not_exists(
            self.identifier,
            schema=arrow_schema(columns),
            location=self.location,
            properties={
                "format-version": "2",
                "write.parquet.compression-codec": "zstd",
                # each commit deletes the metadata files older than the last 10
                "write.metadata.delete-after-commit.enabled": "true",
                "write.metadata.previous-versions-max": "10",
                **self.properties,
            },
        )

    def _prepared(
        self,
        io: Any,
        files: list[str],
        columns: list[Column],
        mode: CommitMode,
        primary_key: str | None,
        cursor_field: str | None,
        reached: int,
    ) -> list[str]:
        """The files to add: as written, or, for a merge whose files repeat a key, one file of the newest row
        per key (written beside them)."""
        if mode != "merge" or not primary_key or not files:
            return files
        rows = pa.concat_tables([conformed(pq.read_table(io.new_input(path).open()), columns) for path in files])
        kept = newest_per_key(rows, primary_key, cursor_field)
        if kept.num_rows == rows.num_rows:
            return files
        return [written_beside(files[0], f"merged-{reached:05d}.parquet", kept)]

    def _applied(
        self, io: Any, files: list[str], columns: list[Column], primary_key: str | None, reached: int
    ) -> tuple[list[str], set[Any], bool]:
        """Captured changes folded in log order: a file of the rows that stand after them (written beside the
        changes), the keys they touch, and whether a truncate came first (the table is emptied before)."""
        if not primary_key:
            raise ValueError("changes are applied by primary key")
        with_op = [*columns, Column(CHANGE_OP, "string")]
        rows = pa.concat_tables([conformed(pq.read_table(io.new_input(path).open()), with_op) for path in files])
        operations = rows[CHANGE_OP].to_pylist()
        truncated = "truncate" in operations
        if truncated:
            rows = rows.slice(len(operations) - operations[::-1].index("truncate"))
        rows = rows.filter(pc.is_valid(rows[primary_key]))
        latest = newest_per_key(rows, primary_key, None)
        keys = set(latest[primary_key].to_pylist())
        standing = latest.filter(pc.not_equal(latest[CHANGE_OP], "delete")).drop_columns([CHANGE_OP])
        if not standing.num_rows:
            return [], keys, truncated
        return [written_beside(files[0], f"applied-{reached:05d}.parquet", standing)], keys, truncated

    def _commit(
        self,
        table: Any,
        files: list[str],
        mode: CommitMode,
        primary_key: str | None,
        properties: dict[str, str],
        keys: set[Any] | None = None,
        truncated: bool = False,
        schemas: list[pa.Schema] | None = None,
    ) -> TableCommit:
        """Commit ``files`` (their footers' ``schemas`` when read already) as ``mode`` says, in one transaction."""
        from pyiceberg.expressions import AlwaysTrue, In  # noqa: PLC0415

        with table.transaction() as transaction, warnings.catch_warnings():
            # pyiceberg warns of a delete that matched no rows: for a merge of new keys that is the normal case
            warnings.filterwarnings("ignore", "Delete operation did not match any records")
            if files:
                schema = pa.unify_schemas(schemas if schemas is not None else footer_schemas(table.io, files))
                with transaction.update_schema() as update:
                    update.union_by_name(schema)
            if (mode == "replace" or truncated) and table.current_snapshot() is not None:
                transaction.delete(AlwaysTrue(), snapshot_properties=properties)
            elif mode in ("merge", "changes") and primary_key and (files or keys):
                keys = keys if mode == "changes" else merge_keys(table.io, files, primary_key)
                if keys and table.current_snapshot() is not None:
                    # In's __new__ takes (term, literals); mypy reads the pydantic model's fields instead
                    matching = In(primary_key, keys)  # type: ignore[call-arg, arg-type]
                    transaction.delete(matching, snapshot_properties=properties)
            if files:
                transaction.add_files(files, snapshot_properties=properties)
        made = committed(table.refresh(), properties[COMMIT_ID]) or TableCommit(self.qualified_name)
        made.repeated = False
        return made


def footer_schemas(io: Any, files: list[str]) -> list[pa.Schema]:
    """The schemas in the files' Parquet footers, read at once (a parallel sync commits many files)."""
    if len(files) <= 1:
        return [pq.read_schema(io.new_input(path).open()) for path in files]
    with ThreadPoolExecutor(max_workers=min(16, len(files)), thread_name_prefix="footers") as pool:
        return list(pool.map(lambda path: pq.read_schema(io.new_input(path).open()), files))


def merged_file_columns(schemas: list[pa.Schema]) -> list[Column]:
    """The columns of every file (their footers' schemas), merged."""
    columns: list[Column] = []
    for schema in schemas:
        found = [column_of(field) for field in schema]
        columns = merged_columns(columns, found) if columns else found
    return columns


def copy_count(schemas: list[pa.Schema]) -> int:
    """How many of a CDC sync's leading files hold its first copy (rows without an operation column)."""
    return next((n for n, schema in enumerate(schemas) if CHANGE_OP in schema.names), len(schemas))


def written_beside(sibling: str, name: str, rows: pa.Table) -> str:
    """Write ``rows`` as Parquet file ``name`` in the folder of the file ``sibling`` (an ``s3://`` path); its
    path. The name is fixed by what it holds, so writing it again after a crash is harmless."""
    path = sibling.rsplit("/", 1)[0] + f"/{name}"
    bucket, key = path.removeprefix("s3://").split("/", 1)
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=parquet_bytes(rows))
    return path


def merge_keys(io: Any, files: list[str], primary_key: str) -> set[Any]:
    """The keys a merge's files hold (their key column alone is read)."""
    keys: set[Any] = set()
    for path in files:
        keys.update(pq.read_table(io.new_input(path).open(), columns=[primary_key])[primary_key].to_pylist())
    keys.discard(None)
    return keys


def newest_per_key(rows: pa.Table, primary_key: str, cursor_field: str | None) -> pa.Table:
    """One row per key: the one with the newest cursor, else the last one read."""
    order = pa.array(range(rows.num_rows), type=pa.int64())
    indexed = rows.append_column("__row", order)
    if cursor_field and cursor_field in rows.column_names:
        indexed = indexed.sort_by([(cursor_field, "ascending"), ("__row", "ascending")])
        indexed = indexed.set_column(indexed.schema.get_field_index("__row"), "__row", order)
    last = indexed.group_by(primary_key, use_threads=False).aggregate([("__row", "max")])
    keep = pc.is_in(indexed["__row"], value_set=last["__row_max"])
    return indexed.filter(keep).drop_columns(["__row"])


def files_committed(table: Any, task_ids: tuple[str, ...]) -> int:
    """How many of a sync's files its commits (or those of the attempts it resumes) have taken so far."""
    reached = [
        int(_summary(snapshot).get(FILES_REACHED) or 0)
        for snapshot in table.snapshots()
        if _summary(snapshot).get(TASK_ID) in task_ids
    ]
    return max(reached, default=0)


def committed(table: Any, commit_id: str) -> TableCommit | None:
    """The commit made under ``commit_id``, from the table's snapshots, or None. A commit of several
    snapshots (a delete, then an append) is read from all of them."""
    found = [_summary(snapshot) for snapshot in table.snapshots() if _summary(snapshot).get(COMMIT_ID) == commit_id]
    if not found:
        return None
    appended = [summary for summary in found if summary["operation"] == "append"]
    deletes = [summary for summary in found if summary["operation"] != "append"]
    # A delete that rewrites files (copy-on-write) counts the rows it kept as added: the difference is removed.
    removed = sum(int(s.get("deleted-records", 0)) - int(s.get("added-records", 0)) for s in deletes)
    last = next(s for s in reversed(table.snapshots()) if _summary(s).get(COMMIT_ID) == commit_id)
    return TableCommit(
        ".".join(table.name()),
        snapshot_id=last.snapshot_id,
        rows_added=sum(int(summary.get("added-records", 0)) for summary in appended),
        rows_removed=removed,
        data_files=sum(int(summary.get("added-data-files", 0)) for summary in appended),
        repeated=True,
        summary=_summary(last),
    )


def _summary(snapshot: Any) -> dict[str, Any]:
    summary = snapshot.summary
    return {**summary.additional_properties, "operation": summary.operation.value} if summary else {}
