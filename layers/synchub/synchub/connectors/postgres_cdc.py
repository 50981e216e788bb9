"""Change data capture from PostgreSQL: a first copy of the table, then its changes from a logical replication
slot (``pgoutput``), read through the SQL functions, so a Lambda that polls needs no replication connection.

The slot (one per data source and interface) is created before the copy, so nothing that changes during the
copy is missed; re-applying a change the copy already saw is harmless, as the table applies changes by key in
log order. A read *peeks* at the slot and never consumes it: the runner calls ``committed`` once the table
commit holding the changes is made, which advances the slot (``pg_replication_slot_advance``) and lets the
server drop the WAL behind it. The source's state names the end of the last transaction read, so a read after a
crash skips what an earlier run already read (its parts are written, the checkpoint says so) and moves the
slot up to it first.

Each change becomes a row of the table's columns plus ``__synchub_op`` (insert, update, delete, truncate): a
delete carries the key alone, a truncate no values. The table commit folds them per key in log order.

Size: over 300 lines because the slot's life (create, peek, advance, drop), the reading of its messages and
what the server must allow for it share one connection and one state, and make the exactly-once protocol
together; the protocol's decoding is in ``connectors.pgoutput``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Collection

from synchub.connectors.base import Batch, StreamSpec, TransientSourceError
from synchub.connectors.capture import OPERATIONS, CaptureError, NoKey, SlotLost, copy_page, keyed, newest_change
from synchub.connectors.pgoutput import (
    UNCHANGED,
    Begin,
    Commit,
    Relation,
    RowChange,
    Truncate,
    decode,
    lsn_number,
    lsn_text,
)
from synchub.connectors.sql import PostgresSource
from synchub.connectors.sql_values import DriverRows
from synchub.models.columns import CHANGE_OP, Column, postgres_columns
from synchub.observability import logger
from synchub.timeutil import iso


@dataclass
class _Described:
    """A relation column as psycopg's description would give it (for ``postgres_columns``)."""

    name: str
    type_code: int
    precision: int | None
    scale: int | None


def _described(name: str, type_oid: int, modifier: int) -> _Described:
    precision = scale = None
    if type_oid == 1700 and modifier >= 4:  # numeric(p,s): typmod - 4 holds p << 16 | s
        precision, scale = ((modifier - 4) >> 16) & 0xFFFF, (modifier - 4) & 0xFFFF
    return _Described(name, type_oid, precision, scale)


class PostgresChangeSource(PostgresSource):
    """A CDC realtime sync of one PostgreSQL table: ``read`` copies the table, then returns its changes."""

    def __init__(self, connection: dict[str, Any], stream: StreamSpec, *, name: str):
        if not stream.table_name:
            raise CaptureError("CDC reads a table's changes: set table_name (a query has no change log)")
        super().__init__(connection, stream, incremental=False)
        self.slot = self.publication = name
        self.applied = dict.fromkeys(OPERATIONS, 0)  # changes read since the last commit, by operation
        self._relation: Relation | None = None
        self._loaders: dict[int, Any] = {}

    # ---- reading ----------------------------------------------------------------------------------
    def read(
        self,
        state: dict[str, Any] | None,
        batch_size: int,
        watermark: Any = None,
        delivered: Collection[Any] | None = (),
    ) -> Batch:
        """The copy's next page, then the next transactions' changes (whole transactions, about
        ``batch_size`` changes). A copy's last page and each batch of changes ask to be committed before the
        next read (``Batch.commit``); ``caught_up`` when the slot held nothing more."""
        if state is None:
            state = {"phase": "copy", "lsn": self._start_capture()}
        if state.get("phase") == "copy":
            return copy_page(super().read, state, batch_size, {"lsn": state["lsn"]})
        return self._changes(state, batch_size)

    def _start_capture(self) -> str:
        """Create the publication and a fresh slot (a slot left by an earlier task is dropped: this task copies
        the table again); the slot's first position."""
        self._require_logical()
        self._require_identity()
        table = self.quote(self.stream.table_name or "")
        if not self._catalog("SELECT 1 FROM pg_publication WHERE pubname = %s", [self.publication]):
            self._as_dba(f"CREATE PUBLICATION {self.publication} FOR TABLE {table}")
        elif not self._catalog(
            "SELECT 1 FROM pg_publication_tables WHERE pubname = %s AND format('%%I.%%I', schemaname, tablename)"
            "::regclass = %s::regclass",
            [self.publication, self.stream.table_name],
        ):  # a publication left by an earlier task, its table since dropped and created again
            self._as_dba(f"ALTER PUBLICATION {self.publication} ADD TABLE {table}")
        self.release()
        row = self._as_dba(
            "SELECT lsn::text FROM pg_create_logical_replication_slot(%s, 'pgoutput')", [self.slot], fetch=True
        )
        return str(row[0][0])

    def _changes(self, state: dict[str, Any], batch_size: int) -> Batch:
        position = lsn_number(state["lsn"])
        slot = self._slot()
        if slot is None:
            raise SlotLost(
                f"The replication slot {self.slot} no longer exists (dropped outside SyncHub, or by the server's "
                "max_slot_wal_keep_size): the changes since the last sync are gone. Start again with a new CDC "
                "task, which copies the table first."
            )
        if slot["wal_status"] == "lost":
            raise SlotLost(
                f"The replication slot {self.slot} lost the WAL it needed (max_slot_wal_keep_size): start again "
                "with a new CDC task, which copies the table first."
            )
        if lsn_number(slot["confirmed"]) < position:  # an earlier run read this far and stored it, then stopped
            self._advance(state["lsn"])
        # Read up to where the WAL stands now: once caught up there, the slot may move to it even when none of
        # the WAL since was this table's (a quiet table on a busy database must not hold the WAL back).
        horizon = str(self._catalog("SELECT pg_current_wal_lsn()::text", [])[0][0])
        messages = self._catalog(
            "SELECT data FROM pg_logical_slot_peek_binary_changes(%s, %s::pg_lsn, %s, 'proto_version', '1', "
            "'publication_names', %s)",
            [self.slot, horizon, int(batch_size), self.publication],
        )
        values, read, end, newest = [], 0, state["lsn"], state.get("last_change_at")
        skipping = False
        for (data,) in messages:
            message = decode(data)
            read += 1
            if isinstance(message, Relation):  # sent once per read, maybe within a transaction read before
                if self._is_ours(message):
                    self._relation = message
            elif isinstance(message, Begin):
                skipping = message.final_lsn < position
            elif skipping:
                continue
            elif isinstance(message, RowChange):
                values.extend(self._rows_of(message))
            elif isinstance(message, Truncate):
                if self._relation is not None and self._relation.id in message.relation_ids:
                    values.append([None] * len(self._relation.columns) + ["truncate"])
            elif isinstance(message, Commit):
                end, newest = lsn_text(message.end_lsn), iso(message.commit_time)
        values = self._filled(values)
        for row in values:
            self.applied[row[-1]] += 1
        caught_up = read < batch_size
        if caught_up and lsn_number(horizon) > lsn_number(end):
            end = horizon
        next_state = {"phase": "changes", "lsn": end, "last_change_at": newest}
        columns = self._columns_of_relation()
        names = [column.name for column in columns]
        return Batch(
            DriverRows(names, values),
            next_state,
            columns=columns,
            commit=bool(values) or end != state["lsn"],
            caught_up=caught_up,
        )

    def _is_ours(self, relation: Relation) -> bool:
        schema, _, table = (self.stream.table_name or "").rpartition(".")
        return relation.name == table and (not schema or relation.schema == schema)

    def _rows_of(self, change: RowChange) -> list[list[Any]]:
        relation = self._relation
        if relation is None or change.relation_id != relation.id:
            return []
        rows = []
        keys = [index for index, column in enumerate(relation.columns) if column.key]
        if change.operation == "delete" or (change.old is not None and change.new is not None):
            old = change.old or ()
            if change.operation == "delete" or any(old[i] != change.new[i] for i in keys):  # type: ignore[index]
                rows.append([self._value(relation, i, old[i]) if i in keys else None for i in range(len(old))])
                rows[-1].append("delete")
        if change.new is not None:
            rows.append([self._value(relation, i, value) for i, value in enumerate(change.new)] + [change.operation])
        return rows

    def _value(self, relation: Relation, index: int, raw: Any) -> Any:
        if raw is None or raw is UNCHANGED:
            return raw
        oid = relation.columns[index].type_oid
        loader = self._loaders.get(oid)
        if loader is None:
            from psycopg.pq import Format  # noqa: PLC0415 - psycopg loads only for PostgreSQL sources

            found = self.connection().adapters.get_loader(oid, Format.TEXT)
            loader = self._loaders[oid] = found(oid, self.connection()) if found else None
        return loader.load(raw) if loader is not None else raw.decode()

    def _filled(self, values: list[list[Any]]) -> list[list[Any]]:
        """The rows, each TOASTed value an update did not send taken from the row as it stands now (a later
        change to it is in the log after this one, so the table still ends equal to the source)."""
        relation = self._relation
        missing = [row for row in values if any(value is UNCHANGED for value in row)]
        if not missing or relation is None:
            return values
        key = self.order[0]
        index = [column.name for column in relation.columns].index(key)
        names = ", ".join(self.quote(column.name) for column in relation.columns)
        keys = list({row[index] for row in missing})
        current = {
            row[index]: row
            for row in self._catalog(
                f"SELECT {names} FROM {self.relation()} WHERE {self.quote(key)} = ANY(%s)",
                [keys],
            )
        }
        for row in missing:
            now = current.get(row[index])
            for position, value in enumerate(row[:-1]):
                if value is UNCHANGED:
                    row[position] = now[position] if now is not None else None
        return values

    def _columns_of_relation(self) -> list[Column]:
        relation = self._relation
        if relation is None:
            return [Column(CHANGE_OP, "string")]
        described = [_described(c.name, c.type_oid, c.type_modifier) for c in relation.columns]
        return [*postgres_columns(described), Column(CHANGE_OP, "string")]

    # ---- the slot ---------------------------------------------------------------------------------
    def committed(self, state: dict[str, Any] | None) -> dict[str, Any]:
        """The changes up to ``state`` are in the table: advance the slot there (the server may drop the WAL
        behind it); the replication lag after it, and the changes it applied by operation (``applied``)."""
        if state and state.get("phase") == "changes":
            self._advance(state["lsn"])
        applied, self.applied = self.applied, dict.fromkeys(OPERATIONS, 0)
        return {**self.lag(state), "applied": applied}

    def primary_key(self) -> str:
        """The key changes apply by: the stream's primary_key, else the table's own (``CDC_NO_KEY`` without)."""
        return keyed(lambda: self.order[0])

    def lag(self, state: dict[str, Any] | None) -> dict[str, Any]:
        """How far the table is behind the source: bytes of WAL the slot still holds, and the age of the newest
        change applied."""
        row = self._catalog(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint FROM pg_replication_slots "
            "WHERE slot_name = %s",
            [self.slot],
        )
        phase = (state or {}).get("phase", "copy")
        lag: dict[str, Any] = {
            "phase": phase,
            "slot": self.slot,
            "lag_bytes": int(row[0][0]) if row else None,
            **newest_change(state),
        }
        if phase == "changes":
            lag["position"] = (state or {}).get("lsn")
        return lag

    def release(self) -> bool:
        """Drop the slot, if it exists (True then): the server keeps no more WAL for it."""
        if not self._slot():
            return False
        self._as_dba("SELECT pg_drop_replication_slot(%s)", [self.slot], fetch=True)
        return True

    def _slot(self) -> dict[str, Any] | None:
        rows = self._catalog(
            "SELECT confirmed_flush_lsn::text, wal_status FROM pg_replication_slots WHERE slot_name = %s",
            [self.slot],
        )
        return {"confirmed": rows[0][0] or "0/0", "wal_status": rows[0][1]} if rows else None

    def _advance(self, lsn: str) -> None:
        """Move the slot to ``lsn`` if it stands before it (the server refuses a move backwards)."""
        self._catalog(
            "SELECT pg_replication_slot_advance(slot_name, %s::pg_lsn) FROM pg_replication_slots "
            "WHERE slot_name = %s AND confirmed_flush_lsn < %s::pg_lsn",
            [lsn, self.slot, lsn],
        )

    # ---- what CDC needs from the server -----------------------------------------------------------
    def _require_logical(self) -> None:
        level = self._catalog("SHOW wal_level", [])[0][0]
        if level != "logical":
            raise CaptureError(
                f"CDC needs wal_level = logical; this server has wal_level = {level}. Set it (on Amazon RDS and "
                "Aurora: rds.logical_replication = 1 in the parameter group) and restart the server."
            )

    def check(self) -> None:
        """The connection test's checks, CDC's among them, each problem in its own words: the table and its
        key, the server's wal_level, the table's replica identity, and the right to create the slot."""
        super().check()
        self._require_logical()
        self._require_identity()
        rights = self._catalog(
            "SELECT rolsuper OR rolreplication FROM pg_roles WHERE rolname = current_user "
            "UNION ALL SELECT pg_has_role(current_user, 'rds_replication', 'member') "
            "FROM pg_roles WHERE rolname = 'rds_replication'",
            [],
        )
        slot_exists = self._slot() is not None
        if not any(row[0] for row in rights) and not slot_exists:
            raise CaptureError(f"the user may not create replication slots. {self.dba_sql()}")

    def _require_identity(self) -> None:
        """The table has a key, and its updates and deletes carry it (its replica identity)."""
        key = self.primary_key()
        identity = self._catalog("SELECT relreplident FROM pg_class WHERE oid = %s::regclass", [self.stream.table_name])
        if identity and identity[0][0] == "n":
            raise NoKey(
                f"table '{self.stream.table_name}' has REPLICA IDENTITY NOTHING, so its updates and deletes carry "
                f"no key: ALTER TABLE {self.stream.table_name} REPLICA IDENTITY DEFAULT (its primary key {key})"
            )

    def dba_sql(self) -> str:
        """What a DBA runs where SyncHub's user may not create the publication and slot itself."""
        table = self.stream.table_name
        return (
            f"Ask a DBA to run: CREATE PUBLICATION {self.publication} FOR TABLE {table}; and grant the user "
            "REPLICATION (ALTER ROLE <user> REPLICATION; on Amazon RDS: GRANT rds_replication TO <user>)."
        )

    def _as_dba(self, sql: str, params: list[Any] | None = None, *, fetch: bool = False) -> list[Any]:
        """Run a statement that needs more than reading, turning a refusal into what a DBA should run."""
        import psycopg  # noqa: PLC0415 - psycopg loads only for PostgreSQL sources

        try:
            cursor = self.connection().cursor()
            cursor.execute(sql, params or [])
            rows = [list(row) for row in cursor.fetchall()] if fetch else []
            cursor.close()
            return rows
        except psycopg.errors.InsufficientPrivilege as error:
            raise CaptureError(f"PostgreSQL refused '{sql.split(' ')[0]} …': {error}. {self.dba_sql()}") from error
        except psycopg.errors.ObjectNotInPrerequisiteState as error:
            raise CaptureError(f"PostgreSQL: {error}") from error
        except psycopg.Error:
            with self.translate_errors():
                raise


class SlotAdmin(PostgresChangeSource):
    """A data source's replication slots and publications, dropped when the data source, an interface, or CDC
    itself goes (a slot nobody reads keeps WAL until the database's disk fills). It reads no table."""

    def __init__(self, connection: dict[str, Any]):
        # PostgresSource's checks want a relation; this one is never read
        PostgresSource.__init__(self, connection, StreamSpec(table_name="pg_replication_slots"), incremental=False)
        self.slot = self.publication = ""
        self.applied = dict.fromkeys(OPERATIONS, 0)
        self._relation = None
        self._loaders = {}

    def drop_slots(self, names: list[str]) -> list[str]:
        """Drop the slots (and publications) of these names that exist; the slots dropped. A slot being read
        right now is left, as a transient failure."""
        found = self._catalog(
            "SELECT slot_name, active FROM pg_replication_slots WHERE slot_name = ANY(%s)", [list(names)]
        )
        busy = [str(name) for name, active in found if active]
        if busy:
            raise TransientSourceError(f"the replication slot {', '.join(busy)} is being read right now")
        for name, _active in found:
            self._as_dba("SELECT pg_drop_replication_slot(%s)", [name], fetch=True)
        for name in names:
            try:
                self._as_dba(f"DROP PUBLICATION IF EXISTS {self.quote(name)}")
            except CaptureError:  # not the publication's owner: it holds no WAL, so it may stay
                logger.warning("could not drop the publication", extra={"publication": name})
        return [str(name) for name, _active in found]
