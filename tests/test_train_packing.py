"""Packing that cannot leak: the padding-free collator and the trainer's packing preflight, on the tiny sample Llama."""

import json
import random
from pathlib import Path

import pytest
import torch

from train.config import TrainConfig
from train.data import Collator, FlatCollator, split_packed
from train.preflight import PackingLeakError, check_packing

MODEL = str(Path(__file__).resolve().parents[1] / "sample_data" / "tiny-llama")


def boundary_blind_attention(module, query, key, value, attention_mask, **kwargs):
    """Plain causal attention that ignores the mask, so packed examples see the ones before them."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    kwargs.pop("is_causal", None)
    return sdpa_attention_forward(module, query, key, value, None, is_causal=True, **kwargs)


@pytest.fixture(scope="module", autouse=True)
def _register_boundary_blind():
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import sdpa_mask

    AttentionInterface.register("boundary_blind", boundary_blind_attention)
    AttentionMaskInterface.register("boundary_blind", sdpa_mask)


def examples(n=6, seed=0):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        prompt = [0] + [rng.randrange(3, 2000) for _ in range(rng.randint(4, 20))]
        answer = [rng.randrange(3, 2000) for _ in range(rng.randint(4, 20))] + [1]
        out.append({"input_ids": prompt + answer, "labels": [-100] * len(prompt) + answer})
    return out


def packed_row(parts):
    """One row as `dataprep tokenize --packing` writes it: positions restart, each first label masked."""
    row = {"input_ids": [], "labels": [], "position_ids": [], "attention_mask": []}
    for part in parts:
        row["input_ids"] += part["input_ids"]
        row["labels"] += [-100] + part["labels"][1:]
        row["position_ids"] += list(range(len(part["input_ids"])))
        row["attention_mask"] += [1] * len(part["input_ids"])
    return row


def load(attn="sdpa", use_cache=False):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(MODEL, dtype=torch.float32, attn_implementation=attn)
    model.config.use_cache = use_cache
    return model


def test_flat_collator_flattens_with_positions_and_cumulative_lengths():
    parts = examples(3)
    batch = FlatCollator()([parts[0], packed_row(parts[1:])])
    lengths = [len(p["input_ids"]) for p in parts]
    assert batch["input_ids"].shape == (1, sum(lengths))
    assert "attention_mask" not in batch
    assert batch["position_ids"][0].tolist() == [i for n in lengths for i in range(n)]
    assert batch["cu_seq_lens_q"].tolist() == [0, lengths[0], lengths[0] + lengths[1], sum(lengths)]
    assert batch["max_length_q"] == max(lengths)
    assert batch["labels"][0, lengths[0]].item() == -100  # no example learns the next one's first token
    assert split_packed(packed_row(parts)) == [{"input_ids": p["input_ids"], "labels": p["labels"]} for p in parts]


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_loss_equals_token_weighted_mean_of_example_losses(attn):
    model = load(attn)
    parts = examples()
    flat = check_packing(model, parts, FlatCollator())
    padded = check_packing(model, [packed_row(parts[:3]), packed_row(parts[3:])], Collator())
    for check in (flat, padded):
        assert check.examples == 6 and check.supervised_tokens > 50
        assert check.difference < 1e-4, check
    print(f"{attn}: packed {flat.packed_loss:.6f} vs per-example {flat.unpacked_loss:.6f}, diff {flat.difference:.1e}")


def test_an_attention_that_ignores_boundaries_fails_the_check():
    parts = examples()
    blind = check_packing(load("boundary_blind"), parts, FlatCollator())
    assert not blind.ok and blind.difference > 1e-3
    # transformers builds the packed mask only without a KV cache: a model left with use_cache on leaks too.
    assert not check_packing(load("sdpa", use_cache=True), parts, FlatCollator()).ok


@pytest.fixture(scope="module")
def packed_data(tmp_path_factory):
    from datasets import Dataset

    root = tmp_path_factory.mktemp("packed")
    parts = examples(24, seed=1)
    Dataset.from_list([packed_row(parts[i : i + 3]) for i in range(0, 24, 3)]).save_to_disk(root / "train")
    return root


def config(packed_data, out, **overrides):
    options = dict(
        model=MODEL,
        train_data=str(packed_data / "train"),
        output_dir=str(out),
        max_steps=2,
        micro_batch_size=2,
        gradient_accumulation_steps=1,
        warmup=0,
        save_steps=2,
        lora_r=4,
        lora_dropout=0.0,
        optimizer="adamw_torch",
    )
    options.update(overrides)
    return TrainConfig(**options)


def test_training_with_packing_refuses_to_start_when_examples_leak(packed_data, tmp_path):
    from train.trainer import train

    with pytest.raises(PackingLeakError, match=r"attn_implementation boundary_blind.*attend to each other") as err:
        train(config(packed_data, tmp_path / "run", attn_implementation="boundary_blind"))
    assert "sdpa, eager or flash_attention_2" in str(err.value)
    assert not list((tmp_path / "run").glob("checkpoint-*"))
    report = json.loads((tmp_path / "run" / "packing_preflight.json").read_text())
    assert report["ok"] is False


def test_padding_free_training_passes_the_preflight_and_trains(packed_data, tmp_path):
    from train.trainer import train

    result = train(config(packed_data, tmp_path / "run", padding_free=True))
    report = json.loads((tmp_path / "run" / "packing_preflight.json").read_text())
    assert report["ok"] is True and report["collator"] == "FlatCollator" and report["difference"] < 1e-4
    assert result.report["steps"] == 2 and result.report["final_train_loss"] > 0
