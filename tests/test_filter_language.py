import json

import pytest
from conftest import REPO
from helpers import read_records, read_rejects, read_stats, tree_bytes

from benchmarks.lang_quality import load, score
from dataprep.stages.privacy.language import FilterLanguage, FilterLanguageConfig

EN = "You should tighten the chain until it moves about a centimetre up and down."
DE = "Die Kette sollte man so spannen, dass sie sich etwa einen Zentimeter bewegen lässt."
FR = "Il faut tendre la chaîne jusqu'à ce qu'elle bouge d'environ un centimètre."
MIXED = (
    "Der erste Absatz ist auf Deutsch geschrieben und erklärt das Problem ausführlich. "
    "The second paragraph is in English and explains the solution in detail."
)


@pytest.fixture(scope="module")
def stage():
    return FilterLanguage(FilterLanguageConfig())


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_identify(stage):
    assert stage.identify(EN)[0] == "en"
    assert stage.identify(DE)[0] == "de"
    assert stage.identify("12345 67890 +++ ***")[0] == "und"
    lang, share, shares = stage.identify(MIXED)
    assert lang == "mixed" and set(shares) == {"de", "en"} and 0.5 <= share < 0.8


def test_labelled_accuracy_and_no_wrong_guesses(stage):
    result = score(lambda text: stage.identify(text)[0], load(REPO / "tests" / "data" / "lang_labelled.jsonl"))
    assert result["texts"] >= 200
    assert result["accuracy"] >= 0.93
    assert result["wrong_guesses"] == 0
    assert result["und_texts"] == {"und": 16} and result["mixed_texts"] == {"mixed": 4}


def test_keep_filters_on_the_output_side(tmp_path):
    rows = [
        {"input": FR, "output": EN},
        {"input": EN, "output": DE, "meta": {"lang": "en-GB"}},
        {"input": EN, "output": FR},
        {"input": "Q?", "output": "12345 67890 42"},
        {"input": "Q?", "output": MIXED},
    ]
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    FilterLanguage(FilterLanguageConfig(keep=["en", "de"])).run([path], tmp_path / "out")
    records = read_records(tmp_path / "out")
    assert [r["meta"]["lang"] for r in records] == ["en", "de", "mixed"]
    assert records[1]["meta"]["lang_declared"] == "en-GB" and records[1]["meta"]["lang_score"] > 0.9
    assert set(records[2]["meta"]["langs"]) == {"de", "en"}
    reasons = {r["reason"]: r["detail"] for r in read_rejects(tmp_path / "out")}
    assert set(reasons) == {"language-not-kept", "language-undetermined"}
    assert reasons["language-not-kept"].startswith("fr (")
    extra = read_stats(tmp_path / "out")["extra"]
    assert extra["detected"] == {"en": 1, "de": 1, "fr": 1, "und": 1, "mixed": 1}
    assert extra["languages"] == ["de", "en"]


def test_mixed_with_a_language_not_kept_is_dropped_and_und_can_be_kept(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [{"text": MIXED}, {"text": "+++ 42 ***"}])
    FilterLanguage(FilterLanguageConfig(keep=["de"], keep_undetermined=True)).run([path], tmp_path / "out")
    assert [r["meta"]["lang"] for r in read_records(tmp_path / "out")] == ["und"]
    assert [r["reason"] for r in read_rejects(tmp_path / "out")] == ["language-mixed"]


def test_prompt_side_and_deterministic(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [{"input": DE, "output": EN}])
    for out in ("a", "b"):
        FilterLanguage(FilterLanguageConfig(side="prompt")).run([path], tmp_path / out)
    assert read_records(tmp_path / "a")[0]["meta"]["lang"] == "de"
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")


def test_rerun_overwrites_its_own_detection(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [{"text": DE, "meta": {"lang": "en", "lang_score": 0.9}}])
    FilterLanguage(FilterLanguageConfig()).run([path], tmp_path / "out")
    meta = read_records(tmp_path / "out")[0]["meta"]
    assert meta["lang"] == "de" and "lang_declared" not in meta


def test_bad_code_is_a_sentence(cli, tmp_path):
    with pytest.raises(ValueError, match="ISO 639-1"):
        FilterLanguageConfig(keep=["english"])
    path = write_jsonl(tmp_path / "in.jsonl", [{"text": EN}])
    result = cli("filter-language", path, "-o", tmp_path / "o.jsonl", "--keep", "en,de", "-q")
    assert result.exit_code == 0, result.output
    assert read_records(tmp_path / "o.jsonl")[0]["meta"]["lang"] == "en"
    result = cli("filter-language", path, "-o", tmp_path / "p.jsonl", "--keep", "english")
    assert result.exit_code != 0 and "--keep: Value error" not in result.output and "ISO 639-1" in result.output
