"""What every source and destination provides, and the two kinds of failure the engine tells apart."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Collection, Literal, Protocol, Sequence

from synchub.models.columns import Column
from synchub.models.streams import StreamSpec as StreamSpec  # the connectors' stream, named where they look


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

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> Literal[False]:
        if error is None or isinstance(error, (PermanentSourceError, TransientSourceError)):
            return False
        mapped = self.classify(error)
        if mapped is None:
            return False
        raise mapped from error


@dataclass
class Batch:
    rows: Sequence[dict[str, Any]]  # a list, or the driver's values read as dicts on demand (sql_values.DriverRows)
    state: dict[str, Any] | None  # where the next batch starts; None when the source is exhausted
    total_rows: int | None = None
    # The newest cursor value the batch covers, for sources whose cursor is not a row field (file times),
    # and the keys of what it read at exactly that value (the objects modified then).
    cursor: Any = None
    cursor_keys: tuple[Any, ...] = ()
    # The rows' column types where the source knows them (SQL drivers); None: inferred from the values.
    columns: list[Column] | None = None
    # A change-capture source: commit what has been read to the table before the next read (the end of the
    # first copy, each batch of changes), and whether the source had nothing more to give.
    commit: bool = False
    caught_up: bool = False


class Source(Protocol):
    """``read`` returns the batch after ``state``; an incremental read returns what lies at or past
    ``watermark``, less what ``delivered`` names: the keys (``boundary_key``) of what earlier runs delivered at
    exactly the watermark. Sources whose positions are unique (offsets, entry ids) read past it."""

    def read(
        self,
        state: dict[str, Any] | None,
        batch_size: int,
        watermark: Any = None,
        delivered: Collection[Any] | None = (),
    ) -> Batch: ...

    def close(self) -> None: ...


class AcknowledgingSource(Source, Protocol):
    """A source whose broker holds each message until it is acknowledged (MQTT): the runner calls
    ``acknowledge`` with the checkpoint's source state once that checkpoint is stored, so a message is
    acknowledged only after the part holding it is written."""

    def acknowledge(self, state: dict[str, Any] | None) -> None: ...


class ChangeSource(Source, Protocol):
    """A source reading a database's change log (CDC): its batches ask to be committed before the next read
    (``Batch.commit``); ``committed`` is told once they are in the table, and answers the replication lag;
    ``release`` lets go of the log (a replication slot) when the sync ends for good."""

    def committed(self, state: dict[str, Any] | None) -> dict[str, Any]: ...

    def release(self) -> bool: ...

    def primary_key(self) -> str: ...


class Part(Protocol):
    """One part being filled: rows are added batch by batch (with their column types where the source knows
    them), and ``close`` makes them durable."""

    rows: int  # rows added so far
    size: int  # their size uncompressed (JSON, or Arrow for tables), in bytes

    def add(self, rows: list[dict[str, Any]], columns: list[Column] | None = None) -> None: ...

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


NUMBERS = (int, float, Decimal)


def newer_than(value: Any, watermark: Any) -> bool:
    """Whether a cursor value lies past the watermark: numbers numerically, lists element by element (Redis
    entry ids as [ms, seq]), maps of positions when any position is further on (Kafka offsets per partition),
    everything else as text."""
    if watermark is None:
        return True
    if value is None:
        return False
    if isinstance(value, NUMBERS) and isinstance(watermark, NUMBERS):
        return value > watermark
    if isinstance(value, dict) and isinstance(watermark, dict):
        return any(newer_than(position, watermark.get(key)) for key, position in value.items())
    if isinstance(value, list) and isinstance(watermark, list):
        return [int(part) for part in value] > [int(part) for part in watermark]
    return str(value) > str(watermark)


def newest(current: Any, value: Any) -> Any:
    """The newer of two cursor values; maps of positions merge, each position taking the further one."""
    if isinstance(current, dict) and isinstance(value, dict):
        return {
            **current,
            **{key: position for key, position in value.items() if newer_than(position, current.get(key))},
        }
    return value if newer_than(value, current) else current


def at_or_past(value: Any, watermark: Any) -> bool:
    """Whether a cursor value lies at or past the watermark (incremental reads include the boundary)."""
    return watermark is None or (value is not None and not newer_than(watermark, value))


def same_position(value: Any, other: Any) -> bool:
    """Whether two cursor values stand at the same place in the cursor's order."""
    return value is not None and other is not None and not newer_than(value, other) and not newer_than(other, value)


# How many keys a boundary keeps: past that many rows sharing the newest cursor value, the next run reads them
# all again (duplicates, never a loss).
BOUNDARY_KEYS_MAX = 1000


def boundary_key(row: dict[str, Any], primary_key: str | None) -> Any:
    """What names a row at the boundary: its primary key value, else a digest of the whole row."""
    if primary_key and row.get(primary_key) is not None:
        value = row[primary_key]
        return value if isinstance(value, (int, str)) else str(value)
    text = json.dumps(row, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def cursor_boundary(
    rows: Sequence[dict[str, Any]], cursor_field: str, key: Callable[[dict[str, Any]], Any]
) -> tuple[Any, tuple[Any, ...]]:
    """The newest cursor value among ``rows`` and the keys of the rows at exactly that value."""
    value, keys = None, []
    for row in rows:
        cursor = row.get(cursor_field)
        if cursor is None:
            continue
        if newer_than(cursor, value):
            value, keys = cursor, [key(row)]
        elif same_position(cursor, value):
            keys.append(key(row))
    return value, tuple(keys)


def not_delivered(
    rows: list[dict[str, Any]],
    cursor_field: str,
    primary_key: str | None,
    watermark: Any,
    delivered: Collection[Any] | None,
) -> list[dict[str, Any]]:
    """The rows at or past ``watermark``, less those an earlier run delivered at exactly the watermark."""
    kept = [row for row in rows if at_or_past(row.get(cursor_field), watermark)]
    if not delivered or watermark is None:
        return kept
    known = set(delivered)
    return [
        row
        for row in kept
        if not (same_position(row.get(cursor_field), watermark) and boundary_key(row, primary_key) in known)
    ]
