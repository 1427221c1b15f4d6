"""The fast path of ``extract-csv``: clean stretches of a CSV parsed by Arrow's CSV reader.

The careful path (the standard library's csv reader, row by row, in ``csv.py``) defines what
every file gives; this module only finds the stretches where Arrow's reader gives exactly the
same rows, and turns them into records column-wise. A stretch qualifies when every quote in it
sits where RFC 4180 puts one: an opening quote at the start of a field (after a delimiter, a line
end or a closing quote) and a closing quote before a delimiter, a line end or another quote. Then
counting quotes tells which line ends end a record, and both readers split the stretch alike.
Anything else (a stray quote, a row with too many or too few fields, text in unnamed trailing
columns, a field past the csv module's size limit, a byte-order mark inside the file) goes to the
careful path, record by record, so broken rows keep their line numbers, repairs and reasons.

The file is read as UTF-8 bytes: passed through when it is UTF-8, else decoded with its encoding
and re-encoded, which keeps quotes, delimiters and line ends single ASCII bytes.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

QUOTE, CR, LF = 0x22, 0x0D, 0x0A
#: Bytes of the file read per step; the window a step scans grows from MIN_WINDOW to MAX_WINDOW
#: while stretches come out clean and falls back after a broken row, so scanning stays in
#: proportion to the rows read even when broken rows are frequent. Stretches of even size keep
#: the Parquet writer thread busy while the next one is read: with 2 MB windows the clean 100k
#: CSV of the benchmark took 339 ms against 601 ms with 16 MB ones (the last, largest stretch
#: was written with nothing left to read). Reads of a megabyte stay in the CPU's cache: with
#: 4 MB reads the same file took about 10% longer.
READ_CHUNK = 1 << 20
MIN_WINDOW = 1 << 18
MAX_WINDOW = 1 << 21
#: What ``str.strip()`` removes (``str.isspace``); tests/test_extract_csv_fast.py checks the list.
PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_NEEDS_JSON_ESCAPE = r'[\x00-\x1f"\\]'
_encode_json_string = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) uses
UTF8_BOM = codecs.BOM_UTF8


class Undecodable(Exception):
    """The bytes are not text in the file's encoding (the careful path words the error)."""


class Utf8Buffer:
    """The file as UTF-8 bytes, held from a start offset on and read ahead on demand.

    Offsets are positions in this UTF-8 text (not in the file when it is transcoded). With
    ``backslash``, ``\\"`` becomes ``""`` as the careful path does line by line (a pair never
    spans a line end, so doing it over the whole text is the same).
    """

    def __init__(self, raw: IO[bytes], encoding: str, backslash: bool) -> None:
        self.raw = raw
        name = codecs.lookup(encoding).name
        self.passthrough = name in ("utf-8", "utf-8-sig")
        self.strip_bom = name == "utf-8-sig"
        self.decoder = None if self.passthrough else codecs.getincrementaldecoder(encoding)("strict")
        self.backslash = backslash
        self.data = b""
        self.start = 0  # offset of data[0]
        self.eof = False
        self._held = b""  # a trailing backslash kept for the next read

    @property
    def end(self) -> int:
        return self.start + len(self.data)

    def fill(self, upto: int) -> None:
        """Read until the buffer reaches offset ``upto`` or the end of the file."""
        parts = [self.data]
        end = self.end
        while end < upto and not self.eof:
            raw = self.raw.read(READ_CHUNK)
            final = not raw
            if self.passthrough:
                chunk = raw
                if self.strip_bom and self.start == 0 and end == 0 and len(parts) == 1:
                    # utf-8-sig drops one BOM at the start (a file shorter than the BOM keeps its bytes).
                    chunk = chunk[3:] if chunk.startswith(UTF8_BOM) else chunk
            else:
                try:
                    chunk = self.decoder.decode(raw, final).encode("utf-8")
                except (UnicodeDecodeError, UnicodeEncodeError) as exc:
                    raise Undecodable(str(exc)) from exc
            if self.backslash:
                chunk = self._held + chunk
                self._held = b""
                if not final and chunk.endswith(b"\\"):
                    chunk, self._held = chunk[:-1], b"\\"
                chunk = chunk.replace(b'\\"', b'""')
            parts.append(chunk)
            end += len(chunk)
            self.eof = final
        self.data = b"".join(parts)

    def discard(self, before: int) -> None:
        """Forget the bytes before offset ``before`` (they are read)."""
        if before > self.start:
            self.data = self.data[before - self.start :]
            self.start = before

    def view(self, begin: int, end: int) -> bytes:
        return self.data[begin - self.start : end - self.start]


_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)?")


class Lines:
    """Lines from ``buffer`` from an offset on, split as ``TextIOWrapper(newline="")`` splits them
    (at ``\\n``, ``\\r`` and ``\\r\\n``), for the csv module; ``pos`` is the offset after the last
    line handed out, so after the reader returns a row it is where the next record starts."""

    def __init__(self, buffer: Utf8Buffer, pos: int) -> None:
        self.buffer = buffer
        self.pos = pos

    def __iter__(self) -> Lines:
        return self

    def __next__(self) -> str:
        buffer = self.buffer
        while True:
            begin = self.pos - buffer.start
            stop = _LINE.match(buffer.data, begin).end()
            if buffer.eof:
                break
            # A line is complete at its \n, or at a \r with a known next byte (the pattern takes
            # \r\n whole); otherwise read on.
            if stop > begin and (buffer.data[stop - 1] == LF or stop < len(buffer.data)):
                break
            buffer.fill(buffer.end + READ_CHUNK)
        if stop == begin:
            raise StopIteration
        line = buffer.data[begin:stop]
        self.pos = stop + buffer.start
        try:
            return line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Undecodable(str(exc)) from exc


@dataclass
class Scan:
    """Where the clean stretch from a window's start ends (a record boundary), and whether a quote
    out of place (``broken``) stopped it there."""

    end: int
    broken: bool
    #: Where the quote out of place is (relative to the window's start), when broken.
    limit: int = 0


def scan(data: bytes, begin: int, end: int, delimiter: int, final: bool) -> Scan:
    """Find the clean stretch of ``data[begin:end]`` (``begin`` is a record boundary; ``final``:
    ``end`` is the end of the file)."""
    arr = np.frombuffer(data, dtype=np.uint8, count=end - begin, offset=begin)
    quotes = np.flatnonzero(arr == QUOTE)
    limit = len(arr)
    broken = False
    if len(quotes):
        opens, closes = quotes[0::2], quotes[1::2]
        before = arr[np.maximum(opens - 1, 0)]
        open_ok = (opens == 0) | (before == delimiter) | (before == LF) | (before == CR) | (before == QUOTE)
        after_at = closes + 1
        inside = after_at < len(arr)
        after = arr[np.minimum(after_at, len(arr) - 1)]
        close_ok = np.where(inside, (after == delimiter) | (after == LF) | (after == CR) | (after == QUOTE), final)
        bad = []
        if not open_ok.all():
            bad.append(int(opens[np.argmin(open_ok)]))
        if not close_ok.all():
            bad.append(int(closes[np.argmin(close_ok)]))
        if bad:
            limit = min(bad)
            # A close at the end of a window that is not the file's end is not known to be bad yet.
            broken = not (limit == len(arr) - 1 and not final and limit in closes[-1:])
    if final and limit == len(arr) and len(quotes) % 2 == 0:
        return Scan(end, False)
    where = begin + limit
    # The last line end before the limit with an even number of quotes before it.
    stop = limit
    while True:
        at = max(data.rfind(b"\n", begin, begin + stop), data.rfind(b"\r", begin, begin + stop))
        if at < 0:
            return Scan(begin, broken, where)
        rel = at - begin
        if arr[rel] == CR and (rel + 1 >= len(arr) or arr[rel + 1] == LF):
            # A \r whose \n may follow: the record ends after the \n, if at all.
            stop = rel
            continue
        if int(np.searchsorted(quotes, rel)) % 2 == 0:
            return Scan(at + 1, broken, where)
        stop = rel


@dataclass
class Records:
    """The non-empty records of a clean stretch: byte offsets (relative), fields, lines before."""

    starts: np.ndarray
    ends: np.ndarray
    fields: np.ndarray
    lines_before: np.ndarray


def line_ends(arr: np.ndarray) -> np.ndarray:
    """Positions of the bytes that end a line: each \\n, and each \\r not followed by \\n."""
    cr = np.flatnonzero(arr == CR)
    lone = cr[(cr + 1 >= len(arr)) | (arr[np.minimum(cr + 1, len(arr) - 1)] != LF)]
    return np.sort(np.concatenate([np.flatnonzero(arr == LF), lone]))


def count_lines(data: bytes, begin: int, end: int) -> int:
    """Lines as ``TextIOWrapper(newline="")`` counts them in ``data[begin:end]``."""
    if end <= begin:
        return 0
    arr = np.frombuffer(data, dtype=np.uint8, count=end - begin, offset=begin)
    if data.find(b"\r", begin, end) < 0:
        lines = int(np.count_nonzero(arr == LF))
    else:
        # Each \n, and each \r but those a \n follows.
        lf = np.flatnonzero(arr == LF)
        crlf = int(np.count_nonzero(arr[lf[lf > 0] - 1] == CR))
        lines = len(lf) + int(np.count_nonzero(arr == CR)) - crlf
    if data[end - 1] not in (LF, CR):
        lines += 1
    return lines


def records(data: bytes, begin: int, end: int, delimiter: int) -> Records:
    """Split a clean stretch into its records."""
    arr = np.frombuffer(data, dtype=np.uint8, count=end - begin, offset=begin)
    quotes = np.flatnonzero(arr == QUOTE)
    ends_at = line_ends(arr)
    outside = np.searchsorted(quotes, ends_at) % 2 == 0
    bounds = ends_at[outside] + 1
    if not len(bounds) or bounds[-1] != len(arr):
        bounds = np.append(bounds, len(arr))
    starts = np.concatenate([[0], bounds[:-1]]).astype(np.int64)
    ends = bounds.astype(np.int64)
    size = ends - starts
    first = arr[np.minimum(starts, len(arr) - 1)]
    empty = (size == 0) | ((size == 1) & ((first == LF) | (first == CR))) | ((size == 2) & (first == CR))
    starts, ends = starts[~empty], ends[~empty]
    delims = np.flatnonzero(arr == delimiter)
    delims = delims[np.searchsorted(quotes, delims) % 2 == 0]
    fields = np.searchsorted(delims, ends) - np.searchsorted(delims, starts) + 1
    lines_before = np.searchsorted(ends_at, starts)
    return Records(starts, ends, fields, lines_before)


def starts_with_bom(data: bytes, starts: np.ndarray) -> np.ndarray:
    """Which of the records starting at ``starts`` begin with a UTF-8 byte-order mark."""
    arr = np.frombuffer(data, dtype=np.uint8)
    found = np.ones(len(starts), dtype=bool)
    for i, byte in enumerate(UTF8_BOM):
        at = starts + i
        found &= (at < len(arr)) & (arr[np.minimum(at, len(arr) - 1)] == byte)
    return found


def _skip(row: Any) -> str:
    return "skip"


def parse(data: bytes, width: int, delimiter: str, check_utf8: bool, skip_ragged: bool = False) -> pa.Table | None:
    """Arrow's reading of a stretch as ``width`` text columns, or None when it refuses it.
    ``skip_ragged`` leaves out the rows of another width (the caller reads those carefully)."""
    names = [f"f{i}" for i in range(width)]
    try:
        return pacsv.read_csv(
            pa.py_buffer(data),
            # One thread: with newlines in values Arrow's threads first split the input serially, and
            # measured here one thread read 27 MB in half the CPU time of two; the Parquet writer
            # thread has the other core.
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 22, use_threads=False),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                newlines_in_values=True,
                ignore_empty_lines=True,
                invalid_row_handler=_skip if skip_ragged else None,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                check_utf8=check_utf8,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def too_long(table: pa.Table) -> np.ndarray | None:
    """Rows with a field longer than the csv module's limit (which it rejects), or None."""
    limit = csv.field_size_limit()
    flags = None
    for column in table.columns:
        if (pc.max(pc.binary_length(column)).as_py() or 0) <= limit:
            continue
        over = pc.greater(pc.utf8_length(column), limit).to_numpy(zero_copy_only=False)
        flags = over if flags is None else flags | over
    return flags if flags is not None and flags.any() else None


def nonempty(columns: list[pa.ChunkedArray]) -> np.ndarray | None:
    """Rows where any of ``columns`` holds text, or None."""
    flags = None
    for column in columns:
        full = pc.greater(pc.binary_length(column), 0).to_numpy(zero_copy_only=False)
        flags = full if flags is None else flags | full
    return flags if flags is not None and flags.any() else None


def _byte_table(pick: Any) -> np.ndarray:
    table = np.zeros(256, dtype=bool)
    for char in PY_WHITESPACE:
        table[pick(char.encode("utf-8"))] = True
    return table


#: The bytes a whitespace character starts with, and those it ends with, in UTF-8.
_WS_FIRST = _byte_table(lambda encoded: encoded[0])
_WS_LAST = _byte_table(lambda encoded: encoded[-1])


def missing(column: pa.ChunkedArray | pa.Array, na: set[str]) -> dict[int, str]:
    """Rows whose cell is empty after ``str.strip()`` or a missing-value marker: row -> stripped."""
    longest = max((len(v.encode("utf-8")) for v in na), default=0)
    found: dict[int, str] = {}
    at = 0
    for chunk in column.chunks if isinstance(column, pa.ChunkedArray) else [column]:
        if not len(chunk):
            continue
        # Only a cell that strips to at most the longest marker's length can be one (or empty):
        # one that short already, or one with whitespace at either end. Those alone are stripped.
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32, count=len(chunk) + 1, offset=chunk.offset * 4)
        data = chunk.buffers()[2]
        lengths = np.diff(offsets)
        maybe = lengths <= longest
        full = np.flatnonzero(~maybe)
        if len(full) and data is not None:
            raw = np.frombuffer(data, dtype=np.uint8)
            ends = _WS_FIRST[raw[offsets[full]]] | _WS_LAST[raw[offsets[full + 1] - 1]]
            maybe[full[ends]] = True
        rows = np.flatnonzero(maybe)
        if len(rows):
            # utf8_trim with str.isspace's characters is str.strip().
            stripped = pc.utf8_trim(chunk.take(pa.array(rows)), characters=PY_WHITESPACE).to_pylist()
            for row, value in zip(rows.tolist(), stripped):
                if not value or value in na:
                    found[at + row] = value
        at += len(chunk)
    return found


def json_strings(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Each cell as a JSON string literal, as ``json.dumps(..., ensure_ascii=False)`` writes it."""
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    quoted = pc.binary_join_element_wise('"', column, '"', "")
    data = column.buffers()[2]
    if data is None:
        return quoted
    raw = np.frombuffer(data, dtype=np.uint8)
    if not ((raw < 0x20) | (raw == QUOTE) | (raw == 0x5C)).any():
        return quoted  # nothing to escape anywhere in the column
    rows = np.flatnonzero(pc.match_substring_regex(column, _NEEDS_JSON_ESCAPE).to_numpy(zero_copy_only=False))
    if not len(rows):
        return quoted
    values = quoted.to_pylist()
    for row, text in zip(rows.tolist(), column.take(pa.array(rows)).to_pylist()):
        values[row] = _encode_json_string(text)
    return pa.array(values, pa.string())


def concat(parts: list[Any]) -> pa.Array:
    """Strings and string columns joined end to end, row by row."""
    return pc.binary_join_element_wise(*parts, "")


def hex_ids(sources: pa.Array, content: list[Any]) -> pa.Array:
    """``dataprep.records.make_id`` for each row: blake2b of its source, a NUL and its content key
    (``content``: the columns and strings it joins, as :func:`concat` takes them)."""
    import hashlib

    joined = concat([sources, "\0", *content])
    # Copying a keyed-up hash is cheaper than making one with its options each time.
    blank = hashlib.blake2b(digest_size=8)
    digests = []
    for chunk in joined.chunks if isinstance(joined, pa.ChunkedArray) else [joined]:
        if not len(chunk):
            continue
        _, offsets_buffer, data_buffer = chunk.buffers()
        offsets = np.frombuffer(offsets_buffer, dtype=np.int32, count=len(chunk) + 1, offset=chunk.offset * 4)
        # Slices of a view of Arrow's buffer: no copy of the text, and none of each row.
        data = memoryview(data_buffer) if data_buffer is not None else memoryview(b"")
        bounds = offsets.tolist()
        for a, b in zip(bounds, bounds[1:]):
            hashed = blank.copy()
            hashed.update(data[a:b])
            digests.append(hashed.digest())
    hexed = b"".join(digests).hex().encode()
    # Each id is 16 hex digits: one string of them all, cut every 16 characters.
    hex_offsets = np.arange(0, 16 * (len(joined) + 1), 16, dtype=np.int32)
    return pa.StringArray.from_buffers(len(joined), pa.py_buffer(hex_offsets), pa.py_buffer(hexed))


def row_values(table: pa.Table, row: int) -> list[str]:
    return [column[row].as_py() for column in table.columns]
