"""Precision and recall of ``filter-slop`` on a hand-labelled JSONL file.

    python -m benchmarks.slop_quality --labels tests/data/slop_labelled.jsonl [--show-errors]

Each line holds the response as ``output``, ``text`` or ``messages``, and a
``label``: ``refusal`` or ``ai-disclaimer`` (positive), or ``clean`` (negative);
``true``/``false`` and ``1``/``0`` also work. A record counts as flagged when
filter-slop drops it or changes it (strips a sentence); gptism flags alone do
not count. Options after ``--labels`` are filter-slop's own (``--phrase-lists``,
``--actions``...), as on the command line, e.g. ``--actions gptism=flag``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dataprep.errors import DataprepError
from dataprep.records import coerce_record, rows_to_batch
from dataprep.stages.base import StageContext
from dataprep.stages.filters.slop import FilterSlop, FilterSlopConfig

POSITIVE = {"refusal", "ai-disclaimer", "disclaimer", "positive", "true", "1"}
NEGATIVE = {"clean", "negative", "false", "0"}


def load(path: Path) -> list[tuple[dict[str, Any], bool]]:
    records = []
    if not path.is_file():
        raise DataprepError(f"--labels {path}: no such file; give a JSONL file of records with a label field.")
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataprepError(f"{path}:{number}: not valid JSON ({exc.msg}).") from exc
        label = str(obj.pop("label", "")).strip().lower()
        if label not in POSITIVE | NEGATIVE:
            raise DataprepError(f"{path}:{number}: label {label!r} is not one of {sorted(POSITIVE | NEGATIVE)}.")
        if obj.get("output") is not None and obj.get("input") is None:
            obj["input"] = ""  # labelled sets often hold responses without their prompts
        records.append((coerce_record(obj, f"{path}#line={number}"), label in POSITIVE))
    return records


def evaluate(records: list[tuple[dict[str, Any], bool]], config: FilterSlopConfig) -> dict[str, Any]:
    """Run filter-slop on every record; return counts, precision, recall and the errors."""
    stage = FilterSlop(config, StageContext(quiet=True))
    rows = [dict(r) for r, _ in records]
    batch = stage.process(rows_to_batch(rows))
    counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    errors = []
    for i, (record, positive) in enumerate(records):
        reason = batch["_reject"][i]
        changed = any(batch[k][i] != record.get(k) for k in ("text", "output", "messages"))
        flagged = bool(reason) or changed
        key = ("t" if flagged == positive else "f") + ("p" if flagged else "n")
        counts[key] += 1
        if key in ("fp", "fn"):
            slop = (batch["meta"][i] or {}).get("slop", {})
            why = reason or ("stripped " + ", ".join(slop.get("stripped", [])) if changed else "")
            text = record.get("output") or record.get("text") or json.dumps(record.get("messages"))
            errors.append({"error": key, "why": why, "detail": batch["_reject_detail"][i], "text": text})
    precision = counts["tp"] / max(counts["tp"] + counts["fp"], 1)
    recall = counts["tp"] / max(counts["tp"] + counts["fn"], 1)
    return {**counts, "precision": round(precision, 3), "recall": round(recall, 3), "errors": errors}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", required=True, type=Path, help="Labelled JSONL file.")
    parser.add_argument("--show-errors", action="store_true", help="Print every false positive and negative.")
    parser.add_argument("--phrase-lists", action="append", default=[], help="CATEGORY=FILE (repeatable).")
    parser.add_argument("--regexes", action="append", default=[], help="CATEGORY=PATTERN (repeatable).")
    parser.add_argument("--actions", action="append", default=[], help="CATEGORY=ACTION (repeatable).")
    args = parser.parse_args(argv)
    try:
        config = FilterSlopConfig(
            phrase_lists=args.phrase_lists,
            regexes=args.regexes,
            actions=dict(item.split("=", 1) for item in args.actions),
        )
        result = evaluate(load(args.labels), config)
    except (DataprepError, ValueError) as exc:
        sys.exit(f"error: {exc}")
    if args.show_errors:
        for error in result["errors"]:
            print(f"{error['error'].upper()} [{error['why'] or 'not flagged'}] {error['text'][:160]}")
        print()
    total = sum(result[k] for k in ("tp", "fp", "fn", "tn"))
    print(
        f"{args.labels}: {total} records; refusal-or-disclaimer flagged (dropped or changed): "
        f"precision {result['precision']:.3f}, recall {result['recall']:.3f} "
        f"(tp {result['tp']}, fp {result['fp']}, fn {result['fn']}, tn {result['tn']})"
    )


if __name__ == "__main__":
    main()
