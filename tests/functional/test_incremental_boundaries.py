"""Incremental syncs are exact at the watermark: a row written later with the cursor value the last run ended
at is read by the next run, a row already delivered is not delivered again, rows sharing one cursor value
across a batch boundary land once each, and ``lookback_seconds`` reads late-committed rows older than the
watermark."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from local.demo import demo_row
from local.orders_server import PAGINATIONS, OrdersServer
from tests.databases import mysql, postgres  # noqa: F401 - fixtures
from tests.functional.test_engine import drain
from tests.functional.test_sources import written_ids
from tests.helpers import statistics_match_the_stored_tasks

pytestmark = pytest.mark.local_destinations

START = datetime(2026, 3, 1, 12, 0, 0)


def moment(second: int) -> datetime:
    return START + timedelta(seconds=second)


class HttpOrders:
    """The HTTP source: rows 1..n, row n's ``updated_at`` given per row."""

    def __init__(self, request):
        self.server = OrdersServer(rows=0)
        self.times: dict[int, datetime] = {}
        self.server.row = lambda n: {**demo_row(n), "updated_at": self.times[n].strftime("%Y-%m-%dT%H:%M:%SZ")}
        request.addfinalizer(self.server.close)

    def data_source(self):
        return {
            "type": "http",
            "connection_config": {"base_url": self.server.base_url},
            "params_config": {
                "records_path": "items",
                "total_path": "meta.total",
                "primary_key": "id",
                "cursor_field": "updated_at",
                **PAGINATIONS["page"],
            },
        }

    def add(self, rows: dict[int, datetime]) -> None:
        """Rows by id (HTTP pages serve ids 1..n in order, so ids are added in order)."""
        self.times.update(rows)
        self.server.rows = max(self.times)


class PostgresOrders:
    def __init__(self, request, settings):
        import psycopg

        self.settings, self.name = settings, "edge_orders"
        self.connection = psycopg.connect(
            host=settings["host"],
            port=settings["port"],
            dbname=settings["database"],
            user=settings["user"],
            autocommit=True,
        )
        self.connection.execute(f"DROP TABLE IF EXISTS {self.name}")
        self.connection.execute(f"CREATE TABLE {self.name} (id integer PRIMARY KEY, updated_at timestamptz NOT NULL)")
        request.addfinalizer(self.connection.close)

    def data_source(self):
        return {
            "type": "postgresql",
            "connection_config": dict(self.settings),
            "params_config": {"table_name": self.name, "cursor_field": "updated_at"},
        }

    def add(self, rows: dict[int, datetime]) -> None:
        with self.connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {self.name} VALUES (%s, %s::timestamp AT TIME ZONE 'UTC')", list(rows.items())
            )


class MySqlDatetimeOrders:
    """MySQL ``DATETIME``: second precision, so writers share cursor values all the time."""

    def __init__(self, request, settings):
        import pymysql

        self.settings, self.name = settings, "edge_orders"
        self.connection = pymysql.connect(
            host=settings["host"],
            port=settings["port"],
            user=settings["user"],
            password=settings["password"],
            database=settings["database"],
            autocommit=True,
        )
        with self.connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.name}")
            cursor.execute(f"CREATE TABLE {self.name} (id INT PRIMARY KEY, updated_at DATETIME NOT NULL)")
        request.addfinalizer(self.connection.close)

    def data_source(self):
        return {
            "type": "mysql",
            "connection_config": dict(self.settings),
            "params_config": {"table_name": self.name, "cursor_field": "updated_at"},
        }

    def add(self, rows: dict[int, datetime]) -> None:
        with self.connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {self.name} VALUES (%s, %s)", list(rows.items()))


@pytest.fixture(params=["http", "postgresql", "mysql"])
def orders(request, api):
    if request.param == "http":
        kind = HttpOrders(request)
    elif request.param == "postgresql":
        kind = PostgresOrders(request, request.getfixturevalue("postgres"))
    else:
        kind = MySqlDatetimeOrders(request, request.getfixturevalue("mysql"))
    response = api.post("/api/sync/data-sources", {"id": "ds_edge", "name": "edge", **kind.data_source()})
    assert response.status == 201, response.text
    return kind


def incremental(api, aws, **parameters):
    task = api.post(
        "/api/sync/tasks",
        {"data_source_id": "ds_edge", "task_type": "incremental_sync", "parameters": {"batch_size": 300, **parameters}},
    ).json
    drain(aws)
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "success", done
    return done


def test_a_row_written_later_at_the_watermark_is_read_by_the_next_run_and_nothing_twice(api, aws, orders):
    orders.add({n: moment(n) for n in range(1, 6)})
    assert written_ids(aws, incremental(api, aws)) == [1, 2, 3, 4, 5]
    orders.add({6: moment(5), 7: moment(5)})  # the last run ended at moment(5): same cursor value, new rows
    later = incremental(api, aws)
    assert written_ids(aws, later) == [6, 7] and later["processed_rows"] == 2
    if not isinstance(orders, HttpOrders):  # an HTTP source's total is its whole collection
        assert later["total_rows"] == 2
    assert incremental(api, aws)["processed_rows"] == 0
    orders.add({8: moment(5), 9: moment(6)})
    assert written_ids(aws, incremental(api, aws)) == [8, 9]
    statistics_match_the_stored_tasks(api, aws)


def test_rows_sharing_one_cursor_value_across_batch_boundaries_land_once_each(api, aws, orders):
    orders.add({n: moment(0) for n in range(1, 701)})  # 700 rows, batches of 300
    first = incremental(api, aws)
    assert written_ids(aws, first) == list(range(1, 701))
    assert incremental(api, aws)["processed_rows"] == 0
    orders.add({n: moment(0) for n in range(701, 706)})
    assert written_ids(aws, incremental(api, aws)) == list(range(701, 706))


def test_lookback_reads_a_row_committed_late_with_an_older_cursor(api, aws, orders):
    orders.add({n: moment(n * 60) for n in range(1, 11)})  # one row a minute
    assert len(written_ids(aws, incremental(api, aws))) == 10
    orders.add({11: moment(8 * 60 + 30)})  # committed now, stamped 90 s before the watermark
    assert incremental(api, aws)["processed_rows"] == 0  # without a lookback it stays behind the watermark
    orders.add({12: moment(9 * 60 + 30)})
    looked = incremental(api, aws, lookback_seconds=120)
    # the window (watermark - 120 s) is read whole: the late rows, and the rows already copied in it again
    assert sorted(written_ids(aws, looked)) == [8, 9, 10, 11, 12]  # from moment(480), row 8, on
