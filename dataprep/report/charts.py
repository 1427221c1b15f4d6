"""The report's charts: matplotlib figures as inline PNG data URIs (the page loads nothing)."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

#: Colours of the page's CSS, so charts and tables read as one.
KEPT, DROPPED, SPLIT_COLOURS = "#2b7bba", "#d9534f", ("#2b7bba", "#e08a1e", "#3a9e5c")


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def file_uri(path: Path) -> str | None:
    """An existing PNG (the cluster map, the learning curves) as a data URI."""
    return data_uri(path.read_bytes()) if path.is_file() else None


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False})
    return plt


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    # No date or software version in the file: the same run gives the same page.
    fig.savefig(buffer, format="png", metadata={"Software": None})
    _pyplot().close(fig)
    return data_uri(buffer.getvalue())


def funnel(rows: list[tuple[str, int, int]]) -> str:
    """Records per stage: one bar per stage, what it kept and what it dropped, first stage on top."""
    plt = _pyplot()
    height = 0.9 + 0.32 * len(rows)
    fig, ax = plt.subplots(figsize=(7.2, height), dpi=110)
    labels = [label for label, _, _ in rows]
    kept = [out for _, _, out in rows]
    dropped = [max(0, n_in - out) for _, n_in, out in rows]
    y = list(range(len(rows)))[::-1]
    ax.barh(y, kept, color=KEPT, label="kept")
    ax.barh(y, dropped, left=kept, color=DROPPED, label="dropped")
    for yy, k, d in zip(y, kept, dropped):
        ax.text(k + d, yy, f" {k:,}" + (f" (-{d:,})" if d else ""), va="center", fontsize=8)
    ax.set_yticks(y, labels)
    ax.set_xlabel("records")
    ax.set_xlim(0, max([k + d for k, d in zip(kept, dropped)] + [1]) * 1.18)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    # Margins from the longest label, not tight_layout: that draws the figure once more.
    width_in = 7.2
    left = min(0.45, (0.075 * max(len(label) for label in labels) + 0.25) / width_in)
    fig.subplots_adjust(left=left, right=0.97, top=1 - 0.15 / height, bottom=0.55 / height)
    return _png(fig)


def histograms(series: dict[str, list[int]], xlabel: str) -> str | None:
    """Length histograms, one colour per split, on a shared log-spaced axis."""
    import numpy as np

    values = [v for vs in series.values() for v in vs if v > 0]
    if not values:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.4, 2.6), dpi=110)
    low, high = max(1, min(values)), max(values)
    # Log-spaced bins only where lengths span orders of magnitude; minor ticks unlabelled
    # (labelling them costs more than the whole chart).
    wide = high / low > 20
    bins = np.unique((np.geomspace if wide else np.linspace)(low, max(high, low + 1), 25).round().astype(int))
    for (name, vs), colour in zip(series.items(), SPLIT_COLOURS):
        ax.hist([v for v in vs if v > 0], bins=bins, alpha=0.65, color=colour, label=f"{name} ({len(vs):,})")
    if wide:
        from matplotlib.ticker import NullFormatter, ScalarFormatter

        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(xlabel)
    ax.set_ylabel("records")
    ax.legend(fontsize=8, frameon=False)
    fig.subplots_adjust(left=0.12, right=0.97, top=0.95, bottom=0.2)
    return _png(fig)
