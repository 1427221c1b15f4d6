"""The dedup stage as it was before rensa (issue 16): the baselines of bench_dedup's stage lines.

Its MinHash was a numpy matrix product over each batch's 32-bit shingle hashes (multiply-shift
hashing), its words were split one Python list per record, its exact keys normalised every
text a second time, and its fit pass read every column. Kept here, and only here, so the
benchmark can time today's stage against it in the same process; the stage no longer uses it.

:class:`NumpyDedup` is that stage; :class:`NumpyMinHashDedup` is today's stage with only the
MinHash swapped back to the numpy product, which tells what rensa itself changes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dataprep.io.readers import ReadBatch, iter_batches
from dataprep.records import Batch, batch_len
from dataprep.stages.base import RecordStage, StageOutput, StageStats
from dataprep.stages.content import record_problem
from dataprep.stages.dedup.dedup import Dedup, DedupConfig
from dataprep.stages.dedup.minhash import (
    EMPTY,
    Tokens,
    _hash64,
    band_keys,
    lsh_params,
    ngram_hashes,
    normalize,
    token_hashes,
    tokenize,
    words,
)
from dataprep.stages.dedup.minhash import (
    exact_keys as tokens_exact_keys,
)

_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
#: Shingles hashed per matrix block; bounds the temporary (block x num_perm x 8 bytes).
_BLOCK = 1024


def exact_keys(texts: Sequence[str]) -> np.ndarray:
    """A 64-bit hash of each normalised text (of the raw text where nothing is left)."""
    out = np.empty(len(texts), dtype=np.uint64)
    for i, text in enumerate(texts):
        norm = normalize(text)
        out[i] = _hash64(norm if norm else "\x00" + text.strip())
    return out


def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
    return a, b


def minhash_signatures(texts: Sequence[str], *, num_perm: int = 128, ngram: int = 5, seed: int = 0) -> np.ndarray:
    """MinHash signatures of word n-grams, one row per text (``uint32``, ``len(texts) x num_perm``)."""
    hashes, lengths = token_hashes([words(text) for text in texts])
    return signatures_of(Tokens(hashes, lengths), len(texts), num_perm=num_perm, ngram=ngram, seed=seed)


def signatures_of(tokens: Tokens, count: int, *, num_perm: int, ngram: int, seed: int) -> np.ndarray:
    """The numpy MinHash of ``count`` texts' words."""
    texts = range(count)
    combined, owners = ngram_hashes(tokens.hashes, tokens.lengths, ngram)
    shingles = (combined >> _SHIFT32) ^ (combined & _MASK32)
    signatures = np.full((num_perm, len(texts)), EMPTY, dtype=np.uint32)
    if len(shingles):
        a, b = _permutations(num_perm, seed)
        counts = np.bincount(owners, minlength=len(texts))
        bounds = np.concatenate([[0], np.cumsum(counts)])
        record = 0
        while record < len(texts):
            # Blocks of whole records, so each record's minimum comes out of one block.
            stop = max(int(np.searchsorted(bounds, bounds[record] + _BLOCK, side="right")) - 1, record + 1)
            lo, hi = bounds[record], bounds[stop]
            present = np.nonzero(counts[record:stop])[0]
            if len(present):
                with np.errstate(over="ignore"):
                    hashed = np.multiply.outer(a, shingles[lo:hi])
                    hashed += b[:, None]
                    hashed >>= _SHIFT32
                starts = bounds[record:stop][present] - lo
                signatures[:, record + present] = np.minimum.reduceat(hashed, starts, axis=1)
            record = stop
    return np.ascontiguousarray(signatures.T)


class NumpyDedup(Dedup):
    """``dedup`` as it was: numpy MinHash, words split per record, texts normalised twice, and a
    second pass of :meth:`process` over Python batches, as every record stage's."""

    pass_columns = {}  # its fit pass read every column

    def __init__(self, config: DedupConfig, ctx: Any = None) -> None:
        super().__init__(config, ctx)
        if config.near:
            # Worked out for every stage it made (datasketch's integration, about 70 ms).
            self.bands, self.rows = lsh_params.__wrapped__(config.threshold, config.num_perm)

    def process_pass(self, inputs: list[Path | str], output: StageOutput, stats: StageStats) -> None:
        return RecordStage.process_pass(self, inputs, output, stats)

    def read_batches(self, inputs: list[Path | str]) -> Iterator[ReadBatch]:
        return iter_batches(inputs, self.batch_size)

    def prepare(self, batch: Batch) -> Batch:
        n = batch_len(batch)
        ok = np.array([record_problem(batch, i) is None for i in range(n)], dtype=bool)
        texts = [self.content(batch, i) if ok[i] else "" for i in range(n)]
        out: Batch = {
            "id": [str(x) for x in batch["id"]],
            "exact": exact_keys(texts),
            "eligible": ok,
            "length": np.fromiter((len(t) for t in texts), dtype=np.int64, count=n),
        }
        if self.config.near:
            cfg = self.config
            signatures = minhash_signatures(texts, num_perm=cfg.num_perm, ngram=cfg.ngram, seed=self.ctx.seed)
            out["bands"] = band_keys(signatures, self.bands, self.rows)
        return out


class NumpyMinHashDedup(Dedup):
    """Today's ``dedup`` but for its MinHash: the numpy product instead of rensa."""

    def prepare(self, batch: Batch) -> Batch:
        n = batch_len(batch)
        ok = np.array([record_problem(batch, i) is None for i in range(n)], dtype=bool)
        texts = [self.content(batch, i) if ok[i] else "" for i in range(n)]
        tokens = tokenize(texts)
        out: Batch = {
            "id": [str(x) for x in batch["id"]],
            "exact": tokens_exact_keys(texts, tokens),
            "eligible": ok,
            "length": np.fromiter((len(t) for t in texts), dtype=np.int64, count=n),
        }
        if self.config.near:
            # As near_keys does: one signature per exact key in the batch.
            cfg = self.config
            _, first, inverse = np.unique(out["exact"], return_index=True, return_inverse=True)
            keep = np.zeros(n, dtype=bool)
            keep[first] = True
            subset = Tokens(tokens.hashes[np.repeat(keep, tokens.lengths)], tokens.lengths[keep])
            count = int(keep.sum())
            signatures = signatures_of(subset, count, num_perm=cfg.num_perm, ngram=cfg.ngram, seed=self.ctx.seed)
            row = (np.cumsum(keep) - 1)[first[inverse.reshape(-1)]]
            out["bands"] = band_keys(signatures, self.bands, self.rows)[row]
        return out
