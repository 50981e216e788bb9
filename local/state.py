"""What `make run` keeps between runs: the stack's DynamoDB items, data-lake objects, lake tables' catalog entries
and data-source secrets,
saved under a folder (``.local-state/`` for `make run`) while it runs and when it stops, and put back into the
fresh emulator when it starts. Tasks the engine had not finished are handed to it again."""

from __future__ import annotations

import base64
import json
import logging
import shutil
import threading
from pathlib import Path
from typing import Any

import boto3

from local.resources import Stack

log = logging.getLogger("local")

SKIPPED_TABLES = {"ConnectionsTable"}  # WebSocket connections do not outlive the server they were made to
BUCKETS = ("DataLakeBucket",)
CATALOG_FIELDS = ("Name", "Description", "TableType", "Parameters", "StorageDescriptor")  # a Glue TableInput's


class LocalState:
    def __init__(self, folder: Path, stack: Stack, template: dict[str, Any]):
        self.folder, self.stack = folder, stack
        self.tables = [
            logical
            for logical, resource in template["Resources"].items()
            if resource["Type"] == "AWS::DynamoDB::Table" and logical not in SKIPPED_TABLES
        ]
        self._lock = threading.Lock()
        self._saved_objects: dict[str, str] = {}  # bucket/key → ETag already on disk

    # ---- saving ---------------------------------------------------------------------------------
    def save(self) -> None:
        """Write the current state to the folder (objects already saved unchanged are not written again)."""
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            dynamodb = boto3.client("dynamodb")
            for logical in self.tables:
                items: list[dict[str, Any]] = []
                for page in dynamodb.get_paginator("scan").paginate(TableName=self.stack.refs[logical]):
                    items.extend(page["Items"])
                _write(self.folder / "tables" / f"{logical}.json", items)
            self._save_objects()
            self._save_catalog()
            secretsmanager = boto3.client("secretsmanager")
            secrets = []
            for page in secretsmanager.get_paginator("list_secrets").paginate():
                for secret in page["SecretList"]:
                    if secret["Name"].startswith(f"{self.stack.name}/data-sources/") and "DeletedDate" not in secret:
                        value = secretsmanager.get_secret_value(SecretId=secret["ARN"])["SecretString"]
                        secrets.append({"name": secret["Name"], "arn": secret["ARN"], "value": value})
            _write(self.folder / "secrets.json", secrets)

    def _save_objects(self) -> None:
        s3 = boto3.client("s3")
        for logical in BUCKETS:
            bucket, root = self.stack.refs[logical], self.folder / "s3" / logical
            present = set()
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for item in page.get("Contents", []):
                    key, etag = item["Key"], item["ETag"]
                    present.add(key)
                    if self._saved_objects.get(f"{bucket}/{key}") == etag:
                        continue
                    found = s3.get_object(Bucket=bucket, Key=key)
                    target = root / "objects" / key
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(found["Body"].read())
                    _write(
                        root / "meta" / f"{key}.json",
                        {
                            "ContentType": found.get("ContentType"),
                            "ContentEncoding": found.get("ContentEncoding"),
                            "Metadata": found.get("Metadata") or {},
                        },
                    )
                    self._saved_objects[f"{bucket}/{key}"] = etag
            for stale in [
                k for k in self._saved_objects if k.startswith(f"{bucket}/") and k[len(bucket) + 1 :] not in present
            ]:
                key = stale[len(bucket) + 1 :]
                (root / "objects" / key).unlink(missing_ok=True)
                (root / "meta" / f"{key}.json").unlink(missing_ok=True)
                del self._saved_objects[stale]

    def _save_catalog(self) -> None:
        """The lake database's tables as Glue holds them (each names its current metadata file, saved with the
        lake's objects)."""
        glue = boto3.client("glue")
        tables = []
        for page in glue.get_paginator("get_tables").paginate(DatabaseName=self.stack.refs["LakeDatabase"]):
            for table in page["TableList"]:
                tables.append({key: table[key] for key in CATALOG_FIELDS if key in table})
        _write(self.folder / "catalog.json", tables)

    def keep_saving(self, stop: threading.Event, every_seconds: float = 30) -> None:
        """Save every ``every_seconds`` until ``stop`` (a crash loses at most that much)."""
        while not stop.wait(every_seconds):
            try:
                self.save()
            except Exception:  # noqa: BLE001 - the emulator stopping under us, or a disk problem: try again later
                log.warning("saving the local state failed", exc_info=True)

    # ---- restoring ------------------------------------------------------------------------------
    def restore(self) -> int:
        """Put the saved state into the (fresh) emulator; returns the number of tasks restored."""
        if not (self.folder / "tables").is_dir():
            return 0
        arns = self._restore_secrets()
        dynamodb = boto3.client("dynamodb")
        tasks = 0
        for logical in self.tables:
            path = self.folder / "tables" / f"{logical}.json"
            if not path.exists():
                continue
            text = path.read_text()
            for old, new in arns.items():  # data sources name their secrets by ARN, which a new emulator changes
                text = text.replace(old, new)
            items = json.loads(text)
            for start in range(0, len(items), 25):
                dynamodb.batch_write_item(
                    RequestItems={
                        self.stack.refs[logical]: [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
                    }
                )
            tasks += len(items) if logical == "TasksTable" else 0
        self._restore_objects()
        self._restore_catalog()
        self._restore_schedules(dynamodb)
        self._resubmit_unfinished(dynamodb)
        return tasks

    def _restore_catalog(self) -> None:
        path = self.folder / "catalog.json"
        if not path.exists():
            return
        glue = boto3.client("glue")
        for table in json.loads(path.read_text()):
            glue.create_table(DatabaseName=self.stack.refs["LakeDatabase"], TableInput=table)

    def _restore_schedules(self, dynamodb: Any) -> None:
        """Each kept schedule gets its EventBridge Scheduler schedule again (the emulator's were not kept)."""
        if "SchedulesTable" not in self.stack.refs:
            return
        from synchub.dal.codec import from_item
        from synchub.schedules.service import ScheduleService
        from synchub.settings import Settings

        service = ScheduleService(
            Settings(
                schedules_table=self.stack.refs["SchedulesTable"],
                schedule_group=self.stack.refs["ScheduleGroup"],
                schedule_target_arn=self.stack.attributes["FireScheduleFunction"]["Arn"],
                scheduler_role_arn=self.stack.attributes["SchedulerRole"]["Arn"],
            )
        )
        for page in dynamodb.get_paginator("scan").paginate(
            TableName=self.stack.refs["SchedulesTable"],
            FilterExpression="lk = :schedule",
            ExpressionAttributeValues={":schedule": {"S": "SCHEDULE"}},
        ):
            for item in page["Items"]:
                service.put_in_scheduler(from_item(item) or {}, new=True)

    def _restore_secrets(self) -> dict[str, str]:
        path = self.folder / "secrets.json"
        if not path.exists():
            return {}
        secretsmanager, arns = boto3.client("secretsmanager"), {}
        for secret in json.loads(path.read_text()):
            created = secretsmanager.create_secret(Name=secret["name"], SecretString=secret["value"])
            arns[secret["arn"]] = created["ARN"]
        return arns

    def _restore_objects(self) -> None:
        s3 = boto3.client("s3")
        for logical in BUCKETS:
            root = self.folder / "s3" / logical / "objects"
            if not root.is_dir():
                continue
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                key = path.relative_to(root).as_posix()
                meta = json.loads((self.folder / "s3" / logical / "meta" / f"{key}.json").read_text())
                extra = {name: meta[name] for name in ("ContentType", "ContentEncoding") if meta.get(name)}
                put = s3.put_object(
                    Bucket=self.stack.refs[logical],
                    Key=key,
                    Body=path.read_bytes(),
                    Metadata=meta.get("Metadata") or {},
                    **extra,
                )
                self._saved_objects[f"{self.stack.refs[logical]}/{key}"] = put["ETag"]

    def _resubmit_unfinished(self, dynamodb: Any) -> None:
        """Pending tasks go back on the engine's queue; running ones continue their run (their messages were in
        the old emulator's queue)."""
        from synchub.dal.engine_queue import task_message

        sqs, queue = boto3.client("sqs"), self.stack.refs["SyncQueue"]
        for page in dynamodb.get_paginator("scan").paginate(
            TableName=self.stack.refs["TasksTable"],
            FilterExpression="#s IN (:p, :r)",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":p": {"S": "pending"}, ":r": {"S": "running"}},
        ):
            for item in page["Items"]:
                task = {"id": item["id"]["S"], "attempt": int(item.get("attempt", {}).get("N", "1"))}
                run_id = (
                    item["lease_owner"]["S"] if item["status"]["S"] == "running" and "lease_owner" in item else None
                )
                message = task_message(task, run_id=run_id)
                if "next_poll_at" in item:
                    message["not_before"] = item["next_poll_at"]["S"]
                sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(message))


def wipe(folder: Path) -> None:
    """Forget the saved state (``make run ARGS=--fresh``)."""
    shutil.rmtree(folder, ignore_errors=True)


def _write(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(value, default=_bytes))
    temporary.replace(path)


def _bytes(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    raise TypeError(f"cannot save {type(value).__name__}")
