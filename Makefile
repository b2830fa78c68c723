# Two commands set everything up on a fresh machine:
#   make demo   runs the pipeline end to end on synthetic data with a local MLflow store
#   make test   runs the test suite (installs PostgreSQL and Chromium for the slow tests)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := demo

.PHONY: demo test services clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check uv
	$(BIN)/uv pip install --python $(PY) -q -e '.[test]'
	@touch $(STAMP)

services:
	@bash tests/services/install.sh

demo: $(STAMP)
	$(BIN)/churnml generate --accounts 2000 --months 24 --seed 7 --out $(DEMO)/data
	$(BIN)/churnml validate $(DEMO)/data

test: $(STAMP) services
	$(PY) -m pytest

clean:
	rm -rf $(VENV) $(DEMO) mlruns mlflow.db
