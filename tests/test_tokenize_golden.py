"""tokenize's output on a small mixed fixture is exactly what it was when the expected digests were made.

The fixture mixes text documents, input/output pairs and chats, with the records each check
rejects (empty, too long, no assistant turn, a template error, typed BOS and EOS, bad JSON),
in batches small enough that every format crosses batch edges; it runs under nine option
sets (packing on and off, truncate, train-on-inputs, an empty and a space separator,
--no-verify, --format) and three tokenizer families besides tiny-llama (a SentencePiece-style
Metaspace one, one whose pad is its EOS, and a template that merges across the prompt edge, so
verification rejects and fixes records). Every column of every dataset, the rejects, the
mismatches and stats.json (less its timings) are compared by digest with
``tests/data/tokenize_golden.json``, which was written by the code before the tokenize speed-ups
(issue 16); where pyarrow and datasets are the versions that file names, the Arrow files'
and state.json's bytes are compared too.

A deliberate change to tokenize's output regenerates the file:
``PYTHONPATH=. python tests/test_tokenize_golden.py`` (then review the diff).
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chat_families import FAMILIES, build  # noqa: E402

from dataprep.io.writers import ParquetShardWriter  # noqa: E402
from dataprep.records import new_record, rows_to_batch  # noqa: E402
from dataprep.stages.base import StageContext  # noqa: E402
from dataprep.stages.tokenize import Tokenize, TokenizeConfig  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TINY = REPO / "sample_data" / "tiny-llama"
EXPECTED = Path(__file__).resolve().parent / "data" / "tokenize_golden.json"
#: Measured, not produced: they differ on every run.
TIMINGS = ("seconds", "records_per_second", "peak_memory_mb")
# Vicuna style: the generation prompt ends in a space, which byte-level BPE merges into the next word.
VICUNA = (
    "{% for m in messages %}{% if m['role'] == 'user' %}USER: {{ m['content'] }} "
    "{% elif m['role'] == 'assistant' %}ASSISTANT: {{ m['content'] }}<|im_end|>{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT: {% endif %}"
)
WORDS = "tea coffee water the a of is in to and what why how it two plus four Hello Bye now brief".split()


def _sentence(rng: random.Random, low: int, high: int, end: str = ".") -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high))).capitalize() + end


def _chat(rng: random.Random, turns: int, system: bool) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": "Be brief."}] if system else []
    for _ in range(turns):
        messages.append({"role": "user", "content": _sentence(rng, 2, 8, "?")})
        messages.append({"role": "assistant", "content": _sentence(rng, 1, 12)})
    return messages


def fixture_records(seed: int, system: bool = True) -> list[dict]:
    """Text, pairs and chats in a fixed mix, with every kind of record tokenize rejects."""
    rng = random.Random(seed)
    records: list[dict] = []
    for i in range(60):
        kind = i % 4
        if kind == 0:
            records.append({"text": " ".join(_sentence(rng, 3, 20) for _ in range(rng.randint(1, 6)))})
        elif kind in (1, 2):
            records.append({"input": _sentence(rng, 2, 15, "?"), "output": _sentence(rng, 1, 30)})
        else:
            records.append({"messages": _chat(rng, rng.randint(1, 3), system and rng.random() < 0.5)})
    specials = [
        {"input": "<s>What is two plus two?", "output": "Four."},  # typed BOS
        {"input": "Why?", "output": "Because.</s></s>"},  # typed EOS, twice
        {"input": "Ends with a space ", "output": " starts with one"},
        {"input": "Café, naïve?", "output": "Ünïcödé — 茶 and ☕."},
        {"input": "\n\nBlank lines\n", "output": "\nMore\n"},
        {"input": "Long?", "output": " ".join(["word"] * 90)},  # over max_length
        {"input": " ".join(["prompt"] * 90), "output": "no room"},  # nothing trainable once cut
        {"input": "q", "output": "   "},  # empty output
        {"output": "an answer with no question"},  # no input
        {"text": "   "},  # empty text
        {"text": "ends with eos</s>"},
        {"text": " ".join(["long document"] * 80)},
        {"messages": [{"role": "user", "content": "nobody answers"}]},  # no assistant turn
        {"messages": [{"role": "user", "content": "Hi?", "name": None}, {"role": "assistant", "content": "Hello."}]},
        {"messages": [{"role": "assistant", "content": "I speak first."}, {"role": "user", "content": "Ok?"}]},
        {"meta": {"nothing": "here"}},  # no content at all
    ]
    for n, record in enumerate(specials):
        records.insert(7 * n + 3, record)
    return [{"id": f"r{n}", "source": f"fixture.jsonl#line={n + 1}", **r} for n, r in enumerate(records)]


def _write_jsonl(path: Path, records: list[dict], bad_line: bool = False) -> Path:
    lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in records]
    if bad_line:
        lines.insert(5, "{not json\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _write_parquet(folder: Path, records: list[dict]) -> Path:
    writer = ParquetShardWriter(folder)
    rows = []
    for r in records:
        row = new_record(
            r["source"], text=r.get("text"), input=r.get("input"), output=r.get("output"), messages=r.get("messages")
        )
        row["id"] = r["id"]
        rows.append(row)
    writer.write(rows_to_batch(rows))
    writer.close()
    return folder


def make_inputs(root: Path) -> dict[str, list[Path]]:
    """The fixture as JSONL train/val files and as a split folder of Parquet shards."""
    train, val = fixture_records(1), fixture_records(2)[:25]
    jsonl = root / "jsonl"
    jsonl.mkdir(parents=True)
    split = root / "split"
    _write_parquet(split / "train", train)
    _write_parquet(split / "val", val)
    (split / "train.jsonl").write_text("", encoding="utf-8")  # a split folder has both; readers take Parquet
    (split / "val.jsonl").write_text("", encoding="utf-8")
    no_system = root / "no-system"
    no_system.mkdir()
    return {
        "jsonl": [_write_jsonl(jsonl / "train.jsonl", train, bad_line=True), _write_jsonl(jsonl / "val.jsonl", val)],
        "parquet": [split],
        "no-system": [_write_jsonl(no_system / "train.jsonl", fixture_records(3, system=False))],
    }


#: name -> (input set, tokenizer, options)
CASES = {
    "default": ("jsonl", "tiny", {}),
    "packing-truncate": ("jsonl", "tiny", {"packing": True, "overlength": "truncate"}),
    "parquet-train-on-inputs-space": ("parquet", "tiny", {"train_on_inputs": True, "separator": " "}),
    "parquet-packing-no-separator": ("parquet", "tiny", {"packing": True, "separator": ""}),
    "no-verify-packing": ("jsonl", "tiny", {"verify": False, "packing": True}),
    "format-input-output": ("jsonl", "tiny", {"format": "input-output", "overlength": "truncate"}),
    "mistral-metaspace": ("no-system", "mistral", {"packing": True}),
    "llama3-pad-is-eos": ("jsonl", "llama3", {"overlength": "truncate"}),
    "vicuna-boundary-merge": ("no-system", "vicuna", {"separator": " "}),
}


def _tokenizers(root: Path) -> dict[str, Path]:
    folders = {"tiny": TINY}
    families = (("mistral", "mistral", None), ("llama3", "llama3", None), ("vicuna", "chatml", VICUNA))
    for name, family, template in families:
        folders[name] = root / name
        folders[name].mkdir(parents=True)
        build(folders[name], FAMILIES[family], template)
    return folders


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:24]


def _normalised(text: str, root: Path) -> str:
    return text.replace(str(root), "<root>").replace(str(REPO), "<repo>")


def describe(out: Path, root: Path) -> dict:
    """Digests of everything the stage wrote (less the tokenizer copy, saved by transformers)."""
    import pyarrow as pa

    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    for key in TIMINGS:
        stats.pop(key, None)
    found: dict = {
        "records_out": stats["records_out"],
        "dropped": stats["dropped"],
        "stats": _digest(_normalised(json.dumps(stats, sort_keys=True), root).encode()),
    }
    for name in ("rejects.jsonl", "mismatches.jsonl"):
        path = out / name
        found[name] = _digest(_normalised(path.read_text(encoding="utf-8"), root).encode()) if path.exists() else None
    found["splits"], found["bytes"] = {}, {}
    for split in sorted(p for p in out.iterdir() if p.is_dir() and p.name != "tokenizer"):
        shards = sorted(split.glob("*.arrow"))
        tables = [pa.ipc.open_stream(pa.memory_map(str(s))).read_all() for s in shards]
        table = pa.concat_tables(tables)
        found["splits"][split.name] = {
            "rows": table.num_rows,
            **{c: _digest(json.dumps(table.column(c).to_pylist()).encode()) for c in table.column_names},
        }
        for path in sorted(split.iterdir()):
            found["bytes"][f"{split.name}/{path.name}"] = _digest(path.read_bytes())
    return found


def run_cases(root: Path) -> dict:
    inputs = make_inputs(root / "in")
    tokenizers = _tokenizers(root / "tokenizers")
    results = {}
    for name, (which, tokenizer, options) in CASES.items():
        config = TokenizeConfig(tokenizer=str(tokenizers[tokenizer]), max_length=64, batch_size=7, **options)
        out = root / "out" / name
        Tokenize(config, StageContext(quiet=True)).run(inputs[which], out)
        results[name] = describe(out, root)
    return results


def _versions() -> dict[str, str]:
    import datasets
    import pyarrow

    return {"pyarrow": pyarrow.__version__, "datasets": datasets.__version__}


@pytest.fixture(scope="module")
def produced(tmp_path_factory):
    return run_cases(tmp_path_factory.mktemp("golden"))


@pytest.mark.parametrize("case", sorted(CASES))
def test_output_is_unchanged(produced, case):
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    got, want = produced[case], expected["cases"][case]
    assert got["records_out"] == want["records_out"] and got["dropped"] == want["dropped"]
    assert got["splits"] == want["splits"]  # each column of each split
    for key in ("stats", "rejects.jsonl", "mismatches.jsonl"):
        assert got[key] == want[key], key
    if _versions() == expected["versions"]:  # the same writer libraries: the same bytes
        assert got["bytes"] == want["bytes"]


def test_the_fixture_covers_what_it_claims(produced):
    """The fixture is not vacuous: each format, each reject and each verification outcome shows up."""
    default = produced["default"]
    assert default["records_out"] > 80 and set(default["splits"]) == {"train", "val"}
    assert {"empty-output", "missing-input", "empty-text", "no-assistant-turn", "too-long", "bad-json"} <= set(
        default["dropped"]
    )
    assert "wrong-format" in produced["format-input-output"]["dropped"]
    assert "no-trainable-tokens" in produced["packing-truncate"]["dropped"]
    assert "boundary-merge" in produced["vicuna-boundary-merge"]["dropped"]
    assert "chat-template-error" in produced["mistral-metaspace"]["dropped"]
    assert "position_ids" in produced["packing-truncate"]["splits"]["train"]
    assert produced["no-verify-packing"]["mismatches.jsonl"] is None


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        cases = run_cases(Path(tmp))
    EXPECTED.write_text(json.dumps({"versions": _versions(), "cases": cases}, indent=1, sort_keys=True) + "\n")
    print(f"wrote {EXPECTED}")
