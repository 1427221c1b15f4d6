"""A dump read once, front to back: its tables, their rows in order, and its problems."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataprep.errors import ConfigError
from dataprep.stages.extract.sql.dialects import DIALECT_NAMES, DIALECTS, detect_dialect
from dataprep.stages.extract.sql.lines import DumpLines
from dataprep.stages.extract.sql.schema import SchemaError, first_keyword, parse_create_table
from dataprep.stages.extract.sql.statements import INSERT_WORD, Problem, Row, Statement, StatementSplitter

# Dump tools that always end with a comment: without it, the dump was cut off.
FOOTERS = (
    (re.compile(r"^-- (?:MySQL|MariaDB) dump", re.M), re.compile(r"-- Dump completed"), "-- Dump completed"),
    (
        re.compile(r"^-- PostgreSQL database dump\s*$", re.M),
        re.compile(r"-- PostgreSQL database dump complete"),
        "-- PostgreSQL database dump complete",
    ),
)
_SURROGATE = re.compile("[\udc80-\udcff]")
BINARY_TYPES = {"blob", "tinyblob", "mediumblob", "longblob", "binary", "varbinary", "bytea", "image"}
# Tables SQLite creates itself, so a .dump inserts into them without a CREATE TABLE.
BUILTIN_COLUMNS = {"sqlite_sequence": ("name", "seq"), "sqlite_stat1": ("tbl", "idx", "stat")}


@dataclass
class Table:
    """A table of the dump: its columns and how many rows the dump holds for it."""

    name: str
    #: Columns of its CREATE TABLE; None when the dump has none.
    columns: tuple[str, ...] | None = None
    types: list[str] = field(default_factory=list)
    rows: int = 0
    #: Line of its CREATE TABLE.
    line: int | None = None
    #: The widest row, which names the columns of a table the dump never creates.
    width: int = 0
    _numbered: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        """Column names: from the CREATE TABLE, else ``column_1``, ``column_2``..."""
        if self.columns is not None:
            return self.columns
        if len(self._numbered) != self.width:
            self._numbered = tuple(f"column_{i}" for i in range(1, self.width + 1))
        return self._numbered

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "rows": self.rows, "columns": list(self.names())}


@dataclass(slots=True)
class DumpRow:
    """One row of one table, numbered from 1 in dump order within its table."""

    table: Table
    number: int
    columns: Sequence[str]
    values: list[Any]
    line: int
    #: Why the row cannot be used as it is (a value count that does not match the columns).
    error: str | None = None


class Dump:
    """Iterating gives :class:`DumpRow` s, :class:`Statement` s (everything that is not data)
    and :class:`Problem` s, streaming; :attr:`tables` and :attr:`problems` are complete
    once the iteration ends."""

    def __init__(self, path: Path, dialect: str = "auto", encoding: str = "auto") -> None:
        if dialect != "auto" and dialect not in DIALECT_NAMES:
            raise ConfigError(f"unknown dialect {dialect!r}; use one of auto, {', '.join(DIALECT_NAMES)}.")
        self.path = Path(path)
        self.lines = DumpLines(self.path, encoding)
        self._dialect = dialect
        self.dialect = dialect
        self.tables: dict[str, Table] = {}
        self.problems: list[Problem] = []
        self.statements: Counter[str] = Counter()
        self._last: tuple[str, Table] | None = None

    # -- tables -------------------------------------------------------------------------

    def _table(self, name: str) -> Table:
        last = self._last
        if last is not None and last[0] == name:
            return last[1]
        key = name.casefold()
        table = self.tables.get(key)
        if table is None:
            # `db`.`t` in an INSERT and `t` in the CREATE TABLE are the same table.
            short = key.rsplit(".", 1)[-1]
            same = [t for k, t in self.tables.items() if k.rsplit(".", 1)[-1] == short]
            table = same[0] if len(same) == 1 and "." in (key + same[0].name) else None
        if table is None:
            table = self.tables[key] = Table(name, columns=BUILTIN_COLUMNS.get(key))
        self._last = (name, table)
        return table

    def find(self, name: str) -> Table | None:
        """The table called ``name``: exactly, then ignoring case, then without its schema."""
        for table in self.tables.values():
            if table.name == name:
                return table
        folded = name.casefold()
        if folded in self.tables:
            return self.tables[folded]
        same = [t for k, t in self.tables.items() if k.rsplit(".", 1)[-1] == folded.rsplit(".", 1)[-1]]
        return same[0] if len(same) == 1 else None

    # -- reading ------------------------------------------------------------------------

    def __iter__(self) -> Iterator[DumpRow | Statement | Problem]:
        head = self.lines.head()
        self.dialect = detect_dialect(head) if self._dialect == "auto" else self._dialect
        splitter = StatementSplitter(self.lines, DIALECTS[self.dialect])
        for event in splitter:
            if type(event) is Row:
                yield self._row(event)
            elif type(event) is Statement:
                problem = self._statement(event)
                if problem is not None:
                    self.problems.append(problem)
                    yield problem
                else:
                    yield event
            else:
                if event.reason == "truncated-dump" and self.lines.read_error:  # type: ignore[union-attr]
                    event.detail += f"; {self.lines.read_error}"  # type: ignore[union-attr]
                self.problems.append(event)  # type: ignore[arg-type]
                yield event
        self.statements = splitter.statements
        last_line = splitter.cur.lineno
        truncated = [p for p in self.problems if p.reason == "truncated-dump"]
        if self.lines.read_error:
            if not truncated:
                yield self._add(
                    Problem("truncated-dump", last_line, f"after line {last_line}: {self.lines.read_error}")
                )
        elif not truncated:
            tail = "".join(splitter.cur.recent)
            for header, footer, words in FOOTERS:
                if header.search(head) and not footer.search(tail):
                    yield self._add(
                        Problem(
                            "truncated-dump",
                            last_line,
                            f"the dump stops at line {last_line} without the {words!r} line its tool writes "
                            "last: it was probably cut off",
                        )
                    )

    def _add(self, problem: Problem) -> Problem:
        self.problems.append(problem)
        return problem

    def _row(self, row: Row) -> DumpRow:
        table = self._table(row.table)
        table.rows += 1
        values = row.values
        columns = row.columns
        if columns is None:
            if table.columns is None and len(values) > table.width:
                table.width = len(values)
            columns = table.names()
        if self.lines.non_utf8_lines:
            self._repair(table, columns, values)
        error = None
        if len(columns) != len(values):
            error = f"{len(values)} values for {len(columns)} columns"
        elif row.columns is not None and table.columns is not None and len(columns) < len(table.columns):
            # INSERT INTO t (a, b) leaves t's other columns at their defaults: read as NULL, so a
            # row names the same columns whichever INSERT brought it (instpubs.sql mixes both).
            given = dict(zip(columns, values))
            if len(given) == len(columns) and given.keys() <= set(table.columns):
                columns, values = table.columns, [given.get(name) for name in table.columns]
        return DumpRow(table, table.rows, columns, values, row.line, error)

    @staticmethod
    def _repair(table: Table, columns: Sequence[str], values: list[Any]) -> None:
        """Turn the bytes a non-UTF-8 line held as surrogates back into bytes (binary columns)
        or into Windows-1252 text (anything else; Latin-1 for its five undefined bytes)."""
        types = dict(zip(table.columns or (), table.types))
        for i, value in enumerate(values):
            if type(value) is str and not value.isascii() and _SURROGATE.search(value):
                raw = value.encode("utf-8", "surrogateescape")
                column = columns[i] if i < len(columns) else ""
                if types.get(column, "").lower() in BINARY_TYPES:
                    values[i] = raw
                    continue
                try:
                    values[i] = raw.decode("cp1252")
                except UnicodeDecodeError:
                    values[i] = raw.decode("latin-1")

    def _statement(self, statement: Statement) -> Problem | None:
        text, line = statement.text, statement.line
        try:
            definition = parse_create_table(text)
        except SchemaError as exc:
            return Problem("unparseable-statement", line, f"line {line}: {exc}")
        if definition is not None:
            table = self._table(definition.name)
            if definition.columns is not None:
                table.columns, table.types, table.line = tuple(definition.columns), definition.types, line
            return None
        if first_keyword(text) is None:
            return Problem("unparseable-statement", line, f"line {line}: not a SQL statement: {text[:80]!r}")
        if INSERT_WORD.match(text):
            return Problem(
                "unsupported-statement",
                line,
                f"line {line}: an INSERT without a VALUES list ({text[:80]!r}); its rows exist only once it runs",
            )
        return None

    def describe(self) -> dict[str, Any]:
        """What ``--list-tables --json`` prints for this dump."""
        return {
            "file": str(self.path),
            "dialect": self.dialect,
            "tables": [table.describe() for table in self.tables.values()],
            "problems": [{"line": p.line, "reason": p.reason, "detail": p.detail} for p in self.problems],
            **({"non_utf8_lines": self.lines.non_utf8_lines} if self.lines.non_utf8_lines else {}),
        }
