"""Change data capture from MariaDB's row binlog into a lake table: a CDC realtime sync copies the table, then
applies inserts, updates (a key change and an unsigned value past the signed range among them), deletes and a truncate, so the lake
table stays equal to the source row by row; a crash before the table commit or after it, and a duplicate
delivery, commit nothing twice; a binlog purged past the task's position fails it with its own code; the
connection test names a server without a binlog. The tests start a MariaDB of their own with a row binlog
(skipped where its binaries are absent)."""

from __future__ import annotations

import time
from datetime import datetime
from decimal import Decimal

import pytest

from tests.databases import mariadb_binlog, mysql, mysql_settings  # noqa: F401 - fixtures
from tests.lake import (  # noqa: F401 - fixtures
    caught_up,
    commit_ids,
    crash_once,
    lake_api,
    lake_aws,
    moto_server,
    no_backoff,
    read_table,
    wait_for_status,
)

pytestmark = pytest.mark.local_destinations
COLUMNS = ("id", "customer", "amount", "updated_at", "level")


class Orders:
    def __init__(self, settings, rows=600):
        import pymysql

        self.connection = pymysql.connect(
            host=settings["host"],
            port=settings["port"],
            user=settings["user"],
            password=settings["password"],
            database=settings["database"],
            autocommit=True,
        )
        self.execute("DROP TABLE IF EXISTS cdc_orders")
        self.execute(
            "CREATE TABLE cdc_orders (id INT PRIMARY KEY, customer VARCHAR(64), amount DECIMAL(10,2), "
            "updated_at DATETIME(3) NOT NULL, level TINYINT UNSIGNED)"
        )
        self.insert(1, rows)

    def execute(self, sql, params=None):
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def insert(self, first, last):
        with self.connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO cdc_orders VALUES (%s, %s, %s, %s, %s)",
                [
                    (
                        n,
                        f"customer-{n % 97:02d}",
                        Decimal(n) * Decimal("1.25"),
                        datetime(2026, 1, 1, 0, n % 60),
                        n % 200,
                    )
                    for n in range(first, last + 1)
                ],
            )

    def rows(self):
        return [tuple(row) for row in self.execute(f"SELECT {', '.join(COLUMNS)} FROM cdc_orders ORDER BY id")]


@pytest.fixture
def orders(mariadb_binlog):
    table = Orders(mariadb_binlog)
    yield table
    table.connection.close()


def start(api, settings):
    body = {
        "id": "ds_mycdc",
        "name": "orders by binlog",
        "type": "mysql",
        "connection_config": settings,
        "params_config": {"table_name": "cdc_orders", "capture": "cdc", "destination": {"format": "iceberg"}},
    }
    assert api.post("/api/sync/data-sources", body).status == 201
    created = api.post(
        "/api/sync/tasks",
        {
            "data_source_id": "ds_mycdc",
            "task_type": "realtime_sync",
            "parameters": {"poll_interval": 1, "batch_size": 250},
        },
    )
    assert created.status == 201, created.text
    return created.json


def lake_rows():
    table = read_table("ds_mycdc").sort_by("id")
    columns = [table[name].to_pylist() for name in COLUMNS]
    return [
        (key, customer, amount, at.replace(tzinfo=None) if at and at.tzinfo else at, big)
        for key, customer, amount, at, big in zip(*columns)
    ]


def poll_until_equal(api, aws, orders, task_id, seconds=40):
    """Deliver the engine's messages until the lake equals the source; the task."""
    return caught_up(api, aws, task_id, lambda: lake_rows() == orders.rows(), seconds)


def change_everything(orders):
    orders.execute("UPDATE cdc_orders SET amount = amount + 1000, customer = 'changed' WHERE id <= 100")
    orders.insert(601, 650)
    orders.execute("DELETE FROM cdc_orders WHERE id BETWEEN 200 AND 229")
    orders.execute("UPDATE cdc_orders SET id = 5000 WHERE id = 300")
    # past the signed range: a binlog without column metadata gives -1, the catalog says unsigned
    orders.execute("UPDATE cdc_orders SET level = 255 WHERE id = 400")


def test_a_binlog_cdc_sync_copies_then_applies_every_kind_of_change(lake_api, lake_aws, mariadb_binlog, orders):
    task = start(lake_api, mariadb_binlog)
    poll_until_equal(lake_api, lake_aws, orders, task["id"])
    assert len(lake_rows()) == 600
    change_everything(orders)
    task = poll_until_equal(lake_api, lake_aws, orders, task["id"])
    rows = {row[0]: row for row in lake_rows()}
    assert len(rows) == 600 + 50 - 30 and rows[1][1] == "changed" and rows[1][2] == Decimal("1001.25")
    assert 300 not in rows and 5000 in rows and rows[400][4] == 255
    applied = task["capture"]["changes_applied"]
    assert applied["insert"] >= 50 and applied["delete"] >= 31 and applied["update"] >= 102, applied
    assert task["capture"]["lag_bytes"] is not None and ":" in task["capture"]["position"]

    orders.execute("TRUNCATE TABLE cdc_orders")
    orders.insert(1, 10)
    poll_until_equal(lake_api, lake_aws, orders, task["id"])
    assert len(lake_rows()) == 10


@pytest.mark.parametrize("crash", ["before_commit", "after_commit"])
def test_a_crash_around_the_commit_leaves_the_table_equal(
    lake_api, lake_aws, mariadb_binlog, orders, monkeypatch, crash
):
    from synchub.connectors.mysql_cdc import MySqlChangeSource
    from synchub.tables.destination import TableDestination

    task = start(lake_api, mariadb_binlog)
    poll_until_equal(lake_api, lake_aws, orders, task["id"])
    change_everything(orders)
    patched, name = (TableDestination, "finish") if crash == "before_commit" else (MySqlChangeSource, "committed")
    crashes = crash_once(monkeypatch, patched, name, f"engine died {crash.replace('_', ' ')}")
    poll_until_equal(lake_api, lake_aws, orders, task["id"])
    assert crashes["left"] == 0, "the crash never happened"
    made = commit_ids("ds_mycdc")
    assert len(made) == len(set(made)), f"a commit was made twice: {made}"


def test_a_purged_binlog_fails_the_task_with_its_code(lake_api, lake_aws, mariadb_binlog, orders):
    task = start(lake_api, mariadb_binlog)
    poll_until_equal(lake_api, lake_aws, orders, task["id"])
    orders.execute("RESET MASTER")  # every binlog deleted: the task's position with them
    orders.execute("UPDATE cdc_orders SET customer = 'lost' WHERE id = 1")
    done = wait_for_status(lake_api, lake_aws, task["id"], "failed")
    assert done["status"] == "failed" and done["error_code"] == "CDC_POSITION_LOST", done
    assert "copies the table first" in done["error_message"]


def test_the_connection_test_names_a_missing_binlog(api, aws, mariadb_binlog, orders):
    from tests.functional.test_connection_test import connection_test_of

    good = connection_test_of(api, "mysql", mariadb_binlog, table_name="cdc_orders", capture="cdc")
    assert good["ok"] is True and good["rows_read"] == 5, good
    plain = mysql_settings()
    if plain is None:
        pytest.skip("no MariaDB without a binlog answers on 127.0.0.1:3306 (the machine's own server)")
    found = Orders(plain)  # the machine's server runs without a binlog
    try:
        if found.execute("SHOW VARIABLES LIKE 'log_bin'")[0][1] == "ON":
            pytest.skip("the machine's MariaDB writes a binlog")
        missing = connection_test_of(api, "mysql", plain, table_name="cdc_orders", capture="cdc")
        assert missing["ok"] is False and missing["error_code"] == "CDC_NOT_READY", missing
        assert missing["error_message"].startswith("CDC needs the binlog")
    finally:
        found.execute("DROP TABLE IF EXISTS cdc_orders")
        found.connection.close()


def test_datetimes_land_as_written_through_the_copy_and_the_binlog(lake_api, lake_aws, mariadb_binlog, orders):
    """DATETIME values land as they are written (a timestamp without a zone), by the copy and by the binlog."""
    task = start(lake_api, mariadb_binlog)
    poll_until_equal(lake_api, lake_aws, orders, task["id"])
    orders.execute("UPDATE cdc_orders SET updated_at = '2026-06-30 23:59:59.125' WHERE id = 2")
    poll_until_equal(lake_api, lake_aws, orders, task["id"])
    row = next(row for row in lake_rows() if row[0] == 2)
    assert row[3] == datetime(2026, 6, 30, 23, 59, 59, 125000)
    assert str(read_table("ds_mycdc").schema.field("updated_at").type) == "timestamp[us]"


def test_ten_thousand_rows_then_updates_inserts_and_deletes_arrive_within_a_poll_and_ten_seconds(
    lake_api, lake_aws, mariadb_binlog
):
    """The issue's scenario against MariaDB: a copy of 10,000 rows, then 100 updates, 50 inserts and 30 deletes
    made with SQL are in the table within one poll interval (1 s) plus 10 s: 10,020 rows, equal to the source."""
    orders = Orders(mariadb_binlog, rows=10_000)
    try:
        task = start(lake_api, mariadb_binlog)
        poll_until_equal(lake_api, lake_aws, orders, task["id"], seconds=120)
        orders.execute("UPDATE cdc_orders SET amount = 777.77, customer = 'cdc' WHERE id <= 100")
        orders.insert(10_001, 10_050)
        orders.execute("DELETE FROM cdc_orders WHERE id BETWEEN 9001 AND 9030")
        changed = time.monotonic()
        poll_until_equal(lake_api, lake_aws, orders, task["id"], seconds=1 + 10)
        assert time.monotonic() - changed < 1 + 10
        rows = lake_rows()
        assert len(rows) == 10_020 and sum(row[1] == "cdc" for row in rows) == 100
    finally:
        orders.connection.close()
