"""``extract-csv``: records from CSV/TSV exports, the messy way they really come.

The careful path reads with the standard library's C csv reader, row by row with the line number
of each row, so a row broken by bad quoting can be rejected (or repaired) with its line number
instead of failing the whole chunk or being silently skipped. It defines what a file gives.

The fast path (``csv_fast``) gives the same: Arrow's CSV reader parses the stretches whose quoting
is clean, and their records are built column-wise; every row Arrow could read differently (a stray
quote, a row of another width, text in unnamed columns, a field past the csv module's limit) goes
through the careful path in its place. ``stats.json`` counts those rows per file (``careful_rows``).
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import string
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator, model_validator

from dataprep.errors import InputError, suggest
from dataprep.io.encoding import DAMAGED_FILE_ERRORS, damaged_file, detect_encoding, open_binary
from dataprep.io.readers import Reject
from dataprep.io.schema import CORE_SCHEMA, batch_to_table, decode_meta
from dataprep.io.writers import BackgroundTables
from dataprep.records import new_record, rows_to_batch
from dataprep.stages import SourceStage, register
from dataprep.stages.extract import csv_fast as fast
from dataprep.stages.extract.mapping import ColumnMappingConfig, unescape
from dataprep.stages.privacy.columns import PiiColumns

if TYPE_CHECKING:
    from dataprep.stages.base import StageOutput, StageStats

DELIMITERS = ",;\t|"
#: A header cell that names no column: empty, or pandas' "Unnamed: 3" for one.
_UNNAMED = re.compile(r"(?:Unnamed: \d+)?")
DEFAULT_NA = ["nan", "NaN", "NAN", "NULL", "null", "None", "#N/A"]


class ExtractCsvConfig(ColumnMappingConfig):
    """Options of ``extract-csv``. Give exactly one mapping: a text column, an
    input/output column pair, or a template (with an optional output template)."""

    encoding: str = Field(
        "auto", description="File encoding; auto reads a BOM, else UTF-8, else Windows-1252, else Latin-1."
    )
    delimiter: str | None = Field(None, description="Field delimiter; sniffed from , ; tab | when not given.")
    on_bad_rows: Literal["reject", "repair"] = Field(
        "repair",
        description='A row that broken quoting (such as \\" for a quote) split into too many fields: repair it '
        "by joining the pieces back with the delimiter, or reject it with its line number. Pieces past the "
        "header go into --repair-column (counted as repaired-extra-fields); pieces in unnamed trailing columns "
        "(a header like v1,v2,,,) go into the last named column (counted as repaired-spill).",
    )
    quote_escape: Literal["auto", "double", "backslash"] = Field(
        "auto",
        description='How a quote inside a quoted field is written: double ("") as in RFC 4180, or backslash '
        '(\\", as PHP and MySQL exports write it); auto picks backslash when the first 64K characters hold \\" '
        'and no "" inside a field.',
    )
    repair_column: str | None = Field(
        None, description="Column that absorbs extra fields when repairing. Default: the output or text column."
    )
    na_values: list[str] = Field(
        default_factory=lambda: list(DEFAULT_NA),
        description="Cell values that mean missing (besides empty cells); such a text cell is rejected.",
    )

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str | None) -> str | None:
        value = unescape(value)
        if value is not None and len(value) != 1:
            raise ValueError("delimiter must be a single character, e.g. ',' or '\\t'")
        return value

    @model_validator(mode="after")
    def _one_mapping(self) -> ExtractCsvConfig:
        self.check_mapping(required=True)
        return self


def clean_header(names: list[str]) -> list[str]:
    """Make header names usable as template fields.

    An empty name becomes ``column_N`` (N its 1-based position) and a repeated
    name gets ``_2``, ``_3``... (pandas' ``Unnamed: 0`` and ``text.1`` cannot be
    written inside a ``{}`` template).
    """
    out: list[str] = []
    taken: set[str] = set()
    for position, raw in enumerate(names, start=1):
        base = raw.lstrip("\ufeff").strip() or f"column_{position}"
        name, copy = base, 1
        while name in taken:
            copy += 1
            name = f"{base}_{copy}"
        taken.add(name)
        out.append(name)
    return out


def spill_start(header: list[str], cfg: ExtractCsvConfig) -> int | None:
    """Where the unnamed trailing columns start (``v1,v2,,,`` gives 2), or None.

    A spreadsheet that read a file with broken quoting puts the rest of a text into the
    next cells and widens the header with empty names; such cells are text, not columns.
    A mapping that names one of them (``{column_3}``) keeps them as columns.
    """
    named = [i for i, name in enumerate(header) if not _UNNAMED.fullmatch(name.lstrip("\ufeff").strip())]
    if not named or named[-1] == len(header) - 1:
        return None
    start = named[-1] + 1
    used = set(cfg.mapped_columns()) | set(cfg.meta_columns)
    if any(f"column_{i + 1}" in used for i in range(start, len(header))):
        return None
    return start


@register
class ExtractCsv(SourceStage):
    """Extract records from CSV or TSV files (sniffs the delimiter and the encoding)."""

    name = "extract-csv"
    Config = ExtractCsvConfig
    input_suffixes = (".csv", ".tsv", ".csv.gz", ".tsv.gz")
    config: ExtractCsvConfig

    worker_counters = ("files", "repaired")
    #: Read with Arrow where that gives the same rows (csv_fast), on either engine; False: the csv
    #: module throughout (tests compare the two).
    fast_path: ClassVar[bool] = True

    def __init__(self, config: ExtractCsvConfig, ctx: Any = None) -> None:
        super().__init__(config, ctx)
        self.files: dict[str, dict[str, Any]] = {}
        #: Rows joined back together by on_bad_rows: repair, by kind.
        self.repaired: Counter = Counter()

    def summary(self) -> dict[str, Any]:
        return {"files": self.files, **({"repaired": dict(sorted(self.repaired.items()))} if self.repaired else {})}

    def _dialect(self, path: Path, encoding: str) -> tuple[str, str]:
        """The delimiter and how quotes inside quoted fields are escaped (``double`` or ``backslash``)."""
        with self._open(path, encoding) as handle:
            sample = handle.read(65536)
        if self.config.delimiter:
            delimiter = self.config.delimiter
        elif path.name.lower().endswith((".tsv", ".tsv.gz")):
            delimiter = "\t"
        else:
            try:
                delimiter = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
            except csv.Error:
                delimiter = ","
        escape = self.config.quote_escape
        if escape == "auto":
            # A "" inside a field (not an empty field "" between delimiters) means standard quoting.
            d = re.escape(delimiter)
            doubled = re.search(rf'(?<![{d}\r\n])""(?![{d}\r\n])', sample)
            escape = "backslash" if '\\"' in sample and not doubled else "double"
        return delimiter, escape

    @staticmethod
    def _open(path: Path, encoding: str) -> io.TextIOWrapper:
        return io.TextIOWrapper(open_binary(path), encoding=encoding, newline="")

    def read(self, path: Path) -> Iterator[dict[str, Any] | Reject]:
        """The file's records and rejects one by one (what Ray's workers call; the local engine
        takes the fast path's tables whole, in :meth:`execute`)."""
        if self.fast_path:
            for item in self._read_fast(path):
                if isinstance(item, pa.Table):
                    for record in item.to_pylist():
                        record["meta"] = decode_meta(record["meta"])
                        yield record
                else:
                    yield item
            return
        try:
            yield from self._read(path)
        except DAMAGED_FILE_ERRORS as exc:
            raise damaged_file(path, exc) from exc

    def _read(self, path: Path) -> Iterator[dict[str, Any] | Reject]:
        info = self._start(path)
        with self._open(path, info["encoding"]) as handle:
            # \" becomes "" rather than the csv module's escapechar, which would also eat the
            # backslash of every C:\path and \n in the text.
            lines = (line.replace('\\"', '""') for line in handle) if info["quote_escape"] == "backslash" else handle
            reader = csv.reader(lines, delimiter=info["delimiter"], quotechar='"', doublequote=True, strict=False)
            yield from self._rows(path, reader, info)

    def _start(self, path: Path) -> dict[str, Any]:
        """The file's encoding and dialect, as ``self.files[path]`` (its row count starts at 0)."""
        cfg = self.config
        encoding = detect_encoding(path) if cfg.encoding == "auto" else cfg.encoding
        try:
            delimiter, escape = self._dialect(path, encoding)
        except LookupError as exc:
            raise InputError(f"{path}: unknown encoding {encoding!r}; use e.g. utf-8 or cp1252.") from exc
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not {encoding} text ({exc.reason}); set --encoding.") from exc
        info = {"encoding": encoding, "delimiter": delimiter, "quote_escape": escape, "rows": 0}
        self.files[str(path)] = info
        return info

    # The fast path: Arrow reads the clean stretches (csv_fast). Locally, into Parquet, its tables
    # go to the writer whole; elsewhere read() hands out their rows.

    def execute(self, inputs: list[Path | str], output: StageOutput, stats: StageStats) -> None:
        if not self.fast_path or self.ctx.engine.name != "local" or output.jsonl:
            return super().execute(inputs, output, stats)
        files = self.input_files(inputs)
        batches = _Batches(self.batch_size, output, stats)
        with self.progress(None) as bar, contextlib.ExitStack() as cleanup:
            cleanup.callback(batches.stop)  # on an error too: no writer thread left behind
            for path in files:
                for item in self._read_fast(path):
                    if isinstance(item, Reject):
                        stats.records_in += 1
                        stats.drop(item.reason)
                        output.reject(item)
                    elif isinstance(item, dict):
                        stats.records_in += 1
                        batches.add_row(item)
                    else:
                        stats.records_in += item.num_rows
                        batches.add_table(item)
                    bar.update(batches.take_written())
            batches.close()
            bar.update(batches.take_written())
        stats.extra.update(self.summary())

    def _read_fast(self, path: Path) -> Iterator[dict[str, Any] | Reject | pa.Table]:
        try:
            info = self._start(path)
            delimiter = info["delimiter"]
            if not delimiter.isascii() or delimiter in '"\r\n':
                # Arrow and the byte scan need a one-byte delimiter; the careful path reads the file.
                yield from self._rows_careful_only(path, "delimiter")
                return
            with open_binary(path) as raw:
                buffer = fast.Utf8Buffer(raw, info["encoding"], backslash=info["quote_escape"] == "backslash")
                try:
                    yield from self._fast_rows(path, buffer, info)
                    return
                except fast.Undecodable:
                    pass
            # Not text in its encoding: the careful path words the error (the line it stops at).
            for _ in self._read(path):
                pass
            raise InputError(f"{path}: not {info['encoding']} text; set --encoding.")
        except DAMAGED_FILE_ERRORS as exc:
            raise damaged_file(path, exc) from exc

    def _rows_careful_only(self, path: Path, why: str) -> Iterator[dict[str, Any] | Reject]:
        yield from self._read(path)
        info = self.files[str(path)]
        info["careful_rows"] = info["rows"]
        info["careful_because"] = {why: info["rows"]} if info["rows"] else {}

    def _fast_rows(self, path: Path, buffer: fast.Utf8Buffer, info: dict[str, Any]) -> Iterator[Any]:
        delimiter = info["delimiter"]
        lines = fast.Lines(buffer, 0)
        reader = csv.reader(lines, delimiter=delimiter, quotechar='"', doublequote=True, strict=False)
        header = self._header(path, reader)
        if not header:
            yield Reject("empty-file", str(path), detail="the file has no header row")
            return
        file = self._file(path, header, info)
        info["careful_rows"], info["careful_because"] = 0, {}
        file.check_utf8 = buffer.passthrough and not (self.config.encoding == "auto" and not buffer.strip_bom)
        file.byte = ord(delimiter)
        if reader.line_num > 1:
            # A header over several lines: the careful path counts it as one line until its first row.
            yield from self._careful(file, reader, line=1, base=0, stop=lambda: True, why="header")
        pos = lines.pos
        window = fast.MIN_WINDOW
        while True:
            buffer.discard(pos)
            buffer.fill(pos + window)
            end = min(buffer.end, pos + window)
            if end <= pos:
                return
            final = buffer.eof and end == buffer.end
            found = fast.scan(buffer.data, pos - buffer.start, end - buffer.start, file.byte, final)
            clean_end = found.end + buffer.start
            if clean_end > pos:
                stopped = yield from self._stretch(file, buffer, pos, clean_end)
                if stopped is not None:
                    # A field past the csv module's limit: the careful path reads on from there.
                    pos, target, why = stopped[0], stopped[1], "long-field"
                else:
                    pos = clean_end
                    if not found.broken:
                        window = min(fast.MAX_WINDOW, window * 2)
                        continue
                    target, why = found.limit + buffer.start + 1, "quoting"
            elif found.broken:
                target, why = found.limit + buffer.start + 1, "quoting"
            elif not final and window < fast.MAX_WINDOW:
                window *= 4  # a record longer than the window
                continue
            else:
                target, why = pos + 1, "long-record"
            # The careful path from this record boundary on, to the first row that ends at or past target.
            pos = yield from self._segment(file, buffer, pos, target, file.line, why)
            window = fast.MIN_WINDOW

    def _stretch(self, file: _File, buffer: fast.Utf8Buffer, begin: int, end: int) -> Iterator[Any]:
        """A clean stretch (whole records): Arrow reads it, broken records go careful. Returns None,
        or where the careful path must read on from: (start, up to, lines before start)."""
        data = buffer.view(begin, end)
        line0 = file.line
        width = len(file.columns)
        table = (
            None if data.startswith(fast.UTF8_BOM) else fast.parse(data, width, file.info["delimiter"], file.check_utf8)
        )
        stopped = None
        if table is not None:
            stopped = yield from self._table_rows(file, buffer, table, data, begin, line0, None, None)
        else:
            recs = fast.records(data, 0, len(data), file.byte)
            odd = recs.fields != width
            # Arrow drops a byte-order mark at the start of what it reads: the records before the
            # first that has none go careful, and Arrow starts there.
            bom = fast.starts_with_bom(data, recs.starts)
            lead = int(np.argmin(odd | bom)) if not (odd | bom).all() else len(odd)
            odd[:lead] = True
            table = None
            if lead < len(odd) and odd.any() and odd.sum() * 4 <= len(odd):
                lo = int(recs.starts[lead])
                table = fast.parse(data[lo:], width, file.info["delimiter"], file.check_utf8, skip_ragged=True)
                if table is not None and table.num_rows != int((~odd).sum()):
                    table = None
            if table is None:
                # Mostly broken rows (or Arrow refused it for another reason): all careful.
                yield from self._segment(file, buffer, begin, end, line0, "ragged" if odd.any() else "arrow")
            else:
                stopped = yield from self._table_rows(file, buffer, table, data, begin, line0, recs, odd)
        if stopped is not None:
            file.line = stopped[2]
            return stopped
        file.line = line0 + fast.count_lines(data, 0, len(data))
        return None

    def _segment(
        self, file: _File, buffer: fast.Utf8Buffer, begin: int, end: int, line: int, why: str
    ) -> Iterator[Any]:
        """Records from ``begin`` read by the careful path, up to the first that ends at or past ``end``;
        returns where the next record starts."""
        segment = fast.Lines(buffer, begin)
        reader = csv.reader(segment, delimiter=file.info["delimiter"], quotechar='"', doublequote=True, strict=False)
        yield from self._careful(file, reader, line=line, base=line, stop=lambda: segment.pos >= end, why=why)
        return segment.pos

    def _table_rows(
        self,
        file: _File,
        buffer: fast.Utf8Buffer,
        table: pa.Table,
        data: bytes,
        begin: int,
        line0: int,
        recs: Any,
        odd: np.ndarray | None,
    ) -> Iterator[Any]:
        """Records from Arrow's rows of the stretch ``data`` at ``begin``, in order with the ``odd``
        records Arrow left out (a width other than the header's), which the careful path reads.

        Rows with text in unnamed columns go through the careful row logic one by one; a row with a
        field past the csv module's limit stops the table there (returns that record's span)."""
        n = table.num_rows
        spill = fast.nonempty(table.columns[file.spill :]) if file.spill is not None else None
        long = fast.too_long(table)
        if (spill is not None or long is not None) and recs is None:
            recs = fast.records(data, 0, len(data), file.byte)
            if len(recs.starts) != n:
                # Cannot tell which record is which: the careful path reads them all.
                yield from self._segment(file, buffer, begin, begin + len(data), line0, "arrow")
                return None
        # The record (of the stretch's non-empty ones) each row of the table is.
        record_of = np.arange(n) if odd is None else np.flatnonzero(~odd)
        special = np.zeros(n, dtype=bool)
        if spill is not None:
            special |= spill
        first_long = int(np.argmax(long)) if long is not None else n
        special[first_long:] = True  # from the first long field on, the careful path reads
        r0 = file.row_number
        # Every record is one row, so record i of the stretch is row r0 + i + 1 of the file.
        out, kept, rejects = self._build(file, table, record_of + (r0 + 1), special)
        events = [(int(record_of[row]), row) for row in np.flatnonzero(special).tolist()]
        if odd is not None:
            events += [(int(i), -1) for i in np.flatnonzero(odd).tolist()]
        events.sort()
        reject_rows = sorted(rejects)
        done_kept = done_rejects = 0
        for record, row in [*events, (len(recs.starts) if recs is not None else n, n)]:
            # The table's rows before this record, as built column-wise.
            before = int(np.searchsorted(record_of, record))
            upto = int(np.searchsorted(kept, before))
            while done_rejects < len(reject_rows) and reject_rows[done_rejects] < before:
                yield rejects[reject_rows[done_rejects]]
                done_rejects += 1
            if upto > done_kept:
                yield out.slice(done_kept, upto - done_kept)
                done_kept = upto
            if row == n:
                break
            file.row_number = r0 + record
            file.info["rows"] = file.row_number
            start, stop = begin + int(recs.starts[record]), begin + int(recs.ends[record])
            line = line0 + int(recs.lines_before[record])
            if row >= first_long:
                return (start, stop, line)
            if row < 0:
                resume = yield from self._segment(file, buffer, start, stop, line, "ragged")
                if file.row_number != r0 + record + 1 or resume != stop:
                    # The csv module did not read it as one row (a field past its limit): it reads
                    # on from where it got to, and the table's rows after are left.
                    return (resume, resume, file.line)
                continue
            file.careful("spill")
            item = self._row(file, fast.row_values(table, row), line + 1)
            if item is not None:
                yield item
        file.row_number = r0 + (len(recs.starts) if recs is not None else n)
        file.info["rows"] = file.row_number
        return None

    def _build(
        self, file: _File, table: pa.Table, numbers: np.ndarray, special: np.ndarray
    ) -> tuple[pa.Table, np.ndarray, dict[int, Reject]]:
        """``_record`` for every row of ``table`` at once (their row numbers in the file are
        ``numbers``), but the ``special`` ones: the records kept, the rows they are, and the
        rejects by row."""
        cfg, n = self.config, table.num_rows
        columns = list(table.columns)
        for position, replacement in file.pii:
            columns[position] = pa.chunked_array([pa.repeat(pa.scalar(replacement, pa.string()), n)])
        bad: dict[int, tuple[str, str]] = {}
        for name, position in self._mapped:
            for row, stripped in fast.missing(columns[position], file.na).items():
                if not special[row]:
                    bad.setdefault(row, (name, stripped))
        rejects = {}
        if bad:
            rows = sorted(bad)
            values = pa.table(columns, names=file.columns).take(pa.array(rows)).to_pylist()
            for row, record in zip(rows, values):
                name, stripped = bad[row]
                what = "empty" if not stripped else f"the missing-value marker {stripped!r}"
                reason = {cfg.input_column: "empty-input", cfg.output_column: "empty-output"}.get(name, "empty-text")
                rejects[row] = Reject(
                    reason, f"{file.path}#row={numbers[row]}", record=record, detail=f"column {name!r} is {what}"
                )
        keep = ~special
        if bad:
            keep[list(bad)] = False
        kept = np.flatnonzero(keep)
        if len(kept) < n:
            picked = pa.array(kept)
            columns = [column.take(picked) for column in columns]
        size = len(kept)
        value = {name: columns[i] for name, i in file.index.items()}
        text = inputs = outputs = None
        if cfg.text_column:
            text = value[cfg.text_column]
        elif cfg.input_column and cfg.output_column:
            inputs, outputs = value[cfg.input_column], value[cfg.output_column]
        else:
            assert cfg.template is not None
            rendered = self._render(cfg.template, value, columns, file)
            if cfg.output_template:
                inputs, outputs = rendered, self._render(cfg.output_template, value, columns, file)
            else:
                text = rendered
        sources = fast.concat([f"{file.path}#row=", pc.cast(pa.array(numbers[kept]), pa.string())])
        # The content key (records.content_key): the text, or input and output joined by \x1f.
        content = [text] if text is not None else [inputs, "\x1f", outputs]
        meta_keys = sorted(dict.fromkeys(file.meta_cols))
        if meta_keys:
            parts: list[Any] = []
            for i, key in enumerate(meta_keys):
                parts.append(("{" if i == 0 else ",") + fast._encode_json_string(key) + ":")
                parts.append(fast.json_strings(value[key]))
            meta = fast.concat([*parts, "}"])
        else:
            meta = pa.repeat(pa.scalar("{}", pa.string()), size)
        strings = pa.string()
        out = pa.Table.from_arrays(
            [
                fast.hex_ids(sources, content),
                text if text is not None else pa.nulls(size, strings),
                inputs if inputs is not None else pa.nulls(size, strings),
                outputs if outputs is not None else pa.nulls(size, strings),
                pa.nulls(size, CORE_SCHEMA.field("messages").type),
                sources,
                meta,
            ],
            schema=CORE_SCHEMA,
        )
        return out, kept, rejects

    @staticmethod
    def _render(template: str, value: dict[str, Any], columns: list[Any], file: _File) -> Any:
        """``template.format_map(row)`` for every row: column-wise when it only names columns."""
        parts: list[Any] = []
        for literal, field, spec, conversion in string.Formatter().parse(template):
            if literal:
                parts.append(literal)
            if field is None:
                continue
            if spec or conversion or field not in value or field.isdigit() or any(c in field for c in ".[]"):
                names = list(file.index)
                rows = zip(*(column.to_pylist() for column in columns))
                return pa.array([template.format_map(dict(zip(names, row))) for row in rows], pa.string())
            parts.append(value[field])
        if not any(not isinstance(part, str) for part in parts):
            size = len(columns[0]) if columns else 0
            return pa.repeat(pa.scalar("".join(parts), pa.string()), size)
        return fast.concat(parts)

    def _rows(self, path: Path, reader: Any, info: dict[str, Any]) -> Iterator[dict[str, Any] | Reject]:
        header = self._header(path, reader)
        if not header:
            yield Reject("empty-file", str(path), detail="the file has no header row")
            return
        yield from self._careful(self._file(path, header, info), reader, line=1, base=0)

    @staticmethod
    def _header(path: Path, reader: Any) -> list[str] | None:
        try:
            return next(reader, None)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(f"{path} line 1: cannot read the header ({exc}).") from exc

    def _file(self, path: Path, header: list[str], info: dict[str, Any]) -> _File:
        """What reading the rows of this file needs to know, from its header (or a clear error)."""
        cfg = self.config
        columns = clean_header(header)
        for name in cfg.mapped_columns() + [c for c in cfg.meta_columns if c != "*"]:
            if name not in columns:
                raise InputError(
                    f"{path}: no column {name!r}{suggest(name, columns)} The columns are: "
                    + ", ".join(repr(c) for c in columns)
                )
        spill = spill_start(header, cfg)
        pii = self._pii_positions(path, columns)
        self._mapped = [(name, columns.index(name)) for name in dict.fromkeys(cfg.mapped_columns())]
        meta_cols = (
            [c for i, c in enumerate(columns) if c not in cfg.mapped_columns() and (spill is None or i < spill)]
            if "*" in cfg.meta_columns
            else [c for c in cfg.meta_columns]
        )
        return _File(
            path=path,
            info=info,
            columns=columns,
            index={name: i for i, name in enumerate(columns)},
            spill=spill,
            pii=pii,
            repair_at=columns.index(cfg.repair_column or cfg.output_column or cfg.text_column or columns[-1]),
            meta_cols=meta_cols,
            na=set(cfg.na_values),
        )

    def _careful(
        self, file: _File, reader: Any, line: int, base: int, stop: Any = None, why: str | None = None
    ) -> Iterator[dict[str, Any] | Reject]:
        """Rows from the csv module's ``reader``, one by one; the careful path, and the reference.

        ``line`` is the line before the next row (1 after the header), ``base`` the lines read
        before this reader started. With ``stop``, returns after the first row (or broken row, or
        empty line) after which ``stop()`` is true; ``file.line`` is then the lines read so far.
        ``why`` counts the rows under that reason in the file's ``careful_rows`` (fast path only).
        """
        path, info = file.path, file.info
        while True:
            start_line = line + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                line = base + reader.line_num
                file.careful(why)
                yield Reject("unparseable-row", f"{path}#line={start_line}", detail=str(exc))
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{path} near line {start_line}: not {info['encoding']} text ({exc.reason}); set --encoding."
                ) from exc
            else:
                line = base + reader.line_num
                if row:
                    file.careful(why)
                    item = self._row(file, row, start_line)
                    if item is not None:
                        yield item
            if stop is not None and stop():
                break
        file.line = line

    def _row(self, file: _File, row: list[str], start_line: int) -> dict[str, Any] | Reject | None:
        """One row as a record or a reject (None: nothing to yield), counting it."""
        cfg, path, spill, width, pii = self.config, file.path, file.spill, len(file.columns), file.pii
        file.row_number += 1
        row_number = file.row_number
        file.info["rows"] = row_number
        locator = f"{path}#row={row_number}"
        if spill is not None and any(row[spill:]):
            if cfg.on_bad_rows == "reject":
                return Reject(
                    "spilled-text",
                    f"{path}#line={start_line}",
                    record=_redacted(row, pii, width),
                    detail=f"line {start_line}: text runs on into the unnamed columns after "
                    f"{file.columns[spill - 1]!r}; quoting is probably broken (on_bad_rows: repair joins it back)",
                )
            # Cells past the header, if any, were text too: they join it here.
            last = max(i for i in range(spill, len(row)) if row[i])
            row[spill - 1] = file.info["delimiter"].join(row[spill - 1 : last + 1])
            row = row[:spill] + [""] * (width - spill)
            self.repaired["repaired-spill"] += 1
        if len(row) > width:
            if cfg.on_bad_rows == "reject":
                return Reject(
                    "extra-fields",
                    f"{path}#line={start_line}",
                    record=_redacted(row, pii, width),
                    detail=f"line {start_line}: expected {width} fields, found {len(row)}; "
                    "quoting is probably broken (use on_bad_rows: repair to merge them)",
                )
            extra = len(row) - width
            repair_at = file.repair_at
            merged = file.info["delimiter"].join(row[repair_at : repair_at + extra + 1])
            row = row[:repair_at] + [merged] + row[repair_at + extra + 1 :]
            self.repaired["repaired-extra-fields"] += 1
        elif len(row) < width:
            row = row + [""] * (width - len(row))
        for position, replacement in pii:
            row[position] = replacement
        return self._record(row, file.index, locator, file.na, file.meta_cols)

    def _pii_positions(self, path: Path, columns: list[str]) -> list[tuple[int, str]]:
        """Where ``pii_columns`` replace this file's cells, and with what; the file's table is its name."""
        policy = PiiColumns(self.config.pii_columns, self.config.pii_column_action)
        if not policy:
            return []
        table = path.name.split(".", 1)[0]
        missing = policy.missing(table, columns)
        if missing:
            raise InputError(
                f"{path}: pii_columns names {', '.join(f'{table}.{c}' for c in missing)}, which this file does not "
                f"have{suggest(missing[0], columns) or '.'} The columns are: " + ", ".join(repr(c) for c in columns)
            )
        return [(columns.index(c), text) for c, text in policy.replacements(table, columns).items()]

    def _record(
        self, row: list[str], index: dict[str, int], locator: str, na: set[str], meta_cols: list[str]
    ) -> dict[str, Any] | Reject:
        cfg = self.config
        for name, position in self._mapped:
            stripped = row[position].strip()
            if not stripped or stripped in na:
                what = "empty" if not stripped else f"the missing-value marker {stripped!r}"
                reason = {cfg.input_column: "empty-input", cfg.output_column: "empty-output"}.get(name, "empty-text")
                return Reject(reason, locator, record=dict(zip(index, row)), detail=f"column {name!r} is {what}")
        meta = {name: row[index[name]] for name in meta_cols}
        if cfg.text_column:
            return new_record(locator, text=row[index[cfg.text_column]], meta=meta)
        if cfg.input_column and cfg.output_column:
            return new_record(
                locator, input=row[index[cfg.input_column]], output=row[index[cfg.output_column]], meta=meta
            )
        assert cfg.template is not None
        values = dict(zip(index, row))
        text = cfg.template.format_map(values)
        if cfg.output_template:
            return new_record(locator, input=text, output=cfg.output_template.format_map(values), meta=meta)
        return new_record(locator, text=text, meta=meta)


@dataclass
class _File:
    """One file being read: what its header says, and how far the reading got."""

    path: Path
    info: dict[str, Any]
    columns: list[str]
    index: dict[str, int]
    spill: int | None
    pii: list[tuple[int, str]]
    repair_at: int
    meta_cols: list[str]
    na: set[str]
    row_number: int = 0
    #: The lines read before the next record (as the careful path counts them).
    line: int = 1
    check_utf8: bool = True
    byte: int = 0

    def careful(self, why: str | None) -> None:
        """Count a row the careful path read on the fast path, under the reason it did."""
        if why is not None:
            self.info["careful_rows"] += 1
            because = self.info["careful_because"]
            because[why] = because.get(why, 0) + 1


class _Batches:
    """Records in order, written in tables of ``size`` rows as the batch-by-batch path writes them
    (the same rows in each row group, so the same Parquet bytes).

    A second thread writes the tables: Parquet encoding and compression run outside the GIL, so
    they overlap with reading the next rows. It writes them one after another, in order.
    """

    def __init__(self, size: int, output: StageOutput, stats: StageStats) -> None:
        self.size, self.output, self.stats = size, output, stats
        self.tables: list[pa.Table] = []
        self.rows: list[dict[str, Any]] = []
        self.pending = 0
        self.written = 0
        self._background: BackgroundTables | None = None

    def add_row(self, record: dict[str, Any]) -> None:
        self.rows.append(record)
        self.pending += 1
        if self.pending >= self.size:
            self._write(final=False)

    def add_table(self, table: pa.Table) -> None:
        self._rows_to_table()
        self.tables.append(table)
        self.pending += table.num_rows
        if self.pending >= self.size:
            self._write(final=False)

    def _rows_to_table(self) -> None:
        if self.rows:
            self.tables.append(batch_to_table(rows_to_batch(self.rows)))
            self.rows = []

    def _write(self, final: bool) -> None:
        self._rows_to_table()
        if not self.tables:
            return
        table = pa.concat_tables(self.tables) if len(self.tables) > 1 else self.tables[0]
        # Whole row groups only (all that is left, at the end): one call writes them all, each of
        # ``size`` rows, so the writer thread takes the GIL once per call, not once per group.
        whole = table.num_rows if final else table.num_rows - table.num_rows % self.size
        rest = table.slice(whole)
        self.tables = [rest] if rest.num_rows else []
        self.pending = rest.num_rows
        if whole:
            self._send(table.slice(0, whole))
            self.stats.records_out += whole
            self.written += whole

    def _send(self, table: pa.Table) -> None:
        if self._background is None:
            # The writer is made here, on this thread.
            self._background = BackgroundTables(self.output.records, name="extract-csv-writer")
        self._background.write(table, row_group_size=self.size)

    def close(self) -> None:
        """Write what is left and wait for the writer; raises what the writer raised."""
        try:
            self._write(final=True)
        finally:
            self.stop()

    def stop(self) -> None:
        if self._background is not None:
            background, self._background = self._background, None
            background.close()

    def take_written(self) -> int:
        written, self.written = self.written, 0
        return written


def _redacted(row: list[str], pii: list[tuple[int, str]], width: int) -> list[str]:
    """A broken row as it goes to rejects, with ``pii_columns`` cells replaced. The row has more
    fields than the header, so a column's cell may sit up to that many places to the right of its
    position: every cell it could be is replaced."""
    row = list(row)
    shift = max(0, len(row) - width)
    for position, replacement in pii:
        for at in range(position, min(len(row), position + shift + 1)):
            row[at] = replacement
    return row
