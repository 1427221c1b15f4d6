"""Reading dumps: every dialect trap, exact row counts, streaming, problems with line numbers."""

import gzip
import itertools
import sqlite3

import pytest
from sql_fixtures import MSSQL_SCRIPT, MYSQLDUMP, PG_DUMP, PHPMYADMIN, SEQUEL_PRO, SQLITE_DUMP

from dataprep.stages.extract.sql.dialects import DIALECTS, detect_dialect
from dataprep.stages.extract.sql.dump import Dump, DumpRow
from dataprep.stages.extract.sql.statements import Problem, Row, StatementSplitter


def read(path, **options):
    """(rows by table name as lists of dicts, problems, the Dump)."""
    dump = Dump(path, **options)
    rows: dict[str, list[dict]] = {}
    problems = []
    for event in dump:
        if isinstance(event, DumpRow):
            assert event.error is None, event.error
            rows.setdefault(event.table.name, []).append(dict(zip(event.columns, event.values)))
        elif isinstance(event, Problem):
            problems.append(event)
    return rows, problems, dump


@pytest.fixture
def dump_file(tmp_path):
    def _write(text: str, name: str = "dump.sql", encoding: str = "utf-8"):
        path = tmp_path / name
        data = text.encode(encoding)
        path.write_bytes(gzip.compress(data, mtime=0) if name.endswith(".gz") else data)
        return path

    return _write


def test_mysqldump_escapes_comments_blobs_and_trigger_bodies(dump_file):
    rows, problems, dump = read(dump_file(MYSQLDUMP))
    assert problems == []
    assert dump.dialect == "mysql"
    # The trigger body's INSERTs (into film and film_text) are not data; the commented-out ones neither.
    assert list(rows) == ["film"]
    assert {t.name: t.rows for t in dump.tables.values()} == {"film": 4}
    film = rows["film"]
    assert [r["film_id"] for r in film] == ["1", "2", "3", "4"]
    assert film[0]["description"] == 'An epic drama; a "feminist" must battle a teacher'
    assert film[0]["poster"] == b"\x89PNG"
    assert film[1]["description"] == "It's a tale\nin two lines -- with # signs and /* no comment */"
    assert film[2]["description"] is None
    assert film[2]["poster"] == b"\x00\xff"
    assert film[3]["description"] == "back\\slash, tab\there, nul\x00, ctrl-z\x1a, O'Neil"
    assert dump.tables["film"].columns == ("film_id", "title", "description", "poster")


def test_sequel_pro_multiline_insert_and_hash_comments(dump_file):
    rows, problems, dump = read(dump_file(SEQUEL_PRO))
    assert problems == []
    assert dump.dialect == "mysql"
    assert [(r["id"], r["name"]) for r in rows["recipes"]] == [("1", "Pancakes"), ("2", "Shakshuka"), ("3", "Toast")]
    assert rows["recipes"][1]["steps"] == "Soften onions; add peppers and tomatoes;\ncrack in the eggs."
    assert rows["recipes"][2]["steps"] is None


def test_phpmyadmin_export_with_a_dollar_delimiter(dump_file):
    rows, problems, dump = read(dump_file(PHPMYADMIN))
    assert problems == []
    assert dump.dialect == "mysql"
    assert rows["tips"] == [
        {"id": "1", "body": "Rest the dough overnight; it's worth it."},
        {"id": "2", "body": "Prune roses in late winter.\r\nNot in autumn."},
    ]


def test_pg_dump_copy_blocks_inserts_and_function_bodies(dump_file):
    rows, problems, dump = read(dump_file(PG_DUMP))
    assert problems == []
    assert dump.dialect == "postgres"
    assert {t.name: t.rows for t in dump.tables.values()} == {"public.notes": 8, "public.audit": 0}
    notes = {int(r["id"]): r for r in rows["public.notes"]}
    assert notes[1]["body"] == "a\tb\\c"
    assert notes[2]["body"] == "line1\nline2\r\nline3"
    assert notes[3]["body"] is None and notes[3]["tags"] is None
    assert notes[4]["body"] == "\\N is not null here"
    assert notes[5]["body"] == "café A"
    # standard_conforming_strings = on: a backslash is just a backslash.
    assert (notes[6]["title"], notes[6]["body"]) == ("C:\\path\\", "standard strings keep \\ as it is")
    assert (notes[7]["title"], notes[7]["body"], notes[7]["tags"]) == ("It's E", "tab\there\\n", "{a}")
    assert (notes[8]["title"], notes[8]["body"]) == ("multi\nline; with a semicolon", "dollar 'quoted'")


def test_pg_dump_with_standard_strings_off_reads_backslash_escapes(dump_file):
    text = PG_DUMP.replace("standard_conforming_strings = on", "standard_conforming_strings = off").replace(
        "'C:\\path\\'", "'C:\\\\path\\\\'"
    )
    rows, problems, _ = read(dump_file(text))
    assert problems == []
    assert rows["public.notes"][5]["title"] == "C:\\path\\"


def test_sqlite_dump_replace_char_unistr_and_trigger_bodies(dump_file):
    rows, problems, dump = read(dump_file(SQLITE_DUMP))
    assert problems == []
    assert dump.dialect == "sqlite"
    assert {t.name: t.rows for t in dump.tables.values()} == {"tips": 4, 'odd "name"': 1, "sqlite_sequence": 1}
    tips = rows["tips"]
    assert tips[0]["tip"] == "Water early;\nnot at noon."
    assert tips[1]["tip"] == "Use 'quotes' and [brackets]; -- not a comment"
    assert tips[1]["photo"] == b"\x00\xff\x10"
    assert tips[2]["tip"] == "Line\r\nbreaks"
    assert tips[3]["tip"] is None
    assert rows['odd "name"'] == [{"a": "1", "b": "café"}]
    assert rows["sqlite_sequence"] == [{"name": "tips", "seq": "4"}]


def test_sqlite_iterdump_round_trip_is_exact(tmp_path):
    db = sqlite3.connect(tmp_path / "src.db")
    db.execute("CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT, body TEXT, score REAL, raw BLOB)")
    values = [
        (1, "It's", "multi\nline;\r\n-- not a comment", 1.5, b"\x00\x01"),
        (2, 'say "hi"', None, -2.0, None),
        (3, "N'' inside", "IN''N''OUT", 0.0, b""),
        (4, "unicode ☕ é", "tab\there /* x */ # y", 1e-7, bytes(range(256))),
    ]
    db.executemany("INSERT INTO posts VALUES (?,?,?,?,?)", values)
    db.commit()
    path = tmp_path / "dump.sql"
    path.write_text("\n".join(db.iterdump()) + "\n", encoding="utf-8")
    rows, problems, _ = read(path, dialect="sqlite")
    assert problems == []
    got = [(int(r["id"]), r["title"], r["body"], float(r["score"]), r["raw"]) for r in rows["posts"]]
    assert got == values


def test_mssql_script_brackets_n_strings_go_and_trigger_batches(dump_file):
    rows, problems, dump = read(dump_file(MSSQL_SCRIPT))
    assert problems == []
    assert dump.dialect == "mssql"
    assert {t.name: t.rows for t in dump.tables.values()} == {"dbo.Posts": 3}
    posts = rows["dbo.Posts"]
    # '' doubling everywhere; an N'' inside a string is not a prefix.
    assert posts[0]["Title"] == "DON'T say N'hi'"
    assert posts[0]["Body"] == "IN'N'OUT; burger\r\nsecond line"
    assert posts[0]["PostedAt"] == "2023-05-01T10:00:00.000"
    assert posts[1]["Body"] is None
    # No column list: the names come from the CREATE TABLE. A GO line inside a string is text.
    assert posts[2] == {
        "Id": "3",
        "Title": "No column list",
        "Body": "multi\nline\nGO\nstill inside the string",
        "PostedAt": "2023-05-03",
    }


def test_utf16_sql_server_script(dump_file):
    rows, problems, _ = read(dump_file(MSSQL_SCRIPT.replace("\n", "\r\n"), "utf16.sql", "utf-16"))
    assert problems == []
    assert [r["Title"] for r in rows["dbo.Posts"]][0] == "DON'T say N'hi'"
    assert rows["dbo.Posts"][2]["Body"] == "multi\r\nline\r\nGO\r\nstill inside the string"


def test_gzip_dump(dump_file):
    rows, problems, _ = read(dump_file(PG_DUMP, "dump.sql.gz"))
    assert problems == [] and len(rows["public.notes"]) == 8


def test_quote_doubling_in_every_dialect(dump_file):
    for dialect in DIALECTS:
        text = "CREATE TABLE t (a text, b text);\nINSERT INTO t VALUES ('IN''N''OUT', N'DON''T say N''hi''');\n"
        rows, problems, _ = read(dump_file(text, f"{dialect}.sql"), dialect=dialect)
        assert problems == []
        assert rows["t"] == [{"a": "IN'N'OUT", "b": "DON'T say N'hi'"}], dialect


def test_insert_without_create_table_gets_numbered_columns(dump_file):
    rows, problems, dump = read(dump_file("INSERT INTO notes VALUES (1,'a'),(2,'b');\n"))
    assert problems == []
    assert rows["notes"] == [{"column_1": "1", "column_2": "a"}, {"column_1": "2", "column_2": "b"}]


def test_dialect_is_guessed_from_markers():
    assert detect_dialect(MYSQLDUMP) == "mysql"
    assert detect_dialect(SEQUEL_PRO) == "mysql"
    assert detect_dialect(PHPMYADMIN) == "mysql"
    assert detect_dialect(PG_DUMP) == "postgres"
    assert detect_dialect(SQLITE_DUMP) == "sqlite"
    assert detect_dialect(MSSQL_SCRIPT) == "mssql"
    assert detect_dialect("INSERT INTO t VALUES (1);") == "sqlite"


# -- bad input ---------------------------------------------------------------------------


def test_dump_cut_inside_a_row_keeps_the_rows_before(dump_file):
    cut = MYSQLDUMP[: MYSQLDUMP.index("ADAPTATION")]
    rows, problems, _ = read(dump_file(cut))
    assert [r["film_id"] for r in rows["film"]] == ["1", "2"]
    assert [(p.reason, p.line) for p in problems] == [("truncated-dump", 23)]
    assert "line 23" in problems[0].detail


def test_dump_cut_between_statements_is_caught_by_the_missing_footer(dump_file):
    cut = MYSQLDUMP[: MYSQLDUMP.index("/*!40000 ALTER TABLE `film` ENABLE KEYS")]
    rows, problems, _ = read(dump_file(cut))
    assert len(rows["film"]) == 4
    assert [p.reason for p in problems] == ["truncated-dump"]
    assert "-- Dump completed" in problems[0].detail


def test_copy_block_without_terminator(dump_file):
    cut = PG_DUMP[: PG_DUMP.index("5\tOctal")]
    rows, problems, _ = read(dump_file(cut))
    assert len(rows["public.notes"]) == 4
    assert [(p.reason, p.line) for p in problems] == [("truncated-dump", 33)]


def test_truncated_gzip_stream(dump_file):
    path = dump_file(PG_DUMP * 3, "dump.sql.gz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    rows, problems, _ = read(path)
    assert rows["public.notes"]
    assert [p.reason for p in problems] == ["truncated-dump"]
    assert "cannot be read to the end" in problems[0].detail


def test_unparseable_statements_are_reported_with_their_line_and_the_rest_is_read(dump_file):
    text = (
        "CREATE TABLE t (a int, b text);\n"  # 1
        "INSERT INTO t VALUES (1,'ok');\n"  # 2
        "THIS IS NOT SQL AT ALL;\n"  # 3
        "INSERT INTO t VALUES (2,'fine'),\n"  # 4
        "  (3,, 'broken');\n"  # 5
        "CREATE TABLE u (x int;\n"  # 6
        "INSERT INTO t VALUES (4,'after');\n"  # 7
    )
    rows, problems, _ = read(dump_file(text), dialect="sqlite")
    assert [r["a"] for r in rows["t"]] == ["1", "2", "4"]
    assert [(p.reason, p.line) for p in problems] == [
        ("unparseable-statement", 3),
        ("unparseable-statement", 5),
        ("unparseable-statement", 6),
    ]


def test_insert_select_is_reported_not_guessed(dump_file):
    rows, problems, _ = read(dump_file("CREATE TABLE t (a int);\nINSERT INTO t SELECT 1;\n"), dialect="sqlite")
    assert rows == {}
    assert [(p.reason, p.line) for p in problems] == [("unsupported-statement", 2)]


def test_rows_with_the_wrong_number_of_values_are_flagged(dump_file):
    dump = Dump(dump_file("CREATE TABLE t (a int, b text);\nINSERT INTO t VALUES (1,'a'),(2);\n"))
    errors = [e.error for e in dump if isinstance(e, DumpRow)]
    assert errors == [None, "1 values for 2 columns"]
    assert dump.tables["t"].rows == 2


def test_lines_that_are_not_utf8_fall_back_to_windows_1252(tmp_path):
    path = tmp_path / "latin.sql"
    path.write_bytes(
        "INSERT INTO t VALUES ('café', '£3');\n".encode("cp1252") + "INSERT INTO t VALUES ('ok ☕', 'x');\n".encode()
    )
    rows, problems, dump = read(path)
    assert [(r["column_1"], r["column_2"]) for r in rows["t"]] == [("café", "£3"), ("ok ☕", "x")]
    assert dump.lines.non_utf8_lines == 1


def test_raw_blob_bytes_next_to_utf8_text(tmp_path):
    """mysqldump without --hex-blob writes a BLOB's bytes as they are, in a line of UTF-8 text."""
    path = tmp_path / "blob.sql"
    head = "CREATE TABLE `t` (`name` text, `icon` blob);\nINSERT INTO `t` VALUES ('crème brûlée','".encode()
    path.write_bytes(head + b"\x89PNG\\0\xff\xfe" + b"');\n")
    rows, problems, _ = read(path, dialect="mysql")
    assert problems == []
    assert rows["t"] == [{"name": "crème brûlée", "icon": b"\x89PNG\x00\xff\xfe"}]


def test_mariadb_sandbox_line(dump_file):
    text = "/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19  Distrib 10.11.8-MariaDB\n"
    text += "CREATE TABLE `t` (`a` int);\nINSERT INTO `t` VALUES (1),(2);\n-- Dump completed on 2024-07-01\n"
    rows, problems, dump = read(dump_file(text))
    assert problems == [] and dump.dialect == "mysql"
    assert rows["t"] == [{"a": "1"}, {"a": "2"}]


# -- streaming ---------------------------------------------------------------------------


def test_rows_stream_out_of_an_endless_insert():
    """The splitter yields rows as it reads: it never needs the end of the statement (or the dump)."""

    def lines():
        yield "INSERT INTO `t` VALUES\n"
        for i in itertools.count():
            yield f"({i},'row {i}; not the end'),\n"

    splitter = StatementSplitter(lines(), DIALECTS["mysql"])
    first = list(itertools.islice((e for e in splitter if isinstance(e, Row)), 1000))
    assert [r.values[0] for r in first[:3]] == ["0", "1", "2"]
    assert len(first) == 1000


def test_rows_stream_out_of_an_endless_copy_block():
    def lines():
        yield "COPY public.t (a, b) FROM stdin;\n"
        for i in itertools.count():
            yield f"{i}\ttext\\t{i}\n"

    splitter = StatementSplitter(lines(), DIALECTS["postgres"])
    rows = list(itertools.islice((e for e in splitter if isinstance(e, Row)), 500))
    assert rows[499].values == ["499", "text\t499"]
