import json
import shutil

import pytest
from conftest import REPO
from helpers import CHAT, read_rejects, read_stats, tree_bytes

from dataprep.errors import ConfigError
from dataprep.executors import LocalEngine
from dataprep.io.writers import ParquetShardWriter
from dataprep.records import new_record, rows_to_batch
from dataprep.stages.base import StageContext
from dataprep.stages.split import Split, SplitConfig
from dataprep.stages.tokenize import Tokenize, TokenizeConfig

TINY = REPO / "sample_data" / "tiny-llama"


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(TINY)


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def tokenize(inputs, out, tokenizer=TINY, **options):
    config = TokenizeConfig(tokenizer=str(tokenizer), **options)
    return Tokenize(config, StageContext(quiet=True)).run(inputs, out)


def rows(out, split="train"):
    from datasets import load_from_disk

    return list(load_from_disk(str(out / split)))


def trained(row):
    return [i for i, label in zip(row["input_ids"], row["labels"]) if label != -100]


def test_input_output_masks_prompt_and_trains_one_eos(tmp_path, tok):
    pairs = [
        ("What is 2+2?", "Four."),
        ("<s>Capital of France?", "Paris.</s>"),  # BOS and EOS typed into the text are not doubled
        ("Why?", "Because.</s></s>"),
    ]
    src = write_jsonl(tmp_path / "in.jsonl", [{"input": i, "output": o} for i, o in pairs])
    tokenize([src], tmp_path / "out")
    bos, eos = tok.bos_token_id, tok.eos_token_id
    for row, (inp, out) in zip(rows(tmp_path / "out"), pairs):
        ids, labels = row["input_ids"], row["labels"]
        assert ids.count(bos) == 1 and ids[0] == bos
        assert ids.count(eos) == 1 and ids[-1] == eos and labels[-1] == eos
        first = next(n for n, label in enumerate(labels) if label != -100)
        assert all(label == -100 for label in labels[:first])  # no prompt token trained
        assert labels[first:] == ids[first:]  # every output token trained
        assert tok.decode(ids[:first]) == "<s>" + inp.removeprefix("<s>") + "\n"
        assert tok.decode(trained(row)) == out.replace("</s>", "") + "</s>"
        assert row["attention_mask"] == [1] * len(ids)
        # the same ids as the whole text tokenized at once, so training matches inference
        whole = tok(inp.removeprefix("<s>") + "\n" + out.replace("</s>", ""))["input_ids"] + [eos]
        assert ids == whole


@pytest.fixture(scope="module")
def sentencepiece_style(tmp_path_factory):
    """A Llama-2/Mistral-style tokenizer: Metaspace pre-tokenizer that marks the first word with "▁"."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    texts = [f"What is {n} plus {n}? It is {2 * n}. Hello there, bye now." for n in range(50)]
    backend = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first")
    backend.decoder = decoders.Sequence(
        [decoders.ByteFallback(), decoders.Metaspace(replacement="\u2581", prepend_scheme="first")]
    )
    specials = ["<unk>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"]
    bytes_ = [f"<0x{i:02X}>" for i in range(256)]
    backend.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=400, special_tokens=specials + bytes_))
    backend.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    folder = tmp_path_factory.mktemp("spm") / "tokenizer"
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        chat_template=(TINY / "chat_template.jinja").read_text(),
    )
    tokenizer.save_pretrained(folder)
    return folder, tokenizer


def test_outputs_tokenize_as_in_the_whole_text_with_a_sentencepiece_style_tokenizer(tmp_path, sentencepiece_style):
    folder, tok = sentencepiece_style
    alone = tok("It is 4.", add_special_tokens=False)["input_ids"]
    joined = tok("?\nIt is 4.", add_special_tokens=False)["input_ids"]
    assert joined[-len(alone) :] != alone  # the trap: tokenized alone, the first word gets a "▁"
    src = write_jsonl(tmp_path / "in.jsonl", [{"input": "What is 2 plus 2?", "output": "It is 4."}, {"messages": CHAT}])
    tokenize([src], tmp_path / "out", tokenizer=folder)
    pair, chat = rows(tmp_path / "out")
    assert pair["input_ids"] == tok("What is 2 plus 2?\nIt is 4.")["input_ids"] + [tok.eos_token_id]
    assert tok.decode(trained(pair)) == "It is 4.</s>"
    assert chat["input_ids"] == tok.apply_chat_template(CHAT)["input_ids"]
    assert tok.decode(trained(chat)) == "Hello.</s>Bye now.</s>"


def test_train_on_inputs_trains_all_but_the_first_token(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"input": "What is 2+2?", "output": "Four."}])
    tokenize([src], tmp_path / "out", train_on_inputs=True)
    row = rows(tmp_path / "out")[0]
    assert row["labels"] == [-100] + row["input_ids"][1:]


def test_text_is_joined_with_eos_and_cut_into_blocks(tmp_path, tok):
    texts = [f"Document number {i} talks about tea, coffee and water." for i in range(12)]
    texts[3] = "<s>" + texts[3] + "</s>"
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in texts])
    stats = tokenize([src], tmp_path / "out", max_length=16)
    blocks = rows(tmp_path / "out")
    assert all(len(b["input_ids"]) == 16 for b in blocks[:-1]) and 0 < len(blocks[-1]["input_ids"]) <= 16
    stream = [i for b in blocks for i in b["input_ids"]]
    expected = []
    for text in texts:
        bare = tok(text.removeprefix("<s>").removesuffix("</s>"), add_special_tokens=False)["input_ids"]
        expected += [tok.bos_token_id] + bare + [tok.eos_token_id]
    # A last block of a single token (nothing in it can be trained) is left out.
    assert stream == expected[: len(stream)] and len(expected) - len(stream) <= 1
    for block in blocks:
        assert block["labels"] == [-100] + block["input_ids"][1:]
    assert stats.extra["examples"] == 12 and stats.extra["sequences"] == len(blocks)
    (source,) = stats.extra["sources"].values()  # a lone last token is counted, not lost silently
    assert (source["tokens_kept"], source["tokens_truncated"]) == (len(stream), len(expected) - len(stream))


def test_messages_train_only_the_assistant_with_either_kind_of_template(tmp_path, tok):
    src = write_jsonl(tmp_path / "in.jsonl", [{"messages": CHAT}])
    tokenize([src], tmp_path / "marked")  # tiny-llama's template has {% generation %} markers
    plain = tmp_path / "plain.jinja"
    plain.write_text(tok.chat_template.replace("{% generation %}", "").replace("{% endgeneration %}", ""))
    tokenize([src], tmp_path / "incremental", chat_template=str(plain))
    marked, incremental = rows(tmp_path / "marked")[0], rows(tmp_path / "incremental")[0]
    assert marked == incremental
    ids = marked["input_ids"]
    assert ids == tok.apply_chat_template(CHAT)["input_ids"]
    assert tok.decode(trained(marked)) == "Hello.</s>Bye now.</s>"
    masked = tok.decode([i for i, label in zip(ids, marked["labels"]) if label == -100])
    for prompt_text in ("Be brief.", "Hi?", "Bye?", "<|user|>", "<|assistant|>"):
        assert prompt_text in masked
    assert ids.count(tok.bos_token_id) == 1


def test_chat_template_that_rewrites_earlier_turns_is_reported(tmp_path):
    # Shows only the last assistant turn's content: a prefix of the chat is no prefix of the whole.
    template = (
        "{% for m in messages %}{{ m['role'] }}: "
        "{% if m['role'] == 'assistant' and not loop.last %}...{% else %}{{ m['content'] }}{% endif %}</s>\n"
        "{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}"
    )
    src = write_jsonl(tmp_path / "in.jsonl", [{"messages": CHAT}])
    stats = tokenize([src], tmp_path / "out", chat_template=template)
    assert stats.dropped == {"template-without-generation-markers": 1}
    assert stats.extra["verify"]["rejected"]["template-without-generation-markers"] == 1
    assert "{% generation %}" in read_rejects(tmp_path / "out")[0]["detail"]


@pytest.fixture
def no_template_tokenizer(tmp_path):
    folder = tmp_path / "bare-tokenizer"
    folder.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(TINY / name, folder / name)
    return folder


def test_messages_without_a_chat_template_name_the_fix(tmp_path, no_template_tokenizer, cli):
    src = write_jsonl(tmp_path / "in.jsonl", [{"messages": CHAT}])
    with pytest.raises(ConfigError, match=r"has no chat template.*--chat-template FILE"):
        tokenize([src], tmp_path / "out", tokenizer=no_template_tokenizer)
    result = cli("tokenize", src, "-o", tmp_path / "o2", "--tokenizer", no_template_tokenizer, "--format", "messages")
    assert result.exit_code == 2 and "--chat-template" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
    template = str(TINY / "chat_template.jinja")
    tokenize([src], tmp_path / "fixed", tokenizer=no_template_tokenizer, chat_template=template)
    assert len(rows(tmp_path / "fixed")) == 1


def test_tokenizer_path_that_does_not_exist(tmp_path, cli):
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "hello"}])
    missing = REPO / "sample_data" / "tiny-lama"
    with pytest.raises(ConfigError, match=r"tiny-lama'?: no such folder; did you mean '.*tiny-llama'"):
        tokenize([src], tmp_path / "out", tokenizer=missing)
    result = cli("tokenize", src, "-o", tmp_path / "out", "--tokenizer", tmp_path / "nowhere" / "tok")
    assert result.exit_code == 2
    assert "nowhere/tok" in result.output and "no such folder" in result.output
    assert "Traceback" not in result.output


def test_bad_records_are_rejected_and_counted(tmp_path):
    src = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"input": "Where is the output?"},
            {"input": "q", "output": "   "},
            {"text": ""},
            {"text": "fine"},
            {"input": "q", "output": "fine"},
            {"messages": [{"role": "user", "content": "nobody answers"}]},
        ],
    )
    stats = tokenize([src], tmp_path / "out")
    assert stats.dropped == {"empty-output": 2, "empty-text": 1, "no-assistant-turn": 1}
    assert (stats.records_in, stats.records_out) == (6, 2)
    assert len(read_rejects(tmp_path / "out")) == 4
    # Parquet records skip the JSONL checks; tokenize checks them itself.
    writer = ParquetShardWriter(tmp_path / "shards")
    writer.write(rows_to_batch([new_record("a", input="q", output=None), new_record("b", text="  "), new_record("c")]))
    writer.close()
    stats = tokenize([tmp_path / "shards"], tmp_path / "out2")
    assert stats.dropped == {"empty-output": 1, "empty-text": 1, "missing-content": 1}


def test_wrong_format_is_rejected(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"input": "q", "output": "a"}, {"text": "t"}])
    stats = tokenize([src], tmp_path / "out", format="text")
    assert stats.dropped == {"wrong-format": 1}
    assert "--format is text" in read_rejects(tmp_path / "out")[0]["detail"]


def test_overlength_drop_or_truncate(tmp_path):
    long_answer = " ".join(["word"] * 60)
    src = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"input": "short?", "output": "yes."},
            {"input": "long?", "output": long_answer},
            {"input": " ".join(["prompt"] * 60), "output": "no room for me"},
        ],
    )
    stats = tokenize([src], tmp_path / "drop", max_length=24)
    assert stats.dropped == {"too-long": 2}
    assert stats.extra["dropped_overlength"] == 2
    stats = tokenize([src], tmp_path / "cut", max_length=24, overlength="truncate")
    assert stats.dropped == {"no-trainable-tokens": 1}
    assert stats.extra["truncated"] == 1
    cut = rows(tmp_path / "cut")
    assert [len(r["input_ids"]) for r in cut] == [len(cut[0]["input_ids"]), 24]
    assert cut[1]["labels"][-1] != -100 and 1 not in cut[1]["input_ids"]  # cut answers get no EOS


def test_packing_keeps_examples_apart(tmp_path, tok):
    pairs = [{"input": f"Question {i}?", "output": " ".join(["answer"] * (i % 7 + 1))} for i in range(40)]
    src = write_jsonl(tmp_path / "in.jsonl", pairs)
    flat_stats = tokenize([src], tmp_path / "flat", max_length=64)
    stats = tokenize([src], tmp_path / "packed", max_length=64, packing=True)
    single = rows(tmp_path / "flat")
    packed = rows(tmp_path / "packed")
    assert len(packed) < len(single)
    pieces = []
    for row in packed:
        assert len(row["input_ids"]) <= 64 and sum(row["seq_lengths"]) == len(row["input_ids"])
        start = 0
        for length in row["seq_lengths"]:
            assert row["position_ids"][start : start + length] == list(range(length))
            assert row["labels"][start] == -100  # nothing before an example predicts its first token
            pieces.append((row["input_ids"][start : start + length], row["labels"][start : start + length]))
            start += length
    assert sorted(pieces) == sorted((r["input_ids"], r["labels"]) for r in single)
    assert stats.extra["columns"] == ["input_ids", "attention_mask", "labels", "position_ids", "seq_lengths"]
    assert 0.5 < stats.extra["splits"]["train"]["packing_efficiency"] <= 1
    # Unpacked, the stats say how full max_length sequences are, and what packing would make of them.
    unpacked = flat_stats.extra["splits"]["train"]
    assert unpacked["packing_efficiency"] == round(unpacked["tokens"] / (len(single) * 64), 4) < 0.5
    assert unpacked["packing_efficiency_if_packed"] == stats.extra["packing_efficiency"]
    assert unpacked["packed_sequences_estimate"] == len(packed)


def test_packed_sequence_gives_the_same_logits_as_separate_examples(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    pairs = [{"input": f"Question {i}?", "output": "An answer " * (i + 1)} for i in range(3)]
    src = write_jsonl(tmp_path / "in.jsonl", pairs)
    tokenize([src], tmp_path / "packed", max_length=128, packing=True)
    row = rows(tmp_path / "packed")[0]
    assert len(row["seq_lengths"]) == 3
    model = AutoModelForCausalLM.from_pretrained(TINY).eval()
    with torch.no_grad():
        ids = torch.tensor([row["input_ids"]])
        # No attention mask and no cache (as in training): transformers reads the example boundaries
        # from the restarting position_ids and masks attention between examples.
        positions = torch.tensor([row["position_ids"]])
        together = model(input_ids=ids, position_ids=positions, use_cache=False).logits[0]
        start = 0
        for length in row["seq_lengths"]:
            alone = model(input_ids=ids[:, start : start + length]).logits[0]
            assert torch.allclose(together[start : start + length], alone, atol=1e-4)
            start += length


def test_split_folder_in_stats_out(tmp_path):
    records = [{"input": f"Question {i}?", "output": f"Answer number {i}."} for i in range(60)]
    src = write_jsonl(tmp_path / "in.jsonl", records)
    Split(SplitConfig(ratio=[0.8, 0.2]), StageContext(quiet=True)).run([src], tmp_path / "split")
    stats = tokenize([tmp_path / "split"], tmp_path / "out")
    extra = read_stats(tmp_path / "out")["extra"]
    assert set(extra["splits"]) == {"train", "val"}
    total_sequences = total_tokens = total_supervised = 0
    for name in ("train", "val"):
        data = rows(tmp_path / "out", name)
        split_stats = extra["splits"][name]
        assert split_stats["sequences"] == len(data)
        assert split_stats["tokens"] == sum(len(r["input_ids"]) for r in data)
        assert split_stats["supervised_tokens"] == sum(len(trained(r)) for r in data)
        assert sum(b["examples"] for b in split_stats["length_histogram"]) == split_stats["examples"]
        total_sequences += len(data)
        total_tokens += split_stats["tokens"]
        total_supervised += split_stats["supervised_tokens"]
    assert extra["splits"]["val"]["records"] == len((tmp_path / "split" / "val.jsonl").read_text().splitlines())
    assert (extra["sequences"], extra["tokens"], extra["supervised_tokens"]) == (
        total_sequences,
        total_tokens,
        total_supervised,
    )
    assert stats.records_in == 60  # each record read once, not from both train.jsonl and train/
    assert extra["tokenizer"]["name"] == str(TINY) and len(extra["tokenizer"]["hash"]) == 16
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(tmp_path / "out" / "tokenizer").chat_template


def test_same_input_gives_byte_identical_datasets(tmp_path):
    records = [{"input": f"Q{i}?", "output": f"A{i}."} for i in range(30)] + [{"text": "some text"}] * 3
    src = write_jsonl(tmp_path / "in.jsonl", records)
    for out in ("a", "b"):
        tokenize([src], tmp_path / out, packing=True, max_length=64)
    for pattern in ("**/*.arrow", "*/*.json", "*.jsonl"):  # stats.json differs only in its timings
        assert tree_bytes(tmp_path / "a", pattern) == tree_bytes(tmp_path / "b", pattern)
    assert tree_bytes(tmp_path / "a", "**/*.arrow")


def test_show_tokens(tmp_path, cli):
    src = write_jsonl(tmp_path / "in.jsonl", [{"input": "What is 2+2?", "output": "Four."}])
    tokenize([src], tmp_path / "out")
    result = cli("show-tokens", tmp_path / "out" / "train", "-n", "1")
    assert result.exit_code == 0, result.output
    assert "[[<s>What is 2+2?\\n" in result.output and "]]Four.</s>" in result.output
    result = cli("show-tokens", tmp_path / "out" / "train", "--raw")
    assert "('<s>', -100)" in result.output and "('</s>', 1)" in result.output
    result = cli("show-tokens", tmp_path / "out")
    assert result.exit_code == 2 and "did you mean" in result.output


class _WorkerProcesses(LocalEngine):
    """The worker path of ``executor: ray`` without Ray: each batch is tokenized by a fresh
    stage (as on a worker) and crosses the same Arrow round trip both ways."""

    name = "workers"

    def map_batches(self, stage, inputs, method, on_rejects):
        from dataprep.executors.ray_engine import from_table, to_table

        worker = Tokenize(stage.config, StageContext(quiet=True))
        for batch in super().map_batches(stage, inputs, None, on_rejects):
            yield from_table(to_table(getattr(worker, method)(from_table(to_table(batch)))))


@pytest.mark.parametrize("packing", [False, True])
def test_tokenizing_on_workers_writes_the_same_datasets(tmp_path, packing):
    records = [
        {"messages": CHAT},
        {"input": "Where is the output?"},
        {"text": "A document " * 30},
        {"input": "q", "output": "   "},
        {"messages": [{"role": "user", "content": "nobody answers"}]},
        *({"input": f"Question {i}?", "output": f"Answer {i}. " * (i % 7)} for i in range(40)),
        {"messages": CHAT[1:]},
        {"text": "short"},
    ]
    src = write_jsonl(tmp_path / "in.jsonl", records)
    with src.open("a") as handle:
        handle.write("{not json\n")
    options = {"packing": packing, "max_length": 48, "batch_size": 16}
    local = tokenize([src], tmp_path / "local", **options).to_dict()
    config = TokenizeConfig(tokenizer=str(TINY), **options)
    ctx = StageContext(quiet=True, engine=_WorkerProcesses())
    workers = Tokenize(config, ctx).run([src], tmp_path / "workers").to_dict()
    for stats in (local, workers):
        for measured in ("seconds", "records_per_second", "peak_memory_mb"):
            stats.pop(measured)
    assert local == workers
    # Every kind of reject takes the worker path too: bad JSON, empty output, no assistant, too long.
    assert set(local["dropped"]) == {"bad-json", "empty-output", "no-assistant-turn", "too-long"}
    assert local["records_out"] >= 25
    assert tree_bytes(tmp_path / "local", "**/*.arrow") == tree_bytes(tmp_path / "workers", "**/*.arrow")
    # The same rejects; locally the next batch's read rejects come before this batch's fit ones.
    assert sorted(map(json.dumps, read_rejects(tmp_path / "local"))) == sorted(
        map(json.dumps, read_rejects(tmp_path / "workers"))
    )


def test_tokens_kept_truncated_and_dropped_per_source_file(tmp_path):
    a = write_jsonl(
        tmp_path / "a.jsonl",
        [
            {"input": "short?", "output": "yes."},
            {"input": "long?", "output": " ".join(["word"] * 60)},  # cut to max_length
            {"input": " ".join(["prompt"] * 60), "output": "no room for me"},  # nothing trainable left
        ],
    )
    b = write_jsonl(tmp_path / "b.jsonl", [{"input": "q?", "output": "fine."}, {"input": "q", "output": " "}])
    with b.open("a") as handle:
        handle.write("{not json\n")
    stats = tokenize([a, b], tmp_path / "out", max_length=24, overlength="truncate")
    sources = stats.extra["sources"]
    lengths = [len(r["input_ids"]) for r in rows(tmp_path / "out")]
    assert sources[str(a)] == {
        "records": 3,
        "examples": 2,
        "tokens_kept": lengths[0] + lengths[1],
        "tokens_truncated": sources[str(a)]["tokens_truncated"],
        "tokens_dropped": sources[str(a)]["tokens_dropped"],
        "dropped": {"no-trainable-tokens": 1},
    }
    assert lengths[1] == 24 and sources[str(a)]["tokens_truncated"] > 30  # 60 words, cut to 24 tokens
    assert sources[str(a)]["tokens_dropped"] > 60  # the 60-word prompt's tokens, counted with their record
    assert sources[str(b)] == {
        "records": 3,
        "examples": 1,
        "tokens_kept": lengths[2],
        "tokens_truncated": 0,
        "tokens_dropped": 0,
        "dropped": {"bad-json": 1, "empty-output": 1},
    }
    assert sum(s["tokens_kept"] for s in sources.values()) == stats.extra["tokens"]
    assert sum(s["records"] for s in sources.values()) == stats.records_in
    reject = next(r for r in read_rejects(tmp_path / "out") if r["reason"] == "no-trainable-tokens")
    assert "hold no trained token" in reject["detail"]
