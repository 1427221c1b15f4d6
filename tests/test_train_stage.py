"""The train stage at the end of a pipeline, and `dataprep plan` on real tokenize output."""

import json
import textwrap

from conftest import REPO

from dataprep.pipeline.config import load_pipeline
from dataprep.pipeline.runner import run_pipeline
from dataprep.stages.train import Train


def test_pipeline_ends_with_a_trained_adapter(tmp_path, cli):
    rows = "".join(f'"How do I do task {i}?","Do step {i} first, then check the result."\n' for i in range(40))
    (tmp_path / "qa.csv").write_text("question,answer\n" + rows, encoding="utf-8")
    pipeline = tmp_path / "p.yml"
    pipeline.write_text(
        textwrap.dedent(
            f"""\
            name: t
            output_dir: {tmp_path / "run"}
            stages:
              - stage: extract-csv
                inputs: [{tmp_path / "qa.csv"}]
                input_column: question
                output_column: answer
              - stage: split
                ratio: [0.8, 0.2]
              - stage: tokenize
                tokenizer: {REPO / "sample_data" / "tiny-llama"}
                max_length: 64
              - stage: train
                model: {REPO / "sample_data" / "tiny-llama"}
                max_steps: 3
                micro_batch_size: 8
                gradient_accumulation_steps: 1
                eval_steps: 2
                save_steps: 2
                lora_r: 4
            """
        ),
        encoding="utf-8",
    )
    results = run_pipeline(load_pipeline(pipeline), quiet=True)
    stage = tmp_path / "run" / results[-1].folder
    assert (stage / "adapter" / "adapter_model.safetensors").exists()
    assert (stage / "curves.png").exists() and (stage / "report.md").exists()
    report = json.loads((stage / "report.json").read_text())
    assert report["steps"] == 3 and report["final_val_loss"] is not None
    stats = json.loads((stage / "stats.json").read_text())
    assert stats["extra"]["diagnosis"] == report["diagnosis"]["verdict"]
    from dataprep.io.atomic import FILE_MODE

    assert (stage / "adapter" / "adapter_model.safetensors").stat().st_mode & 0o777 == FILE_MODE
    # A rerun skips the finished training.
    assert run_pipeline(load_pipeline(pipeline), quiet=True)[-1].status == "skipped"
    # --force means from scratch: the old checkpoints are not resumed (they used to be, past max_steps).
    forced = run_pipeline(load_pipeline(pipeline), quiet=True, force=True)[-1]
    report = json.loads((stage / "report.json").read_text())
    assert report["steps"] == 3 and report["start"].startswith("training from scratch: no checkpoint")
    closing = Train.closing_lines(stage, forced.stats)
    assert closing[0].startswith(f"{stage.name}: verdict {report['diagnosis']['verdict']}")
    assert str(stage / "curves.png") in closing[2]

    config = tmp_path / "train.yml"
    config.write_text(
        f"model: {REPO / 'sample_data' / 'tiny-llama'}\ntrain_data: {tmp_path / 'run' / results[-2].folder / 'train'}\n"
        "micro_batch_size: 4\ngradient_accumulation_steps: 2\n"
    )
    result = cli("plan", config)
    assert result.exit_code == 0, result.output
    assert "effective batch    8 sequences" in result.output
    assert "from " in result.output and "stats.json" in result.output
    bad = tmp_path / "bad.yml"
    bad.write_text("model: m\nlora_alpha: -1\n")
    result = cli("train", bad)
    assert result.exit_code == 2 and "lora_alpha must be positive" in result.output and "Traceback" not in result.output
