"""How much clustering and semantic dedup lose with ``--backend static`` vectors.

    python -m benchmarks.embed_quality [--per-topic 100] [--copies 300] [--seeds 5] [--cache-dir DIR]

The labelled topic fixture of the cluster tests (``tests/topics.py``: eight topics, texts
built from phrase lists, and near-copies of the first ``--copies`` of them: case changed,
punctuation changed, one function word swapped) is embedded by the default model three
ways: sentence-transformers in float32 (``torch``), ONNX Runtime int8 (``onnx-int8``, the CPU
default) and the static model distilled from it (``static``, distilled into ``--cache-dir``
the first time, about a minute). Also the ~40-word texts of ``bench_embed`` (its topics).

Printed, per backend:

- **NMI** of k-means (k = the number of topics, our ``fit_kmeans``, seeds 0..``--seeds``-1)
  with the true topics, on the originals: the mean over seeds (one seed's fit lands in a local
  minimum that splits one topic and merges two now and then, 0.94 instead of 1.0, so a mean
  over few seeds moves by a few hundredths), and the bar: static's mean at most 0.02 under
  the MiniLM vectors' (both torch and onnx-int8);
- **semantic dedup** (``semantic_duplicates`` within k-means clusters of all the texts) at
  several thresholds: the share of near-copies removed and of originals removed, and the
  bar at the backend's default threshold (``semdedup.default_threshold``): at least 95% of the
  copies, under 1% of the originals.

Exits with status 1 when one of static's bars is missed (the MiniLM lines are the reference).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import normalized_mutual_info_score

from benchmarks.bench_embed import texts_of_length
from dataprep.stages.diversity.encoder import DEFAULT_MODEL, default_cache_dir, load_encoder
from dataprep.stages.diversity.kmeans import assign, fit_kmeans
from dataprep.stages.diversity.semdedup import default_threshold, semantic_duplicates

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from topics import labelled_texts, near_copies  # noqa: E402 - the fixture lives with the tests

BACKENDS = ("torch", "onnx-int8", "static")
THRESHOLDS = (0.9, 0.95, 0.97, 0.98)


def fixture(per_topic: int, copies: int) -> tuple[list[str], list[str], int]:
    """Topics of the originals, then the texts: originals, then three near-copies of each of the first ``copies``."""
    data = labelled_texts(per_topic=per_topic)
    rng = random.Random(0)
    topics = [t for t, _ in data]
    texts = [x for _, x in data]
    return topics, texts + [c for text in texts[:copies] for c in near_copies(text, rng)], len(texts)


def nmi_over_seeds(vectors: np.ndarray, topics: list[str], seeds: int) -> list[float]:
    k = len(set(topics))
    return [
        normalized_mutual_info_score(topics, assign(vectors, fit_kmeans(vectors, k, seed=s))[0]) for s in range(seeds)
    ]


def dedup_rates(vectors: np.ndarray, n: int, k: int, threshold: float) -> tuple[float, float]:
    """Shares of the near-copies and of the originals that semantic dedup removes at ``threshold``."""
    labels, _ = assign(vectors, fit_kmeans(vectors, k, seed=0))
    copy_of, _ = semantic_duplicates(vectors, labels, np.ones(len(vectors), bool), threshold)
    return float((copy_of[n:] >= 0).mean()), float((copy_of[:n] >= 0).mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-topic", type=int, default=100, help="Originals per topic (at most 125).")
    parser.add_argument("--copies", type=int, default=300, help="Originals that get three near-copies each.")
    parser.add_argument("--seeds", type=int, default=20, help="k-means seeds to average NMI over.")
    parser.add_argument("--cache-dir", type=Path, default=None, help="Cache (ONNX export, static model).")
    args = parser.parse_args()
    cache = args.cache_dir or default_cache_dir()
    topics, texts, n = fixture(args.per_topic, args.copies)
    medium, medium_topics = texts_of_length(40, 300)
    print(
        f"fixture: {n} originals on {len(set(topics))} topics, {len(texts) - n} near-copies of the first "
        f"{args.copies}; bench_embed medium texts: {len(medium)} on {len(set(medium_topics))} topics",
        flush=True,
    )
    nmi: dict[str, float] = {}
    missed: list[str] = []
    for backend in BACKENDS:
        start = time.perf_counter()
        encoder = load_encoder(DEFAULT_MODEL, "cpu", backend, None, 32, cache)
        loaded = time.perf_counter() - start
        start = time.perf_counter()
        vectors = encoder.encode(texts)
        seconds = time.perf_counter() - start
        scores = nmi_over_seeds(vectors[:n], topics, args.seeds)
        medium_scores = nmi_over_seeds(encoder.encode(medium), medium_topics, args.seeds)
        nmi[backend] = float(np.mean(scores))
        print(
            f"{backend}: loaded in {loaded:.1f}s, {len(texts)} texts in {seconds:.2f}s "
            f"({len(texts) / seconds:,.0f}/s), dim {encoder.dim}",
            flush=True,
        )
        print(
            f"  NMI k=8 over {args.seeds} seeds: mean {np.mean(scores):.4f} (min {min(scores):.4f}, "
            f"max {max(scores):.4f}); bench_embed medium texts: mean {np.mean(medium_scores):.4f}",
            flush=True,
        )
        rates = {t: dedup_rates(vectors, n, len(set(topics)), t) for t in THRESHOLDS}
        print(
            "  semdedup copies/originals removed: " + "; ".join(f"{t}: {c:.3f}/{o:.3f}" for t, (c, o) in rates.items()),
            flush=True,
        )
        threshold = default_threshold(backend)
        copies, originals = rates.get(threshold) or dedup_rates(vectors, n, len(set(topics)), threshold)
        ok = copies >= 0.95 and originals < 0.01
        print(
            f"  at its default threshold {threshold}: {copies:.1%} of the copies, {originals:.1%} of the originals "
            f"(bar: >= 95%, < 1%): {'ok' if ok else 'MISSED'}",
            flush=True,
        )
        if not ok and backend == "static":  # the MiniLM lines are the reference
            missed.append(f"{backend} semdedup")
    gap = nmi["static"] - nmi["onnx-int8"]
    gap_torch = nmi["static"] - nmi["torch"]
    ok = gap >= -0.02 and gap_torch >= -0.02
    print(
        f"NMI static - onnx-int8 {gap:+.4f}, static - torch {gap_torch:+.4f} (bar: at least -0.02): "
        f"{'ok' if ok else 'MISSED'}",
        flush=True,
    )
    if not ok:
        missed.append("static NMI")
    if missed:
        print("missed: " + ", ".join(missed), flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
