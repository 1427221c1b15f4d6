import json

import pytest
from conftest import REPO
from helpers import read_records, read_rejects

from dataprep.errors import InputError
from dataprep.stages.extract.csv import ExtractCsv, ExtractCsvConfig
from dataprep.stages.extract.sql.stage import ExtractSql, ExtractSqlConfig
from dataprep.stages.privacy.columns import name_kind

CSV = (
    "id,name,email,phone,question,answer\n"
    "1,Ada,ada@example.com,+1 415-555-0132,How do I reset it?,Hold the button for ten seconds.\n"
    '2,Bob,bob@example.org,,Does it ship abroad?,"Yes, to most countries."\n'
)

DUMP = """CREATE TABLE users (id int, email varchar(255), last_ip varchar(45), note text);
INSERT INTO users VALUES (1,'ada@example.com','81.2.69.142','Asked about refunds.'),
  (2,'bob@example.org','93.184.216.34','Prefers e-mail.');
CREATE TABLE posts (id int, user_id int, body text);
INSERT INTO posts VALUES (1,1,'Hold the button for ten seconds.'),(2,2,'Thanks, that worked.');
"""


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        ("email", "email"),
        ("billing_email", "email"),
        ("EmailAddress", "email"),
        ("phone_number", "phone"),
        ("last_ip", "ip"),
        ("street_address", "address"),
        ("password_hash", "password"),
        ("api_key", "token"),
        ("first_name", "name"),
        ("date_of_birth", "birthdate"),
        ("ship_date", None),
        ("title", None),
        ("author", None),
        ("hotel", None),
    ],
)
def test_column_names(column, kind):
    assert name_kind(column) == kind


def test_csv_redacts_named_columns_in_templates_and_meta(tmp_path, write_bytes):
    path = write_bytes("users.csv", CSV.encode())
    config = ExtractCsvConfig(
        template="{question} (from {email})",
        output_template="{answer}",
        meta_columns=["*"],
        pii_columns=["users.email,users.phone", "name"],
    )
    ExtractCsv(config).run([path], tmp_path / "out")
    records = read_records(tmp_path / "out")
    assert records[0]["input"] == "How do I reset it? (from <EMAIL>)"
    assert records[0]["meta"] == {"id": "1", "name": "<PII>", "phone": "<PHONE>"}
    assert "ada@example.com" not in json.dumps(records)


def test_csv_drop_empties_the_value_and_a_record_made_of_it_is_rejected(tmp_path, write_bytes):
    path = write_bytes("users.csv", CSV.encode())
    ExtractCsv(ExtractCsvConfig(text_column="email", pii_columns=["email"], pii_column_action="drop")).run(
        [path], tmp_path / "out"
    )
    assert read_records(tmp_path / "out") == []
    rejects = read_rejects(tmp_path / "out")
    assert [r["reason"] for r in rejects] == ["empty-text", "empty-text"]
    assert "example" not in json.dumps(rejects)


def test_csv_spec_for_a_missing_column_names_the_file(tmp_path, write_bytes):
    path = write_bytes("users.csv", CSV.encode())
    with pytest.raises(InputError, match=r"users.csv: pii_columns names users.emial.*did you mean 'email'"):
        ExtractCsv(ExtractCsvConfig(text_column="answer", pii_columns=["users.emial"])).run([path], tmp_path / "o")
    # A spec for another table is for another file: no error here.
    ExtractCsv(ExtractCsvConfig(text_column="answer", pii_columns=["accounts.emial"])).run([path], tmp_path / "p")


def test_sql_table_mode_and_query_mode(tmp_path, write_bytes):
    path = write_bytes("app.sql", DUMP.encode())
    config = ExtractSqlConfig(table="users", template="{note} <{email}> {last_ip}", pii_columns=["users.email"])
    ExtractSql(config).run([path], tmp_path / "a")
    assert [r["text"] for r in read_records(tmp_path / "a")][0] == "Asked about refunds. <<EMAIL>> 81.2.69.142"
    query = "SELECT p.body, u.email FROM posts p JOIN users u ON u.id = p.user_id ORDER BY p.id"
    config = ExtractSqlConfig(query=query, text_column="body", meta_columns=["email"], pii_columns=["users.email"])
    ExtractSql(config).run([path], tmp_path / "b")
    assert [r["meta"]["email"] for r in read_records(tmp_path / "b")] == ["<EMAIL>", "<EMAIL>"]
    with pytest.raises(InputError, match="pii_columns names mail"):
        ExtractSql(ExtractSqlConfig(table="users", text_column="note", pii_columns=["users.mail"])).run(
            [path], tmp_path / "c"
        )


def test_list_tables_marks_personal_columns(tmp_path, write_bytes, cli):
    path = write_bytes("app.sql", DUMP.encode())
    result = cli("extract-sql", path, "--list-tables")
    assert result.exit_code == 0, result.output
    assert "personal data? email (email, by name+values), last_ip (ip, by name+values)" in result.output
    listing = json.loads(cli("extract-sql", path, "--list-tables", "--json").output)
    users = next(t for t in listing[0]["tables"] if t["name"] == "users")
    assert users["personal"][0] == {"column": "email", "kind": "email", "by": ["name", "values"]}
    posts = next(t for t in listing[0]["tables"] if t["name"] == "posts")
    assert posts["personal"] == []


def test_sample_dump_marks_its_users_table(cli):
    result = cli("extract-sql", REPO / "sample_data" / "forum.mysql.sql", "--list-tables")
    assert "email (email, by name+values), phone (phone, by name+values), last_ip (ip, by name+values)" in result.output


def test_csv_rows_rejected_for_broken_quoting_do_not_carry_pii_columns(tmp_path, write_bytes):
    # Row 2 has one field too many (before the email column) and row 3 one too many after it:
    # with on_bad_rows reject, both go to rejects whole, and the email must not go with them.
    rows = "name,email,answer\nAda,ada@example.org,Fine\nBo, extra,bo@example.org,Hi\nCy,cy@example.org,Yes, no\n"
    path = write_bytes("users.csv", rows.encode())
    config = ExtractCsvConfig(text_column="answer", pii_columns=["email"], on_bad_rows="reject")
    ExtractCsv(config).run([path], tmp_path / "out")
    assert len(read_records(tmp_path / "out")) == 1
    rejects = read_rejects(tmp_path / "out")
    assert [r["reason"] for r in rejects] == ["extra-fields", "extra-fields"]
    assert "@example.org" not in json.dumps(rejects)
