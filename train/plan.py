"""``dataprep plan``: what a training config will do, before loading any weights.

- Effective batch size, steps per epoch, supervised tokens (from the tokenize stats).
- The guide's learning-rate suggestion:
  ``base_lr * sqrt(supervised_tokens_per_batch / pretrained_batch_tokens)``.
- A GPU memory estimate for QLoRA: quantized weights, LoRA parameters with their
  gradients and optimizer state, activations at the micro batch and length (with
  and without gradient checkpointing), logits, and a fixed CUDA overhead;
  compared with the memory found, with a warning before a run that cannot fit.

The estimate reads only ``config.json`` and counts parameters of a Llama-style
decoder (embeddings, attention with grouped KV heads, gated MLP, LM head).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from train.config import TrainConfig, TrainConfigError

GIB = 1024**3
#: model_type -> (pretraining peak LR, pretraining batch in tokens, where the numbers come from)
FAMILIES: dict[str, tuple[float, int, str]] = {
    "llama": (3e-4, 4_000_000, "Llama 2 paper (7B/13B): peak LR 3e-4, 4M-token batches"),
    "mistral": (3e-4, 4_000_000, "not published for Mistral; Llama 2's values assumed"),
    "qwen2": (3e-4, 4_000_000, "not published for Qwen2; Llama 2's values assumed"),
    "gemma": (3e-4, 4_000_000, "not published for Gemma; Llama 2's values assumed"),
}
DEFAULT_FAMILY = (3e-4, 4_000_000, "unknown family; Llama 2's values assumed")
CUDA_OVERHEAD_GIB = 1.0


@dataclass
class ModelShape:
    model_type: str
    hidden: int
    layers: int
    intermediate: int
    heads: int
    kv_heads: int
    vocab: int
    tied: bool

    @property
    def kv_dim(self) -> int:
        return self.hidden // self.heads * self.kv_heads

    def linear_shapes(self) -> list[tuple[int, int]]:
        """(in, out) of every projection in one decoder layer."""
        h, i, kv = self.hidden, self.intermediate, self.kv_dim
        return [(h, h), (h, kv), (h, kv), (h, h), (h, i), (h, i), (i, h)]

    @property
    def linear_params(self) -> int:
        return self.layers * sum(a * b for a, b in self.linear_shapes())

    @property
    def other_params(self) -> int:
        embed = self.vocab * self.hidden
        norms = self.layers * 2 * self.hidden + self.hidden
        return embed + norms + (0 if self.tied else embed)


def read_shape(model: str) -> ModelShape:
    path = Path(model) / "config.json"
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
    else:
        try:
            from transformers import AutoConfig

            data = AutoConfig.from_pretrained(model).to_dict()
        except OSError as exc:
            raise TrainConfigError(
                f"cannot read the config of {model!r} (offline, and not a local folder with config.json); "
                "give a local path to plan"
            ) from exc
    heads = data.get("num_attention_heads")
    try:
        return ModelShape(
            model_type=data.get("model_type", "unknown"),
            hidden=data["hidden_size"],
            layers=data["num_hidden_layers"],
            intermediate=data.get("intermediate_size", 4 * data["hidden_size"]),
            heads=heads,
            kv_heads=data.get("num_key_value_heads") or heads,
            vocab=data["vocab_size"],
            tied=bool(data.get("tie_word_embeddings", False)),
        )
    except KeyError as exc:
        raise TrainConfigError(
            f"{model}: config.json lacks {exc.args[0]}; planning needs a decoder-only model"
        ) from exc


def _lora_params(shape: ModelShape, r: int, targets: str | list[str]) -> int:
    names = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    chosen = names if targets == "all-linear" else [n for n in names if n in targets]
    per_layer = sum(r * (a + b) for name, (a, b) in zip(names, shape.linear_shapes()) if name in chosen)
    return shape.layers * per_layer


def estimate_memory(config: TrainConfig, shape: ModelShape, length: int) -> dict[str, float]:
    """GPU memory in GiB by part, for one device."""
    act_bytes = 2 if config.compute_dtype != "fp32" else 4
    if config.quantization == "4bit":
        # 4 bits a weight plus the block scales: fp32 per 64 weights, or 8-bit with double quantization.
        per_weight = 0.5 + (1 / 64 + 4 / (64 * 256) if config.double_quant else 4 / 64)
    elif config.quantization == "8bit":
        per_weight = 1.0 + 4 / 4096
    else:
        per_weight = act_bytes
    lora = _lora_params(shape, config.lora_r, config.target_modules)
    optimizer_state = 2 if "8bit" in config.optimizer else 8
    tokens = config.micro_batch_size * length
    h, i, kv = shape.hidden, shape.intermediate, shape.kv_dim
    # Tensors a decoder layer keeps for backward, per token (norm inputs in fp32, as kbit training upcasts them).
    layer_full = tokens * ((6 * h + 2 * kv + 4 * i) * act_bytes + 2 * h * 4)
    layer_input = tokens * h * act_bytes
    logits = tokens * shape.vocab * (act_bytes + 4 + 4)
    parts = {
        "weights": (shape.linear_params * per_weight + shape.other_params * act_bytes) / GIB,
        "lora_params_grads_optimizer": lora * (4 + 4 + optimizer_state) / GIB,
        "activations_checkpointed": (shape.layers * layer_input + layer_full + logits) / GIB,
        "activations_full": (shape.layers * layer_full + logits) / GIB,
        "cuda_overhead": CUDA_OVERHEAD_GIB,
    }
    fixed = parts["weights"] + parts["lora_params_grads_optimizer"] + parts["cuda_overhead"]
    parts["total_with_checkpointing"] = fixed + parts["activations_checkpointed"]
    parts["total_without_checkpointing"] = fixed + parts["activations_full"]
    parts["lora_params"] = lora
    return parts


def _dataset_figures(config: TrainConfig) -> dict[str, Any]:
    """Sequences, longest sequence and supervised tokens of train_data, without loading a model."""
    if config.train_data is None or not Path(config.train_data).exists():
        raise TrainConfigError("train_data is required to plan: the train folder written by `dataprep tokenize`")
    import pyarrow.compute as pc
    from datasets import load_from_disk

    data = load_from_disk(str(config.train_data))
    lengths = pc.list_value_length(data.data.column("input_ids"))
    figures: dict[str, Any] = {"sequences": len(data), "longest": int(pc.max(lengths).as_py() or 0)}
    stats_path = Path(config.train_data).parent / "stats.json"
    split = Path(config.train_data).name
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    split_stats = stats.get("extra", stats).get("splits", {}).get(split, {})
    from_stats = split_stats.get("supervised_tokens")
    # How full the sequences are (real tokens / sequence slots), and what packing would make of them.
    figures["packing_efficiency"] = split_stats.get("packing_efficiency")
    figures["packed"] = bool(stats.get("extra", stats).get("packing"))
    figures["packed_sequences_estimate"] = split_stats.get("packed_sequences_estimate")
    figures["packing_efficiency_if_packed"] = split_stats.get("packing_efficiency_if_packed")
    if from_stats is not None:
        figures["supervised_tokens"], figures["supervised_from"] = int(from_stats), str(stats_path)
    else:
        from train.data import supervised_tokens

        figures["supervised_tokens"], figures["supervised_from"] = supervised_tokens(data), "counted in train_data"
    return figures


def gpu_memory_found() -> float | None:
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.mem_get_info()[1] / GIB
    except Exception:  # noqa: BLE001 - no usable GPU is an answer, not an error
        return None
    return None


def plan(config: TrainConfig, num_gpus: int = 1) -> dict[str, Any]:
    figures = _dataset_figures(config)
    shape = read_shape(config.model)
    effective = config.micro_batch_size * config.gradient_accumulation_steps * num_gpus
    steps_per_epoch = math.ceil(figures["sequences"] / effective)
    total_steps = config.max_steps or math.ceil(config.epochs * steps_per_epoch)
    base_lr, batch_tokens, source = FAMILIES.get(shape.model_type, DEFAULT_FAMILY)
    base_lr = config.base_lr or base_lr
    batch_tokens = config.pretrained_batch_tokens or batch_tokens
    if config.base_lr or config.pretrained_batch_tokens:
        source = "set in the config"
    sup_per_batch = figures["supervised_tokens"] / figures["sequences"] * effective
    suggested = base_lr * math.sqrt(sup_per_batch / batch_tokens)
    length = config.max_length or figures["longest"]
    memory = estimate_memory(config, shape, length)
    found = config.gpu_memory_gb or gpu_memory_found()
    needed = memory["total_with_checkpointing" if config.gradient_checkpointing else "total_without_checkpointing"]
    if found is None:
        fit = "no GPU found here; set gpu_memory_gb to check the fit"
    elif needed > found * 0.95:
        fit = f"WARNING: needs ~{needed:.1f} GiB but {found:.1f} GiB is available; lower micro_batch_size or length"
    else:
        fit = f"fits: ~{needed:.1f} GiB of {found:.1f} GiB"
    return {
        "model": config.model,
        "model_type": shape.model_type,
        "parameters": shape.linear_params + shape.other_params,
        "sequences": figures["sequences"],
        "max_length": length,
        "effective_batch_size": effective,
        "steps_per_epoch": steps_per_epoch,
        "total_steps": total_steps,
        "supervised_tokens": figures["supervised_tokens"],
        "supervised_tokens_from": figures["supervised_from"],
        "supervised_tokens_per_batch": round(sup_per_batch, 1),
        "lr_base": base_lr,
        "lr_pretrained_batch_tokens": batch_tokens,
        "lr_source": source,
        "suggested_learning_rate": suggested,
        "configured_learning_rate": config.learning_rate,
        "packing": _packing(figures, effective),
        "memory_gib": {k: round(v, 2) if k != "lora_params" else v for k, v in memory.items()},
        "gpu_memory_gib": found,
        "fit": fit,
    }


def _packing(figures: dict[str, Any], effective: int) -> dict[str, Any]:
    """The tokenize stats' packing efficiency; for unpacked data, the steps packing would save."""
    out = {"packed": figures.get("packed", False), "efficiency": figures.get("packing_efficiency")}
    estimate = figures.get("packed_sequences_estimate")
    if not out["packed"] and estimate:
        out["efficiency_if_packed"] = figures.get("packing_efficiency_if_packed")
        out["steps_per_epoch_if_packed"] = math.ceil(estimate / effective)
    return out


def _packing_line(result: dict[str, Any]) -> str:
    packing = result.get("packing") or {}
    if packing.get("efficiency") is None:
        return "packing            unknown (no tokenize stats.json beside train_data)"
    line = f"packing            {packing['efficiency']:.0%} of sequence slots hold real tokens"
    if packing["packed"]:
        return line + " (packed)"
    if packing.get("steps_per_epoch_if_packed"):
        line += (
            f" (unpacked); with tokenize --packing: {packing['efficiency_if_packed']:.0%}, "
            f"{packing['steps_per_epoch_if_packed']} steps per epoch instead of {result['steps_per_epoch']}"
        )
    return line


def format_plan(result: dict[str, Any]) -> str:
    m = result["memory_gib"]
    return "\n".join(
        [
            f"model              {result['model']} ({result['model_type']}, {result['parameters'] / 1e9:.2f}B params)",
            f"data               {result['sequences']} sequences, max length {result['max_length']}",
            f"effective batch    {result['effective_batch_size']} sequences "
            f"({result['supervised_tokens_per_batch']:.0f} supervised tokens)",
            f"steps              {result['steps_per_epoch']} per epoch, {result['total_steps']} in total",
            f"supervised tokens  {result['supervised_tokens']} per epoch (from {result['supervised_tokens_from']})",
            _packing_line(result),
            f"learning rate      suggested {result['suggested_learning_rate']:.2e} = {result['lr_base']:.1e} x "
            f"sqrt({result['supervised_tokens_per_batch']:.0f} / {result['lr_pretrained_batch_tokens']:,}) "
            f"[{result['lr_source']}]; configured {result['configured_learning_rate']:.2e}",
            "GPU memory (GiB)   "
            f"weights {m['weights']:.2f} | LoRA {m['lora_params']:,} params + grads + optimizer "
            f"{m['lora_params_grads_optimizer']:.2f} | activations {m['activations_checkpointed']:.2f} "
            f"with checkpointing, {m['activations_full']:.2f} without | CUDA {m['cuda_overhead']:.1f}",
            f"total              {m['total_with_checkpointing']:.2f} GiB with gradient checkpointing, "
            f"{m['total_without_checkpointing']:.2f} GiB without",
            f"fit                {result['fit']}",
        ]
    )
