"""The quality figures of the diversity stages on the labelled topic fixture (printed, not asserted).

Run from the repository root: ``PYTHONPATH=.:tests python tests/diversity_figures.py``. The
tests assert the bars; this prints the numbers behind them.
"""

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score as nmi
from topics import CACHE_DIR, fixture_vectors

from dataprep.stages.diversity.encoder import load_encoder
from dataprep.stages.diversity.kmeans import assign, choose_k, fit_kmeans
from dataprep.stages.diversity.select import select
from dataprep.stages.diversity.semdedup import semantic_duplicates


def coverage(x: np.ndarray, chosen: np.ndarray) -> float:
    return float((1 - (x @ x[chosen].T).max(1)).mean())


def main() -> None:
    topics, texts, v, n = fixture_vectors()
    x = v[:n]
    print(f"fixture: {n} originals on 8 topics, {len(v) - n} near-copies of the first 60")
    for seed in range(3):
        ours = nmi(topics, assign(x, fit_kmeans(x, 8, seed=seed))[0])
        theirs = nmi(topics, KMeans(8, random_state=seed).fit(x).labels_)
        print(f"seed {seed}: NMI ours {ours:.4f}, sklearn KMeans {theirs:.4f}")
    print("k auto:", choose_k(x, seed=0)[0])
    labels, distances = assign(x, fit_kmeans(x, 8, seed=0))
    everyone = np.ones(n, bool)
    for strategy in ("balanced", "proportional"):
        for within in ("spread", "nearest", "farthest", "random"):
            chosen = select(labels, distances, everyone, n // 4, strategy=strategy, within=within, seed=0, vectors=x)
            print(f"coverage {strategy}/{within} 25%: {coverage(x, chosen):.4f}")
    draws = [coverage(x, np.random.default_rng(s).choice(n, n // 4, replace=False)) for s in range(20)]
    print(f"coverage random 25% (20 draws): mean {np.mean(draws):.4f}, best {np.min(draws):.4f}")
    all_labels, _ = assign(v, fit_kmeans(v, 8, seed=0))
    for threshold in (0.9, 0.95, 0.98):
        copy_of, _ = semantic_duplicates(v, all_labels, np.ones(len(v), bool), threshold)
        kinds = [(copy_of[n + i :: 3] >= 0).mean() for i in range(3)]
        print(
            f"semdedup {threshold}: copies removed {(copy_of[n:] >= 0).mean():.3f} (case {kinds[0]:.3f}, "
            f"punctuation {kinds[1]:.3f}, one word {kinds[2]:.3f}); originals removed {(copy_of[:n] >= 0).mean():.3f}"
        )
    exact = load_encoder(backend="torch", cache_dir=CACHE_DIR).encode(texts)
    cosine = (exact * v).sum(1)
    refit = nmi(assign(exact, fit_kmeans(exact, 8, seed=0))[0], assign(v, fit_kmeans(v, 8, seed=0))[0])
    centroids = fit_kmeans(exact, 8, seed=0)
    same = nmi(assign(exact, centroids)[0], assign(v, centroids)[0])
    print(
        f"int8 vs float32: cosine min {cosine.min():.4f} mean {cosine.mean():.4f}; "
        f"NMI k=8 refit {refit:.4f}, same centroids {same:.4f}"
    )


if __name__ == "__main__":
    main()
