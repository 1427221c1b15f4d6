"""Entry point: ``dataprep run``, ``inspect``, ``show``, ``show-tokens`` and one command per stage."""

from __future__ import annotations

import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from dataprep import __version__
from dataprep.cli.options import config_from_options, config_options
from dataprep.errors import DataprepError, bug_tracker
from dataprep.stages import Stage, StageContext, registry
from dataprep.stages.base import drop_warning


class DataprepGroup(click.Group):
    """Turns errors into one plain message: no traceback unless ``--debug``."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DataprepError as exc:
            if os.environ.get("DATAPREP_DEBUG"):
                raise
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except KeyboardInterrupt as exc:
            click.secho("interrupted; rerun the same command to resume.", fg="yellow", err=True)
            # 130 for Ctrl-C, 143 for SIGTERM (the trainer says which signal stopped it).
            sys.exit(128 + getattr(exc, "signum", 2))
        except Exception as exc:  # noqa: BLE001 - last line of defence against a bare traceback
            debug = bool(os.environ.get("DATAPREP_DEBUG"))
            if debug:
                traceback.print_exc()
            rerun = "" if debug else "rerun with --debug for the traceback, then "
            click.secho(
                f"error: unexpected {type(exc).__name__}: {exc}\n"
                f"This is a bug in dataprep {__version__}, not a problem with your input: {rerun}"
                f"report it at {bug_tracker()} with the command you ran and the traceback.",
                fg="red",
                err=True,
            )
            sys.exit(1)


@click.group(cls=DataprepGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="dataprep")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def main(debug: bool) -> None:
    """Turn raw HTML, CSV and SQL dumps into a clean, diverse, tokenized fine-tuning dataset.

    Run a whole pipeline with `dataprep run pipeline.yml`, or one stage with
    `dataprep STAGE INPUT... -o OUT`.
    """
    if debug:
        os.environ["DATAPREP_DEBUG"] = "1"
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")


WORKERS_HELP = (
    "Processes for the per-record work (default: one per core); any number gives the same output, "
    "1 runs everything in this process."
)
WORKERS_OPTION = click.Option(["--workers"], type=click.IntRange(min=1), metavar="N", help=WORKERS_HELP)


def _stage_command(stage_cls: type[Stage]) -> click.Command:
    doc = (stage_cls.__doc__ or stage_cls.name).strip()
    summary = doc.splitlines()[0]
    what = "FILE/FOLDER/GLOB" if stage_cls.is_source else "RECORDS"
    out_help = (
        "Output folder."
        if stage_cls.folder_output
        else "Output: a path ending in .jsonl gives JSON Lines (with OUT.stats.json and OUT.rejects.jsonl "
        "beside it); anything else gives a Parquet folder (with stats.json and rejects.jsonl inside)."
    )

    lists = hasattr(stage_cls, "listing")

    def callback(
        inputs: tuple[str, ...], output: str | None, seed: int, quiet: bool, workers: int | None, **values: Any
    ) -> None:
        from dataprep.executors import local_engine

        config = config_from_options(stage_cls.Config, values, f"dataprep {stage_cls.name}")
        stage = stage_cls(config, StageContext(seed=seed, quiet=quiet, engine=local_engine(workers)))
        # A stage may answer some options with a listing instead of an output (extract-sql --list-tables).
        listing = getattr(stage, "listing", None)
        text = listing(list(inputs)) if listing is not None else None
        if text is not None:
            click.echo(text)
            return
        if output is None:
            raise click.UsageError("Missing option '-o' / '--output'.")
        stats = stage.run(list(inputs), Path(output))
        summary_line = stats.to_dict()
        dropped = ", ".join(f"{k}={v}" for k, v in summary_line["dropped"].items()) or "none"
        click.echo(
            f"{stage_cls.name}: {summary_line['records_in']} in, {summary_line['records_out']} out, "
            f"dropped: {dropped} ({summary_line['seconds']:.2f}s) -> {output}",
            err=True,
        )
        if warning := drop_warning(summary_line):
            click.secho(f"warning: {stage_cls.name} {warning}", fg="yellow", err=True)

    params: list[click.Parameter] = [
        click.Argument(["inputs"], nargs=-1, required=True, metavar=f"{what}..."),
        click.Option(
            ["-o", "--output"],
            required=not lists,
            help=out_help + (" Required unless the options ask for a listing." if lists else ""),
        ),
        click.Option(["--seed"], type=int, default=0, show_default=True, help="Random seed."),
        click.Option(["--quiet", "-q"], is_flag=True, help="No progress bar."),
        WORKERS_OPTION,
        *config_options(stage_cls.Config),
    ]
    return click.Command(
        stage_cls.name, callback=callback, params=params, help=doc, short_help=summary, no_args_is_help=True
    )


@main.command("run")
@click.argument("pipeline_file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Rerun every stage, even unchanged ones.")
@click.option("--from", "from_stage", metavar="STAGE", help="Rerun this stage and everything after it.")
@click.option("--until", "until_stage", metavar="STAGE", help="Stop after this stage.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    help="Override the file's executor: local (this process) or ray (ray.data map_batches).",
)
@click.option(
    "--ray-address",
    metavar="ADDRESS",
    help="With --executor ray: the cluster to join (auto, or ray://host:10001); unset starts a local Ray.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    metavar="N",
    help="Override the file's workers: processes for each stage's per-record work on the local executor "
    "(default: one per core; the outputs are the same for any number).",
)
@click.option(
    "--check-lock",
    is_flag=True,
    help="Run nothing: check that the inputs, options, seed and versions still match the run's "
    "dataprep.lock.json, so a rerun would reproduce it (exit 1 if not).",
)
def run_command(
    pipeline_file: str,
    force: bool,
    from_stage: str | None,
    until_stage: str | None,
    quiet: bool,
    executor: str | None,
    ray_address: str | None,
    workers: int | None,
    check_lock: bool,
) -> None:
    """Run a pipeline file, resuming from where an earlier run stopped.

    The run folder gets report.html, a page of what every stage did; the final dataset
    gets a dataset card (README.md) and dataprep.lock.json.
    """
    from dataprep.inspect import stats_table
    from dataprep.pipeline.config import ExecutorConfig, load_pipeline
    from dataprep.pipeline.runner import run_pipeline

    console = logging.StreamHandler()
    console.setFormatter(logging.Formatter("%(message)s"))
    console.setLevel(logging.WARNING if quiet else logging.INFO)
    logger = logging.getLogger("dataprep")
    logger.addHandler(console)
    logger.propagate = False
    pipeline = load_pipeline(pipeline_file)
    if check_lock:
        from dataprep.report.lock import check_run

        ok, message = check_run(pipeline)
        click.echo(message)
        sys.exit(0 if ok else 1)
    if executor or ray_address:
        current = pipeline.config.executor.model_dump()
        current.update({"type": executor or current["type"]}, **({"address": ray_address} if ray_address else {}))
        pipeline.config.executor = ExecutorConfig(**current)
    if workers is not None:
        pipeline.config.workers = workers
    results = run_pipeline(pipeline, force=force, from_stage=from_stage, until_stage=until_stage, quiet=quiet)
    stats_table([(r.folder, r.status, r.stats) for r in results], title=f"{pipeline.config.name}").print()
    click.echo(f"outputs in {pipeline.output_dir}/ (inspect with: dataprep inspect {pipeline.output_dir})")
    kinds = {stage.name: stage.cls for stage in pipeline.stages}
    for result in results:
        for line in kinds[result.name].closing_lines(pipeline.output_dir / result.folder, result.stats):
            click.echo(line)
    click.echo(f"report: {pipeline.output_dir / 'report.html'}")


@main.command("inspect")
@click.argument("run_dir")
def inspect_command(run_dir: str) -> None:
    """Print a table of a run's stages: in, out, dropped by reason, seconds."""
    from dataprep.inspect import inspect_run, resolve_run_path

    inspect_run(resolve_run_path(run_dir)).print()


@main.command("report")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
def report_command(run_dir: str) -> None:
    """Write RUN_DIR/report.html (one self-contained page of what the run did) and print its path."""
    from dataprep.report.page import write_report

    click.echo(str(write_report(Path(run_dir))))


@main.command("diff")
@click.argument("run_a", type=click.Path(exists=True, file_okay=False))
@click.argument("run_b", type=click.Path(exists=True, file_okay=False))
@click.option("--show", "show", type=int, default=0, show_default=True, help="Print this many example records.")
def diff_command(run_a: str, run_b: str, show: int) -> None:
    """Compare two runs: changed options, records in and out per stage, and for records in one
    run's final dataset and not the other's, the stage and reason that dropped them."""
    from dataprep.report.diff import diff_runs

    diff_runs(Path(run_a), Path(run_b)).print(show)


@main.command("show")
@click.argument("path")
@click.argument("stage", required=False)
@click.option("-n", "count", type=int, default=5, show_default=True, help="How many records.")
@click.option("--rejects", is_flag=True, help="Show the rejects of a stage folder instead of its records.")
def show_command(path: str, stage: str | None, count: int, rejects: bool) -> None:
    """Pretty-print records from a stage folder, a Parquet folder or a JSONL file.

    A stage of a run folder may be named without its number: `dataprep show runs/sample/normalize`
    or `dataprep show runs/sample normalize`.
    """
    from dataprep.inspect import resolve_run_path, show_records

    show_records(resolve_run_path(path, *([stage] if stage else [])), count, rejects=rejects)


@main.command("show-tokens")
@click.argument("path")
@click.option("-n", "count", type=int, default=3, show_default=True, help="How many sequences.")
@click.option("--raw", is_flag=True, help="Print (token, label) pairs instead of coloured text.")
@click.option("--tokenizer", help="Tokenizer to decode with. Default: the one tokenize saved in OUT/tokenizer.")
@click.option(
    "--verify",
    is_flag=True,
    help="Print what tokenize's check against the inference rendering found (PATH: the tokenize folder): "
    "counts by kind and the first mismatches, training and inference tokens side by side.",
)
def show_tokens_command(path: str, count: int, raw: bool, tokenizer: str | None, verify: bool) -> None:
    """Print tokenized sequences with trained tokens green and masked ones (-100) red.

    PATH is a split folder of `dataprep tokenize` (with --verify, its output folder); in a run
    folder the stage may be named without its number: `runs/sample/tokenize/train`.
    """
    from dataprep.inspect import resolve_run_path
    from dataprep.tokens.show import show_mismatches, show_tokens

    target = resolve_run_path(path)
    if not target.is_dir():
        raise click.BadParameter(f"{path} is not a folder", param_hint="PATH")
    if verify:
        show_mismatches(target, count)
        return
    show_tokens(target, count, raw=raw, tokenizer=tokenizer)


def _add_stage_commands() -> None:
    from dataprep.cli.train_commands import COMMANDS

    for command in COMMANDS:
        main.add_command(command)
    for stage_cls in registry().values():
        if stage_cls.name not in main.commands:
            main.add_command(_stage_command(stage_cls))


_add_stage_commands()
