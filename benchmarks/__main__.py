"""``python -m benchmarks [--records N] [--only csv,html]``: one table, saved to benchmarks/results.json."""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import tempfile
from pathlib import Path

from benchmarks.common import print_table, save

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000, help="Corpus size for each benchmark.")
    parser.add_argument("--only", default="", help="Comma-separated benchmark names (csv, ...).")
    args = parser.parse_args()
    names = sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name.startswith("bench_")
    )
    wanted = [n for n in names if not args.only or n in args.only.split(",")]
    results = []
    with tempfile.TemporaryDirectory(prefix="dataprep-bench-") as workdir:
        for name in wanted:
            module = importlib.import_module(f"benchmarks.bench_{name}")
            print(f"running {name} on {args.records:,} records...", flush=True)
            results.extend(module.run(args.records, Path(workdir)))
    print()
    print_table(results)
    save(results)


if __name__ == "__main__":
    main()
