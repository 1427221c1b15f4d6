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

from train.config import TrainConfig
from train.curves import curves_from_history, diagnose, plot_curves
from train.data import load_split, make_collator, supervised_tokens
from train.model import compute_dtype, load_model, silence_cpu_warnings
from train.preflight import preflight
from train.resume import (
    Start,
    checkpoint_state,
    checkpoint_steps,
    clear_checkpoints,
    copy_adapter,
    decide_start,
    run_identity,
    write_snapshot,
)

log = logging.getLogger("dataprep.train")


@dataclass
class TrainResult:
    output_dir: Path
    adapter_dir: Path
    report: dict[str, Any]


def training_arguments(config: TrainConfig, has_val: bool, fresh: bool = True) -> Any:
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
        # The validation curve starts at step 0, so its fall shows; a resumed run has that point already.
        eval_on_start=has_val and fresh,
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


def train(
    config: TrainConfig, *, callbacks: list[Any] | None = None, fresh: bool = False, quiet: bool = False
) -> TrainResult:
    """Train, resume or (when already finished) just report; write the adapter, ``curves.png`` and the reports.

    ``fresh`` discards the checkpoints of an earlier run. Otherwise the last checkpoint is
    resumed when the run that wrote it is this run (see :mod:`train.resume`), and training
    never goes past ``max_steps``. SIGINT or SIGTERM saves a checkpoint and raises
    :class:`train.callbacks.TrainingInterrupted`.
    """
    silence_cpu_warnings()  # before transformers imports bitsandbytes, which logs at import
    from transformers import PrinterCallback, ProgressCallback, Trainer, set_seed

    from train.callbacks import SaveOnInterrupt, TrainingInterrupted, TrainProgress

    config.require_data()
    output_dir = Path(config.output_dir)  # type: ignore[arg-type]
    output_dir.mkdir(parents=True, exist_ok=True)
    quiet_libraries()
    identity = run_identity(config)
    start = decide_start(output_dir, identity, fresh=fresh)
    if start.how == "fresh":
        removed = clear_checkpoints(output_dir)
        log.info("%s%s", start.describe(), f" (removed {', '.join(removed)})" if removed else "")
    else:
        log.info("%s", start.describe())
    write_snapshot(output_dir, config, identity)

    train_set = load_split(Path(config.train_data), "train_data")  # type: ignore[arg-type]
    val_set = load_split(Path(config.val_data), "val_data") if config.val_data else None
    adapter_dir = output_dir / "adapter"
    if start.how == "finished":
        return _report_finished(config, output_dir, start, train_set)

    # Seed before the adapters are initialised, so a run does not depend on what the process drew before.
    set_seed(config.seed)
    model = load_model(config)
    args = training_arguments(config, val_set is not None, fresh=start.how == "fresh")
    collator = make_collator(config.padding_free)
    preflight(model, train_set, collator, config)  # refuses packed training where examples would leak
    interrupt = SaveOnInterrupt()
    progress = TrainProgress(quiet=quiet)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=val_set,
        data_collator=collator,
        callbacks=[*(callbacks or []), interrupt, progress],
    )
    for printer in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(printer)
    resume_from = str(start.checkpoint) if start.how == "resume" else None
    output = trainer.train(resume_from_checkpoint=resume_from)
    if interrupt.signum is not None:
        step = trainer.state.global_step
        log.warning("stopped at step %d; saved checkpoint-%d; rerun the same command to resume", step, step)
        raise TrainingInterrupted(interrupt.signum, step)
    history = trainer.state.log_history
    evaluated = {h["step"] for h in history if "eval_loss" in h}
    if val_set is not None and trainer.state.global_step not in evaluated:
        trainer.evaluate()
        history = trainer.state.log_history

    trainer.save_model(str(adapter_dir))
    report = write_report(config, output_dir, history, output.metrics, trainer.state, train_set, start)
    log.info("%s", summary_line(report))
    return TrainResult(output_dir=output_dir, adapter_dir=adapter_dir, report=report)


def summary_line(report: dict[str, Any]) -> str:
    """One line for the log: steps, time, first and last losses, the verdict."""
    train_curve, val_curve = report["curves"]["train"], report["curves"]["val"]
    parts = [f"trained {report['steps']} steps"]
    if report.get("train_seconds"):
        parts[0] += f" in {report['train_seconds']:.0f}s"
    if train_curve:
        parts.append(f"train loss {train_curve[0][1]:.3f} -> {train_curve[-1][1]:.3f}")
    if val_curve:
        parts.append(f"val loss {val_curve[0][1]:.3f} -> {val_curve[-1][1]:.3f}")
    return ", ".join(parts) + f"; verdict: {report['diagnosis']['verdict']}"


def quiet_libraries() -> None:
    """Off a terminal, no library progress bars: piped, they leave empty bars in logs."""
    import sys

    if not sys.stderr.isatty():
        from datasets.utils.logging import disable_progress_bar as no_datasets_bars
        from transformers.utils.logging import disable_progress_bar

        disable_progress_bar()
        no_datasets_bars()


def _report_finished(config: TrainConfig, output_dir: Path, start: Start, train_set: Any) -> TrainResult:
    """A rerun of a finished run: no step past max_steps, only the adapter and the report again."""
    from transformers import TrainerState

    assert start.checkpoint is not None
    adapter_dir = output_dir / "adapter"
    copy_adapter(start.checkpoint, adapter_dir)
    state = TrainerState.load_from_json(str(start.checkpoint / "trainer_state.json"))
    history = list(state.log_history)
    previous = output_dir / "report.json"
    final_eval = {}
    if previous.exists():
        # The evaluation after the last step comes after the last checkpoint was saved.
        before = json.loads(previous.read_text(encoding="utf-8"))
        val = before.get("curves", {}).get("val") or []
        if (
            val
            and val[-1][0] == state.global_step
            and not any("eval_loss" in h and h.get("step") == state.global_step for h in history)
        ):
            final_eval = {"eval_loss": val[-1][1], "step": state.global_step}
    if final_eval:
        history.append(final_eval)
    report = write_report(config, output_dir, history, {}, state, train_set, start)
    log.info("%s", summary_line(report))
    return TrainResult(output_dir=output_dir, adapter_dir=adapter_dir, report=report)


def write_report(
    config: TrainConfig,
    output_dir: Path,
    history: list[dict[str, Any]],
    metrics: dict[str, Any],
    state: Any,
    data: Any,
    start: Start | None = None,
) -> dict[str, Any]:
    train_points, val_points = curves_from_history(history)
    diagnosis = diagnose(train_points, val_points, checkpoint_steps(output_dir))
    plot_curves(train_points, val_points, diagnosis, output_dir / "curves.png")
    final_train = train_points[-1][1] if train_points else None
    final_val = val_points[-1][1] if val_points else None
    seconds = metrics.get("train_runtime") or 0.0
    tokens = int(getattr(state, "num_input_tokens_seen", 0) or 0)
    # tokens/s of this session only: a resumed run's token count includes the steps before the checkpoint.
    tokens_before = 0
    if start is not None and start.how == "resume" and start.checkpoint is not None:
        tokens_before = int(checkpoint_state(start.checkpoint).get("num_input_tokens_seen") or 0)
    session_tokens = tokens - tokens_before
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
        "tokens_per_second": round(session_tokens / seconds, 1) if seconds and session_tokens > 0 else None,
        "start": start.describe() if start is not None else None,
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
