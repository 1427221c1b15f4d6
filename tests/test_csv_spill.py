r"""extract-csv keeps every character of exports whose quoting was broken (issue 15).

The fixtures are built like a real SMS-style export: a label and a text column, a header
widened with empty names (``v1,v2,,,``), quotes written as \" instead of "", and the end of
some texts in the unnamed trailing cells where a spreadsheet put them.
"""

import pytest
from helpers import read_records, read_rejects, read_stats

from dataprep.stages.extract.csv import ExtractCsv, ExtractCsvConfig

TEXTS = [
    "Ok, see you at 5 then",
    'He said "no, never" and left, twice',
    "Free entry in a weekly draw, text WIN to 80086",
    r"Path C:\new\table stays, backslashes too",
    "plain",
]


def extract(path, out, **options):
    return ExtractCsv(ExtractCsvConfig(text_column="v2", meta_columns=["v1"], **options)).run([path], out)


def backslash_export() -> bytes:
    """The file as a PHP/MySQL exporter writes it: \\" for a quote, every text quoted."""
    lines = ["v1,v2,,,"]
    for i, text in enumerate(TEXTS):
        lines.append(f'{"spam" if i % 2 else "ham"},"{text.replace(chr(34), chr(92) + chr(34))}",,,')
    return ("\r\n".join(lines) + "\r\n").encode()


def spilled_export() -> bytes:
    """The same texts after a spreadsheet read the broken quoting: ends in the unnamed cells."""
    return (
        b"v1,v2,,,\n"
        b'ham,"Ok"," see you at 5 then",,\n'
        b"spam,He said no,never and left,twice,\n"
        b"ham,Free entry in a weekly draw, text WIN to 80086,,\n"
        b"spam,plain,,,\n"
        b'ham,"gap",,"after an empty cell",\n'
    )


def test_backslash_escaped_quotes_are_read_exactly(tmp_path, write_bytes):
    path = write_bytes("spam.csv", backslash_export())
    stats = extract(path, tmp_path / "o")
    assert [r["text"] for r in read_records(tmp_path / "o")] == TEXTS
    assert stats.extra["files"][str(path)]["quote_escape"] == "backslash"
    assert stats.dropped == {} and "repaired" not in stats.extra


def test_spilled_text_is_joined_back_with_its_separator_and_counted(tmp_path, write_bytes):
    path = write_bytes("spam.csv", spilled_export())
    stats = extract(path, tmp_path / "o", quote_escape="double")
    texts = [r["text"] for r in read_records(tmp_path / "o")]
    # Every character of the cells is kept, in order, joined by the delimiter they were split on.
    assert texts[0] == "Ok, see you at 5 then"
    assert texts[2] == "Free entry in a weekly draw, text WIN to 80086"
    assert texts[3] == "plain"
    assert texts[4] == "gap,,after an empty cell"
    assert texts[1] == "He said no,never and left,twice"
    assert stats.extra["repaired"] == {"repaired-spill": 4}
    assert read_stats(tmp_path / "o")["extra"]["repaired"] == {"repaired-spill": 4}
    assert all(set(r["meta"]) == {"v1"} for r in read_records(tmp_path / "o"))


def test_spilled_rows_are_rejected_when_asked(tmp_path, write_bytes):
    path = write_bytes("spam.csv", spilled_export())
    stats = extract(path, tmp_path / "o", on_bad_rows="reject")
    assert [r["text"] for r in read_records(tmp_path / "o")] == ["plain"]
    rejects = read_rejects(tmp_path / "o")
    assert [r["reason"] for r in rejects] == ["spilled-text"] * 4
    assert rejects[0]["source"] == f"{path}#line=2" and "unnamed columns after 'v2'" in rejects[0]["detail"]
    assert stats.dropped == {"spilled-text": 4}


@pytest.mark.parametrize("header", ["v1,v2,Unnamed: 2,Unnamed: 3", "v1,v2,,"])
def test_pandas_unnamed_headers_count_as_unnamed(tmp_path, write_bytes, header):
    path = write_bytes("p.csv", f"{header}\nham,first part, second part,\n".encode())
    extract(path, tmp_path / "o")
    assert read_records(tmp_path / "o")[0]["text"] == "first part, second part"


def test_a_mapping_that_names_an_unnamed_column_keeps_it_a_column(tmp_path, write_bytes):
    path = write_bytes("p.csv", b"v1,v2,,\nham,first,second,\n")
    stats = ExtractCsv(ExtractCsvConfig(template="{v2}|{column_3}")).run([path], tmp_path / "o")
    assert read_records(tmp_path / "o")[0]["text"] == "first|second"
    assert "repaired" not in stats.extra


def test_double_quoted_exports_are_not_taken_for_backslash_ones(tmp_path, write_bytes):
    path = write_bytes("d.csv", b'v1,v2\nham,"say ""hi"" to C:\\dir\\"" ok"\nspam,""\n')
    stats = extract(path, tmp_path / "o")
    assert stats.extra["files"][str(path)]["quote_escape"] == "double"
    assert read_records(tmp_path / "o")[0]["text"] == 'say "hi" to C:\\dir\\" ok'
