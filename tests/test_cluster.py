import json
import logging

import numpy as np
import pyarrow.parquet as pq
import pytest
from helpers import read_records, read_rejects, read_stats, tree_bytes
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score
from topics import CACHE_DIR, fixture_vectors

from dataprep.cli.options import config_from_options
from dataprep.errors import InputError
from dataprep.io.writers import ParquetShardWriter
from dataprep.records import new_record, rows_to_batch
from dataprep.stages.base import StageContext
from dataprep.stages.diversity.cluster import Cluster, ClusterConfig
from dataprep.stages.diversity.kmeans import LAST_FIT, assign, choose_k, fit_kmeans
from dataprep.stages.diversity.select import quotas, select, spread, target_count
from dataprep.stages.diversity.semdedup import cluster_duplicates, semantic_duplicates


def write_vectors(folder, texts, vectors, topics=None):
    """A Parquet stage folder of text records with an embedding column."""
    rows = [
        new_record(f"fixture#row={i}", text=text, meta={"topic": topics[i]} if topics else {})
        for i, text in enumerate(texts)
    ]
    batch = rows_to_batch(rows)
    batch["embedding"] = np.asarray(vectors, np.float32)
    writer = ParquetShardWriter(folder)
    writer.write(batch)
    writer.close()
    return folder


def coverage(vectors, chosen):
    """Mean cosine distance from every row to its nearest chosen row (lower covers better)."""
    return float((1 - (vectors @ vectors[chosen].T).max(1)).mean())


# -- k-means --------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["faiss", "torch"])
def test_same_seed_same_clusters(engine):
    if engine == "faiss":
        pytest.importorskip("faiss")
    _, _, vectors, n = fixture_vectors()
    first = fit_kmeans(vectors[:n], 8, seed=3, engine=engine)
    second = fit_kmeans(vectors[:n], 8, seed=3, engine=engine)
    assert np.array_equal(first, second)
    assert np.array_equal(assign(vectors, first)[0], assign(vectors, second)[0])


def test_torch_and_faiss_engines_agree():
    pytest.importorskip("faiss")
    _, _, vectors, n = fixture_vectors()
    x = vectors[:n]
    by_faiss = assign(x, fit_kmeans(x, 8, seed=0, max_iter=30, engine="faiss"))[0]
    by_torch = assign(x, fit_kmeans(x, 8, seed=0, max_iter=30, tol=0, engine="torch"))[0]
    assert normalized_mutual_info_score(by_faiss, by_torch) > 0.95


@pytest.mark.parametrize("engine", ["faiss", "torch"])
def test_negative_tol_runs_every_iteration(engine):
    """The benchmark's fixed iteration count: a negative tol never stops early, in either engine."""
    if engine == "faiss":
        pytest.importorskip("faiss")
    _, _, vectors, n = fixture_vectors()
    fit_kmeans(vectors[:n], 8, seed=0, max_iter=40, engine=engine)
    assert LAST_FIT["iterations"] < 40  # the fixture converges well before 40
    fit_kmeans(vectors[:n], 8, seed=0, max_iter=40, tol=-1, engine=engine)
    assert LAST_FIT["iterations"] == 40


def _lloyd_reference(x, start, iterations):
    """Plain Lloyd iterations in float64 numpy: every point to its nearest centroid, then the means."""
    centroids = start.astype(np.float64)
    for _ in range(iterations):
        distances = (x**2).sum(1)[:, None] - 2 * x @ centroids.T + (centroids**2).sum(1)[None, :]
        labels = distances.argmin(1)
        centroids = np.stack([x[labels == j].mean(0) for j in range(len(centroids))])
    return centroids


def test_lloyd_matches_plain_iterations():
    """Moving only the points that changed cluster gives the means a full pass gives."""
    rng = np.random.default_rng(4)
    centres = rng.normal(size=(6, 16))
    x = (centres[rng.integers(0, 6, 3000)] + rng.normal(scale=0.8, size=(3000, 16))).astype(np.float32)
    start = x[:6].copy()
    ours = fit_kmeans(x, 6, init=start, max_iter=12, tol=-1)
    np.testing.assert_allclose(ours, _lloyd_reference(x.astype(np.float64), start, 12), atol=1e-5)


def test_bfloat16_screening_gives_the_float32_labels():
    """Near-ties (points almost halfway between two centroids) are scored again in float32."""
    import torch

    from dataprep.stages.diversity.kmeans import _augment, _augment_centroids, _labels, _nearest_augmented, _screen_of

    rng = np.random.default_rng(5)
    centroids = rng.normal(size=(40, 64)).astype(np.float32)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    points = rng.normal(size=(3000, 64)).astype(np.float32)
    a, b = rng.integers(0, 40, 2000), rng.integers(0, 40, 2000)
    mix = 0.5 + rng.normal(scale=1e-4, size=(2000, 1)).astype(np.float32)
    points[:2000] = mix * centroids[a] + (1 - mix) * centroids[b]  # on or next to a bisector
    x_aug = _augment(torch.from_numpy(points))
    c_aug = _augment_centroids(torch.from_numpy(centroids))
    screened = _labels(x_aug, c_aug, _screen_of(x_aug))  # screened on any CPU (emulated without the instructions)
    assert torch.equal(screened, _nearest_augmented(x_aug, c_aug)[0])


def test_nmi_no_worse_than_sklearn():
    topics, _, vectors, n = fixture_vectors()
    x = vectors[:n]
    ours = normalized_mutual_info_score(topics, assign(x, fit_kmeans(x, 8, seed=0))[0])
    theirs = normalized_mutual_info_score(topics, KMeans(8, random_state=0).fit(x).labels_)
    assert ours >= theirs - 0.01
    assert ours > 0.9


def test_k_auto_finds_the_topics():
    _, _, vectors, n = fixture_vectors()
    k, scores = choose_k(vectors[:n], seed=0)
    assert k == 8
    assert max(scores, key=scores.get) == 8


def test_assign_distances_are_cosine_distances_to_the_centroid():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    centroids = fit_kmeans(x, 4, seed=0)
    labels, distances = assign(x, centroids)
    unit = centroids / np.linalg.norm(centroids, axis=1, keepdims=True)
    assert np.allclose(distances, 1 - (x * unit[labels]).sum(1), atol=1e-5)
    assert np.array_equal(labels, ((x[:, None, :] - centroids[None]) ** 2).sum(-1).argmin(1))


# -- selection ------------------------------------------------------------------------------


def test_balanced_quotas_share_what_small_clusters_leave():
    assert quotas(np.array([10, 2, 5]), 12).tolist() == [5, 2, 5]
    assert quotas(np.array([10, 2, 5]), 9).tolist() == [4, 2, 3]
    assert quotas(np.array([10, 2, 5]), 100).tolist() == [10, 2, 5]
    assert quotas(np.array([3, 3, 3]), 4).tolist() == [2, 1, 1]
    assert quotas(np.array([4, 4]), 0).tolist() == [0, 0]


def test_proportional_quotas_follow_sizes():
    assert quotas(np.array([50, 30, 20]), 10, "proportional").tolist() == [5, 3, 2]
    assert quotas(np.array([5, 3, 2]), 4, "proportional").tolist() == [2, 1, 1]
    assert quotas(np.array([5, 3, 2]), 4, "proportional").sum() == 4


def test_select_count_or_fraction():
    assert target_count(0.25, 200) == 50
    assert target_count(30, 200) == 30
    assert target_count(500, 200) == 200
    assert target_count(1.0, 200) == 200


def test_select_within_cluster_order():
    labels = np.array([0, 0, 0, 1, 1, 1])
    distances = np.array([0.3, 0.1, 0.2, 0.5, 0.9, 0.7], np.float32)
    everyone = np.ones(6, bool)
    assert np.flatnonzero(select(labels, distances, everyone, 2, within="nearest")).tolist() == [1, 3]
    assert np.flatnonzero(select(labels, distances, everyone, 2, within="farthest")).tolist() == [0, 4]
    eligible = np.array([True, False, True, True, True, True])
    assert np.flatnonzero(select(labels, distances, eligible, 2, within="nearest")).tolist() == [2, 3]
    random_pick = select(labels, distances, everyone, 4, within="random", seed=1)
    assert random_pick.sum() == 4 and random_pick[:3].sum() == 2
    assert np.array_equal(random_pick, select(labels, distances, everyone, 4, within="random", seed=1))


def test_balanced_selection_covers_better_than_random():
    _, _, vectors, n = fixture_vectors()
    x = vectors[:n]
    labels, distances = assign(x, fit_kmeans(x, 8, seed=0))
    chosen = select(labels, distances, np.ones(n, bool), n // 4, strategy="balanced", seed=0, vectors=x)
    assert chosen.sum() == n // 4
    rng = np.random.default_rng(0)
    random_scores = [coverage(x, rng.choice(n, n // 4, replace=False)) for _ in range(10)]
    assert coverage(x, chosen) < min(random_scores)


def test_spread_on_a_large_group_splits_first_and_picks_exactly():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1500, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    picked = spread(x, 300, seed=0)
    assert len(picked) == len(set(picked.tolist())) == 300
    assert coverage(x, picked) < coverage(x, rng.choice(1500, 300, replace=False))
    assert np.array_equal(picked, spread(x, 300, seed=0))


# -- semantic dedup -------------------------------------------------------------------------


def pair(cosine):
    return np.array([[1.0, 0.0], [cosine, np.sqrt(1 - cosine**2)]], np.float32)


def test_dedup_threshold_is_inclusive():
    copy_of, similarity = cluster_duplicates(pair(0.95), 0.95)
    assert copy_of.tolist() == [-1, 0]
    assert similarity[1] == pytest.approx(0.95, abs=1e-6)
    assert cluster_duplicates(pair(0.95), 0.951)[0].tolist() == [-1, -1]
    assert cluster_duplicates(pair(0.9499), 0.95)[0].tolist() == [-1, -1]


def test_dedup_identical_vectors_at_threshold_one():
    x = np.repeat(pair(0.5), 2, axis=0)  # rows 0, 1 identical; rows 2, 3 identical
    assert cluster_duplicates(x, 1.0)[0].tolist() == [-1, 0, -1, 2]


def test_dedup_keeps_the_first_and_compares_against_kept_rows_only():
    # b is close to a, c is close to b but not to a: with b dropped, c stays.
    angles = np.radians([0, 15, 30])
    x = np.c_[np.cos(angles), np.sin(angles)].astype(np.float32)
    assert cluster_duplicates(x, 0.96)[0].tolist() == [-1, 0, -1]


def test_dedup_blocks_give_the_same_answer_as_one_block():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(40, 8))
    x = np.concatenate([base, base[:20] + rng.normal(scale=0.05, size=(20, 8))]).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    whole = cluster_duplicates(x, 0.97, block=1000)[0]
    assert (whole[40:] >= 0).all()
    assert np.array_equal(whole, cluster_duplicates(x, 0.97, block=7)[0])


def test_semdedup_removes_near_copies_not_originals():
    _, _, vectors, n = fixture_vectors()
    labels, _ = assign(vectors, fit_kmeans(vectors, 8, seed=0))
    copy_of, _ = semantic_duplicates(vectors, labels, np.ones(len(vectors), bool), 0.95)
    assert (copy_of[n:] >= 0).mean() >= 0.95
    assert (copy_of[:n] >= 0).mean() < 0.01


# -- the stage ------------------------------------------------------------------------------


def run_cluster(inputs, out, seed=0, **options):
    return Cluster(ClusterConfig(**options), StageContext(seed=seed, quiet=True)).run(inputs, out)


def test_cluster_stage_select_dedup_and_report(tmp_path):
    topics, texts, vectors, n = fixture_vectors()
    data = write_vectors(tmp_path / "in", texts, vectors, topics + topics[:60] * 3)
    stats = run_cluster([data], tmp_path / "out", k=8, select=0.5, dedup_threshold=0.95).to_dict()
    kept = read_records(tmp_path / "out")
    rejects = read_rejects(tmp_path / "out")
    duplicates = stats["dropped"]["semantic-duplicate"]
    assert stats["records_in"] == len(texts)
    assert 171 <= duplicates < 182  # 180 near-copies
    # A fraction is of the records left after dedup.
    assert stats["records_out"] == len(kept) == round(0.5 * (len(texts) - duplicates))
    assert stats["dropped"]["not-selected"] == len(texts) - duplicates - len(kept)
    assert {r["reason"] for r in rejects} == {"semantic-duplicate", "not-selected"}
    assert all("cluster" in r["record"]["meta"] for r in rejects)
    assert all("embedding" not in r["record"] for r in rejects)
    for record in kept:
        assert 0 <= record["meta"]["cluster"] < 8
        assert 0 <= record["meta"]["centroid_distance"] <= 2
    # The selection is balanced: the clusters with more records than their quota keep about the
    # same share; a cluster with fewer (k-means can split a topic) keeps all it has, and no more.
    per_cluster = np.bincount([r["meta"]["cluster"] for r in kept], minlength=8)
    left = np.bincount([r["record"]["meta"]["cluster"] for r in rejects if r["reason"] == "not-selected"], minlength=8)
    full = per_cluster[left > 0]
    assert len(full) >= 6 and full.max() - full.min() <= 1
    assert (per_cluster[left == 0] <= full.min()).all()
    schema = pq.read_schema(tmp_path / "out" / "part-00000.parquet")
    assert str(schema.field("embedding").type).startswith("fixed_size_list<")
    report = (tmp_path / "out" / "report" / "report.html").read_text()
    assert "data:image/png;base64," in report and "<script" not in report
    assert (tmp_path / "out" / "report" / "clusters.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert stats["extra"]["k"] == 8 and len(stats["extra"]["cluster_sizes"]) == 8
    assert not (tmp_path / "out" / ".work").exists()


def test_cluster_stage_is_deterministic(tmp_path):
    topics, texts, vectors, n = fixture_vectors()
    data = write_vectors(tmp_path / "in", texts[:n], vectors[:n])
    for name in ("a", "b"):
        run_cluster([data], tmp_path / name, seed=7, k=8, select=0.3, dedup_threshold=0.9, report="none")
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")
    assert (tmp_path / "a" / "rejects.jsonl").read_bytes() == (tmp_path / "b" / "rejects.jsonl").read_bytes()


def test_fit_fraction_fits_on_a_sample_and_assigns_all(tmp_path):
    _, texts, vectors, n = fixture_vectors()
    data = write_vectors(tmp_path / "in", texts[:n], vectors[:n])
    stats = run_cluster([data], tmp_path / "out", k=8, fit_fraction=0.5, report="none").to_dict()
    assert 0.3 * n < stats["extra"]["fit_records"] < 0.7 * n
    assert len(read_records(tmp_path / "out")) == n


def test_embed_sample_count_keeps_about_that_many_and_rejects_the_rest(tmp_path):
    _, texts, vectors, n = fixture_vectors()
    data = write_vectors(tmp_path / "in", texts[:n], vectors[:n])
    stats = run_cluster([data], tmp_path / "out", k=4, embed_sample=n // 4, report="none").to_dict()
    sample = stats["extra"]["embed_sample"]
    assert sample["records"] == n and sample["fraction"] == pytest.approx((n // 4) / n, abs=1e-6)
    assert 0.6 * (n // 4) < sample["sampled"] < 1.4 * (n // 4)
    kept = read_records(tmp_path / "out")
    rejects = read_rejects(tmp_path / "out")
    # Nothing is lost: the sample comes out, every other record is a not-sampled reject.
    assert stats["records_out"] == len(kept) == sample["sampled"]
    assert stats["dropped"] == {"not-sampled": n - sample["sampled"]}
    assert {r["reason"] for r in rejects} == {"not-sampled"} and len(rejects) == n - sample["sampled"]
    assert {r["record"]["id"] for r in rejects}.isdisjoint(r["id"] for r in kept)
    assert all("embedding" not in r["record"] and "cluster" not in r["record"]["meta"] for r in rejects)
    assert all(0 <= r["meta"]["cluster"] < 4 for r in kept)
    assert stats["extra"]["fit_records"] == sample["sampled"]
    # The sample's vectors come out beside their records, unchanged.
    by_text = {t: v for t, v in zip(texts[:n], vectors[:n])}
    assert all(np.allclose(r["embedding"], by_text[r["text"]], atol=1e-6) for r in kept)


def test_embed_sample_is_deterministic_and_follows_the_seed(tmp_path):
    _, texts, vectors, n = fixture_vectors()
    data = write_vectors(tmp_path / "in", texts[:n], vectors[:n])
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        run_cluster([data], tmp_path / name, seed=seed, k=4, embed_sample=0.3, select=0.5, report="none")
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")
    assert (tmp_path / "a" / "rejects.jsonl").read_bytes() == (tmp_path / "b" / "rejects.jsonl").read_bytes()
    sampled = {
        name: {r["record"]["id"] for r in read_rejects(tmp_path / name) if r["reason"] != "not-sampled"}
        | {r["id"] for r in read_records(tmp_path / name)}
        for name in "ac"
    }
    assert sampled["a"] != sampled["c"]


def test_embed_sample_with_select_selects_within_the_sample(tmp_path):
    _, texts, vectors, n = fixture_vectors()
    data = write_vectors(tmp_path / "in", texts[:n], vectors[:n])
    stats = run_cluster([data], tmp_path / "out", k=4, embed_sample=0.5, select=0.5, report="auto").to_dict()
    sampled = stats["extra"]["embed_sample"]["sampled"]
    assert stats["records_out"] == round(0.5 * sampled)
    assert stats["dropped"] == {"not-sampled": n - sampled, "not-selected": sampled - stats["records_out"]}
    assert sum(stats["extra"]["cluster_sizes"]) == sampled
    assert "embed sample" in (tmp_path / "out" / "report" / "report.html").read_text()


def test_embed_sample_embeds_only_the_sample_and_counts_jsonl(tmp_path):
    _, texts, _, n = fixture_vectors()
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts[:120]))
    stats = run_cluster([data], tmp_path / "out", k=3, embed_sample=30, cache_dir=CACHE_DIR, report="none").to_dict()
    extra = stats["extra"]
    assert extra["embed_sample"]["records"] == 120 and extra["embed_sample"]["fraction"] == 0.25
    assert extra["embedded"] + extra["embed_cache_hits"] == extra["embed_sample"]["sampled"]
    assert extra["embed_seconds"] >= 0
    assert stats["records_out"] == extra["embed_sample"]["sampled"]


def test_embed_sample_larger_than_the_input_takes_everything(tmp_path):
    _, texts, vectors, n = fixture_vectors()
    data = write_vectors(tmp_path / "in", texts[:40], vectors[:40])
    stats = run_cluster([data], tmp_path / "out", k=3, embed_sample=1000, report="none").to_dict()
    assert stats["records_out"] == 40 and not stats["dropped"]
    assert stats["extra"]["embed_sample"] == {"fraction": 1.0, "sampled": 40, "records": 40}


def test_too_few_records_for_k_lowers_k_with_a_warning(tmp_path, caplog):
    _, texts, vectors, _ = fixture_vectors()
    data = write_vectors(tmp_path / "in", texts[:5], vectors[:5])
    with caplog.at_level(logging.WARNING, logger="dataprep"):
        stats = run_cluster([data], tmp_path / "out", k=8).to_dict()
    assert "using k=5" in caplog.text
    assert stats["extra"]["k"] == 5 and stats["extra"]["k_lowered_from"] == 8
    assert len(read_records(tmp_path / "out")) == 5


def test_zero_and_missing_vectors_are_rejected(tmp_path):
    _, texts, vectors, _ = fixture_vectors()
    bad = np.array(vectors[:12])
    bad[3] = 0
    bad[7] = np.nan
    data = write_vectors(tmp_path / "in", texts[:12], bad)
    stats = run_cluster([data], tmp_path / "out", k=2, report="none").to_dict()
    assert stats["dropped"] == {"bad-embedding": 2}
    assert len(read_records(tmp_path / "out")) == 10


def test_empty_input_writes_an_empty_output(tmp_path):
    data = tmp_path / "empty.jsonl"
    data.write_text("")
    stats = run_cluster([data], tmp_path / "out", k=3).to_dict()
    assert stats["records_in"] == 0
    assert read_records(tmp_path / "out") == []


def test_jsonl_input_with_list_embeddings(tmp_path):
    _, texts, vectors, _ = fixture_vectors()
    data = tmp_path / "in.jsonl"
    lines = [json.dumps({"text": t, "embedding": v.tolist()}) for t, v in zip(texts, vectors[:20])]
    data.write_text("\n".join(lines) + "\n")
    run_cluster([data], tmp_path / "out.jsonl", k=3)
    assert len(read_records(tmp_path / "out.jsonl")) == 20
    assert (tmp_path / "out.jsonl.report" / "report.html").exists()
    assert read_stats(tmp_path / "out.jsonl")["extra"]["k"] == 3


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"k": 0}, "k must be at least 1"),
        ({"fit_fraction": 0}, "fit_fraction must be above 0"),
        ({"select": 2.5}, "select must be a count"),
        ({"embed_sample": 0}, "embed_sample must be a count"),
        ({"dedup_threshold": 1.5}, "dedup_threshold must be"),
    ],
)
def test_bad_options_are_plain_sentences(cli, tmp_path, options, message):
    name, value = next(iter(options.items()))
    result = cli("cluster", tmp_path, "-o", tmp_path / "o", f"--{name.replace('_', '-')}", value)
    assert result.exit_code == 2
    assert message in result.output
    with pytest.raises(ValueError, match=message):
        ClusterConfig(**options)


def test_cli_options(cli, tmp_path):
    _, texts, vectors, n = fixture_vectors()
    data = write_vectors(tmp_path / "in", texts[:n], vectors[:n])
    result = cli("cluster", data, "-o", tmp_path / "out", "--k", "8", "--select", "40", "--report", "none", "-q")
    assert result.exit_code == 0, result.output
    assert read_stats(tmp_path / "out")["extra"]["k"] == 8
    assert len(read_records(tmp_path / "out")) == 40
    parsed = config_from_options(ClusterConfig, {"k": "auto", "select": "0.25"}, "cluster")
    assert parsed.k == "auto" and parsed.select == 0.25
    assert config_from_options(ClusterConfig, {"select": "40"}, "cluster").select == 40
    assert config_from_options(ClusterConfig, {"embed_sample": "20000"}, "cluster").embed_sample == 20000
    assert config_from_options(ClusterConfig, {"embed_sample": "0.02"}, "cluster").embed_sample == 0.02


def test_missing_input_names_it(tmp_path):
    with pytest.raises(InputError, match="nope.jsonl"):
        run_cluster([tmp_path / "nope.jsonl"], tmp_path / "out", k=2)
    with pytest.raises(ValueError, match="nonsense"):
        ClusterConfig(k=2, nonsense=1)
