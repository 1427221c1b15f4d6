import json

import pytest
from conftest import REPO
from helpers import read_records, read_rejects, read_stats, tree_bytes

from benchmarks.pii_quality import evaluate, load
from dataprep.errors import ConfigError
from dataprep.stages.privacy.detect import PiiDetector, scan_plain
from dataprep.stages.privacy.redact import RedactPii, RedactPiiConfig

DETECTOR = PiiDetector(phone_regions=("US", "GB", "DE"))

POSITIVES = [
    ("Write to jane.doe@example.com today.", "email", "jane.doe@example.com"),
    ("CC: first_last+forum@mail.uni-heidelberg.de", "email", "first_last+forum@mail.uni-heidelberg.de"),
    ("Call +1 415-555-0132 after six.", "phone", "+1 415-555-0132"),
    ("Ring (415) 555-0132.", "phone", "(415) 555-0132"),
    ("London office 020 7946 0958.", "phone", "020 7946 0958"),
    ("Büro: +49 30 901820", "phone", "+49 30 901820"),
    ("Banned 185.220.101.47 after five tries.", "ip", "185.220.101.47"),
    ("AAAA 2a00:1450:4001:81c::200e here", "ip", "2a00:1450:4001:81c::200e"),
    ("Visa 4111 1111 1111 1111 please", "card", "4111 1111 1111 1111"),
    ("card 5555555555554444.", "card", "5555555555554444"),
    ("Amex 3782 822463 10005", "card", "3782 822463 10005"),
    ("IBAN DE89 3704 0044 0532 0130 00 EUR", "iban", "DE89 3704 0044 0532 0130 00"),
    ("to GB82WEST12345698765432.", "iban", "GB82WEST12345698765432"),
    ("key AKIAIOSFODNN7EXAMPLE leaked", "secret", "AKIAIOSFODNN7EXAMPLE"),
    ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "secret", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
    ("STRIPE=sk_live_4eC39HqLyjWDarjtT1zdp7dc", "secret", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("password=hunter2", "secret", "hunter2"),
    ('DB_PASSWORD="s3cr3t!pw"', "secret", "s3cr3t!pw"),
    ('{"api_key": "Zx81kLq0pW"}', "secret", "Zx81kLq0pW"),
    ("postgres://admin:Sup3rS3cret@db.example.com/app", "secret", "admin:Sup3rS3cret"),
]

HARD_NEGATIVES = [
    "Upgrade to version 1.2.3.4; v2.0.1.3 and Chrome 120.0.0.0 also work.",
    "Python 3.11.4.1 on kernel 5.15.0.91.",
    "The meeting is on 12.10.2023 at 14:30:45.",
    "Logged at 2023-10-05T14:30:00Z, then 2024-01-17 09:12:45.",
    "ISBN 978-3-16-148410-0 and ISBN 9780306406157.",
    "sha1 3f786850e387550fdab836ed7e6dc881de23001b, md5 5d41402abc4b2a76b9719d911017c592",
    "request 550e8400-e29b-41d4-a716-446655440000, MAC 00:1a:2b:3c:4d:5e",
    "12345 * 67890 - 11111 * 22222 = 591207861 and 3.14159 * 2 = 6.28318",
    "The card 4111 1111 1111 1112 fails its checksum.",
    "Local boxes 192.168.1.10, 10.0.0.5 and 127.0.0.1 identify no one.",
    "std::vector<int> and a::b::c and the ratio 1:2:3:4",
    "logo@2x.png, @property, root@localhost and @babel/core@7.23.2",
    "git clone git@github.com:org/repo.git",
    "password = request.form['password']\ntoken = tokens[0]\nif password == '':\n    pass",
    "password: str\napi_key = os.environ['API_KEY']\npassword = settings.DB_PASSWORD",
    "DB_PASSWORD=${DB_PASSWORD}\nAPI_TOKEN=<your token here>\npassword: ********",
    "max_tokens: 512; tokenizer = AutoTokenizer.from_pretrained(path)",
    "Connect with postgres://user:password@localhost/db as the docs show.",
    "Use sk-learn? No: scikit-learn, and my task-force-management-committee-notes.",
    "Order #100234987, invoice 2023-000123456 for 1,234,567.89 EUR.",
]


@pytest.mark.parametrize(("text", "category", "value"), POSITIVES)
def test_each_category_is_found(text, category, value):
    found = [(f.category, text[f.start : f.end]) for f in DETECTOR.find(text)]
    assert found == [(category, value)]


@pytest.mark.parametrize("text", HARD_NEGATIVES)
def test_hard_negatives_are_left_alone(text):
    assert DETECTOR.find(text) == []


def test_private_ips_count_when_asked():
    text = "gateway 192.168.1.1"
    assert PiiDetector().find(text) == []
    assert [f.category for f in PiiDetector(private_ips=True).find(text)] == ["ip"]


def test_private_key_block_is_one_finding():
    body = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRg"
    key = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"
    text = f"my key:\n{key}\nthanks"
    assert [(f.category, text[f.start : f.end]) for f in DETECTOR.find(text)] == [("secret", key)]


def test_address_is_optional():
    text = "I live at 221B Baker Street, London."
    assert DETECTOR.find(text) == []
    found = PiiDetector(categories=("address",)).find(text)
    assert [text[f.start : f.end] for f in found] == ["221B Baker Street"]


def test_labelled_set_precision_and_recall():
    records = load(REPO / "tests" / "data" / "pii_labelled.jsonl")
    assert len(records) >= 300 and sum(1 for _, spans in records if not spans) >= 100
    result = evaluate(RedactPii(RedactPiiConfig()), records)
    for category, row in result["categories"].items():
        assert row["precision"] >= 0.97 and row["recall"] >= 0.97, (category, row)


def test_gates_find_what_the_plain_loop_finds():
    records = load(REPO / "tests" / "data" / "pii_labelled.jsonl")
    detector = PiiDetector()
    assert all(detector.find(text) == scan_plain(text) for text, _ in records)


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


ROWS = [
    {"input": "Mail Jane.Doe@example.com", "output": "Sure: jane.doe@example.com or +1 415-555-0132."},
    {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "My server is 185.220.101.47"},
            {"role": "assistant", "content": "Block 185.220.101.47 in the firewall."},
        ]
    },
    {"text": "Nothing personal in version 1.2.3.4."},
    {"input": "Pay?", "output": "Use card 4111 1111 1111 1111 and key AKIAIOSFODNN7EXAMPLE."},
]


def test_redact_every_field_with_typed_placeholders(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", ROWS)
    stats = RedactPii(RedactPiiConfig()).run([path], tmp_path / "out")
    records = read_records(tmp_path / "out")
    assert records[0]["input"] == "Mail <EMAIL>"
    assert records[0]["output"] == "Sure: <EMAIL> or <PHONE>."
    assert [m["content"] for m in records[1]["messages"]][1:] == ["My server is <IP>", "Block <IP> in the firewall."]
    assert records[2]["text"] == "Nothing personal in version 1.2.3.4." and "pii" not in records[2]["meta"]
    assert records[3]["output"] == "Use card <CARD> and key <SECRET>."
    entry = records[0]["meta"]["pii"][1]
    assert entry == {"category": "email", "field": "output", "start": 6, "end": 13, "action": "redact"}
    assert records[0]["output"][entry["start"] : entry["end"]] == "<EMAIL>"
    assert records[1]["meta"]["pii"][0]["field"] == "messages.1"
    extra = read_stats(tmp_path / "out")["extra"]
    assert extra["detections"] == {"card": 1, "email": 2, "ip": 2, "phone": 1, "secret": 1}
    assert extra["records"] == {"with_pii": 3, "redacted": 3, "flagged": 0}
    assert stats.records_out == 4


def test_drop_and_flag_never_write_the_value(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", ROWS)
    config = RedactPiiConfig(actions={"secret": "drop", "email": "flag"}, default_action="redact")
    RedactPii(config).run([path], tmp_path / "out")
    records = read_records(tmp_path / "out")
    assert len(records) == 3
    assert records[0]["output"] == "Sure: jane.doe@example.com or <PHONE>."
    flagged = [e for e in records[0]["meta"]["pii"] if e["action"] == "flag"]
    assert [(e["field"], e["start"], e["end"]) for e in flagged] == [("input", 5, 25), ("output", 6, 26)]
    (reject,) = read_rejects(tmp_path / "out")
    assert reject["reason"] == "pii-secret"
    assert reject["detail"] == "secret in output at 37-57"
    rejects_text = (tmp_path / "out" / "rejects.jsonl").read_text()
    assert "AKIA" not in rejects_text and "4111" not in rejects_text
    assert read_stats(tmp_path / "out")["dropped"] == {"pii-secret": 1}


def test_consistent_pseudonyms_are_stable_and_salted(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", ROWS)
    RedactPii(RedactPiiConfig(consistent=True, salt="one")).run([path], tmp_path / "a")
    RedactPii(RedactPiiConfig(consistent=True, salt="one")).run([path], tmp_path / "b")
    RedactPii(RedactPiiConfig(consistent=True, salt="two")).run([path], tmp_path / "c")
    a, c = read_records(tmp_path / "a"), read_records(tmp_path / "c")
    first = a[0]["input"].removeprefix("Mail ")
    assert first.startswith("<EMAIL_") and a[0]["output"].startswith(f"Sure: {first} or <PHONE_")
    ip = a[1]["messages"][1]["content"].removeprefix("My server is ")
    assert ip.startswith("<IP_") and a[1]["messages"][2]["content"] == f"Block {ip} in the firewall."
    assert c[0]["input"] != a[0]["input"]
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")


def test_plugin_detector_adds_a_category(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [{"text": "Ask Ada Lovelace or mail ada@example.com"}])
    config = RedactPiiConfig(detectors=["pii_plugin:NameList"], actions={"name": "redact"})
    RedactPii(config).run([path], tmp_path / "out")
    assert read_records(tmp_path / "out")[0]["text"] == "Ask <NAME> or mail <EMAIL>"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"categories": ["emails"]}, "unknown categories emails"),
        ({"consistent": True}, "need a salt"),
        ({"phone_regions": ["XX"]}, "unknown phone regions XX"),
        ({"detectors": ["no_such_module:Thing"]}, "cannot import"),
        ({"detectors": ["nocolon"]}, "package.module:factory"),
        ({"actions": {"name": "drop"}}, "no category name is looked for"),
    ],
)
def test_config_mistakes_are_sentences(options, message):
    with pytest.raises((ConfigError, ValueError), match=message):
        RedactPii(RedactPiiConfig(**options))


def test_cli_flags(tmp_path, cli):
    path = write_jsonl(tmp_path / "in.jsonl", ROWS)
    result = cli(
        "redact-pii", path, "-o", tmp_path / "out.jsonl", "--actions", "card=drop", "--categories", "card,email"
    )
    assert result.exit_code == 0, result.output
    assert "dropped: pii-card=1" in result.output
    assert read_records(tmp_path / "out.jsonl")[1]["messages"][1]["content"] == "My server is 185.220.101.47"
