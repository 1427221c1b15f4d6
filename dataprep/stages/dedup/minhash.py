"""Exact keys, MinHash signatures and LSH banding in numpy, for ``dedup``.

Kept in two kinds of step so the work can be spread later (ray ``map_batches``):

- per batch, pure functions of their arguments: :func:`normalize`, :func:`exact_keys`,
  :func:`minhash_signatures`, :func:`band_keys`;
- global, over the keys of every record: :func:`duplicate_groups`.

A signature is the minimum, over a record's word n-grams, of ``num_perm``
multiply-shift hashes (Dietzfelbinger et al.) of each n-gram's 32-bit hash. It is
one matrix product per batch rather than a Python loop per record, which is why
it is used instead of ``datasketch.MinHash`` (see benchmarks/bench_dedup.py).
The bands and rows per band come from datasketch's own optimiser, so a threshold
means what it means in ``datasketch.MinHashLSH``.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Sequence

import numpy as np

_WORDS = re.compile(r"[^\W_]+")
_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
#: Signature value of a record without a single word; such records are never grouped by LSH.
EMPTY = np.uint32(0xFFFFFFFF)
#: Shingles hashed per matrix block; bounds the temporary (block x num_perm x 8 bytes).
_BLOCK = 1024


#: ASCII letters and digits lower-cased, everything else a space: a bytes.translate table,
#: several times faster than the regex on the ASCII text that most records are.
_ASCII_WORDS = bytes(ord(chr(c).lower()) if chr(c).isalnum() and c < 128 else 32 for c in range(256))


def words(text: str) -> list[str]:
    """The lower-case words (runs of letters and digits) of ``text``."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_WORDS).decode("ascii").split()
    return _WORDS.findall(text.lower())


def normalize(text: str) -> str:
    """Lower case, punctuation dropped, whitespace folded: ``"Jet-lag?!"`` -> ``"jet lag"``."""
    return " ".join(words(text))


def _hash64(data: str) -> int:
    return int.from_bytes(hashlib.blake2b(data.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


def exact_keys(texts: Sequence[str]) -> np.ndarray:
    """A 64-bit hash of each normalised text (of the raw text where nothing is left)."""
    out = np.empty(len(texts), dtype=np.uint64)
    for i, text in enumerate(texts):
        norm = normalize(text)
        out[i] = _hash64(norm if norm else "\x00" + text.strip())
    return out


def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band) that best separate pairs above and below ``threshold``."""
    from datasketch.lsh import _optimal_param

    return _optimal_param(threshold, num_perm, 0.5, 0.5)


def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
    return a, b


def minhash_signatures(texts: Sequence[str], *, num_perm: int = 128, ngram: int = 5, seed: int = 0) -> np.ndarray:
    """MinHash signatures of word n-grams, one row per text (``uint32``, ``len(texts) x num_perm``).

    A pure function of its arguments: any batch split gives the same rows. A text
    with fewer than ``ngram`` words is one shingle; a text without words is all :data:`EMPTY`.
    """
    shingles, owners = _shingles(*token_hashes([words(text) for text in texts]), ngram)
    signatures = np.full((num_perm, len(texts)), EMPTY, dtype=np.uint32)
    if len(shingles):
        a, b = _permutations(num_perm, seed)
        counts = np.bincount(owners, minlength=len(texts))
        bounds = np.concatenate([[0], np.cumsum(counts)])
        record = 0
        while record < len(texts):
            # Blocks of whole records, so each record's minimum comes out of one block;
            # permutations x shingles, so the minimum runs along contiguous rows.
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


def token_hashes(tokens: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
    """A 64-bit hash of every word of every record, flat, and the number of words per record."""
    lengths = np.fromiter((len(w) for w in tokens), dtype=np.int64, count=len(tokens))
    flat = np.fromiter(itertools.chain.from_iterable(tokens), dtype=object, count=lengths.sum())
    return flat_token_hashes(flat), lengths


def flat_token_hashes(flat: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each word of a flat object array of words."""
    import pandas as pd

    # pandas' hash table numbers the distinct words in C; each is then hashed once.
    codes, vocab = pd.factorize(flat)
    return np.fromiter((_hash64(w) for w in vocab), dtype=np.uint64, count=len(vocab))[codes]


def ngram_hashes(
    token_hash: np.ndarray, lengths: np.ndarray, n: int, *, short: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of every word n-gram and the record each belongs to, in order.

    A weighted sum (wrapping at 2**64) of the words' hashes with one odd weight per position,
    so equal n-grams hash equally whatever record or batch they come from. With ``short``, a
    record of fewer than ``n`` words is one window of all its words; otherwise it has none.
    """
    total = len(token_hash)
    if not total:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
    owner = np.repeat(np.arange(len(lengths)), lengths)
    ends = np.repeat(np.cumsum(lengths), lengths)
    position = np.arange(total)
    # A window starts where n words fit before the record ends.
    valid = position + n <= ends
    weights = np.random.default_rng(n).integers(1, 2**63, size=n, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    # Every position's window over the flat words, on contiguous slices; those that run past
    # their record's end are dropped (or, for a short record, recomputed on its own words).
    padded = np.concatenate([token_hash, np.zeros(n, dtype=np.uint64)])
    combined = np.zeros(total, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):
            combined += padded[j : j + total] * weights[j]
    if short:
        starts = ends - np.repeat(lengths, lengths)
        alone = np.flatnonzero((position == starts) & (lengths[owner] < n))
        if len(alone):
            valid[alone] = True
            combined[alone] = 0
            with np.errstate(over="ignore"):
                for j in range(n - 1):
                    index = alone + j
                    inside = index < ends[alone]
                    combined[alone[inside]] += token_hash[index[inside]] * weights[j]
    return combined[valid], owner[valid]


def _shingles(token_hash: np.ndarray, lengths: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of every word n-gram (as uint64) and the record each belongs to, in order."""
    combined, owners = ngram_hashes(token_hash, lengths, n)
    return (combined >> _SHIFT32) ^ (combined & _MASK32), owners


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit key per band per record (``len x bands``); equal keys mean an equal band.

    A record without words gets 0 in every band, and 0 is never grouped (a real key
    is 0 with probability 2**-64).
    """
    weights = np.random.default_rng(rows).integers(1, 2**63, size=rows, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    keys = np.empty((len(signatures), bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for band in range(bands):
            block = signatures[:, band * rows : (band + 1) * rows].astype(np.uint64)
            # A weighted sum that wraps at 2**64: distinct bands collide with negligible probability.
            keys[:, band] = (block * weights).sum(axis=1, dtype=np.uint64)
    keys[(signatures == EMPTY).all(axis=1)] = 0
    return keys


def _run_edges(keys: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges from each member to the first member with the same key."""
    order = members[np.argsort(keys[members], kind="stable")]
    sorted_keys = keys[order]
    same = np.concatenate([[False], sorted_keys[1:] == sorted_keys[:-1]])
    first = np.maximum.accumulate(np.where(same, 0, np.arange(len(order))))
    return order[first[same]], order[same]


def duplicate_groups(exact: np.ndarray, eligible: np.ndarray, bands: np.ndarray | None = None) -> np.ndarray:
    """Group records with equal exact keys or, given ``bands``, any equal band key.

    Returns a group label per record, -1 for a record without duplicates. Groups
    are transitive: if A matches B and B matches C, all three are one group.
    Records where ``eligible`` is False are never grouped.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(exact)
    members = np.nonzero(eligible)[0]
    edges = [_run_edges(exact, members)]
    if bands is not None:
        for band in range(bands.shape[1]):
            column = bands[:, band]
            edges.append(_run_edges(column, members[column[members] != 0]))
    src = np.concatenate([e[0] for e in edges])
    dst = np.concatenate([e[1] for e in edges])
    labels = np.full(n, -1, dtype=np.int64)
    if not len(src):
        return labels
    graph = coo_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    grouped = np.bincount(component)[component] > 1
    labels[grouped] = component[grouped]
    return labels
