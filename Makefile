# Two commands set everything up on a fresh machine:
#   make demo   runs the pipeline end to end on synthetic data with a local MLflow store
#   make test   runs the test suite (installs PostgreSQL, Chromium and Java for the slow tests)
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
	$(BIN)/uv pip install --python $(PY) -q --compile-bytecode -e '.[test]'
	@touch $(STAMP)

services:
	@bash tests/services/install.sh

# The demo's data end on 2026-07-01: features over a year of monthly snapshots, a small tuning
# budget, then scoring with the @champion model: the month before (so the trend and the report's
# movers have a previous run) and the latest snapshot; then the vendor-style health score the
# generator wrote is audited against the model, and the report shows both.
AS_OF      ?= 2026-07-01
PREV_AS_OF ?= 2026-06-01
TRIALS     ?= 25

demo: $(STAMP)
	$(BIN)/churnml generate --accounts 2000 --months 24 --seed 7 --health-score --out $(DEMO)/data
	$(BIN)/churnml validate $(DEMO)/data
	$(BIN)/churnml features --data $(DEMO)/data --start 2025-07-01 --as-of $(AS_OF) --out $(DEMO)/features.parquet
	$(BIN)/churnml train --data $(DEMO)/data --trials $(TRIALS)
	$(BIN)/churnml score --model models:/churnml@champion --data $(DEMO)/data --as-of $(PREV_AS_OF) \
	    --out $(DEMO)/scores.parquet --crm-preset salesforce --db sqlite:///$(DEMO)/crm.db > /dev/null
	$(BIN)/churnml score --model models:/churnml@champion --data $(DEMO)/data --as-of $(AS_OF) \
	    --out $(DEMO)/scores.parquet --crm-preset salesforce --crm-out $(DEMO)/crm_salesforce.csv \
	    --db sqlite:///$(DEMO)/crm.db
	$(BIN)/churnml audit --model models:/churnml@champion --data $(DEMO)/data \
	    --health-score $(DEMO)/data/health_scores.parquet --out $(DEMO)/audit.json
	$(BIN)/churnml report --scores $(DEMO)/scores.parquet --data $(DEMO)/data \
	    --audit $(DEMO)/audit.json --out $(DEMO)/red_accounts.html

test: $(STAMP) services
	$(PY) -m pytest

clean:
	rm -rf $(VENV) $(DEMO) mlruns mlflow.db
