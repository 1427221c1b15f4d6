import pytest
from helpers import read_records, read_rejects, read_stats, tree_bytes

from dataprep.errors import ConfigError, InputError
from dataprep.stages.extract.csv import ExtractCsv, ExtractCsvConfig


def extract(path, out, **options):
    return ExtractCsv(ExtractCsvConfig(**options)).run([path], out)


def test_input_output_mapping_and_stable_ids(tmp_path, write_bytes):
    path = write_bytes("qa.csv", b"question,answer\nWhat is 2+2?,Four.\nCapital of France?,Paris.\n")
    extract(path, tmp_path / "a", input_column="question", output_column="answer")
    extract(path, tmp_path / "b", input_column="question", output_column="answer")
    records = read_records(tmp_path / "a")
    assert [(r["input"], r["output"]) for r in records] == [("What is 2+2?", "Four."), ("Capital of France?", "Paris.")]
    assert records[0]["source"] == f"{path}#row=1"
    assert records[1]["source"] == f"{path}#row=2"
    assert [r["id"] for r in records] == [r["id"] for r in read_records(tmp_path / "b")]
    assert len({r["id"] for r in records}) == 2


def test_template_with_escaped_newline_from_cli(tmp_path, write_bytes, cli):
    path = write_bytes("qa.csv", b"question,answer\nWhy?,Because.\n")
    result = cli("extract-csv", path, "-o", tmp_path / "out.jsonl", "--template", r"Q: {question}\nA: {answer}", "-q")
    assert result.exit_code == 0, result.output
    assert read_records(tmp_path / "out.jsonl")[0]["text"] == "Q: Why?\nA: Because."
    assert (tmp_path / "out.jsonl.stats.json").exists()
    assert (tmp_path / "out.jsonl.rejects.jsonl").exists()


def test_output_template_gives_pairs(tmp_path, write_bytes):
    path = write_bytes("qa.csv", b"topic,question,answer\ncooking,Why salt?,Flavour.\n")
    extract(path, tmp_path / "o", template="[{topic}] {question}", output_template="{answer}")
    record = read_records(tmp_path / "o")[0]
    assert (record["input"], record["output"]) == ("[cooking] Why salt?", "Flavour.")


def test_utf8_bom_does_not_leak_into_first_header(tmp_path, write_bytes):
    path = write_bytes("bom.csv", "\ufeffQuestions,Answers\nA?,B.\n".encode())
    extract(path, tmp_path / "o", input_column="Questions", output_column="Answers")
    assert read_records(tmp_path / "o")[0]["input"] == "A?"
    assert read_stats(tmp_path / "o")["extra"]["files"][str(path)]["encoding"] == "utf-8-sig"


def test_windows_1252_pound_sign(tmp_path, write_bytes):
    path = write_bytes("cp.csv", "item,price\nTea,£3 – cheap\n".encode("cp1252"))
    extract(path, tmp_path / "o", template="{item} costs {price}")
    assert read_records(tmp_path / "o")[0]["text"] == "Tea costs £3 – cheap"


def test_latin1_bytes_that_cp1252_leaves_undefined(tmp_path, write_bytes):
    path = write_bytes("l1.csv", b"text\nabc\x81def\n")
    extract(path, tmp_path / "o", text_column="text")
    assert read_records(tmp_path / "o")[0]["text"] == "abc\x81def"


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path, write_bytes, delimiter):
    body = f"q{delimiter}a\nWhy, though?{delimiter}Because, really.\nHow?{delimiter}Like so.\n"
    path = write_bytes("d.csv", body.encode())
    extract(path, tmp_path / "o", input_column="q", output_column="a")
    assert [r["output"] for r in read_records(tmp_path / "o")] == ["Because, really.", "Like so."]


def test_quoted_newlines_and_mixed_line_ends(tmp_path, write_bytes):
    data = b'q,a\r\n"Multi\nline?","Yes,\r\nit is."\nSecond,Row\r\nThird,Row\n'
    path = write_bytes("nl.csv", data)
    extract(path, tmp_path / "o", input_column="q", output_column="a")
    records = read_records(tmp_path / "o")
    assert [r["input"] for r in records] == ["Multi\nline?", "Second", "Third"]
    assert records[0]["output"] == "Yes,\r\nit is."
    assert records[2]["source"].endswith("#row=3")


def test_empty_and_repeated_header_names(tmp_path, write_bytes):
    path = write_bytes("h.csv", b",text,text,\n0,first,second,x\n")
    extract(path, tmp_path / "o", template="{column_1}|{text}|{text_2}|{column_4}")
    assert read_records(tmp_path / "o")[0]["text"] == "0|first|second|x"


def test_extra_fields_rejected_with_line_number(tmp_path, write_bytes):
    path = write_bytes("bad.csv", b'q,a,date\n"ok",fine,2020\n"multi\nline",x,2021\nbroken,one, two,2022\n')
    stats = extract(path, tmp_path / "o", input_column="q", output_column="a", on_bad_rows="reject")
    assert stats.records_out == 2
    rejects = read_rejects(tmp_path / "o")
    assert [r["reason"] for r in rejects] == ["extra-fields"]
    assert rejects[0]["source"] == f"{path}#line=5"
    assert "line 5" in rejects[0]["detail"]
    assert stats.dropped == {"extra-fields": 1}


def test_extra_fields_repaired_into_the_output_column(tmp_path, write_bytes):
    path = write_bytes("bad.csv", b"q,a,date\nbroken,one, two,2022\n")
    extract(path, tmp_path / "o", input_column="q", output_column="a", on_bad_rows="repair")
    record = read_records(tmp_path / "o")[0]
    assert record["output"] == "one, two"


@pytest.mark.parametrize("cell", [b"", b"   ", b"NaN", b"nan", b"NULL"])
def test_empty_or_nan_text_is_rejected_never_the_string_nan(tmp_path, write_bytes, cell):
    path = write_bytes("e.csv", b"q,a\nfirst," + cell + b"\nsecond,fine\n")
    stats = extract(path, tmp_path / "o", input_column="q", output_column="a")
    records = read_records(tmp_path / "o")
    assert [r["output"] for r in records] == ["fine"]
    assert stats.dropped == {"empty-output": 1}
    reject = read_rejects(tmp_path / "o")[0]
    assert reject["source"] == f"{path}#row=1"
    assert "'a'" in reject["detail"]


def test_short_rows_are_padded_and_checked(tmp_path, write_bytes):
    path = write_bytes("s.csv", b"q,a\nonly-question\n")
    stats = extract(path, tmp_path / "o", input_column="q", output_column="a")
    assert stats.records_out == 0 and stats.dropped == {"empty-output": 1}


def test_rows_with_the_same_id_column_are_all_kept(tmp_path, write_bytes):
    path = write_bytes("ids.csv", b"id,text\n7,alpha\n7,beta\n7,alpha\n")
    stats = extract(path, tmp_path / "o", text_column="text", meta_columns=["id"])
    records = read_records(tmp_path / "o")
    assert stats.records_out == 3
    assert [r["meta"]["id"] for r in records] == ["7", "7", "7"]
    assert len({r["id"] for r in records}) == 3


def test_meta_star_copies_unmapped_columns(tmp_path, write_bytes):
    path = write_bytes("m.csv", b"q,a,cat\nx,y,z\n")
    extract(path, tmp_path / "o", input_column="q", output_column="a", meta_columns=["*"])
    assert read_records(tmp_path / "o")[0]["meta"] == {"cat": "z"}


def test_gzip_input(tmp_path):
    import gzip

    path = tmp_path / "z.csv.gz"
    with gzip.open(path, "wb") as handle:
        handle.write("text\nhéllo\n".encode())
    extract(path, tmp_path / "o", text_column="text")
    assert read_records(tmp_path / "o")[0]["text"] == "héllo"


def test_missing_column_names_file_and_suggests(tmp_path, write_bytes):
    path = write_bytes("c.csv", b"question,answer\nx,y\n")
    with pytest.raises(
        InputError, match=r"c\.csv: no column 'anwser'; did you mean 'answer'\? The columns are: 'question', 'answer'"
    ):
        extract(path, tmp_path / "o", input_column="question", output_column="anwser")
    assert not (tmp_path / "o").exists()
    assert not list(tmp_path.glob(".o.*"))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        extract(tmp_path / "nope.csv", tmp_path / "o", text_column="t")


def test_empty_file_is_rejected(tmp_path, write_bytes):
    path = write_bytes("empty.csv", b"")
    stats = extract(path, tmp_path / "o", text_column="t")
    assert stats.dropped == {"empty-file": 1}


@pytest.mark.parametrize(
    "options, message",
    [
        ({}, "exactly one mapping"),
        ({"text_column": "a", "template": "{a}"}, "exactly one mapping"),
        ({"input_column": "a"}, "give both"),
        ({"text_column": "a", "output_template": "{b}"}, "needs template"),
        ({"template": "{a"}, "bad template"),
    ],
)
def test_config_mistakes_are_sentences(options, message):
    with pytest.raises(Exception, match=message):
        ExtractCsvConfig(**options)


def test_cli_reports_config_mistake_without_traceback(tmp_path, write_bytes, cli):
    path = write_bytes("qa.csv", b"q,a\nx,y\n")
    result = cli("extract-csv", path, "-o", tmp_path / "o", "--input-column", "q")
    assert result.exit_code == ConfigError.exit_code
    assert "give both" in result.output
    assert "Traceback" not in result.output


def test_cli_help_documents_every_option(cli):
    result = cli("extract-csv", "--help")
    for option in ExtractCsvConfig.model_fields:
        assert "--" + option.replace("_", "-") in result.output
    assert "Column that holds the text" in result.output


def test_streams_rows_without_reading_the_whole_file(tmp_path):
    path = tmp_path / "big.csv"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("text\n")
        for i in range(50_000):
            handle.write(f"row number {i}\n")
    stage = ExtractCsv(ExtractCsvConfig(text_column="text"))
    rows = stage.read(path)
    first = next(rows)
    assert first["text"] == "row number 0"
    # Read stretch by stretch (a quarter MB at first), never the whole file at once.
    assert stage.files[str(path)]["rows"] < 50_000


def test_deterministic_output(tmp_path, write_bytes):
    lines = "".join(f"Question {i},Answer {i} with, comma\n" for i in range(3000))
    path = write_bytes("d.csv", ("q,a\n" + lines).encode())
    extract(path, tmp_path / "a", input_column="q", output_column="a", on_bad_rows="repair")
    extract(path, tmp_path / "b", input_column="q", output_column="a", on_bad_rows="repair")
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")
    assert (tmp_path / "a" / "rejects.jsonl").read_bytes() == (tmp_path / "b" / "rejects.jsonl").read_bytes()
