"""The Arrow schema of record shards.

``meta`` is stored as a JSON string: its keys differ between records and sources,
and a struct column would need one schema for every shard.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa

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


def batch_to_table(batch: Batch, schema: pa.Schema | None = None) -> pa.Table:
    """Convert a batch to an Arrow table; ``schema`` fixes the types of extra columns."""
    arrays = {}
    for name in CORE_COLUMNS:
        values = batch.get(name)
        if values is None:
            values = [None] * len(batch["id"])
        if name == "meta":
            values = [encode_meta(v) for v in values]
        arrays[name] = pa.array(values, type=CORE_SCHEMA.field(name).type)
    for name, values in batch.items():
        if name in CORE_COLUMNS or name.startswith("_"):
            continue
        kind = schema.field(name).type if schema is not None and name in schema.names else None
        arrays[name] = extra_column(values, kind)
    return pa.table(arrays)


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
    if "meta" in batch:
        batch["meta"] = [json.loads(v) if v else {} for v in batch["meta"]]
    for name in CORE_COLUMNS:
        batch.setdefault(name, [None] * table.num_rows)
    if batch["meta"] and any(m is None for m in batch["meta"]):
        batch["meta"] = [m or {} for m in batch["meta"]]
    return batch
