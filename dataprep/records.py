"""The record format shared by every stage.

A record is a plain dict with these keys:

- ``id``: stable, derived from ``source`` and the content, so reruns give the same ids.
- ``text``, or ``input`` + ``output``, or ``messages`` (a list of ``{role, content}``).
- ``source``: the input file plus a locator, e.g. ``data.csv#row=12``.
- ``meta``: a dict of anything else.

Between stages records travel as column-oriented batches: ``{"id": [...], "text": [...], ...}``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

CORE_COLUMNS = ("id", "text", "input", "output", "messages", "source", "meta")
CONTENT_COLUMNS = ("text", "input", "output", "messages")
#: Column a batch function sets to a reason string to drop that row.
REJECT_COLUMN = "_reject"
#: Optional free-text detail for the reject reason.
REJECT_DETAIL_COLUMN = "_reject_detail"

Batch = dict[str, list[Any]]

#: The deepest nesting of lists and objects a record may hold (the record itself is level 1,
#: ``meta`` level 2, a list in meta level 3...). Deeper records are rejected as
#: ``too-deeply-nested``: JSON encoders and Arrow recurse once per level, and no real export
#: nests anywhere near this deep.
MAX_NESTING = 32


def content_key(record: dict[str, Any]) -> str:
    """The canonical string of a record's content, used for ids."""
    if record.get("messages"):
        return json.dumps([[m.get("role"), m.get("content")] for m in record["messages"]], ensure_ascii=False)
    if record.get("input") is not None or record.get("output") is not None:
        return f"{record.get('input') or ''}\x1f{record.get('output') or ''}"
    return record.get("text") or ""


def make_id(source: str, content: str) -> str:
    """A 16-hex-digit id from the source locator and the content."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(source.encode("utf-8", "surrogatepass"))
    digest.update(b"\0")
    digest.update(content.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def new_record(
    source: str,
    *,
    text: str | None = None,
    input: str | None = None,  # noqa: A002 - the field is called input
    output: str | None = None,
    messages: list[dict[str, str]] | None = None,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a record with its id filled in."""
    record = {
        "text": text,
        "input": input,
        "output": output,
        "messages": messages,
        "source": source,
        "meta": meta or {},
    }
    record["id"] = make_id(source, content_key(record))
    return record


def record_format(record: dict[str, Any]) -> str | None:
    """``"messages"``, ``"input-output"``, ``"text"``, or None when it has no content."""
    if record.get("messages"):
        return "messages"
    if record.get("input") is not None or record.get("output") is not None:
        return "input-output"
    if record.get("text") is not None:
        return "text"
    return None


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def check_record(obj: Any) -> str | None:
    """Why ``obj`` cannot be used as a record, or None when it can.

    Returns a short reason code (used as the reject reason).
    """
    if not isinstance(obj, dict):
        return "not-an-object"
    if obj.get("source") is not None and not isinstance(obj["source"], str):
        return "non-string-source"
    if obj.get("id") is not None and (isinstance(obj["id"], bool) or not isinstance(obj["id"], (str, int))):
        return "bad-id"
    if obj.get("meta") is not None and not isinstance(obj["meta"], dict):
        return "bad-meta"
    for key in ("text", "input", "output"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            return f"non-string-{key}"
    messages = obj.get("messages")
    if messages is not None:
        if not isinstance(messages, list) or not messages:
            return "bad-messages"
        for message in messages:
            if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                return "bad-messages"
            if not isinstance(message.get("content"), str):
                return "non-string-message-content"
        if all(_is_blank(m["content"]) for m in messages):
            return "empty-messages"
        return None
    if obj.get("input") is not None or obj.get("output") is not None:
        if _is_blank(obj.get("output")):
            return "empty-output"
        if obj.get("input") is None:
            return "missing-input"
        return None
    if "text" not in obj:
        return "missing-content"
    if _is_blank(obj.get("text")):
        return "empty-text"
    return None


def nesting_depth(value: Any, limit: int = MAX_NESTING) -> int:
    """How deep lists and dicts nest in ``value`` (a scalar is 0), counting no further than ``limit + 1``."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if depth > limit:
            return depth
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def coerce_record(obj: dict[str, Any], default_source: str) -> dict[str, Any]:
    """Fill the optional fields of a checked record (id, source, meta)."""
    record = {key: obj.get(key) for key in CORE_COLUMNS}
    record["meta"] = dict(obj.get("meta") or {})
    for key, value in obj.items():
        if key not in CORE_COLUMNS and not key.startswith("_"):
            record[key] = value
    messages = record.get("messages")
    if messages and any(len(m) > 2 for m in messages):
        # Parquet holds a message as {role, content}; other keys (name, tool_call_id...) would
        # vanish there, so they move to meta, one entry per message (None where it had none).
        record["messages"] = [{"role": m["role"], "content": m["content"]} for m in messages]
        extras = [{k: v for k, v in m.items() if k not in ("role", "content")} or None for m in messages]
        record["meta"]["message_fields"] = extras
    if not record["source"]:
        record["source"] = default_source
    if not record["id"]:
        record["id"] = make_id(record["source"], content_key(record))
    else:
        record["id"] = str(record["id"])
    return record


def rows_to_batch(rows: list[dict[str, Any]]) -> Batch:
    """Turn a list of records into a column-oriented batch."""
    columns: list[str] = list(CORE_COLUMNS)
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    return {col: [row.get(col) for row in rows] for col in columns}


def batch_to_rows(batch: Batch) -> list[dict[str, Any]]:
    """Turn a column-oriented batch into a list of records."""
    if not batch:
        return []
    names = list(batch)
    return [dict(zip(names, values)) for values in zip(*(batch[n] for n in names))]


def batch_len(batch: Batch) -> int:
    for values in batch.values():
        return len(values)
    return 0
