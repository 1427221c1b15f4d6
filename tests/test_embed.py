import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from helpers import read_records, read_rejects, read_stats, tree_bytes
from topics import CACHE_DIR, fixture_static_model, fixture_vectors, labelled_texts, tiny_static_settings

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


# -- --backend static -----------------------------------------------------------------------


def static_rows() -> list[dict]:
    return sample_rows(8) + [{"text": "🙂🙂🙂"}, {"input": " ", "output": ""}]


def test_static_backend_distils_once_offline_into_the_cache(tmp_path, monkeypatch):
    from model2vec import distill as m2v_distill

    from dataprep.stages.diversity import encoder as enc

    # conftest sets HF_HUB_OFFLINE=1: the distillation reads the bundled model only.
    monkeypatch.setattr(enc, "STATIC_DISTILL", dict(tiny_static_settings()))
    first = enc.Encoder(backend="static", cache_dir=tmp_path / "a")
    folders = list((tmp_path / "a" / "static").iterdir())
    assert len(folders) == 1 and (folders[0] / "model.safetensors").exists()
    assert folders[0].name.startswith("all-MiniLM-L6-v2-") and first.backend == "static" and first.dim == 64
    vectors = first.encode(["The risotto needs a low simmer.", "Jupiter is visible tonight."])
    assert vectors.dtype == np.float32 and vectors.shape == (2, 64)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-6)

    def no_distilling(*args, **kwargs):
        raise AssertionError("distilled again")

    monkeypatch.setattr(m2v_distill, "distill_from_model", no_distilling)
    again = enc.Encoder(backend="static", cache_dir=tmp_path / "a")
    assert again.key == first.key and np.array_equal(again.encode(["Jupiter is visible tonight."])[0], vectors[1])
    # Other settings are another model: another folder and another embedding-cache key.
    monkeypatch.undo()
    monkeypatch.setattr(enc, "STATIC_DISTILL", {**tiny_static_settings(), "pca_dims": 32})
    other = enc.Encoder(backend="static", cache_dir=tmp_path / "a")
    assert other.key != first.key and other.dim == 32 and len(list((tmp_path / "a" / "static").iterdir())) == 2


def test_static_distillation_is_deterministic(tmp_path, monkeypatch):
    from dataprep.stages.diversity import encoder as enc

    monkeypatch.setattr(enc, "STATIC_DISTILL", dict(tiny_static_settings()))
    for name in ("a", "b"):
        enc.Encoder(backend="static", cache_dir=tmp_path / name)
    a, b = tree_bytes(tmp_path / "a", "**/*.*"), tree_bytes(tmp_path / "b", "**/*.*")
    assert len(a) == 5 and a == b  # model.safetensors, tokenizer.json, config.json, modules.json, README.md


def test_static_embed_stage_writes_unit_vectors_and_rejects(tmp_path):
    model = str(fixture_static_model())
    data = write_jsonl(tmp_path / "in.jsonl", static_rows())
    stats = run_embed([data], tmp_path / "out", model=model, backend="static", cache_dir=tmp_path / "cache")
    records = read_records(tmp_path / "out")
    vectors = np.stack([r["embedding"] for r in records])
    assert vectors.shape == (8, 64) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    field = pq.read_schema(tmp_path / "out" / "part-00000.parquet").field("embedding")
    assert str(field.type) == "fixed_size_list<element: float>[64]"
    # Emoji only: every token is outside the vocabulary, so there is no vector; said so, not a zero vector.
    rejects = {r["reason"]: r for r in read_rejects(tmp_path / "out")}
    assert set(rejects) == {"empty-output", "bad-embedding"}
    assert "none of its tokens is in the model's vocabulary" in rejects["bad-embedding"]["detail"]
    assert stats["extra"]["backend"] == "static" and stats["extra"]["embedded"] == 9
    # The cache is off for static unless asked for (cache: auto); asked for, it works as for the
    # other backends, and its vectors equal fresh ones.
    assert not (tmp_path / "cache" / "embeddings.sqlite").exists()
    opts = {"model": model, "backend": "static", "cache_dir": tmp_path / "cache", "cache": True}
    assert run_embed([data], tmp_path / "fill", **opts)["extra"]["embedded"] == 9
    again = run_embed([data], tmp_path / "again", **opts)
    assert again["extra"]["embedded"] == 0 and again["extra"]["cache_hits"] == 9
    assert tree_bytes(tmp_path / "out") == tree_bytes(tmp_path / "again")
    run_embed([data], tmp_path / "input", model=model, backend="static", fields=["input"], precision="float16")
    field = pq.read_schema(tmp_path / "input" / "part-00000.parquet").field("embedding")
    assert str(field.type) == "fixed_size_list<element: halffloat>[64]"
    first_input = read_records(tmp_path / "input")[4]
    alone = load_encoder(model, backend="static", cache_dir=CACHE_DIR).encode([first_input["input"]])[0]
    assert np.allclose(first_input["embedding"], alone, atol=1e-3)


def test_a_model2vec_model_runs_as_static_with_backend_auto():
    encoder = load_encoder(str(fixture_static_model()), cache_dir=CACHE_DIR)
    assert encoder.backend == "static" and encoder.dim == 64


def test_static_vectors_do_not_depend_on_the_batch():
    _, texts, _, _ = fixture_vectors()
    encoder = load_encoder(str(fixture_static_model()), backend="static", cache_dir=CACHE_DIR)
    together = encoder.encode(texts[:60])
    alone = np.stack([encoder.encode([t])[0] for t in texts[:60]])
    shuffled = encoder.encode(texts[:60][::-1])[::-1]
    assert together.tobytes() == alone.tobytes() == shuffled.tobytes()


def test_static_vectors_cluster_and_dedup_like_minilm():
    """The quality bars of --backend static, on the labelled topic fixture (the full model's
    figures: python -m benchmarks.embed_quality)."""
    from sklearn.metrics import normalized_mutual_info_score

    from dataprep.stages.diversity.kmeans import assign, fit_kmeans
    from dataprep.stages.diversity.semdedup import default_threshold, semantic_duplicates

    topics, texts, minilm, n = fixture_vectors()
    static = load_encoder(str(fixture_static_model()), backend="static", cache_dir=CACHE_DIR).encode(texts)

    def nmi(vectors):
        x = vectors[:n]
        # Over 20 seeds: one fit now and then lands in a local minimum (a topic split, two merged).
        fits = [assign(x, fit_kmeans(x, 8, seed=s))[0] for s in range(20)]
        return np.mean([normalized_mutual_info_score(topics, labels) for labels in fits])

    assert nmi(static) >= nmi(minilm) - 0.02
    labels, _ = assign(static, fit_kmeans(static, 8, seed=0))
    copy_of, _ = semantic_duplicates(static, labels, np.ones(len(static), bool), default_threshold("static"))
    assert (copy_of[n:] >= 0).mean() >= 0.95
    assert (copy_of[:n] >= 0).mean() < 0.01


def test_a_slow_embedding_says_how_to_go_faster(tmp_path, monkeypatch, caplog):
    from dataprep.stages.diversity import embed

    data = write_jsonl(tmp_path / "in.jsonl", sample_rows(12))
    # As if the input were 10 million records: the first batch's rate puts the run over 10 minutes.
    monkeypatch.setattr(embed, "expected_records", lambda inputs: 10_000_000)
    with caplog.at_level("WARNING", logger="dataprep"):
        stats = run_embed([data], tmp_path / "out", cache_dir=tmp_path / "cache")
    assert stats["extra"]["estimated_seconds"] > 600
    assert "minutes to embed 10,000,000 texts" in caplog.text and "--backend static" in caplog.text
    assert "--device cuda" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="dataprep"):
        stats = run_embed([data], tmp_path / "static", model=str(fixture_static_model()), backend="static")
    assert "minutes to embed" not in caplog.text


def test_expected_records_counts_jsonl_lines_and_parquet_rows(tmp_path):
    from dataprep.stages.diversity.embed import expected_records

    data = write_jsonl(tmp_path / "in.jsonl", sample_rows(12))
    assert expected_records([data]) == 12
    run_embed([data], tmp_path / "out", model=str(fixture_static_model()), backend="static")
    assert expected_records([tmp_path / "out"]) == 12


def test_cluster_embeds_with_static_and_picks_its_dedup_threshold(tmp_path):
    from dataprep.stages.diversity.cluster import Cluster, ClusterConfig

    _, texts, _, n = fixture_vectors()
    data = write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in texts])
    model = str(fixture_static_model())
    config = ClusterConfig(
        k=8, model=model, backend="static", dedup_threshold="auto", cache_dir=CACHE_DIR, report="none"
    )
    stats = Cluster(config, StageContext(quiet=True)).run([data], tmp_path / "out").to_dict()
    assert stats["extra"]["dedup_threshold"] == 0.97 and stats["extra"]["embed_backend"] == "static"
    assert len(read_records(tmp_path / "out")[0]["embedding"]) == 64
    assert 0.95 * (len(texts) - n) <= stats["dropped"]["semantic-duplicate"] < len(texts) - n + 0.01 * n
    # Vectors from `embed --backend static`: auto reads the backend from the embed stage's stats.json.
    run_embed([data], tmp_path / "embedded", model=model, backend="static")
    config = ClusterConfig(k=8, dedup_threshold="auto", report="none")
    stats = Cluster(config, StageContext(quiet=True)).run([tmp_path / "embedded"], tmp_path / "c2").to_dict()
    assert stats["extra"]["dedup_threshold"] == 0.97
    config = ClusterConfig(k=8, dedup_threshold="auto", report="none")
    stats = Cluster(config, StageContext(quiet=True)).run([data], tmp_path / "c3").to_dict()
    assert stats["extra"]["dedup_threshold"] == 0.95 and stats["extra"]["embed_backend"] == "onnx-int8"


def test_onnx_int8_vectors_do_not_depend_on_what_the_cache_held(tmp_path):
    # int8 quantises activations per input tensor: texts batched together would shift each
    # other's vectors, so a warm cache (fewer texts embedded together) would change them.
    rows = sample_rows(16)
    data = write_jsonl(tmp_path / "in.jsonl", rows)
    cold = run_embed([data], tmp_path / "cold", cache_dir=tmp_path / "cold-cache")
    write_jsonl(tmp_path / "part.jsonl", rows[3:9])
    run_embed([tmp_path / "part.jsonl"], tmp_path / "part", cache_dir=tmp_path / "warm-cache")
    warm = run_embed([data], tmp_path / "warm", cache_dir=tmp_path / "warm-cache")
    assert cold["extra"]["backend"] == "onnx-int8" and warm["extra"]["cache_hits"] == 6
    assert tree_bytes(tmp_path / "cold") == tree_bytes(tmp_path / "warm")
    encoder = load_encoder(cache_dir=CACHE_DIR)
    texts = [text for _, text in labelled_texts()[:20]]
    together = encoder.encode(texts)
    assert together.tobytes() == np.stack([encoder.encode([t])[0] for t in texts]).tobytes()
