import hashlib
import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest
from helpers import read_records, read_rejects, read_stats, tree_bytes

from dataprep.records import rows_to_batch
from dataprep.stages.dedup.dedup import Dedup, DedupConfig
from dataprep.stages.dedup.minhash import (
    band_keys,
    exact_keys,
    lsh_params,
    minhash_signatures,
    near_keys,
    normalize,
    token_hashes,
    tokenize,
    words,
)

WORDS = "salt pepper garlic onion butter flour oven pan roast simmer boil fry knife sauce dough rice".split()


def essay(seed: int, words: int = 200) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) + str(rng.randint(0, 99)) for _ in range(words))


def write(tmp_path, rows, name="in.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def run(tmp_path, rows, name="out", **options):
    Dedup(DedupConfig(**options)).run([write(tmp_path, rows, f"{name}.jsonl")], tmp_path / name)
    return read_records(tmp_path / name), read_rejects(tmp_path / name), read_stats(tmp_path / name)


def qa(question, answer, **extra):
    return {"input": question, "output": answer, **extra}


def test_exact_duplicates_fold_case_whitespace_and_punctuation(tmp_path):
    rows = [
        qa("How do I avoid jet lag?", "Shift your sleep early."),
        qa("how do i avoid  JET-LAG??", "Shift your sleep, early! "),
        qa("How do I avoid jet lag?", "Drink water."),
        qa("How do I avoid jet lag?", "Shift your sleep early."),
    ]
    records, rejects, stats = run(tmp_path, rows)
    assert [r["output"] for r in records] == ["Shift your sleep early.", "Drink water."]
    kept = records[0]["id"]
    assert records[0]["meta"]["dup_group"] == kept
    assert "dup_group" not in records[1]["meta"]
    assert [(r["reason"], r["record"]["meta"]["dup_group"]) for r in rejects] == [("duplicate", kept)] * 2
    assert kept in rejects[0]["detail"]
    assert stats["extra"] == {"groups": 1, "records_in_groups": 3, "duplicates_dropped": 2}


def test_input_and_output_count_together_unless_asked(tmp_path):
    rows = [qa("Can I freeze rice?", "Yes, within an hour."), qa("Can I freeze cooked rice?", "Yes, within an hour.")]
    assert len(run(tmp_path, rows, name="all")[0]) == 2
    assert len(run(tmp_path, rows, name="output", compare="output")[0]) == 1


def test_near_duplicates_need_near(tmp_path):
    base = essay(1)
    edited = base.replace(base.split()[100], "changed", 1)
    rows = [{"text": base}, {"text": essay(2)}, {"text": edited}]
    assert len(run(tmp_path, rows, name="exact")[0]) == 3
    records, rejects, stats = run(tmp_path, rows, name="near", near=True)
    assert [r["text"] for r in records] == [base, essay(2)]
    assert rejects[0]["reason"] == "near-duplicate"
    assert rejects[0]["record"]["meta"]["dup_group"] == records[0]["id"] == records[0]["meta"]["dup_group"]
    assert stats["extra"]["lsh"] == {"bands": 9, "rows_per_band": 13}


def test_keep_longest(tmp_path):
    long = essay(3)
    rows = [{"text": long[:-20]}, {"text": long}, {"text": long[:-10]}]
    records, rejects, _ = run(tmp_path, rows, near=True, keep="longest")
    assert [r["text"] for r in records] == [long]
    assert len(rejects) == 2


def test_chat_records_and_short_texts(tmp_path):
    chat = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello there!"}]
    same = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello, there"}]
    rows = [{"messages": chat}, {"messages": same}, {"text": "Yes."}, {"text": "No."}, {"text": "yes"}]
    records, rejects, _ = run(tmp_path, rows, near=True)
    assert len(records) == 3
    assert [r["reason"] for r in rejects] == ["duplicate", "duplicate"]


def test_bad_records_are_rejected_with_a_reason(tmp_path):
    src = tmp_path / "bad.jsonl"
    lines = [{"text": ""}, {"meta": {}}, {"text": 12}, {"text": "Fine."}, {"text": "fine"}]
    src.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    stats = Dedup(DedupConfig(near=True)).run([src], tmp_path / "o")
    assert stats.records_out == 1
    assert dict(stats.dropped) == {"empty-text": 1, "missing-content": 1, "non-string-text": 1, "duplicate": 1}


def test_bad_values_in_batches_are_rejected_not_crashed(tmp_path):
    rows = [
        {"id": "a", "text": None, "source": "s", "meta": {}},
        {"id": "b", "text": ["x"], "source": "s", "meta": {}},
        {"id": "c", "text": "ok", "source": "s", "meta": {}},
    ]
    stage = Dedup(DedupConfig(near=True))
    stage.read_batches = lambda inputs: iter([type("R", (), {"batch": rows_to_batch(rows), "rejects": []})()])
    stage.fit([])
    assert stage.process(rows_to_batch(rows))["_reject"] == ["missing-content", "non-string-text", None]


def test_same_input_gives_identical_output(tmp_path):
    rows = [{"text": essay(i % 7)} for i in range(30)]
    src = write(tmp_path, rows)
    for name in ("a", "b"):
        Dedup(DedupConfig(near=True)).run([src], tmp_path / name)
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")
    assert (tmp_path / "a" / "rejects.jsonl").read_bytes() == (tmp_path / "b" / "rejects.jsonl").read_bytes()


def test_signatures_are_a_pure_function_of_each_text():
    texts = [essay(i, words=i % 9) for i in range(40)]
    whole = minhash_signatures(texts, seed=3)
    parts = np.concatenate([minhash_signatures(texts[:13], seed=3), minhash_signatures(texts[13:], seed=3)])
    assert np.array_equal(whole, parts)
    assert not np.array_equal(whole, minhash_signatures(texts, seed=4))
    assert (whole[0] == np.uint32(0xFFFFFFFF)).all()  # no words at all
    assert (band_keys(whole, 9, 13)[0] == 0).all()


@pytest.mark.parametrize("keep", [0.5, 0.8, 0.95])
def test_signature_agreement_estimates_jaccard(keep):
    rng = random.Random(0)
    a = [f"w{i}" for i in range(400)]
    b = [w if rng.random() < keep else f"x{i}" for i, w in enumerate(a)]
    shingles = [{tuple(t[i : i + 3]) for i in range(len(t) - 2)} for t in (a, b)]
    jaccard = len(shingles[0] & shingles[1]) / len(shingles[0] | shingles[1])
    sig = minhash_signatures([" ".join(a), " ".join(b)], num_perm=512, ngram=3)
    assert abs((sig[0] == sig[1]).mean() - jaccard) < 0.06


def test_helpers():
    assert normalize("  Jet-LAG?!\n\nok ") == "jet lag ok"
    keys = exact_keys(["A b!", "a   B", "!!!", "???"])
    assert keys[0] == keys[1] and keys[2] != keys[3]
    assert lsh_params(0.8, 128) == (9, 13)


def test_exact_reasons_do_not_depend_on_the_near_options(tmp_path):
    """Exact duplicates are decided first: the same records are `duplicate` whatever --near or --threshold
    (and as many of them whatever --keep, which only picks which copy stays)."""
    base = "Roast the garlic in a low oven for forty minutes until soft and sweet then mash it"
    rows = [
        qa("Garlic?", base),
        qa("GARLIC??", base + "."),  # the same once case and punctuation are folded
        qa("Garlic?", base + " well"),  # one word more: near only
        qa("garlic", base + " well!"),  # exact copy of the near one, and the longest text
    ]
    seen = {}
    for options in ({}, {"near": True, "ngram": 3}, {"near": True, "ngram": 3, "threshold": 0.5}):
        _, rejects, _ = run(tmp_path, rows, name=f"o{len(seen)}", **options)
        seen[str(options)] = sorted(r["record"]["output"] for r in rejects if r["reason"] == "duplicate")
    assert len({tuple(v) for v in seen.values()}) == 1, seen
    assert len(next(iter(seen.values()))) == 2
    _, rejects, stats = run(tmp_path, rows, name="longest", near=True, ngram=3, keep="longest")
    assert stats["dropped"] == {"duplicate": 2, "near-duplicate": 1}


MIXED = [
    "How do I avoid JET-LAG?? Shift_your sleep.",
    "",
    "   ",
    "?!",
    "Café crème, s'il vous plaît: 2 €",
    "ΟΔΟΣ οδος Straße naïve 東京タワー 123",
    "tabs\tand\nnew lines\r\nand  runs   of spaces",
    "emoji 🙂 between words🙂joined",
    "x",
]


def test_tokenize_splits_and_hashes_as_words_does():
    """The batch tokenizer (Arrow) gives the very hashes of the per-record one it replaced."""
    texts = MIXED + [essay(i, words=i % 30) for i in range(20)]
    fast = tokenize(texts)
    slow = token_hashes([words(t) for t in texts])
    assert np.array_equal(fast.lengths, slow[1])
    assert np.array_equal(fast.hashes, slow[0])
    assert fast.lengths.tolist()[:4] == [9, 0, 0, 0]  # "shift_your": two words


def test_exact_keys_are_equal_exactly_for_equal_normalised_words():
    texts = ["A b!", "a   B", "b a", "a b c", "!!!", "???", "Café", "CAFÉ.", "", " "]
    keys = exact_keys(texts)
    assert keys[0] == keys[1]
    assert len(set(keys[[0, 2, 3, 4, 5, 6, 8]].tolist())) == 7  # word order counts; no-word texts by their raw text
    assert keys[6] == keys[7] and keys[8] == keys[9]
    # A pure function of each text: the same key in any batch.
    assert exact_keys(texts[2:5]).tolist() == keys[2:5].tolist()


def _signature_digest(texts, **options):
    return hashlib.sha256(minhash_signatures(texts, **options).tobytes()).hexdigest()


_SIGNATURE_SCRIPT = """
import hashlib, json, sys
from dataprep.stages.dedup.minhash import minhash_signatures
texts = json.loads(sys.stdin.read())
print(hashlib.sha256(minhash_signatures(texts, num_perm=64, ngram=3, seed=7).tobytes()).hexdigest())
"""


def test_signatures_do_not_depend_on_the_process_hash_seed_threads_or_cpu_kernel():
    """A Ray worker computes the same signatures as the driver: rensa is seeded, words are hashed with
    BLAKE2b (not Python's salted hash), and rensa's threads and SIMD kernels agree."""
    texts = MIXED + [essay(i) for i in range(300)]
    here = _signature_digest(texts, num_perm=64, ngram=3, seed=7)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for env in (
        {"PYTHONHASHSEED": "1"},
        {"PYTHONHASHSEED": "2", "RAYON_NUM_THREADS": "1", "RENSA_FORCE_KERNEL": "scalar"},
    ):
        done = subprocess.run(
            [sys.executable, "-c", _SIGNATURE_SCRIPT],
            input=json.dumps(texts),
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": root, **env},
            check=True,
        )
        assert done.stdout.strip() == here, env
    assert _signature_digest(texts, num_perm=64, ngram=3, seed=8) != here


def test_output_does_not_depend_on_the_batch_size(tmp_path):
    base = [essay(i) for i in range(12)]
    rows = [{"text": t} for t in base]
    rows += [{"text": t.replace(t.split()[50], "changed", 1)} for t in base[:6]]  # near copies
    rows += [{"text": t.upper()} for t in base[6:9]]  # exact copies
    src = write(tmp_path, rows)
    seen = []
    for size in (10_000, 7, 1):
        stage = Dedup(DedupConfig(near=True))
        stage.batch_size = size
        stage.run([src], tmp_path / f"b{size}")
        seen.append((read_records(tmp_path / f"b{size}"), read_rejects(tmp_path / f"b{size}")))
    assert seen[0] == seen[1] == seen[2]
    assert [r["reason"] for r in seen[0][1]].count("near-duplicate") == 6


def test_recall_and_precision_on_planted_near_copies(tmp_path):
    """Copies with one word in 200 changed (5-gram Jaccard about 0.95) are all found; copies with a
    third of their words changed (Jaccard about 0.1-0.2) and unrelated essays are never grouped."""
    rng = random.Random(5)
    originals = [essay(100 + i) for i in range(40)]
    rows, planted = [], {}
    for i, text in enumerate(originals):
        rows.append({"id": f"o{i}", "text": text})
    for i, text in enumerate(originals[:30]):
        tokens = text.split()
        tokens[rng.randrange(len(tokens))] = "changed"
        rows.append({"id": f"near{i}", "text": " ".join(tokens)})
        planted[f"near{i}"] = f"o{i}"
    for i, text in enumerate(originals[30:]):
        tokens = [w if rng.random() < 0.66 else "other" for w in text.split()]
        rows.append({"id": f"far{i}", "text": " ".join(tokens)})
    records, rejects, _ = run(tmp_path, rows, near=True)
    group_of = {r["record"]["id"]: r["record"]["meta"]["dup_group"] for r in rejects}
    found = sum(group_of.get(copy) == source for copy, source in planted.items())
    assert found == len(planted)  # recall 1.0
    assert set(group_of) == set(planted)  # precision 1.0: nothing else grouped
    assert len(records) == len(rows) - len(planted)


def test_parquet_input_keeps_meta_though_the_fit_pass_does_not_read_it(tmp_path):
    from dataprep.io.writers import ParquetShardWriter
    from dataprep.records import new_record

    base = essay(9)
    texts = [base, essay(10), base.replace(base.split()[7], "changed", 1), base.upper()]
    writer = ParquetShardWriter(tmp_path / "in")
    writer.write(rows_to_batch([new_record("src", text=t, meta={"n": i}) for i, t in enumerate(texts)]))
    writer.close()
    Dedup(DedupConfig(near=True)).run([tmp_path / "in"], tmp_path / "out")
    records, rejects = read_records(tmp_path / "out"), read_rejects(tmp_path / "out")
    kept = records[0]["id"]
    assert [r["meta"] for r in records] == [{"n": 0, "dup_group": kept}, {"n": 1}]
    assert [(r["reason"], r["record"]["meta"]) for r in rejects] == [
        ("near-duplicate", {"n": 2, "dup_group": kept}),
        ("duplicate", {"n": 3, "dup_group": kept}),
    ]


def test_near_keys_hash_each_exact_copy_once_and_give_every_copy_its_keys():
    texts = [essay(i % 5, words=40 + i % 5) for i in range(17)] + ["", "Yes.", "yes!", essay(3).upper()]
    tokens = tokenize(texts)
    exact = exact_keys(texts, tokens)
    keys = near_keys(texts, tokens, exact, num_perm=64, ngram=3, seed=2, bands=8, rows=8)
    assert np.array_equal(keys, band_keys(minhash_signatures(texts, num_perm=64, ngram=3, seed=2), 8, 8))
    assert len(np.unique(exact)) == 8 and (keys[17] == 0).all()


class _ProcessPass(Dedup):
    """The stage with its second pass as every record stage runs it: process() over Python batches."""

    def process_pass(self, inputs, output, stats):
        from dataprep.stages.base import RecordStage

        return RecordStage.process_pass(self, inputs, output, stats)


def _outputs(folder):
    stats = read_stats(folder)
    timing = ("seconds", "records_per_second", "peak_memory_mb", "started", "finished")
    return tree_bytes(folder, "*[!s].*"), {k: v for k, v in stats.items() if k not in timing}


def _mixed_parquet(folder):
    """Records of every shape in two Parquet files, one of them without a messages column and with
    meta as another tool writes it (spaces, keys out of order, not JSON at all, null)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dataprep.io.writers import ParquetShardWriter
    from dataprep.records import new_record

    base = [essay(20 + i, words=60) for i in range(6)]
    rows = []
    for i in range(60):
        text = base[i % 6] if i % 4 else base[i % 6].replace(base[i % 6].split()[9], "changed", 1)
        meta = {"n": i, "é": "ü"} if i % 3 == 0 else {}
        if i % 11 == 5:
            rows.append(new_record(f"s#{i}", input="What now?", output="   ", meta=meta))  # no answer
        elif i % 5 == 0:
            chat = [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": text}]
            rows.append(new_record(f"s#{i}", messages=chat, meta=meta))
        elif i % 2:
            rows.append(new_record(f"s#{i}", input=f"Question {i % 3}", output=text.upper(), meta=meta))
        else:
            rows.append(new_record(f"s#{i}", text=text, meta=meta))
    writer = ParquetShardWriter(folder, rows_per_shard=25)
    writer.write(rows_to_batch(rows))
    writer.close()
    metas = ['{"b": 1, "a": [2]}', "not json", None, "{}", '{"dup_group":"x"}']
    other = pa.table(
        {
            "id": [f"t{i}" for i in range(10)],
            "text": [essay(90 + i) if i < 5 else base[i % 3] if i < 8 else "" for i in range(10)],
            "source": ["other.parquet"] * 10,
            "meta": [metas[i % len(metas)] for i in range(10)],
        }
    )
    pq.write_table(other, folder / "part-99999.parquet")
    return folder


@pytest.mark.parametrize("near,keep", [(True, "first"), (True, "longest"), (False, "first")])
def test_the_arrow_second_pass_writes_what_process_writes(tmp_path, near, keep):
    """Parquet in and out: the second pass works on Arrow tables, not on Python batches; the
    records, the rejects and the stats are the same bytes as process() gives."""
    source = _mixed_parquet(tmp_path / "in")
    for size in (10_000, 7):
        seen = []
        for cls in (Dedup, _ProcessPass):
            stage = cls(DedupConfig(near=near, keep=keep))
            stage.batch_size = size
            out = tmp_path / f"{cls.__name__}-{size}"
            stage.run([source], out)
            seen.append(_outputs(out))
        assert seen[0] == seen[1], size
    rejects = read_rejects(tmp_path / "Dedup-7")
    reasons = {r["reason"] for r in rejects}
    assert {"duplicate", "empty-output", "empty-text"} <= reasons and ("near-duplicate" in reasons) == near
    assert len(read_records(tmp_path / "Dedup-7")) == read_stats(tmp_path / "Dedup-7")["records_out"]


def test_extra_columns_take_the_process_pass(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    texts = [essay(1), essay(2), essay(1).upper()]
    table = pa.table({"id": ["a", "b", "c"], "text": texts, "score": [0.5, 0.25, 1.0]})
    (tmp_path / "in").mkdir()
    pq.write_table(table, tmp_path / "in" / "part-00000.parquet")
    Dedup(DedupConfig()).run([tmp_path / "in"], tmp_path / "new")
    _ProcessPass(DedupConfig()).run([tmp_path / "in"], tmp_path / "old")
    assert _outputs(tmp_path / "new") == _outputs(tmp_path / "old")
    assert [r["score"] for r in read_records(tmp_path / "new")] == [0.5, 0.25]


def test_a_failed_background_write_is_raised_on_the_callers_thread():
    import pyarrow as pa

    from dataprep.io.writers import BackgroundTables

    class Broken:
        def __init__(self):
            self.tables = []

        def write_table(self, table, **options):
            if table.num_rows == 2:
                raise OSError("disk full")
            self.tables.append((table.num_rows, options))

    writer = Broken()
    background = BackgroundTables(writer, name="test-writer")
    background.write(pa.table({"x": [1]}), row_group_size=5)
    background.write(pa.table({"x": [1, 2]}))
    with pytest.raises(OSError, match="disk full"):
        for _ in range(100):
            background.write(pa.table({"x": [3]}))
        background.close()
    assert writer.tables == [(1, {"row_group_size": 5})]
    with pytest.raises(OSError, match="disk full"):
        background.close()
