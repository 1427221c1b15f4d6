"""Main-text quality of extract-html against plain trafilatura and other extractors, page by page.

    python -m benchmarks.html_quality                  # our pages + the dev set when present
    python -m benchmarks.html_quality --pages DIR --gold ground-truth.json   # a Zyte-layout set too

Two kinds of gold, two metrics (:mod:`dataprep.evaluate.extraction`):

- **Full gold text**, scored with the token 4-gram shingle F1 of the Zyte
  article-extraction benchmark: our own 16 pages in ``tests/fixtures/html_quality``
  always, and any set given with ``--pages``/``--gold`` in that benchmark's layout
  (``html/<id>.html.gz`` and ``ground-truth.json`` mapping each id to
  ``{"articleBody": "..."}``, e.g. https://github.com/scrapinghub/article-extraction-benchmark).
- **Snippet gold**, scored with trafilatura's own metric (a ``with`` snippet found is a
  true positive, missed a false negative; a ``without`` snippet found is a false
  positive): the 272 real pages of ``../shared/devdata/html`` (``pages/`` and
  ``gold.jsonl``) relative to the repository root, read when present and reported as
  absent otherwise. Its text is never copied anywhere.

Every extractor reads the same decoded page, so the scores differ only by extraction.
Per page, the tables list each extractor's F1 (shingle sets) or its found / missed /
leaked snippets (snippet set; by default only the pages where the extractors disagree).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from dataprep.evaluate.extraction import (
    PageMatch,
    SnippetCounts,
    match,
    match_snippets,
    score,
    snippet_score,
)
from dataprep.io.readers import Reject
from dataprep.stages.base import StageContext
from dataprep.stages.extract.html import ExtractHtml, ExtractHtmlConfig
from dataprep.stages.extract.html_input import PageError, load_page

REPO = Path(__file__).resolve().parents[1]
OWN_PAGES = REPO / "tests" / "fixtures" / "html_quality"
DEVDATA = REPO.parent / "shared" / "devdata"
Extractor = Callable[[Path], str]
BASELINES = ("trafilatura", "trafilatura-no-comments", "resiliparse", "justext", "bs4-get-text")
DEFAULT_EXTRACTORS = "main,trafilatura,resiliparse,justext"


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


@cache
def _justext_stoplist() -> frozenset[str]:
    import justext

    # The pages are in many languages: one stoplist of them all, as trafilatura's own jusText fallback does.
    return frozenset(word for language in justext.get_stoplists() for word in justext.get_stoplist(language))


def baseline_extractor(name: str) -> Extractor:
    if name == "bs4-get-text":
        from bs4 import BeautifulSoup

        return lambda path: BeautifulSoup(_decoded(path), "lxml").get_text()
    if name in ("trafilatura", "trafilatura-no-comments"):
        import trafilatura

        comments = name == "trafilatura"
        return lambda path: trafilatura.extract(_decoded(path), include_comments=comments) or ""
    if name == "resiliparse":
        from resiliparse.extract.html2text import extract_plain_text

        return lambda path: extract_plain_text(_decoded(path), main_content=True)
    if name == "justext":
        import justext

        def extract(path: Path) -> str:
            html = _decoded(path)
            if not html.strip():
                return ""
            paragraphs = justext.justext(html, _justext_stoplist())
            return "\n\n".join(p.text for p in paragraphs if not p.is_boilerplate)

        return extract
    raise ValueError(f"unknown extractor {name!r}; choose main, text or one of {', '.join(BASELINES)}")


def find_pages(folder: Path, ids: list[str]) -> dict[str, Path]:
    pages: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.endswith((".html", ".html.gz", ".htm")):
            pages[path.name.split(".")[0]] = path
    missing = [page_id for page_id in ids if page_id not in pages]
    if missing:
        sys.exit(f"error: {len(missing)} gold ids have no page in {folder}, e.g. {missing[0]}")
    return {page_id: pages[page_id] for page_id in ids}


def _page_f1(m: PageMatch) -> float:
    p, r = m.precision or 0.0, m.recall or 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def shingle_set(
    title: str,
    pages: dict[str, Path],
    gold: dict[str, Any],
    extractors: dict[str, Extractor],
    per_page: bool,
    worst: int,
) -> dict[str, Any]:
    """Shingle F1 of every extractor on one set, with a per-page table of F1s."""
    print(f"\n{title}: {len(pages)} pages, token 4-gram shingle F1 (Zyte benchmark)")
    print(f"{'extractor':<26} {'precision':>9} {'recall':>7} {'F1':>6} {'pages':>6} {'docs/s':>7}")
    report: dict[str, Any] = {}
    table: dict[str, dict[str, float]] = {}
    for name, extract in extractors.items():
        start = time.perf_counter()
        results = {pid: match(gold[pid].get("articleBody", ""), extract(path)) for pid, path in pages.items()}
        seconds = time.perf_counter() - start
        scores = score(results.values())
        print(
            f"{name:<26} {scores.precision:>9.3f} {scores.recall:>7.3f} {scores.f1:>6.3f} {scores.pages:>6} "
            f"{len(pages) / seconds:>7.1f}"
        )
        table[name] = {pid: round(_page_f1(m), 4) for pid, m in results.items()}
        report[name] = {**scores.__dict__, "pages_f1": table[name]}
        for pid in sorted(table[name], key=table[name].get)[:worst]:
            m = results[pid]
            print(f"    {table[name][pid]:.3f}  P={m.precision or 0:.3f} R={m.recall or 0:.3f}  {pid}")
    if per_page:
        names = list(extractors)
        print("  per page F1: " + " ".join(f"{name[:12]:>12}" for name in names))
        for pid in pages:
            print(f"  {pid[:40]:<40} " + " ".join(f"{table[name][pid]:>12.3f}" for name in names))
    return report


def load_snippet_gold(folder: Path) -> tuple[dict[str, Path], dict[str, dict[str, list[str]]]]:
    gold: dict[str, dict[str, list[str]]] = {}
    for line in (folder / "gold.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            entry = json.loads(line)
            gold[entry["id"]] = {"with": entry["with"], "without": entry["without"]}
    pages = {pid: folder / "pages" / pid for pid in sorted(gold)}
    missing = [pid for pid, path in pages.items() if not path.is_file()]
    if missing:
        sys.exit(f"error: {len(missing)} gold ids have no page in {folder / 'pages'}, e.g. {missing[0]}")
    return pages, gold


def snippet_set(
    title: str,
    pages: dict[str, Path],
    gold: dict[str, dict[str, list[str]]],
    extractors: dict[str, Extractor],
    all_pages: bool,
) -> dict[str, Any]:
    """Snippet P/R/F1 of every extractor, with the pages where they disagree (or every page)."""
    snippets = sum(len(g["with"]) + len(g["without"]) for g in gold.values())
    print(f"\n{title}: {len(pages)} pages, {snippets} snippets, must-contain / must-not-contain metric")
    print(f"{'extractor':<26} {'precision':>9} {'recall':>7} {'F1':>6} {'accuracy':>8} {'docs/s':>7}")
    report: dict[str, Any] = {}
    table: dict[str, dict[str, SnippetCounts]] = {}
    for name, extract in extractors.items():
        start = time.perf_counter()
        table[name] = {
            pid: match_snippets(extract(path), gold[pid]["with"], gold[pid]["without"]) for pid, path in pages.items()
        }
        seconds = time.perf_counter() - start
        scores = snippet_score(table[name].values())
        print(
            f"{name:<26} {scores.precision:>9.3f} {scores.recall:>7.3f} {scores.f1:>6.3f} {scores.accuracy:>8.3f} "
            f"{len(pages) / seconds:>7.1f}"
        )
        counts = {pid: [c.tp, c.fn, c.fp, c.tn] for pid, c in table[name].items()}
        report[name] = {**scores.__dict__, "pages_tp_fn_fp_tn": counts}
    names = list(extractors)
    # The comparison that matters is ours against the next extractor (plain trafilatura by default).
    pair = names[:2]
    shown = [pid for pid in pages if all_pages or len({table[n][pid] for n in pair}) > 1]
    which = "" if all_pages else f" where {' and '.join(pair)} differ"
    print(f"  per page, with-snippets found / all and without-snippets leaked / all ({len(shown)} pages{which})")
    print("  " + " " * 40 + " ".join(f"{name[:12]:>12}" for name in names))
    for pid in shown:
        cells = []
        for name in names:
            c = table[name][pid]
            cells.append(f"{c.tp}/{c.tp + c.fn} {c.fp}/{c.fp + c.tn}")
        print(f"  {pid[:40]:<40} " + " ".join(f"{cell:>12}" for cell in cells))
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=Path, help="A further set: folder of <id>.html or <id>.html.gz pages.")
    parser.add_argument("--gold", type=Path, help='Its gold, JSON: {id: {"articleBody": text}}.')
    parser.add_argument(
        "--devdata", type=Path, default=DEVDATA, help="Folder holding html/pages and html/gold.jsonl (snippet gold)."
    )
    parser.add_argument("--no-own", action="store_true", help="Skip our own pages in tests/fixtures/html_quality.")
    parser.add_argument("--no-dev", action="store_true", help="Skip the snippet-gold dev set.")
    parser.add_argument(
        "--extractors",
        default=DEFAULT_EXTRACTORS,
        help="Comma-separated: main, text (extract-html modes) and baselines " + ", ".join(BASELINES) + ".",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="OPTION=VALUE", help="extract-html option, e.g. favor=precision."
    )
    parser.add_argument("--worst", type=int, default=0, help="Shingle sets: list the N worst pages of each extractor.")
    parser.add_argument(
        "--all-pages", action="store_true", help="Snippet set: list every page, not only disagreements."
    )
    parser.add_argument("--json", type=Path, help="Write scores and per-page results here.")
    args = parser.parse_args(argv)
    if (args.pages is None) != (args.gold is None):
        parser.error("--pages and --gold go together")

    options = {}
    for item in args.set:
        key, _, value = item.partition("=")
        options[key] = json.loads(value) if value in ("true", "false") or value.isdigit() else value
    extractors = {
        name: stage_extractor(name, options) if name in ("main", "text") else baseline_extractor(name)
        for name in args.extractors.split(",")
    }

    report: dict[str, Any] = {}
    if not args.no_own:
        gold = json.loads((OWN_PAGES / "ground-truth.json").read_text(encoding="utf-8"))
        pages = find_pages(OWN_PAGES / "html", sorted(gold))
        report["own"] = shingle_set(
            "our pages (tests/fixtures/html_quality)", pages, gold, extractors, True, args.worst
        )
    if args.pages is not None:
        gold = json.loads(args.gold.read_text(encoding="utf-8"))
        folder = args.pages / "html" if (args.pages / "html").is_dir() else args.pages
        pages = find_pages(folder, sorted(gold))
        report["pages"] = shingle_set(f"{args.gold}", pages, gold, extractors, False, args.worst)
    if not args.no_dev:
        dev = args.devdata / "html"
        if (dev / "gold.jsonl").is_file():
            pages, snippet_gold = load_snippet_gold(dev)
            report["dev"] = snippet_set(f"dev set ({dev})", pages, snippet_gold, extractors, args.all_pages)
        else:
            print(f"\ndev set: {dev / 'gold.jsonl'} is absent, so the snippet-gold pages were not scored")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
