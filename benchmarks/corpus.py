"""Synthetic but realistic-looking corpora for the benchmarks, generated from a seed."""

from __future__ import annotations

import csv
import random
from pathlib import Path

TOPICS = {
    "cooking": "pan oven garlic onion simmer roast flour butter sauce knife recipe salt pepper boil fry dough".split(),
    "python": "function list dict import class loop exception module variable string pandas numpy pip test".split(),
    "finance": "budget savings loan interest mortgage tax index fund pension credit debt invest bank rate".split(),
    "travel": "flight hotel visa train passport luggage airport booking ticket city beach museum route".split(),
    "garden": "soil seed compost prune tomato rose water sun shade mulch weed fertiliser bulb lawn".split(),
    "fitness": "squat run protein muscle stretch cardio rest sleep reps weight warmup knee posture".split(),
}
FILLER = "the a of to and in is it you that for on with as be at this have from or by not but can".split()


def sentence(rng: random.Random, topic: str, words: int) -> str:
    vocab = TOPICS[topic]
    picked = [rng.choice(vocab) if rng.random() < 0.4 else rng.choice(FILLER) for _ in range(words)]
    return " ".join(picked).capitalize() + "."


def qa_pair(rng: random.Random) -> tuple[str, str, str]:
    topic = rng.choice(list(TOPICS))
    question = sentence(rng, topic, rng.randint(6, 16))[:-1] + "?"
    answer = " ".join(sentence(rng, topic, rng.randint(8, 20)) for _ in range(rng.randint(1, 5)))
    if rng.random() < 0.1:
        answer = answer.replace(". ", ".\n", 1)
    if rng.random() < 0.1:
        answer = f'He said "{answer}", then left'
    return topic, question, answer


def write_qa_csv(path: Path, rows: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question_id", "category", "question", "answer"])
        for i in range(rows):
            topic, question, answer = qa_pair(rng)
            writer.writerow([1000 + i, topic, question, answer])
    return path
