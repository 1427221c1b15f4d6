import json

import pytest
from bs4 import BeautifulSoup
from conftest import REPO

from dataprep.evaluate.extraction import PageMatch, match, score, shingles
from dataprep.io.readers import Reject
from dataprep.stages.extract.html import ExtractHtml, ExtractHtmlConfig

PAGES = REPO / "tests" / "fixtures" / "html_quality"


def test_shingles_are_token_4grams_with_counts():
    assert shingles("The cat, the CAT sat.") == {
        ("The", "cat", "the", "CAT"): 1,
        ("cat", "the", "CAT", "sat"): 1,
    }
    assert shingles("two words") == {("two", "words"): 1}
    assert shingles("") == {}


def test_match_normalises_per_page():
    gold = "a b c d e f"  # shingles: abcd bcde cdef
    assert match(gold, gold) == PageMatch(1.0, 0.0, 0.0)
    # Prediction shingles abcd bcdx cdxy dxyz xyzw: one shared, four extra (fp), two missed (fn).
    result = match(gold, "a b c d x y z w")
    assert result.tp == pytest.approx(1 / 7) and result.fp == pytest.approx(4 / 7) and result.fn == pytest.approx(2 / 7)
    assert match(gold, "").precision is None and match(gold, "").recall == 0.0
    assert match("", "").precision is None and match("", "").recall is None


def test_precision_and_recall_are_averaged_over_pages_then_combined():
    perfect = PageMatch(1.0, 0.0, 0.0)
    half = PageMatch(0.5, 0.5, 0.0)  # precision 0.5, recall 1
    missing = PageMatch(0.0, 0.0, 1.0)  # nothing predicted: no precision, recall 0
    scores = score([perfect, half, missing])
    assert scores.precision == pytest.approx(0.75)
    assert scores.recall == pytest.approx(2 / 3)
    assert scores.f1 == pytest.approx(2 * 0.75 * (2 / 3) / (0.75 + 2 / 3))
    assert scores.pages == 3


def _f1(extract) -> float:
    gold = json.loads((PAGES / "ground-truth.json").read_text(encoding="utf-8"))
    return score(
        match(gold[page_id]["articleBody"], extract(PAGES / "html" / f"{page_id}.html")) for page_id in gold
    ).f1


def test_main_mode_beats_get_text_on_our_page_set():
    stage = ExtractHtml(ExtractHtmlConfig(mode="main"))

    def main(path):
        return "\n".join(r["text"] for r in stage.read(path) if not isinstance(r, Reject))

    def get_text(path):
        return BeautifulSoup(path.read_bytes(), "lxml").get_text()

    ours, baseline = _f1(main), _f1(get_text)
    assert ours >= 0.94
    assert ours - baseline >= 0.15


def test_snippets_are_found_as_exact_substrings_and_pooled_over_pages():
    from dataprep.evaluate.extraction import SnippetCounts, match_snippets, snippet_score

    text = "The ferry leaves at six.\n\nSubscribe to our newsletter"
    one = match_snippets(text, ["ferry leaves at six", "two extra crossings"], ["Subscribe to", "Home | News"])
    assert one == SnippetCounts(tp=1, fn=1, fp=1, tn=1)
    # Case and spacing count: the gold snippet is matched as written.
    assert match_snippets(text, ["The Ferry"], []).fn == 1
    assert match_snippets(None, ["ferry"], ["menu"]) == SnippetCounts(tp=0, fn=1, fp=0, tn=1)
    two = SnippetCounts(tp=3, fn=0, fp=0, tn=2)
    scores = snippet_score([one, two])
    assert scores.precision == pytest.approx(4 / 5) and scores.recall == pytest.approx(4 / 5)
    assert scores.f1 == pytest.approx(0.8) and scores.accuracy == pytest.approx(7 / 9) and scores.pages == 2


def test_quality_benchmark_says_when_the_dev_set_is_absent(tmp_path, capsys):
    from benchmarks.html_quality import main

    main(["--no-own", "--extractors", "main", "--devdata", str(tmp_path)])
    assert "is absent, so the snippet-gold pages were not scored" in capsys.readouterr().out


def test_quality_benchmark_scores_a_snippet_set_page_by_page(tmp_path, capsys):
    from benchmarks.html_quality import main

    html = (PAGES / "html" / "news-bike-lanes.html").read_text(encoding="utf-8")
    (tmp_path / "html" / "pages").mkdir(parents=True)
    (tmp_path / "html" / "pages" / "bike.html").write_text(html, encoding="utf-8")
    gold = json.loads((PAGES / "ground-truth.json").read_text(encoding="utf-8"))["news-bike-lanes"]["articleBody"]
    entry = {"id": "bike.html", "url": "", "with": [gold[:40]], "without": ["SNIPPET-NOWHERE"]}
    (tmp_path / "html" / "gold.jsonl").write_text(json.dumps(entry) + "\n", encoding="utf-8")
    main(["--no-own", "--extractors", "main,trafilatura", "--devdata", str(tmp_path), "--all-pages"])
    out = capsys.readouterr().out
    assert "1 pages, 2 snippets" in out
    [row] = [line for line in out.splitlines() if line.strip().startswith("bike.html")]
    assert row.split()[1:] == ["1/1", "0/1", "1/1", "0/1"]
