"""Splitting a table by its primary key for a parallel sync: a 1,000,000-row PostgreSQL table whose key is
skewed (90 % of the rows in 10 % of the key's span) splits into ranges within 1.5× of each other in rows, where
equal-width ranges over min and max would not; the ranges hold every row once."""

from __future__ import annotations

import pytest

from synchub.connectors.sql import MySqlSource, PostgresSource
from synchub.connectors.sql_ranges import KeyRange, boundaries, key_ranges
from synchub.models.streams import StreamSpec
from tests.databases import mariadb_binlog, postgres  # noqa: F401 - fixtures

ROWS = 1_000_000


@pytest.fixture(scope="module")
def skewed(postgres):
    import psycopg

    connection = psycopg.connect(
        host=postgres["host"],
        port=postgres["port"],
        dbname=postgres["database"],
        user=postgres["user"],
        autocommit=True,
    )
    connection.execute("DROP TABLE IF EXISTS skewed")
    connection.execute("CREATE TABLE skewed (id bigint PRIMARY KEY, note text)")
    # 900,000 keys packed in 1 … 900,000 (the first tenth of the span), 100,000 spread over the other nine tenths
    connection.execute("INSERT INTO skewed SELECT g, 'dense' FROM generate_series(1, 900000) g")
    connection.execute("INSERT INTO skewed SELECT 1000000 + g * 90, 'sparse' FROM generate_series(1, 100000) g")
    connection.execute("ANALYZE skewed")
    yield connection
    connection.execute("DROP TABLE skewed")
    connection.close()


def rows_per_range(connection, ranges: list[KeyRange]) -> list[int]:
    counts = []
    for key_range in ranges:
        where, params = key_range.where("id")
        counts.append(connection.execute(f"SELECT count(*) FROM skewed WHERE {where}", params).fetchone()[0])
    return counts


def test_a_skewed_key_splits_into_ranges_of_about_as_many_rows(postgres, skewed):
    source = PostgresSource(postgres, StreamSpec(table_name="skewed"), incremental=False)
    try:
        ranges = key_ranges(source, 8)
    finally:
        source.close()
    counts = rows_per_range(skewed, ranges)
    assert len(ranges) == 8 and sum(counts) == ROWS  # every row in exactly one range
    assert max(counts) <= 1.5 * min(counts), counts

    low, high = skewed.execute("SELECT min(id), max(id) FROM skewed").fetchone()
    width = (high - low + 1) / 8
    equal = [
        KeyRange(i, None if i == 0 else int(low + i * width), None if i == 7 else int(low + (i + 1) * width))
        for i in range(8)
    ]
    spread = rows_per_range(skewed, equal)
    assert sum(spread) == ROWS and max(spread) > 5 * min(spread)  # what equal widths would have done


def test_boundaries_are_quantiles_each_once():
    assert boundaries(list(range(100)), 4) == [25, 50, 75]
    assert boundaries([1] * 50 + [2] * 50, 4) == [2]  # a key repeated across quantiles: fewer ranges, none empty
    assert KeyRange(0).where('"id"') == ("TRUE", [])
    assert KeyRange(1, 10, 20).where('"id"') == ('"id" >= %s AND "id" < %s', [10, 20])


def test_a_mariadb_table_splits_by_a_sample_too(mariadb_binlog):
    import pymysql

    connection = pymysql.connect(
        **{k: v for k, v in mariadb_binlog.items() if k != "database"}, database="test", autocommit=True
    )
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS skewed")
        cursor.execute("CREATE TABLE skewed (id BIGINT PRIMARY KEY)")
        cursor.execute("INSERT INTO skewed SELECT seq FROM seq_1_to_180000")
        cursor.execute("INSERT INTO skewed SELECT 1000000 + seq * 90 FROM seq_1_to_20000")
        cursor.execute("ANALYZE TABLE skewed")
    source = MySqlSource(mariadb_binlog, StreamSpec(table_name="skewed"), incremental=False)
    try:
        ranges = key_ranges(source, 4, sample_rows=20_000)  # 200,000 rows: a sample of about 40,000 keys
    finally:
        source.close()
    counts = []
    with connection.cursor() as cursor:
        for key_range in ranges:
            where, params = key_range.where("id")
            cursor.execute(f"SELECT count(*) FROM skewed WHERE {where}", params)
            counts.append(cursor.fetchone()[0])
        cursor.execute("DROP TABLE skewed")
    connection.close()
    assert len(ranges) == 4 and sum(counts) == 200_000 and max(counts) <= 1.5 * min(counts), counts
