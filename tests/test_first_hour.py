"""What a new user sees in the first hour: warnings that matter, no empty progress bars in logs."""

import json


def test_a_stage_that_drops_most_of_its_input_says_so(tmp_path, cli):
    rows = [{"input": f"q{i}", "output": "ok" if i % 4 else "a long enough answer here"} for i in range(8)]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = cli("filter-quality", source, "-o", tmp_path / "out.jsonl", "--min-words", "3")
    assert result.exit_code == 0, result.output
    assert "warning: filter-quality dropped more than half its input: kept 2 of 8 (too-few-words 6)" in result.output
    # Off a terminal there is no progress bar, so no empty one left in the log either.
    assert "rec/s" not in result.output and "\r" not in result.output
