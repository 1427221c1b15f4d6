"""``train``: the QLoRA trainer as the last stage of a pipeline.

Reads the folder of the ``tokenize`` stage before it (``train/`` and ``val/``
splits) and trains with the options of :class:`train.config.TrainConfig`.
Checkpoints live in a hidden ``.NN-train.checkpoints`` folder beside the stage
folder, so a killed run resumes from its last checkpoint; the stage folder gets
the adapter, ``curves.png``, ``report.md`` and ``report.json`` when it finishes.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from dataprep.errors import ConfigError
from dataprep.io.atomic import DIR_MODE, FILE_MODE
from dataprep.stages import Stage, register
from dataprep.stages.base import StageOutput, StageStats
from train.config import TrainConfig

log = logging.getLogger("dataprep")


class TrainStageConfig(TrainConfig):
    """Train options; train_data, val_data and output_dir default to the tokenize stage's output."""


@register
class Train(Stage):
    """Train a QLoRA adapter on the output of the tokenize stage."""

    name = "train"
    Config = TrainStageConfig
    folder_output = True
    config: TrainStageConfig

    @staticmethod
    def checkpoints(out: Path) -> Path:
        return out.parent / f".{out.name}.checkpoints"

    @classmethod
    def forget(cls, out: Path) -> None:
        work = cls.checkpoints(Path(out))
        if work.exists():
            shutil.rmtree(work)
            log.info("%s: rerun asked for, so training starts from scratch (removed %s)", Path(out).name, work)

    @classmethod
    def closing_lines(cls, folder: Path, stats: dict[str, Any]) -> list[str]:
        extra = stats.get("extra", {})
        if "diagnosis" not in extra:
            return []
        reasons = extra.get("diagnosis_reasons") or []
        losses = [f"train {extra['final_train_loss']:.4f}"] if extra.get("final_train_loss") is not None else []
        if extra.get("final_val_loss") is not None:
            losses.append(f"validation {extra['final_val_loss']:.4f}")
        return [
            f"{folder.name}: verdict {extra['diagnosis']}" + (f" ({reasons[0]})" if reasons else ""),
            f"  final loss after {extra.get('steps')} steps: {', '.join(losses) or '-'}",
            f"  curves: {folder / 'curves.png'}; report: {folder / 'report.md'}",
        ]

    def execute(self, inputs: list[Path | str], output: StageOutput, stats: StageStats) -> None:
        from dataprep.cli.train_commands import user_errors
        from train.trainer import train

        if len(inputs) != 1:
            raise ConfigError("train: give exactly one input, the folder written by the tokenize stage")
        folder = Path(inputs[0])
        work = self.checkpoints(output.path)
        val = folder / "val"
        config = self.config.model_copy(
            update={
                "train_data": self.config.train_data or folder / "train",
                "val_data": self.config.val_data or (val if val.exists() else None),
                "output_dir": work,
            }
        )
        with user_errors():
            result = train(config, quiet=self.ctx.quiet)
        shutil.copytree(result.adapter_dir, output.folder / "adapter")
        # safetensors writes the weights owner-only (0600); the adapter is shared like the rest of the run.
        for path in (output.folder / "adapter").rglob("*"):
            path.chmod(FILE_MODE if path.is_file() else DIR_MODE)
        for name in ("curves.png", "report.md", "report.json"):
            shutil.copy2(work / name, output.folder / name)
        report = result.report
        stats.records_in = stats.records_out = report["train_sequences"]
        stats.extra.update(
            {
                "diagnosis": report["diagnosis"]["verdict"],
                "final_train_loss": report["final_train_loss"],
                "final_val_loss": report["final_val_loss"],
                "steps": report["steps"],
                "diagnosis_reasons": report["diagnosis"]["reasons"],
                "checkpoints": str(work),
            }
        )
