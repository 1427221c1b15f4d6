import gzip
import json

import pytest
from helpers import read_records, read_rejects, read_stats

from dataprep.errors import InputError
from dataprep.io.atomic import atomic_dir
from dataprep.records import check_record, make_id, new_record
from dataprep.stages.normalize import Normalize, NormalizeConfig


def test_ids_depend_on_source_and_content_only():
    a = new_record("f.csv#row=1", text="hello")
    assert a["id"] == new_record("f.csv#row=1", text="hello", meta={"x": 1})["id"]
    assert a["id"] != new_record("f.csv#row=2", text="hello")["id"]
    assert a["id"] != new_record("f.csv#row=1", text="hello!")["id"]
    assert new_record("s", input="a", output="bc")["id"] != new_record("s", input="ab", output="c")["id"]
    assert len(make_id("s", "c")) == 16


@pytest.mark.parametrize(
    "obj, reason",
    [
        ({"text": "ok"}, None),
        ({"input": "q", "output": "a"}, None),
        ({"messages": [{"role": "user", "content": "hi"}]}, None),
        ([1, 2], "not-an-object"),
        ({"text": ""}, "empty-text"),
        ({"text": "   "}, "empty-text"),
        ({"text": 5}, "non-string-text"),
        ({"input": "q", "output": None}, "empty-output"),
        ({"output": "a"}, "missing-input"),
        ({"input": "q", "output": ["a"]}, "non-string-output"),
        ({"meta": {}}, "missing-content"),
        ({"text": "x", "meta": "m"}, "bad-meta"),
        ({"messages": []}, "bad-messages"),
        ({"messages": [{"role": "user", "content": 3}]}, "non-string-message-content"),
        ({"messages": [{"content": "x"}]}, "bad-messages"),
    ],
)
def test_check_record_reasons(obj, reason):
    assert check_record(obj) == reason


def write_jsonl(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_bad_jsonl_records_are_rejected_with_their_line(tmp_path):
    src = write_jsonl(
        tmp_path / "in.jsonl",
        [
            json.dumps({"text": "good one", "meta": {"k": 1}}),
            "{not json",
            json.dumps({"text": 42}),
            json.dumps({"text": ""}),
            json.dumps({"title": "no content"}),
            json.dumps({"id": "keep-me", "input": "q", "output": "a", "source": "x#1", "extra": [1, 2]}),
        ],
    )
    stats = Normalize(NormalizeConfig()).run([src], tmp_path / "out")
    records = read_records(tmp_path / "out")
    assert [r["id"] for r in records][1] == "keep-me"
    assert records[0]["source"] == f"{src}#line=1" and records[0]["meta"] == {"k": 1}
    assert records[1]["extra"] == [1, 2]
    rejects = read_rejects(tmp_path / "out")
    assert [(r["reason"], r["source"]) for r in rejects] == [
        ("bad-json", f"{src}#line=2"),
        ("non-string-text", f"{src}#line=3"),
        ("empty-text", f"{src}#line=4"),
        ("missing-content", f"{src}#line=5"),
    ]
    assert stats.records_in == 6 and stats.records_out == 2
    assert read_stats(tmp_path / "out")["dropped_total"] == 4


def test_jsonl_gz_in_and_out(tmp_path):
    src = tmp_path / "in.jsonl.gz"
    with gzip.open(src, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps({"text": "zipped"}) + "\n")
    Normalize(NormalizeConfig()).run([src], tmp_path / "out.jsonl.gz")
    with gzip.open(tmp_path / "out.jsonl.gz", "rt", encoding="utf-8") as handle:
        assert json.loads(handle.readline())["text"] == "zipped"


def test_non_utf8_jsonl_is_a_clear_error(tmp_path):
    src = tmp_path / "bad.jsonl"
    src.write_bytes(b'{"text": "caf\xe9"}\n')
    with pytest.raises(InputError, match=r"bad\.jsonl: not UTF-8"):
        Normalize(NormalizeConfig()).run([src], tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out*"))


def test_atomic_dir_leaves_the_old_output_on_failure(tmp_path):
    final = tmp_path / "out"
    with atomic_dir(final) as tmp:
        (tmp / "a.txt").write_text("first")
    with pytest.raises(RuntimeError), atomic_dir(final) as tmp:
        (tmp / "a.txt").write_text("second")
        raise RuntimeError("crash")
    assert (final / "a.txt").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_normalize_cleans_text(tmp_path):
    src = write_jsonl(
        tmp_path / "in.jsonl",
        [
            json.dumps({"text": "CafÃ©  au\u200b lait &amp; “quotes”\r\n\r\n\r\n\r\nend  \x07"}),
            json.dumps({"text": " \u200b\x01 "}),
        ],
    )
    Normalize(NormalizeConfig()).run([src], tmp_path / "out")
    assert read_records(tmp_path / "out")[0]["text"] == "Café au lait & “quotes”\n\nend"
    assert read_rejects(tmp_path / "out")[0]["reason"] == "empty-after-normalize"


def test_normalize_converts_formats_both_ways(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [json.dumps({"input": "Hi?", "output": "Hello."})])
    Normalize(NormalizeConfig(to_format="messages", system_prompt="Be brief.")).run([src], tmp_path / "m.jsonl")
    record = read_records(tmp_path / "m.jsonl")[0]
    assert record["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi?"},
        {"role": "assistant", "content": "Hello."},
    ]
    Normalize(NormalizeConfig(to_format="input-output")).run([tmp_path / "m.jsonl"], tmp_path / "io.jsonl")
    back = read_records(tmp_path / "io.jsonl")[0]
    assert (back["input"], back["output"], back.get("messages")) == ("Hi?", "Hello.", None)
    assert back["id"] == record["id"]


def test_vectors_are_stored_as_fixed_size_lists(tmp_path):
    import numpy as np
    import pyarrow.parquet as pq

    from dataprep.io.writers import ParquetShardWriter
    from dataprep.records import rows_to_batch

    batch = rows_to_batch([new_record("s", text="a"), new_record("s", text="b")])
    batch["embedding"] = np.array([[0.5, 1.0], [1.5, 2.0]], dtype=np.float16)
    writer = ParquetShardWriter(tmp_path / "o")
    writer.write(batch)
    writer.close()
    table = pq.read_table(tmp_path / "o")
    kind = table.schema.field("embedding").type
    assert (kind.list_size, str(kind.value_type)) == (2, "halffloat")
    assert table.column("embedding").to_pylist()[1] == [1.5, 2.0]


def test_atomic_writes_are_readable_by_others(tmp_path):
    """mkstemp and mkdtemp make owner-only files; what a run writes gets the modes open() and mkdir() give."""
    import os
    import stat

    from dataprep.io.atomic import atomic_write_text

    mask = os.umask(0o022)
    os.umask(mask)
    atomic_write_text(tmp_path / "stats.json", "{}\n")
    with atomic_dir(tmp_path / "stage") as tmp:
        (tmp / "part-0.parquet").write_bytes(b"x")
    assert stat.S_IMODE((tmp_path / "stats.json").stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE((tmp_path / "stage").stat().st_mode) == 0o777 & ~mask
