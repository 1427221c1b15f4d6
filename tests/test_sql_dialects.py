"""extract-sql tells dialects apart in hand-written scripts, not only in dump tools' output (issue 15).

One generator writes the same small forum database in four dialects, the way sample-database
projects ship a script per server: the same header comment, the same N'..' strings everywhere,
and only each server's own syntax to tell them apart.
"""

import pytest

from dataprep.stages.extract.sql.dialects import detect_dialect
from dataprep.stages.extract.sql.dump import Dump, DumpRow
from dataprep.stages.extract.sql.stage import ExtractSql, ExtractSqlConfig
from dataprep.stages.extract.sql.statements import Problem

HEADER = """/*******************************************************************************
   Forum sample database - version 2.1
   Script: forum.sql
   Description: creates and fills the forum database.
*******************************************************************************/
"""
TOPICS = [(1, "Welcome", "2021-01-02"), (2, "It''s broken; help", "2021-01-03"), (3, "Rules", "2021-01-04")]
POSTS = [
    (1, 1, "Hello, and welcome to the forum."),
    (2, 2, "Since the update it''s slow -- any idea?"),
    (3, 2, "Try clearing the cache /* really */."),
    (4, 3, "Be kind."),
]


def _rows(quote: str, topic_cast: str = "") -> str:
    o, c = quote
    lines = [
        f"INSERT INTO {o}Topic{c} ({o}TopicId{c}, {o}Title{c}, {o}Created{c}) VALUES ({i}, N'{t}', '{d}'{topic_cast});"
        for i, t, d in TOPICS
    ]
    lines += [
        f"INSERT INTO {o}Post{c} ({o}PostId{c}, {o}TopicId{c}, {o}Body{c}) VALUES ({i}, {t}, N'{b}');"
        for i, t, b in POSTS
    ]
    return "\n".join(lines) + "\n"


SCRIPTS = {
    "postgres": HEADER
    + """DROP DATABASE IF EXISTS forum;
CREATE DATABASE forum;
\\c forum;
\\set ON_ERROR_STOP on
CREATE TABLE "Topic"
(
    "TopicId" SERIAL NOT NULL,
    "Title" VARCHAR(160) NOT NULL,
    "Created" TIMESTAMP NOT NULL,
    CONSTRAINT "PK_Topic" PRIMARY KEY ("TopicId")
);
CREATE TABLE "Post"
(
    "PostId" SERIAL NOT NULL,
    "TopicId" INT NOT NULL,
    "Body" TEXT NOT NULL,
    CONSTRAINT "PK_Post" PRIMARY KEY ("PostId")
);
\\connect forum
"""
    + _rows('""', "::timestamp")
    + "\\i extra_posts.sql\n",
    "sqlite": HEADER
    + """PRAGMA foreign_keys = ON;
BEGIN TRANSACTION;
CREATE TABLE [Topic]
(
    [TopicId] INTEGER PRIMARY KEY AUTOINCREMENT,
    [Title] NVARCHAR(160) NOT NULL,
    [Created] DATETIME NOT NULL
);
CREATE TABLE [Post]
(
    [PostId] INTEGER PRIMARY KEY AUTOINCREMENT,
    [TopicId] INTEGER NOT NULL,
    [Body] NTEXT NOT NULL,
    FOREIGN KEY ([TopicId]) REFERENCES [Topic] ([TopicId])
);
"""
    + _rows("[]")
    + "COMMIT;\n",
    "mssql": HEADER
    + """USE [master]
GO
CREATE DATABASE [Forum]
GO
USE [Forum]
GO
CREATE TABLE [dbo].[Topic]
(
    [TopicId] INT IDENTITY(1,1) NOT NULL,
    [Title] NVARCHAR(160) NOT NULL,
    [Created] DATETIME NOT NULL,
    CONSTRAINT [PK_Topic] PRIMARY KEY CLUSTERED ([TopicId])
);
GO
CREATE TABLE [dbo].[Post]
(
    [PostId] INT IDENTITY(1,1) NOT NULL,
    [TopicId] INT NOT NULL,
    [Body] NVARCHAR(MAX) NOT NULL
);
GO
SET IDENTITY_INSERT [dbo].[Topic] ON
"""
    + _rows("[]")
    + "GO\n",
    "mysql": HEADER
    + """DROP DATABASE IF EXISTS `Forum`;
CREATE DATABASE `Forum`;
USE `Forum`;
CREATE TABLE `Topic`
(
    `TopicId` INT NOT NULL AUTO_INCREMENT,
    `Title` VARCHAR(160) CHARACTER SET utf8mb4 NOT NULL,
    `Created` DATETIME NOT NULL,
    CONSTRAINT `PK_Topic` PRIMARY KEY (`TopicId`)
);
CREATE TABLE `Post`
(
    `PostId` INT NOT NULL AUTO_INCREMENT,
    `TopicId` INT NOT NULL,
    `Body` TEXT NOT NULL,
    CONSTRAINT `PK_Post` PRIMARY KEY (`PostId`)
);
"""
    + _rows("``"),
}


def _read(path):
    dump = Dump(path)
    rows: dict[str, list[dict]] = {}
    problems = []
    for event in dump:
        if isinstance(event, DumpRow):
            assert event.error is None, event.error
            rows.setdefault(event.table.name.rsplit(".", 1)[-1], []).append(dict(zip(event.columns, event.values)))
        elif isinstance(event, Problem):
            problems.append(event)
    return dump, rows, problems


@pytest.mark.parametrize("dialect", sorted(SCRIPTS))
def test_one_generator_in_four_dialects_is_told_apart_with_exact_rows(tmp_path, dialect):
    path = tmp_path / f"forum_{dialect}.sql"
    path.write_text(SCRIPTS[dialect], encoding="utf-8")
    assert detect_dialect(SCRIPTS[dialect]) == dialect
    dump, rows, problems = _read(path)
    assert dump.dialect == dialect
    assert problems == []
    assert {name: len(r) for name, r in rows.items()} == {"Topic": 3, "Post": 4}
    assert [r["Title"] for r in rows["Topic"]] == ["Welcome", "It's broken; help", "Rules"]
    assert rows["Post"][1]["Body"] == "Since the update it's slow -- any idea?"
    assert rows["Post"][2]["Body"] == "Try clearing the cache /* really */."


def test_psql_meta_commands_are_skipped_not_problems(tmp_path):
    path = tmp_path / "forum.sql"
    path.write_text(SCRIPTS["postgres"], encoding="utf-8")
    stats = ExtractSql(ExtractSqlConfig(table="Post", text_column="Body")).run([path], tmp_path / "out")
    assert stats.records_out == 4 and stats.dropped == {}
    info = stats.extra["files"][str(path)]
    assert info["dialect"] == "postgres" and info["problems"] == 0
    assert {k: v for k, v in info["statements"].items() if k.startswith("\\")} == {
        "\\c": 1,
        "\\connect": 1,
        "\\set": 1,
        "\\i": 1,
    }


@pytest.mark.parametrize(
    ("script", "dialect"),
    [
        # Hand-written PostgreSQL without any client command: SERIAL and :: casts decide.
        ("CREATE TABLE notes (\n  id SERIAL PRIMARY KEY,\n  body TEXT\n);\n"
         "INSERT INTO notes (body) VALUES (N'first'), ('2021-01-01'::date);\n", "postgres"),
        # A SQLite script with [Name] identifiers and N'..' strings, no PRAGMA: not SQL Server.
        ("CREATE TABLE [Note] (\n  [Id] INTEGER NOT NULL,\n  [Body] NVARCHAR(100)\n);\n"
         "INSERT INTO [Note] ([Id], [Body]) VALUES (1, N'first');\n", "sqlite"),
        # SQL Server without GO: the dbo schema and IDENTITY decide.
        ("CREATE TABLE [dbo].[Note] ([Id] INT IDENTITY(1,1), [Body] NVARCHAR(100));\n"
         "INSERT INTO [dbo].[Note] ([Body]) VALUES (N'first');\n", "mssql"),
        # MySQL by hand: backticks beat the N'..' strings.
        ("CREATE TABLE `note` (`id` INT AUTO_INCREMENT, `body` TEXT);\n"
         "INSERT INTO `note` (`body`) VALUES (N'first');\n", "mysql"),
    ],
)  # fmt: skip
def test_hand_written_scripts(script, dialect):
    assert detect_dialect(script) == dialect


def test_sql_server_money_literals_and_partial_column_lists(tmp_path):
    path = tmp_path / "shop.sql"
    path.write_text(
        "CREATE TABLE items\n(\n  item_id char(6) NOT NULL,\n  name varchar(80) NOT NULL,\n  price money NULL,\n"
        "  notes varchar(200) NULL\n)\nGO\n"
        "insert items values('A1', 'Lamp', $20.00, 'A reading lamp.')\n"
        "insert items values('A2', 'Chair', -$5.5, 'Folding,\nwith a cushion.')\n"
        "insert items (item_id, name)\n   values('A3', 'Desk')\nGO\n",
        encoding="utf-8",
    )
    dump, rows, problems = _read(path)
    assert dump.dialect == "mssql" and problems == []
    assert [(r["price"], r["notes"]) for r in rows["items"]] == [
        ("20.00", "A reading lamp."),
        ("-5.5", "Folding,\nwith a cushion."),
        (None, None),
    ]
    stats = ExtractSql(ExtractSqlConfig(table="items", text_column="notes")).run([path], tmp_path / "out")
    assert stats.records_out == 2 and stats.dropped == {"null-text": 1}
