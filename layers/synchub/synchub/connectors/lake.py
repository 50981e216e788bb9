"""The data-lake destination: gzip JSON Lines parts in S3, one per (task, part number), and a manifest."""

from __future__ import annotations

import gzip
import json
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


def encode_part(rows: list[dict[str, Any]]) -> bytes:
    """Rows as gzip-compressed JSON Lines (deterministic: same rows, same bytes), compressed in one call."""
    text = "".join(_ENCODER.encode(row) + "\n" for row in rows)
    return gzip.compress(text.encode(), compresslevel=6, mtime=0)


ROWS_METADATA = "rows"  # each part's row count, in its S3 metadata


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

    def write(self, number: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
        key = self.part_key(number)
        aws.client("s3").put_object(
            Bucket=self.bucket, Key=key, Body=encode_part(rows), ContentType="application/x-ndjson",
            ContentEncoding="gzip", Metadata={ROWS_METADATA: str(len(rows))},
        )
        return {"key": key, "rows": len(rows)}

    def finish(self, parts: list[dict[str, Any]], summary: dict[str, Any]) -> str:
        """Write the manifest: every part with its rows (a part's own metadata says how many, so no list of
        them is kept while the task runs)."""
        parts = [part if "rows" in part else {**part, "rows": self.rows_of(part["key"])} for part in parts]
        key = f"{self.prefix}/manifest.json"
        manifest = {**summary, "bucket": self.bucket, "parts": parts,
                    "rows": sum(int(p["rows"]) for p in parts)}
        aws.client("s3").put_object(Bucket=self.bucket, Key=key, Body=json.dumps(manifest, indent=2).encode(),
                                    ContentType="application/json")
        return key
