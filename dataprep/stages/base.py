"""The base classes every stage builds on.

A stage writes only its decision; this module owns the plumbing: reading input
batches, counting records in and out and dropped by reason, timing, writing
rejects, and committing the output atomically (write, then rename).

Two shapes of stage:

- :class:`SourceStage` reads raw files (CSV, HTML, SQL dumps) and yields records.
- :class:`RecordStage` maps column-oriented batches with ``process(batch) -> batch``;
  a row whose ``_reject`` column holds a reason is dropped and written to the rejects
  file. A stage that needs the whole dataset first (clustering, near-dedup) also
  overrides ``fit(inputs)``, which runs before any ``process`` call.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict
from tqdm import tqdm

from dataprep.errors import ConfigError
from dataprep.executors import LOCAL, Engine
from dataprep.io.atomic import atomic_write_json, replace_path, temp_sibling
from dataprep.io.paths import check_output_path
from dataprep.io.readers import RECORD_SUFFIXES, ReadBatch, Reject, count_records, iter_batches, resolve_inputs
from dataprep.io.schema import batch_to_table
from dataprep.io.writers import JsonlWriter, ParquetShardWriter, RejectWriter, reject_line
from dataprep.memory import peak_mb, reset_peak
from dataprep.records import CORE_COLUMNS, REJECT_COLUMN, REJECT_DETAIL_COLUMN, Batch, batch_len, rows_to_batch

log = logging.getLogger("dataprep")


class StageConfig(BaseModel):
    """Base of every stage's options. Unknown options are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


@dataclass
class StageContext:
    """What the runner tells a stage about the run it is part of."""

    seed: int = 0
    quiet: bool = False
    run_dir: Path | None = None
    #: Where per-record work runs (:mod:`dataprep.executors`): this process, or Ray.
    engine: Engine = field(default=LOCAL, repr=False)


@dataclass
class StageStats:
    """What ``stats.json`` holds: records in and out, dropped by reason, seconds."""

    stage: str
    records_in: int = 0
    records_out: int = 0
    dropped: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    #: Peak resident memory of this process while the stage ran (MB).
    peak_memory_mb: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def drop(self, reason: str, count: int = 1) -> None:
        self.dropped[reason] += count

    def to_dict(self) -> dict[str, Any]:
        seconds = round(self.seconds, 3)
        return {
            "stage": self.stage,
            "records_in": self.records_in,
            "records_out": self.records_out,
            "dropped": dict(sorted(self.dropped.items())),
            "dropped_total": sum(self.dropped.values()),
            "seconds": seconds,
            "records_per_second": round(self.records_in / self.seconds, 1) if self.seconds else None,
            **({"peak_memory_mb": round(self.peak_memory_mb, 1)} if self.peak_memory_mb is not None else {}),
            **({"extra": self.extra} if self.extra else {}),
        }


def drop_warning(stats: dict[str, Any]) -> str:
    """A sentence when a stage dropped more than half of what it read (a filter set too tight, say)."""
    read, kept = stats.get("records_in", 0), stats.get("records_out", 0)
    if not read or kept * 2 >= read:
        return ""
    top = sorted(stats.get("dropped", {}).items(), key=lambda kv: -kv[1])[:2]
    why = ", ".join(f"{reason} {count}" for reason, count in top)
    return f"dropped more than half its input: kept {kept} of {read} ({why})"


def is_jsonl_path(path: Path) -> bool:
    return Path(path).name.endswith((".jsonl", ".jsonl.gz"))


class StageOutput:
    """Where a stage writes, committed atomically.

    - A folder ``OUT`` holds Parquet shards, ``stats.json`` and ``rejects.jsonl``.
    - An ``OUT`` ending in ``.jsonl`` gets ``OUT.stats.json`` and ``OUT.rejects.jsonl`` beside it.

    Everything is written into a temporary folder first and moved into place by
    :meth:`commit`; ``stats.json`` goes last, so its presence marks a finished output.
    """

    def __init__(self, path: Path, *, folder_only: bool = False) -> None:
        self.path = Path(path)
        self.jsonl = is_jsonl_path(self.path)
        if self.jsonl and folder_only:
            raise ConfigError(f"-o {self.path}: this stage writes a folder; give a folder path, not a .jsonl file.")
        self.tmp = temp_sibling(self.path)
        self._data = self.tmp / ("data.jsonl.gz" if self.path.name.endswith(".gz") else "data.jsonl")
        self.rejects = RejectWriter(self.tmp / "rejects.jsonl")
        self._records: JsonlWriter | ParquetShardWriter | None = None

    @property
    def folder(self) -> Path:
        """The temporary folder that becomes the output folder on commit."""
        return self.tmp

    @property
    def records(self) -> JsonlWriter | ParquetShardWriter:
        if self._records is None:
            if self.jsonl:
                self._records = JsonlWriter(self._data)
            else:
                self._records = ParquetShardWriter(self.tmp)
        return self._records

    def reject(self, reject: Reject) -> None:
        self.rejects.write(reject.reason, source=reject.source, record=reject.record, detail=reject.detail)

    def reject_all(self, rejects: list[Reject], stats: StageStats) -> None:
        """Write records a reader could not use, counting each as read and dropped."""
        for reject in rejects:
            stats.records_in += 1
            stats.drop(reject.reason)
            self.reject(reject)

    def commit(self, stats: StageStats) -> None:
        if self._records is not None:
            self._records.close()
        elif not self.jsonl and not any(self.tmp.glob("*")):
            ParquetShardWriter(self.tmp).close()
        self.rejects.close()
        atomic_write_json(self.tmp / "stats.json", stats.to_dict())
        if self.jsonl:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self._data.exists():
                JsonlWriter(self._data).close()
            os.replace(self._data, self.path)
            os.replace(self.tmp / "rejects.jsonl", f"{self.path}.rejects.jsonl")
            os.replace(self.tmp / "stats.json", f"{self.path}.stats.json")
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            replace_path(self.tmp, self.path)

    def abort(self) -> None:
        for writer in (self._records, self.rejects):
            try:
                if writer is not None:
                    writer.close()
            except Exception:  # noqa: BLE001 - the original error matters more
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)


class Stage:
    """A unit of the pipeline with a typed config.

    Subclasses set ``name`` (the CLI command and the YAML ``stage:`` value),
    ``Config`` (a :class:`StageConfig`), a one-line docstring used as help, and
    implement :meth:`execute`.
    """

    name: ClassVar[str]
    Config: ClassVar[type[StageConfig]]
    #: True for stages that read raw files rather than records.
    is_source: ClassVar[bool] = False
    #: True for stages whose output is a folder of their own layout.
    folder_output: ClassVar[bool] = False
    #: Attributes (Counters, dicts of per-file figures, ints) that the stage counts into as it
    #: reads or processes, for :meth:`summary`. On an engine's workers they travel back with
    #: each batch and are added up in the driver's stage.
    worker_counters: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: StageConfig, ctx: StageContext | None = None) -> None:
        self.config = config
        self.ctx = ctx or StageContext()

    @classmethod
    def referenced_files(cls, config: StageConfig) -> list[Path]:
        """Files or folders the options point at (phrase lists, a local model).

        The runner folds their sizes and modification times into the stage's
        fingerprint, so editing one reruns the stage.
        """
        return []

    @classmethod
    def forget(cls, out: Path) -> None:
        """Drop state the stage keeps between runs beside its output (the trainer's checkpoints).

        The runner calls it when a stage is rerun on purpose (``--force``, ``--from``), which
        means from scratch.
        """

    @classmethod
    def closing_lines(cls, folder: Path, stats: dict[str, Any]) -> list[str]:
        """What `dataprep run` prints about this stage after its table (the trainer's verdict)."""
        return []

    def run(self, inputs: Sequence[str | Path], out: str | Path) -> StageStats:
        """Run the stage on ``inputs`` and commit its output to ``out``."""
        jsonl = is_jsonl_path(Path(out)) and not self.folder_output
        check_output_path(out, inputs, folder=not jsonl)
        output = StageOutput(Path(out), folder_only=self.folder_output)
        stats = StageStats(stage=self.name)
        reset_peak()
        start = time.perf_counter()
        try:
            self.execute(list(inputs), output, stats)
        except BaseException:
            output.abort()
            raise
        finally:
            self.ctx.engine.end_stage()
        stats.seconds = time.perf_counter() - start
        stats.peak_memory_mb = peak_mb()
        output.commit(stats)
        return stats

    def execute(self, inputs: list[Path | str], output: StageOutput, stats: StageStats) -> None:
        raise NotImplementedError

    def summary(self) -> dict[str, Any]:
        """Stage-specific figures for the ``extra`` part of ``stats.json`` (optional)."""
        return {}

    def progress(self, total: int | None, unit: str = "rec") -> tqdm:
        # disable=None: no bar off a terminal, where it would leave an empty bar in the log.
        disable = True if self.ctx.quiet else None
        return tqdm(total=total, desc=self.name, unit=unit, disable=disable, leave=False, dynamic_ncols=True)


class SourceStage(Stage):
    """A stage that turns raw files into records.

    Subclasses set ``input_suffixes`` and implement :meth:`read`, which yields
    records (dicts, see :func:`dataprep.records.new_record`) or :class:`Reject` s.
    """

    is_source = True
    input_suffixes: ClassVar[tuple[str, ...]] = ()
    batch_size: ClassVar[int] = 1000

    def read(self, path: Path) -> Iterator[dict[str, Any] | Reject]:
        raise NotImplementedError

    def input_files(self, inputs: Sequence[str | Path]) -> list[Path]:
        return resolve_inputs(inputs, self.input_suffixes)

    def execute(self, inputs: list[Path | str], output: StageOutput, stats: StageStats) -> None:
        files = self.input_files(inputs)
        # Rows are batched across files: a source with one record per file (HTML pages)
        # would otherwise write one Parquet row group per record.
        rows: list[dict[str, Any]] = []
        with self.progress(None) as bar:
            for item in self.ctx.engine.read_sources(self, files):
                stats.records_in += 1
                if isinstance(item, Reject):
                    stats.drop(item.reason)
                    output.reject(item)
                    continue
                rows.append(item)
                if len(rows) >= self.batch_size:
                    self._flush(rows, output, stats)
                    bar.update(len(rows))
                    rows = []
            self._flush(rows, output, stats)
            bar.update(len(rows))
        stats.extra.update(self.summary())

    @staticmethod
    def _flush(rows: list[dict[str, Any]], output: StageOutput, stats: StageStats) -> None:
        if rows:
            output.records.write(rows_to_batch(rows))
            stats.records_out += len(rows)


class RecordStage(Stage):
    """A stage over records: ``process(batch) -> batch`` on column-oriented batches.

    To drop a row, set its ``_reject`` value to a reason (and optionally
    ``_reject_detail``); the base class counts it and writes it to the rejects
    file.

    A stage that needs the whole dataset (dedup, cluster, split) splits its first pass in
    two: :meth:`prepare`, a pure per-batch function (signatures, vectors, group keys) that
    the engine may run on workers, and :meth:`fit_prepared`, which takes the prepared
    batches in input order on the driver. Its ``process`` then follows the input row by
    row, so it sets ``process_on_workers = False`` and runs on the driver.
    """

    batch_size: ClassVar[int] = 1000
    #: False for a stage whose ``process`` depends on the row's position in the whole input.
    process_on_workers: ClassVar[bool] = True
    #: The only columns the stage reads from Parquet (None: all of them).
    read_columns: ClassVar[tuple[str, ...] | None] = None
    #: Per pass (``prepare``, ``process``), the only columns that pass reads from Parquet, where
    #: the stage's ``read_batches`` reads them as ``iter_batches`` does with those columns: the
    #: local engine's workers then read the pass's batches themselves.
    pass_columns: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: True for a stage whose work loads a library whose threads a fork cannot copy (rensa): with
    #: workers, its pool starts before its first task, so that the workers can still be forked.
    fork_unsafe_work: ClassVar[bool] = False
    #: True for a stage whose per-record work already keeps every core busy or loads a model
    #: (embedding): the local engine runs it in this process whatever ``workers`` says.
    in_process: ClassVar[bool] = False

    def prepare(self, batch: Batch) -> Batch:
        """Per-batch work of the fit pass: a pure function of the batch (optional)."""
        raise NotImplementedError

    def fit_prepared(self, prepared: Iterator[Batch], inputs: list[Path | str]) -> None:
        """Learn from every prepared batch, in input order (optional)."""

    def fit(self, inputs: list[Path | str]) -> None:
        """Learn from the whole input before any batch is processed: :meth:`prepare` on the
        engine, then :meth:`fit_prepared` here. Does nothing for a stage without ``prepare``."""
        if type(self).prepare is RecordStage.prepare:
            return
        self.fit_prepared(self.ctx.engine.map_batches(self, inputs, "prepare", lambda rejects: None), inputs)

    def process(self, batch: Batch) -> Batch:
        raise NotImplementedError

    def process_split(self, batch: Batch) -> Processed:
        """:meth:`process`, then the batch split into the rows kept, as an Arrow table where it has
        only the core columns, and its rejects' lines. What the local engine runs, so that on
        workers the conversion and the rejects' JSON are done there, not in this process."""
        size = batch_len(batch)
        kept, rejects = reject_entries(self.process(batch))
        lines = [(reason, reject_line(reason, **entry)) for reason, entry in rejects]
        if batch_len(kept) and all(name in CORE_COLUMNS or name.startswith("_") for name in kept):
            return Processed(size, batch_to_table(kept), None, lines)
        return Processed(size, None, kept, lines)

    def read_batches(self, inputs: list[Path | str]) -> Iterator[ReadBatch]:
        return iter_batches(inputs, self.batch_size)

    def execute(self, inputs: list[Path | str], output: StageOutput, stats: StageStats) -> None:
        resolve_inputs(inputs, RECORD_SUFFIXES)  # fail early, naming a missing input
        self.fit(inputs)
        self.process_pass(inputs, output, stats)
        stats.extra.update(self.summary())

    def process_pass(self, inputs: list[Path | str], output: StageOutput, stats: StageStats) -> None:
        """The pass that writes: :meth:`process` over every batch, its rows kept and rejected."""
        on_workers = self.process_on_workers
        engine = self.ctx.engine if on_workers else LOCAL
        # Locally, into Parquet, the rows are split and converted where process ran (a worker).
        method = "process_split" if engine.name == "local" and not output.jsonl else "process"
        with self.progress(count_records(inputs)) as bar:
            for batch in engine.map_batches(self, inputs, method, lambda rejects: output.reject_all(rejects, stats)):
                if isinstance(batch, Processed):
                    size = write_processed(batch, output, stats)
                else:
                    size = batch_len(batch)
                    stats.records_in += size
                    kept = split_rejects(batch, output, stats)
                    output.records.write(kept)
                    stats.records_out += batch_len(kept)
                bar.update(size)


@dataclass
class Processed:
    """A batch after :meth:`RecordStage.process_split`: how many rows went in, the rows kept (an
    Arrow ``table`` of the core columns, or else a ``batch``), and each reject's reason and line."""

    size: int
    table: pa.Table | None
    batch: Batch | None
    rejects: list[tuple[str, str]]


def write_processed(processed: Processed, output: StageOutput, stats: StageStats) -> int:
    """Count and write a :class:`Processed` batch; returns the rows that went in."""
    stats.records_in += processed.size
    for reason, line in processed.rejects:
        stats.drop(reason)
        output.rejects.write_line(line)
    if processed.table is not None:
        output.records.write_table(processed.table)
        stats.records_out += processed.table.num_rows
    elif processed.batch is not None:
        output.records.write(processed.batch)
        stats.records_out += batch_len(processed.batch)
    return processed.size


def split_rejects(batch: Batch, output: StageOutput, stats: StageStats) -> Batch:
    """Write rows marked with ``_reject`` to the rejects file and return the rest."""
    kept, rejects = reject_entries(batch)
    for reason, entry in rejects:
        stats.drop(reason)
        output.rejects.write(reason, **entry)
    return kept


def reject_entries(batch: Batch) -> tuple[Batch, list[tuple[str, dict[str, Any]]]]:
    """The rows not marked with ``_reject``, and for each marked row its reason and what its
    line in the rejects file holds (``RejectWriter.write``'s arguments)."""
    reasons = batch.pop(REJECT_COLUMN, None)
    details = batch.pop(REJECT_DETAIL_COLUMN, None)
    if reasons is None or not any(reasons):
        return batch, []
    keep = [i for i, reason in enumerate(reasons) if not reason]
    names = list(batch)
    # Vector columns (2-D numpy arrays) stay arrays and stay out of the rejects file.
    scalar_names = [name for name in names if not isinstance(batch[name], np.ndarray)]
    rejects = []
    for i, reason in enumerate(reasons):
        if reason:
            record = {name: batch[name][i] for name in scalar_names}
            entry = {
                "source": record.get("source"),
                "record_id": record.get("id"),
                "record": record,
                "detail": details[i] if details else None,
            }
            rejects.append((reason, entry))
    kept = {
        name: batch[name][keep] if isinstance(batch[name], np.ndarray) else [batch[name][i] for i in keep]
        for name in names
    }
    return kept, rejects
