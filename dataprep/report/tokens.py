"""Token figures for the report: tokens per record (as tokenize counts them) and a coloured sample."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from dataprep.report.run import StageView


def arrow_table(folder: Path) -> pa.Table | None:
    """A split written by tokenize (``save_to_disk`` Arrow stream files), read without ``datasets``."""
    files = sorted(folder.glob("*.arrow"))
    if not files:
        return None
    tables = []
    for path in files:
        with pa.memory_map(str(path)) as source:
            tables.append(pa.ipc.open_stream(source).read_all())
    return pa.concat_tables(tables)


def sequence_lengths(stage: StageView) -> dict[str, list[int]]:
    """Tokens per sequence in each split of a tokenize folder."""
    import pyarrow.compute as pc

    out: dict[str, list[int]] = {}
    for split in stage.extra().get("splits", {}):
        table = arrow_table(stage.path / split)
        if table is not None and "input_ids" in table.column_names:
            out[split] = pc.list_value_length(table.column("input_ids")).to_pylist()
    return out


@functools.lru_cache(maxsize=4)
def _load(name: str) -> Any:
    from dataprep.tokens.tokenizer import load_tokenizer

    return load_tokenizer(name)


def tokenizer_of(stage: StageView) -> Any:
    """The tokenizer tokenize saved beside its splits (else the one its options name)."""
    saved = stage.path / "tokenizer"
    return _load(str(saved) if saved.is_dir() else str(stage.config.get("tokenizer")))


def record_tokens(stage: StageView, records: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Tokens of each record's example (BOS, prompt, answer, EOS), by id, with tokenize's options;
    cut to max_length where tokenize truncates."""
    from dataprep.tokens.examples import Encoder

    cfg = stage.config
    info = tokenizer_of(stage)
    encoder = Encoder(info, separator=cfg.get("separator", "\n"), train_on_inputs=bool(cfg.get("train_on_inputs")))
    texts: dict[str, list[Any]] = {"text": [], "pairs": [], "chats": []}
    for record in records:
        if record.get("messages"):
            texts["chats"].append(record)
        elif record.get("input") is not None or record.get("output") is not None:
            texts["pairs"].append(record)
        elif record.get("text"):
            texts["text"].append(record)
    lengths: dict[str, int] = {}
    if texts["text"]:
        _, counts = encoder.documents([r["text"] for r in texts["text"]])
        lengths.update(zip((r["id"] for r in texts["text"]), counts.tolist()))
    if texts["pairs"]:
        rows = texts["pairs"]
        flat = encoder.pairs([r.get("input") or "" for r in rows], [r.get("output") or "" for r in rows])
        lengths.update(zip((r["id"] for r in rows), flat.lengths.tolist()))
    if texts["chats"] and info.chat_template:
        rows = texts["chats"]
        flat, errors = encoder.chats([r["messages"] for r in rows], info.chat_template)
        fine = [r for r, error in zip(rows, errors) if error is None]
        lengths.update(zip((r["id"] for r in fine), flat.lengths.tolist()))
    if cfg.get("overlength") == "truncate" and cfg.get("max_length"):
        limit = int(cfg["max_length"])
        lengths = {k: min(v, limit) for k, v in lengths.items()}
    return lengths


def token_sample(stage: StageView, count: int = 2, max_tokens: int = 400, look_at: int = 64) -> list[dict[str, Any]]:
    """Sequences of the train split as show-tokens colours them: runs of trained or masked text,
    and the starts of packed examples. Of the first ``look_at``, those with a masked prompt come
    first (the masking is what the view checks), shorter ones before longer."""
    from dataprep.tokens.show import token_runs

    table = arrow_table(stage.path / "train")
    if table is None or not table.num_rows:
        return []
    rows = table.slice(0, look_at).to_pylist()
    masked = [int(np.sum(np.asarray(r["labels"]) == -100)) for r in rows]
    order = sorted(range(len(rows)), key=lambda i: (masked[i] <= 1, len(rows[i]["input_ids"]), i))
    tokenizer = tokenizer_of(stage).tokenizer
    sample = []
    for i in sorted(order[:count]):
        row = rows[i]
        total = len(row["input_ids"])
        cut = {k: v[:max_tokens] for k, v in row.items() if k in ("input_ids", "labels", "position_ids")}
        sample.append(
            {
                "index": i,
                "tokens": total,
                "trained": total - masked[i],
                "examples": len(row["seq_lengths"]) if row.get("seq_lengths") else 1,
                "runs": token_runs(tokenizer, cut),
                "cut": total > max_tokens,
            }
        )
    return sample
