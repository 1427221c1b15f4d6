"""`dataprep plan` reads the packing efficiency tokenize measured."""

import json

from conftest import REPO

from dataprep.stages.base import StageContext
from dataprep.stages.tokenize import Tokenize, TokenizeConfig

TINY = REPO / "sample_data" / "tiny-llama"


def test_plan_reports_packing_efficiency_and_the_steps_packing_saves(tmp_path):
    from train.config import TrainConfig
    from train.plan import format_plan, plan

    src = tmp_path / "in.jsonl"
    src.write_text(
        "".join(
            json.dumps({"input": f"Question {i}?", "output": "An answer. " * (i % 5 + 1)}) + "\n" for i in range(40)
        )
    )
    for packing in (False, True):
        out = tmp_path / ("packed" if packing else "flat")
        stats = Tokenize(
            TokenizeConfig(tokenizer=str(TINY), max_length=128, packing=packing), StageContext(quiet=True)
        ).run([src], out)
        config = TrainConfig(
            model=str(TINY),
            train_data=str(out / "train"),
            output_dir=str(tmp_path / "o"),
            micro_batch_size=2,
            gradient_accumulation_steps=1,
            max_length=128,
            gpu_memory_gb=24,  # not looking for a GPU
        )
        result = plan(config)
        split = stats.extra["splits"]["train"]
        assert result["packing"]["efficiency"] == split["packing_efficiency"]
        line = next(line for line in format_plan(result).splitlines() if line.startswith("packing"))
        if packing:
            assert result["packing"] == {"packed": True, "efficiency": split["packing_efficiency"]}
            assert line.endswith("(packed)")
        else:
            assert result["steps_per_epoch"] == 20
            assert result["packing"]["steps_per_epoch_if_packed"] == -(-split["packed_sequences_estimate"] // 2) < 20
            assert f"{result['packing']['steps_per_epoch_if_packed']} steps per epoch instead of 20" in line
