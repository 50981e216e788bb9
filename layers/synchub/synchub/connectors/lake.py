"""The data-lake destination: gzip JSON Lines parts in S3, one per (task, part number), and a manifest.

A part is filled by several reads: each batch is encoded and compressed as it arrives (so a part held in
memory is its compressed size), and the part is written in one PUT when it is closed."""

from __future__ import annotations

import json
import zlib
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from synchub import aws


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (UUID, bytes)):
        return value.hex() if isinstance(value, bytes) else str(value)
    return str(value)


_ENCODER = json.JSONEncoder(default=_default, separators=(",", ":"), ensure_ascii=False)


ROWS_METADATA = "rows"  # each part's row count, in its S3 metadata


def encoded_rows(rows: list[dict[str, Any]]) -> bytes:
    """Rows as JSON Lines (the uncompressed form a part's size is measured in)."""
    return "".join(_ENCODER.encode(row) + "\n" for row in rows).encode()


class LakePart:
    """A part being filled: gzip JSON Lines, compressed batch by batch, written by ``close``."""

    def __init__(self, bucket: str, key: str):
        self.bucket, self.key = bucket, key
        self.rows = self.size = 0
        self._compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: a gzip stream
        self._chunks: list[bytes] = []

    def add(self, rows: list[dict[str, Any]]) -> None:
        data = encoded_rows(rows)
        self._chunks.append(self._compressor.compress(data))
        self.rows += len(rows)
        self.size += len(data)

    def close(self) -> dict[str, Any]:
        body = b"".join(self._chunks) + self._compressor.flush()
        aws.client("s3").put_object(
            Bucket=self.bucket, Key=self.key, Body=body, ContentType="application/x-ndjson",
            ContentEncoding="gzip", Metadata={ROWS_METADATA: str(self.rows)},
        )
        return {"key": self.key, "rows": self.rows}


class LakeDestination:
    """Writes ``{data_source_id}/{interface_id}/{task_id}/part-{n}.jsonl.gz``; rewriting a part is harmless."""

    def __init__(self, bucket: str, data_source_id: str, interface_id: str, task_id: str):
        self.bucket = bucket
        self.prefix = f"{data_source_id}/{interface_id}/{task_id}"

    def rows_of(self, key: str) -> int:
        head = aws.client("s3").head_object(Bucket=self.bucket, Key=key)
        return int(head.get("Metadata", {}).get(ROWS_METADATA, 0))

    def part_key(self, number: int) -> str:
        return f"{self.prefix}/part-{number:05d}.jsonl.gz"

    def open_part(self, number: int) -> LakePart:
        return LakePart(self.bucket, self.part_key(number))

    def write(self, number: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Write part ``number`` holding ``rows`` at once."""
        part = self.open_part(number)
        part.add(rows)
        return part.close()

    def finish(self, parts: list[dict[str, Any]], summary: dict[str, Any]) -> str:
        """Write the manifest: every part with its rows (for a part written by an earlier invocation, its
        own metadata says how many, so no list of them is kept while the task runs)."""
        parts = [part if "rows" in part else {**part, "rows": self.rows_of(part["key"])} for part in parts]
        key = f"{self.prefix}/manifest.json"
        manifest = {**summary, "bucket": self.bucket, "parts": parts,
                    "rows": sum(int(p["rows"]) for p in parts)}
        aws.client("s3").put_object(Bucket=self.bucket, Key=key, Body=json.dumps(manifest, indent=2).encode(),
                                    ContentType="application/json")
        return key
