# akhbar — every target creates .venv on first use and installs the project into it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test check lint format typecheck bench eval test-integration clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## the whole pipeline on this machine (embedded broker and search store unless configured)
	$(VENV)/bin/akhbar run $(ARGS)

test: $(STAMP)  ## the test suite (integration tests use the embedded broker)
	bash tools/ensure-chromium.sh
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

typecheck: $(STAMP)
	$(PY) -m mypy

check: lint typecheck test  ## ruff, mypy and the tests

bench: $(STAMP)  ## speed and memory figures (see docs/benchmarks.md)
	$(PY) -m benchmarks $(ARGS)

eval: $(STAMP)  ## quality figures of the enrichment on the annotated set
	$(PY) -m benchmarks.evaluate $(ARGS)

test-integration: $(STAMP)  ## end-to-end against the docker compose stack (needs Docker)
	$(PY) -m pytest -q -m docker tests/integration $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
