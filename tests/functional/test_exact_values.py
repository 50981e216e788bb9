"""Every SQL type the PostgreSQL and MySQL sources read lands in the lake exactly as the source holds it:
decimals as JSON numbers with their scale (never through a float), money as its decimal, times with their
offset and microseconds, durations as the source writes them."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from decimal import Decimal

import boto3
import pytest

from tests.databases import mysql, postgres  # noqa: F401 - fixtures
from tests.functional.test_engine import drain

pytestmark = pytest.mark.local_destinations


def landed_lines(api, aws, source: dict) -> list[str]:
    """Full-sync ``source`` and give the JSON Lines it landed, as text, in id order."""
    assert api.post("/api/sync/data-sources", {"id": "ds_types", "name": "types", **source}).status == 201
    task = api.post("/api/sync/tasks", {"data_source_id": "ds_types", "task_type": "full_sync"}).json
    drain(aws)
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "success", done
    s3, bucket = boto3.client("s3"), aws.refs["DataLakeBucket"]
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=done["result"]["manifest"])["Body"].read())
    lines = []
    for part in manifest["parts"]:
        lines.extend(
            gzip.decompress(s3.get_object(Bucket=bucket, Key=part["key"])["Body"].read()).decode().splitlines()
        )
    return sorted(lines, key=lambda line: json.loads(line)["id"])


def exact(line: str) -> dict:
    return json.loads(line, parse_float=Decimal)


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_postgresql_types_land_exactly(api, aws, postgres):
    import psycopg

    with psycopg.connect(
        host=postgres["host"],
        port=postgres["port"],
        dbname=postgres["database"],
        user=postgres["user"],
        autocommit=True,
    ) as connection:
        connection.execute("DROP TABLE IF EXISTS typed")
        connection.execute(
            "CREATE TABLE typed (id int PRIMARY KEY, n20 numeric(20,2), n10 numeric(10,2), free numeric, "
            "dec decimal(12,4), cash money, ts timestamp(6), tstz timestamptz, d date, t time, ttz timetz, "
            "span interval, r real, dp double precision, big bigint, doc jsonb, nan numeric)"
        )
        connection.execute(
            "INSERT INTO typed VALUES "
            "(1, 12345678901234567.89, 3.00, 1.5, 0.0001, '$1,234.50', '2026-03-01 12:00:00.123456', "
            " '2026-03-01 12:00:00.654321+02', '2026-03-01', '23:59:59.999999', '10:00:01.5+02', "
            " '1 mon 2 days 03:00:00', 1.5, 0.1, 9223372036854775807, '{\"price\": 12345678901234567.89}', 'NaN'),"
            "(2, -0.01, 1.50, 100, -12.3400, '-$3.00', '1999-12-31 23:59:59', '1999-12-31 23:59:59-05:30', "
            " '0001-01-01', '00:00:00', '00:00:00+00', '-26 hours', -0.25, 1e300, -1, '[1.10, 2]', 7)"
        )
    one, two = landed_lines(
        api, aws, {"type": "postgresql", "connection_config": dict(postgres), "params_config": {"table_name": "typed"}}
    )
    assert '"n20":12345678901234567.89' in one and '"n10":3.00' in one and '"n10":1.50' in two  # the scale, as text
    first, second = exact(one), exact(two)
    assert (first["n20"], first["n10"], first["free"], first["dec"]) == (
        Decimal("12345678901234567.89"),
        Decimal("3.00"),
        Decimal("1.5"),
        Decimal("0.0001"),
    )
    assert (second["n20"], second["dec"], second["free"]) == (Decimal("-0.01"), Decimal("-12.3400"), Decimal("100"))
    assert (first["cash"], second["cash"]) == (Decimal("1234.50"), Decimal("-3.00"))
    assert first["ts"] == "2026-03-01T12:00:00.123456" and second["ts"] == "1999-12-31T23:59:59"
    assert instant(first["tstz"]) == instant("2026-03-01T12:00:00.654321+02:00")
    assert instant(first["tstz"]).utcoffset() is not None and first["tstz"].count(".654321") == 1
    assert instant(second["tstz"]) == instant("1999-12-31T23:59:59-05:30")
    assert (first["d"], second["d"]) == ("2026-03-01", "0001-01-01")
    assert (first["t"], first["ttz"], second["ttz"]) == ("23:59:59.999999", "10:00:01.500000+02:00", "00:00:00+00:00")
    assert (first["span"], second["span"]) == ("1 mon 2 days 03:00:00", "-26:00:00")  # PostgreSQL's own text
    assert (first["r"], first["dp"], second["dp"]) == (Decimal("1.5"), Decimal("0.1"), Decimal("1E+300"))
    assert (first["big"], second["big"]) == (9223372036854775807, -1)
    assert first["doc"] == {"price": Decimal("12345678901234567.89")} and second["doc"] == [Decimal("1.10"), 2]
    assert '"price":12345678901234567.89' in one
    assert (first["nan"], second["nan"]) == ("NaN", 7)  # JSON has no NaN number


def test_mysql_types_land_exactly(api, aws, mysql):
    import pymysql

    connection = pymysql.connect(
        host=mysql["host"],
        port=mysql["port"],
        user=mysql["user"],
        password=mysql["password"],
        database=mysql["database"],
        autocommit=True,
        init_command="SET time_zone = '+00:00'",
    )
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS typed")
        cursor.execute(
            "CREATE TABLE typed (id INT PRIMARY KEY, d20 DECIMAL(20,2), d10 DECIMAL(10,2), d4 DECIMAL(12,4), "
            "dt DATETIME, dt6 DATETIME(6), ts TIMESTAMP(6) NULL, d DATE, t TIME(6), dbl DOUBLE, big BIGINT, "
            "yr YEAR)"
        )
        cursor.execute(
            "INSERT INTO typed VALUES "
            "(1, 12345678901234567.89, 3.00, 0.0001, '2026-03-01 12:00:00', '2026-03-01 12:00:00.123456', "
            " '2026-03-01 12:00:00.654321', '2026-03-01', '838:59:59.000001', 0.1, 9223372036854775807, 2026),"
            "(2, -0.01, 1.50, -12.3400, '1999-12-31 23:59:59', '1999-12-31 23:59:59', '1999-12-31 23:59:59', "
            " '1000-01-01', '-01:00:00', 1e300, -1, 1999)"
        )
    connection.close()
    one, two = landed_lines(
        api, aws, {"type": "mysql", "connection_config": dict(mysql), "params_config": {"table_name": "typed"}}
    )
    assert '"d20":12345678901234567.89' in one and '"d10":3.00' in one and '"d10":1.50' in two
    first, second = exact(one), exact(two)
    assert (first["d20"], first["d10"], first["d4"]) == (
        Decimal("12345678901234567.89"),
        Decimal("3.00"),
        Decimal("0.0001"),
    )
    assert (second["d20"], second["d4"]) == (Decimal("-0.01"), Decimal("-12.3400"))
    assert (first["dt"], first["dt6"], second["dt6"]) == (
        "2026-03-01T12:00:00",
        "2026-03-01T12:00:00.123456",
        "1999-12-31T23:59:59",
    )
    # TIMESTAMP is an instant (stored in UTC): it lands with its offset
    assert first["ts"] == "2026-03-01T12:00:00.654321+00:00" and second["ts"] == "1999-12-31T23:59:59+00:00"
    assert (first["d"], second["d"]) == ("2026-03-01", "1000-01-01")
    assert (first["t"], second["t"]) == ("838:59:59.000001", "-01:00:00")  # MySQL's own TIME text
    assert (first["dbl"], second["dbl"]) == (Decimal("0.1"), Decimal("1E+300"))
    assert (first["big"], second["big"], first["yr"]) == (9223372036854775807, -1, 2026)
