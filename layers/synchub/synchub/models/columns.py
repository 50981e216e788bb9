"""A table's columns as the sources know them: types from a SQL driver's column descriptions, or inferred from
JSON rows with widening rules, and how two sightings of one column combine. Pure: no pyarrow here.

Kinds: ``int`` (32-bit), ``long``, ``float``, ``double``, ``decimal`` (with precision and scale), ``string``,
``boolean``, ``date``, ``time``, ``timestamp`` (no zone), ``timestamptz`` (UTC), ``binary``; ``json`` is a
string holding a JSON document."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable

# In a part of captured changes (CDC), the column naming each row's operation: insert, update, delete, truncate.
CHANGE_OP = "__synchub_op"


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    precision: int | None = None
    scale: int | None = None

    @property
    def type_name(self) -> str:
        """The type as people read it: ``decimal(10,2)``, ``timestamptz``, ``long``."""
        return f"decimal({self.precision},{self.scale})" if self.kind == "decimal" else self.kind


# Widening a column may take: a source or a table that saw the narrower type reads the wider one as well.
WIDENS_TO = {"int": {"long", "double"}, "long": {"double"}, "float": {"double"}}

# Iceberg's own promotions of a table column (a wider value type is a schema change it allows).
TABLE_PROMOTIONS = {("int", "long"), ("float", "double")}


class SchemaConflict(Exception):
    """A column seen with two types no widening reconciles."""

    def __init__(self, column: str, was: str, now: str):
        super().__init__(f"column '{column}' was {was} and is now {now}: no widening reconciles them")
        self.column, self.was, self.now = column, was, now


# PostgreSQL type OIDs (pg_type) psycopg reports in a cursor's description.
POSTGRES_KINDS = {
    16: "boolean",
    20: "long",
    21: "int",
    23: "int",
    26: "long",  # oid
    700: "float",
    701: "double",
    1700: "decimal",
    790: "decimal",  # money: exact, two places
    25: "string",
    1043: "string",
    1042: "string",
    18: "string",
    19: "string",
    1082: "date",
    1083: "time",
    1114: "timestamp",
    1184: "timestamptz",
    114: "json",
    3802: "json",
    17: "binary",
    2950: "string",  # uuid: as its text form, which every engine reads
}

# MySQL field types (pymysql.constants.FIELD_TYPE) in PyMySQL's description.
MYSQL_KINDS = {
    1: "int",  # TINYINT
    2: "int",  # SMALLINT
    3: "int",  # INT
    9: "int",  # MEDIUMINT
    8: "long",  # BIGINT
    13: "int",  # YEAR
    4: "float",
    5: "double",
    0: "decimal",
    246: "decimal",
    10: "date",
    14: "date",
    12: "timestamp",  # DATETIME: a wall-clock time
    7: "timestamptz",  # TIMESTAMP: read in a UTC session
    11: "string",  # TIME: a duration, past 24 hours too
    245: "json",
    15: "string",
    253: "string",
    254: "string",
    247: "string",
    248: "string",
    16: "binary",  # BIT
    249: "binary",
    250: "binary",
    251: "binary",
    252: "binary",
    255: "binary",  # GEOMETRY (WKB)
}

DECIMAL_MAX_PRECISION = 38  # Iceberg's


def postgres_columns(description: Iterable[Any]) -> list[Column]:
    """The columns of a psycopg cursor's description: ``numeric(p,s)`` as decimal(p,s), ``money`` as
    decimal(19,2); a numeric without precision (any scale at all) as its exact text."""
    columns = []
    for column in description:
        kind = POSTGRES_KINDS.get(column.type_code, "string")
        if column.type_code == 790:
            columns.append(Column(column.name, "decimal", 19, 2))
        elif kind == "decimal":
            precision, scale = column.precision, column.scale
            if precision is None or precision > DECIMAL_MAX_PRECISION:
                columns.append(Column(column.name, "string"))
            else:
                columns.append(Column(column.name, "decimal", precision, scale or 0))
        else:
            columns.append(Column(column.name, kind))
    return columns


def mysql_columns(description: Iterable[Any]) -> list[Column]:
    """The columns of a PyMySQL cursor's description ``(name, type, display, internal, precision, scale,
    null_ok)``; text and blob types share codes, told apart by the values (see ``binary_or_text``)."""
    columns = []
    for name, code, _display, _internal, precision, scale, _null_ok in description:
        kind = MYSQL_KINDS.get(code, "string")
        if kind == "decimal":
            # PyMySQL reports the display length: digits, the point, and a sign unless unsigned (which the
            # description does not say), so a signed DECIMAL(p,s) reads as decimal(p+1,s): every value fits
            digits = int(precision or 0) - (1 if scale else 0)
            digits = max(1, min(DECIMAL_MAX_PRECISION, digits))
            columns.append(Column(name, "decimal", digits, int(scale or 0)))
        else:
            columns.append(Column(name, kind))
    return columns


def json_kind(value: Any) -> str | None:
    """The kind of one JSON value: None for null (says nothing), nested documents as ``json``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, (float, Decimal)):
        return "double"
    if isinstance(value, (dict, list)):
        return "json"
    return "string"


def wider(name: str, was: str, now: str) -> str:
    """The type both sightings fit: the same, or the wider of a widening pair, else string (JSON sources)."""
    if was == now:
        return was
    if now in WIDENS_TO.get(was, ()):
        return now
    if was in WIDENS_TO.get(now, ()):
        return was
    return "string"


def inferred_columns(rows: list[dict[str, Any]], known: dict[str, Column] | None = None) -> list[Column]:
    """The columns of JSON rows, in first-seen order, starting from ``known``: integers as long, numbers with a
    fraction as double (long widens to double), nested objects and arrays as JSON text; a column seen as two
    types no widening reconciles is string; one only ever null is string too."""
    kinds: dict[str, str | None] = {name: column.kind for name, column in (known or {}).items()}
    for row in rows:
        for name, value in row.items():
            kind = json_kind(value)
            seen = kinds.get(name)
            if name not in kinds or seen is None:
                kinds[name] = kind
            elif kind is not None and kind != seen:
                kinds[name] = wider(name, seen, kind)
    return [Column(name, kind or "string") for name, kind in kinds.items()]


def evolved(table: list[Column], batch: list[Column]) -> tuple[list[Column], list[Column]]:
    """How a table's columns take a batch's: (columns to add, columns to widen). A column whose type changes
    in a way Iceberg cannot promote raises ``SchemaConflict``; a batch type narrower than the table's (long
    values in a double column) is written as the table's type."""
    existing = {column.name: column for column in table}
    added, widened = [], []
    for column in batch:
        current = existing.get(column.name)
        if current is None:
            added.append(column)
        elif (
            current.type_name == column.type_name
            or column.kind in ("json", "string")
            and current.kind
            in (
                "json",
                "string",
            )
        ):
            continue
        elif (current.kind, column.kind) in TABLE_PROMOTIONS:
            widened.append(column)
        elif column.kind in WIDENS_TO and current.kind in WIDENS_TO[column.kind]:
            continue  # narrower values into a wider column
        elif current.kind == "decimal" and column.kind == "decimal" and _decimal_fits(current, column):
            continue
        else:
            raise SchemaConflict(column.name, current.type_name, column.type_name)
    return added, widened


def _decimal_fits(table: Column, batch: Column) -> bool:
    """A batch's decimal stored in the table's without loss: the same scale and no more digits."""
    return table.scale == batch.scale and (batch.precision or 0) <= (table.precision or 0)
