"""``workers: N`` on the local engine: the outputs of every per-record stage equal ``workers: 1``
byte for byte, errors read the same, Ctrl-C leaves nothing behind, and the setting reruns nothing.

The pool normally starts only for a stage projected to take over a second here; the tests set
``pool.POOL_AFTER_S = 0`` so that every task runs in a worker, and shrink the stages' batches so
that a small input makes many tasks.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dataprep.errors import ConfigError, InputError
from dataprep.executors import LOCAL, LocalEngine, local_engine, pool
from dataprep.io.readers import iter_batches
from dataprep.records import batch_len
from dataprep.stages import get_stage
from dataprep.stages.base import RecordStage, SourceStage, StageContext

REPO = Path(__file__).resolve().parent.parent
TIMING = ("seconds", "records_per_second", "peak_memory_mb")
WORDS = (
    "the bike chain needs oil every few hundred miles and a clean rag keeps the grit off it while the "
    "heat pump runs longer in winter because the outdoor coil has to defrost now and then"
).split()
SLOP = ["As an AI language model, I cannot help with that.", "I hope this helps! Let me know.", "Delve into it."]


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def corpus_lines(count: int = 1500, seed: int = 3) -> list[str]:
    """JSONL lines of every shape a stage meets: texts, pairs, chats, extra fields of mixed types,
    slop, PII, short and duplicate records, non-English text, blank and broken lines."""
    rng = random.Random(seed)
    lines: list[str] = []
    for i in range(count):
        roll = rng.random()
        body = " ".join(_sentence(rng, rng.randint(6, 14)) for _ in range(rng.randint(1, 5)))
        if roll < 0.08:
            body += " " + rng.choice(SLOP)
        if roll > 0.92:
            body += f" Mail me at person{i}@example.com or call 555-01{i % 100:02d}."
        if 0.40 < roll < 0.43:
            body = "Der Hund läuft schnell über die Straße, und die Katze schläft den ganzen Tag im Garten."
        if 0.50 < roll < 0.53:
            body = "Too short."
        if 0.60 < roll < 0.64:
            body = "An exact copy that dedup drops, the same words in the same order every time it comes up."
        kind = i % 4
        if kind == 0:
            record = {"text": body, "meta": {"n": i}}
        elif kind == 1:
            record = {"input": f"Question {i}?", "output": body, "source": f"s#{i}"}
        elif kind == 2:
            record = {"messages": [{"role": "user", "content": f"Hi {i}?"}, {"role": "assistant", "content": body}]}
        else:
            record = {"text": body, "score": rng.choice([1, 2.5, "high", None]), "tags": ["a", str(i % 3)]}
        lines.append(json.dumps(record, ensure_ascii=False))
        if i % 97 == 5:
            lines.append("{not json")
        if i % 131 == 7:
            lines.append(json.dumps({"text": 12}))
        if i % 89 == 3:
            lines.append("")
    return lines


@pytest.fixture
def records(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "records.jsonl"
    path.parent.mkdir()
    path.write_text("\n".join(corpus_lines()) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def eval_file(tmp_path: Path) -> Path:
    path = tmp_path / "eval.jsonl"
    path.write_text(json.dumps({"question": "An exact copy that dedup drops, the same words in the same order"}) + "\n")
    return path


@pytest.fixture(params=["fork", "forkserver"])
def pooled(request, monkeypatch):
    """Every task in a worker, started by fork or by the fork server; returns a list that
    collects the driver's receipts of worker results (to prove the workers ran)."""
    monkeypatch.setattr(pool, "START_METHOD", request.param)
    monkeypatch.setattr(pool, "POOL_AFTER_S", 0)
    receipts: list[dict] = []
    add = pool.add_counters

    def counting(stage, counted):
        receipts.append(counted)
        add(stage, counted)

    monkeypatch.setattr(pool, "add_counters", counting)
    return receipts


@pytest.fixture
def forked(monkeypatch):
    """Every task in a forked worker: a test's monkeypatched stage travels with the fork."""
    monkeypatch.setattr(pool, "START_METHOD", "fork")
    monkeypatch.setattr(pool, "POOL_AFTER_S", 0)


def folder_contents(folder: Path) -> dict[str, object]:
    """Every file of a stage output, stats.json without its timings."""
    out: dict[str, object] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = str(path.relative_to(folder))
        if path.name.endswith("stats.json"):
            stats = json.loads(path.read_text())
            for key in TIMING:
                stats.pop(key, None)
            out[name] = stats
        else:
            out[name] = path.read_bytes()
    return out


def run_stage(name: str, inputs: list[Path], out: Path, engine, **options) -> dict[str, object]:
    cls = get_stage(name)
    cls(cls.Config(**options), StageContext(quiet=True, engine=engine)).run(inputs, out)
    return folder_contents(out)


def _small_batches(monkeypatch, size: int = 64) -> None:
    """Batches of ``size`` records in every stage, so that a small input makes many tasks."""
    from dataprep.stages import registry

    for cls in (RecordStage, SourceStage, *registry().values()):
        if "batch_size" in cls.__dict__:
            monkeypatch.setattr(cls, "batch_size", size)


STAGES = [
    ("normalize", {}),
    ("filter-quality", {}),
    ("filter-slop", {}),
    ("redact-pii", {}),
    ("filter-language", {}),
    ("dedup", {}),
    ("split", {}),
    ("decontaminate", "eval"),
]


@pytest.mark.parametrize(("name", "options"), STAGES, ids=[s[0] for s in STAGES])
def test_record_stages_on_two_workers_equal_one(name, options, records, eval_file, tmp_path, monkeypatch, pooled):
    _small_batches(monkeypatch)
    if options == "eval":
        options = {"against": [str(eval_file)], "ngram": 6, "min_words": 6}
    if name in ("dedup", "split") and pool.START_METHOD == "fork":
        # rensa's thread pool does not survive a fork once this process has used it (see
        # test_minhash_stage_after_driver_batches_does_not_hang): the choice falls to the fork server.
        monkeypatch.setattr(pool, "START_METHOD", None)
    # JSONL in (the workers parse the lines), then Parquet in (this process reads the batches).
    parquet = tmp_path / "parquet"
    run_stage("normalize", [records], parquet, LOCAL)
    for source, label in ((records, "jsonl"), (parquet, "parquet")):
        one = run_stage(name, [source], tmp_path / f"{label}-1", LOCAL, **options)
        before = len(pooled)
        two = run_stage(name, [source], tmp_path / f"{label}-2", LocalEngine(2), **options)
        assert len(pooled) > before, "no batch ran in a worker"
        assert one.keys() == two.keys()
        for key in one:
            assert one[key] == two[key], f"{name} on {label}: {key} differs between 1 and 2 workers"
    stats = one[next(k for k in one if k.endswith("stats.json"))]
    assert stats["records_in"] > 1000


def test_jsonl_output_and_gz_input_on_two_workers_equal_one(records, tmp_path, monkeypatch, pooled):
    import gzip

    _small_batches(monkeypatch)
    packed = tmp_path / "records.jsonl.gz"
    packed.write_bytes(gzip.compress(records.read_bytes()))
    one = run_stage("filter-slop", [packed, records], tmp_path / "one.jsonl", LOCAL)
    two = run_stage("filter-slop", [packed, records], tmp_path / "two.jsonl", LocalEngine(2))
    assert list(one.values()) == list(two.values())
    assert pooled


def html_pages(tmp_path: Path) -> Path:
    folder = tmp_path / "html"
    shutil.copytree(REPO / "tests" / "fixtures" / "html_quality" / "html", folder)
    shutil.copytree(REPO / "sample_data" / "html", folder / "sample")
    (folder / "empty.html").write_text("<html><body></body></html>")
    (folder / "binary.html").write_bytes(b"\x00\x01\x02PK\x03\x04" * 50)
    return folder


@pytest.mark.parametrize("mode", ["main", "text"])
def test_extract_html_on_two_workers_equals_one(mode, tmp_path, monkeypatch, pooled):
    folder = html_pages(tmp_path)
    one = run_stage("extract-html", [folder], tmp_path / "one", LOCAL, mode=mode)
    two = run_stage("extract-html", [folder], tmp_path / "two", LocalEngine(2), mode=mode)
    assert one == two
    assert pooled
    stats = one["stats.json"]
    assert stats["records_out"] >= 18 and stats["dropped"], stats


def test_a_big_source_file_is_read_here_in_its_place(tmp_path, monkeypatch, pooled):
    """Files over BIG_FILE are streamed in this process, between the workers' files, in order."""
    folder = html_pages(tmp_path)
    big = sorted(folder.rglob("*.html"))[3]
    monkeypatch.setattr(pool, "BIG_FILE", big.stat().st_size - 1)
    one = run_stage("extract-html", [folder], tmp_path / "one", LOCAL)
    two = run_stage("extract-html", [folder], tmp_path / "two", LocalEngine(2))
    assert one == two


def test_extract_csv_on_two_workers_equals_one(tmp_path, monkeypatch, pooled):
    folder = tmp_path / "csv"
    folder.mkdir()
    for n in range(6):
        rows = "".join(f'"Question {n}.{i}?","Answer {i}, with a comma."\n' for i in range(40))
        (folder / f"part{n}.csv").write_text("question,answer\n" + rows + ("broken,\n" if n == 2 else ""))
    options = {"input_column": "question", "output_column": "answer"}
    one = run_stage("extract-csv", [folder], tmp_path / "one", LOCAL, **options)
    two = run_stage("extract-csv", [folder], tmp_path / "two", LocalEngine(2), **options)
    assert one == two
    # On the local engine extract-csv reads its files here, through the Arrow fast path (about
    # 250,000 rows/s), handing tables to a writer thread: no batch goes to the pool, and
    # workers: 2 must change nothing.
    assert not pooled


def test_a_stage_error_in_a_worker_reads_as_it_does_here(records, tmp_path, monkeypatch, forked, cli):
    """The worker's exception comes back with its own type and message, so the CLI says the same."""
    from dataprep.stages.filters.quality import FilterQuality

    _small_batches(monkeypatch)
    calls = {"n": 0}

    def failing(self, batch):
        calls["n"] += 1
        if "Question 321?" in (batch.get("input") or []):
            raise InputError(f"{batch['source'][0]}: the third-party checker refused this batch")
        return batch

    monkeypatch.setattr(FilterQuality, "process", failing)
    one = cli("filter-quality", records, "-o", tmp_path / "one", "--workers", "1", "-q")
    two = cli("filter-quality", records, "-o", tmp_path / "two", "--workers", "2", "-q")
    assert one.exit_code == two.exit_code == 2, (one.output, two.output)
    assert "third-party checker refused" in one.output
    assert one.output == two.output
    assert not (tmp_path / "two").exists()
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_an_unpicklable_error_still_says_what_happened(records, tmp_path, monkeypatch, forked):
    from dataprep.stages.filters.quality import FilterQuality

    class Odd(Exception):
        def __init__(self, a, b):
            super().__init__(f"odd {a} {b}")

        def __reduce__(self):
            raise TypeError("cannot pickle")

    def failing(self, batch):
        raise Odd(1, 2)

    monkeypatch.setattr(FilterQuality, "process", failing)
    with pytest.raises(RuntimeError, match="Odd: odd 1 2"):
        run_stage("filter-quality", [records], tmp_path / "o", LocalEngine(2))


def test_a_worker_killed_by_the_system_is_a_clear_error(records, tmp_path, monkeypatch, forked):
    from dataprep.stages.filters.quality import FilterQuality

    _small_batches(monkeypatch)

    def dying(self, batch):
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return batch

    parent = os.getpid()
    monkeypatch.setattr(FilterQuality, "process", dying)
    with pytest.raises(pool.WorkerLost, match="worker process stopped"):
        run_stage("filter-quality", [records], tmp_path / "o", LocalEngine(2))
    assert not (tmp_path / "o").exists()


def test_an_interrupt_in_the_driver_stops_the_workers_and_writes_nothing(records, tmp_path, monkeypatch, forked):
    import multiprocessing

    from dataprep.stages import base

    _small_batches(monkeypatch)
    seen = {"n": 0}
    write = base.write_processed

    def interrupted(processed, output, stats):
        seen["n"] += 1
        if seen["n"] == 3:
            raise KeyboardInterrupt
        return write(processed, output, stats)

    monkeypatch.setattr(base, "write_processed", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_stage("filter-slop", [records], tmp_path / "out", LocalEngine(2))
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert multiprocessing.active_children() == []


def test_ctrl_c_on_the_cli_exits_130_and_leaves_no_process_or_output(records, tmp_path):
    """SIGINT to the whole process group, as a terminal sends it: workers ignore it, the driver
    stops them, removes its temporary output and exits 130."""
    script = textwrap.dedent(
        """
        import sys, time
        from dataprep.executors import pool
        from dataprep.stages.filters.slop import FilterSlop
        pool.POOL_AFTER_S = 0
        pool.START_METHOD = "fork"
        FilterSlop.batch_size = 50
        process = FilterSlop.process
        def slow(self, batch):
            time.sleep(0.2)
            return process(self, batch)
        FilterSlop.process = slow
        from dataprep.cli import main
        sys.argv = ["dataprep", *sys.argv[1:]]
        main()
        """
    )
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-c", script, "filter-slop", str(records), "-o", str(out), "--workers", "2", "-q"]
    child = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(2.5)  # imports, then the workers are busy on the first batches
    assert child.poll() is None, child.stderr.read() if child.stderr else ""
    os.killpg(child.pid, signal.SIGINT)
    _, stderr = child.communicate(timeout=30)
    assert child.returncode == 130, stderr
    assert "interrupted" in stderr
    assert "Traceback" not in stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(child.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("a worker outlived the interrupted command")


def test_small_inputs_start_no_pool(records, tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr(pool, "_start_pool", lambda *a: started.append(a) or pytest.fail("pool started"))
    run_stage("filter-slop", [records], tmp_path / "o", LocalEngine(2))
    assert started == []


def _where(stage, payload):
    return os.getpid()


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_forked_workers_take_every_task_after_the_one_that_started_them(method, monkeypatch):
    """A forked pool is ready in milliseconds: the workers take the next task. From a fork
    server the workers take a while to start, and this process goes on with the next task."""
    monkeypatch.setattr(pool, "START_METHOD", method)
    cls = get_stage("filter-slop")
    stage = cls(cls.Config(), StageContext(quiet=True))
    tasks = [pool._Task(i, 1.0) for i in range(40)]
    where = [pid for _, pid in pool.ordered_map(stage, _where, tasks, 2, 40.0, pool_after=1e-9)]
    assert len(where) == 40 and where[0] == os.getpid()
    if method == "fork":
        assert os.getpid() not in where[1:]
    else:
        assert where[1] == os.getpid()


@pytest.mark.skipif(sys.platform != "linux", reason="pipe sizes are a Linux setting")
def test_the_result_pipe_holds_a_batch_result(monkeypatch):
    """A batch's result (hundreds of KB) fits in the pipe, so a worker does not wait to hand it over."""
    import fcntl

    if int(Path("/proc/sys/fs/pipe-max-size").read_text()) < pool.RESULT_PIPE_BYTES:
        pytest.skip("this system caps pipes below the size asked for")
    monkeypatch.setattr(pool, "START_METHOD", "fork")
    cls = get_stage("filter-slop")
    executor, _ = pool._start_pool(cls(cls.Config(), StageContext(quiet=True)), 2)
    try:
        fd = executor._result_queue._reader.fileno()
        assert fcntl.fcntl(fd, getattr(fcntl, "F_GETPIPE_SZ", 1032)) >= pool.RESULT_PIPE_BYTES
    finally:
        executor.shutdown()


def test_a_jsonl_batch_is_the_usable_records_of_batch_size_lines(tmp_path):
    lines = [json.dumps({"text": f"record {i}"}) for i in range(10)]
    lines[2] = "{broken"
    lines[7] = ""
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(lines) + "\n")
    reads = list(iter_batches([path], batch_size=4))
    assert [batch_len(r.batch) for r in reads] == [3, 3, 2]
    assert [r.source for read in reads for r in read.rejects] == [f"{path}#line=3"]


def test_default_workers_follow_the_cpu_affinity(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)
    assert pool.default_workers() == 3
    assert local_engine(None).workers == 3
    assert local_engine(1) is LOCAL


def test_fork_is_left_alone_when_threads_or_torch_are_about(monkeypatch):
    import threading

    monkeypatch.setattr(pool, "START_METHOD", None)
    monkeypatch.setattr(sys, "platform", "linux")
    for name in pool._FORK_UNSAFE:
        monkeypatch.delitem(sys.modules, name, raising=False)
    # Earlier tests leave threads of their own (a loaded ONNX encoder keeps one per core): start
    # from this thread alone.
    real_enumerate = threading.enumerate
    monkeypatch.setattr(threading, "enumerate", lambda: [threading.main_thread()])
    assert pool.start_method() == "fork"
    for name in ("torch", "rensa"):
        monkeypatch.setitem(sys.modules, name, object())
        assert pool.start_method() == "forkserver", name
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(threading, "enumerate", real_enumerate)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert pool.start_method() == "forkserver"
    finally:
        stop.set()
        thread.join()


PIPELINE = """name: w
output_dir: {out}
seed: 1
workers: {workers}
stages:
  - stage: filter-slop
    inputs: [{records}]
  - stage: normalize
"""


def test_workers_in_the_pipeline_file_and_on_the_cli_rerun_nothing(records, tmp_path, monkeypatch, pooled, cli):
    _small_batches(monkeypatch)
    out = tmp_path / "run"
    pipeline = tmp_path / "p.yml"
    pipeline.write_text(PIPELINE.format(out=out, workers=1, records=records))
    first = cli("run", pipeline, "-q")
    assert first.exit_code == 0, first.output
    assert not pooled
    one = {p.name: folder_contents(p) for p in sorted(out.iterdir()) if p.is_dir()}
    written = {p: p.stat().st_mtime_ns for p in out.glob("*/stats.json")}
    again = cli("run", pipeline, "--workers", "2", "-q")
    assert again.exit_code == 0, again.output
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/stats.json")} == written
    assert not pooled, "a change of workers reran a stage"
    forced = cli("run", pipeline, "--workers", "2", "--force", "-q")
    assert forced.exit_code == 0, forced.output
    assert pooled
    two = {p.name: folder_contents(p) for p in sorted(out.iterdir()) if p.is_dir()}
    assert one == two


def test_workers_must_be_a_positive_count(records, tmp_path, cli):
    from dataprep.pipeline.config import load_pipeline

    pipeline = tmp_path / "p.yml"
    pipeline.write_text(PIPELINE.format(out=tmp_path / "run", workers=0, records=records))
    with pytest.raises(ConfigError, match=r"p.yml:4: the pipeline: workers at line 4: .*greater than or equal to 1"):
        load_pipeline(pipeline)
    result = cli("filter-slop", records, "-o", tmp_path / "o", "--workers", "0")
    assert result.exit_code == 2
    assert "--workers" in result.output


def test_parquet_with_long_row_groups_is_read_here_and_equals_one(records, tmp_path, monkeypatch, pooled):
    """Row groups far longer than a batch are read in this process (a worker would read a whole
    group for every batch of it); the output is the same either way."""
    import pyarrow.parquet as pq

    _small_batches(monkeypatch, 50)
    run_stage("normalize", [records], tmp_path / "norm", LOCAL)
    table = pq.read_table(tmp_path / "norm" / "part-00000.parquet")
    (tmp_path / "long").mkdir()
    pq.write_table(table, tmp_path / "long" / "part-00000.parquet", row_group_size=700)
    kinds = []
    tasks = pool._record_tasks

    def recording(*args):
        for task in tasks(*args):
            kinds.append(task.payload[0])
            yield task

    monkeypatch.setattr(pool, "_record_tasks", recording)
    one = run_stage("filter-slop", [tmp_path / "long"], tmp_path / "one", LOCAL)
    two = run_stage("filter-slop", [tmp_path / "long"], tmp_path / "two", LocalEngine(2))
    assert one == two
    assert pooled and set(kinds) == {"batch"}
    kinds.clear()
    run_stage("filter-slop", [tmp_path / "norm"], tmp_path / "three", LocalEngine(2))
    assert set(kinds) == {"parquet"}


def test_minhash_stage_after_driver_batches_does_not_hang(tmp_path):
    """dedup's first batches run in the driver (rensa starts its Rayon threads there), then the
    pool starts: a forked worker's MinHash would wait forever on threads the fork did not copy,
    so the start method must be the fork server. In a fresh interpreter, with a time limit."""
    records = tmp_path / "records.jsonl"
    records.write_text("".join(line + "\n" for line in corpus_lines(3000)))
    script = textwrap.dedent(
        f"""
        from dataprep.executors import LocalEngine, pool
        from dataprep.stages.dedup.minhash import minhash_signatures
        from dataprep.stages import get_stage
        from dataprep.stages.base import StageContext

        minhash_signatures([f"text number {{i}} with some words in it" for i in range(20000)])
        assert pool.start_method() == "forkserver", pool.start_method()
        pool.POOL_AFTER_S = 0
        cls = get_stage("dedup")
        stage = cls(cls.Config(near=True), StageContext(quiet=True, engine=LocalEngine(2)))
        print(stage.run([{str(records)!r}], {str(tmp_path / "out")!r}).records_out)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=180, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) > 1000


def test_jsonl_spans_cut_the_file_where_jsonl_chunks_do(tmp_path, monkeypatch):
    """A worker reads its own span of a JSONL file: the spans hold exactly the chunks'
    lines, wherever the scan's blocks fall."""
    import random

    from dataprep.io import readers

    rng = random.Random(0)
    path = tmp_path / "x.jsonl"
    for _ in range(60):
        lines = ["".join(rng.choice('ab{}"é ') for _ in range(rng.randint(0, 9))) for _ in range(rng.randint(0, 30))]
        path.write_text("\n".join(lines) + rng.choice(["", "\n", "\n\n"]), encoding="utf-8", newline="")
        for size in (1, 3, 7, 50):
            monkeypatch.setattr(readers, "_SPAN_BLOCK", rng.choice([1, 2, 5, 1 << 24]))
            spans = readers.jsonl_spans(path, size)
            got = [(first, readers.read_jsonl_span(path, start, stop)) for first, start, stop in spans]
            assert got == list(readers.jsonl_chunks(path, size))


def test_jsonl_with_carriage_returns_or_gzip_is_read_line_by_line(tmp_path):
    from dataprep.io import readers

    crlf = tmp_path / "crlf.jsonl"
    crlf.write_bytes(b'{"text": "a"}\r\n{"text": "b"}\r\n')
    assert readers.jsonl_spans(crlf, 10) is None
    packed = tmp_path / "x.jsonl.gz"
    packed.write_bytes(gzip.compress(b'{"text": "a"}\n'))
    assert readers.jsonl_spans(packed, 10) is None


@pytest.mark.parametrize("name", ["dedup", "split"])
def test_minhash_stage_forks_its_pool_before_its_first_batch(name, tmp_path):
    """On an input of a few batches, a stage whose fit pass runs MinHash (dedup, split's leakage
    check) starts its pool before any MinHash runs here, so its workers are forked (no fork
    server) and every batch of the fit pass runs in them; the output is that of one process.
    In a fresh interpreter, where nothing has loaded rensa yet."""
    records = tmp_path / "records.jsonl"
    records.write_text("".join(line + "\n" for line in corpus_lines(3000)))
    options = {"near": True} if name == "dedup" else {}
    script = textwrap.dedent(
        f"""
        import json, sys
        from pathlib import Path
        from dataprep.executors import LOCAL, LocalEngine, pool
        from dataprep.stages import get_stage
        from dataprep.stages.base import StageContext

        cls = get_stage({name!r})
        cls.batch_size = 200
        methods = []
        start = pool._start_pool
        pool._start_pool = lambda stage, workers: (methods.append(pool.start_method()), start(stage, workers))[1]
        out = Path({str(tmp_path)!r})
        for side, engine in (("two", LocalEngine(2)), ("one", LOCAL)):
            stage = cls(cls.Config(**{options!r}), StageContext(quiet=True, engine=engine))
            stage.run([{str(records)!r}], out / side)
            if side == "two":
                assert "rensa" not in sys.modules, "a batch of the fit pass ran in this process"
        assert methods == ["fork"], methods
        for path in sorted(p for p in (out / "one").rglob("*") if p.is_file() and p.name != "stats.json"):
            assert path.read_bytes() == (out / "two" / path.relative_to(out / "one")).read_bytes(), path
        print(json.loads((out / "two" / "stats.json").read_text())["records_out"])
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=180, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) > 1000


def test_a_span_that_cannot_be_read_names_its_file(tmp_path):
    from dataprep.io import readers

    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"text": "caf\xe9"}\n')
    with pytest.raises(InputError, match="x.jsonl: not UTF-8 text"):
        readers.read_jsonl_span(path, 0, path.stat().st_size)
    with pytest.raises(InputError, match="gone.jsonl: cannot be read"):
        readers.read_jsonl_span(tmp_path / "gone.jsonl", 0, 10)
