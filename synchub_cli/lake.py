"""``synchub tables query``: DuckDB over the lake tables, read with pyiceberg from the Glue catalog and S3."""

from __future__ import annotations

import json
import os
import re
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from synchub_cli.client import ApiError, local_stack


def catalog(database: str) -> Any:
    """The Glue catalog: the running local stack's emulator (dummy credentials), AWS_ENDPOINT_URL's, or AWS."""
    from pyiceberg.catalog.glue import GlueCatalog

    endpoint = os.environ.get("AWS_ENDPOINT_URL") or local_stack().get("aws_endpoint_url")
    properties: dict[str, str] = {}
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    properties.update({"glue.region": region, "s3.region": region})
    if endpoint:
        properties.update({"glue.endpoint": endpoint, "s3.endpoint": endpoint})
        if not os.environ.get("AWS_ACCESS_KEY_ID"):
            for key in ("glue", "s3"):
                properties.update({f"{key}.access-key-id": "testing", f"{key}.secret-access-key": "testing"})
    return GlueCatalog("synchub", **properties)


def run_query(sql: str, database: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """(column names, rows) of ``sql`` run by DuckDB, with every table of ``database`` that the SQL names
    registered under its name."""
    import duckdb

    lake = catalog(database)
    names = {identifier[-1] for identifier in lake.list_tables(database)}
    named = {word for word in re.findall(r"[A-Za-z0-9_]+", sql.lower()) if word in names}
    if not named:
        problem = {
            "code": "TABLE_NOT_FOUND",
            "detail": f"the SQL names no table of '{database}' (tables: {', '.join(sorted(names)) or 'none'})",
        }
        raise ApiError(404, problem)
    connection = duckdb.connect()
    for name in sorted(named):
        lake.load_table((database, name)).scan().to_duckdb(table_name=name, connection=connection)
    try:
        cursor = connection.execute(sql)
    except duckdb.Error as error:
        raise ApiError(422, {"code": "INVALID_QUERY", "detail": str(error)}) from None
    columns = [column[0] for column in cursor.description or []]
    return columns, [tuple(_plain(value) for value in row) for row in cursor.fetchall()]


def _plain(value: Any) -> Any:
    """A value JSON and a table cell show as it is: decimals as exact text, times in ISO 8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value
