"""The pipeline file: a typed schema, validated in full before any work starts.

Every error names the file, the line and the field, suggests the closest
valid name for a typo, and is reported together with all the others.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dataprep.errors import ConfigError, suggest
from dataprep.pipeline.yaml_lines import Loc, line_of, load_with_lines
from dataprep.stages import Stage, StageConfig, registry


class ExecutorConfig(BaseModel):
    """Where the stages run."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["local", "ray"] = Field(
        "local",
        description="`local` runs every stage in this process; `ray` runs the per-record work of each stage "
        "in ray.data map_batches (pip install 'dataprep[ray]').",
    )
    address: str | None = Field(
        None,
        description="ray: the cluster to join (`auto` for the one `ray start` runs on this machine, or "
        "ray://host:10001). Unset: start a local Ray for the run and stop it afterwards.",
    )
    num_cpus: int | None = Field(None, ge=1, description="ray, local cluster only: CPUs to give it (default: all).")
    batch_size: int | None = Field(
        None, ge=1, description="ray: records per map_batches call (default: each stage's own batch size)."
    )
    temp_dir: str | None = Field(
        None, description="ray, local cluster only: Ray's session folder (default: /tmp/ray); keep the path short."
    )


class PipelineConfig(BaseModel):
    """The top level of ``pipeline.yml``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Name of the pipeline; the default output folder is runs/<name>.")
    output_dir: Path | None = Field(None, description="Run folder. Default: runs/<name>.")
    seed: int = Field(0, description="Seed for every stage that draws random numbers.")
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig, description="Where stages run.")
    workers: int | None = Field(
        None,
        ge=1,
        description="local executor: processes for each stage's per-record work (default: one per core). "
        "Any number gives the same outputs; 1 runs everything in this process. Not part of a stage's "
        "fingerprint, so changing it reruns nothing.",
    )
    stages: list[dict[str, Any]] = Field(description="The stages, in order.", min_length=1)

    @field_validator("executor", mode="before")
    @classmethod
    def _executor_shorthand(cls, value: Any) -> Any:
        return {"type": value} if isinstance(value, str) else value


@dataclass
class PlannedStage:
    """One validated stage of a pipeline."""

    index: int
    name: str
    cls: type[Stage]
    config: StageConfig
    #: Input files (for the first stages) or names of earlier stages.
    inputs: list[str] = field(default_factory=list)
    upstream: list[str] = field(default_factory=list)

    @property
    def folder(self) -> str:
        return f"{self.index:02d}-{self.name}"


@dataclass
class Pipeline:
    path: Path
    config: PipelineConfig
    stages: list[PlannedStage]

    @property
    def output_dir(self) -> Path:
        return self.config.output_dir or Path("runs") / self.config.name

    def stage(self, name: str) -> PlannedStage:
        for planned in self.stages:
            if planned.name == name:
                return planned
        raise ConfigError(
            f"no stage named {name!r} in {self.path}{suggest(name, [s.name for s in self.stages])}; "
            f"stages are: {', '.join(s.name for s in self.stages)}."
        )


class _Errors:
    def __init__(self, path: Path, lines: dict[Loc, int]) -> None:
        self.path = path
        self.lines = lines
        self.messages: list[tuple[int, str]] = []

    def add(self, loc: Loc, message: str) -> None:
        line = line_of(self.lines, loc) or 0
        self.messages.append((line, message))

    def add_validation(self, base: Loc, exc: ValidationError, fields: list[str], what: str) -> None:
        for error in exc.errors():
            loc = tuple(error["loc"])
            name = ".".join(str(part) for part in loc) or what
            line = line_of(self.lines, (*base, *loc))
            at = f" at line {line}" if line else ""
            if error["type"] == "extra_forbidden":
                self.add((*base, *loc), f"unknown option {name!r} for {what}{at}{suggest(str(loc[-1]), fields)}")
            elif error["type"] == "missing":
                self.add((*base, *loc), f"{what}: missing option {name!r}{at}")
            else:
                message = error["msg"].removeprefix("Value error, ")
                self.add((*base, *loc), f"{what}: {name}{at}: {message}")

    def raise_if_any(self) -> None:
        if self.messages:
            body = "\n".join(
                f"  {self.path}:{line}: {msg}" if line else f"  {self.path}: {msg}"
                for line, msg in sorted(self.messages, key=lambda m: m[0])
            )
            count = len(self.messages)
            raise ConfigError(f"{self.path}: {count} error{'s' if count > 1 else ''} in the pipeline file:\n{body}")


def load_pipeline(path: str | Path) -> Pipeline:
    """Read and validate a pipeline file; raise :class:`ConfigError` listing every problem."""
    path = Path(path)
    data, lines = load_with_lines(path)
    errors = _Errors(path, lines)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with name, output_dir, seed, executor and stages.")
    config: PipelineConfig | None = None
    try:
        config = PipelineConfig.model_validate(data)
    except ValidationError as exc:
        errors.add_validation((), exc, list(PipelineConfig.model_fields), "the pipeline")
    entries = data.get("stages")
    stages = _plan_stages(entries, errors) if isinstance(entries, list) else []
    errors.raise_if_any()
    assert config is not None
    return Pipeline(path=path, config=config, stages=stages)


def _exists(spec: str) -> bool:
    return Path(spec).exists() or (glob.has_magic(spec) and bool(glob.glob(spec, recursive=True)))


def _plan_stages(entries: list[Any], errors: _Errors) -> list[PlannedStage]:
    known = registry()
    planned: list[PlannedStage] = []
    # Every stage whose kind is known, valid options or not, so that one bad stage
    # does not make the next one look like the first.
    earlier: list[tuple[str, bool]] = []
    for index, entry in enumerate(entries, start=1):
        loc: Loc = ("stages", index - 1)
        if not isinstance(entry, dict) or "stage" not in entry:
            errors.add(loc, f"stage #{index} needs a 'stage:' key naming its kind, e.g. 'stage: extract-csv'")
            continue
        options = dict(entry)
        kind = str(options.pop("stage"))
        if kind not in known:
            line = line_of(errors.lines, (*loc, "stage"))
            errors.add((*loc, "stage"), f"unknown stage {kind!r} at line {line}{suggest(kind, list(known))}")
            continue
        cls = known[kind]
        name = str(options.pop("name", None) or kind)
        earlier_names = [n for n, _ in earlier]
        if name in earlier_names:
            errors.add((*loc, "name"), f"two stages are named {name!r}; give one of them another 'name:'")
        inputs = _inputs(options.pop("inputs", None), name, loc, earlier_names, errors)
        upstream = [i for i in inputs if i in earlier_names]
        if cls.is_source:
            if any(not is_source for _, is_source in earlier):
                errors.add(loc, f"{name}: source stages ({kind}) must come before the stages that use records")
            if not inputs:
                errors.add(loc, f"{name}: {kind} needs 'inputs:', the files to read")
        elif not inputs:
            if not earlier:
                errors.add(loc, f"{name}: the first stage needs 'inputs:', the files to read")
            elif earlier[-1][1]:
                upstream = [n for n, is_source in earlier if is_source]
            else:
                upstream = [earlier[-1][0]]
        earlier.append((name, cls.is_source))
        try:
            stage_config = cls.Config.model_validate(options)
        except ValidationError as exc:
            errors.add_validation(loc, exc, list(cls.Config.model_fields), kind)
            continue
        planned.append(
            PlannedStage(index=index, name=name, cls=cls, config=stage_config, inputs=inputs, upstream=upstream)
        )
    return planned


def _inputs(value: Any, name: str, loc: Loc, earlier: list[str], errors: _Errors) -> list[str]:
    """The stage's ``inputs:``, checked: each is a path that exists or an earlier stage."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not (isinstance(value, list) and all(isinstance(i, str) for i in value)):
        errors.add((*loc, "inputs"), f"{name}: 'inputs' must be a list of paths or stage names")
        return []
    for number, spec in enumerate(value):
        if spec not in earlier and not _exists(spec):
            line = line_of(errors.lines, (*loc, "inputs", number))
            errors.add(
                (*loc, "inputs", number),
                f"{name}: input {spec!r} at line {line} is neither a file, a folder, a matching pattern "
                f"nor an earlier stage{suggest(spec, earlier)}",
            )
    return list(value)
