import os
from pathlib import Path

import pytest

# Nothing in the tests may wait on a network.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def write_bytes(tmp_path):
    """Write raw bytes to a file under tmp_path and return its path."""

    def _write(name: str, data: bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    return _write


@pytest.fixture
def cli(monkeypatch):
    """Invoke the dataprep CLI in-process; returns the click Result."""
    from click.testing import CliRunner

    from dataprep.cli import main

    def _invoke(*args: str):
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)

    return _invoke
