"""Precision and recall of ``redact-pii``'s detectors per category, on a labelled JSONL file.

    python -m benchmarks.pii_quality --labels tests/data/pii_labelled.jsonl [--show-errors]

Each line holds ``text`` and ``spans``: ``[[start, end, category], ...]``, every item of
personal data or secret in the text (an empty list for a record of hard negatives only). A
found span is a true positive when it overlaps a labelled span of its category; every other
found span is a false positive and every labelled span that none overlaps a false negative.
Options after ``--labels`` are redact-pii's own, as on the command line (``--phone-regions US,GB``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from dataprep.errors import DataprepError
from dataprep.stages.privacy.detect import Finding
from dataprep.stages.privacy.redact import RedactPii, RedactPiiConfig


def load(path: Path) -> list[tuple[str, list[Finding]]]:
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            obj = json.loads(line)
            try:
                records.append((obj["text"], [Finding(int(s), int(e), str(c)) for s, e, c in obj["spans"]]))
            except (KeyError, TypeError, ValueError) as exc:
                raise DataprepError(f"{path}:{number}: needs text and spans [[start, end, category]] ({exc}).") from exc
    return records


def evaluate(stage: RedactPii, records: list[tuple[str, list[Finding]]]) -> dict[str, Any]:
    """Per category: tp, fp, fn, precision, recall; and the records it got wrong."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    errors = []
    for text, gold in records:
        found = stage.find(text)
        hit = [any(f.category == g.category and f.start < g.end and g.start < f.end for f in found) for g in gold]
        real = [any(f.category == g.category and f.start < g.end and g.start < f.end for g in gold) for f in found]
        tp.update(g.category for g, ok in zip(gold, hit) if ok)
        fn.update(g.category for g, ok in zip(gold, hit) if not ok)
        fp.update(f.category for f, ok in zip(found, real) if not ok)
        if not all(hit) or not all(real):
            errors.append(
                {
                    "text": text,
                    "missed": [[g.category, text[g.start : g.end]] for g, ok in zip(gold, hit) if not ok],
                    "wrong": [[f.category, text[f.start : f.end]] for f, ok in zip(found, real) if not ok],
                }
            )
    per = {}
    for category in sorted(set(tp) | set(fp) | set(fn)):
        t, p, n = tp[category], fp[category], fn[category]
        per[category] = {
            "tp": t,
            "fp": p,
            "fn": n,
            "precision": round(t / (t + p), 3) if t + p else None,
            "recall": round(t / (t + n), 3) if t + n else None,
        }
    total_tp, total_fp, total_fn = sum(tp.values()), sum(fp.values()), sum(fn.values())
    per["all"] = {
        "tp": total_tp,
        "fp": total_fp,
        "fn": total_fn,
        "precision": round(total_tp / (total_tp + total_fp), 3) if total_tp + total_fp else None,
        "recall": round(total_tp / (total_tp + total_fn), 3) if total_tp + total_fn else None,
    }
    return {"records": len(records), "categories": per, "errors": errors}


def main(argv: list[str] | None = None) -> None:
    from dataprep.cli.options import config_from_options, config_options

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=Path, required=True)
    parser.add_argument("--show-errors", action="store_true")
    args, rest = parser.parse_known_args(argv)
    import click

    command = click.Command("redact-pii", params=config_options(RedactPiiConfig), callback=lambda **kw: kw)
    values = command.main(rest, standalone_mode=False)
    config = config_from_options(RedactPiiConfig, values, "redact-pii")
    result = evaluate(RedactPii(config), load(args.labels))
    print(f"{args.labels}: {result['records']} records")
    print(f"{'category':<10} {'tp':>5} {'fp':>5} {'fn':>5} {'precision':>10} {'recall':>8}")
    for category, row in result["categories"].items():
        print(
            f"{category:<10} {row['tp']:>5} {row['fp']:>5} {row['fn']:>5} "
            f"{_pct(row['precision']):>10} {_pct(row['recall']):>8}"
        )
    if args.show_errors:
        for error in result["errors"]:
            print(json.dumps(error, ensure_ascii=False))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    try:
        main()
    except DataprepError as exc:
        sys.exit(f"error: {exc}")
