"""extract-csv against plain pandas: ``read_csv`` alone, and ``read_csv`` then ``to_parquet``.

The stage reads the CSV (Arrow's reader on clean stretches, the csv module on broken rows; this
file has none), builds a record per row (id, input, output, metadata, source) and writes Parquet
shards. ``read_csv`` alone does the least a loader can do; ``read_csv`` then
``to_parquet`` is the plain-pandas conversion to the same format, without the records.
Rounds of read_csv, the stage, read_csv + to_parquet, best time of each.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pandas as pd

from benchmarks.common import Result, Side
from benchmarks.corpus import write_qa_csv
from dataprep.stages.base import StageContext
from dataprep.stages.extract.csv import ExtractCsv, ExtractCsvConfig

ROUNDS = 3


def run(records: int, workdir: Path) -> list[Result]:
    path = write_qa_csv(workdir / "qa.csv", records)
    megabytes = path.stat().st_size / 1e6
    out = Path(tempfile.mkdtemp(dir=workdir))
    config = ExtractCsvConfig(input_column="question", output_column="answer", meta_columns=["category"])

    def ours() -> None:
        shutil.rmtree(out / "o", ignore_errors=True)
        stats = ExtractCsv(config, StageContext(quiet=True)).run([path], out / "o")
        # The file is clean: every row should come from the fast path (Arrow), none from the csv module.
        careful = stats.extra["files"][str(path)]["careful_rows"]
        assert careful == 0, f"{careful} rows of the clean benchmark file were read by the careful path"

    def read_csv() -> None:
        frame = pd.read_csv(path)
        assert len(frame) == records

    def to_parquet() -> None:
        pd.read_csv(path).to_parquet(out / "pandas.parquet")

    ours_side, read_side, parquet_side = Side(), Side(), Side()
    for _ in range(ROUNDS):
        read_side.run(read_csv)
        ours_side.run(ours)
        parquet_side.run(to_parquet)
    what = "extract-csv -> parquet"
    return [
        Result.of("csv", what, "pandas.read_csv", records, megabytes, ours_side, read_side),
        Result.of("csv", what, "pandas read_csv + to_parquet", records, megabytes, ours_side, parquet_side),
    ]
