"""Accuracy of ``filter-language`` on a labelled JSONL file, and optionally lingua's beside it.

    python -m benchmarks.lang_quality --labels tests/data/lang_labelled.jsonl [--lingua] [--show-errors]

Each line: ``{"text": ..., "lang": "de"}``, the label an ISO 639-1 code, ``und`` (no language:
numbers, symbols, code) or ``mixed``. Reported: accuracy over the texts with a language (an
``und`` answer counts as wrong), how many of those got ``und`` instead of a guess, how many wrong
guesses were made, and how the ``und`` and ``mixed`` texts came out. ``--lingua`` scores
lingua-language-detector (if installed) on the same texts with the same threshold, and times both.
Options after ``--labels`` are filter-language's own (``--min-score 0.3``).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from dataprep.stages.privacy.language import MIXED, UNDETERMINED, FilterLanguage, FilterLanguageConfig


def load(path: Path) -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(row["text"], row["lang"]) for row in rows]


def score(predict: Any, rows: list[tuple[str, str]]) -> dict[str, Any]:
    start = time.perf_counter()
    answers = [predict(text) for text, _ in rows]
    seconds = time.perf_counter() - start
    real = [(gold, got) for (_, gold), got in zip(rows, answers) if gold not in (UNDETERMINED, MIXED)]
    per: dict[str, Counter[str]] = {}
    for gold, got in real:
        per.setdefault(gold, Counter())[got == gold] += 1
    special = {
        label: dict(Counter(got for (_, gold), got in zip(rows, answers) if gold == label))
        for label in (UNDETERMINED, MIXED)
    }
    right = sum(gold == got for gold, got in real)
    return {
        "texts": len(real),
        "accuracy": round(right / len(real), 3) if real else None,
        "right": right,
        "undetermined_instead": sum(got == UNDETERMINED for _, got in real),
        "wrong_guesses": sum(got not in (gold, UNDETERMINED, MIXED) for gold, got in real),
        "per_language": {lang: f"{c[True]}/{c[True] + c[False]}" for lang, c in sorted(per.items())},
        "und_texts": special[UNDETERMINED],
        "mixed_texts": special[MIXED],
        "texts_per_second": round(len(rows) / seconds, 1),
        "errors": [(gold, got, text) for (text, gold), got in zip(rows, answers) if got != gold],
    }


def lingua_predictor(min_score: float) -> Any:
    from lingua import LanguageDetectorBuilder

    detector = LanguageDetectorBuilder.from_all_languages().build()

    def predict(text: str) -> str:
        values = detector.compute_language_confidence_values(text)
        if not values or values[0].value < min_score:
            return UNDETERMINED
        return values[0].language.iso_code_639_1.name.lower()

    return predict


def main(argv: list[str] | None = None) -> None:
    import click

    from dataprep.cli.options import config_from_options, config_options

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=Path, required=True)
    parser.add_argument("--lingua", action="store_true", help="Also score lingua-language-detector.")
    parser.add_argument("--show-errors", action="store_true")
    args, rest = parser.parse_known_args(argv)
    command = click.Command("filter-language", params=config_options(FilterLanguageConfig), callback=lambda **kw: kw)
    config = config_from_options(FilterLanguageConfig, command.main(rest, standalone_mode=False), "filter-language")
    stage = FilterLanguage(config)
    stage.identify("warm up")
    rows = load(args.labels)
    results = {"py3langid (filter-language)": score(lambda text: stage.identify(text)[0], rows)}
    if args.lingua:
        results["lingua"] = score(lingua_predictor(config.min_score), rows)
    for name, result in results.items():
        print(
            f"{name}: accuracy {result['accuracy']} ({result['right']}/{result['texts']} texts with a language), "
            f"und instead of a guess {result['undetermined_instead']}, wrong guesses {result['wrong_guesses']}, "
            f"{result['texts_per_second']} texts/s"
        )
        print(f"  per language: {result['per_language']}")
        print(f"  und-labelled texts came out as {result['und_texts']}; mixed ones as {result['mixed_texts']}")
        if args.show_errors:
            for error in result["errors"]:
                print("  ", json.dumps(error, ensure_ascii=False))


if __name__ == "__main__":
    main()
