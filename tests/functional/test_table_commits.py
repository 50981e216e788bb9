"""Committing data files to a lake table against the emulator's Glue and S3: what each mode leaves in the
table, a repeated commit found rather than made twice, schema evolution and its conflicts, and concurrent
commits of one table."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from synchub.models.columns import Column, SchemaConflict
from synchub.settings import get_settings
from synchub.tables.commit import lake_catalog
from synchub.tables.destination import TableDestination
from tests.lake import lake_aws, moto_server, read_table  # noqa: F401 - fixtures

ORDERS = [Column("id", "int"), Column("amount", "decimal", 10, 2), Column("updated_at", "timestamptz")]


def orders(ids, amount="1.50", hour=10):
    return [{"id": n, "amount": Decimal(amount), "updated_at": f"2026-01-01T{hour:02d}:00:00+00:00"} for n in ids]


def land(task_id, batches, *, mode="append", columns=ORDERS, name="orders", earlier=(), first_part=1, **keys):
    """Write ``batches`` (lists of rows) as parts ``first_part``… of task ``task_id`` and commit the task's
    parts 1 to the last (those of ``earlier`` tasks first)."""
    destination = TableDestination(get_settings(), name, task_id, mode=mode, **keys)
    for number, rows in enumerate(batches, start=first_part):
        part = destination.open_part(number)
        part.add(rows, columns)
        part.close()
    last = first_part + len(batches) - 1
    parts = [
        {"key": TableDestination(get_settings(), name, attempt).part_key(number)}
        for attempt, count in earlier
        for number in range(1, count + 1)
    ] + [{"key": destination.part_key(number)} for number in range(1, last + 1)]
    summary = {"task_id": task_id, "run_id": "run-1", "earlier_task_ids": [attempt for attempt, _ in earlier]}
    return destination.finish(parts, summary)


def by_id(table):
    return {row["id"]: row for row in table.to_pylist()}


def test_a_full_sync_replaces_the_table_with_its_types(lake_aws):
    first = land("t1", [orders(range(1, 6))], mode="replace")
    assert (first.rows_added, first.rows_removed, first.repeated) == (5, 0, False)
    second = land("t2", [orders(range(3, 6)), orders(range(6, 8))], mode="replace")
    assert (second.rows_added, second.rows_removed) == (5, 5)
    table = read_table("orders")
    assert sorted(table["id"].to_pylist()) == [3, 4, 5, 6, 7]
    schema = table.schema
    assert str(schema.field("id").type) == "int32"
    assert str(schema.field("amount").type) == "decimal128(10, 2)"
    assert str(schema.field("updated_at").type).startswith("timestamp[us, tz=")
    assert by_id(table)[3]["amount"] == Decimal("1.50")


def test_a_keyed_merge_replaces_changed_rows_and_adds_new_ones_newest_wins(lake_aws):
    land("t1", [orders(range(1, 11))], mode="replace")
    # id 4 changes twice within the sync: its newest cursor wins, whichever part it is in
    changed = orders([2, 4], amount="9.99", hour=12) + orders([11], hour=12)
    earlier = orders([4], amount="5.00", hour=11)
    merge = land("t2", [changed, earlier], mode="merge", primary_key="id", cursor_field="updated_at")
    rows = by_id(read_table("orders"))
    assert sorted(rows) == list(range(1, 12))
    assert rows[2]["amount"] == rows[4]["amount"] == Decimal("9.99")
    assert rows[1]["amount"] == Decimal("1.50")
    assert (merge.rows_added, merge.rows_removed) == (3, 2)


def test_without_a_key_rows_are_appended(lake_aws):
    land("t1", [orders([1, 2])])
    land("t2", [orders([2, 3])])
    assert sorted(read_table("orders")["id"].to_pylist()) == [1, 2, 2, 3]


def test_a_commit_is_made_once(lake_aws):
    first = land("t1", [orders([1, 2])])
    again = land("t1", [orders([1, 2])])
    assert again.repeated and again.snapshot_id == first.snapshot_id
    assert sorted(read_table("orders")["id"].to_pylist()) == [1, 2]


def test_a_realtime_sync_commits_each_poll_s_new_files_once(lake_aws):
    land("rt", [orders([1]), orders([2])])  # poll 1: parts 1-2
    poll = land("rt", [orders([3]), orders([4])], first_part=3)  # poll 2: parts 3-4 (1-2 are committed)
    assert (poll.rows_added, poll.repeated) == (2, False)
    assert land("rt", [], first_part=5).repeated  # the same commit found (a redelivered message)
    assert sorted(read_table("orders")["id"].to_pylist()) == [1, 2, 3, 4]


def test_a_retry_commits_the_failed_attempt_s_uncommitted_files_and_its_own(lake_aws):
    land("rt1", [orders([1]), orders([2])])  # the failed attempt's first poll: committed under its own id
    part = TableDestination(get_settings(), "orders", "rt1").open_part(3)  # written, never committed
    part.add(orders([3]), ORDERS)
    part.close()
    land("rt2", [orders([4])], earlier=[("rt1", 3)])
    assert sorted(read_table("orders")["id"].to_pylist()) == [1, 2, 3, 4]


def test_a_new_column_is_added_with_older_rows_null(lake_aws):
    land("t1", [orders([1])])
    wider = [*ORDERS, Column("note", "string")]
    land("t2", [[{**orders([2])[0], "note": "new"}]], columns=wider)
    rows = by_id(read_table("orders"))
    assert rows[1]["note"] is None and rows[2]["note"] == "new"


def test_int_widens_to_long(lake_aws):
    land("t1", [orders([1])])
    longer = [Column("id", "long"), *ORDERS[1:]]
    land("t2", [[{**orders([0])[0], "id": 2**40}]], columns=longer)
    table = read_table("orders")
    assert str(table.schema.field("id").type) == "int64"
    assert sorted(table["id"].to_pylist()) == [1, 2**40]


def test_an_incompatible_type_change_is_a_schema_conflict_that_leaves_the_table(lake_aws):
    land("t1", [orders([1])])
    table = lake_catalog(get_settings()).load_table(("synchub", "orders"))
    before = table.current_snapshot().snapshot_id
    texts = [Column("id", "int"), Column("amount", "string"), Column("updated_at", "timestamptz")]
    with pytest.raises(SchemaConflict) as raised:
        land("t2", [[{**orders([2])[0], "amount": "lots"}]], columns=texts)
    assert "amount" in str(raised.value) and "decimal(10,2)" in str(raised.value) and "string" in str(raised.value)
    assert table.refresh().current_snapshot().snapshot_id == before


def test_concurrent_merges_of_one_table_keep_every_row(lake_aws):
    land("t0", [orders([0])], mode="replace")
    errors = []

    def merge(number):
        try:
            land(f"t{number}", [orders([number * 100 + k for k in range(5)])], mode="merge", primary_key="id")
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=merge, args=(n,)) for n in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    ids = sorted(read_table("orders")["id"].to_pylist())
    assert ids == sorted([0, *(n * 100 + k for n in range(1, 5) for k in range(5))])


def test_json_rows_are_typed_by_inference(lake_aws):
    rows = [{"id": 1, "score": 2, "tags": ["a"], "name": "x"}, {"id": 2, "score": 2.5, "tags": None, "name": 7}]
    land("t1", [rows], columns=None, name="events")
    table = read_table("events")
    types = {field.name: str(field.type) for field in table.schema}
    assert types["id"] == "int64" and types["score"] == "double"
    assert types["tags"] in ("string", "large_string") and types["name"] in ("string", "large_string")
    assert by_id(table)[1]["tags"] == '["a"]' and by_id(table)[2]["name"] == "7"
