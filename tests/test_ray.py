"""The same pipeline on the local executor and on a local Ray cluster gives the same records.

One Ray cluster (``num_cpus=2``) serves the module. It runs without an auth token
(``RAY_AUTH_MODE=disabled``: nothing is written to ~/.ray) in a short temporary folder that
is removed afterwards, and it is shut down at the end, so nothing keeps running.
"""

import json
import os
import shutil
import tempfile
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dataprep.pipeline.config import load_pipeline
from dataprep.pipeline.runner import run_pipeline

ray = pytest.importorskip("ray")
REPO = Path(__file__).resolve().parent.parent

PIPELINE = """\
name: equivalence
output_dir: {out}
seed: 3
executor: {executor}
stages:
  - stage: extract-csv
    name: faq
    inputs: [{repo}/sample_data/faq.csv]
    input_column: question
    output_column: answer
    meta_columns: [category]
  - stage: extract-html
    name: qa
    inputs: [{repo}/sample_data/html/qa]
    mode: select
    field:
      input: ".qa-question .qa-body"
      output: ".qa-answer.accepted .qa-body"
  - stage: extract-sql
    name: kb
    inputs: [{repo}/sample_data/kb.postgres.sql]
    table: articles
    input_column: title
    output_column: body
  - stage: normalize
    inputs: [faq, qa, kb, {extra}]
  - stage: filter-slop
  - stage: dedup
    near: true
    ngram: 3
  - stage: embed
    cache_dir: {cache}
  - stage: cluster
    k: 4
    dedup_threshold: 0.95
    select: 0.8
    report: none
  - stage: split
    ratio: [0.8, 0.2]
  - stage: tokenize
    tokenizer: {repo}/sample_data/tiny-llama
    max_length: 256
"""


@pytest.fixture
def ray_cluster():
    temp = tempfile.mkdtemp(prefix="dpray-", dir="/tmp")  # short: Ray's socket paths have a length limit
    before = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=temp)
    try:
        yield
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
        if before is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = before


def _records(folder: Path) -> list[dict]:
    rows = []
    for shard in sorted(folder.glob("*.parquet")):
        rows.extend(pq.read_table(shard).to_pylist())
    return rows


def _rejects(path: Path) -> list[str]:
    # In any order: tokenize, for one, writes a batch's rejects in another order locally.
    return sorted(path.read_text().splitlines())


def _run(tmp_path: Path, executor: str) -> Path:
    extra = tmp_path / "extra.jsonl"
    if not extra.exists():
        extra.write_text(
            '{"input": "How do I water a cactus?", "output": "Rarely: soak the soil, then let it dry out."}\n'
            "{not json\n"
            '{"text": ""}\n'
            # An extra field whose type changes from record to record travels as JSON text.
            '{"text": "Cacti want bright light and very little water in winter.", "rating": 5}\n'
            '{"text": "Succulents rot when their soil stays wet for days.", "rating": "five", "tags": ["a", 1]}\n'
        )
    out = tmp_path / executor
    spec = tmp_path / f"{executor}.yml"
    # A cache folder each, so both executors embed every text rather than one reading the other's vectors.
    cache = tmp_path / f"cache-{executor}"
    spec.write_text(textwrap.dedent(PIPELINE).format(out=out, executor=executor, repo=REPO, extra=extra, cache=cache))
    run_pipeline(load_pipeline(spec), quiet=True)
    return out


def test_local_and_ray_give_the_same_records(tmp_path, ray_cluster):
    local = _run(tmp_path, "local")
    distributed = _run(tmp_path, "ray")
    assert ray.is_initialized()  # the engine joined the test's cluster and left it running for the test
    assert not list(distributed.glob(".*.tmp"))  # the JSONL conversion's scratch folder went with its stage
    folders = sorted(p.name for p in local.iterdir() if p.is_dir())
    assert folders == sorted(p.name for p in distributed.iterdir() if p.is_dir())
    for name in folders:
        a, b = local / name, distributed / name
        stats_a, stats_b = (json.loads((f / "stats.json").read_text()) for f in (a, b))
        assert (stats_a["records_in"], stats_a["records_out"], stats_a["dropped"]) == (
            stats_b["records_in"],
            stats_b["records_out"],
            stats_b["dropped"],
        ), name
        assert _rejects(a / "rejects.jsonl") == _rejects(b / "rejects.jsonl"), name
        # What the stages counted in the workers (slop hits, per-file figures) adds up the same;
        # embed's backend, device and cache folder are known only to its workers.
        extra_a, extra_b = stats_a.get("extra", {}), stats_b.get("extra", {})
        if name.endswith("embed"):
            extra_a = {key: value for key, value in extra_a.items() if key in extra_b}
        assert extra_a == extra_b, name
        if name.endswith("split"):
            for part in ("train", "val"):
                ids_a = [r["id"] for r in _records(a / part)]
                assert ids_a and ids_a == [r["id"] for r in _records(b / part)], (name, part)
                assert (a / f"{part}.jsonl").read_bytes() == (b / f"{part}.jsonl").read_bytes()
        elif name.endswith("tokenize"):
            for part in ("train", "val"):
                arrows_a = sorted((a / part).glob("*.arrow"))
                assert arrows_a and [f.read_bytes() for f in arrows_a] == [
                    f.read_bytes() for f in sorted((b / part).glob("*.arrow"))
                ]
        else:
            rows_a, rows_b = _records(a), _records(b)
            assert rows_a, name
            # Same ids in the same order; embeddings may differ by float rounding across processes.
            assert [r["id"] for r in rows_a] == [r["id"] for r in rows_b], name
            for ra, rb in zip(rows_a, rows_b):
                vector_a, vector_b = ra.pop("embedding", None), rb.pop("embedding", None)
                if vector_a is not None:
                    assert max(abs(x - y) for x, y in zip(vector_a, vector_b)) < 1e-4
                assert ra == rb, name
    dropped = json.loads((local / "04-normalize" / "stats.json").read_text())["dropped"]
    assert dropped == {"bad-json": 1, "empty-text": 1}


def test_ray_executor_starts_and_stops_its_own_cluster(tmp_path, monkeypatch):
    """Without an address, the engine starts a local Ray for the run and shuts it down after."""
    if ray.is_initialized():
        pytest.skip("a Ray cluster from another test is still up")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    temp = tempfile.mkdtemp(prefix="dpray-", dir="/tmp")
    try:
        spec = tmp_path / "p.yml"
        spec.write_text(
            textwrap.dedent(f"""\
            name: own
            output_dir: {tmp_path / "run"}
            executor: {{type: ray, num_cpus: 1, temp_dir: {temp}}}
            stages:
              - stage: extract-csv
                inputs: [{REPO}/sample_data/faq.csv]
                input_column: question
                output_column: answer
              - stage: filter-slop
            """)
        )
        results = run_pipeline(load_pipeline(spec), quiet=True)
        assert [r.status for r in results] == ["ran", "ran"]
        assert not ray.is_initialized()
    finally:
        shutil.rmtree(temp, ignore_errors=True)
