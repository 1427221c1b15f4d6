"""redact-pii's detector against a plain loop of the same regexes and checks, without the gates.

The corpus: records of about 100 words; a third hold numbers that are not personal (versions,
dates, times, amounts, ISBNs, hashes), one in ten holds an item of personal data or a secret (the
labelled set's values). Both sides must find the same spans on every record before the ratio is
reported. A last line times the whole stage (Parquet in and out, as in a pipeline, redacting) on
the same records, against the same plain loop.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from pathlib import Path

from benchmarks.bench_dedup import write_parquet
from benchmarks.common import Result, Side, compare
from benchmarks.corpus import TOPICS, sentence
from dataprep.stages.base import StageContext
from dataprep.stages.privacy.detect import PiiDetector, scan_plain
from dataprep.stages.privacy.redact import RedactPii, RedactPiiConfig

ROOT = Path(__file__).resolve().parent.parent
NUMBERS = [
    "version 2.14.1",
    "on 2024-03-07 at 14:05",
    "for 1,299.00 EUR",
    "ISBN 978-0-306-40615-7",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "in 3 to 5 days",
    "build 4.2.0.17",
    "port 8080",
    "at 09:30:00",
    "step 12 of 40",
]


def pii_values() -> list[str]:
    """The personal items of the labelled set, to sprinkle into the corpus."""
    import json

    values = []
    for line in (ROOT / "tests" / "data" / "pii_labelled.jsonl").read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        values.extend(obj["text"][s:e] for s, e, _ in obj["spans"])
    return values


def corpus(records: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    values = pii_values()
    topics = list(TOPICS)
    texts = []
    for _ in range(records):
        topic = rng.choice(topics)
        sentences = [sentence(rng, topic, rng.randint(8, 16)) for _ in range(8)]
        if rng.random() < 0.33:
            spot = rng.randrange(len(sentences))
            sentences[spot] = sentences[spot][:-1] + f" {rng.choice(NUMBERS)}."
        if rng.random() < 0.1:
            spot = rng.randrange(len(sentences))
            sentences[spot] = sentences[spot][:-1] + f" {rng.choice(values)} ok."
        texts.append(" ".join(sentences))
    return texts


def run(records: int, workdir: Path) -> list[Result]:
    texts = corpus(records)
    megabytes = sum(len(t.encode()) for t in texts) / 1e6
    detector = PiiDetector()

    def ours() -> list[list]:
        return [detector.find(text) for text in texts]

    def plain() -> list[list]:
        return [scan_plain(text) for text in texts]

    found = ours()
    assert found == plain(), "the gated detector and the plain loop disagree on some record"
    with_pii = sum(1 for f in found if f)
    assert 0.05 * records < with_pii < 0.2 * records, with_pii

    # Parquet in, as the stage reads it in a pipeline (the previous stage's shards).
    path = write_parquet(workdir / "pii", [("Q?", t) for t in texts])
    out = Path(tempfile.mkdtemp(dir=workdir))

    def stage() -> None:
        shutil.rmtree(out / "o", ignore_errors=True)
        RedactPii(RedactPiiConfig(), StageContext(quiet=True)).run([path], out / "o")

    # The plain loop is slow at 100k records: time it once and share its time, as bench_slop does.
    plain_side = Side()
    plain_side.run(plain)
    baseline = "plain loop, same regexes"
    return [
        compare("pii", "detect 6 categories", baseline, records, megabytes, ours, plain_side),
        compare("pii", "redact-pii stage", baseline, records, megabytes, stage, plain_side),
    ]
