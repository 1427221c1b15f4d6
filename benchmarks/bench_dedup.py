"""dedup --near against the usual datasketch loop (MinHash per record, MinHashLSH query then insert).

Same short Q&A records for both (about 5% exact and 10% near-duplicates, one word
changed), same threshold (0.8), permutations (128) and shingles (word 5-grams).
Two lines: the MinHash + LSH core on texts in memory, and the whole stage
(Parquet in, Parquet out, rejects written). The duplicates each one finds are
printed, so a speed-up that found nothing would show. The datasketch loop is slow (about a
minute at 100k records), so it runs once and both lines share its time; ours run before and
after it, best of the two.

The 1M-record check is a one-off, not part of ``make bench``:

    python -m benchmarks.bench_dedup --write 1000000 /tmp/dedup-1m.parquet
    /usr/bin/time -v python -m dataprep dedup /tmp/dedup-1m.parquet -o /tmp/dedup-1m-out --near -q
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np
from datasketch import MinHash, MinHashLSH

from benchmarks.common import Result, Side
from benchmarks.corpus import qa_pair
from dataprep.io.writers import ParquetShardWriter
from dataprep.records import new_record, rows_to_batch
from dataprep.stages.base import StageContext
from dataprep.stages.dedup.dedup import Dedup, DedupConfig
from dataprep.stages.dedup.minhash import (
    band_keys,
    duplicate_groups,
    exact_keys,
    lsh_params,
    minhash_signatures,
    normalize,
)

THRESHOLD, NUM_PERM, NGRAM = 0.8, 128, 5


def short_records(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """(question, answer) pairs; some repeat exactly or with one word changed."""
    rng = random.Random(seed)
    pairs: list[tuple[str, str]] = []
    for _ in range(count):
        roll = rng.random()
        if pairs and roll < 0.05:
            pairs.append(rng.choice(pairs))
        elif pairs and roll < 0.15:
            question, answer = rng.choice(pairs)
            words = answer.split()
            words[rng.randrange(len(words))] = "changed"
            pairs.append((question, " ".join(words)))
        else:
            _, question, answer = qa_pair(rng)
            pairs.append((question, answer))
    return pairs


def write_parquet(path: Path, pairs: list[tuple[str, str]]) -> Path:
    writer = ParquetShardWriter(path)
    for start in range(0, len(pairs), 50_000):
        chunk = pairs[start : start + 50_000]
        rows = [new_record(f"bench#{start + i}", input=q, output=a) for i, (q, a) in enumerate(chunk)]
        writer.write(rows_to_batch(rows))
    writer.close()
    return path


def ours_core(texts: list[str]) -> int:
    bands, rows = lsh_params(THRESHOLD, NUM_PERM)
    keys = []
    for start in range(0, len(texts), 10_000):
        chunk = texts[start : start + 10_000]
        keys.append(band_keys(minhash_signatures(chunk, num_perm=NUM_PERM, ngram=NGRAM), bands, rows))
    labels = duplicate_groups(exact_keys(texts), np.ones(len(texts), dtype=bool), np.concatenate(keys))
    grouped = labels[labels >= 0]
    return len(grouped) - len(np.unique(grouped))


def datasketch_core(texts: list[str]) -> int:
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    dropped = 0
    for i, text in enumerate(texts):
        words = normalize(text).split()
        grams = {" ".join(words[j : j + NGRAM]) for j in range(max(1, len(words) - NGRAM + 1))}
        minhash = MinHash(num_perm=NUM_PERM, seed=1)
        minhash.update_batch([g.encode("utf-8") for g in grams])
        if lsh.query(minhash):
            dropped += 1
        else:
            lsh.insert(i, minhash)
    return dropped


def run(records: int, workdir: Path) -> list[Result]:
    pairs = short_records(records)
    texts = [f"{q}\n{a}" for q, a in pairs]
    megabytes = sum(len(t.encode()) for t in texts) / 1e6
    path = write_parquet(workdir / "dedup", pairs)
    out = Path(tempfile.mkdtemp(dir=workdir))

    def stage() -> None:
        shutil.rmtree(out / "o", ignore_errors=True)
        Dedup(DedupConfig(near=True), StageContext(quiet=True)).run([path], out / "o")

    # datasketch takes about a minute at 100k records: it runs once, and both lines share its
    # time. Ours run once before it and once after, best of the two.
    core, whole, datasketch = Side(), Side(), Side()
    found = {"ours": core.run(lambda: ours_core(texts))}
    whole.run(stage)
    found["datasketch"] = datasketch.run(lambda: datasketch_core(texts))
    core.run(lambda: ours_core(texts))
    whole.run(stage)
    print(f"  duplicates dropped on {records:,} records: {found}")
    baseline = "datasketch MinHash+LSH"
    return [
        Result.of("dedup", "minhash+lsh core (numpy)", baseline, records, megabytes, core, datasketch),
        Result.of("dedup", "dedup --near stage", baseline, records, megabytes, whole, datasketch),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", nargs=2, metavar=("RECORDS", "PATH"), required=True, help="Write a corpus.")
    args = parser.parse_args()
    count, path = int(args.write[0]), Path(args.write[1])
    write_parquet(path, short_records(count))
    print(f"wrote {count:,} records to {path}")


if __name__ == "__main__":
    main()
