"""Table maintenance against the emulator: a realtime sync's many commits leave a bounded number of data files
and snapshots, and files no snapshot references are deleted once older than the safety window, never before."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from synchub import aws
from synchub.settings import get_settings
from synchub.tables.destination import TableDestination
from synchub.tables.maintenance import FILES_MAX, SNAPSHOTS_KEPT, TableMaintenance, referenced_files
from tests.functional.test_table_commits import ORDERS, land, orders
from tests.lake import lake_aws, moto_server, read_table  # noqa: F401 - fixtures

POLLS = SNAPSHOTS_KEPT + 12  # past both bounds: compaction above FILES_MAX files, expiry above SNAPSHOTS_KEPT


def table_objects(table) -> set[str]:
    bucket, prefix = table.location().removeprefix("s3://").split("/", 1)
    pages = aws.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
    return {f"s3://{bucket}/{item['Key']}" for page in pages for item in page.get("Contents", [])}


def test_many_realtime_commits_leave_bounded_files_and_snapshots_and_no_old_orphans(lake_aws):
    destination = TableDestination(get_settings(), "orders", "rt")
    maintenance = TableMaintenance(destination.writer(), orphan_after=timedelta(0))
    compacted = deleted = 0
    for poll in range(1, POLLS + 1):
        land("rt", [orders([poll])], first_part=poll)  # each poll cycle commits its one new part
        done = maintenance.run()
        compacted += done.compacted_files
        deleted += done.orphans_deleted
        table = destination.writer().load()
        files = int(table.current_snapshot().summary.additional_properties["total-data-files"])
        assert files <= FILES_MAX, f"poll {poll}: {files} data files"
        assert len(table.snapshots()) <= SNAPSHOTS_KEPT + 1, f"poll {poll}: {len(table.snapshots())} snapshots"
    assert compacted > FILES_MAX and deleted > 0
    assert sorted(read_table("orders")["id"].to_pylist()) == list(range(1, POLLS + 1))
    table = destination.writer().load()
    maintenance.delete_orphans(table, datetime.now(timezone.utc) + timedelta(seconds=1))
    assert table_objects(table) <= referenced_files(table)  # nothing left that no snapshot references
    assert sorted(read_table("orders")["id"].to_pylist()) == list(range(1, POLLS + 1))


def test_files_younger_than_the_window_are_kept(lake_aws):
    land("t1", [orders([1])])
    in_flight = TableDestination(get_settings(), "orders", "t2").open_part(1)  # a sync still running
    in_flight.add(orders([2]), ORDERS)
    in_flight.close()
    table = TableDestination(get_settings(), "orders", "t2").writer().load()
    maintenance = TableMaintenance(TableDestination(get_settings(), "orders", "t2").writer(), timedelta(hours=1))
    assert maintenance.delete_orphans(table, datetime.now(timezone.utc)) == 0
    path = f"s3://{in_flight.bucket}/{in_flight.key}"
    assert path in table_objects(table) and path not in referenced_files(table)
    assert maintenance.delete_orphans(table, datetime.now(timezone.utc) + timedelta(hours=2)) == 1
    assert path not in table_objects(table)
    assert read_table("orders")["id"].to_pylist() == [1]
