"""Every ```bash block of README.md runs as written, and the outputs it quotes are true.

The blocks run in order, each as one `bash -e` script, in a copy of the repository in a
temporary folder (so nothing lands in the repository root) after `dataprep run
pipelines/sample.yml` has made `runs/sample` there. Later blocks may use what earlier ones
wrote (`faq.jsonl`, then `clean.jsonl`...), as a reader following the README would.

Markers, on the line right before a block's opening fence:

- `<!-- readme-test: skip (why) -->`: the block is not run (placeholder paths, GPUs, a cluster,
  hour-long benchmarks).
- `<!-- readme-test: file NAME -->`: the block (YAML, say) is written to NAME for later blocks.

What is adapted, so that the test stays bounded: `make` is a shell function that runs nothing
(`make run` is what the fixture's sample run stands for; `make test` would recurse), and every
`max_steps:` in the copy's pipelines/sample.yml and in the files written from the README is cut
to 2, so each training the README asks for is a short one. A quoted output (a plain ``` block
whose lines start with `$ `) is checked by running its commands: every line it shows, except
`...`, must appear in the real output, in order.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO

README = REPO / "README.md"
MARKER = re.compile(r"<!--\s*readme-test:\s*(skip|file)\s*(.*?)\s*-->")
TRAIN_STEPS = "max_steps: 2"
PRELUDE = """
make() { echo "readme-test: 'make $*' is not run here"; }
"""


@dataclass
class Block:
    line: int
    lang: str
    code: str
    skip: str | None = None
    file: str | None = None

    @property
    def id(self) -> str:
        return f"README.md:{self.line}"


def read_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^(\s*)```(\S*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        indent, lang, start = fence.group(1), fence.group(2), i
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        block = Block(start + 1, lang, "\n".join(body) + "\n")
        before = lines[start - 1].strip() if start else ""
        marker = MARKER.fullmatch(before)
        if marker and marker.group(1) == "skip":
            block.skip = marker.group(2) or "marked skip"
        elif marker:
            block.file = marker.group(2)
        blocks.append(block)
    return blocks


BLOCKS = read_blocks(README.read_text(encoding="utf-8"))
RUNNABLE = [b for b in BLOCKS if b.lang == "bash" or b.file or (not b.lang and b.code.startswith("$ "))]


def _copy_repo(target: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _short_training(path: Path) -> None:
    path.write_text(re.sub(r"max_steps:\s*\d+", TRAIN_STEPS, path.read_text(encoding="utf-8")), encoding="utf-8")


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A copy of the repository with runs/sample made by the sample pipeline."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout to copy")
    root = tmp_path_factory.mktemp("readme") / "repo"
    root.mkdir()
    _copy_repo(root)
    _short_training(root / "pipelines" / "sample.yml")
    # `.venv/bin/python` in the README is the environment running these tests.
    os.symlink(sys.prefix, root / ".venv")
    env = _env(root, tmp_path_factory.mktemp("cache"))
    subprocess.run(
        [sys.executable, "-m", "dataprep", "run", "pipelines/sample.yml", "-q"],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        timeout=900,
    )
    return root, env


def _env(root: Path, cache: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(root),
        "DATAPREP_CACHE_DIR": str(cache),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "NO_COLOR": "1",
    }


def _bash(code: str, root: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", PRELUDE + code],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _check_quoted(block: Block, root: Path, env: dict[str, str]) -> None:
    """`$ command` lines, each followed by the output the README shows for it."""
    runs: list[tuple[str, list[str]]] = []
    for line in block.code.splitlines():
        if line.startswith("$ "):
            runs.append((line[2:], []))
        elif runs and line.strip():
            runs[-1][1].append(line.rstrip())
    for command, shown in runs:
        result = _bash(command, root, env)
        assert result.returncode == 0, f"{block.id}: `{command}` failed:\n{result.stdout}{result.stderr}"
        actual = [line.rstrip() for line in (result.stdout + result.stderr).splitlines()]
        position = 0
        for expected in shown:
            if expected.strip() == "...":
                continue
            try:
                position = actual.index(expected, position) + 1
            except ValueError:
                pytest.fail(f"{block.id}: `{command}` no longer prints {expected!r}; it prints:\n" + "\n".join(actual))


@pytest.mark.parametrize("block", RUNNABLE, ids=lambda b: b.id)
def test_readme_block(block, repo):
    root, env = repo
    if block.skip:
        pytest.skip(f"{block.id}: {block.skip}")
    if block.file:
        path = root / block.file
        path.write_text(block.code, encoding="utf-8")
        _short_training(path)
        return
    if block.lang != "bash":
        _check_quoted(block, root, env)
        return
    result = _bash(block.code, root, env)
    assert result.returncode == 0, (
        f"{block.id} failed (exit {result.returncode}):\n{block.code}\n--- output ---\n{result.stdout}{result.stderr}"
    )


def test_every_block_is_seen():
    """The README has blocks the test runs, and every skip says why."""
    assert sum(b.lang == "bash" and not b.skip for b in BLOCKS) >= 10
    assert all(b.skip.strip("() ") for b in BLOCKS if b.skip)
