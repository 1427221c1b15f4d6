import json
from pathlib import Path

from dataprep.io.readers import iter_batches
from dataprep.records import batch_to_rows

#: A two-turn chat with a system prompt, for the tokenize tests.
CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi?"},
    {"role": "assistant", "content": "Hello."},
    {"role": "user", "content": "Bye?"},
    {"role": "assistant", "content": "Bye now."},
]


def read_records(path: Path) -> list[dict]:
    rows: list[dict] = []
    for read in iter_batches([path]):
        rows.extend(batch_to_rows(read.batch))
    return rows


def read_rejects(path: Path) -> list[dict]:
    target = path / "rejects.jsonl" if path.is_dir() else Path(f"{path}.rejects.jsonl")
    return [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]


def read_stats(path: Path) -> dict:
    target = path / "stats.json" if path.is_dir() else Path(f"{path}.stats.json")
    return json.loads(target.read_text(encoding="utf-8"))


def tree_bytes(folder: Path, pattern: str = "**/*.parquet") -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.glob(pattern))}
