"""A SQL batch kept as its driver's values: read as the same JSON-ready rows as before when asked, and turned
into the same Arrow table straight from the values as from those rows, column by column falling back to the
JSON-ready form where Arrow cannot take a value as it is."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import pytest

from synchub.connectors.sql_values import DriverRows, json_rows
from synchub.models.columns import Column
from synchub.tables.arrow import driver_rows_table, rows_table

NAMES = ["id", "big", "amount", "price", "note", "flag", "day", "at", "at_utc", "naive", "blob", "doc", "uid", "ratio"]
COLUMNS = [
    Column("id", "int"),
    Column("big", "long"),
    Column("amount", "decimal", 10, 2),
    Column("price", "decimal", 20, 4),
    Column("note", "string"),
    Column("flag", "boolean"),
    Column("day", "date"),
    Column("at", "timestamptz"),
    Column("at_utc", "timestamptz"),
    Column("naive", "timestamp"),
    Column("blob", "binary"),
    Column("doc", "json"),
    Column("uid", "string"),
    Column("ratio", "double"),
]
ZONE = timezone(timedelta(hours=2))
VALUES = [
    (
        1,
        2**40,
        Decimal("3.00"),
        Decimal("NaN"),
        "a",
        True,
        date(2026, 1, 2),
        datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=ZONE),
        datetime(2026, 1, 2, 3, 4, 5),  # naive, in a UTC column (MySQL TIMESTAMP read in a UTC session)
        datetime(2026, 1, 2, 3, 4, 5, 6),
        b"\x00\xff",
        {"k": [1, 2]},
        UUID("12345678-1234-5678-1234-567812345678"),
        1.5,
    ),
    (2, None, None, Decimal("12345678901234.5678"), None, None, None, None, None, None, None, None, None, 2),
]
UTC_COLUMNS = frozenset({NAMES.index("at_utc")})


def test_rows_are_the_json_ready_ones_and_len_costs_nothing():
    rows = DriverRows(NAMES, VALUES, UTC_COLUMNS)
    assert len(rows) == 2 and rows._rows is None
    assert list(rows) == json_rows(NAMES, VALUES, UTC_COLUMNS)
    assert rows[0]["amount"] == Decimal("3.00") and rows[1:] == json_rows(NAMES, VALUES, UTC_COLUMNS)[1:]


@pytest.mark.parametrize(
    "cursors",
    [
        [datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2026, 1, 2, tzinfo=timezone.utc), None],
        # one instant in two zones is one position
        [
            datetime(2026, 1, 2, 2, tzinfo=ZONE),
            datetime(2026, 1, 2, tzinfo=timezone.utc),
            datetime(2025, 1, 1, tzinfo=ZONE),
        ],
        [date(2026, 1, 1), date(2026, 1, 3), date(2026, 1, 3)],
        [3, 7, 7],
        [Decimal("1.50"), Decimal("1.5"), Decimal("0.9")],
    ],
)
def test_the_rows_at_the_newest_cursor_are_those_every_row_s_comparison_finds(cursors):
    from synchub.connectors.base import boundary_key, cursor_boundary

    rows = DriverRows(["id", "at"], [(n, cursor) for n, cursor in enumerate(cursors)])
    at_newest = rows.at_newest("at")
    key = lambda row: boundary_key(row, "id")  # noqa: E731
    assert at_newest is not None
    assert cursor_boundary(at_newest, "at", key) == cursor_boundary(list(rows), "at", key)


@pytest.mark.parametrize(
    "cursors",
    [
        [datetime(2026, 1, 1), datetime(2026, 1, 2, tzinfo=timezone.utc)],  # naive beside zoned
        [Decimal("NaN"), Decimal("1")],
        ["2026-01-01", "2026-01-02"],  # text: compared as JSON-ready values
        [1, Decimal("2")],
    ],
)
def test_cursors_the_driver_values_cannot_order_are_left_to_the_json_ready_rows(cursors):
    assert DriverRows(["id", "at"], [(n, cursor) for n, cursor in enumerate(cursors)]).at_newest("at") is None


@pytest.mark.parametrize("values", [VALUES, VALUES[:1], VALUES[1:]])
def test_the_arrow_table_from_driver_values_equals_the_one_from_json_ready_rows(values):
    rows = DriverRows(NAMES, list(values), UTC_COLUMNS)
    direct = driver_rows_table(NAMES, rows.values, rows, COLUMNS)
    through_json = rows_table(json_rows(NAMES, list(values), UTC_COLUMNS), COLUMNS)
    assert direct.schema == through_json.schema
    assert direct.to_pylist() == through_json.to_pylist()


def test_columns_arrow_takes_as_they_are_skip_the_json_ready_form():
    simple = [(n, Decimal("1.50"), datetime(2026, 1, 1, tzinfo=timezone.utc)) for n in range(3)]
    rows = DriverRows(["id", "amount", "at"], simple)
    columns = [Column("id", "int"), Column("amount", "decimal", 10, 2), Column("at", "timestamptz")]
    table = driver_rows_table(rows.names, rows.values, rows, columns)
    assert rows._rows is None  # never made
    assert table["amount"].to_pylist() == [Decimal("1.50")] * 3
