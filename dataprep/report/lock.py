"""``dataprep.lock.json``: what it takes to reproduce a run, and ``dataprep run --check-lock``.

The lock lists every input file (and every file an option points at: phrase lists, the
tokenizer, a model) with its size and sha256, every stage's resolved options, the seed,
the versions of dataprep, Python and the libraries that shape the output, each stage's
counts, and the sha256 of the final dataset's data files. Stages are deterministic, so a
rerun with the same files, options, seed and versions gives the same bytes: checking a
lock compares those without running anything.
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from dataprep import __version__
from dataprep.io.atomic import atomic_write_json
from dataprep.pipeline.config import Pipeline
from dataprep.report.run import RunView

LOCK = "dataprep.lock.json"
#: Libraries whose version can change what a stage writes.
LIBRARIES = (
    "accelerate",
    "beautifulsoup4",
    "bitsandbytes",
    "datasets",
    "datasketch",
    "numpy",
    "onnxruntime",
    "pandas",
    "peft",
    "pyahocorasick",
    "pyarrow",
    "scikit-learn",
    "sentence-transformers",
    "sqlparse",
    "tokenizers",
    "torch",
    "trafilatura",
    "transformers",
)
#: Data files of a dataset folder (not state.json, whose fields datasets may fill differently).
DATA_SUFFIXES = (".arrow", ".parquet", ".jsonl", ".jsonl.gz")
#: Diagnostics written beside the data (what was dropped, what verification found), not the data itself.
NOT_DATA = ("rejects.jsonl", "mismatches.jsonl")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.parts))
    return [path] if path.is_file() else []


def _entry(path: Path) -> dict[str, Any]:
    return {"path": str(path), "size": path.stat().st_size, "sha256": sha256(path)}


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def stage_inputs(pipeline: Pipeline) -> list[dict[str, Any]]:
    """Every file the stages read or point at, once, in pipeline order."""
    from dataprep.io.readers import resolve_inputs

    stage_names = {s.name for s in pipeline.stages}
    seen: set[str] = set()
    out = []
    for stage in pipeline.stages:
        paths: list[Path] = []
        for spec in stage.inputs or []:
            if spec not in stage_names:
                suffixes = getattr(stage.cls, "input_suffixes", ()) or ("",)
                paths += resolve_inputs([spec], suffixes)
        for referenced in stage.cls.referenced_files(stage.config):
            paths += _files(Path(referenced))
        # Options naming a local file or folder (a tokenizer, a model, a chat template) are inputs too.
        for value in _strings(stage.config.model_dump(mode="json")):
            if "\n" not in value and len(value) < 4096 and Path(value).exists():
                paths += _files(Path(value))
        for path in paths:
            if str(path) not in seen:
                seen.add(str(path))
                out.append({**_entry(path), "stage": stage.name})
    return out


def resolved(pipeline: Pipeline) -> dict[str, Any]:
    """The part of the lock that decides the output: known before running anything."""
    return {
        "pipeline": pipeline.config.name,
        "seed": pipeline.config.seed,
        "dataprep": __version__,
        "python": platform.python_version(),
        "libraries": versions(),
        "inputs": stage_inputs(pipeline),
        "stages": [
            {"name": s.name, "stage": s.cls.name, "folder": s.folder, "options": s.config.model_dump(mode="json")}
            for s in pipeline.stages
        ],
    }


def build_lock(pipeline: Pipeline, run: RunView) -> dict[str, Any]:
    lock = resolved(pipeline)
    views = {s.name: s for s in run.stages}
    for entry in lock["stages"]:
        stats = views[entry["name"]].stats if entry["name"] in views else {}
        entry["counts"] = (
            {k: stats.get(k) for k in ("records_in", "records_out", "dropped")} if stats else {"status": "not run"}
        )
    dataset = run.dataset_stage()
    if dataset is not None:
        files = [p for p in _files(dataset.path) if p.name.endswith(DATA_SUFFIXES) and p.name not in NOT_DATA]
        lock["outputs"] = {
            "stage": dataset.name,
            "files": [{**_entry(p), "path": str(p.relative_to(run.path))} for p in files],
        }
    return lock


def write_lock(pipeline: Pipeline, run: RunView) -> Path | None:
    """Write the lock beside the final dataset; returns its path (None when no stage finished)."""
    dataset = run.dataset_stage()
    if dataset is None:
        return None
    target = dataset.path / LOCK
    atomic_write_json(target, build_lock(pipeline, run))
    return target


def find_lock(run: RunView) -> Path | None:
    dataset = run.dataset_stage()
    path = dataset.path / LOCK if dataset is not None else None
    return path if path is not None and path.exists() else None


def _compare(name: str, old: Any, new: Any, out: list[str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            if key not in old:
                out.append(f"{name}.{key}: not in the lock, now {new[key]!r}")
            elif key not in new:
                out.append(f"{name}.{key}: {old[key]!r} in the lock, now gone")
            else:
                _compare(f"{name}.{key}", old[key], new[key], out)
    elif old != new:
        out.append(f"{name}: {old!r} in the lock, now {new!r}")


def check_lock(pipeline: Pipeline, lock: dict[str, Any], run_path: Path) -> list[str]:
    """What differs between a lock and the pipeline, its inputs and this environment now
    (an empty list: a rerun reproduces the locked run)."""
    now = resolved(pipeline)
    problems: list[str] = []
    for key in ("pipeline", "seed", "dataprep", "python", "libraries"):
        _compare(key, lock.get(key), now[key], problems)
    old_inputs = {i["path"]: i for i in lock.get("inputs", [])}
    new_inputs = {i["path"]: i for i in now["inputs"]}
    for path in sorted(set(old_inputs) | set(new_inputs)):
        old, new = old_inputs.get(path), new_inputs.get(path)
        if old is None:
            problems.append(f"input {path}: new, not in the lock")
        elif new is None:
            problems.append(f"input {path}: in the lock, not read by the pipeline now")
        elif (old["size"], old["sha256"]) != (new["size"], new["sha256"]):
            problems.append(f"input {path}: content changed (sha256 {old['sha256'][:12]}… -> {new['sha256'][:12]}…)")
    old_stages = {s["name"]: s for s in lock.get("stages", [])}
    new_stages = {s["name"]: s for s in now["stages"]}
    if list(old_stages) != list(new_stages):
        problems.append(f"stages: {list(old_stages)} in the lock, now {list(new_stages)}")
    for name in new_stages:
        if name in old_stages:
            _compare(f"stage {name} options", old_stages[name].get("options"), new_stages[name]["options"], problems)
    for entry in (lock.get("outputs") or {}).get("files", []):
        path = run_path / entry["path"]
        if not path.exists():
            problems.append(f"output {entry['path']}: missing from the run folder")
        elif sha256(path) != entry["sha256"]:
            problems.append(f"output {entry['path']}: differs from the locked bytes")
    return problems


def check_run(pipeline: Pipeline) -> tuple[bool, str]:
    """``dataprep run --check-lock``: (whether a rerun reproduces the locked run, what to print)."""
    from dataprep.errors import InputError
    from dataprep.report.run import load_run

    run = load_run(pipeline.output_dir)
    path = find_lock(run)
    if path is None:
        raise InputError(
            f"{pipeline.output_dir}: no {LOCK} beside the final dataset; run `dataprep run {pipeline.path}` first."
        )
    lock = json.loads(path.read_text(encoding="utf-8"))
    problems = check_lock(pipeline, lock, run.path)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        return False, f"{path}: a rerun would NOT reproduce this run; {len(problems)} difference(s):\n{lines}"
    outputs = len((lock.get("outputs") or {}).get("files", []))
    return True, (
        f"{path}: matches. {len(lock['inputs'])} input files (sha256), the options of {len(lock['stages'])} stages, "
        f"seed {lock['seed']} and the library versions are unchanged, and the {outputs} output files hold "
        "the locked bytes: a rerun reproduces this run."
    )
