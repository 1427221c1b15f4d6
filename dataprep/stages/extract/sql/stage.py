"""``extract-sql``: records from SQL dumps, read directly: no database server, streamed.

Give a table and a mapping (a text column, an input/output pair, or a template), or a
read-only ``--query`` over the dump loaded into a temporary SQLite database.
``--list-tables`` prints what the dump holds instead. Statements that cannot be read and
cut-off dumps are rejected with their line number; the rest is still extracted.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from dataprep.errors import InputError, suggest
from dataprep.io.readers import Reject
from dataprep.records import new_record
from dataprep.stages import SourceStage, register
from dataprep.stages.extract.mapping import ColumnMappingConfig, template_fields
from dataprep.stages.privacy.columns import SAMPLE_ROWS, PiiColumns, mark_tables

if TYPE_CHECKING:
    from dataprep.stages.extract.sql.dump import Dump, Table
    from dataprep.stages.extract.sql.statements import Problem

# The dump reader (sqlparse) is imported where a dump is read, so that `dataprep --help` does not load it.


class ExtractSqlConfig(ColumnMappingConfig):
    """Options of ``extract-sql``. Name a table (or give a query) and at most one mapping: a
    text column, an input/output column pair, or a template. Without a mapping, a column
    called text, or columns called input and output, are used."""

    table: str | None = Field(None, description="The table whose rows become records; --list-tables shows them.")
    where: list[str] = Field(
        default_factory=list,
        description="Keep only rows where COL=VALUE (or COL!=VALUE); the value NULL matches a NULL cell. "
        "Repeat to require all.",
    )
    query: str | None = Field(
        None,
        description="Instead of --table: load the dump into a temporary SQLite database and run this read-only "
        "SELECT; its result columns are mapped like a table's.",
    )
    list_tables: bool = Field(
        False,
        description="Print each table with its row count and columns, and the dump's problems, instead of "
        "extracting (no -o needed).",
    )
    as_json: bool = Field(False, alias="json", description="With --list-tables: print JSON.")
    dialect: Literal["auto", "mysql", "postgres", "sqlite", "mssql"] = Field(
        "auto", description="The dump's dialect; auto guesses it from the first lines (tool headers, quoting, GO)."
    )
    encoding: str = Field(
        "auto",
        description="Text encoding; auto reads a BOM (UTF-16 SQL Server scripts), else reads UTF-8 line by line "
        "with a Windows-1252 fallback.",
    )

    @field_validator("where")
    @classmethod
    def _conditions(cls, value: list[str]) -> list[str]:
        for condition in value:
            column = condition.split("=", 1)[0].removesuffix("!")
            if "=" not in condition or not column.strip():
                raise ValueError(f"where {condition!r}: write COLUMN=VALUE or COLUMN!=VALUE")
        return value

    @field_validator("query")
    @classmethod
    def _read_only(cls, value: str | None) -> str | None:
        from dataprep.stages.extract.sql.engine import check_query

        return None if value is None else check_query(value)

    @model_validator(mode="after")
    def _consistent(self) -> ExtractSqlConfig:
        self.check_mapping(required=False)
        if self.query is not None and (self.table is not None or self.where):
            raise ValueError("query replaces table and where; filter in the query's WHERE clause instead")
        if self.as_json and not self.list_tables:
            raise ValueError("json goes with list_tables")
        if not self.list_tables and self.table is None and self.query is None:
            raise ValueError("give table (list_tables shows the dump's tables) or query")
        return self


@dataclass
class Mapping:
    """How a row's columns become a record, resolved against the columns there are."""

    text: str | None = None
    input: str | None = None
    output: str | None = None
    template: str | None = None
    output_template: str | None = None
    steps: list[tuple[str, str | None, str | None, list[str]]] = field(default_factory=list)
    #: Columns copied into meta.
    meta: list[str] = field(default_factory=list)
    #: pii_columns of this table: the value each one's cells are replaced with.
    pii: dict[str, str] = field(default_factory=dict)

    def columns(self) -> list[str]:
        names = [c for c in (self.text, self.input, self.output) if c]
        for text in (self.template, self.output_template):
            if text:
                names.extend(template_fields(text))
        return list(dict.fromkeys(names))

    def plan(self) -> list[tuple[str, str | None, str | None, list[str]]]:
        """``(role, column, template, columns it reads)`` for each field of the record."""
        steps: list[tuple[str, str | None, str | None, list[str]]] = []
        for role, column in (("text", self.text), ("input", self.input), ("output", self.output)):
            if column is not None:
                steps.append((role, column, None, [column]))
        if self.template is not None:
            role = "input" if self.output_template is not None else "text"
            steps.append((role, None, self.template, template_fields(self.template)))
        if self.output_template is not None:
            steps.append(("output", None, self.output_template, template_fields(self.output_template)))
        return steps


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return "0x" + value.hex()
    return value if value is None or isinstance(value, (str, int, float)) else str(value)


def _cell_text(value: Any) -> str | None:
    """A cell as text; None for NULL and for bytes that are not UTF-8."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return str(value)


@register
class ExtractSql(SourceStage):
    """Extract records from SQL dumps (MySQL, PostgreSQL, SQLite, SQL Server), streamed, no server needed."""

    name = "extract-sql"
    Config = ExtractSqlConfig
    input_suffixes = (".sql", ".sql.gz")
    config: ExtractSqlConfig

    worker_counters = ("files",)

    def __init__(self, config: ExtractSqlConfig, ctx: Any = None) -> None:
        super().__init__(config, ctx)
        self.files: dict[str, dict[str, Any]] = {}

    def summary(self) -> dict[str, Any]:
        return {"files": self.files}

    def listing(self, inputs: Sequence[str | Path]) -> str | None:
        """With ``list_tables``: what to print instead of extracting; otherwise None."""
        if not self.config.list_tables:
            return None
        from dataprep.stages.extract.sql.dump import DumpRow
        from dataprep.stages.extract.sql.listing import format_listing

        described = []
        for path in self.input_files(inputs):
            dump = self._dump(path)
            samples: dict[str, list[dict[str, Any]]] = {}
            for event in dump:
                if type(event) is DumpRow and event.error is None:
                    rows = samples.setdefault(event.table.name, [])
                    if len(rows) < SAMPLE_ROWS:
                        rows.append(dict(zip(event.columns, event.values)))
            described.append(dump.describe())
            mark_tables(described[-1], samples)
        return format_listing(described, self.config.as_json)

    def _dump(self, path: Path) -> Dump:
        from dataprep.stages.extract.sql.dump import Dump

        return Dump(path, self.config.dialect, self.config.encoding)

    def read(self, path: Path) -> Iterator[dict[str, Any] | Reject]:
        from dataprep.stages.extract.sql.statements import Problem

        cfg = self.config
        dump = self._dump(path)
        info: dict[str, Any] = {}
        if cfg.list_tables:
            yield from (self._problem(path, e) for e in dump if type(e) is Problem)
        elif cfg.query is not None:
            yield from self._from_query(path, dump, info)
        else:
            yield from self._from_table(path, dump, info)
        described = dump.describe()
        info.update(
            dialect=described["dialect"],
            tables={t["name"]: {"rows": t["rows"], "columns": t["columns"]} for t in described["tables"]},
            problems=len(described["problems"]),
            statements=dict(sorted(dump.statements.items())),
        )
        if dump.lines.non_utf8_lines:
            info["non_utf8_lines"] = dump.lines.non_utf8_lines
        self.files[str(path)] = dict(sorted(info.items()))

    @staticmethod
    def _problem(path: Path, problem: Problem) -> Reject:
        return Reject(problem.reason, f"{path}#line={problem.line}", detail=problem.detail)

    # -- table mode ---------------------------------------------------------------------

    def _is_target(self, table: Table) -> bool:
        want = self.config.table or ""
        if table.name == want or table.name.casefold() == want.casefold():
            return True
        return "." not in want and table.name.rsplit(".", 1)[-1].casefold() == want.casefold()

    def _from_table(self, path: Path, dump: Dump, info: dict[str, Any]) -> Iterator[dict[str, Any] | Reject]:
        targets: dict[int, bool] = {}
        mappings: dict[Sequence[str], Mapping] = {}
        mapping: Mapping | None = None
        checked: Sequence[str] | None = None
        from dataprep.stages.extract.sql.dump import DumpRow
        from dataprep.stages.extract.sql.statements import Problem

        conditions = self._conditions()
        skipped = 0
        for event in dump:
            if type(event) is DumpRow:
                table = event.table
                hit = targets.get(id(table))
                if hit is None:
                    hit = targets[id(table)] = self._is_target(table)
                if not hit:
                    continue
                locator = f"{path}#table={table.name}&row={event.number}"
                if event.error is not None:
                    yield Reject(
                        "column-count-mismatch",
                        locator,
                        record=[_jsonable(v) for v in event.values],
                        detail=f"line {event.line}: {event.error} ({', '.join(event.columns)})",
                    )
                    continue
                if event.columns is not checked:
                    # Each INSERT of a --column-inserts dump brings its own column list.
                    checked = event.columns
                    mapping = mappings.get(checked)
                    if mapping is None:
                        mapping = mappings[checked] = self._mapping(path, f"table {table.name!r}", checked, table.name)
                row = dict(zip(event.columns, event.values))
                if conditions and not all(self._holds(row, c) for c in conditions):
                    skipped += 1
                    continue
                assert mapping is not None
                yield self._record(row, locator, mapping)
            elif type(event) is Problem:
                yield self._problem(path, event)
        if not any(targets.values()):
            table = dump.find(self.config.table or "")
            if table is None:
                names = [t.name for t in dump.tables.values()]
                want = self.config.table or ""
                first = dump.problems[0] if dump.problems else None
                why = (
                    f"; the dump's first problem, {first.reason}: {first.detail}" if first else " (is this a SQL dump?)"
                )
                raise InputError(
                    f"{path}: no table {want!r}{suggest(want, names) or '.'} The tables are: "
                    + (", ".join(repr(n) for n in names) or f"none{why}")
                )
            self._mapping(path, f"table {table.name!r}", table.names(), table.name)
        if conditions:
            info["skipped_by_where"] = skipped

    def _conditions(self) -> list[tuple[str, bool, str]]:
        out = []
        for condition in self.config.where:
            column, _, value = condition.partition("=")
            negate = column.endswith("!")
            out.append((column.removesuffix("!").strip(), negate, value))
        return out

    @staticmethod
    def _holds(row: dict[str, Any], condition: tuple[str, bool, str]) -> bool:
        column, negate, value = condition
        cell = row[column]
        equal = cell is None if value == "NULL" else (cell is not None and _cell_text(cell) == value)
        return equal != negate

    # -- query mode ---------------------------------------------------------------------

    def _from_query(self, path: Path, dump: Dump, info: dict[str, Any]) -> Iterator[dict[str, Any] | Reject]:
        from dataprep.stages.extract.sql.dump import DumpRow
        from dataprep.stages.extract.sql.engine import QueryDatabase
        from dataprep.stages.extract.sql.statements import Statement

        with QueryDatabase() as db:
            for event in dump:
                kind = type(event)
                if kind is DumpRow:
                    if event.error is not None:
                        yield Reject(
                            "column-count-mismatch",
                            f"{path}#table={event.table.name}&row={event.number}",
                            record=[_jsonable(v) for v in event.values],
                            detail=f"line {event.line}: {event.error}",
                        )
                    else:
                        db.add_row(event)
                elif kind is Statement:
                    db.add_statement(event)
                else:
                    yield self._problem(path, event)  # type: ignore[arg-type]
            refused = 0
            for line, why in db.finish():
                refused += 1
                yield Reject("refused-statement", f"{path}#line={line}", detail=why)
            info["query"] = {"statements_run": db.executed, "statements_failed": db.failed, "refused": refused}
            columns, rows = db.query(self.config.query or "")
            mapping = self._mapping(path, "the query", columns)
            for number, values in enumerate(rows, start=1):
                yield self._record(dict(zip(columns, values)), f"{path}#query&row={number}", mapping)

    # -- rows to records ----------------------------------------------------------------

    def _mapping(self, path: Path, what: str, columns: Sequence[str], table: str | None = None) -> Mapping:
        cfg = self.config
        mapping = Mapping(cfg.text_column, cfg.input_column, cfg.output_column, cfg.template, cfg.output_template)
        if not mapping.columns():
            if "text" in columns:
                mapping.text = "text"
            elif "input" in columns and "output" in columns:
                mapping.input, mapping.output = "input", "output"
            else:
                raise InputError(
                    f"{path}: {what} has no column called text (or input and output); give --text-column, "
                    f"--input-column/--output-column or --template. The columns are: {', '.join(columns)}"
                )
        wanted = mapping.columns() + [c for c in cfg.meta_columns if c != "*"]
        wanted += [c for c, _, _ in self._conditions()]
        for name in wanted:
            if name not in columns:
                raise InputError(
                    f"{path}: {what} has no column {name!r}{suggest(name, list(columns)) or '.'} "
                    f"The columns are: {', '.join(columns)}"
                )
        mapping.meta = (
            [c for c in columns if c not in mapping.columns()] if "*" in cfg.meta_columns else list(cfg.meta_columns)
        )
        mapping.steps = mapping.plan()
        policy = PiiColumns(cfg.pii_columns, cfg.pii_column_action)
        missing = policy.missing(table, columns) if table is not None else []
        if missing:
            raise InputError(
                f"{path}: pii_columns names {', '.join(missing)}, which {what} does not have"
                f"{suggest(missing[0], list(columns)) or '.'} The columns are: {', '.join(columns)}"
            )
        # A query's result columns have lost their table: there the column name alone is matched.
        mapping.pii = policy.replacements(table, columns)
        return mapping

    def _record(self, row: dict[str, Any], locator: str, mapping: Mapping) -> dict[str, Any] | Reject:
        if mapping.pii:
            row = {**row, **{name: text for name, text in mapping.pii.items() if row[name] is not None}}
        fields: dict[str, str] = {}
        for role, column, template, names in mapping.steps:
            cells: dict[str, str] = {}
            for name in names:
                value = row[name]
                text = value if type(value) is str else _cell_text(value)
                if text is None:
                    what = "NULL" if value is None else f"{len(value)} bytes of binary data, not UTF-8 text"
                    kind = "null" if value is None else "binary"
                    return Reject(
                        f"{kind}-{role}", locator, record=self._row_json(row), detail=f"column {name!r} is {what}"
                    )
                cells[name] = text
            text = cells[column] if template is None else template.format_map(cells)  # type: ignore[index]
            if not text or text.isspace():
                return Reject(f"empty-{role}", locator, record=self._row_json(row), detail=f"the {role} is empty")
            fields[role] = text
        meta = {name: _jsonable(row[name]) for name in mapping.meta}
        if "text" in fields:
            return new_record(locator, text=fields["text"], meta=meta)
        return new_record(locator, input=fields["input"], output=fields["output"], meta=meta)

    @staticmethod
    def _row_json(row: dict[str, Any]) -> dict[str, Any]:
        return {name: _jsonable(value) for name, value in row.items()}
