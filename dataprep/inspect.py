"""Side tools that show what a run did: ``dataprep inspect`` and ``dataprep show``."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dataprep.errors import InputError, suggest


class _Printable:
    def __init__(self, renderable: Any) -> None:
        self.renderable = renderable

    def print(self, console: Console | None = None) -> None:
        if console is None:
            console = Console()
            if not console.is_terminal:  # piped or captured: no terminal width to fit, so don't wrap
                console = Console(width=max(console.width, 140))
        console.print(self.renderable)


def stats_table(rows: list[tuple[str, str, dict[str, Any]]], title: str = "") -> _Printable:
    """A table with one row per stage: (folder, status, stats.json contents)."""
    table = Table(title=title or None, show_lines=False)
    for column, justify in (
        ("stage", "left"),
        ("status", "left"),
        ("in", "right"),
        ("out", "right"),
        ("dropped by reason", "left"),
        ("seconds", "right"),
        ("rec/s", "right"),
        ("peak MB", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for folder, status, stats in rows:
        dropped = ", ".join(f"{k} {v}" for k, v in stats.get("dropped", {}).items()) or "-"
        rate = stats.get("records_per_second")
        table.add_row(
            folder,
            status,
            str(stats.get("records_in", "")),
            str(stats.get("records_out", "")),
            dropped,
            f"{stats.get('seconds', 0):.2f}",
            f"{rate:,.0f}" if rate else "-",
            f"{stats['peak_memory_mb']:,.0f}" if stats.get("peak_memory_mb") else "-",
        )
    return _Printable(table)


def inspect_run(run_dir: Path) -> _Printable:
    manifest_path = run_dir / "manifest.json"
    if not manifest_path.exists():
        raise InputError(f"{run_dir}: no manifest.json here; give the run folder of `dataprep run`.")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    rows = []
    for _name, entry in sorted(manifest.get("stages", {}).items(), key=lambda kv: kv[1]["folder"]):
        stats_path = run_dir / entry["folder"] / "stats.json"
        if stats_path.exists():
            stats = json.loads(stats_path.read_text(encoding="utf-8"))
            rows.append((entry["folder"], "done", stats))
        else:
            rows.append((entry["folder"], "missing", {}))
    return stats_table(rows, title=f"{manifest.get('pipeline', run_dir.name)} ({run_dir})")


def _record_panel(record: dict[str, Any]) -> Panel:
    body = Text()
    meta = record.get("meta") or {}
    if record.get("messages"):
        for message in record["messages"]:
            body.append(f"{message['role']}: ", style="bold cyan")
            body.append(f"{message['content']}\n")
    elif record.get("input") is not None or record.get("output") is not None:
        body.append("input: ", style="bold cyan")
        body.append(f"{record.get('input')}\n")
        body.append("output: ", style="bold green")
        body.append(f"{record.get('output')}\n")
    elif record.get("text") is not None:
        body.append(f"{record['text']}\n")
    extras = {
        k: v for k, v in record.items() if k not in {"id", "text", "input", "output", "messages", "source", "meta"}
    }
    for key, value in extras.items():
        is_vector = hasattr(value, "__len__") and not isinstance(value, (str, dict))
        shown = f"[{len(value)} values]" if is_vector and len(value) > 8 else value
        body.append(f"{key}: ", style="dim")
        body.append(f"{shown}\n", style="dim")
    if meta:
        body.append("meta: ", style="dim")
        body.append(json.dumps(meta, ensure_ascii=False), style="dim")
    title = f"{record.get('id')}  {record.get('source')}"
    return Panel(body, title=title, title_align="left")


def _stage_folders(run_dir: Path) -> dict[str, str]:
    """Stage name (and kind, when unambiguous) -> folder, from the manifest and the NN-name folders."""
    names: dict[str, str] = {}
    for child in sorted(run_dir.iterdir()):
        number, dash, name = child.name.partition("-")
        if child.is_dir() and dash and number.isdigit():
            names.setdefault(name, child.name)
    manifest = run_dir / "manifest.json"
    if manifest.exists():
        try:
            stages = json.loads(manifest.read_text(encoding="utf-8")).get("stages", {})
        except ValueError:
            stages = {}
        kinds: dict[str, list[str]] = {}
        for name, entry in stages.items():
            names.setdefault(name, entry["folder"])
            kinds.setdefault(entry.get("stage", name), []).append(entry["folder"])
        for kind, folders in kinds.items():
            if len(folders) == 1:
                names.setdefault(kind, folders[0])
    return names


def resolve_run_path(path: str | Path, *more: str) -> Path:
    """A path in which a stage may be named without its number: ``runs/sample/normalize`` or
    ``runs/sample normalize`` is ``runs/sample/06-normalize``, wherever the stage sits in the pipeline."""
    parts = Path(path, *more).parts
    current = Path(parts[0])
    for part in parts[1:]:
        candidate = current / part
        if not candidate.exists() and current.is_dir():
            folders = _stage_folders(current)
            if part in folders:
                candidate = current / folders[part]
            else:
                hint = suggest(part, list(folders)) if folders else ""
                listing = f" (its stages: {', '.join(sorted(folders.values()))})" if folders else ""
                raise InputError(f"{current / part}: no such file, folder or stage{hint or listing}")
        current = candidate
    if not current.exists():
        raise InputError(f"{current}: no such file or folder")
    return current


def show_records(path: Path, count: int, rejects: bool = False) -> None:
    from dataprep.io.readers import iter_batches
    from dataprep.records import batch_to_rows

    console = Console()
    if rejects:
        target = path / "rejects.jsonl" if path.is_dir() else Path(f"{path}.rejects.jsonl")
        if not target.exists():
            raise InputError(f"{target}: no rejects file here.")
        with open(target, encoding="utf-8") as handle:
            for line in islice(handle, count):
                entry = json.loads(line)
                record = entry.get("record")
                header = f"[bold red]{entry['reason']}[/] {entry.get('detail') or ''}  {entry.get('source') or ''}"
                console.print(header)
                if isinstance(record, dict) and ("id" in record or "text" in record or "output" in record):
                    console.print(_record_panel(record))
                elif record is not None:
                    console.print(Panel(str(record)[:2000]))
        return
    shown = 0
    for read in iter_batches([path], batch_size=max(count, 1)):
        for record in batch_to_rows(read.batch):
            console.print(_record_panel(record))
            shown += 1
            if shown >= count:
                return
