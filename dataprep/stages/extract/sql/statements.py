"""Split a dump into statements and rows, one line at a time.

sqlparse cannot do this alone on a real dump: it needs the whole text in memory, it does not
know the client commands that dumps rely on (``DELIMITER ;;``, ``GO``, ``\\connect``), nor
``COPY ... FROM stdin`` data, and it reads ``\\'`` as an escape in every dialect. So a small
dialect-aware scanner finds where statements end, and:

- a plain ``INSERT ... VALUES (...), (...)`` is read tuple by tuple as it streams by (the
  fast path), never held whole;
- ``COPY`` data lines are split on tabs;
- for a compound statement (``CREATE TRIGGER ... BEGIN ...; ...; END``) sqlparse's own
  statement splitter decides whether a ``;`` ends the statement or sits inside its body, so
  the INSERTs of a trigger body are never taken for data.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlparse

from dataprep.stages.extract.sql.dialects import Dialect
from dataprep.stages.extract.sql.lines import Cursor
from dataprep.stages.extract.sql.names import QUALIFIED, name_list, qualified_name
from dataprep.stages.extract.sql.values import (
    BACKTICK,
    BRACKET,
    DOUBLE,
    DOUBLE_BACKSLASH,
    SINGLE,
    SINGLE_BACKSLASH,
    Incomplete,
    ValueParser,
    ValueSyntaxError,
    copy_fields,
)


@dataclass(slots=True)
class Statement:
    """A statement that is not data, with comments removed and MySQL ``/*!...*/`` opened up."""

    text: str
    line: int


@dataclass(slots=True)
class Row:
    """One tuple of an INSERT, or one COPY data line."""

    table: str
    #: The INSERT's or COPY's column list; None when it has none.
    columns: tuple[str, ...] | None
    values: list[Any]
    #: Line of the INSERT statement, or of the COPY data line.
    line: int


@dataclass(slots=True)
class Problem:
    """Something in the dump that could not be read; the rest is still read."""

    reason: str
    line: int
    detail: str


Event = Statement | Row | Problem

INSERT_HEAD = re.compile(
    r"(?:INSERT|REPLACE)\s+(?:(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY|IGNORE)\s+)*"
    r"(?:OR\s+(?:REPLACE|IGNORE|ABORT|FAIL|ROLLBACK)\s+)?(?:INTO\s+)?"
    rf"(?P<table>{QUALIFIED})\s*(?:\((?P<columns>[^()]*)\)\s*)?"
    r"(?:OVERRIDING\s+(?:SYSTEM|USER)\s+VALUE\s+)?VALUES?(?![\w$])",
    re.I,
)
INSERT_WORD = re.compile(r"(?:INSERT|REPLACE)\b", re.I)
COPY_HEAD = re.compile(
    rf"COPY\s+(?P<table>{QUALIFIED})\s*(?:\((?P<columns>[^()]*)\))?\s*FROM\s+stdin\b(?P<options>[\s\S]*)", re.I
)
# After the last tuple: clauses that still belong to the INSERT.
INSERT_TRAILER = re.compile(r"(?:ON\s+DUPLICATE\s+KEY|ON\s+CONFLICT|RETURNING|AS\s+\w)", re.I)
COMPOUND_HEAD = re.compile(
    r"(?:CREATE\s+(?:OR\s+(?:REPLACE|ALTER)\s+)?(?:DEFINER\s*=\s*\S+\s+)?(?:(?:TEMP|TEMPORARY)\s+)?|ALTER\s+)"
    r"(?:TRIGGER|PROCEDURE|PROC|FUNCTION)\b",
    re.I,
)
MSSQL_VIEW = re.compile(r"(?:CREATE|ALTER)\s+(?:OR\s+ALTER\s+)?VIEW\b", re.I)
# SQL Server statements need no ';': a line starting with one of these starts a new one.
MSSQL_START = re.compile(
    r"[ \t]*(?:INSERT|CREATE|ALTER|SET|DROP|SELECT|DELETE|UPDATE|PRINT|USE|EXEC|EXECUTE|DECLARE|GRANT|"
    r"TRUNCATE|IF|BEGIN|RAISERROR|MERGE|DBCC)\b",
    re.I,
)
DELIMITER = re.compile(r"DELIMITER[ \t]+(\S+)[^\n]*\n?", re.I)
GO = re.compile(r"GO(?:[ \t]+\d+)?[ \t]*(?:--[^\n]*)?(?:\r?\n|$)", re.I)
SET_STANDARD_STRINGS = re.compile(r"SET\s+standard_conforming_strings\s*(?:=|TO)\s*'?(on|off)\b", re.I)
SET_SQL_MODE = re.compile(r"\bSQL_MODE\s*=\s*(?:'([^']*)'|\S+)", re.I)
_CONDITIONAL_OPEN = re.compile(r"/\*M?!\d*")
_DOLLAR = re.compile(r"\$(?:[A-Za-z_]\w*)?\$")
_CONTINUE = {
    pattern: re.compile(pattern.pattern[2 if pattern is BRACKET else 1 :])
    for pattern in (SINGLE, SINGLE_BACKSLASH, DOUBLE, DOUBLE_BACKSLASH, BACKTICK, BRACKET)
}
_WORD = re.compile(r"[A-Za-z_]\w*")


_SENTINEL = "SELECT 1;"


def sqlparse_complete(text: str) -> bool:
    """Whether sqlparse's splitter sees ``text`` (ending in ``;``) as a complete statement,
    rather than one whose ``;`` sits inside a ``BEGIN ... END`` body: a statement put after
    it comes out on its own only in the first case."""
    return sqlparse.split(f"{text}\n{_SENTINEL}")[-1] == _SENTINEL


class StatementSplitter:
    """Iterates over the :data:`Event` s of a dump: statements, rows, and problems."""

    def __init__(self, lines: Iterable[str], dialect: Dialect) -> None:
        self.cur = Cursor(lines)
        self.dialect = dialect
        self.delimiter = ";"
        self.backslash = dialect.backslash_escapes
        self.values = ValueParser(dialect)
        #: Statements by their first word (INSERT counts statements, not rows).
        self.statements: Counter[str] = Counter()
        self._specials: dict[str, re.Pattern[str]] = {}
        dash = r"--(?=[ \t\r\n]|$)[^\n]*" if dialect.strict_dash_comments else r"--[^\n]*"
        hash_comment = r"|#[^\n]*" if dialect.hash_comments else ""
        # MariaDB dumps open with /*M!999999\- enable the sandbox mode */: a client command, not SQL.
        sandbox = r"|/\*M!999999\\-[^*]*\*/"
        self._blank = re.compile(rf"(?:\s+|{dash}{hash_comment}{sandbox}|/\*(?!M?!)[\s\S]*?\*/)*")

    # -- the statement loop ---------------------------------------------------------------

    def __iter__(self) -> Iterator[Event]:
        cur = self.cur
        dialect = self.dialect
        while self._skip_blank():
            text, pos = cur.text, cur.pos
            line = cur.line_at(pos)
            char = text[pos]
            if char in "Dd" and (m := DELIMITER.match(text, pos)):
                self.delimiter = m.group(1)
                cur.pos = m.end()
                continue
            if dialect.go_batches and char in "Gg" and (m := GO.match(text, pos)):
                cur.pos = m.end()
                continue
            if dialect.psql_commands and char == "\\":
                end = text.find("\n", pos)
                cur.pos = len(text) if end < 0 else end + 1
                command = _WORD.match(text, pos + 1)
                self.statements["\\" + (command.group() if command else "")] += 1
                continue
            if char in "IiRr" and INSERT_WORD.match(text, pos):
                m = INSERT_HEAD.match(text, pos)
                # Sequel Pro writes VALUES on a line of its own: let the head span a few lines.
                for _ in range(3):
                    if m is not None or ";" in text or not cur.extend():
                        break
                    text = cur.text
                    m = INSERT_HEAD.match(text, pos)
                if m is not None:
                    self.statements["INSERT"] += 1
                    yield from self._insert(m, line)
                    continue
            found = self._scan(line)
            if found is None:
                continue
            if isinstance(found, Problem):
                yield found
                continue
            word = _WORD.match(found.text)
            self.statements[word.group().upper() if word else "?"] += 1
            if INSERT_WORD.match(found.text) and (m := INSERT_HEAD.match(found.text)):
                yield from self._insert_text(found, m)
            elif dialect.copy_blocks and (m := COPY_HEAD.match(found.text)):
                yield found
                yield from self._copy(m, found.line)
            else:
                yield found

    def _skip_blank(self) -> bool:
        """Move past spaces and comments to the next statement; False at the end of the dump."""
        cur = self.cur
        while True:
            text = cur.text
            pos = self._blank.match(text, cur.pos).end()  # type: ignore[union-attr]
            if pos < len(text):
                if text.startswith("/*", pos) and not _CONDITIONAL_OPEN.match(text, pos):
                    # A comment that goes on past this line.
                    start = pos + 2
                    while (end := cur.text.find("*/", start)) < 0:
                        if not cur.next_line():
                            return False
                        start = 0
                    cur.pos = end + 2
                    continue
                cur.pos = pos
                return True
            cur.pos = pos
            if not cur.next_line():
                return False

    # -- INSERT ... VALUES (fast path) ----------------------------------------------------

    def _insert(self, head: re.Match[str], line: int) -> Iterator[Event]:
        cur = self.cur
        values = self.values
        table = qualified_name(head.group("table"))
        columns = name_list(head.group("columns")) if head.group("columns") is not None else None
        cur.pos = head.end()
        while True:
            text, pos = cur.text, cur.pos
            if pos >= len(text) or text[pos] != "(":
                if not self._skip_blank():
                    yield Problem(
                        "truncated-dump", line, f"the dump ends inside the INSERT into {table} at line {line}"
                    )
                    return
                text, pos = cur.text, cur.pos
                if text[pos] != "(":
                    yield self._syntax(line, pos, f"expected '(' to start a row of the INSERT into {table}")
                    return
            simple = values.simple_row(text, pos)
            if simple is not None:
                row, cur.pos = simple
            else:
                try:
                    row = values.row(cur)
                except Incomplete as exc:
                    cur.pos = len(cur.text)
                    yield Problem(
                        "truncated-dump",
                        cur.line_at(pos),
                        f"{exc}: the last row of the INSERT into {table} at line {line} is cut off",
                    )
                    return
                except ValueSyntaxError as exc:
                    yield self._syntax(line, exc.pos, f"{exc} in a row of the INSERT into {table}")
                    return
                if cur.pos > 1 << 20:
                    cur.compact()
            yield Row(table, columns, row, line)
            text, pos = cur.text, cur.pos
            if text.startswith(",", pos):
                cur.pos = pos + 1
                continue
            if not self._skip_blank():
                if not self.dialect.go_batches:
                    yield Problem(
                        "truncated-dump",
                        line,
                        f"the INSERT into {table} at line {line} has no closing {self.delimiter}",
                    )
                return
            text, pos = cur.text, cur.pos
            if text[pos] == ",":
                cur.pos = pos + 1
            elif text.startswith(self.delimiter, pos):
                cur.pos = pos + len(self.delimiter)
                return
            elif self.dialect.go_batches:
                return
            elif INSERT_TRAILER.match(text, pos):
                if isinstance(end := self._scan(line), Problem):
                    yield end
                return
            else:
                yield self._syntax(
                    line, pos, f"unexpected {text[pos : pos + 20]!r} after a row of the INSERT into {table}"
                )
                return

    def _insert_text(self, found: Statement, head: re.Match[str]) -> Iterator[Event]:
        """An INSERT whose head spans lines, read from its complete text."""
        outer = self.cur
        self.cur = Cursor.over(found.text + self.delimiter, found.line)
        try:
            yield from self._insert(head, found.line)
        finally:
            self.cur = outer

    def _syntax(self, line: int, pos: int, detail: str) -> Problem:
        """A problem inside a statement; skips to the statement's end so the next one is read."""
        cur = self.cur
        where = cur.line_at(min(pos, len(cur.text)))
        cur.pos = pos
        self._scan(line)
        return Problem("unparseable-statement", where, f"line {where}: {detail} (statement at line {line})")

    # -- COPY ... FROM stdin ----------------------------------------------------------------

    def _copy(self, head: re.Match[str], line: int) -> Iterator[Event]:
        cur = self.cur
        table = qualified_name(head.group("table"))
        columns = name_list(head.group("columns")) if head.group("columns") else None
        options = head.group("options").lower()
        unsupported = "csv" in options or "binary" in options
        if unsupported:
            yield Problem(
                "unsupported-statement",
                line,
                f"line {line}: COPY {table} uses a format other than text; its data lines are skipped",
            )
        while True:
            if not cur.next_line():
                yield Problem(
                    "truncated-dump", line, f"the COPY block for {table} at line {line} has no closing \\. line"
                )
                return
            text = cur.text
            if text.startswith("\\.") and text[2:].isspace() or text == "\\.":
                cur.pos = len(text)
                return
            if not unsupported:
                yield Row(table, columns, copy_fields(text), cur.lineno)

    # -- everything else: find the end of the statement -----------------------------------

    def _special(self) -> re.Pattern[str]:
        delimiter = self.delimiter
        pattern = self._specials.get(delimiter)
        if pattern is None:
            d = self.dialect
            chars = "'\"/*-" + "`" * d.backtick_names + "[" * d.bracket_names + "#" * d.hash_comments
            chars += "$" * d.dollar_quotes + "()" * d.go_batches
            if delimiter[0] not in chars:
                chars += delimiter[0]
            pattern = self._specials[delimiter] = re.compile("[" + re.escape(chars) + "]")
        return pattern

    def _scan(self, line: int) -> Statement | Problem | None:
        """Read to the end of the statement at the cursor, and return it.

        Returns None for an empty statement, and a problem when the dump ends first.
        """
        cur = self.cur
        d = self.dialect
        delimiter = self.delimiter
        special = self._special()
        parts: list[str] = []
        text, seg, i = cur.text, cur.pos, cur.pos
        depth = 0
        conditional = 0
        compound: bool | None = None
        while True:
            m = special.search(text, i)
            if m is None:
                parts.append(text[seg:])
                if not cur.next_line():
                    return self._unterminated(parts, line)
                text, seg, i = cur.text, 0, 0
                if d.go_batches:
                    if compound is None:
                        compound = self._compound("".join(parts))
                    if (go := GO.match(text)) is not None:
                        cur.pos = go.end()
                        return self._statement("".join(parts), line)
                    if depth <= 0 and not compound and MSSQL_START.match(text) and "".join(parts).strip():
                        cur.pos = 0
                        return self._statement("".join(parts), line)
                continue
            s = m.start()
            char = text[s]
            i = s + 1
            if char == delimiter[0] and text.startswith(delimiter, s) and not conditional:
                body = "".join(parts) + text[seg:s]
                if delimiter == ";":
                    if compound is None:
                        compound = self._compound(body)
                    if compound and (d.go_batches or not sqlparse_complete(body + ";")):
                        continue
                cur.pos = s + len(delimiter)
                return self._statement(body, line)
            if char in "'\"`[":
                pattern = self._quote_pattern(char, text, s)
                found = pattern.match(text, s)
                if found is not None:
                    i = found.end()
                    continue
                parts.append(text[seg:])
                opened = cur.line_at(s)
                cont = _CONTINUE[pattern]
                while True:
                    if not cur.next_line():
                        return Problem(
                            "truncated-dump", line, f"the dump ends inside a string that opens at line {opened}"
                        )
                    found = cont.match(cur.text)
                    if found is not None:
                        text, seg, i = cur.text, 0, found.end()
                        break
                    parts.append(cur.text)
                continue
            if char == "-" or char == "#":
                if char == "-" and not (
                    text.startswith("--", s)
                    and (not d.strict_dash_comments or s + 2 >= len(text) or text[s + 2] in " \t\r\n")
                ):
                    continue
                parts.append(text[seg:s])
                end = text.find("\n", s)
                seg = i = len(text) if end < 0 else end
                continue
            if char == "/":
                if not text.startswith("/*", s):
                    continue
                parts.append(text[seg:s])
                opener = _CONDITIONAL_OPEN.match(text, s)
                if opener is not None:
                    conditional += 1
                    parts.append(" ")
                    seg = i = opener.end()
                    continue
                while (end := text.find("*/", i + 1)) < 0:
                    if not cur.next_line():
                        return self._unterminated(parts, line)
                    text, i = cur.text, -1
                parts.append(" ")
                seg = i = end + 2
                continue
            if char == "*":
                if conditional and text.startswith("*/", s):
                    parts.append(text[seg:s])
                    parts.append(" ")
                    conditional -= 1
                    seg = i = s + 2
                continue
            if char == "$":
                opener = _DOLLAR.match(text, s)
                if opener is None or (s and (text[s - 1].isalnum() or text[s - 1] in "_$")):
                    continue
                tag = opener.group()
                opened = cur.line_at(s)
                i = opener.end()
                while (end := text.find(tag, i)) < 0:
                    parts.append(text[seg:])
                    if not cur.next_line():
                        return Problem(
                            "truncated-dump",
                            line,
                            f"the dump ends inside a {tag}-quoted body that opens at line {opened}",
                        )
                    text, seg, i = cur.text, 0, 0
                i = end + len(tag)
                continue
            if char == "(":
                depth += 1
            elif char == ")":
                depth -= 1

    def _quote_pattern(self, char: str, text: str, s: int) -> re.Pattern[str]:
        if char == "'":
            if self.backslash:
                return SINGLE_BACKSLASH
            # PostgreSQL E'..' strings take backslash escapes whatever the setting.
            if self.dialect.dollar_quotes and s and text[s - 1] in "eE" and (s < 2 or not text[s - 2].isalnum()):
                return SINGLE_BACKSLASH
            return SINGLE
        if char == '"':
            return DOUBLE_BACKSLASH if self.backslash and self.dialect.double_quoted_strings else DOUBLE
        return BACKTICK if char == "`" else BRACKET

    def _compound(self, body: str) -> bool:
        head = body.lstrip()
        return bool(COMPOUND_HEAD.match(head) or (self.dialect.go_batches and MSSQL_VIEW.match(head)))

    def _unterminated(self, parts: list[str], line: int) -> Statement | Problem | None:
        body = "".join(parts)
        if not body.strip():
            return None
        if self.dialect.go_batches:
            return self._statement(body, line)
        return Problem(
            "truncated-dump", line, f"the dump ends inside the statement at line {line} (no closing {self.delimiter})"
        )

    def _statement(self, body: str, line: int) -> Statement | None:
        text = body.strip()
        if not text:
            return None
        if text[:3].upper() == "SET":
            self._session_setting(text)
        return Statement(text, line)

    def _session_setting(self, text: str) -> None:
        """Follow the settings that change how backslashes in strings are read."""
        m = SET_STANDARD_STRINGS.match(text)
        if m is not None:
            self.backslash = m.group(1).lower() == "off"
        elif (m := SET_SQL_MODE.search(text)) is not None:
            mode = m.group(1)
            self.backslash = (
                self.dialect.backslash_escapes if mode is None else "NO_BACKSLASH_ESCAPES" not in mode.upper()
            )
        self.values.backslash = self.backslash
