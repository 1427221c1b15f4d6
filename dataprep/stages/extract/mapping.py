"""How table-shaped sources (CSV files, SQL tables) map columns to a record: one set of options for both."""

from __future__ import annotations

import string
from typing import Any, Literal

from pydantic import Field, field_validator

from dataprep.stages import StageConfig


def unescape(text: str | None) -> str | None:
    """Let ``\\n`` and ``\\t`` typed on a command line mean a newline and a tab."""
    if text is None:
        return None
    return text.replace("\\n", "\n").replace("\\t", "\t")


def template_fields(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


class ColumnMappingConfig(StageConfig):
    """A text column, an input/output column pair, or a template (with an optional output template)."""

    text_column: str | None = Field(None, description="Column that holds the text of each record.")
    input_column: str | None = Field(None, description="Column that holds the prompt (with --output-column).")
    output_column: str | None = Field(None, description="Column that holds the response (with --input-column).")
    template: str | None = Field(
        None,
        description="Build the text (or the input, with --output-template) from columns, "
        'e.g. "Q: {question}\\nA: {answer}".',
    )
    output_template: str | None = Field(None, description="Build the output from columns, e.g. '{answer}'.")
    meta_columns: list[str] = Field(
        default_factory=list, description="Columns copied into meta; '*' copies every unmapped column."
    )
    pii_columns: list[str] = Field(
        default_factory=list,
        description="Columns that hold personal data, as table.column (a CSV file's table is its name without "
        "the extension) or column (any table), e.g. users.email,users.phone: their values are redacted or "
        "dropped (pii_column_action) wherever the mapping, a template or meta_columns would use them.",
    )
    pii_column_action: Literal["redact", "drop"] = Field(
        "redact",
        description="redact: a typed placeholder (<EMAIL>, <PHONE>; <PII> when the name says nothing) in the "
        "value's place; drop: the value becomes empty (a record made of that column alone is rejected as empty).",
    )

    @field_validator("template", "output_template")
    @classmethod
    def _unescape(cls, value: str | None) -> str | None:
        return unescape(value)

    @field_validator("pii_columns", mode="before")
    @classmethod
    def _pii_list(cls, value: Any) -> Any:
        from dataprep.stages.privacy.columns import split_commas

        return split_commas(value)

    def check_mapping(self, required: bool) -> None:
        """Raise ValueError unless the mapping options fit together (and one is given, if ``required``)."""
        pair = self.input_column is not None or self.output_column is not None
        given = sum([self.text_column is not None, pair, self.template is not None])
        if given > 1 or (required and given == 0):
            which = "exactly" if required else "at most"
            raise ValueError(f"give {which} one mapping: text_column, or input_column with output_column, or template")
        if pair and (self.input_column is None or self.output_column is None):
            raise ValueError("input_column and output_column go together; give both")
        if self.output_template is not None and self.template is None:
            raise ValueError("output_template needs template (the input side)")
        try:
            for text in (self.template, self.output_template):
                if text is not None:
                    template_fields(text)
        except ValueError as exc:
            raise ValueError(f"bad template: {exc}; write columns as {{name}} and literal braces as {{{{ }}}}") from exc

    def mapped_columns(self) -> list[str]:
        columns = [c for c in (self.text_column, self.input_column, self.output_column) if c]
        for text in (self.template, self.output_template):
            if text:
                columns.extend(template_fields(text))
        return columns
