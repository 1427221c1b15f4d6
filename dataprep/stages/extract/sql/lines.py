"""A dump as a stream of decoded lines: plain or gzip, UTF-8 or not, never read whole."""

from __future__ import annotations

import codecs
import gzip
import io
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path

from dataprep.errors import InputError
from dataprep.io.encoding import bom_encoding, damaged_file, open_binary

HEAD_CHARS = 1 << 16


class DumpLines:
    """The lines of a dump, each with its line ending, decoded one at a time.

    ``encoding="auto"`` reads a BOM (SQL Server scripts are often UTF-16), else decodes each
    line as UTF-8; the bytes of a line that are not UTF-8 (raw blobs, legacy Latin-1 text)
    are kept as surrogates for :class:`Dump` to repair, and such lines are counted. Deciding
    per line keeps it one pass over a multi-GB dump. A gzip stream that ends early stops the
    lines and sets :attr:`read_error` instead of raising, so the rows before it still count.
    """

    def __init__(self, path: Path, encoding: str = "auto") -> None:
        self.path = Path(path)
        self.encoding = encoding
        self.non_utf8_lines = 0
        self.read_error: str | None = None
        if encoding != "auto":
            try:
                codecs.lookup(encoding)
            except LookupError as exc:
                raise InputError(f"{path}: unknown encoding {encoding!r}; use e.g. utf-8 or cp1252.") from exc

    def head(self) -> str:
        """The first 64K characters or so, for guessing the dialect."""
        out: list[str] = []
        size = 0
        for line in self:
            out.append(line)
            size += len(line)
            if size >= HEAD_CHARS:
                break
        return "".join(out)[:HEAD_CHARS]

    def __iter__(self) -> Iterator[str]:
        self.non_utf8_lines = 0
        self.read_error = None
        read = 0
        try:
            with open_binary(self.path) as raw:
                encoding = self.encoding
                if encoding == "auto":
                    encoding = bom_encoding(raw.peek(4)[:4] if hasattr(raw, "peek") else b"") or "auto"
                lines = self._utf8(raw) if encoding in ("auto", "utf-8-sig") else self._decoded(raw, encoding)
                for line in lines:
                    read += 1
                    yield line
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            if not read:
                # Not one line came out (not gzip at all, or damaged from the start): nothing to keep.
                raise damaged_file(self.path, exc) from exc
            self.read_error = f"the file cannot be read to the end ({exc or type(exc).__name__})"
        except OSError as exc:
            raise InputError(f"{self.path}: cannot be read ({exc.strerror or exc}).") from exc

    def _utf8(self, raw: Iterable[bytes]) -> Iterator[str]:
        first = True
        for data in raw:
            if first:
                data = data.removeprefix(codecs.BOM_UTF8)
                first = False
            try:
                yield data.decode("utf-8")
            except UnicodeDecodeError:
                # Keep the line's UTF-8 text and hold each other byte as a surrogate: a raw
                # BLOB (mysqldump without --hex-blob) gets its exact bytes back, and a legacy
                # Latin-1 string becomes Windows-1252 text (see Dump).
                self.non_utf8_lines += 1
                yield data.decode("utf-8", "surrogateescape")

    def _decoded(self, raw: io.BufferedIOBase, encoding: str) -> Iterator[str]:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        number = 0
        try:
            for number, line in enumerate(text, start=1):  # noqa: B007 - number is used after the loop
                if number == 1:
                    line = line.removeprefix("\ufeff")
                yield line
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{self.path} near line {number + 1}: not {encoding} text ({exc.reason}); "
                "set --encoding, or leave it at auto."
            ) from exc


class Cursor:
    """The text being scanned, usually one line, and a position in it.

    :meth:`next_line` moves on to the next line; :meth:`extend` appends it, for a value
    or statement that spans lines. Line numbers are 1-based.
    """

    __slots__ = ("_lines", "text", "pos", "lineno", "_held", "_nl_pos", "_nl_count", "eof", "recent")

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self.text = ""
        self.pos = 0
        #: Line number of ``text[0]``.
        self.lineno = 1
        #: How many lines ``text`` holds.
        self._held = 0
        self._nl_pos = 0
        self._nl_count = 0
        self.eof = False
        #: The last lines with something on them, to check a dump's closing comment.
        self.recent: deque[str] = deque(maxlen=4)

    @classmethod
    def over(cls, text: str, lineno: int = 1) -> Cursor:
        """A cursor over a complete piece of text (nothing more to read)."""
        cursor = cls(())
        cursor.text, cursor.lineno, cursor._held, cursor.eof = text, lineno, 1, True
        return cursor

    def _read(self) -> str | None:
        if self.eof:
            return None
        line = next(self._lines, None)
        if line is None:
            self.eof = True
            return None
        if not line.isspace():
            self.recent.append(line)
        return line

    def next_line(self) -> bool:
        """Drop the current text and hold the next line; False at the end of the dump."""
        line = self._read()
        if line is None:
            self.pos = len(self.text)
            return False
        self.lineno += self._held
        self.text, self.pos, self._held = line, 0, 1
        self._nl_pos = self._nl_count = 0
        return True

    def extend(self) -> bool:
        """Append the next line to the current text; False at the end of the dump."""
        line = self._read()
        if line is None:
            return False
        self.text += line
        self._held += 1
        return True

    def compact(self) -> None:
        """Forget the text before ``pos`` (keeps memory flat in a long multi-line statement)."""
        dropped = self.text.count("\n", 0, self.pos)
        self.text = self.text[self.pos :]
        self.lineno += dropped
        self._held -= dropped
        self.pos = self._nl_pos = self._nl_count = 0

    def line_at(self, pos: int) -> int:
        """The line number of ``text[pos]``."""
        if pos < self._nl_pos:
            self._nl_pos = self._nl_count = 0
        self._nl_count += self.text.count("\n", self._nl_pos, pos)
        self._nl_pos = pos
        return self.lineno + self._nl_count
