"""A million records through the whole pipeline on one machine: ``python -m benchmarks.million``.

Writes a synthetic corpus from a seed (a CSV export, HTML Q&A pages and a MySQL dump, about a
third of the records each; 5% near-duplicates, 3% slop), writes a pipeline file for it, runs
the pipeline with ``dataprep run`` in a child process under ``/usr/bin/time -v`` (so the whole
run's peak resident memory is known), then prints each stage's records, seconds, throughput
and peak memory from its ``stats.json``, and saves the figures to ``benchmarks/million.json``.

Stages: extract-csv, extract-html (select mode), extract-sql -> filter-slop -> dedup (near)
-> cluster and, from the dedup output, split -> tokenize. The cluster stage embeds every
deduplicated record with the static (model2vec) model distilled from the bundled MiniLM
(``backend: static``), fits k-means on a seeded sample (``fit_fraction``), then assigns,
semantically dedups and selects a diverse 10,000 over all of them. The run uses the
default local workers (one process per core).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import yaml

from benchmarks.bench_sql import STATEMENT_BYTES, _mysql_string
from benchmarks.corpus import FILLER, TOPICS

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "million.json"
MEMORY_LIMIT_MB = 4 * 1024
WALL_LIMIT_SECONDS = 600
PAIRS_PER_PAGE = 50
SQL_TABLE = "qa"

# More topics than benchmarks.corpus has, so that k=50 clusters have something to find.
EXTRA_TOPICS = {
    "cars": "engine brake tyre clutch oil battery gearbox diesel mileage exhaust coolant wiper dashboard".split(),
    "pets": "dog cat puppy kitten leash litter vet vaccine collar treat groom kennel flea".split(),
    "music": "guitar chord scale piano drum tempo melody amplifier string rhythm tuning lyric album".split(),
    "photography": "lens aperture shutter exposure tripod sensor focus flash portrait iso raw zoom".split(),
    "linux": "kernel shell bash systemd package apt permission mount cron ssh grep process daemon".split(),
    "parenting": "toddler nap tantrum school homework bedtime nappy teen screen allowance sibling".split(),
    "home": "drill plaster tile grout leak pipe boiler paint damp insulation hinge socket fuse".split(),
    "chemistry": "molecule acid base ion reaction catalyst bond solvent titration oxidation ph salt".split(),
    "history": "empire treaty dynasty revolution war monarchy archive century colony trade charter".split(),
    "astronomy": "telescope planet orbit galaxy nebula comet eclipse star moon meteor lens sky".split(),
}
VOCAB = {**TOPICS, **EXTRA_TOPICS}

# Slop as chat models write it; filter-slop drops refusals, strips disclaimers, and drops
# answers too dense with gptisms (max_density below).
REFUSALS = [
    "I'm sorry, but I can't help with that request.",
    "I apologize, but I cannot assist with that.",
    "Unfortunately, I am unable to provide that information.",
    "I'm sorry, but I cannot provide advice on this topic.",
]
DISCLAIMERS = [
    "As an AI language model, I don't have personal opinions.",
    "As an AI, I do not have personal experiences.",
    "I'm just an AI, so I can't be sure.",
    "As a large language model, I cannot browse the internet.",
]
GPTISMS = [
    "It's important to note that",
    "Let's delve into",
    "This is a testament to",
    "In today's fast-paced world,",
    "It is worth noting that",
    "navigating the complexities of",
]
MAX_DENSITY = 20


@dataclass
class CorpusCounts:
    """What the generator put in, to compare with what the stages took out."""

    records: int = 0
    per_source: Counter = field(default_factory=Counter)
    near_duplicates: Counter = field(default_factory=Counter)
    slop: Counter = field(default_factory=Counter)
    pages: int = 0
    megabytes: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


class _Words:
    """Sentences from a topic vocabulary (40% of the words) and function words (60%)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._pools = {}
        for topic, vocab in VOCAB.items():
            pool = vocab + FILLER
            weights = [0.4 / len(vocab)] * len(vocab) + [0.6 / len(FILLER)] * len(FILLER)
            cum = []
            total = 0.0
            for w in weights:
                total += w
                cum.append(total)
            self._pools[topic] = (pool, cum)

    def sentence(self, topic: str, words: int) -> str:
        pool, cum = self._pools[topic]
        return " ".join(self.rng.choices(pool, cum_weights=cum, k=words)).capitalize() + "."

    def pair(self) -> tuple[str, str, str]:
        rng = self.rng
        topic = rng.choice(list(VOCAB))
        question = self.sentence(topic, rng.randint(10, 30))[:-1] + "?"
        # Answer lengths between 30 and 150 words, short ones more common (as on Q&A sites).
        target = int(30 + 120 * rng.random() ** 1.5)
        sentences, words = [], 0
        while words < target:
            length = min(rng.randint(8, 22), max(target - words, 5))
            sentences.append(self.sentence(topic, length))
            words += length
        return topic, question, " ".join(sentences)


def _near_copy(rng: random.Random, question: str, answer: str) -> tuple[str, str, str]:
    """A copy with a small edit: case, punctuation, or one word of the answer changed."""
    kind = rng.choice(("case", "punctuation", "word"))
    if kind == "case":
        return kind, question.lower() if rng.random() < 0.5 else question.upper(), answer
    if kind == "punctuation":
        return kind, question.rstrip("?") + "?!", answer.replace(". ", ", ", 1)
    words = answer.split()
    spot = rng.randrange(len(words))
    words[spot] = rng.choice([w for w in FILLER if w != words[spot]])
    return kind, question, " ".join(words)


def _sloppy(rng: random.Random, answer: str) -> tuple[str, str]:
    kind = rng.choice(("refusal", "ai-disclaimer", "gptism"))
    if kind == "refusal":
        return kind, rng.choice(REFUSALS) + " " + answer.split(". ")[0] + "."
    if kind == "ai-disclaimer":
        return kind, rng.choice(DISCLAIMERS) + " " + answer
    sentences = answer.split(". ")
    for phrase in rng.sample(GPTISMS, 4):
        spot = rng.randrange(len(sentences))
        sentences[spot] = f"{phrase} {sentences[spot][0].lower()}{sentences[spot][1:]}"
    return kind, ". ".join(sentences)


class _Sinks:
    """The three source files, written as records arrive: a CSV, HTML pages, a mysqldump."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (folder / "html").mkdir(parents=True, exist_ok=True)
        self._csv_handle = open(folder / "qa.csv", "w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._csv_handle)
        self._csv.writerow(["question_id", "category", "question", "answer"])
        self._sql = open(folder / "qa.mysql.sql", "w", encoding="utf-8")
        self._sql.write(
            "-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)\n/*!40101 SET NAMES utf8mb4 */;\n"
            f"DROP TABLE IF EXISTS `{SQL_TABLE}`;\nCREATE TABLE `{SQL_TABLE}` (\n  `id` int NOT NULL,\n"
            "  `category` varchar(32) DEFAULT NULL,\n  `question` text,\n  `answer` mediumtext,\n"
            f"  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\nLOCK TABLES `{SQL_TABLE}` WRITE;\n"
        )
        self._rows: list[str] = []
        self._row_bytes = 0
        self._page: list[tuple[str, str, str]] = []
        self.pages = 0
        self.count = Counter()

    def write(self, source: str, topic: str, question: str, answer: str) -> None:
        n = self.count[source]
        self.count[source] += 1
        if source == "csv":
            self._csv.writerow([1000 + n, topic, question, answer])
        elif source == "sql":
            row = f"({n + 1},'{topic}',{_mysql_string(question)},{_mysql_string(answer)})"
            self._rows.append(row)
            self._row_bytes += len(row)
            if self._row_bytes >= STATEMENT_BYTES:
                self._flush_sql()
        else:
            self._page.append((topic, question, answer))
            if len(self._page) >= PAIRS_PER_PAGE:
                self._flush_page()

    def _flush_sql(self) -> None:
        if self._rows:
            self._sql.write(f"INSERT INTO `{SQL_TABLE}` VALUES " + ",".join(self._rows) + ";\n")
        self._rows, self._row_bytes = [], 0

    def _flush_page(self) -> None:
        if not self._page:
            return
        posts = "".join(
            f'<article class="thread" data-topic="{topic}"><h2 class="question">{escape(question)}</h2>'
            '<div class="meta">asked by user · 3 answers</div><div class="answer accepted"><div class="body">'
            + "".join(f"<p>{escape(p)}</p>" for p in answer.split("\n"))
            + "</div></div></article>\n"
            for topic, question, answer in self._page
        )
        nav = "".join(f'<li><a href="/tags/{t}">{t}</a></li>' for t in VOCAB)
        page = (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>Questions, page {self.pages + 1}</title></head><body>"
            f'<header><nav><ul>{nav}</ul></nav></header><main class="questions">\n{posts}</main>'
            "<footer><p>Content licensed CC BY-SA. Cookies help us deliver our services.</p></footer></body></html>\n"
        )
        (self.folder / "html" / f"page-{self.pages:06d}.html").write_text(page, encoding="utf-8")
        self.pages += 1
        self._page = []

    def close(self) -> None:
        self._flush_page()
        self._flush_sql()
        self._sql.write("UNLOCK TABLES;\n-- Dump completed on 2024-02-17 18:42:07\n")
        self._sql.close()
        self._csv_handle.close()


def write_corpus(folder: Path, records: int, seed: int = 0) -> CorpusCounts:
    """Write ``records`` Q&A pairs across the three sources; 5% near-copies and 3% slop."""
    start = time.perf_counter()
    rng = random.Random(seed)
    words = _Words(rng)
    counts = CorpusCounts(records=records)
    sinks = _Sinks(folder)
    # Copies come from a bounded pool of earlier originals (of any source), so the generator's
    # memory does not grow with the corpus.
    pool: list[tuple[str, str, str]] = []
    for _ in range(records):
        source = rng.choice(("csv", "html", "sql"))
        roll = rng.random()
        if pool and roll < 0.05:
            topic, question, answer = rng.choice(pool)
            kind, question, answer = _near_copy(rng, question, answer)
            counts.near_duplicates[kind] += 1
        else:
            topic, question, answer = words.pair()
            if roll < 0.08:
                kind, answer = _sloppy(rng, answer)
                counts.slop[kind] += 1
            elif len(pool) < 50_000:
                pool.append((topic, question, answer))
            else:
                pool[rng.randrange(len(pool))] = (topic, question, answer)
        sinks.write(source, topic, question, answer)
    sinks.close()
    counts.per_source = sinks.count
    counts.pages = sinks.pages
    counts.megabytes = {
        "csv": (folder / "qa.csv").stat().st_size / 1e6,
        "html": sum(p.stat().st_size for p in (folder / "html").iterdir()) / 1e6,
        "sql": (folder / "qa.mysql.sql").stat().st_size / 1e6,
    }
    counts.seconds = time.perf_counter() - start
    return counts


def pipeline_config(workdir: Path, k: int, select: int, fit_fraction: float) -> dict[str, Any]:
    corpus = workdir / "corpus"
    return {
        "name": "million",
        "output_dir": str(workdir / "run"),
        "seed": 0,
        "executor": "local",
        "stages": [
            {
                "stage": "extract-csv",
                "name": "csv",
                "inputs": [str(corpus / "qa.csv")],
                "input_column": "question",
                "output_column": "answer",
                "meta_columns": ["category"],
            },
            {
                "stage": "extract-html",
                "name": "html",
                "inputs": [str(corpus / "html")],
                "mode": "select",
                "field": {"input": ".thread .question", "output": ".thread .answer.accepted .body"},
            },
            {
                "stage": "extract-sql",
                "name": "sql",
                "inputs": [str(corpus / "qa.mysql.sql")],
                "table": SQL_TABLE,
                "input_column": "question",
                "output_column": "answer",
                "meta_columns": ["category"],
            },
            {"stage": "filter-slop", "max_density": MAX_DENSITY},
            # 3-word shingles: one changed word in a short answer still reads as a near-duplicate
            # (96% of those copies at 20k records, against 86% with the default 5).
            {"stage": "dedup", "near": True, "ngram": 3},
            {
                "stage": "cluster",
                "k": k,
                "backend": "static",
                "fit_fraction": fit_fraction,
                "dedup_threshold": "auto",
                "select": select,
                "cache_dir": str(workdir / "cache"),
            },
            # The cluster stage's output is a diverse subset; split and tokenize take the whole
            # deduplicated corpus instead, as a run that trains on everything would.
            {"stage": "split", "inputs": ["dedup"], "ratio": [0.98, 0.02]},
            {"stage": "tokenize", "tokenizer": str(REPO / "sample_data" / "tiny-llama"), "max_length": 512},
        ],
    }


def _prepare_cache(workdir: Path) -> None:
    """A fresh embedding cache (no hits from an earlier run), reusing the distilled static model (and the
    ONNX export) if an earlier run made them: distilling is a one-time cost, not the pipeline's."""
    from dataprep.stages.diversity.encoder import default_cache_dir

    cache = workdir / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    for name in ("onnx", "static"):
        made = default_cache_dir() / name
        if made.is_dir():
            (cache / name).symlink_to(made.resolve(), target_is_directory=True)


class _LoadSampler(threading.Thread):
    """The 1-minute load average every few seconds while the run goes on: the machine is shared."""

    def __init__(self, every: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.every = every
        self.samples: list[float] = []
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.every):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> dict[str, float]:
        self._done.set()
        self.join()
        values = self.samples or [os.getloadavg()[0]]
        return {"min": round(min(values), 2), "mean": round(sum(values) / len(values), 2), "max": round(max(values), 2)}


def run_measured(pipeline_file: Path, log_file: Path) -> dict[str, Any]:
    """``dataprep run`` in a child process under ``/usr/bin/time -v``: wall time and peak RSS."""
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "dataprep", "run", str(pipeline_file), "--force", "-q"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    sampler = _LoadSampler()
    sampler.start()
    start = time.perf_counter()
    with open(log_file, "w", encoding="utf-8") as log:
        process = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO, check=False)
    wall = time.perf_counter() - start
    load = sampler.stop()
    text = log_file.read_text(encoding="utf-8", errors="replace")
    if process.returncode:
        sys.exit(f"the pipeline failed (exit {process.returncode}); see {log_file}:\n{text[-3000:]}")
    max_rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    return {"wall_seconds": round(wall, 1), "max_rss_mb": round(max_rss_kb / 1024, 1), "load_average": load}


def stage_figures(run_dir: Path) -> list[dict[str, Any]]:
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    rows = []
    for name, entry in sorted(manifest["stages"].items(), key=lambda item: item[1]["folder"]):
        stats = json.loads((run_dir / entry["folder"] / "stats.json").read_text(encoding="utf-8"))
        rows.append(
            {
                "stage": name,
                "kind": entry["stage"],
                "in": stats["records_in"],
                "out": stats["records_out"],
                "dropped": stats["dropped"],
                "seconds": stats["seconds"],
                "records_per_second": stats["records_per_second"],
                "peak_memory_mb": stats.get("peak_memory_mb"),
                "extra": stats.get("extra", {}),
            }
        )
    total = sum(r["seconds"] for r in rows)
    for r in rows:
        r["share"] = round(r["seconds"] / total, 4) if total else 0.0
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    header = f"{'stage':<12} {'in':>10} {'out':>10} {'seconds':>9} {'rec/s':>9} {'peak MB':>8} {'share':>6}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['stage']:<12} {r['in']:>10,} {r['out']:>10,} {r['seconds']:>9.1f} "
            f"{r['records_per_second'] or 0:>9,.0f} {r['peak_memory_mb'] or 0:>8,.0f} {r['share']:>6.1%}"
        )
    print("-" * len(header))
    print(f"{'total':<12} {'':>10} {'':>10} {sum(r['seconds'] for r in rows):>9.1f}")


def embedding_figures(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What the cluster stage embedded, against the records it took in (every one, when nothing was cached)."""
    by_name = {r["stage"]: r for r in rows}
    extra = by_name["cluster"]["extra"]
    if not extra.get("embedded") or not extra.get("embed_seconds"):
        return None
    return {
        "embedded": extra["embedded"],
        "embed_seconds": extra["embed_seconds"],
        "records_per_second": round(extra["embedded"] / extra["embed_seconds"], 1),
        "deduplicated_records": by_name["dedup"]["out"],
        "all_embedded": extra["embedded"] >= by_name["dedup"]["out"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="Records in the synthetic corpus.")
    parser.add_argument("--workdir", type=Path, help="Where the corpus and the run go (default: a temporary folder).")
    parser.add_argument("--keep", action="store_true", help="Keep the corpus and the run folder afterwards.")
    parser.add_argument("--k", type=int, default=50, help="Clusters.")
    parser.add_argument("--select", type=int, default=10_000, help="Records the cluster stage selects.")
    parser.add_argument(
        "--fit-fraction", type=float, default=0.1, help="Share of the records k-means fits its centroids on."
    )
    parser.add_argument("--seed", type=int, default=0, help="Seed of the corpus.")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="dataprep-million-"))
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        shutil.rmtree(workdir / "corpus", ignore_errors=True)
        print(f"writing {args.records:,} records to {workdir / 'corpus'} ...", flush=True)
        counts = write_corpus(workdir / "corpus", args.records, args.seed)
        sizes = {name: round(mb) for name, mb in counts.megabytes.items()}
        print(
            f"  {dict(counts.per_source)} ({counts.pages:,} HTML pages); "
            f"near-duplicates {dict(counts.near_duplicates)}; slop {dict(counts.slop)}; "
            f"MB {sizes}; {counts.seconds:.0f}s",
            flush=True,
        )
        pipeline_file = workdir / "million.yml"
        pipeline_file.write_text(
            yaml.safe_dump(pipeline_config(workdir, args.k, args.select, args.fit_fraction), sort_keys=False)
        )
        _prepare_cache(workdir)
        shutil.rmtree(workdir / "run", ignore_errors=True)
        print(f"running {pipeline_file} (load average {os.getloadavg()[0]:.2f}) ...", flush=True)
        run = run_measured(pipeline_file, workdir / "run.log")
        rows = stage_figures(workdir / "run")
        print()
        print_table(rows)
        by_name = {r["stage"]: r for r in rows}
        injected_dups, injected_slop = sum(counts.near_duplicates.values()), sum(counts.slop.values())
        print(
            f"\nput in: {injected_dups:,} near-duplicates {dict(counts.near_duplicates)}, {injected_slop:,} slop "
            f"{dict(counts.slop)}\ntaken out: dedup {by_name['dedup']['dropped']}, "
            f"filter-slop {by_name['filter-slop']['dropped']} "
            f"(+ {by_name['filter-slop']['extra'].get('records', {}).get('stripped', 0):,} disclaimers stripped)"
        )
        top = max(rows, key=lambda r: r["seconds"])
        print(f"\ndominating stage: {top['stage']} ({top['share']:.0%} of the stage time)")
        ok = run["max_rss_mb"] < MEMORY_LIMIT_MB
        fast = run["wall_seconds"] < WALL_LIMIT_SECONDS or args.records < 1_000_000
        print(
            f"whole run: {run['wall_seconds']:.0f}s wall ({'under' if fast else 'OVER'} "
            f"{WALL_LIMIT_SECONDS // 60} minutes), max RSS {run['max_rss_mb']:,.0f} MB "
            f"({'under' if ok else 'OVER'} the {MEMORY_LIMIT_MB // 1024} GiB limit); load average 1-min min/mean/max "
            f"{run['load_average']['min']:.2f}/{run['load_average']['mean']:.2f}/{run['load_average']['max']:.2f} "
            f"on {os.cpu_count()} cores"
        )
        embedding = embedding_figures(rows)
        if embedding:
            print(
                f"embedding: {embedding['embedded']:,} of {embedding['deduplicated_records']:,} deduplicated records "
                f"in {embedding['embed_seconds']:.0f}s = {embedding['records_per_second']:,.0f} records/s"
            )
        RESULTS.write_text(
            json.dumps(
                {
                    "records": args.records,
                    "corpus": {
                        "per_source": dict(counts.per_source),
                        "html_pages": counts.pages,
                        "near_duplicates": dict(counts.near_duplicates),
                        "slop": dict(counts.slop),
                        "megabytes": {k: round(v, 1) for k, v in counts.megabytes.items()},
                        "generate_seconds": round(counts.seconds, 1),
                    },
                    "stages": rows,
                    "dominating_stage": top["stage"],
                    "run": run,
                    "under_memory_limit": ok,
                    "under_wall_limit": fast,
                    "embedding": embedding,
                    "cpu_count": os.cpu_count(),
                },
                indent=2,
            )
            + "\n"
        )
        print(f"figures in {RESULTS}")
        if not (ok and fast):
            sys.exit(1)
    finally:
        if not args.keep:
            for name in ("corpus", "run", "cache"):
                shutil.rmtree(workdir / name, ignore_errors=True)
            if args.workdir is None:
                shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
