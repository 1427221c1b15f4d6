"""Every file a user can hand in gets a clear error (exit 2) or per-record rejects, never "this is a bug".

One test per family of bad input (issue 20), then a seeded, bounded mutation test that feeds
each reader a few hundred damaged copies of small fixtures.
"""

from __future__ import annotations

import gzip
import json
import os
import random
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import read_records, read_rejects, read_stats

from dataprep.cli import main
from dataprep.errors import DataprepError
from dataprep.io.writers import ParquetShardWriter
from dataprep.pipeline.config import load_pipeline

CSV = (
    'question,answer,category\n"How do I reset it?","Hold the button, then wait.",support\n'
    '"Multi\nline?","Yes, ""quoted"" too.",misc\nplain,unquoted answer,misc\n'
    '"Café?","Ünïcode ✓",intl\nshort,row\n'
)
JSONL_RECORDS = [
    {"text": "a plain text record", "meta": {"k": 1}},
    {"input": "question?", "output": "answer.", "source": "s#1"},
    {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
    {"text": "with an extra field", "score": 3, "tags": ["x", "y"]},
    {"id": 7, "text": "an int id", "meta": {"nested": {"a": [1, 2, {"b": None}]}}},
    {"text": "unicode ✓ é", "flag": True},
]
SQL = """-- MySQL dump 10.13
CREATE TABLE `notes` (
  `id` int NOT NULL,
  `body` text,
  `kind` varchar(10)
) ENGINE=InnoDB;
INSERT INTO `notes` VALUES (1,'first note','a'),(2,'it\\'s the second','b');
INSERT INTO `notes` VALUES (3,'third; with a semicolon',NULL),(4,NULL,'d');
"""
HTML = (
    "<html><head><title>A page</title></head><body><nav>Home | About</nav><article><h1>Heading</h1>"
    "<p>The first paragraph of the article has enough words to count as main content here.</p>"
    "<p>A second paragraph continues the story with more plain sentences.</p></article></body></html>"
)
PIPELINE = """name: t
output_dir: runs/t
seed: 0
stages:
  - stage: normalize
    inputs: [data.jsonl]
  - stage: filter-quality
    min_words: 1
"""


def jsonl_text(records: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def invoke(*args: str | Path):
    """The CLI in-process, as a user runs it: exceptions are caught and show up in the result."""
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(".*.tmp"))


@pytest.fixture
def work(tmp_path, monkeypatch):
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.delenv("DATAPREP_DEBUG", raising=False)
    return folder


def assert_clean_failure(result, *words: str) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "bug" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip() and "rec/s" not in line]
    assert len(lines) == 1, result.output
    message = lines[0]
    for word in words:
        assert word in message
    return message


# -- a file that cannot be read at all ---------------------------------------------------


def test_truncated_csv_gz_is_exit_2_and_keeps_the_previous_output(work):
    good = work / "faq.csv.gz"
    good.write_bytes(gzip.compress(CSV.encode()))
    args = ["--input-column", "question", "--output-column", "answer", "-q"]
    assert invoke("extract-csv", good, "-o", "out", *args).exit_code == 0
    before = {p.name: p.read_bytes() for p in (work / "out").iterdir()}
    cut = work / "cut.csv.gz"
    cut.write_bytes(good.read_bytes()[:-12])
    message = assert_clean_failure(invoke("extract-csv", cut, "-o", "out", *args), "cut.csv.gz", "cut off or corrupt")
    assert "gzip -t" in message
    assert {p.name: p.read_bytes() for p in (work / "out").iterdir()} == before
    assert leftovers(work) == []


@pytest.mark.parametrize("damage", ["truncate", "not-gzip", "flip"])
def test_damaged_jsonl_gz_is_exit_2(work, damage):
    data = gzip.compress(jsonl_text(JSONL_RECORDS * 50).encode())
    data = {
        "truncate": data[: len(data) // 2],
        "not-gzip": b"plain text with a .gz name",
        "flip": data[:40] + bytes([data[40] ^ 0xFF]) + data[41:],
    }[damage]
    (work / "d.jsonl.gz").write_bytes(data)
    assert_clean_failure(invoke("normalize", "d.jsonl.gz", "-o", "out", "-q"), "d.jsonl.gz")
    assert not (work / "out").exists() and leftovers(work) == []


def test_sql_gz_that_is_no_gzip_is_exit_2_and_a_cut_one_keeps_its_rows(work):
    (work / "x.sql.gz").write_bytes(b"plain text with a .gz name")
    assert_clean_failure(invoke("extract-sql", "x.sql.gz", "--table", "notes", "-o", "out", "-q"), "x.sql.gz")
    data = gzip.compress((SQL + "INSERT INTO `notes` VALUES (5,'fifth','e');\n" * 2000).encode(), mtime=0)
    (work / "cut.sql.gz").write_bytes(data[: len(data) // 2])
    result = invoke("extract-sql", "cut.sql.gz", "--table", "notes", "--text-column", "body", "-o", "out", "-q")
    assert result.exit_code == 0, result.output
    stats = read_stats(work / "out")
    assert stats["records_out"] > 3 and stats["dropped"]["truncated-dump"] == 1


def test_a_dump_whose_tables_a_broken_quote_swallowed_says_so(work):
    (work / "x.sql").write_text(SQL.replace("CREATE TABLE", 'CREATE T"ABLE'))
    message = assert_clean_failure(invoke("extract-sql", "x.sql", "--table", "notes", "-o", "out", "-q"))
    assert (
        "no table 'notes'" in message
        and "truncated-dump: the dump ends inside a string that opens at line 2" in message
    )


def test_damaged_parquet_is_exit_2(work):
    (work / "d.jsonl").write_text(jsonl_text(JSONL_RECORDS * 100))
    assert invoke("normalize", "d.jsonl", "-o", "shards", "-q").exit_code == 0
    shard = work / "shards" / "part-00000.parquet"
    data = bytearray(shard.read_bytes())
    for at in range(100, len(data) - 100, 97):
        data[at] ^= 0x5A
    shard.write_bytes(bytes(data))
    assert_clean_failure(invoke("normalize", "shards", "-o", "out", "-q"), "part-00000.parquet")
    assert not (work / "out").exists()


def test_yaml_with_a_complex_key_names_its_line(work):
    (work / "p.yml").write_text("name: t\n? [a, b]\n: 1\nstages: []\n")
    assert_clean_failure(invoke("run", "p.yml"), "p.yml line 2", "keys must be plain names")
    (work / "q.yml").write_text("name: t\nstages:\n  - stage: normalize\n    ? {a: 1}\n    : 2\n")
    assert_clean_failure(invoke("run", "q.yml"), "q.yml line 4")


def test_output_dir_that_is_a_file_is_refused_and_left_alone(work):
    (work / "data.jsonl").write_text(jsonl_text(JSONL_RECORDS))
    (work / "taken").write_text("mine")
    (work / "p.yml").write_text(PIPELINE.replace("runs/t", "taken"))
    assert_clean_failure(invoke("run", "p.yml"), "output_dir taken", "existing file")
    assert (work / "taken").read_text() == "mine"
    (work / "p.yml").write_text(PIPELINE.replace("runs/t", "taken/run"))
    assert_clean_failure(invoke("run", "p.yml"), "is a file, so no folder can be made in it")


@pytest.mark.parametrize(
    ("out", "words"),
    [
        (".", "the current folder"),
        ("..", "a folder above the current one"),
        ("data.jsonl", "the input itself"),
        ("inputs", "holds the input"),
        ("data.jsonl/x", "is a file"),
        ("notes", "no dataprep output"),
    ],
)
def test_output_paths_that_would_destroy_inputs_are_refused_before_any_work(work, out, words):
    (work / "data.jsonl").write_text(jsonl_text(JSONL_RECORDS))
    (work / "inputs").mkdir()
    (work / "inputs" / "more.jsonl").write_text(jsonl_text(JSONL_RECORDS))
    (work / "notes").mkdir()
    (work / "notes" / "todo.txt").write_text("keep me")
    before = sorted(str(p.relative_to(work.parent)) for p in work.parent.rglob("*"))
    assert_clean_failure(invoke("normalize", "data.jsonl", "inputs/more.jsonl", "-o", out, "-q"), words)
    assert sorted(str(p.relative_to(work.parent)) for p in work.parent.rglob("*")) == before


def test_pipeline_output_dir_dot_is_refused(work):
    (work / "data.jsonl").write_text(jsonl_text(JSONL_RECORDS))
    (work / "p.yml").write_text(PIPELINE.replace("runs/t", "."))
    assert_clean_failure(invoke("run", "p.yml"), "output_dir .", "the current folder")
    assert sorted(p.name for p in work.iterdir()) == ["data.jsonl", "p.yml"]


# -- a record that cannot be used ---------------------------------------------------------


def test_records_of_the_wrong_type_are_rejected_with_their_line(work):
    lines = [
        {"text": "int source", "source": 5},
        {"text": "list id", "id": [1]},
        {"text": "ok"},
        {"text": 12},
        {"messages": [{"role": "user", "content": 3}]},
    ]
    (work / "d.jsonl").write_text(jsonl_text(lines))
    result = invoke("normalize", "d.jsonl", "-o", "out.jsonl", "-q")
    assert result.exit_code == 0, result.output
    reasons = {r["source"]: r["reason"] for r in read_rejects(work / "out.jsonl")}
    assert reasons == {
        "d.jsonl#line=1": "non-string-source",
        "d.jsonl#line=2": "bad-id",
        "d.jsonl#line=4": "non-string-text",
        "d.jsonl#line=5": "non-string-message-content",
    }
    assert read_stats(work / "out.jsonl")["records_out"] == 1


def test_nesting_beyond_the_documented_depth_is_rejected(work):
    deep = "[" * 5000 + "]" * 5000
    lines = [
        '{"text": "deep field", "x": ' + deep + "}",
        '{"text": "just too deep", "meta": {"a": ' + "[" * 31 + "]" * 31 + "}}",
        '{"messages": [{"role": "user", "content": "hi", "extra": ' + "[" * 40 + "]" * 40 + "}]}",
        '{"text": "deep enough", "meta": {"a": ' + "[" * 30 + "]" * 30 + "}}",
        '{"text": "lone \\ud800 surrogate"}',
    ]
    (work / "d.jsonl").write_text("\n".join(lines) + "\n")
    result = invoke("normalize", "d.jsonl", "-o", "out", "-q")
    assert result.exit_code == 0, result.output
    reasons = {r["source"]: r["reason"] for r in read_rejects(work / "out")}
    assert reasons == {
        "d.jsonl#line=1": "too-deeply-nested",
        "d.jsonl#line=2": "too-deeply-nested",
        "d.jsonl#line=3": "too-deeply-nested",
        "d.jsonl#line=5": "lone-surrogate",
    }
    assert [r["text"] for r in read_records(work / "out")] == ["deep enough"]


def test_extra_columns_with_mixed_types_round_trip_through_parquet(work):
    records = [{"text": f"t{i}", "x": i} for i in range(1500)]
    records += [{"text": "s", "x": "a string"}, {"text": "l", "x": [1, "two"]}, {"text": "d", "x": {"k": None}}]
    records += [{"text": "late", "y": 2**70, "x": None}, {"text": "mixed", "y": 1.5, "z": True}]
    (work / "d.jsonl").write_text(jsonl_text(records))
    assert invoke("normalize", "d.jsonl", "-o", "shards", "-q").exit_code == 0
    assert invoke("normalize", "shards", "-o", "back.jsonl", "-q").exit_code == 0
    back = [json.loads(line) for line in (work / "back.jsonl").read_text().splitlines()]
    assert [{k: v for k, v in r.items() if k not in ("id", "source", "meta")} for r in back] == [
        {k: v for k, v in r.items() if v is not None} for r in records
    ]


def test_message_keys_parquet_cannot_hold_move_to_meta(work):
    record = {"messages": [{"role": "user", "content": "hi", "name": "ann"}, {"role": "assistant", "content": "yo"}]}
    (work / "d.jsonl").write_text(jsonl_text([record]))
    assert invoke("normalize", "d.jsonl", "-o", "shards", "-q").exit_code == 0
    [back] = read_records(work / "shards")
    assert back["messages"] == [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    assert back["meta"]["message_fields"] == [{"name": "ann"}, None]


def test_shard_writer_rewrites_earlier_shards_when_a_column_changes_type(tmp_path):
    writer = ParquetShardWriter(tmp_path / "out", rows_per_shard=2)
    for values in ([1, 2], [3, None], ["x", [4]]):
        writer.write({"id": [f"{v}" for v in values], "text": ["t", "t"], "x": values})
    writer.close()
    rows = read_records(tmp_path / "out")
    assert [r["x"] for r in rows] == [1, 2, 3, None, "x", [4]]


# -- a real bug ---------------------------------------------------------------------------


def test_a_real_bug_says_where_to_report_it_and_debug_shows_the_traceback(work, monkeypatch):
    from dataprep.stages.normalize import Normalize

    def broken(self, batch):
        raise RuntimeError("boom")

    monkeypatch.setattr(Normalize, "process", broken)
    (work / "d.jsonl").write_text(jsonl_text(JSONL_RECORDS))
    result = invoke("normalize", "d.jsonl", "-o", "out", "-q")
    assert result.exit_code == 1
    assert "This is a bug in dataprep" in result.output and "report it at" in result.output
    assert "--debug" in result.output and "Traceback" not in result.output
    try:
        result = invoke("--debug", "normalize", "d.jsonl", "-o", "out", "-q")
    finally:
        # --debug sets DATAPREP_DEBUG for the process; it must not outlive this test.
        os.environ.pop("DATAPREP_DEBUG", None)
    assert result.exit_code == 1
    assert "Traceback" in result.output and "RuntimeError: boom" in result.output and "report it at" in result.output
    assert not (work / "out").exists() and leftovers(work) == []


# -- mutation test ------------------------------------------------------------------------

SWAPS = [0, -1, 2**70, 1.5, "", "s", True, None, [], [1, "a"], {}, {"k": [1]}]


def _swap_types(data: bytes, rng: random.Random) -> bytes:
    lines = data.decode("utf-8").splitlines()
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(lines))
        try:
            obj = json.loads(lines[at])
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and obj:
            key = rng.choice(sorted(obj))
            obj[key] = rng.choice(SWAPS)
            if rng.random() < 0.2:
                obj[key] = json.loads("[" * 40 + "]" * 40)
        lines[at] = json.dumps(obj)
    return ("\n".join(lines) + "\n").encode()


def _mutate(data: bytes, rng: random.Random, json_lines: bool) -> bytes:
    kind = rng.choice(
        ["truncate", "flip", "insert", "delete", "swap"] if json_lines else ["truncate", "flip", "insert", "delete"]
    )
    if kind == "swap":
        return _swap_types(data, rng)
    if kind == "truncate":
        return data[: rng.randrange(len(data))]
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(out) or 1)
        if kind == "flip" and out:
            out[at] ^= 1 << rng.randrange(8)
        elif kind == "insert":
            out[at:at] = bytes([rng.choice(b"\",;\n\r\\'{}[]()\x00\xff\xc3")])
        elif out:
            del out[at : at + rng.randint(1, 20)]
    return bytes(out)


def _check_accounting(out: Path, expect_in: int | None) -> None:
    """Nothing lost silently: every record read is in the output or in the rejects file."""
    stats = read_stats(out)
    assert stats["records_in"] == stats["records_out"] + stats["dropped_total"], stats
    assert len(read_rejects(out)) == stats["dropped_total"]
    assert len(read_records(out)) == stats["records_out"]
    if expect_in is not None:
        assert stats["records_in"] == expect_in, stats


def _nonblank_lines(data: bytes) -> int | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return sum(1 for line in text.splitlines() if line.strip())


def _parquet_fixture(folder: Path) -> bytes:
    writer = ParquetShardWriter(folder)
    from dataprep.io.readers import iter_batches

    (folder.parent / "src.jsonl").write_text(jsonl_text(JSONL_RECORDS))
    for read in iter_batches([folder.parent / "src.jsonl"]):
        writer.write(read.batch)
    writer.close()
    return (folder / "part-00000.parquet").read_bytes()


def test_mutated_inputs_end_in_exit_0_or_2_and_lose_nothing(work):
    rng = random.Random(20)
    csv_args = ["--input-column", "question", "--output-column", "answer"]
    cases = [
        # (reader, file name, fixture bytes, copies, extra options, line-counted input?)
        ("extract-csv", "in.csv", CSV.encode(), 70, csv_args, False),
        ("extract-csv", "in.csv.gz", gzip.compress(CSV.encode(), mtime=0), 25, csv_args, False),
        ("normalize", "in.jsonl", jsonl_text(JSONL_RECORDS).encode(), 80, [], True),
        ("normalize", "in.jsonl.gz", gzip.compress(jsonl_text(JSONL_RECORDS).encode(), mtime=0), 25, [], False),
        ("normalize", "in/part-00000.parquet", _parquet_fixture(work / "pq"), 25, [], False),
        ("extract-sql", "in.sql", SQL.encode(), 60, ["--table", "notes", "--text-column", "body"], False),
        ("extract-html", "in.html", HTML.encode(), 30, [], False),
    ]
    outcomes: Counter = Counter()
    for stage, name, fixture, copies, options, line_counted in cases:
        for number in range(copies):
            if name.endswith(".gz") and number % 2:
                # Damage inside intact compression too, so the reader behind gzip is reached.
                plain = _mutate(gzip.decompress(fixture), rng, json_lines=stage == "normalize")
                data = gzip.compress(plain, mtime=0)
            else:
                data = _mutate(fixture, rng, json_lines=line_counted)
            path = work / name
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(data)
            out = work / f"out-{sum(outcomes.values())}"
            result = invoke(stage, path.parent if name.startswith("in/") else path, "-o", out, "-q", *options)
            case = f"{stage} {name} #{number}: {data[:200]!r}\n{result.output}"
            assert result.exit_code in (0, 2), case
            assert "Traceback" not in result.output and "bug in dataprep" not in result.output, case
            outcomes[(stage, name, result.exit_code)] += 1
            if result.exit_code == 0:
                expect = _nonblank_lines(data) if line_counted else (1 if stage == "extract-html" else None)
                _check_accounting(out, expect)
            else:
                assert not out.exists() and leftovers(work) == [], case
    # The pipeline file's reader: a mutated YAML loads or is a ConfigError, nothing else.
    for _ in range(60):
        (work / "p.yml").write_bytes(_mutate(PIPELINE.encode(), rng, json_lines=False))
        (work / "data.jsonl").write_text(jsonl_text(JSONL_RECORDS))
        try:
            load_pipeline(work / "p.yml")
            outcomes[("run", "p.yml", 0)] += 1
        except DataprepError as exc:
            assert exc.exit_code == 2
            outcomes[("run", "p.yml", 2)] += 1
    total = sum(outcomes.values())
    print(
        f"\nmutation test: {total} inputs;",
        ", ".join(f"{s} {n} exit {c}: {k}" for (s, n, c), k in sorted(outcomes.items())),
    )
    assert total == 375
    # Both outcomes occur: the mutations reach past the readers' first checks.
    assert {code for (_, _, code) in outcomes} == {0, 2}
