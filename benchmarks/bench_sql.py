"""extract-sql against a plain ``sqlparse.split`` pass over the same dump.

Two dumps of the same Q&A rows, generated from a seed: a mysqldump (extended INSERTs of
about 1 MB, backslash escapes) and a pg_dump (a COPY block). sqlparse needs the whole dump
in one string and only splits it; extract-sql streams it and writes Parquet records. The
baseline is slow (about 1 MB/s on the mysqldump, far less on COPY data), so each side runs
once. A third line times reading alone (``--list-tables``) against the same baseline run.

Why sqlparse: pandas and sqlite3 cannot load a MySQL or PostgreSQL dump (backslash escapes,
``LOCK TABLES``, ``COPY ... FROM stdin``), and sqlparse is what Python code reaches for to read
one. It does less than the stage (no values, no records, nothing written), which favours it.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import sqlparse

from benchmarks.common import Result, Side, compare
from benchmarks.corpus import qa_pair
from dataprep.stages.base import StageContext
from dataprep.stages.extract.sql.stage import ExtractSql, ExtractSqlConfig

STATEMENT_BYTES = 1_000_000  # mysqldump's default net_buffer_length
#: The usual way to read a dump in Python; it only splits statements (no values, no output).
BASELINE = "sqlparse.split (split only)"


def _mysql_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"').replace("\n", "\\n")
    return f"'{escaped}'"


def write_mysql_dump(path: Path, rows: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as out:
        out.write("-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)\n/*!40101 SET NAMES utf8mb4 */;\n")
        out.write(
            "CREATE TABLE `qa` (\n  `id` int NOT NULL,\n  `category` varchar(32) DEFAULT NULL,\n"
            "  `question` text,\n  `answer` mediumtext,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB;\n"
            "LOCK TABLES `qa` WRITE;\n"
        )
        batch: list[str] = []
        size = 0
        for i in range(rows):
            topic, question, answer = qa_pair(rng)
            row = f"({i},'{topic}',{_mysql_string(question)},{_mysql_string(answer)})"
            batch.append(row)
            size += len(row)
            if size >= STATEMENT_BYTES or i == rows - 1:
                out.write("INSERT INTO `qa` VALUES " + ",".join(batch) + ";\n")
                batch, size = [], 0
        out.write("UNLOCK TABLES;\n-- Dump completed on 2024-02-17 18:42:07\n")
    return path


def _copy_field(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def write_pg_dump(path: Path, rows: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as out:
        out.write("--\n-- PostgreSQL database dump\n--\n\nSET standard_conforming_strings = on;\n\n")
        out.write("CREATE TABLE public.qa (\n    id integer NOT NULL,\n    category text,\n")
        out.write("    question text,\n    answer text\n);\n\n")
        out.write("COPY public.qa (id, category, question, answer) FROM stdin;\n")
        for i in range(rows):
            topic, question, answer = qa_pair(rng)
            out.write(f"{i}\t{topic}\t{_copy_field(question)}\t{_copy_field(answer)}\n")
        out.write("\\.\n\n--\n-- PostgreSQL database dump complete\n--\n")
    return path


def run(records: int, workdir: Path) -> list[Result]:
    config = ExtractSqlConfig(table="qa", input_column="question", output_column="answer", meta_columns=["category"])
    listing = ExtractSql(ExtractSqlConfig(list_tables=True, json=True), StageContext(quiet=True))
    dumps: list[tuple[str, Callable[[Path, int], Path]]] = [
        ("mysqldump", write_mysql_dump),
        ("pg_dump", write_pg_dump),
    ]
    # One small run first, so that no timed run pays for importing the Parquet writer.
    warm = write_mysql_dump(workdir / "warm-up.sql", 100)
    ExtractSql(config, StageContext(quiet=True)).run([warm], Path(tempfile.mkdtemp(dir=workdir)) / "o")
    results = []
    for name, write in dumps:
        path = write(workdir / f"{name}.sql", records)
        megabytes = path.stat().st_size / 1e6
        out = Path(tempfile.mkdtemp(dir=workdir))

        def ours(path: Path = path, out: Path = out) -> None:
            shutil.rmtree(out / "o", ignore_errors=True)
            stats = ExtractSql(config, StageContext(quiet=True)).run([path], out / "o")
            assert stats.records_out == records, stats.to_dict()

        def theirs(path: Path = path) -> None:
            sqlparse.split(path.read_text(encoding="utf-8"))

        line = compare("sql", f"extract-sql {name} -> parquet", BASELINE, records, megabytes, ours, theirs, 1)
        results.append(line)
        if name == "mysqldump":
            # Reading alone (what --list-tables does), without building and writing records.
            def parse(path: Path = path) -> None:
                (described,) = json.loads(listing.listing([path]) or "[]")
                assert described["tables"][0]["rows"] == records, described

            # sqlparse is the slow side: its one run above serves this line too.
            baseline = Side(line.baseline_seconds, line.baseline_peak_mb)
            results.append(compare("sql", f"--list-tables {name}", BASELINE, records, megabytes, parse, baseline, 1))
    return results
