"""The tokenized splits train as they are: one optimiser step with TRL's SFTTrainer and with a
plain transformers Trainer, on the tiny sample Llama, on the CPU."""

import json

import pytest
from conftest import REPO

from dataprep.stages.base import StageContext
from dataprep.stages.tokenize import Tokenize, TokenizeConfig

TINY = REPO / "sample_data" / "tiny-llama"


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tokenized")
    records = [{"input": f"Question {i}?", "output": "An answer. " * (i % 5 + 1)} for i in range(12)]
    records += [
        {"messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]},
        {"text": "Plain text goes into blocks. " * 4},
    ]
    src = folder / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    for packing in (False, True):
        config = TokenizeConfig(tokenizer=str(TINY), max_length=64, packing=packing)
        Tokenize(config, StageContext(quiet=True)).run([src], folder / f"packing-{packing}")
    return folder


def _model_and_tokenizer():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(TINY), AutoTokenizer.from_pretrained(TINY)


def _args(tmp_path):
    return dict(
        output_dir=str(tmp_path / "trainer"),
        max_steps=1,
        per_device_train_batch_size=4,
        report_to="none",
        save_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
    )


@pytest.mark.parametrize("packing", [False, True])
def test_trl_sft_trainer_takes_the_split_as_pre_tokenized(splits, tmp_path, packing):
    from datasets import load_from_disk
    from trl import SFTConfig, SFTTrainer

    model, tokenizer = _model_and_tokenizer()
    dataset = load_from_disk(str(splits / f"packing-{packing}" / "train"))
    # Packed splits carry seq_lengths, which TRL's padding-free collator turns into position_ids.
    extra = dict(padding_free=True, max_length=None) if packing else dict(max_length=64)
    trainer = SFTTrainer(
        model=model,
        args=SFTConfig(**_args(tmp_path), **extra),
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    row = dataset[0]
    # Our labels reach the model as they are: TRL neither rebuilds nor unmasks them.
    assert batch["labels"][0][: len(row["labels"])].tolist() == row["labels"]
    result = trainer.train()
    assert result.global_step == 1 and result.training_loss == result.training_loss  # not NaN


def test_plain_transformers_trainer(splits, tmp_path):
    from datasets import load_from_disk
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    model, tokenizer = _model_and_tokenizer()
    dataset = load_from_disk(str(splits / "packing-False" / "train"))
    trainer = Trainer(
        model=model,
        args=TrainingArguments(**_args(tmp_path)),
        train_dataset=dataset,
        data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True),  # pads labels with -100
    )
    result = trainer.train()
    assert result.global_step == 1 and result.training_loss == result.training_loss
