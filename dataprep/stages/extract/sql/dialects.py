"""How each SQL dialect quotes, comments and separates statements, and which one a dump is."""

from __future__ import annotations

import re
from dataclasses import dataclass

DIALECT_NAMES = ("mysql", "postgres", "sqlite", "mssql")


@dataclass(frozen=True)
class Dialect:
    """The lexical rules of one dialect, as far as splitting a dump and reading literals need them."""

    name: str
    #: ``'It\\'s'``: a backslash escapes the next character inside '...' and "...".
    backslash_escapes: bool
    #: ``# comment`` runs to the end of the line.
    hash_comments: bool
    #: ``--`` starts a comment only when a space or the line end follows (MySQL).
    strict_dash_comments: bool
    #: `name` identifiers.
    backtick_names: bool
    #: [name] identifiers.
    bracket_names: bool
    #: "..." is a string, not an identifier.
    double_quoted_strings: bool
    #: ``$tag$ ... $tag$`` strings (PostgreSQL function bodies).
    dollar_quotes: bool
    #: ``GO`` lines end a batch, and statements need no ``;`` (SQL Server).
    go_batches: bool
    #: ``COPY t (cols) FROM stdin;`` followed by tab-separated data lines and ``\\.``.
    copy_blocks: bool
    #: Lines such as ``\\connect db`` are psql commands, not SQL.
    psql_commands: bool


DIALECTS: dict[str, Dialect] = {
    "mysql": Dialect("mysql", True, True, True, True, False, True, False, False, False, False),
    "postgres": Dialect("postgres", False, False, False, False, False, False, True, False, True, True),
    "sqlite": Dialect("sqlite", False, False, False, True, True, False, False, False, False, False),
    "mssql": Dialect("mssql", False, False, False, False, True, False, False, True, False, False),
}

# Tell-tale lines of each dialect, weighted: a tool's own header or client command outweighs a
# syntax habit, and a habit several dialects share (N'..' strings: SQL Server, but also MySQL and
# PostgreSQL scripts that one generator writes for all four) weighs least.
_PG_CASTS = (
    "int|integer|bigint|smallint|text|varchar|numeric|decimal|date|time|timestamp|timestamptz|boolean|bool"
    "|json|jsonb|uuid|real|float4|float8|double precision|interval|regclass|money|bytea|char|inet"
)
_MARKERS: dict[str, list[tuple[re.Pattern[str], int]]] = {
    "mysql": [
        (re.compile(r"^-- (?:MySQL|MariaDB) dump", re.M), 10),
        (re.compile(r"^# (?:Sequel Pro|Sequel Ace)", re.M), 10),
        (re.compile(r"^-- phpMyAdmin SQL Dump", re.M), 10),
        (re.compile(r"/\*!\d{5}"), 5),
        (re.compile(r"^LOCK TABLES `", re.M), 5),
        (re.compile(r"\) ENGINE=", re.I), 5),
        (re.compile(r"^\s*USE `", re.M | re.I), 3),
        (re.compile(r"\bAUTO_INCREMENT\b", re.I), 3),
        (re.compile(r"`\w+`"), 3),
        (re.compile(r"\\'"), 1),
    ],
    "postgres": [
        (re.compile(r"^-- PostgreSQL database dump", re.M), 10),
        # psql meta-commands: \c db, \connect, \set, \i file, pg_dump 17's \restrict.
        (re.compile(r"^\\(?:c|connect|set|unset|i|ir|include|echo|encoding|o|pset|timing|restrict|q)\b", re.M), 10),
        (re.compile(r"^SET standard_conforming_strings", re.M | re.I), 5),
        (re.compile(r"^COPY \S+ .*FROM stdin;", re.M | re.I), 5),
        (re.compile(r"^\s*[\w\"]+\s+(?:big|small)?serial\b", re.M | re.I), 4),
        (re.compile(rf"(?:'|\))::(?:{_PG_CASTS})\b", re.I), 3),
        (re.compile(r"pg_catalog\."), 3),
        (re.compile(r"\$\$"), 2),
        (re.compile(r"OWNER TO ", re.I), 2),
        (re.compile(r"^CREATE (?:EXTENSION|SEQUENCE|SCHEMA) ", re.M | re.I), 2),
    ],
    "sqlite": [
        (re.compile(r"^PRAGMA \w+", re.M | re.I), 5),
        (re.compile(r"sqlite_sequence|sqlite_stat1"), 5),
        (re.compile(r"^BEGIN TRANSACTION;", re.M | re.I), 3),
        (re.compile(r"\bAUTOINCREMENT\b|\bWITHOUT ROWID\b", re.I), 3),
        # [Name] identifiers without SQL Server's dbo schema or GO batches: SQLite accepts them too.
        (re.compile(r"^\s*(?:CREATE TABLE|INSERT INTO) \[\w+\]", re.M | re.I), 2),
        (re.compile(r"^INSERT INTO \S+ VALUES\(", re.M), 1),
    ],
    "mssql": [
        (re.compile(r"^GO\s*$", re.M | re.I), 5),
        (re.compile(r"\[dbo\]\.", re.I), 5),
        (re.compile(r"^SET (?:ANSI_NULLS|QUOTED_IDENTIFIER|IDENTITY_INSERT|NOCOUNT) ", re.M | re.I), 5),
        (re.compile(r"^USE \[", re.M | re.I), 3),
        (re.compile(r"\bIDENTITY\s*\(\s*\d+\s*,\s*\d+\s*\)", re.I), 3),
        (re.compile(r"^\s*(?:EXEC(?:UTE)?\s+sp_|raiserror\b|CHECKPOINT\s*$)", re.M | re.I), 3),
        (re.compile(r"\bN'"), 1),
    ],
}


def detect_dialect(head: str) -> str:
    """The dialect whose markers weigh most in the first lines of a dump.

    With no marker at all the answer is ``sqlite``: standard quoting, no backslash escapes,
    which is also what hand-written ANSI SQL uses.
    """
    scores = {
        name: sum(weight for pattern, weight in markers if pattern.search(head)) for name, markers in _MARKERS.items()
    }
    best = max(DIALECT_NAMES, key=lambda name: scores[name])
    return best if scores[best] > 0 else "sqlite"
