"""The benchmark runner: one process per benchmark, a peak for each side, results.json kept honest."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.common import Side, save

REPO = Path(__file__).resolve().parent.parent


def test_only_replaces_the_named_benchmark_and_records_per_side_peaks(tmp_path):
    results = tmp_path / "results.json"
    stale = {"run": {}, "benches": {"csv": {"results": [{"what": "renamed long ago"}]}, "html": {"kept": True}}}
    results.write_text(json.dumps(stale))
    command = [sys.executable, "-m", "benchmarks", "--only", "csv", "--records", "300", "--results", str(results)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "base peak MB" in done.stdout and "above 1 means ours is faster" in done.stdout

    document = json.loads(results.read_text())
    assert document["benches"]["html"] == {"kept": True}
    csv = document["benches"]["csv"]
    assert [line["baseline"] for line in csv["results"]] == ["pandas.read_csv", "pandas read_csv + to_parquet"]
    for line in csv["results"]:
        assert line["what"] == "extract-csv -> parquet"
        assert line["peak_mb"] > 0 and line["baseline_peak_mb"] > 0
        assert csv["process_peak_mb"] >= max(line["peak_mb"], line["baseline_peak_mb"])
    assert csv["records"] == 300 and "--only csv" in csv["command"] and csv["date"]
    assert document["run"]["records"] == 300 and document["run"]["machine"]["cpu_count"] >= 1
    assert len(document["run"]["load_average_at_start"]) == 3


def test_a_full_run_writes_a_fresh_file(tmp_path):
    path = tmp_path / "results.json"
    save({"csv": {"results": []}}, {"records": 1}, fresh=False, path=path)
    save({"sql": {"results": []}}, {"records": 2}, fresh=False, path=path)
    assert set(json.loads(path.read_text())["benches"]) == {"csv", "sql"}
    save({"slop": {"results": []}}, {"records": 3}, fresh=True, path=path)
    document = json.loads(path.read_text())
    assert set(document["benches"]) == {"slop"} and document["run"] == {"records": 3}


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's resettable VmHWM")
def test_each_side_keeps_its_own_peak():
    big, small = Side(), Side()
    big.run(lambda: float(np.ones(25_000_000).sum()))  # 200 MB, freed on return
    small.run(lambda: None)
    assert big.peak_mb - small.peak_mb > 150
