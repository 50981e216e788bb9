"""Key ranges of a SQL table, for a sync split over parallel engine invocations: boundaries at the quantiles
of the primary key, read from the whole key column of a small table or from a sample of a large one, so a
skewed key (most rows in a narrow stretch of its values) still splits into ranges of about as many rows each.
Equal-width ranges over ``min``/``max`` would put most rows in one range then.

A range holds the keys ``low <= key < high`` (``None``: unbounded on that side), in the key's own order, so
the ranges together hold every row once, whatever rows come and go meanwhile."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from synchub.connectors.base import PermanentSourceError
from synchub.connectors.sql import MySqlSource, PostgresSource, SqlSource

SAMPLE_ROWS = 100_000  # keys read to place the boundaries: the whole column up to this many rows, else a sample
BERNOULLI_ROWS = 20_000_000  # PostgreSQL samples rows one by one up to this many, pages beyond


@dataclass(frozen=True)
class KeyRange:
    index: int
    low: Any = None  # the range's first key (inclusive); None: from the table's first
    high: Any = None  # the next range's first key (exclusive); None: to the table's last

    def stored(self) -> dict[str, Any]:
        """The range as a task stores it (dates and times as ISO text, which the database compares as such)."""
        return {"index": self.index, "low": _storable(self.low), "high": _storable(self.high)}

    def where(self, quoted_key: str) -> tuple[str, list[Any]]:
        """The SQL condition selecting the range's rows, and its parameters."""
        clauses, params = [], []
        if self.low is not None:
            clauses.append(f"{quoted_key} >= %s")
            params.append(self.low)
        if self.high is not None:
            clauses.append(f"{quoted_key} < %s")
            params.append(self.high)
        return " AND ".join(clauses) or "TRUE", params


def _storable(key: Any) -> Any:
    if key is None or isinstance(key, (bool, int, str)):
        return key
    if isinstance(key, Decimal):
        return int(key) if key == key.to_integral_value() else str(key)
    isoformat = getattr(key, "isoformat", None)
    return isoformat() if callable(isoformat) else str(key)


def boundaries(sorted_keys: list[Any], parts: int) -> list[Any]:
    """The keys at the quantiles 1/parts … (parts-1)/parts of ``sorted_keys``, each once (a key repeated across
    a quantile makes one range fewer rather than an empty one)."""
    found: list[Any] = []
    for part in range(1, parts):
        key = sorted_keys[len(sorted_keys) * part // parts]
        if key > (found[-1] if found else sorted_keys[0]):  # the first key as a boundary would leave a range empty
            found.append(key)
    return found


def key_ranges(source: SqlSource, parts: int, *, sample_rows: int = SAMPLE_ROWS) -> list[KeyRange]:
    """The table split into up to ``parts`` ranges of its primary key with about as many rows each (fewer when
    the table has fewer distinct keys). A query stream has no table to sample: one range."""
    if parts <= 1 or not source.stream.table_name:
        return [KeyRange(0)]
    key = source.order[0]
    quoted = source.quote(key)
    estimate = _estimated_rows(source)
    sample = ""
    if estimate > sample_rows:
        share = min(
            100.0, 200.0 * sample_rows / estimate
        )  # percent: about twice the rows wanted, for small tables' pages
        if isinstance(source, PostgresSource):
            # row by row up to BERNOULLI_ROWS (a scan, but even); whole pages beyond (cheap, lumpier)
            method = "BERNOULLI" if estimate <= BERNOULLI_ROWS else "SYSTEM"
            sample = f" TABLESAMPLE {method} ({share:.6f})"
        elif isinstance(source, MySqlSource):
            sample = f" WHERE RAND() < {share / 100:.8f}"
    keys = [
        row[0]
        for row in source._catalog(f"SELECT {quoted} FROM {source.relation()}{sample} ORDER BY {quoted}", [])
        if row[0] is not None
    ]
    if not keys:
        return [KeyRange(0)]
    if not all(isinstance(value, type(keys[0])) for value in keys):
        raise PermanentSourceError(f"primary key '{key}' holds values of more than one type: it cannot be split")
    cuts = boundaries(keys, parts)
    edges = [None, *cuts, None]
    return [KeyRange(index, edges[index], edges[index + 1]) for index in range(len(edges) - 1)]


def _estimated_rows(source: SqlSource) -> int:
    """The table's row count as the planner's statistics have it (no scan), or counted where they have none."""
    schema, _, table = (source.stream.table_name or "").rpartition(".")
    if isinstance(source, PostgresSource):
        rows = source._catalog(
            "SELECT GREATEST(reltuples, 0)::bigint FROM pg_class WHERE oid = %s::regclass", [source.stream.table_name]
        )
    else:
        rows = source._catalog(
            "SELECT table_rows FROM information_schema.tables WHERE table_name = %s AND table_schema = "
            + ("%s" if schema else source.current_schema),
            [table, schema] if schema else [table],
        )
    estimate = int(rows[0][0] or 0) if rows else 0
    if estimate <= 0:  # never analysed: count once (the keys would be read whole otherwise)
        estimate = int(source._catalog(f"SELECT COUNT(*) FROM {source.relation()}", [])[0][0])
    return estimate
