"""``dataprep train``, ``dataprep plan`` and ``dataprep merge``: thin wrappers over the ``train`` package."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from dataprep.errors import ConfigError, DataprepError
from train.config import options_help


@contextmanager
def user_errors() -> Iterator[None]:
    """Report the trainer's own configuration and data errors like dataprep's."""
    from train.config import TrainConfigError
    from train.data import DataError

    try:
        yield
    except (TrainConfigError, DataError) as exc:
        raise ConfigError(str(exc)) from exc


def _overrides(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def load_train_config(config_file: str, **overrides: Any) -> Any:
    """The config, with data paths that name a run's stage without its number resolved
    (``runs/sample/tokenize/train`` is ``runs/sample/13-tokenize/train``)."""
    from dataprep.inspect import resolve_run_path
    from train.config import load_config

    config = load_config(config_file, **_overrides(**overrides))
    update = {}
    for name in ("train_data", "val_data"):
        path = getattr(config, name)
        if path is not None and not Path(path).exists():
            try:
                update[name] = resolve_run_path(path)
            except DataprepError:
                pass  # require_data() names the missing path
    return config.model_copy(update=update) if update else config


def with_config(fn: Callable[..., None]) -> Callable[..., None]:
    fn = click.argument("config_file", type=click.Path(exists=True, dir_okay=False))(fn)
    fn = click.option("--output-dir", type=click.Path(file_okay=False), help="Override output_dir.")(fn)
    fn = click.option("--max-steps", type=int, help="Override max_steps.")(fn)
    return fn


@click.command("train", epilog=options_help())
@with_config
def train_command(config_file: str, output_dir: str | None, max_steps: int | None) -> None:
    """QLoRA-train a model on `dataprep tokenize` output (resumes from the last checkpoint).

    The config is a YAML file of train options (see README, "Training"). Several GPUs:
    `accelerate launch -m dataprep train CONFIG.yml`.
    """
    from train.trainer import train

    console = logging.StreamHandler()
    console.setFormatter(logging.Formatter("%(message)s"))
    logging.getLogger("dataprep.train").addHandler(console)
    logging.getLogger("dataprep.train").setLevel(logging.INFO)
    logging.getLogger("dataprep.train").propagate = False  # the root handler would print each line twice
    with user_errors():
        config = load_train_config(config_file, output_dir=output_dir, max_steps=max_steps)
        result = train(config)
    from train.trainer import summary_line

    diagnosis = result.report["diagnosis"]
    click.echo(summary_line(result.report))
    for reason in diagnosis["reasons"]:
        click.echo(f"  - {reason}")
    click.echo(f"adapter in {result.adapter_dir}; curves in {result.output_dir / 'curves.png'}")


@click.command("plan")
@with_config
@click.option("--gpus", type=int, default=1, show_default=True, help="Data-parallel GPUs (for the effective batch).")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan_command(config_file: str, output_dir: str | None, max_steps: int | None, gpus: int, as_json: bool) -> None:
    """Batch size, steps, suggested learning rate and GPU memory of a train config, before loading anything."""
    from train.plan import format_plan, plan

    with user_errors():
        config = load_train_config(config_file, output_dir=output_dir, max_steps=max_steps)
        result = plan(config, num_gpus=gpus)
    click.echo(json.dumps(result, indent=2) if as_json else format_plan(result))


@click.command("merge")
@click.argument("adapter", type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Folder for the merged model.")
@click.option("--base", help="Base model (hub name or folder). Default: the one recorded in the adapter.")
@click.option("--dtype", type=click.Choice(["bf16", "fp16", "fp32"]), default="bf16", show_default=True)
def merge_command(adapter: str, output: str, base: str | None, dtype: str) -> None:
    """Merge a LoRA adapter into a 16-bit copy of its base model (never into 4-bit weights)."""
    from train.merge import merge_adapter

    with user_errors():
        result = merge_adapter(Path(adapter), Path(output), base=base, dtype=dtype)
    click.echo(
        f"merged {result['adapter']} into {result['base']} ({dtype}) -> {result['output']}; "
        f"check: merged vs base+adapter max diff {result['max_abs_diff_merged_vs_adapter']:.2e}, "
        f"change vs base {result['max_abs_change_vs_base']:.2e}"
    )


COMMANDS = [train_command, plan_command, merge_command]
__all__ = ["COMMANDS", "DataprepError"]
