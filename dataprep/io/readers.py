"""Streaming readers for record files: JSONL (``.jsonl``, ``.jsonl.gz``) and Parquet shards."""

from __future__ import annotations

import glob
import gzip
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from dataprep.errors import InputError
from dataprep.io.encoding import DAMAGED_FILE_ERRORS, damaged_file
from dataprep.io.json_text import loads
from dataprep.io.schema import CORE_SCHEMA, table_to_batch
from dataprep.records import CORE_COLUMNS, MAX_NESTING, Batch, check_record, coerce_record, nesting_depth, rows_to_batch

RECORD_SUFFIXES = (".jsonl", ".jsonl.gz", ".parquet")


@dataclass
class Reject:
    """A record that could not be used, with where it came from and why."""

    reason: str
    source: str
    record: Any = None
    detail: str | None = None


@dataclass
class ReadBatch:
    batch: Batch
    rejects: list[Reject] = field(default_factory=list)


def resolve_inputs(specs: Iterable[str | Path], suffixes: tuple[str, ...]) -> list[Path]:
    """Expand files, folders (recursive) and globs into a sorted list of files.

    Raises an :class:`InputError` naming the spec that matched nothing.
    """
    files: list[Path] = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(suffixes) and not _hidden(p, path)
            )
            if not found:
                raise InputError(
                    f"{spec}: folder holds no files ending in {', '.join(suffixes)}; point at the files to read."
                )
            files.extend(found)
        elif path.is_file():
            files.append(path)
        elif glob.has_magic(str(spec)):
            found = sorted(Path(p) for p in glob.glob(str(spec), recursive=True) if Path(p).is_file())
            if not found:
                raise InputError(f"{spec}: the pattern matches no file.")
            files.extend(found)
        else:
            raise InputError(f"{spec}: no such file or folder; check the path.")
    seen: set[Path] = set()
    unique = []
    for path in files:
        if path not in seen:
            seen.add(path)
            unique.append(path)
    return unique


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith((".", "_")) for part in path.relative_to(root).parts)


def _is_side_file(path: Path) -> bool:
    return path.name.endswith("rejects.jsonl")


def record_files(specs: Iterable[str | Path]) -> list[Path]:
    """Record files named by ``specs``.

    A stage folder holds its Parquet shards next to ``stats.json`` and
    ``rejects.jsonl``; only the shards are data. Rejects files found while
    walking a folder are skipped.
    """
    files: list[Path] = []
    for spec in specs:
        path = Path(spec)
        shards = sorted(path.glob("*.parquet")) if path.is_dir() else []
        if shards:
            files.extend(shards)
        elif path.is_dir():
            files.extend(p for p in resolve_inputs([path], RECORD_SUFFIXES) if not _is_side_file(p))
        else:
            files.extend(resolve_inputs([spec], RECORD_SUFFIXES))
    return files


def count_records(specs: Iterable[str | Path]) -> int | None:
    """Row count from Parquet metadata; None when it would need a full read (JSONL)."""
    total = 0
    for path in record_files(specs):
        if not path.name.endswith(".parquet"):
            return None
        total += open_parquet(path).metadata.num_rows
    return total


def _brief(exc: BaseException) -> str:
    """pyarrow's message on one line, cut short: it can run to several lines of C++ detail."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def open_parquet(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds
        raise InputError(
            f"{path}: not a readable Parquet file ({_brief(exc)}); rerun the stage that wrote it, or restore the file."
        ) from exc


def iter_batches(
    specs: Iterable[str | Path], batch_size: int = 1000, columns: Sequence[str] | None = None
) -> Iterator[ReadBatch]:
    """Stream records from JSONL and Parquet inputs as column-oriented batches.

    ``columns``: the only columns read from Parquet (the other core columns come back as
    None); JSONL records are always whole.
    """
    for path in record_files(specs):
        if path.name.endswith(".parquet"):
            yield from _iter_parquet(path, batch_size, columns)
        else:
            yield from _iter_jsonl(path, batch_size)


def _check_core_types(path: Path, schema: pa.Schema) -> None:
    for name in CORE_COLUMNS:
        if name in schema.names and not schema.field(name).type.equals(CORE_SCHEMA.field(name).type):
            found, wanted = schema.field(name).type, CORE_SCHEMA.field(name).type
            raise InputError(
                f"{path}: column {name!r} holds {found}, where records need {wanted}; convert the column, "
                "or read the file as JSONL, whose records are checked one by one."
            )


def _iter_parquet(path: Path, batch_size: int, columns: Sequence[str] | None = None) -> Iterator[ReadBatch]:
    for record_batch in iter_record_batches(path, batch_size, columns):
        yield ReadBatch(table_to_batch(record_batch))


def iter_record_batches(path: Path, batch_size: int, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
    """A Parquet file's rows as Arrow record batches, as :func:`iter_batches` reads them (the
    same batches, before they become Python values)."""
    handle = open_parquet(path)
    _check_core_types(path, handle.schema_arrow)
    wanted = None if columns is None else [name for name in columns if name in handle.schema_arrow.names]
    batches = handle.iter_batches(batch_size=batch_size, columns=wanted)
    while True:
        try:
            record_batch = next(batches, None)
        except Exception as exc:  # noqa: BLE001 - a damaged page raises OSError or ArrowInvalid
            raise InputError(
                f"{path}: the Parquet data is damaged ({_brief(exc)}); rerun the stage that wrote it."
            ) from exc
        if record_batch is None:
            return
        yield record_batch


def _open_lines(path: Path) -> Iterator[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="strict") as handle:
        try:
            yield from handle
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not UTF-8 text ({exc.reason}); re-encode it as UTF-8.") from exc
        except DAMAGED_FILE_ERRORS as exc:
            raise damaged_file(path, exc) from exc


_TOO_DEEP = object()


def _wrong_type(reason: str, obj: Any) -> str | None:
    """``'source' is int, not a string`` for a reject about a top-level field's type."""
    field = {"non-string-source": "source", "non-string-text": "text", "non-string-input": "input",
             "non-string-output": "output", "bad-id": "id", "bad-meta": "meta"}.get(reason)  # fmt: skip
    if field is None or not isinstance(obj, dict):
        return None
    wanted = {"id": "a string or an integer", "meta": "an object"}.get(field, "a string")
    return f"{field!r} is {type(obj.get(field)).__name__}, not {wanted}"


def _unencodable(line: str, obj: Any) -> str | None:
    """``lone-surrogate`` for a record holding half of a UTF-16 pair (``"\\ud800"``), which
    neither Parquet nor a UTF-8 file can store; None otherwise."""
    if "\\ud" not in line and "\\uD" not in line:
        return None
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return "lone-surrogate"
    return None


#: Bytes of a JSONL file scanned at a time for its line ends (:func:`jsonl_spans`): pieces that
#: stay in the CPU's cache (a 30 MB file took 10 ms in 1 MB pieces, 20 ms in 16 MB ones).
_SPAN_BLOCK = 1 << 20


def jsonl_spans(path: Path, lines: int) -> list[tuple[int, int, int]] | None:
    """Where :func:`jsonl_chunks`'s chunks lie in the file: ``(first line, start byte, end byte)``
    for each, found by a byte scan for line ends, so that a worker can read its own chunk
    (:func:`read_jsonl_span`) instead of this process reading and handing over every line.

    None for a gzip file, and for one holding a carriage return, which text mode reads as a line
    end too (``\r`` alone or in ``\r\n``): those are read as :func:`jsonl_chunks` reads them.
    """
    import numpy as np

    if path.name.endswith(".gz"):
        return None
    spans: list[tuple[int, int, int]] = []
    first, start, counted, offset = 1, 0, 0, 0
    with open(path, "rb") as handle:
        while block := handle.read(_SPAN_BLOCK):
            if b"\r" in block:
                return None
            ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 0x0A) + offset + 1
            # The ends that close a chunk: every ``lines``-th line counted from the chunk's first.
            closing = ends[lines - counted - 1 :: lines]
            for end in closing.tolist():
                spans.append((first, start, end))
                first, start = first + lines, end
            counted = (counted + len(ends)) % lines
            offset += len(block)
    if offset > start:
        spans.append((first, start, offset))
    return spans


def read_jsonl_span(path: Path | str, start: int, end: int) -> list[str]:
    """The lines of bytes ``start:end`` of a JSONL file (a span of :func:`jsonl_spans`), each with
    its line end, as reading the file in text mode gives them."""
    try:
        with open(path, "rb") as handle:
            handle.seek(start)
            data = handle.read(end - start)
    except DAMAGED_FILE_ERRORS as exc:
        raise damaged_file(Path(path), exc) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason}); re-encode it as UTF-8.") from exc
    pieces = text.split("\n")
    lines = [piece + "\n" for piece in pieces[:-1]]
    if pieces[-1]:
        lines.append(pieces[-1])
    return lines


def jsonl_chunks(path: Path, lines: int) -> Iterator[tuple[int, list[str]]]:
    """The file's lines, ``lines`` at a time, each chunk with the number of its first line.

    A batch of a JSONL file holds the usable records of one chunk, so that its batches do not
    depend on which of its lines turn out unusable: the local engine's workers parse chunks
    side by side and still make the batches this process makes alone.
    """
    chunk: list[str] = []
    first = 1
    for number, line in enumerate(_open_lines(path), start=1):
        chunk.append(line)
        if len(chunk) >= lines:
            yield first, chunk
            chunk, first = [], number + 1
    if chunk:
        yield first, chunk


def parse_jsonl_chunk(path: Path | str, first: int, lines: list[str]) -> ReadBatch:
    """The records of a chunk of lines (numbered from ``first``), and a reject for each unusable line."""
    rows: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    for number, line in enumerate(lines, start=first):
        if not line.strip():
            continue
        locator = f"{path}#line={number}"
        try:
            obj = loads(line)
        except json.JSONDecodeError as exc:
            rejects.append(Reject("bad-json", locator, line[:1000], f"{exc.msg} at column {exc.colno}"))
            continue
        except RecursionError:
            obj = _TOO_DEEP
        # A line cannot nest deeper than it has opening brackets: counting them (in C) spares the
        # walk over nearly every record.
        deep = obj is _TOO_DEEP or (
            line.count("[") + line.count("{") > MAX_NESTING and nesting_depth(obj) > MAX_NESTING
        )
        if deep:
            detail = f"lists and objects nest deeper than {MAX_NESTING} levels"
            rejects.append(Reject("too-deeply-nested", locator, line[:1000], detail))
            continue
        reason = check_record(obj) or _unencodable(line, obj)
        if reason:
            record = line[:1000] if reason == "lone-surrogate" else obj
            rejects.append(Reject(reason, locator, record, _wrong_type(reason, obj)))
            continue
        rows.append(coerce_record(obj, locator))
    return ReadBatch(rows_to_batch(rows) if rows else {}, rejects)


def _iter_jsonl(path: Path, batch_size: int) -> Iterator[ReadBatch]:
    for first, lines in jsonl_chunks(path, batch_size):
        read = parse_jsonl_chunk(path, first, lines)
        if read.rejects or read.batch:
            yield read
