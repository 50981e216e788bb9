"""Identifiers: time-sortable task ids and stable shard numbers."""

from __future__ import annotations

import re
import zlib
from datetime import datetime

from ulid import ULID

TASK_ID_PATTERN = re.compile(r"^task_[0-9A-HJKMNP-TV-Z]{26}$")
NAME_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def new_task_id(created: datetime | None = None) -> str:
    """``task_`` + a ULID of the creation time: lexicographic order is creation order (to the millisecond)."""
    return f"task_{ULID.from_datetime(created) if created else ULID()}"


def task_id_floor(moment: datetime) -> str:
    """The smallest task id created at ``moment``: every task created earlier sorts below it (moments
    before 1970, where ids start, give the smallest id of all)."""
    if moment.timestamp() <= 0:
        return f"task_{'0' * 26}"
    return f"task_{str(ULID.from_datetime(moment))[:10]}{'0' * 16}"


def new_data_source_id() -> str:
    return f"ds_{str(ULID()).lower()}"


def new_schedule_id() -> str:
    return f"sch_{str(ULID()).lower()}"


def is_task_id(value: str) -> bool:
    return bool(TASK_ID_PATTERN.match(value))


def shard_of(key: str, shards: int) -> int:
    """A stable shard in ``[0, shards)`` for ``key`` (CRC32, the same in every process)."""
    return zlib.crc32(key.encode()) % shards
