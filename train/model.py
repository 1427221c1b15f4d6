"""Loading the base model (quantized) and attaching LoRA adapters."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import torch

from train.config import TrainConfig, TrainConfigError

log = logging.getLogger("dataprep.train")


def _no_kernel_notice(record: logging.LogRecord) -> bool:
    return "gemm_4bit_forward from kernels-community" not in record.getMessage()


def silence_cpu_warnings() -> None:
    """bitsandbytes warns on every CPU run that paged optimizers fall back to plain ones; that is expected here."""
    warnings.filterwarnings("ignore", message="Paged optimizers are not supported on CPU")
    # An optional inference kernel (fetched from the hub, which we never do); training does not use it.
    logging.getLogger("bitsandbytes.backends.cpu.ops").addFilter(_no_kernel_notice)
    warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*deprecated.*", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*deprecated.*", category=FutureWarning)


def compute_dtype(config: TrainConfig) -> torch.dtype:
    """bf16 where the GPU supports it, else fp16, and fp32 on CPU (unless set explicitly)."""
    explicit = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
    if config.compute_dtype in explicit:
        return explicit[config.compute_dtype]
    if torch.cuda.is_available():
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def keep_cpu_weights_trainable(model: Any) -> None:
    """Keep bitsandbytes from repacking 4-bit weights for its CPU inference kernel.

    On a CPU with AVX-512 BF16, bitsandbytes (0.50) rewrites a 4-bit layer's weights into an
    inference-only layout the first time the layer runs in eval mode without gradients, that is,
    at the first evaluation. Training then goes on over that layout, through which no gradient flows
    back to the layer's input (checked on a 128x128 layer: the input's grad stays None), so every
    step after the first evaluation would train on wrong gradients; and the repacking fails outright
    on layers whose sizes are not multiples of 64 (the tiny test models). Switching it off keeps the
    one NF4 layout for training and evaluation alike.
    """
    from bitsandbytes.nn import Linear4bit

    for module in model.modules():
        if isinstance(module, Linear4bit):
            module.support_avx512bf16_for_cpu = False


def quantization_config(config: TrainConfig, dtype: torch.dtype) -> Any:
    if config.quantization == "none":
        return None
    from transformers import BitsAndBytesConfig

    if not torch.cuda.is_available():
        import bitsandbytes
        from packaging.version import Version

        if Version(bitsandbytes.__version__) < Version("0.45"):
            raise TrainConfigError(
                f"quantization {config.quantization} needs a CUDA GPU or bitsandbytes >= 0.45 on CPU "
                f"(found {bitsandbytes.__version__}); upgrade bitsandbytes or set quantization: none"
            )
    if config.quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=config.quant_type,
        bnb_4bit_use_double_quant=config.double_quant,
        bnb_4bit_compute_dtype=dtype,
        bnb_4bit_quant_storage=dtype,
    )


def load_model(config: TrainConfig) -> Any:
    """The base model, quantized as configured, with LoRA adapters attached."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    silence_cpu_warnings()
    dtype = compute_dtype(config)
    quant = quantization_config(config, dtype)
    device_map: Any = None
    if quant is not None:
        device_map = {"": torch.cuda.current_device()} if torch.cuda.is_available() else "cpu"
    try:
        model = AutoModelForCausalLM.from_pretrained(
            config.model,
            quantization_config=quant,
            dtype=dtype,
            device_map=device_map,
            attn_implementation=config.attn_implementation,
        )
    except OSError as exc:
        raise TrainConfigError(
            f"model {config.model!r} cannot be loaded: not a local folder with config.json and weights, "
            f"and not reachable on the hub from here ({str(exc).splitlines()[0]})"
        ) from exc
    model.config.use_cache = False
    if quant is not None and not torch.cuda.is_available():
        keep_cpu_weights_trainable(model)
    if quant is not None:
        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=config.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    elif config.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.target_modules,
        modules_to_save=config.modules_to_save or None,
        # A model whose head shares the embedding matrix keeps sharing it when both are trained.
        ensure_weight_tying=bool(config.modules_to_save) and bool(getattr(model.config, "tie_word_embeddings", False)),
        task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(model, lora)
    except ValueError as exc:
        raise TrainConfigError(f"LoRA cannot attach to {config.model}: {exc}") from exc
