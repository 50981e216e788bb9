"""Files in S3 as a source: CSV, JSON (an array, or records at ``records_path``) and JSON Lines.

Objects under the prefix are read in key order; a checkpoint is (last finished key, current key, rows
taken from it). Incremental runs take only objects modified at or after the watermark (the newest
modification time of the objects a successful run read), less the objects that run read at exactly that time:
S3 keeps modification times to the second, so two objects can share one.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from typing import Any, Collection

from botocore.exceptions import ClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from synchub import aws
from synchub.connectors.base import (
    BOUNDARY_KEYS_MAX,
    Batch,
    PermanentSourceError,
    StreamSpec,
    TransientSourceError,
    dig,
)

TRANSIENT_S3 = frozenset({"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "Throttling"})


class S3FileSource:
    def __init__(self, connection: dict[str, Any], stream: StreamSpec, file_format: str):
        self.bucket = connection["bucket"]
        self.prefix = stream.prefix if stream.prefix is not None else str(connection.get("prefix") or "")
        self.format = stream.format or file_format
        self.stream = stream
        self._cache: tuple[str, list[dict[str, Any]]] | None = None

    def _call(self, operation: str, **params: Any) -> Any:
        try:
            return getattr(aws.client("s3"), operation)(**params)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in TRANSIENT_S3:
                raise TransientSourceError(f"S3 {code}") from error
            raise PermanentSourceError(f"S3 refused {operation} on bucket '{self.bucket}': {code}") from error
        except BotoConnectionError as error:
            raise TransientSourceError(f"S3 unreachable: {type(error).__name__}") from error

    def _objects_after(self, key: str | None, watermark: Any, delivered: Collection[Any]) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix, "MaxKeys": 1000}
        if key:
            params["StartAfter"] = key
        found: list[dict[str, Any]] = []
        while True:
            response = self._call("list_objects_v2", **params)
            for obj in response.get("Contents", []):
                if obj["Key"].endswith("/"):
                    continue
                modified = obj["LastModified"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                if (
                    watermark is None
                    or modified > str(watermark)
                    or (modified == str(watermark) and obj["Key"] not in delivered)
                ):
                    found.append({"key": obj["Key"], "modified": modified})
            if not response.get("IsTruncated") or len(found) >= 100:
                return found
            params["ContinuationToken"] = response["NextContinuationToken"]

    def _rows(self, key: str) -> list[dict[str, Any]]:
        if self._cache and self._cache[0] == key:
            return self._cache[1]
        body = self._call("get_object", Bucket=self.bucket, Key=key)["Body"].read()
        if key.endswith(".gz"):
            body = gzip.decompress(body)
        text = body.decode("utf-8-sig")
        try:
            if self.format == "csv":
                rows = list(csv.DictReader(io.StringIO(text)))
            elif self.format == "jsonl":
                rows = [json.loads(line) for line in text.splitlines() if line.strip()]
            else:
                document = json.loads(text) if text.strip() else []
                rows = dig(document, self.stream.records_path) if self.stream.records_path else document
                if isinstance(rows, dict):
                    rows = [rows]
        except (ValueError, csv.Error) as error:
            raise PermanentSourceError(f"'{key}' is not valid {self.format}: {error}") from error
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise PermanentSourceError(f"'{key}' does not hold a list of records")
        self._cache = (key, rows)
        return rows

    def read(
        self,
        state: dict[str, Any] | None,
        batch_size: int,
        watermark: Any = None,
        delivered: Collection[Any] | None = (),
    ) -> Batch:
        state = dict(state or {"done": None, "key": None, "offset": 0, "modified": None})
        rows: list[dict[str, Any]] = []
        newest, newest_keys = state.get("modified"), list(state.get("modified_keys") or [])
        while len(rows) < batch_size:
            if state["key"] is None:
                upcoming = self._objects_after(state["done"], watermark, set(delivered or ()))
                if not upcoming:
                    break
                state.update(key=upcoming[0]["key"], offset=0, key_modified=upcoming[0]["modified"])
                modified = state["key_modified"]
                if newest is None or modified > newest:
                    newest, newest_keys = modified, [state["key"]]
                elif modified == newest and len(newest_keys) <= BOUNDARY_KEYS_MAX:  # one more tells it overflowed
                    newest_keys.append(state["key"])
            file_rows = self._rows(state["key"])
            take = file_rows[state["offset"] : state["offset"] + batch_size - len(rows)]
            rows.extend(take)
            state["offset"] += len(take)
            if state["offset"] >= len(file_rows):
                state.update(done=state["key"], key=None, offset=0)
        else:
            state.update(modified=newest, modified_keys=newest_keys)
            return Batch(rows, state, None, cursor=newest, cursor_keys=tuple(newest_keys))
        return Batch(rows, None, None, cursor=newest, cursor_keys=tuple(newest_keys))

    def close(self) -> None:
        self._cache = None
