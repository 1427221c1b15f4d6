"""``extract-csv``: records from CSV/TSV exports, the messy way they really come.

Reads with the standard library's C csv reader rather than pandas, because it
streams row by row with the line number of each row, so a row broken by bad
quoting can be rejected (or repaired) with its line number instead of failing
the whole chunk or being silently skipped.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from dataprep.errors import InputError, suggest
from dataprep.io.encoding import DAMAGED_FILE_ERRORS, damaged_file, detect_encoding, open_binary
from dataprep.io.readers import Reject
from dataprep.records import new_record
from dataprep.stages import SourceStage, register
from dataprep.stages.extract.mapping import ColumnMappingConfig, unescape
from dataprep.stages.privacy.columns import PiiColumns

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
        try:
            yield from self._read(path)
        except DAMAGED_FILE_ERRORS as exc:
            raise damaged_file(path, exc) from exc

    def _read(self, path: Path) -> Iterator[dict[str, Any] | Reject]:
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
        with self._open(path, encoding) as handle:
            # \" becomes "" rather than the csv module's escapechar, which would also eat the
            # backslash of every C:\path and \n in the text.
            lines = (line.replace('\\"', '""') for line in handle) if escape == "backslash" else handle
            reader = csv.reader(lines, delimiter=delimiter, quotechar='"', doublequote=True, strict=False)
            yield from self._rows(path, reader, info)

    def _rows(self, path: Path, reader: Any, info: dict[str, Any]) -> Iterator[dict[str, Any] | Reject]:
        cfg = self.config
        try:
            header = next(reader, None)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(f"{path} line 1: cannot read the header ({exc}).") from exc
        if not header:
            yield Reject("empty-file", str(path), detail="the file has no header row")
            return
        columns = clean_header(header)
        for name in cfg.mapped_columns() + [c for c in cfg.meta_columns if c != "*"]:
            if name not in columns:
                raise InputError(
                    f"{path}: no column {name!r}{suggest(name, columns)} The columns are: "
                    + ", ".join(repr(c) for c in columns)
                )
        spill = spill_start(header, cfg)
        width = len(columns)
        pii = self._pii_positions(path, columns)
        self._mapped = [(name, columns.index(name)) for name in dict.fromkeys(cfg.mapped_columns())]
        repair_at = columns.index(cfg.repair_column or cfg.output_column or cfg.text_column or columns[-1])
        index = {name: i for i, name in enumerate(columns)}
        meta_cols = (
            [c for i, c in enumerate(columns) if c not in cfg.mapped_columns() and (spill is None or i < spill)]
            if "*" in cfg.meta_columns
            else [c for c in cfg.meta_columns]
        )
        na = set(cfg.na_values)
        row_number = 0
        line = 1
        while True:
            start_line = line + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                line = reader.line_num
                yield Reject("unparseable-row", f"{path}#line={start_line}", detail=str(exc))
                continue
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{path} near line {start_line}: not {info['encoding']} text ({exc.reason}); set --encoding."
                ) from exc
            line = reader.line_num
            if not row:
                continue
            row_number += 1
            info["rows"] = row_number
            locator = f"{path}#row={row_number}"
            if spill is not None and any(row[spill:]):
                if cfg.on_bad_rows == "reject":
                    yield Reject(
                        "spilled-text",
                        f"{path}#line={start_line}",
                        record=_redacted(row, pii, width),
                        detail=f"line {start_line}: text runs on into the unnamed columns after "
                        f"{columns[spill - 1]!r}; quoting is probably broken (on_bad_rows: repair joins it back)",
                    )
                    continue
                # Cells past the header, if any, were text too: they join it here.
                last = max(i for i in range(spill, len(row)) if row[i])
                row[spill - 1] = info["delimiter"].join(row[spill - 1 : last + 1])
                row = row[:spill] + [""] * (width - spill)
                self.repaired["repaired-spill"] += 1
            if len(row) > width:
                if cfg.on_bad_rows == "reject":
                    yield Reject(
                        "extra-fields",
                        f"{path}#line={start_line}",
                        record=_redacted(row, pii, width),
                        detail=f"line {start_line}: expected {width} fields, found {len(row)}; "
                        "quoting is probably broken (use on_bad_rows: repair to merge them)",
                    )
                    continue
                extra = len(row) - width
                merged = info["delimiter"].join(row[repair_at : repair_at + extra + 1])
                row = row[:repair_at] + [merged] + row[repair_at + extra + 1 :]
                self.repaired["repaired-extra-fields"] += 1
            elif len(row) < width:
                row = row + [""] * (width - len(row))
            for position, replacement in pii:
                row[position] = replacement
            yield self._record(row, index, locator, na, meta_cols)

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
