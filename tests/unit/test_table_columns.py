"""Lake-table columns: types from SQL drivers' descriptions, inferred from JSON rows with widening rules, how
a table takes a batch's columns, and rows turned back into their exact Arrow types."""

from __future__ import annotations

from collections import namedtuple
from datetime import date, datetime, time, timezone
from decimal import Decimal

import pyarrow as pa
import pytest

from synchub.models.columns import Column, SchemaConflict, evolved, inferred_columns, mysql_columns, postgres_columns
from synchub.tables.arrow import conformed, merged_columns, rows_table
from synchub.tables.commit import newest_per_key
from synchub.tables.naming import table_name

Described = namedtuple("Described", "name type_code precision scale")


def test_postgres_types_come_from_the_description():
    columns = postgres_columns(
        [
            Described("id", 23, None, None),
            Described("big", 20, None, None),
            Described("amount", 1700, 10, 2),
            Described("free", 1700, None, None),
            Described("cash", 790, None, None),
            Described("at", 1184, None, None),
            Described("local", 1114, None, None),
            Described("doc", 3802, None, None),
            Described("raw", 17, None, None),
            Described("uid", 2950, None, None),
            Described("odd", 99999, None, None),
        ]
    )
    assert [column.type_name for column in columns] == [
        "int",
        "long",
        "decimal(10,2)",
        "string",
        "decimal(19,2)",
        "timestamptz",
        "timestamp",
        "json",
        "binary",
        "string",
        "string",
    ]


def test_a_mysql_decimal_keeps_its_scale_and_room_for_every_value():
    (amount,) = mysql_columns([("amount", 246, 12, 12, 12, 2, True)])  # DECIMAL(10,2): display 12
    assert amount.type_name == "decimal(11,2)"
    assert [c.kind for c in mysql_columns([("n", 3, 11, 11, 11, 0, True), ("t", 7, 19, 19, 19, 0, True)])] == [
        "int",
        "timestamptz",
    ]


def test_json_columns_widen_and_conflicts_become_string():
    columns = inferred_columns(
        [
            {"n": 1, "x": 1, "flag": True, "doc": {"a": 1}, "empty": None},
            {"n": 2.5, "x": "one", "flag": False, "doc": [1]},
        ]
    )
    assert {c.name: c.kind for c in columns} == {
        "n": "double",
        "x": "string",
        "flag": "boolean",
        "doc": "json",
        "empty": "string",
    }


def test_a_table_adds_new_columns_widens_int_and_refuses_other_changes():
    table = [Column("id", "int"), Column("amount", "decimal", 10, 2), Column("score", "double")]
    added, widened = evolved(table, [Column("id", "long"), Column("note", "string"), Column("score", "long")])
    assert added == [Column("note", "string")] and widened == [Column("id", "long")]
    assert evolved(table, [Column("amount", "decimal", 8, 2)]) == ([], [])
    with pytest.raises(SchemaConflict, match="'amount' was decimal\\(10,2\\) and is now string"):
        evolved(table, [Column("amount", "string")])
    with pytest.raises(SchemaConflict):
        evolved(table, [Column("amount", "decimal", 10, 3)])


def test_rows_return_to_their_exact_types():
    columns = [
        Column("at", "timestamptz"),
        Column("local", "timestamp"),
        Column("day", "date"),
        Column("clock", "time"),
        Column("amount", "decimal", 20, 2),
        Column("raw", "binary"),
        Column("doc", "json"),
    ]
    rows = [
        {
            "at": "2026-01-01T10:00:00.123456+02:00",
            "local": "2026-01-01T10:00:00.000001",
            "day": "2026-01-02",
            "clock": "23:59:59.5",
            "amount": Decimal("12345678901234567.89"),
            "raw": "00ff",
            "doc": {"a": [1, 2]},
        },
        dict.fromkeys((c.name for c in columns), None),
    ]
    first = rows_table(rows, columns).to_pylist()[0]
    assert first["at"] == datetime(2026, 1, 1, 8, 0, 0, 123456, tzinfo=timezone.utc)
    assert first["local"] == datetime(2026, 1, 1, 10, 0, 0, 1)
    assert first["day"] == date(2026, 1, 2) and first["clock"] == time(23, 59, 59, 500000)
    assert first["amount"] == Decimal("12345678901234567.89")
    assert first["raw"] == b"\x00\xff" and first["doc"] == '{"a":[1,2]}'


def test_batches_of_one_part_conform_to_the_widest_columns():
    first, second = [Column("n", "long")], [Column("n", "double"), Column("s", "string")]
    merged = merged_columns(first, second)
    assert merged == [Column("n", "double"), Column("s", "string")]
    table = conformed(rows_table([{"n": 1}], first), merged)
    assert table.to_pylist() == [{"n": 1.0, "s": None}]
    assert merged_columns([Column("n", "long")], [Column("n", "boolean")]) == [Column("n", "string")]


def test_a_merge_keeps_the_newest_row_of_each_key():
    rows = pa.table({"id": [1, 2, 1, 3, 2], "at": [5, 1, 3, 1, 2], "v": ["new", "a", "old", "c", "b"]})
    kept = newest_per_key(rows, "id", "at").sort_by("id").to_pylist()
    assert [(row["id"], row["v"]) for row in kept] == [(1, "new"), (2, "b"), (3, "c")]
    last_read = newest_per_key(rows, "id", None).sort_by("id").to_pylist()
    assert [(row["id"], row["v"]) for row in last_read] == [(1, "old"), (2, "b"), (3, "c")]


def test_table_names_are_glue_names():
    assert table_name("ds_pg_demo", None) == "ds_pg_demo"
    assert table_name("ds_pg_demo", "default") == "ds_pg_demo"
    assert table_name("DS-Shop", "Orders.v2") == "ds_shop__orders_v2"
    assert table_name("ds", "orders", "chosen_name") == "chosen_name"
