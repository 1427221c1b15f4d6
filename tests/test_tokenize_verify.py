"""tokenize's check against the inference rendering: five chat families, and every mismatch kind
produced, counted, fixed (where the construction can) and rejected (where it cannot)."""

import json

import numpy as np
import pytest
from chat_families import CHATML, FAMILIES, MISTRAL, build
from conftest import REPO
from helpers import CHAT, read_rejects

from dataprep.stages.base import StageContext
from dataprep.stages.tokenize import Tokenize, TokenizeConfig
from dataprep.tokens.examples import Flat
from dataprep.tokens.tokenizer import load_tokenizer
from dataprep.tokens.verify import KINDS, Verifier, VerifyReport

TINY = REPO / "sample_data" / "tiny-llama"
PAIR = {"input": "What is two plus two?", "output": "It is four."}


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def tokenize(inputs, out, tokenizer=TINY, **options):
    return Tokenize(TokenizeConfig(tokenizer=str(tokenizer), **options), StageContext(quiet=True)).run(inputs, out)


def rows(out):
    from datasets import load_from_disk

    return list(load_from_disk(str(out / "train")))


def trained(row):
    return [i for i, label in zip(row["input_ids"], row["labels"]) if label != -100]


def counts(stats, side, **expected):
    """The verification's counts on one side (fixed or rejected): the kinds named, zero for the others."""
    assert stats.extra["verify"][side] == {kind: expected.get(kind.replace("-", "_"), 0) for kind in KINDS}


@pytest.fixture(scope="module")
def family_dir(tmp_path_factory):
    made = {}

    def get(name, template=None):
        key = (name, template)
        if key not in made:
            folder = tmp_path_factory.mktemp(name)
            made[key] = folder, build(folder, FAMILIES[name], template)
        return made[key]

    return get


# What each family's construction fixed for one chat and one input/output pair: no family's template
# has {% generation %} markers; Llama 3, Mistral and Gemma write BOS in the template while their
# tokenizers add one too; pad is EOS for Llama 3 (set so) and Phi-3, and Mistral has no pad (trainers pad with EOS).
FIXED = {
    "chatml": {"template_without_generation_markers": 1},
    "llama3": {"template_without_generation_markers": 1, "double_bos": 1, "eos_masked_by_pad": 2},
    "mistral": {"template_without_generation_markers": 1, "double_bos": 1, "eos_masked_by_pad": 2},
    "gemma": {"template_without_generation_markers": 1, "double_bos": 1},
    "phi3": {"template_without_generation_markers": 1, "eos_masked_by_pad": 1},
}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_each_family_trains_on_exactly_what_inference_generates(tmp_path, family_dir, name):
    folder, tok = family_dir(name)
    family = FAMILIES[name]
    chat = CHAT if family.system else CHAT[1:]
    src = write_jsonl(tmp_path / "in.jsonl", [{"messages": chat}, PAIR])
    stats = tokenize([src], tmp_path / "out", tokenizer=folder)
    counts(stats, "rejected")
    counts(stats, "fixed", **FIXED[name])
    assert stats.extra["verify"]["records"] == 2
    pair_row, chat_row = rows(tmp_path / "out")  # a batch's pairs come before its chats
    ids = chat_row["input_ids"]
    for i, message in enumerate(chat):
        if message["role"] == "assistant":
            prompt = tok.apply_chat_template(chat[:i], add_generation_prompt=True)["input_ids"]
            assert ids[: len(prompt)] == prompt  # as the inference server renders the prompt
            assert chat_row["labels"][len(prompt) - 1] == -100 and chat_row["labels"][len(prompt)] != -100
    eot = family.end_of_turn
    assert tok.decode(trained(chat_row)) == f"Hello.{eot}Bye now.{eot}"  # content + end-of-turn, nothing else
    assert chat_row["attention_mask"] == [1] * len(ids)
    prompt = tok(PAIR["input"] + "\n")["input_ids"]
    assert pair_row["input_ids"][: len(prompt)] == prompt
    assert tok.decode(trained(pair_row)) == PAIR["output"] + tok.eos_token


def test_double_bos_fixed_for_typed_bos_and_rejected_when_the_template_writes_two(tmp_path, family_dir):
    src = write_jsonl(tmp_path / "in.jsonl", [{"input": "<s>What is 2+2?", "output": "Four."}])
    stats = tokenize([src], tmp_path / "typed")
    counts(stats, "fixed", double_bos=1)
    assert rows(tmp_path / "typed")[0]["input_ids"].count(1) == 1  # <s> is id 1 in tiny-llama
    # A Mistral template "fixed" to start every [INST] with BOS: the first turn renders <s><s>.
    template = MISTRAL.replace("{{ '[INST] ' +", "{{ bos_token + '[INST] ' +")
    folder, _ = family_dir("mistral", template)
    src = write_jsonl(tmp_path / "chat.jsonl", [{"messages": CHAT[1:]}])
    stats = tokenize([src], tmp_path / "chat", tokenizer=folder)
    counts(stats, "rejected", double_bos=1)
    assert stats.dropped == {"double-bos": 1}
    reject = read_rejects(tmp_path / "chat")[0]
    assert reject["record"]["messages"] == CHAT[1:]
    assert "first difference at token 1: training '[' " in reject["detail"] and "inference '<s>' (id 1)" in reject[
        "detail"
    ].replace("▁", "")


MARKED = (TINY / "chat_template.jinja").read_text()


def test_missing_eos_fixed_when_markers_leave_it_out_and_rejected_when_the_template_has_none(tmp_path):
    outside = MARKED.replace("{{ eos_token }}{% endgeneration %}", "{% endgeneration %}{{ eos_token }}")
    assert outside != MARKED
    src = write_jsonl(tmp_path / "in.jsonl", [{"messages": CHAT}])
    stats = tokenize([src], tmp_path / "fixed", chat_template=outside)
    counts(stats, "fixed", missing_eos=1, double_bos=1)  # tiny-llama's template writes BOS, its tokenizer adds one
    counts(stats, "rejected")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(TINY)
    assert tok.decode(trained(rows(tmp_path / "fixed")[0])) == "Hello.</s>Bye now.</s>"
    bare = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant: {% endif %}"
    )
    stats = tokenize([src], tmp_path / "rejected", chat_template=bare)
    counts(stats, "rejected", missing_eos=1)
    assert stats.dropped == {"missing-eos": 1}
    assert "never learn to stop" in read_rejects(tmp_path / "rejected")[0]["detail"]


def test_eos_masked_by_pad_fixed_by_construction_and_caught_in_a_masked_example(tmp_path, family_dir):
    folder, tok = family_dir("llama3")  # pad is EOS (<|eot_id|>)
    assert tok.pad_token_id == tok.eos_token_id
    src = write_jsonl(tmp_path / "in.jsonl", [PAIR])
    stats = tokenize([src], tmp_path / "out", tokenizer=folder)
    counts(stats, "fixed", eos_masked_by_pad=1)
    row = rows(tmp_path / "out")[0]
    assert row["labels"][-1] == row["input_ids"][-1] == tok.eos_token_id and row["attention_mask"][-1] == 1
    # What a collator that masks labels where input_ids == pad_token_id does to the same example.
    info = load_tokenizer(str(folder))
    verifier = Verifier(info, info.chat_template, separator="\n", train_on_inputs=False)
    labels = [-100 if i == tok.pad_token_id else label for i, label in zip(row["input_ids"], row["labels"])]
    flat = Flat(np.asarray(row["input_ids"], np.int32), np.asarray(labels, np.int32), np.asarray([len(labels)]))
    (checked,) = verifier.pairs(flat, [PAIR["input"]], [PAIR["output"]])
    assert checked.mismatch.kind == "eos-masked-by-pad" and "never learns to stop" in checked.mismatch.detail
    report = VerifyReport()
    report.add(checked, "r1", "in.jsonl", tok)
    assert report.to_dict()["rejected"]["eos-masked-by-pad"] == 1
    assert report.first[0]["training"][-1] == [tok.eos_token_id, "<|eot_id|>"]


# Vicuna style: the generation prompt ends in a space, which byte-level BPE merges into the next word.
VICUNA = (
    "{% for m in messages %}{% if m['role'] == 'user' %}USER: {{ m['content'] }} "
    "{% elif m['role'] == 'assistant' %}ASSISTANT: {{ m['content'] }}<|im_end|>{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT: {% endif %}"
)


def test_boundary_merge_fixed_by_tokenizing_apart_and_rejected_in_a_conversation_history(tmp_path, family_dir):
    folder, tok = family_dir("chatml", VICUNA)
    prompt = tok.apply_chat_template(CHAT[1:2], add_generation_prompt=True)["input_ids"]
    whole = tok.apply_chat_template(CHAT[1:3])["input_ids"]
    assert whole[: len(prompt)] != prompt  # the trap: " Hello" swallows the prompt's last space
    src = write_jsonl(tmp_path / "one.jsonl", [{"messages": CHAT[1:3]}])
    stats = tokenize([src], tmp_path / "one", tokenizer=folder)
    counts(stats, "fixed", boundary_merge=1, template_without_generation_markers=1)
    counts(stats, "rejected")
    assert rows(tmp_path / "one")[0]["input_ids"][: len(prompt)] == prompt
    # Input/output with a space separator: the same merge, the same fix.
    src = write_jsonl(tmp_path / "pair.jsonl", [PAIR])
    stats = tokenize([src], tmp_path / "pair", tokenizer=folder, separator=" ")
    counts(stats, "fixed", boundary_merge=1)
    # Two turns: the second prompt holds the first answer as inference tokenizes it (" Hello", merged),
    # which no single training sequence can match while also training turn one from its own prompt.
    src = write_jsonl(tmp_path / "two.jsonl", [{"messages": CHAT[1:]}])
    stats = tokenize([src], tmp_path / "two", tokenizer=folder)
    counts(stats, "rejected", boundary_merge=1)
    assert stats.dropped == {"boundary-merge": 1}
    assert "first difference at token" in read_rejects(tmp_path / "two")[0]["detail"]


def test_template_without_an_assistant_header_in_its_generation_prompt_is_rejected(tmp_path, family_dir):
    no_prompt = CHATML.split("{%- if add_generation_prompt %}")[0]
    folder, _ = family_dir("chatml", no_prompt)
    src = write_jsonl(tmp_path / "in.jsonl", [{"messages": CHAT}])
    stats = tokenize([src], tmp_path / "out", tokenizer=folder)
    counts(stats, "rejected", other=1)
    assert stats.dropped == {"render-mismatch": 1}
    assert "'<|im_start|>'" in read_rejects(tmp_path / "out")[0]["detail"]


def test_no_verify_skips_the_check(tmp_path, family_dir, cli):
    template = MISTRAL.replace("{{ '[INST] ' +", "{{ bos_token + '[INST] ' +")
    folder, _ = family_dir("mistral", template)
    src = write_jsonl(tmp_path / "in.jsonl", [{"messages": CHAT[1:]}])
    result = cli("tokenize", src, "-o", tmp_path / "out", "--tokenizer", folder, "--no-verify", "-q")
    assert result.exit_code == 0, result.output
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["extra"]["verify"] is None and stats["dropped"] == {}
    assert not (tmp_path / "out" / "mismatches.jsonl").exists()


def test_show_tokens_verify_prints_mismatches_side_by_side(tmp_path, family_dir, cli):
    folder, _ = family_dir("chatml", VICUNA)
    src = write_jsonl(tmp_path / "in.jsonl", [{"messages": CHAT[1:]}, {"messages": CHAT[1:3]}])
    tokenize([src], tmp_path / "out", tokenizer=folder)
    result = cli("show-tokens", "--verify", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "2 records verified" in result.output and "rejected: boundary-merge 1" in result.output
    assert "fixed by construction: boundary-merge 1" in result.output
    lines = [line for line in result.output.splitlines() if line.lstrip().startswith(">")]
    assert len(lines) == 1 and "' '" in lines[0] and "' Hello'" in lines[0]  # training | inference
    clean = tmp_path / "clean"
    tokenize([write_jsonl(tmp_path / "ok.jsonl", [PAIR])], clean)
    result = cli("show-tokens", "--verify", clean / "train")
    assert result.exit_code == 0 and "no mismatches" in result.output
    result = cli("show-tokens", "--verify", tmp_path)
    assert result.exit_code == 2 and "--no-verify" in result.output


def test_reference_prompts_from_the_encoders_ids_equal_tokenizing_them(family_dir):
    """The verifier builds tokenizer(input + separator) from the encoder's own ids only where the
    post-processor provably just adds fixed tokens; the verdicts are those of tokenizing the prompts."""
    from tokenizers import processors

    from dataprep.tokens.examples import Encoder
    from dataprep.tokens.verify import fixed_affixes

    info = load_tokenizer(str(TINY))
    assert fixed_affixes(info.backend) == (info.prefix, [])
    inputs = ["What is two plus two?", "<s>Typed BOS?", "Ends with a space ", "Café?"]
    outputs = ["It is four.", "Yes.</s>", " ok", "Ünïcödé."]
    encoder, verifier = Encoder(info), Verifier(info, info.chat_template, separator="\n", train_on_inputs=False)
    flat = encoder.pairs(inputs, outputs)
    fast = verifier.pairs(flat, inputs, outputs, flat.prompts)
    slow = verifier.pairs(flat, inputs, outputs)  # every prompt tokenized by the verifier
    assert [(c.mismatch, c.fixed) for c in fast] == [(c.mismatch, c.fixed) for c in slow]
    assert all(c.mismatch is None for c in fast) and fast[1].fixed == {"double-bos"}
    # A mismatch the numpy pass cannot clear still goes through _turn: the EOS masked.
    flat.labels[len(flat.ids) - 1] = -100
    (*_, last) = verifier.pairs(flat, inputs, outputs, flat.prompts)
    assert last.mismatch is not None and last.mismatch.kind in KINDS
    # Truncation on, or a post-processor that is not fixed tokens: the verifier tokenizes itself.
    info.backend.enable_truncation(8)
    assert fixed_affixes(info.backend) is None
    info.backend.no_truncation()
    info.backend.post_processor = processors.Sequence(
        [
            processors.ByteLevel(),
            processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)]),
        ]
    )
    assert fixed_affixes(info.backend) == ([0], [2])
