"""Reading the tokenized Arrow folders and batching them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from datasets import Dataset

REQUIRED = ("input_ids", "labels")
IGNORE_INDEX = -100


class DataError(ValueError):
    """A dataset folder that the trainer cannot use, phrased for the user."""


def load_split(path: Path, what: str) -> Dataset:
    """Load a ``dataprep tokenize`` split folder and check its columns."""
    from datasets import Dataset, load_from_disk

    try:
        dataset = load_from_disk(str(path))
    except FileNotFoundError as exc:
        raise DataError(f"{what}: {path} is not a dataset folder written by `dataprep tokenize`") from exc
    if not isinstance(dataset, Dataset):
        raise DataError(f"{what}: {path} holds several splits; point at one of them, e.g. {path}/train")
    missing = [c for c in REQUIRED if c not in dataset.column_names]
    if missing:
        raise DataError(
            f"{what}: {path} lacks the column(s) {', '.join(missing)}; tokenize it with `dataprep tokenize` first"
        )
    if len(dataset) == 0:
        raise DataError(f"{what}: {path} holds no sequences")
    keep = [c for c in ("input_ids", "attention_mask", "labels", "position_ids") if c in dataset.column_names]
    return dataset.select_columns(keep)


class Collator:
    """Right-pads a list of examples into tensors.

    Packed examples carry ``position_ids`` that restart at every example
    boundary; for those the attention mask is left out, so transformers builds a
    block-diagonal causal mask from the position ids and packed examples do not
    attend to each other.
    """

    def __init__(self, pad_token_id: int = 0) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        import torch

        longest = max(len(e["input_ids"]) for e in examples)
        packed = "position_ids" in examples[0]
        batch: dict[str, list[list[int]]] = {"input_ids": [], "labels": []}
        if packed:
            batch["position_ids"] = []
        else:
            batch["attention_mask"] = []
        for example in examples:
            ids = list(example["input_ids"])
            pad = longest - len(ids)
            batch["input_ids"].append(ids + [self.pad_token_id] * pad)
            batch["labels"].append(list(example["labels"]) + [IGNORE_INDEX] * pad)
            if packed:
                # Padding forms its own "sequence" (positions restart at 0); its labels are masked.
                batch["position_ids"].append(list(example["position_ids"]) + list(range(pad)))
            else:
                mask = list(example.get("attention_mask") or [1] * len(ids))
                batch["attention_mask"].append(mask + [0] * pad)
        return {key: torch.tensor(value, dtype=torch.long) for key, value in batch.items()}


def split_packed(example: dict[str, Any]) -> list[dict[str, list[int]]]:
    """The examples inside one row: a packed row is cut where its ``position_ids`` restart at 0."""
    ids, labels = list(example["input_ids"]), list(example["labels"])
    positions = example.get("position_ids")
    if positions is None:
        return [{"input_ids": ids, "labels": labels}]
    starts = [i for i, p in enumerate(positions) if p == 0] or [0]
    ends = [*starts[1:], len(ids)]
    return [{"input_ids": ids[a:b], "labels": labels[a:b]} for a, b in zip(starts, ends) if b > a]


class FlatCollator:
    """Padding-free batches: every example of the micro batch laid end to end in one row.

    transformers' ``DataCollatorWithFlattening`` does the flattening: ``position_ids`` restart
    at every example, ``cu_seq_lens_q``/``cu_seq_lens_k`` (cumulative sequence lengths) and
    ``max_length_q``/``max_length_k`` go to flash-attention kernels, and the first label of
    each example is masked, so no example learns to predict the next one's first token. sdpa
    and eager attention build a block-diagonal mask from the restarting ``position_ids``.
    Rows packed by ``dataprep tokenize --packing`` are cut back into their examples first, so
    their boundaries survive. No padding means no compute spent on pad tokens.
    """

    def __init__(self) -> None:
        from transformers import DataCollatorWithFlattening

        self._flatten = DataCollatorWithFlattening(return_flash_attn_kwargs=True, return_tensors="pt")

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        return self._flatten([part for example in examples for part in split_packed(example)])


def make_collator(padding_free: bool) -> Collator | FlatCollator:
    """The collator the trainer uses: padding-free flattening, or right padding (packed rows keep their positions)."""
    return FlatCollator() if padding_free else Collator()


def is_packed(dataset: Dataset) -> bool:
    return "position_ids" in dataset.column_names


def supervised_tokens(dataset: Dataset) -> int:
    """Labels that are not -100, counted with Arrow compute (no Python loop over tokens)."""
    import pyarrow.compute as pc

    labels = dataset.data.column("labels")
    flat = pc.list_flatten(labels)
    return int(pc.sum(pc.not_equal(flat, IGNORE_INDEX)).as_py() or 0)
