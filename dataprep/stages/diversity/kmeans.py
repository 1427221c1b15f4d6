"""k-means in torch: greedy k-means++ seeding, Lloyd iterations, blockwise assignment.

torch rather than faiss because it was measured as fast as ``faiss.Kmeans`` on the CPU
(benchmarks/bench_cluster.py), runs on a GPU when there is one, and gives k-means++
seeding, which faiss does not (it seeds at random). Fitting (:func:`fit_kmeans`) is kept
apart from assigning (:func:`assign`): assignment is a pure function of a block of
vectors and the centroids, so it streams over any number of records, in any executor.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch

log = logging.getLogger("dataprep")

#: Rows per distance block: bounds the memory of a (block x k) distance matrix.
BLOCK = 16_384


def _device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _writable(x: np.ndarray) -> np.ndarray:
    """float32, C-ordered and writable (torch refuses read-only memory maps)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    return x if x.flags.writeable else x.copy()


def _sq_norms(x: torch.Tensor) -> torch.Tensor:
    return (x * x).sum(1)


def _nearest(x: torch.Tensor, centroids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of the nearest centroid of each row and the squared Euclidean distance to it."""
    c_norms = _sq_norms(centroids)
    labels = torch.empty(len(x), dtype=torch.long, device=x.device)
    dists = torch.empty(len(x), dtype=x.dtype, device=x.device)
    for start in range(0, len(x), BLOCK):
        block = x[start : start + BLOCK]
        # ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2; ||x||^2 does not change the argmin, so add it after.
        partial = torch.addmm(c_norms[None, :], block, centroids.T, alpha=-2.0)
        best, index = partial.min(1)
        labels[start : start + BLOCK] = index
        dists[start : start + BLOCK] = (best + _sq_norms(block)).clamp_min_(0)
    return labels, dists


def kmeans_plusplus(x: np.ndarray, k: int, rng: np.random.Generator, sample: int | None = None) -> np.ndarray:
    """Greedy k-means++ seeding (as scikit-learn does: 2 + log k candidates per step).

    Runs on at most ``sample`` rows (default ``max(10000, 20 k)``): seeding is sequential in
    k, and a sample of that size already holds every cluster worth seeding.
    """
    n = len(x)
    limit = sample or max(10_000, 20 * k)
    if n > limit:
        x = x[np.sort(rng.choice(n, limit, replace=False))]
        n = limit
    data = torch.from_numpy(_writable(x))
    norms = _sq_norms(data)
    trials = 2 + int(math.log(k))
    centers = [int(rng.integers(n))]
    closest = (norms - 2 * data @ data[centers[0]] + norms[centers[0]]).clamp_min_(0).double()
    for _ in range(1, k):
        total = float(closest.sum())
        if total <= 0:  # fewer distinct points than k: repeat one, the caller drops empty clusters
            centers.append(int(rng.integers(n)))
            continue
        cumulative = torch.cumsum(closest, 0).numpy()
        picks = np.searchsorted(cumulative, rng.random(trials) * total).clip(max=n - 1)
        cand = data[picks]
        dist = (norms[None, :] - 2 * cand @ data.T + _sq_norms(cand)[:, None]).clamp_min_(0).double()
        potentials = torch.minimum(closest[None, :], dist).sum(1)
        best = int(potentials.argmin())
        centers.append(int(picks[best]))
        closest = torch.minimum(closest, dist[best])
    return x[centers].astype(np.float32, copy=True)


def fit_kmeans(
    x: np.ndarray,
    k: int,
    *,
    seed: int = 0,
    max_iter: int = 50,
    tol: float = 1e-4,
    device: str = "auto",
    init: np.ndarray | None = None,
    n_init: int = 1,
) -> np.ndarray:
    """Fit ``k`` centroids to the rows of ``x`` (float32) and return them as a ``(k, dim)`` array.

    Stops after ``max_iter`` Lloyd iterations or when the centroids move less than ``tol``
    times the data's mean variance (scikit-learn's rule); ``tol=0`` runs every iteration.
    A cluster left empty is re-seeded with the point farthest from its centroid. With
    ``n_init`` above 1, the best of that many seedings (lowest inertia) is returned.
    Deterministic for a given seed, device and thread count.
    """
    if n_init > 1:
        fits = [fit_kmeans(x, k, seed=seed + i, max_iter=max_iter, tol=tol, device=device) for i in range(n_init)]
        return min(fits, key=lambda centroids: inertia(x, centroids, device))
    x = _writable(x)
    if k < 1 or k > len(x):
        raise ValueError(f"k must be between 1 and the number of vectors ({len(x)}), got {k}")
    rng = np.random.default_rng(seed)
    start = init if init is not None else kmeans_plusplus(x, k, rng)
    dev = _device(device)
    data = torch.from_numpy(x).to(dev)
    centroids = torch.from_numpy(np.ascontiguousarray(start, dtype=np.float32)).to(dev)
    threshold = tol * float(data.var(0).mean()) if tol > 0 else -1.0
    for iteration in range(max_iter):
        labels, dists = _nearest(data, centroids)
        sums = torch.zeros_like(centroids).index_add_(0, labels, data)
        counts = torch.bincount(labels, minlength=k)
        new = sums / counts.clamp_min(1)[:, None].to(sums.dtype)
        empty = torch.nonzero(counts == 0).flatten()
        if len(empty):
            far = torch.argsort(dists, descending=True, stable=True)[: len(empty)]
            new[empty] = data[far]
        shift = float(((new - centroids) ** 2).sum())
        centroids = new
        if shift <= threshold:
            log.debug("k-means converged after %d iterations", iteration + 1)
            break
    return centroids.cpu().numpy()


def inertia(x: np.ndarray, centroids: np.ndarray, device: str = "auto") -> float:
    """Sum of squared distances from each row to its nearest centroid (what k-means minimises)."""
    dev = _device(device)
    _, dists = _nearest(torch.from_numpy(_writable(x)).to(dev), torch.from_numpy(_writable(centroids)).to(dev))
    return float(dists.double().sum())


def assign(x: np.ndarray, centroids: np.ndarray, device: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid of each row and its cosine distance to it (1 - cos), both as numpy arrays.

    For unit vectors, the centroid nearest in Euclidean distance is also the one nearest in
    cosine distance, and ranking a cluster's members by either gives the same order.
    """
    dev = _device(device)
    data = torch.from_numpy(_writable(x)).to(dev)
    cents = torch.from_numpy(np.ascontiguousarray(centroids, dtype=np.float32)).to(dev)
    labels, _ = _nearest(data, cents)
    unit = cents / _sq_norms(cents).sqrt().clamp_min(1e-12)[:, None]
    x_norm = _sq_norms(data).sqrt().clamp_min(1e-12)
    cosine = (data * unit[labels]).sum(1) / x_norm
    return labels.cpu().numpy(), (1.0 - cosine).clamp_min(0).cpu().numpy().astype(np.float32)


def k_candidates(n: int) -> list[int]:
    """The k values ``--k auto`` tries: 2 to round(sqrt(n)) (at most 100), 16 of them at most."""
    k_max = max(2, min(100, round(math.sqrt(n)), n - 1))
    if k_max <= 16:
        return list(range(2, k_max + 1))
    return sorted({int(round(v)) for v in np.geomspace(2, k_max, 16)})


def choose_k(x: np.ndarray, seed: int = 0, sample: int = 3000, device: str = "auto") -> tuple[int, dict[int, float]]:
    """``--k auto``: the candidate k with the highest mean silhouette (cosine) on a sample.

    Each candidate is fitted three times (best inertia kept): one unlucky seeding that
    merges two topics would otherwise decide the answer.

    Returns the chosen k and the silhouette of every candidate.
    """
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(seed)
    if len(x) > sample:
        x = x[np.sort(rng.choice(len(x), sample, replace=False))]
    if len(x) < 3:
        return 1, {}
    scores: dict[int, float] = {}
    for k in k_candidates(len(x)):
        labels, _ = assign(x, fit_kmeans(x, k, seed=seed, device=device, n_init=3), device)
        if len(np.unique(labels)) < 2:
            continue
        scores[k] = float(silhouette_score(x, labels, metric="cosine"))
    if not scores:
        return 1, {}
    return max(scores, key=lambda k: (scores[k], -k)), scores
