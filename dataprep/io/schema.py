"""The Arrow schema of record shards.

``meta`` is stored as a JSON string: its keys differ between records and sources,
and a struct column would need one schema for every shard.

A stage's own columns (and the extra fields of JSONL records) are stored as Arrow types
when their values agree on one (strings, integers, vectors...). A column whose values
disagree (a string here and a number or a list there), or that holds objects, is stored
as JSON text instead, marked in its field metadata, and decoded again on reading: it
round-trips exactly, and no mix of types can make a whole file fail.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa

from dataprep.io.json_text import loads
from dataprep.records import CORE_COLUMNS, Batch

MESSAGE_TYPE = pa.struct([("role", pa.string()), ("content", pa.string())])
CORE_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("text", pa.string()),
        ("input", pa.string()),
        ("output", pa.string()),
        ("messages", pa.list_(MESSAGE_TYPE)),
        ("source", pa.string()),
        ("meta", pa.string()),
    ]
)


def encode_meta(meta: dict[str, Any] | None) -> str:
    if not meta:
        return "{}"
    return json.dumps(meta or {}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


#: Field metadata of a column stored as JSON text.
JSON_FIELD = {b"dataprep.encoding": b"json"}
_CONVERT_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError, TypeError)


def is_json_field(field: pa.Field) -> bool:
    return (field.metadata or {}).get(b"dataprep.encoding") == b"json"


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_plain)


def _plain(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else str(value)


def json_column(values: Any) -> pa.Array:
    """Values of any JSON type as JSON text (None stays null)."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        values = values.to_pylist()
    elif isinstance(values, np.ndarray):
        values = values.tolist()
    return pa.array([_json_text(v) for v in values], type=pa.string())


def _mixed(values: Any) -> bool:
    """True for plain values Arrow would store lossily or not at all: objects, or several kinds."""
    if not isinstance(values, list):
        return False
    kinds = {_kind(v) for v in values if v is not None}
    return len(kinds) > 1 or "object" in kinds


def _kind(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int"
    if isinstance(value, (float, np.floating)):
        return "float"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def decode_meta(text: str | None) -> dict[str, Any]:
    """A record's meta from its JSON text; text that is no JSON object is kept under ``unparsed_meta``."""
    if not text or text == "{}":
        return {}
    try:
        meta = loads(text)
    except (json.JSONDecodeError, RecursionError):
        meta = None
    return meta if isinstance(meta, dict) else {"unparsed_meta": text}


def batch_to_table(batch: Batch, schema: pa.Schema | None = None, *, json_extras: bool = False) -> pa.Table:
    """Convert a batch to an Arrow table; ``schema`` fixes the types of extra columns.

    ``json_extras`` stores every extra column of plain Python values as JSON text: blocks that
    are converted one by one (Ray's) then agree on one schema whatever each block holds.
    """
    fields, arrays = [], []
    for name in CORE_COLUMNS:
        values = batch.get(name)
        if values is None:
            values = [None] * len(batch["id"])
        if name == "meta":
            values = [encode_meta(v) for v in values]
        fields.append(CORE_SCHEMA.field(name))
        arrays.append(pa.array(values, type=CORE_SCHEMA.field(name).type))
    for name, values in batch.items():
        if name in CORE_COLUMNS or name.startswith("_"):
            continue
        known = schema.field(name) if schema is not None and name in schema.names else None
        array = None
        plain = json_extras and isinstance(values, list)
        if (known is None or not is_json_field(known)) and not plain and not _mixed(values):
            try:
                array = extra_column(values, known.type if known is not None else None)
            except _CONVERT_ERRORS:
                array = None
        if array is None:
            fields.append(pa.field(name, pa.string(), metadata=JSON_FIELD))
            arrays.append(json_column(values))
        else:
            fields.append(pa.field(name, array.type))
            arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def merge_schemas(old: pa.Schema, new: pa.Schema) -> pa.Schema:
    """One schema for two batches: the columns of both, a column whose types differ as JSON text."""
    fields = []
    for field in old:
        if field.name not in new.names:
            fields.append(field)
            continue
        other = new.field(field.name)
        if field.equals(other, check_metadata=True) or pa.types.is_null(other.type):
            fields.append(field)
        elif pa.types.is_null(field.type):
            fields.append(other)
        else:
            fields.append(pa.field(field.name, pa.string(), metadata=JSON_FIELD))
    fields.extend(field for field in new if field.name not in old.names)
    return pa.schema(fields)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` in ``schema``'s columns and types: missing columns null, JSON columns encoded."""
    arrays = []
    for field in schema:
        if field.name not in table.column_names:
            arrays.append(pa.nulls(table.num_rows, type=field.type))
            continue
        column = table.column(field.name)
        current = table.schema.field(field.name)
        if is_json_field(field) and not is_json_field(current):
            arrays.append(json_column(column))
        elif column.type != field.type:
            arrays.append(column.cast(field.type))
        else:
            arrays.append(column)
    return pa.Table.from_arrays(arrays, schema=schema)


def extra_column(values: Any, kind: pa.DataType | None = None) -> pa.Array:
    """An Arrow array for a stage's own column.

    Accepts Python lists, Arrow arrays, and 2-D numpy arrays (one vector per row,
    stored as a fixed-size list: embeddings stay compact, never JSON floats).
    """
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    elif isinstance(values, np.ndarray) and values.ndim == 2:
        flat = pa.array(np.ascontiguousarray(values).reshape(-1))
        array = pa.FixedSizeListArray.from_arrays(flat, values.shape[1])
    else:
        return pa.array(values, type=kind)
    return array.cast(kind) if kind is not None and array.type != kind else array


def table_to_batch(table: pa.Table | pa.RecordBatch) -> Batch:
    """A column-oriented batch; fixed-size list columns (embeddings) come back as 2-D numpy arrays."""
    vectors = {}
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_fixed_size_list(column.type) and column.null_count == 0:
            array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
            vectors[name] = array.flatten().to_numpy(zero_copy_only=False).reshape(len(array), column.type.list_size)
    if vectors:
        table = table.drop_columns(list(vectors))
    batch = table.to_pydict()
    batch.update(vectors)
    for field in table.schema:
        if is_json_field(field):
            batch[field.name] = [None if v is None else json.loads(v) for v in batch[field.name]]
    if "meta" in batch:
        batch["meta"] = [decode_meta(v) for v in batch["meta"]]
    for name in CORE_COLUMNS:
        batch.setdefault(name, [None] * table.num_rows)
    if batch["meta"] and any(m is None for m in batch["meta"]):
        batch["meta"] = [m or {} for m in batch["meta"]]
    return batch
