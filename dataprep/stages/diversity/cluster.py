"""``cluster``: k-means over the embeddings, then (optionally) semantic dedup and a diverse selection.

Every record gets ``meta.cluster`` and ``meta.centroid_distance`` (1 - cosine to its
centroid). With ``--dedup-threshold``, a record at or above that cosine similarity to an
earlier kept record of its cluster is dropped as ``semantic-duplicate``; with ``--select``,
the records left over the per-cluster quotas are dropped as ``not-selected``. With
``--embed-sample``, all of this happens on a seeded sample of the records only (embedding
is the slow part on a CPU); the others are dropped as ``not-sampled``.

Memory: the vectors are streamed into a float32 file beside the output and memory-mapped;
only the fit sample (``--fit-fraction``) and one cluster at a time (for dedup) are loaded.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from dataprep.errors import InputError
from dataprep.io.readers import RECORD_SUFFIXES, count_records, iter_batches, resolve_inputs
from dataprep.records import REJECT_COLUMN, REJECT_DETAIL_COLUMN, Batch, batch_len
from dataprep.stages import RecordStage, StageConfig, register
from dataprep.stages.base import StageOutput, StageStats
from dataprep.stages.diversity.embed import EMBEDDING_COLUMN, EmbedConfig, Embedder, expected_records
from dataprep.stages.diversity.encoder import DEFAULT_MODEL
from dataprep.stages.diversity.report import ClusterReport, write_report
from dataprep.stages.diversity.select import select, target_count
from dataprep.stages.diversity.semdedup import default_threshold, semantic_duplicates
from dataprep.stages.diversity.text import DEFAULT_FIELDS, record_texts

log = logging.getLogger("dataprep")

# Per-record outcome codes, kept in one small array for millions of records.
KEPT, NOT_SELECTED, DUPLICATE, EMPTY, NO_VECTOR = range(5)
NOT_SAMPLED = "not-sampled"
REASONS = {
    NOT_SELECTED: "not-selected",
    DUPLICATE: "semantic-duplicate",
    EMPTY: "empty-text",
    NO_VECTOR: "bad-embedding",
}
ASSIGN_BLOCK = 65_536


class ClusterConfig(StageConfig):
    """Options of ``cluster``."""

    k: int | Literal["auto"] = Field(
        "auto",
        description="Number of clusters, or auto: the k between 2 and sqrt(n) (at most 100) with the best "
        "mean silhouette on a sample. Lowered, with a warning, when there are fewer records.",
    )
    fit_fraction: float = Field(
        1.0, description="Fit the centroids on this fraction of the records (a seeded sample), then assign all."
    )
    embed_sample: int | float | None = Field(
        None,
        description="Embed, cluster and select only a seeded sample of about this many records (20000) or this "
        "fraction (0.02), chosen by a hash of each id; the rest are dropped as not-sampled. For corpora too "
        "large to embed (on a CPU, a few hundred records a second); fit_fraction and select apply within it.",
    )
    max_iter: int = Field(50, description="Most Lloyd iterations.")
    tol: float = Field(
        1e-4,
        description="Stop when centroids move less than this times the data variance (or when no label changes).",
    )
    select: int | float | None = Field(
        None, description="Keep this many records (1000) or this fraction (0.25); the rest go to rejects."
    )
    strategy: Literal["balanced", "proportional"] = Field(
        "balanced",
        description="balanced: the same quota per cluster, what small clusters cannot fill shared by the rest; "
        "proportional: quotas follow cluster sizes.",
    )
    within: Literal["spread", "nearest", "farthest", "random"] = Field(
        "spread",
        description="Which records a cluster's quota takes: spread (one per sub-cluster, so they cover the "
        "cluster), nearest the centroid (the most typical), farthest (the most unusual), or random.",
    )
    dedup_threshold: float | Literal["auto"] | None = Field(
        None,
        description="Drop a record whose cosine similarity to an earlier kept one in its cluster is >= this. "
        "auto: 0.95 for a transformer's vectors, 0.97 for --backend static's (read from the embed stage's "
        "stats.json when the input has embeddings); static vectors put texts sharing most words closer.",
    )
    report: str | None = Field(
        "auto",
        description="Folder for report.html and clusters.png; auto: report/ in the output folder "
        "(OUT.report/ beside a .jsonl output); none: no report.",
    )
    report_sample: int = Field(2000, description="Records drawn on the report's 2-D map.")
    keep_embeddings: bool = Field(True, description="Keep the embedding column in the output.")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(
        "auto", description="Where to embed and run k-means: auto picks CUDA, then MPS, then CPU."
    )
    model: str = Field(DEFAULT_MODEL, description="Embedding model, used when the input has no embedding column.")
    backend: Literal["auto", "torch", "onnx", "onnx-int8", "static"] = Field(
        "auto",
        description="How to embed when the input has no embedding column (see embed --backend): static is "
        "a model2vec model distilled once from --model, hundreds of times faster on a CPU.",
    )
    fields: list[str] = Field(
        default_factory=lambda: list(DEFAULT_FIELDS),
        description="Fields to embed (when the input has no embeddings) and to show in the report.",
    )
    cache: bool | Literal["auto"] = Field(
        "auto", description="Embedding cache (see embed --cache): auto is on, except for --backend static."
    )
    cache_dir: Path | None = Field(None, description="Embedding cache folder (see embed).")

    @field_validator("k")
    @classmethod
    def _k(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError("k must be at least 1, or auto")
        return value

    @field_validator("fit_fraction")
    @classmethod
    def _fraction(cls, value: float) -> float:
        if not 0 < value <= 1:
            raise ValueError("fit_fraction must be above 0 and at most 1")
        return value

    @field_validator("select")
    @classmethod
    def _select(cls, value: int | float | None) -> int | float | None:
        if value is not None and (value <= 0 or (isinstance(value, float) and value > 1 and not value.is_integer())):
            raise ValueError("select must be a count (1000) or a fraction between 0 and 1 (0.25)")
        return value

    @field_validator("embed_sample")
    @classmethod
    def _embed_sample(cls, value: int | float | None) -> int | float | None:
        if value is not None and (value <= 0 or (isinstance(value, float) and value > 1 and not value.is_integer())):
            raise ValueError("embed_sample must be a count (20000) or a fraction between 0 and 1 (0.02)")
        return value

    @field_validator("dedup_threshold")
    @classmethod
    def _threshold(cls, value: float | str | None) -> float | str | None:
        if isinstance(value, (int, float)) and not 0 < value <= 1:
            raise ValueError("dedup_threshold must be a cosine similarity above 0 and at most 1, e.g. 0.95")
        return value

    @model_validator(mode="after")
    def _positive(self) -> ClusterConfig:
        if self.max_iter < 1:
            raise ValueError("max_iter must be at least 1")
        if self.report_sample < 1:
            raise ValueError("report_sample must be at least 1")
        return self

    def embed_config(self) -> EmbedConfig:
        return EmbedConfig(
            model=self.model,
            device=self.device,
            backend=self.backend,
            fields=self.fields,
            cache=self.cache,
            cache_dir=self.cache_dir,
        )


def upstream_backend(inputs: list[Path | str]) -> str | None:
    """The embed backend named in the stats.json of the stage folders ``inputs`` come from (one for all), or None."""
    backends: set[str | None] = set()
    for spec in inputs:
        path = Path(spec)
        stats = (path if path.is_dir() else path.parent) / "stats.json"
        try:
            backends.add(json.loads(stats.read_text(encoding="utf-8"))["extra"].get("backend"))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            backends.add(None)
    return backends.pop() if len(backends) == 1 else None


def _unit_hash(record_id: str, seed: int) -> float:
    """A uniform number in [0, 1) from the record id: a sample that needs no count and no order."""
    digest = hashlib.blake2b(f"{seed}\0{record_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _sample_key(record_id: str) -> str:
    # Salted, so the embed sample and the fit_fraction sample inside it are independent draws.
    return f"embed-sample\0{record_id}"


def _take(batch: Batch, mask: np.ndarray) -> Batch:
    return {
        name: values[mask] if isinstance(values, np.ndarray) else list(itertools.compress(values, mask))
        for name, values in batch.items()
    }


def batch_vectors(batch: Batch) -> np.ndarray | None:
    """The batch's embedding column as a float32 array, or None when it has none."""
    values = batch.get(EMBEDDING_COLUMN)
    if values is None:
        return None
    if isinstance(values, np.ndarray):
        return values.astype(np.float32, copy=False)
    dims = {len(v) for v in values if v is not None}
    if len(dims) > 1:
        raise InputError(f"the {EMBEDDING_COLUMN} column holds vectors of different sizes {sorted(dims)}.")
    dim = dims.pop() if dims else 0
    out = np.zeros((len(values), dim), np.float32)
    for i, v in enumerate(values):
        if v is not None:
            out[i] = v
    return out


@register
class Cluster(RecordStage):
    """Cluster records by embedding (k-means); optionally drop near-duplicates and select a diverse subset."""

    name = "cluster"
    Config = ClusterConfig
    config: ClusterConfig
    batch_size = 4096
    process_on_workers = False
    in_process = True  # prepare() may embed: the model's kernels use every core already

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._summary: dict[str, Any] = {}
        self._work: Path | None = None
        self._embedder: Embedder | None = None
        self._wanted_texts: dict[int, str | None] = {}
        self._embedded_here = False
        self.threshold: float | None = None
        self._embed_seconds = 0.0
        self._position = 0
        self._read = 0
        self._wanted_sample: int | float | None = None
        self._inputs: list[Path | str] | None = None
        self.n = 0

    # -- the passes -------------------------------------------------------------------------

    def execute(self, inputs: list[Path | str], output: StageOutput, stats: StageStats) -> None:
        resolve_inputs(inputs, RECORD_SUFFIXES)
        self._inputs = inputs
        self._work = output.folder / ".work"
        self._work.mkdir(parents=True, exist_ok=True)
        self._output = output
        try:
            super().execute(inputs, output, stats)
            if self.n and self.config.report != "none":
                target = self._report_folder(output)
                self._summary["report"] = str(output.path / "report" if target.parent == output.folder else target)
                write_report(self._report_data(), target)
                stats.extra.update(self._summary)
        finally:
            shutil.rmtree(self._work, ignore_errors=True)
            if self._embedder is not None:
                self._embedder.close()

    def _report_folder(self, output: StageOutput) -> Path:
        if self.config.report not in (None, "auto"):
            return Path(self.config.report)
        return Path(f"{output.path}.report") if output.jsonl else output.folder / "report"

    def _fit(self) -> None:
        # torch is imported here, not at start-up: `dataprep --help` must not pay for it.
        from dataprep.stages.diversity.kmeans import assign, choose_k, fit_kmeans

        cfg, seed = self.config, self.ctx.seed
        n = self.n
        self.labels = np.zeros(n, np.int64)
        self.distances = np.zeros(n, np.float32)
        self.copy_of = np.full(n, -1, np.int64)
        self.similarity = np.zeros(n, np.float32)
        valid = self.outcome == KEPT
        n_valid = int(valid.sum())
        if not n_valid:
            self.k = 0
            return
        vectors = np.memmap(self._vector_file, np.float32, "r", shape=(n, self.dim))
        fit_rows = np.flatnonzero(valid & self._in_fit)
        if len(fit_rows) < min(n_valid, 2):
            fit_rows = np.flatnonzero(valid)
        sample = np.asarray(vectors[fit_rows])
        k = cfg.k
        if k == "auto":
            k, scores = choose_k(sample, seed=seed, device=cfg.device)
            self._summary["k_auto_silhouette"] = {str(c): round(s, 4) for c, s in scores.items()}
        if k > len(sample):
            log.warning(
                "cluster: %d records to fit for k=%d; using k=%d (give a smaller --k or more records)",
                len(sample),
                k,
                len(sample),
            )
            self._summary["k_lowered_from"] = k
            k = len(sample)
        self.k = int(k)
        self.centroids = fit_kmeans(sample, self.k, seed=seed, max_iter=cfg.max_iter, tol=cfg.tol, device=cfg.device)
        # A pure function of a block of vectors and the centroids: on Ray, it runs in map_batches.
        blocks = self.ctx.engine.map_blocks(assign, vectors, ASSIGN_BLOCK, centroids=self.centroids, device=cfg.device)
        if blocks:
            self.labels = np.concatenate([b[0] for b in blocks]).astype(np.int64)
            self.distances = np.concatenate([b[1] for b in blocks]).astype(np.float32)
        if cfg.dedup_threshold is not None:
            self.threshold = self._dedup_threshold()
            self._summary["dedup_threshold"] = self.threshold
            self.copy_of, self.similarity = semantic_duplicates(vectors, self.labels, valid, self.threshold)
            self.outcome[self.copy_of >= 0] = DUPLICATE
        if cfg.select is not None:
            eligible = self.outcome == KEPT
            total = target_count(cfg.select, int(eligible.sum()))
            chosen = select(
                self.labels,
                self.distances,
                eligible,
                total,
                strategy=cfg.strategy,
                within=cfg.within,
                seed=seed,
                vectors=vectors,
            )
            self.outcome[eligible & ~chosen] = NOT_SELECTED
        self._plan_report(vectors, valid)
        sizes = np.bincount(self.labels[valid], minlength=self.k)
        self._summary.update(
            {
                "k": self.k,
                "fit_records": len(fit_rows),
                "cluster_sizes": sizes.tolist(),
                "kept_per_cluster": np.bincount(self.labels[self.outcome == KEPT], minlength=self.k).tolist(),
            }
        )

    def _dedup_threshold(self) -> float:
        """The threshold given, or for auto the one for the backend that made the vectors."""
        if self.config.dedup_threshold != "auto":
            return float(self.config.dedup_threshold or 0)
        if self._embedded_here and self._embedder is not None:
            backend: str | None = self._embedder.encoder.backend
        elif self._embedded_here:  # embedded on an engine's workers, with this config's backend
            backend = self.config.backend
        else:
            backend = upstream_backend(self._inputs or [])
        return default_threshold(backend)

    def fit(self, inputs: list[Path | str]) -> None:
        if self.config.embed_sample is not None:
            # A count becomes a fraction of this input, in the config itself, so the workers
            # that run prepare() (built from the config) draw the same sample.
            self._wanted_sample = self.config.embed_sample
            self.config = self.config.model_copy(update={"embed_sample": self._embed_fraction(inputs)})
        super().fit(inputs)

    def prepare(self, batch: Batch) -> Batch:
        """Per batch (a pure function, so it can run on workers): the sampled records' unit
        vectors, embedding them if needed."""
        mask = self._in_sample(batch["id"])
        if not mask.any():
            return {}
        if not mask.all():
            batch = _take(batch, mask)
        vectors, status = self._vectors_of(batch)
        fraction = self.config.fit_fraction
        return {
            "id": list(batch["id"]),
            "vector": np.ascontiguousarray(vectors, np.float32),
            "status": status,
            "in_fit": np.array([_unit_hash(i, self.ctx.seed) < fraction for i in batch["id"]], dtype=bool),
            "embedded": np.full(len(status), self._embedded_here, dtype=bool),
        }

    def fit_prepared(self, prepared: Iterator[Batch], inputs: list[Path | str]) -> None:
        self._read_vectors(prepared)
        self._fit()

    def _read_vectors(self, prepared: Iterator[Batch]) -> None:
        """Pass 1: stream every sampled record's vector (embedded by :meth:`prepare`) into a float32 file."""
        assert self._work is not None
        self._vector_file = self._work / "vectors.f32"
        ids: list[str] = []
        outcome: list[np.ndarray] = []
        in_fit: list[np.ndarray] = []
        self.dim = 0
        embedded = False
        with open(self._vector_file, "wb") as sink:
            for part in prepared:
                if not part.get("id"):
                    continue
                vectors = np.asarray(part["vector"], np.float32)
                if self.dim and vectors.shape[1] != self.dim:
                    raise InputError(f"embeddings of {vectors.shape[1]} and {self.dim} dimensions are mixed.")
                self.dim = vectors.shape[1]
                sink.write(np.ascontiguousarray(vectors).tobytes())
                ids.extend(part["id"])
                outcome.append(np.asarray(part["status"], np.int8))
                in_fit.append(np.asarray(part["in_fit"], bool))
                embedded = embedded or bool(np.asarray(part["embedded"]).any())
        self._embedded_here = embedded
        self.ids = ids
        self.n = len(ids)
        self.outcome = np.concatenate(outcome) if outcome else np.zeros(0, np.int8)
        self._in_fit = np.concatenate(in_fit) if in_fit else np.zeros(0, bool)

    def _embed_fraction(self, inputs: list[Path | str]) -> float:
        """The share of records to embed: embed_sample as a fraction, or a count over the input's size."""
        wanted = self.config.embed_sample
        if wanted is None:
            return 1.0
        if isinstance(wanted, float) and wanted <= 1:
            return wanted
        total = count_records(inputs)
        if total is None:  # JSONL: counting needs a read
            total = sum(batch_len(read.batch) for read in iter_batches(inputs, self.batch_size))
        return min(1.0, wanted / total) if total else 1.0

    @property
    def _sample_fraction(self) -> float:
        """The share of records embedded (embed_sample is a fraction once :meth:`fit` has run)."""
        wanted = self.config.embed_sample
        return 1.0 if wanted is None else float(wanted)

    def _in_sample(self, ids: list[str]) -> np.ndarray:
        fraction = self._sample_fraction
        if fraction >= 1:
            return np.ones(len(ids), bool)
        return np.array([_unit_hash(_sample_key(i), self.ctx.seed) < fraction for i in ids], bool)

    def _vectors_of(self, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
        vectors = batch_vectors(batch)
        status = np.full(batch_len(batch), KEPT, np.int8)
        if vectors is not None and vectors.shape[1]:
            norms = np.linalg.norm(vectors, axis=1)
            status[~np.isfinite(norms) | (norms < 1e-6)] = NO_VECTOR
            vectors = vectors / np.where(norms > 1e-6, norms, 1)[:, None]
            return np.nan_to_num(vectors), status
        if self._embedder is None:
            self._embedder = Embedder(self.config.embed_config())
            if self._inputs is not None:
                expected = expected_records(self._inputs)
                self._embedder.expected = None if expected is None else round(expected * self._sample_fraction)
            self._embedded_here = True
        texts = record_texts(batch, self.config.fields)
        usable = [i for i, t in enumerate(texts) if t]
        vectors = np.zeros((len(texts), self._embedder.encoder.dim), np.float32)
        if usable:
            start = time.perf_counter()
            vectors[usable] = self._embedder.embed([texts[i] for i in usable])
            self._embed_seconds += time.perf_counter() - start
        status[[i for i, t in enumerate(texts) if not t]] = EMPTY
        # A static model has no vector for a text whose tokens are all outside its vocabulary.
        status[(status == KEPT) & ~np.any(vectors, axis=1)] = NO_VECTOR
        return vectors, status

    # -- pass 2: the records, annotated -------------------------------------------------------

    def process(self, batch: Batch) -> Batch:
        n = batch_len(batch)
        sampled = self._in_sample(batch["id"])
        self._read += n
        start = self._position
        self._position += int(sampled.sum())
        rows = np.full(n, -1, np.int64)
        rows[sampled] = np.arange(start, self._position)
        reasons: list[str | None] = []
        details: list[str | None] = []
        for i, row in enumerate(rows.tolist()):
            if row < 0:
                reasons.append(NOT_SAMPLED)
                details.append(f"outside the embed sample ({self._sample_fraction:.4g} of the records, by id hash)")
                continue
            code = int(self.outcome[row])
            if code in (KEPT, NOT_SELECTED, DUPLICATE):
                meta = dict(batch["meta"][i] or {})
                meta["cluster"] = int(self.labels[row])
                meta["centroid_distance"] = round(float(self.distances[row]), 6)
                batch["meta"][i] = meta
            reasons.append(REASONS.get(code))
            details.append(self._detail(code, row))
            if row in self._wanted_texts:
                self._wanted_texts[row] = record_texts({k: [v[i]] for k, v in batch.items()}, self.config.fields)[0]
        if self._embedded_here and self.config.keep_embeddings:
            vectors = np.memmap(self._vector_file, np.float32, "r", shape=(self.n, self.dim))
            batch[EMBEDDING_COLUMN] = np.zeros((n, self.dim), np.float32)
            batch[EMBEDDING_COLUMN][sampled] = vectors[start : self._position]
        elif not self.config.keep_embeddings:
            batch.pop(EMBEDDING_COLUMN, None)
        elif isinstance(batch.get(EMBEDDING_COLUMN), list):
            batch[EMBEDDING_COLUMN] = batch_vectors(batch)
        batch[REJECT_COLUMN] = reasons
        batch[REJECT_DETAIL_COLUMN] = details
        return batch

    def _detail(self, code: int, row: int) -> str | None:
        if code == DUPLICATE:
            return f"cosine {self.similarity[row]:.4f} to {self.ids[self.copy_of[row]]} in cluster {self.labels[row]}"
        if code == NOT_SELECTED:
            return f"over the quota of cluster {self.labels[row]}"
        if code == EMPTY:
            return f"nothing to embed in {', '.join(self.config.fields)}, text or messages"
        if code == NO_VECTOR:
            return "the embedding is missing, zero or not finite"
        return None

    def read_batches(self, inputs: list[Path | str]) -> Any:
        self._position = self._read = 0
        return super().read_batches(inputs)

    # -- the report ---------------------------------------------------------------------------

    def _plan_report(self, vectors: np.ndarray, valid: np.ndarray) -> None:
        """Choose the records the report shows; their texts are picked up in pass 2."""
        rng = np.random.default_rng(self.ctx.seed)
        rows = np.flatnonzero(valid)
        self._map_rows = np.sort(rng.choice(rows, min(len(rows), self.config.report_sample), replace=False))
        self._map_vectors = np.asarray(vectors[self._map_rows])
        text_rows = np.sort(rng.choice(rows, min(len(rows), 20_000), replace=False))
        self._examples: dict[int, list[int]] = {}
        order = rows[np.lexsort((rows, self.distances[rows], self.labels[rows]))]
        for row in order:
            chosen = self._examples.setdefault(int(self.labels[row]), [])
            if len(chosen) < 3:
                chosen.append(int(row))
        example_rows = [r for rs in self._examples.values() for r in rs]
        wanted = {int(r) for r in text_rows} | set(example_rows)
        self._wanted_texts = dict.fromkeys(sorted(wanted)) if self.config.report != "none" else {}
        self._text_rows = text_rows

    def _report_data(self) -> ClusterReport:
        valid = np.isin(self.outcome, (KEPT, NOT_SELECTED, DUPLICATE))
        labels = self.labels[valid]
        outcome = self.outcome[valid]
        dropped = {
            REASONS[code]: np.bincount(labels[outcome == code], minlength=self.k)
            for code in (NOT_SELECTED, DUPLICATE)
            if (outcome == code).any()
        }
        cfg = self.config
        settings = {
            "records clustered": f"{int(valid.sum()):,}",
            **(
                {"embed sample": f"{self.n:,} of {self._read:,} records ({self._wanted_sample})"}
                if self._wanted_sample is not None
                else {}
            ),
            "k": f"{self.k}" + (" (auto: best silhouette)" if cfg.k == "auto" else ""),
            "fit on": f"{self._summary.get('fit_records', 0):,} records (fit_fraction {cfg.fit_fraction})",
            "dedup threshold": (
                "off"
                if cfg.dedup_threshold is None
                else f"{self.threshold} (auto)"
                if cfg.dedup_threshold == "auto"
                else cfg.dedup_threshold
            ),
            "selection": f"{cfg.select} ({cfg.strategy}, {cfg.within})" if cfg.select is not None else "off",
            "kept": f"{int((outcome == KEPT).sum()):,}",
        }
        return ClusterReport(
            k=self.k,
            sizes=np.bincount(labels, minlength=self.k),
            kept=np.bincount(labels[outcome == KEPT], minlength=self.k),
            dropped=dropped,
            vectors=self._map_vectors,
            labels=self.labels[self._map_rows],
            kept_mask=self.outcome[self._map_rows] == KEPT,
            texts=[self._wanted_texts[int(r)] or "" for r in self._text_rows],
            text_labels=[int(self.labels[r]) for r in self._text_rows],
            examples={c: [self._wanted_texts[r] or "" for r in rows] for c, rows in self._examples.items()},
            settings=settings,
            seed=self.ctx.seed,
        )

    def summary(self) -> dict[str, Any]:
        if self._wanted_sample is not None:
            self._summary["embed_sample"] = {
                "fraction": round(self._sample_fraction, 6),
                "sampled": self.n,
                "records": self._read,
            }
        if self._embedded_here and self._embedder is not None:
            self._summary["embedded"] = self._embedder.embedded
            self._summary["embed_seconds"] = round(self._embed_seconds, 3)
            self._summary["embed_cache_hits"] = self._embedder.cache.hits if self._embedder.cache else 0
            self._summary["embed_backend"] = self._embedder.encoder.backend
            if self._embedder.estimated_seconds:
                self._summary["embed_estimated_seconds"] = self._embedder.estimated_seconds
        return self._summary
