"""Personal data by column, for table sources (extract-csv, extract-sql).

A table says what a column holds before a single value is read: ``users.email`` is personal
whatever its values look like. :class:`PiiColumns` applies ``pii_columns`` (redact the named
columns' values to a placeholder, or drop them to empty) before a mapping, template or
``meta_columns`` reads a row; :func:`personal_columns` marks, for ``--list-tables``, the columns
whose names or sampled values look personal.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

#: Column-name patterns (matched on the name's words: ``billing_email`` has the word ``email``).
NAME_KINDS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"e?mail|email_?address"),
    "phone": re.compile(r"phone|mobile|cell|tel|telephone|fax|msisdn"),
    "address": re.compile(r"address|addr|street|postcode|zip|zipcode|postal"),
    "ip": re.compile(r"ip|ipv[46]|ip_?address|remote_?addr|client_?ip"),
    "password": re.compile(r"password|passwd|pwd|pass_?hash|password_?hash"),
    "token": re.compile(r"token|secret|api_?key|apikey|session_?id|auth"),
    "name": re.compile(r"(?:first|last|full|sur|given|family|display|real)_?name|surname"),
    "birthdate": re.compile(r"birth_?date|birthday|dob|date_?of_?birth"),
    "id_number": re.compile(r"ssn|passport|national_?id|tax_?id|iban|card_?number|cc_?number"),
}


def split_commas(value: Any) -> Any:
    """Let a list option be given as ``a,b`` as well as repeated (``--x a --x b``) or as a YAML list."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, (list, tuple)):
        return [part.strip() for item in value for part in str(item).split(",") if part.strip()]
    return value


_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def name_kind(column: str) -> str | None:
    """The kind of personal data a column's name announces (``email``, ``phone``...), or None."""
    words = [w.lower() for w in _WORDS.findall(column)]
    joined = "_".join(words)
    for kind, pattern in NAME_KINDS.items():
        if pattern.fullmatch(joined) or any(pattern.fullmatch(word) for word in words):
            return kind
        # Compound names: first_name, password_hash, remote_addr.
        for size in (2, 3):
            for k in range(len(words) - size + 1):
                if pattern.fullmatch("_".join(words[k : k + size])):
                    return kind
    return None


def value_kind(values: Iterable[Any], detector: Any, share: float = 0.5) -> str | None:
    """The PII category that at least ``share`` of the non-empty text values hold, or None."""
    texts = [v for v in values if isinstance(v, str) and v.strip()]
    if not texts:
        return None
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update({f.category for f in detector.find(text)})
    if not counts:
        return None
    kind, count = counts.most_common(1)[0]
    return kind if count >= share * len(texts) else None


def personal_columns(columns: Sequence[str], samples: Sequence[Sequence[Any]], detector: Any) -> list[dict[str, Any]]:
    """For ``--list-tables``: the columns that look personal, each ``{column, kind, by}``,
    ``by`` naming what gave it away (``name``, ``values`` or both)."""
    marked = []
    for position, column in enumerate(columns):
        by_name = name_kind(column)
        by_values = value_kind((row[position] for row in samples if position < len(row)), detector)
        if by_name or by_values:
            by = [what for what, hit in (("name", by_name), ("values", by_values)) if hit]
            marked.append({"column": column, "kind": by_name or by_values, "by": by})
    return marked


#: Rows per table that --list-tables reads values from.
SAMPLE_ROWS = 200


def mark_tables(described: dict[str, Any], samples: dict[str, list[dict[str, Any]]]) -> None:
    """Add ``personal`` (see :func:`personal_columns`) to each table of a dump's description."""
    from dataprep.stages.privacy.detect import PiiDetector

    detector = PiiDetector(private_ips=True)
    for table in described["tables"]:
        rows = samples.get(table["name"], [])
        values = [[row.get(column) for column in table["columns"]] for row in rows]
        table["personal"] = personal_columns(table["columns"], values, detector)


class PiiColumns:
    """``pii_columns`` resolved against one table's columns: which positions to replace, and with what.

    A spec is ``table.column`` (that table only; a CSV file's table is its name without the
    extension) or ``column`` (every table). ``redact`` puts a typed placeholder in the value's
    place (``<EMAIL>``, from the column name; ``<PII>`` when the name says nothing); ``drop``
    empties it, so a template reads as if the column were blank and a record whose whole text is
    that column is rejected as empty.
    """

    def __init__(self, specs: Sequence[str], action: str = "redact") -> None:
        self.specs = [spec.rsplit(".", 1) if "." in spec else [None, spec] for spec in specs]
        self.action = action

    def __bool__(self) -> bool:
        return bool(self.specs)

    def named_for(self, table: str | None) -> list[str]:
        """The columns the specs name for ``table`` (None: a query result, whose table is unknown)."""
        out = []
        for spec_table, column in self.specs:
            if spec_table is None or table is None or _same_table(spec_table, table):
                out.append(column)
        return out

    def replacements(self, table: str | None, columns: Sequence[str]) -> dict[str, str]:
        """``{column: replacement}`` for the columns of ``table`` the specs name (matched case-insensitively)."""
        wanted = {c.casefold() for c in self.named_for(table)}
        return {column: self.replacement(column) for column in columns if column.casefold() in wanted}

    def missing(self, table: str, columns: Sequence[str]) -> list[str]:
        """Columns that a ``table.column`` spec names for this very table but that it does not have."""
        have = {c.casefold() for c in columns}
        return [
            column
            for spec_table, column in self.specs
            if spec_table is not None and _same_table(spec_table, table) and column.casefold() not in have
        ]

    def replacement(self, column: str) -> str:
        if self.action == "drop":
            return ""
        return f"<{(name_kind(column) or 'pii').upper()}>"


def _same_table(spec: str, table: str) -> bool:
    """``users`` names ``public.users`` too: a dump's schema prefix is optional in a spec."""
    spec, table = spec.casefold(), table.casefold()
    return spec == table or ("." not in spec and table.rsplit(".", 1)[-1] == spec)
