"""``dedup``: drop exact duplicates and, with ``--near``, near-duplicates (MinHash LSH).

Two passes over the input. ``fit`` computes, batch by batch, an exact key (a
hash of the normalised content: case, whitespace and punctuation folded) and,
for ``--near``, the LSH band keys of a MinHash signature; then it groups records
that share a key, across the whole dataset. ``process`` keeps one record per
group and tags every member with ``meta.dup_group`` (the id of the record kept).

Only the band keys (``bands`` x 8 bytes per record) stay in memory, never the
signatures or the texts, so a million short records fit in a few hundred MB.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from dataprep.io.readers import ReadBatch, count_records, iter_batches, iter_record_batches, open_parquet, record_files
from dataprep.io.schema import CORE_SCHEMA, conform, decode_meta, encode_meta, table_to_batch
from dataprep.io.writers import BackgroundTables, reject_line
from dataprep.records import CONTENT_COLUMNS, CORE_COLUMNS, REJECT_COLUMN, REJECT_DETAIL_COLUMN, Batch, batch_len
from dataprep.stages import RecordStage, StageConfig, register
from dataprep.stages.content import get, record_problem, slots
from dataprep.stages.dedup.minhash import duplicate_groups, exact_keys, lsh_params, near_keys, tokenize

#: What the fit pass reads from Parquet: the id and the content compared. ``meta`` (JSON text, often
#: the widest column) and ``source`` stay unread until the second pass, which writes them out.
FIT_COLUMNS = ("id", *CONTENT_COLUMNS)
#: The detail of a record rejected for having nothing to compare.
NO_CONTENT = "the record has no content to compare"


def content_text(batch: Batch, i: int, *, prompts: bool = True) -> str:
    """The string row ``i`` is compared on (prompts too, unless not asked); fields are kept apart by a newline."""
    if not batch["messages"][i]:
        # The two common shapes without building slots (this runs for every record).
        prompt, answer = batch["input"][i], batch["output"][i]
        if type(prompt) is str and type(answer) is str:
            return f"{prompt}\n{answer}" if prompts else answer
        if prompt is None and answer is None and type(batch["text"][i]) is str:
            return batch["text"][i]
    return "\n".join(get(batch, i, slot) for slot in slots(batch, i, prompts=prompts))


class DedupConfig(StageConfig):
    """Options of ``dedup``."""

    near: bool = Field(False, description="Also remove near-duplicates with MinHash LSH (exact duplicates always go).")
    threshold: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Near-duplicate when the estimated Jaccard similarity of the n-gram sets is at least this.",
    )
    num_perm: int = Field(128, ge=16, le=1024, description="MinHash permutations: more is more exact and slower.")
    ngram: int = Field(5, ge=1, description="Word n-gram (shingle) size for near-duplicates.")
    keep: Literal["first", "longest"] = Field(
        "first", description="Which record of a group to keep: the first in input order, or the longest."
    )
    compare: Literal["all", "output"] = Field(
        "all",
        description="What must match: all of the content (prompt and response together), or the response "
        "side only (output, assistant turns, text).",
    )


@register
class Dedup(RecordStage):
    """Remove exact duplicates (normalised hash) and, with --near, near-duplicates (MinHash LSH)."""

    name = "dedup"
    Config = DedupConfig
    config: DedupConfig
    batch_size = 10_000
    process_on_workers = False
    pass_columns = {"prepare": FIT_COLUMNS}  # as read_batches reads the fit pass
    fork_unsafe_work = True  # rensa's Rayon threads

    def __init__(self, config: DedupConfig, ctx: Any = None) -> None:
        super().__init__(config, ctx)
        self.bands, self.rows = lsh_params(config.threshold, config.num_perm) if config.near else (0, 0)
        self._cursor = 0
        self._dropped = np.zeros(0, dtype=bool)
        self._labels = np.zeros(0, dtype=np.int64)
        self._exact = np.zeros(0, dtype=np.uint64)
        self._exact_rep = np.zeros(0, dtype=np.int64)
        self._eligible = np.zeros(0, dtype=bool)
        self._kept_of: dict[int, int] = {}
        self._ids: list[str] = []
        self._fitting = False

    def content(self, batch: Batch, i: int) -> str:
        """The string two records are compared on."""
        return content_text(batch, i, prompts=self.config.compare == "all")

    def fit(self, inputs: list[Path | str]) -> None:
        self._fitting = True
        try:
            super().fit(inputs)
        finally:
            self._fitting = False

    def read_batches(self, inputs: list[Path | str]) -> Iterator[ReadBatch]:
        """All of each record, except in the fit pass, which reads from Parquet only :data:`FIT_COLUMNS`."""
        return iter_batches(inputs, self.batch_size, FIT_COLUMNS if self._fitting else None)

    def prepare(self, batch: Batch) -> Batch:
        """Per batch (a pure function, so it can run on workers): exact keys and LSH band keys."""
        n = batch_len(batch)
        ok = np.array([record_problem(batch, i) is None for i in range(n)], dtype=bool)
        texts = [self.content(batch, i) if ok[i] else "" for i in range(n)]
        tokens = tokenize(texts)
        exact = exact_keys(texts, tokens)
        out: Batch = {
            "id": [str(x) for x in batch["id"]],
            "exact": exact,
            "eligible": ok,
            "length": np.fromiter((len(t) for t in texts), dtype=np.int64, count=n),
        }
        if self.config.near:
            cfg = self.config
            out["bands"] = near_keys(
                texts,
                tokens,
                exact,
                num_perm=cfg.num_perm,
                ngram=cfg.ngram,
                seed=self.ctx.seed,
                bands=self.bands,
                rows=self.rows,
            )
        return out

    def fit_prepared(self, prepared: Iterator[Batch], inputs: list[Path | str]) -> None:
        """Globally: records sharing an exact key or a band key are one group (connected components)."""
        exact, eligible, lengths, bands = [], [], [], []
        for part in prepared:
            exact.append(np.asarray(part["exact"], dtype=np.uint64))
            eligible.append(np.asarray(part["eligible"], dtype=bool))
            lengths.append(np.asarray(part["length"], dtype=np.int64))
            self._ids.extend(part["id"])
            if self.config.near:
                bands.append(np.asarray(part["bands"], dtype=np.uint64))
        if not exact:
            return
        self._exact = np.concatenate(exact)
        size = np.concatenate(lengths)
        self._eligible = np.concatenate(eligible)
        self._labels = duplicate_groups(self._exact, self._eligible, np.concatenate(bands) if bands else None)
        self._choose(size)

    def _choose(self, size: np.ndarray) -> None:
        """Exact duplicates first, then near ones, so a record's reason never depends on the near options.

        Each set of equal exact keys keeps one representative (longest if asked, then earliest);
        the others are ``duplicate`` of it. Among the representatives of a group, one is kept and
        the others are ``near-duplicate``.
        """
        n = len(self._labels)
        grouped = np.nonzero(self._labels >= 0)[0]
        primary = -size if self.config.keep == "longest" else np.zeros(n, dtype=np.int64)
        self._exact_rep = np.full(n, -1, dtype=np.int64)
        reps = grouped
        if len(grouped):
            order = grouped[np.lexsort((grouped, primary[grouped], self._exact[grouped]))]
            starts = np.ones(len(order), dtype=bool)
            starts[1:] = self._exact[order][1:] != self._exact[order][:-1]
            reps = order[starts]
            self._exact_rep[order] = reps[np.cumsum(starts) - 1]
        labels = self._labels[reps]
        order = np.lexsort((reps, primary[reps], labels))
        first = np.ones(len(order), dtype=bool)
        first[1:] = labels[order][1:] != labels[order][:-1]
        kept = reps[order][first]
        self._kept_of = dict(zip(self._labels[kept].tolist(), kept.tolist()))
        self._dropped = np.zeros(n, dtype=bool)
        self._dropped[grouped] = True
        self._dropped[kept] = False

    def summary(self) -> dict[str, Any]:
        grouped = int((self._labels >= 0).sum())
        out: dict[str, Any] = {
            "groups": len(self._kept_of),
            "records_in_groups": grouped,
            "duplicates_dropped": int(self._dropped.sum()),
        }
        if self.config.near:
            out["lsh"] = {"bands": self.bands, "rows_per_band": self.rows}
        return out

    def process_pass(self, inputs: list[Path | str], output: Any, stats: Any) -> None:
        """:meth:`process` over Arrow tables where the input is Parquet of the core columns and the
        output Parquet: the rows kept go out as they came in, but for the meta of those in a group,
        and only the rejects become Python values. The same output as ``process``, byte for byte
        (tests/test_dedup.py); anything else (JSONL, extra columns) goes through ``process``."""
        files = record_files(inputs)
        if output.jsonl or not all(_core_parquet(path) for path in files):
            return super().process_pass(inputs, output, stats)
        # The Parquet writing (a third of this pass) runs on a second thread.
        records = BackgroundTables(output.records, name="dedup-writer")
        try:
            with self.progress(count_records(inputs)) as bar:
                for path in files:
                    for record_batch in iter_record_batches(path, self.batch_size):
                        if record_batch.num_rows:
                            self._write_batch(pa.Table.from_batches([record_batch]), records, output, stats)
                            bar.update(record_batch.num_rows)
        finally:
            records.close()
        return None

    def _write_batch(self, table: pa.Table, records: BackgroundTables, output: Any, stats: Any) -> None:
        n, start = table.num_rows, self._cursor
        self._cursor += n
        stats.records_in += n
        table = conform(table, CORE_SCHEMA)
        labels = self._labels[start : start + n]
        eligible = self._eligible[start : start + n]
        dropped = self._dropped[start : start + n]
        grouped = labels >= 0
        # The fit pass found no content in these: process() names the problem and rejects them.
        problems: dict[int, str] = {}
        unfit = np.flatnonzero(~eligible)
        if len(unfit):
            batch = table_to_batch(table.take(pa.array(unfit)))
            for j, i in enumerate(unfit.tolist()):
                if problem := record_problem(batch, j):
                    problems[i] = problem
        rejected = dropped.copy()
        rejected[list(problems)] = True
        meta = pc.fill_null(table.column("meta"), "{}")
        # process() re-encodes every meta (decoded, dup_group added in a group): "{}" stays "{}".
        touched = grouped | ~pc.equal(meta, "{}").to_numpy(zero_copy_only=False)
        rows = np.flatnonzero(touched & ~rejected)
        if len(rows):
            texts = meta.take(pa.array(rows)).to_pylist()
            values = [encode_meta(self._meta(decode_meta(t), start + int(i))) for t, i in zip(texts, rows)]
            mask = np.zeros(n, dtype=bool)
            mask[rows] = True
            meta = pc.replace_with_mask(meta, pa.array(mask), pa.array(values, pa.string()))
        table = table.set_column(table.schema.get_field_index("meta"), CORE_SCHEMA.field("meta"), meta)
        rejects = np.flatnonzero(rejected)
        if len(rejects):
            batch = table_to_batch(table.take(pa.array(rejects)))
            for j, i in enumerate(rejects.tolist()):
                record = {name: batch[name][j] for name in batch}
                row = start + i
                if i in problems:
                    reason, detail = problems[i], NO_CONTENT
                else:
                    record["meta"] = self._meta(record["meta"], row)
                    reason, detail = self._why_dropped(row)
                stats.drop(reason)
                source, record_id = record.get("source"), record.get("id")
                output.rejects.write_line(
                    reject_line(reason, source=source, record_id=record_id, record=record, detail=detail)
                )
        kept = table.filter(pa.array(~rejected)) if len(rejects) else table
        if kept.num_rows:
            records.write(kept)
        stats.records_out += kept.num_rows

    def _meta(self, meta: dict[str, Any] | None, row: int) -> dict[str, Any]:
        """A record's meta with ``dup_group`` (the id of the record its group keeps) when it is in a group."""
        label = int(self._labels[row])
        if label < 0:
            return meta or {}
        meta = dict(meta or {})
        meta["dup_group"] = self._ids[self._kept_of[label]]
        return meta

    def _why_dropped(self, row: int) -> tuple[str, str]:
        """The reason and detail of a dropped row: a copy of its exact key's first record, or else
        a near copy of the record its group keeps."""
        rep = int(self._exact_rep[row])
        if rep != row:
            return "duplicate", f"same normalised content as {self._ids[rep]}"
        return "near-duplicate", f"near-duplicate of {self._ids[self._kept_of[int(self._labels[row])]]}"

    def process(self, batch: Batch) -> Batch:
        n = batch_len(batch)
        reasons: list[str | None] = [None] * n
        details: list[str | None] = [None] * n
        for i in range(n):
            row = self._cursor + i
            problem = record_problem(batch, i)
            if problem:
                reasons[i], details[i] = problem, NO_CONTENT
                continue
            if self._labels[row] < 0:
                continue
            batch["meta"][i] = self._meta(batch["meta"][i], row)
            if self._dropped[row]:
                reasons[i], details[i] = self._why_dropped(row)
        self._cursor += n
        batch[REJECT_COLUMN] = reasons
        batch[REJECT_DETAIL_COLUMN] = details
        return batch


def _core_parquet(path: Path) -> bool:
    """A Parquet file of core columns only (the Arrow second pass takes it)."""
    return path.name.endswith(".parquet") and set(open_parquet(path).schema_arrow.names) <= set(CORE_COLUMNS)
