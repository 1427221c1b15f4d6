"""Small local tokenizers with the chat formats of five model families, for the tokenize verification tests.

Each template is written from the family's documented format (the chat_template of the
family's instruct model on the Hugging Face hub, trimmed of tool-calling branches); the
tokenizer is a BPE trained here on a few sentences, with the family's special tokens and
its BOS behaviour, so nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

CHATML = (  # Qwen2.5-Instruct (ChatML), with its default system prompt
    "{%- if messages[0]['role'] != 'system' %}"
    "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
LLAMA3 = (  # Llama-3.1-Instruct, without the tools and date header
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + "
    "'<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)
MISTRAL = (  # Mistral-7B-Instruct-v0.1
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)
GEMMA = (  # gemma-2-it
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
    "{% endif %}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}"
    "{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}"
)
PHI3 = (  # Phi-3-mini-4k-instruct: EOS after the whole conversation unless a generation prompt follows
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{'<|system|>\\n' + message['content'] + '<|end|>\\n'}}"
    "{% elif message['role'] == 'user' %}{{'<|user|>\\n' + message['content'] + '<|end|>\\n'}}"
    "{% elif message['role'] == 'assistant' %}{{'<|assistant|>\\n' + message['content'] + '<|end|>\\n'}}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}{{ eos_token }}{% endif %}"
)


@dataclass
class Family:
    name: str
    template: str
    specials: list[str]
    bos: str | None
    eos: str
    pad: str | None
    #: The tokenizer puts BOS before every text it encodes (Llama, Mistral and Gemma tokenizers do).
    adds_bos: bool
    #: What the template writes to end an assistant turn.
    end_of_turn: str
    #: SentencePiece-style ("▁" word marks, no byte-level) like Llama 2 and Mistral v0.1.
    metaspace: bool = False
    system: bool = True
    extra: list[str] = field(default_factory=list)


FAMILIES = {
    "chatml": Family(
        "chatml",
        CHATML,
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        None,
        "<|im_end|>",
        "<|endoftext|>",
        False,
        "<|im_end|>",
    ),
    # pad = eos, as `tokenizer.pad_token = tokenizer.eos_token` gives for Llama 3.
    "llama3": Family(
        "llama3",
        LLAMA3,
        ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
        "<|begin_of_text|>",
        "<|eot_id|>",
        "<|eot_id|>",
        True,
        "<|eot_id|>",
    ),
    "mistral": Family(
        "mistral", MISTRAL, ["<unk>", "<s>", "</s>"], "<s>", "</s>", None, True, "</s>", metaspace=True, system=False
    ),
    "gemma": Family(
        "gemma",
        GEMMA,
        ["<pad>", "<eos>", "<bos>", "<start_of_turn>", "<end_of_turn>"],
        "<bos>",
        "<eos>",
        "<pad>",
        True,
        "<end_of_turn>",
        system=False,
    ),
    # Phi-3's pad token is its EOS.
    "phi3": Family(
        "phi3",
        PHI3,
        ["<|endoftext|>", "<s>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"],
        "<s>",
        "<|endoftext|>",
        "<|endoftext|>",
        False,
        "<|end|>",
    ),
}

TEXTS = [
    "Be brief. Hi? Hello. Bye? Bye now. What is two plus two? It is four.",
    "system user assistant model You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
    "USER: ASSISTANT: [INST] [/INST] Question Answer number one two three",
] * 4


def build(folder: Path, family: Family, template: str | None = None):
    """Save the family's tokenizer (with ``template``, by default its own) to ``folder``; return it."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    if family.metaspace:
        backend = Tokenizer(models.BPE(unk_token="<unk>"))
        backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first")
        backend.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="first")
        alphabet = sorted(set("".join(TEXTS + family.extra)) | set("\n\u2581"))
    else:
        backend = Tokenizer(models.BPE())
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        backend.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=family.specials, initial_alphabet=alphabet, show_progress=False
    )
    backend.train_from_iterator(TEXTS + family.extra, trainer=trainer)
    if family.adds_bos:
        bos_id = backend.token_to_id(family.bos)
        backend.post_processor = processors.TemplateProcessing(
            single=f"{family.bos} $A", pair=f"{family.bos} $A {family.bos} $B", special_tokens=[(family.bos, bos_id)]
        )
    named = {family.bos, family.eos, family.pad, "<unk>"}
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=family.bos,
        eos_token=family.eos,
        pad_token=family.pad,
        unk_token="<unk>" if family.metaspace else None,
        additional_special_tokens=[t for t in family.specials if t not in named],
        chat_template=template or family.template,
    )
    tokenizer.save_pretrained(folder)
    return tokenizer
