"""Relational sources (PostgreSQL with psycopg, MySQL/MariaDB with PyMySQL): a table or a query, read
by keyset paging on the primary key (full) or on (cursor field, primary key) (incremental), or within one
range of the primary key (a parallel sync's share).

Size: over 300 lines because the keyset paging, the key range it may be limited to and the two drivers'
connections and error classification make one reader, which the subclasses complete; the catalog lookups
are in ``sql_catalog``, the ranges' boundaries in ``sql_ranges`` and the values in ``sql_values``."""

from __future__ import annotations

import re
from abc import abstractmethod
from typing import Any, Collection

from synchub.connectors.base import (
    Batch,
    PermanentSourceError,
    SourceErrors,
    StreamSpec,
    TransientSourceError,
    boundary_key,
    cursor_boundary,
)
from synchub.connectors.sql_catalog import SqlCatalog
from synchub.connectors.sql_values import DriverRows, exact_postgres_values
from synchub.models.columns import Column, mysql_columns, postgres_columns
from synchub.outbound import DestinationNotAllowed, current_guard

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")


class SqlSource(SqlCatalog):
    """Keyset paging shared by the drivers; each subclass opens its connection and classifies its errors."""

    quote_char = '"'
    current_schema = ""  # the SQL giving the connection's default schema (catalog lookups)

    def __init__(self, connection: dict[str, Any], stream: StreamSpec, *, incremental: bool):
        self.settings = connection
        self.stream = stream
        if not stream.table_name and not stream.query:
            raise PermanentSourceError("the stream names neither table_name nor query")
        if not stream.primary_key and stream.query:
            raise PermanentSourceError("a query needs params_config.primary_key (a unique column to page by)")
        if incremental and not stream.cursor_field:
            raise PermanentSourceError("incremental and realtime syncs need a cursor_field")
        self.incremental = incremental
        self.key_range: dict[str, Any] | None = None  # a parallel sync's share: {low, high} of the primary key
        self._order: list[str] | None = None
        self._connection: Any = None

    @property
    def order(self) -> list[str]:
        """The keyset: (cursor field, primary key) for incremental syncs, else the primary key; a table without
        a configured primary_key pages by the primary key its catalog gives."""
        if self._order is None:
            key = self.stream.primary_key or self._catalog_primary_key()
            self._order = [self.stream.cursor_field or "", key] if self.incremental else [key]
        return self._order

    # ---- SQL ------------------------------------------------------------------------------------
    def quote(self, name: str) -> str:
        if not IDENTIFIER.match(name):
            raise PermanentSourceError(f"'{name}' is not a plain SQL identifier")
        q = self.quote_char
        return ".".join(f"{q}{part}{q}" for part in name.split("."))

    def relation(self) -> str:
        if self.stream.query:
            return f"({self.stream.query.rstrip().rstrip(';')}) AS synchub_q"
        return self.quote(self.stream.table_name or "")

    def _where(
        self, after: list[Any] | None, watermark: Any, delivered: Collection[Any] | None
    ) -> tuple[str, list[Any]]:
        clauses, params = [], []
        if self.key_range is not None:
            key = self.quote(self.order[-1])
            for bound, operator in (("low", ">="), ("high", "<")):
                if self.key_range.get(bound) is not None:
                    clauses.append(f"{key} {operator} %s")
                    params.append(self.key_range[bound])
        if after is not None:
            columns = ", ".join(self.quote(c) for c in self.order)
            clauses.append(f"({columns}) > ({', '.join(['%s'] * len(after))})")
            params.extend(after)
        if self.incremental and watermark is not None:
            cursor = self.quote(self.stream.cursor_field or "")
            if delivered:  # the rows at the watermark, less those earlier runs delivered (by primary key)
                keys = list(delivered)
                clauses.append(
                    f"({cursor} > %s OR ({cursor} = %s AND {self.quote(self.order[-1])} NOT IN "
                    f"({', '.join(['%s'] * len(keys))})))"
                )
                params.extend([watermark, watermark, *keys])
            else:
                clauses.append(f"{cursor} >= %s")
                params.append(watermark)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    # ---- ranges ---------------------------------------------------------------------------------
    def split(self, parts: int) -> tuple[list[dict[str, Any]], int | None]:
        """Up to ``parts`` ranges of the primary key with about as many rows each (``sql_ranges``), as stored
        ranges ({index, low, high}), and the table's row count."""
        from synchub.connectors.sql_ranges import key_ranges  # noqa: PLC0415 - sql_ranges builds on this module

        ranges = key_ranges(self, parts)
        total = int(self._catalog(f"SELECT COUNT(*) FROM {self.relation()}", [])[0][0])
        return [key_range.stored() for key_range in ranges], total

    def limit_to(self, key_range: dict[str, Any]) -> None:
        """Read only the keys ``low <= key < high`` from now on (a bound left out: unbounded on that side)."""
        self.key_range = key_range

    # ---- reading --------------------------------------------------------------------------------
    def read(
        self,
        state: dict[str, Any] | None,
        batch_size: int,
        watermark: Any = None,
        delivered: Collection[Any] | None = (),
    ) -> Batch:
        """The next page in key order; an incremental one at or past ``watermark``, less the rows whose primary
        keys are ``delivered`` at exactly it. The batch carries its newest cursor value and the keys at it."""
        after = (state or {}).get("after")
        where, params = self._where(after, watermark, delivered)
        order_by = ", ".join(self.quote(c) for c in self.order)
        sql = f"SELECT * FROM {self.relation()}{where} ORDER BY {order_by} LIMIT {int(batch_size)}"
        total = None
        with self.translate_errors():
            cursor = self.connection().cursor()
            if state is None:
                count_where, count_params = self._where(None, watermark, delivered)
                cursor.execute(f"SELECT COUNT(*) FROM {self.relation()}{count_where}", count_params)
                total = int(self._first_value(cursor.fetchone()))
            cursor.execute(sql, params)
            names = [d[0] for d in cursor.description]
            fetched = cursor.fetchall()
            if fetched and isinstance(fetched[0], dict):  # a driver configured for dict rows
                fetched = [[raw[n] for n in names] for raw in fetched]
            rows = DriverRows(names, list(fetched), self.utc_columns(cursor.description))
            columns = self.columns(cursor.description)
            cursor.close()
        for column in self.order:
            if rows and column not in names:
                raise PermanentSourceError(f"column '{column}' is not in the source rows")
        next_state = None
        if len(rows) == batch_size:
            last = DriverRows(names, [rows.values[-1]], rows.utc_columns)[0]
            next_state = {"after": [last[c] for c in self.order]}
        if not self.stream.cursor_field:
            return Batch(rows, next_state, total, columns=columns)
        key = self.order[-1]
        # The boundary from the rows at the newest cursor alone, where the driver's values say which they are.
        cursor_field = self.stream.cursor_field
        at_newest = rows.at_newest(cursor_field) if cursor_field in names else []
        bounded = rows if at_newest is None else at_newest
        newest_value, keys = cursor_boundary(bounded, cursor_field, lambda row: boundary_key(row, key))
        return Batch(rows, next_state, total, cursor=newest_value, cursor_keys=keys, columns=columns)

    @abstractmethod
    def columns(self, description: Any) -> list[Column]:
        """The result's column types, from the driver's description of it."""

    def utc_columns(self, description: Any) -> frozenset[int]:
        """The columns whose naive times are UTC (none, unless the driver says otherwise)."""
        return frozenset()

    @staticmethod
    def _first_value(raw: Any) -> Any:
        return next(iter(raw.values())) if isinstance(raw, dict) else raw[0]

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None


def checked_addresses(host: str, port: int) -> str | None:
    """libpq's ``hostaddr`` for ``host`` (one address per comma-separated host): libpq resolves names in C,
    out of the outbound guard's reach, so it is handed the addresses the guard checked, and still verifies
    certificates against ``host``. None when no guard is in force."""
    guard = current_guard()
    if guard is None:
        return None
    addresses = []
    for name in host.split(","):
        if name.startswith(("/", "@")):  # a Unix-domain socket on this machine
            if not guard.policy.allow_local:
                raise DestinationNotAllowed(f"{name} is a Unix socket on the function's own machine")
            return None
        addresses.append(guard.address(name, port))
    return ",".join(addresses)


# What PostgreSQL (or libpq) says when retrying cannot help: credentials, an unknown database or role, a TLS
# setting the server does not share ("server does not support SSL, but SSL was required").
PERMANENT_POSTGRES_REFUSALS = (
    "authentication",
    "password",
    "does not exist",
    "permission",
    "SSL",
    "ssl",
    "no pg_hba.conf entry",
    "certificate",
)


class PostgresSource(SqlSource):
    quote_char = '"'
    current_schema = "current_schema()"

    def columns(self, description: Any) -> list[Column]:
        return postgres_columns(description)

    def connection(self) -> Any:
        if self._connection is None:
            import psycopg  # noqa: PLC0415 - one module serves two drivers: load only the one a task uses

            config = self.settings
            port = int(config.get("port") or 5432)
            with self.translate_errors():
                self._connection = psycopg.connect(
                    host=config["host"],
                    hostaddr=checked_addresses(config["host"], port),
                    port=port,
                    dbname=config["database"],
                    user=config.get("user") or config.get("username"),
                    password=config.get("password"),
                    connect_timeout=int(config.get("connect_timeout") or 10),
                    sslmode=config.get("sslmode") or "prefer",
                    autocommit=True,
                    application_name="synchub",
                )
                exact_postgres_values(self._connection)
        return self._connection

    def translate_errors(self) -> Any:
        def classify(error: Exception) -> Exception | None:
            import psycopg  # noqa: PLC0415 - one module serves two drivers: load only the one a task uses

            if not isinstance(error, psycopg.Error):
                return None
            text = str(error).splitlines()[0] if str(error) else type(error).__name__
            if isinstance(error, psycopg.OperationalError):
                if any(words in text for words in PERMANENT_POSTGRES_REFUSALS):
                    return PermanentSourceError(f"PostgreSQL refused the connection: {text}")
                self.close()
                return TransientSourceError(f"PostgreSQL unavailable: {text}")
            if isinstance(
                error,
                (
                    psycopg.errors.QueryCanceled,
                    psycopg.errors.AdminShutdown,
                    psycopg.errors.SerializationFailure,
                    psycopg.errors.DeadlockDetected,
                ),
            ):
                self.close()
                return TransientSourceError(f"PostgreSQL: {text}")
            return PermanentSourceError(f"PostgreSQL: {text}")

        return SourceErrors(classify)


class MySqlSource(SqlSource):
    quote_char = "`"
    current_schema = "DATABASE()"
    # Client errors that mean the server could not be reached or went away: worth retrying.
    TRANSIENT_CODES = frozenset({2002, 2003, 2006, 2013, 1040, 1205, 1213})

    def connection(self) -> Any:
        if self._connection is None:
            import pymysql  # noqa: PLC0415 - one module serves two drivers: load only the one a task uses

            config = self.settings
            with self.translate_errors():
                self._connection = pymysql.connect(
                    host=config["host"],
                    port=int(config.get("port") or 3306),
                    database=config["database"],
                    user=config.get("user") or config.get("username"),
                    password=config.get("password") or "",
                    connect_timeout=int(config.get("connect_timeout") or 10),
                    read_timeout=60,
                    cursorclass=pymysql.cursors.Cursor,
                    autocommit=True,
                    charset="utf8mb4",
                    init_command="SET time_zone = '+00:00'",  # TIMESTAMP columns read as UTC
                )
        return self._connection

    def columns(self, description: Any) -> list[Column]:
        return mysql_columns(description)

    def utc_columns(self, description: Any) -> frozenset[int]:
        from pymysql.constants import FIELD_TYPE  # noqa: PLC0415 - one module serves two drivers

        return frozenset(index for index, column in enumerate(description or ()) if column[1] == FIELD_TYPE.TIMESTAMP)

    def translate_errors(self) -> Any:
        def classify(error: Exception) -> Exception | None:
            import pymysql  # noqa: PLC0415 - one module serves two drivers: load only the one a task uses

            if not isinstance(error, pymysql.err.Error):
                return None
            code = error.args[0] if error.args and isinstance(error.args[0], int) else None
            text = str(error.args[1]) if len(error.args) > 1 else str(error)
            if code in self.TRANSIENT_CODES or isinstance(error, pymysql.err.InterfaceError):
                self.close()
                return TransientSourceError(f"MySQL unavailable ({code}): {text}")
            return PermanentSourceError(f"MySQL error {code}: {text}")

        return SourceErrors(classify)
