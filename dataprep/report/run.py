"""A finished run folder as the report, the card, the lock and ``diff`` read it.

Everything comes from what the run left on disk: ``manifest.json`` (each stage's kind,
folder, options and, since this module, the status it had in the last run), each
stage's ``stats.json`` and ``rejects.jsonl``, and its records.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dataprep.errors import InputError
from dataprep.io.schema import table_to_batch
from dataprep.records import batch_to_rows

#: What the last run did with a stage, as the runner records it in the manifest.
RAN, CACHED, NOT_RUN = "ran", "cached", "not run"
#: Stages whose output is the dataset a user trains on (the card and the lock go beside it).
DATASET_STAGES = ("tokenize", "split")
#: Columns a report needs from a record shard (never the embeddings).
RECORD_COLUMNS = ("id", "text", "input", "output", "messages", "source", "meta")


@dataclass
class StageView:
    name: str
    kind: str
    folder: str
    status: str
    path: Path
    config: dict[str, Any] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return bool(self.stats)

    def extra(self) -> dict[str, Any]:
        return self.stats.get("extra") or {}


@dataclass
class RunView:
    path: Path
    manifest: dict[str, Any]
    stages: list[StageView]

    @property
    def name(self) -> str:
        return str(self.manifest.get("pipeline") or self.path.name)

    @property
    def seed(self) -> Any:
        return self.manifest.get("seed")

    def stage(self, kind: str, *, last: bool = True) -> StageView | None:
        found = [s for s in self.stages if s.kind == kind and s.done]
        return (found[-1] if last else found[0]) if found else None

    def upstream(self, stage: StageView) -> list[StageView]:
        """The stages whose output ``stage`` read (by folder)."""
        folders = {Path(i).name for i in stage.inputs}
        return [s for s in self.stages if s.folder in folders and s.done]

    @property
    def sources(self) -> list[StageView]:
        """The stages that read raw files (extract-*)."""
        from dataprep.stages import registry

        known = registry()
        return [s for s in self.stages if s.done and s.kind in known and known[s.kind].is_source]

    def dataset_stage(self) -> StageView | None:
        """The stage holding the final dataset: tokenize, else split, else the last record stage."""
        for kind in DATASET_STAGES:
            found = self.stage(kind)
            if found is not None:
                return found
        records = [s for s in self.stages if s.done and s.kind != "train"]
        return records[-1] if records else None

    def records_stage(self) -> StageView | None:
        """The last stage whose output is records with ids (split, else the last one before tokenize)."""
        found = self.stage("split")
        if found is not None:
            return found
        records = [s for s in self.stages if s.done and s.kind not in ("tokenize", "train")]
        return records[-1] if records else None


def load_run(path: str | Path) -> RunView:
    """Read a run folder written by ``dataprep run``."""
    path = Path(path)
    manifest_path = path / "manifest.json"
    if not manifest_path.exists():
        raise InputError(f"{path}: no manifest.json here; give the run folder of `dataprep run` (e.g. runs/sample).")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{manifest_path}: unreadable ({exc}); rerun the pipeline to rewrite it.") from exc
    entries = manifest.get("stages", {})
    plan = manifest.get("plan") or [
        {"name": name, "stage": e.get("stage"), "folder": e.get("folder")}
        for name, e in sorted(entries.items(), key=lambda kv: kv[1].get("folder", ""))
    ]
    last = manifest.get("last_run", {})
    stages = []
    for item in plan:
        entry = entries.get(item["name"], {})
        folder = item["folder"]
        stats_path = path / folder / "stats.json"
        stats = json.loads(stats_path.read_text(encoding="utf-8")) if entry and stats_path.exists() else {}
        status = last.get(item["name"]) or (RAN if stats else NOT_RUN)
        stages.append(
            StageView(
                name=item["name"],
                kind=item.get("stage") or entry.get("stage", ""),
                folder=folder,
                status=status if stats else NOT_RUN,
                path=path / folder,
                config=entry.get("config", {}),
                inputs=entry.get("inputs", []),
                stats=stats,
            )
        )
    return RunView(path=path, manifest=manifest, stages=stages)


def record_files(folder: Path) -> dict[str, list[Path]]:
    """A stage folder's record files per split (``train`` for a stage without splits)."""
    from dataprep.stages.tokenize import input_splits

    if not any(folder.glob("*.parquet")) and not any(folder.glob("*.jsonl")) and not (folder / "train").is_dir():
        return {}
    return input_splits([folder])


def iter_rows(files: list[Path], columns: tuple[str, ...] = RECORD_COLUMNS) -> Iterator[dict[str, Any]]:
    """Records of Parquet shards or JSONL files, only ``columns`` (meta parsed)."""
    from dataprep.io.readers import iter_batches

    for path in files:
        if path.name.endswith(".parquet"):
            handle = pq.ParquetFile(path)
            wanted = [c for c in columns if c in handle.schema_arrow.names]
            for batch in handle.iter_batches(batch_size=2000, columns=wanted):
                yield from batch_to_rows(table_to_batch(batch))
        else:
            for read in iter_batches([path]):
                for row in batch_to_rows(read.batch):
                    yield {k: row.get(k) for k in columns}


def stage_rows(stage: StageView, columns: tuple[str, ...] = RECORD_COLUMNS) -> Iterator[dict[str, Any]]:
    for files in record_files(stage.path).values():
        yield from iter_rows(files, columns)


def iter_rejects(stage: StageView) -> Iterator[dict[str, Any]]:
    path = stage.path / "rejects.jsonl"
    if not path.exists():
        return
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def source_file(source: str | None) -> str:
    """The input file of a record's ``source`` locator (``data.csv#row=3`` -> ``data.csv``)."""
    return (source or "?").split("#", 1)[0]


def content_text(record: dict[str, Any]) -> str:
    """A record's content as one string (for lengths and examples)."""
    if record.get("messages"):
        return "\n".join(f"{m.get('role')}: {m.get('content')}" for m in record["messages"])
    if record.get("input") is not None or record.get("output") is not None:
        return f"{record.get('input') or ''}\n{record.get('output') or ''}"
    return record.get("text") or ""


def record_language(meta: dict[str, Any] | None) -> str | None:
    """The language a stage recorded in ``meta`` (filter-language's, else extract-html's ``lang``),
    as a lower-case ISO 639 code (``en-US`` -> ``en``)."""
    if not meta:
        return None
    for key in ("language", "lang", "detected_language"):
        value = meta.get(key)
        if isinstance(value, dict):
            value = value.get("code") or value.get("lang") or value.get("language")
        if isinstance(value, str) and value.strip():
            code = value.strip().replace("_", "-").split("-")[0].lower()
            # filter-language's verdicts for "could not tell" and "several languages" are not languages.
            return None if code in ("und", "mixed", "zxx") else code
    return None


def _parquet_tables(files: list[Path], columns: tuple[str, ...]) -> Iterator[pa.Table]:
    for path in files:
        handle = pq.ParquetFile(path)
        wanted = [c for c in columns if c in handle.schema_arrow.names]
        yield handle.read(columns=wanted)


def lookup(stages: list[StageView], ids: set[str]) -> dict[str, dict[str, Any]]:
    """Records with these ids in the outputs of ``stages`` (Parquet filtered in Arrow, not row by row)."""
    found: dict[str, dict[str, Any]] = {}
    for stage in stages:
        for files in record_files(stage.path).values():
            wanted = pa.array(sorted(ids - set(found)), type=pa.string())
            if not len(wanted):
                return found
            parquet = [f for f in files if f.name.endswith(".parquet")]
            for table in _parquet_tables(parquet, RECORD_COLUMNS):
                hits = table.filter(pc.is_in(table.column("id"), value_set=wanted))
                if hits.num_rows:
                    found.update((r["id"], r) for r in batch_to_rows(table_to_batch(hits)))
            others = [f for f in files if not f.name.endswith(".parquet")]
            found.update((r["id"], r) for r in iter_rows(others) if r.get("id") in ids)
    return found


def _chars(table: pa.Table, name: str) -> pa.ChunkedArray | pa.Array:
    if name not in table.column_names:
        return pa.nulls(table.num_rows, pa.int32())
    return pc.utf8_length(table.column(name))


def content_lengths(files: list[Path]) -> list[int]:
    """Characters of each record's :func:`content_text`, computed in Arrow for Parquet shards."""
    out: list[int] = []
    for path in files:
        if not path.name.endswith(".parquet"):
            out += [len(content_text(r)) for r in iter_rows([path])]
            continue
        table = next(_parquet_tables([path], ("text", "input", "output", "messages")))
        if "messages" in table.column_names and table.column("messages").null_count < table.num_rows:
            out += [len(content_text(r)) for r in table.to_pylist()]
            continue
        inp, outp, text = (_chars(table, name) for name in ("input", "output", "text"))
        pair = pc.add(pc.add(pc.coalesce(inp, 0), 1), pc.coalesce(outp, 0))
        is_pair = pc.or_(pc.is_valid(inp), pc.is_valid(outp))
        out += pc.if_else(is_pair, pair, pc.coalesce(text, 0)).to_pylist()
    return out


def source_counts(files: list[Path]) -> Counter:
    """Records per input file (the ``source`` locator up to ``#``)."""
    counts: Counter = Counter()
    for path in files:
        if not path.name.endswith(".parquet"):
            counts.update(source_file(r.get("source")) for r in iter_rows([path], ("source",)))
            continue
        table = next(_parquet_tables([path], ("source",)))
        if "source" not in table.column_names:
            counts["?"] += table.num_rows
            continue
        names = pc.list_element(pc.split_pattern(pc.fill_null(table.column("source"), "?"), "#", max_splits=1), 0)
        for item in pc.value_counts(names).to_pylist():
            counts[item["values"]] += item["counts"]
    return counts
