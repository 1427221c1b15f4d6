"""filter-slop's matcher against the naive ``any(p in text.lower() for p in phrases)`` loop.

Both get the same 500 phrases (a spread of the built-in phrases plus generated
ones, as a user list would add) and the same records, about 10% of which hold a
phrase; the benchmark asserts that both make the same keep/flag decision on
every record before it reports the ratio. A last line times the whole stage
(every built-in phrase, about 17,000 after expansion, and the cues, phrase
families and sentence scorer on the sentences the cues pick; JSONL in, Parquet
out) on the same records, against the same naive loop with only 500 phrases; the very last
line times it again with one worker process per core (``workers:``'s default).
"""

from __future__ import annotations

import random
import shutil
import tempfile
from pathlib import Path

from benchmarks.common import Result, Side, compare
from benchmarks.corpus import qa_pair
from dataprep.executors import local_engine
from dataprep.io.writers import JsonlWriter
from dataprep.records import new_record, rows_to_batch
from dataprep.stages.base import StageContext
from dataprep.stages.filters.slop import (
    BUILTIN_CATEGORIES,
    PHRASE_DIR,
    FilterSlop,
    FilterSlopConfig,
    PhraseMatcher,
    load_phrase_file,
)

PHRASES = 500


def phrase_set(count: int = PHRASES, seed: int = 0) -> dict[str, str]:
    """``count`` phrases: an even spread of the built-in ones, topped up with generated ones."""
    builtin: dict[str, str] = {}
    for category in BUILTIN_CATEGORIES:
        for phrase in load_phrase_file(PHRASE_DIR / f"{category}.txt")[0]:
            builtin.setdefault(phrase, category)
    names = sorted(builtin)
    step = max(1, len(names) // (count * 3 // 5))
    chosen = {p: builtin[p] for p in names[::step][: count * 3 // 5]}
    rng = random.Random(seed)
    syllables = "ka lo mi ren sto vel dra qui zon pef tal gor ush ben wix".split()
    while len(chosen) < count:
        words = ["".join(rng.choices(syllables, k=rng.randint(2, 3))) for _ in range(rng.randint(2, 4))]
        chosen.setdefault(" ".join(words), "generated")
    return chosen


def corpus(records: int, phrases: list[str], seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(records):
        _, _, answer = qa_pair(rng)
        if rng.random() < 0.1:
            sentences = answer.split(". ")
            spot = rng.randrange(len(sentences))
            sentences[spot] = f"{rng.choice(phrases).capitalize()} {sentences[spot].lower()}"
            answer = ". ".join(sentences)
        texts.append(answer)
    return texts


def run(records: int, workdir: Path) -> list[Result]:
    phrases = phrase_set()
    listed = list(phrases)
    texts = corpus(records, listed)
    megabytes = sum(len(t.encode()) for t in texts) / 1e6
    matcher = PhraseMatcher(phrases)

    def ours() -> list[bool]:
        return [bool(matcher.find(text)) for text in texts]

    def naive() -> list[bool]:
        return [any(p in text.lower() for p in listed) for text in texts]

    def naive_lower_once() -> list[bool]:
        out = []
        for text in texts:
            low = text.lower()
            out.append(any(p in low for p in listed))
        return out

    decisions = ours()
    assert decisions == naive(), "the matcher and the naive loop disagree on some record"
    assert decisions == naive_lower_once()
    flagged = sum(decisions)
    assert 0.05 * records < flagged < 0.2 * records

    path = workdir / "slop.jsonl"
    writer = JsonlWriter(path)
    writer.write(rows_to_batch([new_record(f"bench#{i}", input="Q?", output=t) for i, t in enumerate(texts)]))
    writer.close()
    out = Path(tempfile.mkdtemp(dir=workdir))

    def stage() -> None:
        shutil.rmtree(out / "o", ignore_errors=True)
        FilterSlop(FilterSlopConfig(), StageContext(quiet=True)).run([path], out / "o")

    engine = local_engine(None)  # one worker process per core, as the CLI and pipelines default to

    def stage_on_workers() -> None:
        shutil.rmtree(out / "w", ignore_errors=True)
        FilterSlop(FilterSlopConfig(), StageContext(quiet=True, engine=engine)).run([path], out / "w")

    # The naive loop takes minutes at 100k records: time it once and share its time;
    # our runs are short, so they take the best of three against scheduler noise.
    naive_side, hoisted_side = Side(), Side()
    naive_side.run(naive)
    hoisted_side.run(naive_lower_once)
    what = f"match {PHRASES} phrases"
    return [
        compare("slop", what, "any(p in text.lower())", records, megabytes, ours, naive_side),
        compare("slop", what, "naive, lower() hoisted", records, megabytes, ours, hoisted_side),
        compare(
            "slop", "filter-slop stage, all lists", "any(p in text.lower())", records, megabytes, stage, naive_side
        ),
        compare(
            "slop",
            f"filter-slop stage, {getattr(engine, 'workers', 1)} workers",
            "any(p in text.lower())",
            records,
            megabytes,
            stage_on_workers,
            naive_side,
        ),
    ]
