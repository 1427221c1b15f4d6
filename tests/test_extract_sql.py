"""The extract-sql stage: mapping, filters, rejects, listing, query mode and its authorizer."""

import json

import pytest
from conftest import REPO
from helpers import read_records, read_rejects, read_stats, tree_bytes
from pydantic import ValidationError
from sql_fixtures import MSSQL_SCRIPT, MYSQLDUMP, PG_DUMP, SQLITE_DUMP

from dataprep.errors import ConfigError, InputError
from dataprep.pipeline.config import load_pipeline
from dataprep.stages.base import StageContext
from dataprep.stages.extract.sql.stage import ExtractSql, ExtractSqlConfig

KB = """CREATE TABLE articles (id INTEGER, title TEXT, description TEXT, status TEXT, body BLOB);
INSERT INTO articles VALUES (1, 'Garlic', 'Plant cloves in autumn.', 'published', X'6869');
INSERT INTO articles VALUES (2, 'Compost', NULL, 'published', NULL);
INSERT INTO articles VALUES (3, 'Taps', 'Replace the washer.', 'draft', X'FF00');
INSERT INTO articles VALUES (4, 'Blank', '   ', 'published', NULL);
"""


def extract(path, out, **options):
    return ExtractSql(ExtractSqlConfig(**options), StageContext(quiet=True)).run([path], out)


@pytest.fixture
def dump(tmp_path):
    def _write(text: str, name: str = "dump.sql"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write


def test_template_mapping_and_locators(dump, tmp_path):
    path = dump(KB)
    extract(path, tmp_path / "o", table="articles", template="{title}: {description}")
    records = read_records(tmp_path / "o")
    assert [r["text"] for r in records] == [
        "Garlic: Plant cloves in autumn.",
        "Taps: Replace the washer.",
        "Blank:    ",
    ]
    assert [r["source"] for r in records] == [f"{path}#table=articles&row={n}" for n in (1, 3, 4)]
    rejects = read_rejects(tmp_path / "o")
    assert [(r["reason"], r["source"]) for r in rejects] == [("null-text", f"{path}#table=articles&row=2")]
    assert rejects[0]["detail"] == "column 'description' is NULL"


def test_text_column_rejects_null_empty_and_binary(dump, tmp_path):
    path = dump(KB)
    extract(path, tmp_path / "o", table="articles", text_column="body", meta_columns=["title"])
    records = read_records(tmp_path / "o")
    assert [(r["text"], r["meta"]) for r in records] == [("hi", {"title": "Garlic"})]
    assert [r["reason"] for r in read_rejects(tmp_path / "o")] == ["null-text", "binary-text", "null-text"]


def test_input_output_columns_where_and_meta(dump, tmp_path):
    path = dump(KB)
    extract(
        path,
        tmp_path / "o",
        table="articles",
        input_column="title",
        output_column="description",
        where=["status=published", "description!=NULL"],
        meta_columns=["*"],
    )
    records = read_records(tmp_path / "o")
    assert [(r["input"], r["output"]) for r in records] == [("Garlic", "Plant cloves in autumn.")]
    assert records[0]["meta"] == {"id": "1", "status": "published", "body": "hi"}
    assert [r["reason"] for r in read_rejects(tmp_path / "o")] == ["empty-output"]
    stats = read_stats(tmp_path / "o")
    assert stats["extra"]["files"][str(path)]["skipped_by_where"] == 2


def test_every_dialect_extracts_its_rows(dump, tmp_path):
    cases = [
        (MYSQLDUMP, "film", "title", 4),
        (PG_DUMP, "notes", "title", 8),
        (SQLITE_DUMP, "tips", "topic", 4),
        (MSSQL_SCRIPT, "Posts", "Title", 3),
    ]
    for number, (text, table, column, rows) in enumerate(cases):
        out = tmp_path / f"o{number}"
        stats = extract(dump(text, f"d{number}.sql"), out, table=table, text_column=column)
        assert (stats.records_in, stats.records_out, dict(stats.dropped)) == (rows, rows, {}), table


def test_unknown_table_and_column_are_input_errors(dump, tmp_path):
    path = dump(KB)
    with pytest.raises(InputError, match="no table 'article'; did you mean 'articles'"):
        extract(path, tmp_path / "a", table="article", text_column="title")
    with pytest.raises(InputError, match="no column 'titel'; did you mean 'title'"):
        extract(path, tmp_path / "b", table="articles", text_column="titel")


def test_default_mapping_uses_a_text_column(dump, tmp_path):
    path = dump("CREATE TABLE t (id int, text text);\nINSERT INTO t VALUES (1, 'hello');\n")
    extract(path, tmp_path / "o", table="t")
    assert [r["text"] for r in read_records(tmp_path / "o")] == ["hello"]
    with pytest.raises(InputError, match="no column called text"):
        extract(dump(KB, "kb.sql"), tmp_path / "p", table="articles")


def test_problems_are_rejected_with_line_numbers_and_the_rest_extracted(dump, tmp_path):
    cut = MYSQLDUMP[: MYSQLDUMP.index("ADAPTATION")]
    path = dump(cut)
    stats = extract(path, tmp_path / "o", table="film", text_column="title")
    assert stats.records_out == 2
    assert [(r["reason"], r["source"]) for r in read_rejects(tmp_path / "o")] == [("truncated-dump", f"{path}#line=23")]


def test_extraction_is_deterministic(dump, tmp_path):
    path = dump(MYSQLDUMP + "INSERT INTO `film` VALUES (5,'BROKEN',);\n")
    for name in ("a", "b"):
        extract(path, tmp_path / name, table="film", template="{title}\n{description}", meta_columns=["*"])
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")
    assert (tmp_path / "a" / "rejects.jsonl").read_bytes() == (tmp_path / "b" / "rejects.jsonl").read_bytes()
    assert [r["reason"] for r in read_rejects(tmp_path / "a")] == ["null-text", "unparseable-statement"]


# -- config ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"text_column": "a"}, "give table"),
        ({"table": "t", "text_column": "a", "template": "{a}"}, "at most one mapping"),
        ({"table": "t", "input_column": "a"}, "go together"),
        ({"table": "t", "where": ["status"]}, "COLUMN=VALUE"),
        ({"table": "t", "query": "SELECT 1"}, "query replaces table"),
        ({"query": "DELETE FROM t"}, "read-only SELECT"),
        ({"query": "SELECT 1; SELECT 2"}, "single SELECT"),
        ({"table": "t", "json": True}, "json goes with list_tables"),
    ],
)
def test_config_mistakes_are_sentences(options, message):
    with pytest.raises(ValidationError, match=message):
        ExtractSqlConfig(**options)


# -- listing -----------------------------------------------------------------------------


def test_list_tables_needs_no_output(dump, cli):
    path = dump(MYSQLDUMP)
    result = cli("extract-sql", path, "--list-tables")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"{path}: mysql, 1 table, 4 rows, 0 problems"
    assert lines[2].split() == ["film", "4", "film_id,", "title,", "description,", "poster"]


def test_list_tables_json_counts_and_problems(dump, cli):
    path = dump(PG_DUMP[: PG_DUMP.index("5\tOctal")])
    result = cli("extract-sql", path, "--list-tables", "--json")
    assert result.exit_code == 0, result.output
    (listing,) = json.loads(result.output)
    assert listing["dialect"] == "postgres"
    assert [(t["name"], t["rows"]) for t in listing["tables"]] == [("public.notes", 4), ("public.audit", 0)]
    assert [(p["reason"], p["line"]) for p in listing["problems"]] == [("truncated-dump", 33)]


def test_extracting_needs_an_output(dump, cli):
    result = cli("extract-sql", dump(KB), "--table", "articles", "--text-column", "title")
    assert result.exit_code == 2
    assert "Missing option '-o'" in result.output


def test_cli_extracts_with_template_escapes(dump, cli, tmp_path):
    result = cli(
        "extract-sql", dump(KB), "-o", tmp_path / "o.jsonl", "--table", "articles",
        "--template", r"{title}\n{description}", "--where", "status=draft", "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [r["text"] for r in read_records(tmp_path / "o.jsonl")] == ["Taps\nReplace the washer."]


# -- query mode --------------------------------------------------------------------------


def test_query_joins_tables_and_counts_match_extraction(dump, tmp_path):
    text = MYSQLDUMP.replace(
        "UNLOCK TABLES;\n",
        "UNLOCK TABLES;\nCREATE TABLE `genre` (`film_id` int, `name` varchar(20));\n"
        "INSERT INTO `genre` VALUES (1,'Drama'),(2,'Comedy'),(4,'Romance');\n",
        1,
    )
    path = dump(text)
    extract(
        path,
        tmp_path / "o",
        query="SELECT f.title AS input, g.name AS output FROM film f JOIN genre g USING (film_id) "
        "WHERE f.film_id > 1 ORDER BY f.film_id",
    )
    records = read_records(tmp_path / "o")
    assert [(r["input"], r["output"]) for r in records] == [
        ("ACE GOLDFINGER", "Comedy"),
        ("AFFAIR PREJUDICE", "Romance"),
    ]
    assert records[0]["source"] == f"{path}#query&row=1"
    extract(path, tmp_path / "n", query="SELECT count(*) AS text FROM film WHERE poster IS NOT NULL")
    assert read_records(tmp_path / "n")[0]["text"] == "2"


def test_sqlite_authorizer_refuses_what_a_dump_smuggles_in(dump, tmp_path):
    evil = tmp_path / "evil.db"
    copied = tmp_path / "copy.db"
    text = (
        "PRAGMA foreign_keys=OFF;\n"  # 1
        "BEGIN TRANSACTION;\n"  # 2
        "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);\n"  # 3
        "INSERT INTO notes VALUES(1,'keep me');\n"  # 4
        f"ATTACH DATABASE '{evil}' AS evil;\n"  # 5
        "PRAGMA writable_schema = ON;\n"  # 6
        "SELECT load_extension('/nonexistent/evil.so');\n"  # 7
        "CREATE TEMP VIEW outside AS SELECT * FROM notes;\n"  # 8
        f"VACUUM INTO '{copied}';\n"  # 9
        "CREATE VIEW kept AS SELECT body FROM notes;\n"  # 10
        "INSERT INTO notes VALUES(2,'and me');\n"  # 11
        "COMMIT;\n"
    )
    path = dump(text)
    extract(path, tmp_path / "o", query="SELECT body AS text FROM kept ORDER BY 1")
    assert [r["text"] for r in read_records(tmp_path / "o")] == ["and me", "keep me"]
    refused = {r["source"].rsplit("=", 1)[1]: r["detail"] for r in read_rejects(tmp_path / "o")}
    assert sorted(refused, key=int) == ["5", "6", "7", "8", "9"]
    assert "ATTACH" in refused["5"] and "refused" in refused["5"]
    assert "load_extension" in refused["7"]
    assert "only the temporary database may be written" in refused["8"]
    assert not evil.exists() and not copied.exists()


def test_query_over_a_sqlite_dump_with_its_own_bookkeeping_tables(dump, tmp_path):
    """sqlite_sequence rows are SQLite's bookkeeping (and a name it reserves); triggers never fire in a query."""
    extract(dump(SQLITE_DUMP), tmp_path / "o", query="SELECT tip AS text FROM tips")
    assert len(read_records(tmp_path / "o")) == 3
    assert [r["reason"] for r in read_rejects(tmp_path / "o")] == ["null-text"]


def test_the_query_itself_may_only_read(dump, tmp_path):
    path = dump(KB)
    with pytest.raises(ConfigError, match="load_extension.* is not allowed"):
        extract(path, tmp_path / "o", query="SELECT load_extension('/nonexistent/evil.so') AS text")
    with pytest.raises(ConfigError, match="no such table: nope"):
        extract(path, tmp_path / "p", query="SELECT text FROM nope")


# -- the sample pipeline's dumps ---------------------------------------------------------


def test_sample_pipeline_sql_stages(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    stages = [s for s in load_pipeline(REPO / "pipelines" / "sample.yml").stages if s.cls is ExtractSql]
    assert [s.name for s in stages] == ["forum", "kb"]
    outcomes = {}
    for stage in stages:
        stats = ExtractSql(stage.config, StageContext(quiet=True)).run(stage.inputs, tmp_path / stage.name)
        outcomes[stage.name] = (stats.records_out, dict(stats.dropped))
    assert outcomes == {"forum": (8, {"null-output": 1}), "kb": (9, {"null-output": 2})}
