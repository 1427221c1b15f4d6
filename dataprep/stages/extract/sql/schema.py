"""What a non-data statement means: a table definition, a known statement, or garbage.

``CREATE TABLE`` column lists are read with sqlparse's tokenizer, which already knows
quoted names in every dialect, nested parentheses in types and defaults, and comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlparse import lexer
from sqlparse import tokens as T

from dataprep.stages.extract.sql.names import QUALIFIED, qualified_name, unquote

CREATE_TABLE = re.compile(
    r"CREATE\s+(?:OR\s+REPLACE\s+)?(?:(?:GLOBAL|LOCAL)\s+)?(?:(?:TEMP|TEMPORARY|UNLOGGED)\s+)?TABLE\s+"
    rf"(?:IF\s+NOT\s+EXISTS\s+)?(?P<table>{QUALIFIED})\s*",
    re.I,
)
# Table elements that are constraints or indexes, not columns.
CONSTRAINTS = {
    "PRIMARY",
    "FOREIGN",
    "UNIQUE",
    "CHECK",
    "CONSTRAINT",
    "KEY",
    "INDEX",
    "FULLTEXT",
    "SPATIAL",
    "EXCLUDE",
    "LIKE",
    "PERIOD",
}
# A column may be called key or index; followed by a type name it is a column.
TYPE_WORDS = {
    "INT", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "MEDIUMINT", "SERIAL", "BIGSERIAL", "VARCHAR", "CHAR",
    "CHARACTER", "NVARCHAR", "NCHAR", "TEXT", "NTEXT", "TINYTEXT", "MEDIUMTEXT", "LONGTEXT", "CLOB", "BLOB",
    "BYTEA", "REAL", "FLOAT", "DOUBLE", "DECIMAL", "NUMERIC", "DATE", "DATETIME", "TIME", "TIMESTAMP", "BOOLEAN",
    "BOOL", "BIT", "JSON", "JSONB", "UUID", "ENUM", "SET",
}  # fmt: skip
# Words that can follow a column name when it has no type (SQLite allows that).
NOT_TYPES = {"", "NOT", "NULL", "PRIMARY", "DEFAULT", "REFERENCES", "UNIQUE", "CHECK", "CONSTRAINT", "COLLATE",
             "GENERATED", "AUTO_INCREMENT", "(…)", ")"}  # fmt: skip
# Statements that sqlparse does not list as keywords but dumps legitimately hold.
OTHER_STATEMENTS = {
    "PRAGMA", "RELEASE", "DISCARD", "REFRESH", "IMPORT", "RAISERROR", "DBCC", "WAITFOR", "HANDLER", "OPTIMIZE",
    "REPAIR", "INSTALL", "XA", "KILL", "HELP",
}  # fmt: skip
_SKIP = (T.Whitespace, T.Newline, T.Comment)


@dataclass
class TableDefinition:
    name: str
    #: None for ``CREATE TABLE ... AS SELECT``, ``LIKE`` or ``PARTITION OF`` (no column list).
    columns: list[str] | None
    types: list[str]


class SchemaError(ValueError):
    """A CREATE TABLE whose column list cannot be read."""


def _significant(tokens: list[tuple[T._TokenType, str]]) -> list[tuple[T._TokenType, str]]:
    return [(kind, value) for kind, value in tokens if not any(kind in skip for skip in _SKIP)]


def parse_create_table(text: str) -> TableDefinition | None:
    """The table a ``CREATE TABLE`` statement defines, with its columns and their types.

    None when ``text`` is not a CREATE TABLE. Raises :class:`SchemaError` when the column
    list cannot be read (unbalanced parentheses: usually a cut-off statement).
    """
    head = CREATE_TABLE.match(text)
    if head is None:
        return None
    name = qualified_name(head.group("table"))
    rest = text[head.end() :]
    if not rest.startswith("("):
        return TableDefinition(name, None, [])
    elements: list[list[tuple[T._TokenType, str]]] = [[]]
    depth = 0
    for kind, value in lexer.tokenize(rest):
        if kind is T.Punctuation and value == "(":
            depth += 1
            if depth == 1:
                continue
        elif kind is T.Punctuation and value == ")":
            depth -= 1
            if depth == 0:
                break
        elif kind is T.Punctuation and value == "," and depth == 1:
            elements.append([])
            continue
        if depth == 1:
            elements[-1].append((kind, value))
        elif depth > 1 and elements[-1] and elements[-1][-1][1] != "(…)":
            elements[-1].append((T.Punctuation, "(…)"))
    else:
        raise SchemaError(f"the column list of CREATE TABLE {name} is not closed")
    columns: list[str] = []
    types: list[str] = []
    for element in elements:
        words = _significant(element)
        if not words:
            continue
        first = words[0][1]
        quoted = first[:1] in '`"['
        keyword = first.split()[0].upper()
        second = words[1][1].upper() if len(words) > 1 else ""
        if not quoted and keyword in CONSTRAINTS and not (keyword in ("KEY", "INDEX") and second in TYPE_WORDS):
            continue
        columns.append(unquote(first))
        kind = unquote(words[1][1]).split("(")[0] if len(words) > 1 else ""
        types.append("" if kind.split(" ")[0].upper() in NOT_TYPES else kind)
    if not columns:
        raise SchemaError(f"CREATE TABLE {name} lists no columns")
    return TableDefinition(name, columns, types)


def first_keyword(text: str) -> str | None:
    """The statement's first word when it is a SQL keyword (by sqlparse's lists), else None:
    a statement that starts with anything else is not SQL."""
    for kind, value in lexer.tokenize(text[:200]):
        if any(kind in skip for skip in _SKIP):
            continue
        word = value.split()[0].upper() if value.strip() else value
        if kind in T.Keyword or word in OTHER_STATEMENTS:
            return word
        return None
    return None
