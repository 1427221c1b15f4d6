"""``decontaminate``: drop (or flag) records that share a long word n-gram with an eval set.

The n-gram test of GPT-3 (Brown et al. 2020, appendix C) and datatrove's
``NGramsDecontFilter``: a record is contaminated when any run of ``ngram`` (13) normalised
words in it also occurs in an eval item. The eval sets are read once, before the first
batch, into an :class:`~dataprep.stages.decontaminate.index.EvalIndex` of hashes; the corpus
then streams through batch by batch, so memory follows the eval sets' size, not the corpus's.
Prompts count as much as answers: a benchmark question in a training prompt leaks too.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from dataprep.records import REJECT_COLUMN, REJECT_DETAIL_COLUMN, Batch, batch_len
from dataprep.stages import RecordStage, StageConfig, register
from dataprep.stages.content import record_problem
from dataprep.stages.decontaminate.index import EvalIndex, batch_words
from dataprep.stages.dedup.dedup import content_text
from dataprep.stages.dedup.minhash import flat_token_hashes, ngram_hashes


class DecontaminateConfig(StageConfig):
    """Options of ``decontaminate``."""

    against: list[str] = Field(
        description="Eval sets to check against: JSONL, JSON, CSV or Parquet files, or folders saved with "
        "datasets' save_to_disk (each split of a DatasetDict is its own set). Repeatable, or comma-separated.",
        min_length=1,
    )
    ngram: int = Field(13, ge=3, le=64, description="Words in a shared run that mark a record as contaminated.")
    min_words: int = Field(
        8,
        ge=1,
        description="An eval item shorter than ngram words but at least this long is matched whole (all its words "
        "in a row); shorter items are skipped and counted, since a few common words in a row prove nothing.",
    )
    action: Literal["drop", "flag"] = Field(
        "drop",
        description="drop: contaminated records go to the rejects file; flag: they stay, with meta.contamination "
        "naming the eval set, item and shared n-gram.",
    )
    eval_fields: list[str] = Field(
        default_factory=list,
        description="Eval columns whose text is indexed, e.g. question,answer. Default: every text in an item "
        "(lists and nested values included) except its id.",
    )
    eval_id: str = Field(
        "id", description="Eval column that names an item in rejects; items without it are named by line or row."
    )

    @field_validator("against", "eval_fields", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        items = value if isinstance(value, (list, tuple)) else [value]
        return [part.strip() for item in items for part in str(item).split(",") if part.strip()]

    @model_validator(mode="after")
    def _short_items(self) -> DecontaminateConfig:
        if self.min_words > self.ngram:
            raise ValueError(f"min_words ({self.min_words}) cannot be above ngram ({self.ngram})")
        return self


@register
class Decontaminate(RecordStage):
    """Drop (or flag) records sharing a long word n-gram (default 13) with an eval set (JSONL/CSV/Parquet/datasets)."""

    name = "decontaminate"
    Config = DecontaminateConfig
    config: DecontaminateConfig
    batch_size = 10_000
    worker_counters = ("hits",)

    def __init__(self, config: DecontaminateConfig, ctx: Any = None) -> None:
        super().__init__(config, ctx)
        self.index: EvalIndex | None = None
        #: Contaminated records per eval set (a record that matches two sets counts in both).
        self.hits: Counter = Counter()

    @classmethod
    def referenced_files(cls, config: StageConfig) -> list[Path]:
        return [Path(spec) for spec in config.against]  # type: ignore[attr-defined]

    def fit(self, inputs: list[Path | str]) -> None:
        """Index the eval sets before the first batch, so a bad eval file stops the stage at once."""
        self.eval_index()

    def eval_index(self) -> EvalIndex:
        """The eval sets' index, built on first use: on the driver by :meth:`fit`, and once per
        worker process on an engine that builds the stage anew there (Ray)."""
        if self.index is None:
            cfg = self.config
            self.index = EvalIndex(
                cfg.against, ngram=cfg.ngram, min_words=cfg.min_words, fields=cfg.eval_fields, id_field=cfg.eval_id
            )
        return self.index

    def matches(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
        """Per text: the index entry of its first eval n-gram (-1 for none), the mask of every eval set
        the text shares an n-gram with, and that first n-gram's normalised words (None for none)."""
        index = self.eval_index()
        n = len(texts)
        first = np.full(n, -1, dtype=np.int64)
        start = np.zeros(n, dtype=np.int64)
        size = np.zeros(n, dtype=np.int64)
        masks = np.zeros(n, dtype=np.uint64)
        if not len(index):
            return first, masks, [None] * n
        tokens, lengths = batch_words(texts)
        token_hash = flat_token_hashes(tokens)
        for window in index.lengths:
            hashes, owners = ngram_hashes(token_hash, lengths, window, short=False)
            found = index.lookup(hashes)
            hit = np.flatnonzero(found >= 0)
            if not len(hit):
                continue
            np.bitwise_or.at(masks, owners[hit], index.masks[found[hit]])
            # Windows of record r are numbered from its first; a window's start is its number within r.
            windows = np.maximum(lengths - window + 1, 0)
            offset = (hit - (np.cumsum(windows) - windows)[owners[hit]]).astype(np.int64)
            # Hits come in window order, so each record's first is its earliest at this size.
            records, at = np.unique(owners[hit], return_index=True)
            earlier = (first[records] < 0) | (offset[at] < start[records])
            records, at = records[earlier], at[earlier]
            first[records], start[records], size[records] = found[hit][at], offset[at], window
        offsets = np.cumsum(lengths) - lengths + start
        shown: list[str | None] = [None] * n
        for i in np.flatnonzero(first >= 0).tolist():
            shown[i] = " ".join(tokens[offsets[i] : offsets[i] + size[i]])
        return first, masks, shown

    def process(self, batch: Batch) -> Batch:
        n = batch_len(batch)
        reasons: list[str | None] = [None] * n
        details: list[str | None] = [None] * n
        problems = [record_problem(batch, i) for i in range(n)]
        texts = [content_text(batch, i) if problems[i] is None else "" for i in range(n)]
        first, masks, shown = self.matches(texts)
        index = self.eval_index()
        for i in range(n):
            if problems[i]:
                reasons[i], details[i] = problems[i], "the record has no content to compare"
                continue
            if first[i] < 0:
                continue
            eval_name, item = index.describe(int(first[i]))
            sets = index.set_names(int(masks[i]))
            self.hits.update(sets)
            ngram = shown[i] or ""
            if self.config.action == "drop":
                reasons[i] = "contaminated"
                also = [s for s in sets if s != eval_name]
                details[i] = f"shares the {len(ngram.split())}-gram {ngram!r} with {item} of {eval_name}" + (
                    f" (and n-grams with {', '.join(also)})" if also else ""
                )
            else:
                meta = dict(batch["meta"][i] or {})
                meta["contamination"] = {"eval": eval_name, "item": item, "ngram": ngram, "eval_sets": sets}
                batch["meta"][i] = meta
        batch[REJECT_COLUMN] = reasons
        batch[REJECT_DETAIL_COLUMN] = details
        return batch

    def summary(self) -> dict[str, Any]:
        if self.index is None:
            return {}
        sets = {s.name: {**s.summary(), "records_hit": self.hits[s.name]} for s in self.index.sets}
        return {"ngram": self.config.ngram, "action": self.config.action, "eval_sets": sets}
