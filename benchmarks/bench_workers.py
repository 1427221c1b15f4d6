"""``workers: N`` (one worker process per core) against ``workers: 1`` on the same stage and data.

Two whole stages, end to end (read, work, write Parquet), the stage's own output checked equal
byte for byte between the two before any timing:

- extract-html (main mode) on bench_html's pages (about 40 KB each): the workers read and
  extract whole pages;
- filter-slop (every built-in list, cues, families and scorer) on bench_slop's JSONL records:
  the workers parse the JSONL lines and run the matcher; this process writes.

Each side is timed in alternating rounds, best of three, so load from other work on the machine
lands on both. The workers' side includes starting its pool (the process is forked, a few
milliseconds) and each worker building the stage.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from benchmarks.bench_html import write_pages
from benchmarks.bench_slop import corpus, phrase_set
from benchmarks.common import Result, compare
from dataprep.executors import LOCAL, local_engine
from dataprep.io.writers import JsonlWriter
from dataprep.records import new_record, rows_to_batch
from dataprep.stages.base import StageContext
from dataprep.stages.extract.html import ExtractHtml, ExtractHtmlConfig
from dataprep.stages.filters.slop import FilterSlop, FilterSlopConfig

#: trafilatura runs at tens of pages a second per core: enough pages for a few seconds.
MAX_PAGES = 600


def _same_output(a: Path, b: Path) -> None:
    files_a = sorted(p.name for p in a.iterdir() if p.name != "stats.json")
    files_b = sorted(p.name for p in b.iterdir() if p.name != "stats.json")
    assert files_a == files_b, (files_a, files_b)
    for name in files_a:
        assert (a / name).read_bytes() == (b / name).read_bytes(), f"{name} differs between workers: 1 and N"


def run(records: int, workdir: Path) -> list[Result]:
    engine = local_engine(None)
    workers = getattr(engine, "workers", 1)
    out = Path(tempfile.mkdtemp(dir=workdir))
    results = []

    def timed(stage_cls, config, inputs, name, engine):
        def go() -> None:
            shutil.rmtree(out / name, ignore_errors=True)
            stage_cls(config, StageContext(quiet=True, engine=engine)).run(inputs, out / name)

        return go

    pages = min(records, MAX_PAGES)
    paths = write_pages(workdir / "html-pages", pages)
    megabytes = sum(p.stat().st_size for p in paths) / 1e6
    html = ExtractHtmlConfig()
    one = timed(ExtractHtml, html, [workdir / "html-pages"], "html-1", LOCAL)
    many = timed(ExtractHtml, html, [workdir / "html-pages"], "html-n", engine)
    one()
    many()
    _same_output(out / "html-1", out / "html-n")
    what = f"extract-html, {workers} workers"
    results.append(compare("workers", what, "extract-html, workers: 1", pages, megabytes, many, one))

    texts = corpus(records, list(phrase_set()))
    path = workdir / "slop.jsonl"
    writer = JsonlWriter(path)
    writer.write(rows_to_batch([new_record(f"bench#{i}", input="Q?", output=t) for i, t in enumerate(texts)]))
    writer.close()
    megabytes = path.stat().st_size / 1e6
    slop = FilterSlopConfig()
    one = timed(FilterSlop, slop, [path], "slop-1", LOCAL)
    many = timed(FilterSlop, slop, [path], "slop-n", engine)
    one()
    many()
    _same_output(out / "slop-1", out / "slop-n")
    what = f"filter-slop, {workers} workers"
    results.append(compare("workers", what, "filter-slop, workers: 1", records, megabytes, many, one))
    return results
