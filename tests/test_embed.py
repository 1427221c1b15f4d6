import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from helpers import read_records, read_rejects, read_stats, tree_bytes
from topics import CACHE_DIR, fixture_vectors, labelled_texts

from dataprep.errors import ConfigError
from dataprep.stages.base import StageContext
from dataprep.stages.diversity.embed import Embed, EmbedConfig
from dataprep.stages.diversity.encoder import DEFAULT_MODEL, load_encoder, resolve_model


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def sample_rows(count: int = 12) -> list[dict]:
    texts = [text for _, text in labelled_texts()[:count]]
    rows = [{"text": t} for t in texts[: count // 2]]
    rows += [{"input": t.split(". ")[0], "output": t.split(". ", 1)[1]} for t in texts[count // 2 :]]
    return rows


def run_embed(inputs, out, **options):
    options.setdefault("cache_dir", CACHE_DIR)
    return Embed(EmbedConfig(**options), StageContext(quiet=True)).run(inputs, out).to_dict()


def test_default_model_loads_offline_from_site_packages():
    # conftest sets HF_HUB_OFFLINE=1: a hub download would fail.
    path = Path(resolve_model(DEFAULT_MODEL))
    assert path.is_dir() and "site-packages" in str(path)
    encoder = load_encoder(cache_dir=CACHE_DIR)
    vectors = encoder.encode(["a short sentence", "another one"])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32


def test_embed_stage_writes_unit_vectors_compactly(tmp_path):
    rows = sample_rows() + [{"input": "  ", "output": "\n"}]
    data = write_jsonl(tmp_path / "in.jsonl", rows)
    stats = run_embed([data], tmp_path / "out")
    records = read_records(tmp_path / "out")
    assert len(records) == 12
    vectors = np.stack([r["embedding"] for r in records])
    assert vectors.shape == (12, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    field = pq.read_schema(tmp_path / "out" / "part-00000.parquet").field("embedding")
    assert str(field.type) == "fixed_size_list<element: float>[384]"
    # A blank pair is already dropped by the reader; nothing is lost silently.
    assert [r["reason"] for r in read_rejects(tmp_path / "out")] == ["empty-output"]
    assert stats["records_in"] == 13 and stats["extra"]["backend"] == "onnx-int8"


def test_empty_text_records_are_rejected(tmp_path):
    data = write_jsonl(tmp_path / "in.jsonl", [{"text": "Some real text here."}, {"input": "", "output": " x "}])
    run_embed([data], tmp_path / "out", fields=["input"])
    rejects = read_rejects(tmp_path / "out")
    assert [r["reason"] for r in rejects] == ["empty-text"]
    assert "nothing to embed in input" in rejects[0]["detail"]
    assert "embedding" not in rejects[0]["record"]


def test_fields_join_input_and_output(tmp_path):
    data = write_jsonl(
        tmp_path / "in.jsonl",
        [{"text": "Is the oven hot?\nYes, preheat it."}, {"input": "Is the oven hot?", "output": "Yes, preheat it."}],
    )
    run_embed([data], tmp_path / "out", backend="torch")
    first, second = read_records(tmp_path / "out")
    assert np.allclose(first["embedding"], second["embedding"], atol=1e-5)


def test_cache_embeds_only_new_texts(tmp_path, monkeypatch):
    rows = sample_rows(16)
    data = write_jsonl(tmp_path / "in.jsonl", rows[:10])
    cache = tmp_path / "cache"
    first = run_embed([data], tmp_path / "a", cache_dir=cache, backend="torch")
    assert first["extra"]["embedded"] == 10 and first["extra"]["cache_hits"] == 0
    assert (cache / "embeddings.sqlite").exists()
    again = run_embed([data], tmp_path / "b", cache_dir=cache, backend="torch")
    assert again["extra"]["embedded"] == 0 and again["extra"]["cache_hits"] == 10
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")
    write_jsonl(data, rows)
    grown = run_embed([data], tmp_path / "c", cache_dir=cache, backend="torch")
    assert grown["extra"]["embedded"] == 6 and grown["extra"]["cache_hits"] == 10


def test_onnx_int8_agrees_with_torch():
    _, texts, fast, _ = fixture_vectors()
    exact = load_encoder(backend="torch", cache_dir=CACHE_DIR).encode(texts[:40])
    cosines = (exact * fast[:40]).sum(1)
    assert cosines.min() > 0.97
    assert load_encoder(cache_dir=CACHE_DIR).backend == "onnx-int8"


def test_float16_storage(tmp_path):
    data = write_jsonl(tmp_path / "in.jsonl", sample_rows(4))
    run_embed([data], tmp_path / "out", precision="float16", backend="torch")
    field = pq.read_schema(tmp_path / "out" / "part-00000.parquet").field("embedding")
    assert str(field.type) == "fixed_size_list<element: halffloat>[384]"


def test_missing_model_path_names_it(cli, tmp_path):
    data = write_jsonl(tmp_path / "in.jsonl", sample_rows(2))
    missing = tmp_path / "models" / "my-minilm"
    with pytest.raises(ConfigError, match=str(missing)):
        run_embed([data], tmp_path / "out", model=str(missing))
    result = cli("embed", data, "-o", tmp_path / "out", "--model", missing)
    assert result.exit_code == 2
    assert str(missing) in result.output and "no model folder" in result.output


def test_bad_options(cli, tmp_path):
    result = cli("embed", tmp_path, "-o", tmp_path / "o", "--fields", "body")
    assert result.exit_code == 2 and "unknown field 'body'" in result.output
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        EmbedConfig(batch_size=0)


def test_cluster_embeds_when_the_input_has_no_embeddings(tmp_path):
    from dataprep.stages.diversity.cluster import Cluster, ClusterConfig

    data = write_jsonl(tmp_path / "in.jsonl", sample_rows(12) + [{"text": "   "}])
    config = ClusterConfig(k=3, cache_dir=CACHE_DIR, report="none")
    stats = Cluster(config, StageContext(quiet=True)).run([data], tmp_path / "out").to_dict()
    records = read_records(tmp_path / "out")
    assert len(records) == 12
    assert all(len(r["embedding"]) == 384 and "cluster" in r["meta"] for r in records)
    assert read_stats(tmp_path / "out")["dropped"] == {"empty-text": 1} == stats["dropped"]
