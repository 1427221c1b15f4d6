"""Preflight for packed training: do packed examples stay apart on this model?

Packing (``dataprep tokenize --packing``) or padding-free batches (``padding_free: true``) put
several examples in one row; only the attention mask built from ``position_ids`` (or the
cumulative sequence lengths a flash-attention kernel reads) keeps them from attending to each
other. An attention implementation or architecture that ignores those boundaries trains on
the wrong context without a word (trl #1230, transformers #46093). So before training, the
model being trained, with its attention implementation, computes the loss of a packed batch
and each example's own loss alone. With boundaries kept they agree: the packed loss is the
token-weighted mean of the per-example losses. If they do not, training refuses to start.

Run it alone on a tokenized split: ``python -m train.preflight --model MODEL --data SPLIT``.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from train.config import TrainConfig, TrainConfigError
from train.data import IGNORE_INDEX, FlatCollator, is_packed, split_packed

if TYPE_CHECKING:
    import torch

log = logging.getLogger("dataprep.train")
#: Allowed |packed - unpacked| loss in float32, where both sums are exact to ~1e-6.
TOLERANCE_FP32 = 1e-4
#: In bf16/fp16 the two computations round differently (bf16 keeps ~3 digits); a leak still moves it more.
TOLERANCE_HALF = 2e-2
REPORT = "packing_preflight.json"


class PackingLeakError(TrainConfigError):
    """Packed examples see each other on this model: training with packing must not start."""


@dataclass
class PackingCheck:
    packed_loss: float
    unpacked_loss: float
    difference: float
    tolerance: float
    examples: int
    rows: int
    supervised_tokens: int
    attn_implementation: str
    collator: str

    @property
    def ok(self) -> bool:
        return self.difference <= self.tolerance

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def _attn_implementation(model: Any) -> str:
    config = getattr(model, "config", None)
    return str(getattr(config, "_attn_implementation", None) or getattr(config, "attn_implementation", "default"))


def _rows_for_check(dataset: Any, rows: int, min_examples: int = 4, max_rows: int = 8) -> list[dict[str, Any]]:
    """The first rows of the dataset: one micro batch, grown until it holds a few examples."""
    picked: list[dict[str, Any]] = []
    examples = 0
    for i in range(min(len(dataset), max(rows, 1), max_rows) if len(dataset) else 0):
        picked.append(dataset[i])
        examples += len(split_packed(picked[-1]))
    i = len(picked)
    while examples < min_examples and i < min(len(dataset), max_rows):
        picked.append(dataset[i])
        examples += len(split_packed(picked[-1]))
        i += 1
    return picked


def _device(model: Any) -> torch.device:
    return next(p.device for p in model.parameters())


def check_packing(
    model: Any, rows: list[dict[str, Any]], collator: Any, *, tolerance: float = TOLERANCE_FP32
) -> PackingCheck:
    """Loss of ``rows`` batched by ``collator`` against the token-weighted mean of each example's own loss."""
    import torch

    examples = [e for row in rows for e in split_packed(row)]
    device = _device(model)
    was_training = model.training
    model.eval()
    total = weighted = 0.0
    try:
        with torch.no_grad():
            for example in examples:
                labels = torch.tensor([example["labels"]], dtype=torch.long, device=device)
                # The model predicts labels[1:] from the tokens before them; those are the tokens its loss averages.
                count = int((labels[:, 1:] != IGNORE_INDEX).sum())
                if not count:
                    continue
                ids = torch.tensor([example["input_ids"]], dtype=torch.long, device=device)
                loss = model(input_ids=ids, labels=labels).loss
                weighted += float(loss) * count
                total += count
            batch = collator(rows)
            inputs = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
            packed = float(model(**inputs).loss)
    finally:
        model.train(was_training)
    if not total:
        raise TrainConfigError("packing preflight: the first rows of train_data have no supervised token")
    unpacked = weighted / total
    return PackingCheck(
        packed_loss=packed,
        unpacked_loss=unpacked,
        difference=abs(packed - unpacked),
        tolerance=tolerance,
        examples=len(examples),
        rows=len(rows),
        supervised_tokens=int(total),
        attn_implementation=_attn_implementation(model),
        collator=type(collator).__name__,
    )


def packing_in_use(dataset: Any, collator: Any) -> bool:
    return is_packed(dataset) or isinstance(collator, FlatCollator)


def preflight(model: Any, dataset: Any, collator: Any, config: TrainConfig) -> PackingCheck | None:
    """Refuse to train with packing when packed examples attend to each other; None when nothing is packed.

    Writes the figures to ``output_dir/packing_preflight.json`` either way.
    """
    import torch

    from train.model import compute_dtype

    if not packing_in_use(dataset, collator):
        return None
    tolerance = TOLERANCE_FP32 if compute_dtype(config) == torch.float32 else TOLERANCE_HALF
    check = check_packing(model, _rows_for_check(dataset, config.micro_batch_size), collator, tolerance=tolerance)
    if config.output_dir is not None:
        (Path(config.output_dir) / REPORT).write_text(json.dumps(check.to_dict(), indent=2) + "\n", encoding="utf-8")
    log.info(
        "packing preflight: packed loss %.6f, per-example %.6f, difference %.2e (%s, %s)",
        check.packed_loss,
        check.unpacked_loss,
        check.difference,
        check.attn_implementation,
        check.collator,
    )
    if not check.ok:
        raise PackingLeakError(
            f"packing check failed on {config.model} (attn_implementation {check.attn_implementation}, "
            f"{check.collator}): the loss of a packed batch of {check.examples} examples is {check.packed_loss:.6f}, "
            f"but the token-weighted mean of their own losses is {check.unpacked_loss:.6f} "
            f"(difference {check.difference:.2e}, allowed {check.tolerance:.0e}). Packed examples attend to each "
            "other with this attention implementation, so training would learn across example boundaries. "
            "Set attn_implementation to one that honours position_ids / cumulative sequence lengths "
            "(sdpa, eager or flash_attention_2), or train unpacked: padding_free: false and a tokenized "
            "folder written without --packing."
            + (
                " The model's config also has use_cache on, and transformers builds the packed mask only "
                "without a KV cache: set use_cache to false in its config."
                if getattr(getattr(model, "config", None), "use_cache", False)
                else ""
            )
        )
    return check


def main(argv: list[str] | None = None) -> int:
    """``python -m train.preflight --model MODEL --data SPLIT``: print the check as JSON (exit 1 if it fails)."""
    import torch
    from transformers import AutoModelForCausalLM

    from train.data import load_split, make_collator

    parser = argparse.ArgumentParser(prog="python -m train.preflight", description=main.__doc__)
    parser.add_argument("--model", required=True, help="Model folder or hub name (loaded in float32).")
    parser.add_argument("--data", required=True, help="A split folder written by `dataprep tokenize`.")
    parser.add_argument("--padding-free", action="store_true", help="Check the padding-free collator.")
    parser.add_argument("--attn-implementation", help="e.g. sdpa, eager, flash_attention_2.")
    parser.add_argument("--micro-batch-size", type=int, default=4)
    args = parser.parse_args(argv)
    from train.data import DataError

    try:
        model = AutoModelForCausalLM.from_pretrained(
            args.model, dtype=torch.float32, attn_implementation=args.attn_implementation
        )
        dataset = load_split(Path(args.data), "--data")
    except (OSError, ValueError, DataError) as exc:
        print(f"error: {str(exc).splitlines()[0]}")
        return 2
    model.config.use_cache = False  # as the trainer loads it (train.model.load_model)
    collator = make_collator(args.padding_free)
    if not packing_in_use(dataset, collator):
        print(f"{args.data} is not packed; add --padding-free to check padding-free batches")
        return 2
    check = check_packing(model, _rows_for_check(dataset, args.micro_batch_size), collator)
    print(json.dumps(check.to_dict(), indent=2))
    return 0 if check.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
