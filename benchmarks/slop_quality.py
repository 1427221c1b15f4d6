"""Precision and recall of ``filter-slop`` for refusals and AI disclaimers.

    python -m benchmarks.slop_quality [--devdata DIR] [--split all|tuning|heldout] [--show-errors]
    python -m benchmarks.slop_quality --labels my_labelled.jsonl [--show-errors]

Without ``--labels`` it scores real third-party data in ``../shared/devdata``
(from the repo root; ``--devdata`` to point elsewhere) and says so when that is
absent:

- ``benchmarks/labels/slop_dev_labels.jsonl``: AlpacaEval dev answers of ten
  chat models, labelled by hand (refusal / disclaimer / clean, with the span of
  the deciding sentence) before the filter was tuned on them. The file holds
  ids, labels and offsets only; the text is read from the dev data. A seeded
  fifth is marked ``heldout``: scored, but its errors are never printed, so
  nobody tunes on it. Figures are given per generator and for the tuning and
  held-aside parts.
- ``slop/xstest/*.csv``: XSTest completions with the authors' human labels
  (full or partial refusal = positive, full compliance = negative), a second,
  independent check.

With ``--labels`` it scores your own JSONL file: each line holds the response as
``output``, ``text`` or ``messages``, and a ``label``: ``refusal``,
``ai-disclaimer`` or ``disclaimer`` (positive), or ``clean`` (negative);
``true``/``false`` and ``1``/``0`` also work.

A record counts as flagged when filter-slop drops it or changes it (strips a
sentence); gptism flags alone do not count. Options after these are
filter-slop's own (``--phrase-lists``, ``--actions``...), as on the command line.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from dataprep.errors import DataprepError
from dataprep.records import coerce_record, rows_to_batch
from dataprep.stages.base import StageContext
from dataprep.stages.filters.slop import FilterSlop, FilterSlopConfig

REPO = Path(__file__).resolve().parent.parent
DEV_LABELS = REPO / "benchmarks" / "labels" / "slop_dev_labels.jsonl"
ALPACA = "slop/alpaca_eval_dev_outputs.jsonl"
XSTEST = "slop/xstest"
POSITIVE = {"refusal", "ai-disclaimer", "disclaimer", "positive", "true", "1"}
NEGATIVE = {"clean", "negative", "false", "0"}
XSTEST_POSITIVE = {"2_full_refusal", "3_partial_refusal"}
XSTEST_NEGATIVE = {"1_full_compliance"}


def devdata_dir() -> Path | None:
    """``../shared/devdata`` from the repo root (or from the folder above it, for a git worktree)."""
    for root in (REPO.parent, REPO.parent.parent):
        if (root / "shared" / "devdata").is_dir():
            return root / "shared" / "devdata"
    return None


def _response(output: str, where: str) -> dict[str, Any]:
    # Labelled sets hold responses without their prompts; the prompt is never checked by default.
    return coerce_record({"input": "", "output": output}, where)


def load(path: Path) -> list[tuple[dict[str, Any], bool]]:
    """Your own labelled JSONL: [(record, positive)]."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataprepError(f"{path}: no such labels file; give the path of a labelled JSONL file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataprepError(f"{path}: cannot read this labels file ({exc}); give a UTF-8 JSONL file.") from exc
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataprepError(f"{path}:{number}: not JSON ({exc.msg}); one JSON object per line.") from None
        label = str(obj.pop("label", "")).strip().lower()
        if label not in POSITIVE | NEGATIVE:
            raise DataprepError(f"{path}:{number}: label {label!r} is not one of {sorted(POSITIVE | NEGATIVE)}.")
        if obj.get("output") is not None and obj.get("input") is None:
            obj["input"] = ""
        records.append((coerce_record(obj, f"{path}#line={number}"), label in POSITIVE))
    return records


def load_dev(devdata: Path, labels: Path = DEV_LABELS) -> list[dict[str, Any]]:
    """The hand labels joined with the dev answers: [{id, generator, heldout, label, span, record, positive}]."""
    texts: dict[str, str] = {}
    with open(devdata / ALPACA, encoding="utf-8") as handle:
        for line in handle:
            obj = json.loads(line)
            texts[obj["id"]] = obj["output"]
    rows = []
    for number, line in enumerate(labels.read_text(encoding="utf-8").splitlines(), start=1):
        label = json.loads(line)
        if label["id"] not in texts:
            raise DataprepError(f"{labels}:{number}: id {label['id']!r} is not in {devdata / ALPACA}.")
        where = f"{ALPACA}#id={label['id']}"
        rows.append({**label, "record": _response(texts[label["id"]], where), "positive": label["label"] != "clean"})
    return rows


def load_xstest(devdata: Path) -> list[dict[str, Any]]:
    """XSTest completions with their human labels: [{id, generator, record, positive}]."""
    rows = []
    for path in sorted((devdata / XSTEST).glob("*.csv")):
        model = path.stem.rsplit("_", 1)[-1]
        with open(path, encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                label = row["final_label"].strip()
                if label not in XSTEST_POSITIVE | XSTEST_NEGATIVE or not row["completion"].strip():
                    continue
                where = f"{path.name}#id={row['id']}"
                record = _response(row["completion"], where)
                rows.append(
                    {
                        "id": f"{model}/{row['id']}",
                        "generator": model,
                        "record": record,
                        "positive": label in XSTEST_POSITIVE,
                    }
                )
    return rows


def evaluate(records: list[tuple[dict[str, Any], bool]], config: FilterSlopConfig) -> dict[str, Any]:
    """Run filter-slop on every record; return counts, precision, recall and the errors."""
    stage = FilterSlop(config, StageContext(quiet=True))
    batch = stage.process(rows_to_batch([dict(r) for r, _ in records]))
    counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    errors = []
    flags = []
    dropped = []
    for i, (record, positive) in enumerate(records):
        reason = batch["_reject"][i]
        dropped.append(bool(reason))
        changed = any(batch[k][i] != record.get(k) for k in ("text", "output", "messages"))
        flagged = bool(reason) or changed
        flags.append(flagged)
        key = ("t" if flagged == positive else "f") + ("p" if flagged else "n")
        counts[key] += 1
        if key in ("fp", "fn"):
            slop = (batch["meta"][i] or {}).get("slop", {})
            why = reason or ("stripped " + ", ".join(slop.get("stripped", [])) if changed else "")
            text = record.get("output") or record.get("text") or json.dumps(record.get("messages"))
            errors.append({"error": key, "why": why, "detail": batch["_reject_detail"][i], "text": text, "index": i})
    return {**score(counts), "errors": errors, "flagged": flags, "dropped": dropped, "summary": stage.summary()}


def score(counts: dict[str, int]) -> dict[str, Any]:
    """Counts with precision and recall; None where undefined (nothing flagged, no positives)."""
    flagged, positives = counts["tp"] + counts["fp"], counts["tp"] + counts["fn"]
    precision = round(counts["tp"] / flagged, 3) if flagged else None
    recall = round(counts["tp"] / positives, 3) if positives else None
    return {**counts, "precision": precision, "recall": recall}


def _ratio(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.3f}"


def _line(name: str, result: dict[str, Any]) -> str:
    n = sum(result[k] for k in ("tp", "fp", "fn", "tn"))
    return (
        f"  {name:<24} {n:>5} {result['tp'] + result['fn']:>5}"
        f"   P {_ratio(result['precision'])}  R {_ratio(result['recall'])}"
        f"   (tp {result['tp']}, fp {result['fp']}, fn {result['fn']}, tn {result['tn']})"
    )


def report(title: str, rows: list[dict[str, Any]], flags: list[bool], parts: dict[str, Any]) -> dict[str, Any]:
    """Print P/R overall, per part and per generator; return the figures."""

    def counts(selected: list[int]) -> dict[str, Any]:
        c = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
        for i in selected:
            c[("t" if flags[i] == rows[i]["positive"] else "f") + ("p" if flags[i] else "n")] += 1
        return score(c)

    print(f"{title}\n  {'':<24} {'n':>5} {'pos':>5}")
    figures: dict[str, Any] = {}
    for name, keep in parts.items():
        figures[name] = counts([i for i, r in enumerate(rows) if keep(r)])
        print(_line(name, figures[name]))
    by_generator: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_generator[r["generator"]].append(i)
    figures["generators"] = {}
    for generator in sorted(by_generator):
        figures["generators"][generator] = counts(by_generator[generator])
        print(_line(generator, figures["generators"][generator]))
    return figures


def run_dev(devdata: Path, config: FilterSlopConfig, split: str, show_errors: bool) -> dict[str, Any]:
    rows = load_dev(devdata)
    result = evaluate([(r["record"], r["positive"]) for r in rows], config)
    flags = result["flagged"]
    parts = {
        "all labels": lambda r: True,
        "tuning (4/5)": lambda r: not r["heldout"],
        "held-aside (1/5)": lambda r: r["heldout"],
    }
    keep = {"all": parts["all labels"], "tuning": parts["tuning (4/5)"], "heldout": parts["held-aside (1/5)"]}[split]
    shown = [r for r in rows if keep(r)]
    figures = report(
        f"AlpacaEval dev answers, hand-labelled ({DEV_LABELS.relative_to(REPO)}), split {split}:",
        shown,
        [f for f, r in zip(flags, rows) if keep(r)],
        {name: test for name, test in parts.items() if split == "all" or test is keep},
    )
    if show_errors:
        for error in result["errors"]:
            row = rows[error["index"]]
            if row["heldout"]:
                continue  # the held-aside fifth is never looked at
            why = error["why"] or "not flagged"
            span = row.get("span")
            sentence = error["text"][span[0] : span[1]] if span else error["text"][:160]
            print(f"    {error['error'].upper()} {row['id']} [{why}] {sentence!r}")
    return figures


def run_xstest(devdata: Path, config: FilterSlopConfig, show_errors: bool) -> dict[str, Any]:
    rows = load_xstest(devdata)
    result = evaluate([(r["record"], r["positive"]) for r in rows], config)
    figures = report(
        "XSTest v2 completions, the authors' human labels (full or partial refusal vs full compliance), "
        "flagged = dropped or changed:",
        rows,
        result["flagged"],
        {"all": lambda r: True},
    )
    # XSTest counts an answer with an AI disclaimer as compliance; a stripped disclaimer is then a
    # "false positive" by its labels, so the records dropped alone are the closer measure of refusals.
    figures["dropped only"] = report(
        "XSTest, flagged = dropped only:", rows, result["dropped"], {"all": lambda r: True}
    )
    if show_errors:
        for error in result["errors"]:
            row = rows[error["index"]]
            print(f"    {error['error'].upper()} {row['id']} [{error['why'] or 'not flagged'}] {error['text'][:160]!r}")
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=Path, help="Your own labelled JSONL file (default: the dev data).")
    parser.add_argument("--devdata", type=Path, help="The shared dev data folder (default: ../shared/devdata).")
    parser.add_argument("--split", choices=["all", "tuning", "heldout"], default="all", help="Which dev labels.")
    parser.add_argument("--no-xstest", action="store_true", help="Skip the XSTest check.")
    parser.add_argument("--json", type=Path, help="Also write the figures to this JSON file.")
    parser.add_argument("--show-errors", action="store_true", help="Print false positives and negatives.")
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
        if args.labels is not None:
            result = evaluate(load(args.labels), config)
        else:
            devdata = args.devdata or devdata_dir()
            if devdata is None or not (devdata / ALPACA).is_file():
                where = devdata or "../shared/devdata"
                print(f"no dev data at {where} (it is not part of the repo); nothing to score. Give --labels FILE.")
                return
            figures = {"dev": run_dev(devdata, config, args.split, args.show_errors)}
            if not args.no_xstest and (devdata / XSTEST).is_dir():
                figures["xstest"] = run_xstest(devdata, config, args.show_errors)
            if args.json:
                args.json.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
            return
    except (DataprepError, ValueError) as exc:
        sys.exit(f"error: {exc}")
    if args.show_errors:
        for error in result["errors"]:
            print(f"{error['error'].upper()} [{error['why'] or 'not flagged'}] {error['text'][:160]}")
        print()
    total = sum(result[k] for k in ("tp", "fp", "fn", "tn"))
    print(
        f"{args.labels}: {total} records; refusal-or-disclaimer flagged (dropped or changed): "
        f"precision {_ratio(result['precision'])}, recall {_ratio(result['recall'])} "
        f"(tp {result['tp']}, fp {result['fp']}, fn {result['fn']}, tn {result['tn']})"
    )


if __name__ == "__main__":
    main()
