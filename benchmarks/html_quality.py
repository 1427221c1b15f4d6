"""Main-text quality of extract-html against gold text, scored like the Zyte article-extraction benchmark.

    python -m benchmarks.html_quality --pages tests/fixtures/html_quality/html \\
        --gold tests/fixtures/html_quality/ground-truth.json

``--pages`` is a folder of ``<id>.html`` or ``<id>.html.gz`` files and ``--gold`` a JSON
file mapping each id to ``{"articleBody": "..."}``: the layout of
https://github.com/scrapinghub/article-extraction-benchmark (``html/`` and
``ground-truth.json``) and of our own page set. Every extractor reads the same
decoded page, so the scores differ only by extraction.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trafilatura
from bs4 import BeautifulSoup

from dataprep.evaluate.extraction import PageMatch, match, score
from dataprep.io.readers import Reject
from dataprep.stages.base import StageContext
from dataprep.stages.extract.html import ExtractHtml, ExtractHtmlConfig
from dataprep.stages.extract.html_input import PageError, load_page

Extractor = Callable[[Path], str]
BASELINES = ("bs4-get-text", "trafilatura", "trafilatura-no-comments")


def stage_extractor(mode: str, options: dict[str, Any]) -> Extractor:
    stage = ExtractHtml(ExtractHtmlConfig(mode=mode, **options), StageContext(quiet=True))

    def extract(path: Path) -> str:
        texts = [item["text"] for item in stage.read(path) if not isinstance(item, Reject)]
        return "\n".join(texts)

    return extract


def _decoded(path: Path) -> str:
    try:
        return load_page(path, max_bytes=1 << 31).html
    except PageError:
        return ""


def baseline_extractor(name: str) -> Extractor:
    if name == "bs4-get-text":
        return lambda path: BeautifulSoup(_decoded(path), "lxml").get_text()
    if name == "trafilatura":
        return lambda path: trafilatura.extract(_decoded(path)) or ""
    if name == "trafilatura-no-comments":
        return lambda path: trafilatura.extract(_decoded(path), include_comments=False) or ""
    raise ValueError(name)


def find_pages(folder: Path, ids: list[str]) -> dict[str, Path]:
    pages: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.endswith((".html", ".html.gz", ".htm")):
            pages[path.name.split(".")[0]] = path
    missing = [page_id for page_id in ids if page_id not in pages]
    if missing:
        sys.exit(f"error: {len(missing)} gold ids have no page in {folder}, e.g. {missing[0]}")
    return {page_id: pages[page_id] for page_id in ids}


def evaluate(extract: Extractor, pages: dict[str, Path], gold: dict[str, Any]) -> tuple[dict[str, PageMatch], float]:
    start = time.perf_counter()
    results = {page_id: match(gold[page_id].get("articleBody", ""), extract(path)) for page_id, path in pages.items()}
    return results, time.perf_counter() - start


def _page_f1(m: PageMatch) -> float:
    p, r = m.precision or 0.0, m.recall or 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=Path, required=True, help="Folder of <id>.html or <id>.html.gz pages.")
    parser.add_argument("--gold", type=Path, required=True, help='JSON: {id: {"articleBody": text}}.')
    parser.add_argument(
        "--extractors",
        default="main,text," + ",".join(BASELINES),
        help="Comma-separated: main, text (extract-html modes) and baselines " + ", ".join(BASELINES) + ".",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="OPTION=VALUE", help="extract-html option, e.g. favor=precision."
    )
    parser.add_argument("--worst", type=int, default=0, help="List the N worst pages of each extractor.")
    parser.add_argument("--json", type=Path, help="Write scores and per-page F1 here.")
    args = parser.parse_args(argv)

    gold = json.loads(args.gold.read_text(encoding="utf-8"))
    folder = args.pages / "html" if (args.pages / "html").is_dir() else args.pages
    pages = find_pages(folder, sorted(gold))
    options = {}
    for item in args.set:
        key, _, value = item.partition("=")
        options[key] = json.loads(value) if value in ("true", "false") or value.isdigit() else value

    report: dict[str, Any] = {}
    print(f"{'extractor':<26} {'precision':>9} {'recall':>7} {'F1':>6} {'pages':>6} {'docs/s':>7}")
    for name in args.extractors.split(","):
        extract = stage_extractor(name, options) if name in ("main", "text") else baseline_extractor(name)
        results, seconds = evaluate(extract, pages, gold)
        scores = score(results.values())
        print(
            f"{name:<26} {scores.precision:>9.3f} {scores.recall:>7.3f} {scores.f1:>6.3f} {scores.pages:>6} "
            f"{len(pages) / seconds:>7.1f}"
        )
        per_page = {page_id: round(_page_f1(m), 4) for page_id, m in results.items()}
        report[name] = {**scores.__dict__, "pages_f1": per_page}
        for page_id in sorted(per_page, key=per_page.get)[: args.worst]:
            m = results[page_id]
            print(f"    {per_page[page_id]:.3f}  P={m.precision or 0:.3f} R={m.recall or 0:.3f}  {page_id}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
