"""cluster's k-means (torch, k-means++) against ``faiss.Kmeans`` and scikit-learn ``KMeans``.

``records`` unit vectors of 384 dimensions drawn around 100 centres, k=100, at most 20 Lloyd
iterations for everyone, each stopping early only once converged (no label changes; faiss:
its error unchanged; tol=0 otherwise), faiss on all points (no subsampling). scikit-learn
runs once (it takes a minute); ours alternates with faiss (``compare``), best of five each.
Iterations differ with the seeding, so seconds per iteration are printed too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.metrics import normalized_mutual_info_score

from benchmarks.common import Result, compare
from dataprep.stages.diversity.kmeans import LAST_FIT, assign, fit_kmeans, inertia

DIM, K, ITERATIONS = 384, 100, 20


def vectors(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(K, DIM)).astype(np.float32)
    truth = rng.integers(0, K, n)
    x = centres[truth] + rng.normal(scale=1.5, size=(n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True), truth


def run(records: int, workdir: Path) -> list[Result]:
    import faiss
    from sklearn.cluster import KMeans

    x, truth = vectors(records)
    megabytes = x.nbytes / 1e6
    fitted: dict[str, np.ndarray] = {}
    iterations: dict[str, int] = {}
    cpu: dict[str, float] = {}

    def cpu_timed(name: str, fn: Callable[[], None]) -> Callable[[], None]:
        """Also keep the least CPU time (all threads): steadier than wall time on a shared machine."""

        def wrapped() -> None:
            start = time.process_time()
            fn()
            cpu[name] = min(cpu.get(name, float("inf")), time.process_time() - start)

        return wrapped

    def ours() -> None:
        fitted["ours"] = fit_kmeans(x, K, seed=0, max_iter=ITERATIONS, tol=0)
        iterations["ours"] = LAST_FIT["iterations"]

    def with_faiss() -> None:
        km = faiss.Kmeans(DIM, K, niter=ITERATIONS, seed=1, max_points_per_centroid=len(x), verbose=False)
        km.train(x)
        fitted["faiss"] = km.centroids
        iterations["faiss"] = len(km.iteration_stats)

    def with_sklearn() -> None:
        km = KMeans(K, init="k-means++", n_init=1, max_iter=ITERATIONS, tol=0, random_state=0).fit(x)
        fitted["sklearn"] = km.cluster_centers_.astype(np.float32)
        iterations["sklearn"] = int(km.n_iter_)

    faiss_line = compare(
        "cluster",
        "k-means k=100 vs faiss",
        "faiss.Kmeans all points",
        records,
        megabytes,
        cpu_timed("ours", ours),
        cpu_timed("faiss", with_faiss),
        repeat=5,
    )
    sklearn_line = compare(
        "cluster", "k-means k=100 vs sklearn", "sklearn KMeans k-means++", records, megabytes, ours, with_sklearn, 1
    )
    for name, centroids in fitted.items():
        nmi = normalized_mutual_info_score(truth, assign(x, centroids)[0])
        print(
            f"  {name}: {iterations[name]} iterations, NMI to the true centres {nmi:.4f}, "
            f"inertia {inertia(x, centroids):,.1f}",
            flush=True,
        )
    ours_s, faiss_s = faiss_line.seconds, faiss_line.baseline_seconds
    print(
        f"  wall, best of 5: ours {ours_s:.2f}s, faiss {faiss_s:.2f}s = {ours_s / faiss_s:.2f}x faiss's time; "
        f"per iteration ours {ours_s / iterations['ours']:.3f}s, faiss {faiss_s / iterations['faiss']:.3f}s "
        f"({ours_s / iterations['ours'] / (faiss_s / iterations['faiss']):.2f}x)",
        flush=True,
    )
    print(
        f"  CPU seconds, least of 5 (all threads): ours {cpu['ours']:.2f}, faiss {cpu['faiss']:.2f} "
        f"({cpu['ours'] / cpu['faiss']:.2f}x); sklearn {sklearn_line.baseline_seconds:.2f}s wall (once): "
        f"ours is {sklearn_line.ratio:.1f}x faster",
        flush=True,
    )
    return [faiss_line, sklearn_line]
