"""What a relational source's catalog says about a stream: its columns and their types, its primary key and
unique columns, and the checks a sync needs from them (the connection test names each problem in its own
words: a missing table, cursor column or key column)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from synchub.connectors.base import PermanentSourceError, StreamSpec

# Column types with no order a cursor could follow (PostgreSQL's and MySQL's catalog names).
UNORDERED_TYPES = frozenset(
    {
        "json",
        "jsonb",
        "xml",
        "point",
        "line",
        "polygon",
        "circle",
        "path",
        "box",
        "lseg",
        "tsvector",
        "geometry",
        "array",
        "user-defined",
    }
)


class SqlCatalog(ABC):
    """Catalog look-ups over the source's connection (``SqlSource`` and its drivers provide it)."""

    stream: StreamSpec
    settings: dict[str, Any]
    current_schema: str

    @abstractmethod
    def connection(self) -> Any:
        """The open driver connection (opened on first use)."""

    @abstractmethod
    def translate_errors(self) -> Any:
        """A context manager turning driver exceptions into transient or permanent source errors."""

    @abstractmethod
    def relation(self) -> str:
        """The table or query to select from."""

    def _catalog_primary_key(self) -> str:
        columns = self._key_columns("PRIMARY KEY")
        if len(columns) != 1:
            if not columns:
                self._columns()  # a missing table says so, rather than "no primary key"
            found = f"a primary key of {len(columns)} columns ({', '.join(columns)})" if columns else "no primary key"
            raise PermanentSourceError(
                f"table '{self.stream.table_name}' has {found}: set params_config.primary_key "
                "to a unique column to page by"
            )
        return str(columns[0])

    def _catalog(self, sql: str, params: list[Any]) -> list[Any]:
        with self.translate_errors():
            cursor = self.connection().cursor()
            cursor.execute(sql, params)
            rows = [list(raw.values()) if isinstance(raw, dict) else list(raw) for raw in cursor.fetchall()]
            cursor.close()
        return rows

    def _table_filter(self, alias: str) -> tuple[str, list[Any]]:
        schema, _, table = (self.stream.table_name or "").rpartition(".")
        return (
            f"{alias}.table_name = %s AND {alias}.table_schema = {'%s' if schema else self.current_schema}",
            [table, schema] if schema else [table],
        )

    def _key_columns(self, *kinds: str) -> list[str]:
        """The columns of the table's single-column constraints of these kinds (PRIMARY KEY, UNIQUE); for one
        PRIMARY KEY alone, every column of it."""
        where, params = self._table_filter("tc")
        rows = self._catalog(
            "SELECT kcu.column_name, tc.constraint_name FROM information_schema.table_constraints tc "
            "JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name "
            "AND kcu.table_schema = tc.table_schema AND kcu.table_name = tc.table_name "
            f"WHERE tc.constraint_type IN ({', '.join(['%s'] * len(kinds))}) AND {where} "
            "ORDER BY kcu.ordinal_position",
            [*kinds, *params],
        )
        if kinds == ("PRIMARY KEY",):
            return [str(column) for column, _name in rows]
        per_constraint: dict[str, list[str]] = {}
        for column, name in rows:
            per_constraint.setdefault(str(name), []).append(str(column))
        return [columns[0] for columns in per_constraint.values() if len(columns) == 1]

    def _columns(self) -> dict[str, str]:
        """The stream's columns and their types: a table's from the catalog (PermanentSourceError if there is
        no such table), a query's from its result."""
        if self.stream.query:
            with self.translate_errors():
                cursor = self.connection().cursor()
                cursor.execute(f"SELECT * FROM {self.relation()} WHERE 1 = 0")
                columns = {str(d[0]): "" for d in cursor.description}
                cursor.close()
            return columns
        where, params = self._table_filter("c")
        rows = self._catalog(
            f"SELECT c.column_name, c.data_type FROM information_schema.columns c WHERE {where} "
            "ORDER BY c.ordinal_position",
            params,
        )
        if not rows:
            raise PermanentSourceError(
                f"table '{self.stream.table_name}' does not exist in database '{self.settings.get('database')}' "
                "(or the user may not see it): check params_config.table_name"
            )
        return {str(name): str(kind).lower() for name, kind in rows}

    def check(self) -> None:
        """What a sync will need, each problem in its own words: the table, the cursor column (orderable) and
        the key column (unique)."""
        columns = self._columns()
        what = f"table '{self.stream.table_name}'" if self.stream.table_name else "the query's result"
        listed = ", ".join(columns)
        cursor, key = self.stream.cursor_field, self.stream.primary_key
        if cursor and cursor not in columns:
            raise PermanentSourceError(f"cursor_field '{cursor}' is not a column of {what} (its columns: {listed})")
        if cursor and columns[cursor] in UNORDERED_TYPES:
            raise PermanentSourceError(
                f"cursor_field '{cursor}' is {columns[cursor]}, which has no order to read by: "
                "use a timestamp, date or increasing number"
            )
        if key and key not in columns:
            raise PermanentSourceError(f"primary_key '{key}' is not a column of {what} (its columns: {listed})")
        if key and self.stream.table_name and key not in self._key_columns("PRIMARY KEY", "UNIQUE"):
            raise PermanentSourceError(
                f"primary_key '{key}' is not unique in {what}: no PRIMARY KEY or UNIQUE "
                "constraint holds it alone, so rows could be skipped or merged"
            )
        if not key and self.stream.table_name:
            self._catalog_primary_key()
