"""PostgreSQL's logical replication protocol (``pgoutput``, version 1) read into change events.

The messages are those ``pg_logical_slot_peek_binary_changes`` returns, one per row: Begin, Relation, Insert,
Update, Delete, Truncate, Commit (Type and Origin are read and passed over). Column values stay in the text
form the server sent: the source turns them into typed values with the same loaders its queries use.
Nothing here talks to a database."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

POSTGRES_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)


class Unchanged:
    """A TOASTed value an update left as it was, which the server does not send again."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = Unchanged()
Value = bytes | None | Unchanged  # text form, null, or a TOASTed value not sent


def lsn_text(lsn: int) -> str:
    """An LSN as PostgreSQL writes it (``16/B374D848``)."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def lsn_number(text: str) -> int:
    """An LSN written ``16/B374D848`` as its 64-bit number."""
    high, _, low = str(text).partition("/")
    return (int(high, 16) << 32) + int(low, 16)


def _time(microseconds: int) -> datetime:
    return POSTGRES_EPOCH + timedelta(microseconds=microseconds)


@dataclass(frozen=True)
class RelationColumn:
    name: str
    type_oid: int
    type_modifier: int
    key: bool  # part of the replica identity


@dataclass(frozen=True)
class Relation:
    id: int
    schema: str
    name: str
    replica_identity: str  # d(efault), n(othing), f(ull), i(ndex)
    columns: tuple[RelationColumn, ...]


@dataclass(frozen=True)
class Begin:
    final_lsn: int  # the LSN of the transaction's commit record
    commit_time: datetime
    xid: int


@dataclass(frozen=True)
class Commit:
    commit_lsn: int
    end_lsn: int  # where the next transaction's changes may start
    commit_time: datetime


@dataclass(frozen=True)
class RowChange:
    """An insert, update or delete of one row: ``new`` holds every column for inserts and updates, ``old`` the
    key columns (or, with replica identity full, every column) for deletes and key-changing updates."""

    operation: str  # insert, update, delete
    relation_id: int
    new: tuple[Value, ...] | None = None
    old: tuple[Value, ...] | None = None


@dataclass(frozen=True)
class Truncate:
    relation_ids: tuple[int, ...]
    cascade: bool = False
    restart_identity: bool = False


@dataclass(frozen=True)
class Skipped:
    """A message the sync does not need (Type, Origin, a logical decoding message)."""

    kind: str


Message = Begin | Commit | Relation | RowChange | Truncate | Skipped


@dataclass
class _Reader:
    data: bytes
    at: int = field(default=0)

    def take(self, fmt: str) -> Any:
        values = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return values[0] if len(values) == 1 else values

    def text(self) -> str:
        end = self.data.index(b"\0", self.at)
        value = self.data[self.at : end].decode()
        self.at = end + 1
        return value

    def tuple_data(self) -> tuple[Value, ...]:
        values: list[Value] = []
        for _ in range(self.take("!H")):
            kind = self.data[self.at : self.at + 1]
            self.at += 1
            if kind == b"n":
                values.append(None)
            elif kind == b"u":
                values.append(UNCHANGED)
            elif kind in (b"t", b"b"):
                length = self.take("!I")
                values.append(self.data[self.at : self.at + length])
                self.at += length
            else:
                raise ValueError(f"unknown tuple value kind {kind!r}")
        return tuple(values)


def decode(data: bytes) -> Message:
    """One ``pgoutput`` protocol version 1 message."""
    data = bytes(data)
    reader = _Reader(data, 1)
    kind = data[:1]
    if kind == b"B":
        final_lsn, commit_time, xid = reader.take("!QqI")
        return Begin(final_lsn, _time(commit_time), xid)
    if kind == b"C":
        _flags, commit_lsn, end_lsn, commit_time = reader.take("!BQQq")
        return Commit(commit_lsn, end_lsn, _time(commit_time))
    if kind == b"R":
        relation_id = reader.take("!I")
        schema, name = reader.text(), reader.text()
        identity = chr(reader.take("!B"))
        columns = []
        for _ in range(reader.take("!H")):
            flags = reader.take("!B")
            column_name = reader.text()
            type_oid, type_modifier = reader.take("!Ii")
            columns.append(RelationColumn(column_name, type_oid, type_modifier, bool(flags & 1)))
        return Relation(relation_id, schema, name, identity, tuple(columns))
    if kind == b"I":
        relation_id = reader.take("!I")
        reader.at += 1  # 'N'
        return RowChange("insert", relation_id, new=reader.tuple_data())
    if kind == b"U":
        relation_id = reader.take("!I")
        old = None
        if data[reader.at : reader.at + 1] in (b"K", b"O"):
            reader.at += 1
            old = reader.tuple_data()
        reader.at += 1  # 'N'
        return RowChange("update", relation_id, new=reader.tuple_data(), old=old)
    if kind == b"D":
        relation_id = reader.take("!I")
        reader.at += 1  # 'K' or 'O'
        return RowChange("delete", relation_id, old=reader.tuple_data())
    if kind == b"T":
        count, options = reader.take("!IB")
        relation_ids = tuple(reader.take("!I") for _ in range(count))
        return Truncate(relation_ids, bool(options & 1), bool(options & 2))
    if kind in (b"Y", b"O", b"M"):
        return Skipped(kind.decode())
    raise ValueError(f"unknown pgoutput message {kind!r}")
