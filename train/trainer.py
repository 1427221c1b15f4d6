"""QLoRA training with auto-resume, learning curves and a diagnosis.

The loop is transformers' ``Trainer``: it saves optimizer, scheduler and RNG
state in every checkpoint, resumes from them exactly, evaluates, reports to
TensorBoard / W&B, and runs under ``accelerate launch`` for several GPUs.
This module adds what the guide asks for on top: the quantized model with
adapters, a collator for dataprep's Arrow folders, auto-resume on the same
output_dir, and curves with a diagnosis.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from train.config import TrainConfig, TrainConfigError
from train.curves import curves_from_history, diagnose, plot_curves
from train.data import load_split, make_collator, supervised_tokens
from train.model import compute_dtype, load_model
from train.preflight import preflight

log = logging.getLogger("dataprep.train")
SNAPSHOT = "train_config.json"
#: Options that change what a checkpoint means; resuming across a change would mix two runs.
IDENTITY = (
    "model",
    "train_data",
    "quantization",
    "quant_type",
    "double_quant",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "target_modules",
    "modules_to_save",
    "optimizer",
    "micro_batch_size",
    "gradient_accumulation_steps",
    "seed",
)


@dataclass
class TrainResult:
    output_dir: Path
    adapter_dir: Path
    report: dict[str, Any]


def checkpoint_steps(output_dir: Path) -> list[int]:
    steps = []
    for path in output_dir.glob("checkpoint-*"):
        suffix = path.name.removeprefix("checkpoint-")
        if suffix.isdigit() and (path / "trainer_state.json").exists():
            steps.append(int(suffix))
    return sorted(steps)


def _check_resumable(output_dir: Path, config: TrainConfig) -> Path | None:
    """The checkpoint to resume from, refusing one that another config wrote."""
    steps = checkpoint_steps(output_dir)
    if not steps:
        return None
    snapshot = output_dir / SNAPSHOT
    if snapshot.exists():
        before = json.loads(snapshot.read_text(encoding="utf-8"))
        now = config.model_dump(mode="json")
        changed = [f"{k}: {before.get(k)!r} -> {now.get(k)!r}" for k in IDENTITY if before.get(k) != now.get(k)]
        if changed:
            raise TrainConfigError(
                f"{output_dir} holds checkpoints of a run with a different config ({'; '.join(changed)}); "
                "use another output_dir, or delete that folder to start over"
            )
    return output_dir / f"checkpoint-{steps[-1]}"


def training_arguments(config: TrainConfig, has_val: bool) -> Any:
    from transformers import TrainingArguments

    dtype = compute_dtype(config)
    warmup: float = config.warmup if config.warmup < 1 else int(config.warmup)
    return TrainingArguments(
        output_dir=str(config.output_dir),
        per_device_train_batch_size=config.micro_batch_size,
        per_device_eval_batch_size=config.micro_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=warmup,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        optim=config.optimizer,
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        logging_steps=config.logging_steps,
        logging_first_step=True,
        eval_strategy="steps" if has_val else "no",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        seed=config.seed,
        data_seed=config.seed,
        bf16=dtype == torch.bfloat16,
        fp16=dtype == torch.float16,
        use_cpu=not torch.cuda.is_available(),
        report_to=list(config.log_to) or "none",
        remove_unused_columns=False,
        label_names=["labels"],
        include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=0,
        disable_tqdm=True,
        # Checkpointing is set up on the model when it is loaded (before the adapters attach).
        gradient_checkpointing=False,
        ddp_find_unused_parameters=False,
    )


def train(config: TrainConfig, *, callbacks: list[Any] | None = None) -> TrainResult:
    """Train (or resume) and write the adapter, ``curves.png``, ``report.json`` and ``report.md``."""
    from transformers import Trainer, set_seed

    config.require_data()
    output_dir = Path(config.output_dir)  # type: ignore[arg-type]
    output_dir.mkdir(parents=True, exist_ok=True)
    resume_from = _check_resumable(output_dir, config)
    (output_dir / SNAPSHOT).write_text(json.dumps(config.model_dump(mode="json"), indent=2, sort_keys=True))

    train_set = load_split(Path(config.train_data), "train_data")  # type: ignore[arg-type]
    val_set = load_split(Path(config.val_data), "val_data") if config.val_data else None
    # Seed before the adapters are initialised, so a run does not depend on what the process drew before.
    set_seed(config.seed)
    model = load_model(config)
    args = training_arguments(config, val_set is not None)
    collator = make_collator(config.padding_free)
    preflight(model, train_set, collator, config)  # refuses packed training where examples would leak
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=val_set,
        data_collator=collator,
        callbacks=callbacks,
    )
    if resume_from is not None:
        log.info("resuming from %s", resume_from)
    output = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    history = trainer.state.log_history
    evaluated = {h["step"] for h in history if "eval_loss" in h}
    if val_set is not None and trainer.state.global_step not in evaluated:
        trainer.evaluate()
        history = trainer.state.log_history

    adapter_dir = output_dir / "adapter"
    trainer.save_model(str(adapter_dir))
    report = write_report(config, output_dir, history, output.metrics, trainer.state, train_set)
    return TrainResult(output_dir=output_dir, adapter_dir=adapter_dir, report=report)


def write_report(
    config: TrainConfig, output_dir: Path, history: list[dict[str, Any]], metrics: dict[str, Any], state: Any, data: Any
) -> dict[str, Any]:
    train_points, val_points = curves_from_history(history)
    diagnosis = diagnose(train_points, val_points, checkpoint_steps(output_dir))
    plot_curves(train_points, val_points, diagnosis, output_dir / "curves.png")
    final_train = train_points[-1][1] if train_points else None
    final_val = val_points[-1][1] if val_points else None
    seconds = metrics.get("train_runtime") or 0.0
    tokens = int(getattr(state, "num_input_tokens_seen", 0) or 0)
    report = {
        "model": config.model,
        "steps": state.global_step,
        "epochs": round(float(state.epoch or 0), 3),
        "final_train_loss": final_train,
        "final_train_perplexity": _perplexity(final_train),
        "final_val_loss": final_val,
        "final_val_perplexity": _perplexity(final_val),
        "diagnosis": diagnosis.to_dict(),
        "train_sequences": len(data),
        "supervised_tokens": supervised_tokens(data),
        "tokens_seen": tokens,
        "train_seconds": round(seconds, 2),
        "tokens_per_second": round(tokens / seconds, 1) if seconds and tokens else None,
        "curves": {"train": train_points, "val": val_points},
        "checkpoints": checkpoint_steps(output_dir),
        "adapter": str(output_dir / "adapter"),
    }
    (output_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (output_dir / "report.md").write_text(report_markdown(report), encoding="utf-8")
    return report


def _perplexity(loss: float | None) -> float | None:
    if loss is None:
        return None
    return round(math.exp(min(loss, 50.0)), 3)


def report_markdown(report: dict[str, Any]) -> str:
    diagnosis = report["diagnosis"]
    lines = [
        f"# Training report: {report['model']}",
        "",
        f"**Diagnosis: {diagnosis['verdict']}**",
        "",
        *[f"- {reason}" for reason in diagnosis["reasons"]],
        "",
        "| | loss | perplexity |",
        "| --- | --- | --- |",
        f"| train (final) | {_fmt(report['final_train_loss'])} | {_fmt(report['final_train_perplexity'])} |",
        f"| validation (final) | {_fmt(report['final_val_loss'])} | {_fmt(report['final_val_perplexity'])} |",
        "",
        f"- steps: {report['steps']} ({report['epochs']} epochs), sequences: {report['train_sequences']}, "
        f"supervised tokens per epoch: {report['supervised_tokens']}",
        f"- tokens seen: {report['tokens_seen']}, {report['tokens_per_second']} tokens/s",
        f"- adapter: `{report['adapter']}`; checkpoints: {report['checkpoints']}",
        "",
        "![learning curves](curves.png)",
        "",
    ]
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
