"""Peak memory of this process, per stage.

On Linux the kernel's high-water mark (``VmHWM``) can be reset by writing ``5`` to
``/proc/self/clear_refs``, so each stage reports its own peak rather than the run's.
Elsewhere the peak is ``ru_maxrss``: the process's peak so far, which only grows.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def reset_peak() -> bool:
    """Start a new peak from the current size; False where the platform cannot."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def peak_mb() -> float:
    """The peak resident memory (MB) since the last :func:`reset_peak` (or since the start)."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
