"""The run report, the dataset card, the lock file and ``dataprep diff``, as a user sees them.

Two runs of a sample-data pipeline (extract, normalize, slop and quality filters, dedup,
split, tokenize) are built once for the module: A, and B with a stricter slop threshold.
"""

import base64
import json
import os
import re
import shutil
import subprocess
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import pytest
from helpers import read_stats

from dataprep.pipeline.config import load_pipeline
from dataprep.pipeline.runner import run_pipeline

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_data"
SECTIONS = ("summary", "funnel", "drops", "changes", "sources", "lengths", "clusters", "tokens", "training")


def _pipeline(folder: Path, name: str, max_density: float) -> Path:
    path = folder / f"{name}.yml"
    path.write_text(
        textwrap.dedent(
            f"""\
            name: {name}
            output_dir: {folder / name}
            seed: 0
            stages:
              - stage: extract-csv
                name: faq
                inputs: [{SAMPLE / "faq.csv"}]
                input_column: question
                output_column: answer
                meta_columns: [category]
              - stage: extract-html
                name: pages
                inputs: [{SAMPLE / "html" / "articles"}, {SAMPLE / "html" / "forum"}]
              - stage: normalize
              - stage: filter-slop
                max_density: {max_density}
              - stage: filter-quality
                min_words: 3
              - stage: dedup
                near: true
                ngram: 3
              - stage: split
                ratio: [0.9, 0.1]
              - stage: tokenize
                tokenizer: {SAMPLE / "tiny-llama"}
                max_length: 512
            """
        ),
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    out = {}
    for name, density in (("a", 24), ("b", 10)):
        pipeline = _pipeline(folder, name, density)
        run_pipeline(load_pipeline(pipeline), quiet=True)
        out[name] = (pipeline, folder / name)
    return out


class _Page(HTMLParser):
    """Every tag with its attributes, and the text of <style>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.style += data


def _page(run: Path) -> tuple[str, _Page]:
    html = (run / "report.html").read_text(encoding="utf-8")
    page = _Page()
    page.feed(html)
    return html, page


def test_report_is_self_contained_with_every_section(runs):
    html, page = _page(runs["a"][1])
    ids = {attrs.get("id") for _, attrs in page.tags}
    assert set(SECTIONS) <= ids
    assert not [t for t, _ in page.tags if t in ("script", "iframe", "object", "embed", "link", "base")]
    for tag, attrs in page.tags:
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
        for key in ("src", "href", "srcset", "action", "poster"):
            value = attrs.get(key)
            if value is not None:
                assert value.startswith(("data:image/png;base64,", "#")), (tag, key, value[:80])
    assert "url(" not in page.style and "@import" not in page.style
    images = [attrs["src"] for tag, attrs in page.tags if tag == "img"]
    assert len(images) >= 3  # the funnel and two length histograms
    for src in images:
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r"(?i)\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", html)


def test_report_explains_each_stage(runs):
    html, _ = _page(runs["a"][1])
    # Every stage in the funnel table, with its status.
    for folder in ("01-faq", "02-pages", "03-normalize", "04-filter-slop", "06-dedup", "08-tokenize"):
        assert folder in html
    assert html.count('<span class="badge ran">ran</span>') == 8
    # Drops: a refusal with its phrase marked, a duplicate beside the record it copies, a quality rule's value.
    assert "slop-refusal" in html and re.search(r"<mark>I(&#39;|')m sorry, but I can(&#39;|')t</mark>", html)
    assert "same normalised content as" in html and "the record it copies (kept)" in html
    assert "response: 1 words; the minimum is 3" in html
    # Before/after of a stripped AI disclaimer.
    assert re.search(r"<del>[^<]*(?:As|as) an AI language model", html)
    assert "stripped: &#34;as an ai language model&#34;" in html or "stripped: &quot;as an ai language model" in html


def test_tokens_per_source_add_up_to_tokenize(runs):
    """Tokens per source file, as tokenize counted them, add up to what it wrote, and match a
    count made by tokenizing each final record again."""
    from collections import Counter

    from dataprep.report.page import per_source, retokenized
    from dataprep.report.run import load_run

    view = load_run(runs["a"][1])
    rows = per_source(view)
    tokenize_stats = read_stats(runs["a"][1] / "08-tokenize")
    assert sum(r["tokens"] for r in rows) == tokenize_stats["extra"]["tokens"]
    assert sum(r["final"] for r in rows) == tokenize_stats["records_out"]
    faq = next(r for r in rows if r["file"].endswith("faq.csv"))
    faq_stats = read_stats(runs["a"][1] / "01-faq")
    assert faq["read"] == faq_stats["records_in"] and 0 < faq["final"] < faq["read"] and faq["tokens"] > 0
    final: Counter = Counter()
    again = retokenized(view.stage("tokenize"), view.records_stage(), final)
    assert again == {r["file"]: r["tokens"] for r in rows if r["final"]}
    assert final == Counter({r["file"]: r["final"] for r in rows if r["final"]})


def test_cached_and_not_run_stages_are_shown(runs, tmp_path):
    pipeline, copy = _copy_of_a(runs, tmp_path)
    results = run_pipeline(load_pipeline(pipeline), quiet=True, until_stage="dedup")
    assert {r.status for r in results} == {"skipped"}
    html, _ = _page(copy)
    assert html.count('<span class="badge cached">reused from cache</span>') == 6
    assert html.count('<span class="badge not-run">not run</span>') == 2
    assert "Not run: 07-split, 08-tokenize." in html


def test_dataset_card_reads_in_huggingface_tools(runs):
    from huggingface_hub import DatasetCard

    folder = runs["a"][1] / "08-tokenize"
    card = DatasetCard.load(folder / "README.md")
    data = card.data.to_dict()
    assert data["configs"] == [
        {
            "config_name": "default",
            "data_files": [{"split": "train", "path": "train/*.arrow"}, {"split": "val", "path": "val/*.arrow"}],
        }
    ]
    assert data["size_categories"] == ["n<1K"]
    assert data["task_categories"] == ["text-generation"]
    assert data["language"] == ["en"]  # the HTML pages declare it; the CSV rows have none
    for heading in ("## Sources", "## Processing", "## Known limitations"):
        assert heading in card.text
    assert "max_density=24.0" in card.text and "faq.csv" in card.text


def test_datasets_loads_the_card_folder_as_is(runs, tmp_path, monkeypatch):
    import datasets

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    folder = runs["a"][1] / "08-tokenize"
    loaded = datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "cache"))
    splits = read_stats(folder)["extra"]["splits"]
    assert {name: len(ds) for name, ds in loaded.items()} == {n: s["sequences"] for n, s in splits.items()}
    assert loaded["train"].column_names == ["input_ids", "attention_mask", "labels"]


def test_lock_lists_inputs_options_versions_and_counts(runs):
    lock = json.loads((runs["a"][1] / "08-tokenize" / "dataprep.lock.json").read_text(encoding="utf-8"))
    paths = {Path(i["path"]).name for i in lock["inputs"]}
    assert {"faq.csv", "bike-chain.html", "tokenizer.json"} <= paths
    faq = next(i for i in lock["inputs"] if i["path"].endswith("faq.csv"))
    assert faq["size"] == (SAMPLE / "faq.csv").stat().st_size and len(faq["sha256"]) == 64
    slop = next(s for s in lock["stages"] if s["stage"] == "filter-slop")
    assert slop["options"]["max_density"] == 24 and slop["counts"]["records_out"] > 0
    assert lock["seed"] == 0 and lock["libraries"]["pyarrow"] and lock["dataprep"]
    assert {Path(f["path"]).suffix for f in lock["outputs"]["files"]} == {".arrow"}


def test_check_lock(runs, cli, tmp_path):
    pipeline_a, run_a = runs["a"]
    result = cli("run", pipeline_a, "--check-lock")
    assert result.exit_code == 0, result.output
    assert "a rerun reproduces this run" in result.output
    changed = tmp_path / "changed.yml"
    changed.write_text(pipeline_a.read_text().replace("max_density: 24", "max_density: 12"), encoding="utf-8")
    result = cli("run", changed, "--check-lock")
    assert result.exit_code == 1
    assert "stage filter-slop options.max_density: 24.0 in the lock, now 12.0" in result.output


def test_check_lock_names_a_changed_input_and_output(runs):
    from dataprep.report.lock import check_lock

    pipeline_a, run_a = runs["a"]
    lock = json.loads((run_a / "08-tokenize" / "dataprep.lock.json").read_text(encoding="utf-8"))
    faq = next(i for i in lock["inputs"] if i["path"].endswith("faq.csv"))
    faq["sha256"] = "0" * 64
    lock["outputs"]["files"][0]["sha256"] = "0" * 64
    lock["libraries"]["pyarrow"] = "0.0.1"
    problems = check_lock(load_pipeline(pipeline_a), lock, run_a)
    assert len(problems) == 3, problems
    assert any(p.startswith(f"input {faq['path']}: content changed") for p in problems)
    assert any("differs from the locked bytes" in p for p in problems)
    assert any(p.startswith("libraries.pyarrow: '0.0.1' in the lock") for p in problems)


def test_diff_names_the_option_and_the_reason(runs, cli):
    result = cli("diff", runs["a"][1], runs["b"][1], "--show", "2")
    assert result.exit_code == 0, result.output
    out = result.output
    assert re.search(r"04-filter-slop\s*│\s*max_density\s*│\s*24\.0\s*│\s*10\.0", out), out
    assert re.search(r"slop-density \d+->\d+", out)
    assert "in A's final dataset, not B's: where B dropped them" in out
    assert re.search(r"04-filter-slop\s*│\s*slop-density\s*│\s*\d+", out), out
    assert "B: 04-filter-slop slop-density" in out  # an example, with the stage and reason in B
    assert "flagged phrases in" in out  # and the detail that decided it


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def test_report_renders_in_a_real_browser(runs, tmp_path):
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium here: install it (apt-get install chromium; .ci/run does) to render the report")
    import numpy as np
    from PIL import Image

    shot, pdf = tmp_path / "shot.png", tmp_path / "page.pdf"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    url = (runs["a"][1] / "report.html").as_uri()
    env = {**os.environ, "HOME": str(tmp_path)}
    for extra in (
        ["--window-size=1280,2000", f"--screenshot={shot}"],
        ["--no-pdf-header-footer", f"--print-to-pdf={pdf}"],
    ):
        subprocess.run([browser, *flags, *extra, url], check=True, capture_output=True, timeout=120, env=env)
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 2000)
    small = image.resize((160, 250))
    pixels = [tuple(p) for p in np.asarray(small).reshape(-1, 3).tolist()]
    inked = sum(1 for p in pixels if sum(p) < 600) / len(pixels)
    assert 0.03 < inked < 0.6, inked  # text and charts, neither a blank page nor a solid one
    assert len(set(pixels)) > 200  # the funnel's colours, text, badges
    blue = sum(1 for r, g, b in pixels if b > 150 and r < 90 and g < 150)
    assert blue > 20  # the funnel chart's bars were drawn
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 20_000


def _copy_of_a(runs, tmp_path) -> tuple[Path, Path]:
    """Run A copied, with a pipeline file writing to the copy (so its stages are all cached)."""
    pipeline_a, run_a = runs["a"]
    copy = tmp_path / "copy"
    shutil.copytree(run_a, copy)
    text = pipeline_a.read_text(encoding="utf-8").replace(f"output_dir: {run_a}", f"output_dir: {copy}")
    pipeline = tmp_path / "copy.yml"
    pipeline.write_text(text, encoding="utf-8")
    return pipeline, copy


def test_run_prints_the_report_path_last_and_report_rewrites_it(runs, cli, tmp_path):
    pipeline_a, run_a = _copy_of_a(runs, tmp_path)
    result = cli("run", pipeline_a, "-q")
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == f"report: {run_a / 'report.html'}"
    (run_a / "report.html").unlink()
    result = cli("report", run_a)
    assert result.exit_code == 0 and result.output.strip() == str(run_a / "report.html")
    assert (run_a / "report.html").stat().st_size > 10_000


def test_report_and_diff_of_a_folder_that_is_not_a_run(cli, tmp_path):
    for args in (("report", tmp_path), ("diff", tmp_path, tmp_path)):
        result = cli(*args)
        assert result.exit_code != 0
        assert f"{tmp_path}: no manifest.json here; give the run folder of `dataprep run`" in result.output
