"""Write the labelled PII sets: ``python scripts/make_pii_labelled.py`` (deterministic).

tests/data/pii_labelled.jsonl (400 records, the set to develop on) and tests/data/pii_heldout.jsonl
(100 records, another seed, scored only at the end). Each line: ``{"text": ..., "spans":
[[start, end, category], ...]}``. Forum posts, support tickets, config files, code and log lines,
written around values drawn from real formats (valid card and IBAN check digits, real provider
key prefixes, global IP addresses, phone numbers in national and international formats); a third
of the records hold only hard negatives: version strings, timestamps, dates, ISBNs, hashes, UUIDs,
MAC addresses, math, order numbers, invalid cards, private IPs, and code that names a password
without holding one.
"""

from __future__ import annotations

import json
import random
import string
import sys
from pathlib import Path

from stdnum import iban, luhn

ROOT = Path(__file__).resolve().parent.parent

FIRST = "jane john maria li ahmed olga pierre sven aiko carlos fatima noah emma lukas chloe ravi".split()
LAST = "doe smith garcia chen khan ivanova martin larsen tanaka silva ali becker dubois patel".split()
DOMAINS = "example.com mail.example.org gmail.com outlook.de posteo.net company.co.uk uni-heidelberg.de".split()


def email(rng: random.Random) -> str:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    local = rng.choice(
        [f"{first}.{last}", f"{first}{rng.randint(1, 99)}", f"{first[0]}{last}", f"{first}_{last}+forum"]
    )
    return f"{local}@{rng.choice(DOMAINS)}"


def phone(rng: random.Random) -> str:
    d = lambda k: "".join(rng.choice(string.digits) for _ in range(k))  # noqa: E731
    area = rng.choice(["212", "415", "312", "617", "206", "503", "720"])
    exchange = str(rng.randint(200, 989))
    return rng.choice(
        [
            f"+1 {area}-{exchange}-{d(4)}",
            f"({area}) {exchange}-{d(4)}",
            f"{area}-{exchange}-{d(4)}",
            f"+1 ({area}) {exchange} {d(4)}",
            f"+44 20 7{d(3)} {d(4)}",
            f"+44 7{rng.randint(400, 999)} {d(6)}",
            f"+49 30 {d(8)}",
            f"+49 170 {d(7)}",
            f"+33 1 {d(2)} {d(2)} {d(2)} {d(2)}",
            f"+33 6 {d(2)} {d(2)} {d(2)} {d(2)}",
        ]
    )


def ipv4(rng: random.Random) -> str:
    first = rng.choice([8, 23, 31, 45, 52, 77, 81, 93, 104, 145, 151, 185, 203, 212])
    return f"{first}.{rng.randint(1, 254)}.{rng.randint(1, 254)}.{rng.randint(1, 254)}"


def ipv6(rng: random.Random) -> str:
    head = rng.choice(["2a00:1450", "2001:4860", "2606:4700", "2a03:2880", "2620:0:2d0"])
    tail = ":".join(f"{rng.randint(1, 0xFFFF):x}" for _ in range(rng.choice([2, 3])))
    return f"{head}:{tail}::{rng.randint(1, 0xFFF):x}" if rng.random() < 0.5 else f"{head}::{tail}"


def card(rng: random.Random, valid: bool = True) -> str:
    prefix, length = rng.choice([("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15), ("6011", 16)])
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    check = luhn.calc_check_digit(body)
    if not valid:
        check = str((int(check) + rng.randint(1, 9)) % 10)
    digits = body + check
    if length == 15:
        return rng.choice([digits, f"{digits[:4]} {digits[4:10]} {digits[10:]}"])
    sep = rng.choice(["", " ", "-"])
    return sep.join(digits[k : k + 4] for k in range(0, 16, 4))


def make_iban(rng: random.Random) -> str:
    country, bban_len = rng.choice([("DE", 18), ("FR", 23), ("NL", 14), ("ES", 20), ("IT", 23), ("GB", 18)])
    if country == "GB":
        bban = "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) + "".join(
            rng.choice(string.digits) for _ in range(14)
        )
    elif country == "NL":
        bban = "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) + "".join(
            rng.choice(string.digits) for _ in range(10)
        )
    elif country == "IT":
        bban = rng.choice(string.ascii_uppercase) + "".join(rng.choice(string.digits) for _ in range(22))
    else:
        bban = "".join(rng.choice(string.digits) for _ in range(bban_len))
    if country == "FR":  # the French BBAN carries its own RIB key: keep digits that pass it
        while True:
            bban = "".join(rng.choice(string.digits) for _ in range(21))
            key = 97 - (int(bban) * 100 % 97)
            bban += f"{key:02d}"
            if iban.is_valid(country + iban.calc_check_digits(country + "00" + bban) + bban):
                break
    if country == "ES":
        while not iban.is_valid(f"ES{iban.calc_check_digits('ES00' + bban)}{bban}"):
            bban = "".join(rng.choice(string.digits) for _ in range(20))
    if country == "IT":
        while not iban.is_valid(f"IT{iban.calc_check_digits('IT00' + bban)}{bban}"):
            bban = rng.choice(string.ascii_uppercase) + "".join(rng.choice(string.digits) for _ in range(22))
    number = f"{country}{iban.calc_check_digits(country + '00' + bban)}{bban}"
    assert iban.is_valid(number), number
    return iban.format(number) if rng.random() < 0.6 else number


def token(rng: random.Random, k: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    out = "".join(rng.choice(alphabet) for _ in range(k))
    return out[:-1] + rng.choice(string.digits)


def secret(rng: random.Random) -> tuple[str, str]:
    """(the string to place, the secret part of it): a key, or a context whose value is the secret."""
    kind = rng.randrange(9)
    if kind == 0:
        value = "AKIA" + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))
    elif kind == 1:
        value = "ghp_" + token(rng, 36)
    elif kind == 2:
        value = "sk_live_" + token(rng, 24)
    elif kind == 3:
        value = "sk-proj-" + token(rng, 40, string.ascii_letters + string.digits + "_-")
    elif kind == 4:
        value = "xoxb-" + "-".join(str(rng.randint(10**10, 10**11)) for _ in range(2)) + "-" + token(rng, 24)
    elif kind == 5:
        value = "AIza" + token(rng, 35, string.ascii_letters + string.digits + "_-")
    elif kind == 6:
        value = "hf_" + token(rng, 34)
    elif kind == 7:
        body = "\n".join(token(rng, 64, string.ascii_letters + string.digits + "+/") for _ in range(3))
        value = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----"
    else:
        value = rng.choice(["hunter2!", "S3cure#Pass", "Tr0ub4dor&3", "winter2024!", "p@ssw0rd99", "qwerty7788"])
        value += str(rng.randint(0, 99))
    return value, value


HARD_NEGATIVES = [
    "Upgrade to version 1.2.3.4 or later; 2.0.1.0 fixes the crash.",
    "Tested on Chrome 120.0.0.0 and Firefox 121.0.",
    "Built with v3.10.2.1 of the SDK (release 4.1.0.2).",
    "The meeting is on 12.10.2023 at 14:30, or 03.04.2024 as backup.",
    "Logged at 2023-10-05T14:30:00Z and again at 2024-01-17 09:12:45.",
    "Timestamps: 12:30:45, 08:15:00.250, 23:59:59.",
    "ISBN 978-3-16-148410-0, ISBN-10: 0-306-40615-2.",
    "See ISBN 9780306406157 for the paperback.",
    "sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "Commit 3f786850e387550fdab836ed7e6dc881de23001b fixed it; parent a94a8fe5ccb19ba61c4c0873d391e987982fbbd3.",
    "The request id was 550e8400-e29b-41d4-a716-446655440000.",
    "My router's MAC is 00:1a:2b:3c:4d:5e, the other one 3c-22-fb-01-aa-9e.",
    "Compute 3.14159 * 2.71828 = 8.5397, then add 1234567 + 7654321 = 8888888.",
    "The determinant is 12345 * 67890 - 11111 * 22222 = 591207861.",
    "Order #100234987 shipped; tracking 1Z999AA10123456784.",
    "Invoice 2023-000123456 for 1,234,567.89 EUR is due.",
    "Population grew from 8,336,817 to 8,804,190 between 2010 and 2020.",
    "The card number 4111 1111 1111 1112 was declined (checksum wrong).",
    "Test with the local box at 192.168.1.10 or 10.0.0.5, not 127.0.0.1.",
    "Bind to 0.0.0.0:8080 and proxy to 172.16.4.2.",
    "In C++ write std::vector<int> and std::map::find; Rust uses a::b::c.",
    "Use the @property decorator and @staticmethod in the class.",
    "Install @types/node and @babel/core@7.23.2 with npm.",
    "The retina asset is logo@2x.png, the other icon@3x.jpg.",
    "Mail the admin at root@localhost on the build box.",
    "def login(password):\n    if password == '':\n        raise ValueError('empty password')\n"
    "    return check(password)",
    "password = request.form['password']\ntoken = tokens[0]\nsecret = get_secret(name)",
    "The password field is required; set password: str in the schema.",
    "user.password = hash_password(raw_password)\nself.token = None",
    "api_key = os.environ['API_KEY']\npassword = settings.DB_PASSWORD",
    "DB_PASSWORD=${DB_PASSWORD}\nAPI_TOKEN=<your token here>\nSECRET_KEY=changeme",
    "password: ********\ntoken: xxxxxxxx",
    "Set max_tokens: 512 and tokenizer = AutoTokenizer.from_pretrained(path).",
    "Connect with postgres://user:password@localhost/db as in the docs example.",
    "The coordinates are 48.8584, 2.2945 and 40.6892, -74.0445.",
    "Dial extension 4521 or room 1203; the code is 90210.",
    "ISO date 2024-02-29, US date 02/29/2024, EU date 29.02.2024.",
    "Semantic versions 1.2.3, 10.4.22 and 2.0.0-rc.1 are fine.",
    "Python 3.11.4.1 on kernel 5.15.0.91 works.",
    "The ratio was 1:2:3:4, and the score 21:17.",
    "Track the bug at issue 4242 and PR 31337.",
    "The base64 string aGVsbG8gd29ybGQ= decodes to hello world.",
    "Port 5432 on the default install; 65535 is the largest port.",
    "My task-force-management-committee-notes are online.",
    "Use sk-learn? No, it's scikit-learn, imported as sklearn.",
    "The frequency is 2.4 GHz and 5.0 GHz; 802.11ac.",
    "The UPC barcode 036000291452 is on the box.",
    "Phone numbers like 555-0100 are fictional; 911 is for emergencies.",
    "The year 1999 and 2000 and the range 1990-2020.",
    "Hash 5d41402abc4b2a76b9719d911017c592 is md5 of hello.",
]

CONTEXTS = [
    "Hi all, you can reach me at {x} if the thread dies.",
    "Contact: {x}",
    "Please email {x} with your order number.",
    "Call me on {x} after 6pm.",
    "My number is {x}, text first.",
    "Our office: {x} (mornings only).",
    "The server at {x} keeps dropping connections.",
    "Fail2ban banned {x} after 5 attempts.",
    "nginx: connect() failed while connecting to upstream, client: {x}, server: example",
    "Pay with card {x}, expiry 09/27.",
    "I used my Visa {x} and got charged twice!",
    "Wire it to IBAN {x}, reference INV-2041.",
    "Bank details: {x} (BIC COBADEFFXXX).",
    "Here is my config, it still fails:\n{x}",
    "export AWS_KEY={x}",
    "I accidentally pushed {x} to the repo, how do I rotate it?",
]


def place(rng: random.Random, category: str) -> tuple[str, list[list]]:
    if category == "email":
        value = email(rng)
    elif category == "phone":
        value = phone(rng)
    elif category == "ip":
        value = ipv4(rng) if rng.random() < 0.7 else ipv6(rng)
    elif category == "card":
        value = card(rng)
    elif category == "iban":
        value = make_iban(rng)
    else:
        return _secret_text(rng)
    fits = {
        "email": [0, 1, 2, 13],
        "phone": [1, 3, 4, 5],
        "ip": [6, 7, 8],
        "card": [9, 10],
        "iban": [11, 12, 1],
    }[category]
    template = CONTEXTS[rng.choice(fits)]
    start = template.index("{x}")
    text = template.replace("{x}", value)
    return text, [[start, start + len(value), category]]


def _secret_text(rng: random.Random) -> tuple[str, list[list]]:
    value, part = secret(rng)
    if value.startswith("-----BEGIN"):
        text = f"Here is my key, it still fails:\n{value}\nany idea?"
    elif part[0].isupper() and part[:4] in ("AKIA",):
        text = f"export AWS_ACCESS_KEY_ID={value}"
    elif not any(part.startswith(p) for p in ("gh", "sk", "xox", "AIza", "hf_")):
        key = rng.choice(["password", "DB_PASSWORD", "db_pass_word", "passwd", "admin_password"])
        form = rng.choice(
            [
                f'{key}="{value}"',
                f"{key}={value}",
                f"{key}: {value}",
                f'"{key}": "{value}"',
                f"mysql://app:{value}@db.internal:3306/shop",
            ]
        )
        if form.startswith("mysql"):
            value = "app:" + value
        text = f"My settings:\n{form}\nthen it crashes."
    else:
        text = rng.choice(CONTEXTS[-2:]).replace("{x}", value)
    start = text.index(value)
    return text, [[start, start + len(value), "secret"]]


def record(rng: random.Random) -> dict:
    kind = rng.random()
    pieces: list[tuple[str, list[list]]] = []
    if kind < 0.35:
        pieces.append((rng.choice(HARD_NEGATIVES), []))
        if rng.random() < 0.5:
            pieces.append((rng.choice(HARD_NEGATIVES), []))
    else:
        categories = ["email", "phone", "ip", "card", "iban", "secret"]
        for category in rng.sample(categories, rng.choice([1, 1, 1, 2])):
            pieces.append(place(rng, category))
        if rng.random() < 0.5:
            pieces.append((rng.choice(HARD_NEGATIVES), []))
        rng.shuffle(pieces)
    text, spans = "", []
    for piece, piece_spans in pieces:
        if text:
            text += rng.choice([" ", "\n", "\n\n"])
        spans.extend([s + len(text), e + len(text), c] for s, e, c in piece_spans)
        text += piece
    for s, e, c in spans:
        assert text[s:e], (text, s, e, c)
    return {"text": text, "spans": spans}


def write(path: Path, count: int, seed: int) -> None:
    rng = random.Random(seed)
    lines = [json.dumps(record(rng), ensure_ascii=False) for _ in range(count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{path}: {count} records", file=sys.stderr)


if __name__ == "__main__":
    write(ROOT / "tests" / "data" / "pii_labelled.jsonl", 400, seed=19)
    write(ROOT / "tests" / "data" / "pii_heldout.jsonl", 100, seed=1919)
