"""embed's encoders (ONNX Runtime int8, and static) against plain ``SentenceTransformer.encode``.

Three text lengths (about 15, 40 and 150 words), the same texts for both, in one process.
Agreement: k-means centroids are fitted on the float32 vectors (sentence-transformers'
own), then both sets of vectors are assigned to them; the NMI between the two assignments
is printed (1.0 means every text lands in the same cluster). Also printed: the NMI between
two k-means fits, one on each set of vectors, with k the number of topics.

``--backend static`` (a model2vec model distilled from the same model, once, at the start;
its time is printed) is timed in the same rounds, against both: the bars are 50x
SentenceTransformer and 20x onnx-int8 on the medium texts. Its quality line: NMI of k-means
with the texts' topics (mean of 10 seeds) for float32, onnx-int8 and static vectors.

Embedding is slow on a CPU, so ``--records`` is capped per length (800, 300, 100). The
encoders run alternately, three rounds, best of each: on a machine shared with other work,
timing one after the other measures the neighbours' load as much as the encoders.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import normalized_mutual_info_score

from benchmarks.common import Result, Side
from benchmarks.corpus import TOPICS, sentence
from dataprep.stages.diversity.encoder import DEFAULT_MODEL, load_encoder, resolve_model
from dataprep.stages.diversity.kmeans import assign, fit_kmeans

LENGTHS = {"short ~15 words": (15, 800), "medium ~40 words": (40, 300), "long ~150 words": (150, 100)}
ROUNDS = 3
STATIC_RUNS = 5
NMI_SEEDS = 10


def texts_of_length(words: int, count: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """``count`` texts of about ``words`` words, each on one topic, and their topics."""
    rng = random.Random(seed)
    texts, topics = [], []
    for _ in range(count):
        topic = rng.choice(list(TOPICS))
        target = max(5, int(rng.gauss(words, words / 5)))
        parts, total = [], 0
        while total < target:
            size = min(target - total, rng.randint(8, 18))
            parts.append(sentence(rng, topic, max(size, 3)))
            total += size
        texts.append(" ".join(parts))
        topics.append(topic)
    return texts, topics


def agreement(exact: np.ndarray, fast: np.ndarray, k: int) -> tuple[float, float]:
    """NMI of the two paths' cluster assignments: to the float32 path's centroids, and refitted on each."""
    centroids = fit_kmeans(exact, k, seed=0)
    same_centroids = normalized_mutual_info_score(assign(exact, centroids)[0], assign(fast, centroids)[0])
    fit_exact = assign(exact, fit_kmeans(exact, k, seed=0))[0]
    fit_fast = assign(fast, fit_kmeans(fast, k, seed=0))[0]
    return same_centroids, normalized_mutual_info_score(fit_exact, fit_fast)


def one_length(label: str, texts: list[str], topics: list[str], ours: Any, static: Any, baseline: Any) -> list[Result]:
    out: dict[str, np.ndarray] = {}
    sides = {"exact": Side(), "fast": Side(), "static": Side()}

    def run(name: str, encoder: Any) -> None:
        out[name] = sides[name].run(lambda: encoder.encode(texts))

    # Alternating rounds, all three sides in each. The static side takes milliseconds, so it runs
    # STATIC_RUNS times a round (best of all): one run is too short to time on a loaded machine.
    for _ in range(ROUNDS):
        run("exact", baseline)
        run("fast", ours)
        for _ in range(STATIC_RUNS):
            run("static", static)
    megabytes = sum(len(t.encode()) for t in texts) / 1e6
    base = "SentenceTransformer.encode"
    result = Result.of("embed", f"onnx-int8 {label}", base, len(texts), megabytes, sides["fast"], sides["exact"])
    static_st = Result.of("embed", f"static {label}", base, len(texts), megabytes, sides["static"], sides["exact"])
    static_onnx = Result.of(
        "embed", f"static {label}", "onnx-int8 (ours)", len(texts), megabytes, sides["static"], sides["fast"]
    )
    exact = out["exact"] / np.linalg.norm(out["exact"], axis=1, keepdims=True)
    k = len(set(topics))
    same, refit = agreement(exact, out["fast"], k)
    same_20, refit_20 = agreement(exact, out["fast"], 20)
    # How much k=20 refits move on their own: two float32 fits, seeds 0 and 1.
    floor_20 = normalized_mutual_info_score(
        assign(exact, fit_kmeans(exact, 20, seed=0))[0], assign(exact, fit_kmeans(exact, 20, seed=1))[0]
    )
    cosine = (exact * out["fast"]).sum(1)
    print(
        f"  {label}: {len(texts)} texts; ours {result.records_per_second:,.1f}/s, "
        f"baseline {len(texts) / result.baseline_seconds:,.1f}/s, ratio {result.ratio:.2f}x; "
        f"NMI k={k}: same centroids {same:.4f}, refit {refit:.4f}; "
        f"k=20 (splits topics): same centroids {same_20:.4f}, refit {refit_20:.4f} "
        f"(float32 vs float32, another seed: {floor_20:.4f}); "
        f"cosine to float32 min {cosine.min():.4f} mean {cosine.mean():.4f}",
        flush=True,
    )
    truth = {
        name: np.mean([normalized_mutual_info_score(topics, labels) for labels in fits(vectors, k)])
        for name, vectors in (("float32", exact), ("onnx-int8", out["fast"]), ("static", out["static"]))
    }
    print(
        f"  {label}: static {static_st.records_per_second:,.0f}/s = {static_st.ratio:,.0f}x SentenceTransformer "
        f"(bar 50x), {static_onnx.ratio:,.0f}x onnx-int8 (bar 20x); NMI k={k} with the topics, mean of "
        f"{NMI_SEEDS} seeds: float32 {truth['float32']:.4f}, onnx-int8 {truth['onnx-int8']:.4f}, "
        f"static {truth['static']:.4f}; static vs float32 refit {agreement_refit(exact, out['static'], k):.4f}",
        flush=True,
    )
    return [result, static_st, static_onnx]


def fits(vectors: np.ndarray, k: int) -> list[np.ndarray]:
    return [assign(vectors, fit_kmeans(vectors, k, seed=s))[0] for s in range(NMI_SEEDS)]


def agreement_refit(exact: np.ndarray, other: np.ndarray, k: int) -> float:
    """NMI of k-means fits on each (the vectors may differ in dimension: no shared centroids)."""
    return normalized_mutual_info_score(
        assign(exact, fit_kmeans(exact, k, seed=0))[0], assign(other, fit_kmeans(other, k, seed=0))[0]
    )


def run(records: int, workdir: Path) -> list[Result]:
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()

    baseline = SentenceTransformer(resolve_model(DEFAULT_MODEL), device="cpu")
    ours = load_encoder(DEFAULT_MODEL, "cpu", "onnx-int8", None, 32, workdir / "cache")
    start = time.perf_counter()
    static = load_encoder(DEFAULT_MODEL, "cpu", "static", None, 32, workdir / "cache")
    print(
        f"  static: distilled from {DEFAULT_MODEL} in {time.perf_counter() - start:.1f}s (once; then cached), "
        f"{static._static.embedding.shape[0]:,} tokens x {static.dim}",
        flush=True,
    )
    results = []
    for label, (words, cap) in LENGTHS.items():
        texts, topics = texts_of_length(words, min(records, cap))
        results.extend(one_length(label, texts, topics, ours, static, baseline))
    return results
