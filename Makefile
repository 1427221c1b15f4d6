# Two commands do all the set-up on a fresh machine:
#   make run   - install into .venv and run the sample pipeline end to end, offline
#   make test  - install with the dev extras and run the tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Nothing on the default path may reach a model hub.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1

.PHONY: run test lint format bench million install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first, pinned to the CPU build on local disk, so that no CUDA build is pulled.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: $(VENV)/.installed
	$(BIN)/dataprep run pipelines/sample.yml
	@echo "Done. The run folder is runs/sample/: one folder per stage with stats.json and rejects.jsonl;"
	@echo "look at it with: $(BIN)/dataprep inspect runs/sample"
	@if [ -f runs/sample/report.html ]; then echo "Report: runs/sample/report.html"; fi

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check dataprep train tests benchmarks
	$(BIN)/ruff format --check dataprep train tests benchmarks

format: $(VENV)/.installed-dev
	$(BIN)/ruff format dataprep train tests benchmarks
	$(BIN)/ruff check --fix dataprep train tests benchmarks

bench: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# A million records through the pipeline, whole-run peak memory under /usr/bin/time (about half
# an hour on 2 cores); MILLION_ARGS="--records 20000" for a quick run.
million: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.million $(MILLION_ARGS)

clean:
	rm -rf runs .pytest_cache
