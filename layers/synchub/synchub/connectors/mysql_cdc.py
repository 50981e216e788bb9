"""Change data capture from MySQL and MariaDB: a first copy of the table, then its changes from the row
binlog, read with ``mysql-replication`` from the position the checkpoint names until caught up or a batch is
full, then disconnected (a Lambda that polls holds no replication connection between polls).

The binlog position is taken before the copy, so nothing that changes during the copy is missed (a change
the copy already saw is applied again, harmlessly, by key in log order). A batch ends at a transaction's end;
the state names the position after it, so a read after a crash goes on from the last batch whose part was
written. Nothing is held on the server: the binlog's own retention (``binlog_expire_logs_seconds``,
``expire_logs_days``) decides how long a stopped sync may wait, and a position it purged fails the task with
``CDC_POSITION_LOST``. Rows take the table's columns by position (a binlog written with
``binlog_row_metadata = MINIMAL`` names none), unsigned integers from the catalog."""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime, timezone
from typing import Any, Collection

from synchub.connectors.base import Batch, PermanentSourceError, StreamSpec
from synchub.connectors.capture import OPERATIONS, CaptureError, PositionLost, copy_page, keyed, newest_change
from synchub.connectors.sql import MySqlSource
from synchub.connectors.sql_values import DriverRows
from synchub.models.columns import CHANGE_OP, Column
from synchub.timeutil import iso

# mysql-replication warns at every read of a binlog written without column names; rows take them by position
logging.getLogger("pymysqlreplication").setLevel(logging.ERROR)

INTEGER_BITS = {"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "bigint": 64}
TRUNCATE = re.compile(r"^\s*TRUNCATE\s+(?:TABLE\s+)?`?(?:(?P<schema>\w+)`?\.`?)?(?P<table>\w+)`?", re.IGNORECASE)


class MySqlChangeSource(MySqlSource):
    """A CDC realtime sync of one MySQL or MariaDB table: ``read`` copies the table, then returns its changes."""

    def __init__(self, connection: dict[str, Any], stream: StreamSpec, *, name: str):
        if not stream.table_name:
            raise CaptureError("CDC reads a table's changes: set table_name (a query has no change log)")
        super().__init__(connection, stream, incremental=False)
        self.name = name
        # the replica id the binlog reader announces: stable per (data source, interface), clear of small ids
        self.server_id = 1_000_000 + int(hashlib.blake2b(name.encode(), digest_size=3).hexdigest(), 16)
        self.applied = dict.fromkeys(OPERATIONS, 0)
        self._layout: tuple[list[Column], list[str], dict[int, int], frozenset[int]] | None = None

    # ---- reading ----------------------------------------------------------------------------------
    def read(
        self,
        state: dict[str, Any] | None,
        batch_size: int,
        watermark: Any = None,
        delivered: Collection[Any] | None = (),
    ) -> Batch:
        """The copy's next page, then the next transactions' changes (about ``batch_size`` rows, whole
        transactions). A copy's last page and each batch of changes ask to be committed (``Batch.commit``)."""
        if state is None:
            self.primary_key()  # a table without a key fails here (CDC_NO_KEY)
            self._require_row_binlog()
            log_file, log_pos = self._binlog_position()
            state = {"phase": "copy", "log_file": log_file, "log_pos": log_pos}
        if state.get("phase") == "copy":
            position = {"log_file": state["log_file"], "log_pos": state["log_pos"]}
            return copy_page(super().read, state, batch_size, position)
        return self._changes(state, batch_size)

    def _changes(self, state: dict[str, Any], batch_size: int) -> Batch:
        from pymysqlreplication import BinLogStreamReader  # noqa: PLC0415 - only for MySQL CDC
        from pymysqlreplication.event import QueryEvent, XidEvent  # noqa: PLC0415
        from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent  # noqa: PLC0415

        sizes = dict(self._binlogs())
        if int(state["log_pos"]) > sizes.get(state["log_file"], -1):  # purged, or the binlogs reset since
            raise PositionLost(
                f"The binlog {state['log_file']} that this sync stopped in was purged by the server (its binlog "
                "retention): the changes since are gone. Start again with a new CDC task, which copies the table "
                "first, and keep binlogs longer than a sync may wait."
            )
        columns, names, unsigned, utc = self._table_layout()
        schema, _, table = (self.stream.table_name or "").rpartition(".")
        database = schema or self.settings["database"]
        config = self.settings
        reader = BinLogStreamReader(
            connection_settings={
                "host": config["host"],
                "port": int(config.get("port") or 3306),
                "user": config.get("user") or config.get("username"),
                "password": config.get("password") or "",
                "connect_timeout": int(config.get("connect_timeout") or 10),
            },
            server_id=self.server_id,
            resume_stream=True,
            log_file=state["log_file"],
            log_pos=int(state["log_pos"]),
            blocking=False,
            only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent, QueryEvent, XidEvent],
        )
        values: list[list[Any]] = []
        pending: list[list[Any]] = []  # the open transaction's rows, kept once it ends
        end, newest, full = dict(state), state.get("last_change_at"), False
        with self.translate_errors():
            try:
                for event in reader:
                    if isinstance(event, (WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent)):
                        if event.schema == database and event.table == table:
                            pending.extend(self._rows_of(event, names, unsigned))
                        continue
                    if isinstance(event, QueryEvent):
                        query = event.query if isinstance(event.query, str) else bytes(event.query).decode()
                        truncated = TRUNCATE.match(query)
                        if truncated and truncated["table"] == table and (truncated["schema"] or database) == database:
                            pending.append([None] * len(names) + ["truncate"])
                        if query.strip().upper() == "BEGIN":
                            continue
                    values.extend(pending)  # a commit (Xid) or a statement outside a transaction (DDL, TRUNCATE)
                    pending = []
                    end = {"phase": "changes", "log_file": reader.log_file, "log_pos": reader.log_pos}
                    newest = iso(datetime.fromtimestamp(event.timestamp, timezone.utc))
                    if len(values) >= batch_size:
                        full = True
                        break
            finally:
                reader.close()
        for row in values:
            self.applied[row[-1]] += 1
        next_state = {**end, "last_change_at": newest}
        moved = (end["log_file"], int(end["log_pos"])) != (state["log_file"], int(state["log_pos"]))
        return Batch(
            DriverRows(names + [CHANGE_OP], values, utc),
            next_state,
            columns=[*columns, Column(CHANGE_OP, "string")],
            commit=bool(values) or moved,
            caught_up=not full,
        )

    def _rows_of(self, event: Any, names: list[str], unsigned: dict[int, int]) -> list[list[Any]]:
        from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent  # noqa: PLC0415

        key = names.index(self.order[0])
        rows = []
        for row in event.rows:
            if isinstance(event, UpdateRowsEvent):
                before = self._positional(row["before_values"], names, unsigned)
                after = self._positional(row["after_values"], names, unsigned)
                if before[key] != after[key]:
                    rows.append([*before, "delete"])
                rows.append([*after, "update"])
            elif isinstance(event, DeleteRowsEvent):
                rows.append([*self._positional(row["values"], names, unsigned), "delete"])
            else:
                rows.append([*self._positional(row["values"], names, unsigned), "insert"])
        return rows

    @staticmethod
    def _positional(values: dict[str, Any], names: list[str], unsigned: dict[int, int]) -> list[Any]:
        """A binlog row as the table's columns: by name where the binlog gives names, else by position; an
        unsigned integer read as negative (a binlog without signedness) made positive again."""
        listed = list(values.values())
        row = [
            values[name] if name in values else (listed[i] if i < len(listed) else None) for i, name in enumerate(names)
        ]
        for index, bits in unsigned.items():
            value = row[index]
            if isinstance(value, int) and value < 0:
                row[index] = value + (1 << bits)
        return row

    def _table_layout(self) -> tuple[list[Column], list[str], dict[int, int], frozenset[int]]:
        """The table's columns as a copy types them, their names in order, the unsigned integers' widths by
        position, and the columns whose times are UTC (TIMESTAMP)."""
        if self._layout is None:
            with self.translate_errors():
                cursor = self.connection().cursor()
                cursor.execute(f"SELECT * FROM {self.relation()} WHERE 1 = 0")
                description = cursor.description
                cursor.close()
            where, params = self._table_filter("c")
            kinds = self._catalog(
                f"SELECT c.column_type FROM information_schema.columns c WHERE {where} ORDER BY c.ordinal_position",
                params,
            )
            unsigned = {}
            for index, (column_type,) in enumerate(kinds):
                text = str(column_type).lower()
                base = text.split("(")[0].split()[0]
                if "unsigned" in text and base in INTEGER_BITS:
                    unsigned[index] = INTEGER_BITS[base]
            names = [str(column[0]) for column in description]
            self._layout = (self.columns(description), names, unsigned, self.utc_columns(description))
        return self._layout

    # ---- the server's binlog ------------------------------------------------------------------------
    def _variables(self) -> dict[str, str]:
        rows = self._catalog(
            "SHOW VARIABLES WHERE Variable_name IN ('log_bin', 'binlog_format', 'binlog_row_image')", []
        )
        return {str(name).lower(): str(value).upper() for name, value in rows}

    def _require_row_binlog(self) -> None:
        found = self._variables()
        if found.get("log_bin") != "ON":
            raise CaptureError(
                "CDC needs the binlog: this server runs without one (log_bin OFF). Start it with log_bin (on Amazon "
                "RDS and Aurora MySQL: set a backup retention period, which turns the binlog on)."
            )
        if found.get("binlog_format") != "ROW":
            raise CaptureError(
                f"CDC needs binlog_format = ROW; this server has binlog_format = {found.get('binlog_format')} "
                "(on RDS and Aurora: in the DB parameter group)."
            )
        if found.get("binlog_row_image", "FULL") != "FULL":
            raise CaptureError(
                f"CDC needs binlog_row_image = FULL; this server has {found.get('binlog_row_image')}, so updates "
                "would not carry whole rows."
            )

    def _binlog_position(self) -> tuple[str, int]:
        for statement in ("SHOW MASTER STATUS", "SHOW BINARY LOG STATUS"):  # the second: MySQL 8.4 and later
            try:
                rows = self._catalog(statement, [])
            except PermanentSourceError:  # the older statement is gone on newer servers; or a refusal
                continue
            if rows:
                return str(rows[0][0]), int(rows[0][1])
        raise CaptureError(
            "the user may not read the binlog position: GRANT REPLICATION CLIENT, REPLICATION SLAVE ON *.* TO the "
            "user (MariaDB: BINLOG MONITOR, REPLICATION SLAVE)."
        )

    def _binlogs(self) -> list[tuple[str, int]]:
        return [(str(row[0]), int(row[1])) for row in self._catalog("SHOW BINARY LOGS", [])]

    def check(self) -> None:
        """The connection test's checks, CDC's among them: the table and its key, the binlog (on, ROW, FULL
        row images) and the right to read it."""
        super().check()
        self._require_row_binlog()
        self._binlog_position()

    # ---- after a commit -----------------------------------------------------------------------------
    def committed(self, state: dict[str, Any] | None) -> dict[str, Any]:
        """The changes up to ``state`` are in the table (nothing is held on the server to let go of): how far
        the table is behind, and the changes applied since the last commit by operation."""
        applied, self.applied = self.applied, dict.fromkeys(OPERATIONS, 0)
        state = state or {}
        phase = state.get("phase", "copy")
        lag: dict[str, Any] = {"phase": phase, "slot": None, "lag_bytes": None, "applied": applied}
        if phase == "changes":
            logs = self._binlogs()
            names = [name for name, _size in logs]
            if state["log_file"] in names:
                at = names.index(state["log_file"])
                lag["lag_bytes"] = sum(size for _name, size in logs[at:]) - int(state["log_pos"])
            lag["position"] = f"{state['log_file']}:{state['log_pos']}"
        return {**lag, **newest_change(state)}

    def release(self) -> bool:
        """Nothing to let go of: the binlog is the server's, kept by its own retention."""
        return False

    def primary_key(self) -> str:
        """The key changes apply by: the stream's primary_key, else the table's own (``CDC_NO_KEY`` without)."""
        return keyed(lambda: self.order[0])
