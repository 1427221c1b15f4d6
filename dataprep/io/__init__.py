"""Reading and writing records: JSONL at the edges, Parquet shards between stages."""

from dataprep.io.readers import count_records, iter_batches, resolve_inputs
from dataprep.io.writers import JsonlWriter, ParquetShardWriter, RejectWriter, open_record_writer

__all__ = [
    "JsonlWriter",
    "ParquetShardWriter",
    "RejectWriter",
    "count_records",
    "iter_batches",
    "open_record_writer",
    "resolve_inputs",
]
