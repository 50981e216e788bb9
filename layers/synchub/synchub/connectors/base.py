"""What every source and destination provides, and the two kinds of failure the engine tells apart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, Protocol

from synchub.models.streams import StreamSpec


class TransientSourceError(Exception):
    """Worth retrying later: throttling, timeouts, connection resets, HTTP 429/5xx."""


class PermanentSourceError(Exception):
    """Retrying will not help: bad credentials, not found, bad configuration."""

    code = "SOURCE_ERROR"  # the task's error_code when this fails it


class DestinationRefused(PermanentSourceError):
    """The source (or a link or redirect it gave) leads to an address the outbound policy refuses."""

    code = "DESTINATION_NOT_ALLOWED"


class SourceErrors:
    """A context manager turning a driver's exceptions into transient or permanent source errors: ``classify``
    gives the error to raise instead (chained to the driver's), or None to let the exception through."""

    def __init__(self, classify: Callable[[Exception], Exception | None]):
        self.classify = classify

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> bool:
        if error is None or isinstance(error, (PermanentSourceError, TransientSourceError)):
            return False
        mapped = self.classify(error)
        if mapped is None:
            return False
        raise mapped from error


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


class AcknowledgingSource(Source, Protocol):
    """A source whose broker holds each message until it is acknowledged (MQTT): the runner calls
    ``acknowledge`` with the checkpoint's source state once that checkpoint is stored, so a message is
    acknowledged only after the part holding it is written."""

    def acknowledge(self, state: dict[str, Any] | None) -> None: ...


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
    """Whether a cursor value lies past the watermark: numbers numerically, lists element by element (Redis
    entry ids as [ms, seq]), maps of positions when any position is further on (Kafka offsets per partition),
    everything else as text."""
    if watermark is None:
        return True
    if value is None:
        return False
    if isinstance(value, (int, float)) and isinstance(watermark, (int, float)):
        return value > watermark
    if isinstance(value, dict) and isinstance(watermark, dict):
        return any(newer_than(position, watermark.get(key)) for key, position in value.items())
    if isinstance(value, list) and isinstance(watermark, list):
        return [int(part) for part in value] > [int(part) for part in watermark]
    return str(value) > str(watermark)


def newest(current: Any, value: Any) -> Any:
    """The newer of two cursor values; maps of positions merge, each position taking the further one."""
    if isinstance(current, dict) and isinstance(value, dict):
        return {**current, **{key: position for key, position in value.items()
                              if newer_than(position, current.get(key))}}
    return value if newer_than(value, current) else current
