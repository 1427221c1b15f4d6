"""``dataprep diff RUN_A RUN_B``: what changed between two runs, and why records differ.

Stages are matched by name. For each: the options that differ, records in and out and
dropped by reason in both runs. Then the records in one run's final dataset and not the
other's: each with the stage and reason (and detail) that dropped it in the other run,
found in that run's rejects files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from dataprep.report.run import RunView, content_text, iter_rejects, load_run, stage_rows


def _flat(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{name}."))
        else:
            out[name] = value
    return out


@dataclass
class Left:
    """A record in one run's final dataset that the other run dropped (or never made)."""

    id: str
    kept_in: str  # "A" or "B"
    stage: str | None
    reason: str | None
    detail: str | None
    text: str
    source: str | None


@dataclass
class RunDiff:
    a: RunView
    b: RunView
    options: list[tuple[str, str, Any, Any]] = field(default_factory=list)
    counts: list[dict[str, Any]] = field(default_factory=list)
    left: list[Left] = field(default_factory=list)
    final: dict[str, int] = field(default_factory=dict)

    def print(self, show: int = 0, console: Console | None = None) -> None:
        console = console or Console(width=max(Console().width, 140), highlight=False)
        console.print(Text(f"A: {self.a.path}   B: {self.b.path}", style="bold"))
        if self.options:
            table = Table(title="options that differ")
            for column in ("stage", "option", "A", "B"):
                table.add_column(column)
            for stage, key, old, new in self.options:
                table.add_row(stage, key, repr(old), repr(new))
            console.print(table)
        else:
            console.print("options: the same in every stage")
        table = Table(title="records per stage")
        for column, justify in (("stage", "left"), ("A in", "right"), ("A out", "right"), ("B in", "right")):
            table.add_column(column, justify=justify)  # type: ignore[arg-type]
        table.add_column("B out", justify="right")
        table.add_column("out B-A", justify="right")
        table.add_column("dropped by reason (A -> B)")
        for row in self.counts:
            delta = row["b_out"] - row["a_out"] if None not in (row["a_out"], row["b_out"]) else None
            table.add_row(
                row["stage"],
                *(str(v) if v is not None else "-" for v in (row["a_in"], row["a_out"], row["b_in"], row["b_out"])),
                f"{delta:+d}" if delta else ("0" if delta == 0 else "-"),
                ", ".join(f"{r} {a}->{b}" for r, (a, b) in row["dropped"].items()) or "-",
            )
        console.print(table)
        only_a = [x for x in self.left if x.kept_in == "A"]
        only_b = [x for x in self.left if x.kept_in == "B"]
        console.print(
            f"final dataset: A {self.final.get('A', 0)} records, B {self.final.get('B', 0)}; "
            f"{len(only_a)} only in A, {len(only_b)} only in B"
        )
        for name, items, other in (("A", only_a, "B"), ("B", only_b, "A")):
            if not items:
                continue
            why: dict[tuple[str | None, str | None], int] = {}
            for item in items:
                why[(item.stage, item.reason)] = why.get((item.stage, item.reason), 0) + 1
            # A line of its own, not the table's title: rich wraps a title to the table's width.
            console.print(Text(f"in {name}'s final dataset, not {other}'s: where {other} dropped them", style="bold"))
            table = Table()
            table.add_column(f"stage in {other}")
            table.add_column("reason")
            table.add_column("records", justify="right")
            for (stage, reason), count in sorted(why.items(), key=lambda kv: -kv[1]):
                table.add_row(stage or "-", reason or "never made (different source or content)", str(count))
            console.print(table)
            # Examples from the earliest stage first: that is where the runs' paths part.
            for item in sorted(items, key=lambda x: (x.stage or "~", x.id))[:show]:
                head = Text(f"{item.id} ", style="bold")
                head.append(f"{item.source or ''}  ", style="dim")
                head.append(f"{other}: {item.stage or '-'} {item.reason or 'never made'}", style="red")
                if item.detail:
                    head.append(f" ({item.detail})")
                console.print(head)
                text = " ".join(item.text.split())
                console.print(Text("  " + (text if len(text) <= 300 else text[:299] + "…")))


def _rejects_by_id(run: RunView) -> dict[str, tuple[str, str, str | None]]:
    found: dict[str, tuple[str, str, str | None]] = {}
    for stage in run.stages:
        for entry in iter_rejects(stage):
            if entry.get("id") and entry["id"] not in found:
                found[entry["id"]] = (stage.folder, entry.get("reason"), entry.get("detail"))
    return found


def _final(run: RunView) -> dict[str, dict[str, Any]]:
    stage = run.records_stage()
    return {r["id"]: r for r in stage_rows(stage)} if stage is not None else {}


def diff_runs(path_a: Path, path_b: Path) -> RunDiff:
    a, b = load_run(path_a), load_run(path_b)
    diff = RunDiff(a, b)
    stages_b = {s.name: s for s in b.stages}
    names = [s.name for s in a.stages] + [s.name for s in b.stages if s.name not in {x.name for x in a.stages}]
    stages_a = {s.name: s for s in a.stages}
    for name in names:
        sa, sb = stages_a.get(name), stages_b.get(name)
        folder = (sa or sb).folder  # type: ignore[union-attr]
        if sa is None or sb is None:
            diff.options.append((folder, "(stage)", "present" if sa else "absent", "present" if sb else "absent"))
        else:
            fa, fb = _flat(sa.config), _flat(sb.config)
            for key in sorted(set(fa) | set(fb)):
                if fa.get(key) != fb.get(key):
                    diff.options.append((folder, key, fa.get(key), fb.get(key)))
        da = (sa.stats.get("dropped") if sa else None) or {}
        db = (sb.stats.get("dropped") if sb else None) or {}
        diff.counts.append(
            {
                "stage": folder,
                "a_in": sa.stats.get("records_in") if sa else None,
                "a_out": sa.stats.get("records_out") if sa else None,
                "b_in": sb.stats.get("records_in") if sb else None,
                "b_out": sb.stats.get("records_out") if sb else None,
                "dropped": {
                    r: (da.get(r, 0), db.get(r, 0)) for r in sorted(set(da) | set(db)) if da.get(r) != db.get(r)
                },
            }
        )
    final_a, final_b = _final(a), _final(b)
    diff.final = {"A": len(final_a), "B": len(final_b)}
    for kept_in, mine, theirs, other in (("A", final_a, final_b, b), ("B", final_b, final_a, a)):
        missing = [i for i in mine if i not in theirs]
        rejects = _rejects_by_id(other) if missing else {}
        for record_id in missing:
            stage, reason, detail = rejects.get(record_id, (None, None, None))
            record = mine[record_id]
            diff.left.append(
                Left(record_id, kept_in, stage, reason, detail, content_text(record), record.get("source"))
            )
    return diff
