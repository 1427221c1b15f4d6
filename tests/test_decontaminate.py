"""decontaminate: long word n-grams shared with eval sets in JSONL, CSV, Parquet and datasets folders."""

import json

import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import read_records, read_rejects, read_stats, tree_bytes

from dataprep.cli.main import main
from dataprep.errors import InputError
from dataprep.stages.decontaminate.decontaminate import Decontaminate, DecontaminateConfig
from dataprep.stages.decontaminate.index import batch_words, ngram_words

QUESTION = "Which planet in our solar system has the longest day, longer even than its own year?"
ANSWER = "Venus rotates so slowly that one day there lasts about 243 Earth days."
TWELVE = "the quick brown fox jumps over the lazy dog near the river"  # 12 words


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def corpus(tmp_path):
    rows = [
        {"id": "quotes-question", "input": QUESTION.upper().replace(",", " ;"), "output": "I think Venus."},
        {"id": "quotes-answer", "input": "Tell me about Venus.", "output": "Fun fact: " + ANSWER.replace("243", "250")},
        {"id": "twelve", "text": f"Once {TWELVE} and then nothing else happened at all."},
        {"id": "clean", "input": "How do I boil an egg?", "output": "Simmer it for eight minutes, then cool it."},
    ]
    return write_jsonl(tmp_path / "corpus.jsonl", rows)


def run(tmp_path, against, name="out", **options):
    out = tmp_path / name
    Decontaminate(DecontaminateConfig(against=[str(a) for a in against], **options)).run([corpus(tmp_path)], out)
    return read_records(out), read_rejects(out), read_stats(out)


def test_normalisation_follows_datatrove():
    assert ngram_words("Don't stop: Café 1999, 2 500!") == ["dont", "stop", "cafe", "0", "0", "0"]
    texts = ["Plain ASCII, 10,000 words.", "", "Ünïcode naïve Straße 12", "a\x01b", "   ", "it’s O'Neil"]
    flat, counts = batch_words(texts)
    assert counts.tolist() == [len(ngram_words(t)) for t in texts]
    assert flat.tolist() == [w for t in texts for w in ngram_words(t)]


def test_drops_records_sharing_a_13_gram_naming_eval_file_and_item(tmp_path):
    evals = write_jsonl(
        tmp_path / "bench.jsonl",
        [
            {"id": "q1", "question": QUESTION, "answer": "Venus"},
            {"id": "q2", "question": ANSWER},
            {"q": TWELVE + " sang all night long"},
        ],
    )
    records, rejects, stats = run(tmp_path, [evals])
    assert [r["id"] for r in records] == ["twelve", "clean"]  # 12 shared words are not enough
    by_id = {r["id"]: r for r in rejects}
    assert set(by_id) == {"quotes-question", "quotes-answer"}
    assert {r["reason"] for r in rejects} == {"contaminated"}
    assert by_id["quotes-question"]["detail"].startswith("shares the 13-gram 'which planet in our solar system")
    assert by_id["quotes-question"]["detail"].endswith(f"with id=q1 of {evals}")
    # Digits fold to 0, so 243 and 250 are the same word.
    assert f"with id=q2 of {evals}" in by_id["quotes-answer"]["detail"]
    assert stats["dropped"] == {"contaminated": 2}
    assert stats["extra"]["eval_sets"][str(evals)] == {
        "items": 3,
        "ngrams": 5 + 1 + 4,  # 17 words give 5 windows, 13 words one, 16 words four
        "items_too_short": 0,
        "records_hit": 2,
    }


def test_eval_sets_from_csv_parquet_and_a_datasets_folder_count_separately(tmp_path):
    from datasets import Dataset, DatasetDict

    csv = tmp_path / "a.csv"
    pd.DataFrame({"id": ["c1"], "question": [QUESTION], "answer": ["Venus"]}).to_csv(csv, index=False)
    parquet = tmp_path / "b.parquet"
    pd.DataFrame({"prompt": [ANSWER], "choices": [["a", "b"]]}).to_parquet(parquet)
    folder = tmp_path / "hf"
    splits = {"test": Dataset.from_list([{"question": QUESTION}]), "train": Dataset.from_list([{"question": "no"}])}
    DatasetDict(splits).save_to_disk(folder)
    records, rejects, stats = run(tmp_path, [csv, parquet, folder], action="flag")
    assert not rejects
    flagged = {r["id"]: r["meta"]["contamination"] for r in records if "contamination" in r["meta"]}
    assert flagged["quotes-question"] == {
        "eval": str(csv),
        "item": "id=c1",
        "ngram": "which planet in our solar system has the longest day longer even than",
        "eval_sets": [str(csv), f"{folder}[test]"],
    }
    assert flagged["quotes-answer"]["eval"] == str(parquet) and flagged["quotes-answer"]["item"] == "row 0"
    hits = {name: s["records_hit"] for name, s in stats["extra"]["eval_sets"].items()}
    assert hits == {str(csv): 1, str(parquet): 1, f"{folder}[test]": 1, f"{folder}[train]": 0}


def test_short_eval_items_match_whole_or_are_skipped(tmp_path):
    evals = write_jsonl(tmp_path / "short.jsonl", [{"text": TWELVE}, {"text": "the lazy dog"}])
    records, rejects, stats = run(tmp_path, [evals], min_words=8)
    assert [r["id"] for r in rejects] == ["twelve"]
    assert "shares the 12-gram 'the quick brown fox" in rejects[0]["detail"]
    assert stats["extra"]["eval_sets"][str(evals)]["items_too_short"] == 1


def test_output_is_deterministic(tmp_path):
    evals = write_jsonl(tmp_path / "bench.jsonl", [{"question": QUESTION}])
    run(tmp_path, [evals], name="one")
    run(tmp_path, [evals], name="two")
    assert tree_bytes(tmp_path / "one") == tree_bytes(tmp_path / "two")
    assert (tmp_path / "one" / "rejects.jsonl").read_bytes() == (tmp_path / "two" / "rejects.jsonl").read_bytes()


def test_bad_eval_files_are_named(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "fine"}\n{oops\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.jsonl line 2: not valid JSON"):
        run(tmp_path, [bad])
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(InputError, match="unknown eval format"):
        run(tmp_path, [tmp_path / "x.txt"])
    with pytest.raises(InputError, match="no such file"):
        run(tmp_path, [tmp_path / "missing.jsonl"])


def test_cli(tmp_path):
    evals = write_jsonl(tmp_path / "bench.jsonl", [{"question": QUESTION}])
    out = tmp_path / "clean.jsonl"
    result = CliRunner().invoke(
        main, ["decontaminate", str(corpus(tmp_path)), "-o", str(out), "--against", str(evals), "-q"]
    )
    assert result.exit_code == 0, result.output
    assert "dropped: contaminated=1" in result.output
    assert len(out.read_text().splitlines()) == 3


def test_in_a_pipeline_an_edited_eval_file_reruns_the_stage(tmp_path):
    import textwrap

    from dataprep.pipeline.config import load_pipeline
    from dataprep.pipeline.runner import run_pipeline

    evals = write_jsonl(tmp_path / "bench.jsonl", [{"question": "nothing shared here at all"}])
    spec = tmp_path / "p.yml"
    spec.write_text(
        textwrap.dedent(f"""\
        name: decont
        output_dir: {tmp_path / "run"}
        stages:
          - stage: normalize
            inputs: [{corpus(tmp_path)}]
          - stage: decontaminate
            against: [{evals}]
        """),
        encoding="utf-8",
    )
    assert [r.status for r in run_pipeline(load_pipeline(spec), quiet=True)] == ["ran", "ran"]
    assert [r.status for r in run_pipeline(load_pipeline(spec), quiet=True)] == ["skipped", "skipped"]
    write_jsonl(evals, [{"question": QUESTION}])
    results = run_pipeline(load_pipeline(spec), quiet=True)
    assert [r.status for r in results] == ["skipped", "ran"]
    assert read_stats(tmp_path / "run" / "02-decontaminate")["dropped"] == {"contaminated": 1}
