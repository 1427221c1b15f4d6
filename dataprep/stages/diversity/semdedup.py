"""Semantic dedup (as in SemDedup): within each cluster, drop a record too similar to one kept before it.

Computed in blocks of rows against the records kept so far, never as an n x n matrix; a
cluster is processed in input order, so the first of a group of near-copies is the one kept.
"""

from __future__ import annotations

import numpy as np

BLOCK = 1024
#: ``--dedup-threshold auto``, per kind of vectors. Measured on the labelled topic fixture
#: (``python -m benchmarks.embed_quality``): at 0.95, MiniLM's vectors remove 99% of the
#: near-copies and no original. Static vectors (a mean of token vectors) put texts that share
#: most of their words closer together, so 0.95 also removes a few originals; at 0.97 they
#: remove every near-copy and no original.
THRESHOLDS = {"transformer": 0.95, "static": 0.97}
#: Cosine similarities of identical unit vectors come out a hair under 1 in float32.
EPSILON = 1e-6


def default_threshold(backend: str | None) -> float:
    """The dedup threshold for vectors made by ``backend`` (embed's --backend; None: unknown, a transformer)."""
    return THRESHOLDS["static" if backend == "static" else "transformer"]


def cluster_duplicates(vectors: np.ndarray, threshold: float, block: int = BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """For the rows of one cluster (in order): the row each is a near-copy of (-1 if kept) and that similarity.

    A row is a near-copy when its cosine similarity to an earlier kept row is at or above
    ``threshold``. ``vectors`` are unit vectors (a numpy array or memmap).
    """
    n = len(vectors)
    copy_of = np.full(n, -1, np.int64)
    similarity = np.zeros(n, np.float32)
    kept: list[int] = []
    kept_vectors = np.empty((n, vectors.shape[1] if n else 0), np.float32)
    limit = threshold - EPSILON
    for start in range(0, n, block):
        rows = np.asarray(vectors[start : start + block], dtype=np.float32)
        best = np.full(len(rows), -np.inf, np.float32)
        best_at = np.full(len(rows), -1, np.int64)
        for chunk in range(0, len(kept), 16_384):
            sims = rows @ kept_vectors[chunk : min(chunk + 16_384, len(kept))].T
            arg = sims.argmax(1)
            value = sims[np.arange(len(rows)), arg]
            better = value > best
            best[better] = value[better]
            best_at[better] = np.asarray(kept[chunk : chunk + 16_384])[arg[better]]
        # Within the block, only rows with an earlier similar row need the sequential pass.
        prior = best >= limit
        copy_of[start : start + len(rows)][prior] = best_at[prior]
        similarity[start : start + len(rows)][prior] = best[prior]
        inner = rows @ rows.T
        earlier = np.tril(inner >= limit, k=-1)
        keep = ~prior
        for j in np.flatnonzero(earlier.any(1) & keep):
            similar = np.flatnonzero(earlier[j] & keep)
            if len(similar):
                keep[j] = False
                nearest = similar[int(inner[j, similar].argmax())]
                copy_of[start + j], similarity[start + j] = start + nearest, inner[j, nearest]
        kept_here = np.flatnonzero(keep).tolist()
        kept_vectors[len(kept) : len(kept) + len(kept_here)] = rows[kept_here]
        kept.extend(start + j for j in kept_here)
    return copy_of, similarity


def semantic_duplicates(
    vectors: np.ndarray, labels: np.ndarray, eligible: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Over all clusters: for each row, the global row it is a near-copy of (-1 if none), and the similarity."""
    copy_of = np.full(len(labels), -1, np.int64)
    similarity = np.zeros(len(labels), np.float32)
    rows = np.flatnonzero(eligible)
    order = rows[np.argsort(labels[rows], kind="stable")]
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    for members in np.split(order, bounds):
        if len(members) < 2:
            continue
        local, sims = cluster_duplicates(vectors[members], threshold)
        dup = local >= 0
        copy_of[members[dup]] = members[local[dup]]
        similarity[members[dup]] = sims[dup]
    return copy_of, similarity
