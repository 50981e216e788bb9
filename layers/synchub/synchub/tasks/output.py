"""What a task wrote, for people to look at: the lake table and the snapshot it committed, the data-lake parts
(rows, bytes, a short-lived download URL) and the manifest, or where in the DynamoDB destination its rows are;
and, on request, its first rows."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from synchub.connectors.dynamodb_table import first_rows
from synchub.connectors.lake import LakeDestination, LakeReader
from synchub.settings import Settings, get_settings
from synchub.tasks.lifecycle import TaskLifecycle, task_lifecycle

MAX_PARTS = 1000  # parts listed (a part holds up to PART_SIZE_MB of rows: 32 GB of rows at the default)


class TaskOutputService:
    def __init__(self, settings: Settings | None = None, lifecycle: TaskLifecycle | None = None):
        self.settings = settings or get_settings()
        self.lifecycle = lifecycle or task_lifecycle()

    def output(self, task_id: str, *, preview: int | None = None) -> dict[str, Any]:
        """The task's output; with ``preview``, its first rows too (at most that many)."""
        task = self.lifecycle.get_record(task_id)
        result = task.get("result") or {}
        if result.get("destination") == "dynamodb":
            return self._dynamodb(task, result, preview)
        if result.get("destination") == "iceberg":
            return self._table(task, result)
        bucket = result.get("bucket") or self.settings.data_lake_bucket
        reader = LakeReader(bucket, self.settings.output_url_seconds)
        prefix = (
            result.get("prefix")
            or LakeDestination(bucket, task["data_source_id"], task.get("interface_id") or "default", task_id).prefix
        )
        manifest = reader.manifest(result["manifest"]) if result.get("manifest") else None
        if manifest is not None:  # finished: its parts (an earlier attempt's too, for a resumed retry)
            listed = [{"key": part["key"], "rows": int(part["rows"])} for part in manifest["parts"][:MAX_PARTS]]
            sizes = reader.sizes({part["key"].rsplit("/", 1)[0] + "/" for part in listed})
        else:  # running, failed or cancelled: the parts written so far under its own prefix
            sizes = reader.sizes({prefix + "/part-"}, MAX_PARTS)
            listed = [{"key": key, "rows": reader.rows_of(key)} for key in sorted(sizes)]
        parts = [{**part, "bytes": sizes.get(part["key"]), "url": reader.url(part["key"])} for part in listed]
        answer: dict[str, Any] = {
            "task_id": task_id,
            "status": task["status"],
            "destination": "s3",
            "bucket": reader.bucket,
            "prefix": prefix,
            "rows": sum(part["rows"] for part in parts),
            "parts": parts,
            "manifest": {"key": result["manifest"], "url": reader.url(result["manifest"])} if manifest else None,
            "urls_expire_in": self.settings.output_url_seconds,
        }
        if preview:
            answer["preview"] = reader.first_rows([part["key"] for part in parts], preview)
        return answer

    def _table(self, task: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        """A lake-table task: the table and the snapshot its commit made (none until it succeeds), with the rows
        the commit added and removed."""
        return {
            "task_id": task["id"],
            "status": task["status"],
            "destination": "iceberg",
            "table": result["table"],
            "snapshot_id": result.get("snapshot_id"),
            "rows": int(result.get("rows_written") or 0),
            "rows_added": result.get("rows_added"),
            "rows_removed": result.get("rows_removed"),
            "parts": [],
        }

    def _dynamodb(self, task: dict[str, Any], result: dict[str, Any], preview: int | None) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "task_id": task["id"],
            "status": task["status"],
            "destination": "dynamodb",
            "table": result["table"],
            "partition": result["partition"],
            "rows": int(result.get("rows_written") or 0),
            "parts": [],
        }
        if preview:
            answer["preview"] = first_rows(result["table"], result["partition"], preview)
        return answer


@lru_cache(maxsize=1)
def task_output_service() -> TaskOutputService:
    return TaskOutputService()
