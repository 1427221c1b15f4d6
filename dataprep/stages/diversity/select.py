"""Pick a diverse subset: a quota per cluster, then records within each cluster by distance."""

from __future__ import annotations

from typing import Literal

import numpy as np

Strategy = Literal["balanced", "proportional"]
Within = Literal["spread", "nearest", "farthest", "random"]


def target_count(select: int | float, available: int) -> int:
    """``--select``: a count (``1000``) or a fraction of the available records (``0.25``)."""
    if isinstance(select, float) and select <= 1:
        return min(available, int(round(select * available)))
    return min(available, int(select))


def quotas(sizes: np.ndarray, total: int, strategy: Strategy = "balanced") -> np.ndarray:
    """How many records to take from each cluster so that they add up to ``total``.

    - ``balanced``: the same quota for every cluster; what a small cluster cannot fill is
      shared among the others (water-filling), so small clusters are kept whole.
    - ``proportional``: quotas follow cluster sizes (largest remainder rounding).

    Ties go to the larger cluster, then the lower cluster id, so the result is deterministic.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    total = int(min(total, sizes.sum()))
    quota = np.zeros_like(sizes)
    if total <= 0:
        return quota
    if strategy == "proportional":
        exact = total * sizes / sizes.sum()
        quota = np.floor(exact).astype(np.int64)
        order = sorted(range(len(sizes)), key=lambda c: (-(exact[c] - quota[c]), -sizes[c], c))
        for c in order[: total - int(quota.sum())]:
            quota[c] += 1
        return quota
    remaining = total
    while remaining > 0:
        open_clusters = [c for c in range(len(sizes)) if quota[c] < sizes[c]]
        share = remaining // len(open_clusters)
        if share == 0:
            order = sorted(open_clusters, key=lambda c: (-(sizes[c] - quota[c]), c))
            for c in order[:remaining]:
                quota[c] += 1
            break
        for c in open_clusters:
            add = min(share, sizes[c] - quota[c])
            quota[c] += add
            remaining -= add
    return quota


#: spread runs k-means with k = count only on groups this small (or for small counts);
#: bigger groups are first split in SPLIT parts, so the cost stays near-linear in n.
LEAF, SPLIT = 256, 16


def spread(vectors: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """Indices of ``count`` rows that cover ``vectors``: the row nearest each centroid of a
    k-means with ``k = count``. Covers a cluster better than its most typical rows do.

    A large group is split by k-means into ``SPLIT`` parts first, the count shared among them
    in proportion to their sizes, and each part spread in turn.
    """
    from dataprep.stages.diversity.kmeans import assign, fit_kmeans

    n = len(vectors)
    if count >= n:
        return np.arange(n)
    if count <= 0:
        return np.zeros(0, np.int64)
    if n > LEAF and count > SPLIT:
        parts, _ = assign(vectors, fit_kmeans(vectors, SPLIT, seed=seed, max_iter=10))
        shares = quotas(np.bincount(parts, minlength=SPLIT), count, "proportional")
        picked = [np.flatnonzero(parts == p) for p in range(SPLIT)]
        return np.sort(
            np.concatenate([rows[spread(vectors[rows], int(q), seed)] for rows, q in zip(picked, shares) if q])
        )
    labels, distances = assign(vectors, fit_kmeans(vectors, count, seed=seed, max_iter=20))
    order = np.lexsort((np.arange(n), distances, labels))
    first = np.ones(n, bool)
    first[1:] = labels[order][1:] != labels[order][:-1]
    picked = order[first]
    if len(picked) < count:  # a sub-cluster went empty: top up with the rows worst covered
        rest = np.setdiff1d(np.arange(n), picked)
        worst = rest[np.argsort(-(1 - (vectors[rest] @ vectors[picked].T).max(1)), kind="stable")]
        picked = np.concatenate([picked, worst[: count - len(picked)]])
    return np.sort(picked)


def select(
    labels: np.ndarray,
    distances: np.ndarray,
    eligible: np.ndarray,
    total: int,
    *,
    strategy: Strategy = "balanced",
    within: Within = "spread",
    seed: int = 0,
    vectors: np.ndarray | None = None,
) -> np.ndarray:
    """A boolean mask of the selected rows among the ``eligible`` ones.

    Within a cluster, rows are taken to cover it (``spread``: one per sub-cluster, needs
    ``vectors``), nearest to the centroid first (the most typical), farthest first (the
    most unusual), or at random (seeded).
    """
    labels = np.asarray(labels)
    chosen = np.zeros(len(labels), bool)
    rows = np.flatnonzero(eligible)
    if not len(rows):
        return chosen
    k = int(labels.max()) + 1
    sizes = np.bincount(labels[rows], minlength=k)
    quota = quotas(sizes, total, strategy)
    rng = np.random.default_rng(seed)
    # One stable sort groups rows by cluster, ordered inside each cluster.
    if within == "random":
        key = rng.permutation(len(rows))
    elif within == "farthest":
        key = -distances[rows]
    else:
        key = distances[rows]
    order = rows[np.lexsort((rows, key, labels[rows]))]
    starts = np.concatenate([[0], np.cumsum(sizes)])
    for c in range(k):
        members = order[starts[c] : starts[c + 1]]
        if within == "spread" and vectors is not None and 0 < quota[c] < len(members):
            members = np.sort(members)
            chosen[members[spread(np.asarray(vectors[members]), int(quota[c]), seed)]] = True
        else:
            chosen[members[: quota[c]]] = True
    return chosen
