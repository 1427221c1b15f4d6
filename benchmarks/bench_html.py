"""extract-html in each mode against BeautifulSoup ``get_text()`` and plain ``trafilatura.extract``.

The pages come from three templates (a news article, a forum thread, a product Q&A
page) with boilerplate (menus, a cookie banner, inline scripts and styles, comments,
related links, a footer) around text drawn from a seed, about 40 KB each, close to the
median HTML page. Every line times our stage end to end (read, decode, extract,
write Parquet) and the baseline (read, extract) on the same files in the same process;
each baseline is timed once and shared by the lines that compare against it.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import time
from pathlib import Path

import trafilatura
from bs4 import BeautifulSoup

from benchmarks.common import Result, Side
from benchmarks.corpus import TOPICS, sentence
from dataprep.stages.base import StageContext
from dataprep.stages.extract.html import ExtractHtml, ExtractHtmlConfig

# trafilatura runs at tens of pages a second; past this the run takes hours, not minutes.
MAX_PAGES = 5000
SELECT_FIELDS = {"input": ".qa-question .qa-body", "output": ".qa-answer .qa-body"}


def _paragraphs(rng: random.Random, topic: str, count: int) -> str:
    return "".join(
        f"<p>{' '.join(sentence(rng, topic, rng.randint(10, 22)) for _ in range(rng.randint(2, 5)))}</p>"
        for _ in range(count)
    )


def _chrome(rng: random.Random, title: str, body: str) -> str:
    links = "".join(f'<li><a href="/section/{i}">Section {i}</a></li>' for i in range(40))
    state = json.dumps({"user": None, "ads": [{"slot": f"s{i}", "sizes": [[300, 250], [728, 90]]} for i in range(120)]})
    css = "".join(f".c{i}{{margin:{i % 7}px;padding:{i % 5}px;color:#{i:06x}}}" for i in range(250))
    related = "".join(
        f'<li><a href="/story/{rng.randint(1, 99999)}">{sentence(rng, rng.choice(list(TOPICS)), 8)}</a></li>'
        for _ in range(8)
    )
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="canonical" href="https://site.example/{rng.randint(1, 10**9)}"><style>{css}</style>
<script>window.__STATE__ = {state};</script></head><body>
<div class="cookie-banner" id="cookie-consent"><p>We use cookies to personalise content and ads
and to analyse our traffic.</p><button>Accept all</button><button>Settings</button></div>
<header><a class="logo" href="/">Site</a><nav class="main-nav"><ul>{links}</ul></nav></header>
<div class="ad ad-top">Advertisement</div>
{body}
<aside class="related"><h2>Related</h2><ul>{related}</ul></aside>
<footer><ul>{links}</ul><p>Copyright 2024 Site Media. All rights reserved.</p></footer>
<script src="/static/app.js"></script></body></html>"""


def article(rng: random.Random, topic: str) -> str:
    comments = "".join(
        f'<div class="comment"><b>user{rng.randint(1, 999)}</b><p>{sentence(rng, topic, 14)}</p></div>'
        for _ in range(rng.randint(2, 8))
    )
    title = sentence(rng, topic, 8)
    body = (
        f'<main><article><h1>{title}</h1><p class="byline">By Staff</p>{_paragraphs(rng, topic, rng.randint(6, 14))}'
        f'</article><section class="comments"><h2>Comments</h2>{comments}</section></main>'
    )
    return _chrome(rng, title, body)


def forum(rng: random.Random, topic: str) -> str:
    posts = "".join(
        f'<div class="post"><dl class="postprofile"><dt>user{rng.randint(1, 999)}</dt><dd>Posts: {rng.randint(1, 9999)}'
        f'</dd></dl><div class="postbody"><div class="content">{_paragraphs(rng, topic, rng.randint(1, 3))}</div>'
        f'<div class="signature">{sentence(rng, topic, 6)}</div></div></div>'
        for _ in range(rng.randint(3, 12))
    )
    title = sentence(rng, topic, 7)
    return _chrome(rng, title, f'<div id="page-body"><h2 class="topic-title">{title}</h2>{posts}</div>')


def qa(rng: random.Random, topic: str) -> str:
    threads = "".join(
        f'<div class="qa-thread"><div class="qa-question"><div class="qa-body">{sentence(rng, topic, 12)[:-1]}?</div>'
        f'</div><div class="qa-answer"><div class="qa-body">{_paragraphs(rng, topic, 1)}</div></div></div>'
        for _ in range(rng.randint(3, 10))
    )
    return _chrome(rng, "Questions and answers", f'<main class="qa-page"><h1>Questions</h1>{threads}</main>')


def write_pages(folder: Path, count: int, seed: int = 0) -> list[Path]:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        template = (article, article, forum, qa)[i % 4]
        path = folder / f"page-{i:06d}.html"
        path.write_text(template(rng, rng.choice(list(TOPICS))), encoding="utf-8")
        paths.append(path)
    return paths


def run(records: int, workdir: Path) -> list[Result]:
    pages = min(records, MAX_PAGES)
    if pages < records:
        print(f"  html: {pages:,} pages (capped from {records:,}; trafilatura runs at tens of pages a second)")
    paths = write_pages(workdir / "html-pages", pages)
    megabytes = sum(p.stat().st_size for p in paths) / 1e6
    out = Path(tempfile.mkdtemp(dir=workdir))

    def stage(config: ExtractHtmlConfig):
        def go() -> None:
            shutil.rmtree(out / "o", ignore_errors=True)
            ExtractHtml(config, StageContext(quiet=True)).run([workdir / "html-pages"], out / "o")

        return go

    def get_text() -> None:
        for path in paths:
            BeautifulSoup(path.read_text(encoding="utf-8"), "lxml").get_text()

    def plain_trafilatura() -> None:
        for path in paths:
            trafilatura.extract(path.read_text(encoding="utf-8"))

    contenders = {
        "bs4 get_text": get_text,
        "trafilatura.extract": plain_trafilatura,
        "main": stage(ExtractHtmlConfig(mode="main")),
        "text": stage(ExtractHtmlConfig(mode="text")),
        "select": stage(ExtractHtmlConfig(mode="select", field=SELECT_FIELDS)),
    }
    # Rounds over every contender, best of each: on a shared machine the load drifts, and
    # timing all of one contender's repeats back to back would hand it a different machine.
    sides = {name: Side() for name in contenders}
    cpu_seconds = dict.fromkeys(contenders, float("inf"))
    for _ in range(3 if pages <= 500 else 1):
        for name, fn in contenders.items():
            cpu_start = time.process_time()
            sides[name].run(fn)
            cpu_seconds[name] = min(cpu_seconds[name], time.process_time() - cpu_start)
    # All of it is single-threaded, so CPU time is the steadier figure where other jobs
    # share the cores (wall-clock ratios swing with their load).
    for name, cpu in cpu_seconds.items():
        print(f"  html: {name:<20} {pages / cpu:7.1f} pages per CPU-second ({pages / sides[name].seconds:.1f} wall)")
    return [
        Result.of("html", f"{mode} vs {baseline}", baseline, pages, megabytes, sides[mode], sides[baseline])
        for mode in ("main", "text", "select")
        for baseline in ("bs4 get_text", "trafilatura.extract")
    ]
