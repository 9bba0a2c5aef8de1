# The README's two commands: `make run` and `make test`. Everything else is a helper.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run worker test lint test-fast test-browser bench chaos chaos-short migrate clean eval

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(VENV)/.installed

## run: serve the portal on http://127.0.0.1:5000 with the embedded defaults (SQLite, in-memory cache)
run: $(VENV)/.installed migrate
	$(BIN)/flask --app app run --host $(HOST) --port $(PORT)

## worker: an RQ worker over the queues high, default, low, with the periodic schedule (needs REDIS_URL)
worker: $(VENV)/.installed migrate
	$(BIN)/flask --app app jobs worker

migrate: $(VENV)/.installed
	$(BIN)/flask --app app db upgrade

## test: ruff, then the whole pytest suite (unit, PostgreSQL, browser)
test: $(VENV)/.installed-dev lint
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

test-fast: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m "not browser"

test-browser: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m browser

## bench: the portal on production settings beside a bare Flask app (~14 min), into docs/BENCHMARKS.md
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/make_bench.py $(BENCH_ARGS)

## eval: the assistant's persona evaluation, tuning and test halves, retrieval-only and with a fake model (~1 min)
eval: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q -n0 -s -p no:randomly -p no:logging tests/test_citizen_eval.py

## chaos: the fault suite (bench/chaos.py, ~10 min); it stops and restarts this machine's PostgreSQL
chaos: $(VENV)/.installed-dev
	$(BIN)/python bench/chaos.py

## chaos-short: the main faults, held briefly (~2.5 min), for CI
chaos-short: $(VENV)/.installed-dev
	$(BIN)/python bench/chaos.py --short

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
