"""Build ``sample_data/tiny-llama/``: a randomly initialised Llama of ~1.6 MB and its tokenizer.

The tokenizer is a byte-level BPE (the `tokenizers` library) trained on the sample FAQ,
with ``<s>``/``</s>``/``<pad>`` and a chat template whose ``{% generation %}`` markers
tell which tokens are the assistant's. It exists for the offline demo and the tests: the
model has learnt nothing, so only its shapes and its tokenizer matter.

Deterministic: the same sample data and library versions give the same files.

    python scripts/make_tiny_llama.py [--out sample_data/tiny-llama]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_data" / "faq.csv"
VOCAB_SIZE = 2048
SPECIAL = ["<s>", "</s>", "<pad>"]
ROLES = ["<|system|>", "<|user|>", "<|assistant|>"]
# ChatML-like: a role tag on its own line, then the content; an assistant turn ends with </s>,
# which is inside the generation block so that the model learns to stop.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "<|assistant|>\n{% generation %}{{ message['content'] }}{{ eos_token }}{% endgeneration %}"
    "{% else %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def sample_texts(path: Path = SAMPLE) -> list[str]:
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [row[column] for row in rows for column in ("category", "question", "answer") if row.get(column)]


def build_tokenizer(texts: list[str]) -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL + ROLES,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    # Llama style: every encoded text starts with <s>.
    bos = tokenizer.token_to_id("<s>")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        additional_special_tokens=ROLES,
        chat_template=CHAT_TEMPLATE,
        model_max_length=2048,
    )


def build_model(tokenizer: PreTrainedTokenizerFast) -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=96,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    return LlamaForCausalLM(config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "sample_data" / "tiny-llama")
    args = parser.parse_args()
    tokenizer = build_tokenizer(sample_texts())
    model = build_model(tokenizer)
    args.out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(args.out)
    model.save_pretrained(args.out)
    params = sum(p.numel() for p in model.parameters())
    print(f"wrote {args.out}: vocab {len(tokenizer)}, {params:,} parameters")


if __name__ == "__main__":
    main()
