"""The Ray engine: per-record work in ``ray.data`` ``map_batches``, the rest on the driver.

- **Record stages** (normalize, the filters, embed, tokenize's encoding, and the per-record
  step of dedup, cluster and split): the input Parquet shards are read with
  ``ray.data.read_parquet`` and the stage method runs in ``map_batches`` on an autoscaling
  pool of actors, so a stage that loads a model (embed) loads it once per actor. JSONL
  inputs are first converted to Parquet on the driver, so bad lines are rejected exactly
  as they are locally.
- **Source stages** (extract-*): the file list is a dataset; each actor reads whole files.
- **Blocks of an array** (cluster's assignment of every vector to its centroid):
  ``ray.data.from_numpy`` and ``map_batches``.

Order is preserved (``preserve_order``), so the driver sees batches in input order and
the output equals the local one record for record. Results come back to the driver,
which counts, writes rejects and commits the stage folder atomically as it does
locally. On a cluster of several machines, the inputs and the run folder must be on
storage every node can read (NFS, a mounted bucket), and dataprep must be installed on
every node.
"""

from __future__ import annotations

import gc
import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs

from dataprep.errors import ConfigError
from dataprep.executors import OnRejects
from dataprep.io.atomic import temp_sibling
from dataprep.io.readers import Reject, record_files
from dataprep.io.schema import batch_to_table, extra_column, table_to_batch
from dataprep.io.writers import ParquetShardWriter
from dataprep.records import CORE_COLUMNS, REJECT_COLUMN, REJECT_DETAIL_COLUMN, Batch, batch_len, rows_to_batch

if TYPE_CHECKING:
    from dataprep.stages.base import RecordStage, SourceStage, Stage

log = logging.getLogger("dataprep")

#: Schema metadata key telling a record table (core columns, meta as JSON) from a plain one.
_KIND = b"dataprep-kind"
_REJECT_SOURCE = "_reject_source"
#: A stage's worker_counters since the batch before, as JSON in the batch's first row.
_COUNTERS = "dataprep_counters"
_REJECT_RECORD = "_reject_record"


# -- batches over the wire ------------------------------------------------------------------


def to_table(batch: Batch) -> pa.Table:
    """A batch as an Arrow table: records keep their schema (meta as JSON), other columns as they are."""
    records = all(name in batch for name in CORE_COLUMNS)
    if records:
        table = batch_to_table(batch, json_extras=True)
        for name in (REJECT_COLUMN, REJECT_DETAIL_COLUMN):
            if name in batch:
                table = table.append_column(name, pa.array(batch[name], pa.string()))
    else:
        table = pa.table({name: extra_column(values) for name, values in batch.items()})
    return table.replace_schema_metadata({_KIND: b"records" if records else b"columns"})


def from_table(table: pa.Table) -> Batch:
    """The inverse of :func:`to_table`."""
    if (table.schema.metadata or {}).get(_KIND) == b"records":
        return table_to_batch(table)
    out: Batch = {}
    for name in table.column_names:
        column = table.column(name).combine_chunks()
        if pa.types.is_fixed_size_list(column.type):
            out[name] = column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), column.type.list_size)
        elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type) or column.null_count:
            out[name] = column.to_pylist()
        else:
            out[name] = column.to_numpy(zero_copy_only=False)
    return out


def _worker_stage(name: str, config: Any, seed: int, run_dir: str | None) -> Stage:
    from dataprep.stages import get_stage
    from dataprep.stages.base import StageContext

    return get_stage(name)(config, StageContext(seed=seed, quiet=True, run_dir=Path(run_dir) if run_dir else None))


class _StageCall:
    """A ``map_batches`` actor: builds the stage once, then calls one of its methods per batch."""

    def __init__(self, name: str, config: Any, seed: int, run_dir: str | None, method: str) -> None:
        self.stage = _worker_stage(name, config, seed, run_dir)
        self.call = getattr(self.stage, method)

    def __call__(self, table: pa.Table) -> pa.Table:
        return _with_counters(to_table(self.call(table_to_batch(table))), self.stage)


class _SourceCall:
    """A ``map_batches`` actor for source stages: reads whole files into records and reject rows."""

    def __init__(self, name: str, config: Any, seed: int, run_dir: str | None) -> None:
        self.stage = _worker_stage(name, config, seed, run_dir)

    def __call__(self, table: pa.Table) -> pa.Table:
        rows: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        order: list[bool] = []  # True: the next record; False: the next reject
        for path in table.column("path").to_pylist():
            for item in self.stage.read(Path(path)):  # type: ignore[attr-defined]
                is_reject = isinstance(item, Reject)
                (rejects if is_reject else rows).append(item)  # type: ignore[arg-type]
                order.append(not is_reject)
        return _with_counters(_source_table(rows, rejects, order), self.stage)


def _source_table(rows: list[dict[str, Any]], rejects: list[Reject], order: list[bool]) -> pa.Table:
    """Records and rejects in one table, in read order; reject rows carry ``_reject`` and no id."""
    merged: list[dict[str, Any]] = []
    records, dropped = iter(rows), iter(rejects)
    for is_record in order:
        if is_record:
            merged.append(next(records))
        else:
            reject = next(dropped)
            merged.append(
                {
                    REJECT_COLUMN: reject.reason,
                    REJECT_DETAIL_COLUMN: reject.detail,
                    _REJECT_SOURCE: reject.source,
                    _REJECT_RECORD: json.dumps(reject.record, ensure_ascii=False, default=str),
                }
            )
    table = batch_to_table(rows_to_batch([row if REJECT_COLUMN not in row else {} for row in merged]), json_extras=True)
    for name in (REJECT_COLUMN, REJECT_DETAIL_COLUMN, _REJECT_SOURCE, _REJECT_RECORD):
        table = table.append_column(name, pa.array([row.get(name) for row in merged], pa.string()))
    return table


def _with_counters(table: pa.Table, stage: Stage) -> pa.Table:
    """Move what ``stage`` counted since the last batch into ``table``'s first row.

    Every batch of a counting stage gets the column (empty where nothing was counted), so all
    blocks share one schema; a batch of no rows leaves the counts for the next one.
    """
    if not stage.worker_counters:
        return table
    counted: dict[str, Any] = {}
    for name in stage.worker_counters if table.num_rows else ():
        value = getattr(stage, name)
        if value:
            counted[name] = value
            setattr(stage, name, type(value)())
    cell = json.dumps(counted, ensure_ascii=False, default=str) if counted else None
    cells = [cell] + [None] * (table.num_rows - 1) if table.num_rows else []
    return table.append_column(_COUNTERS, pa.array(cells, pa.string()))


def add_counters(table: pa.Table, stage: Stage) -> pa.Table:
    """Add the workers' counts carried by ``table`` into ``stage``; the table without them."""
    if _COUNTERS not in table.column_names:
        return table
    for cell in table.column(_COUNTERS).to_pylist():
        for name, value in json.loads(cell).items() if cell else ():
            current = getattr(stage, name)
            if isinstance(current, dict):  # a Counter adds up; per-file figures are disjoint
                current.update(value)
            else:
                setattr(stage, name, current + value)
    return table.drop_columns([_COUNTERS])


def _source_items(table: pa.Table) -> Iterator[dict[str, Any] | Reject]:
    reasons = table.column(REJECT_COLUMN).to_pylist()
    details = table.column(REJECT_DETAIL_COLUMN).to_pylist()
    sources = table.column(_REJECT_SOURCE).to_pylist()
    records = table.column(_REJECT_RECORD).to_pylist()
    batch = table_to_batch(table.drop_columns([REJECT_COLUMN, REJECT_DETAIL_COLUMN, _REJECT_SOURCE, _REJECT_RECORD]))
    names = [name for name in batch if not name.startswith("_")]
    for i, reason in enumerate(reasons):
        if reason:
            yield Reject(reason, sources[i], json.loads(records[i]) if records[i] else None, details[i])
        else:
            yield {name: batch[name][i] for name in names}


class _BlockCall:
    def __init__(self, fn: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        self.fn, self.kwargs = fn, kwargs

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = self.fn(batch["data"], **self.kwargs)
        parts = out if isinstance(out, tuple) else (out,)
        return {f"out{i}": np.asarray(part) for i, part in enumerate(parts)}


def _drain(ds: Any, batch_format: str) -> Iterator[Any]:
    """Iterate ``ds`` in its blocks, then let go of it at once.

    A finished dataset keeps its actors (and the CPUs they hold) until the garbage
    collector breaks its reference cycles, so the next stage's actors could wait for them.
    """
    try:
        yield from ds.iter_batches(batch_format=batch_format, batch_size=None)
    finally:
        del ds
        gc.collect()


# -- the engine -------------------------------------------------------------------------------


class RayEngine:
    """Runs stages' per-record work on Ray (see the module docstring)."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        num_cpus: int | None = None,
        batch_size: int | None = None,
        temp_dir: str | None = None,
    ) -> None:
        try:
            import ray
        except ImportError as exc:
            raise ConfigError(
                "executor: ray needs Ray, which is not installed; install it with `pip install 'dataprep[ray]'` "
                "(or pip install 'ray[data]')."
            ) from exc
        self._ray = ray
        self._started = False
        self._scratch: list[str] = []
        self._converted: dict[tuple[str, ...], tuple[list[str], list[Reject]]] = {}
        self.batch_size = batch_size
        if not ray.is_initialized():
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": "warning"}
            if address:
                try:
                    ray.init(address=address, **options)
                except (ConnectionError, RuntimeError) as exc:
                    raise ConfigError(
                        f"executor: cannot reach the Ray cluster at address {address!r} ({exc}). Start one with "
                        "`ray start --head` (or give its address), or leave address out to start a local one."
                    ) from exc
            else:
                ray.init(num_cpus=num_cpus, _temp_dir=temp_dir, **options)
                self._started = True
        for name in ("ray", "ray.data"):
            logging.getLogger(name).setLevel(logging.WARNING)
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        # ray.data lists the input files in a task that needs a whole CPU; on a one-CPU
        # cluster an actor holding that CPU would leave it waiting forever.
        self.actor_cpus = 1.0 if self.workers > 1 else 0.0
        log.info("ray: %d CPUs in the cluster", self.workers)

    def _pool(self) -> Any:
        """Actors (not tasks): a stage that loads a model or a tokenizer does so once per actor."""
        return self._ray.data.ActorPoolStrategy(min_size=1, max_size=self.workers)

    def _stage_args(self, stage: Stage) -> tuple[Any, ...]:
        run_dir = str(stage.ctx.run_dir) if stage.ctx.run_dir else None
        return (stage.name, stage.config, stage.ctx.seed, run_dir)

    def _parquet_files(self, stage: RecordStage, inputs: Sequence[Path | str]) -> tuple[list[str], list[Reject]]:
        """Parquet shards of ``inputs``; JSONL files are converted here first (bad lines become rejects)."""
        key = tuple(str(spec) for spec in inputs)
        if key in self._converted:
            return self._converted[key]
        files: list[str] = []
        rejects: list[Reject] = []
        for path in record_files(inputs):
            if path.name.endswith(".parquet"):
                files.append(str(path))
                continue
            # In the run folder, which every node reads (a driver's /tmp is not on the workers);
            # a run killed before end_stage leaves it to the runner's clean-up of temporary folders.
            scratch = stage.ctx.run_dir or Path(tempfile.gettempdir())
            folder = str(temp_sibling(Path(scratch) / "ray-input"))
            self._scratch.append(folder)
            writer = ParquetShardWriter(Path(folder))
            for read in stage.read_batches([path]):
                rejects.extend(read.rejects)
                if batch_len(read.batch):
                    writer.write(read.batch)
            writer.close()
            files.extend(str(p) for p in sorted(Path(folder).glob("*.parquet")))
        self._converted[key] = (files, rejects)
        return files, rejects

    def map_batches(
        self, stage: RecordStage, inputs: Sequence[Path | str], method: str | None, on_rejects: OnRejects
    ) -> Iterator[Batch]:
        files, rejects = self._parquet_files(stage, inputs)
        if rejects:
            on_rejects(rejects)
        if not files:
            return
        ds = self._ray.data.read_parquet(files, file_extensions=None, filesystem=pafs.LocalFileSystem())
        if stage.read_columns:
            ds = ds.select_columns(list(stage.read_columns))
        if method:
            ds = ds.map_batches(
                _StageCall,
                fn_constructor_args=(*self._stage_args(stage), method),
                batch_format="pyarrow",
                batch_size=self.batch_size or stage.batch_size,
                compute=self._pool(),
                num_cpus=self.actor_cpus,
            )
        tables = _drain(ds, "pyarrow")
        del ds  # _drain holds the only reference, so it can free the dataset's actors
        for table in tables:
            if table.num_rows:
                table = add_counters(table, stage)
                yield from_table(table) if method else table_to_batch(table)

    def read_sources(self, stage: SourceStage, files: Sequence[Path]) -> Iterator[dict[str, Any] | Reject]:
        if not files:
            return
        per_task = min(64, max(1, len(files) // (4 * self.workers)))
        ds = self._ray.data.from_items([{"path": str(p)} for p in files], override_num_blocks=len(files))
        ds = ds.map_batches(
            _SourceCall,
            fn_constructor_args=self._stage_args(stage),
            batch_format="pyarrow",
            batch_size=per_task,
            compute=self._pool(),
            num_cpus=self.actor_cpus,
        )
        tables = _drain(ds, "pyarrow")
        del ds
        for table in tables:
            yield from _source_items(add_counters(table, stage))

    def map_blocks(self, fn: Callable[..., Any], array: np.ndarray, block: int, **kwargs: Any) -> list[Any]:
        if not len(array):
            return []
        array = np.asarray(array)
        ds = self._ray.data.from_numpy([array[start : start + block] for start in range(0, len(array), block)])
        ds = ds.map_batches(
            _BlockCall,
            fn_constructor_args=(fn, kwargs),
            batch_format="numpy",
            batch_size=block,
            compute=self._pool(),
            num_cpus=self.actor_cpus,
        )
        out = []
        batches = _drain(ds, "numpy")
        del ds
        for batch in batches:
            parts = tuple(batch[f"out{i}"] for i in range(len(batch)))
            out.append(parts if len(parts) > 1 else parts[0])
        return out

    def end_stage(self) -> None:
        """Remove the JSONL conversions of the stage that just ran."""
        for folder in self._scratch:
            shutil.rmtree(folder, ignore_errors=True)
        self._scratch.clear()
        self._converted.clear()

    def close(self) -> None:
        self.end_stage()
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
            self._started = False
