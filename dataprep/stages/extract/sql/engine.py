"""``--query``: the dump in a temporary SQLite database, queried read-only.

Dumps are untrusted input. The rows go in through parameters, never as SQL text, into
tables dataprep creates itself, so the row counts are the extraction's. The dump's other
statements (views, indexes; and whatever a hostile dump slips in) are offered to SQLite as
written, after the data, behind an authorizer that refuses ATTACH (which also covers
``VACUUM INTO``), ``load_extension`` and PRAGMAs that touch files or the schema, triggers
(they would fire), and every write outside the temporary database; the user's query may
only read.
"""

from __future__ import annotations

import re
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlparse

from dataprep.errors import ConfigError, InputError
from dataprep.stages.extract.sql.dump import DumpRow, Table
from dataprep.stages.extract.sql.schema import CREATE_TABLE, first_keyword
from dataprep.stages.extract.sql.statements import Statement
from dataprep.stages.extract.sql.values import Number

# Statements never offered to SQLite: session and transaction control, which means nothing
# here, and statements that would change the rows the dump inserts (query mode sees the
# same rows as extraction). CREATE TABLE, INSERT and COPY are loaded by dataprep itself.
NOT_OFFERED = {
    "SET", "BEGIN", "START", "COMMIT", "ROLLBACK", "END", "LOCK", "UNLOCK", "USE", "GO", "DROP", "DELETE",
    "UPDATE", "TRUNCATE", "ALTER", "RENAME", "INSERT", "REPLACE", "COPY", "SAVEPOINT", "RELEASE",
}  # fmt: skip
DENIED_FUNCTIONS = {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer", "sqlite_dbpage"}
# PRAGMAs that only describe the schema, readable in every phase.
READ_PRAGMAS = {
    "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo", "foreign_key_list",
    "collation_list", "function_list",
}  # fmt: skip
ACTIONS = {
    getattr(sqlite3, name): name.removeprefix("SQLITE_").replace("_", " ")
    for name in (
        "SQLITE_CREATE_INDEX", "SQLITE_CREATE_TABLE", "SQLITE_CREATE_TEMP_INDEX", "SQLITE_CREATE_TEMP_TABLE",
        "SQLITE_CREATE_TEMP_TRIGGER", "SQLITE_CREATE_TEMP_VIEW", "SQLITE_CREATE_TRIGGER", "SQLITE_CREATE_VIEW",
        "SQLITE_DELETE", "SQLITE_DROP_INDEX", "SQLITE_DROP_TABLE", "SQLITE_DROP_TEMP_INDEX", "SQLITE_DROP_TEMP_TABLE",
        "SQLITE_DROP_TEMP_TRIGGER", "SQLITE_DROP_TEMP_VIEW", "SQLITE_DROP_TRIGGER", "SQLITE_DROP_VIEW",
        "SQLITE_INSERT", "SQLITE_PRAGMA", "SQLITE_READ", "SQLITE_SELECT", "SQLITE_TRANSACTION", "SQLITE_UPDATE",
        "SQLITE_ATTACH", "SQLITE_DETACH", "SQLITE_ALTER_TABLE", "SQLITE_REINDEX", "SQLITE_ANALYZE",
        "SQLITE_CREATE_VTABLE", "SQLITE_DROP_VTABLE", "SQLITE_FUNCTION", "SQLITE_SAVEPOINT", "SQLITE_RECURSIVE",
    )
}  # fmt: skip
# A read-only query never fires a trigger: the dump's triggers are left out (and refused if one slips by).
_TRIGGER = re.compile(r"CREATE\s+(?:TEMP\w*\s+)?TRIGGER\b", re.I)
_INTEGER = re.compile(r"[-+]?\d+")
_TYPE = re.compile(r"[^A-Za-z ]")
MAX_INT = 2**63


class Authorizer:
    """sqlite3's authorizer callback, with one policy per phase.

    - ``load``: dataprep's own CREATE TABLE and INSERTs, in the temporary database only.
    - ``dump``: the dump's statements: CREATE VIEW, CREATE INDEX and ANALYZE in the temporary database.
    - ``query``: reads only.

    Always refused: ATTACH/DETACH, load_extension and friends, and PRAGMAs other than
    schema listings (plus foreign_keys outside the query).
    """

    def __init__(self) -> None:
        self.phase = "load"
        #: What the last refusal was, for the message.
        self.refused: str | None = None

    def __call__(self, action: int, arg1: str | None, arg2: str | None, database: str | None, source: Any) -> int:
        why = self._why_not(action, arg1, arg2, database)
        if why is None:
            return sqlite3.SQLITE_OK
        self.refused = why
        return sqlite3.SQLITE_DENY

    def _why_not(self, action: int, arg1: str | None, arg2: str | None, database: str | None) -> str | None:
        if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE):
            return None
        if action == sqlite3.SQLITE_FUNCTION:
            return f"the function {arg2}()" if (arg2 or "").lower() in DENIED_FUNCTIONS else None
        if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
            return f"{ACTIONS[action]} {arg1!r}" if arg1 else ACTIONS[action]
        if action == sqlite3.SQLITE_PRAGMA:
            name = (arg1 or "").lower()
            if name in READ_PRAGMAS or (name == "foreign_keys" and self.phase != "query"):
                return None
            return f"PRAGMA {name}"
        what = f"{ACTIONS.get(action, action)} {arg1 or ''}".strip()
        if self.phase == "query":
            return f"{what} (the query may only read)"
        if database not in ("main", None):
            return f"{what} in database {database!r} (only the temporary database may be written)"
        if self.phase == "load":
            allowed = (sqlite3.SQLITE_CREATE_TABLE, sqlite3.SQLITE_INSERT, sqlite3.SQLITE_ALTER_TABLE)
            if action in allowed or action == sqlite3.SQLITE_TRANSACTION or action == sqlite3.SQLITE_UPDATE:
                return None
            return what
        if action in (
            sqlite3.SQLITE_CREATE_VIEW,
            sqlite3.SQLITE_CREATE_INDEX,
            sqlite3.SQLITE_REINDEX,
            sqlite3.SQLITE_ANALYZE,
        ):
            return None
        # Creating a view or an index records it in the schema table.
        if action in (sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE) and arg1 == "sqlite_master":
            return None
        if action == sqlite3.SQLITE_CREATE_TRIGGER:
            return f"CREATE TRIGGER {arg1} (a trigger would fire and change the data)"
        return what


def check_query(query: str) -> str:
    """``query`` stripped, when it is one SELECT statement; raises ValueError otherwise."""
    statements = [s for s in sqlparse.split(query) if s.strip().rstrip(";").strip()]
    if len(statements) != 1:
        raise ValueError("query must be a single SELECT statement")
    kind = sqlparse.parse(statements[0])[0].get_type()
    if kind != "SELECT":
        raise ValueError(f"query must be a read-only SELECT statement, not {kind}")
    return statements[0].rstrip().rstrip(";")


def _sql_value(value: Any) -> Any:
    if type(value) is Number:
        if _INTEGER.fullmatch(value):
            number = int(value)
            return number if -MAX_INT <= number < MAX_INT else str(value)
        try:
            return float(value)
        except ValueError:
            return str(value)
    return value


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class QueryDatabase:
    """A temporary SQLite database holding one dump, removed on :meth:`close`."""

    BATCH = 2000

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="dataprep-sql-")
        self.conn = sqlite3.connect(Path(self._dir.name) / "dump.sqlite", isolation_level=None)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "trusted_schema=OFF", "foreign_keys=OFF"):
            self.conn.execute(f"PRAGMA {pragma}")
        if hasattr(self.conn, "setlimit"):  # Python 3.11+
            self.conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        self.guard = Authorizer()
        self.conn.set_authorizer(self.guard)
        self.conn.execute("BEGIN")
        #: dump table -> (SQLite name, its columns)
        self._tables: dict[int, tuple[str, list[str]]] = {}
        self._taken: set[str] = set()
        self._pending: dict[tuple[str, tuple[str, ...]], list[list[Any]]] = {}
        self._statements: list[Statement] = []
        #: How the dump's other statements fared: executed, failed (SQLite cannot run them).
        self.executed = 0
        self.failed = 0
        #: Rows of SQLite's internal tables, not loaded.
        self.internal_rows = 0

    def __enter__(self) -> QueryDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()
        self._dir.cleanup()

    # -- loading ------------------------------------------------------------------------

    def _create(self, table: Table, columns: list[str]) -> tuple[str, list[str]]:
        # Without its schema (posts, not public.posts): SQLite would read public. as a database.
        short = table.name.rsplit(".", 1)[-1]
        name = short if short.casefold() not in self._taken else table.name
        self._taken.add(name.casefold())
        types = dict(zip(table.columns or [], table.types))
        body = ", ".join(f"{_quote(c)} {_TYPE.sub('', types.get(c, ''))[:40]}".rstrip() for c in columns)
        try:
            self.conn.execute(f"CREATE TABLE {_quote(name)} ({body})")
        except sqlite3.Error as exc:
            raise InputError(f"table {table.name!r} cannot be loaded into SQLite for the query ({exc}).") from exc
        return name, list(columns)

    def add_row(self, row: DumpRow) -> None:
        if row.table.name.casefold().startswith("sqlite_"):
            # SQLite's own bookkeeping (sqlite_sequence in a .dump): not data, and a name it reserves.
            self.internal_rows += 1
            return
        known = self._tables.get(id(row.table))
        columns = list(dict.fromkeys(row.columns))
        if known is None:
            declared = list(dict.fromkeys(row.table.columns)) if row.table.columns is not None else columns
            known = self._tables[id(row.table)] = self._create(row.table, declared)
        name, existing = known
        for column in columns:
            if column not in existing:
                self._flush()
                self.conn.execute(f"ALTER TABLE {_quote(name)} ADD COLUMN {_quote(column)}")
                existing.append(column)
        key = (name, tuple(columns))
        pending = self._pending.setdefault(key, [])
        pending.append([_sql_value(v) for v in row.values[: len(columns)]])
        if len(pending) >= self.BATCH:
            self._flush(key)

    def _flush(self, only: tuple[str, tuple[str, ...]] | None = None) -> None:
        for key in [only] if only else list(self._pending):
            rows = self._pending.pop(key, [])
            if rows:
                name, columns = key
                marks = ", ".join("?" * len(columns))
                names = ", ".join(_quote(c) for c in columns)
                self.conn.executemany(f"INSERT INTO {_quote(name)} ({names}) VALUES ({marks})", rows)

    def add_statement(self, statement: Statement) -> None:
        """Keep a statement of the dump to offer to SQLite once the rows are in."""
        word = (first_keyword(statement.text) or "").upper()
        text = statement.text
        if word not in NOT_OFFERED and not CREATE_TABLE.match(text) and not _TRIGGER.match(text):
            self._statements.append(statement)

    def finish(self) -> Iterator[tuple[int, str]]:
        """Commit the rows, then offer the kept statements; yields ``(line, why)`` for each refused one."""
        self._flush()
        self.conn.execute("COMMIT")
        self.guard.phase = "dump"
        for statement in self._statements:
            self.guard.refused = None
            try:
                self.conn.execute(statement.text)
                self.executed += 1
            except (sqlite3.Error, sqlite3.Warning) as exc:
                if self.guard.refused is not None:
                    yield (
                        statement.line,
                        f"line {statement.line}: {self.guard.refused} refused: {statement.text[:120]!r}",
                    )
                else:
                    self.failed += 1
                    del exc
        self._statements = []

    # -- querying -----------------------------------------------------------------------

    def tables(self) -> list[str]:
        return [name for name, _ in self._tables.values()]

    def query(self, query: str) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
        """The query's column names and its rows (streamed)."""
        self.guard.phase = "query"
        self.guard.refused = None
        try:
            cursor = self.conn.execute(query)
        except (sqlite3.Error, sqlite3.Warning) as exc:
            if self.guard.refused is not None:
                raise ConfigError(f"query: {self.guard.refused} is not allowed: {query!r}") from exc
            tables = ", ".join(sorted(self.tables())) or "none"
            raise ConfigError(f"query: SQLite cannot run it ({exc}). The tables are: {tables}.") from exc
        columns = [d[0] for d in cursor.description or []]

        def rows() -> Iterator[tuple[Any, ...]]:
            while chunk := cursor.fetchmany(1000):
                yield from chunk

        return columns, rows()
