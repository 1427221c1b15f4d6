"""Draw the AlpacaEval dev records that were labelled by hand for ``filter-slop``.

    python -m benchmarks.labels.draw_slop_dev [--devdata ../shared/devdata] [--show]

The draw is seeded and stratified by generator: for each of the ten models,
23 records at random and 22 more at random from those of its records that hold a
broad cue (below), so refusals and disclaimers, rare in AlpacaEval, are not too
few to measure. The cues are deliberately wider than any filter rule (any
"sorry", "AI", "assistant", "cannot", "appropriate"...) and were fixed before the
filter was changed. A seeded fifth of the drawn ids is marked ``heldout``: those
labels are scored but never looked at while tuning.

A second stage was drawn the same way after the first 450 were labelled and
held only 47 positives (5 in the held-aside fifth, too few to measure): 15 more
records per generator, at random from those not yet drawn that hold a narrower
cue (``NARROW_CUES``: "AI", "assistant", "sorry", "I cannot"...). It was
labelled blind too, before the filter changed, and has its own seeded fifth.

``--show`` prints the records (instruction and output) for labelling; the
labels file itself holds ids, labels and offsets only, never the text.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import defaultdict
from pathlib import Path

from benchmarks.slop_quality import devdata_dir

FILE = "slop/alpaca_eval_dev_outputs.jsonl"
SEED = 15
RANDOM_PER_GENERATOR = 23
CUED_PER_GENERATOR = 22
HELDOUT_FRACTION = 0.2
SECOND_STAGE_SEED = 1515
SECOND_STAGE_PER_GENERATOR = 15
BROAD_CUES = re.compile(
    r"sorry|apolog|\bAI\b|language model|assistant|cannot|can't|can not|unable|not able|not possible|"
    r"appropriate|respectful|ethical|harmful|offensive|\bI must\b|\bI'm not\b|\bI am not\b|"
    r"important to note|point out|as an? |my programming|my training|personal opinion",
    re.IGNORECASE,
)


NARROW_CUES = re.compile(
    r"\bAI\b|language model|\bassistant\b|sorry|apolog|"
    r"\bI (?:cannot|can't|can not|am unable|'m unable|am not able|'m not able)|point out|respectful|"
    r"not (?:appropriate|ethical)",
    re.IGNORECASE,
)


def read(devdata: Path) -> list[dict]:
    with open(devdata / FILE, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def draw(records: list[dict]) -> list[dict]:
    """[{id, generator, drawn: random|cue, heldout}] in a fixed order."""
    rng = random.Random(SEED)
    by_generator: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        by_generator[record["generator"]].append(record)
    drawn = []
    for generator in sorted(by_generator):
        pool = by_generator[generator]
        picked = rng.sample(pool, RANDOM_PER_GENERATOR)
        ids = {r["id"] for r in picked}
        cued = [r for r in pool if r["id"] not in ids and BROAD_CUES.search(r["output"])]
        drawn += [{"id": r["id"], "generator": generator, "drawn": "random"} for r in picked]
        drawn += [{"id": r["id"], "generator": generator, "drawn": "cue"} for r in rng.sample(cued, CUED_PER_GENERATOR)]
    _hold_out(drawn, rng)
    # The second stage (see the module docstring): its own generator, so stage one stays as it was.
    rng = random.Random(SECOND_STAGE_SEED)
    taken = {d["id"] for d in drawn}
    second = []
    for generator in sorted(by_generator):
        pool = [r for r in by_generator[generator] if r["id"] not in taken and NARROW_CUES.search(r["output"])]
        picked = rng.sample(pool, SECOND_STAGE_PER_GENERATOR)
        second += [{"id": r["id"], "generator": generator, "drawn": "narrow-cue"} for r in picked]
    _hold_out(second, rng)
    return drawn + second


def _hold_out(drawn: list[dict], rng: random.Random) -> None:
    heldout = set(rng.sample(sorted(d["id"] for d in drawn), round(HELDOUT_FRACTION * len(drawn))))
    for d in drawn:
        d["heldout"] = d["id"] in heldout


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devdata", type=Path, default=None, help="Default: ../shared/devdata from the repo root.")
    parser.add_argument("--show", action="store_true", help="Print the drawn records for labelling.")
    args = parser.parse_args(argv)
    devdata = args.devdata or devdata_dir()
    if devdata is None:
        raise SystemExit("error: no ../shared/devdata here (looked beside the repo root); give --devdata DIR.")
    records = read(devdata)
    texts = {r["id"]: r for r in records}
    for d in draw(records):
        if args.show:
            r = texts[d["id"]]
            print(f"=== {d['id']}\nQ: {r['instruction'][:300]}\nA: {r['output']}\n")
        else:
            print(json.dumps(d))


if __name__ == "__main__":
    main()
