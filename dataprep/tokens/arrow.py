"""Stream tokenized sequences into a folder that ``datasets.load_from_disk`` opens.

Batches go through ``datasets``' own ArrowWriter into one Arrow file, so memory holds
one batch at a time; ``save_to_disk`` then lays out the shards, ``state.json`` and
``dataset_info.json`` exactly as ``datasets`` expects. The dataset's fingerprint is
the hash of the data, so identical output is byte-identical, state.json included.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa

from dataprep.tokens.packing import Rows

IDS = pa.list_(pa.int32())


def schema(packed: bool) -> pa.Schema:
    fields = [("input_ids", IDS), ("attention_mask", pa.list_(pa.int8())), ("labels", IDS)]
    if packed:
        fields += [("position_ids", IDS), ("seq_lengths", IDS)]
    return pa.schema(fields)


def _lists(offsets: np.ndarray, values: np.ndarray) -> pa.ListArray:
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(values))


class DatasetWriter:
    """Writes :class:`Rows` batches; :meth:`close` turns them into a ``save_to_disk`` folder."""

    def __init__(self, folder: Path, packed: bool) -> None:
        from datasets.arrow_writer import ArrowWriter

        self.folder = Path(folder)
        self.packed = packed
        self.schema = schema(packed)
        self._tmp = self.folder.with_name(f".{self.folder.name}.arrow")
        self._writer = ArrowWriter(schema=self.schema, path=str(self._tmp))
        self.rows = 0
        self.tokens = 0
        self.supervised = 0

    def write(self, rows: Rows | None) -> None:
        if rows is None or not len(rows):
            return
        offsets = rows.offsets - rows.offsets[0]
        columns = [
            _lists(offsets, rows.ids),
            _lists(offsets, np.ones(len(rows.ids), dtype=np.int8)),
            _lists(offsets, rows.labels),
        ]
        if self.packed:
            assert rows.position_ids is not None and rows.seq_lengths is not None
            columns += [_lists(offsets, rows.position_ids), pa.array(rows.seq_lengths, type=IDS)]
        self._writer.write_table(pa.Table.from_arrays(columns, schema=self.schema))
        self.rows += len(rows)
        self.tokens += len(rows.ids)
        self.supervised += int(np.count_nonzero(rows.labels != -100))

    def close(self) -> None:
        import datasets
        from datasets.table import MemoryMappedTable

        self._writer.finalize()
        digest = hashlib.blake2b(digest_size=16)
        with open(self._tmp, "rb") as handle:
            while chunk := handle.read(1 << 24):
                digest.update(chunk)
        dataset = datasets.Dataset(MemoryMappedTable.from_file(str(self._tmp)), fingerprint=digest.hexdigest())
        bars_were_on = not datasets.are_progress_bars_disabled()
        datasets.disable_progress_bars()
        try:
            # An empty dataset still needs one (empty) shard, or load_from_disk fails on it.
            dataset.save_to_disk(str(self.folder), num_shards=1 if not len(dataset) else None)
        finally:
            if bars_were_on:
                datasets.enable_progress_bars()
        del dataset
        self._tmp.unlink()

    def abort(self) -> None:
        try:
            self._writer.close()
        finally:
            self._tmp.unlink(missing_ok=True)
