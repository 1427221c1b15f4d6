"""Packing: several examples in one sequence, each with its own positions.

Best-fit decreasing within a batch of examples: the longest example goes first, into
the fullest sequence it still fits in. It fills sequences to within a few percent of
``max_length`` while holding only one batch in memory, and, having no random choices,
gives the same sequences on every run.

Each packed sequence carries ``position_ids`` that restart at 0 for every example, and
``seq_lengths`` (the example lengths), which is what padding-free and flash-attention
trainers (TRL's ``padding_free``, transformers' position-id based masks) read to keep
examples from attending to each other. The first label of each example is already
masked (see :func:`dataprep.tokens.examples.flatten`), so no example is trained to
predict the next one's first token.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass

import numpy as np

from dataprep.tokens.examples import IGNORE, Flat, starts_of


@dataclass
class Rows:
    """Sequences ready to write: flat columns and the offsets where each row starts."""

    ids: np.ndarray
    labels: np.ndarray
    offsets: np.ndarray  # int64, rows + 1
    position_ids: np.ndarray | None = None
    seq_lengths: list[list[int]] | None = None

    def __len__(self) -> int:
        return len(self.offsets) - 1


def bins(lengths: np.ndarray, capacity: int) -> list[list[int]]:
    """Example indices per sequence (best-fit decreasing); each sequence holds at most ``capacity`` tokens."""
    rooms: list[tuple[int, int]] = []  # (room left, bin number), sorted
    packed: list[list[int]] = []
    sizes = np.asarray(lengths, dtype=np.int64)
    # Longest first, ties in index order (a stable sort of the negated lengths).
    order = np.argsort(-sizes, kind="stable").tolist()
    for index, size in zip(order, sizes[order].tolist()):
        at = bisect_left(rooms, (size, -1))
        if at < len(rooms):
            room, number = rooms.pop(at)
        else:
            room, number = capacity, len(packed)
            packed.append([])
        packed[number].append(index)
        if room - size > 0:
            insort(rooms, (room - size, number))
    for members in packed:
        members.sort()
    packed.sort(key=lambda members: members[0])
    return packed


def pack(flat: Flat, capacity: int) -> Rows:
    """Pack the examples of ``flat`` into sequences of at most ``capacity`` tokens."""
    groups = bins(flat.lengths, capacity)
    order = np.asarray([i for members in groups for i in members], dtype=np.int64)
    lengths = flat.lengths[order]
    new_starts = starts_of(lengths)
    within = np.arange(int(lengths.sum())) - np.repeat(new_starts, lengths)
    gather = np.repeat(flat.starts[order], lengths) + within
    positions = within.astype(np.int32)
    sizes = flat.lengths.tolist()
    seq_lengths = [[sizes[i] for i in members] for members in groups]
    offsets = np.concatenate(([0], np.cumsum([sum(row) for row in seq_lengths]))).astype(np.int64)
    return Rows(
        ids=flat.ids[gather],
        labels=flat.labels[gather],
        offsets=offsets,
        position_ids=positions,
        seq_lengths=seq_lengths,
    )


def unpacked(flat: Flat) -> Rows:
    """One example per row."""
    offsets = np.concatenate(([0], np.cumsum(flat.lengths))).astype(np.int64)
    return Rows(ids=flat.ids, labels=flat.labels, offsets=offsets)


class TextBlocks:
    """Text documents laid end to end and cut into blocks of ``size`` tokens.

    The stream runs across batches: what is left after the last full block waits for
    the next batch, and :meth:`finish` emits it as a last, shorter block. With
    ``positions`` (``--packing``), positions restart and the first label is masked at
    every document start, as for packed examples; otherwise only each block's first
    label is masked, as in ordinary causal-LM training.
    """

    def __init__(self, size: int, positions: bool) -> None:
        self.size = size
        self.positions = positions
        self._ids = np.zeros(0, dtype=np.int32)
        self._starts = np.zeros(0, dtype=bool)

    def add(self, ids: np.ndarray, lengths: np.ndarray) -> Rows | None:
        """Append documents (flat ids, tokens per document); return the blocks now full."""
        starts = np.zeros(len(ids), dtype=bool)
        starts[starts_of(lengths)[lengths > 0]] = True
        self._ids = np.concatenate((self._ids, ids))
        self._starts = np.concatenate((self._starts, starts))
        full = len(self._ids) // self.size * self.size
        if not full:
            return None
        rows = self._rows(self._ids[:full], self._starts[:full])
        self._ids, self._starts = self._ids[full:], self._starts[full:]
        return rows

    @property
    def pending(self) -> int:
        """Tokens waiting for the next block."""
        return len(self._ids)

    def finish(self) -> Rows | None:
        # A last block of one token has no label to train (the first of a block is masked).
        if len(self._ids) < 2:
            return None
        rows = self._rows(self._ids, self._starts)
        self._ids, self._starts = self._ids[:0], self._starts[:0]
        return rows

    def _rows(self, ids: np.ndarray, doc_starts: np.ndarray) -> Rows:
        n = len(ids)
        offsets = np.append(np.arange(0, n, self.size), n).astype(np.int64)
        labels = ids.copy()
        resets = np.zeros(n, dtype=bool)
        resets[offsets[:-1]] = True
        if not self.positions:
            labels[resets] = IGNORE
            return Rows(ids=ids, labels=labels, offsets=offsets)
        resets |= doc_starts
        labels[resets] = IGNORE
        where = np.flatnonzero(resets)
        positions = (np.arange(n) - where[np.cumsum(resets) - 1]).astype(np.int32)
        seg_lengths = np.diff(np.append(where, n))
        seg_block = where // self.size
        cuts = np.flatnonzero(np.diff(seg_block)) + 1
        seq_lengths = [part.tolist() for part in np.split(seg_lengths, cuts)]
        return Rows(ids=ids, labels=labels, offsets=offsets, position_ids=positions, seq_lengths=seq_lengths)
