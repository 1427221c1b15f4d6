"""Records to token ids and loss labels, one method per format.

A batch of examples travels as a :class:`Flat`: every example's ids end to end, the
labels beside them, and each example's length. BOS, prompts, outputs and EOS are put
together with numpy index arithmetic over the whole batch, never token by token in
Python, so the tokenizer stays the only real cost.

Special tokens are added here, once, and never doubled:

- BOS (when the tokenizer adds one to a plain text) starts text documents and prompts,
  unless the text already starts with it;
- EOS ends every text document and every output: EOS tokens already at the end of an
  output are dropped first, so there is exactly one, and it is trained on;
- chat templates write their own BOS and end-of-turn tokens, so their text is tokenized
  without adding any (a BOS doubled by the template text is dropped).

Prompt and answer are tokenized apart, so no token straddles the mask boundary, yet the
answer comes out as it does inside the whole text (see :meth:`Encoder._cut_anchors`): the
ids equal those of tokenizing prompt and answer as one string, as at inference.

The first label of every example is masked: in a packed sequence, nothing before an
example may teach the model to predict its first token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np

from dataprep.tokens.chat import ChatError, render_chat, segments
from dataprep.tokens.tokenizer import TokenizerInfo

IGNORE = -100


def starts_of(lengths: np.ndarray) -> np.ndarray:
    return (np.cumsum(lengths) - lengths).astype(np.int64)


def from_lists(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Flat ids and lengths of a list of id lists."""
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    return np.fromiter(chain.from_iterable(lists), dtype=np.int32, count=int(lengths.sum())), lengths


@dataclass
class Flat:
    """Examples laid end to end: ids, labels (IGNORE where masked) and tokens per example."""

    ids: np.ndarray  # int32
    labels: np.ndarray  # int32
    lengths: np.ndarray  # int64
    #: Input/output pairs fresh from :meth:`Encoder.pairs`: each prompt's own tokens (input + separator,
    #: no BOS), flat ids and lengths, which the verifier's reference prompts are made of. Not carried over
    #: by :meth:`select`, :meth:`truncate` or :meth:`concat`.
    prompts: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def starts(self) -> np.ndarray:
        return starts_of(self.lengths)

    def _within(self) -> np.ndarray:
        """Each token's position inside its example."""
        return np.arange(len(self.ids)) - np.repeat(self.starts, self.lengths)

    def select(self, keep: np.ndarray) -> Flat:
        tokens = np.repeat(keep, self.lengths)
        return Flat(self.ids[tokens], self.labels[tokens], self.lengths[keep])

    def truncate(self, limit: int) -> Flat:
        """Every example cut to its first ``limit`` tokens."""
        tokens = self._within() < limit
        return Flat(self.ids[tokens], self.labels[tokens], np.minimum(self.lengths, limit))

    def trained(self) -> np.ndarray:
        """Trained tokens per example."""
        # A running count of trained tokens, read at each example's edges.
        running = np.concatenate(([0], np.cumsum(self.labels != IGNORE)))
        ends = np.cumsum(self.lengths)
        return running[ends] - running[ends - self.lengths]

    @classmethod
    def concat(cls, parts: list[Flat]) -> Flat:
        return cls(
            np.concatenate([p.ids for p in parts]).astype(np.int32),
            np.concatenate([p.labels for p in parts]).astype(np.int32),
            np.concatenate([p.lengths for p in parts]).astype(np.int64),
        )

    @classmethod
    def masked(cls, ids: np.ndarray, lengths: np.ndarray, masked: np.ndarray) -> Flat:
        """Labels are the ids, except the first ``masked[i]`` tokens (and the first token) of example ``i``."""
        flat = cls(ids, ids.copy(), lengths)
        flat.labels[flat._within() < np.repeat(np.maximum(masked, 1), lengths)] = IGNORE
        return flat

    @classmethod
    def from_runs(cls, lists: list[list[int]], runs: list[list[int]]) -> Flat:
        """Examples given as id lists and runs: alternating masked and trained lengths, masked first."""
        ids, lengths = from_lists(lists)
        run_lengths = np.fromiter(chain.from_iterable(runs), dtype=np.int64)
        trained = np.zeros(len(run_lengths), dtype=bool)
        trained[1::2] = True
        labels = np.where(np.repeat(trained, run_lengths), ids, IGNORE).astype(np.int32)
        labels[starts_of(lengths)[lengths > 0]] = IGNORE
        return cls(ids, labels, lengths)


def join(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Example ``i`` is piece ``i`` of every part, in order; each part is (flat values, lengths per example)."""
    lengths = np.stack([lens for _, lens in parts], axis=1)
    totals = lengths.sum(axis=1)
    out = np.empty(int(totals.sum()), dtype=np.int32)
    at = starts_of(totals)[:, None] + np.cumsum(lengths, axis=1) - lengths
    for k, (values, lens) in enumerate(parts):
        out[np.repeat(at[:, k] - starts_of(lens), lens) + np.arange(len(values))] = values
    return out, totals


def _startswith(ids: np.ndarray, lengths: np.ndarray, prefix: list[int]) -> np.ndarray:
    """Whether each example starts with ``prefix``."""
    found = lengths >= len(prefix)
    starts = starts_of(lengths)
    for j, token in enumerate(prefix):
        rows = np.flatnonzero(found)
        found[rows] = ids[starts[rows] + j] == token
    return found


def _strip_end(ids: np.ndarray, lengths: np.ndarray, token: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove every ``token`` at the end of each example."""
    keep = np.ones(len(ids), dtype=bool)
    lengths = lengths.copy()
    starts = starts_of(lengths)
    while True:
        rows = np.flatnonzero(lengths > 0)
        ends = starts[rows] + lengths[rows] - 1
        hit = ids[ends] == token
        if not hit.any():
            return ids[keep], lengths
        keep[ends[hit]] = False
        lengths[rows[hit]] -= 1


@dataclass
class Request:
    """What one format needs from the tokenizer: the texts, and what :meth:`Encoder.finish` needs after."""

    kind: str  # "documents", "pairs" or "chats"
    texts: list[str]
    state: Any = None


class Encoder:
    """Turns the content of records into token ids and labels for one tokenizer.

    Each format works in two steps, so that a caller can run the tokenizer (which releases
    the GIL) on one batch while it assembles the last: ``request_*`` says which texts to
    tokenize, :meth:`encode` tokenizes them, :meth:`finish` turns the ids into examples.
    :meth:`documents`, :meth:`pairs` and :meth:`chats` do all three at once.
    """

    def __init__(self, info: TokenizerInfo, *, separator: str = "\n", train_on_inputs: bool = False) -> None:
        self.info = info
        self.backend = info.backend
        self.prefix = info.prefix
        self.eos = info.eos_id
        self.separator = separator
        self.train_on_inputs = train_on_inputs
        self.specials = dict(info.tokenizer.special_tokens_map)
        self.controls = info.controls
        self._anchors: dict[str, list[int]] = {}

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, no special tokens added. Safe to call from another thread."""
        # encode_batch_fast skips the character offsets nobody here reads: the same ids, less work.
        return [e.ids for e in self.backend.encode_batch_fast(texts, add_special_tokens=False)]

    def _anchor(self, before: str) -> list[int]:
        if before not in self._anchors:
            self._anchors[before] = self.encode([before])[0]
        return self._anchors[before]

    def _cut_anchors(self, encoded: list[list[int]], texts: list[str], befores: list[str]) -> list[list[int]]:
        """Each text's ids as they come out where the text follows ``before`` in a longer string.

        Tokenized alone, a text can start differently: SentencePiece-style tokenizers (Llama 2,
        Mistral) begin it with a word-boundary "▁" that the whole string does not have there. So
        ``before + text`` is what gets tokenized (``encoded``), and ``before``'s own tokens are cut
        off here; where the two merged into one token, the text is tokenized alone.
        """
        out = list(encoded)
        alone = []
        for n, (before, ids) in enumerate(zip(befores, encoded)):
            anchor = self._anchor(before) if before else []
            if ids[: len(anchor)] == anchor:
                out[n] = ids[len(anchor) :]
            else:
                alone.append(n)
        for n, ids in zip(alone, self.encode([texts[n] for n in alone])):
            out[n] = ids
        return out

    def _prefix_part(self, ids: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """BOS (the tokenizer's prefix) for each example that does not start with it already."""
        if not self.prefix:
            return np.zeros(0, dtype=np.int32), np.zeros(len(lengths), dtype=np.int64)
        needed = ~_startswith(ids, lengths, self.prefix)
        values = np.tile(np.asarray(self.prefix, dtype=np.int32), int(needed.sum()))
        return values, needed * len(self.prefix)

    def _eos_part(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        return np.full(count, self.eos, dtype=np.int32), np.ones(count, dtype=np.int64)

    # -- requests ------------------------------------------------------------------------

    def request_documents(self, texts: list[str]) -> Request:
        return Request("documents", texts)

    def request_pairs(self, inputs: list[str], outputs: list[str]) -> Request:
        sep = self.separator
        befores = [sep] * len(outputs) if sep else [text[-1:] for text in inputs]
        prompts = [text + sep for text in inputs] if sep else inputs
        answers = [before + text for before, text in zip(befores, outputs)]
        return Request("pairs", prompts + answers, (outputs, befores))

    def request_chats(self, conversations: list[list[dict[str, str]]], template: str) -> Request:
        pieces: list[list[tuple[str, bool]] | None] = []
        errors: list[ChatError | None] = []
        fixed: list[set[str]] = []
        for messages in conversations:
            try:
                rendered = render_chat(template, messages, self.specials, self.controls)
                pieces.append(segments(rendered.text, rendered.spans))
                errors.append(None)
                fixed.append(rendered.fixed)
            except ChatError as exc:
                pieces.append(None)
                errors.append(exc)
                fixed.append(set())
        texts, befores = [], []
        for item in pieces:
            for n, (text, _) in enumerate(item or []):
                texts.append(text)
                befores.append(item[n - 1][0][-1:] if n else "")
        return Request("chats", [b + t for b, t in zip(befores, texts)], (pieces, errors, texts, befores, fixed))

    def finish(self, request: Request, encoded: list[list[int]]) -> Any:
        """The examples of ``request`` from the ids of its texts."""
        return getattr(self, f"_finish_{request.kind}")(encoded, request.state)

    def documents(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """BOS (if the tokenizer uses one) + text + one EOS, for each text: flat ids and lengths."""
        request = self.request_documents(texts)
        return self.finish(request, self.encode(request.texts))

    def pairs(self, inputs: list[str], outputs: list[str]) -> Flat:
        """Prompt (BOS + input + separator, masked) then output + exactly one EOS (trained)."""
        request = self.request_pairs(inputs, outputs)
        return self.finish(request, self.encode(request.texts))

    def chats(
        self, conversations: list[list[dict[str, str]]], template: str
    ) -> tuple[Flat, list[ChatError | None], list[set[str]]]:
        """Conversations with only the assistant's turns trained; a :class:`ChatError` for each that fails,
        and the inference mismatches the rendering fixed in each."""
        request = self.request_chats(conversations, template)
        return self.finish(request, self.encode(request.texts))

    # -- assembly ------------------------------------------------------------------------

    def _finish_documents(self, encoded: list[list[int]], _: Any) -> tuple[np.ndarray, np.ndarray]:
        ids, lengths = _strip_end(*from_lists(encoded), self.eos)
        return join([self._prefix_part(ids, lengths), (ids, lengths), self._eos_part(len(lengths))])

    def _answers(self, encoded: list[list[int]], outputs: list[str], befores: list[str]) -> tuple[np.ndarray, ...]:
        sep = self.separator
        if sep:  # one anchor for all: cut it off with numpy when it never merged
            anchor = self._anchor(sep)
            ids, lengths = from_lists(encoded)
            if _startswith(ids, lengths, anchor).all():
                within = np.arange(len(ids)) - np.repeat(starts_of(lengths), lengths)
                return ids[within >= len(anchor)], lengths - len(anchor)
        return from_lists(self._cut_anchors(encoded, outputs, befores))

    def _finish_pairs(self, encoded: list[list[int]], state: tuple[list[str], list[str]]) -> Flat:
        outputs, befores = state
        count = len(outputs)
        prompts, prompt_lengths = from_lists(encoded[:count])
        answers, answer_lengths = _strip_end(*self._answers(encoded[count:], outputs, befores), self.eos)
        prefix, prefix_lengths = self._prefix_part(prompts, prompt_lengths)
        eos = self._eos_part(count)
        ids, lengths = join([(prefix, prefix_lengths), (prompts, prompt_lengths), (answers, answer_lengths), eos])
        masked = np.zeros_like(lengths) if self.train_on_inputs else prefix_lengths + prompt_lengths
        flat = Flat.masked(ids, lengths, masked)
        flat.prompts = (prompts, prompt_lengths)
        return flat

    def _finish_chats(
        self, encoded: list[list[int]], state: tuple
    ) -> tuple[Flat, list[ChatError | None], list[set[str]]]:
        pieces, errors, texts, befores, fixed = state
        pieces_ids = iter(self._cut_anchors(encoded, texts, befores))
        bos = self.info.bos_id
        lists: list[list[int]] = []
        runs: list[list[int]] = []
        for item in pieces:
            if item is None:
                continue
            ids: list[int] = []
            lengths = [0]  # a masked run first; a run's parity says whether it is trained
            for _, trained in item:
                piece = next(pieces_ids)
                if bos is not None and not ids and piece[:2] == [bos, bos]:
                    piece = piece[1:]
                ids.extend(piece)
                if (len(lengths) - 1) % 2 != int(trained):
                    lengths.append(0)
                lengths[-1] += len(piece)
            if len(lengths) % 2:
                lengths.append(0)
            lists.append(ids)
            runs.append([0, len(ids)] if self.train_on_inputs else lengths)
        return Flat.from_runs(lists, runs), errors, fixed
