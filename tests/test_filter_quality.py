import json

import pytest
from helpers import read_records, read_rejects, read_stats, tree_bytes

from dataprep.records import rows_to_batch
from dataprep.stages.filters.quality import (
    FilterQuality,
    FilterQualityConfig,
    repeated_line_share,
    repeated_ngram_share,
)

GOOD = "Cool the rice quickly, portion it into bags and freeze it within an hour; it keeps for a month."


def run(tmp_path, rows, name="out", **options):
    src = tmp_path / f"{name}.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    FilterQuality(FilterQualityConfig(**options)).run([src], tmp_path / name)
    return read_records(tmp_path / name), read_rejects(tmp_path / name), read_stats(tmp_path / name)


def qa(output, question="How?"):
    return {"input": question, "output": output}


@pytest.mark.parametrize(
    ("options", "output", "reason"),
    [
        ({"min_chars": 20}, "Too short.", "too-few-chars"),
        ({"max_chars": 150}, f"{GOOD} {GOOD}", "too-many-chars"),
        ({"min_words": 3}, "ok", "too-few-words"),
        ({"max_words": 25}, f"{GOOD} {GOOD}", "too-many-words"),
        ({"max_non_alpha": 0.5}, "#### $$$ 1234 ---- //// %%% 00000 ==== $$$", "non-alpha"),
        ({}, "Check Hostelworld.\n" * 6 + "Or ask at the station.", "repeated-lines"),
        ({}, "buy cheap pills online now " * 4 + "please", "repeated-ngrams"),
    ],
)
def test_each_check_rejects_with_its_reason(tmp_path, options, output, reason):
    records, rejects, stats = run(tmp_path, [qa(output), qa(GOOD)], **options)
    assert [r["output"] for r in records] == [GOOD]
    assert rejects[0]["reason"] == reason and rejects[0]["detail"]
    assert stats["dropped"] == {reason: 1}


def test_every_check_can_be_switched_off(tmp_path):
    rows = [qa("ok"), qa("Check Hostelworld.\n" * 6), qa("$$$ 1234 ////")]
    records, _, _ = run(tmp_path, rows, max_repeated_lines=None, max_repeated_ngrams=None, reject_empty_output=False)
    assert len(records) == 3


def test_chat_without_an_answer_is_empty_output(tmp_path):
    rows = [
        {"messages": [{"role": "user", "content": "Hello?"}, {"role": "assistant", "content": "  "}]},
        {"messages": [{"role": "user", "content": "Hello?"}]},
        {"messages": [{"role": "user", "content": "Hello?"}, {"role": "assistant", "content": GOOD}]},
    ]
    records, rejects, _ = run(tmp_path, rows)
    assert len(records) == 1
    assert [r["reason"] for r in rejects] == ["empty-output", "empty-output"]


def test_empty_output_in_a_batch_can_be_allowed():
    batch = rows_to_batch([{"id": "a", "input": "Write a poem.", "output": "", "source": "s", "meta": {}}])
    assert FilterQuality(FilterQualityConfig()).process(dict(batch))["_reject"] == ["empty-output"]
    kept = FilterQuality(FilterQualityConfig(reject_empty_output=False)).process(dict(batch))
    assert kept["_reject"] == [None]


def test_prompts_are_measured_only_when_asked(tmp_path):
    row = qa(GOOD, question="$$$$ #### 1234 5678")
    assert len(run(tmp_path, [row], name="a", max_non_alpha=0.5)[0]) == 1
    assert len(run(tmp_path, [row], name="b", max_non_alpha=0.5, check_prompts=True)[0]) == 0


def test_bad_records_are_rejected_with_a_reason(tmp_path):
    src = tmp_path / "bad.jsonl"
    lines = [{"text": "  "}, {"source": "x"}, {"output": ["a"], "input": "q"}, {"text": GOOD}]
    src.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    stats = FilterQuality(FilterQualityConfig()).run([src], tmp_path / "o")
    assert stats.records_out == 1
    assert dict(stats.dropped) == {"empty-text": 1, "missing-content": 1, "non-string-output": 1}
    batch = rows_to_batch([{"id": "a", "text": 3.5, "source": "s", "meta": {}}])
    assert FilterQuality(FilterQualityConfig()).process(batch)["_reject"] == ["non-string-text"]


def test_gopher_measures():
    assert repeated_line_share("a\nb\na\n\na") == pytest.approx(2 / 4)
    assert repeated_line_share("") == 0
    words = "the cat sat on the mat the cat sat on the mat".split()
    assert repeated_ngram_share(words, 5) == pytest.approx(1 - len("thecatsatonthemat") / len("".join(words)) * 1)
    assert repeated_ngram_share("all different words in this short text".split(), 5) == 0


def test_min_above_max_is_a_config_error():
    with pytest.raises(ValueError, match="larger than max_words"):
        FilterQualityConfig(min_words=10, max_words=5)


def test_same_input_gives_identical_output(tmp_path):
    rows = [qa(GOOD), qa("ok"), qa("x\n" * 5)]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    for name in ("a", "b"):
        FilterQuality(FilterQualityConfig(min_words=2)).run([src], tmp_path / name)
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")
    assert (tmp_path / "a" / "rejects.jsonl").read_bytes() == (tmp_path / "b" / "rejects.jsonl").read_bytes()
