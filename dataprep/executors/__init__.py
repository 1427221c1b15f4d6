"""Where a stage's per-record work runs: in this process (``local``) or on Ray (``ray``).

A stage never talks to an engine about files or workers; it hands over a method name
(``process``, ``prepare`` or ``read``) and gets batches back, in input order. The
driver (this process) keeps everything that needs the whole dataset or writes the
output: counting, rejects, the global step of a stage (grouping LSH bands, fitting
k-means, assigning splits) and the atomic commit. So a stage's output is the same
records, with the same ids, on either engine.

- :class:`LocalEngine` calls the method in this process, batch by batch; with ``workers: N``
  it runs it in N worker processes (:mod:`dataprep.executors.pool`), with the same output.
- :class:`dataprep.executors.ray_engine.RayEngine` runs it in ``ray.data``
  ``map_batches`` on a Ray cluster (a local one, or ``address: auto``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from dataprep.io.readers import Reject
from dataprep.records import Batch, batch_len

if TYPE_CHECKING:
    from dataprep.stages.base import RecordStage, SourceStage

OnRejects = Callable[[list[Reject]], None]


class Engine(Protocol):
    name: str

    def map_batches(
        self, stage: RecordStage, inputs: Sequence[Path | str], method: str | None, on_rejects: OnRejects
    ) -> Iterator[Batch]:
        """Read ``inputs`` in batches and yield ``stage.<method>(batch)`` (the batch itself for None)."""
        ...

    def read_sources(self, stage: SourceStage, files: Sequence[Path]) -> Iterator[dict[str, Any] | Reject]:
        """Yield ``stage.read(path)``'s records and rejects for every file, in file order."""
        ...

    def map_blocks(self, fn: Callable[..., Any], array: np.ndarray, block: int, **kwargs: Any) -> list[Any]:
        """``[fn(array[i:i + block], **kwargs) for each block]``, in order."""
        ...

    def end_stage(self) -> None:
        """Clean up what the stage that just ran left (scratch files)."""
        ...

    def close(self) -> None: ...


class LocalEngine:
    """This machine: in this process (``workers=1``), or in ``workers`` worker processes.

    ``workers=1`` is the plain loop below; with more, a stage marked ``in_process`` (its work
    already uses every core, or loads a model) still runs here.
    """

    name = "local"

    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, int(workers))

    def _pooled(self, stage: Any) -> bool:
        return self.workers > 1 and not getattr(stage, "in_process", False)

    def map_batches(
        self, stage: RecordStage, inputs: Sequence[Path | str], method: str | None, on_rejects: OnRejects
    ) -> Iterator[Batch]:
        if self._pooled(stage):
            from dataprep.executors import pool

            yield from pool.map_batches(stage, list(inputs), method, on_rejects, self.workers)
            return
        call = getattr(stage, method) if method else None
        for read in stage.read_batches(list(inputs)):
            if read.rejects:
                on_rejects(read.rejects)
            if batch_len(read.batch):
                yield call(read.batch) if call else read.batch

    def read_sources(self, stage: SourceStage, files: Sequence[Path]) -> Iterator[dict[str, Any] | Reject]:
        if self._pooled(stage) and len(files) > 1:
            from dataprep.executors import pool

            yield from pool.read_sources(stage, list(files), self.workers)
            return
        for path in files:
            yield from stage.read(path)

    def map_blocks(self, fn: Callable[..., Any], array: np.ndarray, block: int, **kwargs: Any) -> list[Any]:
        return [fn(np.asarray(array[start : start + block]), **kwargs) for start in range(0, len(array), block)]

    def end_stage(self) -> None:
        pass

    def close(self) -> None:
        pass


LOCAL = LocalEngine()


def local_engine(workers: int | None = None) -> LocalEngine:
    """The local engine with ``workers`` processes (None: one per core this process may use)."""
    if workers is None:
        from dataprep.executors.pool import default_workers

        workers = default_workers()
    return LOCAL if workers <= 1 else LocalEngine(workers)


def make_engine(executor: Any, workers: int | None = None) -> Engine:
    """The engine an :class:`dataprep.pipeline.config.ExecutorConfig` asks for; ``workers``
    (local only; None for every core) sets the local engine's worker processes."""
    if executor is None or executor.type == "local":
        return local_engine(workers)
    from dataprep.executors.ray_engine import RayEngine

    return RayEngine(
        address=executor.address, num_cpus=executor.num_cpus, batch_size=executor.batch_size, temp_dir=executor.temp_dir
    )
