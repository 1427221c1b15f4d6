"""The cluster report: ``report.html`` (self-contained, opens offline) and ``clusters.png``.

The map is PCA to 50 dimensions, then t-SNE (or UMAP when umap-learn is installed) on a
sample; kept records are dots coloured by cluster, dropped ones grey crosses. The page also
lists each cluster's size, what was dropped from it, its top TF-IDF terms and three
example records (the nearest to the centroid).
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dataprep.io.atomic import atomic_write_text


@dataclass
class ClusterReport:
    """What the report shows; filled by the cluster stage."""

    k: int
    sizes: np.ndarray
    kept: np.ndarray
    dropped: dict[str, np.ndarray]
    #: The map sample: vectors, their cluster and whether they were kept.
    vectors: np.ndarray
    labels: np.ndarray
    kept_mask: np.ndarray
    #: Texts (a sample) and their clusters, for the TF-IDF terms.
    texts: list[str] = field(default_factory=list)
    text_labels: list[int] = field(default_factory=list)
    #: Up to three example texts per cluster.
    examples: dict[int, list[str]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    seed: int = 0


def project_2d(vectors: np.ndarray, seed: int = 0) -> tuple[np.ndarray, str]:
    """2-D coordinates for the map and the name of the method used."""
    from sklearn.decomposition import PCA

    n = len(vectors)
    if n < 3:
        return np.zeros((n, 2)), "none"
    reduced = PCA(n_components=min(50, n - 1, vectors.shape[1]), random_state=seed).fit_transform(vectors)
    if n < 6:
        return reduced[:, :2] if reduced.shape[1] >= 2 else np.c_[reduced, np.zeros(n)], "PCA"
    try:
        import umap  # type: ignore[import-not-found]

        return umap.UMAP(n_components=2, random_state=seed).fit_transform(reduced), "PCA + UMAP"
    except ImportError:
        from sklearn.manifold import TSNE
        from threadpoolctl import threadpool_limits

        perplexity = float(min(30.0, (n - 1) / 3))
        tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed, metric="cosine", max_iter=500)
        # One thread: t-SNE's OpenMP loops ran 10x slower, not faster, on a busy 2-core machine.
        with threadpool_limits(1):
            return tsne.fit_transform(reduced), "PCA + t-SNE"


def top_terms(texts: list[str], labels: list[int], k: int, count: int = 8) -> dict[int, list[str]]:
    """The terms with the highest mean TF-IDF weight in each cluster."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    if len(texts) < 2:
        return {}
    try:
        matrix = TfidfVectorizer(stop_words="english", max_features=20_000, sublinear_tf=True).fit(texts)
    except ValueError:  # nothing but stop words
        return {}
    weights = matrix.transform(texts)
    vocab = matrix.get_feature_names_out()
    labels_arr = np.asarray(labels)
    terms: dict[int, list[str]] = {}
    for c in range(k):
        rows = np.flatnonzero(labels_arr == c)
        if len(rows):
            mean = np.asarray(weights[rows].mean(0)).ravel()
            best = np.argsort(-mean, kind="stable")[:count]
            terms[c] = [str(vocab[i]) for i in best if mean[i] > 0]
    return terms


def _colours(k: int) -> np.ndarray:
    import matplotlib

    if k <= 10:
        return matplotlib.colormaps["tab10"](np.arange(k))
    if k <= 20:
        return matplotlib.colormaps["tab20"](np.arange(k))
    return matplotlib.colormaps["turbo"](np.linspace(0, 1, k))


def draw_map(report: ClusterReport, path: Path) -> str:
    """Write the map to ``path`` (PNG) and return the projection's name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    coords, method = project_2d(report.vectors, report.seed)
    colours = _colours(report.k)
    fig, ax = plt.subplots(figsize=(9, 7), dpi=110)
    kept, labels = report.kept_mask, report.labels
    if (~kept).any():
        ax.scatter(coords[~kept, 0], coords[~kept, 1], marker="x", s=14, c="#9a9a9a", linewidths=0.8, label="dropped")
    ax.scatter(coords[kept, 0], coords[kept, 1], s=16, c=colours[labels[kept]], edgecolors="none")
    ax.scatter([], [], s=16, c="#555555", label="kept (colour: cluster)")
    for c in np.unique(labels):
        centre = np.median(coords[labels == c], axis=0)
        ax.annotate(str(c), centre, ha="center", va="center", fontsize=9, weight="bold", color="black")
    ax.set_title(f"{len(labels):,} records (sample), {report.k} clusters - {method}")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(loc="upper right", fontsize=8, markerscale=1.5)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return method


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def write_report(report: ClusterReport, folder: Path) -> Path:
    """Write ``clusters.png`` and ``report.html`` into ``folder``; returns the HTML path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / "clusters.png"
    method = draw_map(report, png)
    terms = top_terms(report.texts, report.text_labels, report.k)
    image = base64.b64encode(png.read_bytes()).decode("ascii")
    reasons = sorted(report.dropped)
    rows = []
    colours = _colours(report.k)
    for c in np.argsort(-report.sizes, kind="stable"):
        swatch = "#" + "".join(f"{int(255 * v):02x}" for v in colours[c][:3])
        examples = "".join(f"<li>{html.escape(_short(t))}</li>" for t in report.examples.get(int(c), []))
        dropped = "".join(f"<td>{int(report.dropped[r][c])}</td>" for r in reasons)
        rows.append(
            f'<tr><td><span class="sw" style="background:{swatch}"></span>{c}</td>'
            f"<td>{int(report.sizes[c])}</td><td>{int(report.kept[c])}</td>{dropped}"
            f"<td>{html.escape(', '.join(terms.get(int(c), [])))}</td><td><ol>{examples}</ol></td></tr>"
        )
    settings = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in report.settings.items()
    )
    heads = "".join(f"<th>dropped: {html.escape(r)}</th>" for r in reasons)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dataprep cluster report</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ddd; padding: 4px 8px; vertical-align: top; text-align: left; }}
th {{ background: #f4f4f4; }}
.sw {{ display: inline-block; width: 10px; height: 10px; margin-right: 6px; border-radius: 2px; }}
ol {{ margin: 0; padding-left: 1.2em; }} img {{ max-width: 100%; border: 1px solid #ddd; }}
</style></head><body>
<h1>Clusters</h1>
<table>{settings}<tr><th>map</th><td>{html.escape(method)}, {len(report.labels):,} sampled records;
dots are kept records coloured by cluster, grey crosses were dropped</td></tr></table>
<img alt="2-D map of the clusters" src="data:image/png;base64,{image}">
<h2>Clusters by size</h2>
<table><tr><th>cluster</th><th>records</th><th>kept</th>{heads}<th>top TF-IDF terms</th>
<th>examples (nearest the centroid)</th></tr>
{"".join(rows)}
</table></body></html>
"""
    target = folder / "report.html"
    atomic_write_text(target, page)
    return target
