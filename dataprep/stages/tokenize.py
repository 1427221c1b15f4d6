"""``tokenize``: records to token ids, loss labels and Arrow datasets a trainer loads as is.

Reads a ``split`` folder by its splits (or plain record files, as ``train``) and writes,
for each split, a ``datasets.save_to_disk`` folder ``OUT/<split>`` with the columns
``input_ids``, ``attention_mask`` and ``labels`` (-100 where no loss is taken), plus
``position_ids`` and ``seq_lengths`` with ``--packing``. The tokenizer is saved next to
them in ``OUT/tokenizer`` so the trainer uses exactly the one the ids came from.

Formats (``--format auto`` picks one per record):

- ``text``: documents joined with EOS and cut into ``max_length`` blocks; every token trained.
- ``input-output``: BOS + input + separator (masked) + output + one EOS (trained).
- ``messages``: the tokenizer's chat template; only the assistant's turns are trained.

Every input-output and messages example is checked against the inference rendering
(:mod:`dataprep.tokens.verify`; ``--no-verify`` skips it): mismatches the construction
fixed and those it rejects are counted by kind in ``extra.verify``, and the first ones are
kept side by side in ``mismatches.jsonl`` for ``dataprep show-tokens --verify``.

``stats.json`` ``extra`` holds, for all splits together and per split under ``splits``:
``sequences``, ``tokens``, ``supervised_tokens`` (labels that are not -100: the tokens
the loss is taken on), ``examples``, ``truncated``, ``dropped_overlength``,
``packing_efficiency`` (real tokens / sequence slots) and a ``length_histogram`` of example
lengths before truncation; per source file under ``sources``, the tokens kept, truncated
and dropped and the records dropped by reason; plus the tokenizer's name and hash. Memory
holds one batch of records at a time.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow.parquet as pq
from pydantic import Field, field_validator
from tqdm import tqdm

from dataprep.errors import ConfigError, InputError
from dataprep.io.readers import (
    RECORD_SUFFIXES,
    ReadBatch,
    count_records,
    iter_batches,
    record_files,
    resolve_inputs,
)
from dataprep.io.schema import table_to_batch
from dataprep.records import REJECT_COLUMN, REJECT_DETAIL_COLUMN, Batch, batch_len
from dataprep.stages import RecordStage, StageConfig, register
from dataprep.stages.base import StageOutput, StageStats, split_rejects
from dataprep.stages.extract.mapping import unescape
from dataprep.stages.split import SPLITS, split_files
from dataprep.tokens.arrow import DatasetWriter
from dataprep.tokens.examples import Encoder, Flat, Request
from dataprep.tokens.packing import TextBlocks, bins, pack, unpacked
from dataprep.tokens.tokenizer import load_tokenizer
from dataprep.tokens.verify import REASONS, Checked, Verifier, VerifyReport

Format = Literal["auto", "text", "input-output", "messages"]
FORMATS = ("text", "input-output", "messages")
#: What tokenizing reads from a Parquet shard; meta stays unread.
READ_COLUMNS = ("id", "text", "input", "output", "messages", "source")
#: Each record's token ids on their way back from a worker (executor: ray).
ENCODED_COLUMN = "tokenize_encoded"
#: The first inference mismatches, side by side, for ``dataprep show-tokens --verify``.
MISMATCHES_FILE = "mismatches.jsonl"
NO_SOURCE = "(no source)"


def source_file(source: Any) -> str:
    """The file part of a record's source (``data.csv#row=3`` -> ``data.csv``)."""
    return str(source).partition("#")[0] if source else NO_SOURCE


class SourceReport:
    """Where each source file's tokens went: kept, cut off by truncation, or dropped with their record."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, Any]] = {}

    def _of(self, source: Any) -> dict[str, Any]:
        name = source_file(source)
        if name not in self.files:
            self.files[name] = {
                "records": 0,
                "examples": 0,
                "tokens_kept": 0,
                "tokens_truncated": 0,
                "tokens_dropped": 0,
                "dropped": Counter(),
            }
        return self.files[name]

    def read(self, sources: list[Any]) -> None:
        for name, count in Counter(map(source_file, sources)).items():
            self._of(name)["records"] += count

    def dropped(self, source: Any, reason: str, tokens: int = 0) -> None:
        entry = self._of(source)
        entry["dropped"][reason] += 1
        entry["tokens_dropped"] += tokens

    def kept(self, source: Any, tokens: int, truncated: int = 0, example: bool = True) -> None:
        entry = self._of(source)
        entry["examples"] += example
        entry["tokens_kept"] += tokens
        entry["tokens_truncated"] += truncated

    def kept_all(self, sources: list[Any], tokens: np.ndarray, truncated: np.ndarray | None = None) -> None:
        """:meth:`kept` for a batch of examples, summed per file with numpy."""
        if not sources:
            return
        names, owner = np.unique(np.asarray([source_file(s) for s in sources], dtype=object), return_inverse=True)
        counts = np.bincount(owner, minlength=len(names))
        kept = np.bincount(owner, weights=tokens, minlength=len(names))
        cut = np.bincount(owner, weights=truncated, minlength=len(names)) if truncated is not None else None
        for n, name in enumerate(names.tolist()):
            self.kept(name, int(kept[n]), int(cut[n]) if cut is not None else 0, example=False)
            self._of(name)["examples"] += int(counts[n])

    def to_dict(self) -> dict[str, Any]:
        return {
            name: {**entry, "dropped": dict(sorted(entry["dropped"].items()))}
            for name, entry in sorted(self.files.items())
        }


class TokenizeConfig(StageConfig):
    """Options of ``tokenize``."""

    tokenizer: str = Field(
        ..., description="Tokenizer: a local folder (e.g. sample_data/tiny-llama) or a Hugging Face model name."
    )
    max_length: int = Field(
        2048, description="Tokens per sequence: text is cut into blocks this long; longer examples are dropped or cut."
    )
    format: Format = Field(
        "auto",
        description="text, input-output or messages; auto takes each record's own (a record of another format "
        "than the one given is rejected).",
    )
    train_on_inputs: bool = Field(
        False, description="Also train on the prompt (input, or system/user turns); by default only outputs."
    )
    overlength: Literal["drop", "truncate"] = Field(
        "drop",
        description="An input-output or messages example longer than max_length: drop it (counted as too-long), "
        "or keep its first max_length tokens (counted as truncated; it then has no EOS).",
    )
    packing: bool = Field(
        False,
        description="Pack several examples into each sequence up to max_length, with position_ids restarting "
        "for every example and seq_lengths, for padding-free / flash-attention training.",
    )
    separator: str = Field("\n", description="Text between input and output (part of the masked prompt).")
    chat_template: str | None = Field(
        None, description="Jinja chat template (a file or the text) to use instead of the tokenizer's own."
    )
    batch_size: int = Field(1000, description="Records tokenized at a time; bounds memory.")
    verify: bool = Field(
        True,
        description="Check every input-output and messages example against the inference rendering (the chat "
        "template's prompt with add_generation_prompt, or tokenizer(input + separator)); count mismatches by kind "
        "in stats.json and reject what the construction cannot fix (--no-verify skips it).",
    )

    @field_validator("max_length", "batch_size")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 2:
            raise ValueError("must be at least 2")
        return value

    @field_validator("separator")
    @classmethod
    def _unescape(cls, value: str) -> str:
        return unescape(value) or ""


def input_splits(inputs: list[Path | str]) -> dict[str, list[Path]]:
    """Files per split: a ``split`` folder by its splits; a file or folder called train/val/test as that
    split; anything else as ``train``."""
    found: dict[str, list[Path]] = {}
    for spec in inputs:
        path = Path(spec)
        by_split = split_files(path)
        if by_split is None:
            name = path.name
            for suffix in (".gz", ".jsonl", ".parquet"):
                name = name.removesuffix(suffix)
            by_split = {name if name in SPLITS else "train": record_files([path])}
        for name, files in by_split.items():
            found.setdefault(name, []).extend(files)
    return {name: found[name] for name in SPLITS if name in found}


def histogram_edges(max_length: int) -> list[int]:
    """Bucket upper bounds: powers of two up to ``max_length``, then ``max_length`` itself."""
    edges = [32]
    while edges[-1] * 2 < max_length:
        edges.append(edges[-1] * 2)
    return [e for e in edges if e < max_length] + [max_length]


class SplitReport:
    """What one split's tokenization did."""

    def __init__(self, max_length: int) -> None:
        self.edges = histogram_edges(max_length)
        self.histogram = np.zeros(len(self.edges) + 1, dtype=np.int64)
        self.records = 0
        self.examples = 0
        self.truncated = 0
        self.formats: Counter = Counter()
        self.dropped: Counter = Counter()
        # Unpacked: example rows written, and the sequences best-fit packing would have made of them.
        self.example_rows = 0
        self.packed_rows = 0

    def lengths(self, lengths: np.ndarray) -> None:
        if len(lengths):
            at = np.searchsorted(self.edges, lengths, side="left")
            self.histogram += np.bincount(at, minlength=len(self.histogram))

    def histogram_rows(self) -> list[dict[str, Any]]:
        """``[{"tokens": "1-32", "examples": n}, ...]``, in length order (a list, as JSON keys get sorted)."""
        rows, low = [], 1
        for edge, count in zip(self.edges, self.histogram.tolist()):
            rows.append({"tokens": f"{low}-{edge}", "examples": count})
            low = edge + 1
        rows.append({"tokens": f">{self.edges[-1]}", "examples": int(self.histogram[-1])})
        return rows

    def to_dict(self, writer: DatasetWriter, max_length: int, packing: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "records": self.records,
            "examples": self.examples,
            "sequences": writer.rows,
            "tokens": writer.tokens,
            "supervised_tokens": writer.supervised,
            "truncated": self.truncated,
            "dropped_overlength": self.dropped["too-long"],
            "dropped": dict(sorted(self.dropped.items())),
            "formats": dict(sorted(self.formats.items())),
            "length_histogram": self.histogram_rows(),
        }
        out["packing_efficiency"] = efficiency(writer.tokens, writer.rows, max_length)
        if not packing:
            rows = writer.rows - self.example_rows + self.packed_rows
            out["packed_sequences_estimate"] = rows
            out["packing_efficiency_if_packed"] = efficiency(writer.tokens, rows, max_length)
        return out


def efficiency(tokens: int, rows: int, max_length: int) -> float | None:
    """Real tokens per sequence slot (``rows`` sequences of ``max_length``)."""
    return round(tokens / (rows * max_length), 4) if rows else None


@dataclass
class _Split:
    """Where one split's sequences go."""

    writer: DatasetWriter
    blocks: TextBlocks
    report: SplitReport


@dataclass
class _Job:
    """One batch on its way: its checked records, and the tokenizer's work on their texts."""

    batch: Batch
    rows: dict[str, list[int]]
    requests: dict[str, Request]
    #: The ids of the requests' texts, then (locally) those of the verifier's pair texts.
    encoded: Future
    #: How many of ``encoded`` are the requests'; the rest are the verifier's.
    texts: int | None = None


@register
class Tokenize(RecordStage):
    """Tokenize splits into Hugging Face Arrow datasets with loss masks (text, input-output, messages)."""

    name = "tokenize"
    Config = TokenizeConfig
    folder_output = True
    config: TokenizeConfig
    read_columns = READ_COLUMNS

    encoder: Encoder | None = None
    verifier: Verifier | None = None

    def _load(self) -> None:
        """The tokenizer and its encoder (once per process: the driver, or a Ray worker)."""
        if self.encoder is not None:
            return
        cfg = self.config
        self.info = load_tokenizer(cfg.tokenizer, cfg.chat_template)
        if self.info.eos_id is None and cfg.format != "messages":
            raise ConfigError(
                f"--tokenizer {cfg.tokenizer!r} has no eos_token, which ends every text and output; "
                "use a tokenizer that has one (or add it with tokenizer.add_special_tokens)."
            )
        if cfg.format == "messages":
            self._template()
        self.encoder = Encoder(self.info, separator=cfg.separator, train_on_inputs=cfg.train_on_inputs)
        if cfg.verify:
            self.verifier = Verifier(
                self.info, self.info.chat_template, separator=cfg.separator, train_on_inputs=cfg.train_on_inputs
            )

    def execute(self, inputs: list[Path | str], output: StageOutput, stats: StageStats) -> None:
        cfg = self.config
        resolve_inputs(inputs, RECORD_SUFFIXES)
        splits = input_splits(inputs)
        self._load()
        self.sources = SourceReport()
        self.verify_report = VerifyReport()
        self._lost = {}
        self._last_text_source: Any = None
        reports: dict[str, dict[str, Any]] = {}
        total = count_records([f for files in splits.values() for f in files])
        with self.progress(total) as bar:
            for name, files in splits.items():
                writer = DatasetWriter(output.folder / name, cfg.packing)
                try:
                    report = self._split(files, writer, output, stats, bar)
                    writer.close()
                except BaseException:
                    writer.abort()
                    raise
                reports[name] = report.to_dict(writer, cfg.max_length, cfg.packing)
        tokenizer = self.info.tokenizer
        if cfg.chat_template:
            tokenizer.chat_template = self.info.chat_template
        tokenizer.save_pretrained(output.folder / "tokenizer")
        stats.extra.update(self._summary(reports))
        if cfg.verify:
            with open(output.folder / MISMATCHES_FILE, "w", encoding="utf-8") as handle:
                handle.writelines(json.dumps(entry, ensure_ascii=False) + "\n" for entry in self.verify_report.first)

    def _template(self) -> str:
        if not self.info.chat_template:
            raise ConfigError(
                f"--tokenizer {self.config.tokenizer!r} has no chat template, so chat messages cannot be tokenized. "
                "Give one with --chat-template FILE (a Jinja template), use the tokenizer of the model's "
                "chat/instruct version, or turn the records into input/output pairs first with "
                "`dataprep normalize --to-format input-output`."
            )
        return self.info.chat_template

    #: Tokens of the rows of the batch in hand that were tokenized and then dropped (by row).
    _lost: dict[int, int]

    def _split(
        self, files: list[Path], writer: DatasetWriter, output: StageOutput, stats: StageStats, bar: tqdm
    ) -> SplitReport:
        cfg = self.config
        split = _Split(writer, TextBlocks(cfg.max_length, positions=cfg.packing), SplitReport(cfg.max_length))
        dropped_before = Counter(stats.dropped)
        if self.ctx.engine.name != "local":
            self._split_on_workers(files, split, output, stats, bar)
            split.report.dropped = Counter(stats.dropped) - dropped_before
            return split.report
        # The tokenizer releases the GIL: it tokenizes one batch in the worker thread while this
        # thread assembles and writes the batch before and reads the batch after.
        with ThreadPoolExecutor(1, thread_name_prefix="tokenize") as worker:
            pending: _Job | None = None
            for read in self.read_batches(files):
                self._read_rejects(read.rejects, output, stats)
                size = batch_len(read.batch)
                self.sources.read(read.batch.get("source") or [None] * size)
                stats.records_in += size
                split.report.records += size + len(read.rejects)
                bar.update(size + len(read.rejects))
                job = self._request(read.batch, split, output, stats, worker) if size else None
                if pending is not None:
                    self._finish(pending, split, output, stats)
                pending = job
            if pending is not None:
                self._finish(pending, split, output, stats)
        writer.write(self._last_block(split))
        split.report.dropped = Counter(stats.dropped) - dropped_before
        return split.report

    def _split_on_workers(
        self, files: list[Path], split: _Split, output: StageOutput, stats: StageStats, bar: tqdm
    ) -> None:
        """One split on an engine's workers: they read and tokenize (:meth:`encode_records`);
        this process fits, packs and writes the examples in input order, as it does locally."""

        def on_rejects(rejects: list[Any]) -> None:
            self._read_rejects(rejects, output, stats)
            split.report.records += len(rejects)
            bar.update(len(rejects))

        for batch in self.ctx.engine.map_batches(self, files, "encode_records", on_rejects):
            encoded = batch.pop(ENCODED_COLUMN)
            size = batch_len(batch)
            stats.records_in += size
            split.report.records += size
            self.sources.read(batch.get("source") or [None] * size)
            bar.update(size)
            if size:
                self._finish(self._request(batch, split, output, stats, encoded=encoded), split, output, stats)
        split.writer.write(self._last_block(split))

    def _last_block(self, split: _Split) -> Any:
        """The text stream's last, shorter block; a lone last token (nothing in it trains) is left out,
        counted as truncated from the last document's source."""
        left = split.blocks.pending
        rows = split.blocks.finish()
        if rows is None and left:
            self.sources.kept(self._last_text_source, -left, left, example=False)
        return rows

    def encode_records(self, batch: Batch) -> Batch:
        """On a worker: the batch, with each record's texts tokenized in ``ENCODED_COLUMN``
        (in the order :meth:`_request` asks for them; none for a record it rejects)."""
        self._load()
        assert self.encoder is not None
        formats = self._classify(batch)
        batch.pop(REJECT_COLUMN, None)  # the driver classifies again, and rejects
        batch.pop(REJECT_DETAIL_COLUMN, None)
        rows, requests = self._requests(batch, formats)
        encoded = self.encoder.encode([text for request in requests.values() for text in request.texts])
        per_record: list[list[list[int]]] = [[] for _ in formats]
        at = 0
        for fmt, request in requests.items():
            mine, count = encoded[at : at + len(request.texts)], len(rows[fmt])
            at += len(request.texts)
            if fmt == "text":
                for n, row in enumerate(rows[fmt]):
                    per_record[row] = [mine[n]]
            elif fmt == "input-output":  # prompts first, then answers
                for n, row in enumerate(rows[fmt]):
                    per_record[row] = [mine[n], mine[count + n]]
            else:  # each conversation's pieces in turn; none for one that failed
                pieces = request.state[0]
                for n, row in enumerate(rows[fmt]):
                    taken = len(pieces[n] or [])
                    per_record[row], mine = mine[:taken], mine[taken:]
        batch[ENCODED_COLUMN] = per_record
        return batch

    @staticmethod
    def _gather(rows: dict[str, list[int]], encoded: list[list[list[int]]]) -> list[list[int]]:
        """The ids of a batch's texts in request order, from each record's (the inverse of
        :meth:`encode_records`' spreading)."""
        out = [encoded[row][0] for row in rows["text"]]
        out += [encoded[row][0] for row in rows["input-output"]]
        out += [encoded[row][1] for row in rows["input-output"]]
        out += [ids for row in rows["messages"] for ids in encoded[row]]
        return out

    def read_batches(self, inputs: list[Path | str]) -> Iterator[ReadBatch]:
        """Records in batches; from Parquet only the columns tokenizing reads (meta stays unparsed)."""
        for path in record_files(inputs):
            if not path.name.endswith(".parquet"):
                yield from iter_batches([path], self.config.batch_size)
                continue
            try:
                handle = pq.ParquetFile(path)
            except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds
                raise InputError(f"{path}: not a readable Parquet file ({exc}).") from exc
            columns = [c for c in self.read_columns if c in handle.schema_arrow.names]
            for record_batch in handle.iter_batches(batch_size=self.config.batch_size, columns=columns):
                yield ReadBatch(table_to_batch(record_batch))

    def _classify(self, batch: Batch) -> list[str | None]:
        """Each record's format; records that cannot be tokenized get a reject reason in the batch."""
        wanted = self.config.format
        formats: list[str | None] = []
        reasons: list[str | None] = []
        details: list[str | None] = []
        for text, inp, out, msgs in zip(batch["text"], batch["input"], batch["output"], batch["messages"]):
            found = "messages" if msgs else "input-output" if inp is not None or out is not None else "text"
            reason = detail = None
            if found == "text" and text is None:
                found, reason, detail = None, "missing-content", "the record has no text, input/output or messages"
            elif wanted != "auto" and found != wanted:
                reason, detail = "wrong-format", f"the record is {found}, and --format is {wanted}"
            elif found == "text" and not text.strip():
                reason, detail = "empty-text", "the text is empty"
            elif found == "input-output" and (out is None or not out.strip()):
                reason, detail = "empty-output", "the output is missing or empty"
            elif found == "input-output" and inp is None:
                reason, detail = "missing-input", "the record has an output but no input"
            formats.append(None if reason else found)
            reasons.append(reason)
            details.append(detail)
        if any(reasons):
            batch[REJECT_COLUMN] = reasons
            batch[REJECT_DETAIL_COLUMN] = details
        return formats

    def _request(
        self,
        batch: Batch,
        split: _Split,
        output: StageOutput,
        stats: StageStats,
        worker: ThreadPoolExecutor | None = None,
        encoded: list[list[list[int]]] | None = None,
    ) -> _Job:
        """Check a batch, drop what cannot be tokenized, and hand its texts to the worker
        thread (or take their ids, ``encoded`` per record, from a worker process)."""
        formats = self._classify(batch)
        if REJECT_COLUMN in batch:
            if encoded is not None:
                encoded = [ids for ids, fmt in zip(encoded, formats) if fmt is not None]
            batch = self._reject(batch, output, stats)
            formats = [f for f in formats if f is not None]
        split.report.formats.update(formats)
        rows, requests = self._requests(batch, formats)
        if encoded is not None:
            done: Future = Future()
            done.set_result(self._gather(rows, encoded))
            return _Job(batch, rows, requests, done)
        assert worker is not None and self.encoder is not None
        texts = [text for request in requests.values() for text in request.texts]
        count = len(texts)
        if self.verifier is not None and "input-output" in requests:
            # The verifier's own texts go to the worker thread too, in the same call.
            pairs = rows["input-output"]
            texts += self.verifier.pair_texts([batch["input"][i] for i in pairs], [batch["output"][i] for i in pairs])
        return _Job(batch, rows, requests, worker.submit(self.encoder.encode, texts), count)

    def _requests(self, batch: Batch, formats: list[str | None]) -> tuple[dict[str, list[int]], dict[str, Request]]:
        """Each format's rows of the batch, and what it asks of the tokenizer."""
        assert self.encoder is not None
        rows = {fmt: [i for i, f in enumerate(formats) if f == fmt] for fmt in FORMATS}
        requests: dict[str, Request] = {}
        if rows["text"]:
            requests["text"] = self.encoder.request_documents([batch["text"][i] for i in rows["text"]])
        if rows["input-output"]:
            pairs = rows["input-output"]
            inputs, outputs = [batch["input"][i] for i in pairs], [batch["output"][i] for i in pairs]
            requests["input-output"] = self.encoder.request_pairs(inputs, outputs)
        if rows["messages"]:
            conversations = [batch["messages"][i] for i in rows["messages"]]
            requests["messages"] = self.encoder.request_chats(conversations, self._template())
        return rows, requests

    def _finish(self, job: _Job, split: _Split, output: StageOutput, stats: StageStats) -> None:
        """Turn a batch's token ids into examples: verify them, fit them to max_length, pack or not, write."""
        cfg = self.config
        assert self.encoder is not None
        encoded = job.encoded.result()
        edge_ids = encoded[job.texts :] if job.texts is not None and job.texts < len(encoded) else None
        results: dict[str, Any] = {}
        at = 0
        for fmt, request in job.requests.items():
            results[fmt] = self.encoder.finish(request, encoded[at : at + len(request.texts)])
            at += len(request.texts)
        sources = job.batch.get("source") or [None] * batch_len(job.batch)
        kept = 0
        if "text" in results:
            ids, lengths = results["text"]
            split.report.lengths(lengths)
            split.writer.write(split.blocks.add(ids, lengths))
            kept += len(lengths)
            self.sources.kept_all([sources[row] for row in job.rows["text"]], lengths)
            if len(lengths):
                self._last_text_source = sources[job.rows["text"][-1]]
        reasons: list[str | None] = [None] * batch_len(job.batch)
        details: list[str | None] = [None] * batch_len(job.batch)
        parts: list[Flat] = []
        owners: list[int] = []
        if "input-output" in results:
            flat, rows = results["input-output"], job.rows["input-output"]
            if self.verifier is not None:
                inputs, outputs = [job.batch["input"][i] for i in rows], [job.batch["output"][i] for i in rows]
                # The encoder's prompts are input + separator, as the verifier's (the same config).
                checks = self.verifier.pairs(flat, inputs, outputs, flat.prompts, edge_ids)
                flat, rows = self._verdicts(flat, rows, checks, job.batch, reasons, details)
            parts.append(flat)
            owners += rows
        if "messages" in results:
            flat, errors, fixed = results["messages"]
            rows = []
            for i, error in zip(job.rows["messages"], errors):
                if error is None:
                    rows.append(i)
                    continue
                reasons[i], details[i] = REASONS.get(error.reason, error.reason), error.detail
                if self.verifier is not None and reasons[i] in REASONS.values():
                    self.verify_report.rejected_reason(reasons[i])
            if self.verifier is not None:
                conversations = [job.batch["messages"][i] for i in rows]
                checks = self.verifier.chats(flat, conversations, [f for f, e in zip(fixed, errors) if e is None])
                flat, rows = self._verdicts(flat, rows, checks, job.batch, reasons, details)
            parts.append(flat)
            owners += rows
        if parts:
            flat = self._fit(Flat.concat(parts), owners, reasons, details, split.report, sources)
            if len(flat):
                if cfg.packing:
                    split.writer.write(pack(flat, cfg.max_length))
                else:
                    split.writer.write(unpacked(flat))
                    split.report.example_rows += len(flat)
                    split.report.packed_rows += len(bins(flat.lengths, cfg.max_length))
            kept += len(flat)
        if any(reasons):
            job.batch[REJECT_COLUMN] = reasons
            job.batch[REJECT_DETAIL_COLUMN] = details
            self._reject(job.batch, output, stats)
        stats.records_out += kept
        split.report.examples += kept

    def _verdicts(
        self,
        flat: Flat,
        rows: list[int],
        checks: list[Checked],
        batch: Batch,
        reasons: list[str | None],
        details: list[str | None],
    ) -> tuple[Flat, list[int]]:
        """Count the verification of each example; the examples (and their rows) that pass."""
        keep = np.ones(len(rows), dtype=bool)
        for n, (row, checked) in enumerate(zip(rows, checks)):
            self.verify_report.add(checked, batch["id"][row], batch["source"][row], self.info.tokenizer)
            if checked.mismatch is not None:
                keep[n] = False
                reasons[row], details[row] = REASONS[checked.mismatch.kind], checked.mismatch.detail
                self._lost[row] = int(flat.lengths[n])
        if keep.all():
            return flat, rows
        return flat.select(keep), [row for row, k in zip(rows, keep) if k]

    def _fit(
        self,
        flat: Flat,
        owners: list[int],
        reasons: list[str | None],
        details: list[str | None],
        report: SplitReport,
        sources: list[Any],
    ) -> Flat:
        """Drop or truncate the examples longer than max_length, and drop those left with no trained token,
        marking the dropped ones' rows."""
        cfg = self.config
        report.lengths(flat.lengths)
        before = flat.lengths
        over = flat.lengths > cfg.max_length
        if over.any() and cfg.overlength == "drop":
            for n in np.flatnonzero(over):
                reasons[owners[n]] = "too-long"
                details[owners[n]] = f"{flat.lengths[n]} tokens, more than max_length {cfg.max_length}"
                self._lost[owners[n]] = int(flat.lengths[n])
            flat, before = flat.select(~over), before[~over]
            owners = [row for row, o in zip(owners, over) if not o]
            over = over[~over]
        elif over.any():
            flat = flat.truncate(cfg.max_length)
        empty = flat.trained() == 0
        for n in np.flatnonzero(empty):
            reasons[owners[n]] = "no-trainable-tokens"
            details[owners[n]] = (
                f"the first {cfg.max_length} tokens (max_length) of {before[n]} hold no trained token"
                if over[n]
                else "no token of the example is trained"
            )
            self._lost[owners[n]] = int(before[n])
        report.truncated += int((over & ~empty).sum())
        kept = np.flatnonzero(~empty)
        self.sources.kept_all([sources[owners[n]] for n in kept], flat.lengths[kept], (before - flat.lengths)[kept])
        return flat.select(~empty) if empty.any() else flat

    def _reject(self, batch: Batch, output: StageOutput, stats: StageStats) -> Batch:
        """Write a batch's rejected rows, counting them (and their tokens, once tokenized) by source file."""
        sources = batch.get("source") or [None] * batch_len(batch)
        for row, reason in enumerate(batch.get(REJECT_COLUMN) or []):
            if reason:
                self.sources.dropped(sources[row], reason, self._lost.pop(row, 0))
        self._lost.clear()
        return split_rejects(batch, output, stats)

    def _read_rejects(self, rejects: list[Any], output: StageOutput, stats: StageStats) -> None:
        for reject in rejects:
            self.sources.read([reject.source])
            self.sources.dropped(reject.source, reject.reason)
        output.reject_all(rejects, stats)

    def _summary(self, reports: dict[str, dict[str, Any]]) -> dict[str, Any]:
        cfg = self.config
        columns = ["input_ids", "attention_mask", "labels"] + (["position_ids", "seq_lengths"] if cfg.packing else [])
        totals = {
            key: sum(r[key] for r in reports.values())
            for key in ("sequences", "tokens", "supervised_tokens", "examples", "truncated", "dropped_overlength")
        }
        return {
            "tokenizer": self.info.describe(),
            "max_length": cfg.max_length,
            "format": cfg.format,
            "packing": cfg.packing,
            "train_on_inputs": cfg.train_on_inputs,
            "overlength": cfg.overlength,
            "columns": columns,
            **totals,
            "packing_efficiency": efficiency(totals["tokens"], totals["sequences"], cfg.max_length),
            "verify": self.verify_report.to_dict() if cfg.verify else None,
            "sources": self.sources.to_dict(),
            "splits": reports,
        }
