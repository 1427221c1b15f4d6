"""extract-csv against a plain ``pandas.read_csv`` of the same file."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pandas as pd

from benchmarks.common import Result, compare
from benchmarks.corpus import write_qa_csv
from dataprep.stages.base import StageContext
from dataprep.stages.extract.csv import ExtractCsv, ExtractCsvConfig


def run(records: int, workdir: Path) -> list[Result]:
    path = write_qa_csv(workdir / "qa.csv", records)
    megabytes = path.stat().st_size / 1e6
    out = Path(tempfile.mkdtemp(dir=workdir))
    config = ExtractCsvConfig(input_column="question", output_column="answer", meta_columns=["category"])

    def ours() -> None:
        shutil.rmtree(out / "o", ignore_errors=True)
        ExtractCsv(config, StageContext(quiet=True)).run([path], out / "o")

    def theirs() -> None:
        frame = pd.read_csv(path)
        assert len(frame) == records

    return [compare("csv", "extract-csv -> parquet", "pandas.read_csv", records, megabytes, ours, theirs)]
