"""k-means in torch: greedy k-means++ seeding, Lloyd iterations, blockwise assignment.

torch rather than faiss, by measurement (benchmarks/bench_cluster.py, 100k x 384, k=100, 20
iterations, on a 2-core AMD EPYC with AVX-512 BF16): 1.1-1.4 s against faiss's 1.6 s. Two
things make it so: on a CPU with bfloat16 instructions the nearest centroid is found with a
bfloat16 product and a float32 check of the near-ties (:func:`_nearest_screened`, the same
labels as float32), and after the first iterations only the points that changed cluster are
moved between the clusters' sums (:func:`_update_sums`). torch also runs on a GPU when there
is one and takes our k-means++ seeding. ``engine="faiss"`` is kept for comparison. Fitting
(:func:`fit_kmeans`) is kept apart from assigning (:func:`assign`): assignment is a pure
function of a block of vectors and the centroids, so it streams over any number of records,
in any executor.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger("dataprep")

#: Elements of one (rows x k) distance block: 8M floats, 32 MB.
BLOCK_ELEMENTS = 1 << 23
#: Below this many (rows x k) distances, faiss's and OpenMP's start-up costs more than the work
#: (measured 30 ms a fit in faiss against a few ms in one torch thread).
SMALL = 1 << 20
#: How the last fit went (iterations run), for benchmarks and logs.
LAST_FIT: dict[str, int] = {}


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


def _augment(x: torch.Tensor) -> torch.Tensor:
    """``[x, 1]``: with :func:`_augment_centroids`, one matrix product gives ``||c||^2 - 2 x.c``."""
    return torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype, device=x.device)], 1)


def _augment_centroids(centroids: torch.Tensor) -> torch.Tensor:
    return torch.cat([-2 * centroids, _sq_norms(centroids)[:, None]], 1)


def _nearest_augmented(x_aug: torch.Tensor, c_aug: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest centroid of each row and ``||x - c||^2 - ||x||^2`` (the part that depends on c).

    The whole update fits in one GEMM per block (no separate scaling or broadcast add), and
    large blocks keep the number of parallel regions low; both measured faster than smaller
    blocks or torch.cdist on a 2-core CPU.
    """
    rows = _block_rows(len(c_aug))
    labels = torch.empty(len(x_aug), dtype=torch.long, device=x_aug.device)
    partial = torch.empty(len(x_aug), dtype=x_aug.dtype, device=x_aug.device)
    for start in range(0, len(x_aug), rows):
        best, index = torch.mm(x_aug[start : start + rows], c_aug.T).min(1)
        labels[start : start + rows] = index
        partial[start : start + rows] = best
    return labels, partial


def _block_rows(k: int) -> int:
    return max(4096, min(131_072, BLOCK_ELEMENTS // max(1, k)))


Screen = tuple[torch.Tensor, torch.Tensor]


def _labels(x_aug: torch.Tensor, c_aug: torch.Tensor, screen: Screen | None) -> torch.Tensor:
    """The labels of :func:`_nearest_augmented`; with a ``screen`` (:func:`_bf16_screen`), screened in bfloat16."""
    if screen is None:
        return _nearest_augmented(x_aug, c_aug)[0]
    x_bf16, x_norm = screen
    rows = _block_rows(len(c_aug))
    c_bf16 = c_aug.to(torch.bfloat16)
    labels = torch.empty(len(x_aug), dtype=torch.long, device=x_aug.device)
    for start in range(0, len(x_aug), rows):
        block = slice(start, start + rows)
        labels[block] = _nearest_screened(x_aug[block], x_bf16[block], x_norm[block], c_aug, c_bf16)
    return labels


#: bfloat16's unit roundoff (8 significant bits, rounding to nearest).
_BF16_U = 2.0**-9


def _bf16_screen(x_aug: torch.Tensor, k: int) -> Screen | None:
    """``x_aug`` in bfloat16 and the rows' norms, when screening pays: on a CPU with AVX-512
    BF16 (or AMX), for a problem large enough to need threads; None otherwise.

    Measured on a 2-core AMD EPYC with AVX-512 BF16: 100k x 385 by 385 x 100 takes 0.025 s in
    bfloat16 against 0.074 s in float32 (torch's MKL). Without the instructions, bfloat16
    products are emulated and slower than float32.
    """
    if x_aug.device.type != "cpu" or len(x_aug) * k < SMALL or not _cpu_has_bf16():
        return None
    return _screen_of(x_aug)


def _screen_of(x_aug: torch.Tensor) -> Screen:
    return x_aug.to(torch.bfloat16), torch.linalg.vector_norm(x_aug[:, :-1], dim=1)


@functools.cache
def _cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def _nearest_screened(
    x_aug: torch.Tensor, x_bf16: torch.Tensor, x_norm: torch.Tensor, c_aug: torch.Tensor, c_bf16: torch.Tensor
) -> torch.Tensor:
    """The float32 nearest centroid of each row, found with a bfloat16 product and a bound.

    Scores ``s_j = ||c_j||^2 - 2 x.c_j`` are computed from bfloat16 inputs with float32
    accumulation and a bfloat16 result. Rounding both inputs and the result to bfloat16, and
    adding 385 float32 terms, moves a score by at most about ``3u (2 ||x|| c_max + c_max^2)``
    (u = 2^-9; ``|s_j|`` is bounded by the same sum): ``bound`` below takes 4u for margin.
    Where the best score beats the second best by more than twice that, the best is the
    nearest centroid in exact arithmetic; the other rows (a few percent) are scored again in
    float32. The labels are those of the float32 product, only faster.
    """
    c_max = float(_sq_norms(c_aug[:, :-1]).max().sqrt()) / 2  # c_aug holds -2 c
    bound = 4 * _BF16_U * (2 * x_norm * c_max + c_max * c_max)
    scores = torch.mm(x_bf16, c_bf16.T)
    first, labels = scores.min(1)
    if len(c_aug) < 2:
        return labels
    # The best of each row set aside (a flat index_fill_: scatter_ took 18 ms a block, this 0.2).
    k = scores.shape[1]
    scores.view(-1).index_fill_(0, torch.arange(len(scores), device=scores.device) * k + labels, float("inf"))
    second = scores.min(1).values
    unsure = torch.nonzero(second.float() - first.float() <= 2 * bound).flatten()
    if len(unsure):
        labels[unsure] = torch.mm(x_aug[unsure], c_aug.T).min(1).indices
    return labels


def _nearest(x: torch.Tensor, centroids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of the nearest centroid of each row and the squared Euclidean distance to it."""
    labels, partial = _nearest_augmented(_augment(x), _augment_centroids(centroids))
    return labels, (partial + _sq_norms(x)).clamp_min_(0)


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Seeding is a few hundred tiny operations; with OpenMP threads on a busy CPU each one
    waits for a core (measured 6x slower with 2 threads than with 1)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def kmeans_plusplus(x: np.ndarray, k: int, rng: np.random.Generator, sample: int | None = None) -> np.ndarray:
    """Greedy k-means++ seeding (as scikit-learn does: 2 + log k candidates per step).

    Runs on at most ``sample`` rows (default ``max(4000, 40 k)``): seeding is sequential in
    k, and 40 rows per cluster already hold every cluster worth seeding.
    """
    with _one_thread():
        return _kmeans_plusplus(x, k, rng, sample)


def _kmeans_plusplus(x: np.ndarray, k: int, rng: np.random.Generator, sample: int | None) -> np.ndarray:
    n = len(x)
    limit = sample or max(4000, 40 * k)
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
    engine: str = "auto",
) -> np.ndarray:
    """Fit ``k`` centroids to the rows of ``x`` (float32) and return them as a ``(k, dim)`` array.

    Stops after ``max_iter`` iterations, when no label changes, or when the centroids move
    less than ``tol`` times the data's mean variance (scikit-learn's rule); a negative ``tol``
    runs all ``max_iter`` iterations (for timing against a fixed count). ``engine="faiss"``
    runs the iterations in faiss instead (CPU, for comparison; it stops when its error no
    longer changes).
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
    small = len(x) * k < SMALL
    if engine == "faiss":
        return _fit_faiss(x, start, max_iter, seed, fixed=tol < 0)
    with _one_thread() if small and dev.type == "cpu" else contextlib.nullcontext():
        return _lloyd(x, k, start, dev, max_iter, tol)


def _lloyd(x: np.ndarray, k: int, start: np.ndarray, dev: torch.device, max_iter: int, tol: float) -> np.ndarray:
    data = torch.from_numpy(x).to(dev)
    centroids = torch.from_numpy(np.ascontiguousarray(start, dtype=np.float32)).to(dev)
    threshold = tol * float(data.var(0).mean()) if tol > 0 else -1.0
    data_aug = _augment(data)
    screen = _bf16_screen(data_aug, k)
    previous: torch.Tensor | None = None
    sums = torch.zeros(k, data.shape[1], dtype=torch.float64, device=dev)
    counts = torch.zeros(k, dtype=torch.long, device=dev)
    for iteration in range(max_iter):
        c_aug = _augment_centroids(centroids)
        labels = _labels(data_aug, c_aug, screen)
        if previous is None:
            moved = None
        else:
            moved = torch.nonzero(labels != previous).flatten()
            if tol >= 0 and not len(moved):
                log.debug("k-means converged (no label changed) after %d iterations", iteration)
                break
        _update_sums(sums, counts, data, labels, previous, moved)
        previous = labels
        new = (sums / counts.clamp_min(1)[:, None]).to(data.dtype)
        empty = torch.nonzero(counts == 0).flatten()
        if len(empty):
            _, partial = _nearest_augmented(data_aug, c_aug)
            dists = partial + _sq_norms(data)
            far = torch.argsort(dists, descending=True, stable=True)[: len(empty)]
            new[empty] = data[far]
        shift = float(((new - centroids) ** 2).sum())
        centroids = new
        if shift <= threshold:
            log.debug("k-means converged after %d iterations", iteration + 1)
            break
    LAST_FIT["iterations"] = iteration + 1
    return centroids.cpu().numpy()


def _update_sums(
    sums: torch.Tensor,
    counts: torch.Tensor,
    data: torch.Tensor,
    labels: torch.Tensor,
    previous: torch.Tensor | None,
    moved: torch.Tensor | None,
) -> None:
    """Each cluster's sum of vectors (float64) and count, for ``labels``, in place.

    After the first iterations only a few percent of the points change cluster, so only those
    are moved from their old cluster's sum to their new one's (summing all 100k x 384 took
    15 ms an iteration, a third of one). When many moved, or on the first call, the sums are
    taken afresh.
    """
    if previous is None or moved is None or len(moved) > len(data) // 4:
        sums.copy_(torch.zeros(sums.shape, dtype=data.dtype, device=data.device).index_add_(0, labels, data))
        counts.copy_(torch.bincount(labels, minlength=len(counts)))
        return
    if not len(moved):
        return
    rows = data[moved].to(sums.dtype)
    sums.index_add_(0, labels[moved], rows).index_add_(0, previous[moved], rows, alpha=-1)
    counts.index_add_(0, labels[moved], torch.ones_like(moved)).index_add_(0, previous[moved], -torch.ones_like(moved))


def _fit_faiss(x: np.ndarray, start: np.ndarray, max_iter: int, seed: int, fixed: bool) -> np.ndarray:
    import faiss

    k = len(start)
    # All points (faiss would subsample to 256 per centroid), k-means++ start, no warnings for small k.
    km = faiss.Kmeans(
        x.shape[1], k, niter=max_iter, seed=seed, max_points_per_centroid=len(x), min_points_per_centroid=1
    )
    if fixed:  # faiss stops once its float32 objective stops falling; -1 never stops
        km.cp.early_stop_threshold = -1.0
    km.train(x, init_centroids=np.ascontiguousarray(start, dtype=np.float32))
    LAST_FIT["iterations"] = len(km.iteration_stats)
    return np.array(km.centroids, dtype=np.float32)


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
    with _one_thread() if len(x) * len(centroids) < SMALL and dev.type == "cpu" else contextlib.nullcontext():
        return _assign(x, centroids, dev)


def _assign(x: np.ndarray, centroids: np.ndarray, dev: torch.device) -> tuple[np.ndarray, np.ndarray]:
    data = torch.from_numpy(_writable(x)).to(dev)
    cents = torch.from_numpy(np.ascontiguousarray(centroids, dtype=np.float32)).to(dev)
    data_aug = _augment(data)
    labels = _labels(data_aug, _augment_centroids(cents), _bf16_screen(data_aug, len(cents)))
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
