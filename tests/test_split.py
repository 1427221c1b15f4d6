import json
from collections import Counter

import pytest
from helpers import read_records, read_stats, tree_bytes

from dataprep.errors import InputError
from dataprep.stages.base import StageContext
from dataprep.stages.split import Split, SplitConfig, split_files


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def qa(n, start=0, **meta):
    return [{"input": f"Question {i}?", "output": f"Answer {i}.", "meta": dict(meta)} for i in range(start, start + n)]


def split(inputs, out, seed=0, **options):
    return Split(SplitConfig(**options), StageContext(seed=seed, quiet=True)).run(inputs, out)


def assignment(folder):
    """{record id: split name} from a split folder's JSONL files."""
    found = {}
    for name in ("train", "val", "test"):
        path = folder / f"{name}.jsonl"
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                found[json.loads(line)["id"]] = name
    return found


def test_writes_jsonl_and_parquet_per_split_with_exact_counts(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", qa(400))
    split([src], tmp_path / "s", ratio=[0.9, 0.1])
    out = tmp_path / "s"
    jsonl = {name: len((out / f"{name}.jsonl").read_text().splitlines()) for name in ("train", "val")}
    parquet = {name: len(read_records(out / name)) for name in ("train", "val")}
    assert jsonl == parquet
    assert sum(jsonl.values()) == 400
    assert 20 <= jsonl["val"] <= 60  # a hash split: about 10%, not exactly
    stats = read_stats(out)
    assert stats["records_out"] == 400
    assert {k: v["records"] for k, v in stats["extra"]["splits"].items()} == jsonl
    assert set(split_files(out)) == {"train", "val"}
    assert all(p.suffix == ".parquet" for p in split_files(out)["train"])
    # the JSONL files are plain records other trainers read
    first = json.loads((out / "train.jsonl").read_text().splitlines()[0])
    assert {"input", "output", "id", "source"} <= set(first)


def test_adding_data_never_moves_a_record(tmp_path):
    old = write_jsonl(tmp_path / "old.jsonl", qa(500))
    new = write_jsonl(tmp_path / "new.jsonl", qa(500, start=500))
    split([old], tmp_path / "before", ratio=[0.8, 0.2])
    split([old, new], tmp_path / "after", ratio=[0.8, 0.2])
    before, after = assignment(tmp_path / "before"), assignment(tmp_path / "after")
    assert len(after) == 1000
    assert all(after[rid] == name for rid, name in before.items())
    assert Counter(after.values())["val"] > Counter(before.values())["val"]


def test_same_input_gives_byte_identical_output(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", qa(300))
    for out in ("a", "b"):
        split([src], tmp_path / out, ratio=[0.9, 0.05, 0.05])
    for pattern in ("**/*.parquet", "*.jsonl"):  # stats.json differs only in its timings
        assert tree_bytes(tmp_path / "a", pattern) == tree_bytes(tmp_path / "b", pattern)
    assert len(tree_bytes(tmp_path / "a", "*.jsonl")) == 4  # train, val, test and rejects


def test_groups_stay_on_one_side(tmp_path):
    records = []
    for group in range(60):
        for copy in range(group % 4 + 1):
            records.append({"text": f"near duplicate {group} variant {copy}", "meta": {"dup_group": group}})
    records += [{"text": f"loner {i}"} for i in range(40)]  # no group: each its own
    src = write_jsonl(tmp_path / "in.jsonl", records)
    split([src], tmp_path / "s", ratio=[0.7, 0.3], group_by="meta.dup_group")
    sides: dict[int, set] = {}
    for name in ("train", "val"):
        for record in read_records(tmp_path / "s" / name):
            if "dup_group" in record["meta"]:
                sides.setdefault(record["meta"]["dup_group"], set()).add(name)
    assert len(sides) == 60
    assert all(len(names) == 1 for names in sides.values())
    assert {"train", "val"} == set().union(*sides.values())
    assert read_stats(tmp_path / "s")["records_out"] == len(records)


def test_stratify_keeps_the_mix_in_validation(tmp_path):
    records = qa(200, cluster="a") + qa(100, start=200, cluster="b") + qa(20, start=300, cluster="c")
    src = write_jsonl(tmp_path / "in.jsonl", records)
    split([src], tmp_path / "s", ratio=[0.9, 0.1], stratify="meta.cluster")
    val = Counter(r["meta"]["cluster"] for r in read_records(tmp_path / "s" / "val"))
    assert val == {"a": 20, "b": 10, "c": 2}
    strata = read_stats(tmp_path / "s")["extra"]["strata"]
    assert strata["c"] == {"train": 18, "val": 2}


def test_val_size_is_exact(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", qa(250))
    split([src], tmp_path / "s", val_size=7)
    assert len(read_records(tmp_path / "s" / "val")) == 7
    assert len(read_records(tmp_path / "s" / "train")) == 243


def test_val_size_larger_than_the_data_is_a_clear_error(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", qa(5))
    with pytest.raises(InputError, match="val_size 5 leaves no training records: there are only 5"):
        split([src], tmp_path / "s", val_size=5)


def test_random_method_is_seeded(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", qa(300))
    split([src], tmp_path / "a", method="random", ratio=[0.9, 0.1], seed=1)
    split([src], tmp_path / "b", method="random", ratio=[0.9, 0.1], seed=1)
    split([src], tmp_path / "c", method="random", ratio=[0.9, 0.1], seed=2)
    a, b, c = (assignment(tmp_path / x) for x in "abc")
    assert a == b
    assert a != c
    assert Counter(a.values()) == {"train": 270, "val": 30}
    assert read_stats(tmp_path / "a")["extra"]["seed"] == 1


def test_test_split(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", qa(1000))
    split([src], tmp_path / "s", ratio=[0.98, 0.01, 0.01])
    counts = read_stats(tmp_path / "s")["extra"]["splits"]
    assert set(counts) == {"train", "val", "test"}
    assert (tmp_path / "s" / "test.jsonl").exists() and (tmp_path / "s" / "test").is_dir()
    assert all(counts[name]["records"] >= 1 for name in ("val", "test"))


def test_validation_always_gets_a_record(tmp_path):
    # Fixed ids: none of them hashes into the 1% validation share, so one has to be moved there.
    # (Without ids, the ids come from the path, and one in twenty temp folders hashes one in.)
    src = write_jsonl(tmp_path / "in.jsonl", [dict(r, id=f"q{i}") for i, r in enumerate(qa(5))])
    split([src], tmp_path / "s", ratio=[0.99, 0.01])
    stats = read_stats(tmp_path / "s")["extra"]
    assert stats["splits"]["val"]["records"] == 1
    assert stats["forced_to_meet_minimum"] == {"val": 1}


def test_a_split_folder_is_not_split_again(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", qa(20))
    split([src], tmp_path / "s")
    with pytest.raises(InputError, match="already a split folder"):
        split([tmp_path / "s"], tmp_path / "again")


def test_too_few_records_is_a_clear_error(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", qa(1))
    with pytest.raises(InputError, match="1 records, too few for a train/val split"):
        split([src], tmp_path / "s")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    "ratio, message",
    [
        ("0.9,abc", "ratio must be numbers separated by commas"),
        ("-0.1,1.1", "must not be negative"),
        ("0,0", "must not sum to zero"),
        ("1", "needs 2 values"),
        ("0.5,0.2,0.2,0.1", "needs 2 values"),
        ("1,0", "validation share of ratio must be positive"),
        ("0,1", "train share of ratio must be positive"),
    ],
)
def test_bad_ratio_exits_2_with_a_sentence(tmp_path, cli, ratio, message):
    src = write_jsonl(tmp_path / "in.jsonl", qa(10))
    result = cli("split", src, "-o", tmp_path / "s", "--ratio", ratio)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_cli_and_pipeline_yaml_list(tmp_path, cli):
    src = write_jsonl(tmp_path / "in.jsonl", qa(50))
    result = cli("split", src, "-o", tmp_path / "s", "--ratio", "0.8,0.2", "-q")
    assert result.exit_code == 0, result.output
    assert SplitConfig.model_validate({"ratio": [0.8, 0.2]}).ratio == [0.8, 0.2]


def leaky_records(pairs=30, singles=60, seed=0):
    """Distinct answers plus near-copies (one word changed) of the first ``pairs``, with fixed ids."""
    import random

    rng = random.Random(seed)
    rows = []
    for i in range(pairs + singles):
        words = [f"w{rng.randrange(5000)}" for _ in range(60)]
        rows.append({"id": f"r{i}", "input": "Summarise.", "output": " ".join(words)})
        if i < pairs:
            words[-1] = "changed"
            rows.append({"id": f"r{i}-copy", "input": "Summarise.", "output": " ".join(words)})
    return rows


def test_near_duplicates_across_sides_are_moved_to_one_side(tmp_path):
    rows = leaky_records()
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    split([src], tmp_path / "off", ratio=[0.6, 0.4], leakage="off")
    before = assignment(tmp_path / "off")
    straddling = [i for i in range(30) if before[f"r{i}"] != before[f"r{i}-copy"]]
    assert straddling  # with 40% validation, several pairs land apart

    split([src], tmp_path / "report", ratio=[0.6, 0.4], leakage="report")
    assert assignment(tmp_path / "report") == before
    report = read_stats(tmp_path / "report")["extra"]
    assert report["leak-moved"] == 0
    assert report["leakage"]["clusters_across_sides"] == len(straddling)
    assert report["leakage"]["records_in_them"] == 2 * len(straddling)

    split([src], tmp_path / "move", ratio=[0.6, 0.4])
    after = assignment(tmp_path / "move")
    assert all(after[f"r{i}"] == after[f"r{i}-copy"] for i in range(30))
    moved = [rid for rid in after if after[rid] != before[rid]]
    assert len(moved) == len(straddling)  # one record of each straddling pair
    stats = read_stats(tmp_path / "move")["extra"]
    assert stats["leak-moved"] == len(moved)
    assert stats["leakage"]["clusters_across_sides"] == len(straddling)
    assert set(moved) <= {f"r{i}{copy}" for i in straddling for copy in ("", "-copy")}

    # Deterministic, whatever the input order.
    shuffled = write_jsonl(tmp_path / "shuffled.jsonl", rows[::-1])
    split([shuffled], tmp_path / "again", ratio=[0.6, 0.4])
    assert assignment(tmp_path / "again") == after


@pytest.mark.parametrize("seed", range(6))
def test_leak_fixes_keep_every_split_non_empty_and_groups_whole(tmp_path, seed):
    rows = leaky_records(pairs=2, singles=1, seed=seed)  # a, a-copy, b, b-copy, c
    rows.append({**rows[0], "id": "r0-third"})
    for row in rows:
        row["meta"] = {"group": row["id"].removesuffix("-copy")}
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    split([src], tmp_path / "s", seed=seed, val_size=1, method="random", group_by="meta.group")
    sides = assignment(tmp_path / "s")
    assert set(sides.values()) == {"train", "val"}
    for i in range(2):
        assert sides[f"r{i}"] == sides[f"r{i}-copy"]
    assert sides["r0"] == sides["r0-third"]
