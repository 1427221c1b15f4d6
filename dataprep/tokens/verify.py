"""Check tokenized examples against what an inference server renders (``tokenize``, on unless ``--no-verify``).

For each trained assistant turn of a chat, the prompt is rendered and tokenized by the
tokenizer's own ``apply_chat_template(messages[:i], add_generation_prompt=True)``, as vLLM
and TGI do; for an input/output pair it is ``tokenizer(input + separator)`` (BOS included),
as a completion server does. The training example must start with exactly those tokens,
train from the next token on, and the trained run must hold the assistant's content and
end with the end-of-turn token (EOS, or the template's control token), trained.

Each mismatch has a kind (:data:`KINDS`). The construction in
:mod:`~dataprep.tokens.examples` and :mod:`~dataprep.tokens.chat` avoids what it can; where
it did, the record counts as *fixed* under that kind (a naive ``tokenizer(rendered_text)``
pipeline would have had the mismatch). What still differs is *rejected*, with the first
differing token in the reject's detail and a side-by-side window in ``mismatches.jsonl``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dataprep.tokens.chat import clean_messages
from dataprep.tokens.examples import IGNORE, Flat, from_lists, join, starts_of
from dataprep.tokens.tokenizer import TokenizerInfo

KINDS = (
    "double-bos",
    "missing-eos",
    "eos-masked-by-pad",
    "boundary-merge",
    "template-without-generation-markers",
    "other",
)
#: The reject reason of each kind ("other" alone would say nothing in a table of reasons).
REASONS = {kind: ("render-mismatch" if kind == "other" else kind) for kind in KINDS}
KIND_OF_REASON = {reason: kind for kind, reason in REASONS.items()}
#: Tokens shown on each side of the first difference.
WINDOW = 6
#: Mismatches kept for ``show-tokens --verify`` (the rejects file has them all).
KEEP = 50
#: Characters each side of a prompt/answer edge tokenized together to see whether the tokenizer
#: merges across it: a merge joins the pre-token at the edge (a word and its leading space, a run
#: of whitespace or punctuation), which these few characters hold. Tokenizing cost grows with them.
EDGE = 8


@dataclass
class Mismatch:
    kind: str
    detail: str
    turn: int | None = None
    position: int | None = None
    training: list[int] = field(default_factory=list)
    inference: list[int] = field(default_factory=list)


@dataclass
class Checked:
    """One example's verdict: the mismatch that rejects it (if any) and the kinds its construction fixed."""

    mismatch: Mismatch | None
    fixed: set[str] = field(default_factory=set)


class VerifyReport:
    """Counts by kind over the whole stage, and the first mismatches with their token windows."""

    def __init__(self) -> None:
        self.records = 0
        self.fixed = dict.fromkeys(KINDS, 0)
        self.rejected = dict.fromkeys(KINDS, 0)
        self.first: list[dict[str, Any]] = []

    def add(self, checked: Checked, record_id: Any, source: Any, tokenizer: Any) -> None:
        self.records += 1
        if checked.mismatch is None:
            for kind in checked.fixed:
                self.fixed[kind] += 1
            return
        m = checked.mismatch
        self.rejected[m.kind] += 1
        if len(self.first) < KEEP:
            entry: dict[str, Any] = {"id": record_id, "source": source, "kind": m.kind, "detail": m.detail}
            if m.position is not None:
                start = max(0, m.position - WINDOW)
                entry.update(turn=m.turn, position=m.position, start=start)
                for side in ("training", "inference"):
                    ids = getattr(m, side)[start : m.position + WINDOW]
                    entry[side] = [[i, piece] for i, piece in zip(ids, pieces(tokenizer, ids))]
            self.first.append(entry)

    def rejected_reason(self, reason: str) -> None:
        """A record the construction itself rejected for a mismatch it cannot fix."""
        self.records += 1
        self.rejected[KIND_OF_REASON[reason]] += 1

    def to_dict(self) -> dict[str, Any]:
        return {"records": self.records, "fixed": dict(self.fixed), "rejected": dict(self.rejected)}


def pieces(tokenizer: Any, ids: list[int]) -> list[str]:
    """Each token as the text it stands for (special tokens by name)."""
    special = set(tokenizer.all_special_ids)
    tokens = tokenizer.convert_ids_to_tokens(ids)
    return [tok if i in special else tokenizer.convert_tokens_to_string([tok]) for i, tok in zip(ids, tokens)]


def _squeezed(text: str) -> str:
    return "".join(text.split())


class Verifier:
    """Verifies batches of examples for one tokenizer, template and prompt format."""

    def __init__(self, info: TokenizerInfo, template: str | None, *, separator: str, train_on_inputs: bool) -> None:
        tok = info.tokenizer
        self.info = info
        self.tok = tok
        self.template = template
        self.separator = separator
        self.train_on_inputs = train_on_inputs
        self.controls = {tok.convert_tokens_to_ids(c) for c in info.controls}
        # Without a pad token, trainers (TRL, axolotl) pad with EOS: the same hazard as pad == EOS.
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else info.eos_id
        #: What the post-processor puts around every single text, when that is all it does to the ids.
        self.affixes = fixed_affixes(info.backend)

    # -- per format --------------------------------------------------------------------

    def pair_texts(self, inputs: list[str], outputs: list[str]) -> list[str]:
        """The texts :meth:`pairs` tokenizes (no special tokens added) besides the prompts: each distinct
        prompt end alone, then each prompt/answer edge joined. A caller can tokenize them with its own
        and hand the ids to :meth:`pairs`."""
        befores, answers = self._edges(self._prompts(inputs)[0], outputs)
        return list(dict.fromkeys(befores)) + [b + a[:EDGE] for b, a in zip(befores, answers)]

    def _edges(self, prompts: list[str], outputs: list[str]) -> tuple[list[str], list[str]]:
        eos = self.tok.eos_token
        answers = [_strip_suffix(text, eos) for text in outputs] if eos else outputs
        return [p[-EDGE:] for p in prompts], answers

    def _prompts(self, inputs: list[str]) -> tuple[list[str], list[bool]]:
        """Each prompt as inference sends it (input + separator, a typed BOS left to the tokenizer),
        and which inputs had a typed BOS."""
        bos, sep = self.tok.bos_token, self.separator
        if not (self.info.prefix and bos):
            return [text + sep for text in inputs], [False] * len(inputs)
        typed_bos = [text.startswith(bos) for text in inputs]
        prompts = [(text.removeprefix(bos) if typed else text) + sep for text, typed in zip(inputs, typed_bos)]
        return prompts, typed_bos

    def pairs(
        self,
        flat: Flat,
        inputs: list[str],
        outputs: list[str],
        prompt_ids: tuple[np.ndarray, np.ndarray] | None = None,
        edge_ids: list[list[int]] | None = None,
    ) -> list[Checked]:
        """Verdicts for input/output examples.

        ``prompt_ids``: the tokens of each ``input + separator`` without special tokens, flat ids and
        lengths, if the caller has them (the encoder's own, :attr:`Flat.prompts`); ``edge_ids``: the
        tokens of :meth:`pair_texts`. What is not given is tokenized here.
        """
        prompts, typed_bos = self._prompts(inputs)
        if edge_ids is None:
            texts = self.pair_texts(inputs, outputs)
            edge_ids = [e.ids for e in self.info.backend.encode_batch_fast(texts, add_special_tokens=False)]
        befores = [p[-EDGE:] for p in prompts]
        distinct = dict.fromkeys(befores)  # many prompts end alike ("?\n"): each end is tokenized once
        alone = dict(zip(distinct, edge_ids))
        merged = [j[: len(alone[b])] != alone[b] for b, j in zip(befores, edge_ids[len(distinct) :])]
        refs = self._prompt_refs(prompts, typed_bos, prompt_ids)
        stops = {self.info.eos_id}
        clean, pad_end = self._clean_turns(flat, *refs, stops)
        # Only the examples numpy could not pass go through _turn, which says what differs.
        slow = np.flatnonzero(~clean).tolist()
        examples = dict(zip(slow, _examples(flat, slow)))
        ref_lists = _split(*refs, slow)
        out = []
        for n, (typed, merge, pad) in enumerate(zip(typed_bos, merged, pad_end.tolist())):
            fixed = {"double-bos"} if typed else set()
            if merge:
                fixed.add("boundary-merge")
            if n in examples:
                # The output's tokens are placed after the prompt as they are: no template can rewrite them,
                # so the content check (a decode per example) is left to chats.
                ids, labels = examples[n]
                out.append(Checked(self._turn(ids, labels, ref_lists[n], stops, None, None, fixed), fixed))
                continue
            if pad:
                fixed.add("eos-masked-by-pad")  # labels come from positions, never from comparing ids with pad
            out.append(Checked(None, fixed))
        return out

    def _prompt_refs(
        self, prompts: list[str], typed_bos: list[bool], prompt_ids: tuple[np.ndarray, np.ndarray] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``tokenizer(prompt)`` of each prompt (BOS included), flat: ids and lengths.

        Where the post-processor only puts fixed tokens around a text (:func:`fixed_affixes`), that is
        exactly those tokens around the prompt's own (the encoder's ids); a prompt whose typed BOS
        was taken off, or any prompt of another tokenizer, is tokenized here."""
        backend = self.info.backend
        if prompt_ids is None or self.affixes is None:
            return from_lists([e.ids for e in backend.encode_batch_fast(prompts)])
        before, after = self.affixes
        ids, lengths = prompt_ids
        count = len(lengths)
        ref_ids, ref_lengths = join(
            [
                (np.tile(np.asarray(before, dtype=np.int32), count), np.full(count, len(before), dtype=np.int64)),
                (ids, lengths),
                (np.tile(np.asarray(after, dtype=np.int32), count), np.full(count, len(after), dtype=np.int64)),
            ]
        )
        redo = [n for n, typed in enumerate(typed_bos) if typed]
        if redo:  # the encoder tokenized these with their typed BOS; inference leaves BOS to the tokenizer
            lists = _split(ref_ids, ref_lengths, range(count))
            for n, e in zip(redo, backend.encode_batch_fast([prompts[n] for n in redo])):
                lists[n] = e.ids
            ref_ids, ref_lengths = from_lists([lists[n] for n in range(count)])
        return ref_ids, ref_lengths

    def _clean_turns(
        self, flat: Flat, ref_ids: np.ndarray, ref_lengths: np.ndarray, stops: set[int | None]
    ) -> tuple[np.ndarray, np.ndarray]:
        """For a batch of one-turn examples and their prompts: which pass every check of :meth:`_turn`
        (content aside), computed with numpy, and which of those end on the pad token. An example
        not marked clean may still pass; :meth:`_turn` decides it, and says why not."""
        ids, labels, lengths = flat.ids, flat.labels, flat.lengths
        count = len(lengths)
        starts = starts_of(lengths)
        n = ref_lengths
        clean = lengths > n
        bos = self.info.bos_id
        if bos is not None:
            two = lengths >= 2
            rows = np.flatnonzero(two)
            two[rows] = (ids[starts[rows]] == bos) & (ids[starts[rows] + 1] == bos)
            clean &= ~two
        rows = np.flatnonzero(clean)
        size = n[rows]
        within = np.arange(int(size.sum())) - np.repeat(starts_of(size), size)
        differs = ids[np.repeat(starts[rows], size) + within] != ref_ids[np.repeat(starts_of(n)[rows], size) + within]
        clean[rows[np.bincount(np.repeat(np.arange(len(rows)), size)[differs], minlength=len(rows)) > 0]] = False
        owner = np.repeat(np.arange(count), lengths)
        position = np.arange(len(ids)) - np.repeat(starts, lengths)
        after = position >= np.repeat(n, lengths)
        stop_ids = np.asarray([s for s in stops if s is not None], dtype=np.int64)
        if self.train_on_inputs:
            hits = np.flatnonzero(after & np.isin(ids, stop_ids))
            end = lengths.copy()
            first_owner, first = np.unique(owner[hits], return_index=True)
            end[first_owner] = position[hits[first]] + 1
        else:
            rows = np.flatnonzero(clean)
            at = starts[rows] + n[rows]
            clean[rows] = (labels[at] != IGNORE) & ((n[rows] <= 1) | (labels[at - 1] == IGNORE))
            hits = np.flatnonzero(after & (labels == IGNORE))
            end = lengths.copy()
            first_owner, first = np.unique(owner[hits], return_index=True)
            end[first_owner] = position[hits[first]]
        rows = np.flatnonzero(clean)
        last = ids[starts[rows] + end[rows] - 1]
        if not self.train_on_inputs:
            clean[rows[~np.isin(last, stop_ids)]] = False
        pad_end = np.zeros(count, dtype=bool)
        if self.pad_id is not None:
            pad_end[rows] = last == self.pad_id
        return clean, pad_end & clean

    def chats(self, flat: Flat, conversations: list[list[dict[str, Any]]], fixed: list[set[str]]) -> list[Checked]:
        conversations = [clean_messages(c) for c in conversations]
        turns = [[i for i, m in enumerate(c) if m.get("role") == "assistant"] for c in conversations]
        prompts = [c[:i] for c, ts in zip(conversations, turns) for i in ts]
        wholes = [c[: i + 1] for c, ts in zip(conversations, turns) for i in ts]
        refs = iter(self._apply(prompts, add_generation_prompt=True))
        naive = iter(self._apply(wholes))
        out = []
        for (ids, labels), conversation, ts, done in zip(_examples(flat), conversations, turns, fixed):
            done = set(done)
            mismatch = None
            for i in ts:
                ref, whole = next(refs), next(naive)
                if mismatch is not None:
                    continue
                if isinstance(ref, str) or isinstance(whole, str):
                    failed = ref if isinstance(ref, str) else whole
                    mismatch = Mismatch("other", f"assistant turn {i}: {failed}", i)
                    continue
                if self.info.prefix and ref[: len(self.info.prefix)] == self.info.prefix:
                    done.add("double-bos")  # the template writes BOS, and tokenizer(text) would add another
                if whole[: len(ref)] != ref:
                    done.add("boundary-merge")
                mismatch = self._turn(ids, labels, ref, self.controls, conversation[i].get("content"), i, done)
            out.append(Checked(mismatch, done))
        return out

    def _apply(self, conversations: list[list[dict[str, Any]]], **kwargs: Any) -> list[list[int] | str]:
        """``apply_chat_template``'s ids of each conversation, or why it fails on it."""
        if not conversations:
            return []
        try:
            encoded = self.tok.apply_chat_template(
                conversations, chat_template=self.template, tokenize=True, return_dict=True, **kwargs
            )
            return [list(ids) for ids in encoded["input_ids"]]
        except Exception:  # noqa: BLE001 - a template can raise anything; find which conversation, below
            if len(conversations) == 1:
                try:
                    self.tok.apply_chat_template(conversations[0], chat_template=self.template, **kwargs)
                except Exception as exc:  # noqa: BLE001
                    return [f"apply_chat_template fails on it ({type(exc).__name__}: {exc})"]
                raise
            return [out for c in conversations for out in self._apply([c], **kwargs)]

    # -- one trained turn --------------------------------------------------------------

    def _turn(
        self,
        ids: list[int],
        labels: list[int],
        ref: list[int],
        stops: set[int | None],
        content: Any,
        turn: int | None,
        fixed: set[str],
    ) -> Mismatch | None:
        """Whether the example holds this turn as inference does; ``fixed`` gains what its construction avoided."""
        where = "the prompt" if turn is None else f"the prompt of assistant turn {turn}"
        bos = self.info.bos_id
        if bos is not None and ids[:2] == [bos, bos]:
            return self._differ("double-bos", "the example starts with two BOS tokens", ids, ref, 1, turn)
        n = len(ref)
        if ids[:n] != ref:
            at = next((k for k, (a, b) in enumerate(zip(ids, ref)) if a != b), min(len(ids), n))
            kind = self._prefix_kind(ids, ref, at)
            what = {
                "double-bos": "the inference prompt starts with two BOS tokens (the template renders BOS twice)",
                "boundary-merge": f"{where} is the same text but tokenized differently: the tokenizer merges "
                "across a boundary between turns",
                "other": f"the training example does not start with {where} as inference renders it",
            }[kind]
            return self._differ(kind, what, ids, ref, at, turn)
        if len(ids) <= n:
            return self._differ("other", f"nothing follows {where} in the training example", ids, ref, n, turn)
        if self.train_on_inputs:
            end = min((_index(ids, stop, n) + 1 for stop in stops if stop is not None), default=len(ids))
            end = min(end, len(ids))
        else:
            if labels[n] == IGNORE or (n > 1 and labels[n - 1] != IGNORE):
                return self._differ(
                    "other", f"the trained span does not start where {where} ends (token {n})", ids, ref, n, turn
                )
            end = _index(labels, IGNORE, n)
            if ids[end - 1] not in stops:
                if end < len(ids) and ids[end] in stops and ids[end] == self.pad_id:
                    what = "the end-of-turn token is the pad token and is masked, so the model never learns to stop"
                    return self._differ("eos-masked-by-pad", what, ids, ids[:end] + [ids[end]], end, turn)
                return self._differ(
                    "missing-eos", "the trained span does not end with an end-of-turn token", ids, ref, end - 1, turn
                )
        if ids[end - 1] == self.pad_id:
            fixed.add("eos-masked-by-pad")  # labels come from positions, never from comparing ids with pad
        key = _squeezed(content) if isinstance(content, str) else ""
        if key and key not in _squeezed(self.info.backend.decode(ids[n:end], skip_special_tokens=False)):
            return self._differ(
                "other", "the trained span does not hold the assistant's content", ids, ref + [IGNORE], n, turn
            )
        return None

    def _prefix_kind(self, ids: list[int], ref: list[int], at: int) -> str:
        bos = self.info.bos_id
        if bos is not None and at <= 1 and (ids[:2] == [bos, bos] or ref[:2] == [bos, bos]):
            return "double-bos"
        if self.tok.decode(ids).startswith(self.tok.decode(ref)):
            return "boundary-merge"
        return "other"

    def _differ(self, kind: str, what: str, ids: list[int], ref: list[int], at: int, turn: int | None) -> Mismatch:
        def show(side: list[int]) -> str:
            if at >= len(side) or side[at] == IGNORE:
                return "nothing"
            return f"{pieces(self.tok, [side[at]])[0]!r} (id {side[at]})"

        detail = f"{what}; first difference at token {at}: training {show(ids)}, inference {show(ref)}"
        return Mismatch(kind, detail, turn, at, list(ids), [i for i in ref if i != IGNORE])


def _index(values: list[int], value: int, start: int) -> int:
    """The first position of ``value`` from ``start`` on; ``len(values)`` when there is none."""
    try:
        return values.index(value, start)
    except ValueError:
        return len(values)


def _strip_suffix(text: str, suffix: str) -> str:
    while text.endswith(suffix):
        text = text[: -len(suffix)]
    return text


def _examples(flat: Flat, which: Any = None) -> list[tuple[list[int], list[int]]]:
    """Each example's (or each of ``which``'s) ids and labels as lists."""
    if which is None:
        ids, labels = flat.ids.tolist(), flat.labels.tolist()
        out, at = [], 0
        for length in flat.lengths.tolist():
            out.append((ids[at : at + length], labels[at : at + length]))
            at += length
        return out
    starts, lengths = flat.starts, flat.lengths
    return [
        (
            flat.ids[starts[n] : starts[n] + lengths[n]].tolist(),
            flat.labels[starts[n] : starts[n] + lengths[n]].tolist(),
        )
        for n in which
    ]


def _split(values: np.ndarray, lengths: np.ndarray, which: Any) -> dict[int, list[int]]:
    """The lists of ``which`` examples out of flat ``values``."""
    starts = starts_of(lengths)
    return {n: values[starts[n] : starts[n] + lengths[n]].tolist() for n in which}


def fixed_affixes(backend: Any) -> tuple[list[int], list[int]] | None:
    """The ids the tokenizer's post-processor puts before and after a single text, when it adds
    the same ones to every text and changes nothing else about the ids; None when it may do more.

    Then ``encode(text)`` is exactly ``before + encode(text, add_special_tokens=False) + after``:
    ``add_special_tokens`` only reaches the post-processor (tokenizers runs normalizer,
    pre-tokenizer and model the same either way), truncation and padding are off, and the
    processors named here (read from the tokenizer's own JSON) add fixed tokens or none.
    A few probe texts check it once more.
    """
    if backend.truncation is not None or backend.padding is not None:
        return None
    try:
        spec = json.loads(backend.to_str()).get("post_processor")
    except (ValueError, AttributeError):
        return None
    affixes = _affixes_of(spec)
    if affixes is None:
        return None
    before, after = affixes
    for probe in ("a", " Hello, world!\n", "<s>x</s>", "\u00e9\u8336 2+2"):
        bare = backend.encode(probe, add_special_tokens=False).ids
        if backend.encode(probe).ids != before + bare + after:
            return None
    return affixes


def _affixes_of(spec: Any) -> tuple[list[int], list[int]] | None:
    if spec is None:
        return [], []
    kind = spec.get("type") if isinstance(spec, dict) else None
    if kind == "ByteLevel":  # offsets only
        return [], []
    if kind in ("BertProcessing", "RobertaProcessing"):  # [CLS] text [SEP]
        return [int(spec["cls"][1])], [int(spec["sep"][1])]
    if kind == "TemplateProcessing":
        before: list[int] = []
        after: list[int] = []
        seen = False
        for piece in spec.get("single", []):
            if "Sequence" in piece and piece["Sequence"].get("id") == "A" and not seen:
                seen = True
            elif "SpecialToken" in piece:
                (after if seen else before).extend(spec["special_tokens"][piece["SpecialToken"]["id"]]["ids"])
            else:
                return None
        return (before, after) if seen else None
    if kind == "Sequence":  # each wraps what the ones before it made
        before, after = [], []
        for part in spec.get("processors", []):
            found = _affixes_of(part)
            if found is None:
                return None
            before, after = found[0] + before, after + found[1]
        return before, after
    return None
