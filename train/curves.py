"""Learning curves and the guide's diagnosis: underfit, overfit or well fit.

The criteria, applied to smoothed losses:

- **overfit**: the validation loss reached a minimum and then rose (by more than
  ``rise`` relative to the minimum, over at least one later evaluation).
  The report names that step and the checkpoint nearest to it.
- **underfit**: the training loss is flat (dropped by less than ``flat`` of its
  starting value), or is still falling steeply at the end (the last quarter of
  the run accounts for more than ``steep`` of the whole drop).
- **well fit**: both curves plateau at the end and the validation-train gap is
  small (below ``gap`` of the training loss).
- otherwise **inconclusive**, with the reason.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

Points = list[tuple[int, float]]


@dataclass
class Thresholds:
    flat: float = 0.05
    steep: float = 0.15
    rise: float = 0.02
    plateau: float = 0.05
    gap: float = 0.15
    smoothing: float = 0.6


@dataclass
class Diagnosis:
    verdict: str  # "underfit", "overfit", "well fit" or "inconclusive"
    reasons: list[str] = field(default_factory=list)
    best_step: int | None = None
    best_checkpoint: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def smooth(points: Points, weight: float) -> Points:
    """Exponential moving average, as TensorBoard's smoothing slider does."""
    out: Points = []
    value = None
    for step, loss in points:
        value = loss if value is None else weight * value + (1 - weight) * loss
        out.append((step, value))
    return out


def _late_drop(points: Points) -> float:
    """How much the loss fell over the last quarter of the steps (negative if it rose)."""
    start, end = points[0][0], points[-1][0]
    cut = end - (end - start) / 4
    window = [loss for step, loss in points if step >= cut]
    return window[0] - window[-1]


def diagnose(
    train: Points, val: Points, checkpoints: list[int] | None = None, thresholds: Thresholds | None = None
) -> Diagnosis:
    """Classify a run from its (step, loss) curves."""
    t = thresholds or Thresholds()
    if len(train) < 4:
        return Diagnosis("inconclusive", ["too few training-loss points to judge (need at least 4)"])
    smooth_train = smooth(train, t.smoothing)
    start, end = smooth_train[0][1], smooth_train[-1][1]
    total_drop = start - end
    reasons: list[str] = []

    if len(val) >= 3:
        best_index = min(range(len(val)), key=lambda i: val[i][1])
        best_step, best_loss = val[best_index]
        last_loss = val[-1][1]
        if best_index < len(val) - 1 and last_loss > best_loss * (1 + t.rise):
            checkpoint = min(checkpoints, key=lambda c: abs(c - best_step)) if checkpoints else None
            reasons.append(
                f"validation loss reached its minimum {best_loss:.4f} at step {best_step}, "
                f"then rose to {last_loss:.4f} ({(last_loss / best_loss - 1) * 100:.1f}% higher)"
            )
            if checkpoint is not None:
                reasons.append(f"use checkpoint-{checkpoint}, the one nearest to step {best_step}")
            return Diagnosis("overfit", reasons, best_step, checkpoint)

    if start and total_drop / abs(start) < t.flat:
        reasons.append(
            f"training loss is flat: {start:.4f} -> {end:.4f} ({total_drop / abs(start) * 100:.1f}% drop); "
            "raise the learning rate or train longer"
        )
        return Diagnosis("underfit", reasons)
    late = _late_drop(smooth_train)
    if total_drop > 0 and late > t.steep * total_drop:
        reasons.append(
            "training loss is still falling steeply at the end "
            f"(the last quarter of the run gave {late / total_drop * 100:.0f}% of the whole drop); "
            "train for more steps"
        )
        return Diagnosis("underfit", reasons)
    late = late / abs(end) if end else 0.0

    if len(val) >= 2:
        val_end = val[-1][1]
        val_late = _late_drop(smooth(val, t.smoothing)) / abs(val_end) if len(val) >= 3 and val_end else 0.0
        gap = (val_end - end) / abs(end) if end else math.inf
        if abs(late) < t.plateau and abs(val_late) < t.plateau and gap < t.gap:
            reasons.append(
                f"both losses plateau (last-quarter change {late * 100:.1f}% train, {val_late * 100:.1f}% val) "
                f"with a small gap ({gap * 100:.1f}% of the training loss)"
            )
            return Diagnosis("well fit", reasons)
        reasons.append(f"no clear shape: val-train gap {gap * 100:.1f}%, last-quarter change {late * 100:.1f}%")
        return Diagnosis("inconclusive", reasons)
    reasons.append("training loss plateaus, but there is no validation curve to compare it with (set val_data)")
    return Diagnosis("inconclusive", reasons)


def curves_from_history(history: list[dict[str, Any]]) -> tuple[Points, Points]:
    """(train, val) points from a transformers ``trainer.state.log_history``."""
    train = [(int(h["step"]), float(h["loss"])) for h in history if "loss" in h and "step" in h]
    val = [(int(h["step"]), float(h["eval_loss"])) for h in history if "eval_loss" in h]
    return train, val


def plot_curves(train: Points, val: Points, diagnosis: Diagnosis, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    if train:
        ax.plot(*zip(*train), color="#9ecae1", linewidth=1, label="train loss")
        ax.plot(*zip(*smooth(train, Thresholds().smoothing)), color="#3182bd", linewidth=2, label="train (smoothed)")
    if val:
        ax.plot(*zip(*val), color="#e6550d", marker="o", linewidth=2, label="validation loss")
    if diagnosis.best_step is not None:
        ax.axvline(diagnosis.best_step, color="grey", linestyle="--", linewidth=1, label="best validation step")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    # From zero, so that the height of a fall is its size: an axis fitted to the data makes a
    # 2% fall look like healthy learning. The title gives the relative change.
    highest = max([loss for _, loss in train + val] or [1.0])
    ax.set_ylim(0, highest * 1.05)
    ax.set_title(f"Learning curves: {diagnosis.verdict}" + _change(train, "train") + _change(val, "val"))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _change(points: Points, what: str) -> str:
    if len(points) < 2 or not points[0][1]:
        return ""
    first, last = points[0][1], points[-1][1]
    return f"; {what} {first:.2f} -> {last:.2f} ({(last / first - 1) * 100:+.0f}%)"
