"""Exact keys, MinHash signatures (rensa) and LSH banding, for ``dedup`` and ``split --leakage``.

Kept in two kinds of step so the work can be spread (ray ``map_batches``):

- per batch, pure functions of their arguments: :func:`tokenize`, :func:`exact_keys`,
  :func:`minhash_signatures`, :func:`band_keys`;
- global, over the keys of every record: :func:`duplicate_groups`.

A batch is tokenized once, without a Python object per word: each text is folded to
lower-case words separated by spaces (``bytes.translate`` for ASCII text, a regex
otherwise), Arrow splits the whole batch and numbers its distinct words, and only
those are hashed (BLAKE2b, so a word hashes the same in every process and on every
worker, whatever ``PYTHONHASHSEED``). Word n-grams are then hashed in numpy, and
the MinHash signatures come from ``rensa``'s R-MinHash over those 64-bit shingle
hashes (``RMinHash.digest_matrix_from_flat_token_hashes``: seeded, the same on every
CPU kernel and thread count). The bands and rows per band come from datasketch's own
optimiser, so a threshold means what it means in ``datasketch.MinHashLSH``.
"""

from __future__ import annotations

import array
import functools
import hashlib
import itertools
import re
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

_WORDS = re.compile(r"[^\W_]+")
#: Signature value of a record without a single word; such records are never grouped by LSH.
EMPTY = np.uint32(0xFFFFFFFF)
#: The array.array type code of a 32-bit unsigned int on this platform.
_U32 = next(code for code in "IL" if array.array(code).itemsize == 4)


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


def _hash64_bytes(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


class Tokens(NamedTuple):
    """The words of a batch of texts: a 64-bit hash per word, flat, and the number of words per text."""

    hashes: np.ndarray
    lengths: np.ndarray


def _folded(text: str) -> bytes:
    """``text``'s words, lower case, separated by one or more spaces (UTF-8)."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_WORDS)
    return " ".join(_WORDS.findall(text.lower())).encode("utf-8", "surrogatepass")


def tokenize(texts: Sequence[str]) -> Tokens:
    """Every word of every text (as :func:`words` splits them), hashed as :func:`token_hashes` does.

    The same hashes as ``token_hashes([words(t) for t in texts])``, about four times faster:
    Arrow splits the batch and numbers its distinct words in C, and only those are hashed.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    folded = [_folded(text) for text in texts]
    offsets = np.zeros(len(folded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, folded), dtype=np.int64, count=len(folded)), out=offsets[1:])
    joined = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(folded), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(folded))]
    )
    pieces = pc.split_pattern(joined, b" ")
    owner = pc.list_parent_indices(pieces).to_numpy()
    encoded = pc.dictionary_encode(pc.list_flatten(pieces))
    vocab = encoded.dictionary.to_pylist()
    codes = encoded.indices.to_numpy()
    # Runs of spaces leave empty pieces: they are not words.
    hashes = np.fromiter((_hash64_bytes(w) for w in vocab), dtype=np.uint64, count=len(vocab))
    if b"" in vocab:
        keep = codes != vocab.index(b"")
        codes, owner = codes[keep], owner[keep]
    return Tokens(hashes[codes], np.bincount(owner, minlength=len(texts)).astype(np.int64))


def _mix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser, element-wise: every output bit depends on every input bit."""
    x = x.copy()
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(33)
        x *= np.uint64(0xFF51AFD7ED558CCD)
        x ^= x >> np.uint64(33)
        x *= np.uint64(0xC4CEB9FE1A85EC53)
        x ^= x >> np.uint64(33)
    return x


def exact_keys(texts: Sequence[str], tokens: Tokens | None = None) -> np.ndarray:
    """A 64-bit key of each text's normalised word sequence (of the raw text where it has no words).

    Equal keys mean equal words in equal order once case, whitespace and punctuation are
    folded (:func:`normalize`). The key is a sum, wrapping at 2**64, of each word's hash times
    an odd weight for its position, plus a hash of the length, in numpy for the whole batch:
    two texts of one length that differ in one word cannot collide (an odd weight times a
    nonzero difference of two word hashes is never 0 modulo 2**64), others with probability
    about 2**-64.
    """
    hashes, lengths = tokens if tokens is not None else tokenize(texts)
    out = np.empty(len(texts), dtype=np.uint64)
    starts = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    position = np.arange(len(hashes), dtype=np.int64) - np.repeat(starts, lengths)
    weights = _mix64(position.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)) | np.uint64(1)
    with np.errstate(over="ignore"):
        terms = hashes * weights
    worded = lengths > 0
    out[:] = _mix64(lengths.astype(np.uint64))
    if len(terms):
        with np.errstate(over="ignore"):
            out[worded] += np.add.reduceat(terms, starts[worded])
    for i in np.flatnonzero(~worded):
        out[i] = _hash64("\x00" + texts[i].strip())
    return out


def minhash_signatures(
    texts: Sequence[str], *, num_perm: int = 128, ngram: int = 5, seed: int = 0, tokens: Tokens | None = None
) -> np.ndarray:
    """MinHash signatures of word n-grams, one row per text (``uint32``, ``len(texts) x num_perm``).

    rensa's R-MinHash over each text's set of n-gram hashes. A pure function of its
    arguments: any batch split, process, thread count or CPU gives the same rows. A text
    with fewer than ``ngram`` words is one shingle; a text without words is all :data:`EMPTY`.
    """
    from rensa import RMinHash

    hashes, lengths = tokens if tokens is not None else tokenize(texts)
    shingles, owners = ngram_hashes(hashes, lengths, ngram)
    offsets = np.zeros(len(texts) + 1, dtype=np.uint64)
    np.cumsum(np.bincount(owners, minlength=len(texts)), out=offsets[1:])
    # The weighted sums that make n-gram hashes are linear; rensa takes prehashed tokens as
    # they are, so they are mixed first.
    matrix = RMinHash.digest_matrix_from_flat_token_hashes(_mix64(shingles), offsets, num_perm, seed)
    # rensa hands the matrix over only as lists of ints; an array.array packs them in C, faster
    # than numpy's conversion of nested lists.
    packed = array.array(_U32, itertools.chain.from_iterable(matrix.to_rows()))
    return np.frombuffer(packed, dtype=np.uint32).reshape(len(texts), num_perm)


def near_keys(
    texts: Sequence[str],
    tokens: Tokens,
    exact: np.ndarray,
    *,
    num_perm: int,
    ngram: int,
    seed: int,
    bands: int,
    rows: int,
) -> np.ndarray:
    """The LSH band keys (:func:`band_keys`) of each text's MinHash signature.

    Texts with one exact key (:func:`exact_keys`: the same words in the same order) have one
    signature, so it is computed once per batch: copies cost nothing of MinHash's time, most
    of which goes into handing rensa's signatures to Python.
    """
    _, first, inverse = np.unique(exact, return_index=True, return_inverse=True)
    keep = np.zeros(len(texts), dtype=bool)
    keep[first] = True
    subset = Tokens(tokens.hashes[np.repeat(keep, tokens.lengths)], tokens.lengths[keep])
    kept = [texts[i] for i in np.flatnonzero(keep)]
    signatures = minhash_signatures(kept, num_perm=num_perm, ngram=ngram, seed=seed, tokens=subset)
    row = (np.cumsum(keep) - 1)[first[inverse.reshape(-1)]]
    return band_keys(signatures, bands, rows)[row]


@functools.lru_cache(maxsize=64)
def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows per band) that best separate pairs above and below ``threshold`` (datasketch
    integrates for every split of ``num_perm``: about 70 ms, so each pair is worked out once)."""
    from datasketch.lsh import _optimal_param

    return _optimal_param(threshold, num_perm, 0.5, 0.5)


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
