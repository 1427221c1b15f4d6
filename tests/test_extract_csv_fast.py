"""extract-csv's fast path (Arrow over clean stretches) gives exactly what the careful path gives.

Every fixture runs through the stage twice, ``fast_path`` on and off, and the Parquet shards,
rejects and stats must be byte-identical (the fast path's own count of what it sent to the
careful path aside). Small windows and read chunks put the stretch boundaries everywhere; a
seeded generator of messy files covers what the fixtures do not.
"""

import csv
import gzip
import io
import json
import random

import pyarrow as pa
import pytest

from dataprep.errors import InputError
from dataprep.io.schema import encode_meta
from dataprep.stages.extract import csv_fast
from dataprep.stages.extract.csv import ExtractCsv, ExtractCsvConfig

QA = {"input_column": "q", "output_column": "a"}

FIXTURES = {
    "plain": (b"q,a\nWhat?,That.\nWhy?,Because.\n", QA),
    "quoted-newlines-mixed-ends": (b'q,a\r\n"Multi\nline?","Yes,\r\nit is."\nSecond,Row\r\nThird,Row\n', QA),
    "lone-cr-line-ends": (b'q,a\rone,two\r"three\rfour",five\r\rsix,seven', QA),
    "bom": ("\ufeffq,a\nA?,B.\n".encode(), QA),
    "bom-inside": ("q,a\nA?,B.\n\ufeffC?,D.\nE?,F.\n".encode(), QA),
    "bom-after-ragged": ("q,a\nA?,B.\nragged\n\ufeffC?,D.\nE?,F.\n".encode(), QA),
    "cp1252": ("q,a\nTea?,£3 – cheap\n".encode("cp1252"), QA),
    "latin1": (b"q,a\nabc\x81def?,yes\n", QA),
    "utf16": ("q,a\nWhat?,Ça va.\n".encode("utf-16"), QA),
    "ragged-short": (b"q,a\nonly-question\nfull,row\n", QA),
    "ragged-long-repair": (
        b'q,a,date\n"ok",fine,2020\n"multi\nline",x,2021\nbroken,one, two,2022\nlast,row,2023\n',
        QA,
    ),
    "nul-bytes": (b'q,a\nnul\x00here,"and\x00there"\nx,y\n', QA),
    "empty-lines": (b"q,a\n\n\r\nfirst,row\n\n\nsecond,row\n\n", QA),
    "header-only": (b"q,a\n", QA),
    "header-only-no-newline": (b"q,a", QA),
    "empty-file": (b"", QA),
    "blank-first-line": (b"\nq,a\nx,y\n", {"text_column": "column_1"}),
    "stray-quotes": (b'q,a\n5" screen,ok\n"closed"then,more\nfine,"a ""quoted"" word"\n', QA),
    "unclosed-quote-at-end": (b'q,a\nfine,row\nbad,"never closed\nmore text\n', QA),
    "na-and-whitespace": (
        "q,a\nfirst,\nsecond,   \nthird,NaN\nfourth,\u3000NULL\u3000\nfifth,\x1c\nsixth,fine\n".encode(),
        QA,
    ),
    "multiline-header": (b'"q\nuestion",a\nx,y\nz,w\n', {"text_column": "a"}),
    "duplicate-header": (b",text,text,\n0,first,second,x\n", {"template": "{column_1}|{text}|{text_2}|{column_4}"}),
    "meta-star-json-escapes": (
        b'q,a,cat,note\nx,y,"tab\there","quote "" and \\ back"\nx2,y2,plain,"new\nline"\n',
        {**QA, "meta_columns": ["*"]},
    ),
    "template-spec": (b"n,w\n3,abc\n", {"template": "{n:>4}|{w!r}"}),
    "template-simple": (
        b"topic,q,a\ncooking,Why salt?,Flavour.\n",
        {"template": "[{topic}] {q}", "output_template": "{a}"},
    ),
    "semicolon": (b"q;a\nWhy, though?;Because, really.\nHow?;Like so.\n", QA),
}

SPILLED = (
    b"v1,v2,,,\n"
    b'ham,"Ok"," see you at 5 then",,\n'
    b"spam,He said no,never and left,twice,\n"
    b"ham,Free entry in a weekly draw, text WIN to 80086,,\n"
    b"spam,plain,,,\n"
    b'ham,"gap",,"after an empty cell",\n'
)
BACKSLASH = (
    b'v1,v2,,,\r\nham,"Ok, see you",,,\r\nspam,"He said \\"no, never\\" and left",,,\r\nham,"C:\\new\\table",,,\r\n'
)


def options_for(name):
    return FIXTURES[name][1]


def run(path, out, fast, **options):
    stage = ExtractCsv(ExtractCsvConfig(**options))
    stage.fast_path = fast
    return stage.run([path], out)


def comparable_stats(folder):
    stats = json.loads((folder / "stats.json").read_text())
    for key in ("seconds", "records_per_second", "peak_memory_mb"):
        stats.pop(key, None)
    for info in stats.get("extra", {}).get("files", {}).values():
        info.pop("careful_rows", None)
        info.pop("careful_because", None)
    return stats


def assert_same(tmp_path, path, **options):
    """Both paths on ``path``: the same shards, rejects and stats (or the same error)."""
    outcomes = []
    for fast in (False, True):
        out = tmp_path / f"out-{fast}"
        try:
            run(path, out, fast, **options)
        except InputError as exc:
            outcomes.append(("error", str(exc)))
            continue
        shards = {p.name: p.read_bytes() for p in sorted(out.glob("*.parquet"))}
        outcomes.append((shards, (out / "rejects.jsonl").read_bytes(), comparable_stats(out)))
    assert outcomes[1] == outcomes[0]
    return outcomes[1]


@pytest.fixture(params=["default-windows", "tiny-windows"])
def windows(request, monkeypatch):
    """The real window sizes, and tiny ones that put stretch and read boundaries in every record."""
    if request.param == "tiny-windows":
        monkeypatch.setattr(csv_fast, "MIN_WINDOW", 16)
        monkeypatch.setattr(csv_fast, "MAX_WINDOW", 64)
        monkeypatch.setattr(csv_fast, "READ_CHUNK", 7)
    return request.param


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fast_path_gives_what_the_careful_path_gives(tmp_path, write_bytes, windows, name):
    data, options = FIXTURES[name]
    suffix = ".tsv" if name == "tsv" else ".csv"
    assert_same(tmp_path, write_bytes(name + suffix, data), **options)


@pytest.mark.parametrize("on_bad_rows", ["repair", "reject"])
@pytest.mark.parametrize("data", [SPILLED, BACKSLASH], ids=["spilled", "backslash"])
def test_spill_and_backslash_exports_match(tmp_path, write_bytes, windows, on_bad_rows, data):
    path = write_bytes("spam.csv", data)
    assert_same(tmp_path, path, text_column="v2", meta_columns=["v1"], on_bad_rows=on_bad_rows)


@pytest.mark.parametrize("on_bad_rows", ["repair", "reject"])
def test_ragged_rows_with_pii_columns_match(tmp_path, write_bytes, windows, on_bad_rows):
    data = b"q,email,a\nhi,a@b.example,fine\nbroken,x@y.example,one, two\nshort\nok,c@d.example,yes\n"
    path = write_bytes("users.csv", data)
    assert_same(tmp_path, path, **QA, pii_columns=["users.email"], meta_columns=["email"], on_bad_rows=on_bad_rows)


def test_gzip_and_explicit_encoding_match(tmp_path, windows):
    path = tmp_path / "z.csv.gz"
    with gzip.open(path, "wb") as handle:
        handle.write("q,a\nhéllo?,wörld\n".encode("cp1252"))
    assert_same(tmp_path, path, **QA, encoding="cp1252")


def test_bytes_that_are_not_the_encoding_give_the_careful_paths_error(tmp_path, write_bytes, windows):
    path = write_bytes("bad.csv", b"q,a\nfine,row\nbad \xff byte,row\n")
    outcome = assert_same(tmp_path, path, **QA, encoding="utf-8")
    assert outcome[0] == "error" and "not utf-8 text" in outcome[1]


def test_a_field_past_the_csv_modules_limit_is_read_carefully(tmp_path, write_bytes, windows):
    limit = csv.field_size_limit()
    csv.field_size_limit(50)
    try:
        long = b"x" * 80
        data = b"q,a\nfirst,row\nlong," + long + b'\nquoted,"' + long + b'\nover lines"\nlast,row\n'
        path = write_bytes("long.csv", data)
        shards, rejects, stats = assert_same(tmp_path, path, **QA)
        assert stats["dropped"]["unparseable-row"] == 2  # the rest of the quoted one is read as rows
        # A long field in a row of the wrong width (which Arrow leaves out) among good rows.
        rows = b"".join(b"q%d,a%d,c\n" % (i, i) for i in range(30))
        data = b"q,a,c\n" + rows + b'long,"' + long + b'\nx,y,z\n"\n' + rows
        shards, rejects, stats = assert_same(tmp_path, write_bytes("ragged.csv", data), **QA)
        assert stats["dropped"]["unparseable-row"] >= 1
        assert b"field larger than field limit" in rejects
    finally:
        csv.field_size_limit(limit)


def test_clean_file_is_read_by_arrow_and_the_broken_rows_are_counted(tmp_path, write_bytes):
    rows = "".join(f"question {i},answer {i}\n" for i in range(2000))
    path = write_bytes("mixed.csv", ("q,a\n" + rows + 'bad "quote,row\nshort\n' + rows).encode())
    stats = run(path, tmp_path / "o", True, **QA)
    info = stats.extra["files"][str(path)]
    assert info["rows"] == 4002
    assert info["careful_rows"] == 2
    assert info["careful_because"] == {"quoting": 1, "ragged": 1}
    assert_same(tmp_path, path, **QA)


def test_python_whitespace_list_is_what_str_strip_removes():
    assert csv_fast.PY_WHITESPACE == "".join(c for c in map(chr, range(0x110000)) if c.isspace())


def test_missing_cells_are_those_str_strip_empties_or_makes_a_marker():
    """``missing`` strips only the cells that could strip to a marker; it finds what stripping all would."""
    rng = random.Random(5)
    pieces = ["", "x", "NaN", "NULL", "n/a", "text", "\u00e9t\u00e9", "\u65e5\u672c"]
    cells = []
    for _ in range(3000):
        pad = lambda: "".join(rng.choice(csv_fast.PY_WHITESPACE) for _ in range(rng.choice([0, 0, 1, 3])))  # noqa: E731
        cells.append(pad() + rng.choice(pieces) * rng.choice([1, 1, 5]) + pad())
    na = {"NaN", "NULL", "n/a"}
    expected = {row: cell.strip() for row, cell in enumerate(cells) if not cell.strip() or cell.strip() in na}
    column = pa.chunked_array([pa.array(cells[:1234]), pa.array(cells[1234:]).slice(0)])
    assert csv_fast.missing(column, na) == expected
    assert csv_fast.missing(pa.array(cells).slice(1000), na) == {
        row - 1000: value for row, value in expected.items() if row >= 1000
    }
    assert len(expected) > 300


def test_count_lines_counts_as_text_mode_splits():
    rng = random.Random(1)
    for _ in range(3000):
        data = bytes(rng.choice(b"ab\r\n") for _ in range(rng.randint(1, 30)))
        begin = rng.randint(0, len(data))
        end = rng.randint(begin, len(data))
        expected = len(io.TextIOWrapper(io.BytesIO(data[begin:end]), newline="").readlines())
        assert csv_fast.count_lines(data, begin, end) == expected, data[begin:end]


def test_many_files_share_row_groups_as_the_careful_path_does(tmp_path, write_bytes):
    paths = [
        write_bytes(f"f{i}.csv", ("q,a\n" + "".join(f"q{i}-{j},a{j}\n" for j in range(700))).encode()) for i in range(3)
    ]
    outs = []
    for fast in (False, True):
        stage = ExtractCsv(ExtractCsvConfig(**QA))
        stage.fast_path = fast
        stage.run(paths, tmp_path / f"m-{fast}")
        outs.append({p.name: p.read_bytes() for p in (tmp_path / f"m-{fast}").glob("*.parquet")})
    assert outs[0] == outs[1]


TOKENS = [
    "a",
    "b c",
    "é",
    "\u3000",
    "\ufeff",
    ",",
    ",",
    '"',
    '""',
    '","',
    "\n",
    "\r\n",
    "\r",
    '\\"',
    " ",
    "\x00",
    "NULL",
    ";",
]


def messy_file(rng):
    header = rng.choice([b"q,a\n", b"q,a,c\n", b"q,a,,\n", b'"q",a\r\n'])
    body = "".join(rng.choice(TOKENS) for _ in range(rng.randint(0, 60)))
    return header + body.encode()


def items(stage, path, fast):
    """What a path yields, as comparable tuples: the records (tables as their rows) and the rejects.
    (How the two interleave does not reach the output: they go to different files.)"""
    records, rejects = [], []
    stage.fast_path = fast
    reader = stage.read(path)
    for item in reader:
        if isinstance(item, pa.Table):
            records.extend(tuple(row.values()) for row in item.to_pylist())
        elif isinstance(item, dict):
            records.append(tuple({**item, "meta": encode_meta(item["meta"])}[k] for k in item_keys()))
        else:
            rejects.append((item.reason, item.source, json.dumps(item.record), item.detail))
    return records, rejects


def item_keys():
    return ["id", "text", "input", "output", "messages", "source", "meta"]


@pytest.mark.parametrize("seed", range(4))
def test_messy_files_read_the_same_either_way(tmp_path, monkeypatch, seed):
    monkeypatch.setattr(csv_fast, "MIN_WINDOW", 16)
    monkeypatch.setattr(csv_fast, "MAX_WINDOW", 64)
    monkeypatch.setattr(csv_fast, "READ_CHUNK", 5)
    rng = random.Random(seed)
    for case in range(150):
        path = tmp_path / f"m{seed}-{case}.csv"
        path.write_bytes(messy_file(rng))
        options = rng.choice(
            [
                {**QA, "quote_escape": "double", "meta_columns": ["*"]},
                {"template": "{q}/{a}", "on_bad_rows": rng.choice(["repair", "reject"])},
                {"text_column": "a", "quote_escape": "auto"},
            ]
        )
        results = []
        for fast in (False, True):
            stage = ExtractCsv(ExtractCsvConfig(**options))
            try:
                got = items(stage, path, fast)
            except InputError as exc:
                got = ("error", str(exc))
            info = {k: v for k, v in stage.files.get(str(path), {}).items() if not k.startswith("careful")}
            results.append((got, info, dict(stage.repaired)))
        assert results[1] == results[0], (path.read_bytes(), options)
