"""Rows as Arrow: a table's columns as an Arrow schema, and a batch of rows (the JSON-ready values sources
give) as an Arrow table of those types, each value back in its exact type (ISO times as timestamps, hex as
bytes, decimals as decimals)."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timezone
from decimal import Decimal
from typing import Any, Callable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from synchub.models.columns import Column, inferred_columns, wider

ARROW_TYPES: dict[str, Callable[[Column], pa.DataType]] = {
    "int": lambda _: pa.int32(),
    "long": lambda _: pa.int64(),
    "float": lambda _: pa.float32(),
    "double": lambda _: pa.float64(),
    "decimal": lambda column: pa.decimal128(column.precision or 38, column.scale or 0),
    "string": lambda _: pa.string(),
    "json": lambda _: pa.string(),
    "boolean": lambda _: pa.bool_(),
    "date": lambda _: pa.date32(),
    "time": lambda _: pa.time64("us"),
    "timestamp": lambda _: pa.timestamp("us"),
    "timestamptz": lambda _: pa.timestamp("us", tz="UTC"),
    "binary": lambda _: pa.binary(),
}


def arrow_type(column: Column) -> pa.DataType:
    return ARROW_TYPES[column.kind](column)


def arrow_schema(columns: list[Column]) -> pa.Schema:
    return pa.schema([pa.field(column.name, arrow_type(column), nullable=True) for column in columns])


def column_of(field: pa.Field) -> Column:
    """The column an Arrow field holds (the inverse of ``arrow_type``)."""
    kind = field.type
    if pa.types.is_decimal(kind):
        return Column(field.name, "decimal", kind.precision, kind.scale)
    if pa.types.is_timestamp(kind):
        return Column(field.name, "timestamptz" if kind.tz else "timestamp")
    for name, make in ARROW_TYPES.items():
        if name not in ("decimal", "json", "timestamp", "timestamptz") and make(Column(field.name, name)) == kind:
            return Column(field.name, name)
    if pa.types.is_large_string(kind):
        return Column(field.name, "string")
    if pa.types.is_large_binary(kind):
        return Column(field.name, "binary")
    return Column(field.name, "string")


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, default=str, separators=(",", ":"), ensure_ascii=False)


def _iso(parse: Callable[[str], Any]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        return parse(value) if isinstance(value, str) else value

    return convert


def _utc(value: Any) -> Any:
    """A zoned time; one without a zone is taken as UTC (how the sources read zoned columns)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if isinstance(moment, datetime) and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


def _binary(value: Any) -> Any:
    if isinstance(value, str):
        return bytes.fromhex(value)
    return value


def _decimal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value if value.is_finite() else None  # NaN and infinities have no decimal: null
    if isinstance(value, (int, str)):
        number = Decimal(value)
        return number if number.is_finite() else None
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


# How a JSON-ready value returns to its type, where Arrow cannot take it as it is.
CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "string": _text,
    "json": _text,
    "date": _iso(date.fromisoformat),
    "time": _iso(time.fromisoformat),
    "timestamp": _iso(datetime.fromisoformat),
    "timestamptz": _utc,
    "binary": _binary,
    "decimal": _decimal,
}


def column_array(values: list[Any], column: Column) -> pa.Array:
    """One column's values as an Arrow array of its type."""
    kind = arrow_type(column)
    convert = CONVERTERS.get(column.kind)
    if column.kind in ("timestamp", "timestamptz") and all(value is None or isinstance(value, str) for value in values):
        return _timestamps(values, column, kind)
    if convert is not None:
        values = [convert(value) for value in values]
    return pa.array(values, type=kind)


def _timestamps(values: list[Any], column: Column, kind: pa.DataType) -> pa.Array:
    """ISO timestamps parsed by Arrow (fast), else one by one: Arrow's parser takes offsets only for zoned
    columns and reads at most nanoseconds, which Python's does as well."""
    try:
        return pc.cast(pa.array(values, type=pa.string()), kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        convert = CONVERTERS[column.kind]
        return pa.array([convert(value) for value in values], type=kind)


def rows_table(rows: list[dict[str, Any]], columns: list[Column]) -> pa.Table:
    """Rows as an Arrow table of ``columns`` (a row's keys beyond them are dropped, missing ones are null)."""
    arrays = [column_array([row.get(column.name) for row in rows], column) for column in columns]
    return pa.Table.from_arrays(arrays, schema=arrow_schema(columns))


# The driver value types Arrow takes as they are, by column kind (None always): a SQL batch's columns whose
# values are all of these skip the JSON-ready form; any other column is read from it (json, uuid, money ...).
DRIVER_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "long": (int,),
    "float": (float, int),
    "double": (float, int),
    "decimal": (Decimal,),
    "string": (str,),
    "boolean": (bool,),
    "date": (date,),
    "time": (time,),
    "timestamp": (datetime,),
    "timestamptz": (datetime,),  # a naive one is UTC to Arrow, as to the JSON-ready form
    "binary": (bytes,),
}


def _driver_column(values: tuple[Any, ...], column: Column) -> pa.Array | None:
    """One column of driver values as Arrow, or None where a value needs the JSON-ready form first."""
    allowed = DRIVER_TYPES.get(column.kind)
    if allowed is None or not set(map(type, values)) <= {*allowed, type(None)}:
        return None
    if column.kind == "timestamp" and any(value is not None and value.tzinfo is not None for value in values):
        return None
    try:
        return pa.array(values, type=arrow_type(column))
    except pa.ArrowInvalid:  # a NaN or infinite decimal: null, as the JSON-ready path makes it
        return None


def driver_rows_table(names: list[str], values: list[Any], rows: Any, columns: list[Column]) -> pa.Table:
    """A batch read by a SQL driver (``values`` in ``names`` order) as an Arrow table of ``columns``, straight
    from the driver's values where Arrow takes them, else from the batch's JSON-ready ``rows``."""
    by_name = dict(zip(names, zip(*values))) if values else {}
    arrays = []
    for column in columns:
        raw = by_name.get(column.name)
        array = _driver_column(raw, column) if raw is not None else None
        arrays.append(array if array is not None else column_array([row.get(column.name) for row in rows], column))
    return pa.Table.from_arrays(arrays, schema=arrow_schema(columns))


def batch_columns(rows: list[dict[str, Any]], known: list[Column] | None = None) -> list[Column]:
    """The columns of JSON rows (inferred, widening from ``known``)."""
    return inferred_columns(rows, {column.name: column for column in known or []})


def merged_columns(first: list[Column], second: list[Column]) -> list[Column]:
    """The columns both lists fit, in first-seen order: a column seen with two types takes the wider (SQL
    types never change within one sync; JSON ones widen)."""
    merged = {column.name: column for column in first}
    for column in second:
        seen = merged.get(column.name)
        if seen is None or seen == column:
            merged[column.name] = column
        elif seen.kind == column.kind == "decimal":
            scale = max(seen.scale or 0, column.scale or 0)
            digits = max((seen.precision or 0) - (seen.scale or 0), (column.precision or 0) - (column.scale or 0))
            merged[column.name] = Column(column.name, "decimal", min(38, digits + scale), scale)
        else:
            merged[column.name] = Column(column.name, wider(column.name, seen.type_name, column.type_name))
    return list(merged.values())


def conformed(table: pa.Table, columns: list[Column]) -> pa.Table:
    """``table`` with exactly ``columns``, cast to their types (missing columns as nulls)."""
    arrays = []
    for column in columns:
        kind = arrow_type(column)
        if column.name not in table.column_names:
            arrays.append(pa.nulls(table.num_rows, type=kind))
            continue
        array = table[column.name]
        if array.type != kind:
            array = _cast(array, kind)
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=arrow_schema(columns))


def _cast(array: Any, kind: pa.DataType) -> Any:
    if pa.types.is_string(kind) and not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        if pa.types.is_boolean(array.type) or pa.types.is_integer(array.type) or pa.types.is_floating(array.type):
            return pc.cast(array, kind)
        return pa.array([_text(value) for value in array.to_pylist()], type=kind)
    return pc.cast(array, kind)


PARQUET_COMPRESSION = "zstd"


def parquet_bytes(table: pa.Table) -> bytes:
    """``table`` as one Parquet file (zstd); field ids are left to the Iceberg table's name mapping."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression=PARQUET_COMPRESSION)
    return sink.getvalue().to_pybytes()
