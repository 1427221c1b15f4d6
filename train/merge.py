"""Merge a LoRA adapter into a 16-bit copy of its base model.

Never into the 4-bit weights: merging into a quantized base rounds the LoRA
update away (the fine-tune is silently lost). The merge is checked: the merged
model's logits must match base + adapter, and must differ from the base alone.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from train.config import TrainConfigError

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def _base_of(adapter_dir: Path) -> str:
    config = adapter_dir / "adapter_config.json"
    if not config.exists():
        raise TrainConfigError(f"{adapter_dir}: no adapter_config.json; give the adapter folder a training run wrote")
    return json.loads(config.read_text(encoding="utf-8"))["base_model_name_or_path"]


def merge_adapter(
    adapter_dir: str | Path, output_dir: str | Path, base: str | None = None, dtype: str = "bf16"
) -> dict[str, Any]:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    adapter_dir, output_dir = Path(adapter_dir), Path(output_dir)
    base = base or _base_of(adapter_dir)
    base_config = Path(base) / "config.json"
    if base_config.exists() and "quantization_config" in json.loads(base_config.read_text(encoding="utf-8")):
        raise TrainConfigError(
            f"{base} is a quantized checkpoint; merging into quantized weights loses the fine-tune. "
            "Give the original 16-bit base model with --base"
        )
    try:
        model = AutoModelForCausalLM.from_pretrained(base, dtype=DTYPES[dtype])
    except OSError as exc:
        raise TrainConfigError(f"cannot load the base model {base!r}: {str(exc).splitlines()[0]}") from exc
    probe = torch.arange(1, 17).clamp(max=model.config.vocab_size - 1).unsqueeze(0)
    with torch.no_grad():
        base_logits = model(input_ids=probe).logits.float()
    peft_model = PeftModel.from_pretrained(model, str(adapter_dir))
    with torch.no_grad():
        adapted_logits = peft_model(input_ids=probe).logits.float()
    merged = peft_model.merge_and_unload()
    with torch.no_grad():
        merged_logits = merged(input_ids=probe).logits.float()
    tolerance = 1e-3 if dtype == "fp32" else 5e-2
    mismatch = (merged_logits - adapted_logits).abs().max().item()
    change = (adapted_logits - base_logits).abs().max().item()
    if mismatch > tolerance:
        raise TrainConfigError(f"merged model differs from base + adapter by {mismatch:.3g} (> {tolerance}); not saved")
    merged.save_pretrained(output_dir)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"):
        for folder in (adapter_dir, Path(base)):
            if (folder / name).exists():
                shutil.copy2(folder / name, output_dir / name)
                break
    return {
        "base": base,
        "adapter": str(adapter_dir),
        "output": str(output_dir),
        "dtype": dtype,
        "max_abs_diff_merged_vs_adapter": mismatch,
        "max_abs_change_vs_base": change,
    }
