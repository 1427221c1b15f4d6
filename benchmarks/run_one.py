"""``python -m benchmarks.run_one NAME --records N --workdir DIR --json OUT``: one benchmark, in its own process.

``python -m benchmarks`` starts one of these per benchmark, so that imports, loaded models and
memory held by one benchmark do not reach the next one's timings or peaks.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import time
from pathlib import Path

from benchmarks.common import process_peak_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", help="The benchmark: csv, html, ... (benchmarks/bench_NAME.py).")
    parser.add_argument("--records", type=int, required=True, help="Corpus size.")
    parser.add_argument("--workdir", type=Path, required=True, help="Scratch folder for corpora and outputs.")
    parser.add_argument("--json", type=Path, required=True, help="Where to write the results.")
    args = parser.parse_args()
    module = importlib.import_module(f"benchmarks.bench_{args.name}")
    args.workdir.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    start = time.perf_counter()
    results = module.run(args.records, args.workdir)
    entry = {
        "records": args.records,
        "wall_seconds": round(time.perf_counter() - start, 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "process_peak_mb": round(process_peak_mb(), 1),
        "results": [r.to_dict() for r in results],
    }
    args.json.write_text(json.dumps(entry, indent=2) + "\n")


if __name__ == "__main__":
    main()
