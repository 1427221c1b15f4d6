import json
from pathlib import Path

import numpy as np
import pytest
from helpers import read_records, read_rejects, read_stats, tree_bytes

from benchmarks.slop_quality import evaluate, load
from dataprep.errors import ConfigError
from dataprep.records import rows_to_batch
from dataprep.stages.filters.slop import (
    FilterSlop,
    FilterSlopConfig,
    PhraseMatcher,
    expand,
    fold,
    sentence_spans,
    strip_sentences,
)
from dataprep.stages.filters.slop_families import family_hits
from dataprep.stages.filters.slop_scorer import WEIGHTS, load_scorer, train

DATA = Path(__file__).parent / "data"


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def run(tmp_path, rows, name="out", **options):
    src = write_jsonl(tmp_path / f"{name}-in.jsonl", rows)
    out = tmp_path / name
    FilterSlop(FilterSlopConfig(**options)).run([src], out)
    return read_records(out), read_rejects(out), read_stats(out)


def qa(output, question="Q?", **meta):
    return {"input": question, "output": output, "meta": meta}


ANSWER = "Carbon steel is lighter and heats up faster, which makes it popular for stir-fries and eggs."


def test_refusal_is_dropped_with_phrase_and_category(tmp_path):
    records, rejects, stats = run(tmp_path, [qa("I'm sorry, but I can't assist with that."), qa(ANSWER)])
    assert [r["output"] for r in records] == [ANSWER]
    assert rejects[0]["reason"] == "slop-refusal"
    assert "refusal" in rejects[0]["detail"] and "i'm sorry, but i can't" in rejects[0]["detail"]
    # The deciding sentence and its source travel with the reject (the phrase list: a rule).
    assert rejects[0]["record"]["meta"]["slop"]["decided_by"] == {
        "by": "rule",
        "phrase": "i'm sorry, but i can't",
        "category": "refusal",
        "sentence": "I'm sorry, but I can't assist with that.",
    }
    assert stats["dropped"] == {"slop-refusal": 1}
    assert stats["extra"]["decisions"]["rule"] == {"dropped": 1, "stripped": 0}


def test_disclaimer_sentence_is_stripped_and_the_answer_kept(tmp_path):
    text = f"As an AI language model, I don't have personal experience cooking. {ANSWER}\n\nBoth need seasoning."
    records, rejects, _ = run(tmp_path, [qa(text)])
    assert not rejects
    assert records[0]["output"] == f"{ANSWER}\n\nBoth need seasoning."
    assert records[0]["meta"]["slop"]["stripped"] == ["as an ai language model", "i don't have personal experience"]


def test_disclaimer_line_of_a_list_is_stripped(tmp_path):
    text = "Three options:\n- Lisbon\n- As an AI I have never been to Porto\n- Faro"
    records, _, _ = run(tmp_path, [qa(text)], min_words_left=2)
    assert records[0]["output"] == "Three options:\n- Lisbon\n- Faro"


def test_strip_that_leaves_too_little_drops_the_record(tmp_path):
    records, rejects, _ = run(tmp_path, [qa("As an AI language model, I cannot browse the internet. Sorry.")])
    assert records == []
    assert rejects[0]["reason"] == "slop-ai-disclaimer"
    assert "1 words left" in rejects[0]["detail"]


def test_gptisms_are_flagged_with_density(tmp_path):
    text = "Let's delve into it. Baking soda is a testament to chemistry: it needs an acid to react."
    records, rejects, stats = run(tmp_path, [qa(text)])
    assert not rejects and records[0]["output"] == text
    slop = records[0]["meta"]["slop"]
    assert slop["flags"] == {"is a testament to": 1, "let's delve": 1}
    assert slop["density"] == round(1000 * 2 / len(text.split()), 2)
    assert stats["extra"]["hits_by_category"] == {"gptism": 2}
    assert stats["extra"]["records"] == {"dropped": 0, "stripped": 0, "flagged": 1}


def test_max_density_turns_flags_into_a_drop(tmp_path):
    dense = "Let's delve into it: a rich tapestry of flavour."
    light = "Let's delve into the details. " + " ".join(["word"] * 200)
    records, rejects, _ = run(tmp_path, [qa(dense), qa(light)], max_density=20)
    assert [r["output"] for r in records] == [light]
    assert rejects[0]["reason"] == "slop-density"


def test_actions_can_be_changed_per_category(tmp_path):
    rows = [qa("Let's delve into it. " + ANSWER), qa(f"{ANSWER} I'm sorry, but I cannot share more. Thanks!")]
    records, rejects, _ = run(tmp_path, rows, actions={"gptism": "drop", "refusal": "strip"})
    assert [r["reason"] for r in rejects] == ["slop-gptism"]
    assert records[0]["output"] == f"{ANSWER} Thanks!"


@pytest.mark.parametrize(
    "text",
    [
        "I\u2019m sorry, but I can\u2019t help with that.",  # curly apostrophes
        "I'M SORRY, BUT I CAN'T help with that.",  # case
        "I'm   sorry,\n\nbut  I can't help with that.",  # whitespace runs and newlines
        "i'm sorry, but i can't",  # the whole text, start to end
        "Well... I'm sorry, but I can't",  # at the very end
    ],
)
def test_matching_folds_quotes_case_and_whitespace(text):
    matcher = PhraseMatcher({"i'm sorry, but i can't": "refusal"})
    found = matcher.find(text)
    assert [m.category for m in found] == ["refusal"]
    assert fold(text[found[0].start : found[0].end]) == "i'm sorry, but i can't"


def test_matching_respects_word_boundaries():
    matcher = PhraseMatcher({"bias": "x", "as an ai": "y"})
    assert matcher.find("a biased sample, unbias it, bias_level") == []
    assert [m.phrase for m in matcher.find("bias. Bias! (bias)")] == ["bias", "bias", "bias"]
    assert matcher.find("she was an aid as an aide") == []
    assert [(m.start, m.end) for m in matcher.find("As an AI")] == [(0, 8)]


def test_phrase_at_start_and_end_of_record(tmp_path):
    rows = [qa("Delve into the rules before you play."), qa("Every rule here is a testament to")]
    records, _, _ = run(tmp_path, rows)
    assert [r["meta"]["slop"]["flags"] for r in records] == [{"delve into": 1}, {"is a testament to": 1}]


def test_exceptions_cancel_overlapping_matches():
    matcher = PhraseMatcher({"as an ai": "ai-disclaimer"}, exceptions=["an ai researcher", "such as"])
    assert matcher.find("As an AI researcher, I publish papers.") == []
    assert matcher.find("Tools such as an AI assistant help.") == []
    assert len(matcher.find("As an AI, I cannot.")) == 1


def test_ordinary_words_are_not_flagged_by_builtin_lists(tmp_path):
    rows = [
        qa("There are ethical questions here, and selection bias matters; keep in mind the sample size."),
        qa("I cannot stress enough how important backups are. Sorry to hear that your disk failed."),
        qa("As an example, a 5% mortgage on 200,000 costs about 1,074 a month."),
    ]
    records, rejects, _ = run(tmp_path, rows)
    assert not rejects
    assert all("slop" not in r["meta"] for r in records)


def test_prompts_are_checked_only_when_asked(tmp_path):
    row = qa(ANSWER, question="Why do you always say 'I'm sorry, but I can't help with that'?")
    records, _, _ = run(tmp_path, [row], name="default")
    assert len(records) == 1
    records, rejects, _ = run(tmp_path, [row], name="prompts", check_prompts=True)
    assert records == [] and rejects[0]["reason"] == "slop-refusal"


def test_chat_records_strip_assistant_turns_only(tmp_path):
    messages = [
        {"role": "user", "content": "As an AI, what do you think? Be honest."},
        {"role": "assistant", "content": f"As an AI, I have no opinion. {ANSWER}"},
    ]
    records, _, _ = run(tmp_path, [{"messages": messages}])
    assert records[0]["messages"][0]["content"] == messages[0]["content"]
    assert records[0]["messages"][1]["content"] == ANSWER


def test_text_records_are_checked(tmp_path):
    records, rejects, _ = run(tmp_path, [{"text": "Q: Help?\nA: I cannot fulfill this request."}, {"text": ANSWER}])
    assert [r["text"] for r in records] == [ANSWER]
    assert rejects[0]["reason"] == "slop-refusal"


def test_user_phrase_list_and_regex_with_their_own_category(tmp_path):
    phrases = tmp_path / "mine.txt"
    phrases.write_text("# my list\n{great|good} question\n\nbias\n!bias tape\n", encoding="utf-8")
    rows = [
        qa("Great question! The answer is four."),
        qa("Sew the bias tape on first, then press it flat with a hot iron, and you are done."),
        qa("Check out WWW.SPAM-SHOP.COM for cheap pills today, friends, hurry."),
        qa("The bias of the estimator is zero, so it is unbiased."),
    ]
    records, rejects, stats = run(
        tmp_path,
        rows,
        builtin_lists=[],
        phrase_lists={"chatty": str(phrases)},
        regexes=[r"spam=www\.[a-z-]+\.com"],
        actions={"chatty": "flag", "spam": "drop"},
    )
    assert [r["reason"] for r in rejects] == ["slop-spam"]
    assert "re:www\\.[a-z-]+\\.com" in rejects[0]["detail"]
    assert [r["meta"].get("slop", {}).get("flags") for r in records] == [
        {"great question": 1},
        None,
        {"bias": 1},
    ]
    assert stats["extra"]["hits_by_category"] == {"chatty": 2, "spam": 1}


def test_user_list_overrides_builtin_category(tmp_path):
    mine = tmp_path / "mine.txt"
    mine.write_text("as an ai\n", encoding="utf-8")
    records, rejects, _ = run(
        tmp_path, [qa(f"As an AI, I think so. {ANSWER}")], phrase_lists=[f"banned={mine}"], actions={"banned": "drop"}
    )
    assert records == [] and rejects[0]["reason"] == "slop-banned"


def test_top_phrases_in_stats_are_ranked(tmp_path):
    rows = [qa(f"Let's delve into it. {ANSWER}")] * 3 + [qa(f"It's worth noting this. {ANSWER}")]
    _, _, stats = run(tmp_path, rows)
    assert stats["extra"]["top_phrases"] == [
        {"phrase": "let's delve", "hits": 3},
        {"phrase": "it's worth noting", "hits": 1},
    ]


def test_bad_records_are_rejected_with_a_reason(tmp_path):
    src = tmp_path / "bad.jsonl"
    src.write_text(
        "\n".join(
            [
                json.dumps({"text": ""}),
                json.dumps({"meta": {"a": 1}}),
                json.dumps({"text": 42}),
                json.dumps({"input": "q"}),
                json.dumps({"messages": [{"role": "assistant", "content": None}]}),
                "{not json",
                json.dumps({"text": ANSWER}),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    stats = FilterSlop(FilterSlopConfig()).run([src], tmp_path / "o")
    assert stats.records_in == 7 and stats.records_out == 1
    assert dict(stats.dropped) == {
        "empty-text": 1,
        "missing-content": 1,
        "non-string-text": 1,
        "empty-output": 1,
        "non-string-message-content": 1,
        "bad-json": 1,
    }


def test_bad_values_in_a_batch_are_rejected_not_crashed():
    batch = rows_to_batch(
        [
            {"id": "a", "input": "q", "output": 7, "source": "s", "meta": {}},
            {"id": "b", "text": None, "source": "s", "meta": {}},
            {"id": "c", "text": ["list"], "source": "s", "meta": {}},
            {"id": "d", "text": "Fine text here.", "source": "s", "meta": {}},
        ]
    )
    out = FilterSlop(FilterSlopConfig()).process(batch)
    assert out["_reject"] == ["non-string-output", "missing-content", "non-string-text", None]


def test_same_input_gives_identical_output(tmp_path):
    rows = [qa(f"As an AI, I can't say. {ANSWER}"), qa("Let's delve into it."), qa("I can't assist with that.")]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    for name in ("a", "b"):
        FilterSlop(FilterSlopConfig()).run([src], tmp_path / name)
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")
    assert (tmp_path / "a" / "rejects.jsonl").read_bytes() == (tmp_path / "b" / "rejects.jsonl").read_bytes()
    assert read_stats(tmp_path / "a")["extra"] == read_stats(tmp_path / "b")["extra"]


def test_config_errors_are_plain_sentences(tmp_path):
    with pytest.raises(ValueError, match="has no action"):
        FilterSlopConfig(regexes=["spam=buy now"])
    with pytest.raises(ValueError, match="did you mean 'refusal'"):
        FilterSlopConfig(actions={"refusl": "flag"})
    with pytest.raises(ValueError, match="is not a file"):
        FilterSlopConfig(phrase_lists=["x=nowhere.txt"], actions={"x": "drop"})
    with pytest.raises(ValueError, match="does not compile"):
        FilterSlopConfig(regexes=["x=(unclosed"], actions={"x": "drop"})
    broken = tmp_path / "broken.txt"
    broken.write_text("fine\n{unclosed brace\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken.txt:2: unbalanced"):
        FilterSlop(FilterSlopConfig(phrase_lists=[f"x={broken}"], actions={"x": "drop"}))


def test_expand_and_strip_helpers():
    assert expand("{i'm|i am} sorry{|, but}") == ["i'm sorry", "i'm sorry, but", "i am sorry", "i am sorry, but"]
    text = "One. As an AI, I can't. Three? Four!"
    assert strip_sentences(text, [(5, 10)]) == "One. Three? Four!"
    assert strip_sentences(text, [(31, 35)]) == "One. As an AI, I can't. Three?"


@pytest.mark.parametrize("name", ["slop_labelled", "slop_heldout", "slop_unseen"])
def test_builtin_lists_reach_the_quality_bar_on_labelled_fixtures(name):
    result = evaluate(load(DATA / f"{name}.jsonl"), FilterSlopConfig())
    assert result["precision"] >= 0.9, result["errors"]
    assert result["recall"] >= 0.9, result["errors"]


# Phrase families, the sentence scorer, other languages.


@pytest.mark.parametrize(
    ("sentence", "family"),
    [
        ("As a helpful, respectful and honest assistant, I will answer.", "self-description"),
        ("As a friendly, patient and knowledgeable AI, here is my answer.", "self-as-ai"),
        ("I am but a humble assistant, here to serve.", "self-as-assistant"),
        ("Being a conversational language model, I make mistakes.", "self-as-ai"),
        ("You can call me an AI helper.", "named-ai"),
        ("I'm here to help you safely and respectfully.", "manner-preamble"),
        ("However, I must point out that the question does not make sense.", "point-out"),
        ("I notice that the premise of your request is mistaken.", "i-notice"),
        ("Unfortunately, I cannot implement this in Prolog.", "cannot-do"),
    ],
)
def test_families_read_slots(sentence, family):
    assert family_hits(fold(sentence), first=False).name == family


@pytest.mark.parametrize(
    "sentence",
    [
        "As a result of the assistant's mistake, the meeting moved.",
        "As an example, a language model predicts the next word.",
        "As a teacher, I start every lesson with a quiz.",
        "I am an AI researcher at a university.",
        "I can't recommend this place highly enough.",
        "The assistant manager approved my holiday.",
    ],
)
def test_families_leave_lookalikes_alone(sentence):
    assert family_hits(fold(sentence), first=True) is None


def test_opening_families_only_count_at_the_start(tmp_path):
    assert family_hits(fold("I'm sorry, but I have no idea what you mean."), first=True).name == "sorry-but"
    assert family_hits(fold("I'm sorry, but I have to cancel our dinner on Friday."), first=False) is None
    email = "Dear Sam,\nThanks for the invite, it was kind.\nI'm sorry, but I have to cancel our dinner on Friday."
    records, rejects, _ = run(tmp_path, [qa(email)], scorer=False)
    assert not rejects and records[0]["output"] == email


def test_family_decisions_strip_and_drop_with_their_sentence(tmp_path):
    preamble = f"As a friendly and caring assistant, I am happy to answer. {ANSWER}"
    midway = f"{ANSWER} Unfortunately, I cannot implement this in Prolog. Use Python instead."
    records, rejects, stats = run(tmp_path, [qa(preamble), qa(midway)], scorer=False)
    assert [r["output"] for r in records] == [ANSWER]
    assert records[0]["meta"]["slop"]["decisions"] == [
        {
            "by": "family",
            "category": "ai-disclaimer",
            "family": "self-description",
            "sentence": "As a friendly and caring assistant, I am happy to answer.",
        }
    ]
    assert records[0]["meta"]["slop"]["stripped"] == ["family:self-description"]
    assert rejects[0]["reason"] == "slop-refusal"
    assert (
        rejects[0]["record"]["meta"]["slop"]["decided_by"]["sentence"]
        == "Unfortunately, I cannot implement this in Prolog."
    )
    assert 'family cannot-do on "Unfortunately, I cannot implement this in Prolog."' in rejects[0]["detail"]
    assert stats["extra"]["decisions"]["family"] == {"dropped": 1, "stripped": 1}


def test_families_can_be_turned_off(tmp_path):
    text = f"As a friendly and caring assistant, I am happy to answer. {ANSWER}"
    records, _, _ = run(tmp_path, [qa(text)], families=False, scorer=False)
    assert records[0]["output"] == text


def test_scorer_decides_cue_sentences_no_rule_matched(tmp_path):
    text = "I am not able to look that up for you right now."
    records, rejects, stats = run(tmp_path, [qa(text), qa(ANSWER)], scorer_threshold=0.8, name="on")
    assert [r["output"] for r in records] == [ANSWER]
    decided = rejects[0]["record"]["meta"]["slop"]["decided_by"]
    assert decided["by"] == "scorer" and decided["category"] == "refusal" and decided["sentence"] == text
    assert 0.8 <= decided["score"] <= 1
    assert f"scorer {decided['score']:.2f}" in rejects[0]["detail"]
    assert stats["extra"]["decisions"]["scorer"] == {"dropped": 1, "stripped": 0}
    assert stats["extra"]["scorer"] == {"sentences": 1, "positive": 1}
    records, rejects, _ = run(tmp_path, [qa(text)], scorer=False, name="off")
    assert records[0]["output"] == text and not rejects


def test_scorer_only_sees_cue_sentences(tmp_path):
    plain = "Carbon steel heats quickly. Cast iron holds heat. Both need oil after washing."
    hard = "I cannot stress enough how important backups are. AI assistants can automate routine tasks."
    records, rejects, stats = run(tmp_path, [qa(plain), qa(hard)])
    assert not rejects and [r["output"] for r in records] == [plain, hard]
    assert stats["extra"]["scorer"] == {"sentences": 2, "positive": 0}  # both hold cues, neither passes


def test_scorer_weights_are_what_the_sentences_train():
    trained = train()
    with np.load(WEIGHTS) as shipped:
        assert sorted(shipped) == sorted(trained)
        for name, array in trained.items():
            assert np.array_equal(shipped[name], array), name
    assert load_scorer().score([]) == []


@pytest.mark.parametrize(
    "refusal",
    [
        "Es tut mir leid, aber dabei kann ich dir nicht helfen.",
        "Désolé, mais je ne peux pas vous aider avec cette demande.",
        "Lo siento, pero no puedo ayudarte con eso.",
    ],
)
def test_refusals_in_german_french_spanish_are_dropped(tmp_path, refusal):
    records, rejects, _ = run(tmp_path, [qa(refusal)])
    assert records == [] and rejects[0]["reason"] == "slop-refusal"


@pytest.mark.parametrize(
    ("disclaimer", "rest"),
    [
        ("Als KI-Sprachmodell habe ich keine persönliche Meinung.", "Berlin hat sehr viele Museen und Parks."),
        ("En tant qu'IA, je n'ai pas de sentiments.", "Paris compte de nombreux musées et jardins."),
        ("Como modelo de lenguaje, no tengo opiniones personales.", "Madrid tiene muchos museos y parques."),
    ],
)
def test_ai_self_references_in_german_french_spanish_are_stripped(tmp_path, disclaimer, rest):
    records, _, _ = run(tmp_path, [qa(f"{disclaimer} {rest}")])
    assert records[0]["output"] == rest


def test_sentence_spans_cut_lines_and_sentences():
    text = "One. Two?\n- three\n\nFour!"
    assert [text[s:e] for s, e in sentence_spans(text)] == ["One. ", "Two?", "- three", "Four!"]


def test_quality_benchmark_says_what_is_missing(tmp_path, capsys):
    from benchmarks.slop_quality import main

    with pytest.raises(SystemExit, match="no such labels file"):
        main(["--labels", str(tmp_path / "missing.jsonl")])
    main(["--devdata", str(tmp_path)])
    assert "no dev data" in capsys.readouterr().out
