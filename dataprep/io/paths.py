"""Checks on where a stage or a run may write, made before any work.

Committing an output replaces whatever is at its path (see :func:`dataprep.io.atomic.replace_path`),
so an output path that is the current folder, one of its parents, an input or a folder holding an
input would delete the user's files; one whose parent is a file cannot be created at all.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path

from dataprep.errors import ConfigError

#: The file every finished stage folder holds; a folder without it is not a dataprep output.
FINISHED_MARK = "stats.json"


def _input_paths(specs: Iterable[str | Path]) -> list[tuple[str, Path]]:
    """Each input as written (for messages) and as an absolute path."""
    paths = []
    for spec in specs:
        text = str(spec)
        matches = glob.glob(text, recursive=True) if glob.has_magic(text) else [text]
        paths.extend((m, Path(os.path.abspath(m))) for m in matches)
    return paths


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output_path(
    out: str | Path,
    inputs: Iterable[str | Path] = (),
    *,
    option: str = "-o",
    folder: bool = True,
    replaces_folder: bool = True,
) -> None:
    """Raise a :class:`ConfigError` when writing to ``out`` would destroy inputs or cannot work.

    ``folder`` is False for a ``.jsonl`` file output. ``replaces_folder`` is False for a run folder,
    which holds stage folders and is never replaced as a whole (each stage folder is checked
    against its own inputs when the stage runs).
    """
    given = str(out)
    target = Path(os.path.abspath(out)).resolve()
    here = Path.cwd().resolve()
    if not Path(out).name or target == here or target in here.parents:
        where = "the current folder" if target == here else "a folder above the current one"
        raise ConfigError(f"{option} {given}: that is {where}; give a new folder for the output, e.g. runs/out.")
    for shown, path in _input_paths(inputs) if replaces_folder else []:
        resolved = path.resolve()
        if resolved == target:
            raise ConfigError(f"{option} {given} is the input itself; write the output to another path.")
        if _is_within(resolved, target):
            raise ConfigError(
                f"{option} {given} holds the input {shown}, which writing the output would delete; "
                "write to a folder outside the inputs."
            )
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(
                    f"{option} {given}: {parent} is a file, so no folder can be made in it; pick another path."
                )
            break
    if target.exists():
        if folder and not target.is_dir():
            raise ConfigError(f"{option} {given} is an existing file, and the output is a folder; pick another path.")
        if not folder and target.is_dir():
            raise ConfigError(
                f"{option} {given} is an existing folder, and the output is a .jsonl file; pick another path."
            )
        if folder and replaces_folder and any(target.iterdir()) and not (target / FINISHED_MARK).exists():
            raise ConfigError(
                f"{option} {given} is a folder that holds files but is no dataprep output (it has no "
                f"{FINISHED_MARK}), and writing there would replace it; pick a new folder."
            )
