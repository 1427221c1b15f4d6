import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from helpers import read_records, tree_bytes

from dataprep.errors import ConfigError
from dataprep.pipeline.config import load_pipeline
from dataprep.pipeline.runner import run_pipeline


@pytest.fixture
def qa_csv(tmp_path):
    path = tmp_path / "qa.csv"
    rows = [f'"Question {i}?","Answer  number {i}.\n\n\n\nEnd."' for i in range(200)]
    path.write_text("question,answer\n" + "\n".join(rows) + '\n"Empty?",\n', encoding="utf-8")
    return path


def write_pipeline(tmp_path, body: str, name: str = "p.yml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


@pytest.fixture
def pipeline_file(tmp_path, qa_csv):
    return write_pipeline(
        tmp_path,
        f"""\
        name: demo
        output_dir: {tmp_path / "run"}
        seed: 7
        stages:
          - stage: extract-csv
            name: extract
            inputs: [{qa_csv}]
            input_column: question
            output_column: answer
          - stage: normalize
            to_format: messages
        """,
    )


def test_run_writes_stage_folders_manifest_and_log(pipeline_file, tmp_path):
    results = run_pipeline(load_pipeline(pipeline_file), quiet=True)
    run = tmp_path / "run"
    assert [r.folder for r in results] == ["01-extract", "02-normalize"]
    for folder in ("01-extract", "02-normalize"):
        stats = json.loads((run / folder / "stats.json").read_text())
        assert {"records_in", "records_out", "dropped", "seconds", "records_per_second"} <= set(stats)
        assert (run / folder / "rejects.jsonl").exists()
        assert list((run / folder).glob("*.parquet"))
    extract_stats = json.loads((run / "01-extract" / "stats.json").read_text())
    assert (extract_stats["records_in"], extract_stats["records_out"]) == (201, 200)
    assert extract_stats["dropped"] == {"empty-output": 1}
    manifest = json.loads((run / "manifest.json").read_text())
    assert set(manifest["stages"]) == {"extract", "normalize"}
    assert all(len(s["fingerprint"]) == 20 for s in manifest["stages"].values())
    assert "02-normalize" in (run / "run.log").read_text()
    record = read_records(run / "02-normalize")[0]
    assert record["messages"][1] == {"role": "assistant", "content": "Answer number 0.\n\nEnd."}


def test_rerun_skips_unchanged_stages(pipeline_file, tmp_path):
    run_pipeline(load_pipeline(pipeline_file), quiet=True)
    shard = tmp_path / "run" / "01-extract" / "part-00000.parquet"
    before = shard.stat().st_mtime_ns
    results = run_pipeline(load_pipeline(pipeline_file), quiet=True)
    assert [r.status for r in results] == ["skipped", "skipped"]
    assert shard.stat().st_mtime_ns == before


def test_changed_stage_reruns_with_everything_after(tmp_path, pipeline_file):
    run_pipeline(load_pipeline(pipeline_file), quiet=True)
    pipeline_file.write_text(pipeline_file.read_text().replace("to_format: messages", "to_format: keep"))
    results = run_pipeline(load_pipeline(pipeline_file), quiet=True)
    assert [r.status for r in results] == ["skipped", "ran"]
    assert read_records(tmp_path / "run" / "02-normalize")[0]["output"] == "Answer number 0.\n\nEnd."
    pipeline_file.write_text(pipeline_file.read_text().replace("output_column: answer", "text_column: answer"))
    pipeline_file.write_text(pipeline_file.read_text().replace("    input_column: question\n", ""))
    results = run_pipeline(load_pipeline(pipeline_file), quiet=True)
    assert [r.status for r in results] == ["ran", "ran"]


def test_changed_input_file_reruns(tmp_path, pipeline_file, qa_csv):
    run_pipeline(load_pipeline(pipeline_file), quiet=True)
    qa_csv.write_text(qa_csv.read_text() + '"New?","New answer."\n')
    results = run_pipeline(load_pipeline(pipeline_file), quiet=True)
    assert [r.status for r in results] == ["ran", "ran"]
    assert results[0].stats["records_out"] == 201


def test_force_from_and_until(pipeline_file):
    pipeline = load_pipeline(pipeline_file)
    assert [r.folder for r in run_pipeline(pipeline, until_stage="extract", quiet=True)] == ["01-extract"]
    assert [r.status for r in run_pipeline(pipeline, quiet=True)] == ["skipped", "ran"]
    assert [r.status for r in run_pipeline(pipeline, from_stage="normalize", quiet=True)] == ["skipped", "ran"]
    assert [r.status for r in run_pipeline(pipeline, force=True, quiet=True)] == ["ran", "ran"]
    with pytest.raises(ConfigError, match="no stage named 'normalise'.*did you mean 'normalize'"):
        run_pipeline(pipeline, from_stage="normalise", quiet=True)


def test_two_runs_are_byte_identical(tmp_path, pipeline_file):
    run_pipeline(load_pipeline(pipeline_file), quiet=True)
    other = tmp_path / "other.yml"
    other.write_text(pipeline_file.read_text().replace(str(tmp_path / "run"), str(tmp_path / "run2")))
    run_pipeline(load_pipeline(other), quiet=True)
    assert tree_bytes(tmp_path / "run") == tree_bytes(tmp_path / "run2")
    assert tree_bytes(tmp_path / "run", "*/rejects.jsonl") == tree_bytes(tmp_path / "run2", "*/rejects.jsonl")


def test_killed_run_resumes_to_the_same_result(tmp_path):
    """SIGKILL the runner while stage 2 is writing; the rerun skips stage 1 and ends as a clean run does."""
    big = tmp_path / "big.csv"
    with open(big, "w", encoding="utf-8") as handle:
        handle.write("question,answer\n")
        for i in range(8_000):
            handle.write(f'"Question {i} about  things?","Answer {i}: CafÃ© au lait, quite   long text here."\n')
    body = """\
        name: kill
        output_dir: {out}
        stages:
          - stage: extract-csv
            name: extract
            inputs: [{csv}]
            input_column: question
            output_column: answer
          - stage: normalize
        """
    killed = write_pipeline(tmp_path, body.format(out=tmp_path / "killed", csv=big), "killed.yml")
    clean = write_pipeline(tmp_path, body.format(out=tmp_path / "clean", csv=big), "clean.yml")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dataprep", "run", str(killed), "-q"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    manifest = tmp_path / "killed" / "manifest.json"
    deadline = time.time() + 120
    while time.time() < deadline:
        if manifest.exists() and '"extract"' in manifest.read_text() and list(tmp_path.glob("killed/.02-normalize*")):
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    state = json.loads(manifest.read_text())
    assert "normalize" not in state["stages"], "the kill came too late to test a mid-stage crash"
    assert not (tmp_path / "killed" / "02-normalize" / "stats.json").exists()

    results = run_pipeline(load_pipeline(killed), quiet=True)
    assert [r.status for r in results] == ["skipped", "ran"]
    assert not list((tmp_path / "killed").glob(".*.tmp"))
    run_pipeline(load_pipeline(clean), quiet=True)
    assert tree_bytes(tmp_path / "killed") == tree_bytes(tmp_path / "clean")
    assert len(read_records(tmp_path / "killed" / "02-normalize")) == 8_000


# --- validation ---------------------------------------------------------------------------


def error_of(tmp_path, body: str) -> str:
    path = write_pipeline(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_pipeline(path)
    return str(info.value)


def test_unknown_stage_names_line_and_suggests(tmp_path, qa_csv):
    message = error_of(
        tmp_path,
        f"""\
        name: x
        stages:
          - stage: extract-csv
            inputs: [{qa_csv}]
            text_column: answer
          - stage: normalize
          - stage: extrct-csv
        """,
    )
    assert "unknown stage 'extrct-csv' at line 7; did you mean 'extract-csv'?" in message


def test_unknown_option_names_line_and_suggests(tmp_path, qa_csv):
    message = error_of(
        tmp_path,
        f"""\
        name: x
        stages:
          - stage: extract-csv
            inputs: [{qa_csv}]
            text_colum: answer
        """,
    )
    assert "p.yml:5:" in message
    assert "unknown option 'text_colum' for extract-csv at line 5; did you mean 'text_column'?" in message


def test_every_error_is_reported_at_once(tmp_path, qa_csv):
    message = error_of(
        tmp_path,
        f"""\
        name: x
        seed: many
        stages:
          - stage: extract-csv
            inputs: [{qa_csv}, missing.csv]
          - stage: normalize
            unicode_form: NFX
          - stage: normalize
        """,
    )
    assert "5 errors" in message
    assert "first stage" not in message
    assert "seed at line 2" in message
    assert "'missing.csv' at line 5" in message
    assert "give exactly one mapping" in message
    assert "unicode_form at line 7" in message
    assert "two stages are named 'normalize'" in message


def test_bad_yaml_names_the_line(tmp_path):
    message = error_of(tmp_path, "name: x\nstages:\n  - stage: [unclosed\n")
    assert "not valid YAML" in message and "line" in message


def test_first_stage_needs_inputs(tmp_path):
    message = error_of(tmp_path, "name: x\nstages:\n  - stage: extract-csv\n    text_column: t\n")
    assert "needs 'inputs:'" in message


def test_cli_exits_2_without_traceback(tmp_path, cli):
    path = write_pipeline(tmp_path, "name: x\nstages:\n  - stage: extrct-csv\n")
    result = cli("run", path)
    assert result.exit_code == 2
    assert "did you mean 'extract-csv'" in result.output
    assert "Traceback" not in result.output


def test_inspect_and_show(pipeline_file, tmp_path, cli):
    result = cli("run", pipeline_file, "-q")
    assert result.exit_code == 0, result.output
    result = cli("inspect", tmp_path / "run")
    assert result.exit_code == 0
    assert "01-extract" in result.output and "empty-output 1" in result.output
    result = cli("show", tmp_path / "run" / "02-normalize", "-n", "2")
    assert result.exit_code == 0 and "Question 1?" in result.output and "Question 2?" not in result.output
    result = cli("show", tmp_path / "run" / "01-extract", "--rejects")
    assert "empty-output" in result.output


def test_editing_a_referenced_file_reruns_the_stage(tmp_path, qa_csv):
    phrases = tmp_path / "mine.txt"
    phrases.write_text("answer number\n", encoding="utf-8")
    path = write_pipeline(
        tmp_path,
        f"""\
        name: ref
        output_dir: {tmp_path / "run"}
        stages:
          - stage: extract-csv
            inputs: [{qa_csv}]
            input_column: question
            output_column: answer
          - stage: filter-slop
            phrase_lists: ["custom={phrases}"]
            actions: {{custom: flag}}
        """,
    )
    assert [r.status for r in run_pipeline(load_pipeline(path), quiet=True)] == ["ran", "ran"]
    assert [r.status for r in run_pipeline(load_pipeline(path), quiet=True)] == ["skipped", "skipped"]
    phrases.write_text("answer number\nend\n", encoding="utf-8")
    assert [r.status for r in run_pipeline(load_pipeline(path), quiet=True)] == ["skipped", "ran"]
