"""The data-lake destination: gzip JSON Lines parts in S3, one per (task, part number), and a manifest.

A part is filled by several reads: each batch is encoded and compressed as it arrives (so a part held in
memory is its compressed size), and the part is written in one PUT when it is closed."""

from __future__ import annotations

import gzip
import json
import zlib
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import simplejson

from synchub import aws


class _HasDecimal(Exception):
    """A batch holds a decimal: it is written by the encoder that keeps decimals exact."""


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        if value.is_finite():
            raise _HasDecimal
        return str(value)
    if isinstance(value, (UUID, bytes)):
        return value.hex() if isinstance(value, bytes) else str(value)
    return str(value)


_ENCODER = json.JSONEncoder(default=_default, separators=(",", ":"), ensure_ascii=False)
# Decimals as exact JSON numbers with their scale (3.00, 12345678901234567.89), never through a float.
_EXACT_ENCODER = simplejson.JSONEncoder(default=_default, separators=(",", ":"), ensure_ascii=False, use_decimal=True)


ROWS_METADATA = "rows"  # each part's row count, in its S3 metadata


def part_rows(bucket: str, key: str) -> int:
    """A written part's row count, from its S3 metadata (one HEAD)."""
    head = aws.client("s3").head_object(Bucket=bucket, Key=key)
    return int(head.get("Metadata", {}).get(ROWS_METADATA, 0))


def encoded_rows(rows: list[dict[str, Any]]) -> bytes:
    """Rows as JSON Lines (the uncompressed form a part's size is measured in); decimals exact."""
    try:
        return "".join(_ENCODER.encode(row) + "\n" for row in rows).encode()
    except _HasDecimal:  # met at its first decimal: the standard encoder is the faster where there are none
        return "".join(_EXACT_ENCODER.encode(row) + "\n" for row in rows).encode()


class LakePart:
    """A part being filled: gzip JSON Lines, compressed batch by batch, written by ``close``."""

    def __init__(self, bucket: str, key: str):
        self.bucket, self.key = bucket, key
        self.rows = self.size = 0
        self._compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: a gzip stream
        self._chunks: list[bytes] = []

    def add(self, rows: list[dict[str, Any]], columns: Any = None) -> None:
        data = encoded_rows(rows)
        self._chunks.append(self._compressor.compress(data))
        self.rows += len(rows)
        self.size += len(data)

    def close(self) -> dict[str, Any]:
        body = b"".join(self._chunks) + self._compressor.flush()
        aws.client("s3").put_object(
            Bucket=self.bucket,
            Key=self.key,
            Body=body,
            ContentType="application/x-ndjson",
            ContentEncoding="gzip",
            Metadata={ROWS_METADATA: str(self.rows)},
        )
        return {"key": self.key, "rows": self.rows}


class LakeDestination:
    """Writes ``{data_source_id}/{interface_id}/{task_id}/part-{n}.jsonl.gz``; rewriting a part is harmless."""

    def __init__(self, bucket: str, data_source_id: str, interface_id: str, task_id: str):
        self.bucket = bucket
        self.prefix = f"{data_source_id}/{interface_id}/{task_id}"

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
        parts = [part if "rows" in part else {**part, "rows": part_rows(self.bucket, part["key"])} for part in parts]
        key = f"{self.prefix}/manifest.json"
        manifest = {**summary, "bucket": self.bucket, "parts": parts, "rows": sum(int(p["rows"]) for p in parts)}
        aws.client("s3").put_object(
            Bucket=self.bucket, Key=key, Body=json.dumps(manifest, indent=2).encode(), ContentType="application/json"
        )
        return key


class LakeReader:
    """What a task wrote to the data lake, for people to look at: its parts (rows, bytes, a short-lived
    download URL), its manifest, and its first rows."""

    def __init__(self, bucket: str, url_seconds: int):
        self.bucket, self.url_seconds = bucket, url_seconds

    def manifest(self, key: str) -> dict[str, Any] | None:
        try:
            body = aws.client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except aws.client("s3").exceptions.NoSuchKey:
            return None
        return json.loads(body)

    def sizes(self, prefixes: set[str], limit: int = 1000) -> dict[str, int]:
        """Bytes of the objects under each prefix (one listing page each: up to ``limit`` objects)."""
        sizes: dict[str, int] = {}
        for prefix in sorted(prefixes):
            listing = aws.client("s3").list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=limit)
            sizes.update({item["Key"]: int(item["Size"]) for item in listing.get("Contents", [])})
        return sizes

    def rows_of(self, key: str) -> int:
        return part_rows(self.bucket, key)

    def url(self, key: str) -> str:
        """A pre-signed GET of ``key`` (no request is made to create it)."""
        return aws.client("s3").generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=self.url_seconds
        )

    def first_rows(self, keys: list[str], count: int) -> list[dict[str, Any]]:
        """The first ``count`` rows of the parts, in order (reading only as many parts as that takes)."""
        rows: list[dict[str, Any]] = []
        for key in keys:
            stream = aws.client("s3").get_object(Bucket=self.bucket, Key=key)["Body"]
            lines = gzip.GzipFile(fileobj=stream)
            for line in lines:
                rows.append(json.loads(line))
                if len(rows) == count:
                    return rows
        return rows
