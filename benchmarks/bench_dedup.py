"""dedup --near: the stage against itself before rensa, and against the usual datasketch loop.

Same short Q&A records for every side (about 5% exact and 10% near-duplicates, one word
changed), same threshold (0.8), permutations (128) and shingles (word 5-grams). Lines:

- the MinHash + LSH core on texts in memory, and the whole stage (Parquet in, Parquet out,
  rejects written), each against datasketch's MinHash + MinHashLSH query-then-insert loop;
- the whole stage against the stage as it was before rensa (numpy MinHash, words split per
  record: ``benchmarks/dedup_numpy.py``), and against itself with only the MinHash swapped back
  to numpy, on these records and on records four times longer (about 220 words, the length of
  a chat model's answer), where MinHash's share grows; and, when ``../shared/devdata`` is
  there, on AlpacaEval's 8,049 real answers (median 178 words with their prompts);
- the whole stage with a worker per core, as ``dataprep dedup`` runs by default (its fit pass
  on forked workers), against the stage before rensa in one process, as that stage ran.

The duplicates each side finds are printed, and the recall and precision on the planted
near-copies of both our implementations, so a speed-up that found less would show. The
datasketch loop is slow (about a minute at 100k records), so it runs once and both of its
lines share its time; ours run before and after it, best of the two.

The 1M-record check is a one-off, not part of ``make bench``:

    python -m benchmarks.bench_dedup --write 1000000 /tmp/dedup-1m.parquet
    /usr/bin/time -v python -m dataprep dedup /tmp/dedup-1m.parquet -o /tmp/dedup-1m-out --near -q
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np
from datasketch import MinHash, MinHashLSH

from benchmarks import dedup_numpy
from benchmarks.common import Result, Side
from benchmarks.corpus import qa_pair
from dataprep.executors import LOCAL, LocalEngine, local_engine
from dataprep.io.writers import ParquetShardWriter
from dataprep.records import new_record, rows_to_batch
from dataprep.stages.base import StageContext
from dataprep.stages.dedup.dedup import Dedup, DedupConfig
from dataprep.stages.dedup.minhash import (
    band_keys,
    duplicate_groups,
    exact_keys,
    lsh_params,
    near_keys,
    normalize,
    tokenize,
)

THRESHOLD, NUM_PERM, NGRAM = 0.8, 128, 5


def planted_records(count: int, seed: int = 0) -> tuple[list[tuple[str, str]], list[int], list[str]]:
    """(question, answer) pairs, some repeating an earlier one exactly or with one word of the answer
    changed; for each, the index of the record it copies (-1 for none) and ``exact``, ``near`` or ``""``."""
    rng = random.Random(seed)
    pairs: list[tuple[str, str]] = []
    sources: list[int] = []
    kinds: list[str] = []
    for _ in range(count):
        roll = rng.random()
        if pairs and roll < 0.05:
            source = rng.randrange(len(pairs))
            pairs.append(pairs[source])
            sources.append(source)
            kinds.append("exact")
        elif pairs and roll < 0.15:
            source = rng.randrange(len(pairs))
            question, answer = pairs[source]
            words = answer.split()
            words[rng.randrange(len(words))] = "changed"
            pairs.append((question, " ".join(words)))
            sources.append(source)
            kinds.append("near")
        else:
            _, question, answer = qa_pair(rng)
            pairs.append((question, answer))
            sources.append(-1)
            kinds.append("")
    return pairs, sources, kinds


def short_records(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """(question, answer) pairs; some repeat exactly or with one word changed."""
    return planted_records(count, seed)[0]


def roots(sources: list[int]) -> list[int]:
    """The original each record descends from (itself when it copies nothing)."""
    out = list(range(len(sources)))
    for i, source in enumerate(sources):
        if source >= 0:
            out[i] = out[source]
    return out


def longer(pairs: list[tuple[str, str]], sources: list[int], times: int = 4) -> list[tuple[str, str]]:
    """The same records with answers ``times`` as long: each answer followed by those of the records
    after its original. A copy gets its original's continuation, so a planted near-copy stays one
    word away from its source."""
    answers = [a for _, a in pairs]
    return [(q, " ".join([a, *answers[r + 1 : r + times]])) for (q, a), r in zip(pairs, roots(sources))]


def shingle_set(text: str) -> set[str]:
    words = normalize(text).split()
    return {" ".join(words[j : j + NGRAM]) for j in range(max(1, len(words) - NGRAM + 1))}


def jaccard(a: str, b: str) -> float:
    """The exact Jaccard similarity of two texts' word 5-gram sets."""
    first, second = shingle_set(a), shingle_set(b)
    return len(first & second) / len(first | second)


def planted_scores(labels: np.ndarray, sources: list[int], kinds: list[str], texts: list[str]) -> dict[str, float]:
    """Recall: the share of planted near-copies grouped with the record they copy (all of them, and
    those whose 5-gram Jaccard with it is at least the threshold). Precision: the share of records
    grouped with something whose group holds their original (no unrelated record pulled in)."""
    root = roots(sources)
    near = [(i, s) for i, (s, k) in enumerate(zip(sources, kinds)) if k == "near"]
    found = [labels[i] >= 0 and labels[i] == labels[s] for i, s in near]
    similar = [f for (i, s), f in zip(near, found) if jaccard(texts[i], texts[s]) >= THRESHOLD]
    first_root: dict[int, int] = {}
    right = grouped = 0
    for i, label in enumerate(labels.tolist()):
        if label < 0:
            continue
        if label not in first_root:
            first_root[label] = root[i]
            continue
        grouped += 1
        right += first_root[label] == root[i]
    return {
        "recall": round(float(sum(found)) / max(len(found), 1), 4),
        "recall_jaccard_0.8": round(float(sum(similar)) / max(len(similar), 1), 4),
        "precision": round(right / max(grouped, 1), 4),
    }


def write_parquet(path: Path, pairs: list[tuple[str, str]]) -> Path:
    writer = ParquetShardWriter(path)
    for start in range(0, len(pairs), 50_000):
        chunk = pairs[start : start + 50_000]
        rows = [new_record(f"bench#{start + i}", input=q, output=a) for i, (q, a) in enumerate(chunk)]
        writer.write(rows_to_batch(rows))
    writer.close()
    return path


def core_labels(texts: list[str], *, numpy: bool = False) -> np.ndarray:
    """The stage's groups, on texts in memory, batch by batch: today's (rensa) or, with ``numpy``, before rensa."""
    bands, rows = lsh_params(THRESHOLD, NUM_PERM)
    exact, keys = [], []
    for start in range(0, len(texts), 10_000):
        chunk = texts[start : start + 10_000]
        if numpy:
            exact.append(dedup_numpy.exact_keys(chunk))
            signatures = dedup_numpy.minhash_signatures(chunk, num_perm=NUM_PERM, ngram=NGRAM)
            keys.append(band_keys(signatures, bands, rows))
        else:
            tokens = tokenize(chunk)
            exact.append(exact_keys(chunk, tokens))
            options = {"num_perm": NUM_PERM, "ngram": NGRAM, "seed": 0, "bands": bands, "rows": rows}
            keys.append(near_keys(chunk, tokens, exact[-1], **options))
    return duplicate_groups(np.concatenate(exact), np.ones(len(texts), dtype=bool), np.concatenate(keys))


def dropped(labels: np.ndarray) -> int:
    grouped = labels[labels >= 0]
    return len(grouped) - len(np.unique(grouped))


def ours_core(texts: list[str]) -> int:
    return dropped(core_labels(texts))


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
    pairs, sources, kinds = planted_records(records)
    texts = [f"{q}\n{a}" for q, a in pairs]
    megabytes = sum(len(t.encode()) for t in texts) / 1e6
    path = write_parquet(workdir / "dedup", pairs)
    out = Path(tempfile.mkdtemp(dir=workdir))

    def stage(cls: type[Dedup], source: Path, engine: LocalEngine = LOCAL) -> None:
        shutil.rmtree(out / "o", ignore_errors=True)
        cls(DedupConfig(near=True), StageContext(quiet=True, engine=engine)).run([source], out / "o")

    # The stage with a worker per core (the default of `dataprep dedup`) runs first: its fit pass
    # runs in forked workers, which this process can fork only while it has not run rensa
    # itself (its threads do not survive a fork), as in a fresh `dataprep dedup` run. It
    # alternates with the baselines that do not use rensa either. Its peak is this process's
    # alone, not the workers'.
    engine = local_engine(None)
    workers = getattr(engine, "workers", 1)
    pooled, before, numpy_minhash = Side(), Side(), Side()
    for _ in range(2):
        pooled.run(lambda: stage(Dedup, path, engine))
        before.run(lambda: stage(dedup_numpy.NumpyDedup, path))
        numpy_minhash.run(lambda: stage(dedup_numpy.NumpyMinHashDedup, path))
    # datasketch takes about a minute at 100k records: it runs once, and both lines share its
    # time. Ours run once before it and once after, best of the two.
    core, whole, datasketch = Side(), Side(), Side()
    found = {"ours": core.run(lambda: ours_core(texts))}
    whole.run(lambda: stage(Dedup, path))
    found["datasketch"] = datasketch.run(lambda: datasketch_core(texts))
    core.run(lambda: ours_core(texts))
    whole.run(lambda: stage(Dedup, path))
    print(f"  duplicates dropped on {records:,} records: {found}")
    for name, numpy in (("rensa", False), ("numpy, before rensa", True)):
        scores = planted_scores(core_labels(texts, numpy=numpy), sources, kinds, texts)
        print(f"  planted near-copies, {name}: {scores}")

    # Records about four times longer (some 220 words), a quarter as many: the same planted copies.
    quarter = max(records // 4, 1)
    long_pairs = longer(pairs[:quarter], sources[:quarter])
    long_megabytes = sum(len(f"{q}\n{a}".encode()) for q, a in long_pairs) / 1e6
    long_path = write_parquet(workdir / "dedup-long", long_pairs)
    long_whole, long_before, long_numpy_minhash = Side(), Side(), Side()
    for _ in range(2):
        long_whole.run(lambda: stage(Dedup, long_path))
        long_before.run(lambda: stage(dedup_numpy.NumpyDedup, long_path))
        long_numpy_minhash.run(lambda: stage(dedup_numpy.NumpyMinHashDedup, long_path))

    baseline = "datasketch MinHash+LSH"
    before_rensa = "dedup stage, numpy MinHash"
    swapped = "same stage, numpy MinHash"
    long_what, long_count = "stage, ~220-word records", len(long_pairs)
    real = real_answers(workdir)
    if real is None:
        print("  ../shared/devdata/slop/alpaca_eval_dev_outputs.jsonl not found: no line on real answers")
        extra = []
    else:
        real_path, real_count, real_megabytes = real
        real_whole, real_before, real_numpy_minhash = Side(), Side(), Side()
        for _ in range(2):
            real_whole.run(lambda: stage(Dedup, real_path))
            real_before.run(lambda: stage(dedup_numpy.NumpyDedup, real_path))
            real_numpy_minhash.run(lambda: stage(dedup_numpy.NumpyMinHashDedup, real_path))
        real_what = "stage, AlpacaEval answers"
        extra = [
            Result.of("dedup", real_what, before_rensa, real_count, real_megabytes, real_whole, real_before),
            Result.of("dedup", real_what, swapped, real_count, real_megabytes, real_whole, real_numpy_minhash),
        ]
    return [
        Result.of("dedup", "minhash+lsh core (rensa)", baseline, records, megabytes, core, datasketch),
        Result.of("dedup", "dedup --near stage", baseline, records, megabytes, whole, datasketch),
        Result.of("dedup", "dedup --near stage", before_rensa, records, megabytes, whole, before),
        Result.of("dedup", "dedup --near stage", swapped, records, megabytes, whole, numpy_minhash),
        Result.of("dedup", f"dedup stage, {workers} workers", before_rensa, records, megabytes, pooled, before),
        Result.of("dedup", long_what, before_rensa, long_count, long_megabytes, long_whole, long_before),
        Result.of("dedup", long_what, swapped, long_count, long_megabytes, long_whole, long_numpy_minhash),
        *extra,
    ]


def real_answers(workdir: Path) -> tuple[Path, int, float] | None:
    """AlpacaEval's 8,049 real model answers with their prompts (``../shared/devdata``, read in
    place, never copied into the repo) as Parquet records; None when the folder is not there."""
    from benchmarks.slop_quality import devdata_dir

    folder = devdata_dir()
    source = folder / "slop" / "alpaca_eval_dev_outputs.jsonl" if folder else None
    if source is None or not source.is_file():
        return None
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    pairs = [(str(r.get("instruction") or ""), str(r.get("output") or "")) for r in rows]
    megabytes = sum(len(f"{q}\n{a}".encode()) for q, a in pairs) / 1e6
    return write_parquet(workdir / "dedup-real", pairs), len(pairs), megabytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", nargs=2, metavar=("RECORDS", "PATH"), required=True, help="Write a corpus.")
    args = parser.parse_args()
    count, path = int(args.write[0]), Path(args.write[1])
    write_parquet(path, short_records(count))
    print(f"wrote {count:,} records to {path}")


if __name__ == "__main__":
    main()
