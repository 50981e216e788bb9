"""UTC time helpers: one clock, one RFC 3339 format."""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Clock:
    """Where a service reads the time: the system's UTC clock. Tests pass their own (a subclass whose
    ``now`` returns what they choose) to the service, rather than patching this module."""

    def now(self) -> datetime:
        return utcnow()

    def now_iso(self) -> str:
        return iso(self.now())


SYSTEM_CLOCK = Clock()


def iso(moment: datetime) -> str:
    """RFC 3339 with milliseconds and a ``Z``: sortable as a string."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_iso() -> str:
    return iso(utcnow())


def parse_iso(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def day_of(text: str) -> str:
    """The UTC day (``YYYY-MM-DD``) of an RFC 3339 timestamp written by :func:`iso`."""
    return text[:10]


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; a time without an offset is read as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
