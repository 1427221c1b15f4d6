"""``python -m benchmarks [--records N] [--only csv,html]``: one table, saved to benchmarks/results.json.

Each benchmark runs in its own process (``benchmarks.run_one``), one after the other.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.common import RESULTS, Result, print_table, save

ROOT = Path(__file__).resolve().parent.parent
NAMES = sorted(p.stem.removeprefix("bench_") for p in Path(__file__).parent.glob("bench_*.py"))


def machine() -> dict[str, object]:
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }


def run_bench(name: str, records: int, workdir: Path) -> dict[str, object] | None:
    """Run one benchmark in a child process; its entry for results.json, or None if it failed."""
    out = workdir / f"{name}.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    command = [sys.executable, "-m", "benchmarks.run_one", name, "--records", str(records)]
    command += ["--workdir", str(workdir / name), "--json", str(out)]
    done = subprocess.run(command, cwd=ROOT, env=env)
    shutil.rmtree(workdir / name, ignore_errors=True)
    if done.returncode != 0 or not out.exists():
        print(f"{name}: failed (exit status {done.returncode})", file=sys.stderr, flush=True)
        return None
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000, help="Corpus size for each benchmark.")
    parser.add_argument("--only", default="", help=f"Comma-separated benchmark names, of {', '.join(NAMES)}.")
    parser.add_argument("--results", type=Path, default=RESULTS, help="The JSON file to write.")
    args = parser.parse_args()
    only = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(only) - set(NAMES))
    if unknown:
        parser.error(f"no benchmark named {', '.join(unknown)}; there are {', '.join(NAMES)}")
    wanted = [n for n in NAMES if not only or n in only]
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    run = {
        "date": started,
        "command": shlex.join(["python", "-m", "benchmarks", *sys.argv[1:]]),
        "records": args.records,
        "benches": wanted,
        "machine": machine(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    start = time.perf_counter()
    benches: dict[str, dict[str, object]] = {}
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="dataprep-bench-") as workdir:
        for name in wanted:
            print(f"running {name} on {args.records:,} records...", flush=True)
            entry = run_bench(name, args.records, Path(workdir))
            if entry is None:
                failed.append(name)
                continue
            benches[name] = {"date": started, "command": run["command"], **entry}
    run["wall_seconds"] = round(time.perf_counter() - start, 1)
    run["failed"] = failed
    results = [Result(**_fields(row)) for name in wanted if name in benches for row in benches[name]["results"]]
    print()
    print_table(results)
    save(benches, run, fresh=not only, path=args.results)
    print(f"\n{len(benches)} benchmarks in {run['wall_seconds']:,.0f} s; results in {args.results}")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


def _fields(row: dict[str, object]) -> dict[str, object]:
    """A results.json row back into Result's fields (the derived rates are left out)."""
    return {k: v for k, v in row.items() if k in Result.__dataclass_fields__}


if __name__ == "__main__":
    main()
