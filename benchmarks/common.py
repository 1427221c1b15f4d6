"""Shared plumbing: timing and peak memory of each side, the results table, results.json."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dataprep.memory import peak_mb, reset_peak

RESULTS = Path(__file__).parent / "results.json"

#: The table's footnote: what the ratio and the two peak columns mean.
FOOTNOTE = (
    "ratio: our records/s over the baseline's (above 1 means ours is faster). Each side's time is its best run;",
    "  the runs alternate ours and the baseline, so load from other work on the machine lands on both.",
    "peak MB / base peak MB: the process's resident high-water mark (VmHWM) while that side ran, reset before",
    "  each of its runs (freed memory handed back first), largest over its runs. Each benchmark runs in its own",
    "  process, but the two sides of a line share one, so both peaks include what they share (interpreter,",
    "  imports, the corpus in memory, loaded models): the difference between the two columns is what differs.",
    "  Without /proc/self/clear_refs (macOS) a peak is the process's peak so far.",
)


@dataclass
class Side:
    """One side of a comparison, over its rounds: the best time and the largest peak."""

    seconds: float = math.inf
    peak_mb: float = 0.0

    def run(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` once, keep its time if it is the best so far and its peak if the largest."""
        seconds, peak, value = measure(fn)
        self.seconds = min(self.seconds, seconds)
        self.peak_mb = max(self.peak_mb, peak)
        return value


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
    #: Peak resident memory (MB) while our side ran, and while the baseline ran (see FOOTNOTE).
    peak_mb: float
    baseline_peak_mb: float

    @classmethod
    def of(cls, bench: str, what: str, baseline: str, records: int, megabytes: float, ours: Side, theirs: Side):
        return cls(
            bench=bench,
            what=what,
            baseline=baseline,
            records=records,
            megabytes=round(megabytes, 2),
            seconds=ours.seconds,
            baseline_seconds=theirs.seconds,
            ratio=round(theirs.seconds / ours.seconds, 3),
            peak_mb=round(ours.peak_mb, 1),
            baseline_peak_mb=round(theirs.peak_mb, 1),
        )

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds else float("nan")

    @property
    def baseline_records_per_second(self) -> float:
        return self.records / self.baseline_seconds if self.baseline_seconds else float("nan")

    @property
    def mb_per_second(self) -> float:
        return self.megabytes / self.seconds if self.seconds else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "records_per_second": self.records_per_second,
            "baseline_records_per_second": self.baseline_records_per_second,
            "mb_per_second": self.mb_per_second,
        }


_LIBC = ctypes.CDLL(ctypes.util.find_library("c")) if sys.platform.startswith("linux") else None
#: The largest peak read so far in this process, across the resets (see process_peak_mb).
_PROCESS_PEAK = {"mb": 0.0}


def _release_free_memory() -> None:
    """Hand freed heap back to the OS, so that one side's leftovers do not count in the next side's peak."""
    gc.collect()
    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()
    if _LIBC is not None and hasattr(_LIBC, "malloc_trim"):
        _LIBC.malloc_trim(0)


def measure(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Run ``fn`` once: its wall time (seconds), its peak resident memory (MB) and its return value.

    The kernel's high-water mark is reset first (on Linux), so the peak is this run's, on top of
    what the process already holds. Stages reset it again when they start; that only leaves out
    the few lines between here and there.
    """
    _PROCESS_PEAK["mb"] = max(_PROCESS_PEAK["mb"], peak_mb())
    _release_free_memory()
    reset_peak()
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    peak = peak_mb()
    _PROCESS_PEAK["mb"] = max(_PROCESS_PEAK["mb"], peak)
    return seconds, peak, value


def process_peak_mb() -> float:
    """The whole process's peak so far (corpus generation included), despite the resets in measure()."""
    return max(_PROCESS_PEAK["mb"], peak_mb())


def best_of(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """The fastest of ``repeat`` runs (seconds) and the last return value."""
    side = Side()
    value = None
    for _ in range(repeat):
        value = side.run(fn)
    return side.seconds, value


def compare(
    bench: str,
    what: str,
    baseline: str,
    records: int,
    megabytes: float,
    ours: Callable[[], Any],
    theirs: Callable[[], Any] | Side,
    repeat: int = 3,
) -> Result:
    """Time ``ours`` and ``theirs`` in alternating rounds (best of ``repeat`` each) and build a Result.

    Alternating keeps a burst of load on a shared machine from landing on one side only.
    ``theirs`` may be a Side already measured, shared by several lines; then only ours runs.
    """
    our_side = Side()
    if isinstance(theirs, Side):
        their_side = theirs
        for _ in range(repeat):
            our_side.run(ours)
    else:
        their_side = Side()
        for _ in range(repeat):
            their_side.run(theirs)
            our_side.run(ours)
    return Result.of(bench, what, baseline, records, megabytes, our_side, their_side)


def format_table(results: list[Result]) -> str:
    header = (
        f"{'stage':<9} {'what':<30} {'records/s':>10} {'MB/s':>6}  {'baseline':<31} {'base rec/s':>10} "
        f"{'ratio':>7} {'peak MB':>7} {'base peak MB':>12}"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        lines.append(
            f"{r.bench:<9} {r.what:<30} {r.records_per_second:>10,.0f} {_mb(r.mb_per_second):>6}  "
            f"{r.baseline:<31} {r.baseline_records_per_second:>10,.0f} {r.ratio:>6.2f}x "
            f"{r.peak_mb:>7,.0f} {r.baseline_peak_mb:>12,.0f}"
        )
    lines.append("")
    lines.extend(FOOTNOTE)
    return "\n".join(lines)


def _mb(rate: float) -> str:
    """MB/s with three significant figures, so that the embed lines' 0.01 MB/s does not show as 0.0."""
    return f"{rate:.3g}" if rate < 100 else f"{rate:.0f}"


def print_table(results: list[Result]) -> None:
    print(format_table(results))


def save(benches: dict[str, dict[str, Any]], run: dict[str, Any], fresh: bool, path: Path = RESULTS) -> dict[str, Any]:
    """Write results.json: ``run`` describes this run, ``benches`` maps a bench name to its entry.

    A full run (``fresh``) writes a new file. Otherwise the named benches replace their old
    entries whole, so a renamed line does not linger, and the other benches are kept.
    """
    document: dict[str, Any] = {"run": run, "benches": {}}
    if not fresh and path.exists():
        try:
            previous = json.loads(path.read_text())
        except json.JSONDecodeError:
            previous = {}
        if isinstance(previous.get("benches"), dict):
            document["benches"] = previous["benches"]
    document["benches"].update(benches)
    document["benches"] = dict(sorted(document["benches"].items()))
    path.write_text(json.dumps(document, indent=2) + "\n")
    return document
