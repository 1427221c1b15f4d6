"""The local engine's worker processes (``workers: N``): per-record work on every core.

What runs where:

- **Source stages** (extract-html and friends): the workers read whole files; a task is a run
  of consecutive files, and its records come back as a list. A file over :data:`BIG_FILE`
  bytes (a CSV export, a SQL dump) is read here instead, streaming, so that no worker holds
  all of its records at once.
- **Record stages** (``process``, and ``prepare`` for the stages that fit on the whole input):
  a JSONL input is cut into chunks of ``batch_size`` lines (each with the number of its first
  line): a byte scan here finds where each lies, and the workers read, parse and check their
  own lines as well as call the stage, since parsing is most of the cost of a light stage
  like filter-slop (a gzip file, or one with carriage returns, is read here line by line and
  the lines handed over). A Parquet input is cut into row ranges of ``batch_size`` (the
  batches ``iter_batches`` makes), which the workers read, with the columns the stage's
  ``pass_columns`` names for the pass; the batches of a stage with its own ``read_batches``
  are otherwise read here and handed over. ``process`` hands back the rows kept as an Arrow
  table and its rejects' lines ready to write (``RecordStage.process_split``), so this
  process only writes.

The outputs are those of ``workers: 1`` byte for byte: tasks go out and come back in input
order (never more than :data:`IN_FLIGHT` per worker at a time, which bounds memory), a batch
of a JSONL file is the usable records of a fixed run of lines whatever this process or a
worker makes of them, and what a worker's stage counts (``worker_counters``) is added up
into this process's stage in the same order. Each worker builds the stage once, from its
name and options, as a Ray actor does; a stage that needs the whole dataset keeps
``process_on_workers = False`` and a stage whose work already uses every core or loads a
model (``in_process = True``: embed, cluster) stays in this process.

A pool only starts when the stage would otherwise take more than :data:`POOL_AFTER_S`
seconds: its first tasks run here and their speed, times the input's size, decides. A tiny
input never pays for starting processes, and since a task gives the same result here as in
a worker, where it ran changes nothing in the output. A stage whose own work would make a fork
unsafe (``fork_unsafe_work``: dedup and split's leakage check, whose MinHash starts rensa's
threads) starts its pool before its first task instead, forked, when its input holds
:data:`UPFRONT_BATCHES` batches.

Workers are forked from this process when that is safe (see :func:`start_method`): a fork
takes milliseconds and the worker has the stage as built. When this process holds other
threads (a tokenizer's thread pool) or a library whose threads a fork breaks (torch after
embed ran), they start from a fork server instead, a clean interpreter started once per
run (about half a second), and build the stage from its name and options.

Ctrl-C: the workers ignore SIGINT, so only this process sees it; it cancels what is queued,
waits for the workers to finish the batch in hand and stop, and lets the stage abort its
output as it does without workers. An error
in a worker is raised here with its own type and message (the worker's traceback attached).
"""

from __future__ import annotations

import copy
import gc
import os
import pickle
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataprep.errors import DataprepError, InputError
from dataprep.io.readers import ReadBatch, Reject, jsonl_chunks, jsonl_spans, parse_jsonl_chunk, read_jsonl_span
from dataprep.records import Batch, batch_len

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

    from dataprep.stages.base import Stage

#: Start a pool only for a stage projected to take longer than this in one process (seconds).
POOL_AFTER_S = 1.0
#: Tasks queued or running per worker: enough to keep every worker busy, few enough that the
#: batches in flight stay a small part of memory.
IN_FLIGHT = 4
#: The GIL switch interval while a pool runs (seconds; Python's default is 0.005).
SWITCH_INTERVAL_S = 0.0005
#: Source files larger than this are read in the driver, streaming.
BIG_FILE = 64 * 2**20
#: A stage whose work loads a library a fork cannot copy (``fork_unsafe_work``) starts its pool
#: before its first task, forked, when its input holds at least this many batches.
UPFRONT_BATCHES = 4
#: Bytes per record assumed when guessing the records of a JSONL file from its size.
JSONL_RECORD_BYTES = 200
#: Files per source task at most (one record per page: a task of a few pages amortises its overhead).
FILES_PER_TASK = 16
#: The size asked for the pipe results come back on (Linux's default limit for a user is 1 MB).
RESULT_PIPE_BYTES = 2**20
#: Bytes of input per source task at most.
BYTES_PER_TASK = 4 * 2**20


def default_workers() -> int:
    """The cores this process may run on (its CPU affinity, which a container or taskset narrows)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# -- in a worker ------------------------------------------------------------------------------

_STAGE: Stage | None = None


def build_stage(name: str, config: Any, seed: int, run_dir: str | None) -> Stage:
    """The stage a worker (local or Ray) runs: built anew from its name and options."""
    from dataprep.stages import get_stage
    from dataprep.stages.base import StageContext

    return get_stage(name)(config, StageContext(seed=seed, quiet=True, run_dir=Path(run_dir) if run_dir else None))


def stage_args(stage: Stage) -> tuple[Any, ...]:
    """What a worker needs to build ``stage``: its options as they are now (a stage's ``fit`` may
    have settled one, as cluster does with ``embed_sample``)."""
    run_dir = str(stage.ctx.run_dir) if stage.ctx.run_dir else None
    return (stage.name, stage.config, stage.ctx.seed, run_dir)


def _init_worker(inherited: Stage | None, args: tuple[Any, ...]) -> None:
    # Ctrl-C reaches every process of the terminal's group; the driver alone handles it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _STAGE
    if inherited is not None:
        # A forked worker has the driver's stage as it is; only its counts start from zero.
        _STAGE = inherited
        take_counters(_STAGE)
    else:
        _STAGE = build_stage(*args)


def _in_worker(fn: Callable[[Stage, Any], Any], payload: Any) -> tuple[Any, dict[str, Any]]:
    assert _STAGE is not None
    try:
        return fn(_STAGE, payload), take_counters(_STAGE)
    except Exception as exc:
        portable = _portable(exc)
        if portable is exc:
            raise
        raise portable from None


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives the trip to the driver, else a RuntimeError with its type and message."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any failure to pickle or rebuild it
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def take_counters(stage: Stage) -> dict[str, Any]:
    """What ``stage`` counted since the last call (its ``worker_counters``), reset to empty."""
    counted: dict[str, Any] = {}
    for name in stage.worker_counters:
        value = getattr(stage, name)
        if not value:
            continue
        counted[name] = value
        if isinstance(value, dict):
            fresh = copy.copy(value)  # a Counter stays a Counter, a defaultdict keeps its factory
            fresh.clear()
        else:
            fresh = type(value)()
        setattr(stage, name, fresh)
    return counted


def add_counters(stage: Stage, counted: dict[str, Any]) -> None:
    """Add a worker's counts into the driver's ``stage``: Counters and numbers add up, per-file
    figures (other dicts, disjoint between workers) are merged."""
    for name, value in counted.items():
        current = getattr(stage, name)
        if isinstance(current, dict):
            current.update(value)
        else:
            setattr(stage, name, current + value)


# -- tasks: the same function here and in a worker --------------------------------------------


def run_records(stage: Stage, task: tuple[Any, ...]) -> tuple[list[Reject], Batch | None]:
    """A record task: ``("jsonl", path, first_line, lines, method)`` or ``("batch", batch, method)``.

    Returns the lines' rejects and ``stage.<method>(batch)`` (the batch itself for no method),
    None for a batch of no records.
    """
    if task[0] == "jsonl":
        _, path, first, lines, method = task
        read = parse_jsonl_chunk(path, first, lines)
        rejects, batch = read.rejects, read.batch
    elif task[0] == "jsonl-span":
        _, path, first, start, stop, method = task
        read = parse_jsonl_chunk(path, first, read_jsonl_span(path, start, stop))
        rejects, batch = read.rejects, read.batch
    elif task[0] == "parquet":
        _, path, start, stop, method, columns = task
        batch, rejects = parquet_rows(path, start, stop, columns), []
    else:
        _, batch, method = task
        rejects = []
    if not batch_len(batch):
        return rejects, None
    return rejects, (getattr(stage, method)(batch) if method else batch)


_PARQUET: dict[str, Any] = {}


def parquet_rows(path: str, start: int, stop: int, columns: Sequence[str] | None = None) -> Batch:
    """Rows ``start:stop`` of a Parquet file as a batch: what ``iter_batches`` yields for them
    (with ``columns``) when ``start`` and ``stop`` fall on its batch boundaries."""
    from dataprep.io.readers import _brief, open_parquet
    from dataprep.io.schema import table_to_batch

    handle = _PARQUET.get(path)
    if handle is None:
        _PARQUET.clear()  # one open file per worker at a time
        handle = _PARQUET[path] = open_parquet(Path(path))
    groups, first, at = [], None, 0
    for index in range(handle.metadata.num_row_groups):
        rows = handle.metadata.row_group(index).num_rows
        if at + rows > start and at < stop:
            groups.append(index)
            first = at if first is None else first
        at += rows
    try:
        wanted = None if columns is None else [name for name in columns if name in handle.schema_arrow.names]
        table = handle.read_row_groups(groups, columns=wanted)
    except Exception as exc:  # noqa: BLE001 - a damaged page raises OSError or ArrowInvalid
        raise InputError(
            f"{path}: the Parquet data is damaged ({_brief(exc)}); rerun the stage that wrote it."
        ) from exc
    return table_to_batch(table.slice(start - (first or 0), stop - start))


def run_sources(stage: Stage, paths: list[str]) -> list[dict[str, Any] | Reject]:
    """A source task: every record and reject of ``paths``, in order."""
    return [item for path in paths for item in stage.read(Path(path))]  # type: ignore[attr-defined]


# -- the driver --------------------------------------------------------------------------------


class _Task:
    """One unit of work in input order: a payload for ``fn``, or (``local``) a thunk this
    process runs when the task's turn comes; ``extra`` travels beside it unchanged."""

    __slots__ = ("payload", "weight", "extra", "local", "future")

    def __init__(self, payload: Any, weight: float, extra: Any = None, local: Callable[[], Any] | None = None):
        self.payload, self.weight, self.extra, self.local = payload, weight, extra, local
        self.future: Future | None = None


class _Failed:
    """A task list that raised: the error waits its turn, after the tasks before it."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def _tasks_then_error(tasks: Iterable[_Task]) -> Iterator[_Task | _Failed]:
    try:
        yield from tasks
    except Exception as exc:  # noqa: BLE001 - raised in order by ordered_map
        yield _Failed(exc)


class WorkerLost(DataprepError):
    """A worker process died (the system's out-of-memory killer, a crash in a C library)."""


def ordered_map(
    stage: Stage,
    fn: Callable[[Stage, Any], Any],
    tasks: Iterable[_Task],
    workers: int,
    total_weight: float | None,
    pool_after: float | None = None,
) -> Iterator[tuple[Any, Any]]:
    """``(task.extra, fn(stage, task.payload))`` for each task, in order, on up to ``workers``
    processes once the stage proves long enough (see the module docstring).

    The first tasks run here. Once the projected time of the whole stage here passes
    ``pool_after`` seconds the workers start; forked, they are ready within milliseconds and
    take every task after that one. From a fork server (a good part of a second) this process
    goes on with the next tasks while they start, then hands the rest to them.
    ``pool_after=0`` hands every task to the workers.
    """
    pool_after = POOL_AFTER_S if pool_after is None else pool_after
    queue = _tasks_then_error(tasks)
    executor: ProcessPoolExecutor | None = None
    try:
        if pool_after <= 0:
            executor, _ = _start_pool(stage, workers)
        else:
            warming: list[Future] | None = None
            done_weight, spent = 0.0, 0.0
            for task in queue:
                if isinstance(task, _Failed):
                    raise task.error
                start = time.perf_counter()
                result = task.local() if task.local else fn(stage, task.payload)
                spent += time.perf_counter() - start
                done_weight += task.weight
                if executor is None:
                    projected = spent * total_weight / done_weight if total_weight and done_weight else spent * 4
                    if projected >= pool_after:
                        # Started before this result is handed on, so the workers start while
                        # the caller writes it.
                        executor, warming = _start_pool(stage, workers)
                yield task.extra, result
                if warming is not None and all(future.done() for future in warming):
                    for future in warming:
                        _result(stage, future)  # a worker that could not start says so
                    break
            else:
                return
        handed, executor = executor, None  # _pooled stops it, however it ends
        yield from _pooled(stage, fn, queue, workers, handed)
    finally:
        if executor is not None:
            _stop_pool(executor, deque(), clean=False)


def _result(stage: Stage, future: Future) -> Any:
    """The future's result; a worker that died is a :class:`WorkerLost` naming the stage."""
    from concurrent.futures.process import BrokenProcessPool

    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise WorkerLost(
            f"{stage.name}: a worker process stopped without a word (killed for memory, or a crash "
            "in a library); rerun with fewer workers (--workers 1 runs the stage in this process)."
        ) from exc


def _ready() -> int:
    """A worker's first task: it has built its stage (the initializer ran)."""
    return os.getpid()


def _pooled(
    stage: Stage,
    fn: Callable[[Stage, Any], Any],
    queue: Iterator[_Task | _Failed],
    workers: int,
    executor: ProcessPoolExecutor,
) -> Iterator[tuple[Any, Any]]:
    pending: deque[_Task] = deque()
    failed: _Failed | None = None
    clean = False
    # The executor's threads here read each result off a pipe in 64 KB pieces, taking the GIL
    # for each; at the default 5 ms switch interval they wait on this thread's Python work
    # (writing Parquet) and a worker waits with its result half sent. A shorter interval keeps
    # the results flowing.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, SWITCH_INTERVAL_S))
    try:
        while True:
            while failed is None and len(pending) < IN_FLIGHT * workers:
                task = next(queue, None)
                if task is None:
                    break
                if isinstance(task, _Failed):
                    failed = task
                    break
                if task.local is None:
                    task.future = executor.submit(_in_worker, fn, task.payload)
                pending.append(task)
            if not pending:
                break
            task = pending.popleft()
            if task.local is not None:
                yield task.extra, task.local()
                continue
            assert task.future is not None
            result, counted = _result(stage, task.future)
            task.future = None
            add_counters(stage, counted)
            yield task.extra, result
        if failed is not None:
            raise failed.error
        clean = True
    finally:
        sys.setswitchinterval(interval)
        _stop_pool(executor, pending, clean)


#: ``fork``, ``forkserver`` or None (choose; see :func:`start_method`).
START_METHOD: str | None = None
#: Libraries whose thread pools do not survive a fork (OpenMP runtimes and the like). rensa's
#: Rayon pool is one: dedup's first batches run here before the pool starts, and a forked
#: worker's first MinHash then waits forever on threads the fork did not copy.
_FORK_UNSAFE = ("torch", "onnxruntime", "faiss", "sklearn", "tensorflow", "jax", "ray", "rensa")
_FORKSERVER_READY = False


def start_method() -> str:
    """``fork`` when nothing in this process would make a forked copy unsafe, else ``forkserver``.

    Forking is by far the cheapest start (a few milliseconds, and each worker has the stage
    already built), but a child gets only the forking thread: a lock another thread held stays
    held, and an OpenMP runtime (torch's) hangs in the child. So: fork only when this process
    runs no thread but this one (and tqdm's monitor, which only sleeps) and has loaded none of
    :data:`_FORK_UNSAFE`; otherwise start workers from a fork server, a clean interpreter.
    """
    if START_METHOD:
        return START_METHOD
    import threading

    if sys.platform != "linux":
        return "spawn" if sys.platform == "win32" else "forkserver"
    others = [
        thread
        for thread in threading.enumerate()
        if thread is not threading.main_thread() and type(thread).__name__ != "TMonitor"
    ]
    if threading.current_thread() is threading.main_thread() and not others:
        if not any(name in sys.modules for name in _FORK_UNSAFE):
            return "fork"
    return "forkserver"


def _start_pool(stage: Stage, workers: int) -> tuple[ProcessPoolExecutor, list[Future]]:
    """The pool, and one first task per worker that returns once the worker is ready (none for
    forked workers, which are ready as soon as they exist)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    global _FORKSERVER_READY
    method = start_method()
    context = multiprocessing.get_context(method)
    if method == "forkserver" and not _FORKSERVER_READY:
        # Imported once in the server, so each worker forks with the stages' modules loaded.
        context.set_forkserver_preload(["dataprep.stages", type(stage).__module__])
        _FORKSERVER_READY = True
    # A forked worker inherits the stage (nothing is pickled); any other builds it from its options.
    inherited = stage if method == "fork" else None
    executor = ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(inherited, stage_args(stage))
    )
    _widen_result_pipe(executor)
    if method != "fork":
        return executor, [executor.submit(_ready) for _ in range(workers)]
    # The workers fork at the first submit. Frozen, this process's objects stay out of the
    # workers' garbage collections, which would otherwise walk them all and copy every page
    # they touch (copy-on-write).
    gc.freeze()
    try:
        executor.submit(_ready)  # forks every worker
    finally:
        gc.unfreeze()
    return executor, []


def _widen_result_pipe(executor: ProcessPoolExecutor) -> None:
    """Let the pipe the results come back on hold :data:`RESULT_PIPE_BYTES` (Linux's default is
    64 KB). A worker writes its result into the pipe whole before it takes its next task, and
    the workers share the pipe under a lock: with a batch's result (hundreds of KB) larger than
    the pipe, a worker waits on this process to read it, while this process writes Parquet."""
    try:
        import fcntl

        fd = executor._result_queue._reader.fileno()  # type: ignore[attr-defined]
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), RESULT_PIPE_BYTES)
    except (AttributeError, ImportError, OSError, ValueError):
        pass  # not Linux, another executor, or a smaller limit (/proc/sys/fs/pipe-max-size)


def _stop_pool(executor: ProcessPoolExecutor, pending: deque[_Task], clean: bool) -> None:
    """Stop the workers and wait for them, so that no process outlives the stage.

    After an error, Ctrl-C, or a consumer that stopped early, what is queued is dropped and the
    workers only finish the batch in hand (killing them mid-task can leave the executor's queue
    feeder blocked on a pipe nobody reads, and the interpreter hung at exit).
    """
    if not clean:
        for task in pending:
            if task.future is not None:
                task.future.cancel()
    executor.shutdown(wait=True, cancel_futures=not clean)


# -- the two kinds of stage ----------------------------------------------------------------------


def _default_reader(stage: Any, method: str | None) -> bool:
    """True when the workers may read the batches of this pass themselves: the stage reads them
    as ``iter_batches`` does (with the columns its ``pass_columns`` names for the pass)."""
    from dataprep.stages.base import RecordStage

    return method in stage.pass_columns or getattr(stage.read_batches, "__func__", None) is RecordStage.read_batches


def _record_tasks(stage: Any, files: list[Path], method: str | None) -> Iterator[_Task]:
    from dataprep.io.readers import _check_core_types, _iter_parquet, open_parquet

    columns = stage.pass_columns.get(method)

    for path in files:
        if path.name.endswith(".parquet"):
            handle = open_parquet(path)
            _check_core_types(path, handle.schema_arrow)
            meta = handle.metadata
            size = stage.batch_size
            # The workers read rows start:stop themselves, the row groups around them. Row groups
            # much longer than a batch would be read over and over: this process reads those.
            if meta.num_row_groups and meta.num_rows / meta.num_row_groups > 4 * size:
                for read in _iter_parquet(path, size, columns):
                    yield _Task(("batch", read.batch, method), batch_len(read.batch), extra=read.rejects)
                continue
            for start in range(0, meta.num_rows, size):
                stop = min(start + size, meta.num_rows)
                yield _Task(("parquet", str(path), start, stop, method, columns), stop - start)
        elif (spans := jsonl_spans(path, stage.batch_size)) is not None:
            # The workers read their own lines: this process only finds where each chunk lies.
            for first, start, stop in spans:
                yield _Task(("jsonl-span", str(path), first, start, stop, method), stop - start)
        else:
            for first, lines in jsonl_chunks(path, stage.batch_size):
                yield _Task(("jsonl", str(path), first, lines, method), sum(map(len, lines)))


def _batch_tasks(reads: Iterable[ReadBatch], method: str | None) -> Iterator[_Task]:
    for read in reads:
        yield _Task(("batch", read.batch, method), batch_len(read.batch), extra=read.rejects)


def map_batches(
    stage: Any, inputs: list[Path | str], method: str | None, on_rejects: Callable[[list[Reject]], None], workers: int
) -> Iterator[Batch]:
    """The local engine's ``map_batches`` on ``workers`` processes."""
    from dataprep.io.readers import open_parquet, record_files

    if _default_reader(stage, method):
        files = record_files(inputs)
        tasks = _record_tasks(stage, files, method)
        # Weights: bytes of JSONL, rows of Parquet (a projection only needs to be roughly right);
        # and the records, counted for Parquet, guessed from the size for JSONL.
        total: float | None = 0.0
        records = 0
        for path in files:
            if path.name.endswith(".gz"):
                total = None
                break
            if path.name.endswith(".parquet"):
                rows = open_parquet(path).metadata.num_rows
                total += rows  # type: ignore[operator]
                records += rows
            else:
                size = path.stat().st_size
                total += size  # type: ignore[operator]
                records += size // JSONL_RECORD_BYTES
    else:
        tasks, total = _batch_tasks(stage.read_batches(list(inputs)), method), None
    pool_after = None
    if getattr(stage, "fork_unsafe_work", False) and start_method() == "fork" and total is not None:
        # Its first task here would make forking unsafe (and a fork server costs a second): the
        # pool starts before it, forked, when the input holds a few batches' worth.
        pool_after = 0.0 if records >= UPFRONT_BATCHES * stage.batch_size else None
    for read_rejects, (rejects, batch) in ordered_map(stage, run_records, tasks, workers, total, pool_after):
        if read_rejects or rejects:
            on_rejects([*(read_rejects or []), *rejects])
        if batch is not None:
            yield batch


def _source_tasks(stage: Any, files: list[Path], workers: int) -> Iterator[_Task]:
    sizes = [path.stat().st_size for path in files]
    # Several tasks per worker, so that a slow file does not leave the others idle at the end.
    per_task = max(1, min(FILES_PER_TASK, len(files) // (4 * workers)))
    group: list[str] = []
    weight = 0
    for path, size in zip(files, sizes):
        if size > BIG_FILE:
            if group:
                yield _Task(group, weight)
                group, weight = [], 0
            yield _Task(None, size, local=lambda path=path: stage.read(path))
            continue
        group.append(str(path))
        weight += size
        if len(group) >= per_task or weight >= BYTES_PER_TASK:
            yield _Task(group, weight)
            group, weight = [], 0
    if group:
        yield _Task(group, weight)


def read_sources(stage: Any, files: list[Path], workers: int) -> Iterator[dict[str, Any] | Reject]:
    """The local engine's ``read_sources`` on ``workers`` processes."""
    total = float(sum(path.stat().st_size for path in files))
    for _, items in ordered_map(stage, run_sources, _source_tasks(stage, files, workers), workers, total):
        yield from items
