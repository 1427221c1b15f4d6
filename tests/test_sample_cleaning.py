import json

from conftest import REPO

from dataprep.pipeline.config import load_pipeline
from dataprep.pipeline.runner import run_pipeline


def test_sample_pipeline_exercises_every_cleaning_action(tmp_path):
    text = (REPO / "pipelines" / "sample.yml").read_text(encoding="utf-8")
    text = text.replace("output_dir: runs/sample", f"output_dir: {tmp_path / 'run'}")
    text = text.replace("inputs: [sample_data/faq.csv]", f"inputs: [{REPO / 'sample_data' / 'faq.csv'}]")
    pipeline_file = tmp_path / "sample.yml"
    pipeline_file.write_text(text, encoding="utf-8")
    results = run_pipeline(load_pipeline(pipeline_file), until_stage="dedup", quiet=True)
    stats = {r.name: r.stats for r in results}
    folders = {r.name: r.folder for r in results}
    slop = stats["filter-slop"]
    assert {"slop-refusal", "slop-density"} <= set(slop["dropped"])
    assert slop["extra"]["records"]["stripped"] > 0 and slop["extra"]["records"]["flagged"] > 0
    assert {"non-alpha", "repeated-lines", "too-few-words"} <= set(stats["filter-quality"]["dropped"])
    assert {"duplicate", "near-duplicate"} <= set(stats["dedup"]["dropped"])
    dropped = [
        json.loads(line) for line in (tmp_path / "run" / folders["dedup"] / "rejects.jsonl").read_text().splitlines()
    ]
    assert all(r["record"]["meta"]["dup_group"] for r in dropped)
