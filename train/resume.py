"""When a rerun may continue from a checkpoint, and when it must start again.

A checkpoint is resumed only when the run that wrote it trained the same thing: the same
model and quantization, the same LoRA, the same tokenized data (by a hash of its Arrow
files, so a changed upstream dataset never continues a run trained on the old one), the
same batch settings and the same length (``max_steps`` or ``epochs``). Anything else starts
fresh, and the log says which and why. What the run was is kept in ``train_config.json``
beside the checkpoints.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from train.config import TrainConfig

log = logging.getLogger("dataprep.train")
SNAPSHOT = "train_config.json"

#: The options that decide what a checkpoint's weights mean, by the group the log names.
IDENTITY: dict[str, tuple[str, ...]] = {
    "model": ("model", "quantization", "quant_type", "double_quant", "compute_dtype"),
    "LoRA": ("lora_r", "lora_alpha", "lora_dropout", "target_modules", "modules_to_save"),
    "optimizer": ("optimizer", "learning_rate", "lr_scheduler", "warmup", "weight_decay", "max_grad_norm", "seed"),
    "batch settings": ("micro_batch_size", "gradient_accumulation_steps", "world_size"),
    "length": ("max_steps", "epochs"),
    "data": ("train_data_fingerprint", "val_data_fingerprint"),
}


def dataset_fingerprint(path: Path | None) -> str | None:
    """A hash of a ``save_to_disk`` folder's Arrow files (their bytes, in order).

    The ``_fingerprint`` that ``datasets`` keeps in ``state.json`` is random for data built
    in memory, so two identical tokenize runs would differ; the bytes do not.
    """
    if path is None:
        return None
    path = Path(path)
    files: list[Path] = []
    state = path / "state.json"
    if state.exists():
        try:
            files = [path / f["filename"] for f in json.loads(state.read_text(encoding="utf-8"))["_data_files"]]
        except (ValueError, KeyError, TypeError):
            files = []
    if not files:
        files = sorted(path.glob("*.arrow"))
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode() + b"\0")
        with open(file, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()[:24]


def run_identity(config: TrainConfig) -> dict[str, Any]:
    """What must match for a checkpoint to be continued."""
    values = config.model_dump(mode="json")
    if config.max_steps is not None:
        values["epochs"] = None  # ignored when max_steps is set, so changing it changes nothing
    values["world_size"] = int(os.environ.get("WORLD_SIZE", "1"))
    values["train_data_fingerprint"] = dataset_fingerprint(config.train_data)
    values["val_data_fingerprint"] = dataset_fingerprint(config.val_data)
    return {key: values.get(key) for keys in IDENTITY.values() for key in keys}


def checkpoint_steps(output_dir: Path) -> list[int]:
    steps = []
    for path in Path(output_dir).glob("checkpoint-*"):
        suffix = path.name.removeprefix("checkpoint-")
        if suffix.isdigit() and (path / "trainer_state.json").exists():
            steps.append(int(suffix))
    return sorted(steps)


def checkpoint_state(checkpoint: Path) -> dict[str, Any]:
    return json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))


@dataclass
class Start:
    """How a training run begins: from scratch, from a checkpoint, or already finished."""

    how: str  # "fresh", "resume" or "finished"
    reason: str
    checkpoint: Path | None = None
    step: int = 0
    max_steps: int | None = None

    def describe(self) -> str:
        if self.how == "fresh":
            return f"training from scratch: {self.reason}"
        if self.how == "finished":
            return f"{self.checkpoint.name} already reached step {self.step} of {self.max_steps}: {self.reason}"
        return f"resuming from {self.checkpoint.name} (step {self.step} of {self.max_steps}): {self.reason}"


def _differences(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    out = []
    for group, keys in IDENTITY.items():
        changed = [f"{k} {before.get(k)!r} -> {now.get(k)!r}" for k in keys if before.get(k) != now.get(k)]
        if changed:
            shown = "changed" if group == "data" else "; ".join(changed)
            out.append(f"{group} ({shown})")
    return out


def decide_start(output_dir: Path, identity: dict[str, Any], *, fresh: bool = False) -> Start:
    """Resume the last checkpoint only if the run that wrote it is this run."""
    steps = checkpoint_steps(output_dir)
    if fresh:
        return Start("fresh", "asked to start again (--force, or --from at or before the train stage)")
    if not steps:
        return Start("fresh", f"no checkpoint in {output_dir}")
    last = Path(output_dir) / f"checkpoint-{steps[-1]}"
    try:
        before = json.loads((Path(output_dir) / SNAPSHOT).read_text(encoding="utf-8")).get("identity")
    except (OSError, ValueError):
        before = None
    if not isinstance(before, dict):
        return Start("fresh", f"{last.name} has no record of the options that trained it")
    changed = _differences(before, identity)
    if changed:
        return Start("fresh", f"{last.name} was trained with a different {', '.join(changed)}")
    state = checkpoint_state(last)
    step, planned = int(state.get("global_step", steps[-1])), state.get("max_steps")
    if planned and step >= planned:
        return Start("finished", "nothing left to train", last, step, planned)
    return Start("resume", "model, LoRA, data, batch settings and length match", last, step, planned)


def clear_checkpoints(output_dir: Path) -> list[str]:
    """Remove the checkpoints of an earlier run, so they can never be resumed or rotated into this one."""
    removed = []
    for step in checkpoint_steps(output_dir):
        shutil.rmtree(Path(output_dir) / f"checkpoint-{step}")
        removed.append(f"checkpoint-{step}")
    return removed


def write_snapshot(output_dir: Path, config: TrainConfig, identity: dict[str, Any]) -> None:
    payload = {"identity": identity, "config": config.model_dump(mode="json")}
    tmp = Path(output_dir) / f".{SNAPSHOT}.tmp"
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, Path(output_dir) / SNAPSHOT)


def copy_adapter(checkpoint: Path, adapter_dir: Path) -> None:
    """The adapter files of a finished checkpoint, without its optimizer state."""
    adapter_dir.mkdir(parents=True, exist_ok=True)
    for path in checkpoint.iterdir():
        if path.name.startswith("adapter_") or path.name == "README.md":
            shutil.copy2(path, adapter_dir / path.name)
