"""decontaminate against a plain Python set of n-gram strings (the loop most scripts write).

A corpus of short Q&A records against an eval set a tenth its size (100k records against
10k eval items by default); about 1% of the records quote a 20-word passage of an eval item.
Both sides normalise words the same way (``ngram_words``) and use 13-grams, so they must
find the same records; the counts are printed, so a speed-up that found nothing would show.
Two lines: the core on texts in memory (index the eval set, then test every record), and
the whole stage (eval JSONL and corpus Parquet in, Parquet out, rejects written).
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from pathlib import Path

from benchmarks.bench_dedup import write_parquet
from benchmarks.common import Result, Side
from benchmarks.corpus import qa_pair
from dataprep.stages.base import StageContext
from dataprep.stages.decontaminate.decontaminate import Decontaminate, DecontaminateConfig
from dataprep.stages.decontaminate.index import EvalIndex, ngram_words

NGRAM = 13
#: Share of corpus records that quote an eval item.
CONTAMINATED = 0.01


def eval_items(count: int, seed: int = 1) -> list[dict[str, str]]:
    rng = random.Random(seed)
    items = []
    for i in range(count):
        _, question, answer = qa_pair(rng)
        items.append({"id": f"eval-{i}", "question": question, "answer": answer})
    return items


def corpus(count: int, items: list[dict[str, str]], seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        _, question, answer = qa_pair(rng)
        if rng.random() < CONTAMINATED:
            item = rng.choice(items)
            words = f"{item['question']} {item['answer']}".split()
            at = rng.randrange(max(1, len(words) - 20))
            answer = f"{answer} {' '.join(words[at : at + 20])}"
        pairs.append((question, answer))
    return pairs


def baseline(texts: list[str], items: list[dict[str, str]]) -> int:
    grams: set[str] = set()
    for item in items:
        words = ngram_words(f"{item['question']}\n{item['answer']}")
        grams.update(" ".join(words[i : i + NGRAM]) for i in range(len(words) - NGRAM + 1))
    hits = 0
    for text in texts:
        words = ngram_words(text)
        if any(" ".join(words[i : i + NGRAM]) in grams for i in range(len(words) - NGRAM + 1)):
            hits += 1
    return hits


def ours_core(texts: list[str], eval_path: Path) -> int:
    stage = Decontaminate(DecontaminateConfig(against=[str(eval_path)], min_words=NGRAM))
    stage.index = EvalIndex([str(eval_path)], ngram=NGRAM, min_words=NGRAM, fields=[], id_field="id")
    hits = 0
    for start in range(0, len(texts), 10_000):
        hits += int((stage.matches(texts[start : start + 10_000])[0] >= 0).sum())
    return hits


def run(records: int, workdir: Path) -> list[Result]:
    items = eval_items(max(10, records // 10))
    eval_path = workdir / "eval.jsonl"
    # The id is left out of the text on both sides.
    eval_path.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
    pairs = corpus(records, items)
    texts = [f"{q}\n{a}" for q, a in pairs]
    megabytes = sum(len(t.encode()) for t in texts) / 1e6
    path = write_parquet(workdir / "corpus", pairs)
    out = Path(tempfile.mkdtemp(dir=workdir))

    def stage() -> None:
        shutil.rmtree(out / "o", ignore_errors=True)
        config = DecontaminateConfig(against=[str(eval_path)], min_words=NGRAM)
        Decontaminate(config, StageContext(quiet=True)).run([path], out / "o")

    core, whole, plain = Side(), Side(), Side()
    found = {}
    for _ in range(2):
        found["ours"] = core.run(lambda: ours_core(texts, eval_path))
        whole.run(stage)
        found["set of n-gram strings"] = plain.run(lambda: baseline(texts, items))
    dropped = json.loads((out / "o" / "stats.json").read_text())["dropped"].get("contaminated", 0)
    print(f"  contaminated records among {records:,} against {len(items):,} eval items: {found}, stage {dropped}")
    name = "python set of 13-gram strings"
    return [
        Result.of("decontaminate", "eval index + lookup core (numpy)", name, records, megabytes, core, plain),
        Result.of("decontaminate", "decontaminate stage", name, records, megabytes, whole, plain),
    ]
