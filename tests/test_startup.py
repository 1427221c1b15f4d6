"""The CLI answers at once: help, `inspect` and `show` load none of the heavy libraries.

Timing is not asserted here (it moves with the machine); what makes start-up slow is
importing torch and friends, and that is what this test forbids.
"""

import json
import subprocess
import sys
import textwrap

import pytest
from conftest import REPO

HEAVY = ["torch", "transformers", "datasets", "ray", "sentence_transformers", "sklearn", "matplotlib", "peft",
         "bitsandbytes", "trafilatura", "onnxruntime"]  # fmt: skip

PROBE = textwrap.dedent(
    """
    import json, sys
    from dataprep.cli import main
    try:
        main(sys.argv[1:], standalone_mode=False)
    except SystemExit:
        pass
    heavy = {heavy!r}
    print(json.dumps(sorted(m for m in heavy if m in sys.modules)), file=sys.stderr)
    """
).format(heavy=HEAVY)


def imported_heavy(*args, cwd=REPO):
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    return json.loads(result.stderr.strip().splitlines()[-1]), result.stdout


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A small run folder made by `dataprep run` (extract-csv, then normalize)."""
    root = tmp_path_factory.mktemp("startup")
    (root / "qa.csv").write_text("question,answer\nWhat is two plus two?,Four.\nAnd three plus three?,Six.\n")
    (root / "p.yml").write_text(
        f"name: s\noutput_dir: {root / 'run'}\nstages:\n"
        f"  - stage: extract-csv\n    name: faq\n    inputs: [{root / 'qa.csv'}]\n"
        "    input_column: question\n    output_column: answer\n  - stage: normalize\n"
    )
    subprocess.run([sys.executable, "-m", "dataprep", "run", str(root / "p.yml"), "-q"], check=True, cwd=REPO)
    return root / "run"


@pytest.mark.parametrize(
    "args",
    [["--help"], ["tokenize", "--help"], ["train", "--help"], ["cluster", "--help"], ["extract-html", "--help"]],
    ids=lambda a: " ".join(a),
)
def test_help_imports_no_heavy_library(args):
    heavy, out = imported_heavy(*args)
    assert "Usage:" in out
    assert heavy == []


def test_inspect_and_show_import_no_heavy_library(run_dir):
    heavy, out = imported_heavy("inspect", run_dir)
    assert "02-normalize" in out and heavy == []
    heavy, out = imported_heavy("show", run_dir / "normalize", "-n", "1")
    assert "Four." in out and heavy == []
