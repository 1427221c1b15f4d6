"""Run a pipeline: each stage in its own folder, resumable through ``manifest.json``.

A stage's fingerprint hashes its kind, its options, the dataprep version and
its inputs (input files by path, size and modification time; earlier stages
by their fingerprints). A rerun skips a stage whose fingerprint matches the
manifest and whose folder is complete, and reruns a changed stage and, through
the chained fingerprints, everything after it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataprep import __version__
from dataprep.executors import Engine, make_engine
from dataprep.io.atomic import atomic_write_json, cleanup_temp_siblings
from dataprep.io.paths import check_output_path
from dataprep.io.readers import resolve_inputs
from dataprep.pipeline.config import Pipeline, PlannedStage
from dataprep.stages.base import StageContext, drop_warning

log = logging.getLogger("dataprep")
MANIFEST = "manifest.json"


@dataclass
class StageResult:
    name: str
    folder: str
    status: str  # "ran" or "skipped"
    stats: dict[str, Any]


def _file_fingerprint(spec: str, suffixes: tuple[str, ...]) -> list[list[Any]]:
    files = resolve_inputs([spec], suffixes) if suffixes else [Path(spec)]
    out = []
    for path in files:
        stat = path.stat()
        out.append([str(path), stat.st_size, stat.st_mtime_ns])
    return out


def stage_fingerprint(stage: PlannedStage, seed: int, upstream_fps: dict[str, str]) -> str:
    inputs: list[Any] = []
    for spec in stage.inputs or []:
        if spec in upstream_fps:
            inputs.append(["stage", upstream_fps[spec]])
        else:
            suffixes = getattr(stage.cls, "input_suffixes", ()) or ("",)
            inputs.append(["files", _file_fingerprint(spec, suffixes)])
    for name in stage.upstream:
        if name not in (stage.inputs or []):
            inputs.append(["stage", upstream_fps[name]])
    referenced = [_file_fingerprint(str(p), ("",)) for p in stage.cls.referenced_files(stage.config) if p.exists()]
    payload = {
        "stage": stage.cls.name,
        "referenced_files": referenced,
        "config": stage.config.model_dump(mode="json"),
        "seed": seed,
        "version": __version__,
        "inputs": inputs,
    }
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def load_manifest(run_dir: Path) -> dict[str, Any]:
    path = run_dir / MANIFEST
    if not path.exists():
        return {"stages": {}}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        log.warning("%s is unreadable; every stage will run again", path)
        return {"stages": {}}
    manifest.setdefault("stages", {})
    return manifest


def _attach_log(run_dir: Path) -> logging.Handler:
    handler = logging.FileHandler(run_dir / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return handler


def run_pipeline(
    pipeline: Pipeline,
    *,
    force: bool = False,
    from_stage: str | None = None,
    until_stage: str | None = None,
    quiet: bool = False,
    report: bool = True,
) -> list[StageResult]:
    """Run (or resume) ``pipeline`` and return what each stage did.

    With ``report``, the run folder then gets ``report.html`` (see :mod:`dataprep.report`) and
    the final dataset its ``README.md`` card and ``dataprep.lock.json``.
    """
    run_dir = pipeline.output_dir
    check_output_path(run_dir, option=f"{pipeline.path}: output_dir", replaces_folder=False)
    run_dir.mkdir(parents=True, exist_ok=True)
    cleanup_temp_siblings(run_dir)
    handler = _attach_log(run_dir)
    engine: Engine | None = None
    try:
        engine = make_engine(pipeline.config.executor, pipeline.config.workers)
        results = _run(pipeline, run_dir, force, from_stage, until_stage, quiet, engine)
    finally:
        if engine is not None:
            engine.close()
        log.removeHandler(handler)
        handler.close()
    if report:
        try:
            write_run_documents(pipeline, run_dir)
        except Exception as exc:  # noqa: BLE001 - the stages' outputs are done and sound
            log.warning(
                "could not write the run report (%s: %s); the outputs are complete. "
                "Rerun `dataprep report %s` with --debug to see why.",
                type(exc).__name__,
                exc,
                run_dir,
            )
            if os.environ.get("DATAPREP_DEBUG"):
                raise
    return results


def write_run_documents(pipeline: Pipeline, run_dir: Path) -> None:
    """The run's report page, and the dataset card and lock file beside the final dataset."""
    from dataprep.report.card import write_card
    from dataprep.report.lock import write_lock
    from dataprep.report.page import write_report
    from dataprep.report.run import load_run

    run = load_run(run_dir)
    write_lock(pipeline, run)
    write_card(run)
    write_report(run)


def _run(
    pipeline: Pipeline,
    run_dir: Path,
    force: bool,
    from_stage: str | None,
    until_stage: str | None,
    quiet: bool,
    engine: Engine,
) -> list[StageResult]:
    seed = pipeline.config.seed
    first_forced = pipeline.stage(from_stage).index if from_stage else None
    last = pipeline.stage(until_stage).index if until_stage else None
    manifest = load_manifest(run_dir)
    manifest.update({"pipeline": pipeline.config.name, "dataprep_version": __version__, "seed": seed})
    # Every planned stage and what this run does with it, so the report can show the stages
    # that were reused from the cache or never reached (--until, a crash).
    manifest["plan"] = [{"name": s.name, "stage": s.cls.name, "folder": s.folder} for s in pipeline.stages]
    manifest["last_run"] = {s.name: "not run" for s in pipeline.stages}
    ctx = StageContext(seed=seed, quiet=quiet, run_dir=run_dir, engine=engine)
    fingerprints: dict[str, str] = {}
    folders: dict[str, Path] = {}
    results: list[StageResult] = []
    workers = getattr(engine, "workers", None)
    where = f"{engine.name}, {workers} workers" if engine.name == "local" and workers else engine.name
    log.info("run %s -> %s (executor: %s)", pipeline.path, run_dir, where)
    for stage in pipeline.stages:
        if last is not None and stage.index > last:
            break
        fingerprint = stage_fingerprint(stage, seed, fingerprints)
        fingerprints[stage.name] = fingerprint
        folder = run_dir / stage.folder
        folders[stage.name] = folder
        previous = manifest["stages"].get(stage.name, {})
        forced = force or (first_forced is not None and stage.index >= first_forced)
        done = (folder / "stats.json").exists()
        if not forced and done and previous.get("fingerprint") == fingerprint:
            log.info("%s: unchanged, skipped", stage.folder)
            stats = json.loads((folder / "stats.json").read_text(encoding="utf-8"))
            results.append(StageResult(stage.name, stage.folder, "skipped", stats))
            manifest["last_run"][stage.name] = "cached"
            continue
        inputs = [str(folders[name]) for name in stage.upstream]
        inputs += [spec for spec in stage.inputs if spec not in folders]
        log.info("%s: running %s on %s", stage.folder, stage.cls.name, ", ".join(inputs))
        # Forget the stage before touching its folder, so a crash mid-way can never
        # leave a manifest entry that vouches for half-written data.
        manifest["stages"].pop(stage.name, None)
        atomic_write_json(run_dir / MANIFEST, manifest)
        if forced:
            stage.cls.forget(folder)
        start = time.perf_counter()
        stats = stage.cls(stage.config, ctx).run(inputs, folder).to_dict()
        log.info(
            "%s: %d in, %d out, dropped %s, %.2fs",
            stage.folder,
            stats["records_in"],
            stats["records_out"],
            stats["dropped"] or "nothing",
            time.perf_counter() - start,
        )
        manifest["last_run"][stage.name] = "ran"
        if warning := drop_warning(stats):
            log.warning("%s: %s", stage.folder, warning)
        manifest["stages"][stage.name] = {
            "stage": stage.cls.name,
            "folder": stage.folder,
            "fingerprint": fingerprint,
            "config": stage.config.model_dump(mode="json"),
            "inputs": inputs,
        }
        atomic_write_json(run_dir / MANIFEST, manifest)
        results.append(StageResult(stage.name, stage.folder, "ran", stats))
    atomic_write_json(run_dir / MANIFEST, manifest)
    return results
