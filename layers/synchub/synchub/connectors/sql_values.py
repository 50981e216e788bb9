"""Driver values as JSON-ready values, exactly: decimals keep their digits and scale (never a float), times
their offset and microseconds, durations and money the source's own reading."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from functools import partial
from typing import Any, overload
from uuid import UUID


def _decimal(value: Decimal) -> Decimal | str:
    """A decimal kept exact, with its scale (``3.00``); NaN and infinities, which JSON has no number for, as text."""
    return value if value.is_finite() else str(value)


def _duration(value: timedelta) -> str:
    """A duration (MySQL ``TIME``) as the source writes it: ``[-]H:MM:SS[.ffffff]``, hours past 24 included."""
    sign, value = ("-", -value) if value < timedelta(0) else ("", value)
    seconds, micros = divmod(value.days * 86_400_000_000 + value.seconds * 1_000_000 + value.microseconds, 1_000_000)
    text = f"{sign}{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{text}.{micros:06d}" if micros else text


_NATIVE = frozenset({str, int, float, bool, type(None), dict, list})
_CONVERTERS: dict[type, Any] = {
    datetime: datetime.isoformat,
    date: date.isoformat,
    time: time.isoformat,
    Decimal: _decimal,
    UUID: str,
    bytes: bytes.hex,
    timedelta: _duration,
}


def jsonable(value: Any) -> Any:
    """One driver value as a JSON-ready value, exactly: decimals stay decimals (JSON numbers with their scale),
    times keep their offset and microseconds."""
    if type(value) in _NATIVE:
        return value
    for kind, convert in _CONVERTERS.items():
        if isinstance(value, kind):
            return convert(value)
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value).hex()
    return value


def json_rows(names: list[str], raws: list[Any], utc_columns: frozenset[int] = frozenset()) -> list[dict[str, Any]]:
    """Rows as dicts of JSON-ready values, converted column by column: only columns holding values JSON
    cannot carry as they are (dates, UUIDs, bytes, non-finite decimals) are touched, each with the converter of
    its type. Naive times in ``utc_columns`` are UTC (MySQL ``TIMESTAMP`` read in a UTC session)."""
    columns = list(zip(*raws))
    for index, column in enumerate(columns):
        if index in utc_columns:
            column = tuple(
                value.replace(tzinfo=timezone.utc) if isinstance(value, datetime) and value.tzinfo is None else value
                for value in column
            )
        kinds = set(map(type, column)) - _NATIVE
        if kinds == {Decimal} and all(type(value) is not Decimal or value.is_finite() for value in column):
            kinds = set()
        if not kinds:
            columns[index] = column
            continue
        convert = _CONVERTERS.get(next(iter(kinds)), jsonable) if len(kinds) == 1 else jsonable
        columns[index] = tuple(value if type(value) in _NATIVE else convert(value) for value in column)
    return [dict(zip(names, values)) for values in zip(*columns)]


ORDERED_DRIVER_TYPES = frozenset({datetime, date, int, Decimal})


class DriverRows(Sequence[dict[str, Any]]):
    """A batch's rows as the driver read them (``values``, in ``names`` order), read as JSON-ready dicts
    (``json_rows``) only when a row is asked for: a lake table's Parquet takes the driver's values as they are,
    the JSON-ready form is made only for JSON Lines, DynamoDB and samples. ``len`` costs nothing."""

    def __init__(self, names: list[str], values: list[Any], utc_columns: frozenset[int] = frozenset()):
        self.names, self.values, self.utc_columns = names, values, utc_columns
        self._rows: list[dict[str, Any]] | None = None

    def at_newest(self, cursor_field: str) -> list[dict[str, Any]] | None:
        """The JSON-ready rows holding the newest ``cursor_field`` value, found by comparing the driver's values
        (all one orderable type: times all zoned or all naive, dates, integers, finite decimals); None where
        they are not, for the caller to compare every JSON-ready row instead."""
        index = self.names.index(cursor_field)
        values = [row[index] for row in self.values if row[index] is not None]
        if not values:
            return []
        kinds = set(map(type, values))
        if len(kinds) != 1 or not kinds <= ORDERED_DRIVER_TYPES:
            return None
        if datetime in kinds and len({value.tzinfo is None for value in values}) > 1:
            return None
        if Decimal in kinds and not all(value.is_finite() for value in values):
            return None
        newest = max(values)
        return json_rows(self.names, [row for row in self.values if row[index] == newest], self.utc_columns)

    def _materialized(self) -> list[dict[str, Any]]:
        if self._rows is None:
            self._rows = json_rows(self.names, self.values, self.utc_columns)
        return self._rows

    def __len__(self) -> int:
        return len(self.values)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        return self._materialized()[index]

    def __iter__(self) -> Any:
        return iter(self._materialized())


def money(text: str) -> Decimal:
    """A PostgreSQL ``money`` value as its server writes it (``$1,234.50``, ``-$3.00``, ``($3.00)``, ``1.234,50 €``)
    as the exact decimal: the last ``.`` or ``,`` followed by one or two digits is the decimal point (three are
    a thousands group: ``¥1,234``)."""
    negative = "-" in text or text.strip().startswith("(")
    digits = re.sub(r"[^0-9.,]", "", text)
    point = max(digits.rfind("."), digits.rfind(","))
    if (
        point >= 0
        and digits[point + 1 :].isdigit()
        and len(digits) - point - 1 <= 2
        and digits.count(digits[point]) == 1
    ):
        whole, fraction = re.sub(r"[.,]", "", digits[:point]), digits[point + 1 :]
    else:
        whole, fraction = re.sub(r"[.,]", "", digits), ""
    value = Decimal(f"{whole or '0'}.{fraction}" if fraction else whole or "0")
    return -value if negative else value


def exact_postgres_values(connection: Any) -> None:
    """Load what psycopg would round exactly: ``money`` as a decimal, ``interval`` as the server writes it
    (psycopg makes a month 30 days), numbers inside ``json``/``jsonb`` as decimals."""
    from psycopg.adapt import Loader  # noqa: PLC0415 - one module serves two drivers: load only the one a task uses
    from psycopg.types.json import set_json_loads  # noqa: PLC0415 - as above
    from psycopg.types.string import TextLoader  # noqa: PLC0415 - as above

    class MoneyLoader(Loader):
        def load(self, data: Any) -> Decimal:
            return money(bytes(data).decode())

    connection.adapters.register_loader("money", MoneyLoader)
    connection.adapters.register_loader("interval", TextLoader)
    set_json_loads(partial(json.loads, parse_float=Decimal), connection)
