"""The dataset card: ``README.md`` in the Hugging Face format, beside the final dataset.

The YAML header (written by huggingface_hub's ``DatasetCardData``) tells ``datasets`` and
the Hub which files make up which split (``configs``), and carries ``size_categories``,
``task_categories`` and the languages the records were found to be in. The body lists
the sources, each processing step with its options and counts, and the limitations this
run is known to have.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from dataprep.io.atomic import atomic_write_text
from dataprep.report.run import NOT_RUN, RunView, record_files, record_language, source_counts, stage_rows

CARD = "README.md"
#: The Hub's size buckets, by upper bound.
SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))
SIZES_LARGE = ((10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B"))


def size_category(count: int) -> str:
    for bound, name in SIZES + SIZES_LARGE:
        if count < bound:
            return name
    return "n>1T" if count >= 10**12 else "1B<n<10B"


def data_files(run: RunView) -> list[dict[str, str]]:
    """One entry per split: the glob of its data files, relative to the card."""
    dataset = run.dataset_stage()
    if dataset is None:
        return []
    out = []
    for split in ("train", "val", "test"):
        folder = dataset.path / split
        for suffix in ("arrow", "parquet"):
            if any(folder.glob(f"*.{suffix}")):
                out.append({"split": split, "path": f"{split}/*.{suffix}"})
                break
    if not out and any(dataset.path.glob("*.parquet")):
        out.append({"split": "train", "path": "*.parquet"})
    return out


def languages(run: RunView) -> tuple[list[str], int, int]:
    """The languages recorded in the final records' meta, the records without one, and all records."""
    stage = run.records_stage()
    found: Counter = Counter()
    total = 0
    if stage is not None:
        for row in stage_rows(stage, ("id", "meta")):
            total += 1
            found[record_language(row.get("meta"))] += 1
    unknown = found.pop(None, 0)
    return sorted(found), unknown, total


def limitations(run: RunView, unknown_lang: int, total: int, sources: list[dict[str, Any]]) -> list[str]:
    """What a user of this dataset should know, from what this run did and did not do."""
    kinds = {s.kind for s in run.stages if s.done}
    notes = []
    if total and unknown_lang == total:
        notes.append("The records' language was not identified (no language stage ran, and no page declared one).")
    elif unknown_lang:
        notes.append(f"{unknown_lang:,} of {total:,} records have no identified language.")
    if not any("redact" in k or "pii" in k for k in kinds):
        notes.append("Personal data (names, e-mail addresses, phone numbers) was not redacted by this pipeline.")
    if not any("decontam" in k for k in kinds):
        notes.append("The records were not checked against evaluation benchmarks (no decontamination stage ran).")
    if "dedup" in kinds:
        notes.append("Duplicates were removed within this dataset only, not against other datasets.")
    empty = [s["file"] for s in sources if s["read"] and not s["final"]]
    if empty:
        notes.append(f"No record from {', '.join(empty)} reached the final dataset.")
    cluster = run.stage("cluster")
    if cluster is not None and cluster.stats.get("dropped", {}).get("not-selected"):
        notes.append(
            f"{cluster.stats['dropped']['not-selected']:,} records were left out by the diversity selection "
            f"({cluster.folder}): topic shares follow the selection, not the sources."
        )
    if total and total < 1000:
        notes.append(f"Small: {total:,} records, enough to check a setup, not to fine-tune a model well.")
    tokenize = run.stage("tokenize")
    if tokenize is not None and tokenize.extra().get("truncated"):
        notes.append(f"{tokenize.extra()['truncated']:,} examples were cut to max_length tokens.")
    not_run = [s.folder for s in run.stages if s.status == NOT_RUN]
    if not_run:
        notes.append(f"These stages of the pipeline had not run when the card was written: {', '.join(not_run)}.")
    return notes


def source_rows(run: RunView) -> list[dict[str, Any]]:
    read: Counter = Counter()
    for source in run.sources:
        for files in record_files(source.path).values():
            read.update(source_counts(files))
    final: Counter = Counter()
    stage = run.records_stage()
    if stage is not None:
        for files in record_files(stage.path).values():
            final.update(source_counts(files))
    return [{"file": f, "read": read[f], "final": final.get(f, 0)} for f in sorted(set(read) | set(final))]


def render_card(run: RunView) -> str:
    from huggingface_hub import DatasetCardData
    from jinja2 import Environment, PackageLoader

    langs, unknown, total = languages(run)
    files = data_files(run)
    final = run.records_stage()
    count = final.stats.get("records_out", total) if final else total
    header = DatasetCardData(
        pretty_name=run.name,
        language=langs or None,
        size_categories=[size_category(count)],
        task_categories=["text-generation"],
        tags=["dataprep", "fine-tuning"],
        configs=[{"config_name": "default", "data_files": files}] if files else None,
    )
    sources = source_rows(run)
    env = Environment(loader=PackageLoader("dataprep.report", "templates"), trim_blocks=True, lstrip_blocks=True)
    # JSON, so an option holding a newline (a template, a separator) stays on its line.
    env.filters["option"] = lambda v: json.dumps(v, ensure_ascii=False)
    dataset = run.dataset_stage()
    body = env.get_template("card.md.jinja").render(
        run=run,
        count=count,
        languages=langs,
        unknown_lang=unknown,
        total=total,
        sources=sources,
        stages=run.stages,
        splits=(run.stage("split").extra().get("splits") if run.stage("split") else None) or {},
        tokenize=run.stage("tokenize"),
        dataset=dataset,
        files=files,
        limitations=limitations(run, unknown, total, sources),
    )
    return f"---\n{header.to_yaml()}\n---\n\n{body}"


def write_card(run: RunView) -> Path | None:
    """Write ``README.md`` into the final dataset's folder; returns its path (None without one)."""
    dataset = run.dataset_stage()
    if dataset is None:
        return None
    target = dataset.path / CARD
    atomic_write_text(target, render_card(run))
    return target
