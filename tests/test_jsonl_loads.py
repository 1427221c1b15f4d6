"""The JSONL reader's ``loads`` (orjson, with the standard library for what orjson refuses or
could read differently) gives exactly what ``json.loads`` gives: the same values of the same
types with keys in the same order, or the same error at the same column."""

from __future__ import annotations

import json
import random

import pytest

from dataprep.io.readers import loads

EDGES = [
    '"\\ud800"',
    '"\\udc00\\ud800"',
    "NaN",
    "[Infinity, -Infinity]",
    "[1e400, -1e400]",
    "123456789012345678901234567890",
    "[9223372036854775807, 9223372036854775808, -9223372036854775809, 18446744073709551616]",
    '{"a": 1, "b": 2, "a": 3}',
    "\ufeff{}",
    '"a\x01b"',
    "[-0.0, -0, 1.5e-320, 5e-324, 1.7976931348623157e308]",
    ' \t{"a": [1, 2.5, "x", null, true, false]}\r\n',
    '{"\\u0000": 1, "\\u00e9": "\\ud83d\\ude00"}',
    "1.0000000000000000000000001",
    "[1,]",
    '{"a":1,}',
    "true false",
    "\x0c{}",
    "01",
    "[" * 1100 + "]" * 1100,
    '{"text": "phone 1234567890123456789 in a string"}',
    "",
    "   ",
    '"\\x41"',
    "'single'",
    '{"a" 1}',
    "[1.5E+2, 2e-2, 0.1, 1E2]",
]


def same(a, b) -> bool:
    """Equal values of equal types (1 is not 1.0), dicts in the same key order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and a != a:
        return b != b
    return a == b


def outcome(fn, text):
    try:
        return "ok", fn(text)
    except json.JSONDecodeError as exc:
        return "error", (exc.msg, exc.pos, exc.colno)
    except RecursionError:
        return "error", "recursion"


def check(text: str) -> None:
    want, got = outcome(json.loads, text), outcome(loads, text)
    assert want[0] == got[0], (text[:80], want, got)
    if want[0] == "ok":
        assert same(want[1], got[1]), (text[:80], want, got)
    else:
        assert want == got, (text[:80], want, got)


@pytest.mark.parametrize("text", EDGES, ids=range(len(EDGES)))
def test_edge_cases_read_as_json_reads_them(text):
    check(text)


def test_mutated_records_read_as_json_reads_them():
    rng = random.Random(7)
    seeds = [
        json.dumps({"text": "plain é ✓", "meta": {"k": [1, 2.5, None, True]}, "id": 7}),
        json.dumps({"messages": [{"role": "user", "content": "hi \\u2028"}]}, ensure_ascii=False),
        json.dumps({"input": "q", "output": "a", "n": 12345678901234567, "f": -1.25e-7}),
    ]
    alphabet = list('{}[]",:\\0123456789eE+-.truefalsnNaIiy \t\x00\x1f') + ["\\u", "\\ud800", "é", "\ufeff"]
    for _ in range(3000):
        text = rng.choice(seeds)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(text) + 1)
            roll = rng.random()
            if roll < 0.4:
                text = text[:at] + rng.choice(alphabet) + text[at:]
            elif roll < 0.8:
                text = text[:at] + text[at + 1 :]
            else:
                text = text[:at] + rng.choice(alphabet) + text[at + 1 :]
        check(text)
