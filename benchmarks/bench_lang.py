"""filter-language's identification against the plain library call and against lingua.

The corpus: bench_pii's records of about 100 words, one in ten replaced by sentences of the
labelled language set (nine other languages, and a few mixed). Ours is the stage's
``identify`` (py3langid on the whole text, plus one call per sentence for the mixed check).
Baselines: py3langid's ``classify`` on the whole text alone (the cost of the mixed check shows
as a ratio under 1), and lingua-language-detector (the library we did not choose; skipped when
it is not installed) on the first 1,000 records, its time scaled to the whole corpus, because it
runs at a few hundred records a second.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from benchmarks.bench_pii import corpus as english_corpus
from benchmarks.common import Result, Side, compare
from dataprep.stages.privacy.language import FilterLanguage, FilterLanguageConfig, load_identifier

ROOT = Path(__file__).resolve().parent.parent
LINGUA_RECORDS = 1000
#: Language identification runs at about a thousand records a second on these cores, so a 100k
#: corpus would spend many minutes of `make bench` on two sides that scale linearly anyway.
MAX_RECORDS = 20_000


def corpus(records: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    rows = [json.loads(line) for line in (ROOT / "tests" / "data" / "lang_labelled.jsonl").read_text().splitlines()]
    other = [row["text"] for row in rows if row["lang"] not in ("en", "und")]
    texts = english_corpus(records, seed)
    for i in range(0, records, 10):
        texts[i] = " ".join(rng.choice(other) for _ in range(rng.randint(3, 8)))
    return texts


def run(records: int, workdir: Path) -> list[Result]:
    records = min(records, MAX_RECORDS)
    texts = corpus(records)
    megabytes = sum(len(t.encode()) for t in texts) / 1e6
    stage = FilterLanguage(FilterLanguageConfig())
    identifier = load_identifier()
    stage.identify("warm up")

    def ours() -> list[str]:
        return [stage.identify(text)[0] for text in texts]

    def plain() -> list[str]:
        return [identifier.classify(text)[0] for text in texts]

    found = ours()
    assert found.count("en") > 0.8 * records, "the English records were not found English"
    # One round each: at 100k records a round takes minutes.
    what = "identify + mixed check"
    results = [compare("lang", what, "py3langid.classify alone", records, megabytes, ours, plain, repeat=1)]
    try:
        from lingua import LanguageDetectorBuilder
    except ImportError:
        print("lang: lingua-language-detector is not installed; its line is left out")
        return results
    detector = LanguageDetectorBuilder.from_all_languages().build()
    detector.detect_language_of("warm up the models it loads lazily")
    subset = texts[:LINGUA_RECORDS]
    lingua = Side()
    lingua.run(lambda: [detector.detect_language_of(text) for text in subset])
    lingua.seconds *= records / len(subset)
    results.append(compare("lang", what, "lingua (1k records, scaled)", records, megabytes, ours, lingua, repeat=1))
    return results
