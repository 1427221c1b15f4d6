"""The trainer's configuration: one pydantic model, every field documented next to its default.

Mistakes are reported as plain sentences, e.g. "lora_alpha must be positive".
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticUndefined

#: Optional loggers: the package each needs and the dataprep extra that installs it.
LOGGER_PACKAGES = {"tensorboard": (("tensorboard", "tensorboardX"), "tensorboard"), "wandb": (("wandb",), "wandb")}


class TrainConfigError(ValueError):
    """A configuration mistake, already phrased for the user."""


class TrainConfig(BaseModel):
    """QLoRA fine-tuning of a causal language model on a tokenized dataset."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    # --- model -------------------------------------------------------------------------------
    model: str = Field(description="Base model: a Hugging Face hub name or a local folder.")

    # --- data --------------------------------------------------------------------------------
    train_data: Path | None = Field(
        None, description="Training split: a folder written by `dataprep tokenize` (e.g. tokenized/train)."
    )
    val_data: Path | None = Field(
        None, description="Validation split (e.g. tokenized/val). Without it there is no validation curve."
    )

    # --- quantization ------------------------------------------------------------------------
    quantization: Literal["4bit", "8bit", "none"] = Field(
        "4bit", description="Base weights: 4bit (QLoRA, NF4), 8bit, or none (plain LoRA on 16/32-bit weights)."
    )
    quant_type: Literal["nf4", "fp4"] = Field("nf4", description="4-bit data type; NF4 is the QLoRA default.")
    double_quant: bool = Field(True, description="Quantize the 4-bit scales too (saves ~0.4 bit per weight).")
    compute_dtype: Literal["auto", "bf16", "fp16", "fp32"] = Field(
        "auto", description="Compute dtype; auto means bf16 where the GPU supports it, else fp16, and fp32 on CPU."
    )

    # --- LoRA --------------------------------------------------------------------------------
    lora_r: int = Field(16, description="LoRA rank.")
    lora_alpha: float = Field(32, description="LoRA scaling numerator (the update is scaled by alpha / r).")
    lora_dropout: float = Field(0.05, description="Dropout on the LoRA input, in [0, 1).")
    target_modules: str | list[str] = Field(
        "all-linear", description="Modules that get adapters: all-linear (attention and MLP projections) or names."
    )
    modules_to_save: list[str] = Field(
        default_factory=list,
        description="Modules trained in full and saved with the adapter, e.g. [embed_tokens, lm_head] for new syntax.",
    )

    # --- optimizer and schedule --------------------------------------------------------------
    optimizer: Literal["paged_adamw_32bit", "paged_adamw_8bit", "adamw_torch", "adamw_8bit"] = Field(
        "paged_adamw_32bit", description="Optimizer; paged AdamW moves its state to CPU memory under pressure."
    )
    learning_rate: float = Field(2e-4, description="Peak learning rate (see `dataprep plan` for a suggestion).")
    lr_scheduler: Literal["cosine", "constant_with_warmup"] = Field(
        "cosine", description="Learning-rate schedule after warmup."
    )
    warmup: float = Field(0.03, description="Warmup: a fraction of all steps if below 1, else a number of steps.")
    weight_decay: float = Field(0.0, description="AdamW weight decay.")
    max_grad_norm: float = Field(1.0, description="Gradient clipping norm (0 disables clipping).")

    # --- length and batching -----------------------------------------------------------------
    epochs: float = Field(1.0, description="Passes over the training data (ignored when max_steps is set).")
    max_steps: int | None = Field(None, description="Optimizer steps to run; overrides epochs.")
    micro_batch_size: int = Field(1, description="Sequences per device per forward pass.")
    gradient_accumulation_steps: int = Field(4, description="Micro batches per optimizer step.")
    gradient_checkpointing: bool = Field(True, description="Recompute activations in backward to save memory.")
    padding_free: bool = Field(
        False,
        description="Lay each micro batch end to end in one row without padding (transformers' "
        "DataCollatorWithFlattening: position_ids and cumulative sequence lengths mark the examples). "
        "Training with it, or on a folder tokenized with --packing, first checks that packed examples stay apart.",
    )
    attn_implementation: str | None = Field(
        None,
        description="Attention implementation to load the model with: sdpa, eager, flash_attention_2, ... "
        "Default: transformers' choice for the model.",
    )

    # --- evaluation, checkpoints, logging ----------------------------------------------------
    eval_steps: int = Field(50, description="Evaluate on val_data every N optimizer steps (and at the end).")
    save_steps: int = Field(50, description="Save a checkpoint every N optimizer steps (and at the end).")
    save_total_limit: int | None = Field(3, description="Keep at most this many checkpoints (None keeps all).")
    logging_steps: int = Field(1, description="Record the training loss every N optimizer steps.")
    log_to: list[Literal["tensorboard", "wandb"]] = Field(
        default_factory=list, description="Also report to TensorBoard and/or Weights & Biases (both optional)."
    )
    seed: int = Field(42, description="Seed for weights init of the adapters, data order and dropout.")
    output_dir: Path | None = Field(
        None, description="Where checkpoints, the adapter, curves.png and the report go. Reruns resume from here."
    )

    # --- planning (dataprep plan) ------------------------------------------------------------
    base_lr: float | None = Field(
        None, description="Pretraining peak learning rate for the LR suggestion. Default: by model family."
    )
    pretrained_batch_tokens: int | None = Field(
        None, description="Pretraining batch size in tokens for the LR suggestion. Default: by model family."
    )
    max_length: int | None = Field(
        None, description="Sequence length for the memory estimate. Default: the longest sequence in train_data."
    )
    gpu_memory_gb: float | None = Field(
        None, description="GPU memory to plan for. Default: what the GPU in this machine reports."
    )

    @field_validator("lora_r", "micro_batch_size", "gradient_accumulation_steps")
    @classmethod
    def _positive_int(cls, value: int, info) -> int:  # noqa: ANN001 - pydantic's ValidationInfo
        if value < 1:
            raise ValueError(f"{info.field_name} must be at least 1")
        return value

    @field_validator("lora_alpha", "learning_rate")
    @classmethod
    def _positive(cls, value: float, info) -> float:  # noqa: ANN001
        if value <= 0:
            raise ValueError(f"{info.field_name} must be positive")
        return value

    @field_validator("eval_steps", "save_steps", "logging_steps")
    @classmethod
    def _positive_steps(cls, value: int, info) -> int:  # noqa: ANN001
        if value < 1:
            raise ValueError(f"{info.field_name} must be at least 1 step")
        return value

    @field_validator("log_to")
    @classmethod
    def _loggers_installed(cls, value: list[str]) -> list[str]:
        import importlib.util

        for logger in value:
            packages, extra = LOGGER_PACKAGES[logger]
            package = packages[0]
            if all(importlib.util.find_spec(name) is None for name in packages):
                raise ValueError(
                    f"log_to: {logger} needs the {package} package, which is not installed; "
                    f"pip install 'dataprep[{extra}]' (or {package}), or remove {logger} from log_to"
                )
        return value

    @field_validator("lora_dropout")
    @classmethod
    def _dropout(cls, value: float) -> float:
        if not 0 <= value < 1:
            raise ValueError("lora_dropout must be in [0, 1)")
        return value

    @field_validator("warmup", "weight_decay", "max_grad_norm")
    @classmethod
    def _non_negative(cls, value: float, info) -> float:  # noqa: ANN001
        if value < 0:
            raise ValueError(f"{info.field_name} cannot be negative")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError("max_steps must be at least 1 (or leave it out and set epochs)")
        if self.max_steps is None and self.epochs <= 0:
            raise ValueError("set epochs above 0 or max_steps")
        if self.compute_dtype == "fp16" and self.quantization == "none":
            raise ValueError(
                "compute_dtype fp16 with quantization none would train fp16 master weights; use bf16 or fp32"
            )
        return self

    def require_data(self) -> None:
        """Checks that only a real training run needs (``plan`` works without them)."""
        if self.train_data is None:
            raise TrainConfigError("train_data is required: the train folder written by `dataprep tokenize`")
        if self.output_dir is None:
            raise TrainConfigError("output_dir is required: where checkpoints and the adapter go")
        for name in ("train_data", "val_data"):
            path = getattr(self, name)
            if path is not None and not Path(path).exists():
                raise TrainConfigError(f"{name}: {path} does not exist; point it at a `dataprep tokenize` split folder")


#: The options by group, in the order of the fields above (``dataprep train --help`` lists them).
OPTION_GROUPS: dict[str, tuple[str, ...]] = {
    "model": ("model",),
    "data": ("train_data", "val_data"),
    "quantization": ("quantization", "quant_type", "double_quant", "compute_dtype"),
    "LoRA": ("lora_r", "lora_alpha", "lora_dropout", "target_modules", "modules_to_save"),
    "optimizer and schedule": (
        "optimizer",
        "learning_rate",
        "lr_scheduler",
        "warmup",
        "weight_decay",
        "max_grad_norm",
    ),  # fmt: skip
    "length and batching": (
        "epochs",
        "max_steps",
        "micro_batch_size",
        "gradient_accumulation_steps",
        "gradient_checkpointing",
        "padding_free",
        "attn_implementation",
    ),  # fmt: skip
    "evaluation, checkpoints, logging": (
        "eval_steps",
        "save_steps",
        "save_total_limit",
        "logging_steps",
        "log_to",
        "seed",
        "output_dir",
    ),  # fmt: skip
    "planning (dataprep plan)": ("base_lr", "pretrained_batch_tokens", "max_length", "gpu_memory_gb"),
}


def options_help() -> str:
    """The config's options by group, each with its default, for a command's --help."""
    lines = ["\b", "Config options (YAML keys; each is documented in train/config.py):"]
    for group, names in OPTION_GROUPS.items():
        shown = []
        for name in names:
            info = TrainConfig.model_fields[name]
            default = info.get_default(call_default_factory=True)
            shown.append(name if default in (None, [], PydanticUndefined) else f"{name}={default}")
        lines.append(f"  {group}: {', '.join(shown)}")
    return "\n".join(lines)


def describe_errors(exc: ValidationError, where: str) -> str:
    lines = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]) or "config"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            import difflib

            close = difflib.get_close_matches(field, list(TrainConfig.model_fields), n=1)
            message = "unknown option" + (f"; did you mean {close[0]!r}?" if close else "")
        elif error["type"] == "missing":
            message = "this option is required"
        lines.append(f"{where}: {field}: {message}")
    return "\n".join(lines)


def load_config(path: str | Path, **overrides: object) -> TrainConfig:
    """Read a YAML training config; raise :class:`TrainConfigError` with every mistake in plain words."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise TrainConfigError(f"{path}: no such config file") from exc
    except yaml.YAMLError as exc:
        raise TrainConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise TrainConfigError(f"{path}: expected a mapping of options")
    data = {str(k).replace("-", "_"): v for k, v in data.items()}
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        raise TrainConfigError(describe_errors(exc, str(path))) from exc
