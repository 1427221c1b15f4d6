"""SQL literals: the values of ``INSERT ... VALUES`` tuples and of ``COPY`` data lines.

A value comes out as ``str``, :class:`Number` (a ``str`` that remembers it was a numeric
literal, kept as written: ``19.90`` stays ``19.90``), ``bytes`` (``X'..'``, ``0x..``) or
``None`` (``NULL``). An expression that is not a literal (``now()``, ``1 + 1``) comes out
as its SQL text. The few functions dump tools write around literals are evaluated:
``CAST(x AS t)`` and ``CONVERT(t, x)`` (SQL Server), ``replace(.., char(10))`` and
``unistr(..)`` (SQLite ``.dump``), ``'..'::type`` (PostgreSQL).
"""

from __future__ import annotations

import re
from typing import Any

from dataprep.stages.extract.sql.dialects import Dialect
from dataprep.stages.extract.sql.lines import Cursor


class Number(str):
    """A numeric literal, as written in the dump."""

    __slots__ = ()


class Incomplete(Exception):
    """The dump ended inside a value or a tuple."""


class ValueSyntaxError(Exception):
    """Something in a tuple is not a value; ``pos`` is where, in the cursor's text."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.pos = pos


# Unrolled loops: every quote inside the body is part of a doubled pair (or escaped), so the
# match is unambiguous and a string still open at the end of the text never matches.
def _quoted_pattern(quote: str, backslash: bool) -> re.Pattern[str]:
    q = re.escape(quote)
    if backslash:
        return re.compile(rf"{q}([^{q}\\]*(?:(?:\\[\s\S]|{q}{q})[^{q}\\]*)*){q}(?!{q})")
    return re.compile(rf"{q}([^{q}]*(?:{q}{q}[^{q}]*)*){q}(?!{q})")


SINGLE = _quoted_pattern("'", False)
SINGLE_BACKSLASH = _quoted_pattern("'", True)
DOUBLE = _quoted_pattern('"', False)
DOUBLE_BACKSLASH = _quoted_pattern('"', True)
BACKTICK = re.compile(r"`([^`]*(?:``[^`]*)*)`(?!`)")
BRACKET = re.compile(r"\[([^\]]*(?:\]\][^\]]*)*)\](?!\])")

_SPACE = re.compile(r"\s*")
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_HEX_0X = re.compile(r"0[xX]([0-9a-fA-F]*)")
_HEX = re.compile(r"[xX]'([0-9a-fA-F\s]*)'")
_BITS = re.compile(r"[bB]'([01]*)'")
_WORD = re.compile(r"[A-Za-z_][\w$]*")
_INTRODUCER = re.compile(r"_[A-Za-z0-9]+\s*(?=['xX0])")
_DOLLAR = re.compile(r"\$([A-Za-z_]\w*)?\$")
_CAST_TAIL = re.compile(r"(?:\s*::\s*\"?[A-Za-z_][\w.\"]*(?:\s+[A-Za-z_]\w*)*(?:\s*\([\d\s,]*\))?(?:\s*\[\])*)+\s*")
_AS_TYPE = re.compile(r"\s*AS\s+\S[\s\S]*", re.I)

MYSQL_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a", "%": "\\%", "_": "\\_"}
C_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_MYSQL_UNESCAPE = {q: re.compile(rf"\\([\s\S])|{q}{q}") for q in "'\""}
_E_UNESCAPE = re.compile(r"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|([\s\S]))|''")
_COPY_UNESCAPE = re.compile(r"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|([\s\S]))")
_UNISTR = re.compile(r"\\(?:([0-9A-Fa-f]{4})|\+([0-9A-Fa-f]{6})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(\\))")


def unescape_mysql(body: str, quote: str = "'") -> str:
    """MySQL string escapes: ``\\n``, ``\\0``, ``\\'``... and doubled quotes. ``\\%`` and ``\\_`` keep
    their backslash, as in MySQL."""
    if "\\" not in body and quote * 2 not in body:
        return body
    return _MYSQL_UNESCAPE[quote].sub(
        lambda m: quote if m.group(1) is None else MYSQL_ESCAPES.get(m.group(1), m.group(1)), body
    )


def unescape_doubled(body: str, quote: str = "'") -> str:
    return body.replace(quote * 2, quote) if quote * 2 in body else body


def _byte(value: int) -> str:
    # Octal and hex escapes are bytes of the dump's encoding: a byte above 0x7f is held as a
    # surrogate until the whole value can be decoded as UTF-8 (\\303\\251 is é, not Ã©).
    return chr(value) if value < 0x80 else chr(0xDC00 + value)


def _bytes_to_text(text: str) -> str:
    if any("\udc80" <= char <= "\udcff" for char in text):
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text


def _e_escape(m: re.Match[str]) -> str:
    octal, hex2, u4, u8, other = m.groups()
    if m.group(0) == "''":
        return "'"
    if octal is not None:
        return _byte(int(octal, 8) & 0xFF)
    if hex2 is not None:
        return _byte(int(hex2, 16))
    if other is not None:
        return C_ESCAPES.get(other, other)
    return chr(int(u4 or u8, 16))


def unescape_postgres_e(body: str) -> str:
    """PostgreSQL ``E'...'`` escapes: C escapes, octal, ``\\x``, ``\\u`` and ``\\U``."""
    return _bytes_to_text(_E_UNESCAPE.sub(_e_escape, body)) if "\\" in body or "''" in body else body


def _copy_escape(m: re.Match[str]) -> str:
    octal, hex2, other = m.groups()
    if octal is not None:
        return _byte(int(octal, 8) & 0xFF)
    if hex2 is not None:
        return _byte(int(hex2, 16))
    return C_ESCAPES.get(other, other)


def copy_fields(line: str) -> list[str | None]:
    """The fields of one ``COPY ... FROM stdin`` data line: tab-separated, ``\\N`` is NULL."""
    line = line.rstrip("\r\n")
    return [
        None
        if field == "\\N"
        else (_bytes_to_text(_COPY_UNESCAPE.sub(_copy_escape, field)) if "\\" in field else field)
        for field in line.split("\t")
    ]


def _unistr(body: str) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group(5):
            return "\\"
        return chr(int(next(g for g in m.groups()[:4] if g), 16))

    return _UNISTR.sub(one, body)


def _all_str(args: list[Any]) -> bool:
    return all(isinstance(a, str) for a in args)


def _simple_value(backslash: bool) -> re.Pattern[str]:
    """One plain literal (a quoted string, a number, NULL, a hex blob) and the ``,`` or ``)``
    after it. Most rows of most dumps hold nothing else; one match per value is about twice
    as fast as the general path. (A single regex for a whole tuple would be slower still:
    Python's re engine is slow on repeated groups that hold repeats.)"""
    string = _quoted_pattern("'", backslash).pattern
    # Hex before numbers, or 0x1F would start as the number 0.
    return re.compile(
        rf"\s*(?:[Nn]?{string}|[xX]'([0-9a-fA-F]*)'|0[xX]([0-9a-fA-F]+)|({_NUMBER.pattern})|((?i:NULL))(?![\w$]))"
        r"\s*([,)])"
    )


_SIMPLE_VALUE = {backslash: _simple_value(backslash) for backslash in (False, True)}


class ValueParser:
    """Reads tuples of SQL literals from a :class:`Cursor`, asking it for more lines when a
    value spans lines."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.backslash = dialect.backslash_escapes

    def simple_row(self, text: str, pos: int) -> tuple[list[Any], int] | None:
        """The tuple at ``text[pos]`` (its ``(``) and the position after its ``)``, when it holds
        only plain literals and ends in ``text``; None otherwise (the caller takes :meth:`row`)."""
        match = _SIMPLE_VALUE[self.backslash].match
        unescape = unescape_mysql if self.backslash else unescape_doubled
        out: list[Any] = []
        append = out.append
        pos += 1
        while True:
            m = match(text, pos)
            if m is None:
                return None
            quoted, hexed, hex0x, number, null, end = m.groups()
            if quoted is not None:
                append(unescape(quoted) if "\\" in quoted or "''" in quoted else quoted)
            elif number is not None:
                append(Number(number))
            elif null is not None:
                append(None)
            elif hex0x is not None:
                append(bytes.fromhex(hex0x if len(hex0x) % 2 == 0 else "0" + hex0x))
            elif len(hexed) % 2 == 0:
                append(bytes.fromhex(hexed))
            else:
                return None
            pos = m.end()
            if end == ")":
                return out, pos

    @property
    def single(self) -> re.Pattern[str]:
        return SINGLE_BACKSLASH if self.backslash else SINGLE

    def _unescape(self, body: str, quote: str = "'") -> str:
        return unescape_mysql(body, quote) if self.backslash else unescape_doubled(body, quote)

    # -- tuples -------------------------------------------------------------------------

    def row(self, cur: Cursor) -> list[Any]:
        """The values of the tuple at ``cur.pos`` (which holds its ``(``); consumes the ``)``."""
        cur.pos += 1
        return self._items(cur)

    def _items(self, cur: Cursor) -> list[Any]:
        values: list[Any] = []
        peek = self._peek
        while True:
            char = peek(cur)
            if char == ")" and not values:
                cur.pos += 1
                return values
            start = cur.pos
            value = self._value(cur, char)
            char = peek(cur)
            if char != "," and char != ")":
                if char == "+" or char == "|":
                    value = self._concatenated(cur, start, value)
                    char = peek(cur)
                if char != "," and char != ")":
                    value = self._continued(cur, start, value)
                    char = peek(cur)
            values.append(value)
            cur.pos += 1
            if char == ")":
                return values

    def _peek(self, cur: Cursor) -> str:
        """The next character that is not space or a comment (fetching lines as needed)."""
        text, pos = cur.text, cur.pos
        while True:
            if pos < len(text):
                char = text[pos]
                if not char.isspace():
                    if char == "/" and text.startswith("/*", pos):
                        end = text.find("*/", pos + 2)
                        if end < 0:
                            if not cur.extend():
                                raise Incomplete("the dump ends inside a comment")
                            text = cur.text
                            continue
                        pos = end + 2
                        continue
                    if (char == "-" and text.startswith("--", pos)) or (char == "#" and self.dialect.hash_comments):
                        end = text.find("\n", pos)
                        pos = len(text) if end < 0 else end
                        continue
                    cur.pos = pos
                    return char
                pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
                continue
            cur.pos = pos
            if not cur.extend():
                raise Incomplete("the dump ends inside a row")
            text = cur.text

    # -- one value ------------------------------------------------------------------------

    def _quoted(self, cur: Cursor, pattern: re.Pattern[str], at: int) -> str:
        """The raw body of the quoted string whose opening quote is at ``at``."""
        while True:
            m = pattern.match(cur.text, at)
            if m is not None:
                cur.pos = m.end()
                return m.group(1)
            if not cur.extend():
                raise Incomplete("the dump ends inside a string")

    def _value(self, cur: Cursor, char: str) -> Any:
        text, pos = cur.text, cur.pos
        if char == "'":
            return self._unescape(self._quoted(cur, self.single, pos))
        if char.isdigit() or char in "-+.":
            hexed = _HEX_0X.match(text, pos)
            if hexed is not None:
                cur.pos = hexed.end()
                digits = hexed.group(1)
                return bytes.fromhex(digits if len(digits) % 2 == 0 else "0" + digits)
            m = _NUMBER.match(text, pos)
            if m is None and self.dialect.go_batches and text[pos + 1 : pos + 2] == "$":
                m = _NUMBER.match(text, pos + 2)  # -$5.50, a negative money literal
                if m is not None:
                    cur.pos = m.end()
                    return Number(char.replace("+", "") + m.group())
            if m is None:
                raise ValueSyntaxError(f"expected a value, found {text[pos : pos + 20]!r}", pos)
            cur.pos = m.end()
            return Number(m.group())
        nxt = text[pos + 1 : pos + 2]
        if nxt == "'":
            upper = char.upper()
            if upper == "N":
                cur.pos = pos + 1
                return self._unescape(self._quoted(cur, self.single, pos + 1))
            if upper == "X":
                m = _HEX.match(text, pos)
                if m is None:
                    raise ValueSyntaxError("a hex literal X'..' holds something other than hex digits", pos)
                cur.pos = m.end()
                digits = re.sub(r"\s+", "", m.group(1))
                if len(digits) % 2:
                    raise ValueSyntaxError("a hex literal X'..' has an odd number of digits", pos)
                return bytes.fromhex(digits)
            if upper == "B":
                m = _BITS.match(text, pos)
                if m is None:
                    raise ValueSyntaxError("a bit literal b'..' holds something other than 0 and 1", pos)
                cur.pos = m.end()
                return Number(str(int(m.group(1) or "0", 2)))
            if upper == "E" and self.dialect.name == "postgres":
                return unescape_postgres_e(self._quoted(cur, SINGLE_BACKSLASH, pos + 1))
        if char == '"':
            if self.dialect.double_quoted_strings:
                return self._unescape(self._quoted(cur, DOUBLE_BACKSLASH if self.backslash else DOUBLE, pos), '"')
            self._quoted(cur, DOUBLE, pos)
            return text[pos : cur.pos]
        if char == "_":
            m = _INTRODUCER.match(text, pos)
            if m is not None:
                cur.pos = m.end()
                return self._value(cur, text[m.end()])
        if char == "$" and self.dialect.go_batches:
            # A SQL Server money literal, $20.00 (instpubs.sql writes prices so): the number.
            m = _NUMBER.match(text, pos + 1)
            if m is not None:
                cur.pos = m.end()
                return Number(m.group())
        if char == "$" and self.dialect.dollar_quotes:
            m = _DOLLAR.match(text, pos)
            if m is not None:
                tag = m.group()
                while (end := cur.text.find(tag, m.end())) < 0:
                    if not cur.extend():
                        raise Incomplete("the dump ends inside a $-quoted string")
                cur.pos = end + len(tag)
                return cur.text[m.end() : end]
        if char == "(":
            end = self.expression_end(cur, pos + 1)
            cur.pos = end + 1
            return cur.text[pos : end + 1]
        word = _WORD.match(text, pos)
        if word is None:
            raise ValueSyntaxError(f"expected a value, found {text[pos : pos + 20]!r}", pos)
        cur.pos = word.end()
        name = word.group()
        upper = name.upper()
        if upper == "NULL":
            return None
        if self._peek(cur) == "(":
            return self._call(cur, pos, name.lower())
        if upper in ("TRUE", "FALSE"):
            return upper.lower()
        return name

    def _call(self, cur: Cursor, start: int, name: str) -> Any:
        """A function call whose ``(`` is at ``cur.pos``: evaluated when dump tools write it."""
        cur.pos += 1
        if name == "cast":
            inner_start = cur.pos
            value = self._value(cur, self._peek(cur))
            end = self.expression_end(cur, cur.pos)
            tail = cur.text[cur.pos : end]
            cur.pos = end + 1
            if _AS_TYPE.fullmatch(tail) is None:
                return cur.text[inner_start:end].strip()
            return value
        args = self._items(cur)
        if name == "convert" and self.dialect.go_batches and len(args) >= 2:
            return args[1]
        if name == "replace" and len(args) == 3:
            if any(a is None for a in args):
                return None
            if _all_str(args):
                return args[0].replace(args[1], args[2])
        if name in ("char", "nchar") and args and all(isinstance(a, Number) for a in args):
            try:
                return "".join(chr(int(float(a))) for a in args)
            except (ValueError, OverflowError):
                pass
        if name == "unistr" and len(args) == 1 and isinstance(args[0], str):
            return _unistr(args[0])
        if name == "concat" and _all_str(args):
            return "".join(args)
        if name == "unhex" and len(args) == 1 and isinstance(args[0], str):
            try:
                return bytes.fromhex(args[0])
            except ValueError:
                pass
        return cur.text[start : cur.pos]

    def _concatenated(self, cur: Cursor, start: int, value: Any) -> Any:
        """``N'a' + CHAR(13) + CHAR(10) + N'b'`` (SQL Server) or ``'a' || char(10) || 'b'``: joined
        when every part is a string, NULL when one is NULL, else the expression's SQL text."""
        parts = [value]
        concat = "||" if self.dialect.name != "mysql" else None
        while True:
            text, pos = cur.text, cur.pos
            if concat is not None and text.startswith(concat, pos):
                cur.pos = pos + 2
            elif self.dialect.go_batches and text[pos] == "+":
                cur.pos = pos + 1
            else:
                break
            parts.append(self._value(cur, self._peek(cur)))
            self._peek(cur)
        if any(part is None for part in parts):
            return None
        if len(parts) > 1 and all(type(part) is str for part in parts):
            return "".join(parts)
        return value if len(parts) == 1 else cur.text[start : cur.pos].strip()

    def _continued(self, cur: Cursor, start: int, value: Any) -> Any:
        """A value followed by more than ``,`` or ``)``: a cast keeps the literal, anything else
        (an operator, a COLLATE clause) gives the expression's SQL text."""
        end = self.expression_end(cur, cur.pos)
        tail = cur.text[cur.pos : end]
        cur.pos = end
        if tail.lstrip().startswith("::") and _CAST_TAIL.fullmatch(tail) is not None:
            return value
        return cur.text[start:end].strip()

    def expression_end(self, cur: Cursor, pos: int) -> int:
        """Where the expression from ``pos`` ends: its ``,`` or closing ``)`` at depth 0."""
        depth = 0
        while True:
            text = cur.text
            m = _EXPRESSION_STOP.search(text, pos)
            if m is None:
                pos = len(text)
                if not cur.extend():
                    raise Incomplete("the dump ends inside an expression")
                continue
            char, pos = m.group(), m.start()
            if char == "(":
                depth += 1
                pos += 1
            elif char == ")" or char == ",":
                if depth == 0:
                    return pos
                if char == ")":
                    depth -= 1
                pos += 1
            else:
                pattern = {"'": self.single, '"': DOUBLE_BACKSLASH if self.backslash else DOUBLE, "`": BACKTICK}[char]
                saved = cur.pos
                self._quoted(cur, pattern, pos)
                pos, cur.pos = cur.pos, saved


_EXPRESSION_STOP = re.compile(r"""['"`(),]""")
