"""``report.html``: one self-contained page that shows what a run did.

The page gathers what the stages left in the run folder: the funnel of records per
stage, examples of every drop reason with the detail that decided it, before/after
views of records a stage changed, figures per source file, length histograms, the
cluster map, a coloured token sample and the learning curves. Styles and images are
inline and there is no script, so it opens offline, from a mail attachment or a
print-out alike.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from dataprep import __version__
from dataprep.io.atomic import atomic_write_text
from dataprep.report import charts
from dataprep.report.run import (
    CACHED,
    NOT_RUN,
    RunView,
    StageView,
    content_lengths,
    content_text,
    iter_rejects,
    load_run,
    lookup,
    record_files,
    source_counts,
    source_file,
    stage_rows,
)

REPORT = "report.html"
#: Examples shown per drop reason and per changed stage.
EXAMPLES = 3
#: Records compared per stage when looking for changed ones (the page stays quick on big runs).
SCAN_LIMIT = 20_000
#: Final records up to which an old run's tokens per source are counted by tokenizing them again.
RETOKENIZE_LIMIT = 20_000
_ID = re.compile(r"\b[0-9a-f]{16}\b")
#: Stages whose records keep their content: not worth a before/after scan.
_UNCHANGING = {"embed", "cluster", "dedup", "split", "tokenize", "train"}


def _short(text: str, limit: int = 600) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _marked(text: str, phrase: str | None, window: int = 260) -> list[tuple[str, bool]]:
    """``text`` around ``phrase`` (found case-insensitively) as (piece, is-the-phrase) parts."""
    if phrase:
        at = text.lower().find(phrase.lower())
        if at >= 0:
            start, end = max(0, at - window), min(len(text), at + len(phrase) + window)
            before = ("…" if start else "") + text[start:at]
            after = text[at + len(phrase) : end] + ("…" if end < len(text) else "")
            return [(before, False), (text[at : at + len(phrase)], True), (after, False)]
    return [(_short(text, 2 * window), False)]


def _word_diff(before: str, after: str) -> list[tuple[str, str]]:
    """(text, "same" | "del" | "ins") parts of a word-level diff."""
    a, b = re.split(r"(\s+)", before), re.split(r"(\s+)", after)
    parts: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            parts.append(("".join(a[i1:i2]), "same"))
        else:
            if i2 > i1:
                parts.append(("".join(a[i1:i2]), "del"))
            if j2 > j1:
                parts.append(("".join(b[j1:j2]), "ins"))
    return parts


def _deciding_phrase(entry: dict[str, Any]) -> str | None:
    record = entry.get("record")
    meta = record.get("meta") if isinstance(record, dict) else None
    decided = ((meta or {}).get("slop") or {}).get("decided_by") or {}
    if decided.get("phrase"):
        return decided["phrase"]
    quoted = re.search(r'"([^"]{3,})"', entry.get("detail") or "")
    return quoted.group(1) if quoted else None


def _record_text(record: Any) -> str:
    if isinstance(record, dict) and any(k in record for k in ("text", "input", "output", "messages")):
        return content_text(record)
    if isinstance(record, dict):
        return json.dumps(record, ensure_ascii=False)
    return str(record)


def drops(run: RunView) -> list[dict[str, Any]]:
    """Per stage and drop reason: the count and a few examples with what decided them."""
    sections = []
    for stage in run.stages:
        dropped = stage.stats.get("dropped") or {}
        if not dropped:
            continue
        examples: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for entry in iter_rejects(stage):
            reason = entry.get("reason", "?")
            if len(examples[reason]) < EXAMPLES:
                examples[reason].append(entry)
            if all(len(examples[r]) >= EXAMPLES for r in dropped):
                break
        wanted = {m for entries in examples.values() for e in entries for m in _ID.findall(e.get("detail") or "")}
        copies = lookup(run.upstream(stage) + [stage], wanted) if wanted else {}
        reasons = []
        for reason, count in sorted(dropped.items(), key=lambda kv: -kv[1]):
            shown = []
            for entry in examples.get(reason, []):
                detail = entry.get("detail") or ""
                other = next((copies[i] for i in _ID.findall(detail) if i in copies), None)
                shown.append(
                    {
                        "id": entry.get("id"),
                        "source": entry.get("source"),
                        "detail": detail,
                        "parts": _marked(_record_text(entry.get("record")), _deciding_phrase(entry)),
                        "other": {"id": other["id"], "text": _short(content_text(other))} if other else None,
                    }
                )
            reasons.append({"reason": reason, "count": count, "examples": shown})
        sections.append({"stage": stage.folder, "kind": stage.kind, "reasons": reasons})
    return sections


def changes(run: RunView) -> list[dict[str, Any]]:
    """Per record stage, records whose content it changed (the sentences filter-slop stripped,
    normalize's fixes), before and after."""
    sections = []
    for stage in run.stages:
        if not stage.done or stage.kind in _UNCHANGING or stage in run.sources:
            continue
        upstream = run.upstream(stage)
        if not upstream:
            continue
        after: dict[str, dict[str, Any]] = {}
        for n, row in enumerate(stage_rows(stage)):
            if n >= SCAN_LIMIT:
                break
            after[row["id"]] = row
        before = lookup(upstream, set(after))
        changed = [i for i, row in after.items() if i in before and content_text(row) != content_text(before[i])]
        if not changed:
            continue

        def stripped(i: str, after: dict[str, dict[str, Any]] = after) -> list[str]:
            return ((after[i].get("meta") or {}).get("slop") or {}).get("stripped") or []

        # Records filter-slop stripped a sentence from first: they are what the view is for.
        changed.sort(key=lambda i: not stripped(i))
        examples = [
            {
                "id": i,
                "source": after[i].get("source"),
                "detail": ("stripped: " + ", ".join(f'"{p}"' for p in stripped(i))) if stripped(i) else "",
                "parts": _word_diff(content_text(before[i]), content_text(after[i])),
            }
            for i in changed[:EXAMPLES]
        ]
        sections.append(
            {
                "stage": stage.folder,
                "kind": stage.kind,
                "changed": len(changed),
                "scanned": len(after),
                "capped": len(after) >= SCAN_LIMIT,
                "examples": examples,
            }
        )
    return sections


def funnel(run: RunView) -> dict[str, Any]:
    rows = []
    for stage in run.stages:
        stats = stage.stats
        rows.append(
            {
                "folder": stage.folder,
                "kind": stage.kind,
                "status": stage.status,
                "in": stats.get("records_in"),
                "out": stats.get("records_out"),
                "dropped": stats.get("dropped") or {},
                "seconds": stats.get("seconds"),
                "peak": stats.get("peak_memory_mb"),
            }
        )
    done = [r for r in rows if r["in"] is not None]
    chart = charts.funnel([(r["folder"], r["in"], r["out"]) for r in done]) if done else None
    return {"rows": rows, "chart": chart}


def per_source(run: RunView) -> list[dict[str, Any]]:
    """Records each input file gave, how many reached the final dataset, and their tokens."""
    read: Counter = Counter()
    for stage in run.sources:
        for files in record_files(stage.path).values():
            read.update(source_counts(files))
        for entry in iter_rejects(stage):
            read[source_file(entry.get("source"))] += 1
    final: Counter = Counter()
    contributed: dict[str, int] | None = None
    tokenize = run.stage("tokenize")
    last = run.records_stage()
    if tokenize is not None and tokenize.extra().get("sources") is not None:
        # tokenize counts examples and tokens per input file as it writes them.
        by_file = tokenize.extra()["sources"]
        final.update({name: item["examples"] for name, item in by_file.items()})
        contributed = {name: item["tokens_kept"] for name, item in by_file.items()}
    elif tokenize is not None and last is not None and last.stats.get("records_out", 0) <= RETOKENIZE_LIMIT:
        contributed = retokenized(tokenize, last, final)
    elif last is not None:
        for files in record_files(last.path).values():
            final.update(source_counts(files))
    rows = []
    for name in sorted(set(read) | set(final)):
        rows.append(
            {
                "file": name,
                "read": read.get(name, 0),
                "final": final.get(name, 0),
                "share": final.get(name, 0) / read[name] if read.get(name) else None,
                "tokens": contributed.get(name, 0) if contributed is not None else None,
            }
        )
    return rows


def retokenized(tokenize: StageView, last: StageView, final: Counter) -> dict[str, int]:
    """Tokens per input file, tokenizing the final records again: for runs whose tokenize stage
    did not count them."""
    from dataprep.report.tokens import record_tokens

    rejected = {e.get("id") for e in iter_rejects(tokenize)}
    rows = [r for r in stage_rows(last) if r["id"] not in rejected]
    tokens = record_tokens(tokenize, rows)
    contributed: Counter = Counter()
    for row in rows:
        if row["id"] in tokens:
            name = source_file(row["source"])
            final[name] += 1
            contributed[name] += tokens[row["id"]]
    return dict(contributed)


def lengths(run: RunView) -> dict[str, Any]:
    out: dict[str, Any] = {}
    last = run.records_stage()
    if last is not None:
        chars = {split: content_lengths(files) for split, files in record_files(last.path).items()}
        out["chars"] = charts.histograms(chars, "characters per record")
        out["chars_stage"] = last.folder
    tokenize = run.stage("tokenize")
    if tokenize is not None:
        from dataprep.report.tokens import sequence_lengths

        out["tokens"] = charts.histograms(sequence_lengths(tokenize), "tokens per sequence")
        out["tokens_stage"] = tokenize.folder
    return out


def clusters(run: RunView) -> dict[str, Any] | None:
    stage = run.stage("cluster")
    if stage is None:
        return None
    extra = stage.extra()
    folder = stage.path / "report"
    sizes = extra.get("cluster_sizes") or []
    kept = extra.get("kept_per_cluster") or []
    return {
        "stage": stage.folder,
        "map": charts.file_uri(folder / "clusters.png"),
        "page": f"{stage.folder}/report/report.html" if (folder / "report.html").exists() else None,
        "sizes": [
            {"cluster": c, "records": n, "kept": kept[c] if c < len(kept) else None} for c, n in enumerate(sizes)
        ],
    }


def training(run: RunView) -> dict[str, Any] | None:
    stage = run.stage("train")
    if stage is None:
        return None
    report_path = stage.path / "report.json"
    report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.exists() else {}
    diagnosis = report.get("diagnosis") or {}
    return {
        "stage": stage.folder,
        "curves": charts.file_uri(stage.path / "curves.png"),
        "verdict": diagnosis.get("verdict") or stage.extra().get("diagnosis"),
        "reasons": diagnosis.get("reasons") or [],
        "figures": {
            k: report.get(k, stage.extra().get(k))
            for k in ("steps", "final_train_loss", "final_val_loss", "tokens_seen")
            if report.get(k, stage.extra().get(k)) is not None
        },
    }


def summary(run: RunView) -> dict[str, Any]:
    read = sum(s.stats.get("records_in", 0) for s in run.sources)
    last = run.records_stage()
    tokenize = run.stage("tokenize")
    train = run.stage("train")
    return {
        "read": read,
        "final": last.stats.get("records_out") if last else None,
        "final_stage": last.folder if last else None,
        "tokens": tokenize.extra().get("tokens") if tokenize else None,
        "trained_tokens": tokenize.extra().get("supervised_tokens") if tokenize else None,
        "diagnosis": train.extra().get("diagnosis") if train else None,
        # Each stage's own seconds, whether it ran now or in the run whose output was reused.
        "seconds": sum(s.stats.get("seconds", 0) for s in run.stages),
        "not_run": [s.folder for s in run.stages if s.status == NOT_RUN],
        "cached": [s.folder for s in run.stages if s.status == CACHED],
    }


def build_context(run: RunView) -> dict[str, Any]:
    tokenize = run.stage("tokenize")
    sample: list[dict[str, Any]] = []
    if tokenize is not None:
        from dataprep.report.tokens import token_sample

        sample = token_sample(tokenize)
    return {
        "run": {"name": run.name, "path": str(run.path), "seed": run.seed, "version": __version__},
        "summary": summary(run),
        "funnel": funnel(run),
        "drops": drops(run),
        "changes": changes(run),
        "sources": per_source(run),
        "lengths": lengths(run),
        "clusters": clusters(run),
        "tokens": sample,
        "tokens_stage": tokenize.folder if tokenize else None,
        "training": training(run),
    }


def render(run: RunView) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("dataprep.report", "templates"),
        autoescape=select_autoescape(["html", "jinja"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = lambda v: "-" if v is None else f"{v:,}" if isinstance(v, int) else f"{v:,.2f}"
    return env.get_template("report.html.jinja").render(**build_context(run))


def write_report(run: RunView | str | Path) -> Path:
    """Write ``RUN_DIR/report.html`` and return its path."""
    if not isinstance(run, RunView):
        run = load_run(run)
    target = run.path / REPORT
    atomic_write_text(target, render(run))
    return target
