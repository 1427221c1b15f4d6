"""tokenize against the tokenizer's own ``encode_batch`` and against a plain ``Dataset.map``.

Both formats the issue names, on the same texts, in one run: ``text`` (question and answer
as one document) and ``input-output`` (the pair). The stage's time includes reading the
Parquet input, building labels and writing the ``save_to_disk`` folder; ``encode_batch``
only tokenizes texts already in memory, ``Dataset.map`` tokenizes and writes its cache.
The tokenizer is the sample tiny-llama one (a byte-level BPE), so nothing is downloaded.

ROUNDS rounds of encode_batch, the stage, Dataset.map, best time of each: the CPUs are
shared, and alternating spreads other processes' load over all three. The stage's runs serve
both its lines (three rounds, not five, and one stage run per round rather than two, keep the
benchmark near five minutes at 100k records).
"""

from __future__ import annotations

import random
import shutil
import tempfile
from pathlib import Path

from benchmarks.common import Result, Side
from benchmarks.corpus import qa_pair
from dataprep.io.writers import ParquetShardWriter
from dataprep.records import new_record, rows_to_batch
from dataprep.stages.base import StageContext
from dataprep.stages.tokenize import Tokenize, TokenizeConfig

TOKENIZER = Path(__file__).resolve().parent.parent / "sample_data" / "tiny-llama"
ROUNDS = 3


def write_corpus(folder: Path, records: int, seed: int = 0) -> tuple[Path, Path, list[str], list[str], list[str]]:
    """Parquet folders of text records and of input/output records, plus their texts."""
    rng = random.Random(seed)
    texts, inputs, outputs = [], [], []
    text_writer = ParquetShardWriter(folder / "text")
    pair_writer = ParquetShardWriter(folder / "pairs")
    chunk: list[tuple[str, str]] = []
    for i in range(records):
        _, question, answer = qa_pair(rng)
        chunk.append((question, answer))
        if len(chunk) == 10_000 or i == records - 1:
            text_writer.write(rows_to_batch([new_record(f"b#{n}", text=f"{q}\n{a}") for n, (q, a) in enumerate(chunk)]))
            pair_writer.write(
                rows_to_batch([new_record(f"b#{n}", input=q, output=a) for n, (q, a) in enumerate(chunk)])
            )
            texts += [f"{q}\n{a}" for q, a in chunk]
            inputs += [q for q, _ in chunk]
            outputs += [a for _, a in chunk]
            chunk = []
    text_writer.close()
    pair_writer.close()
    return folder / "text", folder / "pairs", texts, inputs, outputs


def run(records: int, workdir: Path) -> list[Result]:
    from datasets import Dataset, disable_progress_bars, load_from_disk
    from transformers import AutoTokenizer

    disable_progress_bars()
    text_dir, pair_dir, texts, inputs, outputs = write_corpus(workdir / "tokenize-corpus", records)
    megabytes = sum(len(t.encode()) for t in texts) / 1e6
    tokenizer = AutoTokenizer.from_pretrained(TOKENIZER)
    backend = tokenizer.backend_tokenizer
    out = Path(tempfile.mkdtemp(dir=workdir))
    Dataset.from_dict({"text": texts, "input": inputs, "output": outputs}).save_to_disk(str(out / "hf"))
    hf = load_from_disk(str(out / "hf"))

    def stage(source: Path, fmt: str, verify: bool = True):
        config = TokenizeConfig(tokenizer=str(TOKENIZER), format=fmt, max_length=2048, verify=verify)

        def ours() -> None:
            shutil.rmtree(out / "o", ignore_errors=True)
            Tokenize(config, StageContext(quiet=True)).run([source], out / "o")

        return ours

    def text_map() -> None:
        hf.map(lambda b: tokenizer(b["text"]), batched=True, load_from_cache_file=False)

    def pair_map() -> None:
        hf.map(
            lambda b: {
                "input_ids": tokenizer(b["input"])["input_ids"],
                "output_ids": tokenizer(b["output"])["input_ids"],
            },
            batched=True,
            load_from_cache_file=False,
        )

    def pair_encode() -> None:
        backend.encode_batch(inputs)
        backend.encode_batch(outputs)

    results = []
    for fmt, source, encode, mapped in (
        ("text", text_dir, lambda: backend.encode_batch(texts), text_map),
        ("input-output", pair_dir, pair_encode, pair_map),
    ):
        ours = stage(source, fmt)
        ours()  # warm up: the first run also imports and caches
        # One round: encode_batch, the stage, Dataset.map. The stage's runs serve both lines,
        # so each line's stage time sits between the two baselines' runs.
        ours_side, encode_side, map_side, unverified_side = Side(), Side(), Side(), Side()
        # What checking pairs against the inference rendering costs (text has nothing to check).
        unverified = stage(source, fmt, verify=False) if fmt == "input-output" else None
        for _ in range(ROUNDS):
            encode_side.run(encode)
            ours_side.run(ours)
            map_side.run(mapped)
            if unverified is not None:
                unverified_side.run(unverified)
        results.append(
            Result.of("tokenize", f"{fmt}, vs encode", "encode_batch", records, megabytes, ours_side, encode_side)
        )
        results.append(
            Result.of("tokenize", f"{fmt}, vs map", "Dataset.map(tok)", records, megabytes, ours_side, map_side)
        )
        if unverified is not None:
            results.append(
                Result.of("tokenize", f"{fmt}, verified", "--no-verify", records, megabytes, ours_side, unverified_side)
            )
    return results
