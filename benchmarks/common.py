"""Shared plumbing: timing, the results table, results.json."""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results.json"


@dataclass
class Result:
    """One benchmark line: our stage against its baseline, on the same data in the same process."""

    bench: str
    what: str
    baseline: str
    records: int
    megabytes: float
    seconds: float
    baseline_seconds: float
    #: Our throughput divided by the baseline's (above 1 means faster).
    ratio: float
    peak_rss_mb: float

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds else float("nan")

    @property
    def mb_per_second(self) -> float:
        return self.megabytes / self.seconds if self.seconds else float("nan")


def best_of(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """The fastest of ``repeat`` runs (seconds) and the last return value."""
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def compare(
    bench: str,
    what: str,
    baseline: str,
    records: int,
    megabytes: float,
    ours: Callable[[], Any],
    theirs: Callable[[], Any],
    repeat: int = 3,
) -> Result:
    """Time ``ours`` and ``theirs`` in alternating rounds (best of ``repeat`` each) and build a Result.

    Alternating keeps a burst of load on a shared machine from landing on one side only.
    """
    base_seconds = our_seconds = float("inf")
    for _ in range(repeat):
        base_seconds = min(base_seconds, best_of(theirs, 1)[0])
        our_seconds = min(our_seconds, best_of(ours, 1)[0])
    return Result(
        bench=bench,
        what=what,
        baseline=baseline,
        records=records,
        megabytes=round(megabytes, 2),
        seconds=our_seconds,
        baseline_seconds=base_seconds,
        ratio=round(base_seconds / our_seconds, 3),
        peak_rss_mb=round(peak_rss_mb(), 1),
    )


def print_table(results: list[Result]) -> None:
    header = (
        f"{'bench':<10} {'what':<30} {'records/s':>11} {'MB/s':>7}  {'baseline':<30} {'base rec/s':>11} "
        f"{'ratio':>7} {'peak MB':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        base_rate = r.records / r.baseline_seconds if r.baseline_seconds else float("nan")
        print(
            f"{r.bench:<10} {r.what:<30} {r.records_per_second:>11,.0f} {r.mb_per_second:>7.1f}  "
            f"{r.baseline:<30} {base_rate:>11,.0f} {r.ratio:>6.2f}x {r.peak_rss_mb:>8.0f}"
        )


def save(results: list[Result], path: Path = RESULTS) -> None:
    existing: dict[str, Any] = {}
    if path.exists():
        existing = json.loads(path.read_text())
    for r in results:
        existing[f"{r.bench}/{r.what}"] = {**asdict(r), "records_per_second": r.records_per_second}
    path.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")
