"""What every source and destination provides, and the two kinds of failure the engine tells apart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from synchub.models.streams import StreamSpec


class TransientSourceError(Exception):
    """Worth retrying later: throttling, timeouts, connection resets, HTTP 429/5xx."""


class PermanentSourceError(Exception):
    """Retrying will not help: bad credentials, not found, bad configuration."""


@dataclass
class Batch:
    rows: list[dict[str, Any]]
    state: dict[str, Any] | None  # where the next batch starts; None when the source is exhausted
    total_rows: int | None = None
    # The newest cursor value the batch covers, for sources whose cursor is not a row field (file times).
    cursor: Any = None


class Source(Protocol):
    def read(self, state: dict[str, Any] | None, batch_size: int, watermark: Any = None) -> Batch: ...

    def close(self) -> None: ...


class Part(Protocol):
    """One part being filled: rows are added batch by batch, and ``close`` makes them durable."""

    rows: int  # rows added so far
    size: int  # their size as uncompressed JSON, in bytes

    def add(self, rows: list[dict[str, Any]]) -> None: ...

    def close(self) -> dict[str, Any]: ...


class Destination(Protocol):
    """Where a run's rows go, in numbered parts (the same number always names the same part, so rewriting
    one after a crash is harmless)."""

    def part_key(self, number: int) -> str: ...

    def open_part(self, number: int) -> Part: ...

    def finish(self, parts: list[dict[str, Any]], summary: dict[str, Any]) -> str | None: ...


def dig(document: Any, path: str | None) -> Any:
    """The value at a dotted ``path`` of a JSON document (``None`` path: the document itself)."""
    if not path:
        return document
    node = document
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def newer_than(value: Any, watermark: Any) -> bool:
    """Whether a cursor value lies past the watermark (numbers numerically, everything else as text)."""
    if watermark is None:
        return True
    if value is None:
        return False
    if isinstance(value, (int, float)) and isinstance(watermark, (int, float)):
        return value > watermark
    return str(value) > str(watermark)
